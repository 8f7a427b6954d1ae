//! What leaves the firm: the privilege log, productions with Bates numbers and a Concordance
//! DAT load file, and the chronology.
//!
//! Every export is built in memory and checked first: nothing is written when a check fails.
//! The same case gives the same bytes, so the outputs carry no timestamps of their own. Every
//! export is recorded in the audit log with the blake3 hash of what was written.
//!
//! The exports read the coding fields `responsiveness`, `privilege`, `privilege_basis`,
//! `privilege_treatment`, `privilege_description`, `hot`, `issues` and `note` of the default
//! layout. A layout may add choices or rename labels, but it must keep these names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use fs_err as fs;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::audit::{Appender, NewEntry};
use crate::dat::DatField;
use crate::search::{DATE_SQL, INSTANCE_CUSTODIANS_SQL};
use crate::thread::embedded_messages;
use crate::{Case, Error, Result};

/// The privilege value that is not a privilege.
const NOT_PRIVILEGED: &str = "not-privileged";

/// Columns of the privilege log, in order.
pub const PRIVLOG_COLUMNS: &[&str] = &[
    "LOG_ID",
    "DOC_ID",
    "CONTROL_NUMBER",
    "FAMILY_RELATIONSHIP",
    "DATE",
    "AUTHOR_FROM",
    "TO",
    "CC",
    "BCC",
    "SUBJECT_DESCRIPTION",
    "DOC_TYPE",
    "PRIVILEGE_TYPE",
    "BASIS",
    "TREATMENT",
    "CUSTODIANS",
];

/// Columns of the chronology, in order.
pub const CHRONOLOGY_COLUMNS: &[&str] =
    &["DATE", "FROM", "TO", "SUBJECT", "DOC_ID", "CONTROL_NUMBER", "CUSTODIAN", "ISSUES", "NOTE"];

/// What is known of one item for the exports.
#[derive(Clone, Debug)]
struct Doc {
    id: i64,
    control: String,
    parent: Option<i64>,
    doc_root: i64,
    custodian: String,
    all_custodians: Vec<String>,
    file_type: String,
    name: String,
    inner: String,
    source: String,
    from: String,
    to: String,
    cc: String,
    bcc: String,
    subject: String,
    sent: Option<String>,
    date: Option<String>,
    md5: String,
    sha1: String,
    blake3: String,
    has_text: bool,
    size: i64,
    created: Option<String>,
    modified: Option<String>,
    message_id: Option<String>,
    received: Option<String>,
}

/// Coding of every item: item -> field -> values.
type AllCoding = HashMap<i64, BTreeMap<String, BTreeSet<String>>>;

fn first<'a>(coding: &'a AllCoding, id: i64, field: &str) -> Option<&'a str> {
    coding.get(&id).and_then(|c| c.get(field)).and_then(|v| v.iter().next()).map(String::as_str)
}

fn all_values(coding: &AllCoding, id: i64, field: &str) -> Vec<String> {
    coding
        .get(&id)
        .and_then(|c| c.get(field))
        .map(|v| v.iter().cloned().collect())
        .unwrap_or_default()
}

