//! Printing: human tables, CSV and JSON on stdout.

use crate::args::{Format, SearchFormat};
use quarry_case::{DuplicateGroup, ExceptionRow, ItemRow, Search, SearchHit, Summary, TermsReport};
use quarry_engine::IngestReport;
use std::io::{self, Write};

pub(crate) fn json<T: serde::Serialize>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)
}

fn bytes(n: u64) -> String {
    const UNITS: &[&str] = &["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn kinds(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn ingest_report(report: &IngestReport) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let rate = if report.seconds > 0.0 { report.bytes as f64 / report.seconds / 1e6 } else { 0.0 };
    writeln!(out, "This run (#{})", report.run)?;
    writeln!(out, "  inputs found        {:>10}", report.inputs_found)?;
    writeln!(out, "  already in the case {:>10}   (skipped)", report.inputs_skipped)?;
    writeln!(
        out,
        "  inputs added        {:>10}   ({}, {:.1} s, {rate:.1} MB/s)",
        report.inputs_added,
        bytes(report.bytes),
        report.seconds
    )?;
    if report.inputs_retried > 0 {
        writeln!(
            out,
            "  inputs retried      {:>10}   ({} earlier exceptions moved to the history)",
            report.inputs_retried, report.exceptions_retried
        )?;
    }
    writeln!(out, "  items added         {:>10}", report.items_added)?;
    writeln!(
        out,
        "  exceptions added    {:>10}   {}",
        report.exceptions_added,
        kinds(&report.exceptions_by_kind)
    )?;
    writeln!(out, "  items indexed       {:>10}", report.items_indexed)?;
    if report.peak_rss_main > 0 {
        writeln!(
            out,
            "  peak memory         {:>10}   (largest worker {})",
            bytes(report.peak_rss_main),
            bytes(report.peak_rss_worker)
        )?;
    }
    writeln!(out)
}

pub(crate) fn summary(s: &Summary) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "Case {:?} (dedup view: {})", s.case, s.dedup_scope)?;
    writeln!(out, "  custodians          {:>10}", s.custodians)?;
    writeln!(out, "  input files         {:>10}   ({})", s.input_files, bytes(s.input_bytes))?;
    writeln!(out, "  container entries   {:>10}", s.container_entries)?;
    writeln!(
        out,
        "  items               {:>10}   ({} top-level, {} in containers)",
        s.items, s.items_top_level, s.items_children
    )?;
    writeln!(out, "    unique            {:>10}", s.unique_items)?;
    writeln!(out, "    duplicates        {:>10}", s.duplicate_items)?;
    writeln!(out, "  distinct natives    {:>10}   ({})", s.unique_natives, bytes(s.unique_bytes))?;
    writeln!(out, "  exceptions          {:>10}   {}", s.exceptions, kinds(&s.exceptions_by_kind))?;
    writeln!(out, "  types               {}", kinds(&s.items_by_type))?;
    if s.reconciled {
        writeln!(
            out,
            "  reconciled          yes: {} inputs + {} entries = {} items + {} exceptions",
            s.input_files, s.container_entries, s.items, s.exceptions
        )?;
    } else {
        writeln!(
            out,
            "  reconciled          NO: {} inputs + {} entries vs {} items + {} exceptions",
            s.input_files, s.container_entries, s.items, s.exceptions
        )?;
        for locator in &s.unbalanced_containers {
            writeln!(out, "    unbalanced container: {locator}")?;
        }
    }
    Ok(())
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

pub(crate) fn rows(header: &[&str], rows: &[Vec<String>], format: Format) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if format == Format::Csv {
        writeln!(out, "{}", header.join(","))?;
        for row in rows {
            writeln!(out, "{}", row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","))?;
        }
        return Ok(());
    }
    // Table: every column but the last padded to its widest cell (capped, so one long path
    // does not push the message off screen). One row a line: a line break or tab in a cell (a
    // file name can hold one) is shown escaped; CSV and JSON keep it as it is.
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|c| table_cell(c)).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count()).min(60);
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(
                |(i, c)| {
                    if i == last { (*c).to_owned() } else { format!("{c:<w$}", w = widths[i]) }
                },
            )
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    writeln!(out, "{} rows", rows.len())
}

