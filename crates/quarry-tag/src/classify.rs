//! Scanning a text against the rules, and deciding what to suggest.
//!
//! Two steps, because boilerplate is a property of the whole collection: [`Classifier::scan`]
//! finds every hit in one text and the hashes of its paragraphs; once every text is scanned,
//! the paragraphs found in many documents are known ([`Paragraphs`]), and
//! [`Classifier::decide`] scores each text with hits inside them set aside.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
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
    owners: Vec<u32>,
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
        Ok(Classifier { rules: rules.clone(), list, matcher: Matcher::new(&patterns), owners })
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
            owners: &self.owners,
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

struct Collect<'a> {
    owners: &'a [u32],
    hits: Vec<Hit>,
    paragraphs: Vec<u64>,
    /// First hit of the open paragraph.
    open: usize,
    header_end: usize,
    min_words: u32,
}

impl Sink for Collect<'_> {
    #[inline]
    fn hit(&mut self, pattern: u32, start: usize, end: usize) {
        self.hits.push(Hit {
            rule: self.owners[pattern as usize],
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paragraphs {
    counts: HashMap<u64, u32, BuildHasherDefault<Identity>>,
}

/// The keys are hashes already: hashing them again (std's SipHash) cost a second per million
/// paragraphs.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Paragraphs {
    /// Counts one document's paragraphs (each once: pass [`Scan::paragraphs`], or the union
    /// of several copies' paragraphs, sorted and without repeats).
    pub fn add_document(&mut self, paragraphs: &[u64]) {
        for &p in paragraphs {
            *self.counts.entry(p).or_default() += 1;
        }
    }

    /// Adds another count (of other documents).
    pub fn merge(&mut self, other: Paragraphs) {
        if self.counts.len() < other.counts.len() {
            let mine = std::mem::replace(&mut self.counts, other.counts);
            for (p, n) in mine {
                *self.counts.entry(p).or_default() += n;
            }
        } else {
            for (p, n) in other.counts {
                *self.counts.entry(p).or_default() += n;
            }
        }
    }

    /// Every paragraph counted, with its documents, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.counts.iter().map(|(&p, &n)| (p, n))
    }

    /// Documents a paragraph was found in.
    #[must_use]
    pub fn count(&self, paragraph: u64) -> u32 {
        self.counts.get(&paragraph).copied().unwrap_or(0)
    }

    /// Distinct paragraphs counted.
    #[must_use]
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether nothing was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Paragraphs found in at least `min` documents.
    #[must_use]
    pub fn at_least(&self, min: u32) -> usize {
        self.counts.values().filter(|&&n| n >= min).count()
    }

    /// The counts as bytes: a magic line, then (hash, count) pairs in hash order, little
    /// endian; the same counts always give the same bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut pairs: Vec<(u64, u32)> = self.counts.iter().map(|(&p, &n)| (p, n)).collect();
        pairs.sort_unstable();
        let mut out = Vec::with_capacity(MAGIC.len() + pairs.len() * 12);
        out.extend_from_slice(MAGIC);
        for (p, n) in pairs {
            out.extend_from_slice(&p.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    /// Reads [`Paragraphs::to_bytes`]; `None` when the bytes are not such counts.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Paragraphs> {
        let body = bytes.strip_prefix(MAGIC)?;
        if !body.len().is_multiple_of(12) {
            return None;
        }
        let counts = body
            .chunks_exact(12)
            .map(|c| {
                let p = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                let n = u32::from_le_bytes(c[8..].try_into().expect("4 bytes"));
                (p, n)
            })
            .collect();
        Some(Paragraphs { counts })
    }
}

const MAGIC: &[u8] = b"quarry paragraph counts 1\n";
