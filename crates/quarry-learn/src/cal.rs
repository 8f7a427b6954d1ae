//! The review loop: train on what has been coded, rank what has not, hand out the best.
//!
//! [`Protocol::bmi`] is the published baseline model implementation (FORMATS.md §7): the seed
//! query as one relevant example, every coded document, and 100 random uncoded documents
//! presumed not relevant (drawn again each round); batches of 1, growing by a tenth (rounded
//! up) each round. [`Protocol::quarry`] is quarry's own configuration (docs/LEARN.md says what
//! differs and what it measured). [`simulate`] replays known labels through a protocol, as a
//! reviewer would code them, and [`effort`] reads off how many documents were reviewed to
//! reach a recall.

use serde::{Deserialize, Serialize};

use crate::features::{Matrix, Sparse};
use crate::model::{Example, Rng, TrainParams, train};

/// A review protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    /// Its name in reports.
    pub name: String,
    /// Uncoded documents drawn each round and presumed not relevant.
    pub presumed_negatives: usize,
    /// The first batch's size.
    pub first_batch: usize,
    /// Training.
    pub train: TrainParams,
    /// Share of each batch drawn at random from the uncoded rest instead of the top of the
    /// ranking (exploration), in thousandths.
    pub explore_permille: u32,
    /// Draw fewer presumed negatives as coded negatives accumulate (none once there are
    /// `presumed_negatives` of them): presumed negatives are guesses, coded ones are known.
    #[serde(default)]
    pub taper_presumed: bool,
    /// Features of adjacent word pairs besides single words.
    #[serde(default)]
    pub pairs: bool,
    /// Batches stop growing at this size (0: no limit), so the model is retrained at least
    /// every this many documents.
    #[serde(default)]
    pub max_batch: usize,
}

impl Protocol {
    /// BMI as published: 100 presumed negatives, batches 1, 2, 3, ... growing by ⌈B/10⌉,
    /// Pegasos logistic regression with lambda 0.0001 and 200,000 iterations.
    #[must_use]
    pub fn bmi() -> Protocol {
        Protocol {
            name: "bmi".into(),
            presumed_negatives: 100,
            first_batch: 1,
            train: TrainParams::default(),
            explore_permille: 0,
            taper_presumed: false,
            pairs: false,
            max_batch: 0,
        }
    }

    /// quarry's configuration: BMI with batches that stop growing at 20 documents, so the
    /// model is retrained at least every 20 (see docs/LEARN.md for the measurements behind
    /// it; retraining takes a fraction of a second).
    #[must_use]
    pub fn quarry() -> Protocol {
        Protocol { name: "quarry".into(), max_batch: 20, ..Protocol::bmi() }
    }

    /// The features this protocol learns from.
    #[must_use]
    pub fn features(&self) -> crate::FeatureConfig {
        crate::FeatureConfig { pairs: self.pairs, ..crate::FeatureConfig::default() }
    }

    /// The batch after one of `size`: a tenth larger (rounded up), up to `max_batch`.
    #[must_use]
    pub fn next_size(&self, size: usize) -> usize {
        let grown = size + size.div_ceil(10);
        if self.max_batch > 0 { grown.min(self.max_batch.max(size)) } else { grown }
    }
}

/// What the loop knows: which rows are coded, and how.
#[derive(Clone, Debug)]
pub struct State {
    /// Per row: None while uncoded.
    pub coded: Vec<Option<bool>>,
}

