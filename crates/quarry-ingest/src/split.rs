//! Split archives: ZIPs in volumes (`X.z01`, `X.z02`, ..., `X.zip`), as Info-ZIP's `zip -s`,
//! WinZip and WinRAR make them to fit a collection on media or under a mail size limit, and
//! archives split by bytes (`X.001`, `X.002`, ...: 7-Zip's volumes, `split`).
//!
//! Each volume is a piece of one archive cut at fixed sizes; only the first starts with the
//! split marker (`PK\x07\x08`) and only the last (`X.zip`) holds the end record. Offsets in
//! the central directory count from the start of the volume an entry starts on, so the volumes
//! laid end to end are not a ZIP the `zip` crate reads ("Multi-disk ZIP files are not
//! supported"). [`open`] gives it one: the volumes end to end up to the central directory, then
//! that directory rewritten with every offset counted from the first volume's start and every
//! disk number 0, then a new end record. Entry data is never copied: reads go to the volumes.
//!
//! Volumes are found by name beside the last one, which is how every tool finds them. Parts
//! split by bytes need no rewrite: [`concatenated`] lays them end to end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::zipdir::{CENTRAL_HEADER, EOCD, ZIP64_EOCD, ZIP64_LOCATOR, u16_at, u32_at, u64_at};

/// The end record lies within this many bytes of the end (22 bytes and a comment).
pub(crate) const TAIL_BYTES: u64 = 22 + 65_535;
/// Central directories larger than this are not rewritten.
const MAX_DIRECTORY: u64 = 256 << 20;
/// More volumes than this are not looked for (Info-ZIP numbers up to `.z99`, then `.z100`).
const MAX_VOLUMES: u32 = 65_535;

/// Where an archive's central directory is, as its end records say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End {
    /// Number of volumes (the last volume's disk number plus one).
    volumes: u32,
    /// The volume the central directory starts on, and its offset there.
    directory_disk: u32,
    directory_offset: u64,
    directory_size: u64,
    entries: u64,
}

/// Reads the end records from the last `TAIL_BYTES` of a file of `len` bytes (`tail`). `None`
/// when there is no end record, or it is not the last of several volumes, or its numbers do
/// not fit the volume it is on (damaged or fuzzed data that only looks like an end record).
fn end_of(tail: &[u8], len: u64) -> Option<End> {
    let at = memchr::memmem::rfind(tail, EOCD)?;
    let this_disk = u16_at(tail, at + 4)?;
    let mut end = End {
        volumes: 0,
        directory_disk: u16_at(tail, at + 6)? as u32,
        entries: u16_at(tail, at + 10)?,
        directory_size: u32_at(tail, at + 12)?,
        directory_offset: u32_at(tail, at + 16)?,
    };
    let mut volumes = this_disk + 1;
    let mut entries_here = u16_at(tail, at + 8)?;
    // Where the directory must end on this volume: where the end records start.
    let mut directory_end = at;
    // A ZIP64 archive says it in a locator just before the end record, pointing at a larger
    // end record; the fields the plain record could not hold are there. In a split archive
    // both sit on the last volume, the larger record before the locator.
    if let Some(locator) = at.checked_sub(20).filter(|&l| tail.get(l..l + 4) == Some(ZIP64_LOCATOR))
    {
        volumes = u32_at(tail, locator + 16)?;
        let r = memchr::memmem::rfind(&tail[..locator], ZIP64_EOCD)?;
        directory_end = r;
        if u32_at(tail, r + 16)? + 1 != volumes {
            return None;
        }
        end.directory_disk = u32::try_from(u32_at(tail, r + 20)?).ok()?;
        entries_here = u64_at(tail, r + 24)?;
        end.entries = u64_at(tail, r + 32)?;
        end.directory_size = u64_at(tail, r + 40)?;
        end.directory_offset = u64_at(tail, r + 48)?;
    }
    end.volumes = u32::try_from(volumes).ok()?;
    if end.volumes < 2 || end.volumes > MAX_VOLUMES || entries_here > end.entries {
        return None;
    }
    // The directory ends where the end records start: all of it on this volume, or its
    // start on an earlier one and the rest at this volume's start.
    let directory_end = len.checked_sub(tail.len() as u64)? + directory_end as u64;
    let last = end.volumes - 1;
    let fits = match end.directory_disk.cmp(&last) {
        std::cmp::Ordering::Equal => {
            end.directory_offset.checked_add(end.directory_size) == Some(directory_end)
        }
        std::cmp::Ordering::Less => directory_end <= end.directory_size,
        std::cmp::Ordering::Greater => false,
    };
    fits.then_some(end)
}

