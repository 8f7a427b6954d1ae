//! RAR archives, read through The Unarchiver's command-line tools (Debian package `unar`):
//! `lsar -j` lists an archive, `unar -i` decodes entries. There is no maintained pure-Rust
//! RAR reader, and the UnRAR source is under a licence that is not open source
//! (../shared/reference/DEPENDENCIES.md), so RAR is the one format read by another program.
//!
//! - **Child processes of the worker.** They inherit its memory limit, and each call has a
//!   deadline (given by the extractor), past which it is stopped: under coreutils' `timeout`
//!   where there is one, which also stops it when the worker itself is killed.
//! - **A private folder of links.** The tools are pointed at links the extractor makes in a
//!   fresh folder of the case's `tmp/`, never at the file where it lies: `lsar` looks for
//!   volumes beside an archive by name, and took `rar5-solid.rar` for a volume of
//!   `rar3-solid.rar` in rarfile's test files. So the tools see only the volumes quarry chose.
//! - **Entries are decoded to files of that folder**, checked, read and removed, many to a run
//!   of unar ([`Workspace::decode_batch`]) or one ([`Workspace::decode`]). Decoded to standard
//!   output (`-o -`), unar 1.10 exits 0 after a checksum failure and after a wrong password (no
//!   bytes at all), so quarry would record damaged or empty members as good. Written to a
//!   folder, it reports both. quarry still checks each size against the listing.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// An entry of a listing, in the archive's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `unar -i` takes it.
    pub index: u64,
    pub name: String,
    pub size: u64,
    pub directory: bool,
    /// A link: where it points (empty when the listing does not say, as for RAR 3 symbolic
    /// links, whose target is their data).
    pub link: Option<String>,
    /// A RAR 5 file reference ("store identical files as references", or a hard link): the
    /// same bytes as the entry `link` names.
    pub hard_link: bool,
    pub encrypted: bool,
    /// ISO 8601, UTC.
    pub modified: Option<String>,
}

/// What `lsar -j` says of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// How many volumes `lsar` read the listing from.
    pub volumes: usize,
}

/// Why an archive could not be listed.
#[derive(Debug)]
pub(crate) enum ListError {
    /// Its listing is encrypted: a password is needed, or the one given is wrong.
    Password,
    /// lsar did not finish within the deadline.
    TimedOut(String),
    Failed(String),
}

/// Whether `lsar` and `unar` can be run here.
pub(crate) fn available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        ["lsar", "unar"].iter().all(|tool| {
            Command::new(tool)
                .arg("-v")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
    })
}

/// The volumes of a RAR set whose first volume is `first`, in order, found beside it by name
/// (`X.part1.rar`, `X.part2.rar`, ...; or `X.rar`, `X.r00`, `X.r01`, ...). Just `first` when
/// it has none.
pub(crate) fn volumes_from(first: &Path) -> Vec<PathBuf> {
    let mut volumes = vec![first.to_path_buf()];
    let Some(name) = first.file_name().and_then(|n| n.to_str()) else { return volumes };
    let Some(dir) = first.parent() else { return volumes };
    if let Some((stem, 1, width)) = part_number(name) {
        for n in 2.. {
            let next = dir.join(format!("{stem}.part{n:0width$}.rar"));
            if !next.is_file() {
                break;
            }
            volumes.push(next);
        }
    } else if let Some(stem) = strip_suffix_ignore_case(name, ".rar") {
        for n in 0..100 {
            let next = dir.join(format!("{stem}.r{n:02}"));
            if !next.is_file() {
                break;
            }
            volumes.push(next);
        }
    }
    volumes
}

/// The first volume beside `path` when `path` is a later volume of a RAR set (`X.part2.rar`
/// with `X.part1.rar` beside it, `X.r00` with `X.rar`).
pub(crate) fn first_volume_of(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let dir = path.parent()?;
    let first = match part_number(name) {
        Some((stem, n, width)) if n > 1 => dir.join(format!("{stem}.part{:0width$}.rar", 1)),
        Some(_) => return None,
        None => {
            let (stem, digits) = name.rsplit_once('.')?;
            let old = digits.len() == 3
                && digits[..1].eq_ignore_ascii_case("r")
                && digits[1..].bytes().all(|b| b.is_ascii_digit());
            if !old {
                return None;
            }
            dir.join(format!("{stem}.rar"))
        }
    };
    first.is_file().then_some(first)
}