/// A table cell on one line: `\n`, `\r`, `\t` for those characters, `\u{..}` for any other
/// control character.
fn table_cell(cell: &str) -> String {
    if !cell.chars().any(char::is_control) {
        return cell.to_owned();
    }
    cell.chars().fold(String::with_capacity(cell.len() + 4), |mut out, c| {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
        out
    })
}

pub(crate) fn exceptions(list: &[ExceptionRow], format: Format) -> io::Result<()> {
    // Retried exceptions (`--retried`) also say which run retried them.
    let retried = list.iter().any(|e| e.retried_run.is_some());
    let table: Vec<Vec<String>> = list
        .iter()
        .map(|e| {
            let mut row = vec![
                e.custodian.clone(),
                e.locator.clone(),
                e.kind.clone(),
                e.parent.clone().unwrap_or_default(),
                e.size.map(|s| s.to_string()).unwrap_or_default(),
                e.blake3.clone().unwrap_or_default(),
            ];
            if retried {
                row.push(e.retried_run.map(|r| r.to_string()).unwrap_or_default());
            }
            row.push(e.message.clone());
            row
        })
        .collect();
    let mut header = vec!["custodian", "locator", "kind", "parent", "size", "blake3"];
    if retried {
        header.push("retried_run");
    }
    header.push("message");
    rows(&header, &table, format)
}

pub(crate) fn duplicates(list: &[DuplicateGroup], format: Format) -> io::Result<()> {
    let table: Vec<Vec<String>> = list
        .iter()
        .map(|g| {
            vec![
                g.master.clone(),
                g.instances.to_string(),
                g.custodian.clone(),
                g.blake3.clone(),
                g.dedup_key.clone(),
                g.all_custodians.join("; "),
                g.duplicates.join("; "),
                g.all_paths.join("; "),
            ]
        })
        .collect();
    rows(
        &[
            "master",
            "instances",
            "custodian",
            "blake3",
            "dedup_key",
            "all_custodians",
            "duplicates",
            "all_paths",
        ],
        &table,
        format,
    )
}

pub(crate) fn items(list: &[ItemRow], format: Format) -> io::Result<()> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let table: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.control_number.clone(),
                i.custodian.clone(),
                opt(&i.parent),
                i.family.clone(),
                i.master.clone(),
                i.file_type.clone(),
                i.size.to_string(),
                i.blake3.clone(),
                opt(&i.md5),
                opt(&i.sha1),
                opt(&i.modified),
                i.text_chars.map(|n| n.to_string()).unwrap_or_default(),
                i.flags.clone(),
                i.locator.clone(),
            ]
        })
        .collect();
    let header = [
        "control_number",
        "custodian",
        "parent",
        "family",
        "master",
        "type",
        "size",
        "blake3",
        "md5",
        "sha1",
        "modified",
        "text_chars",
        "flags",
        "locator",
    ];
    if format == Format::Table {
        // A terminal has no room for three hashes: show the short blake3 only.
        let short: Vec<Vec<String>> = table
            .into_iter()
            .map(|mut row| {
                row[7].truncate(12);
                row.remove(9);
                row.remove(8);
                row
            })
            .collect();
        let header: Vec<&str> = header
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 8 && *i != 9)
            .map(|(_, h)| *h)
            .collect();
        return rows(&header, &short, format);
    }
    rows(&header, &table, format)
}

/// A plain-text table report in any format (JSON: an array of objects keyed by column).
pub(crate) fn table(table: &quarry_case::Table, format: Format) -> io::Result<()> {
    if format == Format::Json {
        let objects: Vec<serde_json::Map<String, serde_json::Value>> = table
            .rows
            .iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| ((*c).to_owned(), serde_json::Value::String(v.clone())))
                    .collect()
            })
            .collect();
        return json(&objects);
    }
    rows(&table.columns, &table.rows, format)
}

/// Prints search hits as they are hydrated, so `--all` never holds every row.
pub(crate) struct SearchPrinter {
    format: SearchFormat,
    out: io::StdoutLock<'static>,
    first: bool,
}

fn clip(s: &str, width: usize) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.chars().count() <= width {
        return one_line;
    }
    let mut clipped: String = one_line.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

