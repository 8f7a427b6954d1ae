//! Type detection from content: magic bytes first, then structure, never the file name.
//!
//! Extensions lie (a `.txt` that is a ZIP, a `.pdf` that is an email), and custodians rename
//! files; litigation support expects the type of what the bytes are. The sniffers here look at
//! the first [`HEAD_BYTES`] and, for archives with prepended data (self-extractors), at the
//! ZIP end-of-central-directory record near the end.

use fs_err as fs;
use quarry_types::FileType;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// How many leading bytes the sniffers look at.
pub const HEAD_BYTES: usize = 8192;
/// The ZIP end-of-central-directory record lies within this many bytes of the end (22-byte
/// record plus a comment of at most 65,535 bytes).
const EOCD_WINDOW: u64 = 22 + 65_535;

/// What the bytes of a file look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected {
    /// The detected type.
    pub file_type: FileType,
    /// For [`FileType::Zip`]: whether the file starts with a ZIP signature (a file detected by
    /// its end record only may be something else with a ZIP appended, so a failure to open it
    /// is not corruption).
    pub zip_at_start: bool,
    /// For [`FileType::Zip`]: the file starts with the split-archive marker (`PK\x07\x08`),
    /// so it is one volume of a multi-volume archive.
    pub split_volume: bool,
    /// For the last volume of a split archive (its end record names a disk past the first):
    /// how many volumes the archive has, else 0.
    pub split_volumes: u32,
}

/// Detects the type of the file at `path`.
pub fn detect_file(path: &Path) -> io::Result<Detected> {
    let mut file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut file).take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    let detected = detect_head(&head, len);
    if !needs_tail(detected, len) {
        return Ok(detected);
    }
    file.seek(SeekFrom::Start(len.saturating_sub(EOCD_WINDOW)))?;
    let mut tail = Vec::new();
    file.take(EOCD_WINDOW).read_to_end(&mut tail)?;
    Ok(with_tail(detected, &tail, len))
}

/// Detects the type of a native held whole in memory.
#[must_use]
pub fn detect_bytes(bytes: &[u8]) -> Detected {
    let len = bytes.len() as u64;
    let detected = detect_head(&bytes[..bytes.len().min(HEAD_BYTES)], len);
    if !needs_tail(detected, len) {
        return detected;
    }
    let tail_start = bytes.len().saturating_sub(EOCD_WINDOW as usize);
    with_tail(detected, &bytes[tail_start..], len)
}

/// Text and unknown bytes may be a ZIP with data in front (a self-extractor): look for the end
/// record.
fn needs_tail(detected: Detected, len: u64) -> bool {
    matches!(detected.file_type, FileType::Text | FileType::Unknown) && len >= 22
}

fn with_tail(detected: Detected, tail: &[u8], len: u64) -> Detected {
    if memchr::memmem::find(tail, b"PK\x05\x06").is_some() {
        let split_volumes = crate::split::volumes_claimed(tail, len).unwrap_or(0);
        Detected {
            file_type: FileType::Zip,
            zip_at_start: false,
            split_volume: false,
            split_volumes,
        }
    } else {
        detected
    }
}

/// Detects a type from the leading bytes of a file of `len` bytes.
#[must_use]
pub fn detect_head(head: &[u8], len: u64) -> Detected {
    let file_type = sniff(head, len);
    let zip = file_type == FileType::Zip;
    Detected {
        file_type,
        zip_at_start: zip,
        split_volume: zip && head.starts_with(b"PK\x07\x08"),
        split_volumes: 0,
    }
}

fn sniff(head: &[u8], len: u64) -> FileType {
    if len == 0 {
        return FileType::Empty;
    }
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return FileType::Zip;
    }
    // Readers accept a PDF header anywhere in the first 1,024 bytes (after junk or a BOM).
    if head[..head.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
        return FileType::Pdf;
    }
    const MAGIC: &[(&[u8], FileType)] = &[
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", FileType::Ole),
        (b"\x78\x9F\x3E\x22", FileType::Tnef),
        (b"!BDN", FileType::Pst),
        (b"\x1F\x8B", FileType::Gzip),
        (b"\xFD7zXZ\x00", FileType::Xz),
        (b"7z\xBC\xAF\x27\x1C", FileType::SevenZip),
        (b"Rar!\x1A\x07", FileType::Rar),
        (b"\x89PNG\r\n\x1A\n", FileType::Png),
        (b"\xFF\xD8\xFF", FileType::Jpeg),
        (b"GIF87a", FileType::Gif),
        (b"GIF89a", FileType::Gif),
        (b"II*\x00", FileType::Tiff),
        (b"MM\x00*", FileType::Tiff),
        (b"{\\rtf", FileType::Rtf),
    ];
    for (magic, file_type) in MAGIC {
        if starts(magic) {
            return *file_type;
        }
    }
    // "BZh", the block size, then a block's magic (or the end-of-stream one, when empty).
    if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && [&b"1AY&SY"[..], b"\x17\x72\x45\x38\x50\x90"].contains(&&head[4..10])
    {
        return FileType::Bzip2;
    }
    if crate::smime::is_cms(head) {
        return FileType::Smime;
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return FileType::Tar;
    }
    if starts(b"BM")
        && head.len() >= 14
        && u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as u64 == len
    {
        return FileType::Bmp;
    }
    if !looks_like_text(head) {
        return FileType::Unknown;
    }
    let head = strip_bom(head);
    // Valid UTF-8 (the common case) needs no copy; a cut-off last character is ignored.
    let text = match std::str::from_utf8(head) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(e) if e.error_len().is_none() => {
            std::borrow::Cow::Borrowed(std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""))
        }
        Err(_) => String::from_utf8_lossy(head),
    };
    // Classic Mac OS line ends (CR only): read the lines as lines.
    let text = if !text.contains('\n') && text.contains('\r') {
        std::borrow::Cow::Owned(text.replace('\r', "\n"))
    } else {
        text
    };
    if is_mbox(&text) {
        FileType::Mbox
    } else if is_email(&text) {
        FileType::Email
    } else if is_html(&text) {
        FileType::Html
    } else {
        FileType::Text
    }
}

