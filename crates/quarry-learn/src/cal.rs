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
use crate::model::{Example, Model, Rng, TrainParams, train};

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
    /// ranking (exploration), in thousandths; see [`Protocol::explored`].
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
    /// The seed query's score as a prior on the ranking: each uncoded document's model score
    /// and its similarity to the seed query are standardized over the uncoded documents and
    /// added, the similarity weighted `prior_weight · 10 / (10 + relevant found)`, so it fades
    /// as coded relevant documents accumulate. 0: none (BMI, and sessions started before the
    /// field existed). The model itself is trained as without it.
    #[serde(default)]
    pub prior_weight: f32,
    /// Scale the prior by how well the seed query's score separates the documents coded so
    /// far: `2 · AUC − 1` of relevant against not relevant, floored at 0. A vague seed query
    /// ("operations") then stops steering the ranking once coding shows it does not help.
    #[serde(default)]
    pub prior_trust: bool,
    /// With `prior_trust`, judge the seed query by the AUC's lower confidence bound, this
    /// many standard errors (Hanley and McNeil) below the estimate, rather than by the
    /// estimate itself: a few coded relevant documents are weak evidence either way.
    #[serde(default)]
    pub prior_trust_z: f32,
    /// With `max_batch`, the cap rises to this many thousandths of the documents reviewed
    /// once that is more (0: a fixed cap).
    #[serde(default)]
    pub cap_growth_permille: u32,
    /// Of the exploration draw's probability, the share (in thousandths) spread over the rest
    /// by rank, `1/r` for the r-th, rather than evenly: 0 draws uniformly. Every document
    /// keeps a chance of at least `(1000 - this) / 1000 / n`, and each draw's probability is
    /// known, so an estimate can weigh each draw by one over it ([`draw_explored`]).
    #[serde(default)]
    pub explore_rank_permille: u32,
    /// Fit the prior's weight to the coding so far instead of trusting it by the seed query's
    /// AUC: of a few fractions of the fading weight, the one whose mix of the model's and the
    /// seed query's standardized scores, as they were when each coded document was ranked,
    /// orders the coded documents best (AUC).
    #[serde(default)]
    pub prior_fit: bool,
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
            prior_weight: 0.0,
            prior_trust: false,
            prior_trust_z: 0.0,
            cap_growth_permille: 0,
            explore_rank_permille: 0,
            prior_fit: false,
        }
    }

    /// quarry's configuration: BMI with two changes (docs/LEARN.md has the measurements
    /// behind both):
    /// - batches stop growing at 20 documents, so the model is retrained at least every 20
    ///   (retraining takes a fraction of a second);
    /// - the seed query's score is a prior on the ranking, at up to 5 standard deviations,
    ///   fading as relevant documents are found. Its share of that weight is fitted each round
    ///   to the documents handed out so far ([`Protocol::prior_fit`]): the share whose mix of
    ///   the two scores, as they were when each was ranked, would have ordered their coding
    ///   best. A sharp seed query ("confidential") keeps steering; a vague one ("operations")
    ///   stops once coding shows it does not help.
    ///
    /// And, as a case's prioritized batches need for their running recall estimate, 5% of
    /// each batch of 10 or more is drawn at random from the rest of the ranking (one in a
    /// batch of 20): half of the draw's probability spread evenly, half by rank
    /// ([`Protocol::explore_rank_permille`]), so a draw is more often worth reading while
    /// every document keeps a known chance.
    #[must_use]
    pub fn quarry() -> Protocol {
        Protocol {
            name: "quarry".into(),
            explore_permille: 50,
            explore_rank_permille: 500,
            max_batch: 20,
            prior_weight: 5.0,
            prior_fit: true,
            ..Protocol::bmi()
        }
    }

    /// How many documents of a batch of `size` are drawn at random: none in batches under
    /// 10, else the protocol's share rounded down, and at least one. The case's prioritized
    /// batches and the simulation both draw this many.
    #[must_use]
    pub fn explored(&self, size: usize) -> usize {
        if self.explore_permille == 0 || size < 10 {
            return 0;
        }
        (size * self.explore_permille as usize / 1000).clamp(1, size)
    }

    /// Whether rankings fit the prior's weight ([`fitted_ranking`]) rather than trust it by
    /// AUC ([`ranking_scores`]): with `prior_fit`, a prior and a seed query.
    #[must_use]
    pub fn fits_prior(&self, seeds: &[Sparse]) -> bool {
        self.prior_fit && self.prior_weight > 0.0 && !seeds.is_empty()
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

    /// [`Protocol::next_size`] once `reviewed` documents are coded: with
    /// `cap_growth_permille`, the cap rises to that share of them (still growing by at most a
    /// tenth a round). Only the simulation uses it so far.
    #[must_use]
    pub fn next_size_after(&self, size: usize, reviewed: usize) -> usize {
        let next = self.next_size(size);
        if self.max_batch == 0 || self.cap_growth_permille == 0 {
            return next;
        }
        let cap = reviewed * self.cap_growth_permille as usize / 1000;
        next.max(cap.min(size + size.div_ceil(10)))
    }
}

