//! Helpers: run the binary, build collections, read reports.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_quarry");

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A scratch folder holding a case (`case/`) and inputs.
pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        let scratch = Scratch { dir: tempfile::tempdir().unwrap() };
        let out = scratch.quarry(&["init", scratch.case().to_str().unwrap(), "--name", "test"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        scratch
    }

    pub(crate) fn case(&self) -> PathBuf {
        self.dir.path().join("case")
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating folders) and returns its path.
    pub(crate) fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("QUARRY_CASE")
            .env_remove(quarry_engine_fault_env())
            .arg("--case")
            .arg(self.case())
            .args(args);
        cmd.current_dir(self.dir.path());
        cmd
    }

    pub(crate) fn quarry(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("QUARRY_CASE")
            .env_remove(quarry_engine_fault_env())
            .args(args)
            .current_dir(self.dir.path());
        cmd.output().unwrap()
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `ingest --json` for one custodian; returns (exit code, JSON).
    pub(crate) fn ingest(&self, custodian: &str, paths: &[&Path], extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["ingest", "--json", "--custodian", custodian];
        args.extend_from_slice(extra);
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        args.extend(paths.iter().map(String::as_str));
        let out = self.run(&args);
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "ingest failed ({code}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (code, serde_json::from_slice(&out.stdout).unwrap())
    }

    /// `ingest --json` of one path with `fault` injected in the workers
    /// (`QUARRY_FAULT_INJECTION`); the run must end with exceptions (exit code 1). Returns its
    /// report.
    pub(crate) fn ingest_with_fault(&self, custodian: &str, path: &Path, fault: &str) -> Value {
        let path = path.display().to_string();
        let out = self
            .command(&["ingest", "--json", "--custodian", custodian, &path])
            .env(quarry_engine_fault_env(), fault)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub(crate) fn summary(&self) -> Value {
        self.json(&["report", "summary", "--json"])
    }

    pub(crate) fn items(&self) -> Vec<Value> {
        self.json(&["report", "items", "--format", "json"]).as_array().unwrap().clone()
    }

    pub(crate) fn exceptions(&self) -> Vec<Value> {
        self.json(&["report", "exceptions", "--format", "json"]).as_array().unwrap().clone()
    }

    /// Each exception's locator and kind.
    pub(crate) fn exception_kinds(&self) -> Vec<(String, String)> {
        let locator_and_kind = |e: &Value| {
            (e["locator"].as_str().unwrap().to_owned(), e["kind"].as_str().unwrap().to_owned())
        };
        self.exceptions().iter().map(locator_and_kind).collect()
    }

    /// The case's only exception, asserted to be of `kind`.
    pub(crate) fn sole_exception(&self, kind: &str) -> Value {
        let mut exceptions = self.exceptions();
        assert_eq!(exceptions.len(), 1, "{exceptions:?}");
        assert_eq!(exceptions[0]["kind"], kind, "{exceptions:?}");
        exceptions.remove(0)
    }

    /// Rewrites one `key = value` line of case.toml.
    pub(crate) fn set(&self, key: &str, value: &str) {
        let path = self.case().join("case.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut found = false;
        let text: String = text
            .lines()
            .map(|line| {
                if line.split('=').next().is_some_and(|k| k.trim() == key) {
                    found = true;
                    format!("{key} = {value}")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(found, "no {key} in case.toml");
        std::fs::write(path, text + "\n").unwrap();
    }

    /// The stored text of a native.
    pub(crate) fn text(&self, blake3: &str) -> String {
        let case = quarry_case::Case::open(&self.case()).unwrap();
        case.store().text(blake3).unwrap().expect("a stored text")
    }

    /// Where a native's text is in the case's text packs (quarry-store's format: 48-byte index
    /// entries of blake3, offset (u32, its top bit flagging the CRC-32 that follows, u32) and
    /// length (u64)): the index file, the entry's position in it, the pack file and the text's
    /// offset and length. Every entry: two workers storing copies of one native in the same
    /// run can each pack its text, and a reader takes whichever it finds first.
    fn packed(&self, blake3: &str) -> Vec<(PathBuf, usize, PathBuf, u64, usize)> {
        let key = blake3::Hash::from_hex(blake3).unwrap();
        let dir = self.case().join("text").join("packs");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let idx = entry.unwrap().path();
            if idx.extension().is_none_or(|e| e != "idx") {
                continue;
            }
            let bytes = std::fs::read(&idx).unwrap();
            for (at, entry) in bytes.chunks_exact(48).enumerate() {
                if entry[..32] == key.as_bytes()[..] {
                    let field = u32::from_le_bytes(entry[32..36].try_into().unwrap());
                    let offset = u64::from(field & !(1 << 31));
                    let len = u64::from_le_bytes(entry[40..48].try_into().unwrap());
                    let pack = idx.with_extension("pack");
                    found.push((idx.clone(), at * 48, pack, offset, usize::try_from(len).unwrap()));
                }
            }
        }
        assert!(!found.is_empty(), "no packed text for {blake3}");
        found
    }

    /// Takes a native's text out of the packs' index (as if it was never stored); returns
    /// what [`Scratch::restore_text`] needs to put it back.
    pub(crate) fn hide_text(&self, blake3: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let mut saved: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        // Last entries first, so the positions of the others hold.
        for (idx, at, ..) in self.packed(blake3).into_iter().rev() {
            if !saved.iter().any(|(p, _)| *p == idx) {
                saved.push((idx.clone(), std::fs::read(&idx).unwrap()));
            }
            let mut kept = std::fs::read(&idx).unwrap();
            kept.drain(at..at + 48);
            std::fs::write(&idx, kept).unwrap();
        }
        saved
    }

    pub(crate) fn restore_text(&self, saved: Vec<(PathBuf, Vec<u8>)>) {
        for (idx, bytes) in saved {
            std::fs::write(idx, bytes).unwrap();
        }
    }

    /// Overwrites the start of a native's packed text with bytes that are not UTF-8.
    pub(crate) fn damage_text(&self, blake3: &str) {
        use std::os::unix::fs::FileExt as _;
        for (_, _, pack, offset, len) in self.packed(blake3) {
            assert!(len >= 2);
            let file = std::fs::OpenOptions::new().write(true).open(pack).unwrap();
            file.write_all_at(b"\xff\xfe", offset).unwrap();
        }
    }

    /// Changes one ASCII letter of a native's packed text to upper case (the text stays
    /// UTF-8, as most damage would leave it).
    pub(crate) fn change_text_letter(&self, blake3: &str) {
        use std::os::unix::fs::FileExt as _;
        for (_, _, pack, offset, len) in self.packed(blake3) {
            let file = std::fs::OpenOptions::new().read(true).write(true).open(pack).unwrap();
            let mut text = vec![0u8; len];
            file.read_exact_at(&mut text, offset).unwrap();
            let at = text.iter().position(u8::is_ascii_lowercase).expect("a lower-case letter");
            let changed = text[at].to_ascii_uppercase();
            file.write_all_at(&[changed], offset + at as u64).unwrap();
        }
    }
}

pub(crate) fn quarry_engine_fault_env() -> &'static str {
    "QUARRY_FAULT_INJECTION"
}

/// A deflated ZIP of `(name, bytes)` entries.
pub(crate) fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, zip::CompressionMethod::Deflated)
}

pub(crate) fn zip_with(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut out);
        let options =
            zip::write::SimpleFileOptions::default().compression_method(method).large_file(false);
        for (name, bytes) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap();
    }
    out.into_inner()
}

/// Copies a folder and everything under it.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub(crate) fn u(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or_else(|| panic!("no {key} in {value}"))
}

pub(crate) fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
