//! Scanning a text against the rules, and deciding what to suggest.
//!
//! Two steps, because boilerplate is a property of the whole collection: [`Classifier::scan`]
//! finds every hit in one text and the hashes of its paragraphs; once every text is scanned,
//! the paragraphs found in many documents are known ([`Paragraphs`]), and
//! [`Classifier::decide`] scores each text with hits inside them set aside.

use std::ops::Range;

use serde::Serialize;

use crate::Result;
use crate::matcher::{self, Matcher, Sink};
use crate::rules::{Rule, RuleKind, Rules};

/// Where in a text a hit lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    /// An email's From line.
    From,
    /// An email's To line.
    To,
    /// An email's Cc line.
    Cc,
    /// An email's Bcc line.
    Bcc,
    /// An email's Subject line.
    Subject,
    /// Another line of an email's header block (Date, Attachments).
    Header,
    /// The text (an email's body, a document's text).
    Text,
}

impl Zone {
    /// Whether the hit names a sender or recipient.
    #[must_use]
    pub fn is_address(self) -> bool {
        matches!(self, Zone::From | Zone::To | Zone::Cc | Zone::Bcc)
    }

    /// Its code in stored hits.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The zone of a stored code.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Zone> {
        [Zone::From, Zone::To, Zone::Cc, Zone::Bcc, Zone::Subject, Zone::Header, Zone::Text]
            .get(code as usize)
            .copied()
    }
}

/// One hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The rule it counts for (an index into [`Classifier::rules`]).
    pub rule: u32,
    /// Byte offsets in the text.
    pub start: u32,
    /// End (exclusive).
    pub end: u32,
    /// Where it lies.
    pub zone: Zone,
    /// Hash of the paragraph it lies in (0: in the header block, or a paragraph too short to
    /// be boilerplate).
    #[serde(skip)]
    pub paragraph: u64,
}

/// Hits found in one text and the paragraphs it has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Every hit, in text order (by start, then end, then rule); forms of one rule at
    /// overlapping places are one hit.
    pub hits: Vec<Hit>,
    /// Hashes of its paragraphs long enough to be boilerplate, sorted, each once.
    pub paragraphs: Vec<u64>,
}

/// What one rule contributed to a document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleHits {
    /// The rule (an index into [`Classifier::rules`]).
    pub rule: u32,
    /// Hits that count.
    pub hits: u32,
    /// Hits inside boilerplate (privilege rules only; they do not count).
    pub suppressed: u32,
    /// Whether a counting hit names a sender or recipient.
    pub address: bool,
    /// What it adds to the privilege score.
    pub weight: u32,
}

/// The suggestion for one document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Privilege score: the sum of the weights of the privilege rules hit outside boilerplate.
    pub score: u32,
    /// Suggested privileged (score at or above the threshold).
    pub privileged: bool,
    /// Issues suggested (indices into [`Rules::issues`]).
    pub issues: Vec<u32>,
    /// Per rule hit, in rule order.
    pub rules: Vec<RuleHits>,
}

impl Decision {
    /// The tags suggested: `suggest:privileged`, `suggest:issue/<name>`.
    #[must_use]
    pub fn tags(&self, rules: &Rules) -> Vec<String> {
        let mut tags = Vec::new();
        if self.privileged {
            tags.push(PRIVILEGED_TAG.to_owned());
        }
        for &i in &self.issues {
            tags.push(issue_tag(&rules.issues[i as usize].name));
        }
        tags
    }
}

/// The tag of a document suggested privileged.
pub const PRIVILEGED_TAG: &str = "suggest:privileged";

/// The tag of a document suggested relevant to an issue.
#[must_use]
pub fn issue_tag(issue: &str) -> String {
    format!("suggest:issue/{issue}")
}

/// Rules compiled for scanning: built once, shared by every thread.
#[derive(Debug)]
pub struct Classifier {
    rules: Rules,
    list: Vec<Rule>,
    matcher: Matcher,
}

/// Per-thread scratch space.
#[derive(Debug, Default)]
pub struct Scratch {
    matcher: matcher::Scratch,
}

impl Classifier {
    /// Compiles the rules.
    pub fn new(rules: &Rules) -> Result<Classifier> {
        let (list, patterns, owners) = rules.compile()?;
        let matcher = Matcher::labelled(&patterns, &owners);
        Ok(Classifier { rules: rules.clone(), list, matcher })
    }

