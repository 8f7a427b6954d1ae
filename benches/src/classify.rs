//! The classification benchmark's corpus and term lists (PERFORMANCE.md §4's recipe).
//!
//! A universe of distinct lower-case words: common English and business words, 60,000
//! synthetic words made of syllables, first names and last names. Documents of 2 to 6 KB are
//! sentences of 6 to 22 words (Zipf-ish over the common words, 1 word in 8 synthetic), with
//! 1.5 % of words a "First Last" name from a 400 x 1,000 grid and 1.5 % numbers, paragraphs of
//! 2 to 6 sentences separated by blank lines.
//!
//! A term list of N entries: 70 % names from the grid, 30 % synthetic words and two-word
//! phrases, plus six privilege phrases. The generator counts, word by word as it writes, how
//! often each list's patterns occur at word granularity, so the benchmark can assert that the
//! classifier found exactly those hits.

use std::collections::HashSet;
use std::ops::Range;

use crate::Rng;

const SYNTHETIC: usize = 60_000;
const FIRST: usize = 400;
const LAST: usize = 1_000;
/// Words of the universe the generator never writes: terms made of them never hit.
const ABSENT: usize = 40_000;

/// Common words, most frequent first (Zipf over their rank).
const COMMON: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "for",
    "is",
    "on",
    "that",
    "by",
    "this",
    "with",
    "you",
    "it",
    "not",
    "or",
    "be",
    "are",
    "from",
    "at",
    "as",
    "your",
    "all",
    "have",
    "new",
    "more",
    "an",
    "was",
    "we",
    "will",
    "can",
    "us",
    "about",
    "if",
    "my",
    "has",
    "but",
    "our",
    "one",
    "other",
    "do",
    "no",
    "information",
    "time",
    "they",
    "he",
    "up",
    "may",
    "what",
    "which",
    "their",
    "out",
    "use",
    "any",
    "there",
    "see",
    "only",
    "so",
    "his",
    "when",
    "here",
    "business",
    "who",
    "also",
    "now",
    "help",
    "get",
    "first",
    "been",
    "would",
    "how",
    "were",
    "me",
    "some",
    "these",
    "like",
    "service",
    "than",
    "find",
    "price",
    "date",
    "back",
    "top",
    "people",
    "had",
    "list",
    "name",
    "just",
    "over",
    "state",
    "year",
    "day",
    "into",
    "email",
    "two",
    "health",
    "world",
    "next",
    "used",
    "go",
    "work",
    "last",
    "most",
    "products",
    "music",
    "buy",
    "data",
    "make",
    "them",
    "should",
    "product",
    "system",
    "post",
    "her",
    "city",
    "add",
    "policy",
    "number",
    "such",
    "please",
    "available",
    "copyright",
    "support",
    "message",
    "after",
    "best",
    "software",
    "then",
    "good",
    "well",
    "where",
    "info",
    "rights",
    "public",
    "high",
    "school",
    "through",
    "each",
    "she",
    "order",
    "very",
    "privacy",
    "book",
    "item",
    "company",
    "read",
    "group",
    "need",
    "many",
    "user",
    "said",
    "does",
    "set",
    "under",
    "general",
    "research",
    "university",
    "mail",
    "full",
    "map",
    "reviews",
    "program",
    "life",
    "know",
    "games",
    "way",
    "days",
    "management",
    "part",
    "could",
    "great",
    "united",
    "hotel",
    "real",
    "gas",
    "power",
    "energy",
    "market",
    "trading",
    "contract",
    "deal",
    "meeting",
    "call",
    "week",
    "today",
    "privileged",
    "confidential",
    "attorney",
    "client",
    "legal",
    "advice",
    "memo",
    "hedge",
    "swap",
    "option",
    "counsel",
    "review",
    "draft",
    "agreement",
    "letter",
    "report",
    "plan",
    "issue",
    "question",
    "answer",
    "team",
    "office",
    "month",
    "pipeline",
    "storage",
    "capacity",
    "volume",
    "credit",
    "risk",
    "desk",
    "trader",
    "firm",
    "law",
    "case",
    "court",
    "settlement",
    "claim",
    "notice",
    "filing",
    "schedule",
    "approval",
    "budget",
    "cost",
    "revenue",
    "forecast",
    "model",
    "analysis",
    "account",
    "transfer",
];

