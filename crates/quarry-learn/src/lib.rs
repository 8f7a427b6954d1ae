//! Continuous active learning (CAL): rank the documents not yet reviewed by predicted
//! relevance, learn from every coding decision, and say when enough has been found.
//!
//! - [`features`]: hashed tf-idf over words, L2-normalized; counts are read from text once and
//!   stored by the case, weights are derived from them.
//! - [`model`]: logistic regression trained by Pegasos on relevant/non-relevant pairs, as the
//!   BMI baseline does; deterministic; parallel scoring.
//! - [`cal`]: the review loop (seed, presumed negatives, growing batches), simulation over
//!   known labels, and the effort to reach a recall.
//! - [`stats`]: the knee stopping rule, the elusion estimate of recall, and paired
//!   differences between protocols.
//!
//! No I/O here: `quarry-case` stores the features and the review, this crate computes.

pub mod cal;
pub mod features;
pub mod model;
pub mod stats;

pub use cal::{Protocol, State, effort, keyword_order, next_batch, random_order, simulate};
pub use features::{Counter, Counts, FeatureConfig, Matrix, Sparse, count};
pub use model::{Example, Model, Rng, TextScorer, TrainParams, train};
pub use stats::{Elusion, elusion, knee, paired, wilson};
