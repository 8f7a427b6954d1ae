//! Command-line arguments. The doc comments are the help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use quarry_types::DedupScope;
use std::path::PathBuf;

/// quarry: e-discovery processing and review.
///
/// Turn a custodian's collection into a reviewable case, accounting for every file.
#[derive(Debug, Parser)]
#[command(name = "quarry", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The case folder (default: the current folder).
    #[arg(long, global = true, env = "QUARRY_CASE", value_name = "DIR")]
    pub(crate) case: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new case folder.
    Init(InitArgs),
    /// Ingest files, folders and archives into the case for one custodian.
    ///
    /// Every file is accounted for: it becomes an item (a duplicate is still an item, with its
    /// own custodian and path), or an exception with its reason. Running the same ingest again
    /// adds nothing; a run that was killed resumes where it stopped.
    ///
    /// Exit status: 0 when clean, 1 when this run recorded exceptions (see `quarry report
    /// exceptions`), 2 on a fatal error.
    Ingest(IngestArgs),
    /// Reports on the case.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Show or set the case's default dedup view (none, custodial, global).
    ///
    /// A view only: every instance stays in the case, and switching reprocesses nothing.
    Dedup(DedupArgs),
    /// Compute MD5 and SHA-1 for items ingested without them (`hashes.legacy_at_ingest = false`).
    Hashes,
    /// Write the case's contents out for other tools.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Search the case with the dtSearch-style query language.
    ///
    /// Words side by side are a phrase; AND, OR, NOT (in capitals) and parentheses combine;
    /// `a w/5 b` is within 5 words either way, `a pre/5 b` with `a` first, `a NOT w/5 b` an
    /// `a` with no `b` that near. `contract*` and `m?ller` are wildcards; `ba%nana` and
    /// `banana~1` are fuzzy. Fields: `from:skilling`, `custodian:"allen-p"`,
    /// `subject:(gas OR power)`, `date:[2001-01-01 TO 2001-06-30]`, `tag:privileged`; the
    /// others are text, to, cc, bcc, filename, locator, type, family, control, flag, sent,
    /// created and modified. Prints the number of documents and families, then the hits.
    Search(SearchArgs),
    /// Screen every document for privilege and relevance with the case's rules.
    ///
    /// Suggests `suggest:privileged` (attorneys, law firms, privilege phrases, outside
    /// repeated boilerplate such as email disclaimers) and `suggest:issue/<name>` (an issue's
    /// terms and queries) as tags, searchable with `tag:"suggest:privileged"`. Suggestions never
    /// change a reviewer's coding. With the same rules, only items ingested since the last run
    /// are scored; new rules score everything again and replace every suggestion.
    Classify(ClassifyArgs),
    /// Read and code documents, and work through review batches.
    ///
    /// The coding layout (fields and their allowed values) is `[[coding.fields]]` in
    /// case.toml. Every decision is recorded in the audit log with the reviewer's name.
    Review(ReviewArgs),
    /// The audit log: every coding decision, batch action, search and export, hash-chained.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Continuous active learning: rank unreviewed documents by predicted relevance.
    #[command(subcommand)]
    Learn(LearnCommand),
    /// Rebuild the full-text index from the case database and stored text.
    Reindex {
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that the case still holds what it recorded: every native against its blake3
    /// (those read in place, at their source), every text against its checksum, and the audit
    /// log's hash chain.
    ///
    /// Reads everything back and changes nothing; the outcome goes to the audit log. Run it
    /// before a production and after the case is copied, moved or restored. Exit status 1
    /// when anything is missing, changed or damaged.
    Verify {
        /// Leave out the natives read in place at their source (archives, mailboxes, data
        /// files): for a case copied without its collection.
        #[arg(long)]
        no_sources: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    /// Who is reviewing: recorded in the audit log with every decision and batch action.
    /// Required. Searches and exports record QUARRY_REVIEWER too, else the system user.
    #[arg(long, global = true, env = "QUARRY_REVIEWER", value_name = "NAME")]
    pub(crate) reviewer: Option<String>,
    #[command(subcommand)]
    pub(crate) command: ReviewCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReviewCommand {
    /// One document: metadata, family, the text with classification hits (and with --query,
    /// search hits) marked, its coding and the history of its coding.
    Show {
        /// Control number.
        doc: String,
        /// Also mark this query's hits.
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
    /// Code documents: `--set FIELD=VALUE` (repeatable; `FIELD+=V` and `FIELD-=V` add to and
    /// remove from a multi-choice field; `FIELD=` clears).
    ///
    /// Everything is checked before anything is written: an unknown value is refused with the
    /// allowed ones, and a privileged call without its basis refuses the whole command.
    Code(CodeArgs),
    /// Review batches: create, check out, list, release.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// The reviewer's screen: the next document of your batch, coded by keystroke.
    ///
    /// Checks out a batch when you hold none, and resumes at your first document not yet
    /// reviewed. Keys are listed at the bottom of the screen.
    Next {
        /// Only batches of this review level.
        #[arg(long)]
        level: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CodeArgs {
    /// Control numbers to code.
    #[arg(value_name = "DOCID", required_unless_present = "query")]
    pub(crate) docs: Vec<String>,
    /// Code every hit of this query (every instance, no cap) instead.
    #[arg(long, value_name = "QUERY", conflicts_with = "docs")]
    pub(crate) query: Option<String>,
    /// A change: FIELD=VALUE, FIELD+=VALUE, FIELD-=VALUE (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
    pub(crate) set: Vec<String>,
    /// Apply the family fields (privilege, responsiveness by default) to each document's
    /// whole family.
    #[arg(long)]
    pub(crate) family: bool,
    /// Review level of these decisions (2: second-level or QC). Default: the level of your
    /// batch holding the document, else 1.
    #[arg(long)]
    pub(crate) level: Option<u32>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BatchCommand {
    /// Cut a query's hits (masters under the dedup view) into batches of --size documents.
    Create {
        /// The documents to batch.
        #[arg(long, value_name = "QUERY")]
        query: String,
        /// Documents per batch.
        #[arg(long)]
        size: usize,
        /// Add each hit's family and never split a family (a batch may run over --size).
        #[arg(long)]
        keep_families: bool,
        /// Group batches: `custodian` gives each batch one custodian.
        #[arg(long, value_enum)]
        by: Option<BatchBy>,
        /// Review level: 2 for second-level or QC batches over documents reviewed before.
        #[arg(long, default_value_t = 1)]
        level: u32,
        /// Batch name prefix (default REV, or QC above level 1).
        #[arg(long)]
        prefix: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check out your next batch (or show the one you hold and have not finished).
    Next {
        /// Only batches of this review level.
        #[arg(long)]
        level: Option<u32>,
        /// A new batch of the highest-ranked documents not yet reviewed (`quarry learn start`
        /// first), with 5% (one in a batch of 20) drawn at random from the rest, favouring
        /// its top.
        #[arg(long)]
        prioritized: bool,
        /// Documents in a prioritized batch. Small batches keep the ranking fresh: quarry's
        /// protocol retrains at least every 20 documents (docs/LEARN.md).
        #[arg(long, default_value_t = 20)]
        size: usize,
        /// Bring each prioritized document's family along.
        #[arg(long)]
        keep_families: bool,
        /// Print the batch as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every batch with its size, progress and holder.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One batch's documents in order, reviewed or not.
    Show {
        /// The batch.
        batch: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Hand a batch back (yours by default; a manager may name anyone's). Coding stays.
    Release {
        /// The batch.
        batch: Option<String>,
    },
    /// Check a batch that no one holds out to a named reviewer (a manager's hand-out); it is
    /// theirs at their next `batch next` or `review next`.
    Assign {
        /// The batch.
        batch: String,
        /// The reviewer who gets it.
        #[arg(long, value_name = "REVIEWER")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum LearnCommand {
    /// Set up a prioritized review of one question: documents coded FIELD = VALUE are the
    /// relevant ones; the seed query's words are the first relevant example.
    Start {
        /// The coding field (e.g. responsiveness).
        #[arg(long)]
        field: String,
        /// Its value that means relevant (e.g. responsive).
        #[arg(long)]
        positive: String,
        /// A query describing what is relevant.
        #[arg(long, value_name = "QUERY")]
        seed_query: Option<String>,
    },
    /// Reviewed, relevant found, the gain curve (in the terminal and as a PNG), the knee
    /// stopping rule, and the recall estimated by the latest validation sample.
    Status {
        /// Write the gain curve as a PNG chart here.
        #[arg(long, value_name = "FILE")]
        chart: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Draw an elusion sample of N documents from those not reviewed, as a batch (VAL-0001,
    /// level 3) to code blind; `learn status` then reports the recall it implies.
    Validate {
        /// Sample size (385 for ±5%, 2,401 for ±2% at 95% confidence).
        #[arg(long)]
        sample: usize,
    },
    /// Build a recorded model again from its training record and compare the weights.
    Rebuild {
        /// The model's number (learn.model entries of the audit log).
        model: i64,
    },
    /// Replay known labels as a reviewer would, through quarry's protocol and the baselines
    /// (BMI as published, keyword ranking by the seed query, random order): documents reviewed
    /// to reach 75%, 80% and 90% recall.
    Simulate {
        /// CSV with a header: the first column names the document (control number,
        /// Message-ID or locator), the column --field holds its values (`;` between several).
        #[arg(long, value_name = "FILE")]
        labels: PathBuf,
        /// The column of the labels file.
        #[arg(long)]
        field: String,
        /// The value that means relevant.
        #[arg(long)]
        positive: String,
        /// The seed query (its words are the first relevant example).
        #[arg(long, value_name = "QUERY")]
        seed_query: String,
        /// Runs with different random seeds.
        #[arg(long, default_value_t = 3)]
        seeds: u64,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BatchBy {
    Custodian,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ShowFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain from the first entry; names the first entry edited, deleted or
    /// out of order. Exit status 1 when the chain is broken.
    Verify {
        /// An anchor written down earlier, SEQ:HASH (as printed by a previous verify): that
        /// entry must still be in the log with that hash.
        #[arg(long, value_name = "SEQ:HASH")]
        expect: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List entries, oldest first (no cap).
    Log {
        /// Only entries about this document.
        #[arg(long, value_name = "DOCID")]
        doc: Option<String>,
        /// Only entries by this reviewer (or system user).
        #[arg(long, value_name = "NAME")]
        reviewer: Option<String>,
        /// Only this action (code, code.query, batch, batch.create, search, export, classify, ingest).
        #[arg(long)]
        action: Option<String>,
        /// Only entries at or after this time (UTC, e.g. 2026-11-27 or 2026-11-27T09:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ClassifyArgs {
    /// A rules file (TOML) to use from now on; it is kept in the case as rules.toml.
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,
    /// Score every item again, not only those ingested since the last run.
    #[arg(long)]
    pub(crate) rescore_all: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j')]
    pub(crate) threads: Option<usize>,
    /// Show one document's classification instead: rules hit, score, every hit.
    #[arg(long, value_name = "CONTROL", conflicts_with_all = ["rules", "rescore_all"])]
    pub(crate) show: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// The query (quote it for the shell: quarry search 'gas w/5 "price cap"').
    #[arg(required = true, value_name = "QUERY")]
    pub(crate) query: Vec<String>,
    /// Hits to list, best first.
    #[arg(long, default_value_t = 20, conflicts_with = "all")]
    pub(crate) limit: usize,
    /// List every hit (streamed; no cap).
    #[arg(long)]
    pub(crate) all: bool,
    /// Output format; `ids` prints one control number per line.
    #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
    pub(crate) format: SearchFormat,
    /// Collapse duplicates (default: the case's dedup view).
    #[arg(long, value_enum)]
    pub(crate) dedup: Option<Scope>,
    /// List every member of each hit's family after it.
    #[arg(long)]
    pub(crate) families: bool,
    /// Order of the hits: relevance (best first), date (oldest first) or control number.
    #[arg(long, value_enum, default_value_t = Sort::Relevance)]
    pub(crate) sort: Sort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Sort {
    Relevance,
    Date,
    Control,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SearchFormat {
    Table,
    Json,
    Csv,
    Ids,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Each item's extracted text as `<control number>.txt` (empty when it has none), plus an
    /// `index.csv`: control number, parent, family, locator, custodian, blake3, type, flags.
    Text {
        /// A new (or empty) folder to write into.
        #[arg(long)]
        out: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The privilege log: one row per document coded privileged (withheld or redacted), with
    /// the columns FRCP 26(b)(5)(A) logs carry. Refused, listing them, while a privileged
    /// document lacks its privilege type, basis or treatment.
    Privlog {
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// csv or xlsx (default: from the file's extension, else csv).
        #[arg(long, value_enum)]
        format: Option<TableFormat>,
        /// Also log every message quoted in a logged email (its thread) as its own row.
        #[arg(long)]
        expand_threads: bool,
        /// A previous log (CSV or XLSX): report the rows added, removed and changed since.
        #[arg(long, value_name = "PREVIOUS")]
        diff_from: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A production: the documents coded responsive and not withheld, with their families,
    /// under Bates numbers; natives, text, a Concordance DAT load file and a manifest.
    ///
    /// Quality control runs first and refuses the production, writing nothing, when a
    /// privileged document would be produced, a family would be broken, a family member is
    /// unreviewed, or a Bates number would repeat one of an earlier production. Withheld
    /// family members get a slip sheet in their place.
    Production {
        /// A new (or empty) folder.
        #[arg(long)]
        out: PathBuf,
        /// Bates prefix (ABC gives ABC0000001).
        #[arg(long)]
        prefix: String,
        /// First Bates number (default: the next after the last one an earlier production gave
        /// this prefix; 1 for a new prefix).
        #[arg(long)]
        start: Option<u64>,
        /// Digits of the number.
        #[arg(long, default_value_t = 7)]
        digits: usize,
        /// Only documents this query hits.
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
        /// Produce again the families an earlier production under this prefix carried, under
        /// new Bates numbers (by default they are left out: the series carries only what is
        /// new).
        #[arg(long)]
        reproduce: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The chronology: documents coded hot (or hit by --query) in date order, with date,
    /// from, to, subject, Bates or control number, custodian, issues and the reviewer's note.
    Chronology {
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// csv or xlsx (default: from the file's extension, else csv).
        #[arg(long, value_enum)]
        format: Option<TableFormat>,
        /// Documents hit by this query instead of those coded hot.
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Folder to create the case in (must not exist, or be empty).
    pub(crate) dir: PathBuf,
    /// Name of the matter (default: the folder name).
    #[arg(long)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// Custodian the files belong to.
    #[arg(long, required = true)]
    pub(crate) custodian: String,
    /// Files and folders to ingest.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// File of passwords to try on encrypted archive entries, one per line (a UTF-8 or UTF-16
    /// file from Notepad is read as text; docs/CASE.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) passwords: Option<PathBuf>,
    /// Extraction worker processes (default: one per core).
    #[arg(long, short = 'j')]
    pub(crate) threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Create the case first when the case folder holds none yet.
    #[arg(long)]
    pub(crate) create: bool,
    /// Process again the inputs already in the case that have exceptions (for example with a
    /// new `--passwords` file or raised limits). Their items stay; their exceptions move to the
    /// case's exception history; whatever the retry finds is added.
    #[arg(long)]
    pub(crate) retry_exceptions: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Inputs, items, duplicates and exceptions, and whether they reconcile.
    Summary {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Dedup view for the unique/duplicate counts (default: the case's).
        #[arg(long, value_enum)]
        dedup: Option<Scope>,
    },
    /// Every exception with its locator, kind and message.
    Exceptions {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// List the exceptions that `ingest --retry-exceptions` retried, with the retrying run.
        #[arg(long)]
        retried: bool,
    },
    /// Every item: control number, locator, family, master, type, hashes, flags.
    Items {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Dedup view for the master column (default: the case's).
        #[arg(long, value_enum)]
        dedup: Option<Scope>,
    },
    /// Every email's envelope: from, to, cc, bcc, subject, sent date (UTC, with its original
    /// offset), Message-ID and MIH, threading headers, folder, attachments, identity hash.
    Emails {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Every PDF's properties: title, author, subject, creator, producer, dates, pages.
    Documents {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Documents with classification suggestions: control number, privilege score, suggested
    /// tags and the rules hit (with hits set aside as boilerplate).
    Classification {
        /// Only documents with this suggestion (for example suggest:privileged).
        #[arg(long)]
        tag: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The search-term report: per term, documents hit, hit by no other term, and with
    /// families; then the totals, with warnings for over-broad terms, leading wildcards and
    /// lower-case operators.
    Terms {
        /// One term (any query) per line; blank lines and lines starting with # are skipped.
        #[arg(long, value_name = "FILE")]
        terms: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Collapse duplicates (default: the case's dedup view).
        #[arg(long, value_enum)]
        dedup: Option<Scope>,
    },
    /// Per reviewer: documents coded per hour, decisions by value, and the overturn rate (first-level calls a second-level reviewer changed).
    Reviewers {
        /// Only decisions at or after this time (UTC, e.g. 2026-11-27 or 2026-11-27T09:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Documents coded against remaining, by batch, custodian and responsiveness.
    Progress {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Masters with their duplicates, ALL_CUSTODIANS and ALL_PATHS.
    Duplicates {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Dedup view (default: the case's).
        #[arg(long, value_enum)]
        dedup: Option<Scope>,
        /// List every master, also those without duplicates.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DedupArgs {
    /// The new default view; without it, print the current one.
    #[arg(long, value_enum)]
    pub(crate) scope: Option<Scope>,
}

/// Output formats of reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array.
    Json,
}

/// Dedup views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scope {
    /// Every item is its own master.
    None,
    /// One master per content within each custodian.
    Custodial,
    /// One master per content across the case.
    Global,
}

impl From<Scope> for DedupScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::None => DedupScope::None,
            Scope::Custodial => DedupScope::Custodial,
            Scope::Global => DedupScope::Global,
        }
    }
}