/// For the last volume of a split archive: how many volumes the archive has (its end record
/// says). `None` for anything else.
#[must_use]
pub(crate) fn volumes_claimed(tail: &[u8], len: u64) -> Option<u32> {
    end_of(tail, len).map(|end| end.volumes)
}

/// The last [`TAIL_BYTES`] of `file` (all of it when shorter), where an end record lies.
pub(crate) fn tail_of(file: &File) -> io::Result<Vec<u8>> {
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    let mut tail = vec![0; usize::try_from(len - start).map_err(io::Error::other)?];
    file.read_exact_at(&mut tail, start)?;
    Ok(tail)
}

/// Whether `name` names a volume before the last (`X.z01`, `X.Z07`, `X.z100`): the set's
/// stem and the volume's number.
#[must_use]
pub(crate) fn volume_number(name: &str) -> Option<(&str, u32)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let digits = ext.strip_prefix(['z', 'Z'])?;
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u32 = digits.parse().ok()?;
    (number > 0 && !stem.is_empty()).then_some((stem, number))
}

/// The path of volume `number` (1-based) of the set whose last volume is `last`: `X.z01` for
/// `X.zip`, `X.Z01` for `X.ZIP`.
pub(crate) fn volume_path(last: &Path, number: u32) -> Option<PathBuf> {
    let name = last.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let z = if ext.starts_with('Z') { 'Z' } else { 'z' };
    Some(last.with_file_name(format!("{stem}.{z}{number:02}")))
}

/// The last volume of the set that `volume` (named `X.zNN`) belongs to, when it is beside it
/// and claims at least that many volumes before itself.
pub(crate) fn last_volume_of(volume: &Path) -> Option<PathBuf> {
    let name = volume.file_name()?.to_str()?;
    let (stem, number) = volume_number(name)?;
    let upper = name.rsplit_once('.').is_some_and(|(_, e)| e.starts_with('Z'));
    let candidates = if upper { ["ZIP", "zip"] } else { ["zip", "ZIP"] };
    candidates.iter().find_map(|ext| {
        let last = volume.with_file_name(format!("{stem}.{ext}"));
        let file = File::open(&last).ok()?;
        let len = file.metadata().ok()?.len();
        let claimed = volumes_claimed(&tail_of(&file).ok()?, len)?;
        (number < claimed).then_some(last)
    })
}

/// Why a split archive could not be opened.
#[derive(Debug)]
pub(crate) enum SplitError {
    /// A volume is not beside the last one.
    Missing(PathBuf),
    /// The end records or the central directory do not make sense.
    Damaged(String),
    /// Reading a volume failed.
    Io(io::Error),
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::Missing(path) => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                write!(f, "its volume {name} is not beside it")
            }
            SplitError::Damaged(why) => write!(f, "{why}"),
            SplitError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SplitError {}

impl From<io::Error> for SplitError {
    fn from(e: io::Error) -> SplitError {
        SplitError::Io(e)
    }
}

/// A split archive opened as one ZIP: the volumes end to end up to the central directory,
/// then the rewritten directory and end record. `Read + Seek`, for `zip::ZipArchive`.
#[derive(Debug)]
pub(crate) struct Joined {
    /// Each volume with where it starts in the joined archive and how many of its bytes it
    /// gives (the last is cut at the central directory).
    volumes: Vec<(File, u64, u64)>,
    paths: Vec<PathBuf>,
    /// Where the rewritten directory starts (the end of the volumes' bytes).
    data_end: u64,
    directory: Vec<u8>,
    pos: u64,
}

