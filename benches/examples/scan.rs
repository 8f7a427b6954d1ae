//! A quick A/B harness for the classifier's scan, outside criterion: best of `ROUNDS` passes
//! over a generated corpus, 1 and 2 threads, hits asserted against the generator's count.
//! `cargo run --release -p quarry-bench --example scan -- [MB] [ROUNDS] [SIZES]`.

use std::time::Instant;

use quarry_bench::classify::{Terms, Universe, generate};
use quarry_tag::{Classifier, Scratch};
use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb: usize = args.get(1).map_or(256, |a| a.parse().expect("MB"));
    let rounds: usize = args.get(2).map_or(5, |a| a.parse().expect("rounds"));
    let sizes: Vec<usize> = args.get(3).map_or_else(
        || vec![1_000, 10_000, 100_000],
        |a| a.split(',').map(|s| s.parse().expect("size")).collect(),
    );
    let universe = Universe::new();
    let mut lists: Vec<Terms> =
        sizes.iter().map(|&n| Terms::new(&universe, n, 0xC1A5 + n as u64)).collect();
    // `ABSENT=N`: a list of N terms with the first list's hits (its terms, then terms that
    // never occur), measured last.
    let absent: Option<usize> = std::env::var("ABSENT").ok().map(|v| v.parse().expect("N"));
    let mut sizes = sizes;
    if let Some(n) = absent {
        lists.push(Terms::with_absent(&universe, &lists[0], n, 0xAB5E));
        sizes.push(n);
    }
    let refs: Vec<&Terms> = lists.iter().collect();
    let (corpus, expected) = generate(&universe, mb << 20, &refs, 7);
    if absent.is_some() {
        assert_eq!(expected.last(), expected.first(), "the absent terms never hit");
    }
    let total = corpus.bytes.len() as f64 / 1e6;
    for ((size, terms), want) in sizes.iter().zip(&lists).zip(&expected) {
        let classifier = Classifier::new(&terms.rules()).expect("rules");
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            let mut best = f64::MAX;
            for _ in 0..rounds {
                let t = Instant::now();
                let hits: u64 = pool.install(|| {
                    (0..corpus.docs.len())
                        .into_par_iter()
                        .map_init(Scratch::default, |scratch, i| {
                            classifier.scan(corpus.doc(i), false, scratch).hits.len() as u64
                        })
                        .sum()
                });
                best = best.min(t.elapsed().as_secs_f64());
                assert_eq!(hits, *want, "{size} terms");
            }
            println!(
                "{size:>7} terms {threads}t: {:6.0} MB/s per core",
                total / best / threads as f64
            );
        }
    }
}
