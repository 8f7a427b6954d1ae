//! # Classification benchmark: the tagging pipeline's hot loop
//!
//! **What's measured.** Scanning a generated corpus (1 GiB of English-like text in documents
//! of 2 to 6 KB by default) for term lists of 1,000, 10,000 and 100,000 entries (70 % "First
//! Last" names, 30 % words and two-word phrases, plus six privilege phrases), with 1 and 2
//! threads (rayon over documents):
//! - `quarry`: `quarry_tag::Classifier::scan`, the classifier `quarry classify` runs: word
//!   matching, hit collection and paragraph hashing for boilerplate detection;
//! - `aho-corasick`: the bare automaton (DFA, ASCII case-insensitive, leftmost-longest) over
//!   the same documents, counting matches;
//! - `ripgrep`, the peer tool, on the same bytes written to 16 files in the bench folder
//!   (tmpfs recommended), timed as a whole command (3 runs, median) outside criterion:
//!   `rg -c -F -f TERMS -j N` over the whole corpus, and `rg -c -i -F -f TERMS -j 1` (the
//!   case-insensitive search the issue names) over a sample only: ripgrep 13.0 (Debian 12's)
//!   falls off a cliff with `-i` and thousands of literals (0.14 MB/s with 10,000 measured
//!   here), so the sample shrinks as the list grows and each run has a time limit.
//!
//! - `quarry, 1k hit`: quarry on a 100,000-term list made of the 1,000 list and 99,000 terms
//!   of the same mix that never occur in the text, so it finds exactly the 1,000 list's hits:
//!   the cost of a longer list apart from the hits a longer list also finds (the recipe's
//!   100,000 list finds 90 times the 1,000 list's hits).
//!
//! **Counts asserted.** quarry's hits equal the generator's own count of every pattern
//! occurrence at word granularity, exactly, with 1 and 2 threads; the bare automaton's
//! matches are the same on every run; ripgrep's matching lines equal the lines in which an
//! automaton of the same case sensitivity finds a match (both substring semantics).
//!
//! **End to end.** `quarry classify` over a case: the corpus ingested (each document a text
//! file, with the real pipeline, index off; kept between runs), then `Case::classify` with the
//! 10,000-term list as an issue and boilerplate detection on, rescoring everything, 2 threads:
//! reading every text from the store, scanning, counting paragraphs, deciding and writing the
//! results and tags. The baseline in the same run: reading every stored text alone (2 threads),
//! the floor. Asserted: every item scored, and the items suggested equal the documents the
//! in-memory scan finds a hit in.
//!
//! **Targets** (issue 5, 2 cores): quarry >= 500 MB/s per core at 10,000 terms; 100,000 terms
//! within 20 % of 1,000; >= 1.8x from 1 to 2 threads; `quarry classify` end to end >= 1 GB/s.
//! A table of MB/s per core and ratios is printed at the end. `QUARRY_BENCH_BYTES` sets the corpus size, `QUARRY_BENCH_SIZES` the
//! list sizes (comma-separated), `QUARRY_BENCH_DIR` the folder for ripgrep's files.
//! Run: `QUARRY_BENCH_DIR=/dev/shm/quarry-bench cargo bench -p quarry-bench --bench classify`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use criterion::{Criterion, SamplingMode, Throughput};
use quarry_bench::classify::{Corpus, Terms, Universe, generate};
use quarry_tag::{Classifier, Scratch};
use rayon::prelude::*;

/// The engine name of quarry on the 100,000-term list with the 1,000 list's hits.
const ABSENT: &str = "quarry, 1k hit";

