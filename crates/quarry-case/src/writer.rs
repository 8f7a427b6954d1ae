//! The writing side of the case database.
//!
//! One [`Writer`] per ingest run, owned by the engine's writer thread: SQLite allows one writer
//! at a time, and funnelling every insert through one connection lets it batch many inputs into
//! one transaction (the difference between hundreds and tens of thousands of rows a second).

use crate::{CaseConfig, Error, Result, now_utc};
use quarry_types::{FileType, Metadata, Record};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// Everything one top-level input produced: committed together or not at all.
#[derive(Clone, Debug)]
pub struct InputRecords {
    /// Custodian the input belongs to.
    pub custodian: String,
    /// Absolute path of the input on the collection media (the idempotence key, with the
    /// custodian).
    pub source_path: String,
    /// How the input is shown: its path relative to the folder named on the command line.
    pub locator: String,
    /// Records in pre-order: the input first, every container before its entries.
    pub records: Vec<Record>,
    /// The input is already in the case and this is a retry of its exceptions: they move to
    /// the history and `records` (what the retry found, items already in the case left out)
    /// are added.
    pub retry: bool,
}

/// What committing one input did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// The input was already in the case (same custodian and path): nothing was added.
    pub already_ingested: bool,
    /// Items added.
    pub items: u64,
    /// Exceptions added.
    pub exceptions: u64,
    /// Earlier exceptions of the input that this retry moved to the history.
    pub retried: u64,
}

/// SQLite's page cache of the ingest writer, in KiB (a negative `cache_size`). With SQLite's
/// default 2 MB, the items table and its indexes did not stay in memory through an ingest of
/// the Enron mailboxes: pages were read back from the file and spilled to the WAL before each
/// commit (4 % and 3 % of the run's samples in a profile; 2 % and none with this cache, the
/// wall clock within the noise). Pages are allocated as they are used, so a small case does
/// not take this much.
const WRITE_CACHE_KIB: i64 = 64 * 1024;

/// The writing connection; assigns control numbers in commit order.
pub struct Writer {
    conn: Connection,
    config: CaseConfig,
    custodians: HashMap<String, i64>,
}

struct Placed {
    id: i64,
    family_id: i64,
    doc_root_id: i64,
    is_container: bool,
}

impl Writer {
    pub(crate) fn new(conn: Connection, config: CaseConfig) -> Result<Writer> {
        conn.pragma_update(None, "cache_size", -WRITE_CACHE_KIB)?;
        Ok(Writer { conn, config, custodians: HashMap::new() })
    }

