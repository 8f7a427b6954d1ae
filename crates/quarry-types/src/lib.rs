//! The vocabulary every quarry crate speaks, with no I/O.
//!
//! # Overview
//! - [`FileType`]: what an item is, detected from its content (never its extension).
//! - [`ExceptionKind`]: why an input or container entry could not be turned into an item.
//! - [`Record`]: what extraction reports for one input or entry: an [`ItemRecord`] or an
//!   [`ExceptionRecord`]. Every input file and every container entry becomes exactly one record;
//!   that is the accounting rule the whole engine rests on.
//! - [`Limits`]: the bounds that keep hostile inputs (zip bombs, hangs) from taking the machine.
//! - [`DedupScope`]: which instance of a duplicated document counts as its master.
//! - [`paths`]: file names that are not UTF-8, as the case shows and stores them.
//!
//! # Example
//! ```
//! use quarry_types::{ExceptionKind, FileType};
//! assert_eq!("zip".parse::<FileType>()?, FileType::Zip);
//! assert!(FileType::Zip.is_container());
//! assert_eq!(ExceptionKind::DecompressionBomb.as_str(), "decompression_bomb");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod paths;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Separator between container levels in a locator: `batch1.zip//mail/inner.zip//memo.pdf`.
pub const LOCATOR_SEPARATOR: &str = "//";

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(into = "&'static str", try_from = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable name stored in the case and shown to users.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownName { kind: stringify!($name), name: s.to_owned() }),
                }
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> Self { value.as_str() }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownName;
            fn try_from(value: String) -> Result<Self, Self::Error> { value.parse() }
        }
    };
}

/// A name that does not belong to one of this crate's enums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// Which enum was asked for.
    pub kind: &'static str,
    /// The name that was given.
    pub name: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.name)
    }
}

impl std::error::Error for UnknownName {}

string_enum! {
    /// The type of an item, detected from its bytes.
    FileType {
        /// A ZIP archive (opened; its entries become children).
        Zip => "zip",
        /// Office Open XML document (docx, xlsx, pptx): a ZIP that is a document, not an archive.
        Ooxml => "ooxml",
        /// OpenDocument or EPUB: a ZIP that is a document, not an archive.
        Odf => "odf",
        /// PDF document.
        Pdf => "pdf",
        /// A single RFC 5322 email message.
        Email => "email",
        /// A Unix mailbox holding many messages.
        Mbox => "mbox",
        /// An Outlook message (.msg: a compound file of MAPI properties).
        Msg => "msg",
        /// Outlook's TNEF wrapper (winmail.dat): its attachments become children.
        Tnef => "tnef",
        /// S/MIME (a PKCS #7 / CMS object, `smime.p7m`): signed content becomes a child;
        /// encrypted content is an `encrypted` exception.
        Smime => "smime",
        /// OLE2 compound file (legacy .doc/.xls/.ppt; Outlook messages are `msg`).
        Ole => "ole",
        /// Outlook personal folders (.pst/.ost).
        Pst => "pst",
        /// gzip stream.
        Gzip => "gzip",
        /// bzip2 stream.
        Bzip2 => "bzip2",
        /// xz stream.
        Xz => "xz",
        /// 7-Zip archive.
        SevenZip => "7z",
        /// RAR archive.
        Rar => "rar",
        /// POSIX tar archive.
        Tar => "tar",
        /// Rich Text Format.
        Rtf => "rtf",
        /// HTML page.
        Html => "html",
        /// Plain text in some character encoding.
        Text => "text",
        /// PNG image.
        Png => "png",
        /// JPEG image.
        Jpeg => "jpeg",
        /// GIF image.
        Gif => "gif",
        /// TIFF image.
        Tiff => "tiff",
        /// BMP image.
        Bmp => "bmp",
        /// A zero-length file.
        Empty => "empty",
        /// Bytes of no type quarry recognises.
        Unknown => "unknown",
    }
}