/// What the loop knows: which rows are coded, and how.
#[derive(Clone, Debug)]
pub struct State {
    /// Per row: None while uncoded.
    pub coded: Vec<Option<bool>>,
    /// Per row handed out in a batch: the model's and the seed query's standardized scores
    /// when it was ranked ([`Protocol::prior_fit`]).
    pub ranked: Vec<Option<(f32, f32)>>,
    /// The exploration draws so far: row and the probability it was drawn with.
    pub draws: Vec<(usize, f64)>,
}

/// Ranks the uncoded rows for the next batch of `size`: trains on the seed vectors (relevant),
/// the coded rows and the presumed negatives, scores every uncoded row, returns the best
/// `size` (ties by row), with the exploration share drawn at random from the rest.
#[must_use]
pub fn next_batch(
    m: &Matrix,
    seeds: &[Sparse],
    state: &mut State,
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
    let history: Vec<((f32, f32), bool)> =
        state.ranked.iter().zip(&state.coded).filter_map(|(r, c)| Some(((*r)?, (*c)?))).collect();
    let ranking = rank(m, &model, seeds, &state.coded, &uncoded, protocol, &history);
    for (&row, &pair) in uncoded.iter().zip(&ranking.pairs) {
        state.ranked[row] = Some(pair);
    }
    let scores = ranking.scores;
    let mut order: Vec<usize> = (0..uncoded.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let explore = protocol.explored(size);
    let mut batch: Vec<usize> = order.iter().take(size - explore).map(|&k| uncoded[k]).collect();
    let rest: Vec<usize> = order.iter().skip(size - explore).map(|&k| uncoded[k]).collect();
    for (k, p) in draw_explored(rest.len(), explore, protocol.explore_rank_permille, rng) {
        batch.push(rest[k]);
        state.draws.push((rest[k], p));
    }
    batch
}

/// Of the fractions tried, the one of `base` whose mix `model + fraction · base · seed query`
/// orders the `history` (each coded document's two standardized scores when it was ranked, and
/// its coding) best by AUC; ties take their mean, and without both classes the whole weight
/// stays. [`fitted_ranking`] weighs the seed query by `base` times this.
#[must_use]
pub fn fitted_fraction(history: &[((f32, f32), bool)], base: f32) -> f32 {
    const GRID: [f32; 7] = [0.0, 0.1, 0.2, 0.35, 0.5, 0.7, 1.0];
    let labels: Vec<bool> = history.iter().map(|h| h.1).collect();
    let mut best: Option<(f32, Vec<f32>)> = None;
    for &c in &GRID {
        let mixed: Vec<f32> = history.iter().map(|&((a, b), _)| a + c * base * b).collect();
        let Some(a) = auc(&mixed, &labels) else { break };
        match &mut best {
            Some((top, ties)) if a > *top + 1e-6 => {
                *top = a;
                *ties = vec![c];
            }
            Some((top, ties)) if (a - *top).abs() <= 1e-6 => ties.push(c),
            Some(_) => {}
            None => best = Some((a, vec![c])),
        }
    }
    best.map_or(1.0, |(_, ties)| ties.iter().sum::<f32>() / ties.len() as f32)
}

/// The relevant rate among the documents not reviewed, from the exploration draws (whether
/// each was relevant, and the probability it was drawn with). When every draw has its
/// probability, each counts with weight `1 / p` (the Hajek estimator), so draws that favour
/// the top of the rest do not inflate the rate; draws recorded without one (batches made
/// before probabilities were recorded, all drawn uniformly) count alike.
#[must_use]
pub fn running_rate(draws: &[(bool, Option<f64>)]) -> f64 {
    weighted(draws).0
}

/// [`running_rate`] with a 95% interval: (rate, low, high). Wilson's score interval on the
/// weighted rate, the draws counted as Kish's effective sample size, (sum of weights)^2 / sum
/// of squared weights: draws weighted unequally tell less than as many even draws. A handful of
/// draws gives an interval as wide as it should be, where the rate alone read as precise: on
/// the Enron mailboxes ten draws, two of them relevant from near the top of the ranking (small
/// weights), put the recall at 81% when it was 12%.
#[must_use]
pub fn running_interval(draws: &[(bool, Option<f64>)]) -> (f64, f64, f64) {
    let (rate, effective) = weighted(draws);
    crate::stats::wilson_rate(rate, effective)
}

/// The weighted relevant rate of the draws and their effective number. Each draw weighs one
/// over its probability when every draw has one, else one.
fn weighted(draws: &[(bool, Option<f64>)]) -> (f64, f64) {
    if draws.is_empty() {
        return (0.0, 0.0);
    }
    let weights: Vec<f64> = match draws.iter().map(|d| d.1).collect::<Option<Vec<f64>>>() {
        Some(p) => p.iter().map(|p| 1.0 / p).collect(),
        None => vec![1.0; draws.len()],
    };
    // Folds from 0.0, not `sum`, whose empty total is -0.0 (printed as such in `--json`).
    let hits = draws.iter().zip(&weights).filter(|(d, _)| d.0).fold(0.0, |a, (_, w)| a + w);
    let sum = weights.iter().fold(0.0, |a, w| a + w);
    let squares = weights.iter().fold(0.0, |a, w| a + w * w);
    (hits / sum, if squares > 0.0 { sum * sum / squares } else { 0.0 })
}

/// The scores rows are ranked by ([`rank`]).
#[derive(Clone, Debug)]
pub struct Ranking {
    /// Per row ranked: the model's score, plus the weighted seed query's under a prior.
    pub scores: Vec<f32>,
    /// The seed query's weight in `scores` (0 without a prior).
    pub prior_weight: f32,
    /// Under [`Protocol::prior_fit`], per row ranked: the model's and the seed query's
    /// standardized scores (else empty). Keep those of the rows handed out: once coded, they
    /// are the `history` later rankings fit to.
    pub pairs: Vec<(f32, f32)>,
}

/// The scores `rows` are ranked by under `protocol`: [`fitted_ranking`] when it fits the
/// prior ([`Protocol::fits_prior`]; `history` as that function says), else
/// [`ranking_scores`], which ignores `history`. The simulation and a case's prioritized
/// batches both rank through here.
#[must_use]
pub fn rank(
    m: &Matrix,
    model: &Model,
    seeds: &[Sparse],
    coded: &[Option<bool>],
    rows: &[usize],
    protocol: &Protocol,
    history: &[((f32, f32), bool)],
) -> Ranking {
    if protocol.fits_prior(seeds) {
        return fitted_ranking(m, model, seeds, coded, rows, protocol, history);
    }
    let (scores, prior_weight) = ranking_scores(m, model, seeds, coded, rows, protocol);
    Ranking { scores, prior_weight, pairs: Vec::new() }
}

/// [`Protocol::prior_fit`]: the model's and the seed query's scores, each standardized over
/// `rows`, mixed with the share of the fading weight that best orders `history`: the pair of
/// each coded document as it was when that document was ranked, and its coding. Only the
/// documents the ranking handed out belong in `history`, whatever else was coded: their pairs
/// were read under the same selection, so a seed query that only rode along with the model
/// gets no credit for it. `coded` holds every row's coding (the weight fades with the relevant
/// found).
#[must_use]
pub fn fitted_ranking(
    m: &Matrix,
    model: &Model,
    seeds: &[Sparse],
    coded: &[Option<bool>],
    rows: &[usize],
    protocol: &Protocol,
    history: &[((f32, f32), bool)],
) -> Ranking {
    let standard = |mut v: Vec<f32>| {
        let (mean, sd) = mean_sd(&v);
        for x in &mut v {
            *x = (*x - mean) / sd;
        }
        v
    };
    let zm = standard(model.score(m, rows));
    let zk = standard(seed_model(m, seeds).score(m, rows));
    let found = coded.iter().filter(|&&c| c == Some(true)).count();
    let base = protocol.prior_weight * PRIOR_HALF / (PRIOR_HALF + found as f32);
    let weight = base * fitted_fraction(history, base);
    Ranking {
        scores: zm.iter().zip(&zk).map(|(a, b)| a + weight * b).collect(),
        prior_weight: weight,
        pairs: zm.into_iter().zip(zk).collect(),
    }
}

/// Draws `count` of `n` documents ranked `0..n` (best first) without replacement, for the
/// exploration share: each draw takes the k-th still undrawn with probability proportional
/// to `(1000 - rank_permille) / 1000 / n + rank_permille / 1000 · (1 / (k + 1)) / H_n`
/// (H_n the n-th harmonic number), over the ones left. Returns each draw's position and the
/// probability it had, in draw order. With `rank_permille` 0 this is a uniform draw.
#[must_use]
pub fn draw_explored(
    n: usize,
    count: usize,
    rank_permille: u32,
    rng: &mut Rng,
) -> Vec<(usize, f64)> {
    let count = count.min(n);
    if count == 0 {
        return Vec::new();
    }
    if rank_permille == 0 {
        let mut left: Vec<usize> = (0..n).collect();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let p = 1.0 / left.len() as f64;
            out.push((left.swap_remove(rng.below(left.len())), p));
        }
        return out;
    }
    let share = f64::from(rank_permille.min(1000)) / 1000.0;
    let harmonic: f64 = (1..=n).map(|r| 1.0 / r as f64).sum();
    let mut weights: Vec<f64> =
        (0..n).map(|k| (1.0 - share) / n as f64 + share / ((k + 1) as f64 * harmonic)).collect();
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let total: f64 = weights.iter().sum();
        // A uniform in [0, total): 53 random bits.
        let mut at = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut pick = n - 1;
        for (k, &w) in weights.iter().enumerate() {
            if w > 0.0 && at < w {
                pick = k;
                break;
            }
            at -= w;
        }
        // Rounding can leave `at` past the last weight: take the last one still undrawn.
        while weights[pick] == 0.0 {
            pick -= 1;
        }
        out.push((pick, weights[pick] / total));
        weights[pick] = 0.0;
    }
    out
}

