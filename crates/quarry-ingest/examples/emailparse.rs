//! Parses every message of the mailboxes given, the way ingest does, and prints the rate:
//! `cargo run --release -p quarry-ingest --example emailparse MBOX...` (for profiling).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut messages = Vec::new();
    for path in std::env::args().skip(1) {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut reader = quarry_ingest::mbox::Reader::new(file);
        while let Some(m) = reader.next_message()? {
            messages.push(m.bytes);
        }
    }
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let started = std::time::Instant::now();
    let mut attachments = 0;
    for m in &messages {
        attachments += quarry_ingest::email::parse(m)?.attachments.len();
    }
    let took = started.elapsed();
    eprintln!(
        "{} messages, {bytes} bytes, {attachments} attachments in {took:.2?}: {:.1} MiB/s",
        messages.len(),
        bytes as f64 / took.as_secs_f64() / (1 << 20) as f64
    );
    Ok(())
}
