//! The extractor: turns one top-level input into a stream of [`Record`]s.
//!
//! Order is pre-order and deterministic: the input, then for a container its entries in
//! central-directory order (but a split set's last volume after its volumes), each followed by its
//! own entries. Before working on an input or entry the extractor announces it with
//! [`Event::Begin`], so a supervisor that sees the process die or stall knows which item to blame,
//! records an exception for it, and restarts the input with a [`Resume`] that skips what is done
//! and what failed.

use crate::detect::{Detected, detect_file};
use crate::pdf::PdfError;
use crate::smime::Cms;
use crate::text;
use crate::{Error, Result};
use fs_err as fs;
use quarry_store::{ContentStore, Stored};
use quarry_types::{
    Dates, ExceptionKind, ExceptionRecord, FileType, Hashes, ItemRecord, LOCATOR_SEPARATOR, Limits,
    Metadata, Position, Record,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::time::SystemTime;
use zip::ZipArchive;
use zip::result::ZipError;

/// Largest text quarry extracts from one text native; longer text is cut and flagged.
pub const MAX_TEXT_BYTES: u64 = 256 << 20;
/// Natives up to this size stay in memory while they are stored, so detection and text
/// extraction do not read them back from disk.
const INLINE_BYTES: usize = 8 << 20;
/// A UTF-8 text file at least this large is linked as its own text; a smaller one is copied
/// into the text pack. A link saves writing the bytes again, but it is a file to every reader
/// (open, read, close) where a packed text is one read, and below this size the file costs
/// more than the bytes.
const LINK_TEXT_BYTES: usize = 16 << 10;

/// Messages (of a mailbox, embedded, or loose) and loose HTML files up to this size are stored
/// in the store's native packs rather than as files of their own (loose plain text below
/// [`LINK_TEXT_BYTES`]): they are read from memory, and a file each cost more than the parse.
/// Larger ones, mostly their attachments' bytes, and everything else stay files.
const PACKED_NATIVE_BYTES: usize = 1 << 20;

/// RAR entries decoded by one run of unar, at most: as many as this, and as many bytes as this
/// (declared), so a batch's files in the case's `tmp/` stay small.
const BATCH_ENTRIES: usize = 256;
const BATCH_BYTES: u64 = 64 << 20;

/// What the extractor reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Work on the item at this position begins.
    Begin {
        /// Where the item sits.
        position: Position,
        /// Its file or entry name.
        name: String,
        /// Its size, when known before reading it (a supervisor allows big items more time).
        size: Option<u64>,
    },
    /// The outcome for one input or entry.
    Record(Box<Record>),
}

/// What a restarted extraction skips.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// Items already reported: processed again (containers must be re-opened to reach their
    /// entries) but not reported twice.
    pub done: HashSet<String>,
    /// Items that crashed or stalled the parser: skipped entirely, with everything inside.
    pub failed: HashSet<String>,
}

/// A fault to inject, for testing the supervisor's isolation from a real process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Abort the process (as a C parser's assertion would).
    Abort(String),
    /// Loop forever.
    Hang(String),
    /// Allocate until the memory limit stops the process.
    Exhaust(String),
    /// Panic.
    Panic(String),
    /// Recurse until the stack overflows (as a parser on a deeply nested structure would).
    Overflow(String),
    /// Append a byte to an input read in place after it was hashed (a collection that changes
    /// while it is ingested).
    Change(String),
    /// Fail reading a mailbox read in place half-way through its second reading (a medium
    /// that fails while it is read).
    ReadError(String),
    /// Remove an input read in place once it is hashed (a collection taken away mid-run).
    Vanish(String),
}

impl Fault {
    /// Parses `abort:NAME`, `hang:NAME`, `oom:NAME`, `panic:NAME`, `overflow:NAME`,
    /// `change:NAME`, `vanish:NAME` or `readerror:NAME`: the fault strikes when an item whose
    /// name ends with NAME is processed.
    #[must_use]
    pub fn parse(spec: &str) -> Option<Fault> {
        let (kind, name) = spec.split_once(':')?;
        let name = name.to_owned();
        match kind {
            "abort" => Some(Fault::Abort(name)),
            "hang" => Some(Fault::Hang(name)),
            "oom" => Some(Fault::Exhaust(name)),
            "panic" => Some(Fault::Panic(name)),
            "overflow" => Some(Fault::Overflow(name)),
            "change" => Some(Fault::Change(name)),
            "readerror" => Some(Fault::ReadError(name)),
            "vanish" => Some(Fault::Vanish(name)),
            _ => None,
        }
    }

    fn strike(&self, name: &str) {
        match self {
            Fault::Abort(n) if name.ends_with(n.as_str()) => std::process::abort(),
            Fault::Hang(n) if name.ends_with(n.as_str()) => loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            },
            Fault::Exhaust(n) if name.ends_with(n.as_str()) => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 64 << 20]);
                }
            }
            Fault::Panic(n) if name.ends_with(n.as_str()) => panic!("injected fault on {name}"),
            Fault::Overflow(n) if name.ends_with(n.as_str()) => {
                std::hint::black_box(recurse(std::hint::black_box(1)));
            }
            _ => {}
        }
    }

    /// A `change` fault appends a byte to `source`, an input read in place and already
    /// hashed; a `vanish` fault removes it.
    fn change(&self, name: &str, source: &Path) {
        match self {
            Fault::Change(n) if name.ends_with(n.as_str()) => {
                use std::io::Write as _;
                let appended = fs::OpenOptions::new()
                    .append(true)
                    .open(source)
                    .and_then(|mut f| f.write_all(b"\0"));
                appended.expect("the change fault appends to its input");
            }
            Fault::Vanish(n) if name.ends_with(n.as_str()) => {
                fs::remove_file(source).expect("the vanish fault removes its input");
            }
            _ => {}
        }
    }
}

/// Reads `inner` until `left` bytes are read, then fails (the `readerror` fault).
struct FailAfter<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for FailAfter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("injected read failure"));
        }
        let most = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..most])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// What tells a file's contents apart without reading them: a write changes its size or its
/// times, a replacement its inode. An archive read in place is hashed, then opened again by
/// path; the two must be the same file, unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: metadata.dev(),
            ino: metadata.ino(),
            len: metadata.len(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
            ctime: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// Unbounded recursion that the optimiser cannot turn into a loop.
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[0]
}

/// Settings of an [`Extractor`].
#[derive(Clone, Debug, Default)]
pub struct ExtractOptions {
    /// The bounds every input is held to.
    pub limits: Limits,
    /// Passwords to try on encrypted archive entries.
    pub passwords: Vec<Vec<u8>>,
    /// Compute MD5 and SHA-1 while reading (otherwise on demand at export).
    pub legacy_hashes: bool,
    /// Test-only fault injection.
    pub fault: Option<Fault>,
}

/// Extracts inputs into a case's content store. Owns its scratch buffer: build one per worker.
pub struct Extractor {
    store: ContentStore,
    options: ExtractOptions,
    buf: Vec<u8>,
    /// The folder of the message being opened, when its mailbox names it rather than the
    /// message (an Outlook data file): it becomes the message's `X-Folder`.
    folder: Option<String>,
    /// Attachments its mailbox could not give back for the message being opened (name and
    /// reason): they become exceptions in its family.
    unread: Vec<(String, String)>,
    /// The parts, first to last, of the top-level file split by bytes being opened (`X.001`,
    /// `X.002`, ...): its archive is read from them end to end.
    parts: Vec<std::path::PathBuf>,
    /// Split ZIP sets among the entries of the ZIP being read.
    inner_sets: InnerSets,
}

/// Split ZIP sets whose volumes and last volume are entries of one ZIP (a collection zipped
/// with its split backups): read through the last volume from the volumes stored before it.
#[derive(Debug, Default)]
struct InnerSets {
    /// Entries that are volumes before the last of a set whose last volume is an entry too.
    volumes: HashSet<String>,
    /// Where each of those read so far is stored, by entry name.
    stored: HashMap<String, std::path::PathBuf>,
    /// The entry being opened, when it may be a last volume.
    opening: Option<String>,
}

impl InnerSets {
    /// The sets among the entry names of one ZIP (`None` for a name that is not UTF-8), and
    /// the order to read its entries in: the directory's, but with each set's last volume
    /// after its volumes (it is read from them), where the directory lists it before them.
    fn of(names: &[Option<String>]) -> (InnerSets, Vec<usize>) {
        let index: HashMap<&str, usize> =
            names.iter().enumerate().filter_map(|(i, n)| Some((n.as_deref()?, i))).collect();
        let mut volumes = HashSet::new();
        // Each last volume's index, and the index of its volume listed last.
        let mut after: HashMap<usize, usize> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let Some(name) = name else { continue };
            let base = name.rsplit('/').next().unwrap_or(name);
            let Some((stem, _)) = crate::split::volume_number(base) else { continue };
            let folder = &name[..name.len() - base.len()];
            for ext in ["zip", "ZIP"] {
                if let Some(&last) = index.get(format!("{folder}{stem}.{ext}").as_str()) {
                    volumes.insert(name.clone());
                    let latest = after.entry(last).or_insert(i);
                    *latest = (*latest).max(i);
                }
            }
        }
        let mut order = Vec::with_capacity(names.len());
        let mut deferred: HashMap<usize, Vec<usize>> = HashMap::new();
        for i in 0..names.len() {
            match after.get(&i) {
                Some(&latest) if latest > i => deferred.entry(latest).or_default().push(i),
                _ => order.push(i),
            }
            order.extend(deferred.remove(&i).unwrap_or_default());
        }
        (InnerSets { volumes, ..InnerSets::default() }, order)
    }
}

/// Per-input budget shared by every archive inside it.
struct Budget {
    input_size: u64,
    entries: u64,
    expanded: u64,
    /// Set once a limit is crossed; every later entry of this input is refused with it.
    tripped: Option<String>,
}

struct Run<'a> {
    resume: &'a Resume,
    sink: &'a mut dyn FnMut(Event) -> io::Result<()>,
    budget: Budget,
}

impl Run<'_> {
    fn begin(&mut self, position: &Position, name: &str, size: Option<u64>) -> Result<()> {
        (self.sink)(Event::Begin { position: position.clone(), name: name.to_owned(), size })
            .map_err(Error::Sink)
    }

    fn emit(&mut self, record: Record) -> Result<()> {
        if self.resume.done.contains(&record.position().inner) {
            return Ok(());
        }
        (self.sink)(Event::Record(Box::new(record))).map_err(Error::Sink)
    }

    /// An exception for an item whose bytes were read and stored: its size and hashes are
    /// recorded, so the native can be found and retried.
    fn kept(
        &mut self,
        position: Position,
        name: &str,
        kind: ExceptionKind,
        message: String,
        stored: Stored,
    ) -> Result<()> {
        self.exception(position, name, kind, message, Some(stored.size), Some(stored.hashes))
    }

    fn exception(
        &mut self,
        position: Position,
        name: &str,
        kind: ExceptionKind,
        message: String,
        size: Option<u64>,
        hashes: Option<Hashes>,
    ) -> Result<()> {
        self.emit(Record::Exception(ExceptionRecord {
            position,
            name: name.to_owned(),
            kind,
            message,
            size,
            hashes,
        }))
    }
}

impl Extractor {
    /// An extractor writing into `store`.
    #[must_use]
    pub fn new(store: ContentStore, options: ExtractOptions) -> Self {
        Extractor {
            store,
            options,
            buf: Vec::with_capacity(256 * 1024),
            folder: None,
            unread: Vec::new(),
            parts: Vec::new(),
            inner_sets: InnerSets::default(),
        }
    }

