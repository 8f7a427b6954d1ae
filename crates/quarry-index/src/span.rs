//! Positional matching for proximity (`w/N`, `pre/N`, `NOT w/N`) and phrases with wildcards:
//! a small span query, since tantivy has none.
//!
//! A node yields, per document, spans `(first, last)` of word positions:
//! - `Terms`: any of several terms (a word, or what a wildcard or fuzzy word expanded to);
//! - `Seq`: children at consecutive positions (a phrase);
//! - `Or`: any child;
//! - `Near`: a left and a right span `1..=N` words apart (the right one after the left for
//!   `pre/N`; either way for `w/N`), giving the span that covers both; negated, the left spans
//!   with no right span that near.
//!
//! Matching runs per segment in two steps: candidate documents from the postings' document
//! lists alone (intersections and unions), then positions read only for the candidates.

use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

/// A positional pattern over one field.
#[derive(Clone, Debug)]
pub(crate) enum SpanNode {
    Terms(Vec<Term>),
    Seq(Vec<SpanNode>),
    Or(Vec<SpanNode>),
    Near { left: Box<SpanNode>, right: Box<SpanNode>, distance: u32, ordered: bool, negated: bool },
}

/// Documents where a [`SpanNode`] matches; constant score.
#[derive(Clone, Debug)]
pub(crate) struct SpanQuery {
    pub field: Field,
    pub root: SpanNode,
}

impl Query for SpanQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(SpanWeight { query: self.clone() }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        fn walk<'a>(node: &'a SpanNode, visitor: &mut dyn FnMut(&'a Term, bool)) {
            match node {
                SpanNode::Terms(terms) => terms.iter().for_each(|t| visitor(t, true)),
                SpanNode::Seq(c) | SpanNode::Or(c) => c.iter().for_each(|n| walk(n, visitor)),
                SpanNode::Near { left, right, .. } => {
                    walk(left, visitor);
                    walk(right, visitor);
                }
            }
        }
        walk(&self.root, visitor);
    }
}

struct SpanWeight {
    query: SpanQuery,
}

type Span = (u32, u32);

/// A node with its terms replaced by indexes into the segment's postings.
enum Compiled {
    Terms(Vec<usize>),
    Seq(Vec<Compiled>),
    Or(Vec<Compiled>),
    Near { left: Box<Compiled>, right: Box<Compiled>, distance: u32, ordered: bool, negated: bool },
}

impl SpanWeight {
    fn matching_docs(&self, reader: &SegmentReader) -> tantivy::Result<Vec<DocId>> {
        let inverted = reader.inverted_index(self.query.field)?;
        let mut terms: Vec<Term> = Vec::new();
        let compiled = compile(&self.query.root, &mut terms);
        // Document lists first: the candidates.
        let mut doc_lists: Vec<Vec<DocId>> = Vec::with_capacity(terms.len());
        for term in &terms {
            let mut docs = Vec::new();
            if let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? {
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    docs.push(doc);
                    doc = postings.advance();
                }
            }
            doc_lists.push(docs);
        }
        let candidates = candidates(&compiled, &doc_lists);
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        // Then positions, only where they are needed.
        let mut postings: Vec<Option<SegmentPostings>> = Vec::with_capacity(terms.len());
        for (term, docs) in terms.iter().zip(&doc_lists) {
            postings.push(if docs.is_empty() {
                None
            } else {
                inverted.read_postings(term, IndexRecordOption::WithFreqsAndPositions)?
            });
        }
        let mut positions: Vec<Vec<u32>> = vec![Vec::new(); terms.len()];
        let mut matched = Vec::new();
        for doc in candidates {
            for (i, p) in postings.iter_mut().enumerate() {
                positions[i].clear();
                if let Some(p) = p {
                    if p.doc() < doc {
                        p.seek(doc);
                    }
                    if p.doc() == doc {
                        p.positions(&mut positions[i]);
                    }
                }
            }
            if !spans(&compiled, &positions).is_empty() {
                matched.push(doc);
            }
        }
        Ok(matched)
    }
}

fn compile(node: &SpanNode, terms: &mut Vec<Term>) -> Compiled {
    let index_of = |t: &Term, terms: &mut Vec<Term>| match terms.iter().position(|x| x == t) {
        Some(i) => i,
        None => {
            terms.push(t.clone());
            terms.len() - 1
        }
    };
    match node {
        SpanNode::Terms(ts) => Compiled::Terms(ts.iter().map(|t| index_of(t, terms)).collect()),
        SpanNode::Seq(c) => Compiled::Seq(c.iter().map(|n| compile(n, terms)).collect()),
        SpanNode::Or(c) => Compiled::Or(c.iter().map(|n| compile(n, terms)).collect()),
        SpanNode::Near { left, right, distance, ordered, negated } => Compiled::Near {
            left: Box::new(compile(left, terms)),
            right: Box::new(compile(right, terms)),
            distance: *distance,
            ordered: *ordered,
            negated: *negated,
        },
    }
}

