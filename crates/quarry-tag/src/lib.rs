//! The tagging pipeline's core: the privilege screen and relevance rules, matched at word
//! granularity, with boilerplate set aside.
//!
//! - [`Rules`]: the rules file (TOML): attorneys with their name forms and addresses, law
//!   firms with their domains, privilege phrases and generic terms, boilerplate settings, and
//!   relevance issues.
//! - [`Classifier`]: rules compiled once ([`Matcher`]), shared by every thread; `scan` finds
//!   the hits in one text, `decide` scores it once the collection's boilerplate is known
//!   ([`Paragraphs`]).
//!
//! Nothing here reads or writes a case: the case crate feeds texts in parallel and stores
//! the outcome.
//!
//! # Example
//! ```
//! use quarry_tag::{Classifier, Rules, Scratch};
//! let rules = Rules::from_toml(r#"
//!     [privilege]
//!     phrases = ["attorney-client"]
//!     [[privilege.attorney]]
//!     name = "Richard B. Sanders"
//! "#)?;
//! let classifier = Classifier::new(&rules)?;
//! let text = "To: Sanders, Richard <richard.sanders@enron.com>\n\nSee my note.\n";
//! let scan = classifier.scan(text, true, &mut Scratch::default());
//! let decision = classifier.decide(&scan.hits, |_| false);
//! assert!(decision.privileged);
//! assert_eq!(decision.tags(&rules), ["suggest:privileged"]);
//! # Ok::<(), quarry_tag::Error>(())
//! ```

mod classify;
pub mod matcher;
mod rules;

pub use classify::{
    Classifier, Decision, Hit, PRIVILEGED_TAG, Paragraphs, RuleHits, Scan, Scratch, Zone, issue_tag,
};
pub use matcher::{Matcher, Pattern};
pub use rules::{Attorney, Boilerplate, Firm, Issue, Privilege, Rule, RuleKind, Rules, Weights};

/// Errors of the tagging rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The rules file is not valid; the message names the entry.
    #[error("rules: {0}")]
    Rules(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
