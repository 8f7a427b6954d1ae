//! Turning untrusted inputs into records: type detection, ZIP expansion under limits, and text
//! extraction.
//!
//! # Overview
//! - [`detect`]: the type of a native from its bytes.
//! - [`Extractor`]: reads one top-level input, stores every native it meets in the case's
//!   [`quarry_store::ContentStore`], and reports an [`Event`] stream: a
//!   [`quarry_types::Record`] for the input and for every archive entry inside it.
//! - [`Resume`]: what a restarted extraction skips, after the process running it died.
//! - [`email`], [`mbox`], [`msg`], [`tnef`], [`pdf`]: the format readers the extractor dispatches to; each is
//!   pure (bytes in, text, metadata and child bytes out), so they can be tested and measured
//!   without a case.
//!
//! This crate runs inside the engine's isolated worker processes: it may panic, hang or run
//! out of memory on a hostile file, and the supervisor in `quarry-engine` turns that into an
//! exception for the one item. Within the process it still turns every failure it can see
//! (corrupt archive, wrong password, zip bomb, traversal name) into an exception record.
//!
//! # Example
//! ```
//! use quarry_ingest::{Event, ExtractOptions, Extractor, Resume};
//! use quarry_types::Record;
//! # let case = tempfile::tempdir()?;
//! # let input = case.path().join("memo.txt");
//! # fs_err::write(&input, "Privileged and confidential")?;
//! let store = quarry_store::ContentStore::create(case.path())?;
//! let mut extractor = Extractor::new(store, ExtractOptions::default());
//! let mut records = Vec::new();
//! extractor.extract_input(&input, &Resume::default(), &mut |event| {
//!     if let Event::Record(record) = event {
//!         records.push(*record);
//!     }
//!     Ok(())
//! })?;
//! assert!(matches!(&records[..], [Record::Item(item)] if item.text_chars == Some(27)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod detect;
pub mod email;
mod entities;
mod extract;
mod maildate;
pub mod mbox;
pub mod msg;
pub mod pdf;
pub mod pst;
mod rar;
pub mod rtf;
pub mod smime;
mod split;
pub mod text;
pub mod tnef;
pub mod xmp;
mod zipdir;

pub use extract::{
    Event, ExtractOptions, Extractor, Fault, MAX_TEXT_BYTES, Resume, error_chain, iso_utc,
};

/// Errors that stop an extraction (per-item failures are exception records instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The content store failed (disk full, permissions on the case).
    #[error("content store failed")]
    Store(#[from] quarry_store::Error),
    /// The receiver of events went away.
    #[error("could not report an event")]
    Sink(#[source] std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