/// The scores `rows` are ranked by, and the weight the seed query's prior had: the model's
/// scores, plus the prior when the protocol asks for one ([`Protocol::prior_weight`]). Both
/// are standardized over `rows` before they are added, so the weight is in standard
/// deviations whatever the model's scale. `coded` holds every row's coding so far.
#[must_use]
pub fn ranking_scores(
    m: &Matrix,
    model: &Model,
    seeds: &[Sparse],
    coded: &[Option<bool>],
    rows: &[usize],
    protocol: &Protocol,
) -> (Vec<f32>, f32) {
    let mut scores = model.score(m, rows);
    if protocol.prior_weight <= 0.0 || seeds.is_empty() {
        return (scores, 0.0);
    }
    let seed = seed_model(m, seeds);
    let found = coded.iter().filter(|&&c| c == Some(true)).count();
    let mut weight = protocol.prior_weight * PRIOR_HALF / (PRIOR_HALF + found as f32);
    if protocol.prior_trust {
        let reviewed: Vec<usize> = (0..coded.len()).filter(|&i| coded[i].is_some()).collect();
        let labels: Vec<bool> = reviewed.iter().map(|&i| coded[i] == Some(true)).collect();
        if let Some(auc) = auc(&seed.score(m, &reviewed), &labels) {
            let positives = labels.iter().filter(|&&l| l).count();
            let se = auc_se(auc, positives, labels.len() - positives);
            weight *= (2.0 * (auc - protocol.prior_trust_z * se) - 1.0).max(0.0);
        }
    }
    let keyword = seed.score(m, rows);
    let (ms, ss) = mean_sd(&scores);
    let (mk, sk) = mean_sd(&keyword);
    for (s, k) in scores.iter_mut().zip(&keyword) {
        *s = (*s - ms) / ss + weight * (k - mk) / sk;
    }
    (scores, weight)
}