impl Joined {
    /// The volumes, in order, the last one last (to check after reading that none changed).
    pub(crate) fn volumes(&self) -> impl Iterator<Item = (&Path, &File)> {
        self.paths.iter().map(PathBuf::as_path).zip(self.volumes.iter().map(|(file, _, _)| file))
    }

    /// The joined archive's length: every volume's bytes up to the directory, and the
    /// directory.
    pub(crate) fn len(&self) -> u64 {
        self.data_end + self.directory.len() as u64
    }
}

impl Read for Joined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.len() {
            return Ok(0);
        }
        let n = if self.pos >= self.data_end {
            let at = usize::try_from(self.pos - self.data_end).map_err(io::Error::other)?;
            let n = buf.len().min(self.directory.len() - at);
            buf[..n].copy_from_slice(&self.directory[at..at + n]);
            n
        } else {
            // The volume holding `pos`: the last one starting at or before it.
            let i = self.volumes.partition_point(|&(_, start, _)| start <= self.pos) - 1;
            let (file, start, len) = &self.volumes[i];
            let within = self.pos - start;
            let want =
                usize::try_from((len - within).min(buf.len() as u64)).map_err(io::Error::other)?;
            let n = file.read_at(&mut buf[..want], within)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("volume {} is shorter than when it was opened", i + 1),
                ));
            }
            n
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Joined {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the archive")
        })?;
        Ok(self.pos)
    }
}

/// Whether `name` names a part of a file split by bytes (`X.001`, `X.002`, ..., as 7-Zip's
/// "split to volumes", HJSplit and `split -d -a 3` write them): its stem, its number and the
/// width of its number.
#[must_use]
pub(crate) fn part_number(name: &str) -> Option<(&str, u32, usize)> {
    let (stem, digits) = name.rsplit_once('.')?;
    if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) || stem.is_empty() {
        return None;
    }
    let number: u32 = digits.parse().ok()?;
    (number > 0).then_some((stem, number, digits.len()))
}

/// The parts of the file split by bytes whose first part is `first` (`X.001`): `X.001`,
/// `X.002`, ... for as long as they follow one another. `None` unless there are two or more.
pub(crate) fn parts_from(first: &Path) -> Option<Vec<PathBuf>> {
    let (stem, number, width) = part_number(first.file_name()?.to_str()?)?;
    if number != 1 {
        return None;
    }
    let mut parts = vec![first.to_path_buf()];
    for n in 2..=MAX_VOLUMES {
        let next = first.with_file_name(format!("{stem}.{n:0width$}"));
        if !next.is_file() {
            break;
        }
        parts.push(next);
    }
    (parts.len() > 1).then_some(parts)
}

/// For a part after the first (`X.002`, ...): the first part, when it is beside it and its
/// parts run on to this one.
pub(crate) fn first_part_of(part: &Path) -> Option<PathBuf> {
    let (stem, number, width) = part_number(part.file_name()?.to_str()?)?;
    if number < 2 {
        return None;
    }
    let first = part.with_file_name(format!("{stem}.{:0width$}", 1));
    let parts = parts_from(&first)?;
    (parts.len() >= number as usize).then_some(first)
}

/// The parts of a file split by bytes, end to end, as one file.
pub(crate) fn concatenated(paths: &[PathBuf]) -> io::Result<Joined> {
    let mut volumes = Vec::with_capacity(paths.len());
    let mut start = 0;
    for path in paths {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        volumes.push((file, start, len));
        start += len;
    }
    Ok(Joined { volumes, paths: paths.to_vec(), data_end: start, directory: Vec::new(), pos: 0 })
}

/// Opens the split archive whose last volume is `last` (already open as `last_file`), with
/// its other volumes found beside it by name.
pub(crate) fn open(last: &Path, last_file: File) -> Result<Joined, SplitError> {
    let named = |number| {
        volume_path(last, number).ok_or_else(|| SplitError::Damaged("its name is not UTF-8".into()))
    };
    open_with(last, last_file, named)
}

