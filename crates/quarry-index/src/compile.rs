//! From a parsed [`Query`] to tantivy queries, built directly.
//!
//! Wildcards and fuzzy words are expanded against the term dictionaries of the current
//! segments (tantivy-fst automata), so the same expansion serves a lone word (a set of terms),
//! a phrase and a proximity operand (the positional matcher in `span`).

use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, FuzzyTermQuery, Occur, Query as TQuery, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TokenStream as _;
use tantivy::{DateTime, Searcher, Term};
use tantivy_fst::{Automaton, Regex};

use crate::phrase::ExactPhrase;
use crate::query::{Query, Word};
use crate::schema::{DATE_RANGE, Fields, Kind, keyword_analyzer, words_analyzer};
use crate::span::{Materialized, SpanNode, SpanQuery};
use crate::{Error, Prepared, Result};

/// Resolves a tag to the items carrying it (tags live in the case database).
pub trait TagResolver {
    /// Item ids with the tag.
    fn items_with_tag(&self, tag: &str) -> std::result::Result<Vec<u64>, String>;
}

impl<F: Fn(&str) -> std::result::Result<Vec<u64>, String>> TagResolver for F {
    fn items_with_tag(&self, tag: &str) -> std::result::Result<Vec<u64>, String> {
        self(tag)
    }
}

/// Expansions above which a word is reported as over-broad.
const BROAD_EXPANSION: usize = 1_000;
/// Expanded terms scored individually (BM25) up to this many; more become a constant-score set.
const SCORED_EXPANSION: usize = 64;

struct Compiler<'a> {
    searcher: &'a Searcher,
    fields: &'a Fields,
    tags: &'a dyn TagResolver,
    highlight: HashSet<String>,
    warnings: Vec<String>,
}

pub(crate) fn compile(
    searcher: &Searcher,
    fields: &Fields,
    query: &Query,
    tags: &dyn TagResolver,
) -> Result<Prepared> {
    let mut c =
        Compiler { searcher, fields, tags, highlight: HashSet::new(), warnings: Vec::new() };
    let query = c.query(query, true)?;
    Ok(Prepared { query, highlight: c.highlight, warnings: c.warnings })
}

/// One position of a phrase: the terms that may stand there.
type Slot = Vec<Term>;

