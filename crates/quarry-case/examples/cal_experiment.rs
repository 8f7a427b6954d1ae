//! Compares variants of the CAL protocol over the 24 labelled UCB Enron topics of
//! docs/LEARN.md, each variant on the same seeds, all runs in parallel. Prints each topic's
//! mean effort to 80% recall per variant, the last variant's effort less the first's taken
//! seed by seed (mean and standard error), the means, and on how many topics each variant
//! needs more than the first. Then, per variant, the running recall estimate `learn status`
//! would show where each run reached 80% recall, and its 95% interval read at a tenth, a
//! quarter, a half and all of each run's effort: how often it holds the true recall, and how
//! wide it is.
//!
//! ```text
//! cargo run --release -p quarry-case --example cal_experiment -- CASE LABELS SEEDS VARIANT...
//! ```
//!
//! CASE is a case ingested from the corpus's UCB `.txt` files and LABELS the CSV built from
//! its `.cats` files (docs/LEARN.md says how). A VARIANT is `bmi` or parts joined by `+`:
//! `taper` (fewer presumed negatives as coded ones come in), `capN` (batches stop growing at
//! N), `iterN` (training steps), `lambdaN` (regularization 10^-(N/10), BMI's is
//! `lambda40`), `pnN` (presumed negatives), `priorN` (the seed query's prior
//! at weight N/10), `auc` (the prior scaled by how well the seed query separates the coding so
//! far), `exploreN` (N thousandths of each batch drawn at random from the rest, as a case's
//! prioritized batches draw 50), `lcbN` (with `auc`, the AUC taken N/10 standard errors
//! below its estimate), `rankN` (N thousandths of the exploration draw's probability spread by
//! rank rather than evenly; quarry's is 500), `fit` (the prior's weight fitted to the coding
//! instead of `auc`). Example: `bmi cap20 cap20+prior50+auc`. `FIRST_SEED=K` starts the
//! seeds at K; `TOPICS=3.8,1.2` runs those topics only; `PER_SEED=1` lists each topic's
//! differences seed by seed.

use std::collections::BTreeMap;
use std::path::Path;

use quarry_learn::{FeatureConfig, Protocol, Sparse};
use rayon::prelude::*;

const TOPICS: &[(&str, &str)] = &[
    ("1.1", "business strategy deal"),
    ("1.2", "family weekend dinner personal"),
    ("1.3", "congratulations thanks lunch"),
    ("1.4", "meeting schedule call conference"),
    ("1.5", "job position interview resume"),
    ("1.6", "draft comments review edits"),
    ("2.1", "forwarded"),
    ("2.2", "original message forwarded"),
    ("2.3", "letter"),
    ("2.4", "news article reported"),
    ("2.9", "http www"),
    ("2.13", "attached"),
    ("3.1", "ferc regulation price caps"),
    ("3.2", "project"),
    ("3.3", "enron image press"),
    ("3.4", "image reputation"),
    ("3.5", "political contributions senator governor"),
    ("3.6", "california energy crisis"),
    ("3.7", "policy"),
    ("3.8", "operations"),
    ("3.9", "partnership alliance"),
    ("3.10", "legal advice counsel attorney"),
    ("4.10", "confidential"),
    ("4.12", "concern concerned"),
];