/// `X.partN.rar`: the stem, N, and how many digits N is written with.
fn part_number(name: &str) -> Option<(&str, u32, usize)> {
    let base = strip_suffix_ignore_case(name, ".rar")?;
    let (stem, part) = base.rsplit_once('.')?;
    let digits = strip_prefix_ignore_case(part, "part")?;
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem, digits.parse().ok()?, digits.len()))
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let at = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(at) && s[at..].eq_ignore_ascii_case(suffix)).then(|| &s[..at])
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let at = prefix.len();
    (s.len() >= at && s.is_char_boundary(at) && s[..at].eq_ignore_ascii_case(prefix))
        .then(|| &s[at..])
}

/// A fresh folder under the case's `tmp/` holding links to an archive's volumes under names
/// the tools recognise, and the entries decoded from it; removed when dropped.
pub(crate) struct Workspace {
    dir: tempfile::TempDir,
    archive: PathBuf,
    deadline: Duration,
}

impl Workspace {
    /// Links `volumes` (the first first) into a new folder under `tmp`.
    pub(crate) fn new(tmp: &Path, volumes: &[PathBuf], deadline: Duration) -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("rar-").tempdir_in(tmp)?;
        let old_style = volumes.len() > 1
            && volumes[1].extension().and_then(|e| e.to_str()).is_some_and(|e| {
                e.len() == 3
                    && e[..1].eq_ignore_ascii_case("r")
                    && e[1..].bytes().all(|b| b.is_ascii_digit())
            });
        let width = volumes.len().to_string().len();
        let mut archive = PathBuf::new();
        for (n, volume) in volumes.iter().enumerate() {
            let name = match n {
                _ if volumes.len() == 1 => "archive.rar".to_owned(),
                0 if old_style => "archive.rar".to_owned(),
                n if old_style => format!("archive.r{:02}", n - 1),
                n => format!("archive.part{:0width$}.rar", n + 1),
            };
            let link = dir.path().join(&name);
            let target = std::path::absolute(volume)?;
            std::os::unix::fs::symlink(&target, &link)?;
            if n == 0 {
                archive = link;
            }
        }
        Ok(Workspace { dir, archive, deadline })
    }

    /// Lists the archive, with `password` when given.
    pub(crate) fn list(&self, password: Option<&[u8]>) -> Result<Listing, ListError> {
        let mut command = tool("lsar", self.deadline);
        command.arg("-j");
        password_arg(&mut command, password);
        command.arg(&self.archive);
        let output = run(command, self.deadline).map_err(|e| match e.kind() {
            io::ErrorKind::TimedOut => ListError::TimedOut(e.to_string()),
            _ => ListError::Failed(e.to_string()),
        })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("requires a password") {
            return Err(ListError::Password);
        }
        let listing = parse_listing(&output.stdout).map_err(ListError::Failed)?;
        if let Some(code) = listing.1 {
            // 15: the listing is encrypted and the password does not open it.
            if code == 15 {
                return Err(ListError::Password);
            }
            let detail = stderr.trim();
            return Err(ListError::Failed(if detail.is_empty() {
                format!("lsar error {code}")
            } else {
                format!("lsar error {code}: {}", first_line(detail))
            }));
        }
        Ok(listing.0)
    }

    /// Runs unar on `entries` (by index), writing them under `out`.
    fn unar(
        &self,
        out: &Path,
        entries: &[&Entry],
        password: Option<&[u8]>,
    ) -> io::Result<std::process::Output> {
        let mut command = tool("unar", self.deadline);
        command.args(["-q", "-D", "-f", "-i", "-o"]).arg(out);
        password_arg(&mut command, password);
        command.arg(&self.archive).args(entries.iter().map(|e| e.index.to_string()));
        run(command, self.deadline)
    }

    /// Decodes entry `entry` to a file of the folder and opens it; the file is removed when
    /// the returned reader is dropped. An error says why unar could not decode it.
    pub(crate) fn decode(&self, entry: &Entry, password: Option<&[u8]>) -> io::Result<Decoded> {
        let out = tempfile::Builder::new().prefix("entry-").tempdir_in(self.dir.path())?;
        let output = self.unar(out.path(), &[entry], password)?;
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let why = if said.contains("checksum") {
                "its data fails its checksum (damaged, or a wrong password)".to_owned()
            } else {
                format!("unar failed ({}): {}", output.status, first_line(said.trim()))
            };
            return Err(io::Error::other(why));
        }
        let file = only_file(out.path())?
            .ok_or_else(|| io::Error::other("unar wrote no file for the entry"))?;
        let size = std::fs::metadata(&file)?.len();
        if size != entry.size {
            return Err(io::Error::other(format!(
                "unar decoded {size} bytes where the listing says {} (damaged, or a wrong password)",
                entry.size
            )));
        }
        Ok(Decoded { file: std::fs::File::open(file)?, _out: std::rc::Rc::new(out) })
    }

    /// Decodes several entries with one run of unar, each to the path its name gives: a call
    /// costs about 26 ms here, once per entry otherwise, and a solid archive is decoded once
    /// instead of from its start for each entry. Only for entries [`batchable`] with one
    /// another. An error (unar failed, a file missing or of another size) says to decode them
    /// one by one, which names the entry at fault.
    pub(crate) fn decode_batch(
        &self,
        entries: &[&Entry],
        password: Option<&[u8]>,
    ) -> io::Result<Vec<Decoded>> {
        let out = tempfile::Builder::new().prefix("batch-").tempdir_in(self.dir.path())?;
        let output = self.unar(out.path(), entries, password)?;
        if !output.status.success() {
            return Err(io::Error::other(format!("unar failed ({})", output.status)));
        }
        let out = std::rc::Rc::new(out);
        let mut decoded = Vec::with_capacity(entries.len());
        for entry in entries {
            let path = out.path().join(&entry.name);
            let metadata = std::fs::symlink_metadata(&path)?;
            if !metadata.is_file() || metadata.len() != entry.size {
                return Err(io::Error::other(format!("{} is not as listed", entry.name)));
            }
            decoded.push(Decoded { file: std::fs::File::open(&path)?, _out: out.clone() });
        }
        Ok(decoded)
    }
}