impl SearchPrinter {
    pub(crate) fn new(format: SearchFormat, search: &Search) -> io::Result<SearchPrinter> {
        let mut out = io::stdout().lock();
        let counts = format!(
            "{} documents in {} families{}",
            search.documents,
            search.families,
            if search.entries.len() as u64 > search.documents {
                format!(" ({} listed with family members)", search.entries.len())
            } else {
                String::new()
            }
        );
        match format {
            SearchFormat::Table => {
                writeln!(out, "query: {}", search.interpreted)?;
                writeln!(out, "{counts}")?;
                writeln!(
                    out,
                    "{:<14}  {:<10}  {:<28}  {:<40}  {:<14}  snippet",
                    "control", "date", "from", "subject", "custodian"
                )?;
            }
            SearchFormat::Csv => {
                writeln!(
                    out,
                    "control_number,hit,score,date,from,subject,custodian,all_custodians,type,family,locator,instances,snippet"
                )?;
            }
            SearchFormat::Json => {
                write!(
                    out,
                    "{{\"query\":{},\"warnings\":{},\"documents\":{},\"families\":{},\"hits\":[",
                    serde_json::to_string(&search.interpreted)?,
                    serde_json::to_string(&search.warnings)?,
                    search.documents,
                    search.families
                )?;
            }
            SearchFormat::Ids => eprintln!("{counts}"),
        }
        Ok(SearchPrinter { format, out, first: true })
    }

    pub(crate) fn rows(&mut self, rows: &[SearchHit]) -> io::Result<()> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        for row in rows {
            let snippet = row.snippet.as_ref().map(|s| s.marked("[[", "]]")).unwrap_or_default();
            match self.format {
                SearchFormat::Table => {
                    let snippet = if row.hit { snippet } else { "(family member)".to_owned() };
                    writeln!(
                        self.out,
                        "{:<14}  {:<10}  {:<28}  {:<40}  {:<14}  {}",
                        row.control_number,
                        opt(&row.date).get(..10).unwrap_or_default(),
                        clip(&opt(&row.from), 28),
                        clip(&opt(&row.subject), 40),
                        clip(&row.custodian, 14),
                        clip(&snippet, 160)
                    )?;
                }
                SearchFormat::Csv => {
                    let fields = [
                        row.control_number.clone(),
                        row.hit.to_string(),
                        format!("{:.4}", row.score),
                        opt(&row.date),
                        opt(&row.from),
                        opt(&row.subject),
                        row.custodian.clone(),
                        row.all_custodians.join("; "),
                        row.file_type.clone(),
                        row.family.clone(),
                        row.locator.clone(),
                        row.instances.to_string(),
                        snippet,
                    ];
                    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                    writeln!(self.out, "{}", line.join(","))?;
                }
                SearchFormat::Json => {
                    if !self.first {
                        write!(self.out, ",")?;
                    }
                    writeln!(self.out)?;
                    serde_json::to_writer(&mut self.out, row)?;
                }
                SearchFormat::Ids => writeln!(self.out, "{}", row.control_number)?,
            }
            self.first = false;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self, listed: usize) -> io::Result<()> {
        match self.format {
            SearchFormat::Json => writeln!(self.out, "]}}"),
            SearchFormat::Table => writeln!(self.out, "{listed} listed"),
            _ => Ok(()),
        }
    }
}

pub(crate) fn terms(report: &TermsReport, format: Format) -> io::Result<()> {
    if format == Format::Json {
        return json(report);
    }
    let mut table: Vec<Vec<String>> = report
        .terms
        .iter()
        .map(|t| {
            vec![
                t.term.clone(),
                if t.error { "error".to_owned() } else { t.documents.to_string() },
                t.unique.to_string(),
                t.with_families.to_string(),
                t.warnings.join(" | ").replace('\n', " "),
            ]
        })
        .collect();
    table.push(vec![
        "(any term)".to_owned(),
        report.documents.to_string(),
        String::new(),
        report.with_families.to_string(),
        format!("{} documents in the case (dedup: {})", report.total_documents, report.dedup),
    ]);
    rows(&["term", "documents", "unique", "with_families", "warnings"], &table, format)
}

