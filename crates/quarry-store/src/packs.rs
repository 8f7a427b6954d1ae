//! Extracted texts, and the messages of mailboxes, appended to pack files instead of one file
//! each. The texts and the natives have packs of their own (`text/packs/`, `natives/packs/`);
//! both are keyed by a native's blake3, and what this says of texts holds for both.
//!
//! A case of email holds one short text per message, and a file per text cost more than the
//! extraction: creating, writing and renaming a small file is a dozen system calls and an
//! inode, and reading 262,000 of them back takes a classify run longer than scanning them.
//! So texts go into `text/packs/NNNNNN.pack`, each with an index `NNNNNN.idx` of fixed
//! 48-byte entries: the native's blake3 (32 bytes), the text's offset in the pack
//! (little-endian u32, its top bit set), the text's CRC-32 (u32), and its length (u64).
//!
//! - **Checked when read.** A native is checked against its blake3 whenever it is read, but
//!   a text has no hash of its own: a text damaged in its pack (a disk, or a writer's bug such
//!   as the race [`Packs::take`] describes) would be indexed and classified as if it were right.
//!   So each entry carries the text's CRC-32, and a text that does not match it is an
//!   `InvalidData` error for that text alone. CRC-32 finds any damage of up to 32 bits in a
//!   row and all but one in 4 billion others, at memory speed (SIMD); it is no defence against
//!   tampering, which the audit log and the natives' blake3 are for. Entries written before
//!   checksums (2026-11-29) have a top bit of 0 and the upper half of a u64 offset, all zero,
//!   where the CRC now is: they are read as before, unchecked. quarry before that date takes
//!   a checked entry for a damaged one (its u64 offset points past the pack) and reads its
//!   text as missing.
//!
//! - **One writer per pack.** A writer holds an exclusive lock on its pack for as long as it
//!   lives (a worker process); another writer takes another pack, or makes one. Packs stop
//!   taking texts at [`PACK_MAX`] bytes.
//! - **Crash-safe by order.** A text is written to the pack before its index entry, and the
//!   entry before the caller is told it is stored. A reader trusts only whole index entries,
//!   so a writer killed part-way leaves at most unreferenced bytes at the pack's end (and a
//!   partial entry, which the next writer of that pack cuts off before appending).
//! - **Readers** load every index into memory (the first 16 bytes of the blake3 as key) on
//!   first use and read the new entries when a text is not in it yet. Every worker holds one
//!   such table per pack folder, so it is kept compact ([`Entries`]): 32 bytes an entry in a
//!   sorted array, with only the newest entries in a hash map.
//! - The same text can be in two packs (two workers extracting copies of one native in the
//!   same run); the first entry read wins, and both are the same bytes by construction.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::{File, OpenOptions, TryLockError};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

/// A pack takes no more texts past this size; the next writer starts a new one.
pub(crate) const PACK_MAX: u64 = 1 << 30;
// Every text starts below it, so a 32-bit offset holds where ([`Loc`]).
const _: () = assert!(PACK_MAX <= u32::MAX as u64);

const ENTRY: usize = 48;

/// Where a text is and its checksum: pack number, offset, length, CRC-32. Sixteen bytes: a
/// text starts below [`PACK_MAX`] (a pack takes no text past it), so its offset fits 31 bits
/// and the top bit says whether the entry has a checksum ([`CHECKED`]); a text is shorter than
/// 4 GiB (a worker holds it in memory, within its 2 GiB limit, and [`Packs::append`] refuses
/// longer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loc {
    pack: u32,
    /// The offset, with [`CHECKED`] set when `crc` is the text's CRC-32.
    at: u32,
    len: u32,
    crc: u32,
}

/// The bit of an entry's offset that says it carries a checksum.
const CHECKED: u32 = 1 << 31;
const _: () = assert!(PACK_MAX <= CHECKED as u64);

impl Loc {
    fn offset(self) -> u64 {
        u64::from(self.at & !CHECKED)
    }

    /// The text's CRC-32, for entries that have one.
    fn crc(self) -> Option<u32> {
        (self.at & CHECKED != 0).then_some(self.crc)
    }
}