    /// Extracts one top-level input file, reporting every event to `sink`. Per-item failures
    /// become exception records; the error return is for the store or the sink failing.
    pub fn extract_input(
        &mut self,
        path: &Path,
        resume: &Resume,
        sink: &mut dyn FnMut(Event) -> io::Result<()>,
    ) -> Result<()> {
        let name = quarry_types::paths::name_text(path.file_name().unwrap_or(path.as_os_str()));
        let position = Position { inner: String::new(), parent: None, index: 0, depth: 0 };
        let mut run = Run {
            resume,
            sink,
            budget: Budget { input_size: 0, entries: 0, expanded: 0, tripped: None },
        };
        run.begin(&position, &name, None)?;
        if resume.failed.contains("") {
            return Ok(());
        }
        if let Some(fault) = &self.options.fault {
            fault.strike(&name);
        }
        let (mut file, metadata) = match fs::File::open(path).and_then(|f| {
            let metadata = f.metadata()?;
            Ok((f, metadata))
        }) {
            Ok(opened) => opened,
            Err(e) => {
                return run.exception(
                    position,
                    &name,
                    ExceptionKind::Unreadable,
                    error_chain(&e),
                    None,
                    None,
                );
            }
        };
        let size = metadata.len();
        run.budget.input_size = size;
        let dates = Dates {
            created: metadata.created().ok().and_then(iso_utc),
            modified: metadata.modified().ok().and_then(iso_utc),
            accessed: metadata.accessed().ok().and_then(iso_utc),
        };
        let limit = self.options.limits.max_item_bytes;
        // A top-level archive, mailbox or Outlook data file is read in place: its entries or
        // messages are copied into the case, the container itself only hashed (it stays on the
        // collection media), which saves writing every container's bytes a second time.
        // Anything else streams into the store.
        // Peek with a positioned read: the stream below still starts at byte 0 (a Chain of the
        // peeked head and the file would defeat read_to_end's uninitialised-buffer reads).
        let mut head = vec![0; crate::detect::HEAD_BYTES];
        match read_at_full(&file, &mut head) {
            Ok(n) => head.truncate(n),
            Err(e) => {
                let message = format!("read failed: {}", error_chain(&e));
                return run.exception(
                    position,
                    &name,
                    ExceptionKind::Unreadable,
                    message,
                    Some(size),
                    None,
                );
            }
        }
        let mut detected = crate::detect::detect_head(&head, size);
        // The last volume of a split ZIP starts wherever the previous volume was cut, so only
        // its end record (and its name, by which its volumes are found) says what it is.
        if !detected.split_volume && name.to_ascii_lowercase().ends_with(".zip") {
            let tail = crate::split::tail_of(file.file()).ok();
            if let Some(n) = tail.and_then(|tail| crate::split::volumes_claimed(&tail, size)) {
                detected = Detected { file_type: FileType::Zip, split_volumes: n, ..detected };
            }
        }
        // A volume before the last, with the last beside it: its bytes are read through the
        // last volume, so it is recorded (hashed in place) but not opened.
        let volume_of = match crate::split::volume_number(&name) {
            Some(_) => crate::split::last_volume_of(path),
            None => None,
        };
        // A file split by bytes (`X.001`, `X.002`, ...): the first part opens the archive the
        // parts make end to end; the others are recorded, hashed in place.
        // Only an archive cut short is taken for one: numbered files of anything else
        // (rotated logs, `report.001`) are files of their own.
        let (parts, part_of) = match crate::split::part_number(&name) {
            Some((_, 1, _)) => {
                let parts = crate::split::parts_from(path).filter(|_| cut_archive(path));
                (parts, None)
            }
            Some(_) => (None, crate::split::first_part_of(path).filter(|f| cut_archive(f))),
            None => (None, None),
        };
        // A later volume of a RAR set (`X.part2.rar`, `X.r00`) with its first beside it: read
        // through the first, recorded here.
        let rar = detected.file_type == FileType::Rar;
        let rar_first = if rar { crate::rar::first_volume_of(path) } else { None };
        let mailbox = detected.file_type == FileType::Mbox;
        let in_place = (detected.file_type == FileType::Zip && !detected.split_volume)
            || rar
            || volume_of.is_some()
            || parts.is_some()
            || part_of.is_some()
            || mailbox
            || matches!(
                detected.file_type,
                FileType::Pst
                    | FileType::Tar
                    | FileType::Gzip
                    | FileType::Bzip2
                    | FileType::Xz
                    | FileType::SevenZip
            );
        // A container read in place is never held or stored whole, so it may be of any size:
        // the limit applies to each of its entries or messages. (One that must be kept after
        // all, damaged or refused, is not stored if it is over the limit: `store_source`.)
        if size > limit && !in_place {
            let message = format!("{size} bytes is over the {limit}-byte item limit");
            let kind = ExceptionKind::TooLarge;
            return run.exception(position, &name, kind, message, Some(size), None);
        }
        let packable = match detected.file_type {
            FileType::Email | FileType::Html => size <= PACKED_NATIVE_BYTES as u64,
            // A larger text file is linked as its own text, which needs it as a file.
            FileType::Text => size < LINK_TEXT_BYTES as u64,
            _ => false,
        };
        let read = if in_place {
            // A mailbox that fits stays in memory: its messages come from the bytes hashed.
            // (An archive is opened by path, so it is not kept.)
            let keep = if mailbox { INLINE_BYTES } else { 0 };
            self.store.hash_stream(
                file.file_mut(),
                &mut self.buf,
                keep,
                u64::MAX,
                self.options.legacy_hashes,
            )
        } else if packable {
            self.packed_native(file.file_mut(), detected.file_type, limit)
        } else {
            // The std file, not its fs-err wrapper: std's reads fill uninitialised buffer space
            // directly, the wrapper's would zero it first (measured: 15% of a worker's time).
            self.store.ingest_native(
                file.file_mut(),
                &mut self.buf,
                INLINE_BYTES,
                limit,
                self.options.legacy_hashes,
            )
        };
        let stored = match read {
            Ok(stored) => stored,
            Err(quarry_store::Error::TooLarge { limit }) => {
                let message = format!("grew past the {limit}-byte item limit while being read");
                return run.exception(
                    position,
                    &name,
                    ExceptionKind::TooLarge,
                    message,
                    Some(size),
                    None,
                );
            }
            Err(quarry_store::Error::Input { read, source }) => {
                let message = format!("read failed after {read} bytes: {}", error_chain(&source));
                return run.exception(
                    position,
                    &name,
                    ExceptionKind::Unreadable,
                    message,
                    Some(size),
                    None,
                );
            }
            Err(e) => return Err(e.into()),
        };
        if volume_of.is_some() || part_of.is_some() || rar_first.is_some() {
            let flags = ["split-volume", "no-text", "native-at-source"].map(str::to_owned).to_vec();
            // A part is typed as the file its parts make (its first part says).
            let file_type = match &part_of {
                Some(first) => detect_file(first).map_or(FileType::Unknown, |d| d.file_type),
                None if rar => FileType::Rar,
                None => FileType::Zip,
            };
            let item = item_record(position, &name, stored, file_type, dates, flags);
            return run.emit(Record::Item(item));
        }
        if let Some(parts) = parts {
            let source = Some((path, Stamp::of(&metadata)));
            let total: u64 =
                parts.iter().filter_map(|p| fs::metadata(p).ok()).map(|m| m.len()).sum();
            run.budget.input_size = total;
            self.parts = parts;
            // `cut_archive` took it for one of these.
            let result = match detected.file_type {
                FileType::Zip => {
                    self.zip(&mut run, position, &name, stored, dates, Vec::new(), detected, source)
                }
                FileType::SevenZip => {
                    self.seven_zip(&mut run, position, &name, stored, dates, Vec::new(), source)
                }
                t => {
                    let flags = Vec::new();
                    self.tar_or_gzip(&mut run, position, &name, stored, dates, flags, t, source)
                }
            };
            self.parts.clear();
            return result;
        }
        if in_place && detected.file_type == FileType::Mbox {
            let flags = maildir_flags(path);
            return self.mbox(&mut run, position, &name, stored, dates, flags, Some(path));
        }
        if in_place
            && matches!(
                detected.file_type,
                FileType::Tar | FileType::Gzip | FileType::Bzip2 | FileType::Xz
            )
        {
            let (source, file_type) = (Some((path, Stamp::of(&metadata))), detected.file_type);
            let flags = Vec::new();
            return self
                .tar_or_gzip(&mut run, position, &name, stored, dates, flags, file_type, source);
        }
        if in_place && detected.file_type == FileType::SevenZip {
            let source = Some((path, Stamp::of(&metadata)));
            return self.seven_zip(&mut run, position, &name, stored, dates, Vec::new(), source);
        }
        if rar {
            let source = Some((path, Stamp::of(&metadata)));
            let volumes = crate::rar::volumes_from(path);
            run.budget.input_size =
                volumes.iter().filter_map(|p| fs::metadata(p).ok()).map(|m| m.len()).sum();
            let flags = Vec::new();
            return self.rar(&mut run, position, &name, stored, dates, flags, source, volumes);
        }
        if in_place && detected.file_type == FileType::Pst {
            let source = (path, Stamp::of(&metadata));
            return self.pst(&mut run, position, &name, stored, dates, Vec::new(), Some(source));
        }
        if in_place {
            let source = (path, Stamp::of(&metadata));
            return self.zip(
                &mut run,
                position,
                &name,
                stored,
                dates,
                Vec::new(),
                detected,
                Some(source),
            );
        }
        // A message file of a Maildir takes its folder as its X-Folder, as a PST's items do.
        self.folder = maildir_folder(path);
        let result =
            self.native(&mut run, position, &name, stored, dates, maildir_flags(path), None);
        self.folder = None;
        result
    }

    /// Decides what a stored native is and records it (opening it if it is a container).
    /// `known` is its type when the container it came from says (a message of a mailbox).
    #[allow(clippy::too_many_arguments)]
    fn native(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        known: Option<FileType>,
    ) -> Result<()> {
        if known == Some(FileType::Email) {
            return self.email(run, position, name, stored, dates, flags);
        }
        let native_path = self.store.native_path(&stored.hashes.blake3);
        let mut detected = if stored.in_buf {
            crate::detect::detect_bytes(&self.buf)
        } else {
            detect_file(&native_path).map_err(|e| Error::Store(e.into()))?
        };
        if detected.file_type == FileType::Zip && !detected.zip_at_start {
            let opens = if stored.in_buf {
                ZipArchive::new(io::Cursor::new(&self.buf[..])).is_ok()
            } else {
                opens_as_zip(&native_path)
            };
            if !opens && detected.split_volumes == 0 {
                // Only an end record looked like ZIP (text or binary with `PK\x05\x06`
                // inside): judge the file by its head.
                let mut head = vec![0; crate::detect::HEAD_BYTES];
                if stored.in_buf {
                    head = self.buf[..self.buf.len().min(head.len())].to_vec();
                } else {
                    let read =
                        fs::File::open(&native_path).and_then(|f| read_at_full(&f, &mut head));
                    head.truncate(read.map_err(|e| Error::Store(e.into()))?);
                }
                detected = crate::detect::detect_head(&head, stored.size);
            }
        }
        if detected.file_type == FileType::Zip {
            // An archive is opened by path: a packed native that turns out to be one (a
            // message that is really a ZIP) becomes a file of its own too.
            if stored.packed {
                self.store.put_native_file(&stored, &self.buf)?;
            }
            return self.zip(run, position, name, stored, dates, flags, detected, None);
        }
        let file_type = detected.file_type;
        match file_type {
            FileType::Email => return self.email(run, position, name, stored, dates, flags),
            FileType::Mbox => return self.mbox(run, position, name, stored, dates, flags, None),
            FileType::Pdf => return self.pdf(run, position, name, stored, dates, flags),
            FileType::Tnef => return self.tnef(run, position, name, stored, dates, flags),
            FileType::Smime => return self.smime(run, position, name, stored, dates, flags),
            FileType::SevenZip => {
                return self.seven_zip(run, position, name, stored, dates, flags, None);
            }
            FileType::Tar | FileType::Gzip | FileType::Bzip2 | FileType::Xz => {
                let source = None;
                return self
                    .tar_or_gzip(run, position, name, stored, dates, flags, file_type, source);
            }
            FileType::Pst => return self.pst(run, position, name, stored, dates, flags, None),
            FileType::Rar => {
                return self.rar(run, position, name, stored, dates, flags, None, Vec::new());
            }
            FileType::Ole => {
                let parsed = self.with_native(&stored, |bytes| {
                    crate::msg::is_msg(bytes).then(|| crate::msg::parse(bytes))
                })?;
                match parsed {
                    Some(Ok(email)) => {
                        return self.email_record(
                            run,
                            position,
                            name,
                            stored,
                            dates,
                            flags,
                            email,
                            FileType::Msg,
                        );
                    }
                    Some(Err(e)) => {
                        return run.kept(
                            position,
                            name,
                            ExceptionKind::Corrupt,
                            format!("cannot read the Outlook message: {e}"),
                            stored,
                        );
                    }
                    // Word, Excel, PowerPoint 97-2003: text extraction is Office's issue.
                    None => {}
                }
            }
            _ => {}
        }
        let mut text_chars = None;
        match file_type {
            FileType::Text | FileType::Html => {
                let read;
                let bytes: &[u8] = if stored.in_buf {
                    &self.buf[..self.buf.len().min(MAX_TEXT_BYTES as usize)]
                } else {
                    let mut bytes = Vec::new();
                    fs::File::open(&native_path)
                        .and_then(|f| f.take(MAX_TEXT_BYTES).read_to_end(&mut bytes))
                        .map_err(|e| Error::Store(e.into()))?;
                    read = bytes;
                    &read
                };
                let truncated = stored.size > MAX_TEXT_BYTES;
                if truncated {
                    flags.push("text-truncated".into());
                }
                match std::str::from_utf8(bytes) {
                    // Plain UTF-8 text is its own text: a large one is linked rather than
                    // written twice, a small one goes into the text pack like any other.
                    Ok(text)
                        if file_type == FileType::Text
                            && !truncated
                            && !text.starts_with('\u{feff}') =>
                    {
                        if text.len() >= LINK_TEXT_BYTES && !stored.packed {
                            self.store.put_text_same_as_native(&stored.hashes.blake3)?;
                        } else {
                            self.store.put_text(&stored, text)?;
                        }
                        text_chars = Some(text.chars().count() as u64);
                    }
                    _ => {
                        let mut text = text::decode(bytes);
                        if file_type == FileType::Html {
                            text = text::html_to_text(&text);
                        }
                        self.store.put_text(&stored, &text)?;
                        text_chars = Some(text.chars().count() as u64);
                    }
                }
            }
            FileType::Empty => flags.push("empty".into()),
            FileType::Unknown => flags.extend(["unknown-type".into(), "no-text".into()]),
            t if t.is_image() => flags.push("no-text".into()),
            // Office and OLE (Outlook .msg) extraction arrive with their own extractors; until
            // then the native is kept and the item is flagged for them.
            _ => flags.push("text-pending".into()),
        }
        let item = ItemRecord {
            text_chars,
            ..item_record(position, name, stored, file_type, dates, flags)
        };
        run.emit(Record::Item(item))
    }

