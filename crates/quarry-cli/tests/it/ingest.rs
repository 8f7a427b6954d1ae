//! Ingest behaviour: accounting, routes, dedup views, idempotence, resume, determinism.

use crate::common::{Scratch, blake3_hex, fixtures, u, zip};
use serde_json::Value;

#[test]
fn sample_collection_reconciles() {
    let s = Scratch::new();
    let sample = fixtures().join("sample");
    let (code, out) = s.ingest("sanders-r", &[&sample], &[]);
    assert_eq!(code, 1, "the sample holds a broken and a locked archive");
    let case = &out["case"];
    assert_eq!(u(case, "input_files"), 9);
    assert_eq!(u(case, "container_entries"), 13, "two emails carry one attachment each");
    assert_eq!(u(case, "items"), 20);
    assert_eq!(u(case, "exceptions"), 2);
    assert_eq!(u(case, "unique_items"), 11);
    assert_eq!(u(case, "duplicate_items"), 9);
    assert_eq!(case["reconciled"], true);
    assert_eq!(case["exceptions_by_kind"]["corrupt"], 1);
    assert_eq!(case["exceptions_by_kind"]["encrypted"], 1);
    let exceptions = s.exceptions();
    assert_eq!(exceptions[0]["locator"], "sample/broken.zip");
    assert_eq!(exceptions[1]["locator"], "sample/locked.zip//secret-memo.txt");
}

