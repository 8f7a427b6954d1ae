//! When to stop, and how much was found: the knee rule and the elusion estimate.

use serde::Serialize;

/// The knee stopping rule (Cormack & Grossman 2016, as FORMATS.md §7 gives it), on the gain
/// curve `found[k]` = relevant documents among the first `k + 1` reviewed. At each point `i`,
/// the slope before it over the slope after it is
/// ρ = (found(i) / (i + 1)) / ((1 + found(end) − found(i)) / (end − i)); the rule says stop
/// once the largest ρ reaches 156 − min(found(end), 150) and at least 150 documents were
/// reviewed. Returns (stop, the largest ρ, where it is).
#[must_use]
pub fn knee(found: &[u64]) -> (bool, f64, usize) {
    let Some(&last) = found.last() else { return (false, 0.0, 0) };
    let end = found.len();
    let mut best = (0.0, 0);
    for (i, &f) in found.iter().enumerate().take(end.saturating_sub(1)) {
        let before = f as f64 / (i + 1) as f64;
        let after = (1 + last - f) as f64 / (end - 1 - i) as f64;
        let rho = before / after;
        if rho > best.0 {
            best = (rho, i + 1);
        }
    }
    let threshold = 156.0 - last.min(150) as f64;
    (best.0 >= threshold && end >= 150, best.0, best.1)
}

/// Recall estimated from an elusion sample of the documents not reviewed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Elusion {
    /// Relevant documents found by review.
    pub found: u64,
    /// Documents not reviewed (the discard pile the sample was drawn from).
    pub discard: u64,
    /// Sample size.
    pub sample: u64,
    /// Relevant documents in the sample.
    pub sample_relevant: u64,
    /// Share of the discard pile estimated relevant.
    pub elusion: f64,
    /// Relevant documents estimated left in the discard pile.
    pub estimated_missed: f64,
    /// found / (found + estimated_missed).
    pub recall: f64,
    /// 95% interval of the recall (from the Wilson interval of the elusion).
    pub recall_low: f64,
    /// See `recall_low`.
    pub recall_high: f64,
}

/// The elusion estimate (FORMATS.md §7): elusion = relevant in sample / sample; missed =
/// elusion × discard; recall = found / (found + missed). The interval is the Wilson score
/// interval of the elusion at 95%, carried through.
#[must_use]
pub fn elusion(found: u64, discard: u64, sample: u64, sample_relevant: u64) -> Elusion {
    let (p, low, high) = wilson(sample_relevant, sample);
    let recall_at = |e: f64| {
        let missed = e * discard as f64;
        if found == 0 && missed == 0.0 { 1.0 } else { found as f64 / (found as f64 + missed) }
    };
    Elusion {
        found,
        discard,
        sample,
        sample_relevant,
        elusion: p,
        estimated_missed: p * discard as f64,
        recall: recall_at(p),
        recall_low: recall_at(high),
        recall_high: recall_at(low),
    }
}

/// Wilson score interval at 95%: (estimate, low, high).
#[must_use]
pub fn wilson(k: u64, n: u64) -> (f64, f64, f64) {
    if n == 0 {
        return (0.0, 0.0, 1.0);
    }
    wilson_rate(k as f64 / n as f64, n as f64)
}

/// Wilson score interval at 95% around a rate `p` measured on `n` draws, `n` not necessarily
/// whole (an effective sample size): (p, low, high).
#[must_use]
pub fn wilson_rate(p: f64, n: f64) -> (f64, f64, f64) {
    if n <= 0.0 {
        return (p, 0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / denom;
    // At a rate of 0 or 1 the interval ends there exactly; rounding would leave it a hair off.
    let low = if p <= 0.0 { 0.0 } else { (center - half).max(0.0) };
    let high = if p >= 1.0 { 1.0 } else { (center + half).min(1.0) };
    (p, low, high)
}

/// Mean and standard error of differences taken pair by pair (one protocol's effort less
/// another's on the same seed); `None` under two pairs.
#[must_use]
pub fn paired(diffs: &[f64]) -> Option<(f64, f64)> {
    if diffs.len() < 2 {
        return None;
    }
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, (var / n).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knee_stops_after_the_bend_only() {
        // 100 relevant in the first 200 documents, then none in the next 800.
        let found: Vec<u64> =
            (0..1000u64).map(|i| if i < 200 { i.div_ceil(2) } else { 100 }).collect();
        let (stop, rho, at) = knee(&found);
        assert!(stop, "{rho}");
        assert!((190..=210).contains(&at), "{at}");
        // A steady rate has no knee.
        let steady: Vec<u64> = (0..1000u64).map(|i| i.div_ceil(2)).collect();
        assert!(!knee(&steady).0);
    }

    #[test]
    fn elusion_recall_and_interval() {
        let e = elusion(900, 10_000, 400, 4);
        assert!((e.elusion - 0.01).abs() < 1e-12);
        assert!((e.estimated_missed - 100.0).abs() < 1e-9);
        assert!((e.recall - 0.9).abs() < 1e-9);
        assert!(e.recall_low < 0.9 && e.recall_high > 0.9 && e.recall_high <= 1.0);
        let (_, low, high) = wilson(0, 400);
        assert!(low < 1e-12);
        assert!(high > 0.009 && high < 0.0096, "{high}");
    }

    #[test]
    fn paired_differences_mean_and_standard_error() {
        assert_eq!(paired(&[5.0]), None);
        // Sample variance (n - 1): 2, 4, 6 has variance 4, standard error 2 / sqrt(3).
        let (mean, se) = paired(&[2.0, 4.0, 6.0]).unwrap();
        assert!((mean - 4.0).abs() < 1e-12);
        assert!((se - 2.0 / 3f64.sqrt()).abs() < 1e-12, "{se}");
        assert_eq!(paired(&[-3.0, -3.0]), Some((-3.0, 0.0)));
    }
}
