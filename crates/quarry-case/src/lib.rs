//! The case on disk: its settings, its database and its content store.
//!
//! # Overview
//! - [`Case`]: a case folder. [`Case::init`] creates one, [`Case::open`] opens one and refuses
//!   a folder that is not a case or was written by a newer quarry.
//! - [`Writer`]: the one connection that writes ingest results, a whole input per transaction
//!   and many inputs per commit; it assigns control numbers.
//! - Reports: [`Case::summary`] (the reconciliation), [`Case::exceptions`],
//!   [`Case::duplicates`] (masters with ALL_CUSTODIANS and ALL_PATHS under a dedup scope).
//!
//! Layout of a case folder:
//!
//! ```text
//! case.toml        settings (CaseConfig)
//! quarry.db        SQLite: runs, custodians, inputs, items, exceptions
//! natives/ab/…     content-addressed natives (blake3 hex; `ab` = its first two digits)
//! natives/packs/   small messages, HTML and text files in packs, keyed by their blake3
//! text/packs/      extracted texts in packs, keyed by the native's blake3
//! text/ab/….txt    large plain-text natives' own text (a hard link), by the native's blake3
//! index/           full-text index
//! rules.toml       the classification rules (`quarry classify --rules`)
//! classify/        paragraph counts for boilerplate detection
//! tmp/             staging; everything is written here first, then renamed into place
//! ```
//!
//! # Example
//! ```
//! # let dir = tempfile::tempdir()?;
//! let case = quarry_case::Case::init(&dir.path().join("matter"), "Matter 1")?;
//! let summary = case.summary(None)?;
//! assert_eq!(summary.items, 0);
//! assert!(summary.reconciled);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod audit;
mod classify;
mod config;
mod dat;
mod export;
mod learn;
mod produce;
mod report;
mod review;
mod schema;
mod search;
mod thread;
mod verify;
mod writer;
mod zone;

pub use audit::{AuditEntry, AuditFilter, AuditVerify, GENESIS};
pub use classify::{
    ClassifyOptions, ClassifyReport, DocClassification, HitRow, RULES_FILE, RuleRow, TagCount,
};
pub use config::{
    CONFIG_FORMAT, CaseConfig, CodingLayout, Condition, DedupConfig, ExportConfig, FieldDef,
    FieldKind, HashConfig, IndexConfig,
};
pub use dat::DEFAULT_DAT_FIELDS;
pub use export::{TEXT_INDEX_COLUMNS, TextExport, Unreadable, csv_field};
pub use learn::{
    Collection, LearnSession, LearnStatus, ModelRecord, RunningEstimate, Simulation, SimulationRow,
    Training,
};
pub use produce::{
    CHRONOLOGY_COLUMNS, PRIVLOG_COLUMNS, PrivLog, PrivLogDiff, PrivLogRow, Produced,
    ProductionReport, ProductionSpec, SLIP_SHEET_TEXT, TableCell, XLSX_CELL_LIMIT, dat_bytes,
    diff_privilege_logs, parse_csv, table_csv, table_xlsx, xlsx_cell,
};
pub use report::{DuplicateGroup, ExceptionRow, ItemRow, Summary, Table};
pub use review::{
    Batch, BatchPlan, BatchSpec, Change, CodeReport, CodeRequest, Coding, DocView, FamilyMember,
    HistoryEntry, Mark, Op, Progress, ProgressRow, ReviewerReport, ReviewerRow,
};
pub use schema::SCHEMA_VERSION;
pub use search::{
    Entry, Search, SearchHit, SearchOptions, SortOrder, TEXT_UNREADABLE, TermRow, TermsReport,
};
pub use thread::{Segment, embedded_messages};
pub use verify::{StoreCheck, StoreProblem};
pub use writer::{Committed, InputLookup, InputRecords, Writer};
pub use zone::ExportZone;

