//! The audit log: who did what to the case, and when, in a form that shows tampering.
//!
//! Every coding change, batch action, search, classification and export appends one entry.
//! Each entry holds the blake3 hash of the one before it, and its own hash covers its
//! sequence number, its contents and that previous hash, so editing, deleting or reordering any
//! entry breaks the chain at that entry. `audit_head` records the last entry, which catches a
//! deleted tail; a head hash written down elsewhere (`audit verify` prints it) catches a log
//! rewritten from some point on, since no one can make a rewritten chain end in the same hash.
//!
//! The hash of entry `n` is blake3 over the UTF-8 JSON array
//! `[seq, at, actor, action, item_id, control_number, field, old_value, new_value, detail,
//! prev_hash]` as serde_json writes it (no spaces; absent values are `null`; `detail` is the
//! JSON text as a string). The first entry's previous hash is [`GENESIS`].
//!
//! Appends run inside the writer's `BEGIN IMMEDIATE` transaction, which holds SQLite's write
//! lock from the read of the head to the commit: processes appending at once are serialized,
//! and no two entries ever claim the same place in the chain.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::{Case, Result, now_utc};

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the audit log.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    /// Place in the log, from 1.
    pub seq: u64,
    /// When (UTC).
    pub at: String,
    /// Who: the reviewer, or the operating-system user for commands without one.
    pub actor: String,
    /// What: `code`, `batch.create`, `batch.checkout`, `batch.release`, `search`, `classify`,
    /// `ingest`, `export.text`, ...
    pub action: String,
    /// The item concerned (coding entries).
    pub item_id: Option<u64>,
    /// Its control number.
    pub control_number: Option<String>,
    /// The coding field changed.
    pub field: Option<String>,
    /// The field's value before (values of a multi-choice field joined by commas).
    pub old_value: Option<String>,
    /// The field's value after.
    pub new_value: Option<String>,
    /// Everything else, as JSON text (the query, the batch, the files written and their hash).
    pub detail: String,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// Hash of this entry.
    pub hash: String,
}

/// An entry to append.
#[derive(Debug, Default)]
pub(crate) struct NewEntry<'a> {
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) item: Option<(u64, &'a str)>,
    pub(crate) field: Option<&'a str>,
    pub(crate) old: Option<&'a str>,
    pub(crate) new: Option<&'a str>,
    pub(crate) detail: Option<serde_json::Value>,
}

/// Appends entries within one transaction; [`Appender::finish`] moves the head.
pub(crate) struct Appender {
    seq: u64,
    hash: String,
    at: String,
    pushed: bool,
}

impl Appender {
    /// Starts after the current head. The transaction must hold the write lock (IMMEDIATE).
    pub(crate) fn new(tx: &Transaction<'_>) -> Result<Appender> {
        // The head, else (its row deleted: `verify` reports that) the last entry, so the log
        // stays appendable.
        let head: Option<(i64, String)> = tx
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let head = match head {
            Some(head) => Some(head),
            None => tx
                .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?,
        };
        let (seq, hash) = head.map_or((0, GENESIS.to_owned()), |(s, h)| (s.cast_unsigned(), h));
        Ok(Appender { seq, hash, at: now_utc(), pushed: false })
    }

    /// Appends one entry; returns its sequence number.
    pub(crate) fn push(&mut self, tx: &Transaction<'_>, entry: &NewEntry<'_>) -> Result<u64> {
        let seq = self.seq + 1;
        let detail = entry.detail.as_ref().map_or_else(|| "{}".to_owned(), ToString::to_string);
        let (item_id, control) = entry.item.map_or((None, None), |(i, c)| (Some(i), Some(c)));
        let hash = entry_hash(&Hashed {
            seq,
            at: &self.at,
            actor: entry.actor,
            action: entry.action,
            item_id,
            control_number: control,
            field: entry.field,
            old_value: entry.old,
            new_value: entry.new,
            detail: &detail,
            prev_hash: &self.hash,
        });
        tx.prepare_cached(
            "INSERT INTO audit (seq, at, actor, action, item_id, control_number, field,
                                old_value, new_value, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            seq.cast_signed(),
            self.at,
            entry.actor,
            entry.action,
            item_id.map(u64::cast_signed),
            control,
            entry.field,
            entry.old,
            entry.new,
            detail,
            self.hash,
            hash
        ])?;
        self.seq = seq;
        self.hash = hash;
        self.pushed = true;
        Ok(seq)
    }

    /// Records the new head (in the same transaction).
    pub(crate) fn finish(self, tx: &Transaction<'_>) -> Result<()> {
        if self.pushed {
            tx.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                params![self.seq.cast_signed(), self.hash],
            )?;
        }
        Ok(())
    }
}

/// The hashed fields of an entry, in their hashed order.
struct Hashed<'a> {
    seq: u64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    item_id: Option<u64>,
    control_number: Option<&'a str>,
    field: Option<&'a str>,
    old_value: Option<&'a str>,
    new_value: Option<&'a str>,
    detail: &'a str,
    prev_hash: &'a str,
}

fn entry_hash(e: &Hashed<'_>) -> String {
    let canonical = serde_json::to_string(&(
        e.seq,
        e.at,
        e.actor,
        e.action,
        e.item_id,
        e.control_number,
        e.field,
        e.old_value,
        e.new_value,
        e.detail,
        e.prev_hash,
    ))
    .unwrap_or_default();
    blake3::hash(canonical.as_bytes()).to_hex().to_string()
}

/// Which entries to list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only entries about this document (control number).
    pub doc: Option<String>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Only this action, or actions under it (`batch` covers `batch.create`, ...).
    pub action: Option<String>,
    /// Only entries at or after this time (ISO 8601 UTC; a date alone means its midnight).
    pub since: Option<String>,
}

