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
