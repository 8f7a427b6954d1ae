//! `quarry verify`: reads back everything the case holds for its items and checks it, so a
//! case can be shown intact before a production and after it is copied or restored.
//!
//! Natives are checked against the blake3 they are stored under (those read in place, against
//! the file at their source), texts against the CRC-32 written with them, and the text packs'
//! indexes for texts written over each other: texts are only appended, so two entries sharing
//! bytes mean writers raced (fixed 2026-11-28), and the texts of such entries without a
//! checksum cannot be trusted. The audit log's hash chain is checked too, so one command says
//! whether the case is whole. Nothing is changed; the outcome goes to the audit log.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::{Case, Result};

/// Items named per problem, at most (the count is given in full).
const NAMED: usize = 5;

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreProblem {
    /// What: `native_missing`, `native_damaged`, `source_missing`, `source_changed`,
    /// `text_missing`, `text_damaged`, `text_unreadable`, `text_overlapping`, and
    /// `audit_log_broken` (with no native).
    pub kind: &'static str,
    /// The native concerned (empty for the audit log).
    pub blake3: String,
    /// How many items and exceptions have it.
    pub items: u64,
    /// The first of them (control numbers, or an exception's locator).
    pub named: Vec<String>,
    /// What was found.
    pub detail: String,
}

/// What [`Case::verify`] found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreCheck {
    /// Distinct natives read from the store and found sound.
    pub natives: u64,
    /// Distinct natives read in place, found sound at their source.
    pub natives_at_source: u64,
    /// Distinct natives read in place, not checked because sources were left out.
    pub natives_at_source_skipped: u64,
    /// Bytes of natives read.
    pub native_bytes: u64,
    /// Distinct texts read and found sound (or, packed before texts had checksums, present).
    pub texts: u64,
    /// Packed texts without a checksum (written before 2026-11-29): read, not checked.
    pub texts_unchecked: u64,
    /// Audit log entries whose hash chain was checked.
    pub audit_entries: u64,
    /// The audit log's last entry before this check, `SEQ:HASH`: `quarry audit verify
    /// --expect` checks later that the log was not rewritten up to it.
    pub audit_head: String,
    /// Everything found wrong, by native (items first seen first).
    pub problems: Vec<StoreProblem>,
}

