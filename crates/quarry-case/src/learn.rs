//! Continuous active learning over the case (quarry-learn does the arithmetic).
//!
//! Features: every document's term counts are read from its stored text once, in parallel,
//! and kept in `learn/counts.bin` (item id, then hashed feature ids and counts). Items
//! ingested later are counted and appended on the next use; weights are derived from the
//! counts each time, so scoring never reads text again. The documents are the masters under
//! the case's dedup view (a document and its attachments), as review covers them.

use std::collections::{BTreeMap, HashMap, HashSet};

use fs_err as fs;
use quarry_learn::{Counts, FeatureConfig, Matrix, Protocol, Sparse};
use rayon::prelude::*;
use serde::Serialize;

use crate::{Case, Error, Result};

/// Version 2 on: the feature version follows. `QLCOUNT1` files have none (version 1).
const MAGIC: &[u8; 8] = b"QLCOUNT2";

/// The documents learning works on, with their features.
pub struct Collection {
    /// Item id of each row.
    pub items: Vec<u64>,
    /// The weighted rows.
    pub matrix: Matrix,
    /// How words became features.
    pub config: FeatureConfig,
    /// Documents whose stored text could not be read: they are in the collection without
    /// features (ranked last) until a later use reads them.
    pub unreadable: u64,
}

/// Effort to reach a recall, one protocol and seed.
#[derive(Clone, Debug, Serialize)]
pub struct SimulationRow {
    /// bmi, quarry, keyword, random.
    pub method: String,
    /// Random seed of the run.
    pub seed: u64,
    /// Documents reviewed to reach 75%, 80% and 90% recall.
    pub effort: [u64; 3],
}

/// `learn simulate`'s outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Simulation {
    /// Documents in the simulated collection.
    pub documents: u64,
    /// Of those, relevant by the labels.
    pub relevant: u64,
    /// Label rows that matched no document.
    pub unmatched_labels: u64,
    /// The seed query.
    pub seed_query: String,
    /// One row per method and seed.
    pub rows: Vec<SimulationRow>,
}

impl Simulation {
    /// quarry's effort less BMI's to reach the `k`th recall (0: 75%, 1: 80%, 2: 90%), taken
    /// seed by seed: (mean, standard error), with two seeds or more. Both protocols start
    /// from the same seed, so this spreads far less than either effort.
    #[must_use]
    pub fn quarry_less_bmi(&self, k: usize) -> Option<(f64, f64)> {
        let effort = |method: &str, seed: u64| {
            self.rows.iter().find(|r| r.method == method && r.seed == seed).map(|r| r.effort[k])
        };
        let diffs: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.method == "quarry")
            .filter_map(|r| Some(r.effort[k] as f64 - effort("bmi", r.seed)? as f64))
            .collect();
        quarry_learn::paired(&diffs)
    }
}

impl Case {
    /// Every master's term counts, and how many masters' stored text could not be read: read
    /// from the store for items not counted yet (in parallel), the rest from the counts file
    /// of this feature configuration. The file keeps every item counted, masters under other
    /// dedup views too; an unreadable text is not stored, so the next use tries it again.
    fn learn_counts(&self, config: &FeatureConfig) -> Result<(BTreeMap<u64, Counts>, u64)> {
        // Version 1 files kept their first name.
        let version =
            if config.version == 1 { String::new() } else { format!("v{}-", config.version) };
        let name = format!(
            "counts-{version}{}{}-df{}.bin",
            config.bits,
            if config.pairs { "-pairs" } else { "" },
            config.min_df
        );
        let path = self.dir.join("learn").join(&name);
        let mut stored: BTreeMap<u64, Counts> =
            match fs::read(&path).ok().as_deref().and_then(decode_counts) {
                Some((c, map)) if c == *config => map,
                _ => BTreeMap::new(),
            };
        let conn = self.reader()?;
        let sql = format!(
            "SELECT i.id, i.blake3, i.text_chars IS NOT NULL FROM items i WHERE i.id IN ({}) ORDER BY i.id",
            crate::report::masters_sql(self.config.dedup.scope)
        );
        let mut stmt = conn.prepare(&sql)?;
        let masters: Vec<(u64, String, bool)> = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?.cast_unsigned(), r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let missing: Vec<&(u64, String, bool)> =
            masters.iter().filter(|(id, _, _)| !stored.contains_key(id)).collect();
        // None: the stored text exists but could not be read.
        let fresh: Vec<(u64, Option<Counts>)> = missing
            .par_iter()
            .map_init(Vec::new, |buf, (id, blake3, has_text)| {
                if !*has_text {
                    return (*id, Some(Vec::new()));
                }
                let read = self.store.read_text(blake3, buf);
                let counts = matches!(read, Ok(true))
                    .then(|| quarry_learn::count(&String::from_utf8_lossy(buf), config));
                (*id, counts)
            })
            .collect();
        let unreadable = fresh.iter().filter(|(_, c)| c.is_none()).count() as u64;
        if fresh.iter().any(|(_, c)| c.is_some()) {
            stored.extend(fresh.iter().filter_map(|(id, c)| c.clone().map(|c| (*id, c))));
            fs::create_dir_all(self.dir.join("learn"))?;
            let tmp = self.store.tmp_dir().join(&name);
            fs::write(&tmp, encode_counts(config, &stored))?;
            fs::rename(&tmp, &path)?;
        }
        let counts = masters
            .iter()
            .map(|(id, _, _)| (*id, stored.get(id).cloned().unwrap_or_default()))
            .collect();
        Ok((counts, unreadable))
    }

    /// The masters with their weighted features.
    pub fn learn_collection(&self, config: &FeatureConfig) -> Result<Collection> {
        let (counts, unreadable) = self.learn_counts(config)?;
        let items: Vec<u64> = counts.keys().copied().collect();
        let docs: Vec<Counts> = counts.into_values().collect();
        let matrix = Matrix::build(&docs, config);
        Ok(Collection { items, matrix, config: *config, unreadable })
    }