/// Privilege phrases every term list carries.
pub const PRIVILEGE_PHRASES: &[&str] = &[
    "privileged and confidential",
    "attorney client",
    "work product",
    "legal advice",
    "attorney work product",
    "confidential legal",
];

const SYLLABLES: &[&str] = &[
    "ba", "be", "bi", "bo", "bu", "ca", "ce", "co", "da", "de", "di", "do", "fa", "fe", "ga", "go",
    "ha", "he", "hi", "ja", "ka", "ko", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "na",
    "ne", "ni", "no", "pa", "pe", "po", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te",
    "ti", "to", "va", "ve", "vi", "wa", "we", "ya", "za", "ze", "an", "en", "in", "on", "ar", "er",
    "or", "st", "th", "ch", "sh", "nd",
];

/// The words of the corpus.
pub struct Universe {
    /// Every distinct word: common, then synthetic, then first names, then last names, then
    /// words that never occur in the text.
    pub words: Vec<String>,
}

impl Universe {
    /// The universe (deterministic).
    #[must_use]
    pub fn new() -> Universe {
        let mut rng = Rng::new(0x0C1A_551F);
        let mut seen: HashSet<String> = COMMON.iter().map(|w| (*w).to_owned()).collect();
        let mut words: Vec<String> = COMMON.iter().map(|w| (*w).to_owned()).collect();
        for (count, min, max) in [(SYNTHETIC, 2, 5), (FIRST, 2, 3), (LAST, 2, 4), (ABSENT, 2, 5)] {
            let mut made = 0;
            while made < count {
                let n = min + rng.below(max - min + 1);
                let word: String =
                    (0..n).map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize]).collect();
                if seen.insert(word.clone()) {
                    words.push(word);
                    made += 1;
                }
            }
        }
        Universe { words }
    }

    fn synthetic(&self, i: usize) -> u32 {
        (COMMON.len() + i) as u32
    }

    fn first(&self, i: usize) -> u32 {
        (COMMON.len() + SYNTHETIC + i) as u32
    }

    fn last(&self, i: usize) -> u32 {
        (COMMON.len() + SYNTHETIC + FIRST + i) as u32
    }

    fn absent(&self, i: usize) -> u32 {
        (COMMON.len() + SYNTHETIC + FIRST + LAST + i) as u32
    }

    fn common(&self, word: &str) -> u32 {
        COMMON.iter().position(|w| *w == word).expect("a common word") as u32
    }
}

impl Default for Universe {
    fn default() -> Self {
        Universe::new()
    }
}

/// A term list and its patterns as word ids.
pub struct Terms {
    /// The terms as written (names capitalized, as an attorney list would have them).
    pub terms: Vec<String>,
    patterns: Vec<Vec<u32>>,
}

impl Terms {
    /// `n` distinct terms (`n` >= 100).
    #[must_use]
    pub fn new(universe: &Universe, n: usize, seed: u64) -> Terms {
        let mut rng = Rng::new(seed);
        let mut seen = HashSet::new();
        let mut terms = Vec::with_capacity(n);
        let mut patterns = Vec::with_capacity(n);
        let mut push = |terms: &mut Vec<String>, pattern: Vec<u32>, text: String| {
            if seen.insert(pattern.clone()) {
                terms.push(text);
                patterns.push(pattern);
                true
            } else {
                false
            }
        };
        for phrase in PRIVILEGE_PHRASES {
            let ids = phrase.split(' ').map(|w| universe.common(w)).collect();
            push(&mut terms, ids, (*phrase).to_owned());
        }
        let names = n * 7 / 10;
        while terms.len() < n {
            let ids = if terms.len() < names {
                vec![
                    universe.first(rng.below(FIRST as u64) as usize),
                    universe.last(rng.below(LAST as u64) as usize),
                ]
            } else if rng.below(2) == 0 {
                vec![universe.synthetic(rng.below(SYNTHETIC as u64) as usize)]
            } else {
                vec![
                    universe.synthetic(rng.below(SYNTHETIC as u64) as usize),
                    universe.synthetic(rng.below(SYNTHETIC as u64) as usize),
                ]
            };
            let text = ids
                .iter()
                .map(|&id| {
                    let w = &universe.words[id as usize];
                    if id >= universe.first(0) { capitalize(w) } else { w.clone() }
                })
                .collect::<Vec<_>>()
                .join(" ");
            push(&mut terms, ids, text);
        }
        Terms { terms, patterns }
    }
}

