//! Review: coding documents, batches of documents for reviewers, and the managers' reports.
//!
//! - Coding follows the case's layout ([`crate::CodingLayout`], in `case.toml`). A change is
//!   checked against it before anything is written: unknown fields and values are refused with
//!   the allowed ones listed, and a document left without a field its other values require (a
//!   privilege call without a basis) refuses the whole request.
//! - Every decision is one audit entry (field, old value, new value, reviewer, review level),
//!   written in the same transaction as the coding, so the log and the coding cannot disagree.
//! - Writers take SQLite's write lock first (`BEGIN IMMEDIATE`), read the current values
//!   under it and write: reviewers coding at once in several processes are serialized, and no
//!   update is lost or audited twice.
//! - Batches are cut from a query's hits (masters under the case's dedup view), optionally
//!   keeping families whole and not mixing custodians. A document is in at most one batch per
//!   review level; a batch is held by at most one reviewer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use crate::audit::{Appender, NewEntry};
use crate::config::{CodingLayout, FieldDef, FieldKind};
use crate::search::{DATE_SQL, SearchOptions, SortOrder};
use crate::{Case, DocClassification, Error, Result, now_utc};

/// How a coding change acts on a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// `field=value`: replace (an empty value clears; a multi field takes `a,b`).
    Set,
    /// `field+=value`: add a value to a multi field.
    Add,
    /// `field-=value`: remove a value from a multi field.
    Remove,
}

/// One coding change, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The field.
    pub field: String,
    /// What to do.
    pub op: Op,
    /// The values (none: clear).
    pub values: Vec<String>,
}

impl Change {
    /// Parses `FIELD=VALUE`, `FIELD+=VALUE` or `FIELD-=VALUE` and checks it against the layout.
    pub fn parse(layout: &CodingLayout, text: &str) -> Result<Change> {
        let Some(eq) = text.find('=') else {
            return Err(Error::Coding(format!(
                "{text:?}: write FIELD=VALUE (or FIELD+=VALUE, FIELD-=VALUE for {})",
                multi_names(layout)
            )));
        };
        let (mut name, value) = (&text[..eq], &text[eq + 1..]);
        let op = if let Some(n) = name.strip_suffix('+') {
            name = n;
            Op::Add
        } else if let Some(n) = name.strip_suffix('-') {
            name = n;
            Op::Remove
        } else {
            Op::Set
        };
        let name = name.trim();
        let field = layout.field(name).ok_or_else(|| {
            let names: Vec<&str> = layout.fields.iter().map(|f| f.name.as_str()).collect();
            Error::Coding(format!("no coding field {name:?}; the fields are: {}", names.join(", ")))
        })?;
        let values = normalize(field, op, value)?;
        Ok(Change { field: field.name.clone(), op, values })
    }
}

fn multi_names(layout: &CodingLayout) -> String {
    let names: Vec<&str> = layout
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::Multi)
        .map(|f| f.name.as_str())
        .collect();
    if names.is_empty() { "multi-choice fields".into() } else { names.join(", ") }
}

/// The values a change carries, checked against the field.
fn normalize(field: &FieldDef, op: Op, value: &str) -> Result<Vec<String>> {
    let name = &field.name;
    if op != Op::Set && field.kind != FieldKind::Multi {
        return Err(Error::Coding(format!(
            "{name} takes one value: write {name}=VALUE (+= and -= are for multi-choice fields)"
        )));
    }
    let allowed = |v: &str| -> Result<String> {
        if field.choices.iter().any(|c| c == v) {
            return Ok(v.to_owned());
        }
        if field.choices.is_empty() {
            return Err(Error::Coding(format!(
                "{name} has no choices yet; list them under the [[coding.fields]] entry named {name:?} in case.toml"
            )));
        }
        Err(Error::Coding(format!(
            "{v:?} is not a value of {name}; allowed: {}",
            field.choices.join(", ")
        )))
    };
    let value = value.trim();
    match field.kind {
        FieldKind::Choice if value.is_empty() => Ok(vec![]),
        FieldKind::Choice => Ok(vec![allowed(value)?]),
        FieldKind::Multi => {
            let values: Vec<&str> =
                value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
            if op != Op::Set && values.len() != 1 {
                return Err(Error::Coding(format!("{name}+= and {name}-= take one value")));
            }
            values.into_iter().map(allowed).collect()
        }
        FieldKind::Flag => match value.to_ascii_lowercase().as_str() {
            "" => Ok(vec![]),
            "yes" | "y" | "true" | "1" => Ok(vec!["yes".into()]),
            "no" | "n" | "false" | "0" => Ok(vec!["no".into()]),
            _ => {
                Err(Error::Coding(format!("{value:?} is not a value of {name}; allowed: yes, no")))
            }
        },
        FieldKind::Text if value.is_empty() => Ok(vec![]),
        FieldKind::Text => Ok(vec![value.to_owned()]),
    }
}

/// A coding request: the same changes on some documents.
#[derive(Clone, Debug, Default)]
pub struct CodeRequest {
    /// Who decides (required).
    pub reviewer: String,
    /// The documents (item ids).
    pub items: Vec<u64>,
    /// The changes, applied in order.
    pub changes: Vec<Change>,
    /// Apply the fields marked `family` in the layout to each document's whole family.
    pub family: bool,
    /// Review level of these decisions (1 first-level, 2 second-level or QC). `None`: the level
    /// of the reviewer's batch holding the document, else 1.
    pub level: Option<u32>,
    /// The query the documents came from, recorded in the audit log.
    pub query: Option<String>,
}

/// What a coding request did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CodeReport {
    /// Documents coded (with family members).
    pub documents: u64,
    /// Of those, family members coded through `family`.
    pub family_members: u64,
    /// Field decisions recorded (one audit entry each).
    pub decisions: u64,
    /// Of those, decisions that changed the value.
    pub changed: u64,
    /// Documents that became reviewed in the reviewer's batch.
    pub batch_reviewed: u64,
}

