//! The ranker: logistic regression trained by Pegasos on pairs (a relevant and a
//! non-relevant example at a time, "ROC" sampling), as sofia-ml does for BMI (FORMATS.md §7).
//!
//! Training is deterministic: the pairs come from a seeded generator, so the same training
//! set and parameters give the same weights, bit for bit. Scoring is a sparse dot product per
//! document, run in parallel; each score depends on its document alone, so any number of
//! threads gives the same scores.

use std::borrow::Cow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::{Counter, FeatureConfig, Matrix, Sparse};

/// Training parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// L2 regularization.
    pub lambda: f32,
    /// Pairs sampled.
    pub iterations: u32,
    /// Seed of the pair sampler.
    pub seed: u64,
}

impl Default for TrainParams {
    /// BMI's: lambda 0.0001, 200,000 iterations.
    fn default() -> Self {
        TrainParams { lambda: 1e-4, iterations: 200_000, seed: 1 }
    }
}

/// A deterministic generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Shuffles in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// A training example: a row of the matrix, or an outside vector (a seed query).
#[derive(Clone, Copy, Debug)]
pub enum Example<'a> {
    /// Row of the matrix.
    Row(usize),
    /// A vector of its own.
    Vector(&'a Sparse),
}

/// The trained weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// One weight per feature id.
    pub weights: Vec<f32>,
}

/// The examples of one side of the training set (the relevant or the other ones) that the
/// sampler drew, each as (feature ids, values), the ids possibly renumbered (see [`train`]).
/// `None` for an example never drawn.
type Side<'a> = Vec<Option<(Cow<'a, [u32]>, Cow<'a, [f32]>)>>;

/// Example `k` of a side, which the sampler drew.
fn example<'s>(side: &'s Side<'_>, k: u32) -> (&'s [u32], &'s [f32]) {
    let (ids, values) = side[k as usize].as_ref().expect("a drawn example");
    (ids, values)
}

/// Renumbered ids of all drawn examples together stay under this many (64 MB; 50,000 drawn
/// documents of 320 features). Past it training keeps the original ids, as before: the copy
/// costs memory, renumbering costs an access to a 4 MB map per id, and once the drawn
/// documents cover most of the dimensions the dense weights save little (not measured there).
const RENUMBER_MAX: usize = 1 << 24;

/// The drawn examples of one side, with their original ids.
fn drawn<'a>(m: &'a Matrix, examples: &'a [Example<'a>], used: &[bool]) -> Side<'a> {
    examples
        .iter()
        .zip(used)
        .map(|(e, &used)| {
            used.then(|| match e {
                Example::Row(i) => {
                    let (ids, values) = m.row(*i);
                    (Cow::Borrowed(ids), Cow::Borrowed(values))
                }
                Example::Vector(v) => {
                    let (ids, values): (Vec<u32>, Vec<f32>) = v.iter().copied().unzip();
                    (Cow::Owned(ids), Cow::Owned(values))
                }
            })
        })
        .collect()
}

/// `v · a - v · b`, each dot product summed in its own order (as `Iterator::sum` would), but
/// the two side by side: each sum is a chain of dependent additions, and two chains run in
/// the time of one.
#[inline]
fn dots(v: &[f32], a: (&[u32], &[f32]), b: (&[u32], &[f32])) -> f64 {
    let term = |(ids, vals): (&[u32], &[f32]), k: usize| {
        f64::from(v[ids[k] as usize]) * f64::from(vals[k])
    };
    let (mut sa, mut sb) = (-0.0f64, -0.0f64);
    let common = a.0.len().min(b.0.len());
    for k in 0..common {
        sa += term(a, k);
        sb += term(b, k);
    }
    for k in common..a.0.len() {
        sa += term(a, k);
    }
    for k in common..b.0.len() {
        sb += term(b, k);
    }
    sa - sb
}