impl Compiler<'_> {
    fn query(&mut self, q: &Query, positive: bool) -> Result<Box<dyn TQuery>> {
        Ok(match q {
            Query::Words { field, words } => {
                let (field, kind) = self.field(field.as_deref())?;
                let slots = self.slots(field, kind, words, positive)?;
                slots_query(field, slots)
            }
            Query::Range { field, from, until } => {
                let (field, _) = self.field(Some(field))?;
                let bound = |v: &Option<i64>, inclusive: bool| match v {
                    None => Bound::Unbounded,
                    Some(secs) => {
                        let secs = (*secs).clamp(*DATE_RANGE.start(), *DATE_RANGE.end());
                        let term =
                            Term::from_field_date(field, DateTime::from_timestamp_secs(secs));
                        if inclusive { Bound::Included(term) } else { Bound::Excluded(term) }
                    }
                };
                Box::new(RangeQuery::new(bound(from, true), bound(until, false)))
            }
            Query::Tag(tag) => {
                let ids = self
                    .tags
                    .items_with_tag(tag)
                    .map_err(|message| Error::Tag { tag: tag.clone(), message })?;
                if ids.is_empty() {
                    self.warnings.push(format!("no item carries tag {tag:?}"));
                }
                let terms = ids.into_iter().map(|id| Term::from_field_u64(self.fields.item_id, id));
                Box::new(TermSetQuery::new(terms))
            }
            Query::And(parts) => {
                let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
                for part in parts {
                    match part {
                        Query::Not(inner) => {
                            let excluded = Materialized(self.query(inner, !positive)?);
                            clauses.push((Occur::MustNot, Box::new(excluded)));
                        }
                        _ => clauses.push((Occur::Must, self.query(part, positive)?)),
                    }
                }
                if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Query::Or(parts) => {
                let mut clauses = Vec::new();
                for part in parts {
                    clauses.push((Occur::Should, self.query(part, positive)?));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Query::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn TQuery>),
                (Occur::MustNot, Box::new(Materialized(self.query(inner, !positive)?))),
            ])),
            Query::Near { .. } => {
                let (field, root) = self.span(q, positive)?;
                Box::new(SpanQuery { field, root })
            }
        })
    }

    fn field(&self, name: Option<&str>) -> Result<(Field, Kind)> {
        let name = name.unwrap_or("text");
        self.fields.by_name(name).ok_or_else(|| {
            Error::Query(crate::query::QueryError {
                query: name.to_owned(),
                column: 1,
                message: format!("{name:?} is not a field"),
                hint: "see `quarry search --help` for the fields".to_owned(),
            })
        })
    }

    /// A proximity operand as a span pattern, with the field it is in.
    fn span(&mut self, q: &Query, positive: bool) -> Result<(Field, SpanNode)> {
        match q {
            Query::Words { field, words } => {
                let (f, kind) = self.field(field.as_deref())?;
                if kind != Kind::Words {
                    return Err(self.proximity_error(
                        "proximity works in word fields (text, subject, from, to, cc, bcc, filename, locator)",
                    ));
                }
                let slots = self.slots(f, kind, words, positive)?;
                let mut seq: Vec<SpanNode> = slots.into_iter().map(SpanNode::Terms).collect();
                Ok((f, if seq.len() == 1 { seq.remove(0) } else { SpanNode::Seq(seq) }))
            }
            Query::Or(parts) => {
                let mut field = None;
                let mut nodes = Vec::new();
                for part in parts {
                    let (f, node) = self.span(part, positive)?;
                    if field.is_some_and(|x| x != f) {
                        return Err(self.proximity_error(
                            "both sides of a proximity must be in the same field",
                        ));
                    }
                    field = Some(f);
                    nodes.push(node);
                }
                Ok((field.unwrap_or(self.fields.text), SpanNode::Or(nodes)))
            }
            Query::Near { left, right, distance, ordered, negated } => {
                let (lf, l) = self.span(left, positive)?;
                let (rf, r) = self.span(right, positive && !negated)?;
                if lf != rf {
                    return Err(
                        self.proximity_error("both sides of a proximity must be in the same field")
                    );
                }
                Ok((
                    lf,
                    SpanNode::Near {
                        left: Box::new(l),
                        right: Box::new(r),
                        distance: *distance,
                        ordered: *ordered,
                        negated: *negated,
                    },
                ))
            }
            _ => Err(self.proximity_error(
                "proximity joins words, phrases and OR-groups; put AND and NOT outside it",
            )),
        }
    }

    fn proximity_error(&self, message: &str) -> Error {
        Error::Query(crate::query::QueryError {
            query: String::new(),
            column: 1,
            message: message.to_owned(),
            hint: "rewrite the proximity as (a OR b) w/N (c OR d) in one field".to_owned(),
        })
    }

    /// The terms each word of a phrase stands for, in order.
    fn slots(
        &mut self,
        field: Field,
        kind: Kind,
        words: &[Word],
        positive: bool,
    ) -> Result<Vec<Slot>> {
        let highlight = positive && field == self.fields.text;
        if kind == Kind::Keyword && words.len() > 1 {
            // A whole-value field holds one term per value: `custodian:"new york"` is the value
            // with its space, wildcards and all.
            let joined: Vec<String> = words.iter().map(ToString::to_string).collect();
            let value = joined.join(" ");
            let word =
                if value.contains(['*', '?']) { Word::Wildcard(value) } else { Word::Exact(value) };
            return self.slots(field, kind, &[word], positive);
        }
        let mut slots = Vec::new();
        for word in words {
            match kind {
                Kind::Date => {
                    return Err(self.proximity_error_with(
                        "a date field takes a date or a range",
                        "write date:2001-05-03 or date:[2001-01-01 TO 2001-06-30]",
                    ));
                }
                Kind::Keyword => {
                    // The whole value is one term.
                    let slot = match word {
                        Word::Exact(w) => vec![Term::from_field_text(field, &keyword(w))],
                        Word::Wildcard(w) => self.expand_wildcard(field, &keyword(w), w)?,
                        Word::Fuzzy { word, prefix, distance } => {
                            self.expand_fuzzy(field, &keyword(word), *prefix, *distance, word)?
                        }
                    };
                    slots.push(slot);
                }
                Kind::Words => {
                    for piece in pieces(word) {
                        let slot = match piece {
                            Piece::Exact(token) => vec![Term::from_field_text(field, &token)],
                            Piece::Wildcard(pattern) => {
                                self.expand_wildcard(field, &pattern, &word.to_string())?
                            }
                            Piece::Fuzzy(token, prefix, distance) => self.expand_fuzzy(
                                field,
                                &token,
                                prefix,
                                distance,
                                &word.to_string(),
                            )?,
                        };
                        if highlight {
                            for term in &slot {
                                if let Some(text) = term.value().as_str() {
                                    self.highlight.insert(text.to_owned());
                                }
                            }
                        }
                        slots.push(slot);
                    }
                }
            }
        }
        if slots.is_empty() {
            let shown: Vec<String> = words.iter().map(ToString::to_string).collect();
            self.warnings
                .push(format!("{:?} has no letters or digits to search for", shown.join(" ")));
        }
        Ok(slots)
    }

    fn proximity_error_with(&self, message: &str, hint: &str) -> Error {
        Error::Query(crate::query::QueryError {
            query: String::new(),
            column: 1,
            message: message.to_owned(),
            hint: hint.to_owned(),
        })
    }

    fn expand_wildcard(&mut self, field: Field, pattern: &str, shown: &str) -> Result<Slot> {
        let mut regex = String::new();
        for c in pattern.chars() {
            match c {
                '*' => regex.push_str(".*"),
                '?' => regex.push('.'),
                c => {
                    let mut buf = [0; 4];
                    regex.push_str(&escape(c.encode_utf8(&mut buf)));
                }
            }
        }
        let automaton = Regex::new(&regex).map_err(|e| {
            Error::Query(crate::query::QueryError {
                query: shown.to_owned(),
                column: 1,
                message: format!("wildcard {shown:?} cannot be searched: {e}"),
                hint: "use * for any run of characters and ? for one".to_owned(),
            })
        })?;
        self.expand(field, &automaton, shown)
    }

    fn expand_fuzzy(
        &mut self,
        field: Field,
        word: &str,
        prefix: usize,
        distance: u8,
        shown: &str,
    ) -> Result<Slot> {
        let split = word.char_indices().nth(prefix).map_or(word.len(), |(i, _)| i);
        let (head, tail) = word.split_at(split);
        let dfa =
            FuzzyTermQuery::new(Term::from_field_text(field, tail), distance, true).automaton()?;
        let terms = if head.is_empty() {
            self.expand(field, &dfa, shown)?
        } else {
            self.expand(field, &Prefixed { prefix: head.as_bytes(), inner: dfa }, shown)?
        };
        Ok(terms)
    }

    /// Every term of `field` in any segment that `automaton` accepts, sorted.
    fn expand<A>(&mut self, field: Field, automaton: &A, shown: &str) -> Result<Slot>
    where
        A: Automaton,
        A::State: Clone,
    {
        let mut found: BTreeSet<Vec<u8>> = BTreeSet::new();
        for segment in self.searcher.segment_readers() {
            let inverted = segment.inverted_index(field)?;
            let mut stream = inverted.terms().search(automaton).into_stream()?;
            while stream.advance() {
                found.insert(stream.key().to_vec());
            }
        }
        if found.len() > BROAD_EXPANSION {
            self.warnings
                .push(format!("{shown:?} expands to {} different words: over-broad", found.len()));
        }
        if found.is_empty() {
            self.warnings.push(format!("{shown:?} matches no word in the index"));
        }
        Ok(found
            .into_iter()
            .filter_map(|bytes| String::from_utf8(bytes).ok())
            .map(|text| Term::from_field_text(field, &text))
            .collect())
    }
}

