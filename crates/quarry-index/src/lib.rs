//! The full-text index of a case and the query language reviewers write against it.
//!
//! - [`CaseIndex`]: the tantivy index in a case's `index/` folder, one document per item
//!   ([`IndexDoc`]), keyed by the item's id. Tags are *not* in it: tantivy documents are
//!   immutable, so a tag predicate is resolved by the caller to a set of item ids at query time.
//! - [`query`]: the dtSearch-style parser (boolean operators, phrases, `w/N` and `pre/N`
//!   proximity, wildcards, fuzzy terms, fields, date ranges, tags) producing a [`query::Query`]
//!   tree with positioned errors and warnings.
//! - [`CaseIndex::search`] compiles that tree into tantivy queries directly (never a query
//!   string) and returns every hit; proximity runs through the positional matcher in `span`.
//!
//! Every unfielded word is matched in `text`, which for email already holds the header block
//! (From, To, Cc, Subject, Date) followed by the body.

mod compile;
mod phrase;
pub mod query;
mod schema;
mod snippet;
mod span;
mod words;

use std::collections::HashSet;
use std::path::Path;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, IndexReader, Score, SegmentReader};

pub use compile::TagResolver;
pub use schema::{FIELD_NAMES, IndexDoc, words};
pub use snippet::{Snippet, hit_spans, snippet};

/// What can go wrong with the index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query that does not parse; `Display` shows where and what to do.
    #[error("{0}")]
    Query(#[from] query::QueryError),
    /// The index refused an operation or is damaged.
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// A tag predicate could not be resolved.
    #[error("tag {tag:?}: {message}")]
    Tag {
        /// The tag named in the query.
        tag: String,
        /// Why it could not be resolved.
        message: String,
    },
    /// The index was written by a quarry with another schema or tokenizer.
    #[error(
        "the case's full-text index was built by another version of quarry; rebuild it with `quarry reindex`"
    )]
    Outdated,
    /// Another process holds the index's writer lock.
    #[error(
        "the case's full-text index is being written by another quarry process (an ingest or reindex); wait for it to finish"
    )]
    Locked,
    /// Reading or writing the index folder failed.
    #[error("index: {0}")]
    Io(#[from] std::io::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Indexing memory budget: tantivy splits it between its indexing threads and flushes a
/// segment when a thread's share fills.
const WRITER_HEAP: usize = 192 * 1024 * 1024;

/// Segments above which [`Writer::finish`] merges the smallest into one. A million email-sized
/// documents make about 18 segments, and searching them measured no slower than the index
/// tantivy's merge policy left (docs/BENCHMARKS.md).
pub const MAX_SEGMENTS: usize = 48;

/// The tantivy index of one case.
pub struct CaseIndex {
    index: tantivy::Index,
    fields: schema::Fields,
    reader: IndexReader,
}

impl std::fmt::Debug for CaseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseIndex").finish_non_exhaustive()
    }
}

/// One hit: the item and its relevance score (BM25; constant for tag, range and proximity
/// parts).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// The item's id (its control number's ordinal).
    pub item_id: u64,
    /// Relevance score.
    pub score: f32,
}

/// A query compiled against the current index, with what it expanded to.
pub struct Prepared {
    query: Box<dyn tantivy::query::Query>,
    /// Words of the text field the query looks for (wildcards and fuzzy terms expanded), for
    /// marking hits in snippets.
    pub highlight: HashSet<String>,
    /// Warnings found while compiling (wildcards that expand to many terms, ...).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("query", &self.query).finish_non_exhaustive()
    }
}