impl Case {
    fn all_coding(conn: &Connection) -> Result<AllCoding> {
        let mut out: AllCoding = HashMap::new();
        let mut stmt = conn.prepare("SELECT item_id, field, value FROM coding")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            out.entry(r.get(0)?).or_default().entry(r.get(1)?).or_default().insert(r.get(2)?);
        }
        Ok(out)
    }

    /// The masters under the case's dedup view (documents and their attachments).
    fn master_ids(&self, conn: &Connection) -> Result<BTreeSet<i64>> {
        let sql = crate::report::masters_sql(self.config.dedup.scope);
        let mut stmt = conn.prepare(&sql)?;
        let ids = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(ids)
    }

    fn docs(&self, conn: &Connection, ids: &[i64]) -> Result<Vec<Doc>> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT i.id, i.control_number, i.parent_id, i.doc_root_id, c.name, i.file_type, i.name, i.inner,
                    inp.source_path, COALESCE(NULLIF(e.email_from, ''), d.author, ''), COALESCE(e.email_to, ''),
                    COALESCE(e.email_cc, ''), COALESCE(e.email_bcc, ''), COALESCE(e.subject, d.title, d.subject, ''),
                    e.sent, {DATE_SQL},
                    COALESCE(i.md5, ''), COALESCE(i.sha1, ''), i.blake3, i.text_chars IS NOT NULL,
                    i.dedup_key, r.dedup_key, i.id = i.doc_root_id,
                    i.size, COALESCE(d.created, i.created), COALESCE(d.modified, i.modified), e.message_id,
                    e.received
             FROM items i JOIN custodians c ON c.id = i.custodian_id
             JOIN inputs inp ON inp.id = i.input_id
             JOIN items r ON r.id = i.doc_root_id
             LEFT JOIN emails e ON e.item_id = i.id LEFT JOIN documents d ON d.item_id = i.id
             WHERE i.id = ?1"
        ))?;
        let mut custodians = conn.prepare_cached(INSTANCE_CUSTODIANS_SQL)?;
        let scope = self.config.dedup.scope;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let (mut doc, keys) = stmt.query_row([id], |r| {
                Ok((
                    Doc {
                        id: r.get(0)?,
                        control: r.get(1)?,
                        parent: r.get(2)?,
                        doc_root: r.get(3)?,
                        custodian: r.get(4)?,
                        all_custodians: Vec::new(),
                        file_type: r.get(5)?,
                        name: r.get(6)?,
                        inner: r.get(7)?,
                        source: r.get(8)?,
                        from: r.get(9)?,
                        to: r.get(10)?,
                        cc: r.get(11)?,
                        bcc: r.get(12)?,
                        subject: r.get(13)?,
                        sent: r.get(14)?,
                        date: r.get(15)?,
                        md5: r.get(16)?,
                        sha1: r.get(17)?,
                        blake3: r.get(18)?,
                        has_text: r.get(19)?,
                        size: r.get(23)?,
                        created: r.get(24)?,
                        modified: r.get(25)?,
                        message_id: r.get(26)?,
                        received: r.get(27)?,
                    },
                    (r.get::<_, String>(20)?, r.get::<_, String>(21)?, r.get::<_, bool>(22)?),
                ))
            })?;
            doc.all_custodians = match scope {
                quarry_types::DedupScope::Global => custodians
                    .query_map(params![keys.0, keys.1, keys.2], |r| r.get(0))?
                    .collect::<Result<_, _>>()?,
                _ => vec![doc.custodian.clone()],
            };
            out.push(doc);
        }
        Ok(out)
    }

    /// Every item an earlier production under `prefix` carried: its latest Bates number, and
    /// whether it went out as a slip sheet.
    fn produced_before(conn: &Connection, prefix: &str) -> Result<HashMap<i64, (String, bool)>> {
        let mut stmt = conn.prepare(
            "SELECT d.item_id, d.bates, d.slip_sheet FROM production_docs d
             JOIN productions p ON p.id = d.production_id
             WHERE p.prefix = ?1 ORDER BY d.production_id",
        )?;
        let rows = stmt
            .query_map([prefix], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Bates number of every item in a production (the latest production wins).
    fn bates_numbers(conn: &Connection) -> Result<HashMap<i64, String>> {
        let mut stmt =
            conn.prepare("SELECT item_id, bates FROM production_docs ORDER BY production_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn privileged_values(&self) -> Result<Vec<String>> {
        let layout = &self.config.coding;
        for name in ["privilege", "privilege_basis", "privilege_treatment"] {
            if layout.field(name).is_none() {
                return Err(Error::Coding(format!(
                    "the coding layout has no field {name:?}; the privilege log and productions need privilege, privilege_basis and privilege_treatment"
                )));
            }
        }
        Ok(layout
            .field("privilege")
            .map(|f| f.choices.iter().filter(|c| *c != NOT_PRIVILEGED).cloned().collect())
            .unwrap_or_default())
    }
}

// ---------------------------------------------------------------------------------------------
// Privilege log

/// One row of the privilege log.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PrivLogRow {
    /// `PRIV-0001`; a message of its thread is `PRIV-0001.1`, ...
    pub log_id: String,
    /// Bates number when produced (a slip sheet or a redacted copy), else the control number.
    pub doc_id: String,
    /// Control number.
    pub control_number: String,
    /// `parent`, `attachment of DOC`, or for a thread row `message N quoted in DOC`.
    pub family_relationship: String,
    /// Sent (email) or document date.
    pub date: String,
    /// Sender or author.
    pub from: String,
    /// Recipients.
    pub to: String,
    /// Copies.
    pub cc: String,
    /// Blind copies.
    pub bcc: String,
    /// The subject or title, or the reviewer's description where the subject itself would
    /// reveal privileged content (`privilege_description`).
    pub subject: String,
    /// Email, attachment, PDF, ...
    pub doc_type: String,
    /// Attorney-Client Privilege, Attorney Work Product, or both.
    pub privilege_type: String,
    /// The reviewer's basis.
    pub basis: String,
    /// Withheld or Redacted.
    pub treatment: String,
    /// Every custodian holding a copy.
    pub custodians: String,
}

impl PrivLogRow {
    /// The row's values in [`PRIVLOG_COLUMNS`] order.
    #[must_use]
    pub fn values(&self) -> Vec<String> {
        vec![
            self.log_id.clone(),
            self.doc_id.clone(),
            self.control_number.clone(),
            self.family_relationship.clone(),
            self.date.clone(),
            self.from.clone(),
            self.to.clone(),
            self.cc.clone(),
            self.bcc.clone(),
            self.subject.clone(),
            self.doc_type.clone(),
            self.privilege_type.clone(),
            self.basis.clone(),
            self.treatment.clone(),
            self.custodians.clone(),
        ]
    }
}

/// The privilege log.
#[derive(Clone, Debug, Serialize)]
pub struct PrivLog {
    /// Rows in control-number order (thread rows after their email).
    pub rows: Vec<PrivLogRow>,
    /// Documents logged (without thread rows).
    pub documents: u64,
    /// Things to look at: copies coded differently from their master.
    pub warnings: Vec<String>,
}

fn privilege_label(value: &str) -> String {
    match value {
        "attorney-client" => "Attorney-Client Privilege".into(),
        "work-product" => "Attorney Work Product".into(),
        "both" => "Attorney-Client Privilege; Attorney Work Product".into(),
        other => other.to_owned(),
    }
}

fn type_label(file_type: &str) -> String {
    match file_type {
        "email" | "msg" => "Email".into(),
        "pdf" => "PDF document".into(),
        "text" => "Text file".into(),
        "html" => "HTML document".into(),
        "zip" => "ZIP archive".into(),
        other => other.to_owned(),
    }
}

impl Case {
    /// Why a native's stored text cannot be used (`is missing ...`), read into `buf`; `None`
    /// when it reads and is UTF-8.
    fn unreadable_text(&self, blake3: &str, buf: &mut Vec<u8>) -> Option<String> {
        match self.store.read_text(blake3, buf) {
            Ok(true) if std::str::from_utf8(buf).is_ok() => None,
            Ok(true) => Some("is not UTF-8".to_owned()),
            Ok(false) => Some("is missing from the case store".to_owned()),
            Err(e) => Some(format!("cannot be read: {}", crate::verify::chain(&e))),
        }
    }

    /// The privilege log: one row per master coded privileged (withheld or redacted), and with
    /// `expand_threads` one more row per message quoted in a logged email. Refuses, listing
    /// them, when a privileged document lacks its privilege type, basis or treatment.
    pub fn privilege_log(&self, expand_threads: bool) -> Result<PrivLog> {
        let privileged = self.privileged_values()?;
        let conn = self.reader()?;
        let coding = Self::all_coding(&conn)?;
        let masters = self.master_ids(&conn)?;
        let is_privileged = |id: i64| {
            first(&coding, id, "privilege").is_some_and(|p| privileged.iter().any(|v| v == p))
                || first(&coding, id, "privilege_treatment").is_some()
        };
        let mut ids: Vec<i64> = coding.keys().copied().filter(|&id| is_privileged(id)).collect();
        ids.sort_unstable();
        let mut warnings = Vec::new();
        let (logged, copies): (Vec<i64>, Vec<i64>) =
            ids.into_iter().partition(|id| masters.contains(id));
        let mut incomplete = Vec::new();
        for &id in &logged {
            let mut missing = Vec::new();
            if !first(&coding, id, "privilege").is_some_and(|p| privileged.iter().any(|v| v == p)) {
                missing.push("privilege type");
            }
            if first(&coding, id, "privilege_basis").is_none_or(|b| b.trim().is_empty()) {
                missing.push("basis");
            }
            if first(&coding, id, "privilege_treatment").is_none() {
                missing.push("withhold or redact");
            }
            if !missing.is_empty() {
                incomplete.push((id, missing.join(", ")));
            }
        }
        let docs = self.docs(&conn, &logged)?;
        if !incomplete.is_empty() {
            let by_id: HashMap<i64, &Doc> = docs.iter().map(|d| (d.id, d)).collect();
            let list: Vec<String> = incomplete
                .iter()
                .map(|(id, what)| format!("{}: no {what}", by_id[id].control))
                .collect();
            return Err(Error::Coding(format!(
                "the privilege log was not written: {} privileged document(s) lack what a log entry needs:\n  {}",
                list.len(),
                list.join("\n  ")
            )));
        }
        if expand_threads {
            // A logged email's quoted messages come from its text: one that cannot be read
            // would drop them from the log without a word.
            let mut text = Vec::new();
            let mut unreadable = Vec::new();
            for d in docs
                .iter()
                .filter(|d| d.has_text && matches!(d.file_type.as_str(), "email" | "msg"))
            {
                if let Some(why) = self.unreadable_text(&d.blake3, &mut text) {
                    unreadable.push(format!("{}: its extracted text {why}", d.control));
                }
            }
            if !unreadable.is_empty() {
                return Err(Error::Coding(format!(
                    "the privilege log was not written: the messages quoted in {} logged email(s) cannot be listed (`quarry verify` lists what else is damaged):\n  {}",
                    unreadable.len(),
                    unreadable.join("\n  ")
                )));
            }
        }
        if !copies.is_empty() {
            let controls: Vec<String> =
                self.docs(&conn, &copies)?.into_iter().map(|d| d.control).collect();
            let more = controls.len().saturating_sub(10);
            warnings.push(format!(
                "{} duplicate(s) are coded privileged too; the log lists each document once, under its master (under the case's dedup view): {}{}",
                controls.len(),
                controls[..controls.len().min(10)].join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ));
        }
        let bates = Self::bates_numbers(&conn)?;
        let zone = self.export_zone()?;
        let doc_id =
            |id: i64, control: &str| bates.get(&id).cloned().unwrap_or_else(|| control.to_owned());
        let mut controls: HashMap<i64, String> = HashMap::new();
        let mut has_children = BTreeSet::new();
        {
            let mut stmt = conn.prepare_cached("SELECT control_number FROM items WHERE id = ?1")?;
            let mut children = conn.prepare_cached(
                "SELECT 1 FROM items WHERE doc_root_id = ?1 AND id <> ?1 LIMIT 1",
            )?;
            for d in &docs {
                if let Some(p) = d.parent
                    && d.doc_root != d.id
                {
                    let c: String = stmt.query_row([p], |r| r.get(0))?;
                    controls.insert(p, c);
                }
                if d.doc_root == d.id
                    && children.query_row([d.id], |_| Ok(())).optional()?.is_some()
                {
                    has_children.insert(d.id);
                }
            }
        }
        let mut rows = Vec::new();
        for (n, d) in docs.iter().enumerate() {
            let id = d.id;
            let attachment = d.doc_root != d.id;
            let relationship = match d.parent {
                Some(p) if attachment => format!("attachment of {}", doc_id(p, &controls[&p])),
                _ if has_children.contains(&id) => "parent".into(),
                _ => String::new(),
            };
            let description = first(&coding, id, "privilege_description").map(str::to_owned);
            let subject = description.clone().unwrap_or_else(|| {
                if d.subject.is_empty() { d.name.clone() } else { d.subject.clone() }
            });
            let kind = type_label(&d.file_type);
            let row = PrivLogRow {
                log_id: format!("PRIV-{:04}", n + 1),
                doc_id: doc_id(id, &d.control),
                control_number: d.control.clone(),
                family_relationship: relationship,
                date: d.date.as_deref().map(|date| zone.iso(date)).unwrap_or_default(),
                from: d.from.clone(),
                to: d.to.clone(),
                cc: d.cc.clone(),
                bcc: d.bcc.clone(),
                subject,
                doc_type: if attachment { format!("Attachment ({kind})") } else { kind },
                privilege_type: first(&coding, id, "privilege")
                    .map(privilege_label)
                    .unwrap_or_default(),
                basis: first(&coding, id, "privilege_basis").unwrap_or_default().to_owned(),
                treatment: match first(&coding, id, "privilege_treatment") {
                    Some("withhold") => "Withheld".into(),
                    Some("redact") => "Redacted".into(),
                    other => other.unwrap_or_default().to_owned(),
                },
                custodians: d.all_custodians.join("; "),
            };
            let is_email = matches!(d.file_type.as_str(), "email" | "msg");
            let text = if expand_threads && is_email && d.has_text {
                self.store.text(&d.blake3)?
            } else {
                None
            };
            rows.push(row.clone());
            if let Some(text) = text {
                let segments = embedded_messages(&text);
                let total = segments.len();
                for (k, s) in segments.into_iter().enumerate() {
                    rows.push(PrivLogRow {
                        log_id: format!("{}.{}", row.log_id, k + 1),
                        family_relationship: format!(
                            "message {} of {total} quoted in {}",
                            k + 1,
                            row.doc_id
                        ),
                        date: s.sent,
                        from: s.from,
                        to: s.to,
                        cc: s.cc,
                        bcc: s.bcc,
                        subject: description.clone().unwrap_or(s.subject),
                        doc_type: "Email (quoted in thread)".into(),
                        ..row.clone()
                    });
                }
            }
        }
        Ok(PrivLog { rows, documents: docs.len() as u64, warnings })
    }
}

/// What changed between two versions of a privilege log.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PrivLogDiff {
    /// Rows (control number, thread message) only in the new log.
    pub added: Vec<String>,
    /// Rows only in the previous log.
    pub removed: Vec<String>,
    /// Rows in both whose values differ, with the columns that changed.
    pub changed: Vec<(String, Vec<String>)>,
}

