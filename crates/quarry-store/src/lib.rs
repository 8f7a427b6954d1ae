//! The content-addressed store of a case: natives and extracted text, keyed by blake3.
//!
//! # Overview
//! - [`ContentStore`]: the `natives/` and `text/` folders of a case, plus `tmp/` for staging.
//! - [`ContentStore::ingest_native`] streams bytes into the store while hashing them, so every
//!   native is read exactly once; a native already present is not written again (dedup keeps
//!   every instance in the database but one copy of the bytes on disk).
//! - [`MultiHasher`]: blake3 always, MD5 and SHA-1 when asked for (they cost 7x and 2x blake3).
//! - Extracted texts are appended to pack files (`text/packs/`, see the `packs` module), not
//!   written a file each: [`ContentStore::put_text`] and [`ContentStore::read_text`].
//!
//! Every native goes to a file in `tmp/` first and is renamed into place, so a killed process
//! never leaves a half-written native under its final name. A text is appended to its pack
//! before its index entry, so a killed process never leaves an entry for a half-written text.
//! Nothing is ever written outside the case folder.
//!
//! # Example
//! ```
//! # let dir = tempfile::tempdir()?;
//! let store = quarry_store::ContentStore::create(dir.path())?;
//! let mut buf = Vec::new();
//! let stored = store.ingest_native(&mut &b"hello"[..], &mut buf, 1 << 20, u64::MAX, false)?;
//! assert!(stored.in_buf && buf == b"hello");
//! assert_eq!(stored.hashes.blake3, blake3::hash(b"hello").to_hex().as_str());
//! assert_eq!(fs_err::read(store.native_path(&stored.hashes.blake3))?, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use fs_err as fs;
use md5::Digest as _;
use quarry_types::Hashes;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod packs;

/// A writer that passes bytes on and hashes them (blake3) on the way.
pub struct HashingWriter<W: Write> {
    out: W,
    hasher: blake3::Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `out`.
    pub fn new(out: W) -> Self {
        HashingWriter { out, hasher: blake3::Hasher::new() }
    }