fn strip_bom(head: &[u8]) -> &[u8] {
    head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head)
}

/// Text: a UTF-16 BOM, or no NUL bytes and few control characters.
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return true;
    }
    if memchr::memchr(0, head).is_some() {
        return false;
    }
    // Two simple counts (control bytes, then the whitespace among them) vectorise; one
    // combined test does not. This runs on every input.
    let low = count_bytes(head, |b| b < 0x20);
    let allowed = count_bytes(head, |b| matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B));
    (low - allowed) * 100 <= head.len()
}

/// How many bytes satisfy `pred`, counted in byte-wide lanes (chunks of 255 cannot overflow a
/// `u8`), which LLVM turns into 32-byte vector compares.
fn count_bytes(bytes: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| usize::from(chunk.iter().fold(0u8, |n, &b| n + u8::from(pred(b)))))
        .sum()
}

const HEADER_NAMES: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "delivered-to",
    "reply-to",
    "sender",
    "x-mailer",
    "in-reply-to",
    "references",
];

/// A header line `Name: value` whose name is a known email header.
fn known_header(line: &str) -> bool {
    line.split_once(':').is_some_and(|(name, _)| {
        let name = name.trim_end().to_ascii_lowercase();
        HEADER_NAMES.contains(&name.as_str())
    })
}

fn is_header_like(line: &str) -> bool {
    line.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
    })
}

/// An email: the text opens with a header block holding at least two known header names.
fn is_email(text: &str) -> bool {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let Some(first) = lines.next() else { return false };
    if !is_header_like(first) {
        return false;
    }
    // A bare MIME entity (a message with only its MIME headers left, as mail stores and
    // test suites keep them) is a message too.
    let first_lower = first.to_ascii_lowercase();
    let mime_entity =
        first_lower.starts_with("content-type:") || first_lower.starts_with("mime-version:");
    let mut known = usize::from(known_header(first)) + usize::from(mime_entity);
    for line in lines.take(200) {
        if line.is_empty() || line == "\r" {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if !is_header_like(line) {
            return false;
        }
        known += usize::from(known_header(line));
    }
    known >= 2
}

/// A Unix mailbox: a `From ` separator line followed by a message.
fn is_mbox(text: &str) -> bool {
    text.starts_with("From ") && text.split_once('\n').is_some_and(|(_, rest)| is_email(rest))
}

fn is_html(text: &str) -> bool {
    let start = text.trim_start().get(..64).unwrap_or(text.trim_start()).to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        let cases: &[(&[u8], FileType)] = &[
            (b"", FileType::Empty),
            (b"PK\x03\x04rest", FileType::Zip),
            (b"%PDF-1.7\n", FileType::Pdf),
            (b"\xEF\xBB\xBFplain text, with a BOM\n", FileType::Text),
            (b"Meeting notes\nAgenda: budget\n", FileType::Text),
            (b"From: a@example.com\nTo: b@example.com\nSubject: hi\n\nbody\n", FileType::Email),
            (b"Received: from x\n\tby y\nFrom: a@b\nSubject: s\n\nbody", FileType::Email),
            (b"From: a@b\rTo: c@d\rSubject: s\r\rbody\r", FileType::Email),
            (
                b"From MAILER-DAEMON Mon Jan  1 00:00:00 2001\nFrom: a@b\nTo: c@d\n\nx\n",
                FileType::Mbox,
            ),
            (b"<!DOCTYPE html><html><body>x</body></html>", FileType::Html),
            (b"\x89PNG\r\n\x1A\n\0\0", FileType::Png),
            (b"\x00\x01\x02\x03binary", FileType::Unknown),
            (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", FileType::Ole),
            (b"caf\xE9 au lait, legacy Latin-1 text\n", FileType::Text),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                detect_head(bytes, bytes.len() as u64).file_type,
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn subject_line_alone_is_not_an_email() {
        let text = b"Subject: quarterly numbers\nThe numbers are in.\n";
        assert_eq!(detect_head(text, text.len() as u64).file_type, FileType::Text);
    }
}