impl Terms {
    /// The rules the benchmarks classify with: the terms as one issue, everything else as
    /// [`quarry_tag::Rules::default`] has it (boilerplate detection on).
    #[must_use]
    pub fn rules(&self) -> quarry_tag::Rules {
        quarry_tag::Rules {
            issues: vec![quarry_tag::Issue {
                name: "bench".into(),
                terms: self.terms.clone(),
                queries: Vec::new(),
                min_terms: 1,
            }],
            ..quarry_tag::Rules::default()
        }
    }

    /// `base`'s terms, then more up to `n` in all that never occur in the text, in the same
    /// mix (70 % "First Last" names, 30 % words and two-word phrases) and of the same shape,
    /// from words the generator never writes: a list `n` long with the hits of `base`. It
    /// separates what a longer list costs from what more hits cost.
    #[must_use]
    pub fn with_absent(universe: &Universe, base: &Terms, n: usize, seed: u64) -> Terms {
        let mut rng = Rng::new(seed);
        let mut seen: HashSet<Vec<u32>> = base.patterns.iter().cloned().collect();
        let mut terms = base.terms.clone();
        let mut patterns = base.patterns.clone();
        let names = base.terms.len() + (n - base.terms.len()) * 7 / 10;
        // Absent first and last names (as many as the grid's), then absent words.
        let (firsts, lasts) = (FIRST as u64, LAST as u64);
        let words = (ABSENT - FIRST - LAST) as u64;
        while terms.len() < n {
            let ids = if terms.len() < names {
                vec![
                    universe.absent(rng.below(firsts) as usize),
                    universe.absent((firsts + rng.below(lasts)) as usize),
                ]
            } else if rng.below(2) == 0 {
                vec![universe.absent((firsts + lasts + rng.below(words)) as usize)]
            } else {
                vec![
                    universe.absent((firsts + lasts + rng.below(words)) as usize),
                    universe.absent((firsts + lasts + rng.below(words)) as usize),
                ]
            };
            if !seen.insert(ids.clone()) {
                continue;
            }
            let capital = terms.len() < names;
            let text = ids
                .iter()
                .map(|&id| {
                    let w = &universe.words[id as usize];
                    if capital { capitalize(w) } else { w.clone() }
                })
                .collect::<Vec<_>>()
                .join(" ");
            terms.push(text);
            patterns.push(ids);
        }
        Terms { terms, patterns }
    }
}

