//! Every limit turns into a typed exception for the one item that crosses it.

use crate::common::{Scratch, u, zip, zip_with};

use serde_json::Value;

fn kinds(exceptions: &[Value]) -> Vec<(String, String)> {
    exceptions
        .iter()
        .map(|e| {
            (e["locator"].as_str().unwrap().to_owned(), e["kind"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn pair(locator: &str, kind: &str) -> (String, String) {
    (locator.to_owned(), kind.to_owned())
}

#[test]
fn compression_ratio_limit() {
    let s = Scratch::new();
    s.set("ratio_floor_bytes", "1048576");
    let zeros = vec![0u8; 8 << 20];
    s.file(
        "in/bomb.zip",
        &zip(&[("ok.txt", b"fine\n"), ("zeros.bin", &zeros), ("after.txt", b"after\n")]),
    );
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1);
    assert_eq!(out["case"]["reconciled"], true);
    // Once a bomb is seen, the rest of the input is refused unread.
    assert_eq!(
        kinds(&s.exceptions()),
        [
            pair("in/bomb.zip//zeros.bin", "decompression_bomb"),
            pair("in/bomb.zip//after.txt", "decompression_bomb")
        ]
    );
    assert!(s.exceptions()[0]["message"].as_str().unwrap().contains("250:1"));
}

#[test]
fn nesting_depth_limit() {
    let s = Scratch::new();
    s.set("max_depth", "2");
    let level3 = zip(&[("deep.txt", b"too deep\n")]);
    let level2 = zip(&[("level3.zip", &level3)]);
    s.file("in/top.zip", &zip(&[("level2.zip", &level2), ("shallow.txt", b"ok\n")]));
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1);
    assert_eq!(out["case"]["reconciled"], true);
    assert_eq!(
        kinds(&s.exceptions()),
        [pair("in/top.zip//level2.zip//level3.zip", "decompression_bomb")]
    );
    assert!(s.exceptions()[0]["message"].as_str().unwrap().contains("limit is 2"));
    assert!(s.exceptions()[0]["blake3"].is_string(), "the unopened archive's native is kept");
}

#[test]
fn entry_count_limit() {
    let s = Scratch::new();
    s.set("max_entries", "3");
    let names: Vec<String> = (0..5).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), n.as_bytes())).collect();
    s.file("in/many.zip", &zip(&entries));
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(u(&out["case"], "items"), 4);
    assert_eq!(
        kinds(&s.exceptions()),
        [
            pair("in/many.zip//f3.txt", "decompression_bomb"),
            pair("in/many.zip//f4.txt", "decompression_bomb")
        ]
    );
}

#[test]
fn item_size_limit_loose_and_in_archives() {
    let s = Scratch::new();
    s.set("max_item_bytes", "1000");
    let big = vec![b'x'; 5000];
    s.file("in/big.txt", &big);
    s.file("in/small.txt", b"small\n");
    // Deflated, the archive itself is far under the limit; its entry is not.
    s.file("in/box.zip", &zip(&[("big.txt", &big), ("small.txt", b"small\n")]));
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(out["case"]["reconciled"], true);
    assert_eq!(
        kinds(&s.exceptions()),
        [pair("in/big.txt", "too_large"), pair("in/box.zip//big.txt", "too_large")]
    );
}

/// A mailbox is read in place whatever its size; the item limit applies to each message.
#[test]
fn item_size_limit_applies_to_a_mailbox_message_by_message() {
    let s = Scratch::new();
    s.set("max_item_bytes", "1000");
    let message = |n: u32, body: &str| {
        format!("From a@b Mon Apr 18 14:23:{n:02} 2022\nFrom: a@b\nSubject: m{n}\n\n{body}\n\n")
    };
    let mut mbox = String::new();
    for n in 1..=6 {
        mbox += &message(n, "short");
    }
    mbox += &message(7, &"long line ".repeat(200));
    mbox += &message(8, "after the long one");
    assert!(mbox.len() > 1000);
    s.file("in/box.mbox", mbox.as_bytes());
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    assert_eq!(items.len(), 1 + 7, "the mailbox and its seven other messages: {items:?}");
    assert_eq!(kinds(&s.exceptions()), [pair("in/box.mbox//message 7", "too_large")]);
    assert_eq!(s.exceptions()[0]["size"], 2_000 + "From: a@b\nSubject: m7\n\n\n\n".len());
}

