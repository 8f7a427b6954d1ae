//! Prints the text quarry reads from an RTF file (as it reads an Outlook message's RTF body):
//! `cargo run --release -p quarry-ingest --example rtftext FILE`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: rtftext FILE")?;
    println!("{}", quarry_ingest::rtf::to_text(&std::fs::read(path)?));
    Ok(())
}
