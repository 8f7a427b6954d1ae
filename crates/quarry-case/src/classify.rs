//! Classification of the case: the privilege screen and the relevance issues over every text.
//!
//! A run reads the case's rules file (`rules.toml`, replaced by `--rules`), scans each distinct
//! text once ([`quarry_tag::Classifier`], in parallel), counts paragraphs across documents to
//! find boilerplate, scores each text with boilerplate hits set aside, and writes:
//! - `classify_texts`: per distinct text with hits, the score, the rules hit and every hit;
//! - `tags`: `suggest:privileged` and `suggest:issue/<name>` on every item with that text (and
//!   on items an issue's query matched, `classify_query_hits`);
//! - `classify_runs`: the run, with the rules it used;
//! - `classify/paragraphs.bin`: the paragraph counts, so a later run adds to them.
//!
//! Suggestions are tags under `suggest:`; a reviewer's coding is never touched. Re-running
//! with the same rules scores only items ingested since the last run; changed rules (or
//! `rescore_all`) score everything again and replace every suggestion.
//!
//! Texts are scanned once per distinct content (items with the same native share a text), and
//! paragraphs are counted once per dedup group (the case's identity key: the same email in
//! several folders is one document), so copies do not make a paragraph look like boilerplate.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use fs_err as fs;
use quarry_tag::{Classifier, Decision, Hit, Paragraphs, Rules, Scan, Zone, issue_tag};
use rayon::prelude::*;
use rusqlite::{OptionalExtension, params};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::{Case, Error, Result, now_utc};

/// The rules file kept in the case.
pub const RULES_FILE: &str = "rules.toml";
const PARAGRAPHS_FILE: &str = "classify/paragraphs.bin";
const HIT_BYTES: usize = 21;

/// How a classification runs.
#[derive(Clone, Debug, Default)]
pub struct ClassifyOptions {
    /// New rules (the text of a rules file): checked, then kept in the case.
    pub rules: Option<String>,
    /// Score every item again, not only those ingested since the last run.
    pub rescore_all: bool,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// Items carrying a suggestion.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TagCount {
    /// The tag.
    pub tag: String,
    /// Items carrying it.
    pub items: u64,
}

/// What a classification run did.
#[derive(Clone, Debug, Serialize)]
pub struct ClassifyReport {
    /// The run's number.
    pub run: i64,
    /// blake3 of the rules file used.
    pub rules_blake3: String,
    /// `all` or `new` (items ingested since the last run).
    pub scope: String,
    /// Why that scope.
    pub reason: String,
    /// Items in scope.
    pub items: u64,
    /// Distinct texts scanned.
    pub texts_scanned: u64,
    /// Bytes of text scanned.
    pub bytes_scanned: u64,
    /// Items whose text was already scored (the same native as an earlier item).
    pub items_reused: u64,
    /// Items in scope without text (no text layer, exceptions' parents, ...).
    pub items_without_text: u64,
    /// Texts that could not be read from the store (listed, not scored).
    pub texts_unreadable: Vec<String>,
    /// Patterns matched (every form of every rule).
    pub patterns: u64,
    /// Seconds scanning (reading text included).
    pub scan_seconds: f64,
    /// Seconds counting paragraphs, deciding, and running issue queries.
    pub decide_seconds: f64,
    /// Seconds writing the results (one transaction).
    pub write_seconds: f64,
    /// Seconds in all.
    pub seconds: f64,
    /// Text scanned per second, MB (10^6 bytes).
    pub mb_per_second: f64,
    /// Paragraphs counted as boilerplate, in the whole case.
    pub boilerplate_paragraphs: u64,
    /// Privilege hits set aside as boilerplate, in this run's texts.
    pub suppressed_hits: u64,
    /// Earlier texts scored again because a paragraph of theirs became boilerplate.
    pub rescored_earlier: u64,
    /// Items suggested per tag, in the whole case.
    pub suggested: Vec<TagCount>,
    /// Things the user should know (an issue query the index could not fully answer).
    pub warnings: Vec<String>,
}