    /// Reads a labels file: CSV with a header row; the first column names the document (a
    /// control number, a Message-ID, or a locator or its end after a `/`), the column `field`
    /// holds its values (several separated by `;`). Returns the relevant items (those with
    /// `positive`) and the label rows that matched no item.
    pub fn read_labels(
        &self,
        text: &str,
        field: &str,
        positive: &str,
    ) -> Result<(HashSet<u64>, u64)> {
        let rows = crate::parse_csv(text);
        let Some(header) = rows.first() else {
            return Err(Error::Coding("the labels file is empty".into()));
        };
        let column = header.iter().position(|h| h == field).ok_or_else(|| {
            Error::Coding(format!(
                "the labels file has no column {field:?}; its columns: {}",
                header.join(", ")
            ))
        })?;
        let conn = self.reader()?;
        let mut by_key: HashMap<String, u64> = HashMap::new();
        {
            let mut stmt = conn.prepare(
                "SELECT i.id, i.control_number, i.locator, e.message_id FROM items i LEFT JOIN emails e ON e.item_id = i.id",
            )?;
            let mut q = stmt.query([])?;
            while let Some(r) = q.next()? {
                let id = r.get::<_, i64>(0)?.cast_unsigned();
                let locator: String = r.get(2)?;
                by_key.insert(r.get(1)?, id);
                if let Some(m) = r.get::<_, Option<String>>(3)? {
                    by_key.entry(m).or_insert(id);
                }
                // Every path suffix after a '/', so `1/10425.txt` finds `labels/1/10425.txt`.
                let mut rest = locator.as_str();
                by_key.entry(rest.to_owned()).or_insert(id);
                while let Some(at) = rest.find('/') {
                    rest = &rest[at + 1..];
                    by_key.entry(rest.to_owned()).or_insert(id);
                }
            }
        }
        let (mut relevant, mut unmatched) = (HashSet::new(), 0);
        for row in &rows[1..] {
            let key = row.first().map_or("", |k| k.trim());
            if key.is_empty() {
                continue;
            }
            let Some(&id) = by_key.get(key) else {
                unmatched += 1;
                continue;
            };
            let values = row.get(column).map_or("", String::as_str);
            if values.split(';').any(|v| v.trim() == positive) {
                relevant.insert(id);
            }
        }
        Ok((relevant, unmatched))
    }

    /// Replays the labels through quarry's protocol and the baselines (BMI, keyword ranking by
    /// the seed query, random order), once per seed: documents reviewed to reach 75%, 80% and
    /// 90% recall.
    pub fn learn_simulate(
        &self,
        relevant: &HashSet<u64>,
        unmatched: u64,
        seed_query: &str,
        seeds: &[u64],
    ) -> Result<Simulation> {
        let config = FeatureConfig::default();
        let collection = self.learn_collection(&config)?;
        let truth: Vec<bool> = collection.items.iter().map(|id| relevant.contains(id)).collect();
        let seed_vectors: Vec<Sparse> = vec![collection.matrix.vector(seed_query, &config)];
        let targets = [0.75, 0.80, 0.90];
        let effort =
            |order: &[usize]| targets.map(|r| quarry_learn::effort(order, &truth, r) as u64);
        // Each protocol on the features it asks for (the same documents, in the same order).
        let protocols = [Protocol::quarry(), Protocol::bmi()];
        let mut prepared = Vec::new();
        for protocol in &protocols {
            let features = protocol.features();
            if features == config {
                prepared.push(None);
            } else {
                let other = self.learn_collection(&features)?;
                if other.items != collection.items {
                    return Err(Error::Internal(
                        "feature collections differ in their documents".into(),
                    ));
                }
                let seeds = vec![other.matrix.vector(seed_query, &features)];
                prepared.push(Some((other, seeds)));
            }
        }
        // Every (seed, protocol) run is independent and deterministic: run them in parallel,
        // report them in order.
        let runs: Vec<(u64, usize)> =
            seeds.iter().flat_map(|&s| (0..protocols.len()).map(move |p| (s, p))).collect();
        let learned: Vec<SimulationRow> = runs
            .par_iter()
            .map(|&(seed, p)| {
                let (matrix, seeds) = match &prepared[p] {
                    Some((c, s)) => (&c.matrix, s),
                    None => (&collection.matrix, &seed_vectors),
                };
                let order = quarry_learn::simulate(matrix, seeds, &truth, &protocols[p], seed, 0.9);
                SimulationRow { method: protocols[p].name.clone(), seed, effort: effort(&order) }
            })
            .collect();
        let mut learned = learned.into_iter();
        let mut rows = Vec::new();
        for &seed in seeds {
            rows.extend(learned.by_ref().take(protocols.len()));
            let order = quarry_learn::keyword_order(&collection.matrix, &seed_vectors, seed);
            rows.push(SimulationRow { method: "keyword".into(), seed, effort: effort(&order) });
            let order = quarry_learn::random_order(collection.matrix.rows(), seed);
            rows.push(SimulationRow { method: "random".into(), seed, effort: effort(&order) });
        }
        Ok(Simulation {
            documents: collection.items.len() as u64,
            relevant: truth.iter().filter(|&&t| t).count() as u64,
            unmatched_labels: unmatched,
            seed_query: seed_query.to_owned(),
            rows,
        })
    }
}