/// Compares a previous log (rows of column name -> value, as read back from its CSV or XLSX)
/// with the new one. Rows are matched on the control number and thread position; the log id is
/// not compared, since it renumbers when rows come and go.
#[must_use]
pub fn diff_privilege_logs(
    previous: &[BTreeMap<String, String>],
    new: &[PrivLogRow],
) -> PrivLogDiff {
    let key = |control: &str, log_id: &str| {
        let thread =
            log_id.split_once('.').map(|(_, n)| format!(" message {n}")).unwrap_or_default();
        format!("{control}{thread}")
    };
    let old: BTreeMap<String, &BTreeMap<String, String>> = previous
        .iter()
        .map(|r| {
            let get = |c: &str| r.get(c).map_or("", String::as_str);
            (key(get("CONTROL_NUMBER"), get("LOG_ID")), r)
        })
        .collect();
    let mut diff = PrivLogDiff::default();
    let mut seen = BTreeSet::new();
    for row in new {
        let k = key(&row.control_number, &row.log_id);
        seen.insert(k.clone());
        match old.get(&k) {
            None => diff.added.push(k),
            Some(before) => {
                let changed: Vec<String> = PRIVLOG_COLUMNS
                    .iter()
                    .zip(row.values())
                    .filter(|(c, v)| {
                        // A value an earlier XLSX log cut to fit its cell compares as cut.
                        let was = before.get(**c).map_or("", String::as_str);
                        **c != "LOG_ID" && was != v && xlsx_cell(v).is_none_or(|cut| was != cut)
                    })
                    .map(|(c, _)| (*c).to_owned())
                    .collect();
                if !changed.is_empty() {
                    diff.changed.push((k, changed));
                }
            }
        }
    }
    diff.removed = old.keys().filter(|k| !seen.contains(*k)).cloned().collect();
    diff
}

