//! The index schema: one tantivy document per item.

use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, INDEXED, IndexRecordOption, STORED, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer,
};
use tantivy::{DateTime, TantivyDocument};

/// Name of the item id field (u64, indexed, fast): the key back into the case database.
pub(crate) const ITEM_ID: &str = "item_id";
/// Words: split on anything not a letter, digit or combining mark, composed (NFC), lower-cased,
/// accents folded to ASCII, words of 100 bytes or more dropped (base64 runs and the like). The
/// name is part of the schema: change it with the tokens, and an index written with other
/// tokens is refused, not misread. `quarry_words` split decomposed text at its marks (`words`).
pub(crate) const WORDS: &str = "quarry_words_2";
/// Whole values (custodian, type, control number, flags), lower-cased.
pub(crate) const KEYWORD: &str = "quarry_keyword";

/// The fields a query can name (`from:skilling`), with what each holds.
pub const FIELD_NAMES: &[(&str, &str)] = &[
    ("text", "extracted text (for email: the header block and the body); the default field"),
    ("subject", "email subject, or a document's title and subject"),
    ("from", "sender (names and addresses), or a document's author"),
    ("to", "recipients"),
    ("cc", "copy recipients"),
    ("bcc", "blind copy recipients"),
    ("custodian", "custodian, as named at ingest (`custodian:\"allen-p\"`)"),
    ("filename", "file or attachment name"),
    ("locator", "where the item was found (path, archive member, message in a mailbox)"),
    ("type", "detected type (`email`, `pdf`, `zip`, ...)"),
    ("family", "control number of the family's top-level item"),
    ("control", "control number"),
    ("flag", "item flags (`no-text`, `encrypted`, ...) and `exception` for items with one"),
    (
        "date",
        "sent date for email, else modified, else created (`date:[2001-01-01 TO 2001-06-30]`)",
    ),
    ("sent", "email sent date"),
    ("created", "created date"),
    ("modified", "last-modified date"),
    ("tag", "a tag from the case database (`tag:privileged`); not in the index"),
];

/// Dates the index holds, in Unix seconds: 1677-09-22 to 2262-04-11 (tantivy stores
/// nanoseconds in an i64).
pub(crate) const DATE_RANGE: std::ops::RangeInclusive<i64> = -9_223_372_035..=9_223_372_035;

/// Handles of every field.
#[derive(Clone, Debug)]
pub(crate) struct Fields {
    pub item_id: Field,
    pub text: Field,
    pub subject: Field,
    pub from: Field,
    pub to: Field,
    pub cc: Field,
    pub bcc: Field,
    pub custodian: Field,
    pub filename: Field,
    pub locator: Field,
    pub file_type: Field,
    pub family: Field,
    pub control: Field,
    pub flag: Field,
    pub date: Field,
    pub sent: Field,
    pub created: Field,
    pub modified: Field,
}

/// What kind of values a field holds, which decides how a query term is turned into terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Tokenized words with positions (phrases and proximity work).
    Words,
    /// One lower-cased term per value.
    Keyword,
    /// A date.
    Date,
}

impl Fields {
    /// The field a query names, and its kind; `None` for an unknown name (`tag` is not a field).
    pub(crate) fn by_name(&self, name: &str) -> Option<(Field, Kind)> {
        Some(match name {
            "text" | "body" | "content" => (self.text, Kind::Words),
            "subject" | "title" => (self.subject, Kind::Words),
            "from" | "author" | "sender" => (self.from, Kind::Words),
            "to" => (self.to, Kind::Words),
            "cc" => (self.cc, Kind::Words),
            "bcc" => (self.bcc, Kind::Words),
            "filename" | "name" => (self.filename, Kind::Words),
            "locator" | "path" => (self.locator, Kind::Words),
            "custodian" => (self.custodian, Kind::Keyword),
            "type" => (self.file_type, Kind::Keyword),
            "family" => (self.family, Kind::Keyword),
            "control" | "docid" => (self.control, Kind::Keyword),
            "flag" | "flags" => (self.flag, Kind::Keyword),
            "date" => (self.date, Kind::Date),
            "sent" => (self.sent, Kind::Date),
            "created" => (self.created, Kind::Date),
            "modified" => (self.modified, Kind::Date),
            _ => return None,
        })
    }
}

