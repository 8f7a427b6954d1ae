//! Exact phrases (`"market price"`, `"meeting the"`): the same matches and BM25 scores as
//! tantivy's `PhraseQuery`, found with less work per candidate document.
//!
//! Why not `PhraseQuery`: on a million email-sized documents, a phrase that pairs a common
//! content word with a function word (`"meeting the"`: 578,000 candidate documents, each with
//! some thirty positions of `the`) spent most of its time in tantivy's per-document position
//! read. That read sums the term frequencies of every earlier document of the postings block,
//! zeroes a buffer and copies into it, for every candidate and every term, before the
//! positions are compared. Here:
//! - each term's postings are walked a block at a time, with its position offset kept as a
//!   running sum;
//! - the positions of the term with the fewest in the document are decoded, then each other
//!   term's only a chunk at a time and only as far as the last of those needs;
//! - without scoring, the first occurrence ends the document.
//!
//! A term in far more documents than the rarest one is read through tantivy's postings
//! instead, which skip whole blocks (`"w7 the"`: 89 candidates among a million documents of
//! `the`). docs/BENCHMARKS.md has the figures. Everything used is tantivy's public API: block
//! postings, the segment's positions file and the position reader.

use tantivy::directory::CompositeFile;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::SegmentComponent;
use tantivy::positions::PositionReader;
use tantivy::postings::{BlockSegmentPostings, Postings as _, SegmentPostings};
use tantivy::query::{Bm25Weight, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

/// Documents holding the terms at consecutive positions.
#[derive(Clone, Debug)]
pub(crate) struct ExactPhrase {
    field: Field,
    terms: Vec<Term>,
    /// [`SKIP_RATIO`] and [`WALK_MIN`], but for tests.
    skip_ratio: u64,
    walk_min: u32,
}

impl ExactPhrase {
    /// A phrase of two or more terms of one field (which must record positions).
    pub(crate) fn new(field: Field, terms: Vec<Term>) -> ExactPhrase {
        debug_assert!(terms.len() > 1, "a phrase has two or more terms");
        ExactPhrase { field, terms, skip_ratio: SKIP_RATIO, walk_min: WALK_MIN }
    }
}

impl Query for ExactPhrase {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let entry = scoring.schema().get_field_entry(self.field);
        let positions = entry.field_type().get_index_record_option();
        if !positions.is_some_and(IndexRecordOption::has_positions) {
            return Err(tantivy::TantivyError::SchemaError(format!(
                "a phrase on field {:?}, which records no positions",
                entry.name()
            )));
        }
        let bm25 = match scoring {
            EnableScoring::Enabled { statistics_provider, .. } => {
                Some(Bm25Weight::for_terms(statistics_provider, &self.terms)?)
            }
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(PhraseWeight { phrase: self.clone(), bm25 }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for term in &self.terms {
            visitor(term, true);
        }
    }
}

struct PhraseWeight {
    phrase: ExactPhrase,
    bm25: Option<Bm25Weight>,
}

impl PhraseWeight {
    fn phrase_scorer(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Option<PhraseScorer>> {
        let field = self.phrase.field;
        let inverted = reader.inverted_index(field)?;
        let mut infos = Vec::with_capacity(self.phrase.terms.len());
        for term in &self.phrase.terms {
            match inverted.get_term_info(term)? {
                Some(info) => infos.push(info),
                None => return Ok(None),
            }
        }
        let lead = infos.iter().map(|i| i.doc_freq).min().unwrap_or(0);
        // Which terms walk their blocks. None when the rarest is in few documents: the cost
        // per candidate hardly matters then, and opening the positions file would cost more.
        let walks = |doc_freq: u32| {
            lead >= self.phrase.walk_min
                && u64::from(doc_freq) <= self.phrase.skip_ratio * u64::from(lead)
        };
        let positions = if infos.iter().any(|i| walks(i.doc_freq)) {
            let file = reader.open_read(SegmentComponent::Positions)?;
            Some(CompositeFile::open(&file)?.open_read(field).ok_or_else(|| {
                tantivy::TantivyError::SchemaError(format!(
                    "phrase on field {field:?}, which records no positions"
                ))
            })?)
        } else {
            None
        };
        let mut cursors = Vec::with_capacity(infos.len());
        for (at, info) in infos.iter().enumerate() {
            let reader = match positions.as_ref().filter(|_| walks(info.doc_freq)) {
                Some(positions) => {
                    let block = inverted
                        .read_block_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
                    let bytes = positions.slice(info.positions_range.clone()).read_bytes()?;
                    let positions = PositionReader::open(bytes)?;
                    Reader::Walk { block, at: 0, offset: 0, positions }
                }
                None => {
                    Reader::Skip(inverted.read_postings_from_terminfo(
                        info,
                        IndexRecordOption::WithFreqsAndPositions,
                    )?)
                }
            };
            cursors.push(TermCursor {
                reader,
                doc_freq: info.doc_freq,
                phrase_at: u32::try_from(at).unwrap_or(u32::MAX),
                buf: Vec::new(),
            });
        }
        // The term in the fewest documents leads; the others are sought to its documents.
        cursors.sort_by_key(|c| c.doc_freq);
        let scoring = match &self.bm25 {
            Some(w) => Some((w.boost_by(boost), reader.get_fieldnorms_reader(field)?)),
            None => None,
        };
        let mut scorer = PhraseScorer { cursors, doc: 0, count: 0, scoring, starts: Vec::new() };
        scorer.doc = scorer.next_match(0);
        Ok(Some(scorer))
    }
}

impl Weight for PhraseWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        match self.phrase_scorer(reader, boost)? {
            Some(scorer) => Ok(Box::new(scorer)),
            None => Ok(Box::new(tantivy::query::EmptyScorer)),
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let not_found =
            || tantivy::TantivyError::InvalidArgument(format!("document {doc} does not match"));
        let mut scorer = self.phrase_scorer(reader, 1.0)?.ok_or_else(not_found)?;
        if scorer.seek(doc) != doc {
            return Err(not_found());
        }
        let what = format!("phrase, {} occurrences", scorer.count);
        Ok(Explanation::new_with_string(what, scorer.score()))
    }
}

/// A term in this many times more documents than the phrase's rarest term is read through
/// tantivy's postings, which skip whole blocks, instead of walking every block. On the
/// benchmark's million documents, walking cost about half a nanosecond per document of the term
/// (`"w7 the"` took 0.5 ms walking `the`, 0.25 ms skipping), and tantivy's read about 200 ns per
/// candidate (`"meeting the"`, 578,000 candidates, 120 ms of CPU).
const SKIP_RATIO: u64 = 256;

/// Below this many documents of the rarest term in a segment, every term is read through
/// tantivy's postings.
const WALK_MIN: u32 = 256;

/// One term of the phrase in one segment.
struct TermCursor {
    reader: Reader,
    doc_freq: u32,
    /// The term's place in the phrase.
    phrase_at: u32,
    buf: Vec<u32>,
}

enum Reader {
    /// The postings walked a block at a time, with the offset of the current document's
    /// positions in the term's position stream.
    Walk {
        block: BlockSegmentPostings,
        /// Index of the current document in the block.
        at: usize,
        /// Positions of all documents before the current one (the running sum of their term
        /// frequencies): where the current document's positions start in the stream.
        offset: u64,
        positions: PositionReader,
    },
    /// tantivy's postings, for a term in far more documents than the candidates.
    Skip(SegmentPostings),
}

impl TermCursor {
    /// Moves to the first document at or after `target` and returns it, or `TERMINATED`.
    fn seek(&mut self, target: DocId) -> DocId {
        let (block, at, offset) = match &mut self.reader {
            Reader::Skip(postings) => {
                return if postings.doc() < target {
                    postings.seek(target)
                } else {
                    postings.doc()
                };
            }
            Reader::Walk { block, at, offset, .. } => (block, at, offset),
        };
        loop {
            let docs = block.docs();
            let Some(&last) = docs.last() else { return TERMINATED };
            if last >= target {
                break;
            }
            let rest: u64 = block.freqs()[*at..].iter().map(|&f| u64::from(f)).sum();
            *offset += rest;
            block.advance();
            *at = 0;
        }
        let docs = block.docs();
        let freqs = block.freqs();
        while docs[*at] < target {
            *offset += u64::from(freqs[*at]);
            *at += 1;
        }
        docs[*at]
    }

    fn term_freq(&self) -> u32 {
        match &self.reader {
            Reader::Walk { block, at, .. } => block.freqs()[*at],
            Reader::Skip(postings) => postings.term_freq(),
        }
    }

    /// The current document's phrase starts this term allows (its positions less its place
    /// in the phrase), ascending, into `out`.
    fn starts(&mut self, out: &mut Vec<u32>) {
        let tf = self.term_freq() as usize;
        match &mut self.reader {
            Reader::Walk { offset, positions, .. } => {
                out.resize(tf, 0);
                positions.read(*offset, out);
                // Positions are stored as gaps, starting again at zero in each document.
                let mut position = 0u32;
                for gap in out.iter_mut() {
                    position += *gap;
                    *gap = position;
                }
            }
            Reader::Skip(postings) => postings.positions(out),
        }
        let before = out.partition_point(|&p| p < self.phrase_at);
        out.drain(..before);
        for p in out.iter_mut() {
            *p -= self.phrase_at;
        }
    }

    /// Keeps the phrase starts (ascending) at which this term sits in its place, at most
    /// `limit` of them.
    fn keep_present(&mut self, starts: &mut Vec<u32>, limit: usize) {
        let tf = self.term_freq() as usize;
        let (offset, positions) = match &mut self.reader {
            Reader::Walk { offset, positions, .. } => (*offset, positions),
            Reader::Skip(postings) => {
                postings.positions(&mut self.buf);
                let mut kept = 0;
                let mut j = 0;
                for k in 0..starts.len() {
                    let want = starts[k] + self.phrase_at;
                    j += self.buf[j..].partition_point(|&p| p < want);
                    if j == self.buf.len() {
                        break;
                    }
                    if self.buf[j] == want {
                        starts[kept] = starts[k];
                        kept += 1;
                        if kept == limit {
                            break;
                        }
                    }
                }
                starts.truncate(kept);
                return;
            }
        };
        // Positions are decoded a chunk at a time and only as far as the last start needs: a
        // common word's positions past the rarer word's last one are never read.
        const CHUNK: usize = 16;
        // Absolute positions of the chunk read last; `at` is the first not below the start
        // looked for.
        let mut chunk = [0u32; CHUNK];
        let (mut loaded, mut len, mut at, mut base) = (0usize, 0usize, 0usize, 0u32);
        let mut kept = 0;
        'starts: for k in 0..starts.len() {
            let want = starts[k] + self.phrase_at;
            loop {
                while at < len && chunk[at] < want {
                    at += 1;
                }
                if at < len {
                    break;
                }
                if loaded == tf {
                    break 'starts;
                }
                len = CHUNK.min(tf - loaded);
                positions.read(offset + loaded as u64, &mut chunk[..len]);
                loaded += len;
                for gap in &mut chunk[..len] {
                    base += *gap;
                    *gap = base;
                }
                at = 0;
            }
            if chunk[at] == want {
                starts[kept] = starts[k];
                kept += 1;
                if kept == limit {
                    break;
                }
            }
        }
        starts.truncate(kept);
    }
}

/// Matching documents of one segment, in order.
struct PhraseScorer {
    /// Fewest documents first.
    cursors: Vec<TermCursor>,
    doc: DocId,
    /// Occurrences of the phrase in `doc`, when scoring (else 1 once one is found).
    count: u32,
    scoring: Option<(Bm25Weight, FieldNormReader)>,
    starts: Vec<u32>,
}

impl PhraseScorer {
    /// The first document at or after `target` where the phrase occurs.
    fn next_match(&mut self, mut target: DocId) -> DocId {
        'candidates: loop {
            let doc = self.cursors[0].seek(target);
            if doc == TERMINATED {
                return TERMINATED;
            }
            for cursor in &mut self.cursors[1..] {
                let other = cursor.seek(doc);
                if other != doc {
                    if other == TERMINATED {
                        return TERMINATED;
                    }
                    target = other;
                    continue 'candidates;
                }
            }
            if self.occurs() {
                return doc;
            }
            target = doc + 1;
        }
    }

    /// Whether the phrase occurs in the document all cursors are on; counts the occurrences
    /// when scoring.
    fn occurs(&mut self) -> bool {
        // Start from the term with the fewest positions here, then narrow term by term.
        let first =
            (0..self.cursors.len()).min_by_key(|&i| self.cursors[i].term_freq()).unwrap_or(0);
        let mut starts = std::mem::take(&mut self.starts);
        self.cursors[first].starts(&mut starts);
        let last = if first == self.cursors.len() - 1 { first - 1 } else { self.cursors.len() - 1 };
        for i in 0..self.cursors.len() {
            if i == first || starts.is_empty() {
                continue;
            }
            // Without scoring, one occurrence is enough once the last term is checked.
            let limit = if self.scoring.is_none() && i == last { 1 } else { usize::MAX };
            self.cursors[i].keep_present(&mut starts, limit);
        }
        self.count = u32::try_from(starts.len()).unwrap_or(u32::MAX);
        self.starts = starts;
        self.count > 0
    }
}