// ---------------------------------------------------------------------------------------------
// Tables: CSV and XLSX

/// A table as CSV: UTF-8 with a BOM (so spreadsheet programs read it as UTF-8), CRLF line
/// ends, fields quoted when they hold a comma, quote or line break.
#[must_use]
pub fn table_csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let line = |fields: Vec<String>| {
        fields.iter().map(|f| crate::csv_field(f)).collect::<Vec<_>>().join(",")
    };
    out.push_str(&line(header.iter().map(|h| (*h).to_owned()).collect()));
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// Reads CSV written by [`table_csv`] (or any RFC 4180 CSV): rows of fields, BOM dropped.
#[must_use]
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            (false, c) => field.push(c),
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// A cell of a table: (row, column) indexes into its rows.
pub type TableCell = (usize, usize);

/// The most text one XLSX cell holds: Excel's limit, 32,767 characters counted in UTF-16 units.
pub const XLSX_CELL_LIMIT: usize = 32_767;

/// `value` cut to fit one XLSX cell, ending in a note of what was cut; `None` when it fits.
/// A message to a distribution list can name thousands of recipients, more than a cell holds,
/// and the XLSX writer refuses such a cell: the whole log was then not written. The CSV export
/// holds every value whole.
#[must_use]
pub fn xlsx_cell(value: &str) -> Option<String> {
    let units = value.encode_utf16().count();
    if units <= XLSX_CELL_LIMIT {
        return None;
    }
    let note = format!(
        " [... cut: Excel holds {XLSX_CELL_LIMIT} characters a cell and this value has {units}; the CSV export holds it whole]"
    );
    let room = XLSX_CELL_LIMIT - note.encode_utf16().count();
    let mut kept = String::with_capacity(room);
    let mut used = 0;
    for c in value.chars() {
        used += c.len_utf16();
        if used > room {
            break;
        }
        kept.push(c);
    }
    Some(kept + &note)
}

/// A table as an XLSX workbook of one sheet: bold header row frozen, columns sized to their
/// contents (up to 60 characters), text wrapped, a value longer than a cell holds cut with a
/// note ([`xlsx_cell`]). `created` is the document's creation time (ISO 8601 UTC): a fixed
/// input, so the same table gives the same bytes.
/// Returns the workbook and the cells cut ([`TableCell`]).
pub fn table_xlsx(
    sheet: &str,
    header: &[&str],
    rows: &[Vec<String>],
    created: &str,
) -> Result<(Vec<u8>, Vec<TableCell>)> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("writing XLSX: {e}"));
    let mut book = Workbook::new();
    let when = created.trim_end_matches('Z');
    let when = ExcelDateTime::parse_from_str(when)
        .or_else(|_| ExcelDateTime::from_ymd(2000, 1, 1))
        .map_err(xlsx)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&when));
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    let ws = book.add_worksheet();
    ws.set_name(sheet).map_err(xlsx)?;
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    let mut cut = Vec::new();
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold).map_err(xlsx)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            let longest = value.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            if let Some(w) = widths.get_mut(c) {
                *w = (*w).max(longest);
            }
            let short = xlsx_cell(value);
            if short.is_some() {
                cut.push((r, c));
            }
            let value = short.as_deref().unwrap_or(value);
            ws.write_string_with_format(r as u32 + 1, c as u16, value, &wrap).map_err(xlsx)?;
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w).clamp(6, 60) as f64 + 2.0).map_err(xlsx)?;
    }
    ws.set_freeze_panes(1, 0).map_err(xlsx)?;
    Ok((book.save_to_buffer().map_err(xlsx)?, cut))
}

// ---------------------------------------------------------------------------------------------
// Chronology

impl Case {
    /// The chronology: masters coded hot (or, with a query, its hits), oldest first (undated
    /// last), with date, from, to, subject, Bates or control number, custodian, issues, note.
    pub fn chronology(&self, query: Option<&str>) -> Result<(Vec<Vec<String>>, Vec<String>)> {
        let conn = self.reader()?;
        let coding = Self::all_coding(&conn)?;
        let masters = self.master_ids(&conn)?;
        let (ids, warnings): (Vec<i64>, Vec<String>) = match query {
            Some(q) => {
                let (ids, warnings) = self.query_item_ids(q)?;
                (
                    ids.into_iter()
                        .map(u64::cast_signed)
                        .filter(|id| masters.contains(id))
                        .collect(),
                    warnings,
                )
            }
            None => {
                let hot =
                    self.config.coding.field("hot").map(|f| f.name.clone()).ok_or_else(|| {
                        Error::Coding("the coding layout has no field \"hot\"; give --query".into())
                    })?;
                let mut ids: Vec<i64> = coding
                    .keys()
                    .copied()
                    .filter(|&id| first(&coding, id, &hot) == Some("yes") && masters.contains(&id))
                    .collect();
                ids.sort_unstable();
                (ids, Vec::new())
            }
        };
        let bates = Self::bates_numbers(&conn)?;
        let zone = self.export_zone()?;
        let mut docs = self.docs(&conn, &ids)?;
        // In order of the stored (UTC) dates; shown in the export time zone.
        docs.sort_by(|a, b| {
            (a.date.is_none(), &a.date, a.id).cmp(&(b.date.is_none(), &b.date, b.id))
        });
        let rows = docs
            .iter()
            .map(|d| {
                vec![
                    d.date.as_deref().map(|date| zone.iso(date)).unwrap_or_default(),
                    d.from.clone(),
                    d.to.clone(),
                    if d.subject.is_empty() { d.name.clone() } else { d.subject.clone() },
                    bates.get(&d.id).cloned().unwrap_or_else(|| d.control.clone()),
                    d.control.clone(),
                    d.custodian.clone(),
                    all_values(&coding, d.id, "issues").join("; "),
                    all_values(&coding, d.id, "note").join("; "),
                ]
            })
            .collect();
        Ok((rows, warnings))
    }
}

// ---------------------------------------------------------------------------------------------
// Production