    /// Records the start of a run.
    pub fn begin_run(&mut self, command: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO runs (command, quarry_version, started_at) VALUES (?1, ?2, ?3)",
            params![command, env!("CARGO_PKG_VERSION"), now_utc()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the end of a run.
    pub fn finish_run(&mut self, run: i64, status: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?1, status = ?2 WHERE id = ?3",
            params![now_utc(), status, run],
        )?;
        Ok(())
    }

    /// Commits many inputs in one transaction, each whole. Inputs already in the case are left
    /// as they are (idempotent re-runs).
    pub fn commit(&mut self, run: i64, inputs: &[InputRecords]) -> Result<Vec<Committed>> {
        let tx = self.conn.transaction()?;
        let mut next_id: i64 =
            tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM items", [], |r| r.get(0))?;
        let mut outcomes = Vec::with_capacity(inputs.len());
        let mut new_custodians = Vec::new();
        for input in inputs {
            let custodian_id = match self.custodians.get(&input.custodian) {
                Some(&id) => id,
                None => {
                    tx.execute(
                        "INSERT OR IGNORE INTO custodians (name) VALUES (?1)",
                        [&input.custodian],
                    )?;
                    let id: i64 = tx.query_row(
                        "SELECT id FROM custodians WHERE name = ?1",
                        [&input.custodian],
                        |r| r.get(0),
                    )?;
                    new_custodians.push((input.custodian.clone(), id));
                    id
                }
            };
            let mut placed: HashMap<String, Placed> = HashMap::new();
            let mut outcome = Committed::default();
            let input_id = if input.retry {
                let input_id: i64 = tx.query_row(
                    "SELECT id FROM inputs WHERE custodian_id = ?1 AND source_path = ?2",
                    params![custodian_id, input.source_path],
                    |r| r.get(0),
                )?;
                outcome.retried = tx.execute(
                    "INSERT INTO exception_history (input_id, custodian_id, parent_id, position, depth,
                        inner, locator, name, kind, message, size, blake3, md5, sha1, retried_run)
                     SELECT input_id, custodian_id, parent_id, position, depth, inner, locator, name,
                        kind, message, size, blake3, md5, sha1, ?2
                     FROM exceptions WHERE input_id = ?1 ORDER BY id",
                    params![input_id, run],
                )? as u64;
                tx.execute("DELETE FROM exceptions WHERE input_id = ?1", [input_id])?;
                // The retry's records hang under items already in the case.
                let mut stmt = tx.prepare_cached(
                    "SELECT inner, id, family_id, doc_root_id, file_type FROM items WHERE input_id = ?1",
                )?;
                let rows = stmt.query_map([input_id], |r| {
                    let file_type: String = r.get(4)?;
                    Ok((
                        r.get::<_, String>(0)?,
                        Placed {
                            id: r.get(1)?,
                            family_id: r.get(2)?,
                            doc_root_id: r.get(3)?,
                            is_container: file_type
                                .parse::<FileType>()
                                .is_ok_and(FileType::is_container),
                        },
                    ))
                })?;
                for row in rows {
                    let (inner, place) = row?;
                    placed.insert(inner, place);
                }
                input_id
            } else {
                let added = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO inputs (custodian_id, source_path, locator, run_id)
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![custodian_id, input.source_path, input.locator, run])?;
                if added == 0 {
                    outcomes.push(Committed { already_ingested: true, ..Committed::default() });
                    continue;
                }
                tx.last_insert_rowid()
            };
            let mut insert_item = tx.prepare_cached(
                "INSERT INTO items (id, control_number, input_id, custodian_id, parent_id, family_id, doc_root_id,
                    position, depth, inner, locator, name, file_type, size, blake3, md5, sha1, dedup_key,
                    created, modified, accessed, text_chars, flags, entries_declared)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
            )?;
            let mut insert_email = tx.prepare_cached(
                "INSERT INTO emails (item_id, email_from, email_to, email_cc, email_bcc, subject, sent,
                    sent_offset, date_raw, message_id, mih, in_reply_to, refs, thread_index, x_folder,
                    x_origin, x_filename, attachments, received)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            )?;
            let mut insert_document = tx.prepare_cached(
                "INSERT INTO documents (item_id, title, author, subject, creator, producer, created,
                    modified, pages)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut insert_exception = tx.prepare_cached(
                "INSERT INTO exceptions (input_id, custodian_id, parent_id, position, depth, inner, locator, name,
                    kind, message, size, blake3, md5, sha1)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            for record in &input.records {
                let position = record.position();
                let parent = match &position.parent {
                    None => None,
                    Some(inner) => Some(placed.get(inner).ok_or_else(|| {
                        Error::Internal(format!(
                            "record {:?} of {} arrived before its parent",
                            position.inner, input.locator
                        ))
                    })?),
                };
                let locator = if position.inner.is_empty() {
                    input.locator.clone()
                } else {
                    format!(
                        "{}{}{}",
                        input.locator,
                        quarry_types::LOCATOR_SEPARATOR,
                        position.inner
                    )
                };
                match record {
                    Record::Item(item) => {
                        let id = next_id;
                        next_id += 1;
                        let family_id = parent.map_or(id, |p| p.family_id);
                        // Entries of an archive are documents of their own; members of a
                        // document (attachments) dedupe with the document that holds them.
                        let doc_root_id = match parent {
                            Some(p) if !p.is_container => p.doc_root_id,
                            _ => id,
                        };
                        insert_item.execute(params![
                            id,
                            self.config.control_number(id),
                            input_id,
                            custodian_id,
                            parent.map(|p| p.id),
                            family_id,
                            doc_root_id,
                            position.index.cast_signed(),
                            position.depth,
                            position.inner,
                            locator,
                            item.name,
                            item.file_type.as_str(),
                            item.size.cast_signed(),
                            item.hashes.blake3,
                            item.hashes.md5,
                            item.hashes.sha1,
                            item.dedup_key.as_deref().unwrap_or(&item.hashes.blake3),
                            item.dates.created,
                            item.dates.modified,
                            item.dates.accessed,
                            item.text_chars.map(u64::cast_signed),
                            item.flags.join(" "),
                            item.entries_declared.map(u64::cast_signed),
                        ])?;
                        match item.metadata.as_deref() {
                            Some(Metadata::Email(email)) => {
                                let list = |addrs: &[quarry_types::Address]| {
                                    addrs
                                        .iter()
                                        .map(ToString::to_string)
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                };
                                insert_email.execute(params![
                                    id,
                                    list(&email.from),
                                    list(&email.to),
                                    list(&email.cc),
                                    list(&email.bcc),
                                    email.subject,
                                    email.sent,
                                    email.sent_offset,
                                    email.date_raw,
                                    email.message_id,
                                    email.mih,
                                    email.in_reply_to,
                                    email.references,
                                    email.thread_index,
                                    email.x_folder,
                                    email.x_origin,
                                    email.x_filename,
                                    email.attachments.cast_signed(),
                                    email.received,
                                ])?;
                            }
                            Some(Metadata::Document(doc)) => {
                                insert_document.execute(params![
                                    id,
                                    doc.title,
                                    doc.author,
                                    doc.subject,
                                    doc.creator,
                                    doc.producer,
                                    doc.created,
                                    doc.modified,
                                    doc.pages.map(u64::cast_signed),
                                ])?;
                            }
                            None => {}
                        }
                        let is_container = item.file_type.is_container();
                        placed.insert(
                            position.inner.clone(),
                            Placed { id, family_id, doc_root_id, is_container },
                        );
                        outcome.items += 1;
                    }
                    Record::Exception(exception) => {
                        let hashes = exception.hashes.as_ref();
                        insert_exception.execute(params![
                            input_id,
                            custodian_id,
                            parent.map(|p| p.id),
                            position.index.cast_signed(),
                            position.depth,
                            position.inner,
                            locator,
                            exception.name,
                            exception.kind.as_str(),
                            exception.message,
                            exception.size.map(u64::cast_signed),
                            hashes.map(|h| h.blake3.as_str()),
                            hashes.and_then(|h| h.md5.as_deref()),
                            hashes.and_then(|h| h.sha1.as_deref()),
                        ])?;
                        outcome.exceptions += 1;
                    }
                }
            }
            outcomes.push(outcome);
        }
        tx.commit()?;
        self.custodians.extend(new_custodians);
        Ok(outcomes)
    }

    /// Whether an input is already in the case.
    pub fn is_ingested(&self, custodian: &str, source_path: &str) -> Result<bool> {
        is_ingested(&self.conn, custodian, source_path)
    }
}

