//! Features: hashed tf-idf over words (optionally word pairs), L2-normalized.
//!
//! A document's text is read once, into its term counts ([`Counts`]: hashed word ids and how
//! often each occurs). The counts are what is stored. Weights depend on the whole collection
//! (document frequencies), so [`Matrix::build`] turns every document's counts into weighted,
//! L2-normalized rows in one pass: `(1 + ln tf) · ln(N / df)`, terms in fewer than `min_df`
//! documents dropped (FORMATS.md §7, after HiCAL). Scoring and training only ever see the rows.

use serde::{Deserialize, Serialize};

/// How words become feature ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// The feature space has `1 << bits` dimensions.
    pub bits: u32,
    /// Also count each pair of adjacent words.
    pub pairs: bool,
    /// Terms in fewer documents than this are dropped.
    pub min_df: u32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { bits: 20, pairs: false, min_df: 2 }
    }
}

/// One document's term counts: (feature id, count), sorted by id.
pub type Counts = Vec<(u32, u32)>;

/// FNV-1a, then a multiply to spread the bits: the same word always has the same id.
fn hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// The term counts of `text` (words as the index sees them; words without a letter dropped).
#[must_use]
pub fn count(text: &str, config: &FeatureConfig) -> Counts {
    let mask = (1u64 << config.bits) - 1;
    let mut ids: Vec<u32> = Vec::with_capacity(text.len() / 6);
    let mut previous: Option<u64> = None;
    quarry_index::words(text, |_, _, word| {
        if !word.bytes().any(|b| b.is_ascii_alphabetic()) && word.is_ascii() {
            previous = None;
            return;
        }
        let h = hash(word.as_bytes(), 0);
        ids.push((h & mask) as u32);
        if config.pairs
            && let Some(p) = previous
        {
            ids.push(
                ((p.rotate_left(17) ^ h).wrapping_mul(0x94d0_49bb_1331_11eb) >> 20 & mask) as u32,
            );
        }
        previous = Some(h);
    });
    ids.sort_unstable();
    let mut counts: Counts = Vec::with_capacity(ids.len() / 2);
    for id in ids {
        match counts.last_mut() {
            Some((last, n)) if *last == id => *n += 1,
            _ => counts.push((id, 1)),
        }
    }
    counts
}

/// Weighted, L2-normalized rows of a collection (compressed sparse rows).
#[derive(Clone, Debug, Default)]
pub struct Matrix {
    /// Row `i` is `ids[offsets[i]..offsets[i + 1]]` with `values` alike.
    pub offsets: Vec<usize>,
    /// Feature ids.
    pub ids: Vec<u32>,
    /// Weights.
    pub values: Vec<f32>,
    /// Inverse document frequency of every feature id (0 for dropped terms).
    pub idf: Vec<f32>,
    /// Dimensions.
    pub dims: usize,
}

/// A sparse vector: (feature id, weight).
pub type Sparse = Vec<(u32, f32)>;

impl Matrix {
    /// Weights every document's counts against the collection's document frequencies.
    #[must_use]
    pub fn build(docs: &[Counts], config: &FeatureConfig) -> Matrix {
        let dims = 1usize << config.bits;
        let mut df = vec![0u32; dims];
        for doc in docs {
            for &(id, _) in doc {
                df[id as usize] += 1;
            }
        }
        let n = docs.len().max(1) as f64;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| if d >= config.min_df.max(1) { (n / f64::from(d)).ln() as f32 } else { 0.0 })
            .collect();
        let mut m =
            Matrix { offsets: Vec::with_capacity(docs.len() + 1), dims, ..Matrix::default() };
        m.offsets.push(0);
        for doc in docs {
            let row = weigh(doc, &idf);
            for (id, v) in row {
                m.ids.push(id);
                m.values.push(v);
            }
            m.offsets.push(m.ids.len());
        }
        m.idf = idf;
        m
    }

    /// Rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Row `i` as (ids, values).
    #[must_use]
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        (&self.ids[a..b], &self.values[a..b])
    }

    /// A text outside the collection (a seed query) weighted with the collection's idf.
    #[must_use]
    pub fn vector(&self, text: &str, config: &FeatureConfig) -> Sparse {
        weigh(&count(text, config), &self.idf)
    }
}

fn weigh(counts: &Counts, idf: &[f32]) -> Sparse {
    let mut row: Sparse = counts
        .iter()
        .filter_map(|&(id, tf)| {
            let w = idf[id as usize];
            (w > 0.0).then(|| (id, (1.0 + (tf as f32).ln()) * w))
        })
        .collect();
    let norm = row.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in &mut row {
            *v /= norm;
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_stable_and_rows_normalized() {
        let config = FeatureConfig::default();
        let a = count("Gas storage, gas prices and GAS", &config);
        assert_eq!(a.iter().map(|c| c.1).sum::<u32>(), 6);
        assert_eq!(a, count("gas Storage  gas prices and gas", &config));
        let docs = vec![a, count("power prices", &config), count("gas pipeline", &config)];
        let m = Matrix::build(&docs, &config);
        let (_, values) = m.row(0);
        let norm: f32 = values.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        // "storage" and "and" occur in one document: dropped at min_df 2.
        assert_eq!(m.row(0).0.len(), 2);
        assert!(m.vector("gas", &config).len() == 1);
        let pairs = FeatureConfig { pairs: true, ..config };
        assert_eq!(count("a b c", &pairs).len(), 5);
    }
}
