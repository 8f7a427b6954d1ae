//! The extraction worker process: `quarry __worker`, spawned by the supervisor.
//!
//! It limits its own address space and core dumps first, then extracts the inputs it is sent.
//! A panic, abort, stack overflow, endless loop or allocation failure here ends this process
//! only; the supervisor (see `supervisor.rs`) turns it into an exception for the item that was
//! being processed and starts a fresh worker.

use crate::protocol::{JobRequest, WorkerConfig, WorkerEvent};
use quarry_ingest::{Event, ExtractOptions, Extractor, Fault, Resume, error_chain};
use std::io::{self, BufRead, BufWriter, Write};

/// Environment variable naming a fault to inject (tests only; see [`Fault::parse`]).
pub const FAULT_ENV: &str = "QUARRY_FAULT_INJECTION";

/// Exit status of a worker that failed on its own terms (protocol, case store), as opposed to a
/// parser crash: the supervisor stops the run on it.
pub(crate) const WORKER_FAILED: i32 = 3;

/// Marks a worker's panic message on its stderr.
pub(crate) const PANIC_PREFIX: &str = "quarry worker panic: ";

/// Runs a worker on stdin/stdout until stdin closes. Returns the process exit code.
#[must_use]
pub fn worker_main() -> i32 {
    match serve() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("quarry worker: {e}");
            WORKER_FAILED
        }
    }
}

fn serve() -> io::Result<()> {
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let Some(first) = lines.next() else { return Ok(()) };
    let config: WorkerConfig = serde_json::from_str(&first?).map_err(io::Error::other)?;
    // One recognisable line for the supervisor's exception message, whatever RUST_BACKTRACE says.
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string().replace('\n', " ");
        eprintln!("{PANIC_PREFIX}{message}");
    }));
    limit_resources(config.limits.worker_memory_bytes);
    let store = quarry_store::ContentStore::create(&config.case_dir).map_err(io::Error::other)?;
    let fault = std::env::var(FAULT_ENV).ok().and_then(|spec| Fault::parse(&spec));
    let options = ExtractOptions {
        limits: config.limits,
        passwords: config.passwords,
        legacy_hashes: config.legacy_hashes,
        fault,
    };
    let mut extractor = Extractor::new(store, options);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    for line in lines {
        let job: JobRequest = serde_json::from_str(&line?).map_err(io::Error::other)?;
        let resume = Resume {
            done: job.done.into_iter().collect(),
            failed: job.failed.into_iter().collect(),
        };
        let result = extractor.extract_input(&job.path, &resume, &mut |event| {
            let (event, flush) = match event {
                // Flushing at each Begin hands the supervisor everything before it, so when
                // this process dies the last Begin it saw names the item to blame. The input's
                // own Begin needs no flush: the supervisor blames the input until told otherwise.
                Event::Begin { position, name, size } => {
                    let flush = position.parent.is_some();
                    (WorkerEvent::Begin { position, name, size }, flush)
                }
                Event::Record(record) => (WorkerEvent::Record(record), false),
            };
            send(&mut out, &event, flush)
        });
        let last = match result {
            Ok(()) => WorkerEvent::Done,
            Err(e) => WorkerEvent::Fatal(error_chain(&e)),
        };
        send(&mut out, &last, true)?;
    }
    Ok(())
}

fn send(out: &mut impl Write, event: &WorkerEvent, flush: bool) -> io::Result<()> {
    serde_json::to_writer(&mut *out, event).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    if flush {
        out.flush()?;
    }
    Ok(())
}

fn limit_resources(memory: u64) {
    // Best effort: where the platform refuses, the timeout still bounds the worker.
    let _ = rlimit::Resource::AS.set(memory, memory);
    let _ = rlimit::Resource::CORE.set(0, 0);
}
