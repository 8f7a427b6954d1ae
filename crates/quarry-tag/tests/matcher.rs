//! The matcher against a plain reference: the index's words, every pattern tried at every
//! position. Random texts and patterns over a small vocabulary (mixed case, punctuation,
//! accented and non-Latin words, blank lines), so that hits are dense and every path is taken.

use quarry_tag::matcher::{Gaps, Matcher, Pattern, Scratch, Sink};

#[derive(Default)]
struct Hits {
    hits: Vec<(u32, usize, usize)>,
    paragraphs: Vec<(u32, std::ops::Range<usize>)>,
    /// Hits and paragraphs in the order reported: a paragraph's hits come before it.
    events: Vec<(u32, usize, usize)>,
}

impl Sink for Hits {
    fn hit(&mut self, pattern: u32, start: usize, end: usize) {
        self.hits.push((pattern, start, end));
        self.events.push((pattern, start, end));
    }
    fn paragraph(&mut self, _hash: u64, words: u32, range: std::ops::Range<usize>) {
        self.events.push((u32::MAX, range.start, range.end));
        self.paragraphs.push((words, range));
    }
}

fn reference(text: &str, patterns: &[Pattern]) -> Vec<(u32, usize, usize)> {
    let mut words = Vec::new();
    quarry_index::words(text, |s, e, w| words.push((s, e, w.to_owned())));
    let mut out = Vec::new();
    for (p, pattern) in patterns.iter().enumerate() {
        let n = pattern.words.len();
        for at in 0..words.len() {
            if at + n > words.len() {
                break;
            }
            let window = &words[at..at + n];
            let ok = if pattern.prefix {
                window[0].2.starts_with(&pattern.words[0])
            } else {
                window.iter().zip(&pattern.words).all(|(w, p)| &w.2 == p)
                    && match &pattern.gaps {
                        Gaps::Any => true,
                        Gaps::Exact(gaps) => gaps.iter().enumerate().all(|(k, g)| {
                            text[window[k].1..window[k + 1].0].eq_ignore_ascii_case(g)
                        }),
                    }
            };
            if ok {
                out.push((p as u32, window[0].0, window[n - 1].1));
            }
        }
    }
    out.sort_unstable();
    out
}

/// xorshift: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const VOCAB: &[&str] = &[
    "privileged",
    "Privileged",
    "PRIVILEGE",
    "and",
    "confidential",
    "attorney",
    "client",
    "Sanders",
    "richard",
    "Richard",
    "b",
    "enron",
    "com",
    "velaw",
    "Müller",
    "muller",
    "café",
    "cafe",
    "Straße",
    "日本",
    "x1",
    "2001",
    "work",
    "product",
    "a",
    "legal",
    "advice",
    "averyveryveryverylongwordthatgoesonandon",
    // Around the index's limit: words of 100 bytes or more are dropped, so a phrase runs
    // across them; 99 bytes is a word.
    LONG_99,
    LONG_100,
    "Überlangüberlangüberlangüberlangüberlangüberlangüberlangüberlangüberlangüberlangüberlangüberlang",
];
const LONG_99: &str = "l99aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const LONG_100: &str = "l100aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SEPS: &[&str] =
    &[" ", " ", " ", ", ", ".", "@", "-", "\n", "\n\n", " > ", "\u{a0}", "’", "\t"];