/// Gives the tools `password`, when there is one.
fn password_arg(command: &mut Command, password: Option<&[u8]>) {
    if let Some(password) = password {
        let password = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(password);
        command.arg("-p").arg(password);
    }
}

/// Whether `entry` can be decoded in a batch beside `others`: a plain relative name that unar
/// writes where it says, no other entry of the batch at the same path or on its way.
pub(crate) fn batchable(entry: &Entry, others: &[&Entry]) -> bool {
    let name = entry.name.as_str();
    let plain = !name.is_empty()
        && name.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && c.len() < 200)
        && !name.chars().any(|c| c.is_control() || c == '\\' || c == ':');
    if !plain || entry.link.is_some() || entry.directory {
        return false;
    }
    let lower = name.to_lowercase();
    others.iter().all(|other| {
        let o = other.name.to_lowercase();
        o != lower && !o.starts_with(&format!("{lower}/")) && !lower.starts_with(&format!("{o}/"))
    })
}

/// An entry decoded to a file, removed when dropped (with the folder of its batch, once the
/// batch's last entry is).
pub(crate) struct Decoded {
    file: std::fs::File,
    _out: std::rc::Rc<tempfile::TempDir>,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

/// The one regular file under `dir` (unar recreates the entry's folders).
fn only_file(dir: &Path) -> io::Result<Option<PathBuf>> {
    let mut found = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                if found.is_some() {
                    return Err(io::Error::other("unar wrote more than the one entry asked for"));
                }
                found = Some(entry.path());
            }
        }
    }
    Ok(found)
}

/// A command for `program`, run under coreutils' `timeout` where there is one: the worker stops
/// a tool that outlives its deadline, but a worker killed itself (its input's timeout, its
/// memory limit) leaves its children running, and `timeout` still ends them.
fn tool(program: &str, deadline: Duration) -> Command {
    if !under_timeout() {
        return Command::new(program);
    }
    let mut command = Command::new("timeout");
    command.args(["-k", "2"]).arg(format!("{}s", deadline.as_secs().max(1))).arg(program);
    command
}