fn capitalize(word: &str) -> String {
    let mut c = word.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// The generated documents, one buffer.
pub struct Corpus {
    /// Every document's bytes, back to back.
    pub bytes: Vec<u8>,
    /// Each document's range.
    pub docs: Vec<Range<usize>>,
}

impl Corpus {
    /// The document `i`.
    #[must_use]
    pub fn doc(&self, i: usize) -> &str {
        std::str::from_utf8(&self.bytes[self.docs[i].clone()]).expect("ASCII")
    }
}

/// Counts patterns of several term lists word by word, as the text is written.
struct Counter {
    /// Per list: unigram patterns by word id (how many patterns are that word: 0 or 1).
    lists: Vec<ListCounter>,
}

struct ListCounter {
    single: Vec<bool>,
    starts2: Vec<bool>,
    pairs: HashSet<(u32, u32)>,
    triples: HashSet<(u32, u32, u32)>,
    hits: u64,
}

impl Counter {
    fn new(universe: &Universe, lists: &[&Terms]) -> Counter {
        let n = universe.words.len();
        let lists = lists
            .iter()
            .map(|t| {
                let mut c = ListCounter {
                    single: vec![false; n],
                    starts2: vec![false; n],
                    pairs: HashSet::new(),
                    triples: HashSet::new(),
                    hits: 0,
                };
                for p in &t.patterns {
                    match p.as_slice() {
                        [a] => c.single[*a as usize] = true,
                        [a, b] => {
                            c.starts2[*a as usize] = true;
                            c.pairs.insert((*a, *b));
                        }
                        [a, b, d] => {
                            c.triples.insert((*a, *b, *d));
                        }
                        _ => unreachable!("patterns of 1 to 3 words"),
                    }
                }
                c
            })
            .collect();
        Counter { lists }
    }

    /// Word `id` follows `prev` and `prev2` (`u32::MAX`: none, or a number).
    fn word(&mut self, prev2: u32, prev: u32, id: u32) {
        for c in &mut self.lists {
            if id == u32::MAX {
                continue;
            }
            c.hits += u64::from(c.single[id as usize]);
            if prev != u32::MAX && c.starts2[prev as usize] && c.pairs.contains(&(prev, id)) {
                c.hits += 1;
            }
            if prev2 != u32::MAX && !c.triples.is_empty() && c.triples.contains(&(prev2, prev, id))
            {
                c.hits += 1;
            }
        }
    }
}

/// Generates about `total` bytes of documents; returns them with each list's expected hit
/// count (every occurrence of every pattern, overlapping ones included).
#[must_use]
pub fn generate(
    universe: &Universe,
    total: usize,
    lists: &[&Terms],
    seed: u64,
) -> (Corpus, Vec<u64>) {
    let mut rng = Rng::new(seed);
    let mut counter = Counter::new(universe, lists);
    let mut bytes = Vec::with_capacity(total + 8_192);
    let mut docs = Vec::with_capacity(total / 4_000 + 1);
    let mut number = itoa_buf();
    while bytes.len() < total {
        let start = bytes.len();
        let len = 2_048 + rng.below(4_096) as usize;
        let (mut prev2, mut prev) = (u32::MAX, u32::MAX);
        let mut sentence = 0usize;
        let mut sentence_len = 6 + rng.below(17) as usize;
        let mut paragraph = 0usize;
        let mut paragraph_len = 2 + rng.below(5) as usize;
        while bytes.len() - start < len {
            let roll = rng.below(1_000);
            let mut emit = |bytes: &mut Vec<u8>, id: u32, cap: bool| {
                let w = &universe.words[id as usize];
                if cap {
                    bytes.push(w.as_bytes()[0].to_ascii_uppercase());
                    bytes.extend_from_slice(&w.as_bytes()[1..]);
                } else {
                    bytes.extend_from_slice(w.as_bytes());
                }
                counter.word(prev2, prev, id);
                prev2 = prev;
                prev = id;
            };
            if roll < 15 {
                let first = universe.first(rng.below(FIRST as u64) as usize);
                let last = universe.last(rng.below(LAST as u64) as usize);
                emit(&mut bytes, first, true);
                bytes.push(b' ');
                emit(&mut bytes, last, true);
                sentence += 1;
            } else if roll < 30 {
                bytes.extend_from_slice(number.format(rng.below(100_000)).as_bytes());
                prev2 = prev;
                prev = u32::MAX;
            } else if roll < 139 {
                emit(
                    &mut bytes,
                    universe.synthetic(rng.below(SYNTHETIC as u64) as usize),
                    sentence == 0,
                );
            } else {
                let r = rng.below(1 << 20) as f64 / f64::from(1 << 20);
                let index = ((COMMON.len() as f64 + 1.0).powf(r) - 1.0) as usize;
                emit(&mut bytes, index.min(COMMON.len() - 1) as u32, sentence == 0);
            }
            sentence += 1;
            if sentence >= sentence_len {
                sentence = 0;
                sentence_len = 6 + rng.below(17) as usize;
                paragraph += 1;
                if paragraph >= paragraph_len {
                    paragraph = 0;
                    paragraph_len = 2 + rng.below(5) as usize;
                    bytes.extend_from_slice(b".\n\n");
                } else {
                    bytes.extend_from_slice(if rng.below(3) == 0 { b".\n" } else { b". " });
                }
            } else if rng.below(12) == 0 {
                bytes.extend_from_slice(b", ");
            } else {
                bytes.push(b' ');
            }
        }
        bytes.extend_from_slice(b".\n");
        docs.push(start..bytes.len());
    }
    let expected = counter.lists.iter().map(|c| c.hits).collect();
    (Corpus { bytes, docs }, expected)
}

struct Itoa(String);

impl Itoa {
    fn format(&mut self, n: u64) -> &str {
        use std::fmt::Write as _;
        self.0.clear();
        let _ = write!(self.0, "{n}");
        &self.0
    }
}

fn itoa_buf() -> Itoa {
    Itoa(String::new())
}