/// Trains on relevant and non-relevant examples; `None` when either side is empty.
///
/// Pegasos reads and writes the weight of every feature of the two examples of each step. Over
/// the 2^20 hashed dimensions the weights take 4 MB, and a word's id is as good as random, so
/// on real mail (330 features a message in the labelled Enron set) most of those accesses
/// missed the L2 cache: 1.9 s for 10,000 coded email-like rows in the benchmark, against 0.45 s
/// on rows whose ids crowd the low dimensions. So the pairs are drawn first, and the features
/// of the drawn examples numbered densely, in order of appearance: the weights in play then
/// sit together (0.8 s). The arithmetic is the same, in the same order, so the weights are bit
/// for bit those of the plain loop, and models recorded before still rebuild. Past
/// [`RENUMBER_MAX`] ids the copy would cost more memory than it saves time, and the original
/// ids are kept.
#[must_use]
pub fn train(
    m: &Matrix,
    positives: &[Example<'_>],
    negatives: &[Example<'_>],
    params: &TrainParams,
) -> Option<Model> {
    train_renumbering_up_to(m, positives, negatives, params, RENUMBER_MAX)
}

/// [`train`], renumbering when the drawn examples have at most `renumber_max` ids in all.
fn train_renumbering_up_to(
    m: &Matrix,
    positives: &[Example<'_>],
    negatives: &[Example<'_>],
    params: &TrainParams,
    renumber_max: usize,
) -> Option<Model> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let mut rng = Rng::new(params.seed);
    let pairs: Vec<(u32, u32)> = (0..params.iterations)
        .map(|_| (rng.below(positives.len()) as u32, rng.below(negatives.len()) as u32))
        .collect();
    let (mut used_pos, mut used_neg) = (vec![false; positives.len()], vec![false; negatives.len()]);
    for &(a, b) in &pairs {
        used_pos[a as usize] = true;
        used_neg[b as usize] = true;
    }
    let mut pos = drawn(m, positives, &used_pos);
    let mut neg = drawn(m, negatives, &used_neg);
    let ids: usize = pos.iter().chain(&neg).flatten().map(|(ids, _)| ids.len()).sum();
    // Dense numbers, or none: `features[k]` is the original id of weight `k`.
    let features = (ids <= renumber_max).then(|| {
        let mut dense = vec![u32::MAX; m.dims];
        let mut features = Vec::new();
        for (ids, _) in pos.iter_mut().chain(neg.iter_mut()).flatten() {
            let renumbered = ids
                .iter()
                .map(|&id| {
                    let slot = &mut dense[id as usize];
                    if *slot == u32::MAX {
                        *slot = u32::try_from(features.len()).expect("under 2^32 features");
                        features.push(id);
                    }
                    *slot
                })
                .collect();
            *ids = Cow::Owned(renumbered);
        }
        features
    });
    let lambda = params.lambda;
    let mut v = vec![0f32; features.as_ref().map_or(m.dims, Vec::len)];
    let mut scale = 1f64;
    let mut sq = 0f64; // |v|^2
    let max_norm = 1.0 / f64::from(lambda).sqrt();
    for (t, &(a, b)) in (1..=params.iterations).zip(&pairs) {
        let (ai, av) = example(&pos, a);
        let (bi, bv) = example(&neg, b);
        let margin = scale * dots(&v, (ai, av), (bi, bv));
        let eta = 1.0 / (f64::from(lambda) * f64::from(t));
        // Shrink: w <- (1 - eta lambda) w, kept as a scale factor.
        let shrink = 1.0 - eta * f64::from(lambda);
        if shrink <= 1e-12 {
            v.iter_mut().for_each(|x| *x = 0.0);
            scale = 1.0;
            sq = 0.0;
        } else {
            scale *= shrink;
        }
        // Logistic loss on the pair: step along (x_a - x_b) by sigma(-margin).
        let c = eta / (1.0 + margin.exp());
        let step = c / scale;
        for (ids, vals, sign) in [(ai, av, 1.0), (bi, bv, -1.0)] {
            for (&i, &x) in ids.iter().zip(vals) {
                let old = f64::from(v[i as usize]);
                let new = old + sign * step * f64::from(x);
                sq += new * new - old * old;
                v[i as usize] = new as f32;
            }
        }
        // Project onto the ball of radius 1/sqrt(lambda).
        let norm = scale * sq.max(0.0).sqrt();
        if norm > max_norm {
            scale *= max_norm / norm;
        }
        if scale < 1e-6 {
            v.iter_mut().for_each(|x| *x = (f64::from(*x) * scale) as f32);
            sq *= scale * scale;
            scale = 1.0;
        }
    }
    let weight = |x: f32| (f64::from(x) * scale) as f32;
    let weights = match features {
        None => v.into_iter().map(weight).collect(),
        Some(features) => {
            // Features no drawn example has keep the weight 0, as the plain loop left them.
            let mut weights = vec![0f32; m.dims];
            for (&id, &x) in features.iter().zip(&v) {
                weights[id as usize] = weight(x);
            }
            weights
        }
    };
    Some(Model { weights })
}

impl Model {
    /// The score of one row.
    #[must_use]
    pub fn score_row(&self, m: &Matrix, i: usize) -> f32 {
        let (ids, vals) = m.row(i);
        ids.iter().zip(vals).map(|(&id, &x)| self.weights[id as usize] * x).sum()
    }

    /// Scores of `rows`, in parallel.
    #[must_use]
    pub fn score(&self, m: &Matrix, rows: &[usize]) -> Vec<f32> {
        rows.par_iter().with_min_len(4096).map(|&i| self.score_row(m, i)).collect()
    }

    /// A scorer of texts outside the stored collection (new items before their counts are
    /// stored), weighted by the collection's idf (`Matrix::idf`).
    #[must_use]
    pub fn text_scorer(&self, idf: &[f32], config: FeatureConfig) -> TextScorer {
        let table = idf.iter().zip(&self.weights).map(|(&i, &w)| [i, i * w]).collect();
        TextScorer { table, log_tf: std::array::from_fn(|tf| 1.0 + (tf as f32).ln()), config }
    }
}

/// Scores raw text: counts its words, weighs them as [`Matrix::build`] does and takes the dot
/// product with the model, in one pass over the distinct words. Each feature's idf and
/// idf × weight sit side by side, so a word costs one memory access, not two.
#[derive(Clone, Debug)]
pub struct TextScorer {
    /// Per feature id: [idf, idf × weight].
    table: Vec<[f32; 2]>,
    /// `1 + ln tf` for the small counts nearly every word has.
    log_tf: [f32; 16],
    config: FeatureConfig,
}

impl TextScorer {
    /// The score of `text` (what [`Model::score_row`] gives for its row) and the number of
    /// words counted.
    pub fn score(&self, text: &str, counter: &mut Counter) -> (f32, u64) {
        let mut norm = 0f32;
        let mut dot = 0f32;
        let mut words = 0u64;
        counter.for_each(text, &self.config, |id, tf| {
            words += u64::from(tf);
            let [idf, weighted] = self.table[id as usize];
            let t = match self.log_tf.get(tf as usize) {
                Some(&t) => t,
                None => 1.0 + (tf as f32).ln(),
            };
            norm += (t * idf) * (t * idf);
            dot += t * weighted;
        });
        let score = if norm > 0.0 { dot / norm.sqrt() } else { 0.0 };
        (score, words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::count;

    fn matrix() -> Matrix {
        let config = FeatureConfig::default();
        let texts: Vec<String> = (0..3000)
            .map(|i| {
                if i % 4 == 0 {
                    format!("gas pipeline storage note {i}")
                } else {
                    format!("lunch weather golf note {}", i % 7)
                }
            })
            .collect();
        let docs: Vec<_> = texts.iter().map(|t| count(t, &config)).collect();
        Matrix::build(&docs, &config)
    }

    /// Pegasos over all `m.dims` weights, written as simply as it can be: what [`train`] must
    /// equal bit for bit, so that models recorded before its renumbering still rebuild.
    fn train_plain(
        m: &Matrix,
        positives: &[Example<'_>],
        negatives: &[Example<'_>],
        params: &TrainParams,
    ) -> Model {
        let vector = |e: &Example<'_>| -> Vec<(u32, f32)> {
            match e {
                Example::Row(i) => {
                    let (ids, values) = m.row(*i);
                    ids.iter().copied().zip(values.iter().copied()).collect()
                }
                Example::Vector(v) => v.to_vec(),
            }
        };
        let lambda = f64::from(params.lambda);
        let (mut v, mut scale, mut sq) = (vec![0f32; m.dims], 1f64, 0f64);
        let mut rng = Rng::new(params.seed);
        for t in 1..=params.iterations {
            let a = vector(&positives[rng.below(positives.len())]);
            let b = vector(&negatives[rng.below(negatives.len())]);
            let dot = |x: &[(u32, f32)], v: &[f32]| -> f64 {
                x.iter().map(|&(i, w)| f64::from(v[i as usize]) * f64::from(w)).sum()
            };
            let margin = scale * (dot(&a, &v) - dot(&b, &v));
            let eta = 1.0 / (lambda * f64::from(t));
            let shrink = 1.0 - eta * lambda;
            if shrink <= 1e-12 {
                v.fill(0.0);
                (scale, sq) = (1.0, 0.0);
            } else {
                scale *= shrink;
            }
            let step = eta / (1.0 + margin.exp()) / scale;
            for (x, sign) in [(&a, 1.0), (&b, -1.0)] {
                for &(i, w) in x {
                    let old = f64::from(v[i as usize]);
                    let new = old + sign * step * f64::from(w);
                    sq += new * new - old * old;
                    v[i as usize] = new as f32;
                }
            }
            let norm = scale * sq.max(0.0).sqrt();
            if norm > 1.0 / lambda.sqrt() {
                scale *= 1.0 / lambda.sqrt() / norm;
            }
            if scale < 1e-6 {
                v.iter_mut().for_each(|x| *x = (f64::from(*x) * scale) as f32);
                sq *= scale * scale;
                scale = 1.0;
            }
        }
        Model { weights: v.into_iter().map(|x| (f64::from(x) * scale) as f32).collect() }
    }

    #[test]
    fn renumbered_training_gives_the_plain_loops_weights_bit_for_bit() {
        // Rows with ids spread over the whole space and of very different lengths, a seed
        // vector with ids no row has, and a presumed negative listed twice.
        let config = FeatureConfig::default();
        let mut rng = Rng::new(7);
        let docs: Vec<Vec<(u32, u32)>> = (0..300)
            .map(|i| {
                let n = 5 + rng.below(if i % 10 == 0 { 900 } else { 120 });
                let mut ids: Vec<u32> = (0..n).map(|_| rng.below(1 << 20) as u32).collect();
                ids.push(i as u32 % 50); // shared features, so that documents overlap
                ids.sort_unstable();
                ids.dedup();
                ids.into_iter().map(|id| (id, 1 + id % 4)).collect()
            })
            .collect();
        let m = Matrix::build(&docs, &config);
        let seed: Sparse = vec![(3, 0.6), (999_999, 0.8)];
        let mut pos = vec![Example::Vector(&seed)];
        pos.extend((0..40).map(|i| Example::Row(i * 7)));
        let mut neg: Vec<Example<'_>> = (0..120).map(|i| Example::Row(i * 2 + 1)).collect();
        neg.push(Example::Row(1));
        // The last has fewer steps than examples: some are never drawn.
        for (lambda, iterations) in [(1e-4, 20_000), (1e-2, 5_000), (1.0, 3_000), (1e-3, 60)] {
            let params = TrainParams { lambda, iterations, seed: 5 };
            let plain = train_plain(&m, &pos, &neg, &params);
            assert!(plain.weights.iter().any(|&w| w != 0.0));
            // Renumbered (the default), and with the original ids (past the budget).
            for budget in [RENUMBER_MAX, 0] {
                let fast = train_renumbering_up_to(&m, &pos, &neg, &params, budget).unwrap();
                assert_eq!(
                    fast.weights.iter().map(|w| w.to_bits()).collect::<Vec<_>>(),
                    plain.weights.iter().map(|w| w.to_bits()).collect::<Vec<_>>(),
                    "lambda {lambda}, budget {budget}"
                );
            }
        }
    }

    #[test]
    fn text_scores_agree_with_row_scores() {
        let config = FeatureConfig::default();
        let texts: Vec<String> = (0..400)
            .map(|i| {
                let extra = if i % 3 == 0 { "gas gas gas pipeline" } else { "golf lunch" };
                format!("note {i} about {extra} and weather {} {extra}", i % 11)
            })
            .collect();
        let docs: Vec<_> = texts.iter().map(|t| count(t, &config)).collect();
        let m = Matrix::build(&docs, &config);
        let pos: Vec<Example<'_>> = (0..40).map(|i| Example::Row(i * 3)).collect();
        let neg: Vec<Example<'_>> = (0..40).map(|i| Example::Row(i * 3 + 1)).collect();
        let model =
            train(&m, &pos, &neg, &TrainParams { iterations: 5_000, ..TrainParams::default() })
                .expect("model");
        let scorer = model.text_scorer(&m.idf, config);
        let mut counter = Counter::default();
        for (i, text) in texts.iter().enumerate() {
            let (score, words) = scorer.score(text, &mut counter);
            assert!((score - model.score_row(&m, i)).abs() < 1e-5, "{text}");
            assert_eq!(words, docs[i].iter().map(|c| u64::from(c.1)).sum::<u64>());
        }
    }

    #[test]
    fn training_is_deterministic_and_scores_agree_across_threads() {
        let m = matrix();
        let pos: Vec<Example<'_>> = (0..40).map(|i| Example::Row(i * 4)).collect();
        let neg: Vec<Example<'_>> = (0..40).map(|i| Example::Row(i * 4 + 1)).collect();
        let params = TrainParams { iterations: 20_000, ..TrainParams::default() };
        let a = train(&m, &pos, &neg, &params).unwrap();
        let b = train(&m, &pos, &neg, &params).unwrap();
        assert_eq!(a, b, "same training set and parameters, same weights");
        let rows: Vec<usize> = (0..m.rows()).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| a.score(&m, &rows));
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| a.score(&m, &rows));
        assert_eq!(
            one.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            two.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
        // The relevant kind ranks above the other.
        assert!(one[8] > one[9] && one[400] > one[401]);
    }
}