/// (terms, engine, threads): a benchmark.
type Key = (usize, &'static str, usize);

/// Seconds per iteration of each benchmark, for the summary.
static TIMES: Mutex<BTreeMap<Key, Vec<f64>>> = Mutex::new(BTreeMap::new());

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn quarry_hits(classifier: &Classifier, corpus: &Corpus) -> u64 {
    (0..corpus.docs.len())
        .into_par_iter()
        .map_init(Scratch::default, |scratch, i| {
            classifier.scan(corpus.doc(i), false, scratch).hits.len() as u64
        })
        .sum()
}

fn automaton_hits(ac: &AhoCorasick, corpus: &Corpus) -> u64 {
    (0..corpus.docs.len()).into_par_iter().map(|i| ac.find_iter(corpus.doc(i)).count() as u64).sum()
}

/// Lines with a match, as `rg -c` counts them.
fn automaton_lines(ac: &AhoCorasick, dir: &Path) -> u64 {
    files(dir)
        .par_iter()
        .map(|f| {
            let bytes = fs_err::read(f).expect("read corpus file");
            bytes.split(|&b| b == b'\n').filter(|line| ac.is_match(*line)).count() as u64
        })
        .sum()
}

/// Runs ripgrep; `None` when it did not finish within `limit`.
fn ripgrep_lines(
    terms: &Path,
    dir: &Path,
    threads: usize,
    case_insensitive: bool,
    limit: Duration,
) -> Option<u64> {
    let mut cmd = Command::new("timeout");
    cmd.arg(limit.as_secs().to_string()).args([
        "rg",
        "-c",
        "-F",
        "--no-messages",
        "-j",
        &threads.to_string(),
    ]);
    if case_insensitive {
        cmd.arg("-i");
    }
    let out =
        cmd.arg("-f").arg(terms).arg(dir).output().expect("ripgrep (Debian package ripgrep) runs");
    if out.status.code() == Some(124) {
        return None;
    }
    if String::from_utf8_lossy(&out.stderr).contains("exceeds size limit") {
        // ripgrep 13 refuses a case-insensitive list this long (its compiled regex would pass
        // 100 MB).
        eprintln!("ripgrep refused: {}", String::from_utf8_lossy(&out.stderr).trim());
        return None;
    }
    assert!(out.status.success() || out.status.code() == Some(1), "rg failed: {out:?}");
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.rsplit(':').next().and_then(|n| n.parse::<u64>().ok()).expect("path:count"))
            .sum(),
    )
}

/// Times ripgrep (median of 3 runs, 1 when a run takes over 20 s); asserts its line count.
fn time_ripgrep(
    size: usize,
    name: &'static str,
    threads: usize,
    run: impl Fn() -> Option<u64>,
    lines: u64,
) -> Option<f64> {
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let got = run()?;
        let took = start.elapsed().as_secs_f64();
        assert_eq!(got, lines, "{name} with {threads} threads, {size} terms: matching lines");
        times.push(took);
        if took > 20.0 {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    TIMES.lock().expect("times").entry((size, name, threads)).or_default().push(median);
    Some(median)
}

/// The first documents of the corpus, about `bytes`, as one file in `dir`.
fn write_sample(corpus: &Corpus, dir: &Path, bytes: usize) -> usize {
    if dir.exists() {
        fs_err::remove_dir_all(dir).expect("clear");
    }
    fs_err::create_dir_all(dir).expect("sample folder");
    let mut out = Vec::new();
    for d in &corpus.docs {
        if out.len() >= bytes {
            break;
        }
        out.extend_from_slice(&corpus.bytes[d.clone()]);
        out.push(b'\n');
    }
    fs_err::write(dir.join("sample.txt"), &out).expect("sample");
    out.len()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

/// The corpus as 16 files for ripgrep (documents separated by a blank line).
fn write_files(corpus: &Corpus, dir: &Path) {
    if dir.exists() {
        fs_err::remove_dir_all(dir).expect("clear");
    }
    fs_err::create_dir_all(dir).expect("corpus folder");
    let per = corpus.docs.len().div_ceil(16);
    for (n, chunk) in corpus.docs.chunks(per).enumerate() {
        let mut f = std::io::BufWriter::new(
            fs_err::File::create(dir.join(format!("part{n:02}.txt"))).expect("file"),
        );
        for d in chunk {
            f.write_all(&corpus.bytes[d.clone()]).expect("write");
            f.write_all(b"\n").expect("write");
        }
        f.flush().expect("flush");
    }
}

fn timed(
    size: usize,
    name: &'static str,
    threads: usize,
    f: impl Fn() -> u64,
    expected: u64,
) -> impl FnMut(u64) -> Duration {
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let start = Instant::now();
            let got = f();
            let took = start.elapsed();
            assert_eq!(got, expected, "{name} with {threads} threads, {size} terms");
            TIMES
                .lock()
                .expect("times")
                .entry((size, name, threads))
                .or_default()
                .push(took.as_secs_f64());
            total += took;
        }
        total
    }
}