/// Ranks the uncoded rows for the next batch of `size`: trains on the seed vectors (relevant),
/// the coded rows and the presumed negatives, scores every uncoded row, returns the best
/// `size` (ties by row), with the exploration share drawn at random from the rest.
#[must_use]
pub fn next_batch(
    m: &Matrix,
    seeds: &[Sparse],
    state: &State,
    protocol: &Protocol,
    size: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let uncoded: Vec<usize> = (0..m.rows()).filter(|&i| state.coded[i].is_none()).collect();
    if uncoded.is_empty() {
        return Vec::new();
    }
    let mut positives: Vec<Example<'_>> = seeds.iter().map(Example::Vector).collect();
    let mut negatives: Vec<Example<'_>> = Vec::new();
    for (i, c) in state.coded.iter().enumerate() {
        match c {
            Some(true) => positives.push(Example::Row(i)),
            Some(false) => negatives.push(Example::Row(i)),
            None => {}
        }
    }
    let presumed = if protocol.taper_presumed {
        protocol.presumed_negatives.saturating_sub(negatives.len())
    } else {
        protocol.presumed_negatives
    };
    for _ in 0..presumed.min(uncoded.len()) {
        negatives.push(Example::Row(uncoded[rng.below(uncoded.len())]));
    }
    let mut params = protocol.train;
    params.seed = rng.next_u64();
    let Some(model) = train(m, &positives, &negatives, &params) else {
        // Nothing to learn from yet: a random batch.
        let mut pool = uncoded;
        rng.shuffle(&mut pool);
        pool.truncate(size);
        return pool;
    };
    let scores = model.score(m, &uncoded);
    let mut order: Vec<usize> = (0..uncoded.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let explore = (size * protocol.explore_permille as usize) / 1000;
    let mut batch: Vec<usize> = order.iter().take(size - explore).map(|&k| uncoded[k]).collect();
    let mut rest: Vec<usize> = order.iter().skip(size - explore).map(|&k| uncoded[k]).collect();
    for _ in 0..explore.min(rest.len()) {
        let k = rng.below(rest.len());
        batch.push(rest.swap_remove(k));
    }
    batch
}

/// Replays `relevant` (the truth per row) through a protocol; returns the rows in the order
/// they were reviewed. Once `until` of the relevant rows are found (1.0: all), the rest
/// follows in random order: what happens after that point cannot change the effort to reach
/// a lower recall.
#[must_use]
pub fn simulate(
    m: &Matrix,
    seeds: &[Sparse],
    relevant: &[bool],
    protocol: &Protocol,
    seed: u64,
    until: f64,
) -> Vec<usize> {
    let mut state = State { coded: vec![None; m.rows()] };
    let mut rng = Rng::new(seed);
    let mut order = Vec::with_capacity(m.rows());
    let mut size = protocol.first_batch.max(1);
    let total = relevant.iter().filter(|&&r| r).count();
    let enough = ((until * total as f64) - 1e-9).ceil().max(0.0) as usize;
    let mut found = 0;
    while order.len() < m.rows() {
        let batch = next_batch(m, seeds, &state, protocol, size, &mut rng);
        if batch.is_empty() {
            break;
        }
        for i in batch {
            state.coded[i] = Some(relevant[i]);
            found += usize::from(relevant[i]);
            order.push(i);
        }
        if found >= enough {
            let mut rest: Vec<usize> =
                (0..m.rows()).filter(|&i| state.coded[i].is_none()).collect();
            rng.shuffle(&mut rest);
            order.extend(rest);
            break;
        }
        size = protocol.next_size(size);
    }
    order
}

/// Documents in descending similarity to the seed vectors (ties and zeros in seeded random
/// order): keyword ranking by the seed query.
#[must_use]
pub fn keyword_order(m: &Matrix, seeds: &[Sparse], seed: u64) -> Vec<usize> {
    let mut weights = vec![0f32; m.dims];
    for s in seeds {
        for &(id, w) in s {
            weights[id as usize] += w;
        }
    }
    let model = crate::model::Model { weights };
    let rows: Vec<usize> = (0..m.rows()).collect();
    let scores = model.score(m, &rows);
    let mut rng = Rng::new(seed);
    let mut order = rows;
    rng.shuffle(&mut order);
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// A random order.
#[must_use]
pub fn random_order(rows: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    Rng::new(seed).shuffle(&mut order);
    order
}

/// Documents reviewed, in `order`, until `recall` of the relevant ones were found.
#[must_use]
pub fn effort(order: &[usize], relevant: &[bool], recall: f64) -> usize {
    let total = relevant.iter().filter(|&&r| r).count();
    let needed = ((recall * total as f64) - 1e-9).ceil().max(0.0) as usize;
    if needed == 0 {
        return 0;
    }
    let mut found = 0;
    for (k, &i) in order.iter().enumerate() {
        found += usize::from(relevant[i]);
        if found >= needed {
            return k + 1;
        }
    }
    order.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_by_a_tenth_up_to_the_cap() {
        let sizes = |p: &Protocol| {
            let mut size = p.first_batch;
            let mut out = vec![size];
            for _ in 0..40 {
                size = p.next_size(size);
                out.push(size);
            }
            out
        };
        let bmi = sizes(&Protocol::bmi());
        assert_eq!(&bmi[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]);
        assert!(bmi[40] > 200, "BMI's batches grow without limit");
        let quarry = sizes(&Protocol::quarry());
        assert_eq!(&quarry[..12], &bmi[..12]);
        assert_eq!(quarry.iter().max(), Some(&20));
        assert_eq!(quarry[40], 20);
        // A first batch above the cap is kept, not shrunk.
        let big = Protocol { first_batch: 30, ..Protocol::quarry() };
        assert_eq!(big.next_size(30), 30);
    }
}