impl DocSet for PhraseScorer {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            self.doc = self.next_match(self.doc + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc < target {
            self.doc = self.next_match(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.cursors[0].doc_freq
    }
}

impl Scorer for PhraseScorer {
    fn score(&mut self) -> Score {
        match &self.scoring {
            Some((bm25, norms)) => bm25.score(norms.fieldnorm_id(self.doc), self.count),
            None => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::PhraseQuery;
    use tantivy::schema::{Schema, TEXT};

    /// A small xorshift generator: the test is the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Segment ordinal, document, score.
    type Found = (u32, DocId, Score);

    /// Every document and score of a query, segment by segment, plus the documents found by
    /// seeking to scattered targets (the path an intersection with another clause takes).
    fn run(
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        scoring: bool,
        rng: &mut Rng,
    ) -> (Vec<Found>, Vec<(u32, DocId, DocId)>) {
        let enable = if scoring {
            EnableScoring::enabled_from_searcher(searcher)
        } else {
            EnableScoring::disabled_from_searcher(searcher)
        };
        let weight = query.weight(enable).unwrap();
        let (mut all, mut sought) = (Vec::new(), Vec::new());
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let ord = u32::try_from(ord).unwrap();
            let mut scorer = weight.scorer(reader, 1.0).unwrap();
            while scorer.doc() != TERMINATED {
                all.push((ord, scorer.doc(), if scoring { scorer.score() } else { 0.0 }));
                scorer.advance();
            }
            let mut scorer = weight.scorer(reader, 1.0).unwrap();
            let mut target = 0;
            while target < reader.max_doc() {
                target += u32::try_from(rng.below(40)).unwrap();
                let found = scorer.seek(target.max(scorer.doc()));
                sought.push((ord, target, found));
                if found == TERMINATED {
                    break;
                }
            }
        }
        (all, sought)
    }

    #[test]
    fn a_field_without_positions_is_refused() {
        let mut builder = Schema::builder();
        let id = builder.add_text_field("id", tantivy::schema::STRING);
        let schema = builder.build();
        let terms = vec![Term::from_field_text(id, "a"), Term::from_field_text(id, "b")];
        let weight =
            ExactPhrase::new(id, terms).weight(EnableScoring::disabled_from_schema(&schema));
        assert!(matches!(weight, Err(tantivy::TantivyError::SchemaError(_))));
    }

    #[test]
    fn matches_and_scores_as_tantivys_phrase_query() {
        let mut builder = Schema::builder();
        let text = builder.add_text_field("text", TEXT);
        let index = tantivy::Index::create_in_ram(builder.build());
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        // Few words, so phrases hit often; long documents put a word's positions across
        // position blocks (128) and position chunks; several commits make several segments,
        // and enough documents make full postings blocks (128 documents) as well as the tail.
        let words = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for segment in 0..3 {
            for _ in 0..700 + segment * 150 {
                let len = if rng.below(10) == 0 { 200 + rng.below(600) } else { 1 + rng.below(40) };
                let body: Vec<&str> = (0..len)
                    .map(|_| {
                        // Skewed: "a" is everywhere, "h" rare.
                        let r = rng.below(36);
                        words[(0..8).find(|&i| r < [12, 20, 26, 30, 33, 34, 35, 36][i]).unwrap()]
                    })
                    .collect();
                writer.add_document(tantivy::doc!(text => body.join(" "))).unwrap();
            }
            writer.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 3);
        let mut phrases = 0;
        let mut hits = 0;
        for round in 0..300 {
            let len = 2 + rng.below(if round % 3 == 0 { 3 } else { 1 }) as usize;
            let terms: Vec<Term> = (0..len)
                .map(|_| Term::from_field_text(text, words[rng.below(8) as usize]))
                .collect();
            // As configured; every term that can walk its blocks (the test's segments are
            // small, and no word is 256 times rarer than another); every term read through
            // tantivy's skipping postings.
            let default = ExactPhrase::new(text, terms.clone());
            let walking = ExactPhrase { walk_min: 0, ..default.clone() };
            let skipping = ExactPhrase { skip_ratio: 0, ..walking.clone() };
            let theirs = PhraseQuery::new(terms.clone());
            for (ours, scoring) in
                [&default, &walking, &skipping].into_iter().flat_map(|q| [(q, false), (q, true)])
            {
                let seed = rng.0;
                let (a, a_sought) = run(&searcher, ours, scoring, &mut Rng(seed));
                let (b, b_sought) = run(&searcher, &theirs, scoring, &mut Rng(seed));
                assert_eq!(a.len(), b.len(), "{terms:?}");
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!((x.0, x.1), (y.0, y.1), "{terms:?}");
                    assert!((x.2 - y.2).abs() <= 1e-5 * y.2.abs(), "{terms:?}: {x:?} {y:?}");
                }
                assert_eq!(a_sought, b_sought, "{terms:?}");
                hits += a.len();
            }
            phrases += 1;
        }
        // The test means something only if phrases matched, and not everywhere.
        assert_eq!(phrases, 300);
        assert!(hits > 10_000, "{hits}");
    }
}
