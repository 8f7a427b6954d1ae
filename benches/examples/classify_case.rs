//! Runs `Case::classify` over the classification benchmark's case (built by `cargo bench
//! --bench classify`) with its 10,000-term list, printing the phases of each run: a harness
//! for profiling the end-to-end path outside criterion.
//! `cargo run --release -p quarry-bench --example classify_case -- CASE_DIR [RUNS]`.

use quarry_bench::classify::{Terms, Universe};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let case_dir = args.get(1).expect("CASE_DIR");
    let runs: usize = args.get(2).map_or(3, |a| a.parse().expect("runs"));
    let universe = Universe::new();
    let terms = Terms::new(&universe, 10_000, 0xC1A5 + 10_000);
    let rules_text = toml::to_string(&terms.rules()).expect("rules as TOML");
    let case = quarry_case::Case::open(std::path::Path::new(case_dir)).expect("case");
    for _ in 0..runs {
        let options = quarry_case::ClassifyOptions {
            rules: Some(rules_text.clone()),
            rescore_all: true,
            threads: 2,
        };
        let report = case.classify(&options, &|_| {}).expect("classify");
        println!(
            "classify: {:.3} s: scanning {:.3} s, deciding {:.3} s, writing {:.3} s ({} MB/s)",
            report.seconds,
            report.scan_seconds,
            report.decide_seconds,
            report.write_seconds,
            (report.bytes_scanned as f64 / 1e6 / report.seconds) as u64
        );
    }
}