fn main() {
    let bytes = env_usize("QUARRY_BENCH_BYTES", 1 << 30);
    let sizes: Vec<usize> = std::env::var("QUARRY_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().replace('_', "").parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let base = std::env::var_os("QUARRY_BENCH_DIR")
        .map_or_else(|| std::env::temp_dir().join("quarry-bench"), PathBuf::from)
        .join("classify");
    let universe = Universe::new();
    let lists: Vec<Terms> =
        sizes.iter().map(|&n| Terms::new(&universe, n, 0xC1A5 + n as u64)).collect();
    // 100,000 terms with the hits of the 1,000 list (its terms, then 99,000 that never occur):
    // what a longer list costs, apart from the hits a longer list also finds.
    let small = sizes.iter().position(|&n| n == 1_000);
    let absent = match small {
        Some(at) if sizes.contains(&100_000) => {
            Some(Terms::with_absent(&universe, &lists[at], 100_000, 0xAB5E))
        }
        _ => None,
    };
    let mut refs: Vec<&Terms> = lists.iter().collect();
    refs.extend(absent.as_ref());
    let started = Instant::now();
    let (corpus, expected) = generate(&universe, bytes, &refs, 7);
    let total = corpus.bytes.len();
    eprintln!(
        "corpus: {} documents, {:.1} MB, generated in {:.1} s; expected hits {:?}",
        corpus.docs.len(),
        total as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        expected
    );
    let text_dir = base.join("text");
    write_files(&corpus, &text_dir);
    let pools: Vec<(usize, rayon::ThreadPool)> = [1, 2]
        .into_iter()
        .map(|t| (t, rayon::ThreadPoolBuilder::new().num_threads(t).build().expect("pool")))
        .collect();

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for ((&size, terms), &want) in sizes.iter().zip(&lists).zip(&expected) {
        let rules = terms.rules();
        let t = Instant::now();
        let classifier = Classifier::new(&rules).expect("rules compile");
        let quarry_build = t.elapsed();
        let t = Instant::now();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&terms.terms)
            .expect("automaton");
        let ac_build = t.elapsed();
        eprintln!(
            "{size} terms: classifier built in {:.0} ms, automaton in {:.0} ms",
            quarry_build.as_secs_f64() * 1e3,
            ac_build.as_secs_f64() * 1e3
        );
        let terms_file = base.join(format!("terms-{size}.txt"));
        fs_err::write(&terms_file, terms.terms.join("\n") + "\n").expect("terms file");
        // Reference counts for the baselines, outside the timing.
        let ac_hits = pools[1].1.install(|| automaton_hits(&ac, &corpus));
        let exact = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&terms.terms)
            .expect("automaton");
        let exact_lines = pools[1].1.install(|| automaton_lines(&exact, &text_dir));
        drop(exact);
        assert!(ac_hits > 0 && exact_lines > 0, "the baselines find something");
        eprintln!(
            "{size} terms: quarry {want} hits; automaton {ac_hits} matches; {exact_lines} lines match case-sensitively"
        );

        // ripgrep, timed as a command.
        for (threads, _) in &pools {
            match time_ripgrep(
                size,
                "ripgrep",
                *threads,
                || ripgrep_lines(&terms_file, &text_dir, *threads, false, Duration::from_secs(600)),
                exact_lines,
            ) {
                Some(t) => eprintln!(
                    "{size} terms: rg -F -j {threads}: {:.0} MB/s",
                    total as f64 / 1e6 / t
                ),
                None => eprintln!("{size} terms: rg -F -j {threads}: did not finish in 600 s"),
            }
        }
        // ripgrep -i on a sample that shrinks as the list grows.
        let sample_dir = base.join(format!("sample-{size}"));
        let sample = write_sample(&corpus, &sample_dir, (32 << 20) / (size / 1_000).pow(2).max(1));
        let sample_lines = automaton_lines(&ac, &sample_dir);
        match time_ripgrep(
            size,
            "ripgrep -i",
            1,
            || ripgrep_lines(&terms_file, &sample_dir, 1, true, Duration::from_secs(300)),
            sample_lines,
        ) {
            Some(t) => {
                let rate = sample as f64 / 1e6 / t;
                eprintln!(
                    "{size} terms: rg -i -F -j 1 on {:.1} MB: {rate:.2} MB/s",
                    sample as f64 / 1e6
                );
                // Recorded as a rate over the whole corpus, for the summary.
                let mut times = TIMES.lock().expect("times");
                if let Some(v) = times.get_mut(&(size, "ripgrep -i", 1)) {
                    *v = vec![total as f64 / 1e6 / rate];
                }
            }
            None => {
                eprintln!(
                    "{size} terms: rg -i -F -j 1 did not finish {:.1} MB in 300 s",
                    sample as f64 / 1e6
                );
            }
        }

        let mut group = c.benchmark_group(format!("classify/{size}"));
        group.throughput(Throughput::Bytes(total as u64)).sampling_mode(SamplingMode::Flat);
        for (threads, pool) in &pools {
            let threads = *threads;
            group.bench_function(format!("quarry/{threads}t"), |b| {
                b.iter_custom(timed(
                    size,
                    "quarry",
                    threads,
                    || pool.install(|| quarry_hits(&classifier, &corpus)),
                    want,
                ));
            });
            group.bench_function(format!("aho-corasick/{threads}t"), |b| {
                b.iter_custom(timed(
                    size,
                    "aho-corasick",
                    threads,
                    || pool.install(|| automaton_hits(&ac, &corpus)),
                    ac_hits,
                ));
            });
        }
        group.finish();
    }
    if let (Some(terms), Some(small)) = (&absent, small) {
        let want = expected[lists.len()];
        assert_eq!(want, expected[small], "terms that never occur add no hits");
        let classifier = Classifier::new(&terms.rules()).expect("rules compile");
        let mut group = c.benchmark_group("classify/100000-absent");
        group.throughput(Throughput::Bytes(total as u64)).sampling_mode(SamplingMode::Flat);
        for (threads, pool) in &pools {
            let threads = *threads;
            group.bench_function(format!("quarry/{threads}t"), |b| {
                b.iter_custom(timed(
                    100_000,
                    ABSENT,
                    threads,
                    || pool.install(|| quarry_hits(&classifier, &corpus)),
                    want,
                ));
            });
        }
        group.finish();
    }
    end_to_end(&mut c, &corpus, &lists, &sizes, &base);
    c.final_summary();
    summary(total);
}

