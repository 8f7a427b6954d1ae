//! # Ingest pipeline benchmark
//!
//! **What's measured.** Wall-clock throughput of the whole ingest (walk, isolated worker
//! processes, blake3 hashing, storing natives and text, committing to SQLite, indexing every
//! item's text for search), with the default settings, without the full-text index
//! (`index.at_ingest = false`), and with MD5 + SHA-1 computed at ingest, on two collections,
//! against the floors for any ingest that stores what it reads, measured in the same run on the
//! same bytes:
//! - loose files: bare blake3 (read + hash, 2 threads), a plain copy (`cp -r`), `quarry`;
//! - ZIP archives: Info-ZIP `unzip` of every archive to disk (two processes, one per core),
//!   `quarry`.
//!
//! **Corpus.** Generated deterministically (`quarry_bench::loose_collection`): about
//! `QUARRY_BENCH_BYTES` (default 1 GB) of English-like text in files of 25–75 KB, and the same
//! files packed 200 to an archive (deflate level 1). Cached under `target/bench-data/`, or
//! under `QUARRY_BENCH_DIR` (e.g. `/dev/shm/quarry-bench` to take the disk out of the ratio).
//!
//! **Notes.** Every iteration writes into a fresh folder; the inputs sit in the page cache
//! (24 GB machine), so this measures CPU and write cost, not the collection media. Each
//! benchmark asserts its counts (files copied, entries unzipped, items ingested, zero
//! exceptions, a reconciled summary), so a "speed-up" that drops work fails. Peak memory of the
//! ingest process and of its largest worker is printed at the end. Needs `unzip` (Debian
//! package unzip). Run: `cargo bench -p quarry-bench --bench ingest`.

use criterion::{Criterion, Throughput};
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FILE_BYTES: usize = 50_000;
const PER_ARCHIVE: usize = 200;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in quarry_bench::sorted(dir).expect("readable bench folder") {
        if entry.is_dir() { out.extend(walk(&entry)) } else { out.push(entry) }
    }
    out
}

/// Removes a scratch folder, then lets the file system settle: the root file system here is
/// mounted with `discard`, and the trims and writeback a large delete causes would otherwise be
/// charged to whatever runs next.
fn fresh(dir: &Path) {
    if dir.exists() {
        fs_err::remove_dir_all(dir).expect("remove scratch");
    }
    let _ = Command::new("sync").status();
}

/// Runs the real ingest; returns its JSON report after checking the counts.
fn quarry(
    case: &Path,
    input: &Path,
    items: u64,
    legacy_hashes: bool,
    index: bool,
) -> serde_json::Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quarry-bench-ingest"));
    if legacy_hashes {
        command.arg("--legacy-hashes");
    }
    if !index {
        command.arg("--no-index");
    }
    let out = command.arg(case).arg("bench").arg(input).output().expect("run quarry-bench-ingest");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let summary = &report["case"];
    assert_eq!(summary["items"], items, "items ingested: {summary}");
    assert_eq!(summary["exceptions"], 0, "{summary}");
    assert_eq!(summary["reconciled"], true, "{summary}");
    let indexed = if index { items } else { 0 };
    assert_eq!(report["run"]["items_indexed"], indexed, "items indexed");
    report
}

/// quarry with the default settings and with MD5 + SHA-1 at ingest, into a fresh case each time.
fn bench_quarry(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    case: &Path,
    input: &Path,
    items: u64,
) {
    for (name, legacy, index) in [
        ("quarry_ingest", false, true),
        ("quarry_ingest_without_index", false, false),
        ("quarry_ingest_with_md5_sha1", true, true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fresh(case);
                    let start = Instant::now();
                    quarry(case, input, items, legacy, index);
                    total += start.elapsed();
                }
                total
            });
        });
    }
}