/// An archive read in place is not stored, so it may be over the item limit: its entries are
/// held to it. One that must be kept (damaged) but is over the limit is not stored: its
/// exception says so and names no hash.
#[test]
fn item_size_limit_applies_to_an_archive_entry_by_entry() {
    let s = Scratch::new();
    s.set("max_item_bytes", "1000");
    let entry = vec![b'e'; 500];
    let stored = zip_with(
        &[("a.txt", &entry), ("b.txt", &entry), ("c.txt", &entry)],
        zip::CompressionMethod::Stored,
    );
    assert!(stored.len() > 1000);
    s.file("in/big.zip", &stored);
    let mut damaged = b"PK\x03\x04".to_vec();
    damaged.resize(2000, 0);
    s.file("in/damaged.zip", &damaged);
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let entries = s.items().iter().filter(|i| i["parent"].is_string()).count();
    assert_eq!(entries, 3, "the entries of the archive over the limit");
    let e = s.sole_exception("corrupt");
    assert_eq!(e["locator"], "in/damaged.zip");
    assert!(e["message"].as_str().unwrap().contains("over the 1000-byte item limit"), "{e}");
    assert!(e["blake3"].is_null(), "not stored, so no hash: {e}");
}

#[test]
fn total_expansion_limit_on_declared_sizes() {
    let s = Scratch::new();
    s.set("max_expanded_bytes", "100000");
    let chunk: Vec<u8> = vec![b'a'; 60_000];
    s.file("in/two.zip", &zip(&[("a.bin", &chunk), ("b.bin", &chunk)]));
    s.file("in/one.zip", &zip(&[("a.bin", &chunk)]));
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(out["case"]["reconciled"], true);
    assert_eq!(kinds(&s.exceptions()), [pair("in/two.zip", "decompression_bomb")]);
    assert!(
        s.exceptions()[0]["message"].as_str().unwrap().contains("declares 120000 expanded bytes")
    );
}

#[test]
fn traversal_names_are_data_never_paths() {
    let s = Scratch::new();
    s.file(
        "in/slip.zip",
        &zip(&[
            ("good.txt", b"good\n"),
            ("../../../../../../tmp/quarry-slip-test.txt", b"evil\n"),
            ("C:\\evil.txt", b"evil\n"),
        ]),
    );
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(out["case"]["reconciled"], true);
    let exceptions = s.exceptions();
    assert_eq!(exceptions.len(), 2);
    assert!(exceptions.iter().all(|e| e["kind"] == "path_traversal" && e["blake3"].is_string()));
    assert!(!std::path::Path::new("/tmp/quarry-slip-test.txt").exists());
}

#[test]
fn corrupt_entry_crc() {
    let s = Scratch::new();
    let mut bytes = zip_with(
        &[("a.txt", b"hello hello hello\n"), ("b.txt", b"fine\n")],
        zip::CompressionMethod::Stored,
    );
    let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
    bytes[at] = b'j';
    s.file("in/crc.zip", &bytes);
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(out["case"]["reconciled"], true);
    let exceptions = s.exceptions();
    assert_eq!(kinds(&exceptions), [pair("in/crc.zip//a.txt", "corrupt")]);
}

/// A gzip that expands past the ratio limit is a bomb, refused as it is read.
#[test]
fn gzip_bomb() {
    use std::io::Write;
    let s = Scratch::new();
    s.set("ratio_floor_bytes", "1048576");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 64 << 20]).unwrap();
    s.file("in/zeros.bin.gz", &encoder.finish().unwrap());
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1);
    assert_eq!(out["case"]["reconciled"], true);
    assert_eq!(kinds(&s.exceptions()), [pair("in/zeros.bin.gz//zeros.bin", "decompression_bomb")]);
}
