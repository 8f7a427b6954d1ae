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
        std::fs::read_to_string(
            self.case().join("text").join(&blake3[..2]).join(format!("{blake3}.txt")),
        )
        .unwrap()
    }
}

fn quarry_engine_fault_env() -> &'static str {
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

pub(crate) fn u(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or_else(|| panic!("no {key} in {value}"))
}

pub(crate) fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
