//! One function per command: resolve settings, call the engine, print, pick the exit code.

use crate::args::{
    ClassifyArgs, Cli, Command, DedupArgs, Format, IngestArgs, InitArgs, ReportCommand, SearchArgs,
    SearchFormat, Sort,
};
use crate::output;
use anyhow::{Context, Result};
use fs_err as fs;
use quarry_case::{Case, SearchOptions, SortOrder};
use quarry_engine::{IngestOptions, WorkerCommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    let case_dir = cli.case.unwrap_or_else(|| PathBuf::from("."));
    match cli.command {
        Command::Init(args) => init(&args),
        Command::Ingest(args) => ingest(&case_dir, &args),
        Command::Report(report) => report_command(&case_dir, report),
        Command::Dedup(args) => dedup(&case_dir, &args),
        Command::Hashes => hashes(&case_dir),
        Command::Export(command) => crate::exports::export(&case_dir, command),
        Command::Search(args) => search(&case_dir, &args),
        Command::Reindex { json } => reindex(&case_dir, json),
        Command::Verify { no_sources, json } => verify(&case_dir, !no_sources, json),
        Command::Classify(args) => classify(&case_dir, &args),
        Command::Review(args) => crate::review::review(&case_dir, &args),
        Command::Audit(command) => crate::review::audit(&case_dir, &command),
        Command::Learn(command) => crate::learn::learn(&case_dir, command),
    }
}

