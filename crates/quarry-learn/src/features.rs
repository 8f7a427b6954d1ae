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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, then a multiply to spread the bits: the same word always has the same id.
fn hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = FNV_OFFSET ^ seed;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    finish(h)
}

fn finish(h: u64) -> u64 {
    (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Words longer than this many bytes are dropped, as the index drops them.
const LONGEST: usize = 99;

/// The term counts of `text` (words as the index sees them; words without a letter dropped).
///
/// ASCII text, nearly all of email, takes a fast path: words are runs of ASCII letters and
/// digits, lower-cased while hashed. This is exactly what the index's analyzer produces for
/// ASCII, and a test holds the two paths equal. Other text goes through the analyzer itself
/// (Unicode letters, accent folding).
#[must_use]
pub fn count(text: &str, config: &FeatureConfig) -> Counts {
    let mask = (1u64 << config.bits) - 1;
    let mut ids: Vec<u32> = Vec::with_capacity(text.len() / 6);
    let mut previous: Option<u64> = None;
    let mut push = |h: Option<u64>| {
        let Some(h) = h else {
            previous = None;
            return;
        };
        ids.push((h & mask) as u32);
        if config.pairs
            && let Some(p) = previous
        {
            ids.push(
                ((p.rotate_left(17) ^ h).wrapping_mul(0x94d0_49bb_1331_11eb) >> 20 & mask) as u32,
            );
        }
        previous = Some(h);
    };
    if text.is_ascii() {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            let mut h = FNV_OFFSET;
            let mut letter = false;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                let b = bytes[i].to_ascii_lowercase();
                letter |= b.is_ascii_alphabetic();
                h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                i += 1;
            }
            if i - start > LONGEST {
                continue; // dropped by the index too; it does not break a pair
            }
            push(letter.then(|| finish(h)));
        }
    } else {
        quarry_index::words(text, |_, _, word| {
            let keep = word.bytes().any(|b| b.is_ascii_alphabetic()) || !word.is_ascii();
            push(keep.then(|| hash(word.as_bytes(), 0)));
        });
    }
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

    /// The analyzer's path, for any text: what the ASCII fast path must equal.
    fn slow(text: &str, config: &FeatureConfig) -> Counts {
        // A non-ASCII word far from the others sends `count` down the analyzer's path; its
        // own counts (and the pair it makes) are taken out again.
        let with = count(&format!("{text} \u{e9}t\u{e9}"), config);
        let mut counts: Vec<(u32, u32)> = with;
        let extra = if config.pairs {
            count(&format!("{} \u{e9}t\u{e9}", last_word(text)), config)
        } else {
            count("\u{e9}t\u{e9}", config)
        };
        let own = if config.pairs { count(last_word(text), config) } else { Vec::new() };
        for (id, n) in extra {
            let n = n - own.iter().find(|c| c.0 == id).map_or(0, |c| c.1);
            if n == 0 {
                continue;
            }
            let at = counts.iter().position(|c| c.0 == id).expect("present");
            counts[at].1 -= n;
            if counts[at].1 == 0 {
                counts.remove(at);
            }
        }
        counts
    }

    /// The last word the fast path would count (letters present, not too long), else "".
    fn last_word(text: &str) -> &str {
        let mut last = "";
        for w in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            if w.is_empty() {
                continue;
            }
            if w.len() <= LONGEST {
                last = if w.bytes().any(|b| b.is_ascii_alphabetic()) { w } else { "" };
            }
        }
        last
    }

    #[test]
    fn ascii_fast_path_equals_the_analyzer() {
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let alphabet = b"abcXYZ019 ,.-_'\n\t@/()";
        for config in
            [FeatureConfig::default(), FeatureConfig { pairs: true, ..FeatureConfig::default() }]
        {
            for _ in 0..300 {
                let len = next(300) as usize;
                let mut text: String = (0..len)
                    .map(|_| alphabet[next(alphabet.len() as u64) as usize] as char)
                    .collect();
                if next(4) == 0 {
                    text.push(' ');
                    text.push_str(&"x".repeat(95 + next(10) as usize));
                    text.push_str(" tail 42 end");
                }
                assert_eq!(count(&text, &config), slow(&text, &config), "{text:?}");
            }
        }
    }
}