fn variant(spec: &str) -> Protocol {
    let mut p = Protocol::bmi();
    p.name = spec.to_owned();
    for part in spec.split('+') {
        match part {
            "bmi" => {}
            // quarry's configuration as a case runs it; parts after it modify it.
            "quarry" => p = Protocol { name: p.name.clone(), ..Protocol::quarry() },
            "taper" => p.taper_presumed = true,
            "auc" => p.prior_trust = true,
            "fit" => p.prior_fit = true,
            s if s.starts_with("cap") => p.max_batch = s[3..].parse().expect("cap N"),
            s if s.starts_with("iter") => p.train.iterations = s[4..].parse().expect("iter N"),
            s if s.starts_with("lambda") => {
                p.train.lambda = 10f32.powf(-s[6..].parse::<f32>().expect("lambda N") / 10.0);
            }
            s if s.starts_with("prior") => {
                p.prior_weight = s[5..].parse::<f32>().expect("prior N") / 10.0;
            }
            s if s.starts_with("grow") => {
                p.cap_growth_permille = s[4..].parse().expect("grow N");
            }
            s if s.starts_with("lcb") => {
                p.prior_trust_z = s[3..].parse::<f32>().expect("lcb N") / 10.0;
            }
            s if s.starts_with("rank") => {
                p.explore_rank_permille = s[4..].parse().expect("rank N");
            }
            s if s.starts_with("pn") => p.presumed_negatives = s[2..].parse().expect("pn N"),
            s if s.starts_with("explore") => {
                p.explore_permille = s[7..].parse().expect("explore N");
            }
            s => panic!("unknown part {s}"),
        }
    }
    p
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let case = quarry_case::Case::open(Path::new(&args[1])).expect("case");
    let labels = std::fs::read_to_string(&args[2]).expect("labels");
    let seeds: u64 = args[3].parse().expect("seeds");
    // `FIRST_SEED=5` with SEEDS 4 runs seeds 5 to 8 (runs are deterministic per seed, so
    // batches of seeds add up).
    let first_seed: u64 = std::env::var("FIRST_SEED").map_or(1, |v| v.parse().expect("seed"));
    let variants: Vec<Protocol> = args[4..].iter().map(|s| variant(s)).collect();
    let config = FeatureConfig::default();
    let collection = case.learn_collection(&config).expect("collection");
    let m = &collection.matrix;
    let mut jobs = Vec::new();
    let mut truths = BTreeMap::new();
    // `TOPICS=3.8,1.2` runs those topics only.
    let only: Option<Vec<String>> =
        std::env::var("TOPICS").ok().map(|v| v.split(',').map(str::to_owned).collect());
    let topics: Vec<(&str, &str)> = TOPICS
        .iter()
        .copied()
        .filter(|(t, _)| only.as_ref().is_none_or(|o| o.iter().any(|x| x == t)))
        .collect();
    for &(topic, query) in &topics {
        let (relevant, _) = case.read_labels(&labels, "category", topic).expect("labels");
        let truth: Vec<bool> = collection.items.iter().map(|id| relevant.contains(id)).collect();
        truths.insert(topic, (truth, vec![m.vector(query, &config)]));
        for seed in first_seed..first_seed + seeds {
            for v in 0..variants.len() {
                jobs.push((topic, seed, v));
            }
        }
    }
    let started = std::time::Instant::now();
    // Per run: topic, seed, variant, effort to 80% recall, and the running recall estimate a
    // case would show where the run stopped (None without draws).
    let results: Vec<Run<'_>> = jobs
        .par_iter()
        .map(|&(topic, seed, v)| {
            let (truth, seeds_v): &(Vec<bool>, Vec<Sparse>) = &truths[topic];
            let (order, draws, stopped) =
                quarry_learn::cal::simulate_traced(m, seeds_v, truth, &variants[v], seed, 0.8);
            let estimate = running_recall(&order[..stopped], &draws, truth).map(|e| e.0);
            let checkpoints = CHECKPOINTS
                .iter()
                .filter_map(|&f| {
                    let k = ((stopped as f64 * f).round() as usize).clamp(1, stopped);
                    let mut at = vec![usize::MAX; truth.len()];
                    for (i, &row) in order.iter().enumerate() {
                        at[row] = i;
                    }
                    let drawn: Vec<(usize, f64)> =
                        draws.iter().copied().filter(|&(row, _)| at[row] < k).collect();
                    let (est, low, high) = running_recall(&order[..k], &drawn, truth)?;
                    let total = truth.iter().filter(|&&r| r).count() as f64;
                    let found = order[..k].iter().filter(|&&i| truth[i]).count() as f64;
                    Some(Checkpoint { fraction: f, truth: found / total, est, low, high })
                })
                .collect();
            (topic, seed, v, quarry_learn::effort(&order, truth, 0.8), estimate, checkpoints)
        })
        .collect();
    eprintln!("{} runs in {:.0} s", jobs.len(), started.elapsed().as_secs_f64());
    let mut mean = vec![0f64; variants.len()];
    print!("{:<6}", "topic");
    for v in &variants {
        print!(" {:>16}", v.name);
    }
    println!();
    let mut worse = vec![0; variants.len()];
    let verbose = std::env::var_os("PER_SEED").is_some();
    for &(topic, _) in &topics {
        print!("{topic:<6}");
        let mut per = vec![0f64; variants.len()];
        // Per seed, each variant's effort less the first's: its spread says how much of a
        // topic's mean difference is noise.
        let mut diffs = vec![Vec::new(); variants.len()];
        let effort_of = |seed: u64, v: usize| {
            results.iter().find(|r| r.0 == topic && r.1 == seed && r.2 == v).map(|r| r.3)
        };
        for seed in first_seed..first_seed + seeds {
            let base = effort_of(seed, 0).expect("run") as f64;
            for (v, d) in diffs.iter_mut().enumerate() {
                let e = effort_of(seed, v).expect("run") as f64;
                per[v] += e / seeds as f64;
                d.push(e - base);
            }
        }
        for v in 0..variants.len() {
            print!(" {:>16.1}", per[v]);
            mean[v] += per[v] / topics.len() as f64;
            if per[v] > per[0] {
                worse[v] += 1;
            }
        }
        // The last variant against the first: mean difference and its standard error.
        let d = &diffs[variants.len() - 1];
        if let Some((md, se)) = quarry_learn::paired(d) {
            print!("   diff {md:+7.1} se {se:5.1}");
        }
        if verbose {
            print!("  {d:?}");
        }
        println!();
    }
    print!("{:<6}", "mean");
    for v in &mean {
        print!(" {v:>16.1}");
    }
    println!();
    print!("{:<6}", ">first");
    for w in &worse {
        print!(" {w:>16}");
    }
    println!();
    // The running estimate of recall where each run stopped (true recall just past 80%):
    // mean, standard deviation and range over the runs that drew anything.
    for (v, variant) in variants.iter().enumerate() {
        let e: Vec<f64> = results.iter().filter(|r| r.2 == v).filter_map(|r| r.4).collect();
        if e.is_empty() {
            continue;
        }
        let mean = e.iter().sum::<f64>() / e.len() as f64;
        let sd = (e.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / e.len() as f64).sqrt();
        let (lo, hi) = e.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        println!(
            "running recall estimate at 80% ({}): mean {mean:.3}, sd {sd:.3}, range {lo:.3}-{hi:.3} over {} runs",
            variant.name,
            e.len()
        );
        // The 95% interval status shows, at fractions of each run's effort to 80% recall: how
        // often it holds the true recall, and how wide it is.
        for &f in CHECKPOINTS {
            let c: Vec<&Checkpoint> = results
                .iter()
                .filter(|r| r.2 == v)
                .flat_map(|r| &r.5)
                .filter(|c| c.fraction == f)
                .collect();
            if c.is_empty() {
                continue;
            }
            let n = c.len() as f64;
            let held = c.iter().filter(|c| c.low <= c.truth && c.truth <= c.high).count() as f64;
            let below = c.iter().filter(|c| c.truth < c.low).count() as f64;
            println!(
                "  at {:>3.0}% of the effort: true recall {:.3}, estimate {:.3}, interval holds it in {:.1}% of {} runs ({:.1}% above it), mean width {:.3}",
                100.0 * f,
                c.iter().map(|c| c.truth).sum::<f64>() / n,
                c.iter().map(|c| c.est).sum::<f64>() / n,
                100.0 * held / n,
                c.len(),
                100.0 * below / n,
                c.iter().map(|c| c.high - c.low).sum::<f64>() / n,
            );
        }
    }
}

