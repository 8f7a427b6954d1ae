//! `quarry verify`: every native and text the case recorded, read back and checked.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{Scratch, copy_dir, fixtures, u};

fn verify(s: &Scratch) -> (i32, Value) {
    let out = s.run(&["verify", "--json"]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

/// A sound case verifies; then a changed native, a changed text, a changed and a missing source
/// of archives read in place are each named, with the items they concern, and the status is 1.
#[test]
fn verify_reads_everything_back_and_names_what_changed() {
    let s = Scratch::new();
    // A copy of the sample: its top-level archives are read in place, and changed below.
    copy_dir(&fixtures().join("sample"), &s.path("in/sample"));
    let (code, _) = s.ingest("sanders-r", &[&s.path("in/sample")], &[]);
    assert_eq!(code, 1, "the sample holds a broken and a locked archive");
    let items = s.items();
    let exceptions = s.exceptions();
    let natives: BTreeSet<&str> = items
        .iter()
        .chain(&exceptions)
        .filter_map(|i| i["blake3"].as_str().filter(|b| !b.is_empty()))
        .collect();

    let (code, report) = verify(&s);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(u(&report, "natives") + u(&report, "natives_at_source"), natives.len() as u64);
    // Three top-level archives read in place; the broken one is an exception, its bytes kept
    // in the store.
    assert_eq!(u(&report, "natives_at_source"), 3, "{report}");
    assert_eq!(u(&report, "texts_unchecked"), 0);
    let with_text: BTreeSet<&str> = items
        .iter()
        .filter(|i| !i["text_chars"].is_null())
        .map(|i| i["blake3"].as_str().unwrap())
        .collect();
    assert_eq!(u(&report, "texts"), with_text.len() as u64);
    // The audit log so far: the ingest's entries; its head can be checked later.
    assert!(u(&report, "audit_entries") >= 1, "{report}");
    let head = report["audit_head"].as_str().unwrap();
    let expect = s.run(&["audit", "verify", "--expect", head]);
    assert!(expect.status.success(), "{}", String::from_utf8_lossy(&expect.stdout));

    let by_locator = |locator: &str| -> &Value {
        items
            .iter()
            .find(|i| i["locator"] == locator)
            .unwrap_or_else(|| panic!("no {locator} in {items:?}"))
    };
    // A native changed in the store, a text changed in its pack, an archive changed at its
    // source and one gone from it.
    let pdf = by_locator("sample/loose/memo.pdf")["blake3"].as_str().unwrap();
    let stored = s.case().join("natives").join(&pdf[..2]).join(pdf);
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    let eml = by_locator("sample/loose/memo.eml")["blake3"].as_str().unwrap();
    s.change_text_letter(eml);
    let nested = by_locator("sample/nested.zip")["blake3"].as_str().unwrap();
    let mut archive =
        std::fs::OpenOptions::new().append(true).open(s.path("in/sample/nested.zip")).unwrap();
    std::io::Write::write_all(&mut archive, b"appended").unwrap();
    let batch = by_locator("sample/batch1.zip")["blake3"].as_str().unwrap();
    std::fs::remove_file(s.path("in/sample/batch1.zip")).unwrap();

    let (code, report) = verify(&s);
    assert_eq!(code, 1, "{report}");
    let found: BTreeSet<(&str, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["blake3"].as_str().unwrap()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("native_damaged", pdf),
        ("text_damaged", eml),
        ("source_changed", nested),
        ("source_missing", batch),
    ]
    .into_iter()
    .collect();
    assert_eq!(found, expected, "{report}");
    let text = report["problems"].as_array().unwrap().iter().find(|p| p["kind"] == "text_damaged");
    let text = text.unwrap();
    // The memo and its copy inside an archive.
    assert_eq!(u(text, "items"), 2, "{text}");
    let control = by_locator("sample/loose/memo.eml")["control_number"].as_str().unwrap();
    assert!(text["named"].as_array().unwrap().iter().any(|n| n == control), "{text}");
    assert_eq!(u(&report, "natives_at_source"), 1, "{report}");

    // Without the sources (a case copied without its collection), only the store's problems.
    let out = s.run(&["verify", "--no-sources", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let without: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: BTreeSet<&str> = without["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["native_damaged", "text_damaged"]), "{without}");
    assert_eq!(u(&without, "natives_at_source_skipped"), 3, "{without}");
    assert_eq!(u(&without, "natives_at_source"), 0, "{without}");

    // Without --json, the problems are listed; every run is in the audit log.
    let out = s.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 problems:") && stdout.contains(control), "{stdout}");
    let log = s.json(&["audit", "log", "--format", "json"]);
    let runs: Vec<&Value> =
        log.as_array().unwrap().iter().filter(|e| e["action"] == "case.verify").collect();
    assert_eq!(runs.len(), 4, "{log}");
    assert_eq!(runs[3]["detail"]["problems"]["text_damaged"], 1, "{}", runs[3]);

    // An audit entry edited after the fact breaks the chain, and verify says so.
    let db = rusqlite::Connection::open(s.case().join("quarry.db")).unwrap();
    db.execute("UPDATE audit SET detail = '{}' WHERE seq = 1", []).unwrap();
    drop(db);
    let (code, report) = verify(&s);
    assert_eq!(code, 1);
    let broken: Vec<&Value> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "audit_log_broken")
        .collect();
    assert_eq!(broken.len(), 1, "{report}");
    assert!(broken[0]["detail"].as_str().unwrap().starts_with("entry 1"), "{report}");
}
