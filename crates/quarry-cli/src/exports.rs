//! `quarry export privlog | production | chronology`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use fs_err as fs;
use quarry_case::{Case, PRIVLOG_COLUMNS, ProductionSpec};

use crate::args::{ExportCommand, TableFormat};
use crate::commands::open;
use crate::output;
use crate::review::actor;

pub(crate) fn export(case_dir: &Path, command: ExportCommand) -> Result<ExitCode> {
    if let ExportCommand::Text { out, json } = &command {
        return crate::commands::export_text(case_dir, out, *json);
    }
    let case = open(case_dir)?;
    match command {
        ExportCommand::Text { .. } => {}
        ExportCommand::Privlog { out, format, expand_threads, diff_from, json } => {
            let format = table_format(&out, format)?;
            let previous = diff_from.as_deref().map(read_table).transpose()?;
            let log = case.privilege_log(expand_threads)?;
            for w in &log.warnings {
                eprintln!("warning: {w}");
            }
            let rows: Vec<Vec<String>> =
                log.rows.iter().map(quarry_case::PrivLogRow::values).collect();
            let bytes = table_bytes(&case, "Privilege log", PRIVLOG_COLUMNS, &rows, format)?;
            let diff = previous.map(|p| quarry_case::diff_privilege_logs(&p, &log.rows));
            write_new(&out, &bytes)?;
            case.audit_export(
                &actor(),
                "export.privlog",
                &out,
                &bytes,
                serde_json::json!({
                    "rows": rows.len(),
                    "documents": log.documents,
                    "expand_threads": expand_threads,
                    "diff_from": diff_from.as_deref().map(|p| quarry_types::paths::name_text(p.as_os_str())),
                    "diff": diff,
                    "time_zone": case.export_zone()?.name(),
                }),
            )?;
            if json {
                output::json(&serde_json::json!({
                    "rows": rows.len(),
                    "documents": log.documents,
                    "out": quarry_types::paths::name_text(out.as_os_str()),
                    "diff": diff,
                }))?;
            } else {
                outln!(
                    "wrote {} rows ({} documents) to {}",
                    rows.len(),
                    log.documents,
                    out.display()
                )?;
                if let Some(d) = diff {
                    outln!(
                        "since {}: {} added, {} removed, {} changed",
                        diff_from.as_deref().unwrap_or(Path::new("")).display(),
                        d.added.len(),
                        d.removed.len(),
                        d.changed.len()
                    )?;
                    for k in &d.added {
                        outln!("  + {k}")?;
                    }
                    for k in &d.removed {
                        outln!("  - {k}")?;
                    }
                    for (k, columns) in &d.changed {
                        outln!("  ~ {k}: {}", columns.join(", "))?;
                    }
                }
            }
        }
        ExportCommand::Production { out, prefix, start, digits, query, reproduce, json } => {
            let spec = ProductionSpec { prefix, start, digits, query, reproduce, actor: actor() };
            let report = case.produce(&spec, &out)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            if json {
                output::json(&report)?;
            } else {
                outln!(
                    "production {}: {}–{}, {} documents in {} families ({} slip sheets) in {}",
                    report.production,
                    report.first,
                    report.last,
                    report.documents,
                    report.families,
                    report.slip_sheets,
                    out.display()
                )?;
                if report.already_produced > 0 {
                    outln!(
                        "{} document(s) produced before left out (--reproduce produces them again)",
                        report.already_produced
                    )?;
                }
                outln!("load file DATA/loadfile.dat (blake3 {})", report.dat_blake3)?;
                outln!("manifest  DATA/manifest.csv (blake3 {})", report.manifest_blake3)?;
            }
        }
        ExportCommand::Chronology { out, format, query } => {
            let format = table_format(&out, format)?;
            let (rows, warnings) = case.chronology(query.as_deref())?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            let bytes =
                table_bytes(&case, "Chronology", quarry_case::CHRONOLOGY_COLUMNS, &rows, format)?;
            write_new(&out, &bytes)?;
            case.audit_export(
                &actor(),
                "export.chronology",
                &out,
                &bytes,
                serde_json::json!({
                    "rows": rows.len(),
                    "query": query,
                    "time_zone": case.export_zone()?.name(),
                }),
            )?;
            outln!("wrote {} documents to {}", rows.len(), out.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table_format(out: &Path, format: Option<TableFormat>) -> Result<TableFormat> {
    let by_name = out.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    Ok(match (format, by_name.as_deref()) {
        (Some(TableFormat::Csv), Some("xlsx")) | (Some(TableFormat::Xlsx), Some("csv")) => {
            bail!("--format and the extension of {} disagree", out.display())
        }
        (Some(f), _) => f,
        (None, Some("xlsx")) => TableFormat::Xlsx,
        (None, _) => TableFormat::Csv,
    })
}

fn table_bytes(
    case: &Case,
    sheet: &str,
    header: &[&str],
    rows: &[Vec<String>],
    format: TableFormat,
) -> Result<Vec<u8>> {
    Ok(match format {
        TableFormat::Csv => quarry_case::table_csv(header, rows),
        // The case's creation time stands in for "now", so the same case gives the same bytes.
        TableFormat::Xlsx => {
            let (bytes, cut) =
                quarry_case::table_xlsx(sheet, header, rows, &case.config().created)?;
            let cut: Vec<String> =
                cut.iter().map(|&(r, c)| format!("{} ({})", rows[r][0], header[c])).collect();
            if !cut.is_empty() {
                eprintln!(
                    "warning: {} value(s) longer than the {} characters an XLSX cell holds were cut, each with a note saying so; the CSV export holds them whole: {}",
                    cut.len(),
                    quarry_case::XLSX_CELL_LIMIT,
                    cut.join(", ")
                );
            }
            bytes
        }
    })
}

/// Writes a new file (refusing to replace one), complete or not at all.
fn write_new(out: &Path, bytes: &[u8]) -> Result<()> {
    if out.exists() {
        bail!("{} already exists; write the export to a new file", out.display());
    }
    let tmp = out.with_extension(format!("partial-{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, out)?;
    Ok(())
}

/// A table written earlier (CSV or XLSX): rows of column name -> value.
pub(crate) fn read_table(path: &Path) -> Result<Vec<BTreeMap<String, String>>> {
    let xlsx = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let rows: Vec<Vec<String>> = if xlsx {
        use calamine::{Reader, open_workbook_auto};
        let mut book =
            open_workbook_auto(path).with_context(|| format!("cannot read {}", path.display()))?;
        let sheet = book.sheet_names().first().cloned().context("the workbook has no sheet")?;
        let range = book
            .worksheet_range(&sheet)
            .with_context(|| format!("cannot read {}", path.display()))?;
        range.rows().map(|r| r.iter().map(ToString::to_string).collect()).collect()
    } else {
        quarry_case::parse_csv(&crate::commands::read_user_text(path, "previous privilege log")?)
    };
    let mut rows = rows.into_iter();
    let header = rows.next().unwrap_or_default();
    Ok(rows
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.into_iter().chain(std::iter::repeat(String::new())))
                .collect()
        })
        .collect())
}