/// Answers "is this input already in the case?" on its own read connection, so the walker
/// can skip done inputs while the writer commits.
pub struct InputLookup {
    conn: Connection,
}

impl InputLookup {
    pub(crate) fn new(conn: Connection) -> Self {
        InputLookup { conn }
    }

    /// Whether the input (custodian and absolute path) is already in the case.
    pub fn contains(&self, custodian: &str, source_path: &str) -> Result<bool> {
        is_ingested(&self.conn, custodian, source_path)
    }

    /// For an input already in the case that has exceptions: the `inner` paths of its items
    /// (what a retry must not report again). `None` when the input is not in the case or has no
    /// exception to retry.
    pub fn retry_plan(&self, custodian: &str, source_path: &str) -> Result<Option<Vec<String>>> {
        let input: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT inputs.id FROM inputs JOIN custodians c ON c.id = inputs.custodian_id
                 WHERE c.name = ?1 AND inputs.source_path = ?2
                   AND EXISTS (SELECT 1 FROM exceptions e WHERE e.input_id = inputs.id)",
            )?
            .query_row(params![custodian, source_path], |r| r.get(0))
            .optional()?;
        let Some(input) = input else { return Ok(None) };
        let mut stmt = self.conn.prepare_cached("SELECT inner FROM items WHERE input_id = ?1")?;
        let inners = stmt.query_map([input], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(Some(inners))
    }

    /// Whether the custodian has any input in the case.
    pub fn has_custodian(&self, custodian: &str) -> Result<bool> {
        let found = self
            .conn
            .query_row(
                "SELECT 1 FROM inputs JOIN custodians c ON c.id = inputs.custodian_id WHERE c.name = ?1 LIMIT 1",
                [custodian],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }
}

/// Whether an input (custodian and absolute path) is already in the case.
fn is_ingested(conn: &Connection, custodian: &str, source_path: &str) -> Result<bool> {
    let found = conn
        .prepare_cached(
            "SELECT 1 FROM inputs JOIN custodians c ON c.id = inputs.custodian_id
             WHERE c.name = ?1 AND inputs.source_path = ?2",
        )?
        .query_row(params![custodian, source_path], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}