fn encode_counts(config: &FeatureConfig, counts: &BTreeMap<u64, Counts>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + counts.values().map(|c| 12 + c.len() * 8).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&config.version.to_le_bytes());
    out.extend_from_slice(&config.bits.to_le_bytes());
    out.push(u8::from(config.pairs));
    out.extend_from_slice(&config.min_df.to_le_bytes());
    out.extend_from_slice(&(counts.len() as u64).to_le_bytes());
    for (id, c) in counts {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
        for &(f, n) in c {
            out.extend_from_slice(&f.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    out
}

fn decode_counts(bytes: &[u8]) -> Option<(FeatureConfig, BTreeMap<u64, Counts>)> {
    let mut at = 0;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = bytes.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
    let version = match take(8)? {
        m if m == MAGIC => u32_of(take(4)?),
        b"QLCOUNT1" => 1,
        _ => return None,
    };
    if !(1..=quarry_learn::features::VERSION).contains(&version) {
        return None;
    }
    let bits = u32_of(take(4)?);
    let pairs = take(1)?[0] == 1;
    let min_df = u32_of(take(4)?);
    let n = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let mut map = BTreeMap::new();
    for _ in 0..n {
        let id = u64::from_le_bytes(take(8)?.try_into().ok()?);
        let len = u32_of(take(4)?) as usize;
        let mut c = Vec::with_capacity(len);
        for _ in 0..len {
            let f = u32_of(take(4)?);
            let k = u32_of(take(4)?);
            c.push((f, k));
        }
        map.insert(id, c);
    }
    Some((FeatureConfig { bits, pairs, min_df, version }, map))
}

// ---------------------------------------------------------------------------------------------
// Prioritized review

/// A review question under active learning.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct LearnSession {
    /// Its number.
    pub id: i64,
    /// The coding field.
    pub field: String,
    /// The value that means relevant.
    pub positive: String,
    /// The seed query, the first relevant example.
    pub seed_query: Option<String>,
    /// The protocol.
    pub protocol: Protocol,
}

/// What a model was trained on: enough to build it again, bit for bit.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Training {
    /// The session.
    pub session: i64,
    /// Documents are the masters with ids up to this one (under `dedup`).
    pub through_item: u64,
    /// The dedup view the masters were taken under.
    pub dedup: quarry_types::DedupScope,
    /// Features.
    pub features: FeatureConfig,
    /// Training parameters (the sampler's seed included).
    pub params: quarry_learn::TrainParams,
    /// The seed query.
    pub seed_query: Option<String>,
    /// Items coded relevant.
    pub positives: Vec<u64>,
    /// Items coded not relevant.
    pub negatives: Vec<u64>,
    /// Uncoded items drawn as presumed not relevant.
    pub presumed: Vec<u64>,
}

/// What the learning loop reads back from a prioritized batch's `batch.create` audit entry.
/// A missing field reads as empty; an entry that does not parse reads as no batch of a
/// session (no `model`). Scores are `None` where the log holds `null` (JSON has no NaN).
#[derive(Debug, Default, serde::Deserialize)]
struct BatchRecord {
    /// The model that ranked the batch.
    model: Option<u64>,
    /// Item ids drawn at random (exploration), and the chance each was drawn with.
    #[serde(default)]
    explored: Vec<u64>,
    #[serde(default)]
    explored_p: Vec<Option<f64>>,
    /// Item id, model score and seed-query score (standardized) of each document handed out.
    #[serde(default)]
    ranked: Vec<(u64, Option<f64>, Option<f64>)>,
}

/// A model built for a session, as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct ModelRecord {
    /// Its number.
    pub id: i64,
    /// blake3 of the training set (the JSON of [`Training`]).
    pub training_blake3: String,
    /// blake3 of the weights (little-endian f32).
    pub weights_blake3: String,
    /// Relevant examples (seed included).
    pub positives: u64,
    /// Coded non-relevant examples.
    pub negatives: u64,
    /// Presumed non-relevant examples.
    pub presumed: u64,
}

/// `learn status`.
#[derive(Clone, Debug, Serialize)]
pub struct LearnStatus {
    /// The session.
    pub session: LearnSession,
    /// Documents (masters).
    pub documents: u64,
    /// Coded for the field.
    pub reviewed: u64,
    /// Of those, relevant.
    pub relevant_found: u64,
    /// Relevant found per document reviewed, in review order (the gain curve).
    pub gain: Vec<u64>,
    /// The knee rule says stop.
    pub stop: bool,
    /// The knee rule's largest slope ratio, and after how many documents.
    pub knee: (f64, usize),
    /// Models built.
    pub models: u64,
    /// Documents whose stored text could not be read (no features; ranked on nothing).
    pub unreadable_texts: u64,
    /// The latest elusion estimate, once a validation sample is fully coded.
    pub validation: Option<quarry_learn::Elusion>,
    /// A validation sample drawn and not fully coded yet: (batch, coded, size).
    pub pending_sample: Option<(String, u64, u64)>,
    /// Estimated prevalence: (found + estimated missed) / documents, once validated.
    pub estimated_prevalence: Option<f64>,
    /// A running estimate before any validation, from the documents drawn at random into
    /// this session's prioritized batches (the exploration share): their relevant rate, each
    /// draw weighted by one over its chance, stands for the rate among the documents not
    /// reviewed. Indicative only: the draws come from shrinking, changing remainders, not
    /// one sample of today's.
    pub running: Option<RunningEstimate>,
}

/// `LearnStatus::running`.
#[derive(Clone, Debug, Serialize)]
pub struct RunningEstimate {
    /// Documents drawn at random and coded.
    pub drawn: u64,
    /// Of those, relevant.
    pub relevant: u64,
    /// Relevant documents estimated among those not reviewed.
    pub estimated_missed: f64,
    /// found / (found + estimated missed).
    pub recall: f64,
    /// The recall's 95% interval: Wilson's on the weighted relevant rate, over the draws'
    /// effective number (`quarry_learn::cal::running_interval`).
    pub recall_low: f64,
    /// Its upper end.
    pub recall_high: f64,
    /// (found + estimated missed) / documents.
    pub prevalence: f64,
    /// The prevalence's 95% interval, from the same interval of the rate.
    pub prevalence_low: f64,
    /// Its upper end.
    pub prevalence_high: f64,
}

