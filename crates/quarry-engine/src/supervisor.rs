//! Supervised extraction workers: isolation of untrusted parsers.
//!
//! `catch_unwind` cannot catch an abort, a stack overflow or an endless loop, and the PDF and
//! archive parsers measured for quarry do all of these on hostile files. So extraction runs in
//! child processes with an address-space limit, and the supervisor thread that owns each one
//! waits for its events with a timeout. When a worker dies or stalls, the supervisor records a
//! typed exception (`parser_crash`, `memory_limit`, `timeout`) for the item the worker last
//! announced, starts a new worker and resumes the same input past that item. The run goes on.

use crate::protocol::{JobRequest, WorkerConfig, WorkerEvent};
use crate::{Error, Result};
use quarry_types::{ExceptionKind, ExceptionRecord, LOCATOR_SEPARATOR, Position, Record};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to start a worker process: normally the running `quarry` binary with `__worker`.
#[derive(Clone, Debug)]
pub struct WorkerCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

impl WorkerCommand {
    /// The current executable with `__worker`.
    pub fn current_exe() -> Result<WorkerCommand> {
        let program = std::env::current_exe()
            .map_err(|e| Error::Worker(format!("cannot find the quarry executable: {e}")))?;
        Ok(WorkerCommand { program, args: vec!["__worker".into()] })
    }
}

/// After this many failures inside one input, the rest of it is given up as one exception.
const MAX_FAILURES_PER_INPUT: usize = 256;
/// The slowest reading a worker is allowed before a big item counts as stalled: 8 MB/s.
const MIN_RATE: u64 = 8_000_000;
/// How long a worker may go without reporting while it works on an item of `size` bytes: the
/// configured timeout, plus a second for every [`MIN_RATE`] bytes, so that a multi-gigabyte
/// native on slow media is not taken for a hung parser.
fn allowance(timeout: Duration, size: Option<u64>) -> Duration {
    timeout + Duration::from_secs(size.unwrap_or(0) / MIN_RATE)
}

/// How much of a dead worker's stderr is kept for the exception message.
const STDERR_TAIL: usize = 2048;

enum Line {
    Event(WorkerEvent),
    Garbage(String),
    Eof,
}

/// Reads the worker's event lines straight from its stdout, waiting with `poll` so a stalled
/// worker is noticed: no reader thread, no channel hop per event. The buffer is allocated once
/// and reused (zero-filling a fresh read buffer per event cost a third of this process's time).
struct LineReader {
    stdout: ChildStdout,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

enum Wait {
    Line(Line),
    Timeout,
}

impl LineReader {
    fn new(stdout: ChildStdout) -> Self {
        LineReader { stdout, buf: vec![0; 256 * 1024], start: 0, end: 0 }
    }

    fn next(&mut self, timeout: Duration) -> Wait {
        let deadline = Instant::now() + timeout;
        let mut scanned = self.start;
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buf[scanned..self.end]) {
                let line = &self.buf[self.start..scanned + at];
                let parsed = serde_json::from_slice(line).map_or_else(
                    |_| Line::Garbage(String::from_utf8_lossy(line).into_owned()),
                    Line::Event,
                );
                self.start = scanned + at + 1;
                return Wait::Line(parsed);
            }
            scanned = self.end;
            if self.end == self.buf.len() {
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    scanned -= self.start;
                    self.start = 0;
                } else {
                    // One line longer than the buffer (a record with a very long name).
                    self.buf.resize(self.buf.len() * 2, 0);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wait::Timeout;
            }
            let wait = Timespec::try_from(left).unwrap_or(Timespec { tv_sec: 1, tv_nsec: 0 });
            let mut fds = [PollFd::new(&self.stdout, PollFlags::IN)];
            match poll(&mut fds, Some(&wait)) {
                Ok(0) => return Wait::Timeout,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return Wait::Line(Line::Eof),
            }
            match self.stdout.read(&mut self.buf[self.end..]) {
                Ok(0) | Err(_) => return Wait::Line(Line::Eof),
                Ok(n) => self.end += n,
            }
        }
    }
}

struct Process {
    child: Child,
    stdin: ChildStdin,
    lines: LineReader,
    stderr: Arc<Mutex<Vec<u8>>>,
}

/// One supervised worker process, restarted as needed.
pub(crate) struct Supervisor {
    command: WorkerCommand,
    config: WorkerConfig,
    timeout: Duration,
    process: Option<Process>,
    jobs: u64,
    /// Highest resident set size seen of any worker this supervisor ran, in bytes.
    peak_rss: Arc<AtomicU64>,
}