impl FileType {
    /// Whether quarry opens this type and records its members as child items.
    #[must_use]
    pub fn is_container(self) -> bool {
        matches!(self, FileType::Zip | FileType::Mbox | FileType::Pst)
    }

    /// Whether the type is an image with no text layer (candidates for OCR).
    #[must_use]
    pub fn is_image(self) -> bool {
        matches!(
            self,
            FileType::Png | FileType::Jpeg | FileType::Gif | FileType::Tiff | FileType::Bmp
        )
    }
}

string_enum! {
    /// Why an input or a container entry is an exception instead of an item.
    ExceptionKind {
        /// Encrypted, and no known password opens it.
        Encrypted => "encrypted",
        /// Damaged beyond what the parser can read.
        Corrupt => "corrupt",
        /// A format quarry recognises but cannot open yet, or not a regular file.
        Unsupported => "unsupported",
        /// Bigger than the configured size limit.
        TooLarge => "too_large",
        /// Expands beyond the ratio, total-size or nesting limits, or overlaps itself.
        DecompressionBomb => "decompression_bomb",
        /// An archive entry whose name escapes its folder (`..`, absolute, drive letter).
        PathTraversal => "path_traversal",
        /// The parser did not finish within the time limit.
        Timeout => "timeout",
        /// The parser crashed (panic, abort, signal).
        ParserCrash => "parser_crash",
        /// The parser went over the worker's memory limit.
        MemoryLimit => "memory_limit",
        /// The file could not be read (permissions, vanished, I/O error).
        Unreadable => "unreadable",
    }
}

string_enum! {
    /// Which instance of a duplicated document is its master.
    DedupScope {
        /// No deduplication: every item is its own master.
        None => "none",
        /// One master per content within each custodian.
        Custodial => "custodial",
        /// One master per content across the whole case.
        Global => "global",
    }
}

/// The `inner` path of an entry named `name` inside the container at `parent` (`""` for a
/// top-level input): `mail/inner.zip` then `mail/inner.zip//memo.pdf`.
#[must_use]
pub fn child_inner(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_owned() } else { format!("{parent}{LOCATOR_SEPARATOR}{name}") }
}

/// Content hashes of one item's native bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashes {
    /// blake3, lowercase hex: the content address of the native in the case store.
    pub blake3: String,
    /// MD5, lowercase hex, when computed (load files and courts expect it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// SHA-1, lowercase hex, when computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
}

/// File-system or archive dates of an item, as ISO 8601 strings.
///
/// File-system dates are UTC (`2001-05-14T16:39:00Z`); ZIP entry dates are MS-DOS local times
/// without a zone and are stored without one (`2001-05-14T16:39:00`), since guessing the zone
/// would invent a fact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dates {
    /// Creation time, when the source records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Last modification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Last access time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessed: Option<String>,
}

/// Where a record sits: its path inside the top-level input, and its place in the family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Path inside the top-level input: empty for the input itself, else the container levels
    /// joined by [`LOCATOR_SEPARATOR`] (`mail/inner.zip//memo.pdf`).
    pub inner: String,
    /// The `inner` of the parent container, or `None` for the top-level input.
    pub parent: Option<String>,
    /// Index among the parent's entries (central-directory order), 0 for the input itself.
    pub index: u64,
    /// Nesting depth: 0 for the input, 1 for its entries, and so on.
    pub depth: u32,
}

impl Position {
    /// The position of entry `index`, named `label` in locators, of this container.
    #[must_use]
    pub fn member(&self, label: &str, index: u64) -> Position {
        Position {
            inner: child_inner(&self.inner, label),
            parent: Some(self.inner.clone()),
            index,
            depth: self.depth + 1,
        }
    }
}