/// The classification of one document, as shown to a reviewer.
#[derive(Clone, Debug, Serialize)]
pub struct DocClassification {
    /// Control number.
    pub control_number: String,
    /// Privilege score.
    pub score: u32,
    /// Suggested tags.
    pub tags: Vec<String>,
    /// Rules hit: label, hits that count, hits in boilerplate, whether in an address line,
    /// weight.
    pub rules: Vec<RuleRow>,
    /// Every hit, in text order, with byte offsets into the stored text.
    pub hits: Vec<HitRow>,
}

/// A rule hit in one document.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RuleRow {
    /// `attorney:Richard B. Sanders`, `phrase:attorney-client`, `issue/california:price cap`.
    pub rule: String,
    /// Hits that count.
    pub hits: u32,
    /// Hits inside boilerplate (privilege rules only).
    pub suppressed: u32,
    /// A counting hit names a sender or recipient.
    pub address: bool,
    /// What it adds to the privilege score.
    pub weight: u32,
}

/// One hit in one document.
#[derive(Clone, Debug, Serialize)]
pub struct HitRow {
    /// The rule's label.
    pub rule: String,
    /// Where: from, to, cc, bcc, subject, header, text.
    pub zone: Zone,
    /// Byte offset in the stored text.
    pub start: u32,
    /// End (exclusive).
    pub end: u32,
    /// Inside a boilerplate paragraph.
    pub boilerplate: bool,
}

struct ItemRow {
    id: i64,
    blake3: String,
    key: String,
    email: bool,
    has_text: bool,
    old_text: bool,
    old_key: bool,
}

/// One dedup group's new texts.
struct Unit {
    texts: Vec<usize>,
    count_paragraphs: bool,
}

struct TextJob {
    blake3: String,
    email: bool,
}

struct Outcome {
    decision: Decision,
    hits: Vec<Hit>,
}

/// A `classify_texts` row, prepared before the transaction.
struct TextRow<'a> {
    blake3: &'a str,
    decision: &'a Decision,
    /// The suggested tags as a JSON array.
    tags: String,
    hits: Vec<u8>,
    paragraph_hits: i64,
}

/// SQLite's page cache while classify writes, in KiB (SQLite's unit for a negative
/// `cache_size`): enough to hold the pages of a million texts' rows until the commit. Pages
/// are allocated as they are used, so a small case does not take this much.
const WRITE_CACHE_KIB: i64 = 256 * 1024;