/// Whether coreutils' `timeout` is there to run the tools under.
fn under_timeout() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let mut probe = Command::new("timeout");
        probe.arg("--version").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        probe.status().is_ok_and(|s| s.success())
    })
}

/// Runs a tool to the end; one still running past `deadline` is stopped (by `timeout`, which
/// ends it and whatever it started; else killed here) and reported as timed out.
fn run(mut command: Command, deadline: Duration) -> io::Result<std::process::Output> {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    // The pipes are read on threads of their own, so neither fills while the other is read.
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(64 << 20).read_to_end(&mut bytes);
        }
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(1 << 20).read_to_end(&mut bytes);
        }
        bytes
    });
    let timed_out = || {
        io::Error::new(io::ErrorKind::TimedOut, format!("stopped after {} s", deadline.as_secs()))
    };
    // Killing `timeout` itself would leave the tool running: it is given time to stop it.
    let limit = if under_timeout() { deadline + Duration::from_secs(5) } else { deadline };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(timed_out());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() && started.elapsed() >= deadline {
        return Err(timed_out());
    }
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(std::process::Output { status, stdout, stderr })
}

/// Whether a symbolic link `target`, held by the entry `name`, points outside the archive:
/// absolute, or up past its root from the link's own folder.
pub(crate) fn escapes(name: &str, target: &str) -> bool {
    let absolute = target.starts_with(['/', '\\']) || target.as_bytes().get(1) == Some(&b':');
    if absolute {
        return true;
    }
    let mut depth = name.split(['/', '\\']).filter(|c| !c.is_empty()).count().saturating_sub(1);
    for component in target.split(['/', '\\']) {
        match component {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

/// The first line of what a tool said, at most 300 characters.
fn first_line(said: &str) -> String {
    let line = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    match line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// The listing in `lsar -j`'s output, and the error code it reports, if any.
fn parse_listing(json: &[u8]) -> Result<(Listing, Option<i64>), String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("lsar printed no listing: {e}"))?;
    let error = value.get("lsarError").and_then(serde_json::Value::as_i64).filter(|c| *c != 0);
    let volumes = value
        .pointer("/lsarProperties/XADVolumes")
        .and_then(serde_json::Value::as_array)
        .map_or(1, Vec::len);
    let mut entries = Vec::new();
    for item in value.get("lsarContents").and_then(|c| c.as_array()).into_iter().flatten() {
        let int = |key: &str| item.get(key).and_then(serde_json::Value::as_u64);
        let flag = |key: &str| int(key).is_some_and(|v| v != 0);
        let Some(index) = int("XADIndex") else { continue };
        let name = item.get("XADFileName").and_then(|n| n.as_str()).unwrap_or("").to_owned();
        let link = flag("XADIsLink")
            .then(|| item.get("XADLinkDestination").and_then(|d| d.as_str()).unwrap_or(""))
            .map(str::to_owned);
        entries.push(Entry {
            index,
            name,
            size: int("XADFileSize").unwrap_or(0),
            directory: flag("XADIsDirectory"),
            link,
            // RAR 5's redirection types: 4 a hard link, 5 a file copy (1-3 are symbolic links
            // and junctions).
            hard_link: flag("XADIsHardLink") || matches!(int("RAR5RedirectionType"), Some(4 | 5)),
            encrypted: flag("XADIsEncrypted"),
            modified: item.get("XADLastModificationDate").and_then(|d| d.as_str()).and_then(utc_of),
        });
    }
    entries.sort_by_key(|e| e.index);
    Ok((Listing { entries, volumes }, error))
}

/// `2020-07-20 21:01:44 +0000` (lsar's dates) as ISO 8601 UTC.
fn utc_of(date: &str) -> Option<String> {
    let mut parts = date.split(' ');
    let (day, time, offset) = (parts.next()?, parts.next()?, parts.next()?);
    let num = |s: &str| s.parse::<i64>().ok();
    let mut d = day.split('-').map(num);
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(num);
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    if offset.len() != 5 || !offset.is_ascii() {
        return None;
    }
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let off = sign * (num(&offset[1..3])? * 3600 + num(&offset[3..5])? * 60);
    let field = |n: i64| u32::try_from(n).ok();
    let local =
        quarry_types::unix_from_civil(y, field(m)?, field(dd)?, field(h)?, field(mi)?, field(s)?)?;
    Some(quarry_types::iso_utc_from_unix(local - off))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names() {
        let dir = tempfile::tempdir().unwrap();
        let touch = |name: &str| std::fs::write(dir.path().join(name), b"Rar!").unwrap();
        for name in ["set.part01.rar", "set.part02.rar", "set.part03.rar", "old.rar", "old.r00"] {
            touch(name);
        }
        touch("old.r01");
        touch("lone.part2.rar");
        let p = |name: &str| dir.path().join(name);
        assert_eq!(
            volumes_from(&p("set.part01.rar")),
            [p("set.part01.rar"), p("set.part02.rar"), p("set.part03.rar")]
        );
        assert_eq!(volumes_from(&p("old.rar")), [p("old.rar"), p("old.r00"), p("old.r01")]);
        assert_eq!(first_volume_of(&p("set.part03.rar")), Some(p("set.part01.rar")));
        assert_eq!(first_volume_of(&p("old.r01")), Some(p("old.rar")));
        assert_eq!(first_volume_of(&p("set.part01.rar")), None);
        // A later volume without its first is read as what it is.
        assert_eq!(first_volume_of(&p("lone.part2.rar")), None);
        assert_eq!(volumes_from(&p("lone.part2.rar")), [p("lone.part2.rar")]);
    }

    #[test]
    fn listing_and_dates() {
        let json = br#"{"lsarFormatVersion": 2, "lsarContents": [
            {"XADIndex": 1, "XADFileName": "b/", "XADIsDirectory": 1, "XADFileSize": 0},
            {"XADIndex": 0, "XADFileName": "b/x.txt", "XADFileSize": 6, "XADIsEncrypted": 1,
             "XADLastModificationDate": "2020-07-20 21:01:44 +0200"},
            {"XADIndex": 2, "XADFileName": "up", "XADIsLink": 1, "XADLinkDestination": ".."}],
            "lsarProperties": {"XADVolumes": ["a", "b"]}}"#;
        let (listing, error) = parse_listing(json).unwrap();
        assert_eq!(error, None);
        assert_eq!(listing.volumes, 2);
        let e = &listing.entries;
        assert_eq!(
            (e[0].index, e[0].name.as_str(), e[0].size, e[0].encrypted),
            (0, "b/x.txt", 6, true)
        );
        assert_eq!(e[0].modified.as_deref(), Some("2020-07-20T19:01:44Z"));
        assert!(e[1].directory);
        assert_eq!(e[2].link.as_deref(), Some(".."));
        assert_eq!(utc_of("1970-01-01 00:00:00 +0000").as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(utc_of("2000-02-29 23:59:59 -0130").as_deref(), Some("2000-03-01T01:29:59Z"));
        assert_eq!(utc_of("garbage"), None);
        let entry = |name: &str| Entry {
            index: 0,
            name: name.to_owned(),
            size: 1,
            directory: false,
            link: None,
            hard_link: false,
            encrypted: false,
            modified: None,
        };
        let (a, b) = (entry("a/b.txt"), entry("c.txt"));
        assert!(batchable(&entry("d/e.txt"), &[&a, &b]));
        for odd in ["../x", "a//b", "/abs", "a\\b", "C:x", "./a", "tab\tname", ""] {
            assert!(!batchable(&entry(odd), &[]), "{odd:?}");
        }
        // Where another entry of the batch is, or lies under, in any letters.
        assert!(!batchable(&entry("A/B.txt"), &[&a]));
        assert!(!batchable(&entry("a"), &[&a]));
        assert!(!batchable(&entry("a/b.txt/c"), &[&a]));
        assert!(!escapes("links/file_link", "../content/file.txt"));
        assert!(escapes("links/bad_link", "../../missing"));
        assert!(escapes("up", ".."));
        assert!(escapes("a", "/etc/passwd"));
        assert!(escapes("a", "C:\\Windows"));
        assert!(!escapes("a/b/c", "../../x"));
        assert!(escapes("a/b/c", "../../../x"));
        let (_, error) = parse_listing(br#"{"lsarContents": [], "lsarError": 15}"#).unwrap();
        assert_eq!(error, Some(15));
    }
}