/// One input or container entry that became an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Where it sits.
    pub position: Position,
    /// File or entry name as recorded by the source (may hold `..` or `/`: data, not a path).
    pub name: String,
    /// Size of the native in bytes.
    pub size: u64,
    /// Hashes of the native bytes.
    pub hashes: Hashes,
    /// Detected type.
    pub file_type: FileType,
    /// Dates recorded by the file system or the archive.
    pub dates: Dates,
    /// Characters of extracted text stored for it (`None` when no text was extracted).
    pub text_chars: Option<u64>,
    /// Flags for review routing (`no-text`, `text-pending`, `unknown-type`, `empty`, ...).
    pub flags: Vec<String>,
    /// For containers: the number of entries the container declares.
    pub entries_declared: Option<u64>,
    /// The key duplicates share, when it is not the byte hash: an email's identity hash (the
    /// same message saved in two folders differs in bytes but not in identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// Metadata read from inside the native (email headers, document properties).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Box<Metadata>>,
}

/// Metadata read from inside a native.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Externally tagged (`{"email": {...}}`), as is Record: serde reads an internally tagged enum
// through a buffered copy of the whole value, which was half of the supervisor's decoding.
#[serde(rename_all = "snake_case")]
#[allow(clippy::large_enum_variant, reason = "held boxed by ItemRecord")]
pub enum Metadata {
    /// An email message's envelope headers.
    Email(EmailMeta),
    /// A document's properties (PDF Info dictionary).
    Document(DocumentMeta),
}

/// One mailbox of an address header: display name (decoded) and address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Display name, when the header gives one.
    pub name: Option<String>,
    /// The address as written (may be empty when the header held only a name).
    pub address: String,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, self.address.is_empty()) {
            (Some(name), false) => write!(f, "{name} <{}>", self.address),
            (Some(name), true) => f.write_str(name),
            (None, _) => f.write_str(&self.address),
        }
    }
}

/// The headers of one email message that review, privilege logs and threading rely on, decoded
/// (RFC 2047/2231, legacy charsets) into Unicode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMeta {
    /// From (normally one mailbox; kept as a list because the RFC allows several).
    pub from: Vec<Address>,
    /// To.
    pub to: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc.
    pub bcc: Vec<Address>,
    /// Subject.
    pub subject: Option<String>,
    /// Date sent, as ISO 8601 UTC (`2001-05-14T23:39:00Z`).
    pub sent: Option<String>,
    /// The Date header's own UTC offset (`-07:00`), so local time can be shown as sent.
    pub sent_offset: Option<String>,
    /// The Date header as written, kept when it could not be parsed.
    pub date_raw: Option<String>,
    /// When the message reached the mailbox, as ISO 8601 UTC: the date of its topmost
    /// Received header (the last hop's), or an Outlook item's delivery time. None for a message
    /// that was never received (a sent item, a draft).
    #[serde(default)]
    pub received: Option<String>,
    /// Message-ID, with its angle brackets.
    pub message_id: Option<String>,
    /// The EDRM message-ID hash (MIH): MD5 of the Message-ID with its angle brackets, the
    /// cross-platform key other review tools match on.
    pub mih: Option<String>,
    /// In-Reply-To.
    pub in_reply_to: Option<String>,
    /// References.
    pub references: Option<String>,
    /// Outlook's Thread-Index (base64).
    pub thread_index: Option<String>,
    /// X-Folder (Enron/CALO and some exporters).
    pub x_folder: Option<String>,
    /// X-Origin.
    pub x_origin: Option<String>,
    /// X-FileName.
    pub x_filename: Option<String>,
    /// Attachments and embedded messages, each a child item.
    pub attachments: u64,
}

/// Properties of a paginated document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMeta {
    /// Title.
    pub title: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Application that created the original.
    pub creator: Option<String>,
    /// Application that wrote the PDF.
    pub producer: Option<String>,
    /// Creation date as ISO 8601 (UTC when the document gives an offset).
    pub created: Option<String>,
    /// Modification date as ISO 8601.
    pub modified: Option<String>,
    /// Number of pages.
    pub pages: Option<u64>,
}

