//! A parser that aborts, panics, hangs or exhausts memory costs one exception, not the run.

use crate::common::{Scratch, u, zip};
use serde_json::Value;

/// Ingests a loose `victim.txt`, a zip holding one between two good entries, and a good file,
/// with `fault` injected on `victim.txt`; returns the exceptions.
fn run_with_fault(fault: &str, configure: impl Fn(&Scratch)) -> Vec<Value> {
    let s = Scratch::new();
    configure(&s);
    s.file("in/a-good.txt", b"good one\n");
    s.file(
        "in/b.zip",
        &zip(&[("first.txt", b"first\n"), ("victim.txt", b"victim\n"), ("last.txt", b"last\n")]),
    );
    s.file("in/c-victim.txt", b"victim, loose\n");
    s.file("in/d-good.txt", b"good two\n");
    let report = s.ingest_with_fault("c", &s.path("in"), fault);
    let case = &report["case"];
    assert_eq!(u(case, "input_files"), 4);
    assert_eq!(u(case, "items"), 5, "a-good, b.zip, first, last, d-good: {case}");
    assert_eq!(u(case, "exceptions"), 2);
    assert_eq!(case["reconciled"], true);
    let exceptions = s.exceptions();
    let locators: Vec<&str> = exceptions.iter().map(|e| e["locator"].as_str().unwrap()).collect();
    assert_eq!(locators, ["in/b.zip//victim.txt", "in/c-victim.txt"]);
    exceptions
}

#[test]
fn abort_is_a_parser_crash() {
    for e in run_with_fault("abort:victim.txt", |_| {}) {
        assert_eq!(e["kind"], "parser_crash");
        assert!(e["message"].as_str().unwrap().contains("SIGABRT"), "{e}");
    }
}

#[test]
fn panic_is_a_parser_crash_with_its_message() {
    for e in run_with_fault("panic:victim.txt", |_| {}) {
        assert_eq!(e["kind"], "parser_crash");
        assert!(e["message"].as_str().unwrap().contains("injected fault"), "{e}");
    }
}

#[test]
fn endless_loop_is_a_timeout() {
    let started = std::time::Instant::now();
    for e in run_with_fault("hang:victim.txt", |s| s.set("timeout_secs", "2")) {
        assert_eq!(e["kind"], "timeout");
    }
    assert!(started.elapsed().as_secs() < 60);
}

#[test]
fn memory_exhaustion_is_a_memory_limit() {
    for e in run_with_fault("oom:victim.txt", |s| s.set("worker_memory_bytes", "536870912")) {
        assert_eq!(e["kind"], "memory_limit", "{e}");
    }
}

#[test]
fn stack_overflow_is_a_parser_crash() {
    for e in run_with_fault("overflow:victim.txt", |_| {}) {
        assert_eq!(e["kind"], "parser_crash");
        assert!(e["message"].as_str().unwrap().contains("overflowed its stack"), "{e}");
    }
}