    /// The rules as written.
    #[must_use]
    pub fn rules_file(&self) -> &Rules {
        &self.rules
    }

    /// The rules hits count for.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.list
    }

    /// Number of patterns matched (every form of every rule).
    #[must_use]
    pub fn patterns(&self) -> usize {
        self.matcher.len()
    }

    /// Finds every hit in `text`. An email's text starts with its header block (the lines up
    /// to the first blank line), which gives hits their zone and is never boilerplate.
    pub fn scan(&self, text: &str, email: bool, scratch: &mut Scratch) -> Scan {
        let header_end = if email { header_end(text) } else { 0 };
        let min_words = self.rules.boilerplate.min_words;
        let mut sink = Collect {
            hits: Vec::with_capacity(16),
            paragraphs: Vec::with_capacity(16),
            open: 0,
            header_end,
            min_words,
        };
        let paragraphs = self.rules.boilerplate.min_documents > 0;
        self.matcher.scan(text, paragraphs, &mut scratch.matcher, &mut sink);
        let mut hits = sink.hits;
        // Forms of one rule found at overlapping places (`Richard Sanders` inside
        // `richard.sanders@enron.com`) are one hit: the first, widest.
        hits.sort_unstable_by_key(|h| (h.rule, h.start, std::cmp::Reverse(h.end)));
        hits.dedup_by(|later, kept| later.rule == kept.rule && later.start < kept.end);
        hits.sort_unstable_by_key(|h| (h.start, h.end, h.rule));
        for hit in &mut hits {
            if (hit.start as usize) < header_end {
                hit.zone = zone_of(text, hit.start as usize);
            }
        }
        let mut paragraphs = sink.paragraphs;
        paragraphs.sort_unstable();
        paragraphs.dedup();
        Scan { hits, paragraphs }
    }

    /// Scores a scanned text: `boilerplate(hash)` says whether a paragraph is boilerplate.
    pub fn decide(&self, hits: &[Hit], boilerplate: impl Fn(u64) -> bool) -> Decision {
        let weights = &self.rules.privilege.weights;
        // A document hits few rules: a short list searched from the end beats a map.
        let mut by_rule: Vec<RuleHits> = Vec::new();
        for hit in hits {
            let kind = self.list[hit.rule as usize].kind;
            let at = match by_rule.iter().rposition(|r| r.rule == hit.rule) {
                Some(at) => at,
                None => {
                    by_rule.push(RuleHits {
                        rule: hit.rule,
                        hits: 0,
                        suppressed: 0,
                        address: false,
                        weight: 0,
                    });
                    by_rule.len() - 1
                }
            };
            let entry = &mut by_rule[at];
            // Hits in the header block are never boilerplate; nor are relevance hits set
            // aside (disclaimers mislead the privilege screen, not the issues).
            if kind.is_privilege() && hit.paragraph != 0 && boilerplate(hit.paragraph) {
                entry.suppressed += 1;
                continue;
            }
            entry.hits += 1;
            entry.address |= hit.zone.is_address();
        }
        by_rule.sort_by_key(|r| r.rule);
        let mut decision = Decision::default();
        let mut issue_terms: Vec<(u32, u32)> = Vec::new();
        for r in &mut by_rule {
            if r.hits == 0 {
                continue;
            }
            let rule = &self.list[r.rule as usize];
            r.weight = match rule.kind {
                RuleKind::Attorney if r.address => weights.attorney_header,
                RuleKind::Attorney => weights.attorney_text,
                RuleKind::Firm if r.address => weights.firm_header,
                RuleKind::Firm => weights.firm_text,
                RuleKind::Phrase => weights.phrase,
                RuleKind::Term => weights.term,
                RuleKind::Issue => {
                    if let Some(issue) = rule.issue {
                        match issue_terms.iter_mut().find(|(i, _)| *i == issue) {
                            Some((_, n)) => *n += 1,
                            None => issue_terms.push((issue, 1)),
                        }
                    }
                    0
                }
            };
            decision.score += r.weight;
        }
        decision.privileged =
            decision.score > 0 && decision.score >= self.rules.privilege.threshold;
        let mut issues: Vec<u32> = issue_terms
            .into_iter()
            .filter(|&(issue, terms)| terms >= self.rules.issues[issue as usize].min_terms.max(1))
            .map(|(issue, _)| issue)
            .collect();
        issues.sort_unstable();
        decision.issues = issues;
        decision.rules = by_rule;
        decision
    }
}