#[test]
fn passwords_open_encrypted_entries() {
    let s = Scratch::new();
    let locked = fixtures().join("sample/locked.zip");
    let passwords = fixtures().join("sample-passwords.txt");
    let (code, out) =
        s.ingest("sanders-r", &[&locked], &["--passwords", passwords.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let items = s.items();
    assert_eq!(items.len(), 2);
    let memo = std::fs::read(fixtures().join("sample/loose/memo.txt")).unwrap();
    assert_eq!(items[1]["blake3"], blake3_hex(&memo));
    assert!(items[1]["flags"].as_str().unwrap().contains("decrypted"));
}

/// A passwords file saved by Windows Notepad: with a UTF-8 byte-order mark and CRLF, or in
/// UTF-16 ("Unicode"). The password on the first line opens the archive either way.
#[test]
fn passwords_files_from_notepad_are_read_as_text() {
    let locked = fixtures().join("sample/locked.zip");
    let utf16 = |big: bool| {
        let mut bytes = if big { vec![0xfe, 0xff] } else { vec![0xff, 0xfe] };
        for unit in "quarry-sample\r\nnot-this-one\r\n".encode_utf16() {
            bytes.extend(if big { unit.to_be_bytes() } else { unit.to_le_bytes() });
        }
        bytes
    };
    for (name, bytes) in [
        ("utf8-bom.txt", b"\xef\xbb\xbfquarry-sample\r\nnot-this-one\r\n".to_vec()),
        ("utf16le.txt", utf16(false)),
        ("utf16be.txt", utf16(true)),
    ] {
        let s = Scratch::new();
        let passwords = s.file(name, &bytes);
        let (code, out) = s.ingest("c", &[&locked], &["--passwords", passwords.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {out}");
        assert!(s.items()[1]["flags"].as_str().unwrap().contains("decrypted"), "{name}");
    }
}

#[test]
fn same_content_through_every_route() {
    let s = Scratch::new();
    let memo: &[u8] = b"Privileged & confidential: attorney-client advice on the Raptor hedges.\n";
    let latin1: &[u8] = b"Caf\xe9 cr\xe8me, r\xe9sum\xe9 du comit\xe9\n";
    s.file("in/memo.txt", memo);
    s.file("in/latin1.txt", latin1);
    s.file("in/one.zip", &zip(&[("docs/memo.txt", memo), ("latin1.txt", latin1)]));
    s.file(
        "in/two.zip",
        &zip(&[("inner.zip", &zip(&[("deep/memo.txt", memo), ("latin1.txt", latin1)]))]),
    );
    let (code, out) = s.ingest("allen-p", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    let items = s.items();
    for (content, text) in [
        (memo, String::from_utf8(memo.to_vec()).unwrap()),
        (latin1, "Café crème, résumé du comité\n".to_owned()),
    ] {
        let hash = blake3_hex(content);
        let routes: Vec<&Value> = items.iter().filter(|i| i["blake3"] == hash.as_str()).collect();
        let locators: Vec<&str> = routes.iter().map(|i| i["locator"].as_str().unwrap()).collect();
        assert_eq!(routes.len(), 3, "loose, in a zip, in a nested zip: {locators:?}");
        for route in &routes {
            assert_eq!(route["file_type"], "text", "{route}");
            assert_eq!(route["text_chars"], text.chars().count() as u64, "{route}");
            assert_eq!(route["size"], content.len() as u64, "{route}");
        }
        assert_eq!(s.text(&hash), text);
    }
    let nested =
        items.iter().find(|i| i["locator"] == "in/two.zip//inner.zip//deep/memo.txt").unwrap();
    let inner = items.iter().find(|i| i["locator"] == "in/two.zip//inner.zip").unwrap();
    let top = items.iter().find(|i| i["locator"] == "in/two.zip").unwrap();
    assert_eq!(nested["parent"], inner["control_number"]);
    assert_eq!(nested["family"], top["control_number"]);
}

#[test]
fn dedup_views_switch_without_reprocessing() {
    let s = Scratch::new();
    let memo = b"the same memo, kept by two custodians and twice by one\n";
    let a = s.file("alice/memo.txt", memo);
    let a2 = s.file("alice/copy/memo.txt", memo);
    let b = s.file("bob/memo.txt", memo);
    s.file("bob/other.txt", b"something else\n");
    s.ingest("alice", &[&a, &a2], &[]);
    s.ingest("bob", &[&b, &s.path("bob/other.txt")], &[]);
    let unique = |scope: &str| {
        u(&s.json(&["report", "summary", "--json", "--dedup", scope]), "unique_items")
    };
    assert_eq!((unique("none"), unique("custodial"), unique("global")), (4, 3, 2));
    let groups = s.json(&["report", "duplicates", "--format", "json", "--dedup", "global"]);
    let group = &groups[0];
    assert_eq!(group["instances"], 3);
    assert_eq!(group["all_custodians"], serde_json::json!(["alice", "bob"]));
    assert_eq!(group["all_paths"].as_array().unwrap().len(), 3);
    // The default view is a setting, not a reprocessing.
    let out = s.run(&["dedup", "--scope", "custodial"]);
    assert!(out.status.success());
    assert_eq!(s.summary()["dedup_scope"], "custodial");
    assert_eq!(u(&s.summary(), "unique_items"), 3);
    assert_eq!(u(&s.summary(), "items"), 4);
}

#[test]
fn ingest_twice_adds_nothing() {
    let s = Scratch::new();
    let sample = fixtures().join("sample");
    let (_, first) = s.ingest("sanders-r", &[&sample], &[]);
    let (code, second) = s.ingest("sanders-r", &[&sample], &[]);
    assert_eq!(code, 0, "a re-run records no new exceptions");
    assert_eq!(u(&second["run"], "inputs_skipped"), 9);
    assert_eq!(u(&second["run"], "items_added"), 0);
    assert_eq!(first["case"], second["case"]);
}

#[test]
fn same_inputs_give_the_same_case() {
    let a = Scratch::new();
    let b = Scratch::new();
    let sample = fixtures().join("sample");
    a.ingest("sanders-r", &[&sample], &["-j", "1"]);
    b.ingest("sanders-r", &[&sample], &["-j", "2"]);
    let strip = |items: Vec<Value>| -> Vec<Value> {
        items
            .into_iter()
            .map(|mut i| {
                // File-system dates of the inputs are the same files; all else must match too.
                i.as_object_mut().unwrap().remove("modified");
                i
            })
            .collect()
    };
    assert_eq!(strip(a.items()), strip(b.items()));
    assert_eq!(a.exceptions(), b.exceptions());
}

#[test]
fn killed_run_resumes_counting_every_input_once() {
    use std::os::unix::process::CommandExt;
    let s = Scratch::new();
    for i in 0..120 {
        s.file(&format!("in/a{i:03}.txt"), format!("document number {i}\n").as_bytes());
    }
    s.file("in/m-stall.txt", b"the parser will stall on this one\n");
    for i in 0..40 {
        s.file(
            &format!("in/z{i:03}.zip"),
            &zip(&[(&format!("entry{i}.txt"), format!("entry {i}\n").as_bytes())]),
        );
    }
    s.set("timeout_secs", "600");
    let mut child = s
        .command(&["ingest", "--quiet", "--custodian", "c", s.path("in").to_str().unwrap()])
        .env("QUARRY_FAULT_INJECTION", "hang:m-stall.txt")
        .process_group(0)
        .spawn()
        .unwrap();
    // Wait until everything before the stall is committed, then kill the whole process group
    // (the run and its workers) with SIGKILL.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let files = u(&s.summary(), "input_files");
        if files >= 120 {
            assert_eq!(files, 120, "nothing after the stalled input can commit before it");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the run never got to the stall");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The whole process group: the run and its workers.
    let group = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process_group(group, rustix::process::Signal::KILL).unwrap();
    let _ = child.wait();
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(u(&out["run"], "inputs_skipped"), 120);
    let case = &out["case"];
    assert_eq!(u(case, "input_files"), 161);
    assert_eq!(u(case, "items"), 201);
    assert_eq!(case["reconciled"], true);
    let items = s.items();
    let numbers: Vec<String> =
        items.iter().map(|i| i["control_number"].as_str().unwrap().to_owned()).collect();
    let expected: Vec<String> = (1..=201).map(|n| format!("DOC-{n:08}")).collect();
    assert_eq!(numbers, expected, "control numbers stay contiguous across the kill");
    let locators: std::collections::HashSet<&str> =
        items.iter().map(|i| i["locator"].as_str().unwrap()).collect();
    assert_eq!(locators.len(), 201, "no input or entry counted twice");
    assert!(
        std::fs::read_dir(s.case().join("tmp")).unwrap().next().is_none(),
        "staging is cleaned"
    );
}

#[test]
fn symlinks_are_recorded_not_followed() {
    let s = Scratch::new();
    s.file("in/real.txt", b"real\n");
    std::os::unix::fs::symlink("/etc/passwd", s.path("in/link")).unwrap();
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1);
    assert_eq!(u(&out["case"], "items"), 1);
    let exceptions = s.exceptions();
    assert_eq!(exceptions[0]["kind"], "unsupported");
    assert!(exceptions[0]["message"].as_str().unwrap().contains("symbolic link to /etc/passwd"));
}

#[test]
fn refuses_a_folder_that_is_not_a_case() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .args(["--case", dir.path().to_str().unwrap(), "report", "summary"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a quarry case") && stderr.contains("quarry init"), "{stderr}");
}

#[test]
fn a_missing_path_is_fatal_before_anything_is_written() {
    let s = Scratch::new();
    let out = s.run(&["ingest", "--custodian", "c", "does-not-exist"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert_eq!(u(&s.summary(), "input_files"), 0);
}

#[test]
fn a_custodian_name_that_is_a_slip_is_refused_before_anything_is_written() {
    let s = Scratch::new();
    let input = s.file("in/a.txt", b"a\n");
    let input = input.to_str().unwrap();
    for (name, said) in [
        ("", "is empty"),
        ("  ", "is empty"),
        ("sanders-r ", "starts or ends with a space"),
        ("sanders\nr", "control character"),
    ] {
        let out = s.run(&["ingest", "--custodian", name, input]);
        assert_eq!(out.status.code(), Some(2), "{name:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(said), "{name:?}: {stderr}");
    }
    assert_eq!(u(&s.summary(), "input_files"), 0);
    let (code, _) = s.ingest("Sanders, Richard B.", &[&s.path("in")], &[]);
    assert_eq!(code, 0);
}

/// A ZIP of `a.txt` ("first") and `a.txt` again ("second"). The zip writer refuses duplicate
/// names, so it writes two names of one length and the second is patched.
fn zip_repeating_a_name() -> Vec<u8> {
    let mut bytes = zip(&[("a.txt", b"first\n"), ("b.txt", b"second\n")]);
    for at in (0..bytes.len() - 5).rev() {
        if &bytes[at..at + 5] == b"b.txt" {
            bytes[at..at + 5].copy_from_slice(b"a.txt");
        }
    }
    bytes
}

/// A ZIP whose writer left 16 bytes out of every offset after its first entry (as one that
/// forgets its data descriptors does): 16 bytes of junk between the entries, offsets as before.
fn zip_with_uncounted_bytes(method: zip::CompressionMethod) -> Vec<u8> {
    let entries: [(&str, &[u8]); 2] = [("a.txt", b"first entry\n"), ("b.txt", b"second entry\n")];
    let bytes = crate::common::zip_with(&entries, method);
    let second = (1..bytes.len() - 4).find(|&at| bytes[at..at + 4] == *b"PK\x03\x04").unwrap();
    [&bytes[..second], &[0x55; 16][..], &bytes[second..]].concat()
}

#[test]
fn an_entry_where_its_record_says_is_read_from_there() {
    let s = Scratch::new();
    s.file("in/deflated.zip", &zip_with_uncounted_bytes(zip::CompressionMethod::Deflated));
    // The same, stored, with a byte of the first entry's data changed: its CRC fails.
    let mut damaged = zip_with_uncounted_bytes(zip::CompressionMethod::Stored);
    let at = damaged.windows(5).position(|w| w == b"first").unwrap();
    damaged[at] = b'F';
    s.file("in/stored.zip", &damaged);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    let item = |locator: &str| items.iter().find(|i| i["locator"] == locator).unwrap();
    let first = item("in/deflated.zip//a.txt");
    assert_eq!(first["blake3"], blake3_hex(b"first entry\n"), "{first}");
    assert_eq!(first["flags"], "zip-offset-repaired", "{first}");
    let second = item("in/deflated.zip//b.txt");
    assert_eq!(second["blake3"], blake3_hex(b"second entry\n"), "{second}");
    assert_eq!(second["flags"], "", "{second}");
    assert_eq!(item("in/stored.zip//b.txt")["flags"], "");
    let exceptions = s.exceptions();
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(exceptions[0]["locator"], "in/stored.zip//a.txt");
    assert_eq!(exceptions[0]["kind"], "corrupt");
    let message = exceptions[0]["message"].as_str().unwrap();
    assert!(message.contains("CRC-32") && message.contains("where the record gives"), "{message}");
}

/// Entries dated by their DOS time alone, by an extended timestamp (Info-ZIP, "UT") and by an
/// NTFS field (7-Zip, WinZip), all with the DOS time `2013-01-08 17:00:56`.
fn zip_with_timestamps() -> Vec<u8> {
    use std::io::Write as _;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut out);
    let dos = zip::DateTime::from_date_and_time(2013, 1, 8, 17, 0, 56).unwrap();
    let base = zip::write::FullFileOptions::default().last_modified_time(dos);
    // 2013-01-09T01:00:56Z, the same moment for a zipper eight hours behind UTC.
    let unix: u32 = 1_357_693_256;
    let mut ut = base.clone();
    ut.add_extra_field(0x5455, [&[1u8][..], &unix.to_le_bytes()].concat(), false).unwrap();
    // 2013-01-09T02:00:57Z, in 100 ns ticks since 1601.
    let ticks = (u64::from(unix) + 3_601 + 11_644_473_600) * 10_000_000;
    let ntfs =
        [&[0u8; 4][..], &1u16.to_le_bytes(), &24u16.to_le_bytes(), &ticks.to_le_bytes()].concat();
    let ntfs = [ntfs, ticks.to_le_bytes().to_vec(), ticks.to_le_bytes().to_vec()].concat();
    let mut nt = base.clone();
    nt.add_extra_field(0x000a, ntfs, false).unwrap();
    for (name, options) in [("dos.txt", base), ("ut.txt", ut), ("ntfs.txt", nt)] {
        writer.start_file(name, options).unwrap();
        writer.write_all(name.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    out.into_inner()
}

#[test]
fn zip_entries_are_dated_by_their_exact_timestamps() {
    let s = Scratch::new();
    s.file("in/dated.zip", &zip_with_timestamps());
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    let items = s.items();
    let modified =
        |locator: &str| items.iter().find(|i| i["locator"] == locator).unwrap()["modified"].clone();
    // The DOS time is the zipping machine's local time: kept as written, without a zone.
    assert_eq!(modified("in/dated.zip//dos.txt"), "2013-01-08T17:00:56");
    assert_eq!(modified("in/dated.zip//ut.txt"), "2013-01-09T01:00:56Z");
    assert_eq!(modified("in/dated.zip//ntfs.txt"), "2013-01-09T02:00:57Z");
}

#[test]
fn repeated_entry_names_are_each_accounted_for() {
    let s = Scratch::new();
    s.file("in/dup.zip", &zip_repeating_a_name());
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(u(&out["case"], "items"), 2);
    assert_eq!(u(&out["case"], "exceptions"), 1);
    assert_eq!(out["case"]["reconciled"], true, "both directory records are accounted for");
    let items = s.items();
    assert_eq!(items[1]["locator"], "in/dup.zip//a.txt");
    assert_eq!(
        items[1]["blake3"],
        blake3_hex(b"second\n"),
        "the reader exposes the last of the name"
    );
    let exceptions = s.exceptions();
    assert_eq!(exceptions[0]["locator"], "in/dup.zip//a.txt [directory record 0]");
    assert_eq!(exceptions[0]["kind"], "unsupported");
}

#[test]
fn legacy_hashes_on_demand_cover_stored_and_in_place_natives() {
    let s = Scratch::new();
    let batch = fixtures().join("sample/batch1.zip");
    s.ingest("c", &[&batch], &[]);
    let items = s.items();
    assert!(
        items.iter().all(|i| i["md5"].is_null()),
        "MD5/SHA-1 are not computed at ingest by default"
    );
    assert!(items[0]["flags"].as_str().unwrap().contains("native-at-source"), "{}", items[0]);
    let out = s.run(&["hashes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let items = s.items();
    assert_eq!(items[0]["md5"], "12902e792161ea9a6cd4494134ffb817");
    assert_eq!(items[0]["sha1"], "750716c8538e269ac7d4feff41c67eaecf070f9b");
    let memo = items.iter().find(|i| i["locator"] == "batch1.zip//notes/memo.txt").unwrap();
    assert_eq!(memo["md5"], "8055ac84c9d9ac7d6129047a1895c30c");
}

#[test]
fn legacy_hashes_at_ingest_when_configured() {
    let s = Scratch::new();
    s.set("legacy_at_ingest", "true");
    s.ingest("c", &[&fixtures().join("sample/loose/memo.txt")], &[]);
    assert_eq!(s.items()[0]["md5"], "8055ac84c9d9ac7d6129047a1895c30c");
}

/// Small loose messages and text files are stored in the native packs; what needs a file of
/// its own (a large text, linked as its own text; a "text" file that is really an archive,
/// opened by path) gets one, and every native reads back whole.
#[test]
fn small_loose_natives_are_packed_and_what_needs_a_path_gets_a_file() {
    let s = Scratch::new();
    let message = b"From: a@example.com\nTo: b@example.com\nSubject: Hi\n\nHello.\n";
    s.file("in/a.eml", message);
    s.file("in/small.txt", b"a short memo\n");
    let large = "A line of a long memo that is linked as its own text.\n".repeat(400);
    s.file("in/large.txt", large.as_bytes());
    // Text first (past the head that detection reads), an archive after it: text by its
    // head, so packed, and an archive by its end, which is opened by path.
    let mut prefixed = "This archive has a long text preamble.\n".repeat(250).into_bytes();
    prefixed.extend_from_slice(&crate::common::zip(&[("inside.txt", b"inside")]));
    s.file("in/preamble.txt", &prefixed);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");

    let items = s.items();
    let item = |locator: &str| {
        items.iter().find(|i| i["locator"] == locator).unwrap_or_else(|| panic!("no {locator}"))
    };
    let file_of = |locator: &str| {
        let blake3 = item(locator)["blake3"].as_str().unwrap().to_owned();
        s.case().join("natives").join(&blake3[..2]).join(blake3)
    };
    assert_eq!(item("in/a.eml")["file_type"], "email");
    assert!(!file_of("in/a.eml").exists(), "a small message is packed");
    assert!(!file_of("in/small.txt").exists(), "a small text file is packed");
    assert!(file_of("in/large.txt").is_file(), "a large text file is its own text");
    assert!(s.text(item("in/large.txt")["blake3"].as_str().unwrap()) == large, "its own text");
    assert_eq!(item("in/preamble.txt")["file_type"], "zip", "{:?}", item("in/preamble.txt"));
    assert!(file_of("in/preamble.txt").is_file(), "an archive is opened by path");
    assert_eq!(s.text(item("in/preamble.txt//inside.txt")["blake3"].as_str().unwrap()), "inside");

    // Every native reads back with its hash: MD5 and SHA-1 on demand match a case that
    // computed them at ingest.
    let at_ingest = Scratch::new();
    at_ingest.set("legacy_at_ingest", "true");
    for name in ["a.eml", "small.txt", "large.txt", "preamble.txt"] {
        at_ingest.file(&format!("in/{name}"), &std::fs::read(s.path("in").join(name)).unwrap());
    }
    assert_eq!(at_ingest.ingest("c", &[&at_ingest.path("in")], &[]).0, 0);
    let out = s.run(&["hashes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = at_ingest.items();
    for ours in s.items() {
        let theirs = expected.iter().find(|i| i["locator"] == ours["locator"]).unwrap();
        assert_eq!(ours["md5"].as_str().map(str::len), Some(32), "{ours}");
        assert_eq!((&ours["md5"], &ours["sha1"]), (&theirs["md5"], &theirs["sha1"]), "{ours}");
    }
}

/// Ingests `bytes` as `in/NAME`, read in place and changed by the `change:` fault once hashed:
/// no entry is read, and the one exception, `unreadable`, names the hash it had. Returns it.
fn changed_after_hashing(s: &Scratch, name: &str, bytes: &[u8]) -> serde_json::Value {
    let archive = s.file(&format!("in/{name}"), bytes);
    let report = s.ingest_with_fault("c", &archive, &format!("change:{name}"));
    assert_eq!(report["case"]["reconciled"], true, "{report}");
    assert!(s.items().is_empty(), "no entry read from the changed file");
    let e = s.sole_exception("unreadable");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("changed at its source after it was hashed"), "{message}");
    assert!(message.contains(&blake3_hex(bytes)), "the hash it had: {message}");
    e
}

/// A top-level archive is hashed, then opened again by path to read its entries: if the file
/// changed in between, its entries are not read from bytes the case never hashed. The archive
/// is kept as it now is, with an `unreadable` exception that says so.
#[test]
fn an_archive_that_changes_at_its_source_after_hashing_is_an_exception() {
    let s = Scratch::new();
    let original = zip(&[("a.txt", b"inside\n")]);
    let e = changed_after_hashing(&s, "batch.zip", &original);
    let mut changed = original.clone();
    changed.push(0);
    assert_eq!(e["blake3"], blake3_hex(&changed), "kept as it now is");

    // Taken away after it was hashed: an exception for it, which cannot keep its bytes, and
    // the run goes on (it once failed the whole run, storing what was gone).
    let gone = Scratch::new();
    let archive = gone.file("in/batch.zip", &original);
    let memo = gone.file("in/memo.txt", b"memo\n");
    let out = gone
        .command(&["ingest", "--json", "--custodian", "c"])
        .arg(&archive)
        .arg(&memo)
        .env(crate::common::quarry_engine_fault_env(), "vanish:batch.zip")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["case"]["reconciled"], true, "{report}");
    assert_eq!(gone.items().len(), 1, "the memo is ingested");
    let e = &gone.exceptions()[0];
    assert!(e["message"].as_str().unwrap().contains("not kept"), "{e}");
    assert!(e["blake3"].is_null(), "no hash without its bytes: {e}");

    // Unchanged, the same archive reads as usual.
    let again = Scratch::new();
    let (code, _) = again.ingest("c", &[&again.file("in/batch.zip", &original)], &[]);
    assert_eq!(code, 0);
    assert_eq!(again.items().len(), 2);
}

#[test]
fn a_path_named_twice_counts_once() {
    let s = Scratch::new();
    let memo = s.file("in/memo.txt", b"memo\n");
    let (code, out) = s.ingest("c", &[&memo, &s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(u(&out["run"], "inputs_found"), 2);
    assert_eq!(u(&out["run"], "inputs_added"), 1);
    assert_eq!(u(&out["run"], "inputs_skipped"), 1);
    assert_eq!(u(&out["case"], "items"), 1);
}

#[test]
fn text_that_merely_contains_a_zip_signature_is_text() {
    let s = Scratch::new();
    let mut text = "A long memo about the archive format. ".repeat(20).into_bytes();
    text.extend_from_slice(b"The end record starts with PK\x05\x06 in hex dumps.\n");
    s.file("in/notes.txt", &text);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    let items = s.items();
    assert_eq!(items[0]["file_type"], "text", "{}", items[0]);
    assert_eq!(items[0]["text_chars"], text.len() as u64);
}

#[test]
fn exceptions_are_retried_in_place_when_a_password_arrives() {
    let s = Scratch::new();
    let sample = fixtures().join("sample");
    let (_, first) = s.ingest("sanders-r", &[&sample], &[]);
    assert_eq!(u(&first["case"], "exceptions"), 2);
    let before: Vec<Value> = s.items();

    let passwords = fixtures().join("sample-passwords.txt");
    let args = ["--retry-exceptions", "--passwords", passwords.to_str().unwrap()];
    let (code, out) = s.ingest("sanders-r", &[&sample], &args);
    assert_eq!(code, 1, "broken.zip is still broken: {out}");
    let run = &out["run"];
    assert_eq!(u(run, "inputs_retried"), 2, "locked.zip and broken.zip: {run}");
    assert_eq!(u(run, "exceptions_retried"), 2);
    assert_eq!(u(run, "items_added"), 1, "the locked entry opens now");
    assert_eq!(u(run, "exceptions_added"), 1, "broken.zip fails again");
    let case = &out["case"];
    assert_eq!(u(case, "items"), 21);
    assert_eq!(u(case, "exceptions"), 1);
    assert_eq!(case["reconciled"], true, "{case}");

    let after = s.items();
    assert_eq!(after[..before.len()], before[..], "items already in the case are untouched");
    let opened = after.last().unwrap();
    assert_eq!(opened["control_number"], "DOC-00000021");
    assert_eq!(opened["locator"], "sample/locked.zip//secret-memo.txt");
    assert_eq!(
        opened["parent"],
        after.iter().find(|i| i["locator"] == "sample/locked.zip").unwrap()["control_number"]
    );

    let retried = s.json(&["report", "exceptions", "--retried", "--format", "json"]);
    let retried: Vec<(&str, i64)> = retried
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["locator"].as_str().unwrap(), e["retried_run"].as_i64().unwrap()))
        .collect();
    assert_eq!(retried, [("sample/broken.zip", 2), ("sample/locked.zip//secret-memo.txt", 2)]);

    // Nothing left to retry but the broken archive, which fails the same way again.
    let (_, again) = s.ingest("sanders-r", &[&sample], &args);
    assert_eq!(u(&again["run"], "inputs_retried"), 1);
    assert_eq!(u(&again["run"], "items_added"), 0);
    assert_eq!(u(&again["case"], "items"), 21);
}

/// A tar of files in folders, an email, links, a pipe and a climbing name, written with the
/// `tar` crate's builder (the names and kinds as GNU tar writes them).
fn sample_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut entry = |name: &[u8], kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
        let mut header = tar::Header::new_ustar();
        // Written directly: the builder refuses `..` in a name, which is the point here.
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(989_858_340);
        if let Some(link) = link {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        builder.append(&header, data).unwrap();
    };
    entry(b"docs/", tar::EntryType::Directory, None, b"");
    entry(b"docs/memo.txt", tar::EntryType::Regular, None, b"Raptor memo: keep within legal.\n");
    let email = concat!(
        "From: richard.sanders@enron.com\nTo: mark.haedicke@enron.com\nSubject: LJM2\n\n",
        "See the approval sheet.\n"
    )
    .as_bytes();
    entry(b"mail/msg.eml", tar::EntryType::Regular, None, email);
    entry(b"docs/latest", tar::EntryType::Symlink, Some("memo.txt"), b"");
    entry(b"docs/copy.txt", tar::EntryType::Link, Some("docs/memo.txt"), b"");
    entry(b"pipe", tar::EntryType::Fifo, None, b"");
    entry(b"../evil.txt", tar::EntryType::Regular, None, b"climbs out\n");
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8], name: Option<&str>) -> Vec<u8> {
    use std::io::Write;
    let mut builder = flate2::GzBuilder::new();
    if let Some(name) = name {
        builder = builder.filename(name);
    }
    let mut encoder = builder.write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Tar archives, gzipped tars and gzipped files are opened like ZIPs: every entry accounted
/// for, links recorded not followed, a climbing name and a pipe exceptions, a damaged stream
/// an exception for what it hides.
#[test]
fn tar_and_gzip_are_opened() {
    let s = Scratch::new();
    let tar = sample_tar();
    s.file("in/collection.tar", &tar);
    s.file("in/collection.tgz", &gzip(&tar, None));
    s.file("in/notes.txt.gz", &gzip(b"plain notes\n", Some("notes.txt")));
    s.file("in/bare.gz", &gzip(b"no name inside\n", None));
    // Cut inside the email's data: the memo before it is read, the rest is one exception.
    let cut = gzip(&tar[..512 * 5 + 40], None);
    s.file("in/cut.tgz", &cut);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    let listed: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            let get = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            (get("locator"), get("file_type"), get("flags"))
        })
        .collect();
    let row = |l: &str, t: &str, f: &str| (l.to_owned(), t.to_owned(), f.to_owned());
    for archive in ["in/collection.tar", "in/collection.tgz"] {
        for expected in [
            row(&format!("{archive}//docs/memo.txt"), "text", ""),
            row(&format!("{archive}//mail/msg.eml"), "email", ""),
            row(&format!("{archive}//docs/latest"), "text", "symlink"),
            row(&format!("{archive}//docs/copy.txt"), "text", "hardlink"),
        ] {
            assert!(listed.contains(&expected), "{expected:?} in {listed:?}");
        }
    }
    // Read in place, as a top-level ZIP is: hashed, not copied into the case.
    assert!(listed.contains(&row("in/collection.tar", "tar", "native-at-source")), "{listed:?}");
    assert!(listed.contains(&row("in/collection.tgz", "gzip", "native-at-source")), "{listed:?}");
    assert!(listed.contains(&row("in/notes.txt.gz//notes.txt", "text", "")), "{listed:?}");
    assert!(listed.contains(&row("in/bare.gz//bare", "text", "")), "{listed:?}");
    assert!(listed.contains(&row("in/cut.tgz//docs/memo.txt", "text", "")), "{listed:?}");
    let memo = items.iter().find(|i| i["locator"] == "in/collection.tgz//docs/memo.txt").unwrap();
    assert_eq!(s.text(memo["blake3"].as_str().unwrap()), "Raptor memo: keep within legal.\n");
    let email = s.json(&["report", "emails", "--format", "json"]);
    assert!(email.as_array().unwrap().iter().all(|e| e["subject"] == "LJM2"), "{email}");
    let exceptions = s.exception_kinds();
    let pair = |l: &str, k: &str| (l.to_owned(), k.to_owned());
    for archive in ["in/collection.tar", "in/collection.tgz"] {
        assert!(
            exceptions.contains(&pair(&format!("{archive}//pipe"), "unsupported")),
            "{exceptions:?}"
        );
        assert!(
            exceptions.contains(&pair(&format!("{archive}//../evil.txt"), "path_traversal")),
            "{exceptions:?}"
        );
    }
    // Inside a ZIP, a gzipped tar is a stored native, read from the store: the same members.
    let nested = Scratch::new();
    let bundle = zip(&[("mail/collection.tgz", &gzip(&tar, None))]);
    nested.ingest("c", &[&nested.file("in/bundle.zip", &bundle)], &[]);
    let inner: Vec<String> = nested
        .items()
        .iter()
        .filter_map(|i| i["locator"].as_str()?.strip_prefix("bundle.zip//mail/").map(String::from))
        .collect();
    let outer: Vec<String> = items
        .iter()
        .filter_map(|i| i["locator"].as_str()?.strip_prefix("in/").map(String::from))
        .filter(|l| l.starts_with("collection.tgz"))
        .collect();
    assert_eq!(inner, outer);
    let cut: Vec<&(String, String)> =
        exceptions.iter().filter(|(l, _)| l.starts_with("in/cut.tgz")).collect();
    assert!(!cut.is_empty() && cut.iter().all(|(_, k)| k == "corrupt"), "{cut:?}");
}

/// Modification dates that are no dates (a tar header's mtime can be any 64-bit number) are
/// left empty rather than written as `146138514283-06-19T07:45:04Z`; a file dated before 1970
/// keeps its date.
#[test]
fn impossible_modification_dates_are_left_empty() {
    let s = Scratch::new();
    let mut builder = tar::Builder::new(Vec::new());
    for (name, mtime) in [("dated.txt", 989_858_340u64), ("garbage.txt", 1 << 62)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(name.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        builder.append_data(&mut header, name, name.as_bytes()).unwrap();
    }
    s.file("in/dates.tar", &builder.into_inner().unwrap());
    let old = s.file("in/old.txt", b"typed in 1969\n");
    let before = std::time::UNIX_EPOCH - std::time::Duration::from_secs(86_400 * 200 + 1);
    std::fs::File::options().write(true).open(&old).unwrap().set_modified(before).unwrap();
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    let items = s.items();
    let modified = |locator: &str| {
        let item = items.iter().find(|i| i["locator"] == locator).unwrap();
        item["modified"].as_str().map(str::to_owned)
    };
    assert_eq!(modified("in/dates.tar//dated.txt").as_deref(), Some("2001-05-14T16:39:00Z"));
    assert_eq!(modified("in/dates.tar//garbage.txt"), None);
    assert_eq!(modified("in/old.txt").as_deref(), Some("1969-06-14T23:59:59Z"));
}

/// A tar read in place is checked against the stamp of the file hashed, before and after it is
/// read: changed, it is an exception kept as it now is, and none of its entries is read.
#[test]
fn a_tar_that_changes_at_its_source_after_hashing_is_an_exception() {
    changed_after_hashing(&Scratch::new(), "batch.tar", &sample_tar());
}

/// A 7z archive written with `sevenz-rust2`'s writer: solid (one block for every entry) or an
/// entry a block, encrypted with `password` (and its listing too, when `header`).
fn seven_zip(entries: &[(&str, &[u8])], solid: bool, password: Option<(&str, bool)>) -> Vec<u8> {
    use sevenz_rust2::encoder_options::{AesEncoderOptions, Lzma2Options};
    use sevenz_rust2::{ArchiveEntry, ArchiveWriter};
    let mut writer = ArchiveWriter::new(std::io::Cursor::new(Vec::new())).unwrap();
    match password {
        Some((password, header)) => {
            let aes = AesEncoderOptions::new(password.into());
            writer.set_content_methods(vec![aes.into(), Lzma2Options::default().into()]);
            writer.set_encrypt_header(header);
        }
        None => writer.set_encrypt_header(false),
    }
    if solid {
        let files = entries.iter().map(|(name, _)| ArchiveEntry::new_file(name)).collect();
        let readers = entries.iter().map(|(_, bytes)| (*bytes).into()).collect();
        writer.push_archive_entries(files, readers).unwrap();
    } else {
        for (name, bytes) in entries {
            writer.push_archive_entry(ArchiveEntry::new_file(name), Some(*bytes)).unwrap();
        }
    }
    writer.push_archive_entry::<&[u8]>(ArchiveEntry::new_directory("empty folder"), None).unwrap();
    writer.finish().unwrap().into_inner()
}

/// 7z archives, solid or not, plain or encrypted: every entry accounted for, the same bytes as
/// the plain files; a password from the list opens an encrypted one; without it each entry
/// (or, when the listing is encrypted too, the archive) is an `encrypted` exception.
#[test]
fn seven_zip_archives_are_opened() {
    let email = concat!(
        "From: richard.sanders@enron.com\nTo: mark.haedicke@enron.com\nSubject: LJM2\n\n",
        "See the approval sheet.\n"
    );
    let entries: [(&str, &[u8]); 3] = [
        ("docs/memo.txt", b"Raptor memo: keep within legal.\n"),
        ("mail/msg.eml", email.as_bytes()),
        ("../evil.txt", b"climbs out\n"),
    ];
    let s = Scratch::new();
    s.file("in/solid.7z", &seven_zip(&entries, true, None));
    s.file("in/blocks.7z", &seven_zip(&entries, false, None));
    s.file("in/locked.7z", &seven_zip(&entries, true, Some(("Raptor2001", false))));
    s.file("in/sealed.7z", &seven_zip(&entries, true, Some(("Raptor2001", true))));
    let bundle = zip(&[("inner/solid.7z", &seven_zip(&entries, true, None))]);
    s.file("in/bundle.zip", &bundle);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    let find = |locator: &str| items.iter().find(|i| i["locator"] == locator);
    for archive in ["in/solid.7z", "in/blocks.7z", "in/bundle.zip//inner/solid.7z"] {
        let memo =
            find(&format!("{archive}//docs/memo.txt")).unwrap_or_else(|| panic!("{archive}"));
        assert_eq!(s.text(memo["blake3"].as_str().unwrap()), "Raptor memo: keep within legal.\n");
        let mail = find(&format!("{archive}//mail/msg.eml")).unwrap();
        assert_eq!(mail["file_type"], "email");
    }
    // Read in place, whether or not the same bytes are stored from elsewhere (solid.7z is,
    // as the copy inside the ZIP, unless the ZIP's worker is slower): the flag is the same.
    assert_eq!(find("in/blocks.7z").unwrap()["flags"], "native-at-source");
    assert_eq!(find("in/solid.7z").unwrap()["flags"], "native-at-source");
    let exceptions = s.exception_kinds();
    let pair = |l: &str, k: &str| (l.to_owned(), k.to_owned());
    for archive in ["in/solid.7z", "in/blocks.7z"] {
        assert!(exceptions.contains(&pair(&format!("{archive}//../evil.txt"), "path_traversal")));
    }
    for entry in ["docs/memo.txt", "mail/msg.eml", "../evil.txt"] {
        let locked = pair(&format!("in/locked.7z//{entry}"), "encrypted");
        assert!(exceptions.contains(&locked), "{locked:?} in {exceptions:?}");
    }
    assert!(exceptions.contains(&pair("in/sealed.7z", "encrypted")), "{exceptions:?}");

    // With the password, both open, flagged decrypted.
    let passwords = s.file("passwords.txt", b"wrong\nRaptor2001\n");
    let open = Scratch::new();
    open.file("in/locked.7z", &seven_zip(&entries, true, Some(("Raptor2001", false))));
    open.file("in/sealed.7z", &seven_zip(&entries, true, Some(("Raptor2001", true))));
    let extra = ["--passwords", passwords.to_str().unwrap()];
    let (_, out) = open.ingest("c", &[&open.path("in")], &extra);
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = open.items();
    for archive in ["in/locked.7z", "in/sealed.7z"] {
        let memo = items.iter().find(|i| i["locator"] == format!("{archive}//docs/memo.txt"));
        let memo = memo.unwrap_or_else(|| panic!("{archive}: {items:?}"));
        assert_eq!(
            open.text(memo["blake3"].as_str().unwrap()),
            "Raptor memo: keep within legal.\n"
        );
    }
    let locked = items.iter().find(|i| i["locator"] == "in/locked.7z").unwrap();
    assert!(locked["flags"].as_str().unwrap().contains("decrypted"), "{locked}");
}

/// A 7z read in place is checked against the stamp of the file hashed before it is read.
#[test]
fn a_seven_zip_that_changes_at_its_source_after_hashing_is_an_exception() {
    let original = seven_zip(&[("a.txt", b"inside\n")], true, None);
    changed_after_hashing(&Scratch::new(), "batch.7z", &original);
}

/// bzip2 and xz, the other compressions tars travel in: a compressed tar's entries, a
/// compressed file named as the stream without its suffix.
#[test]
fn bzip2_and_xz_are_opened() {
    use std::io::Write;
    let bzip2 = |bytes: &[u8]| {
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    let xz = |bytes: &[u8]| {
        let mut writer =
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
        writer.write_all(bytes).unwrap();
        writer.finish().unwrap()
    };
    let s = Scratch::new();
    let tar = sample_tar();
    s.file("in/collection.tar.bz2", &bzip2(&tar));
    s.file("in/collection.txz", &xz(&tar));
    s.file("in/notes.txt.bz2", &bzip2(b"plain notes\n"));
    s.file("in/notes.txt.xz", &xz(b"plain notes\n"));
    let (_, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    let text = |locator: &str| {
        let item = items.iter().find(|i| i["locator"] == locator);
        let item = item.unwrap_or_else(|| panic!("{locator}: {items:?}"));
        s.text(item["blake3"].as_str().unwrap())
    };
    for archive in ["in/collection.tar.bz2", "in/collection.txz"] {
        let memo = text(&format!("{archive}//docs/memo.txt"));
        assert_eq!(memo, "Raptor memo: keep within legal.\n");
    }
    assert_eq!(text("in/notes.txt.bz2//notes.txt"), "plain notes\n");
    assert_eq!(text("in/notes.txt.xz//notes.txt"), "plain notes\n");
    let types: Vec<&str> = items
        .iter()
        .filter(|i| !i["locator"].as_str().unwrap().contains("//"))
        .map(|i| i["file_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["bzip2", "xz", "bzip2", "xz"]);
}

/// The split archive in `crates/quarry-ingest/tests/data/split` (Info-ZIP `zip -s`, three volumes; its README says
/// how it was made), copied into `dir` of `s`, all volumes or those named.
fn split_set(s: &Scratch, dir: &str, volumes: &[&str]) {
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../quarry-ingest/tests/data/split");
    for volume in volumes {
        s.file(&format!("{dir}/{volume}"), &std::fs::read(data.join(volume)).unwrap());
    }
}

/// The files the split archive holds, as its README's recipe writes them.
fn split_contents(name: &str, lines: usize) -> String {
    (0..lines).map(|i| format!("{name} line {i:05}\n")).collect()
}

/// A split ZIP (`X.z01`, `X.z02`, ..., `X.zip`) is read through its last volume, its volumes
/// joined where they lie: every entry, with the bytes of the files it was made from, the volumes
/// recorded as items of their own. An entry runs across two volumes and the central directory
/// across the last two.
#[test]
fn split_zip_archives_are_opened_through_their_last_volume() {
    let s = Scratch::new();
    split_set(&s, "in", &["set.z01", "set.z02", "set.zip"]);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    assert!(s.exceptions().is_empty(), "{:?}", s.exceptions());
    let items = s.items();
    let find = |locator: &str| {
        items.iter().find(|i| i["locator"] == locator).unwrap_or_else(|| panic!("{locator}"))
    };
    let entries: Vec<&str> = items
        .iter()
        .filter_map(|i| i["locator"].as_str().unwrap().strip_prefix("in/set.zip//"))
        .collect();
    assert_eq!(entries, ["alpha.txt", "folder/beta.txt", "folder/gamma.txt"]);
    for (entry, text) in [
        ("alpha.txt", split_contents("alpha.txt", 3000)),
        ("folder/beta.txt", split_contents("folder/beta.txt", 2500)),
        ("folder/gamma.txt", "A short memo about the pipeline.\n".to_owned()),
    ] {
        let item = find(&format!("in/set.zip//{entry}"));
        assert_eq!(item["blake3"], blake3_hex(text.as_bytes()), "{entry}");
        assert_eq!(s.text(item["blake3"].as_str().unwrap()), text, "{entry}");
        assert_eq!(item["parent"], find("in/set.zip")["control_number"]);
    }
    assert_eq!(find("in/set.zip")["file_type"], "zip");
    assert_eq!(find("in/set.zip")["flags"], "native-at-source");
    for volume in ["in/set.z01", "in/set.z02"] {
        assert_eq!(find(volume)["file_type"], "zip");
        assert_eq!(find(volume)["flags"], "split-volume no-text native-at-source", "{volume}");
    }
}

/// A split archive that cannot be joined is an exception saying why, and every volume is still
/// accounted for: a volume missing, the first volume alone, the last volume inside a container.
#[test]
fn split_zip_archives_that_cannot_be_joined_are_exceptions() {
    let s = Scratch::new();
    split_set(&s, "missing", &["set.z01", "set.zip"]);
    split_set(&s, "first", &["set.z01"]);
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../quarry-ingest/tests/data/split");
    let last = std::fs::read(data.join("set.zip")).unwrap();
    s.file("nested/bundle.zip", &zip(&[("backup/set.zip", &last)]));
    let (code, out) =
        s.ingest("c", &[&s.path("missing"), &s.path("first"), &s.path("nested")], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let exceptions = s.exceptions();
    let message = |locator: &str, kind: &str| -> String {
        let e = exceptions.iter().find(|e| e["locator"] == locator);
        let e = e.unwrap_or_else(|| panic!("{locator} in {exceptions:?}"));
        assert_eq!(e["kind"], kind, "{e}");
        e["message"].as_str().unwrap().to_owned()
    };
    let m = message("missing/set.zip", "corrupt");
    assert!(m.contains("the last of 3 volumes") && m.contains("set.z02 is not beside it"), "{m}");
    let m = message("first/set.z01", "unsupported");
    assert!(m.contains("first volume of a split"), "{m}");
    let m = message("nested/bundle.zip//backup/set.zip", "unsupported");
    assert!(m.contains("the last of 3 volumes") && m.contains("without its volumes"), "{m}");
    assert_eq!(exceptions.len(), 3, "{exceptions:?}");
    // The first volume beside a last volume that names it is a volume, though the set is
    // incomplete; the last volume is kept (stored) with its exception.
    let items = s.items();
    let volume = items.iter().find(|i| i["locator"] == "missing/set.z01").unwrap();
    assert_eq!(volume["flags"], "split-volume no-text native-at-source");

    // The client sends the missing volume: retrying the exceptions reads the set.
    split_set(&s, "missing", &["set.z02"]);
    let (_, out) = s.ingest("c", &[&s.path("missing")], &["--retry-exceptions"]);
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    for entry in ["alpha.txt", "folder/beta.txt", "folder/gamma.txt"] {
        let locator = format!("missing/set.zip//{entry}");
        assert!(items.iter().any(|i| i["locator"] == locator.as_str()), "{locator}");
    }
    assert!(s.exceptions().iter().all(|e| e["locator"] != "missing/set.zip"));
}

/// A volume that changes while its archive is read: the entries read are kept, and an
/// `unreadable` exception after them says they may not be those of the volume hashed.
#[test]
fn a_split_zip_volume_that_changes_while_it_is_read_is_reported() {
    let s = Scratch::new();
    split_set(&s, "in", &["set.z01", "set.z02", "set.zip"]);
    let report = s.ingest_with_fault("c", &s.path("in"), "change:set.z02");
    assert_eq!(report["case"]["reconciled"], true, "{report}");
    let e = s.sole_exception("unreadable");
    assert_eq!(e["locator"], "in/set.zip//[changed at its source]", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("the volume set.z02 changed at its source"), "{message}");
}

/// Bytes that do not compress (so archives of them split across parts), from a seed.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Writes `bytes` into `dir` as parts of `size` bytes: `name.001`, `name.002`, ...
fn split_into_parts(s: &Scratch, dir: &str, name: &str, bytes: &[u8], size: usize) -> usize {
    for (i, part) in bytes.chunks(size).enumerate() {
        s.file(&format!("{dir}/{name}.{:03}", i + 1), part);
    }
    bytes.len().div_ceil(size)
}

/// Archives split by bytes (`X.001`, `X.002`, ...: 7-Zip's "split to volumes", `split`) are
/// read through their first part from all the parts end to end: a ZIP, a 7z and a gzipped tar,
/// an entry of each crossing parts. The other parts are items flagged `split-volume`.
/// Numbered files that are not an archive cut short (rotated logs, complete ZIPs, a lone
/// `.001`) are files of their own.
#[test]
fn archives_split_by_bytes_are_read_from_their_parts() {
    use std::io::Write;
    let memo = b"The gas pipeline memo.\n".as_slice();
    let blob = noise(100_000, 7);
    let entries: [(&str, &[u8]); 2] = [("docs/memo.txt", memo), ("data/blob.bin", &blob)];
    let s = Scratch::new();
    let zipped = crate::common::zip_with(&entries, zip::CompressionMethod::Stored);
    let sevenz = seven_zip(&entries, true, None);
    let tgz = {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, bytes).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    };
    let mut parts = Vec::new();
    for (name, bytes) in [("set.zip", &zipped), ("set.7z", &sevenz), ("set.tgz", &tgz)] {
        let count = split_into_parts(&s, "in", name, bytes, 40_000);
        assert!(count >= 3, "{name} in {count} parts");
        parts.push((name, count));
    }
    // Numbered files that are not an archive cut short are files of their own.
    s.file("in/app.log.001", b"Rotated log, first file: pipeline pressure normal.\n");
    s.file("in/app.log.002", b"Rotated log, second file: pipeline pressure high.\n");
    s.file("in/report.001", b"A lone part is a file like any other.\n");
    let complete = crate::common::zip(&[("a.txt", b"complete on its own\n")]);
    s.file("in/backup.zip.001", &complete);
    s.file("in/backup.zip.002", &complete);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(s.exceptions().is_empty(), "{:?}", s.exceptions());
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    let find = |locator: &str| {
        items.iter().find(|i| i["locator"] == locator).unwrap_or_else(|| panic!("{locator}"))
    };
    for (name, count) in parts {
        let first = find(&format!("in/{name}.001"));
        assert_eq!(first["flags"], "native-at-source", "{name}");
        let memo_item = find(&format!("in/{name}.001//docs/memo.txt"));
        assert_eq!(s.text(memo_item["blake3"].as_str().unwrap()), "The gas pipeline memo.\n");
        assert_eq!(find(&format!("in/{name}.001//data/blob.bin"))["blake3"], blake3_hex(&blob));
        for part in 2..=count {
            let item = find(&format!("in/{name}.{part:03}"));
            assert_eq!(item["flags"], "split-volume no-text native-at-source", "{item}");
            assert_eq!(item["file_type"], first["file_type"], "{item}");
        }
    }
    for file in ["in/app.log.001", "in/app.log.002", "in/report.001"] {
        assert_eq!(find(file)["file_type"], "text", "{file}");
        assert_eq!(find(file)["flags"], "", "{file}");
    }
    let log = find("in/app.log.002");
    assert!(s.text(log["blake3"].as_str().unwrap()).contains("pressure high"));
    for file in ["in/backup.zip.001", "in/backup.zip.002"] {
        find(&format!("{file}//a.txt"));
    }
}

/// The expansion limits of a split archive count all its volumes or parts, not the one its
/// entries are read through (here a 108-byte last volume for 130,533 bytes of entries, and
/// first parts of 40,000 bytes for 100,023).
#[test]
fn a_split_archive_is_measured_against_all_its_volumes() {
    use std::io::Write;
    let s = Scratch::new();
    s.set("max_ratio", "2");
    s.set("ratio_floor_bytes", "1024");
    split_set(&s, "in", &["set.z01", "set.z02", "set.zip"]);
    let blob = noise(100_000, 11);
    let entries: [(&str, &[u8]); 2] = [("memo.txt", b"Pipeline memo.\n"), ("blob.bin", &blob)];
    split_into_parts(&s, "in", "set.7z", &seven_zip(&entries, true, None), 40_000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&blob).unwrap();
    split_into_parts(&s, "in", "blob.bin.gz", &gz.finish().unwrap(), 40_000);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(s.exceptions().is_empty(), "{:?}", s.exceptions());
    let items = s.items();
    for entry in
        ["in/set.zip//folder/beta.txt", "in/set.7z.001//blob.bin", "in/blob.bin.gz.001//blob.bin"]
    {
        assert!(items.iter().any(|i| i["locator"] == entry), "{entry} in {items:?}");
    }
}

/// A split archive that repeats a name: the record its reader hides is found in the directory
/// of the parts joined, as for a whole archive.
#[test]
fn repeated_names_in_a_split_archive_are_each_accounted_for() {
    let s = Scratch::new();
    assert!(split_into_parts(&s, "in", "dup.zip", &zip_repeating_a_name(), 100) >= 2);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let exceptions = s.exceptions();
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(exceptions[0]["locator"], "in/dup.zip.001//a.txt [directory record 0]");
    let entry = s.items().into_iter().find(|i| i["locator"] == "in/dup.zip.001//a.txt").unwrap();
    assert_eq!(entry["blake3"], blake3_hex(b"second\n"));
}

/// A ZIP holding a split set (a collection zipped with its split backups): the set is read
/// through its last volume from the volumes stored before it, as on disk.
#[test]
fn a_split_set_inside_a_zip_is_read_from_its_entries() {
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../quarry-ingest/tests/data/split");
    let volume = |name: &str| std::fs::read(data.join(name)).unwrap();
    let (z01, z02, last) = (volume("set.z01"), volume("set.z02"), volume("set.zip"));
    let s = Scratch::new();
    s.file(
        "in/collection.zip",
        &zip(&[
            ("backup/set.z01", &z01),
            ("backup/set.z02", &z02),
            ("backup/set.zip", &last),
            ("notes.txt", b"Backups of the pipeline files.\n"),
        ]),
    );
    // The directory may list the last volume first (a zip tool walking a folder in the file
    // system's order): it is read after its volumes all the same.
    s.file(
        "in/unordered.zip",
        &zip(&[
            ("set.zip", &last),
            ("set.z02", &z02),
            ("readme.txt", b"Read me.\n"),
            ("set.z01", &z01),
        ]),
    );
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    assert!(s.exceptions().is_empty(), "{:?}", s.exceptions());
    let items = s.items();
    let find = |locator: &str| {
        items.iter().find(|i| i["locator"] == locator).unwrap_or_else(|| panic!("{locator}"))
    };
    for volume in ["set.z01", "set.z02"] {
        let item = find(&format!("in/collection.zip//backup/{volume}"));
        assert_eq!(item["flags"], "split-volume no-text", "{item}");
    }
    let beta = find("in/collection.zip//backup/set.zip//folder/beta.txt");
    assert_eq!(beta["blake3"], blake3_hex(split_contents("folder/beta.txt", 2500).as_bytes()));
    assert_eq!(beta["parent"], find("in/collection.zip//backup/set.zip")["control_number"]);
    let beta = find("in/unordered.zip//set.zip//folder/beta.txt");
    assert_eq!(beta["blake3"], blake3_hex(split_contents("folder/beta.txt", 2500).as_bytes()));
    // Read in this order: readme, the volumes, then the last volume and its entries.
    let order: Vec<&str> = items
        .iter()
        .filter_map(|i| i["locator"].as_str().unwrap().strip_prefix("in/unordered.zip//"))
        .collect();
    assert_eq!(
        order,
        [
            "set.z02",
            "readme.txt",
            "set.z01",
            "set.zip",
            "set.zip//alpha.txt",
            "set.zip//folder/beta.txt",
            "set.zip//folder/gamma.txt"
        ]
    );
}

/// The first part of an archive split by bytes, without the rest, is not called damaged: its
/// exception says what is missing (beside it) or that parts inside a container are not joined.
#[test]
fn a_first_part_without_the_rest_says_so() {
    let blob = noise(100_000, 3);
    let sevenz = seven_zip(&[("blob.bin", &blob)], true, None);
    let zipped = crate::common::zip_with(&[("blob.bin", &blob)], zip::CompressionMethod::Stored);
    let s = Scratch::new();
    s.file("in/lone.7z.001", &sevenz[..40_000]);
    s.file("in/lone.zip.001", &zipped[..40_000]);
    s.file("in/bundle.zip", &zip(&[("parts/inner.7z.001", &sevenz[..40_000])]));
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let exceptions = s.exceptions();
    let message = |locator: &str, kind: &str| -> String {
        let e = exceptions.iter().find(|e| e["locator"] == locator);
        let e = e.unwrap_or_else(|| panic!("{locator} in {exceptions:?}"));
        assert_eq!(e["kind"], kind, "{e}");
        e["message"].as_str().unwrap().to_owned()
    };
    for (name, next) in [("lone.7z.001", "lone.7z.002"), ("lone.zip.001", "lone.zip.002")] {
        let m = message(&format!("in/{name}"), "corrupt");
        assert!(m.contains(&format!("its part {next} is not beside it")), "{m}");
    }
    let m = message("in/bundle.zip//parts/inner.7z.001", "unsupported");
    assert!(m.contains("inside a container"), "{m}");
}

/// File and folder names that are not UTF-8 (Latin-1 from old Windows media) are ingested like
/// any other: two names a lossy conversion would merge stay two inputs, locators show the bytes
/// as `\xNN`, a mailbox read in place is found again at its source, and a second run skips them.
#[test]
fn names_that_are_not_utf8_are_each_ingested_and_found_again() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let named = |rel: &[u8]| s.path("in").join(std::ffi::OsStr::from_bytes(rel));
    std::fs::create_dir_all(named(b"d\xe9p\xf4t")).unwrap();
    std::fs::write(named(b"caf\xe9.txt"), b"first\n").unwrap();
    std::fs::write(named(b"caf\xe8.txt"), b"second\n").unwrap();
    let mbox = "From a@x Mon Jan  1 00:00:00 2001\nFrom: a@x\nSubject: one\n\nbody one\n\n\
                From b@x Mon Jan  1 00:00:00 2001\nFrom: b@x\nSubject: two\n\nbody two\n";
    std::fs::write(named(b"d\xe9p\xf4t/mail\xff.mbox"), mbox).unwrap();

    let (code, first) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(u(&first["run"], "inputs_added"), 3, "{first}");
    let items = s.items();
    let located = |locator: &str| {
        items.iter().find(|i| i["locator"] == locator).unwrap_or_else(|| panic!("{locator}"))
    };
    assert_eq!(s.text(located("in/caf\\xE9.txt")["blake3"].as_str().unwrap()), "first\n");
    assert_eq!(s.text(located("in/caf\\xE8.txt")["blake3"].as_str().unwrap()), "second\n");
    let mailbox = located("in/d\\xE9p\\xF4t/mail\\xFF.mbox");
    assert!(mailbox["flags"].as_str().unwrap().contains("native-at-source"), "{mailbox}");
    assert_eq!(items.len(), 5, "two texts, the mailbox and its two messages");

    let out = s.run(&["verify", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(u(&report, "natives_at_source"), 1, "{report}");
    // MD5 and SHA-1 on demand read the mailbox at its source too.
    crate::review::ok(&s.run(&["hashes"]));
    let hashed = s.items();
    let mailbox =
        hashed.iter().find(|i| i["locator"] == "in/d\\xE9p\\xF4t/mail\\xFF.mbox").unwrap();
    assert_eq!(mailbox["md5"], "f4ef922a1e2aac5280a5983f2190d934", "{mailbox}");
    // And a production copies it from there.
    let control = mailbox["control_number"].as_str().unwrap();
    let code = ["review", "code", control, "--set", "responsiveness=responsive"];
    crate::review::ok(&crate::review::as_reviewer(&s, "r", &code));
    let out = s.path("prod");
    let produce = ["export", "production", "--prefix", "ABC", "--out", out.to_str().unwrap()];
    crate::review::ok(&crate::review::as_reviewer(&s, "r", &produce));
    assert_eq!(std::fs::read(out.join("NATIVES/0001/ABC0000001.mbox")).unwrap(), mbox.as_bytes());

    let (code, second) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0);
    assert_eq!(u(&second["run"], "inputs_skipped"), 3, "{second}");
    assert_eq!(first["case"], second["case"]);
}

/// A file name with a line break or a tab is kept as it is, and the table reports show it
/// escaped, one row a line; CSV quotes it.
#[test]
fn names_with_line_breaks_keep_tables_one_row_a_line() {
    let s = Scratch::new();
    s.file("in/two\nlines.txt", b"one\n");
    s.file("in/tab\there.txt", b"two\n");
    s.ingest("c", &[&s.path("in")], &[]);
    let table = crate::review::ok(&s.run(&["report", "items"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[1].ends_with("in/tab\\there.txt") && lines[2].ends_with("in/two\\nlines.txt"));
    let csv = crate::review::ok(&s.run(&["report", "items", "--format", "csv"]));
    assert!(csv.contains("\"in/two\nlines.txt\""), "{csv}");
}