/// The current values of one document's fields (multi values sorted).
type Values = BTreeMap<String, BTreeSet<String>>;

fn joined(values: Option<&BTreeSet<String>>) -> Option<String> {
    values.filter(|v| !v.is_empty()).map(|v| v.iter().cloned().collect::<Vec<_>>().join(","))
}

/// A field's current value on a document.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Coding {
    /// The field.
    pub field: String,
    /// Its label.
    pub label: String,
    /// Its values (one for most fields; none when not coded).
    pub values: Vec<String>,
}

impl Case {
    /// The item ids of control numbers, in the order given; refuses an unknown one.
    pub fn item_ids(&self, control_numbers: &[String]) -> Result<Vec<u64>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached("SELECT id FROM items WHERE control_number = ?1")?;
        control_numbers
            .iter()
            .map(|c| {
                stmt.query_row([c], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map(i64::cast_unsigned)
                    .ok_or_else(|| Error::NoItem(c.clone()))
            })
            .collect()
    }

    /// Every item a query hits (each instance: no dedup collapse), by control number.
    pub fn query_item_ids(&self, query: &str) -> Result<(Vec<u64>, Vec<String>)> {
        let found = self.search(
            query,
            SearchOptions {
                dedup: quarry_types::DedupScope::None,
                families: false,
                sort: SortOrder::Control,
            },
        )?;
        Ok((found.entries.iter().map(|e| e.item_id).collect(), found.warnings))
    }

