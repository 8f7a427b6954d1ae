//! Orchestration: the operations a quarry user runs, composed from the leaf crates.
//!
//! # Overview
//! - [`ingest()`]: the ingest pipeline (walker, bounded channels, supervised extraction
//!   workers, one batching writer). See the `ingest` module docs for its guarantees.
//! - [`worker_main`]: the body of the extraction worker process (`quarry __worker`).
//! - [`WorkerCommand`]: how the supervisor starts workers.
//!
//! # Example
//! ```no_run
//! use quarry_engine::{IngestOptions, WorkerCommand, ingest};
//! let case = quarry_case::Case::open("matter".as_ref())?;
//! let options = IngestOptions {
//!     custodian: "allen-p".into(),
//!     paths: vec!["collection/allen-p".into()],
//!     passwords: vec![],
//!     workers: 2,
//!     worker: WorkerCommand::current_exe()?,
//!     progress: false,
//!     retry_exceptions: false,
//! };
//! let report = ingest(&case, &options)?;
//! println!("{} items, {} exceptions", report.items_added, report.exceptions_added);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ingest;
mod protocol;
mod supervisor;
mod worker;

pub use ingest::{IngestOptions, IngestReport, WINDOW, ingest};
pub use supervisor::WorkerCommand;
pub use worker::{FAULT_ENV, worker_main};

/// Peak resident set size (VmHWM) of a process (`None`: this one), in bytes, where the platform
/// reports it (Linux `/proc`).
#[must_use]
pub fn peak_rss(pid: Option<u32>) -> Option<u64> {
    let path =
        pid.map_or_else(|| "/proc/self/status".to_owned(), |pid| format!("/proc/{pid}/status"));
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Errors that stop an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user asked for something that cannot be done; the message says what to change.
    #[error("{0}")]
    User(String),
    /// Extraction workers could not be run.
    #[error("{0}")]
    Worker(String),
    /// The case failed.
    #[error(transparent)]
    Case(#[from] quarry_case::Error),
    /// The content store failed.
    #[error(transparent)]
    Store(#[from] quarry_store::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