/// A phrase of slots as the cheapest tantivy query that answers it.
fn slots_query(field: Field, mut slots: Vec<Slot>) -> Box<dyn TQuery> {
    if slots.is_empty() || slots.iter().any(Vec::is_empty) {
        return Box::new(EmptyQuery);
    }
    if slots.len() == 1 {
        let mut terms = slots.remove(0);
        if terms.len() == 1 {
            return Box::new(TermQuery::new(terms.remove(0), IndexRecordOption::WithFreqs));
        }
        if terms.len() <= SCORED_EXPANSION {
            let clauses = terms
                .into_iter()
                .map(|t| {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs))
                            as Box<dyn TQuery>,
                    )
                })
                .collect();
            return Box::new(BooleanQuery::new(clauses));
        }
        return Box::new(TermSetQuery::new(terms));
    }
    if slots.iter().all(|s| s.len() == 1) {
        let terms: Vec<Term> = slots.into_iter().map(|mut s| s.remove(0)).collect();
        return Box::new(ExactPhrase::new(field, terms));
    }
    Box::new(SpanQuery {
        field,
        root: SpanNode::Seq(slots.into_iter().map(SpanNode::Terms).collect()),
    })
}

enum Piece {
    Exact(String),
    Wildcard(String),
    Fuzzy(String, usize, u8),
}

