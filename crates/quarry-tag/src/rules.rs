//! The rules file: the privilege screen, boilerplate settings and the relevance issues.
//!
//! ```toml
//! [privilege]
//! threshold = 4                      # score at which a document is suggested privileged
//! phrases = ["privileged and confidential", "attorney-client", "work product"]
//! terms = ["attorney*", "counsel"]   # generic words: weak evidence alone
//!
//! [[privilege.attorney]]
//! name = "Richard B. Sanders"        # also matched as "Richard Sanders", "Sanders, Richard"
//! variants = ["Rick Sanders", "rsanders"]
//! emails = ["richard.sanders@enron.com"]
//!
//! [[privilege.firm]]
//! name = "Vinson & Elkins"
//! variants = ["Vinson and Elkins"]
//! domains = ["velaw.com"]
//!
//! [boilerplate]
//! min_documents = 10                 # a paragraph in this many documents is boilerplate
//! min_words = 8                      # shorter paragraphs are never boilerplate
//!
//! [[issue]]
//! name = "california"
//! terms = ["price cap", "FERC", "rolling blackout*"]
//! queries = ["california w/5 (crisis OR emergency)"]
//! ```

use serde::{Deserialize, Serialize};

use crate::matcher::{MAX_WORDS, Pattern};
use crate::{Error, Result};

/// A rules file as written.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The privilege screen.
    #[serde(default)]
    pub privilege: Privilege,
    /// Boilerplate detection.
    #[serde(default)]
    pub boilerplate: Boilerplate,
    /// Relevance issues.
    #[serde(default, rename = "issue")]
    pub issues: Vec<Issue>,
}

/// The privilege screen.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Privilege {
    /// Score at which a document is suggested privileged.
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    /// What each kind of hit adds to the score (each rule counts once per document, at its
    /// strongest hit).
    #[serde(default)]
    pub weights: Weights,
    /// Attorneys, in-house and outside.
    #[serde(default, rename = "attorney")]
    pub attorneys: Vec<Attorney>,
    /// Law firms.
    #[serde(default, rename = "firm")]
    pub firms: Vec<Firm>,
    /// Privilege phrases: strong evidence.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Generic legal words: weak evidence.
    #[serde(default)]
    pub terms: Vec<String>,
}

impl Default for Privilege {
    fn default() -> Self {
        Privilege {
            threshold: default_threshold(),
            weights: Weights::default(),
            attorneys: Vec::new(),
            firms: Vec::new(),
            phrases: Vec::new(),
            terms: Vec::new(),
        }
    }
}

fn default_threshold() -> u32 {
    4
}

/// Score weights.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// An attorney in From, To, Cc or Bcc.
    pub attorney_header: u32,
    /// An attorney named in the subject or text.
    pub attorney_text: u32,
    /// A firm (name or domain) in From, To, Cc or Bcc.
    pub firm_header: u32,
    /// A firm named in the subject or text.
    pub firm_text: u32,
    /// A privilege phrase.
    pub phrase: u32,
    /// A generic legal word.
    pub term: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            attorney_header: 4,
            attorney_text: 2,
            firm_header: 4,
            firm_text: 2,
            phrase: 4,
            term: 1,
        }
    }
}

/// An attorney.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Attorney {
    /// Full name, as `First [Middle] Last`.
    pub name: String,
    /// Other forms of the name (nicknames, user names, `Last, First` spellings).
    #[serde(default)]
    pub variants: Vec<String>,
    /// Email addresses (matched with their punctuation).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Also match `First Last` and `Last, First` made from `name` (default true).
    #[serde(default = "yes")]
    pub name_forms: bool,
}

