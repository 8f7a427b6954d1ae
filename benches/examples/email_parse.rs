//! Parses every message of the mailboxes in a folder with quarry's email parser, PASSES times,
//! and prints messages and MiB/s, with bare mailparse (parse and body decode) over the same
//! bytes first: a target for `perf record` when working on the parse.
//!
//! `cargo run --release -p quarry-bench --example email_parse -- MBOX_DIR [PASSES]`

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: email_parse MBOX_DIR [PASSES]"));
    let passes: usize = args.next().map_or(3, |p| p.parse().expect("PASSES is a number"));
    let mut paths: Vec<PathBuf> =
        fs_err::read_dir(&dir).expect("folder").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    let mut messages = Vec::new();
    for path in &paths {
        let file = std::io::BufReader::new(fs_err::File::open(path).expect("open mailbox"));
        let mut reader = quarry_ingest::mbox::Reader::new(file);
        while let Some(m) = reader.next_message().expect("read mailbox") {
            messages.push(m.bytes);
        }
    }
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let mib = bytes as f64 * passes as f64 / (1 << 20) as f64;
    let run = |name: &str, f: &dyn Fn(&[u8]) -> usize| {
        let start = Instant::now();
        let mut total = 0;
        for _ in 0..passes {
            for m in &messages {
                total += f(m);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{name}: {} messages, {:.1} MiB/s ({total})", messages.len(), mib / secs);
    };
    if std::env::var_os("QUARRY_ONLY_QUARRY").is_none() {
        run("mailparse", &|m| {
            let mail = mailparse::parse_mail(m).expect("mailparse");
            decode_all(&mail)
        });
    }
    run("quarry", &|m| {
        let email = quarry_ingest::email::parse(m).expect("quarry parse");
        email.text.len()
    });
}

fn decode_all(part: &mailparse::ParsedMail<'_>) -> usize {
    if part.subparts.is_empty() {
        return part.get_body_raw().map_or(0, |b| b.len());
    }
    part.subparts.iter().map(decode_all).sum()
}