/// How to produce.
#[derive(Clone, Debug)]
pub struct ProductionSpec {
    /// Bates prefix (`ABC` gives `ABC0000001`).
    pub prefix: String,
    /// First Bates number; `None` continues after the last number an earlier production
    /// gave this prefix (1 for a new prefix).
    pub start: Option<u64>,
    /// Digits of the zero-padded number.
    pub digits: usize,
    /// Only documents this query hits (still coded responsive and not withheld).
    pub query: Option<String>,
    /// Produce again the families an earlier production under the same prefix carried (under
    /// new Bates numbers). Off, they are left out: a rolling production carries only what is
    /// new in its Bates series.
    pub reproduce: bool,
    /// Who produces (the audit log).
    pub actor: String,
}

/// One produced document.
#[derive(Clone, Debug, Serialize)]
pub struct Produced {
    /// Bates number.
    pub bates: String,
    /// Control number.
    pub control_number: String,
    /// A slip sheet stands in for a withheld family member.
    pub slip_sheet: bool,
}

/// What a production wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ProductionReport {
    /// The production's number in the case.
    pub production: i64,
    /// First Bates number.
    pub first: String,
    /// Last Bates number.
    pub last: String,
    /// Documents (rows of the DAT), slip sheets included.
    pub documents: u64,
    /// Of those, slip sheets for withheld family members.
    pub slip_sheets: u64,
    /// Families produced.
    pub families: u64,
    /// Documents left out because an earlier production under the prefix carried their family.
    pub already_produced: u64,
    /// blake3 of the DAT load file.
    pub dat_blake3: String,
    /// blake3 of the manifest (every file written, with its size and blake3).
    pub manifest_blake3: String,
    /// Things to know (a field holding the ® newline marker reads back as a line break).
    pub warnings: Vec<String>,
    /// Every document, in Bates order.
    pub produced: Vec<Produced>,
}

/// The DAT load file's bytes (FORMATS.md §1.1): UTF-8 with a BOM, every field between þ,
/// fields separated by byte 0x14, a line break inside a field written as ®, a þ inside a field
/// doubled, CRLF after every record (the last too).
#[must_use]
pub fn dat_bytes(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let mut record = |fields: &mut dyn Iterator<Item = String>| {
        let mut firstf = true;
        for f in fields {
            if !firstf {
                out.push('\u{14}');
            }
            firstf = false;
            out.push('þ');
            let clean =
                f.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "®").replace('þ', "þþ");
            out.push_str(&clean);
            out.push('þ');
        }
        out.push_str("\r\n");
    };
    record(&mut header.iter().map(|h| (*h).to_owned()));
    for row in rows {
        record(&mut row.iter().cloned());
    }
    out.into_bytes()
}