/// The entries a process knows, by key; the first one found of a key is kept.
///
/// A hash map of them cost 56 to 112 bytes an entry (48-byte buckets and a control byte,
/// between seven sixteenths and seven eighths full; 38 to 75 with this 16-byte `Loc`): a
/// worker of a case of ten million natives would have held about a gigabyte per pack folder,
/// against its 2 GiB limit. So most entries live in an array sorted by key, 32 bytes each,
/// and only those added since the last merge in a hash map; the map is merged into the array
/// when it holds an eighth as many (at least [`MERGE_MIN`]). The keys are blake3 bytes,
/// uniform, so the array is cut into buckets of eight to sixteen entries by their top bits,
/// and a lookup bisects one: a plain bisection of the whole array cost a classify run 3 % of
/// its time in cache misses.
#[derive(Debug, Default)]
struct Entries {
    sorted: Vec<(u128, Loc)>,
    /// Bucket `b` of `sorted` (the keys whose top `bits` bits are `b`) starts at
    /// `starts[b]`; one more entry ends the last.
    starts: Vec<u32>,
    bits: u32,
    recent: HashMap<u128, Loc, BuildHasherDefault<KeyHasher>>,
}

/// The fewest entries the hash map of [`Entries`] holds before a merge.
const MERGE_MIN: usize = 1 << 16;

impl Entries {
    fn get(&self, key: u128) -> Option<Loc> {
        match self.find(key) {
            Some(at) => Some(self.sorted[at].1),
            None => self.recent.get(&key).copied(),
        }
    }

    /// Where `key` is in the sorted array.
    fn find(&self, key: u128) -> Option<usize> {
        let (from, to) = if self.bits == 0 {
            (0, self.sorted.len())
        } else {
            let bucket = (key >> (128 - self.bits)) as usize;
            (self.starts[bucket] as usize, self.starts[bucket + 1] as usize)
        };
        self.sorted[from..to].binary_search_by_key(&key, |e| e.0).ok().map(|at| from + at)
    }

    /// Numbers the buckets of the sorted array anew.
    fn index(&mut self) {
        // Eight to sixteen entries a bucket; none while the array is small, or too large for u32
        // positions (2^32 texts would be a petabyte of packs).
        let n = self.sorted.len();
        self.bits = if n < 64 || u32::try_from(n).is_err() { 0 } else { (n / 8).ilog2() };
        self.starts.clear();
        if self.bits == 0 {
            return;
        }
        let buckets = 1usize << self.bits;
        self.starts.reserve_exact(buckets + 1);
        let mut at = 0;
        for bucket in 0..buckets {
            while at < n && ((self.sorted[at].0 >> (128 - self.bits)) as usize) < bucket {
                at += 1;
            }
            self.starts.push(at as u32);
        }
        self.starts.push(n as u32);
    }

    /// Adds an entry unless its key is known already.
    fn insert(&mut self, key: u128, loc: Loc) {
        if self.find(key).is_some() {
            return;
        }
        self.recent.entry(key).or_insert(loc);
        if self.recent.len() >= self.merge_at() {
            self.extend(Vec::new());
        }
    }

    /// Adds entries in bulk (a first load reads millions): of each key not known yet, the
    /// first in `batch`.
    fn extend(&mut self, batch: Vec<(u128, Loc)>) {
        if self.recent.len() + batch.len() < self.merge_at() {
            for (key, loc) in batch {
                self.insert(key, loc);
            }
            return;
        }
        // The hash map's entries first: they were found before the batch, and the stable
        // sort keeps the first of each key first.
        let mut new: Vec<(u128, Loc)> = self.recent.drain().collect();
        self.recent.shrink_to_fit();
        new.extend(batch);
        new.sort_by_key(|e| e.0);
        new.dedup_by_key(|e| e.0);
        new.retain(|e| self.find(e.0).is_none());
        let old = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(old.len() + new.len());
        let (mut a, mut b) = (old.into_iter().peekable(), new.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 < y.0 => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        self.sorted = merged;
        self.index();
    }

    fn merge_at(&self) -> usize {
        MERGE_MIN.max(self.sorted.len() / 8)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }
}

/// One pack known to a reader.
#[derive(Debug)]
struct Known {
    pack: File,
    idx: File,
    /// Index bytes read so far (whole entries).
    read: u64,
}

/// What a reader has loaded.
#[derive(Debug, Default)]
struct Loaded {
    entries: Entries,
    /// By pack number.
    packs: HashMap<u32, Known>,
    loaded: bool,
}

/// The writer's pack.
#[derive(Debug)]
struct Writer {
    number: u32,
    pack: File,
    idx: File,
    /// The pack's length (the next text's offset).
    len: u64,
}

/// The packs of one store: a reader shared by every thread, and this process's writer.
#[derive(Debug)]
pub(crate) struct Packs {
    dir: PathBuf,
    loaded: RwLock<Loaded>,
    writer: Mutex<Option<Writer>>,
}

impl Packs {
    pub(crate) fn new(dir: PathBuf) -> Packs {
        Packs { dir, loaded: RwLock::new(Loaded::default()), writer: Mutex::new(None) }
    }