/// Relevant documents found at which the prior's weight is halved.
const PRIOR_HALF: f32 = 10.0;

/// The seed vectors as a model: its score of a row is the row's similarity to them.
fn seed_model(m: &Matrix, seeds: &[Sparse]) -> Model {
    let mut weights = vec![0f32; m.dims];
    for s in seeds {
        for &(id, w) in s {
            weights[id as usize] += w;
        }
    }
    Model { weights }
}

/// The area under the ROC curve of `scores` for `labels` (ties count half); `None` without
/// both classes.
fn auc(scores: &[f32], labels: &[bool]) -> Option<f32> {
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann-Whitney: the positives' mean rank, ties given their group's mean rank.
    let mut rank_sum = 0f64;
    let mut at = 0;
    while at < order.len() {
        let mut to = at;
        while to + 1 < order.len() && scores[order[to + 1]] == scores[order[at]] {
            to += 1;
        }
        let rank = (at + to) as f64 / 2.0 + 1.0;
        rank_sum += rank * order[at..=to].iter().filter(|&&i| labels[i]).count() as f64;
        at = to + 1;
    }
    let p = positives as f64;
    Some(((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)) as f32)
}

/// The standard error of an AUC of `a` over `p` positives and `n` negatives (Hanley and
/// McNeil, 1982).
fn auc_se(a: f32, p: usize, n: usize) -> f32 {
    let (a, p, n) = (f64::from(a), p as f64, n as f64);
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let var = (a * (1.0 - a) + (p - 1.0) * (q1 - a * a) + (n - 1.0) * (q2 - a * a)) / (p * n);
    var.max(0.0).sqrt() as f32
}