/// The outcome of [`Case::audit_verify`].
#[derive(Clone, Debug, Serialize)]
pub struct AuditVerify {
    /// Entries checked.
    pub entries: u64,
    /// The last entry's number and hash: write them down to check later that the log was not
    /// rewritten after this point.
    pub head_seq: u64,
    /// See `head_seq`.
    pub head_hash: String,
    /// Whether the whole chain holds.
    pub ok: bool,
    /// The first entry that fails, if any.
    pub first_bad: Option<u64>,
    /// What is wrong with it.
    pub problem: Option<String>,
}

impl Case {
    /// Appends one entry (a search, an export, a run) in its own transaction.
    pub fn audit(&self, actor: &str, action: &str, detail: serde_json::Value) -> Result<u64> {
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut log = Appender::new(&tx)?;
        let seq = log
            .push(&tx, &NewEntry { actor, action, detail: Some(detail), ..NewEntry::default() })?;
        log.finish(&tx)?;
        tx.commit()?;
        Ok(seq)
    }

    /// Lists the entries that pass `filter`, oldest first, one at a time (no cap).
    pub fn audit_log(
        &self,
        filter: &AuditFilter,
        mut each: impl FnMut(&AuditEntry) -> Result<()>,
    ) -> Result<u64> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT seq, at, actor, action, item_id, control_number, field, old_value, new_value,
                    detail, prev_hash, hash
             FROM audit
             WHERE (?1 IS NULL OR control_number = ?1)
               AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR action = ?3 OR action LIKE ?3 || '.%')
               AND (?4 IS NULL OR at >= ?4)
             ORDER BY seq",
        )?;
        let mut rows =
            stmt.query(params![filter.doc, filter.actor, filter.action, filter.since])?;
        let mut listed = 0;
        while let Some(row) = rows.next()? {
            each(&entry_from_row(row)?)?;
            listed += 1;
        }
        Ok(listed)
    }

    /// Walks the whole chain and names the first entry that does not hold. `expect` is an
    /// anchor written down earlier (entry number and hash) that must still be in the log.
    pub fn audit_verify(&self, expect: Option<(u64, &str)>) -> Result<AuditVerify> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT seq, at, actor, action, item_id, control_number, field, old_value, new_value,
                    detail, prev_hash, hash
             FROM audit ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut verify = AuditVerify {
            entries: 0,
            head_seq: 0,
            head_hash: GENESIS.to_owned(),
            ok: true,
            first_bad: None,
            problem: None,
        };
        let mut anchor_seen = false;
        let fail = |v: &mut AuditVerify, seq: u64, problem: String| {
            v.ok = false;
            v.first_bad = Some(seq);
            v.problem = Some(problem);
        };
        while let Some(row) = rows.next()? {
            let e = entry_from_row(row)?;
            let expected = verify.head_seq + 1;
            verify.entries += 1;
            if e.seq != expected {
                let problem = format!(
                    "entries {expected} to {} are missing: deleted from the log",
                    e.seq.saturating_sub(1)
                );
                fail(&mut verify, e.seq, problem);
                break;
            }
            let recomputed = entry_hash(&Hashed {
                seq: e.seq,
                at: &e.at,
                actor: &e.actor,
                action: &e.action,
                item_id: e.item_id,
                control_number: e.control_number.as_deref(),
                field: e.field.as_deref(),
                old_value: e.old_value.as_deref(),
                new_value: e.new_value.as_deref(),
                detail: &e.detail,
                prev_hash: &e.prev_hash,
            });
            if recomputed != e.hash {
                fail(&mut verify, e.seq, "its contents do not match its hash: edited".into());
                break;
            }
            if e.prev_hash != verify.head_hash {
                let problem = format!(
                    "it does not follow entry {}: the entries before it were edited, replaced or reordered",
                    verify.head_seq
                );
                fail(&mut verify, e.seq, problem);
                break;
            }
            if let Some((seq, hash)) = expect
                && seq == e.seq
            {
                anchor_seen = true;
                if hash != e.hash {
                    let problem =
                        format!("its hash is {}, not the {hash} written down earlier", e.hash);
                    fail(&mut verify, e.seq, problem);
                    break;
                }
            }
            verify.head_seq = e.seq;
            verify.head_hash = e.hash;
        }
        if !verify.ok {
            return Ok(verify);
        }
        let head: Option<(i64, String)> = conn
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (head_seq, head_hash) =
            head.clone().map_or((0, GENESIS.to_owned()), |(s, h)| (s.cast_unsigned(), h));
        if head_seq != verify.head_seq || head_hash != verify.head_hash {
            let problem = if head.is_none() {
                "the log's head record (audit_head) is missing: deleted".to_owned()
            } else if head_seq > verify.head_seq {
                format!(
                    "the log ends at entry {} but its head records entry {head_seq}: entries at the end were deleted",
                    verify.head_seq
                )
            } else {
                format!(
                    "the head records entry {head_seq} with another hash: the log was rewritten"
                )
            };
            let at = verify.head_seq + 1;
            fail(&mut verify, at, problem);
        } else if let Some((seq, _)) = expect
            && !anchor_seen
        {
            let problem = format!("entry {seq}, written down earlier, is not in the log");
            fail(&mut verify, seq, problem);
        }
        Ok(verify)
    }
}

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get::<_, i64>(0)?.cast_unsigned(),
        at: row.get(1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        item_id: row.get::<_, Option<i64>>(4)?.map(i64::cast_unsigned),
        control_number: row.get(5)?,
        field: row.get(6)?,
        old_value: row.get(7)?,
        new_value: row.get(8)?,
        detail: row.get(9)?,
        prev_hash: row.get(10)?,
        hash: row.get(11)?,
    })
}