use fs_err as fs;
use quarry_store::ContentStore;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors of the case store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The folder has no case in it.
    #[error("{} is not a quarry case (no case.toml); create one with `quarry init {}`", dir.display(), dir.display())]
    NotACase {
        /// The folder.
        dir: PathBuf,
    },
    /// `init` on a folder that already holds a case or other files.
    #[error("{} already exists and is not empty; choose a new folder for the case", dir.display())]
    Exists {
        /// The folder.
        dir: PathBuf,
    },
    /// The case was written by a newer quarry.
    #[error(
        "this case was written by a newer quarry (schema {found}; this build supports up to {supported}); upgrade quarry to open it"
    )]
    NewerSchema {
        /// Version found in the case.
        found: u32,
        /// Highest version this build knows.
        supported: u32,
    },
    /// `case.toml` could not be read or written.
    #[error("case.toml is invalid: {0}")]
    Config(String),
    /// The database failed.
    #[error("case database error")]
    Sqlite(#[from] rusqlite::Error),
    /// File I/O on the case failed.
    #[error("case I/O error")]
    Io(#[from] std::io::Error),
    /// The content store failed.
    #[error("content store error")]
    Store(#[from] quarry_store::Error),
    /// An export's target folder already holds files.
    #[error("{} is not empty; export into a new folder", dir.display())]
    ExportTarget {
        /// The folder.
        dir: PathBuf,
    },
    /// The full-text index failed, or a query did not parse (the message points at it).
    #[error(transparent)]
    Index(#[from] quarry_index::Error),
    /// The rules file is not valid (the message names the entry).
    #[error(transparent)]
    Rules(#[from] quarry_tag::Error),
    /// `classify` without rules given or kept in the case.
    #[error(
        "the case has no rules yet; give a rules file with --rules FILE (fixtures/enron-rules.toml is an example)"
    )]
    NoRules,
    /// No item has this control number.
    #[error("no item {0} in the case")]
    NoItem(String),
    /// A coding change was refused (the message lists the allowed values or the documents
    /// that lack a required field).
    #[error("{0}")]
    Coding(String),
    /// A production's quality control failed (the message lists every problem).
    #[error("{0}")]
    Qc(String),
    /// A batch operation was refused (the message says why).
    #[error("{0}")]
    Batch(String),
    /// A reviewer identity is required and was not given.
    #[error("who is reviewing? give --reviewer NAME or set QUARRY_REVIEWER")]
    NoReviewer,
    /// A broken invariant.
    #[error("internal error: {0}; this is a bug")]
    Internal(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

const CONFIG_FILE: &str = "case.toml";
const DB_FILE: &str = "quarry.db";

/// An open case folder.
#[derive(Debug)]
pub struct Case {
    dir: PathBuf,
    config: CaseConfig,
    store: ContentStore,
}

impl Case {
    /// Creates a case in `dir` (which must not exist or be empty).
    pub fn init(dir: &Path, name: &str) -> Result<Case> {
        if dir.exists() && fs::read_dir(dir)?.next().is_some() {
            return Err(Error::Exists { dir: dir.to_path_buf() });
        }
        fs::create_dir_all(dir.join("index"))?;
        let store = ContentStore::create(dir)?;
        let config = CaseConfig::new(name, now_utc());
        fs::write(dir.join(CONFIG_FILE), config.to_toml()?)?;
        let mut conn = connect(&dir.join(DB_FILE), false)?;
        schema::migrate(&mut conn)?;
        Ok(Case { dir: dir.to_path_buf(), config, store })
    }

    /// Opens the case in `dir`, bringing an older schema forward.
    pub fn open(dir: &Path) -> Result<Case> {
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() || !dir.join(DB_FILE).is_file() {
            return Err(Error::NotACase { dir: dir.to_path_buf() });
        }
        let text = fs::read_to_string(&config_path)?;
        let probe: toml::Table = toml::from_str(&text).map_err(|e| Error::Config(e.to_string()))?;
        if let Some(found) = probe.get("format").and_then(toml::Value::as_integer)
            && found > i64::from(CONFIG_FORMAT)
        {
            let found = u32::try_from(found).unwrap_or(u32::MAX);
            return Err(Error::NewerSchema { found, supported: CONFIG_FORMAT });
        }
        let config: CaseConfig = toml::from_str(&text).map_err(|e| Error::Config(e.to_string()))?;
        config.coding.check().map_err(Error::Config)?;
        config.exports.check().map_err(Error::Config)?;
        let mut conn = connect(&dir.join(DB_FILE), false)?;
        schema::migrate(&mut conn)?;
        let store = ContentStore::create(dir)?;
        Ok(Case { dir: dir.to_path_buf(), config, store })
    }

    /// The case folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The case settings.
    #[must_use]
    pub fn config(&self) -> &CaseConfig {
        &self.config
    }

    /// The time zone exports give dates in (`exports.time_zone`, checked when the case was
    /// opened).
    pub fn export_zone(&self) -> Result<ExportZone> {
        ExportZone::named(&self.config.exports.time_zone).map_err(Error::Config)
    }

    /// The content store of natives and text.
    #[must_use]
    pub fn store(&self) -> &ContentStore {
        &self.store
    }

    /// Replaces the settings and writes `case.toml`.
    pub fn save_config(&mut self, config: CaseConfig) -> Result<()> {
        config.coding.check().map_err(Error::Config)?;
        config.exports.check().map_err(Error::Config)?;
        let path = self.dir.join(CONFIG_FILE);
        let tmp = self.store.tmp_dir().join(CONFIG_FILE);
        fs::write(&tmp, config.to_toml()?)?;
        fs::rename(&tmp, &path)?;
        self.config = config;
        Ok(())
    }

    /// A read-only connection to the case database.
    pub fn reader(&self) -> Result<Connection> {
        connect(&self.dir.join(DB_FILE), true)
    }

    /// Computes MD5 and SHA-1 for every item and exception that lacks them, from the stored
    /// natives, or for archives read in place, from their source file (checked against its
    /// blake3 first). Returns how many natives were hashed and how many could not be read.
    pub fn fill_legacy_hashes(&self) -> Result<(u64, u64)> {
        let mut conn = connect(&self.dir.join(DB_FILE), false)?;
        let missing: Vec<(String, Option<String>)> = {
            let mut stmt = conn.prepare(
                "SELECT m.blake3, (SELECT inputs.source_path FROM items i JOIN inputs ON inputs.id = i.input_id
                                   WHERE i.blake3 = m.blake3 AND i.inner = '' LIMIT 1)
                 FROM (SELECT blake3 FROM items WHERE md5 IS NULL
                       UNION SELECT blake3 FROM exceptions WHERE blake3 IS NOT NULL AND md5 IS NULL) m",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
        };
        let tx = conn.transaction()?;
        let (mut filled, mut unavailable) = (0, 0);
        for (blake3, source) in &missing {
            let legacy = if self.store.has_native(blake3)? {
                Some(self.store.legacy_hashes(blake3)?)
            } else {
                source
                    .as_deref()
                    .and_then(|key| hash_source(&quarry_types::paths::source_path(key), blake3))
            };
            let Some(legacy) = legacy else {
                unavailable += 1;
                continue;
            };
            for table in ["items", "exceptions"] {
                tx.execute(
                    &format!("UPDATE {table} SET md5 = ?1, sha1 = ?2 WHERE blake3 = ?3"),
                    rusqlite::params![legacy.md5, legacy.sha1, blake3],
                )?;
            }
            filled += 1;
        }
        tx.commit()?;
        Ok((filled, unavailable))
    }

    /// A lookup of inputs already in the case.
    pub fn input_lookup(&self) -> Result<InputLookup> {
        Ok(InputLookup::new(self.reader()?))
    }

    /// The writing connection.
    pub fn writer(&self) -> Result<Writer> {
        Writer::new(connect(&self.dir.join(DB_FILE), false)?, self.config.clone())
    }
}

/// MD5 and SHA-1 of a source file, if it still has the given blake3.
fn hash_source(path: &Path, blake3: &str) -> Option<quarry_store::LegacyHashes> {
    let hashes = quarry_store::hash_file(path).ok()?;
    (hashes.blake3 == blake3).then(|| quarry_store::LegacyHashes {
        md5: hashes.md5.unwrap_or_default(),
        sha1: hashes.sha1.unwrap_or_default(),
    })
}

fn connect(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    if !read_only {
        // WAL lets readers (reports, the walker's skip check) run while ingest writes;
        // synchronous=NORMAL in WAL mode loses no committed transaction on a process kill.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Reports scan the items table several times over; with SQLite's default 2 MB cache each
    // scan of a case past that size read every page from the file again (29,000 reads for the
    // Enron summary). Pages are allocated as they are used, so a small case takes less.
    conn.pragma_update(None, "cache_size", -READ_CACHE_KIB)?;
    Ok(conn)
}

/// SQLite's page cache per connection, in KiB (a negative `cache_size`); the ingest writer
/// sets its own.
const READ_CACHE_KIB: i64 = 32 * 1024;

/// The current time as ISO 8601 UTC.
#[must_use]
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    quarry_types::iso_utc_from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quarry_types::{
        DedupScope, ExceptionKind, ExceptionRecord, FileType, Hashes, ItemRecord, Position, Record,
    };

    fn item(
        inner: &str,
        parent: Option<&str>,
        content: &str,
        file_type: FileType,
        entries: Option<u64>,
    ) -> Record {
        Record::Item(ItemRecord {
            position: Position {
                inner: inner.into(),
                parent: parent.map(Into::into),
                index: 0,
                depth: u32::from(parent.is_some()),
            },
            name: inner.rsplit('/').next().unwrap_or(inner).into(),
            size: content.len() as u64,
            hashes: Hashes { blake3: blake3_hex(content), md5: None, sha1: None },
            file_type,
            dates: quarry_types::Dates::default(),
            text_chars: None,
            flags: vec![],
            entries_declared: entries,
            dedup_key: None,
            metadata: None,
        })
    }

    fn blake3_hex(content: &str) -> String {
        format!("{:0>64}", content.len().to_string() + content)
    }

    fn input(custodian: &str, path: &str, records: Vec<Record>) -> InputRecords {
        InputRecords {
            custodian: custodian.into(),
            source_path: path.into(),
            locator: path.rsplit('/').next().unwrap().into(),
            records,
            retry: false,
        }
    }

    #[test]
    fn dedup_views_switch_without_reprocessing() {
        let dir = tempfile::tempdir().unwrap();
        let case = Case::init(&dir.path().join("c"), "t").unwrap();
        let mut writer = case.writer().unwrap();
        let run = writer.begin_run("test").unwrap();
        let inputs = vec![
            input("alice", "/a/memo.txt", vec![item("", None, "memo", FileType::Text, None)]),
            input("alice", "/a/copy.txt", vec![item("", None, "memo", FileType::Text, None)]),
            input("bob", "/b/memo.txt", vec![item("", None, "memo", FileType::Text, None)]),
            input(
                "bob",
                "/b/batch.zip",
                vec![
                    item("", None, "zip", FileType::Zip, Some(2)),
                    item("x.txt", Some(""), "memo", FileType::Text, None),
                    Record::Exception(ExceptionRecord {
                        position: Position {
                            inner: "y.bin".into(),
                            parent: Some(String::new()),
                            index: 1,
                            depth: 1,
                        },
                        name: "y.bin".into(),
                        kind: ExceptionKind::Encrypted,
                        message: "locked".into(),
                        size: Some(9),
                        hashes: None,
                    }),
                ],
            ),
        ];
        let outcomes = writer.commit(run, &inputs).unwrap();
        assert_eq!(outcomes.iter().map(|o| o.items).sum::<u64>(), 5);
        // Idempotent: committing the same inputs again adds nothing.
        let again = writer.commit(run, &inputs).unwrap();
        assert!(again.iter().all(|o| o.already_ingested && o.items == 0));

        let global = case.summary(Some(DedupScope::Global)).unwrap();
        assert_eq!((global.items, global.unique_items, global.duplicate_items), (5, 2, 3));
        assert_eq!((global.input_files, global.container_entries, global.exceptions), (4, 2, 1));
        assert!(global.reconciled, "{global:?}");
        let custodial = case.summary(Some(DedupScope::Custodial)).unwrap();
        assert_eq!(custodial.unique_items, 3);
        let none = case.summary(Some(DedupScope::None)).unwrap();
        assert_eq!(none.unique_items, 5);

        let groups = case.duplicates(Some(DedupScope::Global), true).unwrap();
        assert_eq!(groups.len(), 1);
        let memo = &groups[0];
        assert_eq!(memo.master, "DOC-00000001");
        assert_eq!(memo.instances, 4);
        assert_eq!(memo.all_custodians, ["alice", "bob"]);
        assert_eq!(memo.all_paths, ["memo.txt", "copy.txt", "memo.txt", "batch.zip//x.txt"]);
        let custodial_groups = case.duplicates(Some(DedupScope::Custodial), true).unwrap();
        assert_eq!(custodial_groups.iter().map(|g| g.instances).collect::<Vec<_>>(), [2, 2]);

        let items = case.items(Some(DedupScope::Custodial)).unwrap();
        let masters: Vec<&str> = items.iter().map(|i| i.master.as_str()).collect();
        assert_eq!(
            masters,
            ["DOC-00000001", "DOC-00000001", "DOC-00000003", "DOC-00000004", "DOC-00000003"]
        );
        assert_eq!(items[4].family, "DOC-00000004");
        assert_eq!(items[4].parent.as_deref(), Some("DOC-00000004"));

        let exceptions = case.exceptions().unwrap();
        assert_eq!(exceptions.len(), 1);
        assert_eq!(exceptions[0].locator, "batch.zip//y.bin");
        assert_eq!(exceptions[0].parent.as_deref(), Some("DOC-00000004"));
    }

    #[test]
    fn refuses_what_is_not_a_case_and_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Case::open(dir.path()), Err(Error::NotACase { .. })));
        let path = dir.path().join("c");
        Case::init(&path, "t").unwrap();
        assert!(matches!(Case::init(&path, "t"), Err(Error::Exists { .. })));
        let conn = rusqlite::Connection::open(path.join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(conn);
        let err = Case::open(&path).unwrap_err();
        assert!(matches!(err, Error::NewerSchema { .. }), "{err}");
        assert!(err.to_string().contains("upgrade quarry"));
    }
}