impl Case {
    /// The rules kept in the case, if any.
    pub fn rules(&self) -> Result<Option<String>> {
        match fs::read_to_string(self.dir.join(RULES_FILE)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Classifies the case (see the module documentation). `progress` is called from the
    /// worker threads with bytes of text scanned.
    pub fn classify(
        &self,
        options: &ClassifyOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ClassifyReport> {
        let started = Instant::now();
        let started_at = now_utc();
        let rules_text = match &options.rules {
            Some(text) => text.clone(),
            None => self.rules()?.ok_or(Error::NoRules)?,
        };
        // Compiling the rules checks them.
        let rules = Rules::parse(&rules_text)?;
        let classifier = Classifier::new(&rules)?;
        let rules_blake3 = blake3::hash(rules_text.as_bytes()).to_hex().to_string();
        let boilerplate_on = rules.boilerplate.min_documents > 0;
        let min_documents = rules.boilerplate.min_documents;

        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let last: Option<(String, i64, String)> = conn
            .query_row(
                "SELECT rules_blake3, through_item, paragraphs_blake3 FROM classify_runs
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let stored_paragraphs = match fs::read(self.dir.join(PARAGRAPHS_FILE)) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let (full, reason) = match &last {
            _ if options.rescore_all => (true, "asked to rescore all"),
            None => (true, "first classification of the case"),
            Some((hash, _, _)) if *hash != rules_blake3 => (true, "the rules changed"),
            Some((_, _, para))
                if stored_paragraphs.as_deref().map(blake3_hex) != Some(para.clone()) =>
            {
                (true, "the paragraph counts of the last run are missing or altered")
            }
            Some(_) => (false, "same rules: items ingested since the last run"),
        };
        let through_before = if full { 0 } else { last.as_ref().map_or(0, |l| l.1) };
        let through: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM items", [], |r| r.get(0))?;

        // Items in scope, and the texts to scan: each distinct text once, grouped by
        // dedup key for the paragraph counts.
        let items = self.classify_items(&conn, through_before, through)?;
        let mut jobs: Vec<TextJob> = Vec::new();
        // Keyed by hash digests: std's SipHash cost more than the rest of this loop.
        let mut job_of: FxHashMap<&str, usize> =
            FxHashMap::with_capacity_and_hasher(items.len(), Default::default());
        let mut units: Vec<Unit> = Vec::new();
        let mut unit_of: FxHashMap<&str, usize> =
            FxHashMap::with_capacity_and_hasher(items.len(), Default::default());
        let (mut items_reused, mut items_without_text) = (0u64, 0u64);
        // Per item, the text job it takes its suggestions from.
        let mut item_job: Vec<Option<usize>> = vec![None; items.len()];
        for (item, slot) in items.iter().zip(&mut item_job) {
            if !item.has_text {
                items_without_text += 1;
                continue;
            }
            if item.old_text {
                items_reused += 1;
                continue;
            }
            let job = *job_of.entry(item.blake3.as_str()).or_insert_with(|| {
                jobs.push(TextJob { blake3: item.blake3.clone(), email: item.email });
                jobs.len() - 1
            });
            *slot = Some(job);
            let unit = *unit_of.entry(item.key.as_str()).or_insert_with(|| {
                units.push(Unit { texts: Vec::new(), count_paragraphs: !item.old_key });
                units.len() - 1
            });
            if !units[unit].texts.contains(&job) {
                units[unit].texts.push(job);
            }
        }

        // Scan in parallel: per text its hits; per unit the union of its paragraphs.
        let scan_started = Instant::now();
        let bytes_scanned = AtomicU64::new(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads)
            .build()
            .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
        let texts: Vec<Option<Scan>> = pool.install(|| {
            jobs.par_iter()
                .map_init(
                    || (quarry_tag::Scratch::default(), Vec::new()),
                    |(scratch, buf), job| {
                        let text = self.read_text(&job.blake3, buf)?;
                        bytes_scanned.fetch_add(text.len() as u64, Ordering::Relaxed);
                        progress(text.len() as u64);
                        Some(classifier.scan(text, job.email, scratch))
                    },
                )
                .collect()
        });
        let scan_seconds = scan_started.elapsed().as_secs_f64();
        let texts_unreadable: Vec<String> = jobs
            .iter()
            .zip(&texts)
            .filter(|(_, s)| s.is_none())
            .map(|(j, _)| j.blake3.clone())
            .collect();

        // Paragraph counts: the case's so far (unless everything is rescored), plus this
        // run's documents.
        let mut paragraphs = match (&stored_paragraphs, full) {
            (Some(bytes), false) => Paragraphs::from_bytes(bytes).ok_or_else(|| {
                Error::Internal(format!("{PARAGRAPHS_FILE} is not a paragraph count"))
            })?,
            _ => Paragraphs::default(),
        };
        let mut crossed: HashSet<u64> = HashSet::new();
        if boilerplate_on {
            // Every document's paragraphs (the union over its copies) in one array, sorted
            // on every thread, then counted in runs: the same counts in any order.
            let new = pool.install(|| {
                let mut all: Vec<u64> = units
                    .par_iter()
                    .filter(|u| u.count_paragraphs)
                    .flat_map_iter(|unit| {
                        let mut union: Vec<u64> = Vec::new();
                        for &t in &unit.texts {
                            if let Some(scan) = &texts[t] {
                                union.extend_from_slice(&scan.paragraphs);
                            }
                        }
                        if unit.texts.len() > 1 {
                            union.sort_unstable();
                            union.dedup();
                        }
                        union
                    })
                    .collect();
                all.par_sort_unstable();
                Paragraphs::from_sorted(&all)
            });
            if !full {
                for (p, n) in new.iter() {
                    let before = paragraphs.count(p);
                    if before < min_documents && before + n >= min_documents {
                        crossed.insert(p);
                    }
                }
            }
            paragraphs.merge(new);
        }
        let is_boilerplate = |p: u64| boilerplate_on && paragraphs.count(p) >= min_documents;

        // Decide, in parallel (order kept).
        let outcomes: Vec<Option<Outcome>> = pool.install(|| {
            texts
                .into_par_iter()
                .map(|scan| {
                    let scan = scan?;
                    if scan.hits.is_empty() {
                        return None;
                    }
                    let decision = classifier.decide(&scan.hits, is_boilerplate);
                    Some(Outcome { decision, hits: scan.hits })
                })
                .collect()
        });
        let suppressed_hits: u64 = outcomes
            .iter()
            .flatten()
            .flat_map(|o| &o.decision.rules)
            .map(|r| u64::from(r.suppressed))
            .sum();

        // Earlier texts with a privilege hit in a paragraph that has just become boilerplate.
        let mut redecided: Vec<(String, Outcome)> = Vec::new();
        if !crossed.is_empty() {
            let mut stmt = conn.prepare(
                "SELECT blake3, hits FROM classify_texts WHERE paragraph_hits > 0 ORDER BY blake3",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
            for row in rows {
                let (blake3, blob) = row?;
                let hits = decode_hits(&blob).ok_or_else(|| {
                    Error::Internal(format!("stored hits of {blake3} are damaged"))
                })?;
                if hits.iter().any(|h| crossed.contains(&h.paragraph)) {
                    let decision = classifier.decide(&hits, is_boilerplate);
                    redecided.push((blake3, Outcome { decision, hits }));
                }
            }
        }

        // Issue queries, answered by the index.
        let mut warnings = Vec::new();
        let mut query_hits: Vec<(i64, String, String)> = Vec::new();
        if rules.issues.iter().any(|i| !i.queries.is_empty()) {
            let index = self.index()?;
            warnings.extend(self.index_current(&index)?);
            for issue in &rules.issues {
                for q in &issue.queries {
                    let (_, w, prepared) = self.prepare(&index, q).map_err(|e| {
                        Error::Internal(format!("issue {:?}, query {q:?}: {e}", issue.name))
                    })?;
                    warnings.extend(
                        w.into_iter().map(|w| format!("issue {}, query {q:?}: {w}", issue.name)),
                    );
                    for id in index.matching_ids(&prepared)? {
                        let id = id.cast_signed();
                        if id > through_before && id <= through {
                            query_hits.push((id, issue.name.clone(), q.clone()));
                        }
                    }
                }
            }
        }

        // Write everything in one transaction. The rows are prepared on every thread first,
        // so that SQLite's single writer only binds and inserts; the paragraph counts are
        // serialized and hashed on another thread meanwhile.
        let write_started = Instant::now();
        let decide_seconds = scan_started.elapsed().as_secs_f64() - scan_seconds;
        let job_tags: Vec<Vec<String>> = pool.install(|| {
            outcomes
                .par_iter()
                .map(|o| o.as_ref().map(|o| o.decision.tags(&rules)).unwrap_or_default())
                .collect()
        });
        let redecided_tags: Vec<Vec<String>> =
            redecided.iter().map(|(_, o)| o.decision.tags(&rules)).collect();
        // In key order: rows land at the end of the table's B-tree instead of splitting pages
        // all over it (measured: 9 s for 262,000 texts in hash order).
        let mut all: Vec<(&str, &Outcome, &[String])> = jobs
            .iter()
            .zip(&outcomes)
            .zip(&job_tags)
            .filter_map(|((j, o), t)| o.as_ref().map(|o| (j.blake3.as_str(), o, t.as_slice())))
            .chain(
                redecided
                    .iter()
                    .zip(&redecided_tags)
                    .map(|((b, o), t)| (b.as_str(), o, t.as_slice())),
            )
            .collect();
        all.par_sort_unstable_by_key(|(blake3, _, _)| *blake3);
        let rows: Vec<TextRow<'_>> = pool.install(|| {
            all.par_iter()
                .map(|&(blake3, outcome, tags)| {
                    let paragraph_hits = outcome
                        .hits
                        .iter()
                        .filter(|h| {
                            h.paragraph != 0
                                && classifier.rules()[h.rule as usize].kind.is_privilege()
                        })
                        .count();
                    Ok(TextRow {
                        blake3,
                        decision: &outcome.decision,
                        tags: serde_json::to_string(tags).map_err(internal)?,
                        hits: encode_hits(&outcome.hits),
                        paragraph_hits: paragraph_hits as i64,
                    })
                })
                .collect::<Result<_>>()
        })?;
        drop(all);

        // The transaction writes about as many pages as the rows' bytes: with SQLite's
        // default 2 MB page cache, most of them spill to the journal before the commit and
        // are written twice (measured: 2.0 s against 0.8 s for 232,000 rows).
        conn.pragma_update(None, "cache_size", -WRITE_CACHE_KIB)?;
        // Every row below names an item read from this database above or the run inserted
        // first, and a case never deletes items: checking each reference (a lookup in `items`
        // per suggestion) cost a quarter of the writing (measured: 0.78-0.95 s against
        // 1.12-1.33 s on the bench's 262,000 items). Switched back on after the commit.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let tx = conn.transaction()?;
        let (run, paragraphs_bytes) = std::thread::scope(|scope| -> Result<(i64, Vec<u8>)> {
            let serialized = scope.spawn(|| {
                let bytes = paragraphs.to_bytes();
                let hash = blake3_hex(&bytes);
                (bytes, hash)
            });
            tx.execute(
                "INSERT INTO classify_runs (started_at, finished_at, quarry_version, rules, rules_blake3,
                     scope, reason, through_item, texts_scanned, bytes_scanned, paragraphs_blake3)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '')",
                params![
                    started_at,
                    now_utc(),
                    env!("CARGO_PKG_VERSION"),
                    rules_text,
                    rules_blake3,
                    if full { "all" } else { "new" },
                    reason,
                    through,
                    jobs.len() as i64 - texts_unreadable.len() as i64,
                    bytes_scanned.load(Ordering::Relaxed).cast_signed(),
                ],
            )?;
            let run = tx.last_insert_rowid();
            if full {
                // Emptied by dropping and creating again, with the definition the case holds:
                // a DELETE visits every row, since the table's foreign key rules out SQLite's
                // truncation (measured: 0.3 s for 232,000 rows).
                let definitions: Vec<String> = tx
                    .prepare(
                        "SELECT sql FROM sqlite_schema WHERE tbl_name = 'classify_texts'
                         AND sql IS NOT NULL ORDER BY type = 'index', rowid",
                    )?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                tx.execute("DROP TABLE classify_texts", [])?;
                for sql in &definitions {
                    tx.execute(sql, [])?;
                }
                tx.execute("DELETE FROM classify_query_hits", [])?;
            }
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO classify_texts
                     (blake3, run_id, score, privileged, tags, hits, paragraph_hits)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for row in &rows {
                insert.execute(params![
                    row.blake3,
                    run,
                    row.decision.score,
                    row.decision.privileged,
                    row.tags,
                    row.hits,
                    row.paragraph_hits,
                ])?;
            }
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO classify_query_hits (item_id, issue, query) VALUES (?1, ?2, ?3)",
            )?;
            for (id, issue, q) in &query_hits {
                insert.execute(params![id, issue, q])?;
            }
            // Suggestions: replaced on the items in scope, and on the items of earlier texts
            // scored again.
            let at = now_utc();
            if full {
                tx.execute("DELETE FROM tags WHERE tag GLOB 'suggest:*'", [])?;
            } else {
                tx.execute(
                    "DELETE FROM tags WHERE tag GLOB 'suggest:*' AND item_id > ?1 AND item_id <= ?2",
                    params![through_before, through],
                )?;
            }
            {
                // Each item in scope gets the tags of its text: scanned now, or scored before
                // (the same native as an earlier item).
                let mut earlier_tags: HashMap<&str, Vec<String>> = HashMap::new();
                let mut earlier =
                    tx.prepare("SELECT tags FROM classify_texts WHERE blake3 = ?1")?;
                let mut insert = tx.prepare(
                    "INSERT OR IGNORE INTO tags (item_id, tag, added_at) VALUES (?1, ?2, ?3)",
                )?;
                for (item, job) in items.iter().zip(&item_job) {
                    let tags = match job {
                        Some(job) => &job_tags[*job],
                        None if item.old_text && item.has_text => {
                            match earlier_tags.entry(item.blake3.as_str()) {
                                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                                std::collections::hash_map::Entry::Vacant(e) => {
                                    let tags: Option<String> = earlier
                                        .query_row([&item.blake3], |r| r.get(0))
                                        .optional()?;
                                    let tags: Vec<String> = match tags {
                                        Some(tags) => {
                                            serde_json::from_str(&tags).map_err(internal)?
                                        }
                                        None => Vec::new(),
                                    };
                                    e.insert(tags)
                                }
                            }
                        }
                        None => continue,
                    };
                    for tag in tags {
                        insert.execute(params![item.id, tag, at])?;
                    }
                }
            }
            for (blake3, _) in &redecided {
                tx.execute(
                    "DELETE FROM tags WHERE tag GLOB 'suggest:*'
                     AND item_id IN (SELECT id FROM items WHERE blake3 = ?1)",
                    [blake3],
                )?;
                tx.execute(
                    "INSERT OR IGNORE INTO tags (item_id, tag, added_at)
                     SELECT i.id, j.value, ?2 FROM items i
                     JOIN classify_texts c ON c.blake3 = i.blake3, json_each(c.tags) j
                     WHERE i.blake3 = ?1",
                    params![blake3, at],
                )?;
                tx.execute(
                    "INSERT OR IGNORE INTO tags (item_id, tag, added_at)
                     SELECT q.item_id, 'suggest:issue/' || q.issue, ?2 FROM classify_query_hits q
                     JOIN items i ON i.id = q.item_id WHERE i.blake3 = ?1",
                    params![blake3, at],
                )?;
            }
            {
                let mut insert = tx.prepare(
                    "INSERT OR IGNORE INTO tags (item_id, tag, added_at) VALUES (?1, ?2, ?3)",
                )?;
                for (id, issue, _) in &query_hits {
                    insert.execute(params![id, issue_tag(issue), at])?;
                }
            }
            let (bytes, hash) = serialized.join().expect("serializing the paragraph counts");
            tx.execute(
                "UPDATE classify_runs SET paragraphs_blake3 = ?2 WHERE id = ?1",
                params![run, hash],
            )?;
            Ok((run, bytes))
        })?;
        drop(rows);
        // The counts and the rules go to disk before the run that names their hashes commits:
        // a crash between the two leaves files that match no run, and the next run starts over.
        let path = self.dir.join(PARAGRAPHS_FILE);
        fs::create_dir_all(path.parent().expect("a folder"))?;
        self.replace_file(&path, &paragraphs_bytes)?;
        if options.rules.is_some() {
            self.replace_file(&self.dir.join(RULES_FILE), rules_text.as_bytes())?;
        }
        tx.commit()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let write_seconds = write_started.elapsed().as_secs_f64();

        let suggested = self.suggested_counts()?;
        let seconds = started.elapsed().as_secs_f64();
        let bytes = bytes_scanned.load(Ordering::Relaxed);
        Ok(ClassifyReport {
            run,
            rules_blake3,
            scope: if full { "all" } else { "new" }.to_owned(),
            reason: reason.to_owned(),
            items: items.len() as u64,
            texts_scanned: (jobs.len() - texts_unreadable.len()) as u64,
            bytes_scanned: bytes,
            items_reused,
            items_without_text,
            texts_unreadable,
            patterns: classifier.patterns() as u64,
            scan_seconds,
            decide_seconds,
            write_seconds,
            seconds,
            mb_per_second: if scan_seconds > 0.0 { bytes as f64 / 1e6 / scan_seconds } else { 0.0 },
            boilerplate_paragraphs: if boilerplate_on {
                paragraphs.at_least(min_documents) as u64
            } else {
                0
            },
            suppressed_hits,
            rescored_earlier: redecided.len() as u64,
            suggested,
            warnings,
        })
    }