/// Mean and standard deviation (1 when there is no spread).
fn mean_sd(values: &[f32]) -> (f32, f32) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt();
    (mean as f32, if sd > 1e-12 { sd as f32 } else { 1.0 })
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
    simulate_traced(m, seeds, relevant, protocol, seed, until).0
}

/// [`simulate`], also returning the exploration draws (row, probability) made on the way and
/// how many rows were reviewed when `until` was reached (the rest of the order is random).
#[must_use]
pub fn simulate_traced(
    m: &Matrix,
    seeds: &[Sparse],
    relevant: &[bool],
    protocol: &Protocol,
    seed: u64,
    until: f64,
) -> (Vec<usize>, Vec<(usize, f64)>, usize) {
    let mut state =
        State { coded: vec![None; m.rows()], ranked: vec![None; m.rows()], draws: Vec::new() };
    let mut rng = Rng::new(seed);
    let mut order = Vec::with_capacity(m.rows());
    let mut size = protocol.first_batch.max(1);
    let total = relevant.iter().filter(|&&r| r).count();
    let enough = ((until * total as f64) - 1e-9).ceil().max(0.0) as usize;
    let mut found = 0;
    let mut stopped = m.rows();
    while order.len() < m.rows() {
        let batch = next_batch(m, seeds, &mut state, protocol, size, &mut rng);
        if batch.is_empty() {
            break;
        }
        for i in batch {
            state.coded[i] = Some(relevant[i]);
            found += usize::from(relevant[i]);
            order.push(i);
        }
        if found >= enough {
            stopped = order.len();
            let mut rest: Vec<usize> =
                (0..m.rows()).filter(|&i| state.coded[i].is_none()).collect();
            rng.shuffle(&mut rest);
            order.extend(rest);
            break;
        }
        size = protocol.next_size_after(size, order.len());
    }
    (order, state.draws, stopped)
}