    /// Codes documents: checks every change and every resulting document first, then writes
    /// the coding and one audit entry per field decision in one transaction.
    pub fn code(&self, request: &CodeRequest) -> Result<CodeReport> {
        let reviewer = request.reviewer.trim();
        if reviewer.is_empty() {
            return Err(Error::NoReviewer);
        }
        if request.changes.is_empty() {
            return Err(Error::Coding("nothing to code: give --set FIELD=VALUE".into()));
        }
        let layout = &self.config.coding;
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Which changes reach which item: all on the named documents, the family fields on
        // their family members too. BTreeMap: items are written in id order.
        let mut targets: BTreeMap<u64, (Vec<&Change>, Option<u64>)> = BTreeMap::new();
        for &id in &request.items {
            targets.insert(id, (request.changes.iter().collect(), None));
        }
        let mut report = CodeReport::default();
        if request.family {
            let family_changes: Vec<&Change> = request
                .changes
                .iter()
                .filter(|c| layout.field(&c.field).is_some_and(|f| f.family))
                .collect();
            // The review family is the document and its attachments (its doc root): the
            // archive or mailbox a document came in is a container, not its family.
            let mut root = tx.prepare_cached("SELECT doc_root_id FROM items WHERE id = ?1")?;
            let mut members =
                tx.prepare_cached("SELECT id FROM items WHERE doc_root_id = ?1 ORDER BY id")?;
            let mut roots = std::collections::HashSet::new();
            for &id in &request.items {
                let doc_root: i64 = root.query_row([id.cast_signed()], |r| r.get(0))?;
                if family_changes.is_empty() || !roots.insert(doc_root) {
                    continue;
                }
                for member in members.query_map([doc_root], |r| r.get::<_, i64>(0))? {
                    let member = member?.cast_unsigned();
                    if let std::collections::btree_map::Entry::Vacant(slot) = targets.entry(member)
                    {
                        slot.insert((family_changes.clone(), Some(id)));
                        report.family_members += 1;
                    }
                }
            }
        }
        // Apply in memory and check each document.
        let mut planned = Vec::with_capacity(targets.len());
        let mut refused = Vec::new();
        for (&id, (changes, via)) in &targets {
            let (control, before) = current_values(&tx, id)?;
            let mut after = before.clone();
            for change in changes {
                let values = after.entry(change.field.clone()).or_default();
                match change.op {
                    Op::Set => *values = change.values.iter().cloned().collect(),
                    Op::Add => values.extend(change.values.iter().cloned()),
                    Op::Remove => {
                        for v in &change.values {
                            values.remove(v);
                        }
                    }
                }
            }
            if let Some(problem) = missing_required(layout, &after) {
                refused.push(format!("{control}: {problem}"));
            }
            planned.push((id, control, before, after, changes, *via));
        }
        if !refused.is_empty() {
            let shown = refused.len().min(20);
            let more = if refused.len() > shown {
                format!("\n  ... and {} more", refused.len() - shown)
            } else {
                String::new()
            };
            return Err(Error::Coding(format!(
                "nothing was coded; {} document(s) would lack a required field:\n  {}{more}",
                refused.len(),
                refused[..shown].join("\n  ")
            )));
        }
        let mut log = Appender::new(&tx)?;
        if let Some(query) = &request.query {
            log.push(
                &tx,
                &NewEntry {
                    actor: reviewer,
                    action: "code.query",
                    detail: Some(serde_json::json!({
                        "query": query,
                        "documents": request.items.len(),
                        "changes": request.changes,
                    })),
                    ..NewEntry::default()
                },
            )?;
        }
        let names: Vec<String> = {
            let mut stmt = tx.prepare_cached("SELECT control_number FROM items WHERE id = ?1")?;
            let mut names = HashMap::new();
            for &(_, _, _, _, _, via) in &planned {
                if let Some(via) = via
                    && !names.contains_key(&via)
                {
                    let name: String = stmt.query_row([via.cast_signed()], |r| r.get(0))?;
                    names.insert(via, name);
                }
            }
            planned
                .iter()
                .map(|p| p.5.and_then(|v| names.get(&v).cloned()).unwrap_or_default())
                .collect()
        };
        let now = now_utc();
        for ((id, control, before, after, changes, _), via) in planned.iter().zip(&names) {
            let batch: Option<(String, u32)> = tx
                .prepare_cached(
                    "SELECT b.name, b.level FROM batch_items bi JOIN batches b ON b.id = bi.batch_id
                     WHERE bi.item_id = ?1 AND b.assignee = ?2 ORDER BY b.level DESC LIMIT 1",
                )?
                .query_row(params![id.cast_signed(), reviewer], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let level = request.level.or(batch.as_ref().map(|b| b.1)).unwrap_or(1);
            let mut fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
            fields.dedup();
            let mut seen = BTreeSet::new();
            for field in fields {
                if !seen.insert(field) {
                    continue;
                }
                let old = joined(before.get(field));
                let new = joined(after.get(field));
                tx.prepare_cached("DELETE FROM coding WHERE item_id = ?1 AND field = ?2")?
                    .execute(params![id.cast_signed(), field])?;
                for value in after.get(field).into_iter().flatten() {
                    tx.prepare_cached(
                        "INSERT INTO coding (item_id, field, value) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![id.cast_signed(), field, value])?;
                }
                let mut detail = serde_json::json!({ "level": level });
                if let Some((name, _)) = &batch {
                    detail["batch"] = name.clone().into();
                }
                if !via.is_empty() {
                    detail["family_of"] = via.clone().into();
                }
                log.push(
                    &tx,
                    &NewEntry {
                        actor: reviewer,
                        action: "code",
                        item: Some((*id, control)),
                        field: Some(field),
                        old: old.as_deref(),
                        new: new.as_deref(),
                        detail: Some(detail),
                    },
                )?;
                report.decisions += 1;
                report.changed += u64::from(old != new);
            }
            report.documents += 1;
            if layout
                .fields
                .iter()
                .filter(|f| f.required)
                .all(|f| after.get(&f.name).is_some_and(|v| !v.is_empty()))
            {
                report.batch_reviewed +=
                    tx.prepare_cached(
                        "UPDATE batch_items SET reviewed_at = ?1, reviewed_by = ?2
                         WHERE item_id = ?3 AND reviewed_at IS NULL
                           AND batch_id IN (SELECT id FROM batches WHERE assignee = ?2)",
                    )?
                    .execute(params![now, reviewer, id.cast_signed()])? as u64;
            }
        }
        log.finish(&tx)?;
        tx.commit()?;
        Ok(report)
    }

    /// A document's current coding, in layout order (every field, coded or not).
    pub fn coding(&self, item_id: u64) -> Result<Vec<Coding>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT field, value FROM coding WHERE item_id = ?1 ORDER BY field, value",
        )?;
        let mut values: Values = BTreeMap::new();
        for row in stmt.query_map([item_id.cast_signed()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (field, value) = row?;
            values.entry(field).or_default().insert(value);
        }
        Ok(self
            .config
            .coding
            .fields
            .iter()
            .map(|f| Coding {
                field: f.name.clone(),
                label: f.label.clone(),
                values: values.remove(&f.name).map(|v| v.into_iter().collect()).unwrap_or_default(),
            })
            .collect())
    }
}

/// A document's control number and current coding, read inside the transaction.
fn current_values(tx: &Transaction<'_>, id: u64) -> Result<(String, Values)> {
    let control: String = tx
        .prepare_cached("SELECT control_number FROM items WHERE id = ?1")?
        .query_row([id.cast_signed()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::NoItem(format!("with id {id}")))?;
    let mut values: Values = BTreeMap::new();
    let mut stmt = tx.prepare_cached("SELECT field, value FROM coding WHERE item_id = ?1")?;
    for row in stmt
        .query_map([id.cast_signed()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
    {
        let (field, value) = row?;
        values.entry(field).or_default().insert(value);
    }
    Ok((control, values))
}

/// The first field a document's values require and lack.
fn missing_required(layout: &CodingLayout, values: &Values) -> Option<String> {
    for field in &layout.fields {
        let Some(when) = &field.required_when else { continue };
        let has = values.get(&field.name).is_some_and(|v| !v.is_empty());
        if has {
            continue;
        }
        if let Some(trigger) =
            values.get(&when.field).and_then(|v| v.iter().find(|v| when.any_of.contains(v)))
        {
            return Some(format!(
                "{} is required when {} is {trigger} (add --set {}=...)",
                field.name, when.field, field.name
            ));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Batches

/// How to cut batches.
#[derive(Clone, Debug)]
pub struct BatchSpec {
    /// The documents: a query's hits, masters under the case's dedup view.
    pub query: String,
    /// Documents per batch (a family kept whole can make one larger).
    pub size: usize,
    /// Add each hit's family and never split a family across batches.
    pub keep_families: bool,
    /// One custodian per batch.
    pub by_custodian: bool,
    /// Review level (1 first-level; 2 second-level or QC over documents already reviewed).
    pub level: u32,
    /// Name prefix (default `REV` at level 1, `QC` above): batches are `REV-0001`, ...
    pub prefix: Option<String>,
    /// Who creates them.
    pub creator: String,
}

/// A batch as listed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Batch {
    /// Its name.
    pub name: String,
    /// Review level.
    pub level: u32,
    /// The custodian (batches made `--by custodian`).
    pub custodian: Option<String>,
    /// The query it was cut from.
    pub query: String,
    /// Documents in it.
    pub documents: u64,
    /// Of those, reviewed by the holder (every required field coded).
    pub reviewed: u64,
    /// Who holds it.
    pub assignee: Option<String>,
    /// Since when.
    pub checked_out_at: Option<String>,
    /// `available`, `checked-out` or `complete`.
    pub status: String,
}

/// What batch creation did.
#[derive(Clone, Debug, Serialize)]
pub struct BatchPlan {
    /// The batches made.
    pub batches: Vec<Batch>,
    /// Documents put in them.
    pub documents: u64,
    /// Documents the query hit (with families) already in a batch at this level, left out.
    pub already_batched: u64,
    /// Warnings from the query.
    pub warnings: Vec<String>,
}

const BATCH_SQL: &str = "SELECT b.name, b.level, b.custodian, b.query,
        (SELECT COUNT(*) FROM batch_items bi WHERE bi.batch_id = b.id),
        (SELECT COUNT(*) FROM batch_items bi WHERE bi.batch_id = b.id AND bi.reviewed_at IS NOT NULL),
        b.assignee, b.checked_out_at
    FROM batches b";

fn batch_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Batch> {
    let documents = r.get::<_, i64>(4)?.cast_unsigned();
    let reviewed = r.get::<_, i64>(5)?.cast_unsigned();
    let assignee: Option<String> = r.get(6)?;
    let status = if documents == reviewed {
        "complete"
    } else if assignee.is_some() {
        "checked-out"
    } else {
        "available"
    };
    Ok(Batch {
        name: r.get(0)?,
        level: r.get(1)?,
        custodian: r.get(2)?,
        query: r.get(3)?,
        documents,
        reviewed,
        assignee,
        checked_out_at: r.get(7)?,
        status: status.into(),
    })
}

impl Case {
    /// Cuts the query's hits into batches (in one transaction, audited).
    pub fn create_batches(&self, spec: &BatchSpec) -> Result<BatchPlan> {
        if spec.size == 0 {
            return Err(Error::Batch("--size must be at least 1".into()));
        }
        if spec.creator.trim().is_empty() {
            return Err(Error::NoReviewer);
        }
        let found = self.search(
            &spec.query,
            SearchOptions {
                dedup: self.config.dedup.scope,
                families: false,
                sort: SortOrder::Control,
            },
        )?;
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Units: families (kept whole) or single documents, each with its custodian.
        let mut info = tx.prepare_cached(
            "SELECT i.doc_root_id, c.name FROM items i JOIN items r ON r.id = i.doc_root_id
             JOIN custodians c ON c.id = r.custodian_id WHERE i.id = ?1",
        )?;
        let mut units: Vec<(String, i64, Vec<u64>)> = Vec::new();
        let mut by_family: HashMap<i64, usize> = HashMap::new();
        for entry in &found.entries {
            let (family, custodian): (i64, String) =
                info.query_row([entry.item_id.cast_signed()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if spec.keep_families {
                if let std::collections::hash_map::Entry::Vacant(slot) = by_family.entry(family) {
                    slot.insert(units.len());
                    let members: Vec<u64> = tx
                        .prepare_cached("SELECT id FROM items WHERE doc_root_id = ?1 ORDER BY id")?
                        .query_map([family], |r| r.get::<_, i64>(0))?
                        .map(|id| id.map(i64::cast_unsigned))
                        .collect::<Result<_, _>>()?;
                    units.push((custodian, family, members));
                }
            } else {
                units.push((custodian, family, vec![entry.item_id]));
            }
        }
        drop(info);
        if spec.by_custodian {
            // Stable: control-number order within each custodian.
            units.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut batched =
            tx.prepare_cached("SELECT 1 FROM batch_items WHERE level = ?1 AND item_id = ?2")?;
        let mut already = 0;
        for unit in &mut units {
            let before = unit.2.len();
            let mut kept = Vec::with_capacity(before);
            for &id in &unit.2 {
                if batched
                    .query_row(params![spec.level, id.cast_signed()], |_| Ok(()))
                    .optional()?
                    .is_none()
                {
                    kept.push(id);
                }
            }
            already += (before - kept.len()) as u64;
            unit.2 = kept;
        }
        drop(batched);
        let prefix =
            spec.prefix.clone().unwrap_or_else(|| if spec.level > 1 { "QC" } else { "REV" }.into());
        let mut number: u64 = tx
            .query_row(
                "SELECT COUNT(*) FROM batches WHERE name GLOB ?1 || '-[0-9]*'",
                [&prefix],
                |r| r.get::<_, i64>(0),
            )?
            .cast_unsigned();
        let mut batches: Vec<(Option<String>, Vec<u64>)> = Vec::new();
        let mut current: (Option<String>, Vec<u64>) = (None, Vec::new());
        for (custodian, _, members) in units {
            if members.is_empty() {
                continue;
            }
            let custodian = spec.by_custodian.then_some(custodian);
            let switch = current.0 != custodian
                || current.1.len() + members.len() > spec.size && spec.keep_families
                || current.1.len() >= spec.size;
            if switch && !current.1.is_empty() {
                batches.push(std::mem::take(&mut current));
            }
            current.0 = custodian;
            current.1.extend(members);
        }
        if !current.1.is_empty() {
            batches.push(current);
        }
        let mut log = Appender::new(&tx)?;
        let now = now_utc();
        let mut names = Vec::new();
        let mut documents = 0;
        for (custodian, items) in &batches {
            number += 1;
            let name = format!("{prefix}-{number:04}");
            tx.execute(
                "INSERT INTO batches (name, query, level, custodian, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, spec.query, spec.level, custodian, now, spec.creator],
            )?;
            let batch_id = tx.last_insert_rowid();
            let mut insert = tx.prepare_cached(
                "INSERT INTO batch_items (batch_id, position, item_id, level) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (position, id) in items.iter().enumerate() {
                insert.execute(params![batch_id, position as i64, id.cast_signed(), spec.level])?;
            }
            documents += items.len() as u64;
            log.push(
                &tx,
                &NewEntry {
                    actor: &spec.creator,
                    action: "batch.create",
                    detail: Some(serde_json::json!({
                        "batch": name,
                        "query": spec.query,
                        "level": spec.level,
                        "custodian": custodian,
                        "documents": items.len(),
                        "keep_families": spec.keep_families,
                    })),
                    ..NewEntry::default()
                },
            )?;
            names.push(name);
        }
        log.finish(&tx)?;
        tx.commit()?;
        let all = self.batches()?;
        Ok(BatchPlan {
            batches: all.into_iter().filter(|b| names.contains(&b.name)).collect(),
            documents,
            already_batched: already,
            warnings: found.warnings,
        })
    }

    /// Every batch, in creation order.
    pub fn batches(&self) -> Result<Vec<Batch>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(&format!("{BATCH_SQL} ORDER BY b.id"))?;
        let rows = stmt.query_map([], batch_from_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The batch a reviewer holds and has not finished, if any.
    pub fn current_batch(&self, reviewer: &str) -> Result<Option<Batch>> {
        Ok(self
            .batches()?
            .into_iter()
            .find(|b| b.assignee.as_deref() == Some(reviewer) && b.status == "checked-out"))
    }

    /// The reviewer's unfinished batch, or else the next available one, checked out to them
    /// (`level` restricts which). `None` when no batch is left. The second value says whether
    /// the batch was newly checked out.
    pub fn batch_next(&self, reviewer: &str, level: Option<u32>) -> Result<Option<(Batch, bool)>> {
        if reviewer.trim().is_empty() {
            return Err(Error::NoReviewer);
        }
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Under the write lock, so one reviewer asking twice at once still gets one batch.
        let held: Option<String> = tx
            .query_row(
                "SELECT b.name FROM batches b
                 WHERE b.assignee = ?1
                   AND EXISTS (SELECT 1 FROM batch_items bi WHERE bi.batch_id = b.id AND bi.reviewed_at IS NULL)
                 ORDER BY b.id LIMIT 1",
                [reviewer],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(name) = held {
            drop(tx);
            let batch = self.batches()?.into_iter().find(|b| b.name == name);
            return Ok(batch.map(|b| (b, false)));
        }
        let next: Option<(i64, String)> = tx
            .query_row(
                "SELECT b.id, b.name FROM batches b
                 WHERE b.assignee IS NULL AND (?1 IS NULL OR b.level = ?1)
                   AND EXISTS (SELECT 1 FROM batch_items bi WHERE bi.batch_id = b.id AND bi.reviewed_at IS NULL)
                 ORDER BY b.id LIMIT 1",
                [level],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, name)) = next else { return Ok(None) };
        let taken = tx.execute(
            "UPDATE batches SET assignee = ?1, checked_out_at = ?2 WHERE id = ?3 AND assignee IS NULL",
            params![reviewer, now_utc(), id],
        )?;
        if taken != 1 {
            return Err(Error::Internal(format!("batch {name} was taken under the write lock")));
        }
        let mut log = Appender::new(&tx)?;
        log.push(
            &tx,
            &NewEntry {
                actor: reviewer,
                action: "batch.checkout",
                detail: Some(serde_json::json!({ "batch": name })),
                ..NewEntry::default()
            },
        )?;
        log.finish(&tx)?;
        tx.commit()?;
        let batch = self.batches()?.into_iter().find(|b| b.name == name);
        Ok(batch.map(|b| (b, true)))
    }

    /// Hands a batch back to the pool: the named one, else the reviewer's unfinished one. Its
    /// coding stays; what is not reviewed goes to the next reviewer who asks.
    pub fn batch_release(&self, actor: &str, name: Option<&str>) -> Result<Batch> {
        if actor.trim().is_empty() {
            return Err(Error::NoReviewer);
        }
        let batch = match name {
            Some(name) => {
                self.batches()?.into_iter().find(|b| b.name == name).ok_or_else(|| {
                    Error::Batch(format!("no batch {name}; see `quarry review batch list`"))
                })?
            }
            None => self.current_batch(actor)?.ok_or_else(|| {
                Error::Batch(format!("{actor} holds no unfinished batch; name one to release"))
            })?,
        };
        let Some(holder) = batch.assignee.clone() else {
            return Err(Error::Batch(format!("batch {} is not checked out", batch.name)));
        };
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let released = tx.execute(
            "UPDATE batches SET assignee = NULL, checked_out_at = NULL WHERE name = ?1 AND assignee = ?2",
            params![batch.name, holder],
        )?;
        if released != 1 {
            return Err(Error::Batch(format!(
                "batch {} changed hands meanwhile; try again",
                batch.name
            )));
        }
        let mut log = Appender::new(&tx)?;
        log.push(
            &tx,
            &NewEntry {
                actor,
                action: "batch.release",
                detail: Some(serde_json::json!({
                    "batch": batch.name,
                    "holder": holder,
                    "reviewed": batch.reviewed,
                    "documents": batch.documents,
                })),
                ..NewEntry::default()
            },
        )?;
        log.finish(&tx)?;
        tx.commit()?;
        Ok(Batch { assignee: None, checked_out_at: None, status: "available".into(), ..batch })
    }

    /// Checks a batch out to a named reviewer on a manager's say (`actor`): a batch that no one
    /// holds and that still has documents to review. The reviewer gets it from `batch next` (a
    /// reviewer holding several gets them in the order they were cut). A batch someone holds is
    /// refused: releasing it first keeps the hand-over in the log as two steps.
    pub fn batch_assign(&self, actor: &str, name: &str, reviewer: &str) -> Result<Batch> {
        if actor.trim().is_empty() {
            return Err(Error::NoReviewer);
        }
        if reviewer.trim().is_empty() || reviewer.trim() != reviewer {
            return Err(Error::Batch(format!(
                "{reviewer:?} is not a reviewer's name (empty, or spaces at either end)"
            )));
        }
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(i64, Option<String>, bool)> = tx
            .query_row(
                "SELECT b.id, b.assignee,
                        EXISTS (SELECT 1 FROM batch_items bi WHERE bi.batch_id = b.id AND bi.reviewed_at IS NULL)
                 FROM batches b WHERE b.name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, holder, open)) = found else {
            return Err(Error::Batch(format!("no batch {name}; see `quarry review batch list`")));
        };
        match holder {
            Some(holder) if holder == reviewer => {
                return Err(Error::Batch(format!("{reviewer} already holds batch {name}")));
            }
            Some(holder) => {
                return Err(Error::Batch(format!(
                    "batch {name} is checked out to {holder}; release it first (`quarry review batch release {name}`)"
                )));
            }
            None if !open => {
                return Err(Error::Batch(format!("batch {name} has nothing left to review")));
            }
            None => {}
        }
        tx.execute(
            "UPDATE batches SET assignee = ?1, checked_out_at = ?2 WHERE id = ?3 AND assignee IS NULL",
            params![reviewer, now_utc(), id],
        )?;
        let mut log = Appender::new(&tx)?;
        log.push(
            &tx,
            &NewEntry {
                actor,
                action: "batch.assign",
                detail: Some(serde_json::json!({ "batch": name, "to": reviewer })),
                ..NewEntry::default()
            },
        )?;
        log.finish(&tx)?;
        tx.commit()?;
        self.batches()?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| Error::Internal(format!("batch {name} vanished")))
    }

    /// A batch's documents in order: item id, control number, reviewed.
    pub fn batch_documents(&self, name: &str) -> Result<Vec<(u64, String, bool)>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT i.id, i.control_number, bi.reviewed_at IS NOT NULL
             FROM batch_items bi JOIN batches b ON b.id = bi.batch_id JOIN items i ON i.id = bi.item_id
             WHERE b.name = ?1 ORDER BY bi.position",
        )?;
        let rows: Vec<(u64, String, bool)> = stmt
            .query_map([name], |r| Ok((r.get::<_, i64>(0)?.cast_unsigned(), r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        if rows.is_empty() && !self.batches()?.iter().any(|b| b.name == name) {
            return Err(Error::Batch(format!("no batch {name}")));
        }
        Ok(rows)
    }
}

// ---------------------------------------------------------------------------------------------
// One document, as a reviewer sees it

/// A member of a document's family.
#[derive(Clone, Debug, Serialize)]
pub struct FamilyMember {
    /// Control number.
    pub control_number: String,
    /// File name.
    pub name: String,
    /// Detected type.
    pub file_type: String,
    /// Depth under the family's top document (0: the top).
    pub depth: u32,
    /// Whether this is the document shown.
    pub this: bool,
}

/// A marked span of the text.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Mark {
    /// Byte offset in the text.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// `search`, or the classification rule's label.
    pub label: String,
    /// A classification hit inside boilerplate (does not count towards privilege).
    pub boilerplate: bool,
}

/// One entry of a document's coding history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryEntry {
    /// Audit entry number.
    pub seq: u64,
    /// When.
    pub at: String,
    /// Who.
    pub reviewer: String,
    /// The field.
    pub field: String,
    /// Before.
    pub old: Option<String>,
    /// After.
    pub new: Option<String>,
    /// Review level, batch, family propagation.
    pub detail: serde_json::Value,
}

/// Everything `review show` shows about one document.
#[derive(Clone, Debug, Serialize)]
pub struct DocView {
    /// Control number.
    pub control_number: String,
    /// Item id.
    pub item_id: u64,
    /// Custodian.
    pub custodian: String,
    /// Where it is.
    pub locator: String,
    /// Detected type.
    pub file_type: String,
    /// Size in bytes.
    pub size: u64,
    /// blake3 of the native.
    pub blake3: String,
    /// Flags (no-text, ...).
    pub flags: Vec<String>,
    /// Date shown (sent, modified or created).
    pub date: Option<String>,
    /// Email envelope or document properties, as (name, value) in display order.
    pub metadata: Vec<(String, String)>,
    /// The family: the top document (itself, or the message it is attached to) and its
    /// attachments, in order. The archive or mailbox it arrived in is its locator, not family.
    pub family: Vec<FamilyMember>,
    /// Extracted text (None when it has none).
    pub text: Option<String>,
    /// Search hits (with a query) and classification hits, by start.
    pub marks: Vec<Mark>,
    /// The classification, if classified with hits.
    pub classification: Option<DocClassification>,
    /// Current coding, every field of the layout.
    pub coding: Vec<Coding>,
    /// Every coding decision on it, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Batches holding it.
    pub batches: Vec<String>,
}

impl Case {
    /// One document with its metadata, family, text marked with classification hits (and
    /// the hits of `query`), coding and coding history.
    pub fn doc_view(&self, control_number: &str, query: Option<&str>) -> Result<DocView> {
        let conn = self.reader()?;
        let row = conn
            .query_row(
                &format!(
                    "SELECT i.id, c.name, i.locator, i.file_type, i.size, i.blake3, i.flags, {DATE_SQL},
                        i.doc_root_id, i.text_chars IS NOT NULL, e.item_id IS NOT NULL, d.item_id IS NOT NULL
                 FROM items i JOIN custodians c ON c.id = i.custodian_id
                 LEFT JOIN emails e ON e.item_id = i.id LEFT JOIN documents d ON d.item_id = i.id
                 WHERE i.control_number = ?1"
                ),
                [control_number],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, bool>(9)?,
                        r.get::<_, bool>(10)?,
                        r.get::<_, bool>(11)?,
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| Error::NoItem(control_number.to_owned()))?;
        let (
            id,
            custodian,
            locator,
            file_type,
            size,
            blake3,
            flags,
            date,
            doc_root,
            has_text,
            email,
            doc,
        ) = row;
        let mut metadata = Vec::new();
        let mut push = |name: &str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                metadata.push((name.to_owned(), v));
            }
        };
        if email {
            let e: [Option<String>; 9] = conn.query_row(
                "SELECT email_from, email_to, email_cc, email_bcc, subject, sent, sent_offset, message_id, received
                 FROM emails WHERE item_id = ?1",
                [id],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?]),
            )?;
            let [from, to, cc, bcc, subject, sent, offset, message_id, received] = e;
            push("From", from);
            push("To", to);
            push("Cc", cc);
            push("Bcc", bcc);
            push("Subject", subject);
            push("Sent (UTC)", sent);
            push("Sent offset", offset);
            push("Received (UTC)", received);
            push("Message-ID", message_id);
        }
        if doc {
            let d: [Option<String>; 5] = conn.query_row(
                "SELECT title, author, subject, created, CAST(pages AS TEXT) FROM documents WHERE item_id = ?1",
                [id],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
            )?;
            let [title, author, subject, created, pages] = d;
            push("Title", title);
            push("Author", author);
            push("Subject", subject);
            push("Created", created);
            push("Pages", pages);
        }
        // The family a reviewer means: the document (or the message it is attached to) and
        // its attachments, not the archive or mailbox it arrived in.
        let mut family: Vec<FamilyMember> = {
            let mut stmt = conn.prepare(
                "SELECT control_number, name, file_type, depth, id FROM items WHERE doc_root_id = ?1 ORDER BY id",
            )?;
            stmt.query_map([doc_root], |r| {
                Ok(FamilyMember {
                    control_number: r.get(0)?,
                    name: r.get(1)?,
                    file_type: r.get(2)?,
                    depth: r.get(3)?,
                    this: r.get::<_, i64>(4)? == id,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        let top = family.iter().map(|m| m.depth).min().unwrap_or(0);
        for m in &mut family {
            m.depth -= top;
        }
        let text = if has_text { self.store.text(&blake3)? } else { None };
        let classification = match self.classification(control_number) {
            Ok(c) => c,
            Err(Error::NoRules) => None,
            Err(e) => return Err(e),
        };
        let mut marks: Vec<Mark> = classification
            .iter()
            .flat_map(|c| &c.hits)
            .filter(|h| h.zone != quarry_tag::Zone::Text || text.is_some())
            .map(|h| Mark {
                start: h.start as usize,
                end: h.end as usize,
                label: h.rule.clone(),
                boilerplate: h.boilerplate,
            })
            .collect();
        if let (Some(query), Some(text)) = (query, &text) {
            let index = self.index()?;
            let (_, _, prepared) = self.prepare(&index, query)?;
            for (start, end) in quarry_index::hit_spans(text, &prepared.highlight) {
                marks.push(Mark { start, end, label: "search".into(), boilerplate: false });
            }
        }
        marks.sort_by(|a, b| (a.start, a.end, &a.label).cmp(&(b.start, b.end, &b.label)));
        let history = {
            let mut stmt = conn.prepare(
                "SELECT seq, at, actor, field, old_value, new_value, detail FROM audit
                 WHERE item_id = ?1 AND action = 'code' ORDER BY seq",
            )?;
            stmt.query_map([id], |r| {
                Ok(HistoryEntry {
                    seq: r.get::<_, i64>(0)?.cast_unsigned(),
                    at: r.get(1)?,
                    reviewer: r.get(2)?,
                    field: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    old: r.get(4)?,
                    new: r.get(5)?,
                    detail: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                })
            })?
            .collect::<Result<_, _>>()?
        };
        let batches = {
            let mut stmt = conn.prepare(
                "SELECT b.name FROM batch_items bi JOIN batches b ON b.id = bi.batch_id WHERE bi.item_id = ?1 ORDER BY b.id",
            )?;
            stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        Ok(DocView {
            control_number: control_number.to_owned(),
            item_id: id.cast_unsigned(),
            custodian,
            locator,
            file_type,
            size: size.cast_unsigned(),
            blake3,
            flags: flags.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect(),
            date,
            metadata,
            family,
            text,
            marks,
            classification,
            coding: self.coding(id.cast_unsigned())?,
            history,
            batches,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Managers' reports

/// One reviewer's work.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewerRow {
    /// The reviewer.
    pub reviewer: String,
    /// Distinct documents coded.
    pub documents: u64,
    /// Field decisions.
    pub decisions: u64,
    /// Hours with at least one decision.
    pub active_hours: u64,
    /// Documents per active hour.
    pub documents_per_hour: f64,
    /// Documents coded in each hour (`YYYY-MM-DDTHH`, UTC).
    pub by_hour: BTreeMap<String, u64>,
    /// Decisions by `field=value` (the new value; `field=` for a clear).
    pub by_value: BTreeMap<String, u64>,
    /// This reviewer's first-level calls that a second-level reviewer looked at again.
    pub second_looked: u64,
    /// Of those, calls the second level changed.
    pub overturned: u64,
    /// overturned / second_looked (None when nothing was looked at again).
    pub overturn_rate: Option<f64>,
}

/// `report reviewers`.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewerReport {
    /// Decisions counted from this time on.
    pub since: Option<String>,
    /// One row per reviewer, by name.
    pub reviewers: Vec<ReviewerRow>,
}

/// Coded against remaining for one group.
#[derive(Clone, Debug, Serialize)]
pub struct ProgressRow {
    /// The batch, custodian or value.
    pub group: String,
    /// Documents in it.
    pub documents: u64,
    /// Of those, reviewed (every required field coded).
    pub coded: u64,
    /// Not yet.
    pub remaining: u64,
}

/// `report progress`.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    /// Documents under the case's dedup view (masters).
    pub documents: u64,
    /// Of those, reviewed.
    pub coded: u64,
    /// Per batch (reviewed by its holder).
    pub by_batch: Vec<ProgressRow>,
    /// Per custodian (masters).
    pub by_custodian: Vec<ProgressRow>,
    /// Masters by responsiveness value (`uncoded` for none); `coded` counts them all.
    pub by_responsiveness: Vec<ProgressRow>,
}

impl Case {
    /// Documents coded per reviewer per hour, decisions by value and the overturn rate (a
    /// level-1 call that a later level-2 decision on the same document and field changed).
    pub fn reviewer_report(&self, since: Option<&str>) -> Result<ReviewerReport> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT seq, at, actor, item_id, field, new_value, detail FROM audit
             WHERE action = 'code' ORDER BY seq",
        )?;
        let mut rows: BTreeMap<String, ReviewerRow> = BTreeMap::new();
        let mut docs: HashMap<String, BTreeSet<i64>> = HashMap::new();
        let mut hour_docs: HashMap<(String, String), BTreeSet<i64>> = HashMap::new();
        // The latest level-1 call per (item, field): reviewer, value, already second-looked.
        let mut first: HashMap<(i64, String), (String, Option<String>, bool)> = HashMap::new();
        let mut query = stmt.query([])?;
        while let Some(r) = query.next()? {
            let at: String = r.get(1)?;
            let actor: String = r.get(2)?;
            let item: i64 = r.get::<_, Option<i64>>(3)?.unwrap_or_default();
            let field: String = r.get::<_, Option<String>>(4)?.unwrap_or_default();
            let new: Option<String> = r.get(5)?;
            let detail: serde_json::Value =
                serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default();
            let level = detail.get("level").and_then(serde_json::Value::as_u64).unwrap_or(1);
            let counted = since.is_none_or(|s| at.as_str() >= s);
            let key = (item, field.clone());
            if level >= 2 {
                if let Some((reviewer, value, looked)) = first.get_mut(&key)
                    && !*looked
                {
                    *looked = true;
                    if counted {
                        let row =
                            rows.entry(reviewer.clone()).or_insert_with(|| empty_row(reviewer));
                        row.second_looked += 1;
                        row.overturned += u64::from(*value != new);
                    }
                }
            } else {
                first.insert(key, (actor.clone(), new.clone(), false));
            }
            if !counted {
                continue;
            }
            let row = rows.entry(actor.clone()).or_insert_with(|| empty_row(&actor));
            row.decisions += 1;
            *row.by_value.entry(format!("{field}={}", new.unwrap_or_default())).or_default() += 1;
            docs.entry(actor.clone()).or_default().insert(item);
            let hour = at.get(..13).unwrap_or(&at).to_owned();
            hour_docs.entry((actor, hour)).or_default().insert(item);
        }
        for ((actor, hour), items) in hour_docs {
            if let Some(row) = rows.get_mut(&actor) {
                row.by_hour.insert(hour, items.len() as u64);
            }
        }
        let reviewers = rows
            .into_values()
            .map(|mut row| {
                row.documents = docs.get(&row.reviewer).map_or(0, |d| d.len() as u64);
                row.active_hours = row.by_hour.len() as u64;
                row.documents_per_hour = if row.active_hours == 0 {
                    0.0
                } else {
                    row.documents as f64 / row.active_hours as f64
                };
                row.overturn_rate = (row.second_looked > 0)
                    .then(|| row.overturned as f64 / row.second_looked as f64);
                row
            })
            .collect();
        Ok(ReviewerReport { since: since.map(str::to_owned), reviewers })
    }

    /// Coded against remaining by batch, custodian and responsiveness.
    pub fn progress(&self) -> Result<Progress> {
        let conn = self.reader()?;
        let layout = &self.config.coding;
        let required: Vec<&str> =
            layout.fields.iter().filter(|f| f.required).map(|f| f.name.as_str()).collect();
        // A master is coded when it has a value for every required field.
        let coded_sql = if required.is_empty() {
            "EXISTS (SELECT 1 FROM coding k WHERE k.item_id = i.id)".to_owned()
        } else {
            required
                .iter()
                .map(|f| {
                    format!(
                        "EXISTS (SELECT 1 FROM coding k WHERE k.item_id = i.id AND k.field = '{}')",
                        f.replace('\'', "''")
                    )
                })
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let masters = crate::report::masters_sql(self.config.dedup.scope);
        let mut by_custodian = Vec::new();
        let (mut documents, mut coded) = (0, 0);
        {
            let mut stmt = conn.prepare(&format!(
                "SELECT c.name, COUNT(*), SUM({coded_sql}) FROM items i
                 JOIN custodians c ON c.id = i.custodian_id
                 WHERE i.id IN ({masters}) GROUP BY c.name ORDER BY c.name"
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let n = r.get::<_, i64>(1)?.cast_unsigned();
                let c = r.get::<_, Option<i64>>(2)?.unwrap_or(0).cast_unsigned();
                documents += n;
                coded += c;
                by_custodian.push(ProgressRow {
                    group: r.get(0)?,
                    documents: n,
                    coded: c,
                    remaining: n - c,
                });
            }
        }
        let by_batch = self
            .batches()?
            .into_iter()
            .map(|b| ProgressRow {
                group: b.name,
                documents: b.documents,
                coded: b.reviewed,
                remaining: b.documents - b.reviewed,
            })
            .collect();
        let mut by_responsiveness = Vec::new();
        if let Some(field) =
            layout.field("responsiveness").or_else(|| layout.fields.iter().find(|f| f.required))
        {
            let mut stmt = conn.prepare(&format!(
                "SELECT COALESCE((SELECT k.value FROM coding k WHERE k.item_id = i.id AND k.field = ?1 LIMIT 1), 'uncoded') v,
                        COUNT(*), SUM({coded_sql})
                 FROM items i WHERE i.id IN ({masters}) GROUP BY v ORDER BY v"
            ))?;
            let mut rows = stmt.query([&field.name])?;
            while let Some(r) = rows.next()? {
                let n = r.get::<_, i64>(1)?.cast_unsigned();
                let c = r.get::<_, Option<i64>>(2)?.unwrap_or(0).cast_unsigned();
                by_responsiveness.push(ProgressRow {
                    group: r.get(0)?,
                    documents: n,
                    coded: c,
                    remaining: n - c,
                });
            }
        }
        Ok(Progress { documents, coded, by_batch, by_custodian, by_responsiveness })
    }
}

fn empty_row(reviewer: &str) -> ReviewerRow {
    ReviewerRow {
        reviewer: reviewer.to_owned(),
        documents: 0,
        decisions: 0,
        active_hours: 0,
        documents_per_hour: 0.0,
        by_hour: BTreeMap::new(),
        by_value: BTreeMap::new(),
        second_looked: 0,
        overturned: 0,
        overturn_rate: None,
    }
}
