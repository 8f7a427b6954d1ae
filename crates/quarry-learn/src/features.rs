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
    /// How words are hashed to ids: 1, FNV-1a a byte at a time (the first release; kept so
    /// its models can still be rebuilt bit for bit); 2, eight bytes at a time (current).
    /// Records written before the field existed read as 1.
    #[serde(default = "first_version")]
    pub version: u32,
}

/// The feature version new sessions use.
pub const VERSION: u32 = 2;

fn first_version() -> u32 {
    1
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { bits: 20, pairs: false, min_df: 2, version: VERSION }
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
/// (Unicode letters, accent folding). Uses a per-thread [`Counter`].
#[must_use]
pub fn count(text: &str, config: &FeatureConfig) -> Counts {
    thread_local! {
        static COUNTER: std::cell::RefCell<Counter> = std::cell::RefCell::new(Counter::default());
    }
    COUNTER.with(|c| c.borrow_mut().count(text, config))
}

/// Counts words into a small open-addressing table that is reused from text to text, so a
/// document costs one table probe per word and a sort of its distinct ids only.
#[derive(Clone, Debug, Default)]
pub struct Counter {
    /// (id, count); a count of 0 marks an empty slot. The length is a power of two.
    slots: Vec<(u32, u32)>,
    /// The slots in use, in first-seen order.
    used: Vec<u32>,
}

impl Counter {
    /// The term counts of `text`, as [`count`].
    pub fn count(&mut self, text: &str, config: &FeatureConfig) -> Counts {
        if config.version == 1 {
            return count_v1(text, config);
        }
        self.tally(text, config);
        self.finish()
    }

    /// Calls `f(id, count)` for each distinct term of `text`, in the order first seen, and
    /// leaves the table empty: [`Counter::count`] without building and sorting a vector.
    pub fn for_each(&mut self, text: &str, config: &FeatureConfig, mut f: impl FnMut(u32, u32)) {
        if config.version == 1 {
            for (id, n) in count_v1(text, config) {
                f(id, n);
            }
            return;
        }
        self.tally(text, config);
        for &p in &self.used {
            let (id, n) = std::mem::take(&mut self.slots[p as usize]);
            f(id, n);
        }
        self.used.clear();
        self.shrink();
    }

    /// After a document with very many distinct words, gives the memory back rather than
    /// keeping a table sized for it.
    fn shrink(&mut self) {
        if self.slots.len() > 1 << 16 {
            self.slots = Vec::new();
            self.used = Vec::new();
        }
    }

    /// Counts `text`'s terms into the table.
    fn tally(&mut self, text: &str, config: &FeatureConfig) {
        if self.slots.is_empty() {
            self.slots = vec![(0, 0); 1024];
        }
        let bits = config.bits.clamp(1, 32);
        let shift = 64 - bits;
        let pairs = config.pairs;
        let mut previous: Option<u64> = None;
        let mut word = |counter: &mut Counter, h: Option<u64>| {
            let Some(h) = h else {
                previous = None;
                return;
            };
            counter.add((h >> shift) as u32);
            if pairs && let Some(p) = previous {
                counter.add(((p.rotate_left(17) ^ h).wrapping_mul(K2) >> shift) as u32);
            }
            previous = Some(h);
        };
        let bytes = text.as_bytes();
        if text.is_ascii() {
            ascii_words(bytes, |start, end, letter| {
                if end - start > LONGEST {
                    return; // dropped by the index too; it does not break a pair
                }
                word(self, letter.then(|| hash_at(bytes, start, end, LOWER)));
            });
        } else {
            quarry_index::words(text, |_, _, w| {
                let keep = w.bytes().any(|b| b.is_ascii_alphabetic()) || !w.is_ascii();
                let b = w.as_bytes();
                word(self, keep.then(|| hash_at(b, 0, b.len(), 0)));
            });
        }
    }

    /// Where an id's probe starts. Ids are the top bits of a hash; a multiply spreads the top
    /// ones (which words differing only in their eighth byte differ in) into the low ones.
    #[inline(always)]
    fn home(id: u32, mask: usize) -> usize {
        (u64::from(id).wrapping_mul(K) >> 20) as usize & mask
    }

    #[inline(always)]
    fn add(&mut self, id: u32) {
        let mask = self.slots.len() - 1;
        let mut p = Self::home(id, mask);
        loop {
            let slot = &mut self.slots[p];
            if slot.1 == 0 {
                *slot = (id, 1);
                self.used.push(p as u32);
                if self.used.len() * 2 > self.slots.len() {
                    self.grow();
                }
                return;
            }
            if slot.0 == id {
                slot.1 += 1;
                return;
            }
            p = (p + 1) & mask;
        }
    }

    #[cold]
    fn grow(&mut self) {
        let old: Vec<(u32, u32)> = self.used.iter().map(|&p| self.slots[p as usize]).collect();
        self.slots = vec![(0, 0); self.slots.len() * 2];
        self.used.clear();
        let mask = self.slots.len() - 1;
        for (id, n) in old {
            let mut p = Self::home(id, mask);
            while self.slots[p].1 != 0 {
                p = (p + 1) & mask;
            }
            self.slots[p] = (id, n);
            self.used.push(p as u32);
        }
    }

    /// The counts sorted by id; the table left empty.
    fn finish(&mut self) -> Counts {
        let mut packed: Vec<u64> = Vec::with_capacity(self.used.len());
        for &p in &self.used {
            let slot = std::mem::take(&mut self.slots[p as usize]);
            packed.push(u64::from(slot.0) << 32 | u64::from(slot.1));
        }
        self.used.clear();
        self.shrink();
        packed.sort_unstable();
        packed.into_iter().map(|x| ((x >> 32) as u32, x as u32)).collect()
    }
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0x94d0_49bb_1331_11eb;
/// Setting bit 5 of every byte lower-cases ASCII letters and leaves digits as they are.
const LOWER: u64 = 0x2020_2020_2020_2020;

/// The hash of `bytes[start..end]`, eight bytes at a time, each chunk or-ed with `lower`
/// (`LOWER` for raw ASCII words, 0 for words the analyzer has already lower-cased: on
/// lower-case letters and digits the two agree). The last chunk is read in place when eight
/// bytes remain in the buffer, and masked. The top bits are the id.
#[inline(always)]
fn hash_at(bytes: &[u8], start: usize, end: usize, lower: u64) -> u64 {
    let len = end - start;
    let mut h = (len as u64).wrapping_mul(K);
    let mut at = start;
    while end - at > 8 {
        let w = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")) | lower;
        h = (h ^ w).wrapping_mul(K).rotate_left(23);
        at += 8;
    }
    let rest = end - at;
    let mask = u64::MAX >> (8 * (8 - rest));
    let w = if at + 8 <= bytes.len() {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    } else {
        let mut buf = [0u8; 8];
        buf[..rest].copy_from_slice(&bytes[at..end]);
        u64::from_le_bytes(buf)
    };
    (h ^ ((w | lower) & mask)).wrapping_mul(K)
}

/// Calls `f(start, end, has_letter)` for every run of ASCII letters and digits in `bytes`.
///
/// Words are found 64 bytes at a time: a bit mask of the bytes that belong to words, whose
/// rising edges are word starts and falling edges word ends, so the loop branches once per
/// word, not once per byte (the matcher of quarry-tag does the same).
#[inline(always)]
fn ascii_words(bytes: &[u8], mut f: impl FnMut(usize, usize, bool)) {
    let mut open: Option<(usize, bool)> = None; // a word not ended yet: start, has a letter
    let mut base = 0usize;
    while base < bytes.len() {
        let (word, alpha) = masks(&bytes[base..bytes.len().min(base + 64)]);
        let carry = u64::from(open.is_some());
        let mut starts = word & !((word << 1) | carry);
        let mut ends = !word & ((word << 1) | carry);
        loop {
            if let Some((start, letter)) = open {
                let from = start.saturating_sub(base) as u32;
                if ends == 0 {
                    open = Some((start, letter || alpha & range(from, 64) != 0));
                    break;
                }
                let at = ends.trailing_zeros();
                ends &= ends - 1;
                open = None;
                f(start, base + at as usize, letter || alpha & range(from, at) != 0);
            }
            if starts == 0 {
                break;
            }
            let at = starts.trailing_zeros();
            starts &= starts - 1;
            open = Some((base + at as usize, false));
        }
        base += 64;
    }
    if let Some((start, letter)) = open {
        f(start, bytes.len(), letter);
    }
}

/// Bit masks of a block of up to 64 bytes (a short block is padded with spaces): bytes that
/// are ASCII letters or digits, and bytes that are letters. Written for the compiler to
/// vectorize: a flag byte per input byte, then eight flags packed into eight bits by one
/// multiply (the flag is bit 7 of each byte; the multiplier moves bit 7 of byte `i` to bit
/// `56 + i`).
#[inline(always)]
fn masks(block: &[u8]) -> (u64, u64) {
    let mut full = [b' '; 64];
    let block: &[u8; 64] = match <&[u8; 64]>::try_from(block) {
        Ok(block) => block,
        Err(_) => {
            full[..block.len()].copy_from_slice(block);
            &full
        }
    };
    let mut words = [0u8; 64];
    let mut letters = [0u8; 64];
    for ((w, l), &b) in words.iter_mut().zip(letters.iter_mut()).zip(block) {
        let is_alpha = (b | 0x20).wrapping_sub(b'a') < 26;
        let is_digit = b.wrapping_sub(b'0') < 10;
        *w = u8::from(is_alpha | is_digit) << 7;
        *l = u8::from(is_alpha) << 7;
    }
    const PACK: u64 = 0x0002_0408_1020_4081;
    let mut word = 0u64;
    let mut alpha = 0u64;
    for k in 0..8 {
        let w = u64::from_le_bytes(words[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        let l = u64::from_le_bytes(letters[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        word |= (w.wrapping_mul(PACK) >> 56) << (8 * k);
        alpha |= (l.wrapping_mul(PACK) >> 56) << (8 * k);
    }
    (word, alpha)
}

/// Bits `from..to` of a u64 (`from` < 64, `to` <= 64).
#[inline(always)]
fn range(from: u32, to: u32) -> u64 {
    if to <= from {
        return 0;
    }
    (u64::MAX << from) & (u64::MAX >> (64 - to))
}

/// Version 1: FNV-1a a byte at a time, ids sorted and run-length counted.
fn count_v1(text: &str, config: &FeatureConfig) -> Counts {
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
            ids.push(((p.rotate_left(17) ^ h).wrapping_mul(K2) >> 20 & mask) as u32);
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
                continue;
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

    #[test]
    fn the_table_counts_like_a_map() {
        // Enough distinct words to grow the table several times, each seen 1 to 3 times.
        let mut text = String::new();
        for i in 0..40_000u32 {
            for _ in 0..=(i % 3) {
                text.push_str(&format!("w{:x}q ", i.wrapping_mul(2_654_435_761)));
            }
            if i % 1000 == 0 {
                text.push_str("2024 ");
            }
        }
        let config = FeatureConfig::default();
        let mut expected: std::collections::BTreeMap<u32, u32> = Default::default();
        for w in text.split_whitespace().filter(|w| w.bytes().any(|b| b.is_ascii_alphabetic())) {
            *expected.entry((hash_at(w.as_bytes(), 0, w.len(), 0) >> 44) as u32).or_default() += 1;
        }
        let mut counter = Counter::default();
        for _ in 0..2 {
            let counts = counter.count(&text, &config);
            assert_eq!(counts, expected.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>());
        }
        // The table grew to hold 40,000 distinct words, then gave the memory back.
        assert!(counter.slots.is_empty());
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
        let configs = [
            FeatureConfig::default(),
            FeatureConfig { pairs: true, ..FeatureConfig::default() },
            FeatureConfig { version: 1, ..FeatureConfig::default() },
            FeatureConfig { version: 1, pairs: true, ..FeatureConfig::default() },
        ];
        for config in configs {
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