/// Documents in descending similarity to the seed vectors (ties and zeros in seeded random
/// order): keyword ranking by the seed query.
#[must_use]
pub fn keyword_order(m: &Matrix, seeds: &[Sparse], seed: u64) -> Vec<usize> {
    let rows: Vec<usize> = (0..m.rows()).collect();
    let scores = seed_model(m, seeds).score(m, &rows);
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
    fn running_interval_counts_unequal_draws_as_fewer() {
        // Even draws: the plain Wilson interval of k relevant in n.
        let even: Vec<(bool, Option<f64>)> = (0..40).map(|i| (i < 10, Some(0.01))).collect();
        assert_eq!(running_interval(&even), crate::stats::wilson(10, 40));
        // Two relevant draws from the top of the ranking (chance 0.05 each) and eight even ones
        // from a rest of 15,000 (chance 1 / 15,000): the rate is near zero, but the ten draws
        // are worth eight even ones (the two light ones count for almost nothing), and the
        // interval says the rate could be near a third.
        let mut skewed = vec![(true, Some(0.05)); 2];
        skewed.extend(vec![(false, Some(1.0 / 15_000.0)); 8]);
        let (rate, low, high) = running_interval(&skewed);
        assert!(rate < 0.001 && low < 0.001, "{rate} {low}");
        assert!((high - crate::stats::wilson(0, 8).2).abs() < 0.001, "{high}");
        assert!(high > 0.3, "{high}");
    }

    /// quarry's protocol as it was until the prior was fitted: trusted by the seed query's AUC.
    fn trusted_by_auc() -> Protocol {
        Protocol { prior_trust: true, prior_fit: false, ..Protocol::quarry() }
    }

    #[test]
    fn auc_counts_pairs_and_halves_ties() {
        assert_eq!(auc(&[0.1, 0.2, 0.9, 0.8], &[false, false, true, true]), Some(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.1, 0.2], &[false, false, true, true]), Some(0.0));
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]), Some(0.5));
        // One positive above one of two negatives, tied with the other: (1 + 0.5) / 2.
        assert_eq!(auc(&[0.3, 0.1, 0.3], &[true, false, false]), Some(0.75));
        assert_eq!(auc(&[0.3, 0.1], &[true, true]), None);
    }

    #[test]
    fn auc_standard_error_shrinks_with_the_coding_and_bounds_the_trust() {
        // One pair at 0.5: a(1 - a) = 0.25, nothing else.
        assert!((auc_se(0.5, 1, 1) - 0.5).abs() < 1e-6);
        // AUC 0.8 over 10 and 10 cases: 0.102 by Hanley and McNeil's formula (computed
        // apart); over 100 and 100, a third of that.
        assert!((auc_se(0.8, 10, 10) - 0.102).abs() < 0.001, "{}", auc_se(0.8, 10, 10));
        assert!((auc_se(0.8, 100, 100) - 0.0315).abs() < 0.001);
        assert!(auc_se(1.0, 5, 5).abs() < 1e-6, "perfect separation has no spread");

        // Rows 0-9 hold the seed word; the rest do not. The model is indifferent.
        use crate::features::{FeatureConfig, count};
        let config = FeatureConfig::default();
        let texts: Vec<String> = (0..60)
            .map(|i| if i < 10 { format!("pipeline note {i}") } else { format!("note {i}") })
            .collect();
        let docs: Vec<_> = texts.iter().map(|t| count(t, &config)).collect();
        let m = Matrix::build(&docs, &config);
        let seeds = vec![m.vector("pipeline", &config)];
        let model = Model { weights: vec![0.0; m.dims] };
        let rows: Vec<usize> = (0..60).collect();
        let weight = |coded: &[Option<bool>], z: f32| {
            let p = Protocol { prior_trust_z: z, ..trusted_by_auc() };
            ranking_scores(&m, &model, &seeds, coded, &rows, &p).1
        };
        // Three relevant (two with the word), three not (one with it): AUC 6/9, trust 1/3 by
        // the estimate; its standard error (0.24) puts the bound below 0.5, so no trust.
        let mut coded = vec![None; 60];
        for (i, c) in [(0, true), (1, true), (20, true), (2, false), (21, false), (22, false)] {
            coded[i] = Some(c);
        }
        let faded = 5.0 * 10.0 / 13.0;
        assert!((weight(&coded, 0.0) - faded / 3.0).abs() < 1e-5, "{}", weight(&coded, 0.0));
        assert_eq!(weight(&coded, 1.0), 0.0);
        // Eleven relevant (seven with the word), thirty-one not (three with it): AUC 0.77 and
        // a standard error of 0.091, so the bound keeps two thirds of the trust (0.36 of 0.54).
        let mut coded = vec![None; 60];
        for i in (0..7).chain(20..24) {
            coded[i] = Some(true);
        }
        for i in (7..10).chain(24..52) {
            coded[i] = Some(false);
        }
        let faded = 5.0 * 10.0 / 21.0;
        let (estimate, bound) = (weight(&coded, 0.0), weight(&coded, 1.0));
        assert!((estimate - faded * (2.0 * 262.5 / 341.0 - 1.0)).abs() < 1e-4, "{estimate}");
        assert!(bound > 0.64 * estimate && bound < 0.69 * estimate, "{bound} {estimate}");
    }

    #[test]
    fn the_prior_lifts_seed_matches_and_fades_when_coding_shows_it_misleads() {
        use crate::features::{FeatureConfig, count};
        let config = FeatureConfig::default();
        // Rows 0-9 hold the seed word "pipeline"; the model below prefers rows 10-19.
        let texts: Vec<String> = (0..60)
            .map(|i| match i {
                0..10 => format!("pipeline note {i} weather"),
                10..20 => format!("golf lunch note {i} weather"),
                _ => format!("note {i} weather report"),
            })
            .collect();
        let docs: Vec<_> = texts.iter().map(|t| count(t, &config)).collect();
        let m = Matrix::build(&docs, &config);
        let seeds = vec![m.vector("pipeline", &config)];
        let mut weights = vec![0f32; m.dims];
        for &(id, w) in &m.vector("golf", &config) {
            weights[id as usize] = 0.1 * w;
        }
        let model = Model { weights };
        let rows: Vec<usize> = (0..60).collect();
        let best =
            |scores: &[f32]| (0..scores.len()).max_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let mut coded = vec![None; 60];

        let plain = Protocol::bmi();
        let (scores, weight) = ranking_scores(&m, &model, &seeds, &coded, &rows, &plain);
        assert_eq!(weight, 0.0);
        assert!((10..20).contains(&best(&scores).unwrap()), "no prior: the model's order");

        let prior = trusted_by_auc();
        let (scores, weight) = ranking_scores(&m, &model, &seeds, &coded, &rows, &prior);
        assert_eq!(weight, 5.0, "nothing coded: full weight");
        assert!(best(&scores).unwrap() < 10, "the prior puts seed matches first");

        // Coding says the seed word does not mark relevance: its rows are not relevant and
        // the relevant ones lack it. AUC 0, so no weight.
        for i in 0..5 {
            coded[i] = Some(false);
            coded[20 + i] = Some(true);
        }
        let (scores, weight) = ranking_scores(&m, &model, &seeds, &coded, &rows, &prior);
        assert_eq!(weight, 0.0);
        assert!((10..20).contains(&best(&scores).unwrap()));

        // Coding agrees with it: the weight stays, faded by the five relevant found.
        for i in 0..5 {
            coded[i] = Some(true);
            coded[20 + i] = Some(false);
        }
        let (_, weight) = ranking_scores(&m, &model, &seeds, &coded, &rows, &prior);
        assert!((weight - 5.0 * 10.0 / 15.0).abs() < 1e-6, "{weight}");
    }

    #[test]
    fn a_fitted_prior_follows_whichever_score_ordered_the_coding() {
        let labels: Vec<bool> = (0..10).map(|i| i < 5).collect();
        // (model, seed query) when ranked; the relevant rows are 0-4.
        let by_keyword: Vec<((f32, f32), bool)> = (0..10)
            .map(|i| if i < 5 { (-1.0, 1.0) } else { (1.0, -1.0) })
            .zip(labels.iter().copied())
            .collect();
        let by_model: Vec<((f32, f32), bool)> =
            by_keyword.iter().map(|&((a, b), l)| ((b, a), l)).collect();
        // The seed query ordered the coding and the model ordered it backwards: the largest
        // fraction of the weight that still puts the relevant rows first. At base 2.0 a
        // fraction f gives relevant rows -1 + 2f and the others 1 - 2f: above 0.5 only.
        assert_eq!(fitted_fraction(&by_keyword, 2.0), 0.85, "0.7 and 1.0 tie");
        // The model ordered it: only fractions below 0.5 keep that order, and they tie.
        assert_eq!(fitted_fraction(&by_model, 2.0), (0.1 + 0.2 + 0.35) / 4.0);
        // One class only: nothing to judge by, full weight.
        assert_eq!(fitted_fraction(&by_model[..5], 2.0), 1.0);
    }

    #[test]
    fn the_running_rate_weighs_each_draw_by_its_chance() {
        // One relevant document drawn at odds of one in two, two irrelevant ones at one in a
        // hundred: each irrelevant draw stands for a hundred documents, the relevant for two.
        let draws = [(true, Some(0.5)), (false, Some(0.01)), (false, Some(0.01))];
        assert!((running_rate(&draws) - 2.0 / 202.0).abs() < 1e-12);
        // Uniform draws from one rest: the plain share.
        let uniform = [(true, Some(0.01)), (false, Some(0.01)), (false, Some(0.01))];
        assert!((running_rate(&uniform) - 1.0 / 3.0).abs() < 1e-12);
        // A draw without its probability (an older batch): all count alike.
        let older = [(true, Some(0.5)), (false, None), (false, Some(0.01))];
        assert!((running_rate(&older) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(running_rate(&[]), 0.0);
    }

    #[test]
    fn exploration_draws_follow_their_stated_probabilities() {
        // Uniform: the draw the simulation and a case made before ranked draws existed.
        let mut rng = Rng::new(7);
        let drawn = draw_explored(10, 3, 0, &mut rng);
        let probabilities: Vec<f64> = drawn.iter().map(|d| d.1).collect();
        assert_eq!(probabilities, vec![0.1, 1.0 / 9.0, 0.125]);
        let mut positions: Vec<usize> = drawn.iter().map(|d| d.0).collect();
        positions.sort_unstable();
        positions.dedup();
        assert_eq!(positions.len(), 3, "no document drawn twice");

        // Half the probability by rank: over 20,000 single draws from 50, each position comes
        // up at the rate it was given, and the rates are the formula's.
        let n = 50;
        let harmonic: f64 = (1..=n).map(|r| 1.0 / r as f64).sum();
        let expected = |k: usize| 0.5 / n as f64 + 0.5 / ((k + 1) as f64 * harmonic);
        let mut hits = vec![0u32; n];
        let mut rng = Rng::new(11);
        for _ in 0..20_000 {
            let d = draw_explored(n, 1, 500, &mut rng);
            assert_eq!(d.len(), 1);
            assert!((d[0].1 - expected(d[0].0)).abs() < 1e-12);
            hits[d[0].0] += 1;
        }
        for (k, &h) in hits.iter().enumerate() {
            let p = expected(k);
            let sd = (20_000.0 * p * (1.0 - p)).sqrt();
            assert!((f64::from(h) - 20_000.0 * p).abs() < 4.5 * sd, "{k}: {h} for p {p}");
        }
        assert!(hits[0] > 5 * hits[n - 1], "the top of the rest is drawn far more often");

        // Several draws: none repeats, each probability is over the ones left, and asking for
        // more than there are draws them all.
        let mut rng = Rng::new(3);
        let all = draw_explored(4, 9, 500, &mut rng);
        let mut positions: Vec<usize> = all.iter().map(|d| d.0).collect();
        positions.sort_unstable();
        assert_eq!(positions, vec![0, 1, 2, 3]);
        assert!((all[3].1 - 1.0).abs() < 1e-12, "the last one left is certain");
    }

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
        // A growing cap: 5% of the documents reviewed once that is above 20.
        let grow = Protocol { cap_growth_permille: 50, ..Protocol::quarry() };
        assert_eq!(grow.next_size_after(20, 300), 20, "15 is below the cap");
        assert_eq!(grow.next_size_after(20, 440), 22, "22 is 5% of 440");
        assert_eq!(grow.next_size_after(20, 2000), 22, "at most a tenth more a round");
        assert_eq!(grow.next_size_after(30, 2000), 33);
        assert_eq!(Protocol::quarry().next_size_after(20, 2000), 20, "fixed cap");
        assert_eq!(Protocol::bmi().next_size_after(40, 100), 44, "no cap: BMI's growth");
        // A first batch above the cap is kept, not shrunk.
        let big = Protocol { first_batch: 30, ..Protocol::quarry() };
        assert_eq!(big.next_size(30), 30);
    }

    #[test]
    fn exploration_is_a_share_of_batches_of_ten_or_more() {
        let drawn = |p: &Protocol| [1, 9, 10, 19, 20, 39, 40, 100].map(|n| p.explored(n));
        assert_eq!(drawn(&Protocol::bmi()), [0; 8]);
        assert_eq!(drawn(&Protocol::quarry()), [0, 0, 1, 1, 1, 1, 2, 5]);
        let tenth = Protocol { explore_permille: 100, ..Protocol::quarry() };
        assert_eq!(drawn(&tenth), [0, 0, 1, 1, 2, 3, 4, 10]);
    }
}