    /// The writer back, and the blake3 of everything written through it.
    pub fn finish(self) -> (W, blake3::Hash) {
        (self.out, self.hasher.finalize())
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.out.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Errors of the content store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on the store itself (the path is in the source).
    #[error("content store I/O failed")]
    Io(#[from] io::Error),
    /// Reading the input failed part-way.
    #[error("failed to read the input after {read} bytes")]
    Input {
        /// Bytes read before the failure.
        read: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The input is larger than the limit it was given.
    #[error("input exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A key that is not a blake3 hex digest.
    #[error("not a blake3 hex digest: {0:?}")]
    BadKey(String),
    /// Stored bytes that no longer have the hash they are stored under.
    #[error("the stored native {0} no longer has its hash: the case store is damaged")]
    Damaged(String),
    /// A stored text that no longer matches the checksum written with it.
    #[error(
        "the stored text of native {blake3} no longer matches its checksum ({detail}): the case \
         store is damaged"
    )]
    DamagedText {
        /// The native whose text it is.
        blake3: String,
        /// Where, and what was found.
        detail: String,
    },
}

/// A pack read whose bytes did not match their checksum as `damaged`, other errors as they are.
fn pack_damage(read: io::Result<bool>, damaged: impl FnOnce(String) -> Error) -> Result<bool> {
    match read {
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(damaged(e.to_string())),
        read => Ok(read?),
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Hashes one stream: blake3 always, MD5 and SHA-1 on request.
pub struct MultiHasher {
    blake3: blake3::Hasher,
    legacy: Option<(md5::Md5, sha1::Sha1)>,
}

impl MultiHasher {
    /// A hasher; `legacy` adds MD5 and SHA-1.
    #[must_use]
    pub fn new(legacy: bool) -> Self {
        MultiHasher {
            blake3: blake3::Hasher::new(),
            legacy: legacy.then(|| (md5::Md5::new(), sha1::Sha1::new())),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.blake3.update(bytes);
        if let Some((md5, sha1)) = &mut self.legacy {
            md5.update(bytes);
            sha1.update(bytes);
        }
    }

    /// The hashes, lowercase hex.
    #[must_use]
    pub fn finish(self) -> Hashes {
        let (md5, sha1) = match self.legacy {
            Some((md5, sha1)) => (Some(hex(&md5.finalize())), Some(hex(&sha1.finalize()))),
            None => (None, None),
        };
        Hashes { blake3: self.blake3.finalize().to_hex().to_string(), md5, sha1 }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// MD5 and SHA-1 of a stored native, computed on demand (see [`ContentStore::legacy_hashes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyHashes {
    /// MD5, lowercase hex.
    pub md5: String,
    /// SHA-1, lowercase hex.
    pub sha1: String,
}

/// What [`ContentStore::ingest_native`] stored.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Hashes of the bytes.
    pub hashes: Hashes,
    /// Number of bytes.
    pub size: u64,
    /// Whether these bytes were already in the store (a duplicate native).
    pub already_present: bool,
    /// Whether the caller's buffer holds the whole native.
    pub in_buf: bool,
    /// Whether the native is in a pack rather than a file of its own
    /// ([`ContentStore::native_path`] does not name it then; see
    /// [`ContentStore::ingest_packed_native`]).
    pub packed: bool,
}

/// What the text packs' indexes say, for a check of the store ([`ContentStore::survey_texts`]).
#[derive(Clone, Debug, Default)]
pub struct TextSurvey {
    /// Packed texts (index entries; copies of one text written by two workers count twice).
    pub entries: u64,
    /// Of those, written before texts carried a checksum: read unchecked.
    pub unchecked: u64,
    /// Natives (blake3, hex) whose packed text shares bytes with another's in its pack. Texts
    /// are only appended, so that happens only when writers wrote over each other (a race
    /// fixed on 2026-11-28); such a text, if unchecked, cannot be trusted.
    pub overlapping: Vec<String>,
    /// Natives whose index entry points outside its pack: their text reads as missing.
    pub unreadable: Vec<String>,
}

/// The natives and text folders of one case.
#[derive(Clone, Debug)]
pub struct ContentStore {
    root: PathBuf,
    /// Texts. Shared by the clones: one writer's pack per process, one loaded index.
    packs: Arc<packs::Packs>,
    /// Small natives held in memory when stored (messages, small loose files), likewise.
    native_packs: Arc<packs::Packs>,
}

impl ContentStore {
    /// Opens the store under a case folder, creating its folders if needed.
    ///
    /// The 256 shard folders of `natives/` and `text/` are made here, once: creating a folder is
    /// the most expensive metadata operation on ext4 (measured at about 370 µs here, several
    /// times a file write), and making them lazily cost one per stored file in small cases.
    pub fn create(case_dir: &Path) -> Result<Self> {
        fs::create_dir_all(case_dir.join("tmp"))?;
        for sub in ["natives", "text"] {
            let base = case_dir.join(sub);
            if base.join("ff").is_dir() {
                continue;
            }
            for shard in 0..=255u8 {
                fs::create_dir_all(base.join(format!("{shard:02x}")))?;
            }
        }
        let packs = packs::dir(&case_dir.join("text"));
        fs::create_dir_all(&packs)?;
        let native_packs = packs::dir(&case_dir.join("natives"));
        fs::create_dir_all(&native_packs)?;
        Ok(ContentStore {
            root: case_dir.to_path_buf(),
            packs: Arc::new(packs::Packs::new(packs)),
            native_packs: Arc::new(packs::Packs::new(native_packs)),
        })
    }

    /// The staging folder (inside the case).
    #[must_use]
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Removes staging files left by a killed run.
    pub fn clear_tmp(&self) -> Result<()> {
        for entry in fs::read_dir(self.tmp_dir())? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                // A folder an archive reader worked in (RAR entries are decoded to files).
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Where the native with this blake3 hex digest lives when it is a file of its own (every
    /// native but those in packs: see [`ContentStore::ingest_packed_native`]). Read natives
    /// with [`ContentStore::read_native`], which looks in both.
    #[must_use]
    pub fn native_path(&self, blake3: &str) -> PathBuf {
        shard(&self.root.join("natives"), blake3, "")
    }

    /// Where the extracted text of the native with this blake3 hex digest lives when it is a
    /// file of its own: a text file's text (a link to its native), or any text stored before
    /// texts went into packs. Read texts with [`ContentStore::read_text`], which looks in both.
    #[must_use]
    pub fn text_path(&self, blake3: &str) -> PathBuf {
        shard(&self.root.join("text"), blake3, ".txt")
    }

    /// Streams `input` into the store, hashing it on the way. `buf` is the caller's reusable
    /// buffer: when the native has at most `keep` bytes it is left whole in `buf` (and
    /// [`Stored::in_buf`] is set), so the caller can detect and extract it without reading it
    /// back; larger natives stream through `buf` in chunks. Fails with [`Error::TooLarge`] past
    /// `limit` bytes (nothing is stored then). A native already in the store is not written.
    pub fn ingest_native(
        &self,
        input: &mut dyn Read,
        buf: &mut Vec<u8>,
        keep: usize,
        limit: u64,
        legacy_hashes: bool,
    ) -> Result<Stored> {
        let mut hasher = MultiHasher::new(legacy_hashes);
        let mut spilled: Option<tempfile::NamedTempFile> = None;
        // A small native is then hashed and written in one piece.
        let mut size = read_head(input, buf, keep, limit, &mut hasher)?;
        if size > keep as u64 {
            // Too big to keep: spill what was read, then stream the rest in chunks.
            let mut tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
            tmp.write_all(buf)?;
            size = stream(input, buf, size, limit, &mut hasher, Some(&mut tmp))?;
            spilled = Some(tmp);
        }
        let hashes = hasher.finish();
        let target = self.native_path(&hashes.blake3);
        let (already_present, in_buf) = match spilled {
            Some(tmp) => {
                buf.clear();
                (self.persist(tmp, &target)?, false)
            }
            None if target.exists() => (true, true),
            None => {
                let mut tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
                tmp.write_all(buf)?;
                (self.persist(tmp, &target)?, true)
            }
        };
        Ok(Stored { hashes, size, already_present, in_buf, packed: false })
    }

    /// Stores a small native already whole in memory (a message, a small loose file) by
    /// appending it to this process's native pack rather than as a file of its own, and leaves
    /// a copy in `buf` ([`Stored::in_buf`]), as [`ContentStore::ingest_native`] does for small
    /// natives. A file per message cost an email ingest a fifth of its time (creating, writing
    /// and renaming it); see docs/BENCHMARKS.md. Only this process's packs and the others' as
    /// first loaded are looked in for an earlier copy: a copy stored by another worker during
    /// the run is stored again, which costs its bytes and nothing else.
    pub fn ingest_packed_native(
        &self,
        bytes: &[u8],
        buf: &mut Vec<u8>,
        legacy_hashes: bool,
    ) -> Result<Stored> {
        let mut hasher = MultiHasher::new(legacy_hashes);
        hasher.update(bytes);
        let hashes = hasher.finish();
        let key = digest(&hashes.blake3)?;
        let already_present = self.native_packs.contains(&key, false)?;
        if !already_present {
            self.native_packs.append(&key, bytes)?;
        }
        buf.clear();
        buf.extend_from_slice(bytes);
        Ok(Stored { hashes, size: bytes.len() as u64, already_present, in_buf: true, packed: true })
    }

    /// Makes a packed native a file of its own as well, for a reader that needs a path (a
    /// message that turns out to be a ZIP archive); `bytes` are the native's, as stored.
    pub fn put_native_file(&self, native: &Stored, bytes: &[u8]) -> Result<()> {
        if blake3::hash(bytes).to_hex().as_str() != native.hashes.blake3 {
            return Err(Error::Damaged(native.hashes.blake3.clone()));
        }
        let target = self.native_path(&native.hashes.blake3);
        if !target.exists() {
            let mut tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
            tmp.write_all(bytes)?;
            self.persist(tmp, &target)?;
        }
        Ok(())
    }

    /// Whether the store holds the native with this blake3, as a file or in a pack.
    pub fn has_native(&self, blake3: &str) -> Result<bool> {
        let key = digest(blake3)?;
        Ok(self.native_packs.contains(&key, false)?
            || self.native_path(blake3).is_file()
            || self.native_packs.contains(&key, true)?)
    }

    /// Reads a stored native into `buf` (replacing what it held), checked against its blake3;
    /// false when the store does not hold it. A native whose bytes no longer hash to their
    /// key is an [`Error::Damaged`], never returned as if it were the native.
    pub fn read_native(&self, blake3: &str, buf: &mut Vec<u8>) -> Result<bool> {
        let key = digest(blake3)?;
        // The packs as loaded, then a file of its own, then packs written since.
        let damaged = |_| Error::Damaged(blake3.to_owned());
        let found = pack_damage(self.native_packs.read(&key, buf, false), damaged)?
            || match fs::read(self.native_path(blake3)) {
                Ok(bytes) => {
                    *buf = bytes;
                    true
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    pack_damage(self.native_packs.read(&key, buf, true), damaged)?
                }
                Err(e) => return Err(e.into()),
            };
        if found && blake3::hash(buf).as_bytes() != &key {
            return Err(Error::Damaged(blake3.to_owned()));
        }
        Ok(found)
    }

    /// Writes a stored native to `out`, streaming a file rather than holding it, and checks it
    /// against its blake3 on the way: its size, `None` when the store does not hold it,
    /// [`Error::Damaged`] when its bytes no longer hash to their key. The bytes are written by
    /// then, so on an error the caller discards what it wrote (a production writes into a
    /// staging folder it removes). Packed natives (at most 1 MiB) are read whole, as by
    /// [`ContentStore::read_native`].
    pub fn copy_native(&self, blake3: &str, out: &mut dyn Write) -> Result<Option<u64>> {
        let key = digest(blake3)?;
        match std::fs::File::open(self.native_path(blake3)) {
            Ok(mut file) => {
                let mut tee = HashingWriter::new(out);
                let size = io::copy(&mut file, &mut tee)?;
                if tee.finish().1.as_bytes() != &key {
                    return Err(Error::Damaged(blake3.to_owned()));
                }
                Ok(Some(size))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut buf = Vec::new();
                if !self.read_native(blake3, &mut buf)? {
                    return Ok(None);
                }
                out.write_all(&buf)?;
                Ok(Some(buf.len() as u64))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a stored native against its blake3, streaming a file rather than holding it:
    /// its size when the store holds it and it is sound, `None` when the store does not hold
    /// it, [`Error::Damaged`] when its bytes no longer hash to their key.
    pub fn verify_native(&self, blake3: &str) -> Result<Option<u64>> {
        let key = digest(blake3)?;
        match std::fs::File::open(self.native_path(blake3)) {
            Ok(mut file) => {
                let mut hasher = blake3::Hasher::new();
                let size = io::copy(&mut file, &mut hasher)?;
                if hasher.finalize().as_bytes() != &key {
                    return Err(Error::Damaged(blake3.to_owned()));
                }
                Ok(Some(size))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut buf = Vec::new();
                Ok(self.read_native(blake3, &mut buf)?.then_some(buf.len() as u64))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Hashes `input` without storing it (a container read in place at its source). As with
    /// [`ContentStore::ingest_native`], an input of at most `keep` bytes is left whole in
    /// `buf` ([`Stored::in_buf`]), so the caller reads exactly the bytes it hashed; a larger
    /// one streams through `buf`. Fails with [`Error::TooLarge`] past `limit` bytes.
    pub fn hash_stream(
        &self,
        input: &mut dyn Read,
        buf: &mut Vec<u8>,
        keep: usize,
        limit: u64,
        legacy_hashes: bool,
    ) -> Result<Stored> {
        let mut hasher = MultiHasher::new(legacy_hashes);
        let mut size = read_head(input, buf, keep, limit, &mut hasher)?;
        let in_buf = size <= keep as u64;
        if !in_buf {
            size = stream(input, buf, size, limit, &mut hasher, None)?;
            buf.clear();
        }
        let hashes = hasher.finish();
        let already_present = self.native_path(&hashes.blake3).exists();
        Ok(Stored { hashes, size, already_present, in_buf, packed: false })
    }

    /// Stores a native's own bytes as its text (a text file that is valid UTF-8 is its own
    /// extracted text): a hard link inside the case, so the bytes are not written twice.
    pub fn put_text_same_as_native(&self, blake3: &str) -> Result<()> {
        let path = self.text_path(blake3);
        match fs::hard_link(self.native_path(blake3), &path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(_) => {
                // A file system without hard links: copy.
                let bytes = fs::read(self.native_path(blake3))?;
                let mut tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
                tmp.write_all(&bytes)?;
                self.persist(tmp, &path)?;
                Ok(())
            }
        }
    }

    /// Stores the extracted text of a native, appended to this process's text pack. A native
    /// new to the store has no text yet; for one already present, the text is looked for
    /// first (the same bytes always give the same text), so copies of a message are not
    /// stored again.
    pub fn put_text(&self, native: &Stored, text: &str) -> Result<()> {
        let key = digest(&native.hashes.blake3)?;
        if native.already_present
            && (self.packs.contains(&key, true)? || self.text_path(&native.hashes.blake3).exists())
        {
            return Ok(());
        }
        self.packs.append(&key, text.as_bytes())?;
        Ok(())
    }

    /// Reads the stored text of a native into `buf` (replacing what it held); false when the
    /// native has no stored text. Looks in the packs, then for a file of its own. A packed
    /// text that does not match its checksum is an [`Error::DamagedText`], never returned.
    pub fn read_text(&self, blake3: &str, buf: &mut Vec<u8>) -> Result<bool> {
        let key = digest(blake3)?;
        let damaged = |detail| Error::DamagedText { blake3: blake3.to_owned(), detail };
        if pack_damage(self.packs.read(&key, buf, false), damaged)? {
            return Ok(true);
        }
        match fs::File::open(self.text_path(blake3)) {
            Ok(mut file) => {
                buf.clear();
                file.read_to_end(buf)?;
                Ok(true)
            }
            // Written by another process since the packs were last read?
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                pack_damage(self.packs.read(&key, buf, true), damaged)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads every text pack's index afresh: entries, unchecked entries, and entries whose
    /// bytes overlap another's (see [`TextSurvey`]).
    pub fn survey_texts(&self) -> Result<TextSurvey> {
        let survey = self.packs.survey()?;
        let hex = |keys: Vec<[u8; 32]>| {
            keys.into_iter().map(|k| blake3::Hash::from_bytes(k).to_hex().to_string()).collect()
        };
        Ok(TextSurvey {
            entries: survey.entries,
            unchecked: survey.unchecked,
            overlapping: hex(survey.overlapping),
            unreadable: hex(survey.unreadable),
        })
    }

    /// Reads the stored text of a native, if any.
    pub fn text(&self, blake3: &str) -> Result<Option<String>> {
        let mut buf = Vec::new();
        if !self.read_text(blake3, &mut buf)? {
            return Ok(None);
        }
        String::from_utf8(buf)
            .map(Some)
            .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// Computes MD5 and SHA-1 of a stored native (for load files, when ingest skipped them).
    pub fn legacy_hashes(&self, blake3: &str) -> Result<LegacyHashes> {
        if blake3.len() != 64 || !blake3.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::BadKey(blake3.to_owned()));
        }
        let path = self.native_path(blake3);
        let hashes = if path.is_file() {
            let hashes = hash_file(&path)?;
            if hashes.blake3 != blake3 {
                return Err(Error::Damaged(blake3.to_owned()));
            }
            hashes
        } else {
            let mut bytes = Vec::new();
            if !self.read_native(blake3, &mut bytes)? {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no stored native {blake3}"),
                )));
            }
            let mut hasher = MultiHasher::new(true);
            hasher.update(&bytes);
            hasher.finish()
        };
        Ok(LegacyHashes {
            md5: hashes.md5.expect("hash_file computes md5"),
            sha1: hashes.sha1.expect("hash_file computes sha1"),
        })
    }

    /// Moves a staged file into place; returns whether the target already existed.
    fn persist(&self, tmp: tempfile::NamedTempFile, target: &Path) -> Result<bool> {
        // No-clobber rename: one system call, and an existing native (the same bytes, by
        // construction) is never replaced.
        match tmp.persist_noclobber(target) {
            Ok(_) => Ok(false),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(true),
            Err(e) => Err(Error::Io(e.error)),
        }
    }
}

/// Reads the part of `input` that may stay in memory (up to `keep` bytes, and one more to tell
/// whether there is more) into `buf` and hashes it; returns the bytes read. `read_to_end` grows
/// the buffer without zero-filling it. Fails past `limit` bytes.
fn read_head(
    input: &mut dyn Read,
    buf: &mut Vec<u8>,
    keep: usize,
    limit: u64,
    hasher: &mut MultiHasher,
) -> Result<u64> {
    buf.clear();
    let first = (keep as u64).min(limit).saturating_add(1);
    let size = match input.take(first).read_to_end(buf) {
        Ok(n) => n as u64,
        Err(source) => return Err(Error::Input { read: buf.len() as u64, source }),
    };
    if size > limit {
        return Err(Error::TooLarge { limit });
    }
    hasher.update(buf);
    Ok(size)
}

/// Streams the rest of `input` through `buf` into the hasher (and `out`), counting from `size`
/// bytes already read; fails past `limit`. Returns the total size.
fn stream(
    input: &mut dyn Read,
    buf: &mut Vec<u8>,
    mut size: u64,
    limit: u64,
    hasher: &mut MultiHasher,
    mut out: Option<&mut tempfile::NamedTempFile>,
) -> Result<u64> {
    buf.resize(256 * 1024, 0);
    loop {
        let n = match input.read(buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(Error::Input { read: size, source }),
        };
        size += n as u64;
        if size > limit {
            return Err(Error::TooLarge { limit });
        }
        hasher.update(&buf[..n]);
        if let Some(out) = &mut out {
            out.write_all(&buf[..n])?;
        }
    }
}

/// blake3, MD5 and SHA-1 of a file.
pub fn hash_file(path: &Path) -> Result<Hashes> {
    let mut file = fs::File::open(path)?;
    let mut hasher = MultiHasher::new(true);
    stream(file.file_mut(), &mut Vec::new(), 0, u64::MAX, &mut hasher, None)?;
    Ok(hasher.finish())
}

/// The 32 bytes of a blake3 hex digest.
fn digest(blake3: &str) -> Result<[u8; 32]> {
    blake3::Hash::from_hex(blake3)
        .map(|h| *h.as_bytes())
        .map_err(|_| Error::BadKey(blake3.to_owned()))
}

/// One level of 256 shards: ext4 indexes large folders, so a million natives (about 4,000 a
/// folder) need no deeper tree, and fewer folders mean fewer to create and to walk.
fn shard(base: &Path, key: &str, suffix: &str) -> PathBuf {
    let prefix = key.get(0..2).filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit())).unwrap_or("00");
    base.join(prefix).join(format!("{key}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_once_and_hashes_all_three() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::create(dir.path()).unwrap();
        let mut buf = Vec::new();
        let first =
            store.ingest_native(&mut &b"The quick brown fox"[..], &mut buf, 4, 100, true).unwrap();
        assert!(!first.already_present);
        assert!(!first.in_buf, "over the keep size, the native streams");
        assert_eq!(first.size, 19);
        assert_eq!(first.hashes.md5.as_deref(), Some("a2004f37730b9445670a738fa0fc9ee5"));
        assert_eq!(first.hashes.sha1.as_deref(), Some("c519c1a06cdbeb2bc499e22137fb48683858b345"));
        let again = store
            .ingest_native(&mut &b"The quick brown fox"[..], &mut buf, 1000, 100, false)
            .unwrap();
        assert!(again.already_present && again.in_buf);
        assert_eq!(buf, b"The quick brown fox");
        let hashed =
            store.hash_stream(&mut &b"The quick brown fox"[..], &mut buf, 4, 100, true).unwrap();
        assert_eq!(hashed.hashes, first.hashes);
        assert!(!hashed.in_buf && buf.is_empty(), "over the keep size, the input streams");
        let kept =
            store.hash_stream(&mut &b"The quick brown fox"[..], &mut buf, 64, 100, true).unwrap();
        assert_eq!(kept.hashes, first.hashes);
        assert!(kept.in_buf && buf == b"The quick brown fox");
        assert_eq!(again.hashes.blake3, first.hashes.blake3);
        let legacy = store.legacy_hashes(&first.hashes.blake3).unwrap();
        assert_eq!(Some(legacy.md5), first.hashes.md5);
        assert_eq!(Some(legacy.sha1), first.hashes.sha1);
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn too_large_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::create(dir.path()).unwrap();
        let mut buf = Vec::new();
        let err = store.ingest_native(&mut &[7u8; 10][..], &mut buf, 4, 9, false).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 9 }));
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
        let stored: usize = fs::read_dir(dir.path().join("natives"))
            .unwrap()
            .map(|shard| fs::read_dir(shard.unwrap().path()).unwrap().count())
            .sum();
        assert_eq!(stored, 0);
    }

    fn native(store: &ContentStore, bytes: &[u8]) -> Stored {
        store.ingest_native(&mut &bytes[..], &mut Vec::new(), 1024, 1 << 20, false).unwrap()
    }

    fn pack_files(dir: &Path) -> Vec<(String, u64)> {
        let mut files: Vec<(String, u64)> = fs::read_dir(dir.join("text/packs"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn texts_are_packed_and_copies_are_not_stored_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::create(dir.path()).unwrap();
        let first = native(&store, b"From: a\r\n\r\nbody");
        assert!(!first.already_present);
        store.put_text(&first, "body").unwrap();
        let copy = native(&store, b"From: a\r\n\r\nbody");
        assert!(copy.already_present);
        store.put_text(&copy, "body").unwrap();
        let other = native(&store, b"From: b\r\n\r\nmore");
        store.put_text(&other, "more text").unwrap();
        assert_eq!(
            pack_files(dir.path()),
            [("000001.idx".to_owned(), 96), ("000001.pack".to_owned(), 13)],
            "two texts, the copy's not again"
        );
        let mut buf = b"old".to_vec();
        assert!(store.read_text(&first.hashes.blake3, &mut buf).unwrap());
        assert_eq!(buf, b"body");
        assert_eq!(store.text(&other.hashes.blake3).unwrap().as_deref(), Some("more text"));
        let fresh = ContentStore::create(dir.path()).unwrap();
        assert_eq!(fresh.text(&first.hashes.blake3).unwrap().as_deref(), Some("body"));
        let missing = blake3::hash(b"never stored").to_hex();
        assert!(!fresh.read_text(&missing, &mut buf).unwrap());
        assert!(matches!(fresh.read_text("not hex", &mut buf), Err(Error::BadKey(_))));
    }

    #[test]
    fn packed_natives_are_read_back_checked_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::create(dir.path()).unwrap();
        let mut buf = Vec::new();
        let message = b"From: a@example.com\r\n\r\nbody\r\n";
        let stored = store.ingest_packed_native(message, &mut buf, true).unwrap();
        assert!(stored.in_buf && !stored.already_present);
        assert_eq!(buf, message);
        let blake3 = stored.hashes.blake3.clone();
        assert!(!store.native_path(&blake3).exists(), "no file of its own");
        assert!(store.ingest_packed_native(message, &mut buf, false).unwrap().already_present);

        // Another process finds it, reads it, and computes the same legacy hashes.
        let reader = ContentStore::create(dir.path()).unwrap();
        assert!(reader.has_native(&blake3).unwrap());
        let mut read = Vec::new();
        assert!(reader.read_native(&blake3, &mut read).unwrap());
        assert_eq!(read, message);
        let legacy = reader.legacy_hashes(&blake3).unwrap();
        assert_eq!(Some(legacy.md5), stored.hashes.md5);
        assert_eq!(Some(legacy.sha1), stored.hashes.sha1);
        // A file native is read the same way.
        let file = native(&store, b"a file of its own");
        assert!(reader.read_native(&file.hashes.blake3, &mut read).unwrap());
        assert_eq!(read, b"a file of its own");
        let missing = blake3::hash(b"never stored").to_hex();
        assert!(!reader.has_native(&missing).unwrap());
        assert!(!reader.read_native(&missing, &mut read).unwrap());

        // Bytes changed in the pack are refused, not returned as the native.
        let pack = dir.path().join("natives/packs/000001.pack");
        let mut bytes = fs::read(&pack).unwrap();
        bytes[0] ^= 1;
        fs::write(&pack, bytes).unwrap();
        let damaged = ContentStore::create(dir.path()).unwrap();
        assert!(matches!(damaged.read_native(&blake3, &mut read), Err(Error::Damaged(_))));
        assert!(matches!(damaged.legacy_hashes(&blake3), Err(Error::Damaged(_))));
        let path = store.native_path(&file.hashes.blake3);
        fs::write(&path, b"a file of its owN").unwrap();
        assert!(matches!(damaged.legacy_hashes(&file.hashes.blake3), Err(Error::Damaged(_))));
        let mut read = Vec::new();
        assert!(matches!(
            damaged.read_native(&file.hashes.blake3, &mut read),
            Err(Error::Damaged(_))
        ));
    }

    #[test]
    fn two_writers_take_two_packs_and_read_each_other() {
        let dir = tempfile::tempdir().unwrap();
        // Two stores opened separately hold separate locks, as two worker processes do.
        let a = ContentStore::create(dir.path()).unwrap();
        let b = ContentStore::create(dir.path()).unwrap();
        // b loads the packs (none yet) before a's text exists: it finds a's on a refresh.
        assert!(!b.read_text(&blake3::hash(b"one").to_hex(), &mut Vec::new()).unwrap());
        let from_a = native(&a, b"one");
        a.put_text(&from_a, "one").unwrap();
        let from_b = native(&b, b"two");
        b.put_text(&from_b, "two").unwrap();
        let names: Vec<String> = pack_files(dir.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["000001.idx", "000001.pack", "000002.idx", "000002.pack"]);
        assert_eq!(a.text(&from_b.hashes.blake3).unwrap().as_deref(), Some("two"));
        assert_eq!(b.text(&from_a.hashes.blake3).unwrap().as_deref(), Some("one"));
        // A copy of a's native seen by b: found in a's pack, not stored again.
        let copy = native(&b, b"one");
        b.put_text(&copy, "one").unwrap();
        assert_eq!(pack_files(dir.path())[2], ("000002.idx".to_owned(), 48));
    }

    #[test]
    fn a_torn_index_entry_is_cut_off_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let packs = dir.path().join("text/packs");
        let first = {
            let store = ContentStore::create(dir.path()).unwrap();
            let first = native(&store, b"first");
            store.put_text(&first, "first").unwrap();
            first
        };
        // A writer killed mid-text and mid-entry: bytes past the last entry in both files.
        let mut idx = fs::OpenOptions::new().append(true).open(packs.join("000001.idx")).unwrap();
        idx.write_all(&[7; 20]).unwrap();
        let mut pack = fs::OpenOptions::new().append(true).open(packs.join("000001.pack")).unwrap();
        pack.write_all(b"half a te").unwrap();
        let reader = ContentStore::create(dir.path()).unwrap();
        assert_eq!(reader.text(&first.hashes.blake3).unwrap().as_deref(), Some("first"));
        let store = ContentStore::create(dir.path()).unwrap();
        let second = native(&store, b"second");
        store.put_text(&second, "second").unwrap();
        assert_eq!(
            pack_files(dir.path()),
            [("000001.idx".to_owned(), 96), ("000001.pack".to_owned(), 20)],
            "the free pack is reused, its torn entry cut off"
        );
        assert_eq!(reader.text(&second.hashes.blake3).unwrap().as_deref(), Some("second"));
        assert_eq!(reader.text(&first.hashes.blake3).unwrap().as_deref(), Some("first"));
        // A damaged entry claiming bytes past the pack's end reads as no text at all.
        let damaged = blake3::hash(b"damaged");
        let mut entry = damaged.as_bytes().to_vec();
        entry.extend_from_slice(&5u64.to_le_bytes());
        entry.extend_from_slice(&(1u64 << 60).to_le_bytes());
        idx.write_all(&entry).unwrap();
        let fresh = ContentStore::create(dir.path()).unwrap();
        assert!(!fresh.read_text(&damaged.to_hex(), &mut Vec::new()).unwrap());
        assert_eq!(fresh.text(&second.hashes.blake3).unwrap().as_deref(), Some("second"));
    }

    #[test]
    fn text_same_as_native_is_linked() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::create(dir.path()).unwrap();
        let mut buf = Vec::new();
        let stored = store.ingest_native(&mut &b"plain"[..], &mut buf, 1024, 100, false).unwrap();
        store.put_text_same_as_native(&stored.hashes.blake3).unwrap();
        store.put_text_same_as_native(&stored.hashes.blake3).unwrap();
        assert_eq!(store.text(&stored.hashes.blake3).unwrap().as_deref(), Some("plain"));
    }
}