    /// Whether a text for `blake3` is in a pack; `refresh` reads index entries written since
    /// the last look first (other processes' texts).
    pub(crate) fn contains(&self, blake3: &[u8; 32], refresh: bool) -> io::Result<bool> {
        self.load(refresh)?;
        Ok(self.read_lock().entries.get(key(blake3)).is_some())
    }

    /// Reads the text for `blake3` into `buf` (replacing its contents); false when no pack
    /// holds it. `refresh` reads index entries written since the last look first.
    pub(crate) fn read(
        &self,
        blake3: &[u8; 32],
        buf: &mut Vec<u8>,
        refresh: bool,
    ) -> io::Result<bool> {
        self.load(refresh)?;
        self.read_into(blake3, buf)
    }

    fn read_into(&self, blake3: &[u8; 32], buf: &mut Vec<u8>) -> io::Result<bool> {
        let loaded = self.read_lock();
        let Some(loc) = loaded.entries.get(key(blake3)) else { return Ok(false) };
        let known = loaded.packs.get(&loc.pack).ok_or_else(|| io::Error::other("pack lost"))?;
        let len = usize::try_from(loc.len).map_err(io::Error::other)?;
        buf.clear();
        buf.resize(len, 0);
        known.pack.read_exact_at(buf, loc.offset())?;
        if let Some(crc) = loc.crc() {
            let found = crc32fast::hash(buf);
            if found != crc {
                buf.clear();
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the {len} bytes at offset {} of pack {:06} have CRC-32 {found:08x}, not \
                         the {crc:08x} written with them",
                        loc.offset(),
                        loc.pack
                    ),
                ));
            }
        }
        Ok(true)
    }

    /// Appends a text to this process's pack and indexes it.
    pub(crate) fn append(&self, blake3: &[u8; 32], text: &[u8]) -> io::Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if writer.as_ref().is_none_or(|w| w.len >= PACK_MAX) {
            *writer = Some(self.open_writer()?);
        }
        let len = u32::try_from(text.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a text of {} bytes is over the 4 GiB a pack entry holds", text.len()),
            )
        })?;
        let w = writer.as_mut().expect("opened above");
        let offset = w.len;
        // Below PACK_MAX, so below CHECKED.
        let at = u32::try_from(offset).map_err(io::Error::other)? | CHECKED;
        let crc = crc32fast::hash(text);
        // The pack first, then the entry: a reader never finds an entry whose bytes are not
        // all there.
        let written = w.pack.write_all_at(text, offset).and_then(|()| {
            let mut entry = [0u8; ENTRY];
            entry[..32].copy_from_slice(blake3);
            entry[32..36].copy_from_slice(&at.to_le_bytes());
            entry[36..40].copy_from_slice(&crc.to_le_bytes());
            entry[40..].copy_from_slice(&u64::from(len).to_le_bytes());
            w.idx.write_all(&entry)
        });
        if let Err(e) = written {
            // Part of an entry may be written: the next writer of this pack (this process's
            // next append, once the lock is let go) cuts it off before appending.
            *writer = None;
            return Err(e);
        }
        w.len += text.len() as u64;
        let loc = Loc { pack: w.number, at, len, crc };
        let number = w.number;
        drop(writer);
        // This process reads its own texts without a refresh.
        let mut loaded = self.write_lock();
        if !loaded.packs.contains_key(&number) {
            drop(loaded);
            self.refresh()?;
            loaded = self.write_lock();
        }
        loaded.entries.insert(key(blake3), loc);
        Ok(())
    }

    /// A pack to write to: an existing one under its size limit that no other writer holds,
    /// else a new one.
    fn open_writer(&self) -> io::Result<Writer> {
        std::fs::create_dir_all(&self.dir)?;
        let mut numbers = self.numbers()?;
        numbers.sort_unstable();
        for &number in &numbers {
            let pack = OpenOptions::new().read(true).write(true).open(self.paths(number).0)?;
            // Held by another writer, or a file system without locks (where only a pack this
            // writer makes itself is surely its own).
            if pack.try_lock().is_err() {
                continue;
            }
            if let Some(writer) = self.take(number, pack)? {
                return Ok(writer);
            }
        }
        let mut number = numbers.last().map_or(1, |n| n + 1);
        loop {
            let pack_path = self.paths(number).0;
            match OpenOptions::new().read(true).write(true).create_new(true).open(&pack_path) {
                Ok(pack) => match pack.try_lock() {
                    // A file system without locks: the pack is this writer's, since it made it;
                    // no other writer will reuse it while it cannot lock it.
                    Ok(()) | Err(TryLockError::Error(_)) => {
                        if let Some(writer) = self.take(number, pack)? {
                            return Ok(writer);
                        }
                        number += 1;
                    }
                    // Another writer looking for a free pack can take a new one before its
                    // maker locks it: it is theirs then, and this writer makes the next.
                    Err(TryLockError::WouldBlock) => number += 1,
                },
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => number += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes a locked pack this process's writer, unless it is full. Its length is read only
    /// now, under the lock, even for a pack this writer has just made: another writer can take
    /// a new pack before its maker locks it, write to it and let it go, and a writer that took
    /// the length for 0 then wrote its texts over theirs (seen under load: one item indexed
    /// with another's words).
    fn take(&self, number: u32, pack: File) -> io::Result<Option<Writer>> {
        let len = pack.metadata()?.len();
        if len >= PACK_MAX {
            return Ok(None);
        }
        let idx =
            OpenOptions::new().read(true).append(true).create(true).open(self.paths(number).1)?;
        // A writer killed mid-entry leaves part of one: cut it off so entries stay aligned.
        let idx_len = idx.metadata()?.len();
        let whole = idx_len - idx_len % ENTRY as u64;
        if whole != idx_len {
            idx.set_len(whole)?;
        }
        Ok(Some(Writer { number, pack, idx, len }))
    }

    /// Loads the indexes on first use; with `refresh`, reads the entries written since too.
    fn load(&self, refresh: bool) -> io::Result<()> {
        if refresh || !self.read_lock().loaded {
            self.refresh()?;
        }
        Ok(())
    }

    /// Reads every index entry not read yet, from packs known and new.
    fn refresh(&self) -> io::Result<()> {
        let numbers = self.numbers()?;
        let mut loaded = self.write_lock();
        loaded.loaded = true;
        let mut batch = Vec::new();
        for number in numbers {
            let known = match loaded.packs.entry(number) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(new) => {
                    let (pack_path, idx_path) = self.paths(number);
                    let idx = match File::open(&idx_path) {
                        Ok(idx) => idx,
                        // A pack made a moment ago, its index not yet.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    let pack = File::open(&pack_path)?;
                    new.insert(Known { pack, idx, read: 0 })
                }
            };
            let len = known.idx.metadata()?.len();
            let whole = len - len % ENTRY as u64;
            if whole <= known.read {
                continue;
            }
            let mut bytes =
                vec![0u8; usize::try_from(whole - known.read).map_err(io::Error::other)?];
            known.idx.read_exact_at(&mut bytes, known.read)?;
            known.read = whole;
            // Looked at after the entries, whose texts were all written before them.
            let pack_len = known.pack.metadata()?.len();
            for entry in bytes.chunks_exact(ENTRY) {
                let blake3: [u8; 32] = entry[..32].try_into().expect("32 bytes");
                if let Some(loc) = decode(number, entry, pack_len) {
                    batch.push((key(&blake3), loc));
                }
            }
        }
        loaded.entries.extend(batch);
        Ok(())
    }

    /// Reads every index entry afresh, for a check of the store: how many there are, how many
    /// carry no checksum, and the keys (full blake3) of the unchecked entries whose bytes
    /// overlap another entry's in the same pack. Texts are only ever appended, so in a sound
    /// pack no two entries share a byte; an overlap is what writers racing for one pack left
    /// (the race [`Packs::take`] describes). A checked text there still proves itself when
    /// read; an unchecked one cannot be trusted.
    pub(crate) fn survey(&self) -> io::Result<Survey> {
        let mut survey = Survey::default();
        for number in self.numbers()? {
            let (pack_path, idx_path) = self.paths(number);
            let bytes = match std::fs::read(&idx_path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let pack_len = std::fs::metadata(&pack_path)?.len();
            let mut spans: Vec<(u64, u64, [u8; 32], bool)> = Vec::new();
            for entry in bytes.chunks_exact(ENTRY) {
                survey.entries += 1;
                let blake3: [u8; 32] = entry[..32].try_into().expect("32 bytes");
                let Some(loc) = decode(number, entry, pack_len) else {
                    survey.unreadable.push(blake3);
                    continue;
                };
                if loc.crc().is_none() {
                    survey.unchecked += 1;
                }
                if loc.len > 0 {
                    let end = loc.offset() + u64::from(loc.len);
                    spans.push((loc.offset(), end, blake3, loc.crc().is_some()));
                }
            }
            spans.sort_unstable();
            // The entry reaching furthest so far: any entry starting before its end overlaps it.
            let mut reach: Option<(u64, [u8; 32], bool)> = None;
            for &(start, end, key, checked) in &spans {
                if let Some((far, other, other_checked)) = reach {
                    if start < far {
                        for (key, checked) in [(key, checked), (other, other_checked)] {
                            if !checked {
                                survey.overlapping.push(key);
                            }
                        }
                    }
                    if end > far {
                        reach = Some((end, key, checked));
                    }
                } else {
                    reach = Some((end, key, checked));
                }
            }
        }
        survey.overlapping.sort_unstable();
        survey.overlapping.dedup();
        survey.unreadable.sort_unstable();
        survey.unreadable.dedup();
        Ok(survey)
    }

    /// The numbers of the packs in the folder.
    fn numbers(&self) -> io::Result<Vec<u32>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut numbers = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(number) = name.strip_suffix(".pack").and_then(|n| n.parse().ok()) {
                numbers.push(number);
            }
        }
        Ok(numbers)
    }

    fn paths(&self, number: u32) -> (PathBuf, PathBuf) {
        (self.dir.join(format!("{number:06}.pack")), self.dir.join(format!("{number:06}.idx")))
    }

    fn read_lock(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.loaded.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What [`Packs::survey`] found.
#[derive(Debug, Default)]
pub(crate) struct Survey {
    /// Index entries read.
    pub(crate) entries: u64,
    /// Of those, entries without a checksum (written before checksums).
    pub(crate) unchecked: u64,
    /// Keys of unchecked entries whose bytes overlap another entry's, sorted, each once.
    pub(crate) overlapping: Vec<[u8; 32]>,
    /// Keys of entries that point outside their pack or hold no valid offset.
    pub(crate) unreadable: Vec<[u8; 32]>,
}

/// An index entry of pack `number` as a [`Loc`]; `None` for a damaged entry: one that points
/// past the pack (or past where any text starts), so that its text reads as missing and no
/// reader allocates what it claims.
fn decode(number: u32, entry: &[u8], pack_len: u64) -> Option<Loc> {
    let at = u32::from_le_bytes(entry[32..36].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(entry[36..40].try_into().expect("4 bytes"));
    let len = u64::from_le_bytes(entry[40..48].try_into().expect("8 bytes"));
    // An entry from before checksums has a u64 offset below PACK_MAX: the top bit and the
    // upper half, where the CRC now is, are 0.
    if at & CHECKED == 0 && crc != 0 {
        return None;
    }
    let loc = Loc { pack: number, at, len: u32::try_from(len).ok()?, crc };
    (loc.offset() + u64::from(loc.len) <= pack_len).then_some(loc)
}

/// The map key of a blake3: its first 16 bytes (a collision needs 2^64 texts).
fn key(blake3: &[u8; 32]) -> u128 {
    u128::from_le_bytes(blake3[..16].try_into().expect("16 bytes"))
}

/// The folder of the packs under a case's `text/` folder.
pub(crate) fn dir(text: &Path) -> PathBuf {
    text.join("packs")
}

/// The keys are blake3 bytes, already uniform: their low 64 bits are the hash.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compact table against a plain map, through single inserts, bulk loads, repeated
    /// keys and enough entries for several merges: the first entry of each key is kept.
    #[test]
    fn entries_keep_the_first_of_each_key_through_merges() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Keys spread over the whole u128 range, from a pool small enough to repeat.
        let spread = |k: u64| u128::from(k).wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15);
        let mut entries = Entries::default();
        let mut reference: HashMap<u128, Loc> = HashMap::new();
        for round in 0..40u32 {
            let mut batch = Vec::new();
            for i in 0..8_000u32 {
                let key = spread(next() % 200_000);
                let loc = Loc { pack: round, at: i, len: next() as u32 % 1000, crc: i };
                reference.entry(key).or_insert(loc);
                if round % 3 == 0 {
                    batch.push((key, loc));
                } else {
                    entries.insert(key, loc);
                }
            }
            entries.extend(batch);
        }
        assert!(entries.sorted.len() > MERGE_MIN, "merged {} entries", entries.sorted.len());
        assert!(entries.sorted.windows(2).all(|w| w[0].0 < w[1].0), "sorted, one per key");
        // Lookups below go through the buckets, not a bisection of the whole array.
        assert!(entries.bits > 0 && entries.starts.len() == (1 << entries.bits) + 1);
        assert_eq!(entries.len(), reference.len());
        for (key, loc) in &reference {
            assert_eq!(entries.get(*key), Some(*loc));
        }
        for k in 200_000..201_000 {
            assert_eq!(entries.get(spread(k)), None);
        }
    }

    /// A byte changed in a packed text makes that text an `InvalidData` error, naming the
    /// pack; the texts beside it still read.
    #[test]
    fn a_damaged_text_is_refused_and_its_neighbours_read() {
        let dir = tempfile::tempdir().unwrap();
        let packs = Packs::new(dir.path().to_owned());
        let texts = ["first text", "second text", "third text"];
        let keys: Vec<[u8; 32]> =
            texts.iter().map(|t| *blake3::hash(t.as_bytes()).as_bytes()).collect();
        for (key, text) in keys.iter().zip(texts) {
            packs.append(key, text.as_bytes()).unwrap();
        }
        drop(packs);
        // "second text" starts at byte 10: make it "sEcond text".
        let pack = dir.path().join("000001.pack");
        let mut bytes = std::fs::read(&pack).unwrap();
        assert_eq!(&bytes[10..12], b"se");
        bytes[11] = b'E';
        std::fs::write(&pack, &bytes).unwrap();

        let reader = Packs::new(dir.path().to_owned());
        let mut buf = Vec::new();
        let e = reader.read(&keys[1], &mut buf, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("offset 10 of pack 000001"), "{e}");
        assert!(buf.is_empty(), "no damaged bytes handed out");
        for i in [0, 2] {
            assert!(reader.read(&keys[i], &mut buf, false).unwrap());
            assert_eq!(buf, texts[i].as_bytes());
        }
    }

    /// An entry written before checksums (a u64 offset, nothing where the CRC is now) reads as
    /// before, unchecked; a new entry's offset field is the flagged offset and the CRC.
    #[test]
    fn entries_from_before_checksums_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let packs = Packs::new(dir.path().to_owned());
        let new = *blake3::hash(b"new").as_bytes();
        packs.append(&new, b"checked text").unwrap();
        drop(packs);
        let idx = dir.path().join("000001.idx");
        let mut index = std::fs::read(&idx).unwrap();
        assert_eq!(index.len(), ENTRY);
        assert_eq!(index[32..36], CHECKED.to_le_bytes());
        assert_eq!(index[36..40], crc32fast::hash(b"checked text").to_le_bytes());
        // An old entry for the same bytes under another key, then one whose text is damaged:
        // neither has a checksum to refuse it by.
        let old = *blake3::hash(b"old").as_bytes();
        let mut entry = [0u8; ENTRY];
        entry[..32].copy_from_slice(&old);
        entry[32..40].copy_from_slice(&0u64.to_le_bytes());
        entry[40..].copy_from_slice(&12u64.to_le_bytes());
        index.extend_from_slice(&entry);
        // An old entry whose offset has upper bits set is damaged, and skipped.
        let bad = *blake3::hash(b"bad").as_bytes();
        entry[..32].copy_from_slice(&bad);
        entry[32..40].copy_from_slice(&(1u64 << 32).to_le_bytes());
        index.extend_from_slice(&entry);
        std::fs::write(&idx, &index).unwrap();

        let reader = Packs::new(dir.path().to_owned());
        let mut buf = Vec::new();
        assert!(reader.read(&old, &mut buf, false).unwrap());
        assert_eq!(buf, b"checked text");
        assert!(!reader.read(&bad, &mut buf, false).unwrap());
        let pack = dir.path().join("000001.pack");
        std::fs::write(&pack, b"changed text").unwrap();
        let reader = Packs::new(dir.path().to_owned());
        assert!(reader.read(&old, &mut buf, false).unwrap(), "unchecked");
        assert_eq!(buf, b"changed text");
        assert_eq!(
            reader.read(&new, &mut buf, false).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    /// The survey counts unchecked entries and names the unchecked ones that share bytes with
    /// another entry (what the race of two writers left), not checked ones, which prove
    /// themselves when read.
    #[test]
    fn the_survey_finds_texts_written_over_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let packs = Packs::new(dir.path().to_owned());
        let key = |name: &str| *blake3::hash(name.as_bytes()).as_bytes();
        packs.append(&key("checked"), b"0123456789").unwrap();
        drop(packs);
        let survey = Packs::new(dir.path().to_owned()).survey().unwrap();
        assert_eq!((survey.entries, survey.unchecked), (1, 0));
        assert!(survey.overlapping.is_empty() && survey.unreadable.is_empty());

        // Old entries after it: "a" at 10..14, "b" at 14..16 (where "a" ends: no overlap),
        // "c" at 12..13 (inside "a"), "far" past the pack's end; "d" at 5..7, inside the
        // checked text, which is not named for it.
        let pack = dir.path().join("000001.pack");
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes.extend_from_slice(b"abcdefghij");
        std::fs::write(&pack, &bytes).unwrap();
        let old = |name: &str, offset: u64, len: u64| {
            let mut entry = [0u8; ENTRY];
            entry[..32].copy_from_slice(&key(name));
            entry[32..40].copy_from_slice(&offset.to_le_bytes());
            entry[40..].copy_from_slice(&len.to_le_bytes());
            entry
        };
        let idx = dir.path().join("000001.idx");
        let mut index = std::fs::read(&idx).unwrap();
        let entries = [old("a", 10, 4), old("b", 14, 2), old("c", 12, 1), old("far", 18, 9)];
        for entry in entries.into_iter().chain([old("d", 5, 2)]) {
            index.extend_from_slice(&entry);
        }
        std::fs::write(&idx, &index).unwrap();
        let survey = Packs::new(dir.path().to_owned()).survey().unwrap();
        assert_eq!((survey.entries, survey.unchecked), (6, 4));
        let mut expected = vec![key("a"), key("c"), key("d")];
        expected.sort_unstable();
        assert_eq!(survey.overlapping, expected);
        assert_eq!(survey.unreadable, [key("far")]);
    }

    /// Writers that each store one text and go (a worker given one item) race for the first
    /// packs: none may write over another's text. A writer used to take a pack it had just made
    /// for empty, though another could have taken it, written and gone before it was locked.
    /// Without the fix this failed within a few hundred rounds, every time of five.
    #[test]
    fn writers_racing_for_new_packs_never_write_over_each_other() {
        let text = |round: u32, writer: u32| format!("text of writer {writer} in round {round}");
        for round in 0..600u32 {
            let dir = tempfile::tempdir().unwrap();
            let writers: Vec<_> = (0..8u32)
                .map(|writer| {
                    let dir = dir.path().to_owned();
                    std::thread::spawn(move || {
                        // A Packs of its own: its own open files and locks, as a process has.
                        let text = text(round, writer);
                        Packs::new(dir)
                            .append(blake3::hash(text.as_bytes()).as_bytes(), text.as_bytes())
                    })
                })
                .collect();
            for writer in writers {
                writer.join().unwrap().unwrap();
            }
            let reader = Packs::new(dir.path().to_owned());
            let mut buf = Vec::new();
            for writer in 0..8 {
                let text = text(round, writer);
                assert!(
                    reader.read(blake3::hash(text.as_bytes()).as_bytes(), &mut buf, false).unwrap()
                );
                assert_eq!(String::from_utf8_lossy(&buf), text, "round {round}");
            }
        }
    }
}
