//! A minimal reader of a ZIP's central directory: the names of its records, in order.
//!
//! The `zip` crate indexes entries by name, so when an archive repeats a name it exposes only
//! the last entry of that name (it does say so, through `has_duplicate_names`). quarry must
//! account for every entry, so for those archives it reads the directory itself to learn which
//! records the crate hid.

use fs_err as fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

pub(crate) const EOCD: &[u8] = b"PK\x05\x06";
pub(crate) const ZIP64_LOCATOR: &[u8] = b"PK\x06\x07";
pub(crate) const ZIP64_EOCD: &[u8] = b"PK\x06\x06";
pub(crate) const CENTRAL_HEADER: &[u8] = b"PK\x01\x02";
/// Directories larger than this are not read (the crate's own view is used instead).
const MAX_DIRECTORY: u64 = 256 << 20;

/// One central-directory record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectoryRecord {
    /// The name as stored.
    pub(crate) name: Vec<u8>,
    /// Whether the name marks a folder.
    pub(crate) is_dir: bool,
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?)))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?)))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The central-directory records of the ZIP at `path`, or `None` when the directory cannot be
/// located or parsed.
pub(crate) fn records(path: &Path) -> io::Result<Option<Vec<DirectoryRecord>>> {
    let mut file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    records_in(&mut file, len)
}

/// The central-directory records of the ZIP `file` of `len` bytes (a file, or a split
/// archive's volumes joined).
pub(crate) fn records_in(
    file: &mut (impl Read + Seek),
    len: u64,
) -> io::Result<Option<Vec<DirectoryRecord>>> {
    let tail_start = len.saturating_sub(22 + 65_535);
    file.seek(SeekFrom::Start(tail_start))?;
    let mut tail = Vec::new();
    file.take(len - tail_start).read_to_end(&mut tail)?;
    let Some(eocd) = tail.windows(4).rposition(|w| w == EOCD) else { return Ok(None) };
    let (Some(mut count), Some(mut size)) = (u16_at(&tail, eocd + 10), u32_at(&tail, eocd + 12))
    else {
        return Ok(None);
    };
    let mut directory_end = tail_start + eocd as u64;
    if (count == 0xFFFF || size == 0xFFFF_FFFF)
        && eocd >= 20
        && &tail[eocd - 20..eocd - 16] == ZIP64_LOCATOR
    {
        let Some(zip64_at) = u64_at(&tail, eocd - 20 + 8) else { return Ok(None) };
        let mut record = [0u8; 56];
        file.seek(SeekFrom::Start(zip64_at))?;
        if file.read_exact(&mut record).is_err() || &record[..4] != ZIP64_EOCD {
            return Ok(None);
        }
        count = u64_at(&record, 32).unwrap_or(0);
        size = u64_at(&record, 40).unwrap_or(0);
        directory_end = zip64_at;
    }
    // Measured back from the end record, so data prepended to the archive does not matter.
    let Some(start) = directory_end.checked_sub(size) else { return Ok(None) };
    if size > MAX_DIRECTORY {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(start))?;
    let mut directory = vec![0; usize::try_from(size).unwrap_or(0)];
    file.read_exact(&mut directory)?;
    let mut records = Vec::new();
    let mut at = 0usize;
    while (records.len() as u64) < count {
        if directory.get(at..at + 4) != Some(CENTRAL_HEADER) {
            return Ok(None);
        }
        let (Some(name_len), Some(extra_len), Some(comment_len)) =
            (u16_at(&directory, at + 28), u16_at(&directory, at + 30), u16_at(&directory, at + 32))
        else {
            return Ok(None);
        };
        let name_start = at + 46;
        let Some(name) = directory.get(name_start..name_start + name_len as usize) else {
            return Ok(None);
        };
        let is_dir = name.ends_with(b"/") || name.ends_with(b"\\");
        records.push(DirectoryRecord { name: name.to_vec(), is_dir });
        at = name_start + (name_len + extra_len + comment_len) as usize;
    }
    Ok(Some(records))
}

/// The records the `zip` crate hides: every occurrence of a repeated name but the last, as
/// `(directory index, name)`.
pub(crate) fn hidden_by_repeated_names(records: &[DirectoryRecord]) -> Vec<(usize, String)> {
    let mut last: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for (index, record) in records.iter().enumerate() {
        last.insert(&record.name, index);
    }
    records
        .iter()
        .enumerate()
        .filter(|(index, record)| !record.is_dir && last.get(record.name.as_slice()) != Some(index))
        .map(|(index, record)| (index, String::from_utf8_lossy(&record.name).into_owned()))
        .collect()
}
