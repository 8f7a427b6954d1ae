//! Versioned schema migrations of the case database.
//!
//! The version lives in SQLite's `user_version`. Migrations only ever append: a case written by
//! an older quarry is brought forward on open; a case written by a newer quarry is refused, since
//! this build cannot know what the newer tables mean.

use rusqlite::Connection;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Migration `n` (0-based) takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    command        TEXT NOT NULL,
    quarry_version TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE custodians (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- One row per top-level input file: the unit of idempotence and of atomic commit.
CREATE TABLE inputs (
    id           INTEGER PRIMARY KEY,
    custodian_id INTEGER NOT NULL REFERENCES custodians(id),
    source_path  TEXT NOT NULL,
    locator      TEXT NOT NULL,
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    UNIQUE (custodian_id, source_path)
);
-- The id is the control number's ordinal: assigned in walk order, never reused.
CREATE TABLE items (
    id               INTEGER PRIMARY KEY,
    control_number   TEXT NOT NULL UNIQUE,
    input_id         INTEGER NOT NULL REFERENCES inputs(id),
    custodian_id     INTEGER NOT NULL REFERENCES custodians(id),
    parent_id        INTEGER REFERENCES items(id),
    family_id        INTEGER NOT NULL,
    doc_root_id      INTEGER NOT NULL,
    position         INTEGER NOT NULL,
    depth            INTEGER NOT NULL,
    inner            TEXT NOT NULL,
    locator          TEXT NOT NULL,
    name             TEXT NOT NULL,
    file_type        TEXT NOT NULL,
    size             INTEGER NOT NULL,
    blake3           TEXT NOT NULL,
    md5              TEXT,
    sha1             TEXT,
    dedup_key        TEXT NOT NULL,
    created          TEXT,
    modified         TEXT,
    accessed         TEXT,
    text_chars       INTEGER,
    flags            TEXT NOT NULL DEFAULT '',
    entries_declared INTEGER,
    UNIQUE (input_id, inner)
);
CREATE INDEX items_dedup ON items (dedup_key, id);
CREATE INDEX items_parent ON items (parent_id);
CREATE INDEX items_blake3 ON items (blake3);
CREATE TABLE exceptions (
    id           INTEGER PRIMARY KEY,
    input_id     INTEGER NOT NULL REFERENCES inputs(id),
    custodian_id INTEGER NOT NULL REFERENCES custodians(id),
    parent_id    INTEGER REFERENCES items(id),
    position     INTEGER NOT NULL,
    depth        INTEGER NOT NULL,
    inner        TEXT NOT NULL,
    locator      TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    size         INTEGER,
    blake3       TEXT,
    md5          TEXT,
    sha1         TEXT,
    UNIQUE (input_id, inner)
);
CREATE INDEX exceptions_parent ON exceptions (parent_id);
",
    r"
-- Exceptions a later run retried (ingest --retry-exceptions): kept for the record, with the run
-- that retried them; what the retry found is in items and exceptions.
CREATE TABLE exception_history (
    id           INTEGER PRIMARY KEY,
    input_id     INTEGER NOT NULL REFERENCES inputs(id),
    custodian_id INTEGER NOT NULL REFERENCES custodians(id),
    parent_id    INTEGER REFERENCES items(id),
    position     INTEGER NOT NULL,
    depth        INTEGER NOT NULL,
    inner        TEXT NOT NULL,
    locator      TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    size         INTEGER,
    blake3       TEXT,
    md5          TEXT,
    sha1         TEXT,
    retried_run  INTEGER NOT NULL REFERENCES runs(id)
);
",
    r"
-- Envelope of every email item. Address lists are `Name <address>` joined by `; `; the
-- identity hash the dedup views use is items.dedup_key.
CREATE TABLE emails (
    item_id      INTEGER PRIMARY KEY REFERENCES items(id),
    email_from   TEXT NOT NULL,
    email_to     TEXT NOT NULL,
    email_cc     TEXT NOT NULL,
    email_bcc    TEXT NOT NULL,
    subject      TEXT,
    sent         TEXT,
    sent_offset  TEXT,
    date_raw     TEXT,
    message_id   TEXT,
    mih          TEXT,
    in_reply_to  TEXT,
    refs         TEXT,
    thread_index TEXT,
    x_folder     TEXT,
    x_origin     TEXT,
    x_filename   TEXT,
    attachments  INTEGER NOT NULL
);
CREATE INDEX emails_message_id ON emails (message_id);
CREATE INDEX emails_sent ON emails (sent);
-- Properties of paginated documents (PDF Info dictionary).
CREATE TABLE documents (
    item_id  INTEGER PRIMARY KEY REFERENCES items(id),
    title    TEXT,
    author   TEXT,
    subject  TEXT,
    creator  TEXT,
    producer TEXT,
    created  TEXT,
    modified TEXT,
    pages    INTEGER
);
",
    r"
-- Tags on items (coding and suggestions write them; search resolves tag: predicates here,
-- since documents in the full-text index cannot change).
CREATE TABLE tags (
    item_id  INTEGER NOT NULL REFERENCES items(id),
    tag      TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (tag, item_id)
) WITHOUT ROWID;
",
    r"
-- Classification (quarry classify). Each run with the rules it used; `through_item` is the
-- highest item id it covered, so the next run scores only later items.
CREATE TABLE classify_runs (
    id                 INTEGER PRIMARY KEY,
    started_at         TEXT NOT NULL,
    finished_at        TEXT NOT NULL,
    quarry_version     TEXT NOT NULL,
    rules              TEXT NOT NULL,
    rules_blake3       TEXT NOT NULL,
    scope              TEXT NOT NULL,
    reason             TEXT NOT NULL,
    through_item       INTEGER NOT NULL,
    texts_scanned      INTEGER NOT NULL,
    bytes_scanned      INTEGER NOT NULL,
    paragraphs_blake3  TEXT NOT NULL
);
-- One row per distinct text (items share the text of identical natives) with at least one
-- hit: the suggestion (score, tags as a JSON array) and every hit (21 bytes each: rule, start,
-- end as u32, zone u8, paragraph hash u64, little endian; rules are numbered in the order of
-- the rules file of the run). Per-rule counts are derived from the hits when shown.
CREATE TABLE classify_texts (
    blake3     TEXT PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES classify_runs(id),
    score      INTEGER NOT NULL,
    privileged INTEGER NOT NULL,
    tags       TEXT NOT NULL,
    hits       BLOB NOT NULL,
    paragraph_hits INTEGER NOT NULL
) WITHOUT ROWID;
-- Items an issue's query matched.
CREATE TABLE classify_query_hits (
    item_id INTEGER NOT NULL REFERENCES items(id),
    issue   TEXT NOT NULL,
    query   TEXT NOT NULL,
    PRIMARY KEY (item_id, issue, query)
) WITHOUT ROWID;
",
    r"
-- Review (quarry review). The current coding: one row per value (a multi-choice field has
-- several); its history is the audit log.
CREATE TABLE coding (
    item_id INTEGER NOT NULL REFERENCES items(id),
    field   TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (field, value, item_id)
) WITHOUT ROWID;
CREATE INDEX coding_item ON coding (item_id, field);
-- The audit log: append-only, each entry holding the blake3 hash of the previous one
-- (docs/REVIEW.md gives the exact bytes hashed). audit_head holds the last entry, so a
-- deleted tail is caught too.
CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    item_id        INTEGER,
    control_number TEXT,
    field          TEXT,
    old_value      TEXT,
    new_value      TEXT,
    detail         TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_item ON audit (item_id, seq);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
-- Review batches: created from a query, checked out by one reviewer at a time.
CREATE TABLE batches (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    query          TEXT NOT NULL,
    level          INTEGER NOT NULL,
    custodian      TEXT,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    assignee       TEXT,
    checked_out_at TEXT
);
CREATE INDEX batches_assignee ON batches (assignee);
-- A document is in at most one batch per review level.
CREATE TABLE batch_items (
    batch_id    INTEGER NOT NULL REFERENCES batches(id),
    position    INTEGER NOT NULL,
    item_id     INTEGER NOT NULL REFERENCES items(id),
    level       INTEGER NOT NULL,
    reviewed_at TEXT,
    reviewed_by TEXT,
    PRIMARY KEY (batch_id, position),
    UNIQUE (level, item_id)
);
CREATE INDEX batch_items_item ON batch_items (item_id);
-- Review families: a document and its attachments share a doc root.
CREATE INDEX items_doc_root ON items (doc_root_id);
",
    r"
-- Productions (quarry export production): the Bates range each one took, so no later one
-- repeats a number, and which document got which number.
CREATE TABLE productions (
    id              INTEGER PRIMARY KEY,
    prefix          TEXT NOT NULL,
    first_number    INTEGER NOT NULL,
    last_number     INTEGER NOT NULL,
    digits          INTEGER NOT NULL,
    query           TEXT,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    dat_blake3      TEXT NOT NULL,
    manifest_blake3 TEXT NOT NULL
);
CREATE TABLE production_docs (
    production_id INTEGER NOT NULL REFERENCES productions(id),
    item_id       INTEGER NOT NULL REFERENCES items(id),
    bates         TEXT NOT NULL,
    slip_sheet    INTEGER NOT NULL,
    PRIMARY KEY (production_id, item_id)
);
CREATE INDEX production_docs_item ON production_docs (item_id);
",
    r"
-- Continuous active learning (quarry learn): one session per review question; every model
-- built, with the hashes of its training set and weights; elusion samples.
CREATE TABLE learn_sessions (
    id         INTEGER PRIMARY KEY,
    field      TEXT NOT NULL,
    positive   TEXT NOT NULL,
    seed_query TEXT,
    protocol   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE learn_models (
    id              INTEGER PRIMARY KEY,
    session_id      INTEGER NOT NULL REFERENCES learn_sessions(id),
    built_at        TEXT NOT NULL,
    built_by        TEXT NOT NULL,
    training        TEXT NOT NULL,
    training_blake3 TEXT NOT NULL,
    weights_blake3  TEXT NOT NULL
);
CREATE TABLE learn_samples (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES learn_sessions(id),
    batch      TEXT NOT NULL,
    drawn_at   TEXT NOT NULL,
    discard    INTEGER NOT NULL,
    found      INTEGER NOT NULL
);
",
    r"
-- Covering indexes for the dedup views and the summary: a view's masters (the first document
-- root of each key) and the distinct natives' sizes are read from these indexes alone, not
-- by a lookup in the items table per item (on 1,000,000 items: 5.3 s and 3.2 s before).
DROP INDEX items_dedup;
CREATE INDEX items_dedup ON items (dedup_key, id, doc_root_id);
DROP INDEX items_blake3;
CREATE INDEX items_blake3 ON items (blake3, size);
-- A family's members (search --families, report terms): without it, a scan of the items
-- table per family.
CREATE INDEX items_family ON items (family_id, id);
",
    r"
-- When an email reached the mailbox (its last hop's Received header, an Outlook item's delivery
-- time), ISO 8601 UTC: EDRM's DateReceived, a load file's DATERCVD. Null for emails ingested
-- before this column, and for messages never received.
ALTER TABLE emails ADD COLUMN received TEXT;
",
];

/// Brings the database to [`SCHEMA_VERSION`], or refuses a newer one (returns the version found).
pub(crate) fn migrate(conn: &mut Connection) -> crate::Result<()> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(crate::Error::NewerSchema { found, supported: SCHEMA_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