fn union(lists: impl IntoIterator<Item = Vec<DocId>>) -> Vec<DocId> {
    let mut all: Vec<DocId> = lists.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn intersect(a: &[DocId], b: &[DocId]) -> Vec<DocId> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn candidates(node: &Compiled, lists: &[Vec<DocId>]) -> Vec<DocId> {
    match node {
        Compiled::Terms(ts) => union(ts.iter().map(|&t| lists[t].clone())),
        Compiled::Seq(children) => {
            let mut iter = children.iter();
            let mut acc = iter.next().map(|c| candidates(c, lists)).unwrap_or_default();
            for c in iter {
                if acc.is_empty() {
                    break;
                }
                acc = intersect(&acc, &candidates(c, lists));
            }
            acc
        }
        Compiled::Or(children) => union(children.iter().map(|c| candidates(c, lists))),
        Compiled::Near { left, right, negated, .. } => {
            let l = candidates(left, lists);
            if *negated { l } else { intersect(&l, &candidates(right, lists)) }
        }
    }
}

/// Spans of a node in the current document, sorted by start.
fn spans(node: &Compiled, positions: &[Vec<u32>]) -> Vec<Span> {
    match node {
        Compiled::Terms(ts) => {
            let mut out: Vec<Span> =
                ts.iter().flat_map(|&t| positions[t].iter().map(|&p| (p, p))).collect();
            if ts.len() > 1 {
                out.sort_unstable();
                out.dedup();
            }
            out
        }
        Compiled::Seq(children) => {
            let mut iter = children.iter();
            let Some(first) = iter.next() else { return Vec::new() };
            let mut acc = spans(first, positions);
            for child in iter {
                if acc.is_empty() {
                    break;
                }
                let next = spans(child, positions);
                let mut joined = Vec::new();
                for &(start, end) in &acc {
                    // Spans of `next` that start right after this one ends.
                    let from = next.partition_point(|s| s.0 <= end);
                    for s in next[from..].iter().take_while(|s| s.0 == end.saturating_add(1)) {
                        joined.push((start, s.1));
                    }
                }
                acc = joined;
            }
            acc.sort_unstable();
            acc.dedup();
            acc
        }
        Compiled::Or(children) => {
            let mut out: Vec<Span> = children.iter().flat_map(|c| spans(c, positions)).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
        Compiled::Near { left, right, distance, ordered, negated } => {
            let l = spans(left, positions);
            if l.is_empty() {
                return l;
            }
            let r = spans(right, positions);
            let longest = r.iter().map(|s| s.1 - s.0).max().unwrap_or(0);
            let mut out = Vec::new();
            for &(ls, le) in &l {
                // Right spans that can be near: starting no earlier than `distance + longest`
                // before the left start, and no later than `distance` after its end.
                let lo = ls.saturating_sub(distance.saturating_add(longest).saturating_add(1));
                let from = r.partition_point(|s| s.0 < lo);
                let mut found = false;
                for &(rs, re) in
                    r[from..].iter().take_while(|s| s.0 <= le.saturating_add(*distance))
                {
                    let apart = if rs > le {
                        rs - le
                    } else if !*ordered && ls > re {
                        ls - re
                    } else {
                        continue; // overlapping, or on the wrong side for pre/N
                    };
                    if apart <= *distance {
                        found = true;
                        if *negated {
                            break;
                        }
                        out.push((ls.min(rs), le.max(re)));
                    }
                }
                if *negated && !found {
                    out.push((ls, le));
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

impl Weight for SpanWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(DocsScorer { docs: self.matching_docs(reader)?, at: 0, score: boost }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.matching_docs(reader)?.binary_search(&doc).is_ok() {
            Ok(Explanation::new("proximity match", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!("document {doc} does not match")))
        }
    }
}

/// A sorted list of documents as a scorer.
struct DocsScorer {
    docs: Vec<DocId>,
    at: usize,
    score: Score,
}

impl DocSet for DocsScorer {
    fn advance(&mut self) -> DocId {
        self.at += 1;
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc() < target {
            self.at += self.docs[self.at..].partition_point(|&d| d < target);
        }
        self.doc()
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.docs.len() - self.at.min(self.docs.len())).unwrap_or(u32::MAX)
    }
}

impl Scorer for DocsScorer {
    fn score(&mut self) -> Score {
        self.score
    }
}

/// A query whose matching documents are listed up front, per segment, and served as a sorted
/// list. Used for the excluded side of NOT: tantivy 0.27's exclusion seeks its excluded scorer
/// backwards once that scorer is exhausted, which a phrase scorer rejects (a debug assertion
/// in `PhraseScorer::seek_danger`, found by the random-query test). A list takes any seek.
#[derive(Debug)]
pub(crate) struct Materialized(pub Box<dyn Query>);

impl Clone for Materialized {
    fn clone(&self) -> Self {
        Materialized(self.0.box_clone())
    }
}

impl Query for Materialized {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let inner = self.0.weight(EnableScoring::disabled_from_schema(scoring.schema()))?;
        Ok(Box::new(MaterializedWeight(inner)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct MaterializedWeight(Box<dyn Weight>);

impl Weight for MaterializedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut inner = self.0.scorer(reader, 1.0)?;
        let mut docs = Vec::new();
        let mut doc = inner.doc();
        while doc != TERMINATED {
            docs.push(doc);
            doc = inner.advance();
        }
        Ok(Box::new(DocsScorer { docs, at: 0, score: boost }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}