    /// Records a ZIP and its entries. `source` is the input's own path when the archive is read
    /// in place (a top-level input, not copied into the store), with the stamp of the file that
    /// was hashed; whatever outcome leaves the archive itself as the document (a document
    /// format, a refusal, damage, a change at its source) stores it first, so every native an
    /// item or exception names is in the case.
    #[allow(clippy::too_many_arguments)]
    fn zip(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        mut stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        detected: Detected,
        source: Option<(&Path, Stamp)>,
    ) -> Result<()> {
        let (source, hashed) = (source.map(|(path, _)| path), source.map(|(_, stamp)| stamp));
        let archive_path =
            source.map_or_else(|| self.store.native_path(&stored.hashes.blake3), Path::to_path_buf);
        if let (Some(fault), Some(source)) = (&self.options.fault, source) {
            fault.change(name, source);
        }
        let file = fs::File::open(&archive_path);
        // The file opened must be the file hashed: otherwise its entries would not be the
        // bytes the case records for it. (A split archive's other volumes are checked after
        // its entries are read.)
        let changed = match (&file, hashed) {
            (Ok(file), Some(hashed)) => file.metadata().map_or(true, |m| Stamp::of(&m) != hashed),
            _ => false,
        };
        if changed {
            let was = &stored.hashes.blake3;
            let message = format!(
                "the archive changed at its source after it was hashed (blake3 {was}); its entries were not read: ingest it again"
            );
            let kind = ExceptionKind::Unreadable;
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        // A last volume that starts with an entry's header was not told by its head: its end
        // record is read here only where its volumes were entries of the same ZIP (elsewhere,
        // only when it fails to open, below).
        let split_volumes = match detected.split_volumes {
            0 if detected.zip_at_start && source.is_none() && self.inner_volume(1).is_some() => {
                claimed_volumes(&archive_path)
            }
            0 => None,
            n => Some(n),
        };
        let mut volume_stamps = Vec::new();
        let parts = std::mem::take(&mut self.parts);
        // A second handle on a plain (not split) archive, for entries whose local header is
        // not where the reader looks (`entry_as_recorded`).
        let mut as_written = None;
        let opened = match (file, split_volumes, source) {
            (Ok(_), _, Some(_)) if !parts.is_empty() => match crate::split::concatenated(&parts) {
                Ok(joined) => {
                    volume_stamps = joined_stamps(&joined)?;
                    ZipArchive::new(BufReader::new(ArchiveFile::Joined(joined)))
                }
                Err(e) => Err(ZipError::Io(e)),
            },
            (Ok(file), Some(volumes), Some(source)) => {
                match crate::split::open(source, file.into_parts().0) {
                    Ok(joined) => {
                        run.budget.input_size = joined.len();
                        volume_stamps = joined_stamps(&joined)?;
                        if let Some(fault) = &self.options.fault {
                            for (path, _) in &volume_stamps {
                                let volume = path.file_name().unwrap_or_default();
                                fault.change(&volume.to_string_lossy(), path);
                            }
                        }
                        ZipArchive::new(BufReader::new(ArchiveFile::Joined(joined)))
                    }
                    Err(e) => {
                        let kind = match e {
                            crate::split::SplitError::Io(_) => ExceptionKind::Unreadable,
                            _ => ExceptionKind::Corrupt,
                        };
                        let message = format!(
                            "the last of {volumes} volumes of a split ZIP archive, and {e}; its entries were not read"
                        );
                        let source = Some(source);
                        return self
                            .kept_from_source(run, position, name, kind, message, stored, source);
                    }
                }
            }
            // A last volume whose volumes were entries of the same ZIP, read before it.
            (Ok(file), Some(volumes), None) if self.inner_volume(1).is_some() => {
                let volume = |n| {
                    self.inner_volume(n).ok_or_else(|| {
                        let entry = self.inner_sets.opening.as_deref().unwrap_or_default();
                        let name = crate::split::volume_path(Path::new(entry), n);
                        crate::split::SplitError::Missing(name.unwrap_or_default())
                    })
                };
                match crate::split::open_with(&archive_path, file.into_parts().0, volume) {
                    Ok(joined) => ZipArchive::new(BufReader::new(ArchiveFile::Joined(joined))),
                    Err(e) => {
                        let message = format!(
                            "the last of {volumes} volumes of a split ZIP archive, and {e}; its entries were not read"
                        );
                        return run.kept(position, name, ExceptionKind::Corrupt, message, stored);
                    }
                }
            }
            (Ok(_), Some(volumes), None) => {
                let message = last_volume_alone(volumes);
                return run.kept(position, name, ExceptionKind::Unsupported, message, stored);
            }
            (file, _, _) => file.map_err(ZipError::Io).and_then(|f| {
                as_written = f.file().try_clone().ok();
                ZipArchive::new(BufReader::new(ArchiveFile::Plain(f)))
            }),
        };
        let mut archive = match opened {
            Ok(archive) => archive,
            Err(_) if detected.split_volume => {
                let message = "the first volume of a split (multi-volume) ZIP archive whose last volume (named like it, ending in .zip) is not beside it; the entries of a split archive are read through its last volume".to_owned();
                let kind = ExceptionKind::Unsupported;
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            }
            Err(e) if detected.zip_at_start => {
                let (kind, message) = if let Some(volumes) = claimed_volumes(&archive_path) {
                    (ExceptionKind::Unsupported, last_volume_alone(volumes))
                } else if let Some(why) = first_part_alone(name, source) {
                    why
                } else {
                    (zip_error_kind(&e), format!("cannot open the archive: {e}"))
                };
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            }
            Err(e) => {
                // A self-extractor that opened a moment ago (see `native`) and no longer does.
                let message = format!("cannot open the archive appended to this file: {e}");
                return run.kept(position, name, ExceptionKind::Corrupt, message, stored);
            }
        };
        if let Some(file_type) = zip_document_type(&archive) {
            drop(archive);
            if let Some(source) = source {
                stored = match self.store_source(source)? {
                    Ok(stored) => stored,
                    Err((kind, reason)) => {
                        let message = format!("a document ({file_type:?}) that {reason}");
                        return run.exception(
                            position,
                            name,
                            kind,
                            message,
                            Some(stored.size),
                            None,
                        );
                    }
                };
            }
            flags.push("text-pending".into());
            let item = item_record(position, name, stored, file_type, dates, flags);
            return run.emit(Record::Item(item));
        }
        let limits = self.options.limits.clone();
        let refuse = |message: String| (ExceptionKind::DecompressionBomb, message);
        let refusal = if archive.has_overlapping_files().unwrap_or(false) {
            Some(refuse("entries overlap each other (a non-recursive zip bomb)".into()))
        } else if archive
            .decompressed_size()
            .is_some_and(|total| total > u128::from(limits.max_expanded_bytes))
        {
            let total = archive.decompressed_size().unwrap_or_default();
            Some(refuse(format!(
                "declares {total} expanded bytes, over the {} limit",
                limits.max_expanded_bytes
            )))
        } else if position.depth >= limits.max_depth {
            Some(refuse(format!(
                "nested {} archives deep; the limit is {}",
                position.depth, limits.max_depth
            )))
        } else {
            run.budget.tripped.clone().map(refuse)
        };
        if let Some((kind, message)) = refusal {
            drop(archive);
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        let files = (0..archive.len())
            .filter(|&i| archive.by_index_data(i).map_or(true, |e| !e.is_dir()))
            .count();
        let hidden = if archive.has_duplicate_names() {
            let records = if volume_stamps.is_empty() {
                crate::zipdir::records(&archive_path)
            } else {
                // A split archive's directory is read from its volumes joined again.
                let joined = match source {
                    Some(last) if parts.is_empty() => std::fs::File::open(last)
                        .and_then(|f| crate::split::open(last, f).map_err(io::Error::other)),
                    _ => crate::split::concatenated(&parts),
                };
                joined.and_then(|mut j| {
                    let len = j.len();
                    crate::zipdir::records_in(&mut j, len)
                })
            };
            let records = records.map_err(|e| Error::Store(e.into()))?;
            records.map(|r| crate::zipdir::hidden_by_repeated_names(&r)).unwrap_or_default()
        } else {
            Vec::new()
        };
        let files = files + hidden.len();
        if source.is_some() {
            flags.push("native-at-source".to_owned());
        }
        // A split archive declares no count, as a tar does: a volume found changed after its
        // entries are read adds a notice among them.
        let declared = volume_stamps.is_empty().then_some(files as u64);
        let item = ItemRecord {
            entries_declared: declared,
            ..item_record(position.clone(), name, stored, FileType::Zip, dates, flags)
        };
        run.emit(Record::Item(item))?;
        let mut seen = HashSet::new();
        let names: Vec<Option<String>> = (0..archive.len())
            .map(|i| archive.name_for_index(i)?.ok().map(std::borrow::Cow::into_owned))
            .collect();
        let (sets, order) = InnerSets::of(&names);
        let outer = std::mem::replace(&mut self.inner_sets, sets);
        let read = order.into_iter().try_for_each(|index| {
            let archive = (&mut archive, as_written.as_ref());
            self.zip_entry(run, archive, index, &position, &mut seen)
        });
        self.inner_sets = outer;
        read?;
        for (index, name) in hidden {
            let label = format!("{name} [directory record {index}]");
            let entry = position.member(&label, index as u64);
            run.begin(&entry, &name, None)?;
            let message = format!(
                "the archive repeats the name {name:?}; its ZIP reader exposes only the last entry of that name, so this earlier one was not read"
            );
            run.exception(entry, &name, ExceptionKind::Unsupported, message, None, None)?;
        }
        changed_part_notice(self, run, &position, &volume_stamps)
    }

    /// Where volume `n` of the set whose last volume is the entry being opened is stored, when
    /// it was an entry of the same ZIP read before it.
    fn inner_volume(&self, n: u32) -> Option<std::path::PathBuf> {
        let entry = self.inner_sets.opening.as_deref()?;
        let name = crate::split::volume_path(Path::new(entry), n)?;
        self.inner_sets.stored.get(name.to_str()?).cloned()
    }

    fn zip_entry(
        &mut self,
        run: &mut Run<'_>,
        (archive, as_written): (&mut ZipArchive<BufReader<ArchiveFile>>, Option<&std::fs::File>),
        index: usize,
        parent: &Position,
        seen: &mut HashSet<String>,
    ) -> Result<()> {
        let mut recorded = None;
        let (name, is_dir, declared, compressed, encrypted, symlink, mut modified, unreadable) =
            match archive.by_index_data(index) {
                Ok(entry) => (
                    {
                        recorded = Some(Recorded {
                            header_start: entry.header_start(),
                            name: entry.name_raw().to_vec(),
                            method: entry.compression(),
                            crc32: entry.crc32(),
                        });
                        entry.name().map_or_else(
                            |_| String::from_utf8_lossy(entry.name_raw()).into_owned(),
                            |n| n.into_owned(),
                        )
                    },
                    entry.is_dir(),
                    entry.size(),
                    entry.compressed_size(),
                    entry.encrypted(),
                    entry.is_symlink(),
                    entry.last_modified().map(|d| {
                        format!(
                            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                            d.year(),
                            d.month(),
                            d.day(),
                            d.hour(),
                            d.minute(),
                            d.second()
                        )
                    }),
                    None,
                ),
                Err(e) => (String::new(), false, 0, 0, false, false, None, Some(e.to_string())),
            };
        if is_dir {
            return Ok(());
        }
        let position = parent.member(&entry_label(&name, index, seen), index as u64);
        run.begin(&position, &name, Some(declared))?;
        if run.resume.failed.contains(&position.inner) {
            return Ok(());
        }
        if let Some(fault) = &self.options.fault {
            fault.strike(&name);
        }
        if let Some(message) = unreadable {
            let message = format!("cannot read the entry's central-directory record: {message}");
            return run.exception(position, &name, ExceptionKind::Corrupt, message, None, None);
        }
        let limits = &self.options.limits;
        run.budget.entries += 1;
        if run.budget.tripped.is_none() && run.budget.entries > limits.max_entries {
            run.budget.tripped =
                Some(format!("more than {} archive entries in one input", limits.max_entries));
        }
        if let Some(reason) = run.budget.tripped.clone() {
            return run.exception(
                position,
                &name,
                ExceptionKind::DecompressionBomb,
                format!("not expanded: {reason}"),
                Some(declared),
                None,
            );
        }
        if declared > limits.max_item_bytes {
            let message = format!(
                "declares {declared} bytes, over the {}-byte item limit",
                limits.max_item_bytes
            );
            return run.exception(
                position,
                &name,
                ExceptionKind::TooLarge,
                message,
                Some(declared),
                None,
            );
        }
        let passwords: Vec<Option<Vec<u8>>> = if encrypted {
            self.options.passwords.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        let mut last_failure = None;
        let shift = archive.offset();
        for password in &passwords {
            let opened = match password {
                Some(password) => archive.by_index_decrypt(index, password),
                None => archive.by_index(index),
            };
            let mut repaired = false;
            let mut entry: Box<dyn Read + '_> = match opened {
                Ok(entry) => {
                    if let Some(exact) = zip_exact_modified(entry.extra_data_fields()) {
                        modified = Some(exact);
                    }
                    Box::new(entry)
                }
                Err(ZipError::InvalidPassword) => continue,
                // Bytes before the archive (the reader shifts every offset by their length)
                // that the writer counted for some entries and not others: the entry's header
                // may be where its directory record says, unshifted.
                Err(e @ ZipError::InvalidArchive(_)) => {
                    let found = match (password, as_written, &recorded) {
                        (None, Some(file), Some(recorded)) if shift > 0 => {
                            entry_as_recorded(file, recorded, shift, compressed, declared)
                        }
                        _ => None,
                    };
                    let Some(found) = found else {
                        last_failure =
                            Some((zip_error_kind(&e), format!("cannot read the entry: {e}")));
                        break;
                    };
                    repaired = true;
                    Box::new(found)
                }
                Err(e) => {
                    last_failure =
                        Some((zip_error_kind(&e), format!("cannot read the entry: {e}")));
                    break;
                }
            };
            let mut reader = Metered {
                inner: &mut entry,
                budget: &mut run.budget,
                limits,
                compressed,
                entry_bytes: 0,
            };
            match self.store.ingest_native(
                &mut reader,
                &mut self.buf,
                INLINE_BYTES,
                limits.max_item_bytes,
                self.options.legacy_hashes,
            ) {
                Ok(stored) => {
                    drop(entry);
                    let dates = Dates { modified, ..Dates::default() };
                    if let Some(reason) = traversal(&name) {
                        let message =
                            format!("entry name {reason}; recorded as data, never followed");
                        return run.kept(
                            position,
                            &name,
                            ExceptionKind::PathTraversal,
                            message,
                            stored,
                        );
                    }
                    let mut flags = Vec::new();
                    if symlink {
                        flags.push("symlink".to_owned());
                    }
                    if password.is_some() {
                        flags.push("decrypted".to_owned());
                    }
                    if repaired {
                        flags.push("zip-offset-repaired".to_owned());
                    }
                    if self.inner_sets.volumes.contains(&name) {
                        // Read through its set's last volume, an entry of this ZIP too.
                        if stored.in_buf {
                            self.store.put_native_file(&stored, &self.buf)?;
                        }
                        let path = self.store.native_path(&stored.hashes.blake3);
                        self.inner_sets.stored.insert(name.clone(), path);
                        flags.extend(["split-volume".to_owned(), "no-text".to_owned()]);
                        let item =
                            item_record(position, &name, stored, FileType::Zip, dates, flags);
                        return run.emit(Record::Item(item));
                    }
                    self.inner_sets.opening = Some(name.clone());
                    let result = self.native(run, position, &name, stored, dates, flags, None);
                    self.inner_sets.opening = None;
                    return result;
                }
                Err(quarry_store::Error::TooLarge { limit }) => {
                    last_failure = Some((
                        ExceptionKind::TooLarge,
                        format!("expands past the {limit}-byte item limit"),
                    ));
                    break;
                }
                Err(quarry_store::Error::Input { source, .. }) => {
                    if let Some(reason) =
                        source.get_ref().and_then(|e| e.downcast_ref::<BombError>())
                    {
                        last_failure = Some((ExceptionKind::DecompressionBomb, reason.0.clone()));
                        break;
                    }
                    let message = format!("cannot decompress the entry: {}", error_chain(&source));
                    let zip_error = source.get_ref().and_then(|e| e.downcast_ref::<ZipError>());
                    if zip_error.is_some_and(|e| zip_error_kind(e) == ExceptionKind::Unsupported) {
                        last_failure = Some((ExceptionKind::Unsupported, message));
                        break;
                    }
                    // A wrong ZipCrypto password passes its one-byte check 1 time in 256 and
                    // then fails the CRC: try the next password.
                    if password.is_some() {
                        last_failure = Some((ExceptionKind::Encrypted, message));
                        continue;
                    }
                    last_failure = Some((ExceptionKind::Corrupt, message));
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let (kind, message) = last_failure.unwrap_or_else(|| {
            let tried = self.options.passwords.len();
            (
                ExceptionKind::Encrypted,
                format!("encrypted entry; none of the {tried} known passwords opens it"),
            )
        });
        let kind = if encrypted && kind == ExceptionKind::Corrupt {
            ExceptionKind::Encrypted
        } else {
            kind
        };
        run.exception(position, &name, kind, message, Some(declared), None)
    }

    /// Stores a small loose message or text file in the native pack (see
    /// [`PACKED_NATIVE_BYTES`]). A file that grew since its size was read past what may be
    /// packed is stored as a file of its own, from its start.
    fn packed_native(
        &mut self,
        file: &mut std::fs::File,
        file_type: FileType,
        limit: u64,
    ) -> quarry_store::Result<Stored> {
        use std::io::{Seek, SeekFrom};
        let most =
            if file_type == FileType::Text { LINK_TEXT_BYTES - 1 } else { PACKED_NATIVE_BYTES };
        let most = (most as u64).min(limit);
        let mut bytes = Vec::new();
        if let Err(source) = file.take(most + 1).read_to_end(&mut bytes) {
            return Err(quarry_store::Error::Input { read: bytes.len() as u64, source });
        }
        if bytes.len() as u64 > most {
            file.seek(SeekFrom::Start(0))
                .map_err(|source| quarry_store::Error::Input { read: 0, source })?;
            let legacy = self.options.legacy_hashes;
            return self.store.ingest_native(file, &mut self.buf, INLINE_BYTES, limit, legacy);
        }
        self.store.ingest_packed_native(&bytes, &mut self.buf, self.options.legacy_hashes)
    }

    /// Runs `read` over the bytes of a stored native: the scratch buffer when it holds them,
    /// else the file in the store.
    fn with_native<T>(&mut self, stored: &Stored, read: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let bytes = if stored.in_buf {
            std::mem::take(&mut self.buf)
        } else {
            fs::read(self.store.native_path(&stored.hashes.blake3))
                .map_err(|e| Error::Store(e.into()))?
        };
        let out = read(&bytes);
        self.give_back(bytes);
        Ok(out)
    }

    /// Returns a buffer taken from `self.buf`, keeping the larger allocation.
    fn give_back(&mut self, mut bytes: Vec<u8>) {
        if bytes.capacity() > self.buf.capacity() {
            bytes.clear();
            self.buf = bytes;
        }
    }

    /// Stores and records one member of a container or document (a message of a mailbox, an
    /// attachment of an email, a file embedded in a PDF), then whatever is inside it.
    #[allow(clippy::too_many_arguments)]
    fn child(
        &mut self,
        run: &mut Run<'_>,
        parent: &Position,
        index: u64,
        label: &str,
        name: &str,
        bytes: &[u8],
        known: Option<FileType>,
    ) -> Result<()> {
        let position = parent.member(label, index);
        let size = bytes.len() as u64;
        run.begin(&position, name, Some(size))?;
        if run.resume.failed.contains(&position.inner) {
            return Ok(());
        }
        if let Some(fault) = &self.options.fault {
            fault.strike(name);
        }
        let limits = &self.options.limits;
        run.budget.entries += 1;
        run.budget.expanded += size;
        if run.budget.tripped.is_none() {
            if run.budget.entries > limits.max_entries {
                run.budget.tripped =
                    Some(format!("more than {} members in one input", limits.max_entries));
            } else if run.budget.expanded > limits.max_expanded_bytes {
                run.budget.tripped = Some(format!(
                    "members of this input expand past {} bytes",
                    limits.max_expanded_bytes
                ));
            }
        }
        let refusal = if let Some(reason) = run.budget.tripped.clone() {
            Some((ExceptionKind::DecompressionBomb, format!("not expanded: {reason}")))
        } else if position.depth > limits.max_depth {
            Some((
                ExceptionKind::DecompressionBomb,
                format!("nested {} levels deep; the limit is {}", position.depth, limits.max_depth),
            ))
        } else if size > limits.max_item_bytes {
            Some((
                ExceptionKind::TooLarge,
                format!("{size} bytes is over the {}-byte item limit", limits.max_item_bytes),
            ))
        } else {
            None
        };
        if let Some((kind, message)) = refusal {
            return run.exception(position, name, kind, message, Some(size), None);
        }
        let stored = if known == Some(FileType::Email) && bytes.len() <= PACKED_NATIVE_BYTES {
            self.store.ingest_packed_native(bytes, &mut self.buf, self.options.legacy_hashes)?
        } else {
            self.store.ingest_native(
                &mut &bytes[..],
                &mut self.buf,
                INLINE_BYTES,
                limits.max_item_bytes,
                self.options.legacy_hashes,
            )?
        };
        self.native(run, position, name, stored, Dates::default(), Vec::new(), known)
    }

    /// Records an email message, then its attachments and embedded messages as its family.
    fn email(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        flags: Vec<String>,
    ) -> Result<()> {
        let parsed = self.with_native(&stored, crate::email::parse)?;
        let email = match parsed {
            Ok(email) => email,
            Err(e) => {
                let message = format!("cannot parse the message: {e}");
                return run.kept(position, name, ExceptionKind::Corrupt, message, stored);
            }
        };
        self.email_record(run, position, name, stored, dates, flags, email, FileType::Email)
    }

    /// Records a parsed message (RFC 5322 or Outlook) and its family.
    #[allow(clippy::too_many_arguments)]
    fn email_record(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        email: crate::email::Email,
        file_type: FileType,
    ) -> Result<()> {
        self.store.put_text(&stored, &email.text)?;
        flags.extend(email.flags);
        let mut meta = email.meta;
        // Only the message itself: its attachments are opened after these are taken.
        if let Some(folder) = self.folder.take() {
            meta.x_folder.get_or_insert(folder);
        }
        let mut unread = email.unread;
        unread.append(&mut self.unread);
        let item = ItemRecord {
            text_chars: Some(email.text.chars().count() as u64),
            dedup_key: Some(email.identity),
            metadata: Some(Box::new(Metadata::Email(meta))),
            ..item_record(position.clone(), name, stored, file_type, dates, flags)
        };
        run.emit(Record::Item(item))?;
        let mut seen = HashSet::new();
        for (index, attachment) in email.attachments.iter().enumerate() {
            let label = unique_label(&attachment.name, index, &mut seen);
            let known = attachment.message.then_some(FileType::Email);
            self.child(
                run,
                &position,
                index as u64,
                &label,
                &attachment.name,
                &attachment.bytes,
                known,
            )?;
        }
        let first = email.attachments.len();
        for (offset, (member, reason)) in unread.iter().enumerate() {
            let at = first + offset;
            let kind = ExceptionKind::Unsupported;
            self.member_exception(run, &position, at, member, kind, reason, &mut seen)?;
        }
        Ok(())
    }

    /// Accounts for a member quarry cannot read (`unsupported`, or `encrypted`): an exception
    /// in the family.
    #[allow(clippy::too_many_arguments)]
    fn member_exception(
        &mut self,
        run: &mut Run<'_>,
        parent: &Position,
        index: usize,
        name: &str,
        kind: ExceptionKind,
        reason: &str,
        seen: &mut HashSet<String>,
    ) -> Result<()> {
        let label = unique_label(name, index, seen);
        let position = parent.member(&label, index as u64);
        run.begin(&position, name, None)?;
        run.exception(position, name, kind, reason.to_owned(), None, None)
    }

    /// Why an archive must not be read, checked before it is: nested too deep, a limit of its
    /// input already crossed, or (read in place from `source`) changed since it was hashed.
    fn archive_refusal(
        &self,
        run: &Run<'_>,
        position: &Position,
        name: &str,
        stored: &Stored,
        source: Option<(&Path, Stamp)>,
    ) -> Option<(ExceptionKind, String)> {
        let limits = &self.options.limits;
        if position.depth >= limits.max_depth {
            let message = format!(
                "nested {} archives deep; the limit is {}",
                position.depth, limits.max_depth
            );
            return Some((ExceptionKind::DecompressionBomb, message));
        }
        if let Some(reason) = &run.budget.tripped {
            return Some((ExceptionKind::DecompressionBomb, reason.clone()));
        }
        let (path, hashed) = source?;
        if let Some(fault) = &self.options.fault {
            fault.change(name, path);
        }
        changed_since(path, hashed).then(|| {
            let was = &stored.hashes.blake3;
            let message = format!(
                "the archive changed at its source after it was hashed (blake3 {was}); its entries were not read: ingest it again"
            );
            (ExceptionKind::Unreadable, message)
        })
    }

    /// Records a mailbox, then each of its messages (streamed: a mailbox may be larger than
    /// memory; one message at a time is held). `at_source` is the input's own path when the
    /// mailbox is read in place (a top-level input, hashed but not copied into the store); a
    /// read failure there is the collection's, not the case's, and becomes an exception.
    #[allow(clippy::too_many_arguments)]
    fn mbox(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        at_source: Option<&Path>,
    ) -> Result<()> {
        let held = if stored.in_buf { Some(std::mem::take(&mut self.buf)) } else { None };
        // A large mailbox read in place is read a second time after it was hashed: what is
        // read is hashed again and checked against the hash recorded.
        let check = Rc::new(RefCell::new(blake3::Hasher::new()));
        let source: Box<dyn Read> = match (&held, at_source) {
            (Some(bytes), _) => Box::new(&bytes[..]),
            (None, Some(path)) => match fs::File::open(path) {
                Ok(file) => {
                    let read = Hashing { inner: file, hasher: Rc::clone(&check) };
                    match &self.options.fault {
                        Some(Fault::ReadError(n)) if name.ends_with(n.as_str()) => {
                            Box::new(FailAfter { inner: read, left: stored.size / 2 })
                        }
                        _ => Box::new(read),
                    }
                }
                Err(e) => {
                    // Hashed a moment ago, gone now: nothing of it is in the case to name.
                    let message = format!("cannot reopen the mailbox: {}", error_chain(&e));
                    let size = Some(stored.size);
                    return run.exception(
                        position,
                        name,
                        ExceptionKind::Unreadable,
                        message,
                        size,
                        None,
                    );
                }
            },
            (None, None) => {
                let path = self.store.native_path(&stored.hashes.blake3);
                Box::new(fs::File::open(path).map_err(|e| Error::Store(e.into()))?)
            }
        };
        if at_source.is_some() {
            flags.push("native-at-source".to_owned());
        }
        let item =
            item_record(position.clone(), name, stored.clone(), FileType::Mbox, dates, flags);
        run.emit(Record::Item(item))?;
        let mut source = BufReader::with_capacity(1 << 16, source);
        let in_place = at_source.is_some() && held.is_none();
        let cr_only = match io::BufRead::fill_buf(&mut source) {
            Ok(head) => {
                memchr::memchr(b'\n', head).is_none() && memchr::memchr(b'\r', head).is_some()
            }
            Err(e) if in_place => return mailbox_exception(run, &position, 1, unread(&e)),
            Err(e) => return Err(Error::Store(e.into())),
        };
        // Classic Mac OS line ends (CR only): read as LF, or the mailbox would be one line.
        let result = if cr_only {
            let lf = BufReader::new(crate::mbox::CrToLf(source));
            let mut reader = crate::mbox::Reader::new(lf).with_max_message(self.max_message());
            self.mbox_messages(run, &position, &mut reader, in_place)
        } else {
            let mut reader = crate::mbox::Reader::new(source).with_max_message(self.max_message());
            self.mbox_messages(run, &position, &mut reader, in_place)
        };
        if let Some(bytes) = held {
            self.give_back(bytes);
            return result.map(|_| ());
        }
        match result? {
            Some(last) if in_place => {
                let read = check.borrow().finalize().to_hex().to_string();
                if read == stored.hashes.blake3 {
                    return Ok(());
                }
                let message = format!(
                    "the mailbox changed at its source while it was read (hashed as {}, read as \
                     {read}): the messages recorded from it may not be those of the mailbox hashed",
                    stored.hashes.blake3
                );
                mailbox_exception(run, &position, last + 1, message)
            }
            _ => Ok(()),
        }
    }

    fn mbox_messages<R: io::BufRead>(
        &mut self,
        run: &mut Run<'_>,
        position: &Position,
        reader: &mut crate::mbox::Reader<R>,
        in_place: bool,
    ) -> Result<Option<u64>> {
        let mut number = 0;
        loop {
            let message = match reader.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(Some(number)),
                Err(e) if in_place => {
                    mailbox_exception(run, position, number + 1, unread(&e))?;
                    return Ok(None);
                }
                Err(e) => return Err(Error::Store(quarry_store::Error::from(e))),
            };
            number = message.number;
            let label = format!("message {}", message.number);
            if message.oversize {
                let (member, size) = (position.member(&label, message.number), message.size);
                run.begin(&member, &label, Some(size))?;
                let message = format!(
                    "a message of {size} bytes, over the {}-byte limit for one message of a \
                     mailbox (the item limit, and at most a quarter of a worker's memory)",
                    self.max_message()
                );
                let kind = ExceptionKind::TooLarge;
                run.exception(member, &label, kind, message, Some(size), None)?;
                continue;
            }
            self.child(
                run,
                position,
                message.number,
                &label,
                &label,
                &message.bytes,
                Some(FileType::Email),
            )?;
        }
    }

    /// Records an input read in place (`source`) as an exception of its own, when the input
    /// itself is what remains (damage, a refusal, a change at its source): it is stored first,
    /// so the exception's hash has its native in the case. If it cannot be read again, the
    /// exception says why and names no hash. Without a source, `stored` is already stored.
    #[allow(clippy::too_many_arguments)]
    fn kept_from_source(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        kind: ExceptionKind,
        message: String,
        stored: Stored,
        source: Option<&Path>,
    ) -> Result<()> {
        let Some(source) = source else { return run.kept(position, name, kind, message, stored) };
        match self.store_source(source)? {
            Ok(stored) => run.kept(position, name, kind, message, stored),
            Err((_, reason)) => {
                let message = format!("{message} (not kept: it {reason})");
                run.exception(position, name, kind, message, Some(stored.size), None)
            }
        }
    }

    /// Stores an input that was read in place after all. `Ok(Err((kind, reason)))` when it
    /// cannot be read again (gone, unreadable) or is over the item limit (a container read in
    /// place may be larger); `Err` only when the store fails.
    fn store_source(&mut self, source: &Path) -> Result<std::result::Result<Stored, NotKept>> {
        let unreadable = |reason: String| Ok(Err((ExceptionKind::Unreadable, reason)));
        let mut file = match fs::File::open(source) {
            Ok(file) => file,
            Err(e) => return unreadable(format!("could not be opened again: {}", error_chain(&e))),
        };
        let limit = self.options.limits.max_item_bytes;
        let legacy = self.options.legacy_hashes;
        match self.store.ingest_native(file.file_mut(), &mut self.buf, 0, limit, legacy) {
            Ok(stored) => Ok(Ok(stored)),
            Err(quarry_store::Error::Input { read, source }) => {
                let e = error_chain(&source);
                unreadable(format!("could not be read again past {read} bytes: {e}"))
            }
            Err(quarry_store::Error::TooLarge { limit }) => Ok(Err((
                ExceptionKind::TooLarge,
                format!("is over the {limit}-byte item limit, so it is not stored"),
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The largest message of a mailbox held in memory: the item limit, and at most a quarter
    /// of a worker's memory (the message, its parse and its text are held together).
    fn max_message(&self) -> u64 {
        let limits = &self.options.limits;
        limits.max_item_bytes.min(limits.worker_memory_bytes / 4)
    }

    /// Records a TNEF part (winmail.dat) and its attachments as children.
    fn tnef(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
    ) -> Result<()> {
        let parsed = self.with_native(&stored, crate::tnef::parse)?;
        let Some(tnef) = parsed else {
            let message = "not a TNEF stream after all (signature check failed)".to_owned();
            return run.kept(position, name, ExceptionKind::Corrupt, message, stored);
        };
        if tnef.damaged {
            flags.push("tnef-damaged".to_owned());
        }
        let text_chars = match tnef.text() {
            Some(body) => {
                self.store.put_text(&stored, &body)?;
                Some(body.chars().count() as u64)
            }
            None => None,
        };
        let item = ItemRecord {
            text_chars,
            entries_declared: Some((tnef.attachments.len() + tnef.embedded_items.len()) as u64),
            ..item_record(position.clone(), name, stored, FileType::Tnef, dates, flags)
        };
        run.emit(Record::Item(item))?;
        let mut seen = HashSet::new();
        for (index, (file_name, bytes)) in tnef.attachments.iter().enumerate() {
            let label = unique_label(file_name, index, &mut seen);
            self.child(run, &position, index as u64, &label, file_name, bytes, None)?;
        }
        let first = tnef.attachments.len();
        let reason = "an embedded object in the TNEF stream with no data to extract";
        for (offset, item_name) in tnef.embedded_items.iter().enumerate() {
            let (at, kind) = (first + offset, ExceptionKind::Unsupported);
            self.member_exception(run, &position, at, item_name, kind, reason, &mut seen)?;
        }
        Ok(())
    }

    /// Records a tar archive or a gzip stream, then what it holds: a tar's entries, or a
    /// gzip's one file. A gzipped tar (`.tar.gz`, `.tgz`) is one archive whose entries are its
    /// children. Both are streamed (from `source` when the input is read in place, with the
    /// stamp of the file hashed; else from the stored native): nothing is unpacked to disk and
    /// one entry at a time is held, under the same limits as a ZIP's entries.
    #[allow(clippy::too_many_arguments)]
    fn tar_or_gzip(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        file_type: FileType,
        source: Option<(&Path, Stamp)>,
    ) -> Result<()> {
        let hashed = source.map(|(_, stamp)| stamp);
        if let Some((kind, message)) = self.archive_refusal(run, &position, name, &stored, source) {
            let source = source.map(|(path, _)| path);
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        let (source, limits) = (source.map(|(path, _)| path), self.options.limits.clone());
        // A stream split by bytes is read from its parts end to end.
        let parts = std::mem::take(&mut self.parts);
        let part_stamps = stamps_of(&parts)?;
        let reader: Box<dyn Read> = match source {
            Some(_) if !parts.is_empty() => match crate::split::concatenated(&parts) {
                Ok(joined) => Box::new(BufReader::new(joined)),
                Err(e) => {
                    let message = format!("its parts could not be opened: {}", error_chain(&e));
                    let kind = ExceptionKind::Unreadable;
                    return run.exception(position, name, kind, message, Some(stored.size), None);
                }
            },
            Some(path) => match fs::File::open(path) {
                Ok(file) => Box::new(BufReader::new(file)),
                Err(e) => {
                    let message = format!("could not be opened again: {}", error_chain(&e));
                    let kind = ExceptionKind::Unreadable;
                    return run.exception(position, name, kind, message, Some(stored.size), None);
                }
            },
            None if stored.in_buf => Box::new(io::Cursor::new(std::mem::take(&mut self.buf))),
            None => {
                let path = self.store.native_path(&stored.hashes.blake3);
                Box::new(BufReader::new(fs::File::open(path).map_err(|e| Error::Store(e.into()))?))
            }
        };
        // The first 512 bytes say whether the stream is a tar (`ustar` at 257); a gzip's
        // header, read with them, may name the file it holds.
        let mut head = Vec::new();
        let (stream, inner_name): (Box<dyn Read>, Option<String>) = if file_type == FileType::Gzip {
            let mut decoder = flate2::read::MultiGzDecoder::new(reader);
            if let Err(e) = (&mut decoder).take(512).read_to_end(&mut head) {
                let message = format!("cannot decompress the gzip stream: {e}");
                let kind = ExceptionKind::Corrupt;
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            }
            let named = decoder.header().and_then(|h| h.filename());
            let named = named.map(|n| String::from_utf8_lossy(n).into_owned());
            (Box::new(decoder), named)
        } else if matches!(file_type, FileType::Bzip2 | FileType::Xz) {
            let mut decoder: Box<dyn Read> = if file_type == FileType::Bzip2 {
                Box::new(bzip2::read::MultiBzDecoder::new(reader))
            } else {
                // The dictionary is bounded: a quarter of a worker's memory.
                let kb = u32::try_from(limits.worker_memory_bytes / 4 / 1024).unwrap_or(u32::MAX);
                Box::new(lzma_rust2::XzReader::new_mem_limit(reader, true, kb))
            };
            if let Err(e) = (&mut decoder).take(512).read_to_end(&mut head) {
                let message = format!("cannot decompress the {file_type} stream: {e}");
                let kind = ExceptionKind::Corrupt;
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            }
            (decoder, None)
        } else {
            (reader, None)
        };
        let mut stream = io::Cursor::new(head).chain(stream);
        let is_tar = file_type == FileType::Tar
            || stream.get_ref().0.get_ref().get(257..262) == Some(&b"ustar"[..]);
        // The bytes the stream is decoded from: every part of one split by bytes.
        let compressed = if parts.is_empty() { stored.size } else { run.budget.input_size };
        if source.is_some() {
            flags.push("native-at-source".to_owned());
        }
        let item = item_record(position.clone(), name, stored, file_type, dates, flags);
        run.emit(Record::Item(item))?;
        if is_tar {
            self.tar_entries(run, &position, &mut stream, compressed)?;
        } else {
            // A compressed file: named as a gzip header names it, else as the stream without
            // `.gz`, `.bz2` or `.xz` (and without `.001` when it is read from its parts).
            let mut base = name.rsplit(['/', '\\']).next().unwrap_or(name);
            if !parts.is_empty() {
                base = crate::split::part_number(base).map_or(base, |(stem, _, _)| stem);
            }
            let member = inner_name.filter(|n| !n.is_empty()).unwrap_or_else(|| {
                let lower = base.to_ascii_lowercase();
                let suffixes = [".gz", ".gzip", ".z", ".bz2", ".bzip2", ".xz"];
                match suffixes.iter().find(|s| lower.ends_with(*s)) {
                    Some(suffix) if base.len() > suffix.len() => {
                        base[..base.len() - suffix.len()].to_owned()
                    }
                    _ => format!("{base} [decompressed]"),
                }
            });
            let at = position.member(&member, 0);
            let (dates, flags) = (Dates::default(), Vec::new());
            self.streamed_member(run, at, &member, &mut stream, compressed, None, dates, flags)?;
        }
        // Changed while it was read: what came out may not be what was hashed.
        match (source, hashed) {
            (Some(path), Some(hashed)) if changed_since(path, hashed) => {
                let label = "[changed at its source]";
                let message = "the archive changed at its source while it was read: the entries \
                               above may not be those of the file hashed; ingest it again";
                let kind = ExceptionKind::Unreadable;
                let mut seen = HashSet::new();
                self.member_exception(
                    run,
                    &position,
                    usize::MAX >> 1,
                    label,
                    kind,
                    message,
                    &mut seen,
                )
            }
            _ => changed_part_notice(self, run, &position, &part_stamps),
        }
    }

    /// Records a 7z archive and its entries, decoded in order (a solid block can only be read
    /// from its start) and streamed one at a time through the same limits as a ZIP's entries,
    /// read in place when `source` is given. Encrypted content is tried with the case's
    /// passwords; without one that opens it, each entry is an `encrypted` exception (or the
    /// archive, when its listing is encrypted too).
    #[allow(clippy::too_many_arguments)]
    fn seven_zip(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        source: Option<(&Path, Stamp)>,
    ) -> Result<()> {
        use sevenz_rust2::{ArchiveReader, EntryDecision, Password};
        if let Some((kind, message)) = self.archive_refusal(run, &position, name, &stored, source) {
            let source = source.map(|(path, _)| path);
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        let (source, limits) = (source.map(|(path, _)| path), self.options.limits.clone());
        let path = match source {
            Some(path) => path.to_path_buf(),
            None => self.archive_file(&stored)?,
        };
        // Decoder dictionaries and header buffers are bounded: a quarter of a worker's memory.
        let memory_kb =
            usize::try_from(limits.worker_memory_bytes / 4 / 1024).unwrap_or(usize::MAX);
        // A 7z split by bytes is read from its parts end to end, each as it was when first
        // opened (checked after its entries are read).
        let parts = std::mem::take(&mut self.parts);
        let part_stamps = stamps_of(&parts)?;
        let open = |password: Password| -> std::result::Result<_, String> {
            let file = if parts.is_empty() {
                ArchiveFile::Plain(fs::File::open(&path).map_err(|e| error_chain(&e))?)
            } else {
                ArchiveFile::Joined(
                    crate::split::concatenated(&parts).map_err(|e| error_chain(&e))?,
                )
            };
            let mut reader =
                ArchiveReader::new_with_memory_limit(BufReader::new(file), password, memory_kb)
                    .map_err(|e| e.to_string())?;
            // One worker, one core.
            reader.set_thread_count(1);
            Ok(reader)
        };
        let is_password = |e: &str| e.contains("assword");
        let mut candidates = std::iter::once(Password::empty()).chain(
            self.options.passwords.iter().map(|p| Password::new(&String::from_utf8_lossy(p))),
        );
        let tried = self.options.passwords.len();
        // The listing first: an archive whose header is encrypted needs the password to list.
        let (mut reader, mut password) = loop {
            let Some(password) = candidates.next() else {
                let message = format!(
                    "encrypted 7z archive, its listing too; none of the {tried} known passwords opens it"
                );
                let kind = ExceptionKind::Encrypted;
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            };
            match open(password.clone()) {
                Ok(reader) => break (reader, password),
                Err(e) if is_password(&e) => continue,
                Err(e) => {
                    let (kind, message) = first_part_alone(name, source).unwrap_or_else(|| {
                        (ExceptionKind::Corrupt, format!("cannot open the 7z archive: {e}"))
                    });
                    return self
                        .kept_from_source(run, position, name, kind, message, stored, source);
                }
            }
        };
        // Encrypted content under a plain listing: a password counts once it decodes the first
        // entry with data.
        let encrypted = reader.archive().blocks.iter().any(|block| {
            block.coders.iter().any(|coder| coder.encoder_method_id() == [0x06, 0xF1, 0x07, 0x01])
        });
        let mut opened = !encrypted;
        if encrypted {
            let mut all = std::iter::once(password.clone()).chain(candidates);
            for candidate in &mut all {
                let Ok(mut trial) = open(candidate.clone()) else { continue };
                // The first entry with data is decoded and checked against its CRC (`Continue`
                // has the reader drain and verify it): under a wrong key the data is garbage,
                // which can decode for a while before anything fails. A first entry over 64 MiB
                // is only started.
                let mut checked = false;
                let decoded = trial.for_each_entries_with_decision(|entry, data| {
                    if checked {
                        return Ok(EntryDecision::Stop);
                    }
                    if !entry.has_stream {
                        return Ok(EntryDecision::Continue);
                    }
                    checked = true;
                    if entry.size <= 64 << 20 {
                        return Ok(EntryDecision::Continue);
                    }
                    io::copy(&mut data.take(1 << 16), &mut io::sink())?;
                    Ok(EntryDecision::Stop)
                });
                if decoded.is_ok() {
                    (reader, password, opened) = (trial, candidate, true);
                    break;
                }
            }
        }
        if source.is_some() {
            flags.push("native-at-source".to_owned());
        }
        if encrypted && opened && !password.is_empty() {
            flags.push("decrypted".to_owned());
        }
        let modified_of = |entry: &sevenz_rust2::ArchiveEntry| {
            if !entry.has_last_modified_date {
                return None;
            }
            let ticks = u64::from(entry.last_modified_date);
            quarry_types::iso_utc_checked(quarry_types::unix_from_filetime(ticks))
        };
        // Name, whether it is a folder (or a deletion marker), size: in the archive's order.
        let files: Vec<(String, bool, u64)> = reader
            .archive()
            .files
            .iter()
            .map(|f| (f.name.clone(), f.is_directory || f.is_anti_item, f.size))
            .collect();
        let declared = files.iter().filter(|f| !f.1).count() as u64;
        // The bytes the entries are decoded from: every part of an archive split by bytes.
        let compressed = if parts.is_empty() { stored.size } else { run.budget.input_size };
        // Parts found changed after the entries add a notice among them: no count declared.
        let declared = part_stamps.is_empty().then_some(declared);
        let item = ItemRecord {
            entries_declared: declared,
            ..item_record(position.clone(), name, stored, FileType::SevenZip, dates, flags)
        };
        run.emit(Record::Item(item))?;
        let mut seen = HashSet::new();
        let mut label_of = |index: usize, name: &str| entry_label(name, index, &mut seen);
        if !opened {
            for (index, (name, skip, size)) in files.iter().enumerate() {
                if *skip {
                    continue;
                }
                let member = position.member(&label_of(index, name), index as u64);
                run.begin(&member, name, Some(*size))?;
                let message =
                    format!("encrypted 7z entry; none of the {tried} known passwords opens it");
                run.exception(member, name, ExceptionKind::Encrypted, message, Some(*size), None)?;
            }
            return Ok(());
        }
        // Entries come block by block, then those without data (empty files, folders): the
        // order of decoding, which is the same every time, numbers them.
        let mut next = 0;
        let mut failure = None;
        let decoded = reader.for_each_entries(|entry, data| {
            let index = next;
            next += 1;
            if entry.is_directory || entry.is_anti_item {
                return Ok(true);
            }
            let member = position.member(&label_of(index, &entry.name), index as u64);
            let dates = Dates { modified: modified_of(entry), ..Dates::default() };
            let stored = self.streamed_member(
                run,
                member,
                &entry.name,
                data,
                compressed,
                Some(entry.size),
                dates,
                Vec::new(),
            );
            match stored {
                Ok(()) => Ok(true),
                Err(e) => {
                    failure = Some(e);
                    Err(sevenz_rust2::Error::Other("stopped".into()))
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        if let Err(e) = decoded {
            // The entry being decoded is accounted for already; those after it are not.
            if next < files.len() {
                let label = format!("[entries from {next} on]");
                let message = format!(
                    "the archive cannot be decoded past its first {next} of {} entries: {e}",
                    files.len()
                );
                let kind = if is_password(&e.to_string()) {
                    ExceptionKind::Encrypted
                } else {
                    ExceptionKind::Corrupt
                };
                let mut seen = HashSet::new();
                return self
                    .member_exception(run, &position, next, &label, kind, &message, &mut seen);
            }
        }
        changed_part_notice(self, run, &position, &part_stamps)
    }

    /// The path of a stored archive, for a reader that opens it by path: one held in memory
    /// or in a native pack becomes a file of its own first.
    fn archive_file(&self, stored: &Stored) -> Result<std::path::PathBuf> {
        if stored.in_buf || stored.packed {
            self.store.put_native_file(stored, &self.buf)?;
        }
        Ok(self.store.native_path(&stored.hashes.blake3))
    }

    /// Records a RAR archive and its entries, read by The Unarchiver's `lsar` and `unar` in
    /// child processes (the `rar` module says why and how). `volumes` are the volumes to read,
    /// the first first: those found beside a top-level archive, or the stored native alone.
    #[allow(clippy::too_many_arguments)]
    fn rar(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        source: Option<(&Path, Stamp)>,
        volumes: Vec<std::path::PathBuf>,
    ) -> Result<()> {
        use crate::rar::{ListError, Workspace};
        if let Some((kind, message)) = self.archive_refusal(run, &position, name, &stored, source) {
            let source = source.map(|(path, _)| path);
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        let source = source.map(|(path, _)| path);
        if !crate::rar::available() {
            let message = "RAR archives are read with The Unarchiver's lsar and unar (Debian package unar), which this machine does not have; the entries are not accounted for".to_owned();
            let kind = ExceptionKind::Unsupported;
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        let volumes = if volumes.is_empty() { vec![self.archive_file(&stored)?] } else { volumes };
        // A set's volumes are checked after its entries are read, as a split ZIP's are.
        let stamps =
            if source.is_some() && volumes.len() > 1 { stamps_of(&volumes)? } else { Vec::new() };
        // Within the supervisor's own wait for the worker (the input's timeout), so that a tool
        // that stalls is an exception for its entries rather than a killed worker.
        let timeout = self.options.limits.timeout_secs;
        let deadline = std::time::Duration::from_secs((timeout * 3 / 4).max(1));
        let workspace = Workspace::new(&self.store.tmp_dir(), &volumes, deadline)
            .map_err(|e| Error::Store(e.into()))?;
        // The listing, with the passwords known if it is encrypted.
        let passwords = self.options.passwords.clone();
        let tried = passwords.len();
        let mut candidates =
            std::iter::once(None).chain(passwords.iter().map(|p| Some(p.as_slice())));
        let (listing, mut password) = loop {
            let Some(password) = candidates.next() else {
                let message = format!(
                    "encrypted RAR archive, its listing too; none of the {tried} known passwords opens it"
                );
                let kind = ExceptionKind::Encrypted;
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            };
            match workspace.list(password) {
                Ok(listing) => break (listing, password),
                Err(ListError::Password) => {}
                Err(ListError::TimedOut(e)) => {
                    let message = format!("listing the RAR archive: {e}");
                    let kind = ExceptionKind::Timeout;
                    return self
                        .kept_from_source(run, position, name, kind, message, stored, source);
                }
                Err(ListError::Failed(e)) => {
                    let message = format!("cannot list the RAR archive: {e}");
                    let kind = ExceptionKind::Corrupt;
                    return self
                        .kept_from_source(run, position, name, kind, message, stored, source);
                }
            }
        };
        // The bytes the entries are decoded from: every volume.
        let compressed = if source.is_some() { run.budget.input_size } else { stored.size };
        // An empty RAR archive is a few dozen bytes. lsar 1.10 lists no entries, and no
        // error, for the first volume of a RAR 5 set read without the others.
        if listing.entries.is_empty() && compressed > 1024 {
            let message = format!(
                "lsar finds no entries in this {}-byte archive: a volume whose other volumes are missing, or damage",
                stored.size
            );
            let kind = ExceptionKind::Corrupt;
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        if listing.volumes > volumes.len() {
            let message = format!(
                "a volume of a RAR set of {} volumes, read without the others (they are not beside it, or it is inside another container)",
                listing.volumes
            );
            let kind = ExceptionKind::Unsupported;
            return self.kept_from_source(run, position, name, kind, message, stored, source);
        }
        // Encrypted entries under a plain listing: a password counts once the first entry
        // with data decodes with it.
        let encrypted = listing.entries.iter().any(|e| e.encrypted && !e.directory);
        let mut opened = !encrypted;
        if encrypted {
            let first =
                listing.entries.iter().find(|e| e.encrypted && !e.directory && e.link.is_none());
            let mut all =
                std::iter::once(password).chain(passwords.iter().map(|p| Some(p.as_slice())));
            if let Some(first) = first {
                opened = all.any(|candidate| {
                    let ok = candidate.is_some() && workspace.decode(first, candidate).is_ok();
                    if ok {
                        password = candidate;
                    }
                    ok
                });
            }
        }
        if source.is_some() {
            flags.push("native-at-source".to_owned());
        }
        if encrypted && opened {
            flags.push("decrypted".to_owned());
        }
        // Folders are not members; links to folders (and junctions) are, as exceptions.
        let files: Vec<&crate::rar::Entry> =
            listing.entries.iter().filter(|e| !e.directory || e.link.is_some()).collect();
        // Volumes found changed after the entries add a notice among them: no count declared.
        let declared = stamps.is_empty().then_some(files.len() as u64);
        let item = ItemRecord {
            entries_declared: declared,
            ..item_record(position.clone(), name, stored, FileType::Rar, dates, flags)
        };
        run.emit(Record::Item(item))?;
        let mut seen = HashSet::new();
        let mut ready = std::collections::VecDeque::new();
        // Once unar has stalled on this archive, the entries left are not tried: each would
        // wait out the deadline again.
        let mut stalled: Option<String> = None;
        for (index, entry) in files.iter().enumerate() {
            let label = entry_label(&entry.name, index, &mut seen);
            let member = position.member(&label, index as u64);
            // A file reference holds the bytes of the entry it names: read from that entry.
            let target = match &entry.link {
                Some(target) if entry.hard_link => {
                    files.iter().find(|f| f.link.is_none() && f.name == *target).copied()
                }
                _ => None,
            };
            if let (Some(link), None) = (&entry.link, target) {
                run.begin(&member, &entry.name, Some(entry.size))?;
                let (kind, message) = if entry.hard_link {
                    let message =
                        format!("a reference to {link}, which the archive does not hold as a file");
                    (ExceptionKind::Corrupt, message)
                } else if link.is_empty() {
                    (
                        ExceptionKind::Unsupported,
                        "a symbolic link; recorded, not followed".to_owned(),
                    )
                } else if crate::rar::escapes(&entry.name, link) {
                    let message = format!(
                        "a symbolic link to {link}, outside the archive; recorded, never followed"
                    );
                    (ExceptionKind::PathTraversal, message)
                } else {
                    let message = format!("a symbolic link to {link}; recorded, not followed");
                    (ExceptionKind::Unsupported, message)
                };
                run.exception(member, &entry.name, kind, message, None, None)?;
                continue;
            }
            let source_entry = target.unwrap_or(entry);
            if entry.encrypted && !opened {
                run.begin(&member, &entry.name, Some(entry.size))?;
                let message =
                    format!("encrypted RAR entry; none of the {tried} known passwords opens it");
                run.exception(
                    member,
                    &entry.name,
                    ExceptionKind::Encrypted,
                    message,
                    Some(entry.size),
                    None,
                )?;
                continue;
            }
            let dates = Dates { modified: entry.modified.clone(), ..Dates::default() };
            // unar writes an entry whole before quarry reads it, so the limits are applied to
            // the size the listing declares first (and the size decoded must equal it).
            let limits = &self.options.limits;
            if run.budget.tripped.is_none()
                && run.budget.expanded.saturating_add(entry.size) > limits.max_expanded_bytes
            {
                run.budget.tripped = Some(format!(
                    "archives in this input expand past {} bytes",
                    limits.max_expanded_bytes
                ));
            }
            if run.budget.tripped.is_some() || entry.size > limits.max_item_bytes {
                // Refused by `streamed_member` before it reads anything.
                let (mut nothing, size) = (io::empty(), Some(entry.size));
                let name = &entry.name;
                self.streamed_member(
                    run,
                    member,
                    name,
                    &mut nothing,
                    compressed,
                    size,
                    dates,
                    vec![],
                )?;
                continue;
            }
            if let Some(reason) = &stalled {
                run.begin(&member, &entry.name, Some(entry.size))?;
                let message = format!("not decoded: {reason}");
                run.exception(member, &entry.name, ExceptionKind::Timeout, message, None, None)?;
                continue;
            }
            // Entries decoded ahead with this one, in batches; any other way, one by one.
            let mut batch_stalled = None;
            if ready.front().is_none_or(|(at, _)| *at != index) {
                ready.clear();
                let limits = &self.options.limits;
                let room = limits.max_expanded_bytes.saturating_sub(run.budget.expanded);
                let mut batch: Vec<(usize, &crate::rar::Entry)> = Vec::new();
                let mut bytes = 0u64;
                for (at, next) in files.iter().enumerate().skip(index) {
                    let others: Vec<&crate::rar::Entry> = batch.iter().map(|(_, e)| *e).collect();
                    let fits = (opened || !next.encrypted)
                        && next.size <= limits.max_item_bytes
                        && bytes + next.size <= BATCH_BYTES.min(room)
                        && batch.len() < BATCH_ENTRIES
                        && crate::rar::batchable(next, &others);
                    if !fits {
                        break;
                    }
                    bytes += next.size;
                    batch.push((at, next));
                }
                if batch.len() > 1 {
                    let entries: Vec<&crate::rar::Entry> = batch.iter().map(|(_, e)| *e).collect();
                    match workspace.decode_batch(&entries, password) {
                        Ok(decoded) => ready.extend(batch.iter().map(|(at, _)| *at).zip(decoded)),
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => batch_stalled = Some(e),
                        // Decoded one by one below, which names the entry at fault.
                        Err(_) => {}
                    }
                }
            }
            let decoded = match ready.front() {
                Some((at, _)) if *at == index => Ok(ready.pop_front().expect("front").1),
                _ => match batch_stalled {
                    Some(e) => Err(e),
                    None => workspace.decode(source_entry, password),
                },
            };
            match decoded {
                Ok(mut decoded) => self.streamed_member(
                    run,
                    member,
                    &entry.name,
                    &mut decoded,
                    compressed,
                    Some(entry.size),
                    dates,
                    Vec::new(),
                )?,
                Err(e) => {
                    run.begin(&member, &entry.name, Some(entry.size))?;
                    let kind = if e.kind() == io::ErrorKind::TimedOut {
                        stalled = Some(format!("unar stalled on an earlier entry ({e})"));
                        ExceptionKind::Timeout
                    } else {
                        ExceptionKind::Corrupt
                    };
                    let message = format!("cannot decode the entry: {e}");
                    run.exception(member, &entry.name, kind, message, Some(entry.size), None)?;
                }
            }
        }
        drop(workspace);
        changed_part_notice(self, run, &position, &stamps)
    }

    /// Each entry of a tar stream: files and links become members, directories are skipped,
    /// anything else (devices, pipes) is an `unsupported` exception. Damage that stops the
    /// stream is one `corrupt` exception for the rest of it.
    fn tar_entries(
        &mut self,
        run: &mut Run<'_>,
        parent: &Position,
        stream: &mut dyn Read,
        compressed: u64,
    ) -> Result<()> {
        let mut archive = tar::Archive::new(stream);
        let mut seen = HashSet::new();
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(e) => {
                let message = format!("cannot read the archive: {e}");
                let (at, kind) = (0, ExceptionKind::Corrupt);
                return self.member_exception(
                    run,
                    parent,
                    at,
                    "[archive]",
                    kind,
                    &message,
                    &mut seen,
                );
            }
        };
        for (index, entry) in entries.enumerate() {
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let message =
                        format!("the archive cannot be read past its first {index} entries: {e}");
                    let label = format!("[entries from {index} on]");
                    let kind = ExceptionKind::Corrupt;
                    return self
                        .member_exception(run, parent, index, &label, kind, &message, &mut seen);
                }
            };
            let header = entry.header();
            let kind = header.entry_type();
            if kind.is_dir() || kind.is_pax_global_extensions() {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let declared = header.size().unwrap_or(0);
            let modified = header
                .mtime()
                .ok()
                .and_then(|secs| i64::try_from(secs).ok())
                .and_then(quarry_types::iso_utc_checked);
            let dates = Dates { modified, ..Dates::default() };
            let position = parent.member(&entry_label(&name, index, &mut seen), index as u64);
            if kind.is_symlink() || kind.is_hard_link() {
                // A link holds no data: its target is what it records.
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let flag = if kind.is_symlink() { "symlink" } else { "hardlink" };
                let mut target = io::Cursor::new(target);
                let flags = vec![flag.to_owned()];
                self.streamed_member(
                    run,
                    position,
                    &name,
                    &mut target,
                    compressed,
                    None,
                    dates,
                    flags,
                )?;
            } else if kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() {
                self.streamed_member(
                    run,
                    position,
                    &name,
                    &mut entry,
                    compressed,
                    Some(declared),
                    dates,
                    Vec::new(),
                )?;
            } else {
                run.begin(&position, &name, None)?;
                let message =
                    format!("a tar entry of type {kind:?} (a device or pipe) holds no file data");
                run.exception(position, &name, ExceptionKind::Unsupported, message, None, None)?;
            }
        }
        Ok(())
    }

    /// Stores one member read from a stream (a tar entry, a gzip's file) under the limits of
    /// the input, then records it like any file. `compressed` is the size of the container
    /// read, for the expansion ratio.
    #[allow(clippy::too_many_arguments)]
    fn streamed_member(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        reader: &mut dyn Read,
        compressed: u64,
        declared: Option<u64>,
        dates: Dates,
        flags: Vec<String>,
    ) -> Result<()> {
        run.begin(&position, name, declared)?;
        if run.resume.failed.contains(&position.inner) {
            return Ok(());
        }
        if let Some(fault) = &self.options.fault {
            fault.strike(name);
        }
        let limits = &self.options.limits;
        run.budget.entries += 1;
        if run.budget.tripped.is_none() && run.budget.entries > limits.max_entries {
            run.budget.tripped =
                Some(format!("more than {} archive entries in one input", limits.max_entries));
        }
        if let Some(reason) = run.budget.tripped.clone() {
            let message = format!("not expanded: {reason}");
            let kind = ExceptionKind::DecompressionBomb;
            return run.exception(position, name, kind, message, declared, None);
        }
        if let Some(declared) = declared.filter(|d| *d > limits.max_item_bytes) {
            let message = format!(
                "declares {declared} bytes, over the {}-byte item limit",
                limits.max_item_bytes
            );
            return run.exception(
                position,
                name,
                ExceptionKind::TooLarge,
                message,
                Some(declared),
                None,
            );
        }
        let mut metered =
            Metered { inner: reader, budget: &mut run.budget, limits, compressed, entry_bytes: 0 };
        let stored = self.store.ingest_native(
            &mut metered,
            &mut self.buf,
            INLINE_BYTES,
            limits.max_item_bytes,
            self.options.legacy_hashes,
        );
        let (kind, message) = match stored {
            Ok(stored) => {
                if let Some(reason) = traversal(name) {
                    let message = format!("entry name {reason}; recorded as data, never followed");
                    return run.kept(position, name, ExceptionKind::PathTraversal, message, stored);
                }
                return self.native(run, position, name, stored, dates, flags, None);
            }
            Err(quarry_store::Error::TooLarge { limit }) => {
                (ExceptionKind::TooLarge, format!("expands past the {limit}-byte item limit"))
            }
            Err(quarry_store::Error::Input { source, .. }) => {
                match source.get_ref().and_then(|e| e.downcast_ref::<BombError>()) {
                    Some(reason) => (ExceptionKind::DecompressionBomb, reason.0.clone()),
                    None => (
                        ExceptionKind::Corrupt,
                        format!("cannot read the member: {}", error_chain(&source)),
                    ),
                }
            }
            Err(e) => return Err(e.into()),
        };
        run.exception(position, name, kind, message, declared, None)
    }

    /// Records an S/MIME object: signed content inside it becomes a child, read as a message;
    /// encrypted content is an `encrypted` exception, native kept.
    fn smime(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
    ) -> Result<()> {
        let parsed = self.with_native(&stored, crate::smime::parse)?;
        let content = match parsed {
            Ok(Cms::Encrypted) => {
                let message = "S/MIME encrypted content: it can be read only with a recipient's \
                               private key"
                    .to_owned();
                return run.kept(position, name, ExceptionKind::Encrypted, message, stored);
            }
            Err(e) => {
                return run.kept(position, name, ExceptionKind::Corrupt, e.to_string(), stored);
            }
            // Signed content; or only a signature or certificates (`.p7s`, `.p7c`).
            Ok(Cms::Signed(Some(content))) => {
                flags.push("smime-signed".to_owned());
                Some(content)
            }
            Ok(Cms::Signed(None)) => {
                flags.push("smime-signature".to_owned());
                None
            }
            Ok(Cms::Other) => None,
        };
        if content.is_none() {
            flags.push("no-text".to_owned());
        }
        let item = ItemRecord {
            entries_declared: Some(u64::from(content.is_some())),
            ..item_record(position.clone(), name, stored, FileType::Smime, dates, flags)
        };
        run.emit(Record::Item(item))?;
        if let Some(entity) = content {
            let label = "signed content.eml";
            self.child(run, &position, 0, label, label, &entity, Some(FileType::Email))?;
        }
        Ok(())
    }

    /// Records an Outlook data file (.pst), then each item of each folder as an Outlook
    /// message of its own (`Folder/Subfolder/000001.msg`), opened like any `.msg`. `source` is
    /// the input's own path and stamp when it is read in place (a top-level input, hashed but
    /// not stored). A file that cannot be opened is kept as a `corrupt` exception (an offline
    /// cache, `unsupported`); an item or folder that cannot be read is one too, and the rest go
    /// on.
    #[allow(clippy::too_many_arguments)]
    fn pst(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
        source: Option<(&Path, Stamp)>,
    ) -> Result<()> {
        // The reader opens a path: the input's own when it is read in place (as archives are:
        // see `zip`), else the stored native, which becomes a file of its own if it was packed.
        let (source, hashed) = (source.map(|(path, _)| path), source.map(|(_, stamp)| stamp));
        let path = match source {
            Some(source) => source.to_path_buf(),
            None => {
                if stored.packed {
                    self.store.put_native_file(&stored, &self.buf)?;
                }
                self.store.native_path(&stored.hashes.blake3)
            }
        };
        if let (Some(fault), Some(source)) = (&self.options.fault, source) {
            fault.change(name, source);
        }
        // The file read must be the file hashed: checked before the reader opens it and after
        // (it opens the path itself).
        let changed = || hashed.is_some_and(|h| changed_since(&path, h));
        let opened = (!changed()).then(|| crate::pst::Pst::open(&path));
        let opened = match opened {
            Some(opened) if !changed() => opened,
            _ => {
                let was = &stored.hashes.blake3;
                let message = format!(
                    "the Outlook data file changed at its source after it was hashed (blake3 {was}); its items were not read: ingest it again"
                );
                let kind = ExceptionKind::Unreadable;
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            }
        };
        let pst = match opened {
            Ok(pst) => pst,
            Err(e) => {
                // An offline cache (.ost: client magic "SO", not "SM") is a format of its own
                // that the reader refuses, not a damaged file.
                let mut head = [0u8; 10];
                let ost = fs::File::open(&path)
                    .and_then(|f| read_at_full(&f, &mut head))
                    .is_ok_and(|n| n == head.len() && head[8..10] == *b"SO");
                let (kind, message) = if ost {
                    let message = "an Outlook offline cache (.ost); only .pst files are opened yet";
                    (ExceptionKind::Unsupported, message.to_owned())
                } else {
                    let message = format!("cannot read the Outlook data file: {}", error_chain(&e));
                    (ExceptionKind::Corrupt, message)
                };
                return self.kept_from_source(run, position, name, kind, message, stored, source);
            }
        };
        if source.is_some() {
            flags.push("native-at-source".to_owned());
        }
        let item = ItemRecord {
            entries_declared: Some((pst.items.len() + pst.broken.len()) as u64),
            ..item_record(position.clone(), name, stored, FileType::Pst, dates, flags)
        };
        run.emit(Record::Item(item))?;
        let mut seen = HashSet::new();
        for index in 0..pst.items.len() {
            let folder = &pst.items[index].folder;
            let file_name = format!("{:06}.msg", index + 1);
            let label = unique_label(&format!("{folder}/{file_name}"), index, &mut seen);
            let member = position.member(&label, index as u64);
            // Reading the item is parsing too: a crash or hang in it is blamed on the item.
            run.begin(&member, &file_name, None)?;
            if run.resume.failed.contains(&member.inner) {
                continue;
            }
            match pst.copy(index) {
                Ok(copied) => {
                    self.folder = Some(folder.clone()).filter(|f| !f.is_empty());
                    self.unread = copied.unread;
                    let msg = &copied.msg;
                    let opened =
                        self.child(run, &position, index as u64, &label, &file_name, msg, None);
                    self.folder = None;
                    // Not taken only when the copy itself became an exception (refused, or
                    // not read as a message): its attachments are inside that exception.
                    self.unread.clear();
                    opened?;
                }
                Err(e) => {
                    let message = format!("cannot read the item: {}", error_chain(&e));
                    run.exception(member, &file_name, ExceptionKind::Corrupt, message, None, None)?;
                }
            }
        }
        // A folder that cannot be opened is one exception: its items are not known one by one.
        for (offset, (folder, reason)) in pst.broken.iter().enumerate() {
            let index = pst.items.len() + offset;
            let label = unique_label(folder, index, &mut seen);
            let member = position.member(&label, index as u64);
            run.begin(&member, folder, None)?;
            let message = format!("{reason}; the folder's items are not extracted");
            run.exception(member, folder, ExceptionKind::Corrupt, message, None, None)?;
        }
        Ok(())
    }

    /// Records a PDF: text per page, properties, embedded files as children.
    fn pdf(
        &mut self,
        run: &mut Run<'_>,
        position: Position,
        name: &str,
        stored: Stored,
        dates: Dates,
        mut flags: Vec<String>,
    ) -> Result<()> {
        let passwords = self.options.passwords.clone();
        let result = self.with_native(&stored, |bytes| crate::pdf::extract(bytes, &passwords))?;
        let pdf = match result {
            Ok(pdf) => pdf,
            Err(e) => {
                let kind = match e {
                    PdfError::Encrypted { .. } => ExceptionKind::Encrypted,
                    PdfError::Corrupt(_) => ExceptionKind::Corrupt,
                    PdfError::Panic(_) => ExceptionKind::ParserCrash,
                };
                return run.kept(position, name, kind, shorten(&e.to_string()), stored);
            }
        };
        if pdf.decrypted {
            flags.push("decrypted".to_owned());
        }
        if pdf.encrypted && !pdf.decrypted {
            flags.push("encrypted".to_owned());
        }
        if pdf.fallback {
            flags.push("text-fallback".to_owned());
        }
        if pdf.failed_pages > 0 {
            flags.push("text-partial".to_owned());
        }
        if pdf.embedded_unreadable {
            flags.push("embedded-files-unreadable".to_owned());
        }
        // Scanned pages: kept, and routed to OCR later by this flag; not an exception.
        let text_chars = if pdf.text.chars().any(char::is_alphanumeric) {
            self.store.put_text(&stored, &pdf.text)?;
            Some(pdf.text.chars().count() as u64)
        } else {
            flags.push("no-text".to_owned());
            None
        };
        let item = ItemRecord {
            text_chars,
            metadata: Some(Box::new(Metadata::Document(pdf.meta))),
            ..item_record(position.clone(), name, stored, FileType::Pdf, dates, flags)
        };
        run.emit(Record::Item(item))?;
        let mut seen = HashSet::new();
        for (index, (file_name, bytes)) in pdf.embedded.iter().enumerate() {
            let label = unique_label(file_name, index, &mut seen);
            self.child(run, &position, index as u64, &label, file_name, bytes, None)?;
        }
        let first = pdf.embedded.len();
        for (offset, file_name) in pdf.embedded_encrypted.iter().enumerate() {
            let reason = format!(
                "embedded file encrypted (the PDF encrypts only its attachments); none of the {} \
                 known passwords opens it",
                passwords.len()
            );
            let kind = ExceptionKind::Encrypted;
            self.member_exception(
                run,
                &position,
                first + offset,
                file_name,
                kind,
                &reason,
                &mut seen,
            )?;
        }
        Ok(())
    }
}

/// Why an input read in place could not be stored after all: the exception kind that says so,
/// and the reason.
type NotKept = (ExceptionKind, String);

/// A reader that hashes what is read through it.
struct Hashing<R> {
    inner: R,
    hasher: Rc<RefCell<blake3::Hasher>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

/// Why a mailbox read in place could not be read on: the collection's media failed, not the
/// case.
fn unread(error: &io::Error) -> String {
    format!("the mailbox could not be read from here on: {}", error_chain(error))
}

/// An `unreadable` exception at message `number` of a mailbox read in place, standing for
/// what could not be read or checked from there on.
fn mailbox_exception(
    run: &mut Run<'_>,
    mailbox: &Position,
    number: u64,
    message: String,
) -> Result<()> {
    let label = format!("message {number}");
    let position = mailbox.member(&label, number);
    run.begin(&position, &label, None)?;
    run.exception(position, &label, ExceptionKind::Unreadable, message, None, None)
}

/// The folder of a message file in a Maildir (a directory with `cur/` and `new/`), as mail
/// clients name it: `INBOX` for the Maildir itself; `Sent` for its `.Sent` folder and
/// `Archive/2020` for `.Archive.2020` (Maildir++); a folder without the dot that sits in a
/// Maildir (Dovecot's `fs` layout) by its own name. `None` outside a Maildir.
fn maildir_folder(path: &Path) -> Option<String> {
    let is_maildir = |dir: &Path| dir.join("cur").is_dir() && dir.join("new").is_dir();
    let within = path.parent()?;
    if !matches!(within.file_name()?.to_str()?, "cur" | "new") {
        return None;
    }
    let dir = within.parent()?;
    if !is_maildir(dir) {
        return None;
    }
    let name = dir.file_name()?.to_string_lossy();
    if let Some(sub) = name.strip_prefix('.').filter(|s| !s.is_empty()) {
        return Some(sub.replace('.', "/"));
    }
    // Dovecot's fs layout nests folders as directories, each a Maildir inside its parent.
    let mut names = Vec::new();
    let mut at = dir;
    while let Some(parent) = at.parent().filter(|p| is_maildir(p)) {
        names.push(at.file_name()?.to_string_lossy().into_owned());
        at = parent;
    }
    if names.is_empty() {
        return Some("INBOX".to_owned());
    }
    names.reverse();
    Some(names.join("/"))
}

/// The flags of a message file in a Maildir (`cur/1234.host:2,RS` → `maildir-replied
/// maildir-seen`): whether the custodian read, answered or deleted it is evidence too.
fn maildir_flags(path: &Path) -> Vec<String> {
    let in_maildir =
        path.parent().and_then(Path::file_name).is_some_and(|d| d == "cur" || d == "new");
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    // The info part follows ":2," (or ";2," where ':' is not allowed in names).
    let info = name.rsplit_once(":2,").or_else(|| name.rsplit_once(";2,")).map(|(_, i)| i);
    let (true, Some(info)) = (in_maildir, info) else { return Vec::new() };
    info.chars()
        .filter_map(|c| match c {
            'D' => Some("maildir-draft"),
            'F' => Some("maildir-flagged"),
            'P' => Some("maildir-passed"),
            'R' => Some("maildir-replied"),
            'S' => Some("maildir-seen"),
            'T' => Some("maildir-trashed"),
            _ => None,
        })
        .map(str::to_owned)
        .collect()
}

/// A parser's message cut to a readable length (some quote the bytes they choked on).
fn shorten(message: &str) -> String {
    const MAX: usize = 300;
    match message.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_owned(),
    }
}

/// A locator label for a member that names one member only: names repeat, or are empty.
/// An archive entry's label in its locator: its name, or `name [entry N]` when the name is
/// empty or taken (archives may repeat a name or leave it empty).
fn entry_label(name: &str, index: usize, seen: &mut HashSet<String>) -> String {
    let mut label = name.to_owned();
    if label.is_empty() || !seen.insert(label.clone()) {
        label = format!("{name} [entry {index}]");
        while !seen.insert(label.clone()) {
            label.push('+');
        }
    }
    label
}

/// Whether `first`, the first of several numbered parts (`X.001`), is an archive cut short: a
/// ZIP without its end record, a 7z whose header points past its end, or a tar or compressed
/// stream (which cannot be told complete without reading it through; numbered parts of one
/// are a split).
fn cut_archive(first: &Path) -> bool {
    let Ok(file) = fs::File::open(first) else { return false };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return false };
    let mut head = vec![0; crate::detect::HEAD_BYTES];
    let Ok(n) = read_at_full(&file, &mut head) else { return false };
    head.truncate(n);
    match crate::detect::detect_head(&head, len).file_type {
        FileType::Zip => crate::split::tail_of(file.file())
            .is_ok_and(|tail| memchr::memmem::find(&tail, b"PK\x05\x06").is_none()),
        // The signature header: the next header's offset and size, after its 32 bytes.
        FileType::SevenZip => {
            let at = |i: usize| {
                head.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
            };
            match (at(12), at(20)) {
                (Some(offset), Some(size)) => offset.saturating_add(size).saturating_add(32) > len,
                _ => false,
            }
        }
        FileType::Tar | FileType::Gzip | FileType::Bzip2 | FileType::Xz => true,
        _ => false,
    }
}

/// The stamp of each of `paths` (the parts of a file split by bytes), to check after reading.
fn stamps_of(paths: &[std::path::PathBuf]) -> Result<Vec<(std::path::PathBuf, Stamp)>> {
    let stamp = |p: &std::path::PathBuf| fs::metadata(p).map(|m| (p.clone(), Stamp::of(&m)));
    paths.iter().map(stamp).collect::<io::Result<_>>().map_err(|e| Error::Store(e.into()))
}

/// How many volumes the ZIP at `path` says it is the last of, when it is a split archive's last
/// volume.
fn claimed_volumes(path: &Path) -> Option<u32> {
    let file = fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    crate::split::volumes_claimed(&crate::split::tail_of(file.file()).ok()?, len)
}

/// The exception message of a split ZIP's last volume found without its volumes.
fn last_volume_alone(volumes: u32) -> String {
    format!(
        "the last of {volumes} volumes of a split ZIP archive without its volumes; volumes are joined where they lie beside their last volume, as files of the collection or entries of one ZIP, so its entries were not read"
    )
}

/// The stamps of a split archive's volumes as they were opened, to check after reading.
fn joined_stamps(joined: &crate::split::Joined) -> Result<Vec<(std::path::PathBuf, Stamp)>> {
    let stamp = |(path, file): (&Path, &std::fs::File)| {
        file.metadata().map(|m| (path.to_path_buf(), Stamp::of(&m)))
    };
    joined.volumes().map(stamp).collect::<io::Result<_>>().map_err(|e| Error::Store(e.into()))
}

/// For an archive that does not open and is named as the first part of a file split by bytes
/// (`X.001`): why, for the exception, instead of calling it damaged. Read in place (`source`),
/// its next part is not beside it; inside a container, parts are not joined.
fn first_part_alone(name: &str, source: Option<&Path>) -> Option<(ExceptionKind, String)> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, 1, width) = crate::split::part_number(base)? else { return None };
    Some(match source {
        Some(_) => (
            ExceptionKind::Corrupt,
            format!(
                "the first part of an archive split by bytes, and its part {stem}.{:0width$} is not beside it; its entries were not read",
                2
            ),
        ),
        None => (
            ExceptionKind::Unsupported,
            "the first part of an archive split by bytes, inside a container; parts are joined only where they lie as files of the collection, so its entries were not read".to_owned(),
        ),
    })
}

/// After a split archive's entries are read: an `unreadable` notice among them when one of its
/// volumes or parts changed at its source meanwhile (what came out may not be what their items
/// hashed).
fn changed_part_notice(
    extractor: &mut Extractor,
    run: &mut Run<'_>,
    position: &Position,
    stamps: &[(std::path::PathBuf, Stamp)],
) -> Result<()> {
    let Some((path, _)) = stamps.iter().find(|(p, s)| changed_since(p, *s)) else {
        return Ok(());
    };
    let volume = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let message = format!(
        "the volume {volume} changed at its source while the archive was read: the entries above may not be those of the volumes hashed; ingest them again"
    );
    let (label, kind) = ("[changed at its source]", ExceptionKind::Unreadable);
    let mut seen = HashSet::new();
    extractor.member_exception(run, position, usize::MAX >> 1, label, kind, &message, &mut seen)
}

/// What a ZIP is read from: its file, or a split archive's volumes joined.
enum ArchiveFile {
    Plain(fs::File),
    Joined(crate::split::Joined),
}

impl Read for ArchiveFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ArchiveFile::Plain(file) => file.read(buf),
            ArchiveFile::Joined(joined) => joined.read(buf),
        }
    }
}

impl io::Seek for ArchiveFile {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match self {
            ArchiveFile::Plain(file) => file.seek(to),
            ArchiveFile::Joined(joined) => joined.seek(to),
        }
    }
}

/// Whether the file at `path` is no longer the one hashed (its stamp differs, or it is gone).
fn changed_since(path: &Path, hashed: Stamp) -> bool {
    fs::metadata(path).map_or(true, |m| Stamp::of(&m) != hashed)
}

fn unique_label(name: &str, index: usize, seen: &mut HashSet<String>) -> String {
    let mut label = name.replace(LOCATOR_SEPARATOR, "/");
    if label.is_empty() || !seen.insert(label.clone()) {
        label = format!("{name} [part {}]", index + 1);
        while !seen.insert(label.clone()) {
            label.push('+');
        }
    }
    label
}

/// Whether the ZIP reader opens the file (for files whose ZIP end record is all that says ZIP).
fn opens_as_zip(path: &Path) -> bool {
    fs::File::open(path).is_ok_and(|f| ZipArchive::new(BufReader::new(f)).is_ok())
}

/// Reads from the start of `file` without moving its cursor, until `buf` is full or the file
/// ends; returns the bytes read.
fn read_at_full(file: &fs::File, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.file().read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// An item with no text and no entries (callers set those when they have them).
fn item_record(
    position: Position,
    name: &str,
    stored: Stored,
    file_type: FileType,
    dates: Dates,
    flags: Vec<String>,
) -> ItemRecord {
    ItemRecord {
        position,
        name: name.to_owned(),
        size: stored.size,
        hashes: stored.hashes,
        file_type,
        dates,
        text_chars: None,
        flags,
        entries_declared: None,
        dedup_key: None,
        metadata: None,
    }
}

/// ZIP-based document formats are documents, not archives to open.
fn zip_document_type<R: Read + io::Seek>(archive: &ZipArchive<R>) -> Option<FileType> {
    let names: Vec<String> =
        archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    if has("[Content_Types].xml")
        && names
            .iter()
            .any(|n| n.starts_with("word/") || n.starts_with("xl/") || n.starts_with("ppt/"))
    {
        return Some(FileType::Ooxml);
    }
    if has("mimetype") && (has("META-INF/manifest.xml") || has("META-INF/container.xml")) {
        return Some(FileType::Odf);
    }
    None
}

fn zip_error_kind(e: &ZipError) -> ExceptionKind {
    match e {
        ZipError::UnsupportedArchive(msg) if msg.contains("assword") || msg.contains("ncrypt") => {
            ExceptionKind::Encrypted
        }
        ZipError::InvalidPassword => ExceptionKind::Encrypted,
        ZipError::UnsupportedArchive(_) | ZipError::CompressionMethodNotSupported(_) => {
            ExceptionKind::Unsupported
        }
        _ => ExceptionKind::Corrupt,
    }
}

/// Why an entry name would escape its folder if it were used as a path, if it would.
fn traversal(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("is an absolute path");
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("starts with a drive letter");
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Some("climbs out of its folder with `..`");
    }
    None
}

#[derive(Debug)]
struct BombError(String);

impl std::fmt::Display for BombError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BombError {}

/// What an entry's central-directory record says of its local header and data.
struct Recorded {
    /// Where the reader looks for the local header: the recorded offset plus the reader's
    /// shift for bytes before the archive.
    header_start: u64,
    name: Vec<u8>,
    method: zip::CompressionMethod,
    crc32: u32,
}

/// An entry's modification time, exact and in UTC, from its NTFS extra field (0x000a: 7-Zip and
/// WinZip write it, in 100 ns ticks) or its extended timestamp (0x5455, "UT": Info-ZIP's zip, in
/// seconds), as 7-Zip and Info-ZIP's unzip read them. Without either, an entry has only its DOS
/// date and time: the local time of the machine that made the archive, with no zone, kept as
/// written (`2013-01-08T17:00:56`). With one, that local time is not what the entry is dated
/// (`2013-01-09T01:00:56Z`, the same moment seen in UTC).
fn zip_exact_modified<'a>(fields: impl Iterator<Item = &'a zip::ExtraField>) -> Option<String> {
    let mut unix = None;
    for field in fields {
        match field {
            zip::ExtraField::Ntfs(ntfs) if ntfs.mtime() > 0 => {
                let secs = quarry_types::unix_from_filetime(ntfs.mtime());
                return quarry_types::iso_utc_checked(secs);
            }
            zip::ExtraField::ExtendedTimestamp(stamp) => unix = unix.or(stamp.mod_time()),
            _ => {}
        }
    }
    unix.map(|secs| quarry_types::iso_utc_from_unix(i64::from(secs)))
}

/// A stored or deflated entry read from the local header at the offset its directory record
/// gives as written (`header_start - shift`), when that header carries the entry's name: its
/// bytes, checked against the record's size and CRC-32 as they are read. `None` when there is
/// no such header, or the method is another.
///
/// Apache Commons Compress's `bla-stored-dd*.zip` are such archives: each entry is followed by
/// a 16-byte data descriptor the writer left out of every later offset, the directory's
/// included. The reader finds the directory 16 bytes past where the end record puts it and
/// shifts every entry by 16: right for the second entry, wrong for the first. Info-ZIP's
/// `unzip` reads both the same way ("attempting to re-compensate").
fn entry_as_recorded(
    file: &std::fs::File,
    recorded: &Recorded,
    shift: u64,
    compressed: u64,
    size: u64,
) -> Option<impl Read> {
    use std::os::unix::fs::FileExt;
    let at = recorded.header_start.checked_sub(shift)?;
    let mut header = [0u8; 30];
    file.read_exact_at(&mut header, at).ok()?;
    if header[..4] != *b"PK\x03\x04" {
        return None;
    }
    let name_len = u64::from(u16::from_le_bytes([header[26], header[27]]));
    let extra_len = u64::from(u16::from_le_bytes([header[28], header[29]]));
    let mut name = vec![0; usize::try_from(name_len).ok()?];
    file.read_exact_at(&mut name, at + 30).ok()?;
    if name != recorded.name {
        return None;
    }
    let start = at + 30 + name_len + extra_len;
    let data =
        ReadAt { file: file.try_clone().ok()?, at: start, end: start.checked_add(compressed)? };
    let inner: Box<dyn Read> = match recorded.method {
        zip::CompressionMethod::Stored if compressed == size => Box::new(data),
        zip::CompressionMethod::Deflated => Box::new(flate2::read::DeflateDecoder::new(data)),
        _ => return None,
    };
    Some(Checked { inner, hasher: crc32fast::Hasher::new(), crc32: recorded.crc32, size, read: 0 })
}

/// `end - at` bytes of a file from `at`, read by position (the file's offset is the ZIP
/// reader's).
struct ReadAt {
    file: std::fs::File,
    at: u64,
    end: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let most = usize::try_from(self.end - self.at).unwrap_or(usize::MAX).min(buf.len());
        let n = self.file.read_at(&mut buf[..most], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// An entry's bytes, checked at their end against the size and CRC-32 its record gives.
struct Checked<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    crc32: u32,
    size: u64,
    read: u64,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.hasher.update(&buf[..n]);
        let bad = |what: String| Err(io::Error::new(io::ErrorKind::InvalidData, what));
        if self.read > self.size {
            return bad(format!("the entry runs past the {} bytes its record gives", self.size));
        }
        if n == 0 && !buf.is_empty() {
            if self.read != self.size {
                return bad(format!("{} bytes where the record gives {}", self.read, self.size));
            }
            let crc32 = self.hasher.clone().finalize();
            if crc32 != self.crc32 {
                return bad(format!(
                    "CRC-32 {crc32:08x} where the record gives {:08x}",
                    self.crc32
                ));
            }
        }
        Ok(n)
    }
}

/// Counts expanded bytes of one entry against the input's budget and refuses bombs while
/// streaming: declared sizes lie, so only bytes actually produced are trusted.
struct Metered<'a, R> {
    inner: R,
    budget: &'a mut Budget,
    limits: &'a Limits,
    compressed: u64,
    entry_bytes: u64,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.entry_bytes += n as u64;
        self.budget.expanded += n as u64;
        let limits = self.limits;
        let floor = limits.ratio_floor_bytes;
        let reason = if self.entry_bytes > floor
            && self.entry_bytes > limits.max_ratio.saturating_mul(self.compressed.max(1))
        {
            Some(format!(
                "expands more than {}:1 ({} bytes from {} compressed)",
                limits.max_ratio, self.entry_bytes, self.compressed
            ))
        } else if self.budget.expanded > limits.max_expanded_bytes {
            Some(format!("archives in this input expand past {} bytes", limits.max_expanded_bytes))
        } else if self.budget.expanded > floor
            && self.budget.expanded > limits.max_ratio.saturating_mul(self.budget.input_size.max(1))
        {
            Some(format!(
                "archives in this input expand more than {}:1 over its {} bytes (a recursive zip bomb)",
                limits.max_ratio, self.budget.input_size
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            self.budget.tripped = Some(reason.clone());
            return Err(io::Error::other(BombError(reason)));
        }
        Ok(n)
    }
}

/// An error with its sources, on one line (`cannot read: permission denied`).
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A file-system time as ISO 8601 UTC, e.g. `2001-05-14T16:39:00Z`; before 1970 too (`None`
/// outside 1601 to 9999).
#[must_use]
pub fn iso_utc(time: SystemTime) -> Option<String> {
    let secs = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok()?,
        // Rounded down to the second, as after the epoch.
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).ok()?;
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    };
    quarry_types::iso_utc_checked(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_names() {
        for bad in [
            "../evil.txt",
            "a/../../b",
            "/etc/passwd",
            "\\\\server\\x",
            "C:\\Windows\\x",
            "..\\..\\Temp\\evil.txt",
        ] {
            assert!(traversal(bad).is_some(), "{bad}");
        }
        for good in ["good.txt", "a/b/c.txt", "dots..in..name.txt", "a/.../b"] {
            assert!(traversal(good).is_none(), "{good}");
        }
    }

    #[test]
    fn maildir_folders_as_clients_name_them() {
        let root = tempfile::tempdir().unwrap();
        let maildir = root.path().join("Maildir");
        for dir in ["", ".Sent", ".Archive.2020", "Projects", "Projects/2020", "loose"] {
            for sub in ["cur", "new", "tmp"] {
                if dir != "loose" || sub == "cur" {
                    fs_err::create_dir_all(maildir.join(dir).join(sub)).unwrap();
                }
            }
        }
        let folder = |p: &str| maildir_folder(&maildir.join(p));
        assert_eq!(folder("cur/1.host:2,S").as_deref(), Some("INBOX"));
        assert_eq!(folder("new/2.host").as_deref(), Some("INBOX"));
        assert_eq!(folder(".Sent/cur/3.host:2,S").as_deref(), Some("Sent"));
        assert_eq!(folder(".Archive.2020/new/4.host").as_deref(), Some("Archive/2020"));
        assert_eq!(folder("Projects/cur/5.host").as_deref(), Some("Projects"));
        assert_eq!(folder("Projects/2020/cur/8.host").as_deref(), Some("Projects/2020"));
        assert_eq!(folder("loose/cur/6.eml"), None, "a cur/ without new/ is no Maildir");
        assert_eq!(folder("tmp/7.host"), None, "not yet delivered");
        assert_eq!(folder("Projects/notes.txt"), None);
    }

    #[test]
    fn maildir_flags_from_names() {
        let flags = |p: &str| maildir_flags(Path::new(p)).join(" ");
        assert_eq!(
            flags("Maildir/cur/1035478339.27041_118.foo.org,S=1000:2,RS"),
            "maildir-replied maildir-seen"
        );
        assert_eq!(
            flags("m/.Sent/cur/1276533073.M242911P3632.kurkku;2,FP"),
            "maildir-flagged maildir-passed"
        );
        assert_eq!(flags("m/new/1234.host"), "");
        assert_eq!(flags("elsewhere/notes:2,S"), "", "only in cur/ or new/");
    }

    #[test]
    fn faults_parse() {
        assert_eq!(Fault::parse("abort:x.bin"), Some(Fault::Abort("x.bin".into())));
        assert_eq!(Fault::parse("oom:y"), Some(Fault::Exhaust("y".into())));
        assert_eq!(Fault::parse("change:z.zip"), Some(Fault::Change("z.zip".into())));
        assert_eq!(Fault::parse("vanish:z.zip"), Some(Fault::Vanish("z.zip".into())));
        assert_eq!(Fault::parse("nonsense"), None);
    }
}