impl StoreCheck {
    /// Whether nothing was found wrong.
    #[must_use]
    pub fn sound(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A native of the case and what is expected of it.
struct Native {
    blake3: String,
    /// Whether any item with it has text.
    has_text: bool,
    /// Where it was read in place, when no item stored it.
    source: Option<String>,
    items: u64,
    named: Vec<String>,
}

impl Case {
    /// Reads back every native and text the case's items and exceptions refer to and checks
    /// them; `progress` is called with the number of natives done. Work runs on rayon's pool.
    /// Without `sources`, natives read in place are not looked for at their source (a case
    /// copied to another machine, without the collection).
    pub fn verify(&self, sources: bool, progress: &(dyn Fn(u64) + Sync)) -> Result<StoreCheck> {
        let natives = self.natives_to_verify()?;
        let survey = self.store.survey_texts()?;
        let overlapping: HashSet<&str> = survey.overlapping.iter().map(String::as_str).collect();
        let unreadable_entries: HashSet<&str> =
            survey.unreadable.iter().map(String::as_str).collect();
        let outcomes: Vec<(Outcome, Vec<(&'static str, String)>)> = natives
            .par_iter()
            .map_init(Vec::new, |buf, native| {
                let outcome =
                    self.check_native(native, sources, buf, &overlapping, &unreadable_entries);
                progress(1);
                outcome
            })
            .collect();
        let mut check = StoreCheck { texts_unchecked: survey.unchecked, ..StoreCheck::default() };
        for (native, (outcome, problems)) in natives.iter().zip(outcomes) {
            match outcome {
                Outcome::Stored(bytes) => {
                    check.natives += 1;
                    check.native_bytes += bytes;
                }
                Outcome::AtSource(bytes) => {
                    check.natives_at_source += 1;
                    check.native_bytes += bytes;
                }
                Outcome::Skipped => check.natives_at_source_skipped += 1,
                Outcome::Bad => {}
            }
            let text_bad = problems.iter().any(|(kind, _)| kind.starts_with("text"));
            if native.has_text && !text_bad {
                check.texts += 1;
            }
            for (kind, detail) in problems {
                check.problems.push(StoreProblem {
                    kind,
                    blake3: native.blake3.clone(),
                    items: native.items,
                    named: native.named.clone(),
                    detail,
                });
            }
        }
        let audit = self.audit_verify(None)?;
        check.audit_entries = audit.entries;
        check.audit_head = format!("{}:{}", audit.head_seq, audit.head_hash);
        if !audit.ok {
            let entry = audit.first_bad.map_or_else(String::new, |seq| format!("entry {seq}: "));
            check.problems.push(StoreProblem {
                kind: "audit_log_broken",
                blake3: String::new(),
                items: 0,
                named: Vec::new(),
                detail: format!("{entry}{}", audit.problem.unwrap_or_default()),
            });
        }
        Ok(check)
    }

    /// Every distinct native of the items and kept exceptions, in the order they entered the
    /// case.
    fn natives_to_verify(&self) -> Result<Vec<Native>> {
        let conn = self.reader()?;
        let mut order: Vec<Native> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut stmt = conn.prepare(
            "SELECT i.blake3, i.control_number, i.text_chars IS NOT NULL,
                    (' ' || i.flags || ' ') LIKE '% native-at-source %',
                    CASE WHEN i.inner = '' THEN inputs.source_path END
             FROM items i JOIN inputs ON inputs.id = i.input_id
             ORDER BY i.id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let blake3: String = row.get(0)?;
            let name: String = row.get(1)?;
            let has_text: bool = row.get(2)?;
            let at_source: bool = row.get(3)?;
            let source: Option<String> = row.get(4)?;
            let native = note(&mut order, &mut at, blake3, name);
            native.has_text |= has_text;
            if at_source && native.source.is_none() {
                native.source = source;
            }
        }
        let mut stmt = conn.prepare(
            "SELECT blake3, locator FROM exceptions
             WHERE blake3 IS NOT NULL AND blake3 != '' ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            note(&mut order, &mut at, row.get(0)?, row.get(1)?);
        }
        Ok(order)
    }

    /// Checks one native and its text; the problems found, by kind.
    fn check_native(
        &self,
        native: &Native,
        sources: bool,
        buf: &mut Vec<u8>,
        overlapping: &HashSet<&str>,
        unreadable_entries: &HashSet<&str>,
    ) -> (Outcome, Vec<(&'static str, String)>) {
        let mut problems = Vec::new();
        let outcome = match self.store.verify_native(&native.blake3) {
            Ok(Some(bytes)) => Outcome::Stored(bytes),
            Ok(None) => match &native.source {
                Some(_) if !sources => Outcome::Skipped,
                Some(source) => {
                    match at_source(&quarry_types::paths::source_path(source), &native.blake3) {
                        Ok(bytes) => Outcome::AtSource(bytes),
                        Err((kind, detail)) => {
                            problems.push((kind, detail));
                            Outcome::Bad
                        }
                    }
                }
                None => {
                    problems.push(("native_missing", "the store does not hold it".to_owned()));
                    Outcome::Bad
                }
            },
            Err(quarry_store::Error::Damaged(_)) => {
                let detail = "its bytes no longer have the blake3 they are stored under";
                problems.push(("native_damaged", detail.to_owned()));
                Outcome::Bad
            }
            Err(e) => {
                problems.push(("native_damaged", format!("cannot be read: {}", chain(&e))));
                Outcome::Bad
            }
        };
        if native.has_text {
            match self.store.read_text(&native.blake3, buf) {
                Ok(true) => {
                    if overlapping.contains(native.blake3.as_str()) {
                        let detail = "its packed text shares bytes with another text's and has \
                                      no checksum: one of them was written over the other";
                        problems.push(("text_overlapping", detail.to_owned()));
                    }
                }
                Ok(false) if unreadable_entries.contains(native.blake3.as_str()) => {
                    let detail = "its text's index entry points outside its pack";
                    problems.push(("text_unreadable", detail.to_owned()));
                }
                Ok(false) => {
                    problems.push(("text_missing", "the store holds no text for it".to_owned()));
                }
                Err(e @ quarry_store::Error::DamagedText { .. }) => {
                    problems.push(("text_damaged", e.to_string()));
                }
                Err(e) => problems.push(("text_unreadable", chain(&e))),
            }
        }
        (outcome, problems)
    }
}

enum Outcome {
    Stored(u64),
    AtSource(u64),
    Skipped,
    Bad,
}

/// The entry of `blake3` in `order`, added with `name` if new; `name` is counted either way.
fn note<'a>(
    order: &'a mut Vec<Native>,
    at: &mut HashMap<String, usize>,
    blake3: String,
    name: String,
) -> &'a mut Native {
    let index = *at.entry(blake3.clone()).or_insert_with(|| {
        order.push(Native { blake3, has_text: false, source: None, items: 0, named: Vec::new() });
        order.len() - 1
    });
    let native = &mut order[index];
    native.items += 1;
    if native.named.len() < NAMED {
        native.named.push(name);
    }
    native
}

/// Hashes a native read in place at its source: its size when it still has its blake3.
fn at_source(path: &Path, blake3: &str) -> std::result::Result<u64, (&'static str, String)> {
    let shown = quarry_types::paths::name_text(path.as_os_str());
    let mut file = std::fs::File::open(path).map_err(|e| {
        ("source_missing", format!("read in place from {shown}, which cannot be opened: {e}"))
    })?;
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(&mut file, &mut hasher)
        .map_err(|e| ("source_missing", format!("cannot read {shown}: {e}")))?;
    if hasher.finalize().to_hex().as_str() != blake3 {
        let detail = format!("read in place from {shown}, which has changed since");
        return Err(("source_changed", detail));
    }
    Ok(size)
}

/// An error and its causes, on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out = format!("{out}: {cause}");
        source = cause.source();
    }
    out
}
