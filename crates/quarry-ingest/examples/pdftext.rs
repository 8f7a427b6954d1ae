//! Extracts one PDF the way ingest does and prints its text and timing:
//! `cargo run --release -p quarry-ingest --example pdftext FILE [PASSWORD...]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: pdftext FILE [PASSWORD...]")?;
    let passwords: Vec<Vec<u8>> = args.map(String::into_bytes).collect();
    let bytes = std::fs::read(&path)?;
    let started = std::time::Instant::now();
    let pdf = quarry_ingest::pdf::extract(&bytes, &passwords)?;
    let took = started.elapsed();
    println!("{}", pdf.text);
    eprintln!(
        "{path}: {} pages, {} chars, {took:.1?}; failed pages {}; {:?}",
        pdf.meta.pages.unwrap_or(0),
        pdf.text.chars().count(),
        pdf.failed_pages,
        pdf.meta
    );
    for (name, bytes) in &pdf.embedded {
        eprintln!("embedded: {name:?}, {} bytes", bytes.len());
    }
    if pdf.embedded_unreadable {
        eprintln!("embedded files unreadable");
    }
    Ok(())
}