/// One item as the index sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexDoc {
    /// The item's id.
    pub item_id: u64,
    /// Control number.
    pub control: String,
    /// Control number of the family's top-level item.
    pub family: String,
    /// Custodian.
    pub custodian: String,
    /// Detected type.
    pub file_type: String,
    /// File or attachment name.
    pub name: String,
    /// Where it was found.
    pub locator: String,
    /// Flags.
    pub flags: Vec<String>,
    /// Email subject, or document title and subject.
    pub subject: Option<String>,
    /// Sender, or author (`Name <address>` each).
    pub from: Vec<String>,
    /// Recipients.
    pub to: Vec<String>,
    /// Copy recipients.
    pub cc: Vec<String>,
    /// Blind copy recipients.
    pub bcc: Vec<String>,
    /// The date `date:` searches: sent, else modified, else created (Unix seconds, UTC).
    pub date: Option<i64>,
    /// Sent (Unix seconds, UTC).
    pub sent: Option<i64>,
    /// Created (Unix seconds, UTC).
    pub created: Option<i64>,
    /// Last modified (Unix seconds, UTC).
    pub modified: Option<i64>,
    /// Extracted text.
    pub text: String,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(WORDS)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(KEYWORD)
            .set_index_option(IndexRecordOption::Basic),
    );
    let date =
        DateOptions::default().set_indexed().set_fast().set_precision(DateTimePrecision::Seconds);
    let fields = Fields {
        item_id: b.add_u64_field(ITEM_ID, INDEXED | STORED | tantivy::schema::FAST),
        text: b.add_text_field("text", words.clone()),
        subject: b.add_text_field("subject", words.clone()),
        from: b.add_text_field("from", words.clone()),
        to: b.add_text_field("to", words.clone()),
        cc: b.add_text_field("cc", words.clone()),
        bcc: b.add_text_field("bcc", words.clone()),
        custodian: b.add_text_field("custodian", keyword.clone()),
        filename: b.add_text_field("filename", words.clone()),
        locator: b.add_text_field("locator", words),
        file_type: b.add_text_field("type", keyword.clone()),
        family: b.add_text_field("family", keyword.clone()),
        control: b.add_text_field("control", keyword.clone()),
        flag: b.add_text_field("flag", keyword),
        date: b.add_date_field("date", date.clone()),
        sent: b.add_date_field("sent", date.clone()),
        created: b.add_date_field("created", date.clone()),
        modified: b.add_date_field("modified", date),
    };
    (b.build(), fields)
}

/// The analyzer of word fields; queries and snippets run their words through the same one.
pub(crate) fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(crate::words::WordTokenizer::default())
        .filter(RemoveLongFilter::limit(100))
        .filter(LowerCaser)
        .filter(crate::words::Composed)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Calls `each(start, end, word)` for every word of `text` as the index sees it: split on
/// anything that is not a letter, digit or combining mark, words of 100 bytes or more dropped,
/// composed (NFC), lower-cased and ASCII-folded. `start..end` is the word's byte range in
/// `text`. The tagger matches with the same words, so a term it reports is a term search finds.
pub fn words(text: &str, mut each: impl FnMut(usize, usize, &str)) {
    use tantivy::tokenizer::TokenStream as _;
    let mut analyzer = words_analyzer();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let token = stream.token();
        each(token.offset_from, token.offset_to, &token.text);
    }
}

pub(crate) fn keyword_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).build()
}

pub(crate) fn register_tokenizers(index: &tantivy::Index) {
    index.tokenizers().register(WORDS, words_analyzer());
    index.tokenizers().register(KEYWORD, keyword_analyzer());
}

pub(crate) fn to_document(f: &Fields, doc: &IndexDoc) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_u64(f.item_id, doc.item_id);
    d.add_text(f.control, &doc.control);
    d.add_text(f.family, &doc.family);
    d.add_text(f.custodian, &doc.custodian);
    d.add_text(f.file_type, &doc.file_type);
    d.add_text(f.filename, &doc.name);
    d.add_text(f.locator, &doc.locator);
    for flag in &doc.flags {
        d.add_text(f.flag, flag);
    }
    if let Some(subject) = &doc.subject {
        d.add_text(f.subject, subject);
    }
    for (field, values) in
        [(f.from, &doc.from), (f.to, &doc.to), (f.cc, &doc.cc), (f.bcc, &doc.bcc)]
    {
        for value in values {
            d.add_text(field, value);
        }
    }
    for (field, value) in [
        (f.date, doc.date),
        (f.sent, doc.sent),
        (f.created, doc.created),
        (f.modified, doc.modified),
    ] {
        // Metadata dates outside what the index can hold (a PDF claiming year 9999999) are
        // left out rather than wrapped.
        if let Some(secs) = value.filter(|s| DATE_RANGE.contains(s)) {
            d.add_date(field, DateTime::from_timestamp_secs(secs));
        }
    }
    d.add_text(f.text, &doc.text);
    d
}
