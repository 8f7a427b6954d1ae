//! The ingest pipeline.
//!
//! ```text
//! walker ──jobs (bounded)──► N supervisors ──► worker processes (extract, store natives/text)
//!    ▲                             │
//!    └──── credits (window) ◄── writer (this thread): reorders by walk sequence, commits
//!                                  whole inputs in batched SQLite transactions
//! ```
//!
//! - **Deterministic.** The walker sorts every folder; inputs are committed in walk order
//!   whatever order the workers finish in, so control numbers depend only on the inputs.
//! - **Bounded memory.** At most [`WINDOW`] inputs are between the walker and the database at
//!   any time (the credit channel), whatever the collection's size.
//! - **Resumable.** An input and everything inside it is one transaction; an input already in
//!   the case (same custodian and path) is skipped, so a killed run run again picks up where it
//!   stopped and counts every input exactly once.

use crate::protocol::WorkerConfig;
use crate::supervisor::{Supervisor, WorkerCommand};
use crate::{Error, Result};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quarry_case::{Case, InputRecords};
use quarry_types::{ExceptionKind, ExceptionRecord, Position, Record};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most inputs in flight between the walker and the database.
pub const WINDOW: usize = 512;
/// Inputs per commit at most.
const COMMIT_INPUTS: usize = 256;
/// Records per commit at most (a commit is never split inside an input).
const COMMIT_RECORDS: usize = 8192;
/// Records finished but not yet committed above which supervisors take no new input.
const MAX_BUFFERED_RECORDS: u64 = 200_000;
/// Longest wait before committing what is ready.
const COMMIT_INTERVAL: Duration = Duration::from_millis(250);

/// What to ingest and how.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Custodian of every input of this run.
    pub custodian: String,
    /// Files and folders to ingest.
    pub paths: Vec<PathBuf>,
    /// Passwords to try on encrypted archive entries.
    pub passwords: Vec<Vec<u8>>,
    /// Extraction worker processes (default: one per core).
    pub workers: usize,
    /// How to start a worker.
    pub worker: WorkerCommand,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Inputs already in the case that have exceptions are processed again (with this run's
    /// passwords and the case's current limits); their items stay, their exceptions move to the
    /// history, and what the retry finds is added.
    pub retry_exceptions: bool,
}

/// What one ingest run did.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IngestReport {
    /// The run's id in the case.
    pub run: i64,
    /// Input files found by the walk.
    pub inputs_found: u64,
    /// Inputs already in the case, skipped.
    pub inputs_skipped: u64,
    /// Inputs added by this run.
    pub inputs_added: u64,
    /// Items added by this run.
    pub items_added: u64,
    /// Exceptions added by this run.
    pub exceptions_added: u64,
    /// Inputs whose exceptions this run retried.
    pub inputs_retried: u64,
    /// Earlier exceptions moved to the history by those retries.
    pub exceptions_retried: u64,
    /// Exceptions added, per kind.
    pub exceptions_by_kind: BTreeMap<String, u64>,
    /// Bytes of the input files added (retried inputs not counted).
    pub bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Peak resident memory of this process, in bytes (Linux only; 0 elsewhere).
    pub peak_rss_main: u64,
    /// Peak resident memory of the largest extraction worker, in bytes (Linux only).
    pub peak_rss_worker: u64,
    /// Items added to the full-text index (with any a stopped earlier run left unindexed).
    pub items_indexed: u64,
}

/// One input, as the walker found it.
struct Job {
    seq: u64,
    path: PathBuf,
    source_path: String,
    locator: String,
    size: u64,
    /// Set when the walker already knows the input is an exception (a symlink, an unreadable
    /// folder): no worker is needed.
    exception: Option<(ExceptionKind, String)>,
    /// For a retry: the `inner` paths of the input's items already in the case.
    retry: Option<Vec<String>>,
}

struct Finished {
    seq: u64,
    input: InputRecords,
    size: u64,
}