fn classify(case_dir: &Path, args: &ClassifyArgs) -> Result<ExitCode> {
    let case = open(case_dir)?;
    if let Some(control) = &args.show {
        let found = case.classification(control)?;
        match (found, args.json) {
            (Some(doc), true) => output::json(&doc)?,
            (Some(doc), false) => output::classification(&doc)?,
            (None, true) => output::json(&serde_json::Value::Null)?,
            (None, false) => outln!("{control}: no rule hit")?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rules = match &args.rules {
        Some(file) => Some(read_user_text(file, "rules file")?),
        None => None,
    };
    let options = quarry_case::ClassifyOptions {
        rules,
        rescore_all: args.rescore_all,
        threads: args.threads.unwrap_or(0),
    };
    let bar = if args.quiet || args.json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} classifying: {bytes} of text ({bytes_per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    };
    let report = case.classify(&options, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    case.audit(
        &crate::review::actor(),
        "classify",
        serde_json::json!({
            "run": report.run,
            "rules_blake3": report.rules_blake3,
            "scope": report.scope,
            "texts_scanned": report.texts_scanned,
            "suggested": report.suggested,
        }),
    )?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        output::json(&report)?
    } else {
        output::classify_report(&report)?
    }
    Ok(ExitCode::SUCCESS)
}

fn search(case_dir: &Path, args: &SearchArgs) -> Result<ExitCode> {
    let case = open(case_dir)?;
    let text = args.query.join(" ");
    let options = SearchOptions {
        dedup: args.dedup.map_or(case.config().dedup.scope, Into::into),
        families: args.families,
        sort: match args.sort {
            Sort::Relevance => SortOrder::Relevance,
            Sort::Date => SortOrder::Date,
            Sort::Control => SortOrder::Control,
        },
    };
    let found = case.search(&text, options)?;
    case.audit(
        &crate::review::actor(),
        "search",
        serde_json::json!({
            "query": text,
            "interpreted": found.interpreted,
            "documents": found.documents,
            "families": found.families,
            "dedup": options.dedup,
        }),
    )?;
    for warning in &found.warnings {
        eprintln!("warning: {warning}");
    }
    let listed = if args.all { found.entries.len() } else { args.limit.min(found.entries.len()) };
    let snippets =
        matches!(args.format, SearchFormat::Table | SearchFormat::Json | SearchFormat::Csv);
    let mut printer = output::SearchPrinter::new(args.format, &found)?;
    // Hydrated and printed in chunks, so `--all` streams however many hits there are.
    for chunk in found.entries[..listed].chunks(500) {
        let rows = case.hit_rows(&found, chunk, snippets.then_some(160))?;
        printer.rows(&rows)?;
    }
    printer.finish(listed)?;
    Ok(ExitCode::SUCCESS)
}

fn reindex(case_dir: &Path, json: bool) -> Result<ExitCode> {
    let case = open(case_dir)?;
    let started = std::time::Instant::now();
    let bar = if json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    let indexed = case.reindex(|n| bar.inc(n))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let unreadable = case
        .index()?
        .query_ids(&format!("flag:{}", quarry_case::TEXT_UNREADABLE), &|_: &str| Ok(Vec::new()))
        .context("counting items whose text could not be read")?
        .len();
    if json {
        output::json(&serde_json::json!({
            "indexed": indexed,
            "text_unreadable": unreadable,
            "seconds": seconds,
        }))?;
    } else {
        outln!("indexed {indexed} items in {seconds:.1} s")?;
        if unreadable > 0 {
            outln!(
                "{unreadable} of them without their text, which could not be read from the store: search flag:{}",
                quarry_case::TEXT_UNREADABLE
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn open(dir: &Path) -> Result<Case> {
    Case::open(dir).with_context(|| format!("cannot open the case at {}", dir.display()))
}

fn init(args: &InitArgs) -> Result<ExitCode> {
    let name = args.name.clone().unwrap_or_else(|| case_name(&args.dir));
    Case::init(&args.dir, &name)
        .with_context(|| format!("cannot create a case at {}", args.dir.display()))?;
    outln!("created case {name:?} in {}", args.dir.display())?;
    outln!("next: quarry --case {} ingest --custodian NAME PATH...", args.dir.display())?;
    Ok(ExitCode::SUCCESS)
}

/// A case's default name: its folder's name.
fn case_name(dir: &Path) -> String {
    std::path::absolute(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "case".into())
}

fn ingest(case_dir: &Path, args: &IngestArgs) -> Result<ExitCode> {
    if args.create && !case_dir.join("case.toml").exists() {
        let name = case_name(case_dir);
        Case::init(case_dir, &name)
            .with_context(|| format!("cannot create a case at {}", case_dir.display()))?;
        eprintln!("created case {name:?} in {}", case_dir.display());
    }
    let case = open(case_dir)?;
    let passwords = match &args.passwords {
        Some(file) => read_passwords(file)?,
        None => Vec::new(),
    };
    let workers = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    let options = IngestOptions {
        custodian: args.custodian.clone(),
        paths: args.paths.clone(),
        passwords,
        workers,
        worker: WorkerCommand::current_exe()?,
        progress: !args.quiet && !args.json && std::io::stderr().is_terminal(),
        retry_exceptions: args.retry_exceptions,
    };
    let report = quarry_engine::ingest(&case, &options).context("ingest failed")?;
    case.audit(
        &crate::review::actor(),
        "ingest",
        serde_json::json!({
            "run": report.run,
            "custodian": args.custodian,
            "paths": args.paths.iter().map(|p| quarry_types::paths::name_text(p.as_os_str())).collect::<Vec<_>>(),
            "inputs_added": report.inputs_added,
            "items_added": report.items_added,
            "exceptions_added": report.exceptions_added,
        }),
    )?;
    let summary = case.summary(None)?;
    if args.json {
        output::json(&serde_json::json!({ "run": report, "case": summary }))?;
    } else {
        output::ingest_report(&report)?;
        output::summary(&summary)?;
    }
    Ok(if report.exceptions_added > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// One password a line; a trailing CR is dropped, empty lines are ignored.
fn read_passwords(file: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = user_text(fs::read(file)?);
    Ok(bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// A file the user wrote, as the text it is: a UTF-8 byte-order mark at its start is dropped
/// (Windows Notepad writes one, and it would stick to the first line's first word), and a file
/// in UTF-16 with its mark (Notepad's "Unicode", Excel's "Unicode Text") is decoded to UTF-8.
/// Anything else is returned byte for byte.
pub(crate) fn user_text(bytes: Vec<u8>) -> Vec<u8> {
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        let units = rest.chunks_exact(2).map(|c| unit([c[0], c[1]]));
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
            .into_bytes()
    };
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        rest.to_vec()
    } else if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        utf16(rest, u16::from_be_bytes)
    } else {
        bytes
    }
}

/// A text file the user wrote (rules, terms, labels, a previous privilege log), through
/// [`user_text`]; `what` names it in the error.
pub(crate) fn read_user_text(path: &Path, what: &str) -> Result<String> {
    let bytes =
        fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))?;
    String::from_utf8(user_text(bytes)).map_err(|_| {
        anyhow::anyhow!(
            "the {what} {} is neither UTF-8 nor UTF-16 text; save it as UTF-8",
            path.display()
        )
    })
}

fn report_command(case_dir: &Path, report: ReportCommand) -> Result<ExitCode> {
    let case = open(case_dir)?;
    match report {
        ReportCommand::Summary { json, dedup } => {
            let summary = case.summary(dedup.map(Into::into))?;
            if json { output::json(&summary)? } else { output::summary(&summary)? }
        }
        ReportCommand::Exceptions { format, retried } => {
            let rows = if retried { case.retried_exceptions()? } else { case.exceptions()? };
            match format {
                Format::Json => output::json(&rows)?,
                Format::Csv | Format::Table => output::exceptions(&rows, format)?,
            }
        }
        ReportCommand::Terms { terms, format, dedup } => {
            let text = read_user_text(&terms, "terms file")?;
            let lines: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect();
            let scope = dedup.map_or(case.config().dedup.scope, Into::into);
            let report = case.terms_report(&lines, scope)?;
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            output::terms(&report, format)?;
        }
        ReportCommand::Classification { tag, format } => {
            output::classifications(&case, tag.as_deref(), format)?;
        }
        ReportCommand::Reviewers { since, format } => {
            crate::review::reviewers(&case, since.as_deref(), format)?;
        }
        ReportCommand::Progress { format } => crate::review::progress(&case, format)?,
        ReportCommand::Emails { format } => output::table(&case.emails()?, format)?,
        ReportCommand::Documents { format } => output::table(&case.documents()?, format)?,
        ReportCommand::Items { format, dedup } => {
            let rows = case.items(dedup.map(Into::into))?;
            match format {
                Format::Json => output::json(&rows)?,
                Format::Csv | Format::Table => output::items(&rows, format)?,
            }
        }
        ReportCommand::Duplicates { format, dedup, all } => {
            let groups = case.duplicates(dedup.map(Into::into), !all)?;
            match format {
                Format::Json => output::json(&groups)?,
                Format::Csv | Format::Table => output::duplicates(&groups, format)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn dedup(case_dir: &Path, args: &DedupArgs) -> Result<ExitCode> {
    let mut case = open(case_dir)?;
    if let Some(scope) = args.scope {
        let mut config = case.config().clone();
        config.dedup.scope = scope.into();
        case.save_config(config)?;
    }
    outln!("dedup view: {}", case.config().dedup.scope)?;
    Ok(ExitCode::SUCCESS)
}

fn verify(case_dir: &Path, sources: bool, json: bool) -> Result<ExitCode> {
    let case = open(case_dir)?;
    let bar = if json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    let started = std::time::Instant::now();
    let check = case.verify(sources, &|n| bar.inc(n)).context("cannot verify the case")?;
    bar.finish_and_clear();
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for problem in &check.problems {
        *kinds.entry(problem.kind).or_default() += 1;
    }
    case.audit(
        &crate::review::actor(),
        "case.verify",
        serde_json::json!({
            "natives": check.natives,
            "natives_at_source": check.natives_at_source,
            "natives_at_source_skipped": check.natives_at_source_skipped,
            "native_bytes": check.native_bytes,
            "texts": check.texts,
            "texts_unchecked": check.texts_unchecked,
            "audit_entries": check.audit_entries,
            "problems": kinds,
        }),
    )?;
    if json {
        output::json(&check)?;
    } else {
        outln!(
            "natives: {} sound in the store, {} sound at their source ({} bytes read)",
            check.natives,
            check.natives_at_source,
            check.native_bytes
        )?;
        if check.natives_at_source_skipped > 0 {
            outln!(
                "         {} read in place, not looked for at their source (--no-sources)",
                check.natives_at_source_skipped
            )?;
        }
        if check.texts_unchecked == 0 {
            outln!("texts:   {} sound", check.texts)?;
        } else {
            outln!(
                "texts:   {} read; {} packed before texts carried checksums, present but not \
                 checkable",
                check.texts,
                check.texts_unchecked
            )?;
        }
        outln!(
            "audit:   {} entries in the hash chain, head {}",
            check.audit_entries,
            check.audit_head
        )?;
        outln!("checked in {:.1} s", started.elapsed().as_secs_f64())?;
        if check.sound() {
            outln!("the case holds what it recorded")?;
        } else {
            outln!("{} problems:", check.problems.len())?;
            for p in &check.problems {
                if p.blake3.is_empty() {
                    outln!("  {}: {}", p.kind, p.detail)?;
                    continue;
                }
                let more = p.items.saturating_sub(p.named.len() as u64);
                let also = if more > 0 { format!(" and {more} more") } else { String::new() };
                outln!("  {} {} ({}{also}): {}", p.kind, p.blake3, p.named.join(", "), p.detail)?;
            }
        }
    }
    Ok(if check.sound() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn hashes(case_dir: &Path) -> Result<ExitCode> {
    let case = open(case_dir)?;
    let (filled, unavailable) = case.fill_legacy_hashes()?;
    outln!("computed MD5 and SHA-1 for {filled} natives")?;
    if unavailable > 0 {
        outln!(
            "{unavailable} natives could not be read (an archive read in place that moved or changed at its source)"
        )?;
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn export_text(case_dir: &Path, out: &Path, json: bool) -> Result<ExitCode> {
    let case = open(case_dir)?;
    let report = case
        .export_text(out)
        .with_context(|| format!("cannot export text to {}", out.display()))?;
    let index = fs::read(out.join("index.csv"))?;
    case.audit(
        &crate::review::actor(),
        "export.text",
        serde_json::json!({
            "out": quarry_types::paths::name_text(std::path::absolute(out)?.as_os_str()),
            "items": report.items,
            "bytes": report.bytes,
            "text_unreadable": report.unreadable.len(),
            "index_csv_blake3": blake3::hash(&index).to_hex().to_string(),
        }),
    )?;
    if json {
        output::json(&report)?;
    } else {
        outln!(
            "wrote {} text files ({} with text, {} bytes) and index.csv to {}",
            report.items,
            report.with_text,
            report.bytes,
            out.display()
        )?;
        if !report.unreadable.is_empty() {
            eprintln!(
                "warning: {} items' texts could not be read; their files are empty and their \
                 flags in index.csv say {}:",
                report.unreadable.len(),
                quarry_case::TEXT_UNREADABLE
            );
            for item in &report.unreadable {
                eprintln!("  {}: {}", item.control_number, item.reason);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