/// One input or container entry that could not become an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRecord {
    /// Where it sits.
    pub position: Position,
    /// File or entry name as recorded by the source.
    pub name: String,
    /// Why it failed.
    pub kind: ExceptionKind,
    /// What went wrong, for a person.
    pub message: String,
    /// Size in bytes, when known (declared size for archive entries).
    pub size: Option<u64>,
    /// Hashes, when the bytes could be read (the native is then kept in the store).
    pub hashes: Option<Hashes>,
}

/// The outcome for one input or container entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// It became an item.
    Item(ItemRecord),
    /// It became an exception.
    Exception(ExceptionRecord),
}

impl Record {
    /// Where the record sits.
    #[must_use]
    pub fn position(&self) -> &Position {
        match self {
            Record::Item(item) => &item.position,
            Record::Exception(exception) => &exception.position,
        }
    }
}

/// Bounds on what one input may cost. Every limit turns into a typed exception for the one item
/// that crosses it; none of them stops the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest native, loose or expanded from an archive, in bytes (`too_large` beyond it).
    pub max_item_bytes: u64,
    /// Most bytes expanded from all archives inside one top-level input.
    pub max_expanded_bytes: u64,
    /// Most entries in all archives inside one top-level input.
    pub max_entries: u64,
    /// Deepest archive nesting opened (an input is depth 0; its entries depth 1).
    pub max_depth: u32,
    /// Highest ratio of expanded to compressed bytes for an archive entry, checked once the
    /// entry has expanded past `ratio_floor_bytes` (small, highly compressible files pass).
    pub max_ratio: u64,
    /// Expanded size below which the ratio is not checked.
    pub ratio_floor_bytes: u64,
    /// Seconds a parser may spend on one item before it is stopped.
    pub timeout_secs: u64,
    /// Address-space limit of each extraction worker process, in bytes.
    pub worker_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_item_bytes: 8 << 30,
            max_expanded_bytes: 64 << 30,
            max_entries: 1_000_000,
            max_depth: 8,
            max_ratio: 250,
            ratio_floor_bytes: 16 << 20,
            timeout_secs: 120,
            worker_memory_bytes: 2 << 30,
        }
    }
}

/// Signed seconds since the Unix epoch as ISO 8601 UTC (dates before 1970 occur in email).
#[must_use]
pub fn iso_utc_from_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    civil(days, rem)
}