/// One run: topic, seed, variant, effort to 80% recall, the running recall estimate where it
/// stopped, and the estimate at each of [`CHECKPOINTS`].
type Run<'a> = (&'a str, u64, usize, usize, Option<f64>, Vec<Checkpoint>);

/// Fractions of a run's effort to 80% recall at which the running estimate is checked.
const CHECKPOINTS: &[f64] = &[0.1, 0.25, 0.5, 1.0];

/// The running estimate at one checkpoint of one run, and the true recall there.
struct Checkpoint {
    fraction: f64,
    truth: f64,
    est: f64,
    low: f64,
    high: f64,
}

/// What `learn status` would estimate after reviewing `reviewed`: relevant found over found
/// plus the draws' weighted relevant rate times the documents not reviewed.
fn running_recall(
    reviewed: &[usize],
    draws: &[(usize, f64)],
    truth: &[bool],
) -> Option<(f64, f64, f64)> {
    if draws.is_empty() {
        return None;
    }
    let draws: Vec<(bool, Option<f64>)> =
        draws.iter().map(|&(row, p)| (truth[row], Some(p))).collect();
    let (rate, low, high) = quarry_learn::cal::running_interval(&draws);
    let found = reviewed.iter().filter(|&&i| truth[i]).count() as f64;
    let rest = (truth.len() - reviewed.len()) as f64;
    let recall = |rate: f64| {
        let missed = rate * rest;
        if found + missed > 0.0 { found / (found + missed) } else { 1.0 }
    };
    Some((recall(rate), recall(high), recall(low)))
}