/// Opens the split archive whose last volume is `last`, open as `last_file`, with volume `n`
/// (from 1) at `volume(n)`: a file beside it, or a volume stored from the same container.
pub(crate) fn open_with(
    last: &Path,
    last_file: File,
    volume: impl Fn(u32) -> Result<PathBuf, SplitError>,
) -> Result<Joined, SplitError> {
    let damaged = |why: &str| SplitError::Damaged(why.to_owned());
    let end = end_of(&tail_of(&last_file)?, last_file.metadata()?.len())
        .ok_or_else(|| damaged("its end record does not say it is the last of several volumes"))?;
    let mut volumes = Vec::with_capacity(end.volumes as usize);
    let mut paths = Vec::with_capacity(end.volumes as usize);
    let mut start = 0u64;
    for number in 1..end.volumes {
        let path = volume(number)?;
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SplitError::Missing(path));
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        volumes.push((file, start, len));
        paths.push(path);
        start += len;
    }
    let last_len = last_file.metadata()?.len();
    volumes.push((last_file, start, last_len));
    paths.push(last.to_path_buf());

    // The directory, read from the volumes end to end (it may itself cross a volume).
    let disk = volumes
        .get(end.directory_disk as usize)
        .ok_or_else(|| damaged("its central directory starts on a volume it does not have"))?;
    let data_end = disk
        .1
        .checked_add(end.directory_offset)
        .filter(|&d| d.checked_add(end.directory_size).is_some_and(|e| e <= start + last_len));
    let data_end = data_end.ok_or_else(|| damaged("its central directory lies past its end"))?;
    if end.directory_size > MAX_DIRECTORY {
        return Err(damaged("its central directory is over 256 MiB"));
    }
    let mut joined =
        Joined { volumes, paths, data_end: start + last_len, directory: Vec::new(), pos: 0 };
    let mut old = vec![0; usize::try_from(end.directory_size).map_err(io::Error::other)?];
    joined.seek(SeekFrom::Start(data_end))?;
    joined.read_exact(&mut old)?;

    let starts: Vec<u64> = joined.volumes.iter().map(|&(_, s, _)| s).collect();
    let (directory, count) = rewrite(&old, &starts, data_end)?;
    if count != end.entries {
        return Err(SplitError::Damaged(format!(
            "its central directory holds {count} entries where its end record says {}",
            end.entries
        )));
    }
    let mut tail = directory;
    let size = tail.len() as u64;
    write_end(&mut tail, count, size, data_end);
    // The joined archive ends with the new directory: cut the volumes at the old one.
    for (_, start, len) in &mut joined.volumes {
        *len = (*len).min(data_end.saturating_sub(*start));
    }
    joined.data_end = data_end;
    joined.directory = tail;
    Ok(joined)
}