impl Supervisor {
    pub(crate) fn new(
        command: WorkerCommand,
        config: WorkerConfig,
        peak_rss: Arc<AtomicU64>,
    ) -> Self {
        let timeout = Duration::from_secs(config.limits.timeout_secs.max(1));
        Supervisor { command, config, timeout, process: None, jobs: 0, peak_rss }
    }

    /// Samples the worker's peak resident memory (every few jobs: reading /proc costs a few
    /// microseconds, and the peak is a high-water mark, so sampling loses nothing at the end).
    fn sample_memory(&mut self, force: bool) {
        self.jobs += 1;
        if !force && !self.jobs.is_multiple_of(16) {
            return;
        }
        if let Some(process) = &self.process
            && let Some(peak) = crate::peak_rss(Some(process.child.id()))
        {
            self.peak_rss.fetch_max(peak, Ordering::Relaxed);
        }
    }

    fn spawn(&self) -> Result<Process> {
        let mut child = Command::new(&self.command.program)
            .args(&self.command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::Worker(format!("cannot start {}: {e}", self.command.program.display()))
            })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let lines = LineReader::new(stdout);
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut tail = tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                tail.extend_from_slice(&buf[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
        });
        let config =
            serde_json::to_string(&self.config).map_err(|e| Error::Worker(e.to_string()))?;
        writeln!(stdin, "{config}")
            .map_err(|e| Error::Worker(format!("cannot configure a worker: {e}")))?;
        Ok(Process { child, stdin, lines, stderr })
    }

    /// Extracts one input of `size` bytes; every failure of the worker becomes an exception
    /// record. Items at the `inner` paths in `done` are not reported (a retry of an input
    /// already in the case).
    pub(crate) fn extract(
        &mut self,
        path: &Path,
        size: u64,
        done: Vec<String>,
    ) -> Result<Vec<Record>> {
        let mut records: Vec<Record> = Vec::new();
        let mut done: HashSet<String> = done.into_iter().collect();
        let mut failed: Vec<String> = Vec::new();
        let mut resent = 0;
        loop {
            if self.process.is_none() {
                self.process = Some(self.spawn()?);
            }
            let process = self.process.as_mut().expect("spawned above");
            let request = JobRequest {
                path: path.to_path_buf(),
                done: done.iter().cloned().collect(),
                failed: failed.clone(),
            };
            let request =
                serde_json::to_string(&request).map_err(|e| Error::Worker(e.to_string()))?;
            let sent = writeln!(process.stdin, "{request}").and_then(|()| process.stdin.flush());
            // Until the worker announces an entry, a failure is the input's own.
            let input_name =
                path.file_name().map_or_else(String::new, quarry_types::paths::name_text);
            let timeout = self.timeout;
            let input_size = size;
            let mut wait = allowance(timeout, Some(input_size));
            let mut current =
                (Position { inner: String::new(), parent: None, index: 0, depth: 0 }, input_name);
            if let Err(e) = sent {
                // The worker was gone before this job reached it (killed from outside between
                // jobs): replace it and send the job again, once.
                let (_, message) = self.died()?;
                resent += 1;
                if resent >= 2 {
                    return Err(Error::Worker(format!(
                        "workers die before starting on {}: {e}; {message}",
                        path.display()
                    )));
                }
                continue;
            }
            let (kind, message) = loop {
                match process.lines.next(wait) {
                    Wait::Line(Line::Event(WorkerEvent::Begin { position, name, size })) => {
                        // The input's own Begin carries no size: its size is the job's.
                        let size = if position.parent.is_none() {
                            Some(size.unwrap_or(input_size))
                        } else {
                            size
                        };
                        wait = allowance(timeout, size);
                        current = (position, name);
                    }
                    Wait::Line(Line::Event(WorkerEvent::Record(record))) => {
                        done.insert(record.position().inner.clone());
                        records.push(*record);
                    }
                    Wait::Line(Line::Event(WorkerEvent::Done)) => {
                        self.sample_memory(false);
                        return Ok(records);
                    }
                    Wait::Line(Line::Event(WorkerEvent::Fatal(message))) => {
                        return Err(Error::Worker(format!(
                            "extraction of {} failed: {message}",
                            path.display()
                        )));
                    }
                    Wait::Line(Line::Garbage(line)) => {
                        self.kill();
                        let line: String = line.chars().take(200).collect();
                        break (
                            ExceptionKind::ParserCrash,
                            format!("worker wrote garbage: {line:?}"),
                        );
                    }
                    Wait::Line(Line::Eof) => break self.died()?,
                    Wait::Timeout => {
                        self.sample_memory(true);
                        self.kill();
                        break (
                            ExceptionKind::Timeout,
                            format!("no progress for {} s; the parser was stopped", wait.as_secs()),
                        );
                    }
                }
            };
            let (position, name) = current;
            if failed.len() >= MAX_FAILURES_PER_INPUT {
                // This input keeps killing workers: account for the rest of it in one exception.
                let message = format!(
                    "{message}; gave up after {MAX_FAILURES_PER_INPUT} parser failures in this input"
                );
                records.push(remainder(&done, String::new(), kind, message));
                return Ok(records);
            }
            if done.contains(&position.inner) {
                // The item was recorded (a container that died between two of its entries):
                // its unprocessed entries become one exception, and the retry skips it.
                let message = format!("{message}; the remaining entries were not processed");
                records.push(remainder(&done, position.inner.clone(), kind, message));
            } else {
                records.push(Record::Exception(ExceptionRecord {
                    position: position.clone(),
                    name,
                    kind,
                    message,
                    size: None,
                    hashes: None,
                }));
            }
            failed.push(position.inner);
        }
    }

    /// Reaps a dead worker and says why it died; a worker that failed on its own terms (its
    /// protocol or the case store, exit status 3) is a fatal error, not an item's exception.
    fn died(&mut self) -> Result<(ExceptionKind, String)> {
        let Some(mut process) = self.process.take() else {
            return Ok((ExceptionKind::ParserCrash, "worker vanished".into()));
        };
        drop(process.stdin);
        let status = process.child.wait();
        // The stderr reader may still be draining the pipe.
        std::thread::sleep(Duration::from_millis(20));
        let stderr = String::from_utf8_lossy(
            &process.stderr.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned();
        let last_line = stderr
            .lines()
            .find_map(|l| {
                l.strip_prefix(crate::worker::PANIC_PREFIX).map(|m| format!("panic: {m}"))
            })
            .or_else(|| {
                stderr
                    .lines()
                    .find(|l| {
                        l.contains("memory allocation of") || l.contains("overflowed its stack")
                    })
                    .map(str::to_owned)
            })
            .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_owned))
            .unwrap_or_default()
            .trim()
            .to_owned();
        let kind = if stderr.contains("memory allocation of") || stderr.contains("out of memory") {
            ExceptionKind::MemoryLimit
        } else {
            ExceptionKind::ParserCrash
        };
        if status.as_ref().is_ok_and(|s| s.code() == Some(crate::worker::WORKER_FAILED)) {
            return Err(Error::Worker(format!("an extraction worker failed: {last_line}")));
        }
        let status = status.map_or_else(|e| format!("unknown status ({e})"), describe);
        let message = if last_line.is_empty() {
            format!("worker {status}")
        } else {
            format!("worker {status}: {last_line}")
        };
        Ok((kind, message))
    }

    fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.sample_memory(true);
        if let Some(mut process) = self.process.take() {
            drop(process.stdin);
            // Closing stdin ends an idle worker; one still busy is stopped.
            std::thread::sleep(Duration::from_millis(1));
            if !matches!(process.child.try_wait(), Ok(Some(_))) {
                let _ = process.child.kill();
            }
            let _ = process.child.wait();
        }
    }
}