/// A query word as index terms: split and normalized as the index tokenizer does, wildcards
/// kept in place.
fn pieces(word: &Word) -> Vec<Piece> {
    match word {
        Word::Exact(w) => tokens(w).into_iter().map(Piece::Exact).collect(),
        Word::Fuzzy { word, prefix, distance } => {
            let toks = tokens(word);
            if toks.len() == 1 {
                vec![Piece::Fuzzy(toks[0].clone(), *prefix, *distance)]
            } else {
                toks.into_iter().map(Piece::Exact).collect()
            }
        }
        Word::Wildcard(w) => {
            let mut out = Vec::new();
            // Marks stay with their letters, as in the index (`Sa\u{303}o*` is one pattern).
            let in_word = |c: char| crate::words::continues_word(c) || c == '*' || c == '?';
            for part in w.split(|c: char| !in_word(c)) {
                if part.is_empty() {
                    continue;
                }
                if part.contains(['*', '?']) {
                    // Normalize the literal runs between wildcards like the index does.
                    let mut pattern = String::new();
                    let mut literal = String::new();
                    for c in part.chars() {
                        if c == '*' || c == '?' {
                            pattern.push_str(&tokens(&literal).concat());
                            literal.clear();
                            pattern.push(c);
                        } else {
                            literal.push(c);
                        }
                    }
                    pattern.push_str(&tokens(&literal).concat());
                    out.push(Piece::Wildcard(pattern));
                } else {
                    out.extend(tokens(part).into_iter().map(Piece::Exact));
                }
            }
            out
        }
    }
}

/// The index tokens of a text.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let mut analyzer = words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// A keyword field's term for a value (wildcards untouched).
fn keyword(value: &str) -> String {
    let mut analyzer = keyword_analyzer();
    let mut stream = analyzer.token_stream(value);
    let mut out = String::new();
    while stream.advance() {
        out.push_str(&stream.token().text);
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An automaton that requires a literal prefix, then runs another on the rest.
struct Prefixed<'a, A> {
    prefix: &'a [u8],
    inner: A,
}

impl<A: Automaton<State: Clone>> Automaton for Prefixed<'_, A> {
    /// Bytes of the prefix matched so far, then the inner state.
    type State = (usize, Option<A::State>);

    fn start(&self) -> Self::State {
        if self.prefix.is_empty() { (0, Some(self.inner.start())) } else { (0, None) }
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state.1.as_ref().is_some_and(|s| self.inner.is_match(s))
    }

    fn can_match(&self, state: &Self::State) -> bool {
        match &state.1 {
            Some(s) => self.inner.can_match(s),
            None => state.0 != usize::MAX,
        }
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        match &state.1 {
            Some(s) => (state.0, Some(self.inner.accept(s, byte))),
            None if state.0 == usize::MAX => (usize::MAX, None),
            None if self.prefix.get(state.0) == Some(&byte) => {
                let next = state.0 + 1;
                if next == self.prefix.len() {
                    (next, Some(self.inner.start()))
                } else {
                    (next, None)
                }
            }
            None => (usize::MAX, None),
        }
    }
}