impl Case {
    /// Sets up a prioritized review of one question: documents with `field` = `positive` are
    /// relevant; the seed query's words are the first relevant example.
    pub fn learn_start(
        &self,
        actor: &str,
        field: &str,
        positive: &str,
        seed_query: Option<&str>,
    ) -> Result<LearnSession> {
        let def = self.config.coding.field(field).ok_or_else(|| {
            let names: Vec<&str> =
                self.config.coding.fields.iter().map(|f| f.name.as_str()).collect();
            Error::Coding(format!(
                "no coding field {field:?}; the fields are: {}",
                names.join(", ")
            ))
        })?;
        if !def.choices.is_empty() && !def.choices.iter().any(|c| c == positive) {
            return Err(Error::Coding(format!(
                "{positive:?} is not a value of {field}; allowed: {}",
                def.choices.join(", ")
            )));
        }
        if let Some(q) = seed_query {
            quarry_index::query::parse(q).map_err(quarry_index::Error::from)?;
        }
        let protocol = Protocol::quarry();
        // Count the features now, so the first batch does not wait for them.
        self.learn_collection(&protocol.features())?;
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let protocol_json =
            serde_json::to_string(&protocol).map_err(|e| Error::Internal(e.to_string()))?;
        tx.execute(
            "INSERT INTO learn_sessions (field, positive, seed_query, protocol, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![field, positive, seed_query, protocol_json, crate::now_utc(), actor],
        )?;
        let id = tx.last_insert_rowid();
        let mut log = crate::audit::Appender::new(&tx)?;
        log.push(
            &tx,
            &crate::audit::NewEntry {
                actor,
                action: "learn.start",
                detail: Some(serde_json::json!({
                    "session": id, "field": field, "positive": positive, "seed_query": seed_query, "protocol": protocol,
                })),
                ..Default::default()
            },
        )?;
        log.finish(&tx)?;
        tx.commit()?;
        Ok(LearnSession {
            id,
            field: field.into(),
            positive: positive.into(),
            seed_query: seed_query.map(str::to_owned),
            protocol,
        })
    }