    /// Items per suggestion tag.
    pub fn suggested_counts(&self) -> Result<Vec<TagCount>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT tag, COUNT(*) FROM tags WHERE tag GLOB 'suggest:*' GROUP BY tag ORDER BY tag",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TagCount { tag: r.get(0)?, items: r.get::<_, i64>(1)?.cast_unsigned() })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The classification of one document (by control number): `None` when it has no hits.
    pub fn classification(&self, control_number: &str) -> Result<Option<DocClassification>> {
        let conn = self.reader()?;
        let Some((id, blake3)): Option<(i64, String)> = conn
            .query_row(
                "SELECT id, blake3 FROM items WHERE control_number = ?1",
                [control_number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
        else {
            return Err(Error::NoItem(control_number.to_owned()));
        };
        let row: Option<(u32, Vec<u8>)> = conn
            .query_row("SELECT score, hits FROM classify_texts WHERE blake3 = ?1", [&blake3], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let mut tags: Vec<String> = {
            let mut stmt = conn.prepare(
                "SELECT tag FROM tags WHERE item_id = ?1 AND tag GLOB 'suggest:*' ORDER BY tag",
            )?;
            stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        tags.sort();
        let Some((score, blob)) = row else {
            return Ok((!tags.is_empty()).then(|| DocClassification {
                control_number: control_number.to_owned(),
                score: 0,
                tags,
                rules: Vec::new(),
                hits: Vec::new(),
            }));
        };
        let view = self.rule_view()?;
        let stored = decode_hits(&blob).ok_or_else(|| {
            Error::Internal(format!("stored hits of {control_number} are damaged"))
        })?;
        let hits = stored
            .iter()
            .map(|h| HitRow {
                rule: view.label(h.rule),
                zone: h.zone,
                start: h.start,
                end: h.end,
                boilerplate: view.is_boilerplate(h.paragraph),
            })
            .collect();
        Ok(Some(DocClassification {
            control_number: control_number.to_owned(),
            score,
            tags,
            rules: view.rule_rows(&stored),
            hits,
        }))
    }

    /// What showing stored hits needs: the rules in force and the paragraph counts.
    fn rule_view(&self) -> Result<RuleView> {
        let rules = Rules::parse(&self.rules()?.ok_or(Error::NoRules)?)?;
        let classifier = Classifier::new(&rules)?;
        let labels = classifier.rules().iter().map(|r| r.label(&rules)).collect();
        let paragraphs = match fs::read(self.dir.join(PARAGRAPHS_FILE)) {
            Ok(bytes) => Paragraphs::from_bytes(&bytes).unwrap_or_default(),
            Err(_) => Paragraphs::default(),
        };
        Ok(RuleView { min: rules.boilerplate.min_documents, classifier, labels, paragraphs })
    }

    /// Documents with suggestions, in control-number order: control number, score, tags and
    /// rules hit. `tag` keeps only those carrying it.
    pub fn classifications(
        &self,
        tag: Option<&str>,
        mut each: impl FnMut(DocClassification) -> Result<()>,
    ) -> Result<u64> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT i.control_number, i.id, COALESCE(c.score, 0), c.hits
             FROM items i LEFT JOIN classify_texts c ON c.blake3 = i.blake3
             WHERE EXISTS (SELECT 1 FROM tags t WHERE t.item_id = i.id AND t.tag GLOB 'suggest:*'
                           AND (?1 IS NULL OR t.tag = ?1))
             ORDER BY i.id",
        )?;
        let mut tags_of = conn.prepare(
            "SELECT tag FROM tags WHERE item_id = ?1 AND tag GLOB 'suggest:*' ORDER BY tag",
        )?;
        if self.rules()?.is_none() {
            return Ok(0); // never classified: no suggestions
        }
        let view = self.rule_view()?;
        let mut rows = stmt.query([tag])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(1)?;
            let control_number: String = r.get(0)?;
            let stored = match r.get::<_, Option<Vec<u8>>>(3)? {
                Some(blob) => decode_hits(&blob).ok_or_else(|| {
                    Error::Internal(format!("stored hits of {control_number} are damaged"))
                })?,
                None => Vec::new(),
            };
            let tags = tags_of.query_map([id], |t| t.get(0))?.collect::<Result<_, _>>()?;
            each(DocClassification {
                control_number,
                score: r.get(2)?,
                tags,
                rules: view.rule_rows(&stored),
                hits: Vec::new(),
            })?;
            n += 1;
        }
        Ok(n)
    }

    fn classify_items(
        &self,
        conn: &rusqlite::Connection,
        after: i64,
        through: i64,
    ) -> Result<Vec<ItemRow>> {
        // From the start (?1 = 0) no item is earlier, and AND skips the lookups.
        let mut stmt = conn.prepare(
            "SELECT i.id, i.blake3, i.dedup_key, e.item_id IS NOT NULL, i.text_chars IS NOT NULL,
                    ?1 > 0 AND EXISTS (SELECT 1 FROM items o WHERE o.blake3 = i.blake3 AND o.id <= ?1),
                    ?1 > 0 AND EXISTS (SELECT 1 FROM items o WHERE o.dedup_key = i.dedup_key AND o.id <= ?1)
             FROM items i LEFT JOIN emails e ON e.item_id = i.id
             WHERE i.id > ?1 AND i.id <= ?2 ORDER BY i.id",
        )?;
        let rows = stmt
            .query_map(params![after, through], |r| {
                Ok(ItemRow {
                    id: r.get(0)?,
                    blake3: r.get(1)?,
                    key: r.get(2)?,
                    // Email and Outlook items: their stored text starts with the header
                    // block.
                    email: r.get(3)?,
                    has_text: r.get(4)?,
                    old_text: r.get(5)?,
                    old_key: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        debug_assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
        Ok(rows)
    }

    /// Writes a file of the case whole or not at all (staged, then renamed over).
    fn replace_file(&self, path: &std::path::Path, bytes: &[u8]) -> Result<()> {
        let tmp = self
            .store
            .tmp_dir()
            .join(format!("{}.new", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
        fs::write(&tmp, bytes)?;
        fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads a stored text into `buf`; `None` when it is missing or unreadable (reported).
    fn read_text<'a>(&self, blake3: &str, buf: &'a mut Vec<u8>) -> Option<&'a str> {
        match self.store.read_text(blake3, buf) {
            Ok(true) => std::str::from_utf8(buf).ok(),
            Ok(false) | Err(_) => None,
        }
    }
}

/// The rules in force and the paragraph counts, to show stored hits.
struct RuleView {
    classifier: Classifier,
    labels: Vec<String>,
    paragraphs: Paragraphs,
    min: u32,
}

impl RuleView {
    fn label(&self, rule: u32) -> String {
        self.labels.get(rule as usize).cloned().unwrap_or_else(|| format!("rule {rule}"))
    }

    fn is_boilerplate(&self, paragraph: u64) -> bool {
        self.min > 0 && paragraph != 0 && self.paragraphs.count(paragraph) >= self.min
    }

    /// Per-rule counts of stored hits, as the run decided them.
    fn rule_rows(&self, hits: &[Hit]) -> Vec<RuleRow> {
        self.classifier
            .decide(hits, |p| self.is_boilerplate(p))
            .rules
            .iter()
            .map(|r| RuleRow {
                rule: self.label(r.rule),
                hits: r.hits,
                suppressed: r.suppressed,
                address: r.address,
                weight: r.weight,
            })
            .collect()
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn encode_hits(hits: &[Hit]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hits.len() * HIT_BYTES);
    for h in hits {
        out.extend_from_slice(&h.rule.to_le_bytes());
        out.extend_from_slice(&h.start.to_le_bytes());
        out.extend_from_slice(&h.end.to_le_bytes());
        out.push(h.zone.code());
        out.extend_from_slice(&h.paragraph.to_le_bytes());
    }
    out
}

fn decode_hits(blob: &[u8]) -> Option<Vec<Hit>> {
    if !blob.len().is_multiple_of(HIT_BYTES) {
        return None;
    }
    blob.chunks_exact(HIT_BYTES)
        .map(|c| {
            let u32_at = |i: usize| u32::from_le_bytes(c[i..i + 4].try_into().expect("4 bytes"));
            Some(Hit {
                rule: u32_at(0),
                start: u32_at(4),
                end: u32_at(8),
                zone: Zone::from_code(c[12])?,
                paragraph: u64::from_le_bytes(c[13..21].try_into().expect("8 bytes")),
            })
        })
        .collect()
}