/// `quarry classify` over an ingested case, against reading its texts.
fn end_to_end(c: &mut Criterion, corpus: &Corpus, lists: &[Terms], sizes: &[usize], base: &Path) {
    let Some(at) =
        sizes.iter().position(|&n| n == 10_000).or(if sizes.is_empty() { None } else { Some(0) })
    else {
        return;
    };
    let terms = &lists[at];
    let case_dir = base.join("case");
    let docs = corpus.docs.len() as u64;
    let reuse = quarry_case::Case::open(&case_dir)
        .and_then(|case| case.summary(None))
        .is_ok_and(|s| s.items == docs);
    if !reuse {
        let docs_dir = base.join("docs");
        if docs_dir.exists() {
            fs_err::remove_dir_all(&docs_dir).expect("clear");
        }
        if case_dir.exists() {
            fs_err::remove_dir_all(&case_dir).expect("clear");
        }
        for (i, d) in corpus.docs.iter().enumerate() {
            let dir = docs_dir.join(format!("{:04}", i / 1_000));
            if i % 1_000 == 0 {
                fs_err::create_dir_all(&dir).expect("folder");
            }
            fs_err::write(dir.join(format!("{i:07}.txt")), &corpus.bytes[d.clone()]).expect("doc");
        }
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_quarry-bench-ingest"))
            .arg("--no-index")
            .arg(&case_dir)
            .arg("bench")
            .arg(&docs_dir)
            .output()
            .expect("ingest");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        eprintln!("end to end: ingested {docs} documents in {:.1} s", t.elapsed().as_secs_f64());
        fs_err::remove_dir_all(&docs_dir).expect("clear");
    }
    let case = quarry_case::Case::open(&case_dir).expect("case");
    let rules = terms.rules();
    let rules_text = toml::to_string(&rules).expect("rules as TOML");
    let classifier = Classifier::new(&rules).expect("rules");
    let with_hits = (0..corpus.docs.len())
        .into_par_iter()
        .map_init(Scratch::default, |s, i| {
            u64::from(!classifier.scan(corpus.doc(i), false, s).hits.is_empty())
        })
        .sum::<u64>();
    let blake3s: Vec<String> = {
        let conn = case.reader().expect("reader");
        let mut stmt =
            conn.prepare("SELECT blake3 FROM items WHERE text_chars IS NOT NULL").expect("sql");
        stmt.query_map([], |r| r.get(0)).expect("sql").map(|r| r.expect("row")).collect()
    };
    assert_eq!(blake3s.len() as u64, docs);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    let total = corpus.bytes.len() as u64;

    let mut group = c.benchmark_group("classify/case");
    group.throughput(Throughput::Bytes(total)).sampling_mode(SamplingMode::Flat).sample_size(10);
    group.bench_function("read-texts/2t", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let bytes: u64 = pool.install(|| {
                    blake3s
                        .par_iter()
                        .map_init(Vec::new, |buf, b| {
                            assert!(case.store().read_text(b, buf).expect("text"));
                            buf.len() as u64
                        })
                        .sum()
                });
                took += t.elapsed();
                assert_eq!(bytes, total);
                TIMES
                    .lock()
                    .expect("times")
                    .entry((0, "read texts", 2))
                    .or_default()
                    .push(took.as_secs_f64());
            }
            took
        });
    });
    group.bench_function("quarry-classify/2t", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let options = quarry_case::ClassifyOptions {
                    rules: Some(rules_text.clone()),
                    rescore_all: true,
                    threads: 2,
                };
                let t = Instant::now();
                let report = case.classify(&options, &|_| {}).expect("classify");
                let once = t.elapsed();
                if std::env::var_os("QUARRY_BENCH_VERBOSE").is_some() {
                    eprintln!(
                        "classify: {:.3} s: scanning {:.3} s, deciding {:.3} s, writing {:.3} s",
                        report.seconds,
                        report.scan_seconds,
                        report.decide_seconds,
                        report.write_seconds
                    );
                }
                took += once;
                assert_eq!(
                    (report.items, report.texts_scanned, report.bytes_scanned),
                    (docs, docs, total)
                );
                let suggested = report
                    .suggested
                    .iter()
                    .find(|t| t.tag == "suggest:issue/bench")
                    .map_or(0, |t| t.items);
                assert_eq!(suggested, with_hits, "items suggested = documents with a hit");
                TIMES
                    .lock()
                    .expect("times")
                    .entry((0, "quarry classify", 2))
                    .or_default()
                    .push(once.as_secs_f64());
            }
            took
        });
    });
    group.finish();
}

