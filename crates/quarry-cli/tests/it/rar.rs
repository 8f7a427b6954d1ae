//! RAR archives, read through The Unarchiver's `lsar` and `unar`, against an independent
//! reader: rarfile's test archives ship with what its own pure-Python parser lists for each
//! (`X.rar.exp`: every entry's name, decoded size and CRC-32, as stored by the archiver).
//! `.ci/run` installs unar (Debian) and fetches rarfile's source distribution (PyPI, ISC
//! licence), and sets `QUARRY_RAR_SAMPLES` to its `test/files`; without it these tests skip,
//! except the one that needs no sample.

use crate::common::{Scratch, zip};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn samples() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("QUARRY_RAR_SAMPLES")?);
    assert!(dir.join("rar3-subdirs.rar.exp").is_file(), "QUARRY_RAR_SAMPLES={}", dir.display());
    let unar = std::process::Command::new("unar").arg("-v").output();
    assert!(unar.is_ok(), "QUARRY_RAR_SAMPLES is set but unar is not installed");
    Some(dir)
}

/// The files an `.exp` listing names, with their decoded size and CRC-32: folders and symbolic
/// links left out, a file reference (`redir: type=FILE_COPY` or `HARD_LINK`) given the size
/// and CRC of the file it names.
///
/// Some RAR 5 entries carry no plain CRC: a BLAKE2sp checksum instead, or, encrypted, a CRC
/// "tweaked" by the key. Their files are the `stest1.txt` and `stest2.txt` of `rar5-crc.rar`
/// (rarfile's test archives all pack the same few files), whose CRC they are given.
fn expected(exp: &Path) -> BTreeMap<String, (u64, u32)> {
    let mut listing = listed(exp);
    if listing.values().any(|(_, crc)| crc.is_none()) {
        let plain = listed(&exp.with_file_name("rar5-crc.rar.exp"));
        for (name, (size, crc)) in &mut listing {
            if crc.is_none() {
                let (plain_size, plain_crc) = plain[name];
                assert_eq!(*size, plain_size, "{name} in {}", exp.display());
                *crc = plain_crc;
            }
        }
    }
    listing.into_iter().map(|(name, (size, crc))| (name, (size, crc.unwrap()))).collect()
}

/// An `.exp` listing's files, sizes and CRC-32 (`None` where the listing gives none usable).
fn listed(exp: &Path) -> BTreeMap<String, (u64, Option<u32>)> {
    struct Block {
        file: bool,
        name: String,
        size: u64,
        crc: Option<u32>,
        /// Encrypted with the CRC keyed ("tweaked"): not the file's.
        tweaked: bool,
        redir: Option<(String, String)>,
    }
    let text = std::fs::read_to_string(exp).unwrap();
    let mut blocks: Vec<Block> = Vec::new();
    for line in text.lines() {
        if line.starts_with("FILE:") || line.starts_with("R5_FILE:") {
            let is = line.split_whitespace().find_map(|w| w.strip_prefix("is=")).unwrap();
            let file = is.starts_with('F');
            let name = String::new();
            blocks.push(Block { file, name, size: 0, crc: None, tweaked: false, redir: None });
            continue;
        }
        let Some(block) = blocks.last_mut() else { continue };
        let line = line.trim();
        if let Some(name) = line.strip_prefix("name=") {
            block.name = name.to_owned();
        } else if let Some(redir) = line.strip_prefix("redir: type=") {
            let kind = redir.split_whitespace().next().unwrap().to_owned();
            let target = redir.split("destination=").nth(1).unwrap().to_owned();
            block.redir = Some((kind, target));
        }
        for word in line.split_whitespace() {
            if let Some(size) = word.strip_prefix("dec=") {
                block.size = size.parse().unwrap();
            } else if let Some(crc) = word.strip_prefix("crc=0x") {
                block.crc = Some(u32::from_str_radix(crc, 16).unwrap());
            } else if word.starts_with("enc_flags=") && word.contains("TWEAKED") {
                block.tweaked = true;
            }
        }
    }
    for block in &mut blocks {
        if block.tweaked {
            block.crc = None;
        }
    }
    let plain: BTreeMap<String, (u64, Option<u32>)> = blocks
        .iter()
        .filter(|b| b.file && b.redir.is_none())
        .map(|b| (b.name.clone(), (b.size, b.crc)))
        .collect();
    let mut all = plain.clone();
    for b in &blocks {
        if let Some((kind, target)) = &b.redir
            && (kind == "FILE_COPY" || kind == "HARD_LINK")
        {
            all.insert(b.name.clone(), plain[target]);
        }
    }
    all
}

