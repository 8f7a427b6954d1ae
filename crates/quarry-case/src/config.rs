//! `case.toml`: the settings of one case.

use quarry_types::{DedupScope, Limits};
use serde::{Deserialize, Serialize};

/// The version of the `case.toml` layout this build reads and writes.
pub const CONFIG_FORMAT: u32 = 1;

/// Settings of a case, stored in `case.toml` at its root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseConfig {
    /// Layout version of this file.
    pub format: u32,
    /// The case's name (matter name), for reports.
    pub name: String,
    /// When the case was created (UTC).
    pub created: String,
    /// Prefix of control numbers (`DOC` gives `DOC-00000001`).
    pub control_prefix: String,
    /// Digits of the control number's zero-padded ordinal.
    pub control_digits: usize,
    /// Deduplication settings.
    #[serde(default)]
    pub dedup: DedupConfig,
    /// Hashing settings.
    #[serde(default)]
    pub hashes: HashConfig,
    /// Limits applied to every input.
    #[serde(default)]
    pub limits: Limits,
    /// Full-text index settings.
    #[serde(default)]
    pub index: IndexConfig,
}

/// Full-text index settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// Index items during ingest, as they are committed (the default). Off, ingest runs at
    /// its storage speed and the first search (or `quarry reindex`) indexes what is missing;
    /// a search never runs on an index that is behind the case without saying so.
    pub at_ingest: bool,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig { at_ingest: true }
    }
}

/// Deduplication settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupConfig {
    /// The default view: which instance of duplicated content is its master. Only a view:
    /// every instance is kept, and switching it reprocesses nothing.
    pub scope: DedupScope,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig { scope: DedupScope::Global }
    }
}

/// Hashing settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashConfig {
    /// Compute MD5 and SHA-1 while ingesting. Off by default: on the 1 GB ingest benchmark
    /// they cut throughput to 0.77x on disk and 0.66x on tmpfs; they are computed on demand
    /// from the stored natives instead (`quarry hashes`, exports). See docs/BENCHMARKS.md.
    pub legacy_at_ingest: bool,
}

impl CaseConfig {
    /// Settings of a new case.
    #[must_use]
    pub fn new(name: &str, created: String) -> Self {
        CaseConfig {
            format: CONFIG_FORMAT,
            name: name.to_owned(),
            created,
            control_prefix: "DOC".into(),
            control_digits: 8,
            dedup: DedupConfig::default(),
            hashes: HashConfig::default(),
            limits: Limits::default(),
            index: IndexConfig::default(),
        }
    }

    /// The control number for an item ordinal: `DOC-00000001`.
    #[must_use]
    pub fn control_number(&self, ordinal: i64) -> String {
        format!("{}-{:0width$}", self.control_prefix, ordinal, width = self.control_digits)
    }

    /// The file's text, with a header saying what it is.
    pub fn to_toml(&self) -> crate::Result<String> {
        let body = toml::to_string(self).map_err(|e| crate::Error::Config(e.to_string()))?;
        Ok(format!(
            "# quarry case settings. Limits are in bytes and seconds; see docs/CASE.md.\n\
             # dedup.scope is a view (none | custodial | global), switchable at any time.\n\n{body}"
        ))
    }
}