impl CaseIndex {
    /// Opens the index in `dir`, creating an empty one if there is none.
    pub fn open_or_create(dir: &Path) -> Result<CaseIndex> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema::build();
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| Error::Tantivy(e.into()))?;
        let mut index = tantivy::Index::open_or_create(directory, schema).map_err(|e| match e {
            tantivy::TantivyError::SchemaError(_) => Error::Outdated,
            e => Error::Tantivy(e),
        })?;
        schema::register_tokenizers(&index);
        // Segments are searched in parallel, one thread per core: a reviewer's query gets
        // the whole machine (on 1M documents, heavy phrases and proximities ran in about half
        // the time on 2 cores).
        index.set_default_multithread_executor()?;
        let reader =
            index.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into()?;
        Ok(CaseIndex { index, fields, reader })
    }

    /// Deletes whatever index is in `dir` (any version) and creates an empty one: the start
    /// of a rebuild.
    pub fn recreate(dir: &Path) -> Result<CaseIndex> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        CaseIndex::open_or_create(dir)
    }

    /// The index's writer; one at a time (tantivy holds a lock file while it lives).
    pub fn writer(&self) -> Result<Writer> {
        let writer = self.index.writer(WRITER_HEAP).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => Error::Locked,
            e => Error::Tantivy(e),
        })?;
        // No merging while documents arrive: on 1M documents tantivy's default policy spent a
        // third of the indexing time merging (17,200 docs/s against 26,400 without). Segments
        // are merged at `finish` when there are too many.
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        Ok(Writer { writer, fields: self.fields.clone() })
    }

    /// The highest item id the last commit covered (the commit payload), if any commit happened.
    pub fn indexed_through(&self) -> Result<Option<u64>> {
        let metas = self.index.load_metas()?;
        Ok(metas.payload.as_deref().and_then(|p| p.trim().parse().ok()))
    }

    /// Number of searchable segments.
    pub fn segments(&self) -> Result<usize> {
        Ok(self.index.searchable_segment_ids()?.len())
    }

    /// Number of documents in the index.
    pub fn num_docs(&self) -> Result<u64> {
        self.reader.reload()?;
        Ok(self.reader.searcher().num_docs())
    }

    /// Makes commits since this index was opened (or last reloaded) visible to searches.
    pub fn reload(&self) -> Result<()> {
        self.reader.reload()?;
        Ok(())
    }

    /// Compiles a parsed query against the index as of its opening or last [`reload`](Self::reload).
    pub fn prepare(&self, query: &query::Query, tags: &dyn TagResolver) -> Result<Prepared> {
        let searcher = self.reader.searcher();
        compile::compile(&searcher, &self.fields, query, tags)
    }

    /// Every hit of a prepared query, best first (ties by item id, so the order is stable).
    pub fn search(&self, prepared: &Prepared) -> Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let mut hits = searcher.search(prepared.query.as_ref(), &AllHits { scoring: true })?;
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item_id.cmp(&b.item_id)));
        Ok(hits)
    }

    /// The item ids a prepared query hits, ascending, without scoring.
    pub fn matching_ids(&self, prepared: &Prepared) -> Result<Vec<u64>> {
        let searcher = self.reader.searcher();
        let mut ids = searcher.search(prepared.query.as_ref(), &AllIds)?;
        // Segments hold items in id order unless merges reordered them.
        if !ids.is_sorted() {
            ids.sort_unstable();
        }
        Ok(ids)
    }

    /// Parses and runs a query in one step; for tests and tools.
    pub fn query_ids(&self, text: &str, tags: &dyn TagResolver) -> Result<Vec<u64>> {
        let parsed = query::parse(text)?;
        let prepared = self.prepare(&parsed.query, tags)?;
        self.matching_ids(&prepared)
    }

    /// The tantivy index, for baselines that query it with tantivy's own parser.
    #[must_use]
    pub fn tantivy(&self) -> &tantivy::Index {
        &self.index
    }
}

/// Adds documents; nothing is visible to searches until [`Writer::commit`].
pub struct Writer {
    writer: tantivy::IndexWriter,
    fields: schema::Fields,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Adds a document known not to be in the index yet (a fresh rebuild, or ids above
    /// [`CaseIndex::indexed_through`]).
    pub fn add(&mut self, doc: &IndexDoc) -> Result<()> {
        self.writer.add_document(schema::to_document(&self.fields, doc))?;
        Ok(())
    }

    /// Makes everything added visible, recording that items up to `through` are indexed.
    pub fn commit(&mut self, through: u64) -> Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&through.to_string());
        prepared.commit()?;
        Ok(())
    }

    /// Merges the smallest segments when there are more than [`MAX_SEGMENTS`] (each run adds
    /// a few), then releases the index lock.
    pub fn finish(mut self) -> Result<()> {
        let index = self.writer.index().clone();
        let mut segments = index.searchable_segment_metas()?;
        if segments.len() > MAX_SEGMENTS {
            segments.sort_by_key(|m| (m.num_docs(), m.id()));
            let smallest: Vec<_> =
                segments.iter().take(segments.len() - MAX_SEGMENTS / 2).map(|m| m.id()).collect();
            self.writer.merge(&smallest).wait()?;
        }
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

/// Collects every matching document's item id, in blocks, without scores.
struct AllIds;

struct SegmentIds {
    ids: Column<u64>,
    buf: Vec<Option<u64>>,
    out: Vec<u64>,
}

impl Collector for AllIds {
    type Fruit = Vec<u64>;
    type Child = SegmentIds;

    fn for_segment(
        &self,
        _segment: tantivy::SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentIds> {
        let ids = reader.fast_fields().u64(schema::ITEM_ID)?;
        Ok(SegmentIds { ids, buf: Vec::new(), out: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        Ok(fruits.concat())
    }
}

impl SegmentCollector for SegmentIds {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.out.extend(self.ids.first(doc));
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.buf.clear();
        self.buf.resize(docs.len(), None);
        self.ids.first_vals(docs, &mut self.buf);
        self.out.extend(self.buf.iter().flatten());
    }

    fn harvest(self) -> Vec<u64> {
        self.out
    }
}

/// Collects every matching document's item id (and score).
struct AllHits {
    scoring: bool,
}

struct SegmentHits {
    ids: Column<u64>,
    hits: Vec<Hit>,
}

impl Collector for AllHits {
    type Fruit = Vec<Hit>;
    type Child = SegmentHits;

    fn for_segment(
        &self,
        _segment: tantivy::SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentHits> {
        Ok(SegmentHits { ids: reader.fast_fields().u64(schema::ITEM_ID)?, hits: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Hit>>) -> tantivy::Result<Vec<Hit>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentHits {
    type Fruit = Vec<Hit>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(item_id) = self.ids.first(doc) {
            self.hits.push(Hit { item_id, score });
        }
    }

    fn harvest(self) -> Vec<Hit> {
        self.hits
    }
}