    /// The latest session.
    pub fn learn_session(&self) -> Result<LearnSession> {
        let conn = self.reader()?;
        let row: Option<(i64, String, String, Option<String>, String)> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT id, field, positive, seed_query, protocol FROM learn_sessions ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        ))?;
        let Some((id, field, positive, seed_query, protocol)) = row else {
            return Err(Error::Coding("no prioritized review yet: start one with `quarry learn start --field F --positive V`".into()));
        };
        let protocol =
            serde_json::from_str(&protocol).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(LearnSession { id, field, positive, seed_query, protocol })
    }

    /// Per row of the collection: coded relevant, coded not relevant, or not coded.
    fn coded_rows(&self, session: &LearnSession, items: &[u64]) -> Result<Vec<Option<bool>>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare("SELECT item_id, value FROM coding WHERE field = ?1")?;
        let mut by_item: HashMap<u64, bool> = HashMap::new();
        for row in stmt.query_map([&session.field], |r| {
            Ok((r.get::<_, i64>(0)?.cast_unsigned(), r.get::<_, String>(1)?))
        })? {
            let (id, value) = row?;
            let e = by_item.entry(id).or_insert(false);
            *e |= value == session.positive;
        }
        Ok(items.iter().map(|id| by_item.get(id).copied()).collect())
    }

    /// Trains a model on the session's coding now, records it (table and audit log) and
    /// returns it with the collection it scores.
    pub fn learn_model(
        &self,
        actor: &str,
    ) -> Result<(Collection, quarry_learn::Model, ModelRecord, Vec<Option<bool>>)> {
        let session = self.learn_session()?;
        let config = session.protocol.features();
        let collection = self.learn_collection(&config)?;
        let coded = self.coded_rows(&session, &collection.items)?;
        let conn = self.reader()?;
        let models: i64 = conn.query_row(
            "SELECT COUNT(*) FROM learn_models WHERE session_id = ?1",
            [session.id],
            |r| r.get(0),
        )?;
        // The sampler's seed follows from the session and the model's number: rebuildable.
        let mut rng = quarry_learn::Rng::new((session.id as u64) << 32 | (models as u64 + 1));
        let uncoded: Vec<usize> = (0..coded.len()).filter(|&i| coded[i].is_none()).collect();
        let positives: Vec<u64> = (0..coded.len())
            .filter(|&i| coded[i] == Some(true))
            .map(|i| collection.items[i])
            .collect();
        let negatives: Vec<u64> = (0..coded.len())
            .filter(|&i| coded[i] == Some(false))
            .map(|i| collection.items[i])
            .collect();
        let wanted = if session.protocol.taper_presumed {
            session.protocol.presumed_negatives.saturating_sub(negatives.len())
        } else {
            session.protocol.presumed_negatives
        };
        let mut presumed = Vec::new();
        if !uncoded.is_empty() {
            for _ in 0..wanted.min(uncoded.len()) {
                presumed.push(collection.items[uncoded[rng.below(uncoded.len())]]);
            }
        }
        let mut params = session.protocol.train;
        params.seed = rng.next_u64();
        let training = Training {
            session: session.id,
            through_item: collection.items.last().copied().unwrap_or(0),
            dedup: self.config.dedup.scope,
            features: config,
            params,
            seed_query: session.seed_query.clone(),
            positives,
            negatives,
            presumed,
        };
        let model = self.train_from(&collection, &training)?;
        let training_json =
            serde_json::to_string(&training).map_err(|e| Error::Internal(e.to_string()))?;
        let training_blake3 = blake3::hash(training_json.as_bytes()).to_hex().to_string();
        let weights_blake3 = weights_hash(&model);
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO learn_models (session_id, built_at, built_by, training, training_blake3, weights_blake3) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![session.id, crate::now_utc(), actor, training_json, training_blake3, weights_blake3],
        )?;
        let id = tx.last_insert_rowid();
        let record = ModelRecord {
            id,
            training_blake3: training_blake3.clone(),
            weights_blake3: weights_blake3.clone(),
            positives: (training.positives.len() + usize::from(training.seed_query.is_some()))
                as u64,
            negatives: training.negatives.len() as u64,
            presumed: training.presumed.len() as u64,
        };
        let mut log = crate::audit::Appender::new(&tx)?;
        log.push(
            &tx,
            &crate::audit::NewEntry {
                actor,
                action: "learn.model",
                detail: Some(serde_json::json!({
                    "session": session.id, "model": id, "training_blake3": training_blake3,
                    "weights_blake3": weights_blake3, "params": params, "features": config,
                    "positives": record.positives, "negatives": record.negatives, "presumed": record.presumed,
                })),
                ..Default::default()
            },
        )?;
        log.finish(&tx)?;
        tx.commit()?;
        Ok((collection, model, record, coded))
    }

    fn train_from(
        &self,
        collection: &Collection,
        training: &Training,
    ) -> Result<quarry_learn::Model> {
        let row_of: HashMap<u64, usize> =
            collection.items.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let seed =
            training.seed_query.as_deref().map(|q| collection.matrix.vector(q, &training.features));
        let rows = |ids: &[u64]| -> Result<Vec<quarry_learn::Example<'static>>> {
            ids.iter()
                .map(|id| {
                    row_of.get(id).map(|&r| quarry_learn::Example::Row(r)).ok_or_else(|| {
                        Error::Internal(format!(
                            "item {id} of the training set is not in the collection"
                        ))
                    })
                })
                .collect()
        };
        let mut positives = rows(&training.positives)?;
        if let Some(v) = &seed {
            positives.push(quarry_learn::Example::Vector(v));
        }
        let mut negatives = rows(&training.negatives)?;
        negatives.extend(rows(&training.presumed)?);
        if negatives.is_empty() {
            return Err(Error::Coding(
                "nothing to learn from: no document is coded or left to presume not relevant"
                    .into(),
            ));
        }
        quarry_learn::train(&collection.matrix, &positives, &negatives, &training.params).ok_or_else(|| {
            Error::Coding("nothing relevant to learn from yet: give a --seed-query to learn start, or code a relevant document".into())
        })
    }

    /// Builds a recorded model again from its training record and says whether the weights
    /// are the same, bit for bit: (recorded hash, rebuilt hash).
    pub fn learn_rebuild(&self, model: i64) -> Result<(String, String)> {
        let conn = self.reader()?;
        let (training, recorded): (String, String) =
            rusqlite::OptionalExtension::optional(conn.query_row(
                "SELECT training, weights_blake3 FROM learn_models WHERE id = ?1",
                [model],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ))?
            .ok_or_else(|| Error::Coding(format!("no model {model}")))?;
        let training: Training =
            serde_json::from_str(&training).map_err(|e| Error::Internal(e.to_string()))?;
        if !(1..=quarry_learn::features::VERSION).contains(&training.features.version) {
            return Err(Error::Coding(format!(
                "model {model} uses feature version {}, which this quarry does not know; rebuild it with the quarry that made it",
                training.features.version
            )));
        }
        let (counts, unreadable) = self.learn_counts(&training.features)?;
        if unreadable > 0 {
            return Err(Error::Coding(format!(
                "{unreadable} stored text(s) could not be read; model {model} cannot be rebuilt from them"
            )));
        }
        let (items, docs): (Vec<u64>, Vec<Counts>) =
            counts.into_iter().filter(|(id, _)| *id <= training.through_item).unzip();
        let matrix = Matrix::build(&docs, &training.features);
        let collection = Collection { items, matrix, config: training.features, unreadable };
        let rebuilt = self.train_from(&collection, &training)?;
        Ok((recorded, weights_hash(&rebuilt)))
    }
}