/// The entries of an ingested archive: name in the archive -> (size, CRC-32 of the native).
fn entries(s: &Scratch, items: &[Value], archive: &str) -> BTreeMap<String, (u64, u32)> {
    let case = quarry_case::Case::open(&s.case()).unwrap();
    let prefix = format!("{archive}//");
    let mut out = BTreeMap::new();
    for item in items {
        let Some(name) = item["locator"].as_str().unwrap().strip_prefix(&prefix) else { continue };
        let mut bytes = Vec::new();
        let blake3 = item["blake3"].as_str().unwrap();
        assert!(case.store().read_native(blake3, &mut bytes).unwrap(), "{item}");
        let mut crc = flate2::Crc::new();
        crc.update(&bytes);
        out.insert(name.to_owned(), (bytes.len() as u64, crc.sum()));
    }
    out
}

/// `ingest --json` of `in/` with the programs in `bin` found first (stand-ins for the RAR
/// tools); the run must end with exceptions. Returns its report.
fn ingest_with_tools_from(s: &Scratch, bin: &Path) -> Value {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = s
        .command(&["ingest", "--json", "--custodian", "c", s.path("in").to_str().unwrap()])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn copy(samples: &Path, s: &Scratch, names: &[&str]) {
    for name in names {
        s.file(&format!("in/{name}"), &std::fs::read(samples.join(name)).unwrap());
    }
}

/// RAR 1.5 to 5: stored, compressed, solid, Unicode names, file references, and two volume
/// sets (RAR 5 `.partN.rar`, RAR 3 `.rar`/`.r00`/`.r01`) read from their first volume, whose
/// later volumes are recorded as `split-volume` items. Every entry's size and CRC-32 equal
/// those rarfile lists. `rar3-solid.rar` and `rar5-solid.rar` lie side by side on purpose:
/// lsar, pointed at either where it lies, takes the other for one of its volumes.
#[test]
fn rar_entries_are_those_an_independent_reader_lists() {
    let Some(dir) = samples() else {
        eprintln!("skipped: set QUARRY_RAR_SAMPLES (see .ci/run)");
        return;
    };
    let archives = [
        "rar3-subdirs.rar",
        "rar5-subdirs.rar",
        "rar3-solid.rar",
        "rar5-solid.rar",
        "rar5-blake.rar",
        "rar5-crc.rar",
        "unicode.rar",
        "unicode2.rar",
        "rar5-dups.rar",
        "rar5-hlink.rar",
        "rar5-times.rar",
        "rar5-vols.part1.rar",
        "rar3-old.rar",
    ];
    let s = Scratch::new();
    copy(&dir, &s, &archives);
    copy(&dir, &s, &["rar5-vols.part2.rar", "rar5-vols.part3.rar", "rar3-old.r00", "rar3-old.r01"]);
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "no exception: {:?}", s.exception_kinds());
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    let mut total = 0;
    for archive in archives {
        let want = expected(&dir.join(format!("{archive}.exp")));
        assert!(!want.is_empty(), "{archive}");
        assert_eq!(entries(&s, &items, &format!("in/{archive}")), want, "{archive}");
        total += want.len();
    }
    let in_archives = items.iter().filter(|i| i["locator"].as_str().unwrap().contains("//"));
    assert_eq!(in_archives.count(), total, "no entry besides those listed");
    for volume in ["rar5-vols.part2.rar", "rar5-vols.part3.rar", "rar3-old.r00", "rar3-old.r01"] {
        let item = items.iter().find(|i| i["locator"] == format!("in/{volume}")).unwrap();
        assert_eq!(item["flags"], "split-volume no-text native-at-source", "{item}");
        assert_eq!(item["file_type"], "rar");
    }
    // Nothing is left of the folders the entries were decoded in.
    let tmp: Vec<_> = std::fs::read_dir(s.case().join("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

/// An encrypted listing is an `encrypted` exception, and encrypted entries under a plain
/// listing are `encrypted` members, until the case's password list has the password; then
/// the entries are read (checked as above) and the archive is flagged `decrypted`.
#[test]
fn encrypted_rar_archives_open_with_the_case_passwords() {
    let Some(dir) = samples() else {
        eprintln!("skipped: set QUARRY_RAR_SAMPLES (see .ci/run)");
        return;
    };
    let archives = ["rar5-psw.rar", "rar5-hpsw.rar", "rar5-psw-blake.rar", "rar3-comment-psw.rar"];
    let s = Scratch::new();
    copy(&dir, &s, &archives);
    let (code, _) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1);
    let mut kinds = s.exception_kinds();
    kinds.sort();
    let encrypted = |l: &str| (l.to_owned(), "encrypted".to_owned());
    assert_eq!(
        kinds,
        [
            encrypted("in/rar3-comment-psw.rar//file1.txt"),
            encrypted("in/rar3-comment-psw.rar//file2.txt"),
            encrypted("in/rar5-hpsw.rar"),
            encrypted("in/rar5-psw-blake.rar//stest1.txt"),
            encrypted("in/rar5-psw-blake.rar//stest2.txt"),
            encrypted("in/rar5-psw.rar//stest1.txt"),
            encrypted("in/rar5-psw.rar//stest2.txt"),
        ]
    );

    let s = Scratch::new();
    copy(&dir, &s, &archives);
    let passwords = s.file("passwords.txt", b"not-this-one\npassword\n");
    let (code, out) =
        s.ingest("c", &[&s.path("in")], &["--passwords", passwords.to_str().unwrap()]);
    assert_eq!(code, 0, "{:?}", s.exception_kinds());
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let items = s.items();
    for archive in archives {
        let want = expected(&dir.join(format!("{archive}.exp")));
        assert_eq!(entries(&s, &items, &format!("in/{archive}")), want, "{archive}");
        let item = items.iter().find(|i| i["locator"] == format!("in/{archive}")).unwrap();
        assert_eq!(item["flags"], "native-at-source decrypted", "{item}");
    }
}

/// Links that point out of the archive are `path_traversal` exceptions and are never
/// followed; damage in an entry's data is a `corrupt` exception for that entry; a first volume
/// without the rest of its set is a `corrupt` exception; a RAR inside a ZIP is read like any
/// other. The run goes on and reconciles.
#[test]
fn hostile_and_damaged_rar_archives_are_exceptions_and_the_run_goes_on() {
    let Some(dir) = samples() else {
        eprintln!("skipped: set QUARRY_RAR_SAMPLES (see .ci/run)");
        return;
    };
    let s = Scratch::new();
    copy(&dir, &s, &["rar5-evil-symlink-traversal.rar", "rar5-symlink-win.rar"]);
    // The second entry's data (stored, not compressed) with one byte flipped.
    let mut damaged = std::fs::read(dir.join("rar5-crc.rar")).unwrap();
    damaged[1000] ^= 0xff;
    s.file("in/damaged.rar", &damaged);
    s.file("in/lone.part1.rar", &std::fs::read(dir.join("rar5-vols.part1.rar")).unwrap());
    let subdirs = std::fs::read(dir.join("rar3-subdirs.rar")).unwrap();
    s.file("in/outer.zip", &zip(&[("inner/subdirs.rar", &subdirs), ("note.txt", b"a note\n")]));
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1);
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let mut kinds = s.exception_kinds();
    kinds.sort();
    let kind = |l: &str, k: &str| (l.to_owned(), k.to_owned());
    assert_eq!(
        kinds,
        [
            kind("in/damaged.rar//stest2.txt", "corrupt"),
            kind("in/lone.part1.rar", "corrupt"),
            kind("in/rar5-evil-symlink-traversal.rar//up", "path_traversal"),
            kind("in/rar5-symlink-win.rar//links/bad_link", "path_traversal"),
            kind("in/rar5-symlink-win.rar//links/dir_junction", "path_traversal"),
            kind("in/rar5-symlink-win.rar//links/dir_link", "unsupported"),
            kind("in/rar5-symlink-win.rar//links/file_link", "unsupported"),
        ]
    );
    let items = s.items();
    let locators: Vec<&str> = items.iter().map(|i| i["locator"].as_str().unwrap()).collect();
    assert!(locators.contains(&"in/damaged.rar//stest1.txt"), "{locators:?}");
    assert!(locators.contains(&"in/rar5-evil-symlink-traversal.rar//up/pwned.txt"));
    let want = expected(&dir.join("rar3-subdirs.rar.exp"));
    assert_eq!(entries(&s, &items, "in/outer.zip//inner/subdirs.rar"), want);
    // The traversal's file was decoded in the case's tmp/ and nowhere else.
    let outside = s.dir.path().parent().unwrap().join("pwned.txt");
    assert!(!outside.exists());
    let tmp: Vec<_> = std::fs::read_dir(s.case().join("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

/// Where The Unarchiver is not installed, a RAR is an `unsupported` exception that says what
/// to install, kept in the case: never a silent item.
#[test]
fn without_unar_a_rar_is_an_unsupported_exception_naming_it() {
    let s = Scratch::new();
    // Only the signature matters: the archive is never opened.
    s.file("in/a.rar", b"Rar!\x1a\x07\x01\x00 not opened");
    let out = s
        .command(&["ingest", "--json", "--custodian", "c", s.path("in").to_str().unwrap()])
        .env("PATH", s.path("no-tools"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let exception = s.sole_exception("unsupported");
    assert_eq!(exception["locator"], "in/a.rar");
    assert!(exception["message"].as_str().unwrap().contains("Debian package unar"), "{exception}");
    assert!(!exception["blake3"].as_str().unwrap().is_empty(), "kept: {exception}");
}

/// A RAR tool that hangs is stopped: the entry (or, when the worker's own timeout comes
/// first, the archive) is a `timeout` exception, the run goes on, and no tool is left running
/// after it, even when the worker that started it was killed. Fake `lsar` and `unar` scripts
/// stand in for the real ones.
#[test]
fn a_hanging_rar_tool_is_stopped_and_the_run_goes_on() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = Scratch::new();
    // The tools get three quarters of it: 3 s, within the supervisor's 4 s.
    s.set("timeout_secs", "4");
    let bin = s.path("fake-bin");
    let pid_file = s.path("unar.pid");
    let listing = r#"{"lsarContents": [{"XADIndex": 0, "XADFileName": "a.txt", "XADFileSize": 5}, {"XADIndex": 1, "XADFileName": "b.txt", "XADFileSize": 5}, {"XADIndex": 2, "XADFileName": "c.txt", "XADFileSize": 5}]}"#;
    let lsar = format!("#!/bin/sh\n[ \"$1\" = -v ] && exit 0\necho '{listing}'\n");
    let unar = format!(
        "#!/bin/sh\n[ \"$1\" = -v ] && exit 0\necho $$ >> {}\nexec sleep 300\n",
        pid_file.display()
    );
    for (name, script) in [("lsar", lsar), ("unar", unar)] {
        let path = s.file(&format!("fake-bin/{name}"), script.as_bytes());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    s.file("in/a.rar", b"Rar!\x1a\x07\x01\x00 answered by the fake tools");
    s.file("in/b.txt", b"read after it\n");
    let report = ingest_with_tools_from(&s, &bin);
    assert_eq!(report["case"]["reconciled"], true, "{report}");
    let kinds = s.exception_kinds();
    assert!(kinds.iter().any(|(l, k)| l.starts_with("in/a.rar") && k == "timeout"), "{kinds:?}");
    let pids = std::fs::read_to_string(&pid_file).unwrap();
    // The batch of three stalls; the two entries after the first are not tried again. (On a
    // machine so loaded that the supervisor's wait ran out first, the worker was killed
    // instead, and the archive's rest is one exception.)
    if kinds.iter().any(|(l, _)| l.starts_with("in/a.rar//")) {
        let timeout = |name: &str| (format!("in/a.rar//{name}"), "timeout".to_owned());
        assert_eq!(kinds, [timeout("a.txt"), timeout("b.txt"), timeout("c.txt")]);
        assert_eq!(pids.lines().count(), 1, "unar ran once: {pids}");
    }
    assert!(s.items().iter().any(|i| i["locator"] == "in/b.txt"));
    for pid in pids.lines() {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let gone = (0..50).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            !proc.exists()
        });
        assert!(gone, "the hanging unar ({pid}) still runs");
    }
}

/// A RAR 5 archive of stored (uncompressed) files, written here from the format's
/// specification (rarlab's "RAR 5.0 archive format"): no free program writes RAR. A file whose
/// name is in `bad_crc` gets a wrong data CRC, as damage would.
fn rar5(files: &[(String, Vec<u8>)], bad_crc: &[&str]) -> Vec<u8> {
    fn vint(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn crc(bytes: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
    }
    // A block: CRC32 of the header, its size, then type, flags, [data size], body; then data.
    fn block(out: &mut Vec<u8>, kind: u64, body: &[u8], data: Option<&[u8]>) {
        let mut fields = Vec::new();
        vint(kind, &mut fields);
        vint(if data.is_some() { 0x0002 } else { 0 }, &mut fields);
        if let Some(data) = data {
            vint(data.len() as u64, &mut fields);
        }
        fields.extend_from_slice(body);
        let mut header = Vec::new();
        vint(fields.len() as u64, &mut header);
        header.extend_from_slice(&fields);
        out.extend_from_slice(&crc(&header).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data.unwrap_or_default());
    }
    let mut out = b"Rar!\x1a\x07\x01\x00".to_vec();
    block(&mut out, 1, &[0], None); // main header: no archive flags
    for (name, data) in files {
        let mut body = Vec::new();
        vint(0x0004, &mut body); // file flags: data CRC32 present
        vint(data.len() as u64, &mut body); // unpacked size
        vint(0x20, &mut body); // attributes
        let sum = if bad_crc.contains(&name.as_str()) { !crc(data) } else { crc(data) };
        body.extend_from_slice(&sum.to_le_bytes());
        vint(0, &mut body); // compression: version 0, method 0 (store)
        vint(0, &mut body); // host OS: Windows
        vint(name.len() as u64, &mut body);
        body.extend_from_slice(name.as_bytes());
        block(&mut out, 2, &body, Some(data));
    }
    block(&mut out, 5, &[0], None); // end of archive
    out
}

/// An archive of many entries is decoded in batches (one run of unar for up to 256 entries:
/// one by one, 2,000 entries took 161-172 s in a release build against 1.2 s), with every
/// entry's bytes its own. Damage in one entry makes its batch fall back to one run per entry,
/// so only that entry is an exception; names unar might write elsewhere (a folder's name
/// repeated as a file's, in another case) are decoded on their own.
#[test]
fn many_entries_are_decoded_in_batches_each_with_its_own_bytes() {
    if std::process::Command::new("unar").arg("-v").output().is_err() {
        eprintln!("skipped: unar is not installed (see .ci/run)");
        return;
    }
    let mut files: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| {
            (
                format!("dir{}/file{i}.txt", i % 7),
                format!("file {i} ").repeat(i % 40 + 1).into_bytes(),
            )
        })
        .collect();
    files.push(("Dir0".to_owned(), b"a file named as a folder, in other letters\n".to_vec()));
    files.push(("last.txt".to_owned(), b"the last one\n".to_vec()));
    let s = Scratch::new();
    s.file("in/many.rar", &rar5(&files, &["dir3/file290.txt"]));
    // unar, through a script that counts its runs.
    use std::os::unix::fs::PermissionsExt as _;
    let which = std::process::Command::new("sh").args(["-c", "command -v unar"]).output();
    let unar = String::from_utf8(which.unwrap().stdout).unwrap().trim().to_owned();
    let runs = s.path("unar.runs");
    let script = format!("#!/bin/sh\necho run >> {}\nexec {unar} \"$@\"\n", runs.display());
    let wrapper = s.file("fake-bin/unar", script.as_bytes());
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ingest_with_tools_from(&s, &s.path("fake-bin"));
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    // Two batches (the first 256 entries, then the 44 that hold the damaged one), 44 runs
    // for those one by one, one batch for the last two, and each worker's check that unar
    // runs: about 50, against 300 and more one by one.
    let runs = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert!(runs < 100, "{runs} runs of unar");
    assert_eq!(
        s.exception_kinds(),
        [("in/many.rar//dir3/file290.txt".to_owned(), "corrupt".to_owned())]
    );
    let items = s.items();
    let blake3_of: BTreeMap<&str, &str> = items
        .iter()
        .map(|i| (i["locator"].as_str().unwrap(), i["blake3"].as_str().unwrap()))
        .collect();
    for (name, data) in &files {
        let locator = format!("in/many.rar//{name}");
        if name == "dir3/file290.txt" {
            assert!(!blake3_of.contains_key(locator.as_str()));
            continue;
        }
        assert_eq!(blake3_of[locator.as_str()], crate::common::blake3_hex(data), "{name}");
    }
    assert_eq!(items.len(), files.len(), "the archive and its entries but one");
}

/// Entry names that climb out of the archive (`..`, absolute) are decoded inside the case's
/// `tmp/` all the same (unar rewrites them, quarry decodes them one at a time) and recorded as
/// `path_traversal` exceptions with their bytes kept; nothing is written where they point.
#[test]
fn entry_names_that_climb_out_are_path_traversal_exceptions() {
    if std::process::Command::new("unar").arg("-v").output().is_err() {
        eprintln!("skipped: unar is not installed (see .ci/run)");
        return;
    }
    let files = [
        ("../../escape.txt".to_owned(), b"climbed\n".to_vec()),
        ("/abs/escape.txt".to_owned(), b"absolute\n".to_vec()),
        ("ok.txt".to_owned(), b"fine\n".to_vec()),
    ];
    let s = Scratch::new();
    s.file("in/deep/evil.rar", &rar5(&files, &[]));
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 1);
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    let mut kinds = s.exception_kinds();
    kinds.sort();
    let traversal = |name: &str| (format!("in/deep/evil.rar//{name}"), "path_traversal".to_owned());
    assert_eq!(kinds, [traversal("../../escape.txt"), traversal("/abs/escape.txt")]);
    for exception in s.exceptions() {
        assert!(!exception["blake3"].as_str().unwrap().is_empty(), "kept: {exception}");
    }
    assert!(s.items().iter().any(|i| i["locator"] == "in/deep/evil.rar//ok.txt"));
    for outside in [s.path("escape.txt"), s.path("in/escape.txt"), PathBuf::from("/abs")] {
        assert!(!outside.exists(), "{}", outside.display());
    }
}

/// A RAR whose only entry is itself an archive gives that archive, byte for byte, as its entry,
/// opened by quarry in turn. unar says it unpacks archives inside archives unless told not to
/// (`-nr`, "when unpacking a .tar.gz file, only unpack the .gz"); asked for entries by index,
/// as quarry asks, it gives each entry's own bytes (unar 1.10, checked here).
#[test]
fn a_rar_holding_one_archive_gives_that_archive_as_its_entry() {
    if std::process::Command::new("unar").arg("-v").output().is_err() {
        eprintln!("skipped: unar is not installed (see .ci/run)");
        return;
    }
    let inner = crate::common::zip(&[("a.txt", b"inside the zip\n"), ("b.txt", b"and another\n")]);
    let s = Scratch::new();
    s.file("in/one.rar", &rar5(&[("inner.zip".to_owned(), inner.clone())], &[]));
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    let items = s.items();
    let mut locators: Vec<&str> = items.iter().map(|i| i["locator"].as_str().unwrap()).collect();
    locators.sort_unstable();
    assert_eq!(
        locators,
        [
            "in/one.rar",
            "in/one.rar//inner.zip",
            "in/one.rar//inner.zip//a.txt",
            "in/one.rar//inner.zip//b.txt"
        ]
    );
    let zip = items.iter().find(|i| i["locator"] == "in/one.rar//inner.zip").unwrap();
    assert_eq!(zip["blake3"], crate::common::blake3_hex(&inner));

    // The same for a compressed tar, which unar would otherwise unpack through both layers.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(15);
    header.set_mode(0o644);
    tar.append_data(&mut header, "t.txt", &b"hello inside gz"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
    let targz = gz.finish().unwrap();
    let s = Scratch::new();
    s.file("in/two.rar", &rar5(&[("inner.tar.gz".to_owned(), targz.clone())], &[]));
    let (code, out) = s.ingest("c", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    let items = s.items();
    let gz = items.iter().find(|i| i["locator"] == "in/two.rar//inner.tar.gz");
    assert_eq!(
        gz.unwrap_or_else(|| panic!("{items:?}"))["blake3"],
        crate::common::blake3_hex(&targz)
    );
    assert!(items.iter().any(|i| i["locator"].as_str().unwrap().ends_with("t.txt")), "{items:?}");
}
