//! File names and paths as text, for names that are not UTF-8.
//!
//! A Unix file name is any bytes but `/` and NUL. Collections copied from old Windows or Mac
//! media carry names in Latin-1 or a code page (`caf\xE9.txt`), and the case stores text. Two
//! rules follow, because a lossy conversion (each bad byte made U+FFFD) would give `caf\xE9.txt`
//! and `caf\xE8.txt` the same name: the second would then pass for the first, already ingested,
//! and a mailbox read in place could not be found again at its source.
//!
//! - [`name_text`]: what people read (names, locators). UTF-8 names are unchanged; a byte
//!   that is not part of valid UTF-8 is written `\xNN`, as `ls -b` writes it.
//! - [`source_key`] and [`source_path`]: the source path the case keys an input by and reopens
//!   it from. UTF-8 paths are unchanged, so cases made before these rules keep their keys; any
//!   other is [`NON_UTF8_PREFIX`] then its bytes escaped (`\\` for a backslash, `\xNN` for a
//!   byte outside valid UTF-8). A source path is absolute, so it starts with `/` and never with
//!   the prefix: the two kinds of key never meet, and [`source_path`] gives back the same bytes.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What a [`source_key`] of a path that is not UTF-8 starts with.
pub const NON_UTF8_PREFIX: &str = "non-utf8:";

/// A file name or path for people: itself when it is UTF-8, else each byte outside valid UTF-8
/// written `\xNN` (nothing else is changed, so the text alone is not always reversible; keys
/// use [`source_key`]).
#[must_use]
pub fn name_text(name: &OsStr) -> String {
    match name.to_str() {
        Some(text) => text.to_owned(),
        None => escape(name.as_bytes(), false),
    }
}

/// The key the case stores an input's source path under: the path when it is UTF-8, else
/// [`NON_UTF8_PREFIX`] and its bytes escaped, reversibly. `path` is absolute.
#[must_use]
pub fn source_key(path: &Path) -> String {
    match path.to_str() {
        Some(text) => text.to_owned(),
        None => format!("{NON_UTF8_PREFIX}{}", escape(path.as_os_str().as_bytes(), true)),
    }
}

/// The path a [`source_key`] was made from, byte for byte.
#[must_use]
pub fn source_path(key: &str) -> PathBuf {
    let Some(escaped) = key.strip_prefix(NON_UTF8_PREFIX) else { return PathBuf::from(key) };
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = |from: usize| {
            let digits = std::str::from_utf8(bytes.get(from..from + 2)?).ok()?;
            u8::from_str_radix(digits, 16).ok()
        };
        match (bytes[at], bytes.get(at + 1)) {
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                at += 2;
            }
            (b'\\', Some(b'x')) if hex(at + 2).is_some() => {
                out.extend(hex(at + 2));
                at += 4;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// `bytes` with each byte outside valid UTF-8 as `\xNN`, and with `\` as `\\` when
/// `backslashes` is set.
fn escape(bytes: &[u8], backslashes: bool) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        if backslashes {
            out.push_str(&chunk.valid().replace('\\', "\\\\"));
        } else {
            out.push_str(chunk.valid());
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn path(bytes: &[u8]) -> PathBuf {
        PathBuf::from(OsString::from_vec(bytes.to_vec()))
    }

    #[test]
    fn utf8_is_unchanged() {
        for text in ["/cases/in/café.txt", "/a\\b/x\\x41.txt", "/"] {
            assert_eq!(source_key(Path::new(text)), text);
            assert_eq!(source_path(text), Path::new(text));
            assert_eq!(name_text(OsStr::new(text)), text);
        }
    }

    #[test]
    fn other_bytes_are_escaped_and_given_back() {
        let latin1 = path(b"/in/caf\xe9.txt");
        assert_eq!(name_text(latin1.as_os_str()), "/in/caf\\xE9.txt");
        assert_eq!(source_key(&latin1), "non-utf8:/in/caf\\xE9.txt");
        for bytes in [
            &b"/in/caf\xe9.txt"[..],
            b"/in/caf\xe8.txt",
            b"/in/a\\xE9\\\xff",
            b"/in/\xe2\x82.txt",
            b"/in/\xff\\",
            b"/in/\\\\x\xfe",
        ] {
            let key = source_key(&path(bytes));
            assert!(key.starts_with(NON_UTF8_PREFIX), "{key}");
            assert_eq!(source_path(&key).as_os_str().as_bytes(), bytes, "{key}");
        }
        // The keys of two names that a lossy conversion would merge stay apart.
        assert_ne!(source_key(&path(b"/in/caf\xe9.txt")), source_key(&path(b"/in/caf\xe8.txt")));
        assert_ne!(source_key(&path(b"/in/\xe9")), source_key(Path::new("/in/\\xE9")));
    }
}