/// Ingests `options.paths` into `case`.
pub fn ingest(case: &Case, options: &IngestOptions) -> Result<IngestReport> {
    let started = Instant::now();
    check_custodian(&options.custodian)?;
    for path in &options.paths {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(Error::User(format!("{} does not exist; check the path", path.display())));
        }
    }
    let case_dir = std::path::absolute(case.dir()).map_err(|e| Error::Worker(e.to_string()))?;
    // The index writer first: a second ingest (or a reindex) running on this case is refused
    // before anything is written.
    let index_writer = if case.config().index.at_ingest {
        let index = case.index()?;
        let through = index.indexed_through().map_err(quarry_case::Error::from)?.unwrap_or(0);
        Some((index.writer().map_err(quarry_case::Error::from)?, through))
    } else {
        None
    };
    case.store().clear_tmp()?;
    let mut writer = case.writer()?;
    let command = format!(
        "ingest --custodian {} {}",
        options.custodian,
        options
            .paths
            .iter()
            .map(|p| quarry_types::paths::name_text(p.as_os_str()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let run = writer.begin_run(&command)?;
    let config = WorkerConfig {
        case_dir,
        limits: case.config().limits.clone(),
        passwords: options.passwords.clone(),
        legacy_hashes: case.config().hashes.legacy_at_ingest,
    };
    let progress = Progress::new(options.progress, &options.paths);
    let (job_tx, job_rx) = bounded::<Job>(options.workers.max(1) * 4);
    let (done_tx, done_rx) = unbounded::<Result<Finished>>();
    let (credit_tx, credit_rx) = bounded::<()>(WINDOW);
    for _ in 0..WINDOW {
        credit_tx.send(()).expect("the credit channel holds WINDOW");
    }
    let skipped = Arc::new(AtomicU64::new(0));
    let worker_peak = Arc::new(AtomicU64::new(0));
    let flow = Flow::default();
    let mut report = IngestReport { run, ..IngestReport::default() };

    let result = std::thread::scope(|scope| -> Result<()> {
        let walker = {
            let skipped = Arc::clone(&skipped);
            let lookup = case.input_lookup()?;
            let custodian = options.custodian.clone();
            let paths = options.paths.clone();
            let credit_rx = credit_rx.clone();
            let retry = options.retry_exceptions;
            scope.spawn(move || {
                walk(&paths, &custodian, retry, case, &lookup, &job_tx, &credit_rx, &skipped)
            })
        };
        for _ in 0..options.workers.max(1) {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            let mut supervisor =
                Supervisor::new(options.worker.clone(), config.clone(), Arc::clone(&worker_peak));
            let custodian = options.custodian.clone();
            let flow = &flow;
            scope.spawn(move || supervise(&mut supervisor, &custodian, &job_rx, &done_tx, flow));
        }
        drop(done_tx);
        drop(job_rx);
        // The index follows the database: after each commit the indexer adds the new items,
        // and commits the index once at the end (a stopped run is caught up by the next one).
        let (indexed_tx, indexed_rx) = unbounded::<()>();
        let indexer = scope.spawn(move || match index_writer {
            Some((writer, through)) => index_follow(case, through, writer, &indexed_rx),
            None => Ok(0),
        });
        let outcome = write(
            &mut writer,
            run,
            &done_rx,
            &credit_tx,
            &indexed_tx,
            &progress,
            &flow,
            &mut report,
        );
        flow.stop.store(true, Ordering::Relaxed);
        // On a fatal error, stop the walker and the supervisors: dropping the receivers makes
        // their sends fail.
        drop(done_rx);
        drop(credit_tx);
        drop(credit_rx);
        let walked = walker
            .join()
            .map_err(|_| Error::Worker("the walker panicked; this is a bug".into()))?;
        // Then let the indexer finish what was committed (it commits the index on its way out).
        drop(indexed_tx);
        let indexed = indexer
            .join()
            .map_err(|_| Error::Worker("the indexer panicked; this is a bug".into()))?;
        outcome?;
        report.items_indexed = indexed.map_err(|e| {
            Error::Worker(format!(
                "the items are in the case, but indexing them failed ({e}); run `quarry reindex`"
            ))
        })?;
        report.inputs_found = walked?;
        Ok(())
    });
    progress.finish();
    // The walker's skips (already in the case) add to the writer's (named twice in this run).
    report.inputs_skipped += skipped.load(Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    report.peak_rss_main = crate::peak_rss(None).unwrap_or(0);
    report.peak_rss_worker = worker_peak.load(Ordering::Relaxed);
    let status = if result.is_ok() { "finished" } else { "failed" };
    writer.finish_run(run, status)?;
    result.map(|()| report)
}

/// Refuses a custodian name that is empty, has spaces at either end or holds a control
/// character. Each is a slip (an unset shell variable, a stray space, a pasted line break) that
/// would otherwise file the collection under a custodian of its own, `"sanders-r "` beside
/// `"sanders-r"`, in every report and load file.
fn check_custodian(name: &str) -> Result<()> {
    let problem = if name.trim().is_empty() {
        "is empty"
    } else if name.chars().any(char::is_control) {
        "holds a control character (a tab or line break)"
    } else if name.trim() != name {
        "starts or ends with a space"
    } else {
        return Ok(());
    };
    Err(Error::User(format!(
        "the custodian name {name:?} {problem}; give it as it should appear in reports"
    )))
}

/// Walks the inputs in a deterministic order and hands them out, one credit each.
#[allow(clippy::too_many_arguments)]
fn walk(
    paths: &[PathBuf],
    custodian: &str,
    retry_exceptions: bool,
    case: &Case,
    lookup: &quarry_case::InputLookup,
    jobs: &Sender<Job>,
    credits: &Receiver<()>,
    skipped: &AtomicU64,
) -> Result<u64> {
    let mut seq = 0u64;
    let mut found = 0u64;
    // A custodian with nothing in the case yet needs no per-file lookup (the writer still
    // refuses an input twice, so a path named twice on the command line counts once).
    let resuming = lookup.has_custodian(custodian)?;
    let case_dir = std::fs::canonicalize(case.dir()).ok();
    for root in paths {
        let base = std::path::absolute(root)
            .map_err(|e| Error::User(format!("{}: {e}", root.display())))?;
        let parent = base.parent().map(Path::to_path_buf).unwrap_or_default();
        // Never ingest the case into itself (a case folder inside the collection).
        let walk = walkdir::WalkDir::new(&base)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                !(entry.file_type().is_dir()
                    && case_dir.is_some()
                    && std::fs::canonicalize(entry.path()).ok() == case_dir)
            });
        for entry in walk {
            let (path, exception, size) = match entry {
                Ok(entry) => {
                    let file_type = entry.file_type();
                    if file_type.is_dir() {
                        continue;
                    }
                    let path = entry.path().to_path_buf();
                    if file_type.is_symlink() {
                        let target = std::fs::read_link(&path)
                            .map_or_else(|_| "?".into(), |t| t.display().to_string());
                        (
                            path,
                            Some((
                                ExceptionKind::Unsupported,
                                format!("symbolic link to {target}; not followed"),
                            )),
                            0,
                        )
                    } else if file_type.is_file() {
                        let size = entry.metadata().map_or(0, |m| m.len());
                        (path, None, size)
                    } else {
                        (
                            path,
                            Some((
                                ExceptionKind::Unsupported,
                                "not a regular file (device, socket or pipe)".into(),
                            )),
                            0,
                        )
                    }
                }
                Err(e) => {
                    let Some(path) = e.path().map(Path::to_path_buf) else { continue };
                    (path, Some((ExceptionKind::Unreadable, format!("cannot read: {e}"))), 0)
                }
            };
            found += 1;
            let source_path = quarry_types::paths::source_key(&path);
            let mut retry = None;
            if resuming && lookup.contains(custodian, &source_path)? {
                retry = if retry_exceptions {
                    lookup.retry_plan(custodian, &source_path)?
                } else {
                    None
                };
                if retry.is_none() {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            let locator = quarry_types::paths::name_text(
                path.strip_prefix(&parent).unwrap_or(&path).as_os_str(),
            );
            if credits.recv().is_err() {
                return Ok(found);
            }
            let job = Job { seq, path, source_path, locator, size, exception, retry };
            seq += 1;
            if jobs.send(job).is_err() {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

fn supervise(
    supervisor: &mut Supervisor,
    custodian: &str,
    jobs: &Receiver<Job>,
    done: &Sender<Result<Finished>>,
    flow: &Flow,
) {
    loop {
        // Back-pressure on records, not only inputs: finished inputs wait in walk order behind
        // a slow one, and a few large archives hold many records each.
        while flow.buffered.load(Ordering::Relaxed) > MAX_BUFFERED_RECORDS {
            if flow.stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let Ok(job) = jobs.recv() else { return };
        let records = match job.exception {
            Some((kind, message)) => Ok(vec![Record::Exception(ExceptionRecord {
                position: Position { inner: String::new(), parent: None, index: 0, depth: 0 },
                name: job.path.file_name().map_or_else(String::new, quarry_types::paths::name_text),
                kind,
                message,
                size: None,
                hashes: None,
            })]),
            None => supervisor.extract(&job.path, job.size, job.retry.clone().unwrap_or_default()),
        };
        let finished = records.map(|records| Finished {
            seq: job.seq,
            size: job.size,
            input: InputRecords {
                custodian: custodian.to_owned(),
                source_path: job.source_path,
                locator: job.locator,
                records,
                retry: job.retry.is_some(),
            },
        });
        let fatal = finished.is_err();
        if let Ok(finished) = &finished {
            flow.buffered.fetch_add(finished.input.records.len() as u64, Ordering::Relaxed);
        }
        if done.send(finished).is_err() || fatal {
            return;
        }
    }
}

/// Shared between the writer and the supervisors.
#[derive(Default)]
struct Flow {
    /// Records sent to the writer and not yet committed.
    buffered: AtomicU64,
    /// Set when the writer stopped (a fatal error): supervisors waiting on it give up.
    stop: std::sync::atomic::AtomicBool,
}

/// Adds committed items to the full-text index each time the writer signals a commit.
fn index_follow(
    case: &Case,
    mut last: u64,
    mut writer: quarry_index::Writer,
    commits: &Receiver<()>,
) -> quarry_case::Result<u64> {
    let conn = case.reader()?;
    let mut added = 0;
    loop {
        let open = commits.recv().is_ok();
        // Several commits may have queued up: one pass covers them all.
        while commits.try_recv().is_ok() {}
        last = case.index_new_items(&conn, &mut writer, last, |n| added += n)?;
        if !open {
            break;
        }
    }
    writer.commit(last)?;
    writer.finish()?;
    Ok(added)
}

/// Commits finished inputs in walk order, in batches.
#[allow(clippy::too_many_arguments)]
fn write(
    writer: &mut quarry_case::Writer,
    run: i64,
    done: &Receiver<Result<Finished>>,
    credits: &Sender<()>,
    indexed: &Sender<()>,
    progress: &Progress,
    flow: &Flow,
    report: &mut IngestReport,
) -> Result<()> {
    let mut waiting: BTreeMap<u64, Finished> = BTreeMap::new();
    let mut next = 0u64;
    let mut ready: Vec<Finished> = Vec::new();
    let mut ready_records = 0usize;
    let mut last_commit = Instant::now();
    let mut open = true;
    while open || !ready.is_empty() {
        match done.recv_timeout(COMMIT_INTERVAL) {
            Ok(finished) => {
                let finished = finished?;
                waiting.insert(finished.seq, finished);
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => open = false,
        }
        while let Some(finished) = waiting.remove(&next) {
            next += 1;
            ready_records += finished.input.records.len();
            ready.push(finished);
        }
        let due = ready.len() >= COMMIT_INPUTS
            || ready_records >= COMMIT_RECORDS
            || last_commit.elapsed() >= COMMIT_INTERVAL
            || !open;
        if due && !ready.is_empty() {
            let (sizes, inputs): (Vec<u64>, Vec<InputRecords>) =
                ready.drain(..).map(|f| (f.size, f.input)).unzip();
            let outcomes = writer.commit(run, &inputs)?;
            for ((size, input), outcome) in sizes.iter().zip(&inputs).zip(&outcomes) {
                if outcome.already_ingested {
                    report.inputs_skipped += 1;
                    continue;
                }
                if input.retry {
                    report.inputs_retried += 1;
                    report.exceptions_retried += outcome.retried;
                } else {
                    report.inputs_added += 1;
                    report.bytes += size;
                }
                report.items_added += outcome.items;
                report.exceptions_added += outcome.exceptions;
                for record in &input.records {
                    if let Record::Exception(e) = record {
                        *report
                            .exceptions_by_kind
                            .entry(e.kind.as_str().to_owned())
                            .or_default() += 1;
                    }
                }
                progress.advance(*size, outcome.items + outcome.exceptions);
            }
            let _ = indexed.send(());
            for _ in 0..inputs.len() {
                let _ = credits.send(());
            }
            flow.buffered.fetch_sub(ready_records as u64, Ordering::Relaxed);
            ready_records = 0;
            last_commit = Instant::now();
        }
    }
    if !waiting.is_empty() {
        return Err(Error::Worker(format!("input #{next} never finished; this is a bug")));
    }
    Ok(())
}

/// The progress bar: items, bytes, rate and ETA on stderr; hidden when asked or not a terminal.
struct Progress {
    bar: ProgressBar,
    items: AtomicU64,
}

impl Progress {
    fn new(enabled: bool, paths: &[PathBuf]) -> Progress {
        let bar = if enabled { ProgressBar::new(0) } else { ProgressBar::hidden() };
        if enabled {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}")
                    .expect("the template is valid"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            // Sizing the job walks the tree a second time, on its own thread: cheap (metadata
            // only) and it keeps the main walk from holding every path in memory.
            let sizer = bar.clone();
            let paths = paths.to_vec();
            std::thread::spawn(move || {
                for root in paths {
                    for entry in
                        walkdir::WalkDir::new(root).follow_links(false).into_iter().flatten()
                    {
                        if entry.file_type().is_file() {
                            sizer.inc_length(entry.metadata().map_or(0, |m| m.len()));
                        }
                    }
                }
            });
        }
        Progress { bar, items: AtomicU64::new(0) }
    }

    fn advance(&self, bytes: u64, records: u64) {
        let items = self.items.fetch_add(records, Ordering::Relaxed) + records;
        self.bar.inc(bytes);
        self.bar.set_message(format!("{items} items"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
