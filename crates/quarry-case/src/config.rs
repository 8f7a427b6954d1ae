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
    /// The coding layout reviewers fill in (`quarry review code`).
    #[serde(default)]
    pub coding: CodingLayout,
    /// Export settings.
    #[serde(default)]
    pub exports: ExportConfig,
}

/// Export settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// The time zone privilege logs, load files and chronologies give dates in: an IANA name
    /// (`America/New_York`), as the ESI protocol says. Dates are stored in UTC either way
    /// ([`crate::ExportZone`]).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// The fields of a production's DAT, in order: catalog names (docs/EXPORTS.md), each
    /// optionally under another column name (`"DATESENT=Date Sent"`).
    #[serde(default = "default_dat_fields")]
    pub dat_fields: Vec<String>,
}

fn utc() -> String {
    "UTC".into()
}

fn default_dat_fields() -> Vec<String> {
    crate::dat::DEFAULT_DAT_FIELDS.iter().map(|f| (*f).to_owned()).collect()
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig { time_zone: utc(), dat_fields: default_dat_fields() }
    }
}

impl ExportConfig {
    /// Checks the time zone and the DAT fields.
    pub fn check(&self) -> Result<(), String> {
        crate::ExportZone::named(&self.time_zone)?;
        crate::dat::columns(&self.dat_fields)?;
        Ok(())
    }
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
            coding: CodingLayout::default(),
            exports: ExportConfig::default(),
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
             # dedup.scope is a view (none | custodial | global), switchable at any time.\n\
             # [[coding.fields]] is the coding layout of `quarry review`; see docs/REVIEW.md.\n\
             # exports.time_zone is the IANA time zone exports give dates in, exports.dat_fields\n\
             # the fields of a production's load file; see docs/EXPORTS.md.\n\n{body}"
        ))
    }
}

/// The coding layout: the fields a reviewer fills in, in the order they are shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodingLayout {
    /// The fields.
    pub fields: Vec<FieldDef>,
}

/// One coding field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// Name used on the command line (`--set privilege=work-product`) and in queries
    /// (`tag:"privilege:work-product"`).
    pub name: String,
    /// What the reviewer's screen calls it.
    pub label: String,
    /// What values it takes.
    pub kind: FieldKind,
    /// The allowed values of a `choice` or `multi` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// With `--family`, a value set on one document is set on its whole family.
    #[serde(default)]
    pub family: bool,
    /// A document counts as reviewed once every required field has a value.
    #[serde(default)]
    pub required: bool,
    /// The field must have a value whenever another field has one of the listed values
    /// (a privilege basis whenever the privilege call is a privilege).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_when: Option<Condition>,
}

/// "Field `field` has one of `any_of`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The other field (a `choice` or `multi` field).
    pub field: String,
    /// Its values that make this field required.
    pub any_of: Vec<String>,
}

/// The kinds of coding field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    /// One value of `choices`.
    Choice,
    /// Any number of values of `choices`.
    Multi,
    /// Yes or no.
    Flag,
    /// Free text.
    Text,
}

impl Default for CodingLayout {
    /// The layout `init` writes: responsiveness, privilege with its basis and treatment,
    /// issues, hot, confidentiality and a note.
    fn default() -> Self {
        let privileged = || {
            Some(Condition {
                field: "privilege".into(),
                any_of: vec!["attorney-client".into(), "work-product".into(), "both".into()],
            })
        };
        let field = |name: &str, label: &str, kind: FieldKind, choices: &[&str]| FieldDef {
            name: name.into(),
            label: label.into(),
            kind,
            choices: choices.iter().map(|c| (*c).to_owned()).collect(),
            family: false,
            required: false,
            required_when: None,
        };
        CodingLayout {
            fields: vec![
                FieldDef {
                    family: true,
                    required: true,
                    ..field(
                        "responsiveness",
                        "Responsiveness",
                        FieldKind::Choice,
                        &["responsive", "not-responsive", "needs-further-review"],
                    )
                },
                FieldDef {
                    family: true,
                    ..field(
                        "privilege",
                        "Privilege",
                        FieldKind::Choice,
                        &["attorney-client", "work-product", "both", "not-privileged"],
                    )
                },
                FieldDef {
                    family: true,
                    required_when: privileged(),
                    ..field("privilege_basis", "Privilege basis", FieldKind::Text, &[])
                },
                FieldDef {
                    family: true,
                    required_when: privileged(),
                    ..field(
                        "privilege_treatment",
                        "Withhold or redact",
                        FieldKind::Choice,
                        &["withhold", "redact"],
                    )
                },
                field("privilege_description", "Log description", FieldKind::Text, &[]),
                field("issues", "Issues", FieldKind::Multi, &[]),
                field("hot", "Hot", FieldKind::Flag, &[]),
                field(
                    "confidentiality",
                    "Confidentiality",
                    FieldKind::Choice,
                    &["confidential", "highly-confidential", "not-designated"],
                ),
                field("note", "Note", FieldKind::Text, &[]),
            ],
        }
    }
}

impl CodingLayout {
    /// The field called `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks the layout: unique names of lower-case letters, digits, `_` and `-`; choices
    /// without commas, unique; conditions on existing choice fields and their values.
    pub fn check(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for field in &self.fields {
            let name = &field.name;
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return Err(format!(
                    "coding field {name:?}: names are lower-case letters, digits, _ and -"
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(format!("coding field {name:?} is defined twice"));
            }
            let mut seen = std::collections::HashSet::new();
            for choice in &field.choices {
                if choice.is_empty() || choice.contains([',', '\n']) || choice.trim() != choice {
                    return Err(format!(
                        "coding field {name:?}: choice {choice:?} must be non-empty, without commas, line breaks or outer spaces"
                    ));
                }
                if !seen.insert(choice.as_str()) {
                    return Err(format!(
                        "coding field {name:?}: choice {choice:?} is listed twice"
                    ));
                }
            }
            match field.kind {
                FieldKind::Choice if field.choices.is_empty() => {
                    return Err(format!("coding field {name:?} is a choice without choices"));
                }
                FieldKind::Flag | FieldKind::Text if !field.choices.is_empty() => {
                    return Err(format!(
                        "coding field {name:?}: only choice and multi fields take choices"
                    ));
                }
                _ => {}
            }
        }
        for field in &self.fields {
            if let Some(when) = &field.required_when {
                let Some(other) = self.field(&when.field) else {
                    return Err(format!(
                        "coding field {:?}: required_when names no field {:?}",
                        field.name, when.field
                    ));
                };
                if let Some(bad) = when.any_of.iter().find(|v| !other.choices.contains(v)) {
                    return Err(format!(
                        "coding field {:?}: required_when: {:?} is not a choice of {:?}",
                        field.name, bad, other.name
                    ));
                }
            }
        }
        Ok(())
    }
}