fn weights_hash(model: &quarry_learn::Model) -> String {
    let mut h = blake3::Hasher::new();
    for w in &model.weights {
        h.update(&w.to_le_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// The latest validation: its estimate once fully coded, else the sample pending (batch,
/// coded, size).
type Validation = (Option<quarry_learn::Elusion>, Option<(String, u64, u64)>);

/// Share of a prioritized batch drawn at random from the rest, in thousandths, for sessions
/// started before their protocol carried it (`explore_permille` 0): they drew a tenth.
const EARLIER_EXPLORE_PERMILLE: u32 = 100;

impl Case {
    /// The reviewer's unfinished batch, or else a new prioritized one: a model is trained on
    /// the coding so far (and recorded), the uncoded documents not in a batch are ranked, and
    /// the best `size` (with the protocol's share drawn at random from the rest, so the model
    /// also sees what it does not expect, and the running estimate has a sample) are checked
    /// out to the reviewer. With `keep_families`, each document's family comes along.
    pub fn batch_next_prioritized(
        &self,
        reviewer: &str,
        size: usize,
        keep_families: bool,
    ) -> Result<(crate::Batch, bool, Option<ModelRecord>)> {
        if reviewer.trim().is_empty() {
            return Err(Error::NoReviewer);
        }
        if size == 0 {
            return Err(Error::Batch("--size must be at least 1".into()));
        }
        if let Some(held) = self.current_batch(reviewer)? {
            return Ok((held, false, None));
        }
        let session = self.learn_session()?;
        let (collection, model, record, coded) = self.learn_model(reviewer)?;
        let conn = self.reader()?;
        let batched: HashSet<u64> = {
            let mut stmt = conn.prepare("SELECT item_id FROM batch_items WHERE level = 1")?;
            stmt.query_map([], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(i64::cast_unsigned))
                .collect::<Result<_, _>>()?
        };
        let open: Vec<usize> = (0..coded.len())
            .filter(|&i| coded[i].is_none() && !batched.contains(&collection.items[i]))
            .collect();
        if open.is_empty() {
            return Err(Error::Batch(
                "every document is coded or in a batch; nothing left to prioritize".into(),
            ));
        }
        // The seed query's prior, as the session's protocol sets it (sessions started before
        // it existed have none).
        let seeds: Vec<Sparse> = session
            .seed_query
            .as_deref()
            .map(|q| collection.matrix.vector(q, &collection.config))
            .into_iter()
            .collect();
        // With a fitted prior, each document handed out keeps its two standardized scores
        // (`ranked` in the batch's audit entry); once coded, they are what later batches fit
        // the prior's weight to.
        let history = if session.protocol.fits_prior(&seeds) {
            self.fit_history(&session, &collection.items, &coded)?
        } else {
            Vec::new()
        };
        let quarry_learn::cal::Ranking { scores, prior_weight: prior, pairs } =
            quarry_learn::cal::rank(
                &collection.matrix,
                &model,
                &seeds,
                &coded,
                &open,
                &session.protocol,
                &history,
            );
        let mut order: Vec<usize> = (0..open.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let mut protocol = session.protocol.clone();
        if protocol.explore_permille == 0 {
            protocol.explore_permille = EARLIER_EXPLORE_PERMILLE;
        }
        let explore = protocol.explored(size);
        // Positions in `open`, best first, then the draws.
        let mut chosen: Vec<usize> = order[..(size - explore).min(order.len())].to_vec();
        let rest = order.get(size - explore..).unwrap_or_default();
        let mut rng = quarry_learn::Rng::new(record.id as u64 ^ 0xe7);
        let mut explored = Vec::new();
        let mut explored_p = Vec::new();
        for (k, p) in quarry_learn::cal::draw_explored(
            rest.len(),
            explore,
            protocol.explore_rank_permille,
            &mut rng,
        ) {
            explored.push(collection.items[open[rest[k]]]);
            explored_p.push(p);
            chosen.push(rest[k]);
        }
        let picked: Vec<u64> = chosen.iter().map(|&k| collection.items[open[k]]).collect();
        let ranked: Vec<serde_json::Value> = if pairs.is_empty() {
            Vec::new()
        } else {
            chosen
                .iter()
                .map(|&k| serde_json::json!([collection.items[open[k]], pairs[k].0, pairs[k].1]))
                .collect()
        };
        let mut items: Vec<u64> = Vec::new();
        let mut seen = HashSet::new();
        let mut members = conn.prepare("SELECT m.id FROM items i JOIN items m ON m.doc_root_id = i.doc_root_id WHERE i.id = ?1 ORDER BY m.id")?;
        for id in picked {
            if keep_families {
                for m in members.query_map([id.cast_signed()], |r| r.get::<_, i64>(0))? {
                    let m = m?.cast_unsigned();
                    if !batched.contains(&m) && seen.insert(m) {
                        items.push(m);
                    }
                }
            } else if seen.insert(id) {
                items.push(id);
            }
        }
        drop(members);
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let number: i64 =
            tx.query_row("SELECT COUNT(*) FROM batches WHERE name GLOB 'PRI-[0-9]*'", [], |r| {
                r.get(0)
            })?;
        let name = format!("PRI-{:04}", number + 1);
        let now = crate::now_utc();
        let query = format!(
            "prioritized: {} = {} (session {}, model {})",
            session.field, session.positive, session.id, record.id
        );
        tx.execute(
            "INSERT INTO batches (name, query, level, custodian, created_at, created_by, assignee, checked_out_at) VALUES (?1, ?2, 1, NULL, ?3, ?4, ?4, ?3)",
            rusqlite::params![name, query, now, reviewer],
        )?;
        let batch_id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare("INSERT INTO batch_items (batch_id, position, item_id, level) VALUES (?1, ?2, ?3, 1)")?;
            for (k, id) in items.iter().enumerate() {
                insert.execute(rusqlite::params![batch_id, k as i64, id.cast_signed()])?;
            }
        }
        let mut detail = serde_json::json!({"batch": name, "query": query, "level": 1, "documents": items.len(), "prioritized": true, "model": record.id, "prior_weight": prior, "explored": explored, "explored_p": explored_p});
        if !ranked.is_empty() {
            detail["ranked"] = serde_json::Value::Array(ranked);
        }
        let mut log = crate::audit::Appender::new(&tx)?;
        log.push(
            &tx,
            &crate::audit::NewEntry {
                actor: reviewer,
                action: "batch.create",
                detail: Some(detail),
                ..Default::default()
            },
        )?;
        log.push(
            &tx,
            &crate::audit::NewEntry {
                actor: reviewer,
                action: "batch.checkout",
                detail: Some(serde_json::json!({"batch": name})),
                ..Default::default()
            },
        )?;
        log.finish(&tx)?;
        tx.commit()?;
        let batch = self
            .batches()?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| Error::Internal("batch vanished".into()))?;
        Ok((batch, true, Some(record)))
    }

    /// The audit details of the session's prioritized batches (`batch.create`), oldest first:
    /// those whose model the session built. Parsed straight into the fields the loop reads
    /// back: on a log of 1,000,000 entries with 47,620 such batches, parsing each whole into
    /// a JSON value took most of a second per prioritized batch.
    fn session_batches(&self, session: &LearnSession) -> Result<Vec<BatchRecord>> {
        let conn = self.reader()?;
        let models: HashSet<u64> = {
            let mut stmt = conn.prepare("SELECT id FROM learn_models WHERE session_id = ?1")?;
            stmt.query_map([session.id], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(i64::cast_unsigned))
                .collect::<Result<_, _>>()?
        };
        let mut stmt =
            conn.prepare("SELECT detail FROM audit WHERE action = 'batch.create' ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            // Borrowed, not copied into a String: the details are most of what is read.
            let detail = row.get_ref(0)?.as_bytes().map_err(rusqlite::Error::from)?;
            let record: BatchRecord = serde_json::from_slice(detail).unwrap_or_default();
            if record.model.is_some_and(|m| models.contains(&m)) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// What a fitted prior fits to ([`quarry_learn::cal::fitted_ranking`]): each coded
    /// document that a prioritized batch of the session handed out, with the model's and the
    /// seed query's standardized scores recorded when it was ranked (its latest batch's, if
    /// it was handed out twice), in collection order. Documents coded by other routes (search,
    /// validation samples) have no such scores and take no part.
    fn fit_history(
        &self,
        session: &LearnSession,
        items: &[u64],
        coded: &[Option<bool>],
    ) -> Result<Vec<((f32, f32), bool)>> {
        let mut ranked: HashMap<u64, (f32, f32)> = HashMap::new();
        for record in self.session_batches(session)? {
            for (id, zm, zk) in record.ranked {
                if let (Some(zm), Some(zk)) = (zm, zk) {
                    ranked.insert(id, (zm as f32, zk as f32));
                }
            }
        }
        Ok(items.iter().zip(coded).filter_map(|(id, c)| Some((*ranked.get(id)?, (*c)?))).collect())
    }

    /// Where the prioritized review stands: reviewed, found, the gain curve in review order,
    /// the knee rule, and the latest validation.
    pub fn learn_status(&self) -> Result<LearnStatus> {
        let session = self.learn_session()?;
        let collection = self.learn_collection(&session.protocol.features())?;
        let coded = self.coded_rows(&session, &collection.items)?;
        let in_collection: HashSet<u64> = collection.items.iter().copied().collect();
        let relevant: HashMap<u64, bool> =
            collection.items.iter().zip(&coded).filter_map(|(id, c)| c.map(|c| (*id, c))).collect();
        // Review order: each document's first decision on the field, in the log's order.
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT item_id FROM audit WHERE action = 'code' AND field = ?1 ORDER BY seq",
        )?;
        let mut seen = HashSet::new();
        let mut gain = Vec::new();
        let mut found = 0;
        for row in stmt.query_map([&session.field], |r| r.get::<_, Option<i64>>(0))? {
            let Some(id) = row? else { continue };
            let id = id.cast_unsigned();
            if !in_collection.contains(&id) || !relevant.contains_key(&id) || !seen.insert(id) {
                continue;
            }
            found += u64::from(relevant[&id]);
            gain.push(found);
        }
        let (stop, rho, at) = quarry_learn::knee(&gain);
        let models: i64 = conn.query_row(
            "SELECT COUNT(*) FROM learn_models WHERE session_id = ?1",
            [session.id],
            |r| r.get(0),
        )?;
        let (validation, pending_sample) = self.validation_state(&session)?;
        let documents = collection.items.len() as u64;
        let estimated_prevalence = validation
            .as_ref()
            .map(|v| (v.found as f64 + v.estimated_missed) / documents.max(1) as f64);
        // The exploration draws of this session's prioritized batches, as coded now, each
        // with the probability it was drawn with where the batch recorded one.
        let mut draws: Vec<(bool, Option<f64>)> = Vec::new();
        for record in self.session_batches(&session)? {
            for (k, id) in record.explored.iter().enumerate() {
                if let Some(&r) = relevant.get(id) {
                    let p = record.explored_p.get(k).copied().flatten();
                    draws.push((r, p.filter(|&p| p > 0.0)));
                }
            }
        }
        let found_now = relevant.values().filter(|&&r| r).count() as u64;
        let not_reviewed = documents - relevant.len() as u64;
        let running = (!draws.is_empty()).then(|| {
            let (rate, low, high) = quarry_learn::cal::running_interval(&draws);
            let recall_at = |rate: f64| {
                let missed = rate * not_reviewed as f64;
                if found_now == 0 && missed == 0.0 {
                    1.0
                } else {
                    found_now as f64 / (found_now as f64 + missed)
                }
            };
            let missed = rate * not_reviewed as f64;
            let prevalence_at = |rate: f64| {
                (found_now as f64 + rate * not_reviewed as f64) / documents.max(1) as f64
            };
            RunningEstimate {
                drawn: draws.len() as u64,
                relevant: draws.iter().filter(|d| d.0).count() as u64,
                estimated_missed: missed,
                recall: recall_at(rate),
                recall_low: recall_at(high),
                recall_high: recall_at(low),
                prevalence: prevalence_at(rate),
                prevalence_low: prevalence_at(low),
                prevalence_high: prevalence_at(high),
            }
        });
        Ok(LearnStatus {
            documents,
            reviewed: relevant.len() as u64,
            relevant_found: relevant.values().filter(|&&r| r).count() as u64,
            gain,
            stop,
            knee: (rho, at),
            models: models.cast_unsigned(),
            validation,
            pending_sample,
            estimated_prevalence,
            running,
            unreadable_texts: collection.unreadable,
            session,
        })
    }

    fn validation_state(&self, session: &LearnSession) -> Result<Validation> {
        let conn = self.reader()?;
        let latest: Option<(String, i64, i64)> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT batch, discard, found FROM learn_samples WHERE session_id = ?1 ORDER BY id DESC LIMIT 1",
            [session.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        ))?;
        let Some((batch, discard, found)) = latest else { return Ok((None, None)) };
        let docs = self.batch_documents(&batch)?;
        let ids: Vec<u64> = docs.iter().map(|d| d.0).collect();
        let coded = self.coded_rows(session, &ids)?;
        let done = coded.iter().filter(|c| c.is_some()).count() as u64;
        if done < ids.len() as u64 {
            return Ok((None, Some((batch, done, ids.len() as u64))));
        }
        let hits = coded.iter().filter(|c| **c == Some(true)).count() as u64;
        Ok((
            Some(quarry_learn::elusion(
                found.cast_unsigned(),
                discard.cast_unsigned(),
                ids.len() as u64,
                hits,
            )),
            None,
        ))
    }

    /// Draws an elusion sample of `size` documents at random from those not coded for the
    /// question (the discard pile) into a batch (`VAL-0001`, review level 3) for blind coding;
    /// once all of it is coded, `learn status` reports the recall it implies.
    pub fn learn_validate(&self, actor: &str, size: usize) -> Result<(crate::Batch, u64)> {
        let session = self.learn_session()?;
        if let (_, Some((batch, done, n))) = self.validation_state(&session)? {
            return Err(Error::Batch(format!(
                "sample {batch} is not fully coded yet ({done} of {n}); code it first"
            )));
        }
        let collection = self.learn_collection(&session.protocol.features())?;
        let coded = self.coded_rows(&session, &collection.items)?;
        let discard: Vec<u64> = collection
            .items
            .iter()
            .zip(&coded)
            .filter(|(_, c)| c.is_none())
            .map(|(id, _)| *id)
            .collect();
        if discard.is_empty() || size == 0 {
            return Err(Error::Batch("no uncoded document left to sample".into()));
        }
        let found = coded.iter().filter(|c| **c == Some(true)).count() as u64;
        let conn = self.reader()?;
        let samples: i64 =
            conn.query_row("SELECT COUNT(*) FROM learn_samples", [], |r| r.get(0))?;
        let mut rng = quarry_learn::Rng::new(
            0x5a_u64 << 40 | (session.id as u64) << 20 | (samples as u64 + 1),
        );
        let mut pool = discard.clone();
        rng.shuffle(&mut pool);
        pool.truncate(size);
        pool.sort_unstable();
        let mut conn = crate::connect(&self.dir.join(crate::DB_FILE), false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let name = format!("VAL-{:04}", samples + 1);
        let now = crate::now_utc();
        tx.execute(
            "INSERT INTO batches (name, query, level, custodian, created_at, created_by) VALUES (?1, ?2, 3, NULL, ?3, ?4)",
            rusqlite::params![name, format!("elusion sample of {} (session {})", discard.len(), session.id), now, actor],
        )?;
        let batch_id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare("INSERT OR IGNORE INTO batch_items (batch_id, position, item_id, level) VALUES (?1, ?2, ?3, 3)")?;
            for (k, id) in pool.iter().enumerate() {
                insert.execute(rusqlite::params![batch_id, k as i64, id.cast_signed()])?;
            }
        }
        tx.execute(
            "INSERT INTO learn_samples (session_id, batch, drawn_at, discard, found) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![session.id, name, now, discard.len() as i64, found as i64],
        )?;
        let mut log = crate::audit::Appender::new(&tx)?;
        log.push(&tx, &crate::audit::NewEntry {
            actor,
            action: "learn.validate",
            detail: Some(serde_json::json!({"session": session.id, "batch": name, "sample": pool.len(), "discard": discard.len(), "found": found})),
            ..Default::default()
        })?;
        log.finish(&tx)?;
        tx.commit()?;
        let batch = self
            .batches()?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| Error::Internal("batch vanished".into()))?;
        Ok((batch, discard.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_records_read_what_the_loop_needs_and_tolerate_gaps() {
        let detail = r#"{"batch":"PRI-0002","documents":3,"explored":[9],"explored_p":[null],
            "level":1,"model":4,"prior_weight":0.5,"prioritized":true,"query":"q",
            "ranked":[[7,1.5,-0.25],[8,null,0.5],[9,0.125,2.0]]}"#;
        let record: BatchRecord = serde_json::from_str(detail).unwrap();
        assert_eq!(record.model, Some(4));
        assert_eq!(record.explored, vec![9]);
        assert_eq!(record.explored_p, vec![None]);
        assert_eq!(
            record.ranked,
            vec![(7, Some(1.5), Some(-0.25)), (8, None, Some(0.5)), (9, Some(0.125), Some(2.0))]
        );
        // A batch cut by query, before the loop recorded draws or scores: no model, nothing.
        let plain: BatchRecord =
            serde_json::from_str(r#"{"batch":"B-0001","query":"*","documents":5}"#).unwrap();
        assert_eq!(plain.model, None);
        assert!(plain.explored.is_empty() && plain.ranked.is_empty());
    }

    #[test]
    fn counts_files_keep_their_feature_version() {
        let config = FeatureConfig::default();
        let counts: BTreeMap<u64, Counts> =
            [(3, vec![(1, 2), (9, 1)]), (7, Vec::new())].into_iter().collect();
        let (read, map) = decode_counts(&encode_counts(&config, &counts)).expect("decodes");
        assert_eq!((read, &map), (config, &counts));
        // A file of the first release: no version after the magic, so version 1.
        let mut old = b"QLCOUNT1".to_vec();
        old.extend_from_slice(&20u32.to_le_bytes());
        old.push(0);
        old.extend_from_slice(&2u32.to_le_bytes());
        old.extend_from_slice(&0u64.to_le_bytes());
        let (read, map) = decode_counts(&old).expect("decodes");
        assert_eq!(read, FeatureConfig { version: 1, ..config });
        assert!(map.is_empty());
        assert!(decode_counts(b"QLCOUNT9").is_none());
        let newer = FeatureConfig { version: quarry_learn::features::VERSION + 1, ..config };
        assert!(decode_counts(&encode_counts(&newer, &counts)).is_none());
        // Training records written before the field existed read as version 1.
        let json = r#"{"bits":20,"pairs":false,"min_df":2}"#;
        let parsed: FeatureConfig = serde_json::from_str(json).expect("parses");
        assert_eq!(parsed.version, 1);
    }
}