/// One exception standing for the unprocessed rest of the container at `parent` (or of the
/// whole input, when even its top-level record is missing).
fn remainder(
    done: &HashSet<String>,
    parent: String,
    kind: ExceptionKind,
    message: String,
) -> Record {
    let position = if done.contains(&parent) {
        let depth = if parent.is_empty() {
            1
        } else {
            parent.matches(LOCATOR_SEPARATOR).count() as u32 + 2
        };
        let inner = quarry_types::child_inner(&parent, "*");
        Position { inner, parent: Some(parent), index: u64::from(u32::MAX), depth }
    } else {
        Position { inner: String::new(), parent: None, index: 0, depth: 0 }
    };
    Record::Exception(ExceptionRecord {
        position,
        name: "*".into(),
        kind,
        message,
        size: None,
        hashes: None,
    })
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        let name = match signal {
            6 => "SIGABRT",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            7 => "SIGBUS",
            4 => "SIGILL",
            8 => "SIGFPE",
            _ => "a signal",
        };
        format!("killed by {name} ({signal})")
    } else {
        format!("exited with status {}", status.code().unwrap_or(-1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_items_get_more_time() {
        let base = Duration::from_secs(120);
        assert_eq!(allowance(base, None), base);
        assert_eq!(allowance(base, Some(1_000_000)), base);
        // 8 GB at the slowest allowed 8 MB/s: 1,000 s on top of the timeout.
        assert_eq!(allowance(base, Some(8_000_000_000)), Duration::from_secs(1120));
    }
}
