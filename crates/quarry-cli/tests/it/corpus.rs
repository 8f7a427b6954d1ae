//! Acceptance on the real hostile archives of the shared corpus (runs when QUARRY_CORPUS is set).

use crate::common::{Scratch, u};
use serde_json::Value;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("QUARRY_CORPUS")?);
    assert!(
        dir.join("MANIFEST.md").is_file(),
        "QUARRY_CORPUS={} has no MANIFEST.md",
        dir.display()
    );
    Some(dir)
}

fn kinds_under(exceptions: &[Value], prefix: &str) -> Vec<String> {
    exceptions
        .iter()
        .filter(|e| e["locator"].as_str().unwrap().starts_with(prefix))
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn hostile_archives_are_exceptions_and_the_run_reconciles() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let s = Scratch::new();
    let sandbox = s.path("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    let out = s
        .command(&[
            "ingest",
            "--json",
            "--custodian",
            "corpus",
            corpus.join("zip").to_str().unwrap(),
        ])
        .current_dir(&sandbox)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let case = &report["case"];
    assert_eq!(case["reconciled"], true, "{case}");
    assert_eq!(u(case, "input_files"), 114);
    assert_eq!(
        u(case, "input_files") + u(case, "container_entries"),
        u(case, "items") + u(case, "exceptions")
    );

    let exceptions = crate::common::Scratch::exceptions(&s);
    let at = |locator: &str| -> Vec<String> { kinds_under(&exceptions, locator) };
    assert_eq!(at("zip/zip-bomb/zbsm.zip"), ["decompression_bomb"], "overlapping-entry bomb");
    let nested = at("zip/zip-bomb/Challenge9.zip//");
    assert!(
        !nested.is_empty() && nested.iter().all(|k| k == "decompression_bomb"),
        "recursive bomb: {nested:?}"
    );
    assert_eq!(at("zip/snyk-zip-slip/zip-slip.zip//"), ["path_traversal"]);
    assert_eq!(at("zip/snyk-zip-slip/zip-slip-win.zip//"), ["path_traversal"]);
    let encrypted = at("zip/commons-compress/password-encrypted.zip//");
    assert!(encrypted.len() >= 10 && encrypted.iter().all(|k| k == "encrypted"), "{encrypted:?}");
    assert_eq!(at("zip/zip-rs-zip2/data/aes_archive.zip//"), ["encrypted"; 4]);

    // Zip64 archives open and yield their entries.
    let items = s.items();
    assert!(items.iter().any(|i| {
        i["locator"].as_str().unwrap().starts_with("zip/zip-rs-zip2/data/zip64_demo.zip//")
    }));
    assert!(items.iter().any(|i| {
        i["locator"].as_str().unwrap().starts_with("zip/cpython-archivetestdata/exe_with_z64//")
    }));
    // The benign neighbours of the traversal entries are items.
    assert!(items.iter().any(|i| i["locator"] == "zip/snyk-zip-slip/zip-slip.zip//good.txt"));

    // Nothing was written outside the case: not where the run started, not where the
    // traversal names point.
    assert!(
        std::fs::read_dir(&sandbox).unwrap().next().is_none(),
        "the working folder stays empty"
    );
    assert!(!std::path::Path::new("/tmp/evil.txt").exists());
    assert!(!std::path::Path::new("/Temp/evil.txt").exists());
}