/// A one-page PDF saying the document was withheld, with its Bates number: deterministic,
/// built by hand (no timestamps, no ids).
fn slip_sheet_pdf(bates: &str, reason: &str) -> Vec<u8> {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
    let content = format!(
        "BT /F1 24 Tf 72 700 Td ({}) Tj ET\nBT /F1 14 Tf 72 660 Td ({}) Tj ET\n",
        esc(bates),
        esc(reason)
    );
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{body}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for o in offsets {
        pdf.push_str(&format!("{o:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.into_bytes()
}

/// The wording of a slip sheet.
pub const SLIP_SHEET_TEXT: &str = "Document withheld on the basis of privilege";

enum Source {
    Native(Native),
    Slip,
}

/// Where a produced native is read from.
enum Native {
    /// The case store (a file of its own or a pack).
    Stored,
    /// An input read in place: its source file, checked against its blake3 while planning.
    AtSource(PathBuf),
}

impl Case {
    /// Produces the documents coded responsive and not withheld (within `query`), with their
    /// whole families, under Bates numbers, into the new folder `out`: natives, text, a DAT
    /// load file and a manifest. Quality control runs first; any failure refuses the whole
    /// production with a report, and nothing is written.
    pub fn produce(&self, spec: &ProductionSpec, out: &Path) -> Result<ProductionReport> {
        let prefix = spec.prefix.trim();
        if prefix.is_empty()
            || !prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::Qc(format!(
                "Bates prefix {prefix:?}: letters, digits, - and _ only, no spaces (ABC0000001, ABC-0000001)"
            )));
        }
        if out.exists() && fs::read_dir(out)?.next().is_some() {
            return Err(Error::ExportTarget { dir: out.to_path_buf() });
        }
        let privileged = self.privileged_values()?;
        let zone = self.export_zone()?;
        let columns =
            crate::dat::columns(&self.config.exports.dat_fields).map_err(Error::Config)?;
        self.fill_legacy_hashes()?;
        let conn = self.reader()?;
        let coding = Self::all_coding(&conn)?;
        let masters = self.master_ids(&conn)?;
        let mut warnings = Vec::new();
        let allowed: Option<BTreeSet<i64>> = match &spec.query {
            Some(q) => {
                let (ids, w) = self.query_item_ids(q)?;
                warnings.extend(w);
                Some(ids.into_iter().map(u64::cast_signed).collect())
            }
            None => None,
        };
        let withheld = |id: i64| first(&coding, id, "privilege_treatment") == Some("withhold");
        let selected: Vec<i64> = masters
            .iter()
            .copied()
            .filter(|&id| {
                first(&coding, id, "responsiveness") == Some("responsive") && !withheld(id)
            })
            .filter(|id| allowed.as_ref().is_none_or(|a| a.contains(id)))
            .collect();
        // Whole families (a document and its attachments), in order of their top document.
        let mut families: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        {
            let mut root = conn.prepare_cached("SELECT doc_root_id FROM items WHERE id = ?1")?;
            let mut members =
                conn.prepare_cached("SELECT id FROM items WHERE doc_root_id = ?1 ORDER BY id")?;
            for &id in &selected {
                let r: i64 = root.query_row([id], |row| row.get(0))?;
                if let std::collections::btree_map::Entry::Vacant(slot) = families.entry(r) {
                    slot.insert(
                        members.query_map([r], |row| row.get(0))?.collect::<Result<_, _>>()?,
                    );
                }
            }
        }
        // A rolling production carries what is new: a family an earlier production of the same
        // Bates series (prefix) carried whole is left out, unless asked for again. One of its
        // members that went out as a slip sheet and is now to be produced is named: quarry makes
        // no replacement productions, so it needs --reproduce (its family again, under new
        // numbers).
        let earlier = Self::produced_before(&conn, prefix)?;
        let mut already_produced = 0u64;
        let mut overturned_notes = Vec::new();
        if !spec.reproduce {
            let mut overturned = Vec::new();
            families.retain(|_, members| {
                if !members.iter().all(|m| earlier.contains_key(m)) {
                    return true;
                }
                already_produced += members.len() as u64;
                for m in members.iter() {
                    let (bates, slip) = &earlier[m];
                    if *slip && !withheld(*m) {
                        overturned.push((*m, bates.clone()));
                    }
                }
                false
            });
            if !overturned.is_empty() {
                let mut controls =
                    conn.prepare_cached("SELECT control_number FROM items WHERE id = ?1")?;
                for (id, bates) in overturned {
                    let control: String = controls.query_row([id], |r| r.get(0))?;
                    overturned_notes.push(format!(
                        "{control} went out as a slip sheet ({bates}) and is no longer coded withheld; its family was produced before and is left out: produce it again with --reproduce"
                    ));
                }
            }
        }
        let ids: Vec<i64> = families.values().flatten().copied().collect();
        let docs = self.docs(&conn, &ids)?;
        let by_id: HashMap<i64, &Doc> = docs.iter().map(|d| (d.id, d)).collect();
        // Quality control.
        let mut problems: Vec<String> = Vec::new();
        let mut sources: HashMap<i64, Source> = HashMap::new();
        let mut text = Vec::new();
        for d in &docs {
            let privilege = first(&coding, d.id, "privilege");
            let treatment = first(&coding, d.id, "privilege_treatment");
            let is_privileged = privilege.is_some_and(|p| privileged.iter().any(|v| v == p));
            if withheld(d.id) {
                sources.insert(d.id, Source::Slip);
                continue;
            }
            if treatment == Some("redact") {
                problems.push(format!(
                    "{}: coded redact; quarry does not apply redactions, so producing it would disclose privileged content (withhold it, or produce the redacted copy outside quarry)",
                    d.control
                ));
            } else if is_privileged {
                problems.push(format!(
                    "{}: a privileged document ({}) would be produced",
                    d.control,
                    privilege.unwrap_or_default()
                ));
            }
            if first(&coding, d.id, "responsiveness").is_none() {
                let top = &by_id[&d.doc_root].control;
                problems.push(format!(
                    "{}: not reviewed (no responsiveness call), in the family of {top}",
                    d.control
                ));
            }
            match self.native_source(d)? {
                Some(native) => {
                    sources.insert(d.id, Source::Native(native));
                }
                None => problems.push(format!(
                    "{}: its native is not in the case store or at its source; the family of {} would be broken",
                    d.control, by_id[&d.doc_root].control
                )),
            }
            // Its text file would otherwise be empty, or the production stop half-written.
            if d.has_text
                && let Some(why) = self.unreadable_text(&d.blake3, &mut text)
            {
                problems.push(format!(
                    "{}: its extracted text {why}; `quarry verify` lists what else is damaged",
                    d.control
                ));
            }
        }
        // A copy of a produced document withheld or called privileged elsewhere (another
        // custodian's copy, say) would waive what the other call protects.
        let duplicates = self.duplicates_of(&conn, &docs)?;
        for &(d, ref other) in &duplicates {
            if sources.get(&d).is_some_and(|s| matches!(s, Source::Native(_)))
                && (withheld(other.0)
                    || first(&coding, other.0, "privilege")
                        .is_some_and(|p| privileged.iter().any(|v| v == p)))
            {
                problems.push(format!(
                    "{}: its duplicate {} is coded privileged or withheld; code the copies alike",
                    by_id[&d].control, other.1
                ));
            }
        }
        // Bates numbers: contiguous, unique, fitting the width, not used by an earlier production.
        let start = match spec.start {
            Some(start) => start,
            None => {
                let last: Option<i64> = conn.query_row(
                    "SELECT MAX(last_number) FROM productions WHERE prefix = ?1",
                    [prefix],
                    |r| r.get(0),
                )?;
                last.map_or(1, |n| n.cast_unsigned() + 1)
            }
        };
        let count = docs.len() as u64;
        let last = start + count.saturating_sub(1);
        let width = spec.digits;
        if last.to_string().len() > width {
            problems.push(format!(
                "Bates numbers up to {last} do not fit in {width} digits; raise --digits (numbers are never cut off)"
            ));
        }
        let bates_of = |n: u64| format!("{prefix}{n:0width$}");
        let mut earlier = conn.prepare(
            "SELECT id, first_number, last_number FROM productions WHERE prefix = ?1 ORDER BY id",
        )?;
        for row in earlier.query_map([prefix], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })? {
            let (id, a, b) = row?;
            let (a, b) = (a.cast_unsigned(), b.cast_unsigned());
            if count > 0 && start <= b && a <= last {
                problems.push(format!(
                    "Bates {}–{} overlap production {id} ({}–{}): a Bates number would repeat; start at {}",
                    bates_of(start),
                    bates_of(last),
                    bates_of(a),
                    bates_of(b),
                    b + 1
                ));
            }
        }
        if docs.is_empty() && already_produced > 0 {
            problems.push(format!(
                "nothing to produce: the {already_produced} document(s) coded responsive and not withheld (within the query) were produced before; --reproduce produces them again"
            ));
            problems.append(&mut overturned_notes);
        } else if docs.is_empty() {
            problems.push("nothing to produce: no document is coded responsive and not withheld (within the query)".into());
        }
        let numbers: Vec<String> = (0..count).map(|i| bates_of(start + i)).collect();
        let unique: BTreeSet<&String> = numbers.iter().collect();
        if unique.len() != numbers.len() {
            problems.push("a Bates number is assigned twice".into());
        }
        warnings.append(&mut overturned_notes);
        if !problems.is_empty() {
            return Err(Error::Qc(format!(
                "quality control failed; nothing was written:\n  {}",
                problems.join("\n  ")
            )));
        }
        // Where every copy of each document was found, when the DAT asks for it (ALL_PATHS,
        // DUP_COUNT): the document itself and its copies under the dedup view.
        let copies = if columns.iter().any(|(field, _)| field.needs_copies()) {
            Self::copy_locators(&conn, &docs, &duplicates)?
        } else {
            HashMap::new()
        };
        // Lay out the production.
        let bates: HashMap<i64, String> =
            ids.iter().copied().zip(numbers.iter().cloned()).collect();
        let mut rows = Vec::with_capacity(docs.len());
        // Files go to a staging folder as they are made, not into memory: a production of
        // many gigabytes once had to fit in it whole.
        let mut staging = Staging::new(out)?;
        let mut produced = Vec::new();
        let mut slips = 0;
        let mut markers = 0;
        for (i, d) in docs.iter().enumerate() {
            let b = &bates[&d.id];
            let folder = format!("{:04}", i / 1000 + 1);
            let members = &families[&d.doc_root];
            let (beg_attach, end_attach) =
                (bates[&members[0]].clone(), bates[members.last().unwrap_or(&members[0])].clone());
            let slip = matches!(sources.get(&d.id), Some(Source::Slip));
            let (ext, native, text) = if slip {
                slips += 1;
                (
                    "pdf".to_owned(),
                    NativeBytes::Made(slip_sheet_pdf(b, SLIP_SHEET_TEXT)),
                    format!("{b}\r\n{SLIP_SHEET_TEXT}\r\n").into_bytes(),
                )
            } else {
                let Some(Source::Native(native)) = sources.get(&d.id) else {
                    return Err(Error::Internal(format!("no source planned for {}", d.control)));
                };
                let ext = extension(&d.name, &d.file_type);
                let text = if d.has_text {
                    self.store.text(&d.blake3)?.unwrap_or_default()
                } else {
                    String::new()
                };
                (ext, NativeBytes::From(native), text.into_bytes())
            };
            let native_rel = format!("NATIVES\\{folder}\\{b}.{ext}");
            let text_rel = format!("TEXT\\{folder}\\{b}.txt");
            match native {
                NativeBytes::Made(bytes) => {
                    staging.write(&native_rel.replace('\\', "/"), &bytes)?
                }
                NativeBytes::From(Native::AtSource(path)) => {
                    let copied = staging.copy(&native_rel.replace('\\', "/"), None, |w| {
                        Ok(std::io::copy(&mut fs::File::open(path)?, w)?)
                    })?;
                    if copied != d.blake3 {
                        return Err(Error::Qc(format!(
                            "{}: its source {} changed during the production; nothing was written",
                            d.control,
                            quarry_types::paths::name_text(path.as_os_str())
                        )));
                    }
                }
                NativeBytes::From(Native::Stored) => {
                    staging.copy(&native_rel.replace('\\', "/"), Some(&d.blake3), |w| {
                        self.store.copy_native(&d.blake3, w)?.ok_or_else(|| {
                            Error::Internal(format!(
                                "the native of {} left the store during the production",
                                d.control
                            ))
                        })
                    })?;
                }
            }
            staging.write(&text_rel.replace('\\', "/"), &text)?;
            let multi =
                |s: &str| s.split("; ").filter(|p| !p.is_empty()).collect::<Vec<_>>().join(";");
            let date = |stored: &Option<String>| {
                stored.as_deref().map(|date| zone.us_date(date)).unwrap_or_default()
            };
            let attachments = || {
                let children = members.iter().filter(|&&m| by_id[&m].parent == Some(d.id));
                children.map(|m| bates[m].as_str()).collect::<Vec<_>>().join(";")
            };
            let row: Vec<String> = columns
                .iter()
                .map(|&(field, _)| {
                    if slip && !field.on_slip_sheet() {
                        return String::new();
                    }
                    match field {
                        DatField::BegBates | DatField::EndBates => b.clone(),
                        DatField::BegAttach => beg_attach.clone(),
                        DatField::EndAttach => end_attach.clone(),
                        DatField::ParentId => {
                            d.parent.and_then(|p| bates.get(&p)).cloned().unwrap_or_default()
                        }
                        DatField::AttachIds => attachments(),
                        DatField::ControlNumber => d.control.clone(),
                        DatField::Custodian => d.custodian.clone(),
                        DatField::AllCustodians => d.all_custodians.join(";"),
                        DatField::AllPaths => {
                            copies.get(&d.id).map(|c| c.join(";")).unwrap_or_default()
                        }
                        DatField::DupCount => {
                            copies.get(&d.id).map_or(0, |c| c.len().saturating_sub(1)).to_string()
                        }
                        DatField::From => multi(&d.from),
                        DatField::To => multi(&d.to),
                        DatField::Cc => multi(&d.cc),
                        DatField::Bcc => multi(&d.bcc),
                        DatField::Subject => d.subject.clone(),
                        DatField::DateSent => date(&d.sent),
                        DatField::TimeSent => {
                            d.sent.as_deref().map(|sent| zone.time(sent)).unwrap_or_default()
                        }
                        DatField::DateReceived => date(&d.received),
                        DatField::TimeReceived => {
                            d.received.as_deref().map(|at| zone.time(at)).unwrap_or_default()
                        }
                        DatField::DateCreated => date(&d.created),
                        DatField::DateModified => date(&d.modified),
                        DatField::TimeZone => zone.name().to_owned(),
                        DatField::FileName => d.name.clone(),
                        DatField::FileExt => ext.clone(),
                        DatField::FileSize => d.size.to_string(),
                        DatField::Md5Hash => d.md5.clone(),
                        DatField::Sha1Hash => d.sha1.clone(),
                        DatField::MessageId => d.message_id.clone().unwrap_or_default(),
                        DatField::NativePath => native_rel.clone(),
                        DatField::TextPath => text_rel.clone(),
                    }
                })
                .collect();
            markers += row.iter().filter(|f| f.contains('®')).count();
            rows.push(row);
            produced.push(Produced {
                bates: b.clone(),
                control_number: d.control.clone(),
                slip_sheet: slip,
            });
        }
        if markers > 0 {
            warnings.push(format!(
                "{markers} field(s) contain ®, the DAT's line-break marker: they read back with a line break there"
            ));
        }
        let header: Vec<&str> = columns.iter().map(|(_, name)| name.as_str()).collect();
        let dat = dat_bytes(&header, &rows);
        let dat_blake3 = blake3::hash(&dat).to_hex().to_string();
        staging.write("DATA/loadfile.dat", &dat)?;
        let mut listed = staging.files.clone();
        listed.sort();
        let mut manifest = String::from("path,bytes,blake3\r\n");
        for (path, bytes, blake3) in &listed {
            manifest.push_str(&format!("{path},{bytes},{blake3}\r\n"));
        }
        let manifest_blake3 = blake3::hash(manifest.as_bytes()).to_hex().to_string();
        staging.write("DATA/manifest.csv", manifest.as_bytes())?;
        // Moved into place whole: a reader never sees half a production.
        staging.finish(out)?;
        // Record it: the Bates numbers are taken from now on.
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO productions (prefix, first_number, last_number, digits, query, created_at, created_by, dat_blake3, manifest_blake3)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![prefix, start.cast_signed(), last.cast_signed(), width as i64, spec.query, crate::now_utc(), spec.actor, dat_blake3, manifest_blake3],
        )?;
        let production = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare("INSERT INTO production_docs (production_id, item_id, bates, slip_sheet) VALUES (?1, ?2, ?3, ?4)")?;
            for (d, p) in docs.iter().zip(&produced) {
                insert.execute(params![production, d.id, p.bates, p.slip_sheet])?;
            }
        }
        let mut log = Appender::new(&tx)?;
        log.push(
            &tx,
            &NewEntry {
                actor: &spec.actor,
                action: "export.production",
                detail: Some(serde_json::json!({
                    "production": production,
                    "out": quarry_types::paths::name_text(std::path::absolute(out)?.as_os_str()),
                    "first": bates_of(start),
                    "last": bates_of(last),
                    "documents": count,
                    "slip_sheets": slips,
                    "already_produced": already_produced,
                    "reproduce": spec.reproduce,
                    "query": spec.query,
                    "dat_blake3": dat_blake3,
                    "manifest_blake3": manifest_blake3,
                    "time_zone": zone.name(),
                })),
                ..NewEntry::default()
            },
        )?;
        log.finish(&tx)?;
        tx.commit()?;
        Ok(ProductionReport {
            production,
            first: bates_of(start),
            last: bates_of(last),
            documents: count,
            slip_sheets: slips,
            families: families.len() as u64,
            already_produced,
            dat_blake3,
            manifest_blake3,
            warnings,
            produced,
        })
    }

    /// The other instances of each document under the case's dedup view: (document, (id,
    /// control number of the copy)).
    fn duplicates_of(&self, conn: &Connection, docs: &[Doc]) -> Result<Vec<(i64, (i64, String))>> {
        let scope = self.config.dedup.scope;
        if scope == quarry_types::DedupScope::None {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare_cached(
            "SELECT c.id, c.control_number FROM items i JOIN items r ON r.id = i.doc_root_id
             JOIN items c ON c.dedup_key = i.dedup_key AND c.id <> i.id
             JOIN items cr ON cr.id = c.doc_root_id
             WHERE i.id = ?1 AND cr.dedup_key = r.dedup_key AND (c.id = c.doc_root_id) = (i.id = i.doc_root_id)
               AND (?2 OR c.custodian_id = i.custodian_id)",
        )?;
        let global = scope == quarry_types::DedupScope::Global;
        let mut out = Vec::new();
        for d in docs {
            for row in stmt.query_map(params![d.id, global], |r| Ok((r.get(0)?, r.get(1)?)))? {
                out.push((d.id, row?));
            }
        }
        Ok(out)
    }

    /// The locators of each document and of its copies under the case's dedup view
    /// (`duplicates`, as [`Case::duplicates_of`] found them), in control-number order.
    fn copy_locators(
        conn: &Connection,
        docs: &[Doc],
        duplicates: &[(i64, (i64, String))],
    ) -> Result<HashMap<i64, Vec<String>>> {
        let mut locator = conn.prepare_cached("SELECT locator FROM items WHERE id = ?1")?;
        let mut out: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
        let copies = duplicates.iter().map(|&(d, (copy, _))| (d, copy));
        for (d, item) in docs.iter().map(|d| (d.id, d.id)).chain(copies) {
            out.entry(d).or_default().push((item, locator.query_row([item], |r| r.get(0))?));
        }
        Ok(out
            .into_iter()
            .map(|(id, mut found)| {
                found.sort();
                (id, found.into_iter().map(|(_, l)| l).collect())
            })
            .collect())
    }

    /// Where a document's native can be read: the store, or for an input read in place, its
    /// source file if it still has the recorded hash.
    fn native_source(&self, d: &Doc) -> Result<Option<Native>> {
        if self.store.has_native(&d.blake3)? {
            return Ok(Some(Native::Stored));
        }
        if d.inner.is_empty() {
            let source = quarry_types::paths::source_path(&d.source);
            let Ok(hashes) = quarry_store::hash_file(&source) else { return Ok(None) };
            return Ok((hashes.blake3 == d.blake3).then_some(Native::AtSource(source)));
        }
        Ok(None)
    }

    /// Records an export of a file in the audit log, with the file's blake3.
    pub fn audit_export(
        &self,
        actor: &str,
        action: &str,
        out: &Path,
        bytes: &[u8],
        mut detail: serde_json::Value,
    ) -> Result<u64> {
        detail["out"] =
            quarry_types::paths::name_text(std::path::absolute(out)?.as_os_str()).into();
        detail["blake3"] = blake3::hash(bytes).to_hex().to_string().into();
        detail["bytes"] = bytes.len().into();
        self.audit(actor, action, detail)
    }
}