pub(crate) fn classify_report(r: &quarry_case::ClassifyReport) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "classification run {} ({} items: {})", r.run, r.scope, r.reason)?;
    writeln!(out, "  items in scope        {}", r.items)?;
    writeln!(
        out,
        "  texts scanned         {} ({}, {:.1} s, {:.0} MB/s)",
        r.texts_scanned,
        bytes(r.bytes_scanned),
        r.scan_seconds,
        r.mb_per_second
    )?;
    writeln!(
        out,
        "  texts scored before   {} items (the same native as an earlier item)",
        r.items_reused
    )?;
    writeln!(out, "  items without text    {}", r.items_without_text)?;
    if !r.texts_unreadable.is_empty() {
        writeln!(
            out,
            "  texts unreadable      {} (not scored: {})",
            r.texts_unreadable.len(),
            r.texts_unreadable.join(", ")
        )?;
    }
    writeln!(out, "  patterns              {}", r.patterns)?;
    writeln!(
        out,
        "  boilerplate           {} paragraphs; {} privilege hits set aside",
        r.boilerplate_paragraphs, r.suppressed_hits
    )?;
    if r.rescored_earlier > 0 {
        writeln!(
            out,
            "  earlier texts rescored {} (a paragraph of theirs became boilerplate)",
            r.rescored_earlier
        )?;
    }
    writeln!(out, "suggestions in the case:")?;
    if r.suggested.is_empty() {
        writeln!(out, "  none")?;
    }
    for t in &r.suggested {
        writeln!(out, "  {:<30} {} items", t.tag, t.items)?;
    }
    writeln!(out, "done in {:.1} s", r.seconds)
}

pub(crate) fn classification(doc: &quarry_case::DocClassification) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}  score {}  {}", doc.control_number, doc.score, doc.tags.join(" "))?;
    for r in &doc.rules {
        let mut line = format!("  {:<50} {} hits", r.rule, r.hits);
        if r.suppressed > 0 {
            line.push_str(&format!(", {} in boilerplate", r.suppressed));
        }
        if r.address {
            line.push_str(", in an address line");
        }
        if r.weight > 0 {
            line.push_str(&format!(", weight {}", r.weight));
        }
        writeln!(out, "{line}")?;
    }
    for h in &doc.hits {
        let zone = serde_json::to_value(h.zone)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:>8}..{:<8} {:<8} {}{}",
            h.start,
            h.end,
            zone,
            h.rule,
            if h.boilerplate { " (boilerplate)" } else { "" }
        )?;
    }
    Ok(())
}

/// Streams the documents with suggestions.
pub(crate) fn classifications(
    case: &quarry_case::Case,
    tag: Option<&str>,
    format: Format,
) -> anyhow::Result<()> {
    let rules = |d: &quarry_case::DocClassification| {
        d.rules
            .iter()
            .map(|r| {
                if r.suppressed > 0 {
                    format!("{} x{} (+{} boilerplate)", r.rule, r.hits, r.suppressed)
                } else {
                    format!("{} x{}", r.rule, r.hits)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let header = ["control_number", "score", "tags", "rules"];
    match format {
        Format::Table => {
            let mut list = Vec::new();
            case.classifications(tag, |d| {
                list.push(vec![
                    d.control_number.clone(),
                    d.score.to_string(),
                    d.tags.join(" "),
                    rules(&d),
                ]);
                Ok(())
            })?;
            rows(&header, &list, format)?;
        }
        Format::Csv => {
            let mut out = io::stdout().lock();
            writeln!(out, "{}", header.join(","))?;
            case.classifications(tag, |d| {
                let cells =
                    [d.control_number.clone(), d.score.to_string(), d.tags.join(" "), rules(&d)];
                writeln!(
                    out,
                    "{}",
                    cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",")
                )
                .map_err(quarry_case::Error::Io)
            })?;
        }
        Format::Json => {
            let mut out = io::stdout().lock();
            write!(out, "[")?;
            let mut first = true;
            case.classifications(tag, |d| {
                let sep = if first { "\n" } else { ",\n" };
                first = false;
                let json = serde_json::to_string(&d)
                    .map_err(|e| quarry_case::Error::Internal(e.to_string()))?;
                write!(out, "{sep}{json}").map_err(quarry_case::Error::Io)
            })?;
            writeln!(out, "\n]")?;
        }
    }
    Ok(())
}