/// A law firm.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Firm {
    /// Its name.
    pub name: String,
    /// Other forms of the name.
    #[serde(default)]
    pub variants: Vec<String>,
    /// Email and web domains (`velaw.com` also matches `mail.velaw.com`).
    #[serde(default)]
    pub domains: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Boilerplate detection settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Boilerplate {
    /// A paragraph found in at least this many documents (duplicates counted once) is
    /// boilerplate; 0 turns detection off.
    pub min_documents: u32,
    /// Paragraphs with fewer words are never boilerplate.
    pub min_words: u32,
}

impl Default for Boilerplate {
    fn default() -> Self {
        Boilerplate { min_documents: 10, min_words: 8 }
    }
}

/// A relevance issue.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    /// Its name: letters, digits, `-`, `_`, `/`, `.`; the tag is `suggest:issue/<name>`.
    pub name: String,
    /// Words and phrases (a trailing `*` on one word matches every word starting with it).
    #[serde(default)]
    pub terms: Vec<String>,
    /// Queries in the search syntax; run against the index.
    #[serde(default)]
    pub queries: Vec<String>,
    /// Distinct terms a document must hit to be suggested (default 1).
    #[serde(default = "one")]
    pub min_terms: u32,
}

fn one() -> u32 {
    1
}

/// What a rule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// An attorney (any of their forms).
    Attorney,
    /// A law firm (name or domain).
    Firm,
    /// A privilege phrase.
    Phrase,
    /// A generic legal word.
    Term,
    /// A term of a relevance issue.
    Issue,
}

/// One rule: what a hit is counted as.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    /// Kind.
    pub kind: RuleKind,
    /// Its label: the attorney's or firm's name, the phrase, or the issue term.
    pub name: String,
    /// For an issue term, the issue's position in [`Rules::issues`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<u32>,
}

impl Rule {
    /// The rule as shown: `attorney:Richard B. Sanders`, `issue/california:price cap`.
    #[must_use]
    pub fn label(&self, rules: &Rules) -> String {
        match (self.kind, self.issue) {
            (RuleKind::Issue, Some(i)) => {
                format!("issue/{}:{}", rules.issues[i as usize].name, self.name)
            }
            (kind, _) => format!("{}:{}", kind.as_str(), self.name),
        }
    }
}

impl RuleKind {
    /// Its name in labels.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Attorney => "attorney",
            RuleKind::Firm => "firm",
            RuleKind::Phrase => "phrase",
            RuleKind::Term => "term",
            RuleKind::Issue => "issue",
        }
    }

    /// Whether hits of this kind count towards privilege.
    #[must_use]
    pub fn is_privilege(self) -> bool {
        self != RuleKind::Issue
    }
}

impl Rules {
    /// Reads and checks a rules file.
    pub fn from_toml(text: &str) -> Result<Rules> {
        let rules = Rules::parse(text)?;
        rules.compile()?;
        Ok(rules)
    }

    /// Reads a rules file without checking its terms ([`crate::Classifier::new`] checks them
    /// as it compiles them).
    pub fn parse(text: &str) -> Result<Rules> {
        toml::from_str(text).map_err(|e| Error::Rules(e.to_string()))
    }