struct Collect {
    hits: Vec<Hit>,
    paragraphs: Vec<u64>,
    /// First hit of the open paragraph.
    open: usize,
    header_end: usize,
    min_words: u32,
}

impl Sink for Collect {
    #[inline]
    /// `rule`: the matcher's patterns are labelled with the rules they count for.
    fn hit(&mut self, rule: u32, start: usize, end: usize) {
        self.hits.push(Hit {
            rule,
            start: start as u32,
            end: end as u32,
            zone: Zone::Text,
            paragraph: 0,
        });
    }

    fn paragraph(&mut self, hash: u64, words: u32, range: Range<usize>) {
        let counts = words >= self.min_words && range.start >= self.header_end;
        if counts {
            self.paragraphs.push(hash);
            for hit in &mut self.hits[self.open..] {
                hit.paragraph = hash;
            }
        }
        self.open = self.hits.len();
    }
}

/// End of an email text's header block: just past the first blank line.
fn header_end(text: &str) -> usize {
    if text.starts_with('\n') {
        return 0;
    }
    text.find("\n\n").map_or(text.len(), |at| at + 1)
}

/// The header line a position lies on.
fn zone_of(text: &str, at: usize) -> Zone {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let label = line.split_once(':').map_or("", |(label, _)| label);
    match label {
        "From" => Zone::From,
        "To" => Zone::To,
        "Cc" => Zone::Cc,
        "Bcc" => Zone::Bcc,
        "Subject" => Zone::Subject,
        _ => Zone::Header,
    }
}

/// How many documents each paragraph was found in (duplicates counted once, by whoever
/// counts). Kept with the case, so a later run over new documents adds to it.
///
/// Two arrays in hash order, not a hash map: a case's counts are built by sorting every
/// document's paragraphs at once and counting runs (a million documents' paragraphs sort in
/// a fraction of the time a map takes to insert them one by one), stored in that order, and
/// merged with a later run's in one pass. A lookup is a binary search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paragraphs {
    /// Paragraph hashes, strictly increasing.
    hashes: Vec<u64>,
    /// Documents per paragraph, in the same order.
    counts: Vec<u32>,
}

impl Paragraphs {
    /// Counts documents' paragraphs: `sorted` holds every document's paragraphs (each once
    /// per document: [`Scan::paragraphs`], or the union of several copies' paragraphs),
    /// all together, sorted.
    ///
    /// # Panics
    /// When `sorted` is not sorted.
    #[must_use]
    pub fn from_sorted(sorted: &[u64]) -> Paragraphs {
        assert!(sorted.is_sorted(), "paragraph hashes must come sorted");
        let mut counts = Paragraphs::default();
        for run in sorted.chunk_by(|a, b| a == b) {
            counts.hashes.push(run[0]);
            counts.counts.push(u32::try_from(run.len()).unwrap_or(u32::MAX));
        }
        counts
    }

    /// Counts documents' paragraphs given in any order (see [`Paragraphs::from_sorted`]).
    #[must_use]
    pub fn from_documents(mut paragraphs: Vec<u64>) -> Paragraphs {
        paragraphs.sort_unstable();
        Paragraphs::from_sorted(&paragraphs)
    }