/// A produced native: made here (a slip sheet) or copied from where the case keeps it.
enum NativeBytes<'a> {
    Made(Vec<u8>),
    From(&'a Native),
}

/// A production being written: each file goes into a staging folder beside the target as it
/// is made, hashed on the way for the manifest (path, bytes, blake3), and the folder is moved
/// into place once everything is written. Dropped before that (an error), it removes itself.
struct Staging {
    dir: PathBuf,
    files: Vec<(String, u64, String)>,
    done: bool,
}

impl Staging {
    fn new(out: &Path) -> Result<Staging> {
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(parent)?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "production".into());
        let dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        Ok(Staging { dir, files: Vec::new(), done: false })
    }

    fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        self.copy(rel, None, |w| {
            w.write_all(bytes)?;
            Ok(bytes.len() as u64)
        })?;
        Ok(())
    }

    /// Writes the file `rel` through `fill` and returns its blake3 (hex): hashed on the way,
    /// unless `known` gives it (a stored native, which the store checks as it copies).
    fn copy(
        &mut self,
        rel: &str,
        known: Option<&str>,
        fill: impl FnOnce(&mut dyn std::io::Write) -> Result<u64>,
    ) -> Result<String> {
        use std::io::Write as _;
        let target = self.dir.join(rel);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = std::io::BufWriter::with_capacity(1 << 16, fs::File::create(&target)?);
        let (bytes, hash) = match known {
            Some(hash) => (fill(&mut file)?, hash.to_owned()),
            None => {
                let mut tee = quarry_store::HashingWriter::new(&mut file);
                let bytes = fill(&mut tee)?;
                (bytes, tee.finish().1.to_hex().to_string())
            }
        };
        file.flush()?;
        self.files.push((rel.to_owned(), bytes, hash.clone()));
        Ok(hash)
    }

    fn finish(mut self, out: &Path) -> Result<()> {
        if out.exists() {
            fs::remove_dir(out)?;
        }
        fs::rename(&self.dir, out)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The native's extension: from its name, else from its type.
fn extension(name: &str, file_type: &str) -> String {
    let from_name = Path::new(name).extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match from_name {
        Some(e)
            if !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            e
        }
        _ => match file_type {
            "email" => "eml".into(),
            "text" => "txt".into(),
            "" => "bin".into(),
            other => other.to_owned(),
        },
    }
}