#[test]
fn matches_the_reference_on_random_texts() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut total, mut multi, mut exact, mut prefix) = (0, 0, 0, 0);
    for round in 0..300 {
        let mut patterns = Vec::new();
        let mut terms = Vec::new();
        for _ in 0..(1 + rng.next() % 12) {
            let n = 1 + (rng.next() % 3) as usize;
            let mut term = String::new();
            for k in 0..n {
                if k > 0 {
                    term.push_str(rng.pick(&[" ", ".", "@", "-"]));
                }
                term.push_str(rng.pick(VOCAB));
            }
            let exact = rng.next().is_multiple_of(3);
            let prefix = n == 1 && rng.next().is_multiple_of(4);
            if prefix {
                let word: String = term.chars().take(3 + (rng.next() % 3) as usize).collect();
                term = format!("{word}*");
            }
            if let Some(p) = Pattern::parse(&term, exact) {
                if p.prefix && (p.words.len() != 1 || p.words[0].len() < 3) {
                    continue;
                }
                patterns.push(p);
                terms.push(term.trim_end_matches('*').to_owned());
            }
        }
        let mut text = String::new();
        for _ in 0..(rng.next() % 200) {
            if !terms.is_empty() && rng.next().is_multiple_of(6) {
                // Plant a term as written, in upper case now and then.
                let term = &terms[(rng.next() % terms.len() as u64) as usize];
                match rng.next() % 3 {
                    0 => text.push_str(&term.to_uppercase()),
                    _ => text.push_str(term),
                }
                text.push_str(rng.pick(SEPS));
            }
            text.push_str(rng.pick(VOCAB));
            text.push_str(rng.pick(SEPS));
        }
        // Every other round, 9,000 more patterns of words the text never holds: a filter that
        // large is probed with two bits per word, not one. They come last, so the hits'
        // pattern numbers are the same.
        let mut all = patterns.clone();
        if round % 2 == 1 {
            all.extend((0..9_000).map(|i| Pattern::parse(&format!("qz{i}x"), false).unwrap()));
        }
        // Every other pair of rounds, labelled patterns: hits report the label, here the
        // position plus an offset that is taken off again.
        let labelled = round % 4 >= 2;
        let offset = if labelled { 1_000_000 } else { 0 };
        let matcher = if labelled {
            let labels: Vec<u32> = (0..all.len() as u32).map(|i| i + offset).collect();
            Matcher::labelled(&all, &labels)
        } else {
            Matcher::new(&all)
        };
        let mut hits = Hits::default();
        matcher.scan(&text, true, &mut Scratch::default(), &mut hits);
        if round % 4 == 1 {
            // A table this large is looked up a few words at a time (its cache misses
            // overlapped): hits and paragraphs come in the same order as from a small one.
            assert!(format!("{matcher:?}").contains("deferred: true"), "{matcher:?}");
            let small_matcher = Matcher::new(&patterns);
            assert!(format!("{small_matcher:?}").contains("deferred: false"));
            let mut small = Hits::default();
            small_matcher.scan(&text, true, &mut Scratch::default(), &mut small);
            assert_eq!(hits.events, small.events, "round {round}: {patterns:?}\n{text:?}");
        }
        let mut got: Vec<_> = hits.hits.iter().map(|&(p, s, e)| (p - offset, s, e)).collect();
        got.sort_unstable();
        assert_eq!(got, reference(&text, &patterns), "round {round}: {patterns:?}\n{text:?}");
        for &(p, _, _) in &got {
            let p = &patterns[p as usize];
            total += 1;
            multi += usize::from(p.words.len() > 1);
            exact += usize::from(matches!(p.gaps, Gaps::Exact(_)));
            prefix += usize::from(p.prefix);
        }
        // Paragraphs cover every word once.
        let words: u32 = hits.paragraphs.iter().map(|p| p.0).sum();
        let mut expected = 0;
        quarry_index::words(&text, |_, _, _| expected += 1);
        assert_eq!(words, expected, "round {round}");
    }
    // The comparison means something only if every kind of pattern hit often.
    assert!(
        total > 5_000 && multi > 200 && exact > 50 && prefix > 200,
        "{total} {multi} {exact} {prefix}"
    );
}

#[test]
fn exact_separators_and_prefixes() {
    let patterns = [
        Pattern::parse("richard.sanders@enron.com", true).unwrap(),
        Pattern::parse("velaw.com", true).unwrap(),
        Pattern::parse("attorney client", false).unwrap(),
        Pattern::parse("privilege*", false).unwrap(),
    ];
    let text = "Richard.Sanders@Enron.com wrote to richard sanders enron com and jdoe@mail.velaw.com \
                (velaw com): Attorney-Client PRIVILEGED, privilege; privy";
    let matcher = Matcher::new(&patterns);
    let mut hits = Hits::default();
    matcher.scan(text, false, &mut Scratch::default(), &mut hits);
    let found: Vec<(u32, &str)> = hits.hits.iter().map(|&(p, s, e)| (p, &text[s..e])).collect();
    assert_eq!(
        found,
        [
            (0, "Richard.Sanders@Enron.com"),
            (1, "velaw.com"),
            (2, "Attorney-Client"),
            (3, "PRIVILEGED"),
            (3, "privilege"),
        ]
    );
}

#[test]
fn paragraphs_end_at_blank_lines_quoted_or_not() {
    let text = "one two\nthree\n\nfour\n> \n> five six\n\n\n";
    let matcher = Matcher::new(&[Pattern::parse("two", false).unwrap()]);
    let mut hits = Hits::default();
    matcher.scan(text, true, &mut Scratch::default(), &mut hits);
    let paragraphs: Vec<(u32, &str)> =
        hits.paragraphs.iter().map(|(n, r)| (*n, &text[r.clone()])).collect();
    assert_eq!(paragraphs, [(3, "one two\nthree"), (1, "four"), (2, "five six")]);
}