    /// The rules and the patterns that hit them (`patterns[i]` counts for rule `owners[i]`).
    /// Refuses, with the offending entry named, a term with no words, one of more than
    /// [`MAX_WORDS`] words, a wildcard that is not one word of three letters or more, an
    /// unusable issue name, and duplicate issue names.
    pub fn compile(&self) -> Result<(Vec<Rule>, Vec<Pattern>, Vec<u32>)> {
        let mut out = Compiler::default();
        for a in &self.privilege.attorneys {
            let rule = out.rule(RuleKind::Attorney, &a.name, None);
            if a.name_forms {
                for form in name_forms(&a.name) {
                    out.pattern(rule, &form, false, "attorney name")?;
                }
            } else {
                out.pattern(rule, &a.name, false, "attorney name")?;
            }
            for v in &a.variants {
                out.pattern(rule, v, false, "attorney variant")?;
            }
            for e in &a.emails {
                out.pattern(rule, e, true, "attorney email")?;
            }
        }
        for f in &self.privilege.firms {
            let rule = out.rule(RuleKind::Firm, &f.name, None);
            out.pattern(rule, &f.name, false, "firm name")?;
            for v in &f.variants {
                out.pattern(rule, v, false, "firm variant")?;
            }
            for d in &f.domains {
                out.pattern(rule, d.trim_start_matches('@'), true, "firm domain")?;
            }
        }
        for p in &self.privilege.phrases {
            let rule = out.rule(RuleKind::Phrase, p, None);
            out.pattern(rule, p, false, "privilege phrase")?;
        }
        for t in &self.privilege.terms {
            let rule = out.rule(RuleKind::Term, t, None);
            out.pattern(rule, t, false, "privilege term")?;
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, issue) in self.issues.iter().enumerate() {
            let ok = !issue.name.is_empty()
                && issue
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'));
            if !ok {
                return Err(Error::Rules(format!(
                    "issue name {:?}: use letters, digits, '-', '_', '/' and '.' (it becomes the tag suggest:issue/<name>)",
                    issue.name
                )));
            }
            if !names.insert(issue.name.as_str()) {
                return Err(Error::Rules(format!("issue {:?} is defined twice", issue.name)));
            }
            if issue.terms.is_empty() && issue.queries.is_empty() {
                return Err(Error::Rules(format!(
                    "issue {:?} has no terms and no queries",
                    issue.name
                )));
            }
            for t in &issue.terms {
                let rule = out.rule(RuleKind::Issue, t, Some(i as u32));
                out.pattern(rule, t, false, "issue term")?;
            }
        }
        Ok((out.rules, out.patterns, out.owners))
    }
}

#[derive(Default)]
struct Compiler {
    rules: Vec<Rule>,
    patterns: Vec<Pattern>,
    owners: Vec<u32>,
    seen: std::collections::HashSet<(u32, Pattern)>,
}

impl Compiler {
    fn rule(&mut self, kind: RuleKind, name: &str, issue: Option<u32>) -> u32 {
        self.rules.push(Rule { kind, name: name.trim().to_owned(), issue });
        (self.rules.len() - 1) as u32
    }

    fn pattern(&mut self, rule: u32, term: &str, exact: bool, what: &str) -> Result<()> {
        let Some(pattern) = Pattern::parse(term, exact) else {
            return Err(Error::Rules(format!("{what} {term:?} has no words")));
        };
        if pattern.words.len() > MAX_WORDS {
            return Err(Error::Rules(format!(
                "{what} {term:?} has {} words; at most {MAX_WORDS}",
                pattern.words.len()
            )));
        }
        if pattern.prefix && (pattern.words.len() > 1 || pattern.words[0].len() < 3) {
            return Err(Error::Rules(format!(
                "{what} {term:?}: a wildcard ends one word of at least three letters (attorney*)"
            )));
        }
        if term.trim_end_matches('*').contains(['*', '?']) {
            return Err(Error::Rules(format!(
                "{what} {term:?}: only a trailing * is supported in rules; use a query for other wildcards"
            )));
        }
        // The same words twice in one rule would count twice.
        if !self.seen.insert((rule, pattern.clone())) {
            return Ok(());
        }
        self.patterns.push(pattern);
        self.owners.push(rule);
        Ok(())
    }
}

/// The forms an attorney's name is written in: as given, `First Last` and `Last, First` (the
/// latter also matches `Last, First M.`, since a pattern is matched wherever its words are).
fn name_forms(name: &str) -> Vec<String> {
    let words: Vec<&str> = name.split_whitespace().collect();
    let mut forms = vec![name.to_owned()];
    if words.len() >= 2 {
        let (first, last) = (words[0], words[words.len() - 1]);
        forms.push(format!("{first} {last}"));
        forms.push(format!("{last}, {first}"));
    }
    forms
}
