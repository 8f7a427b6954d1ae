//! `quarry review`, `quarry audit` and the managers' reports.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use quarry_case::{AuditEntry, AuditFilter, Batch, Case, Change, CodeRequest, DocView};

use crate::args::{
    AuditCommand, BatchBy, BatchCommand, Format, ReviewArgs, ReviewCommand, ShowFormat,
};
use crate::commands::open;
use crate::output;

/// Who to record for commands without a required reviewer (searches, exports, runs): the
/// reviewer named in QUARRY_REVIEWER, else the system user.
pub(crate) fn actor() -> String {
    ["QUARRY_REVIEWER", "USER", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

fn reviewer(args: &ReviewArgs) -> Result<String> {
    match args.reviewer.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(quarry_case::Error::NoReviewer.into()),
    }
}

pub(crate) fn review(case_dir: &Path, args: &ReviewArgs) -> Result<ExitCode> {
    let case = open(case_dir)?;
    match &args.command {
        ReviewCommand::Show { doc, query, format } => {
            let view = case.doc_view(doc, query.as_deref())?;
            match format {
                ShowFormat::Json => output::json(&view)?,
                ShowFormat::Text => show(&view)?,
            }
        }
        ReviewCommand::Code(code) => {
            let who = reviewer(args)?;
            let layout = &case.config().coding;
            let changes =
                code.set.iter().map(|s| Change::parse(layout, s)).collect::<Result<Vec<_>, _>>()?;
            let (items, query) = match &code.query {
                Some(q) => {
                    let (ids, warnings) = case.query_item_ids(q)?;
                    for w in warnings {
                        eprintln!("warning: {w}");
                    }
                    (ids, Some(q.clone()))
                }
                None => (case.item_ids(&code.docs)?, None),
            };
            if items.is_empty() {
                outln!("the query hit no document; nothing coded")?;
                return Ok(ExitCode::SUCCESS);
            }
            let request = CodeRequest {
                reviewer: who,
                items,
                changes,
                family: code.family,
                level: code.level,
                query,
            };
            let report = case.code(&request)?;
            if code.json {
                output::json(&report)?;
            } else {
                outln!(
                    "coded {} documents ({} family members): {} decisions, {} changed a value",
                    report.documents,
                    report.family_members,
                    report.decisions,
                    report.changed
                )?;
                if report.batch_reviewed > 0 {
                    outln!("{} documents of your batch are now reviewed", report.batch_reviewed)?;
                }
            }
        }
        ReviewCommand::Batch(command) => return batch(&case, args, command),
        ReviewCommand::Next { level } => {
            let who = reviewer(args)?;
            return crate::tui::run(&case, &who, *level);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn batch(case: &Case, args: &ReviewArgs, command: &BatchCommand) -> Result<ExitCode> {
    match command {
        BatchCommand::Create { query, size, keep_families, by, level, prefix, json } => {
            let spec = quarry_case::BatchSpec {
                query: query.clone(),
                size: *size,
                keep_families: *keep_families,
                by_custodian: *by == Some(BatchBy::Custodian),
                level: *level,
                prefix: prefix.clone(),
                creator: args.reviewer.clone().unwrap_or_else(actor),
            };
            let plan = case.create_batches(&spec)?;
            for w in &plan.warnings {
                eprintln!("warning: {w}");
            }
            if *json {
                output::json(&plan)?;
            } else {
                outln!(
                    "created {} batches holding {} documents",
                    plan.batches.len(),
                    plan.documents
                )?;
                if plan.already_batched > 0 {
                    outln!(
                        "{} documents were already in a level-{level} batch and were left out",
                        plan.already_batched
                    )?;
                }
                batches(&plan.batches, Format::Table)?;
            }
        }
        BatchCommand::Next { level, json, prioritized, size, keep_families } => {
            let who = reviewer(args)?;
            let next = if *prioritized {
                let (batch, new, model) =
                    case.batch_next_prioritized(&who, *size, *keep_families)?;
                if let (Some(m), false) = (model, *json) {
                    outln!(
                        "model {} trained on {} relevant, {} not relevant and {} presumed not relevant documents",
                        m.id,
                        m.positives,
                        m.negatives,
                        m.presumed
                    )?;
                }
                Some((batch, new))
            } else {
                case.batch_next(&who, *level)?
            };
            match next {
                Some((batch, new)) => {
                    if *json {
                        output::json(&serde_json::json!({ "batch": batch, "checked_out": new }))?;
                    } else {
                        let verb = if new { "checked out" } else { "you already hold" };
                        outln!(
                            "{verb} {}: {} documents, {} reviewed",
                            batch.name,
                            batch.documents,
                            batch.reviewed
                        )?;
                        outln!(
                            "next: quarry review next   (or quarry review batch show {})",
                            batch.name
                        )?;
                    }
                }
                None if *json => output::json(&serde_json::Value::Null)?,
                None => {
                    outln!("no batch left to check out")?;
                    return Ok(ExitCode::from(1));
                }
            }
        }
        BatchCommand::List { format } => batches(&case.batches()?, *format)?,
        BatchCommand::Show { batch, format } => {
            let docs = case.batch_documents(batch)?;
            match format {
                Format::Json => output::json(
                    &docs
                        .iter()
                        .map(|(_, c, r)| serde_json::json!({"control_number": c, "reviewed": r}))
                        .collect::<Vec<_>>(),
                )?,
                Format::Csv | Format::Table => output::rows(
                    &["control_number", "reviewed"],
                    &docs
                        .iter()
                        .map(|(_, c, r)| vec![c.clone(), if *r { "yes" } else { "no" }.into()])
                        .collect::<Vec<_>>(),
                    *format,
                )?,
            }
        }
        BatchCommand::Assign { batch, to } => {
            let who = reviewer(args)?;
            let assigned = case.batch_assign(&who, batch, to)?;
            outln!(
                "assigned {} to {to} ({} of {} reviewed); it is theirs at their next `quarry review batch next` or `quarry review next`",
                assigned.name,
                assigned.reviewed,
                assigned.documents
            )?;
        }
        BatchCommand::Release { batch } => {
            let who = reviewer(args)?;
            let released = case.batch_release(&who, batch.as_deref())?;
            outln!(
                "released {} ({} of {} reviewed); it goes to the next reviewer who asks",
                released.name,
                released.reviewed,
                released.documents
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn batches(list: &[Batch], format: Format) -> io::Result<()> {
    if format == Format::Json {
        return output::json(&list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            vec![
                b.name.clone(),
                b.level.to_string(),
                b.custodian.clone().unwrap_or_default(),
                b.documents.to_string(),
                b.reviewed.to_string(),
                b.status.clone(),
                b.assignee.clone().unwrap_or_default(),
                b.query.clone(),
            ]
        })
        .collect();
    output::rows(
        &["batch", "level", "custodian", "documents", "reviewed", "status", "holder", "query"],
        &rows,
        format,
    )
}

/// The text view of one document.
fn show(view: &DocView) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{}  {}  custodian {}  {}",
        view.control_number,
        view.file_type,
        view.custodian,
        view.date.as_deref().unwrap_or("undated")
    )?;
    writeln!(out, "  {:<14} {}", "Locator", view.locator)?;
    writeln!(out, "  {:<14} {} bytes, blake3 {}", "Native", view.size, view.blake3)?;
    if !view.flags.is_empty() {
        writeln!(out, "  {:<14} {}", "Flags", view.flags.join(", "))?;
    }
    for (name, value) in &view.metadata {
        writeln!(out, "  {name:<14} {value}")?;
    }
    writeln!(out, "\nFamily ({} documents)", view.family.len())?;
    for m in &view.family {
        let here = if m.this { ">" } else { " " };
        let indent = "  ".repeat(m.depth as usize);
        writeln!(out, "  {here} {indent}{}  {}  {}", m.control_number, m.file_type, m.name)?;
    }
    if !view.batches.is_empty() {
        writeln!(out, "\nBatches: {}", view.batches.join(", "))?;
    }
    if let Some(c) = &view.classification {
        writeln!(
            out,
            "\nClassification: privilege score {}; suggested {}",
            c.score,
            c.tags.join(", ")
        )?;
        for r in &c.rules {
            let address = if r.address { ", in an address line" } else { "" };
            let set_aside = if r.suppressed > 0 {
                format!(", {} in boilerplate set aside", r.suppressed)
            } else {
                String::new()
            };
            writeln!(out, "  {}  {} hits{set_aside}{address}", r.rule, r.hits)?;
        }
    }
    writeln!(out, "\nCoding")?;
    for c in &view.coding {
        let value = if c.values.is_empty() { "-".to_owned() } else { c.values.join(", ") };
        writeln!(out, "  {:<20} {value}", c.label)?;
    }
    if !view.history.is_empty() {
        writeln!(out, "\nHistory")?;
        for h in &view.history {
            writeln!(
                out,
                "  #{} {} {}  {}: {} -> {}  ({})",
                h.seq,
                h.at,
                h.reviewer,
                h.field,
                h.old.as_deref().unwrap_or("-"),
                h.new.as_deref().unwrap_or("-"),
                detail_text(&h.detail)
            )?;
        }
    }
    match &view.text {
        None => writeln!(out, "\nText: none extracted")?,
        Some(text) => {
            writeln!(
                out,
                "\nText ({} bytes; «search hit», [[rule hit]], [[~boilerplate hit]])",
                text.len()
            )?;
            writeln!(out, "{}", marked(text, &view.marks))?;
        }
    }
    Ok(())
}

fn detail_text(detail: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(level) = detail.get("level") {
        parts.push(format!("level {level}"));
    }
    if let Some(batch) = detail.get("batch").and_then(|b| b.as_str()) {
        parts.push(format!("batch {batch}"));
    }
    if let Some(of) = detail.get("family_of").and_then(|b| b.as_str()) {
        parts.push(format!("family of {of}"));
    }
    parts.join(", ")
}

/// The text with its marks: search hits in «», rule hits in [[ ]] (overlaps keep the first).
pub(crate) fn marked(text: &str, marks: &[quarry_case::Mark]) -> String {
    let mut out = String::with_capacity(text.len() + marks.len() * 6);
    let mut at = 0;
    for m in marks {
        if m.start < at
            || m.end > text.len()
            || !text.is_char_boundary(m.start)
            || !text.is_char_boundary(m.end)
        {
            continue;
        }
        out.push_str(&text[at..m.start]);
        let (open, close) = match (m.label.as_str(), m.boilerplate) {
            ("search", _) => ("«", "»"),
            (_, true) => ("[[~", "]]"),
            (_, false) => ("[[", "]]"),
        };
        out.push_str(open);
        out.push_str(&text[m.start..m.end]);
        out.push_str(close);
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

pub(crate) fn audit(case_dir: &Path, command: &AuditCommand) -> Result<ExitCode> {
    let case = open(case_dir)?;
    match command {
        AuditCommand::Verify { expect, json } => {
            let anchor = match expect {
                Some(text) => {
                    let Some((seq, hash)) = text.split_once(':') else {
                        bail!(
                            "--expect takes SEQ:HASH, as a previous `quarry audit verify` printed it"
                        );
                    };
                    let seq: u64 =
                        seq.trim().parse().context("--expect: SEQ is an entry number")?;
                    Some((seq, hash.trim().to_owned()))
                }
                None => None,
            };
            let verify = case.audit_verify(anchor.as_ref().map(|(s, h)| (*s, h.as_str())))?;
            if *json {
                output::json(&verify)?;
            } else if verify.ok {
                outln!("audit log intact: {} entries", verify.entries)?;
                outln!("head: {}:{}", verify.head_seq, verify.head_hash)?;
                outln!("(keep the head line elsewhere; `audit verify --expect` checks it later)")?;
            } else {
                outln!(
                    "audit log BROKEN at entry {}: {}",
                    verify.first_bad.unwrap_or_default(),
                    verify.problem.as_deref().unwrap_or("")
                )?;
                outln!(
                    "entries before it verify; the last good one is {}:{}",
                    verify.head_seq,
                    verify.head_hash
                )?;
            }
            Ok(if verify.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AuditCommand::Log { doc, reviewer, action, since, format } => {
            let filter = AuditFilter {
                doc: doc.clone(),
                actor: reviewer.clone(),
                action: action.clone(),
                since: since.clone(),
            };
            let mut out = io::BufWriter::new(io::stdout().lock());
            let header =
                ["seq", "at", "actor", "action", "control_number", "field", "old", "new", "detail"];
            match format {
                Format::Csv => writeln!(out, "{}", header.join(","))?,
                Format::Json => write!(out, "[")?,
                Format::Table => writeln!(
                    out,
                    "{:>6}  {:<20}  {:<12}  {:<14}  {:<14}  {:<16}  change / detail",
                    "seq", "at", "actor", "action", "document", "field"
                )?,
            }
            let mut first = true;
            let listed = case.audit_log(&filter, |e: &AuditEntry| {
                let sep = if std::mem::take(&mut first) { "\n  " } else { ",\n  " };
                write_entry(&mut out, e, *format, sep).map_err(quarry_case::Error::Io)
            })?;
            match format {
                Format::Json => writeln!(out, "{}]", if listed > 0 { "\n" } else { "" })?,
                Format::Table => writeln!(out, "{listed} entries")?,
                Format::Csv => {}
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One entry; `sep` goes before a JSON entry (a comma after the first).
fn write_entry(out: &mut impl Write, e: &AuditEntry, format: Format, sep: &str) -> io::Result<()> {
    match format {
        Format::Json => {
            let mut value = serde_json::to_value(e)?;
            value["detail"] = serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
            write!(out, "{sep}{value}")
        }
        Format::Csv => {
            let fields = [
                e.seq.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.control_number.clone().unwrap_or_default(),
                e.field.clone().unwrap_or_default(),
                e.old_value.clone().unwrap_or_default(),
                e.new_value.clone().unwrap_or_default(),
                e.detail.clone(),
            ];
            let line: Vec<String> = fields.iter().map(|f| quarry_case::csv_field(f)).collect();
            writeln!(out, "{}", line.join(","))
        }
        Format::Table => {
            let change = if e.action == "code" {
                format!(
                    "{} -> {}",
                    e.old_value.as_deref().unwrap_or("-"),
                    e.new_value.as_deref().unwrap_or("-")
                )
            } else {
                e.detail.clone()
            };
            writeln!(
                out,
                "{:>6}  {:<20}  {:<12}  {:<14}  {:<14}  {:<16}  {change}",
                e.seq,
                e.at,
                e.actor,
                e.action,
                e.control_number.as_deref().unwrap_or(""),
                e.field.as_deref().unwrap_or("")
            )
        }
    }
}

pub(crate) fn reviewers(case: &Case, since: Option<&str>, format: Format) -> Result<()> {
    let report = case.reviewer_report(since)?;
    if format == Format::Json {
        return Ok(output::json(&report)?);
    }
    let rows: Vec<Vec<String>> = report
        .reviewers
        .iter()
        .map(|r| {
            vec![
                r.reviewer.clone(),
                r.documents.to_string(),
                r.decisions.to_string(),
                r.active_hours.to_string(),
                format!("{:.1}", r.documents_per_hour),
                r.second_looked.to_string(),
                r.overturned.to_string(),
                r.overturn_rate.map_or_else(|| "-".into(), |x| format!("{:.1}%", x * 100.0)),
            ]
        })
        .collect();
    let header = [
        "reviewer",
        "documents",
        "decisions",
        "active_hours",
        "docs_per_hour",
        "second_looked",
        "overturned",
        "overturn_rate",
    ];
    output::rows(&header, &rows, format)?;
    if format == Format::Table {
        for r in &report.reviewers {
            outln!("\n{}", r.reviewer)?;
            let hours: Vec<String> = r.by_hour.iter().map(|(h, n)| format!("{h}h {n}")).collect();
            outln!("  documents per hour (UTC): {}", hours.join(", "))?;
            let values: Vec<String> = r.by_value.iter().map(|(v, n)| format!("{v} {n}")).collect();
            outln!("  decisions by value: {}", values.join(", "))?;
        }
    }
    Ok(())
}

pub(crate) fn progress(case: &Case, format: Format) -> Result<()> {
    let p = case.progress()?;
    if format == Format::Json {
        return Ok(output::json(&p)?);
    }
    let mut rows = Vec::new();
    let mut add = |kind: &str, list: &[quarry_case::ProgressRow]| {
        for r in list {
            rows.push(vec![
                kind.to_owned(),
                r.group.clone(),
                r.documents.to_string(),
                r.coded.to_string(),
                r.remaining.to_string(),
            ]);
        }
    };
    add(
        "all",
        &[quarry_case::ProgressRow {
            group: "documents".into(),
            documents: p.documents,
            coded: p.coded,
            remaining: p.documents - p.coded,
        }],
    );
    add("batch", &p.by_batch);
    add("custodian", &p.by_custodian);
    add("responsiveness", &p.by_responsiveness);
    output::rows(&["by", "group", "documents", "coded", "remaining"], &rows, format)?;
    Ok(())
}