    /// Adds another count (of other documents).
    pub fn merge(&mut self, other: Paragraphs) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        let mut merged = Paragraphs {
            hashes: Vec::with_capacity(self.len() + other.len()),
            counts: Vec::with_capacity(self.len() + other.len()),
        };
        let (mut a, mut b) = (0, 0);
        while a < self.len() && b < other.len() {
            let (hash, count) = match self.hashes[a].cmp(&other.hashes[b]) {
                std::cmp::Ordering::Less => {
                    a += 1;
                    (self.hashes[a - 1], self.counts[a - 1])
                }
                std::cmp::Ordering::Greater => {
                    b += 1;
                    (other.hashes[b - 1], other.counts[b - 1])
                }
                std::cmp::Ordering::Equal => {
                    a += 1;
                    b += 1;
                    (self.hashes[a - 1], self.counts[a - 1].saturating_add(other.counts[b - 1]))
                }
            };
            merged.hashes.push(hash);
            merged.counts.push(count);
        }
        merged.hashes.extend_from_slice(&self.hashes[a..]);
        merged.counts.extend_from_slice(&self.counts[a..]);
        merged.hashes.extend_from_slice(&other.hashes[b..]);
        merged.counts.extend_from_slice(&other.counts[b..]);
        *self = merged;
    }

    /// Every paragraph counted, with its documents, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.hashes.iter().copied().zip(self.counts.iter().copied())
    }

    /// Documents a paragraph was found in.
    #[must_use]
    pub fn count(&self, paragraph: u64) -> u32 {
        match self.hashes.binary_search(&paragraph) {
            Ok(at) => self.counts[at],
            Err(_) => 0,
        }
    }

    /// Distinct paragraphs counted.
    #[must_use]
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether nothing was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Paragraphs found in at least `min` documents.
    #[must_use]
    pub fn at_least(&self, min: u32) -> usize {
        self.counts.iter().filter(|&&n| n >= min).count()
    }

    /// The counts as bytes: a magic line, then (hash, count) pairs in hash order, little
    /// endian; the same counts always give the same bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + self.len() * 12);
        out.extend_from_slice(MAGIC);
        for (p, n) in self.iter() {
            out.extend_from_slice(&p.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    /// Reads [`Paragraphs::to_bytes`]; `None` when the bytes are not such counts (pairs
    /// out of hash order included).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Paragraphs> {
        let body = bytes.strip_prefix(MAGIC)?;
        if !body.len().is_multiple_of(12) {
            return None;
        }
        let mut counts = Paragraphs {
            hashes: Vec::with_capacity(body.len() / 12),
            counts: Vec::with_capacity(body.len() / 12),
        };
        for c in body.chunks_exact(12) {
            let p = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
            let n = u32::from_le_bytes(c[8..].try_into().expect("4 bytes"));
            if counts.hashes.last().is_some_and(|&last| last >= p) {
                return None;
            }
            counts.hashes.push(p);
            counts.counts.push(n);
        }
        Some(counts)
    }
}

const MAGIC: &[u8] = b"quarry paragraph counts 1\n";

#[cfg(test)]
mod tests {
    use super::Paragraphs;
    use std::collections::BTreeMap;

    /// Documents of random paragraphs (each document's list sorted, without repeats, as a
    /// scan gives them) from a small pool, so many repeat across documents.
    fn documents(seed: u64, n: usize) -> Vec<Vec<u64>> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        (0..n)
            .map(|_| {
                let mut doc: Vec<u64> = (0..next() % 12).map(|_| 1 + next() % 300).collect();
                doc.sort_unstable();
                doc.dedup();
                doc
            })
            .collect()
    }

    fn reference(docs: &[Vec<u64>]) -> BTreeMap<u64, u32> {
        let mut counts = BTreeMap::new();
        for doc in docs {
            for &p in doc {
                *counts.entry(p).or_default() += 1;
            }
        }
        counts
    }

    #[test]
    fn counts_merges_and_round_trips_as_a_plain_count_does() {
        let docs = documents(7, 500);
        let want = reference(&docs);
        let all = Paragraphs::from_documents(docs.concat());
        assert_eq!(all.iter().collect::<BTreeMap<_, _>>(), want);
        assert_eq!(all.len(), want.len());
        for p in 0..310 {
            assert_eq!(all.count(p), want.get(&p).copied().unwrap_or(0), "paragraph {p}");
        }
        assert_eq!(all.at_least(5), want.values().filter(|&&n| n >= 5).count());

        // Counted in parts and merged, in either order, and with nothing.
        for split in [0, 1, 137, 499, 500] {
            let mut a = Paragraphs::from_documents(docs[..split].concat());
            let b = Paragraphs::from_documents(docs[split..].concat());
            let mut c = b.clone();
            c.merge(a.clone());
            a.merge(b);
            assert_eq!(a, all, "split at {split}");
            assert_eq!(c, all, "split at {split}, merged the other way");
        }

        // Bytes: in hash order, the same for the same counts, read back whole.
        let bytes = all.to_bytes();
        assert_eq!(Paragraphs::from_bytes(&bytes), Some(all.clone()));
        assert_eq!(
            Paragraphs::from_documents(docs.iter().rev().flatten().copied().collect()).to_bytes(),
            bytes
        );
        // Pairs out of order, or cut short, are not counts.
        let header = bytes.len() - all.len() * 12;
        let mut swapped = bytes.clone();
        swapped[header..header + 24].rotate_left(12);
        assert_eq!(Paragraphs::from_bytes(&swapped), None);
        assert_eq!(Paragraphs::from_bytes(&bytes[..bytes.len() - 1]), None);
    }
}
