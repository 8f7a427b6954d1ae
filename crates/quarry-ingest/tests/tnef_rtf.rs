//! Compressed RTF bodies of the MimeKit TNEF suite against the RTF MimeKit decompressed
//! (`X/message.rtf`); runs when QUARRY_CORPUS names the shared corpus.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[test]
fn tnef_rtf_bodies_decompress_to_the_expected_bytes() {
    let Some(corpus) = std::env::var_os("QUARRY_CORPUS") else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let dir = std::path::Path::new(&corpus).join("email/mimekit/tnef");
    let without_cr = |b: &[u8]| -> Vec<u8> { b.iter().copied().filter(|&c| c != b'\r').collect() };
    let (mut bodies, mut same) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_name().unwrap().to_str().unwrap().strip_suffix(".tnef") else {
            continue;
        };
        let Ok(expected) = std::fs::read(dir.join(stem).join("message.rtf")) else { continue };
        bodies += 1;
        let tnef = quarry_ingest::tnef::parse(&std::fs::read(&path).unwrap()).unwrap();
        let rtf = tnef.rtf.clone().unwrap_or_default();
        if without_cr(&rtf) == without_cr(&expected) {
            same += 1;
            let text = tnef.text().unwrap_or_default();
            assert!(!text.is_empty() || quarry_ingest::rtf::to_text(&rtf).is_empty(), "{stem}");
        } else {
            eprintln!("{stem}: {} bytes, expected {}", rtf.len(), expected.len());
        }
    }
    eprintln!("TNEF RTF bodies: {same} of {bodies} decompress to MimeKit's bytes");
    assert!(bodies >= 10, "{bodies} RTF bodies");
    assert_eq!(same, bodies);
}
