//! The ranker: logistic regression trained by Pegasos on pairs (a relevant and a
//! non-relevant example at a time, "ROC" sampling), as sofia-ml does for BMI (FORMATS.md §7).
//!
//! Training is deterministic: the pairs come from a seeded generator, so the same training
//! set and parameters give the same weights, bit for bit. Scoring is a sparse dot product per
//! document, run in parallel; each score depends on its document alone, so any number of
//! threads gives the same scores.

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

fn parts<'a>(
    m: &'a Matrix,
    e: &'a Example<'a>,
    scratch: &'a mut (Vec<u32>, Vec<f32>),
) -> (&'a [u32], &'a [f32]) {
    match e {
        Example::Row(i) => m.row(*i),
        Example::Vector(v) => {
            scratch.0.clear();
            scratch.1.clear();
            for &(id, w) in v.iter() {
                scratch.0.push(id);
                scratch.1.push(w);
            }
            (&scratch.0, &scratch.1)
        }
    }
}

/// Trains on relevant and non-relevant examples; `None` when either side is empty.
#[must_use]
pub fn train(
    m: &Matrix,
    positives: &[Example<'_>],
    negatives: &[Example<'_>],
    params: &TrainParams,
) -> Option<Model> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let lambda = params.lambda;
    let mut v = vec![0f32; m.dims];
    let mut scale = 1f64;
    let mut sq = 0f64; // |v|^2
    let mut rng = Rng::new(params.seed);
    let (mut sa, mut sb) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    let max_norm = 1.0 / f64::from(lambda).sqrt();
    for t in 1..=params.iterations {
        let a = &positives[rng.below(positives.len())];
        let b = &negatives[rng.below(negatives.len())];
        let (ai, av) = parts(m, a, &mut sa);
        let (bi, bv) = parts(m, b, &mut sb);
        let dot = |ids: &[u32], vals: &[f32], v: &[f32]| -> f64 {
            ids.iter().zip(vals).map(|(&i, &x)| f64::from(v[i as usize]) * f64::from(x)).sum()
        };
        let margin = scale * (dot(ai, av, &v) - dot(bi, bv, &v));
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
    Some(Model { weights: v.into_iter().map(|x| (f64::from(x) * scale) as f32).collect() })
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