fn main() {
    let target_bytes: usize = std::env::var("QUARRY_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000_000);
    // QUARRY_BENCH_DIR=/dev/shm/quarry-bench measures without the disk (CPU-bound ratios).
    let root = std::env::var_os("QUARRY_BENCH_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from);
    let data = root.join("bench-data");
    let scratch = root.join("bench-scratch");
    let loose = data.join(format!("loose-{target_bytes}"));
    let zips = data.join(format!("zips-{target_bytes}"));
    let files = target_bytes / FILE_BYTES;
    let started = Instant::now();
    let bytes = quarry_bench::loose_collection(&loose, files, FILE_BYTES, 42)
        .expect("generate loose files");
    let archives =
        quarry_bench::zip_collection(&loose, &zips, PER_ARCHIVE).expect("generate archives");
    eprintln!(
        "corpus: {files} files, {bytes} bytes, {archives} archives (ready in {:.1?})",
        started.elapsed()
    );
    let loose_files = files_under(&loose);
    assert_eq!(loose_files.len(), files);
    let archive_files = files_under(&zips);
    assert_eq!(archive_files.len(), archives);
    assert!(
        Command::new("unzip").arg("-v").output().is_ok_and(|o| o.status.success()),
        "install unzip (Debian package unzip)"
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30))
        .configure_from_args();

    let mut group = c.benchmark_group("ingest_loose");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("blake3_read_hash_2threads", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let hashed: usize = loose_files
                    .par_iter()
                    .with_max_len(1)
                    .map(|path| {
                        let mut file = fs_err::File::open(path).expect("open");
                        let mut hasher = blake3::Hasher::new();
                        let mut buf = [0u8; 64 * 1024];
                        loop {
                            let n = file.read(&mut buf).expect("read");
                            if n == 0 {
                                break;
                            }
                            hasher.update(&buf[..n]);
                        }
                        std::hint::black_box(hasher.finalize());
                        1
                    })
                    .sum();
                assert_eq!(hashed, files);
            }
            start.elapsed()
        });
    });
    fs_err::create_dir_all(&scratch).expect("scratch folder");
    let copy = scratch.join("copy");
    group.bench_function("cp_r", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fresh(&copy);
                let start = Instant::now();
                let status =
                    Command::new("cp").arg("-r").arg(&loose).arg(&copy).status().expect("cp");
                total += start.elapsed();
                assert!(status.success());
                assert_eq!(files_under(&copy).len(), files);
            }
            total
        });
    });
    let case = scratch.join("case");
    bench_quarry(&mut group, &case, &loose, files as u64);
    group.finish();

    let mut group = c.benchmark_group("ingest_zip");
    group.throughput(Throughput::Bytes(bytes));
    let unzipped = scratch.join("unzipped");
    group.bench_function("unzip_2processes", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fresh(&unzipped);
                fs_err::create_dir_all(&unzipped).expect("scratch");
                let start = Instant::now();
                std::thread::scope(|s| {
                    for half in 0..2 {
                        let archive_files = &archive_files;
                        let unzipped = &unzipped;
                        s.spawn(move || {
                            for (n, archive) in
                                archive_files.iter().enumerate().filter(|(n, _)| n % 2 == half)
                            {
                                let status = Command::new("unzip")
                                    .arg("-qq")
                                    .arg(archive)
                                    .arg("-d")
                                    .arg(unzipped.join(format!("a{n}")))
                                    .status()
                                    .expect("unzip");
                                assert!(status.success());
                            }
                        });
                    }
                });
                total += start.elapsed();
                assert_eq!(files_under(&unzipped).len(), files);
            }
            total
        });
    });
    bench_quarry(&mut group, &case, &zips, (files + archives) as u64);
    group.finish();

    // One more run of each for the figures criterion does not give: items/s and peak memory.
    for (name, input, items) in [("loose", &loose, files), ("zip", &zips, files + archives)] {
        fresh(&case);
        let start = Instant::now();
        let report = quarry(&case, input, items as u64, false, true);
        let seconds = start.elapsed().as_secs_f64();
        let run = &report["run"];
        eprintln!(
            "quarry {name}: {items} items in {seconds:.2} s = {:.0} items/s, {:.1} MB/s; peak RSS main {:.1} MB, largest worker {:.1} MB",
            items as f64 / seconds,
            bytes as f64 / seconds / 1e6,
            run["peak_rss_main"].as_f64().unwrap_or(0.0) / 1e6,
            run["peak_rss_worker"].as_f64().unwrap_or(0.0) / 1e6,
        );
    }
    fresh(&scratch);
    c.final_summary();
}
