//! Exports of the case for other tools.

use crate::{Case, Error, Result};
use fs_err as fs;
use std::io::{BufWriter, Write};
use std::path::Path;

/// What `export text` wrote.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TextExport {
    /// Items listed in `index.csv` (one `.txt` each).
    pub items: u64,
    /// Of those, items with extracted text (the others get an empty file).
    pub with_text: u64,
    /// Bytes of text written.
    pub bytes: u64,
    /// Items whose stored text could not be read (missing, or damaged in the store), each
    /// with the reason. Their file is empty and their `flags` in `index.csv` end with
    /// `text-unreadable` (the flag search gives items whose text could not be indexed); the
    /// export goes on.
    pub unreadable: Vec<Unreadable>,
}

/// An item whose text `export text` could not read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Unreadable {
    /// Its control number.
    pub control_number: String,
    /// Why.
    pub reason: String,
}

/// Columns of `index.csv`, in order.
pub const TEXT_INDEX_COLUMNS: &[&str] =
    &["control_number", "parent", "family", "locator", "custodian", "blake3", "type", "flags"];

impl Case {
    /// Writes every item's extracted text to `out/<control number>.txt` (empty when the item
    /// has none, so there is one file per item) and `out/index.csv` listing them in
    /// control-number order. A text that cannot be read (damaged in the store, or gone) does not
    /// stop the export: the item's file is empty, its flags say `text-unreadable`, and the
    /// report lists it. `out` must be new or empty: an export never mixes with older files. The
    /// index is written last, under a temporary name renamed into place, so a reader that finds
    /// it finds a complete export. Same case, same bytes.
    pub fn export_text(&self, out: &Path) -> Result<TextExport> {
        if out.exists() && fs::read_dir(out)?.next().is_some() {
            return Err(Error::ExportTarget { dir: out.to_path_buf() });
        }
        fs::create_dir_all(out)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT i.control_number, p.control_number, f.control_number, i.locator, c.name,
                    i.blake3, i.file_type, i.flags, i.text_chars IS NOT NULL
             FROM items i
             JOIN custodians c ON c.id = i.custodian_id
             LEFT JOIN items p ON p.id = i.parent_id
             JOIN items f ON f.id = i.family_id
             ORDER BY i.id",
        )?;
        let partial = out.join("index.csv.partial");
        let mut index = BufWriter::new(fs::File::create(&partial)?);
        writeln!(index, "{}", TEXT_INDEX_COLUMNS.join(","))?;
        let mut report = TextExport::default();
        let mut text = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let control: String = row.get(0)?;
            let mut fields: [String; 8] = [
                control.clone(),
                row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
            ];
            let has_text: bool = row.get(8)?;
            let target = out.join(format!("{control}.txt"));
            let read =
                if has_text { self.store().read_text(&fields[5], &mut text) } else { Ok(false) };
            match read {
                Ok(true) => {
                    fs::write(&target, &text)?;
                    report.bytes += text.len() as u64;
                    report.with_text += 1;
                }
                Ok(false) if !has_text => {
                    fs::File::create(&target)?;
                }
                unread => {
                    fs::File::create(&target)?;
                    let reason = match unread {
                        Err(e) => crate::verify::chain(&e),
                        Ok(_) => "its stored text is missing".to_owned(),
                    };
                    report.unreadable.push(Unreadable { control_number: control.clone(), reason });
                    let flags = &mut fields[7];
                    if !flags.is_empty() {
                        flags.push(' ');
                    }
                    flags.push_str(crate::TEXT_UNREADABLE);
                }
            }
            report.items += 1;
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            writeln!(index, "{}", line.join(","))?;
        }
        index.into_inner().map_err(|e| Error::Io(e.into_error()))?.sync_all()?;
        fs::rename(&partial, out.join("index.csv"))?;
        Ok(report)
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
#[must_use]
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}