fn summary(total: usize) {
    let times = TIMES.lock().expect("times");
    let median = |v: &Vec<f64>| {
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let rate =
        |key: &(usize, &'static str, usize)| times.get(key).map(|v| total as f64 / 1e6 / median(v));
    println!("\nMB/s per core (median of iterations; {:.0} MB corpus):", total as f64 / 1e6);
    println!(
        "{:>8} {:>13} {:>9} {:>9} {:>9} {:>12}",
        "terms", "engine", "1 thread", "2 threads", "scaling", "vs rg -F 1t"
    );
    let sizes: std::collections::BTreeSet<usize> =
        times.keys().map(|k| k.0).filter(|&n| n > 0).collect();
    for size in sizes {
        for engine in ["quarry", ABSENT, "aho-corasick", "ripgrep", "ripgrep -i"] {
            let Some(one) = rate(&(size, engine, 1)) else {
                continue;
            };
            let two = rate(&(size, engine, 2));
            let rg = rate(&(size, "ripgrep", 1));
            println!(
                "{size:>8} {engine:>13} {one:>9.1} {:>9} {:>9} {:>12}",
                two.map_or("-".to_owned(), |t| format!("{:.1}", t / 2.0)),
                two.map_or("-".to_owned(), |t| format!("{:.2}x", t / one)),
                rg.map_or(String::new(), |rg| format!("{:.2}x", one / rg))
            );
        }
    }
    if let (Some(small), Some(large)) = (rate(&(1_000, "quarry", 1)), rate(&(100_000, ABSENT, 1))) {
        println!(
            "\n100,000 terms with the 1,000 list's hits, 1 thread: {:.2} of 1,000 terms' rate",
            large / small
        );
    }
    if let (Some(read), Some(run)) = (rate(&(0, "read texts", 2)), rate(&(0, "quarry classify", 2)))
    {
        println!("\nEnd to end, 2 threads, 10,000 terms (MB/s of text, all cores):");
        println!("  reading the stored texts alone {read:>8.0}");
        println!("  quarry classify                {run:>8.0}  ({:.2} of reading)", run / read);
    }
}