/// Rewrites a central directory: every record's local-header offset counted from the first
/// volume's start (`starts[disk] + offset`) and its disk number 0, with ZIP64 fields where the
/// values need them. Returns the directory and its number of records.
fn rewrite(old: &[u8], starts: &[u64], data_end: u64) -> Result<(Vec<u8>, u64), SplitError> {
    let damaged = |why: String| SplitError::Damaged(why);
    let mut out = Vec::with_capacity(old.len() + old.len() / 8);
    let mut at = 0;
    let mut count = 0u64;
    while at < old.len() {
        let field = |v: Option<u64>| {
            v.ok_or_else(|| damaged(format!("central directory record {count} is cut short")))
        };
        if old.get(at..at + 4) != Some(CENTRAL_HEADER) {
            return Err(damaged(format!(
                "central directory record {count} does not start with its signature"
            )));
        }
        let name_len = field(u16_at(old, at + 28))? as usize;
        let extra_len = field(u16_at(old, at + 30))? as usize;
        let comment_len = field(u16_at(old, at + 32))? as usize;
        let fixed = &old[at..];
        let record_end = at + 46 + name_len + extra_len + comment_len;
        if record_end > old.len() {
            return Err(damaged(format!("central directory record {count} is cut short")));
        }
        let mut compressed = field(u32_at(fixed, 20))?;
        let mut size = field(u32_at(fixed, 24))?;
        let mut disk = field(u16_at(fixed, 34))?;
        let mut offset = field(u32_at(fixed, 42))?;
        let name = &old[at + 46..at + 46 + name_len];
        let extra = &old[at + 46 + name_len..at + 46 + name_len + extra_len];
        let comment = &old[at + 46 + name_len + extra_len..record_end];

        // The ZIP64 field holds, in this order, each value whose plain field is all ones.
        let mut kept_extra = Vec::with_capacity(extra.len());
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16_at(extra, e).unwrap_or_default();
            let len = u16_at(extra, e + 2).unwrap_or_default() as usize;
            let body = extra.get(e + 4..e + 4 + len).ok_or_else(|| {
                damaged(format!("central directory record {count} has a cut extra field"))
            })?;
            if id == 1 {
                let mut v = 0;
                let mut next = |wide: bool| -> Option<u64> {
                    let value = if wide { u64_at(body, v) } else { u32_at(body, v) };
                    v += if wide { 8 } else { 4 };
                    value
                };
                let bad = || damaged(format!("central directory record {count}: bad ZIP64 field"));
                if size == 0xFFFF_FFFF {
                    size = next(true).ok_or_else(bad)?;
                }
                if compressed == 0xFFFF_FFFF {
                    compressed = next(true).ok_or_else(bad)?;
                }
                if offset == 0xFFFF_FFFF {
                    offset = next(true).ok_or_else(bad)?;
                }
                if disk == 0xFFFF {
                    disk = next(false).ok_or_else(bad)?;
                }
            } else {
                kept_extra.extend_from_slice(&extra[e..e + 4 + len]);
            }
            e += 4 + len;
        }
        let start = usize::try_from(disk).ok().and_then(|d| starts.get(d)).ok_or_else(|| {
            damaged(format!("central directory record {count} names volume {}", disk + 1))
        })?;
        let absolute = start.checked_add(offset).filter(|&a| a < data_end).ok_or_else(|| {
            damaged(format!("central directory record {count} points past the data"))
        })?;

        // The new ZIP64 field: whichever values no longer fit their plain field.
        let mut zip64 = Vec::new();
        let wide = |v: u64| v >= 0xFFFF_FFFF;
        for value in [size, compressed, absolute] {
            if wide(value) {
                zip64.extend_from_slice(&value.to_le_bytes());
            }
        }
        let mut new_extra = Vec::with_capacity(kept_extra.len() + 4 + zip64.len());
        if !zip64.is_empty() {
            new_extra.extend_from_slice(&1u16.to_le_bytes());
            new_extra.extend_from_slice(&(zip64.len() as u16).to_le_bytes());
            new_extra.extend_from_slice(&zip64);
        }
        new_extra.extend_from_slice(&kept_extra);
        let new_extra_len = u16::try_from(new_extra.len()).map_err(|_| {
            damaged(format!("central directory record {count}: extra fields too long"))
        })?;
        let plain = |v: u64| if wide(v) { 0xFFFF_FFFFu32 } else { v as u32 };

        out.extend_from_slice(&old[at..at + 20]);
        out.extend_from_slice(&plain(compressed).to_le_bytes());
        out.extend_from_slice(&plain(size).to_le_bytes());
        out.extend_from_slice(&old[at + 28..at + 30]);
        out.extend_from_slice(&new_extra_len.to_le_bytes());
        out.extend_from_slice(&old[at + 32..at + 34]);
        out.extend_from_slice(&0u16.to_le_bytes()); // disk number start
        out.extend_from_slice(&old[at + 36..at + 42]);
        out.extend_from_slice(&plain(absolute).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&new_extra);
        out.extend_from_slice(comment);
        at = record_end;
        count += 1;
    }
    Ok((out, count))
}