/// Seconds since the Unix epoch of a UTC date and time (proleptic Gregorian; Howard Hinnant's
/// days-from-civil), or `None` when it is no such time: month 1 to 12, day within its month
/// (no 30 February), hour 0 to 23, minute 0 to 59, second 0 to 60 (a leap second, read as the
/// next minute's first). Dates written by people and programs are checked here rather than
/// carried forward: a lenient sum would turn 30 February into 2 March without a word.
#[must_use]
pub fn unix_from_civil(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

/// Days in `month` (1 to 12) of `year`, proleptic Gregorian.
#[must_use]
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// [`iso_utc_from_unix`] for a time read from a file system or an archive's header, where
/// garbage is common (a tar header's mtime can be any 64-bit number): `None` outside the years
/// 1601 (the start of Windows' FILETIME) to 9999, so that every date quarry writes is a real
/// one with four digits of year, and dates sort as text.
#[must_use]
pub fn iso_utc_checked(secs: i64) -> Option<String> {
    datable(secs).then(|| iso_utc_from_unix(secs))
}

/// Whether `secs` falls in the years 1601 to 9999, the times [`iso_utc_checked`] writes.
#[must_use]
pub fn datable(secs: i64) -> bool {
    const FROM: i64 = -11_644_473_600; // 1601-01-01T00:00:00Z
    const UNTIL: i64 = 253_402_300_800; // 10000-01-01T00:00:00Z
    (FROM..UNTIL).contains(&secs)
}

/// A Windows FILETIME (100 ns ticks since 1601-01-01 UTC: NTFS, Outlook, 7z, ZIP's NTFS
/// field) as signed seconds since the Unix epoch.
#[must_use]
pub fn unix_from_filetime(ticks: u64) -> i64 {
    (ticks / 10_000_000).cast_signed() - 11_644_473_600
}

/// Seconds since the Unix epoch as ISO 8601 UTC, e.g. `2001-05-14T16:39:00Z` (proleptic
/// Gregorian; Howard Hinnant's civil-from-days).
#[must_use]
pub fn iso_utc_from_secs(secs: u64) -> String {
    civil((secs / 86_400).cast_signed(), (secs % 86_400).cast_signed())
}

fn civil(days: i64, rem: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_utc_from_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc_from_secs(989_858_340), "2001-05-14T16:39:00Z");
        assert_eq!(iso_utc_from_secs(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc_from_unix(989_858_340), "2001-05-14T16:39:00Z");
        assert_eq!(iso_utc_from_unix(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn checked_dates() {
        assert_eq!(iso_utc_checked(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(iso_utc_checked(-11_644_473_600).as_deref(), Some("1601-01-01T00:00:00Z"));
        assert_eq!(iso_utc_checked(253_402_300_799).as_deref(), Some("9999-12-31T23:59:59Z"));
        for secs in [-11_644_473_601, 253_402_300_800, i64::MAX, i64::MIN, 1 << 62] {
            assert_eq!(iso_utc_checked(secs), None, "{secs}");
        }
    }

    #[test]
    fn civil_times() {
        assert_eq!(unix_from_civil(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(unix_from_civil(2001, 5, 14, 16, 39, 0), Some(989_858_340));
        assert_eq!(unix_from_civil(2000, 2, 29, 0, 0, 0), Some(951_782_400));
        assert_eq!(unix_from_civil(1969, 12, 31, 23, 59, 59), Some(-1));
        // A leap second is the next minute's first.
        assert_eq!(unix_from_civil(2016, 12, 31, 23, 59, 60), unix_from_civil(2017, 1, 1, 0, 0, 0));
        for (y, m, d, h, mi, s) in [
            (2001, 2, 29, 0, 0, 0),
            (1900, 2, 29, 0, 0, 0),
            (2001, 4, 31, 0, 0, 0),
            (2001, 13, 1, 0, 0, 0),
            (2001, 0, 1, 0, 0, 0),
            (2001, 1, 0, 0, 0, 0),
            (2001, 5, 14, 24, 0, 0),
            (2001, 5, 14, 23, 60, 0),
            (2001, 5, 14, 23, 59, 61),
        ] {
            assert_eq!(unix_from_civil(y, m, d, h, mi, s), None, "{y}-{m}-{d} {h}:{mi}:{s}");
        }
        for year in [1600, 1899, 1900, 1969, 1970, 2000, 2100, 9999] {
            for month in 1..=12 {
                let last = days_in_month(year, month);
                let at = unix_from_civil(year, month, last, 23, 59, 59).unwrap();
                let iso = iso_utc_from_unix(at);
                assert_eq!(iso, format!("{year:04}-{month:02}-{last:02}T23:59:59Z"));
                let next = iso_utc_from_unix(at + 1);
                assert!(next.ends_with("-01T00:00:00Z"), "{next}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for &t in FileType::ALL {
            assert_eq!(t.as_str().parse::<FileType>().unwrap(), t);
        }
        for &k in ExceptionKind::ALL {
            assert_eq!(k.as_str().parse::<ExceptionKind>().unwrap(), k);
        }
        assert!("nope".parse::<DedupScope>().is_err());
    }

    #[test]
    fn record_json_is_tagged_by_its_variant() {
        let record = Record::Exception(ExceptionRecord {
            position: Position {
                inner: "a.zip//b".into(),
                parent: Some("a.zip".into()),
                index: 1,
                depth: 1,
            },
            name: "b".into(),
            kind: ExceptionKind::Encrypted,
            message: "no password opens it".into(),
            size: Some(3),
            hashes: None,
        });
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.starts_with("{\"exception\":{"), "{json}");
        assert!(json.contains("\"kind\":\"encrypted\""), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record);
    }
}
