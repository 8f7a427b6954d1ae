//! The line protocol between the supervisor and its extraction workers.
//!
//! JSON lines over the worker's stdin and stdout: the supervisor sends one [`WorkerConfig`],
//! then one [`JobRequest`] per input; the worker answers each job with [`WorkerEvent`]s ending
//! in `Done` (or `Fatal` when the case store itself failed). JSON keeps the protocol readable
//! in a crash report; its cost (a few microseconds a record) is far below extraction's.

use quarry_types::{Limits, Position, Record};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Sent once, first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WorkerConfig {
    /// The case folder (natives and text are written inside it, nowhere else).
    #[serde(with = "wire_path")]
    pub case_dir: PathBuf,
    /// Limits for every input.
    pub limits: Limits,
    /// Passwords to try on encrypted entries.
    pub passwords: Vec<Vec<u8>>,
    /// Compute MD5 and SHA-1 while reading.
    pub legacy_hashes: bool,
}

/// One input to extract.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct JobRequest {
    /// The input file.
    #[serde(with = "wire_path")]
    pub path: PathBuf,
    /// Items already reported by an earlier attempt (not reported again).
    pub done: Vec<String>,
    /// Items that crashed or stalled an earlier attempt (skipped with their contents).
    pub failed: Vec<String>,
}

/// What a worker reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WorkerEvent {
    /// Work on an item begins.
    Begin {
        /// Where it sits.
        position: Position,
        /// Its name.
        name: String,
        /// Its size, when known.
        size: Option<u64>,
    },
    /// One record.
    Record(Box<Record>),
    /// The job is finished.
    Done,
    /// The case store failed: the run cannot go on.
    Fatal(String),
}

/// A path on the wire: a string when it is UTF-8, else its bytes (an array of numbers). serde's
/// own `PathBuf` refuses a path that is not UTF-8, and one such file name stopped the whole run.
mod wire_path {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Wire<'a> {
        Text(std::borrow::Cow<'a, str>),
        Bytes(std::borrow::Cow<'a, [u8]>),
    }

    pub(crate) fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => Wire::Text(text.into()),
            None => Wire::Bytes(path.as_os_str().as_bytes().into()),
        }
        .serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<PathBuf, D::Error> {
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Text(text) => PathBuf::from(text.into_owned()),
            Wire::Bytes(bytes) => PathBuf::from(OsString::from_vec(bytes.into_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn paths_that_are_not_utf8_cross_the_wire_intact() {
        for bytes in [&b"/in/caf\xe9.txt"[..], b"/in/plain.txt"] {
            let path = PathBuf::from(OsString::from_vec(bytes.to_vec()));
            let job = JobRequest { path: path.clone(), done: Vec::new(), failed: Vec::new() };
            let line = serde_json::to_string(&job).unwrap();
            assert_eq!(serde_json::from_str::<JobRequest>(&line).unwrap().path, path, "{line}");
        }
    }
}