/// Appends the end records of a one-volume archive whose directory of `count` records and
/// `size` bytes starts at `offset`: a ZIP64 record and locator first when a value needs them.
fn write_end(out: &mut Vec<u8>, count: u64, size: u64, offset: u64) {
    let zip64 = count >= 0xFFFF || size >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF;
    if zip64 {
        let record_at = offset + size;
        out.extend_from_slice(ZIP64_EOCD);
        out.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of the record
        out.extend_from_slice(&45u16.to_le_bytes()); // version made by: 4.5
        out.extend_from_slice(&45u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u32.to_le_bytes()); // this disk
        out.extend_from_slice(&0u32.to_le_bytes()); // disk of the directory
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(ZIP64_LOCATOR);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&record_at.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // volumes
    }
    let short = |v: u64, max: u64| if zip64 && v >= max { max } else { v };
    out.extend_from_slice(EOCD);
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let entries = short(count, 0xFFFF) as u16;
    out.extend_from_slice(&entries.to_le_bytes());
    out.extend_from_slice(&entries.to_le_bytes());
    out.extend_from_slice(&(short(size, 0xFFFF_FFFF) as u32).to_le_bytes());
    out.extend_from_slice(&(short(offset, 0xFFFF_FFFF) as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // no comment
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const VOLUMES: [&str; 3] = ["set.z01", "set.z02", "set.zip"];

    fn fixture() -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/split");
        VOLUMES.iter().map(|v| std::fs::read(dir.join(v)).unwrap()).collect()
    }

    /// Writes the volumes into `dir` and reads every entry of the joined archive: names and
    /// contents (each checked against its CRC by the reader), or the first error.
    fn read_all(dir: &Path, volumes: &[Vec<u8>]) -> Result<Vec<(String, Vec<u8>)>, String> {
        for (name, bytes) in VOLUMES.iter().zip(volumes) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let last = dir.join("set.zip");
        let joined = open(&last, File::open(&last).unwrap()).map_err(|e| e.to_string())?;
        let mut archive = zip::ZipArchive::new(joined).map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            entries.push((name, bytes));
        }
        Ok(entries)
    }

    #[test]
    fn the_volumes_join_into_the_files_they_were_made_from() {
        let dir = tempfile::tempdir().unwrap();
        let entries = read_all(dir.path(), &fixture()).unwrap();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alpha.txt", "folder/", "folder/beta.txt", "folder/gamma.txt"]);
        let lines = |name: &str, n: usize| -> Vec<u8> {
            (0..n).map(|i| format!("{name} line {i:05}\n")).collect::<String>().into_bytes()
        };
        assert!(entries[0].1 == lines("alpha.txt", 3000), "alpha.txt");
        assert!(entries[2].1 == lines("folder/beta.txt", 2500), "beta.txt, across two volumes");
        assert_eq!(entries[3].1, b"A short memo about the pipeline.\n");
    }

    #[test]
    fn end_records_that_do_not_fit_their_volume_are_not_split_archives() {
        let volumes = fixture();
        let last = &volumes[2];
        assert_eq!(volumes_claimed(last, last.len() as u64), Some(3));
        let eocd = memchr::memmem::rfind(last, EOCD).unwrap();
        let patched = |at: usize, value: u16| {
            let mut bytes = last.clone();
            bytes[eocd + at..eocd + at + 2].copy_from_slice(&value.to_le_bytes());
            volumes_claimed(&bytes, bytes.len() as u64)
        };
        // The directory on a volume after the last.
        assert_eq!(patched(6, 5), None);
        // Read as the second of two volumes, the directory would start on this one and end
        // past the end record (it starts 65,280 bytes into the volume before).
        assert_eq!(patched(4, 1), None);
        // More entries on this volume than in all.
        assert_eq!(patched(8, 5), None);
        // A plain (one-volume) archive is not a split one.
        let mut plain = Vec::new();
        {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut plain));
            w.start_file("a.txt", zip::write::SimpleFileOptions::default()).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(volumes_claimed(&plain, plain.len() as u64), None);
        // The volume names.
        assert_eq!(volume_number("set.z01"), Some(("set", 1)));
        assert_eq!(volume_number("SET.Z12"), Some(("SET", 12)));
        assert_eq!(volume_number("set.z100"), Some(("set", 100)));
        assert_eq!(volume_number("set.zip"), None);
        assert_eq!(volume_number("set.z1"), None);
        assert_eq!(volume_number(".z01"), None);
    }

    /// Volumes that add up past 4 GiB although each offset in them fits 32 bits (as Info-ZIP
    /// writes sets of CD- or DVD-sized volumes): the joined directory needs ZIP64 fields for the
    /// offsets, and a ZIP64 end record for its own. The first volume is a sparse file of 5 GiB
    /// holding only the split marker; the entry and the directory are in the last volume.
    #[test]
    fn offsets_past_4_gib_get_zip64_fields() {
        use std::io::Write;
        let text = b"An entry five gibibytes into the joined archive.\n";
        let mut plain = Vec::new();
        {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut plain));
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            w.start_file("far.txt", stored).unwrap();
            w.write_all(text).unwrap();
            w.finish().unwrap();
        }
        // The same archive as the last of two volumes: its directory record and end record
        // name disk 1 (the second), offsets unchanged (they count from that volume's start).
        let eocd = memchr::memmem::rfind(&plain, EOCD).unwrap();
        let directory = u32_at(&plain, eocd + 16).unwrap() as usize;
        assert_eq!(&plain[directory..directory + 4], CENTRAL_HEADER);
        plain[directory + 34..directory + 36].copy_from_slice(&1u16.to_le_bytes());
        plain[eocd + 4..eocd + 6].copy_from_slice(&1u16.to_le_bytes());
        plain[eocd + 6..eocd + 8].copy_from_slice(&1u16.to_le_bytes());
        let dir = tempfile::tempdir().unwrap();
        let first = File::create(dir.path().join("set.z01")).unwrap();
        first.write_all_at(b"PK\x07\x08", 0).unwrap();
        first.set_len(5 << 30).unwrap();
        let last = dir.path().join("set.zip");
        std::fs::write(&last, &plain).unwrap();
        assert_eq!(volumes_claimed(&plain, plain.len() as u64), Some(2));

        let joined = open(&last, File::open(&last).unwrap()).unwrap();
        assert!(joined.len() > 5 << 30);
        // The rewritten directory record: the offset in the ZIP64 field, its plain field full.
        let record = &joined.directory;
        assert_eq!(u32_at(record, 42), Some(0xFFFF_FFFF));
        assert_eq!(u16_at(record, 30), Some(12), "one ZIP64 field of one offset");
        assert_eq!(u64_at(record, 46 + 7 + 4), Some(5 << 30));
        let mut archive = zip::ZipArchive::new(joined).unwrap();
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name_raw(), b"far.txt");
        let mut read = Vec::new();
        entry.read_to_end(&mut read).unwrap();
        assert_eq!(read, text);
    }

    /// Damaged directories and end records (byte flips in the last two volumes' directory and
    /// end bytes, and truncations) give errors or entries, never a panic or a hang.
    #[test]
    fn damaged_split_archives_fail_cleanly() {
        let volumes = fixture();
        let dir = tempfile::tempdir().unwrap();
        let mut seed = 0x5eed_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut opened, mut failed) = (0, 0);
        for round in 0..1_500 {
            let mut v = volumes.clone();
            if round % 10 == 9 {
                // Cut a volume short.
                let which = 1 + (next() % 2) as usize;
                let len = (next() % v[which].len() as u64) as usize;
                v[which].truncate(len);
            } else {
                for _ in 0..1 + next() % 4 {
                    // The directory's start is 241 bytes before the second volume's end.
                    let (which, from) =
                        if next() % 2 == 0 { (1, v[1].len() - 241) } else { (2, 0) };
                    let at = from + (next() % (v[which].len() - from) as u64) as usize;
                    v[which][at] ^= 1 << (next() % 8);
                }
            }
            match read_all(dir.path(), &v) {
                Ok(_) => opened += 1,
                Err(_) => failed += 1,
            }
        }
        assert!(opened > 0 && failed > 0, "{opened} opened, {failed} failed");
    }
}
