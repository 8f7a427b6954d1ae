//! Deterministic corpus generation for quarry's benchmarks.
//!
//! Text is English-like: words drawn from a Zipf-ish distribution over a fixed business
//! vocabulary plus synthetic words, from a seeded xorshift generator, so every run (and every
//! machine) benchmarks the same bytes.

pub mod classify;

use std::io::Write;
use std::path::Path;

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "for",
    "is",
    "on",
    "that",
    "by",
    "this",
    "with",
    "you",
    "it",
    "not",
    "or",
    "be",
    "are",
    "from",
    "at",
    "as",
    "your",
    "all",
    "have",
    "new",
    "more",
    "an",
    "was",
    "we",
    "will",
    "can",
    "us",
    "about",
    "if",
    "my",
    "has",
    "but",
    "our",
    "one",
    "other",
    "do",
    "no",
    "information",
    "time",
    "they",
    "he",
    "up",
    "may",
    "what",
    "which",
    "their",
    "contract",
    "power",
    "gas",
    "trading",
    "deal",
    "price",
    "market",
    "energy",
    "california",
    "counsel",
    "legal",
    "agreement",
    "settlement",
    "meeting",
    "please",
    "attached",
    "review",
    "forward",
    "schedule",
    "transaction",
    "risk",
    "credit",
    "capacity",
    "pipeline",
    "regulatory",
    "commission",
    "report",
    "draft",
    "comments",
    "issue",
    "question",
    "call",
    "week",
    "today",
    "privileged",
    "confidential",
    "attorney",
    "advice",
    "memo",
    "hedge",
    "swap",
    "option",
];

/// A small, fast, seeded generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Appends about `len` bytes of English-like text to `out`.
pub fn text(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    let mut words_in_sentence = 0;
    while out.len() - start < len {
        // Zipf-ish: low indexes are far more frequent; 1 word in 8 is a synthetic rare word.
        if rng.below(8) == 0 {
            let _ = write!(out, "w{}", rng.below(60_000));
        } else {
            let r = rng.below(1 << 20) as f64 / f64::from(1 << 20);
            let index = ((WORDS.len() as f64).powf(r) - 1.0) as usize;
            out.extend_from_slice(WORDS[index.min(WORDS.len() - 1)].as_bytes());
        }
        words_in_sentence += 1;
        if words_in_sentence > 6 + rng.below(16) {
            out.extend_from_slice(b".\n");
            words_in_sentence = 0;
        } else {
            out.push(b' ');
        }
    }
}

/// Writes `files` text files of about `file_bytes` each under `dir` (in folders of 500),
/// unless a previous run left exactly this collection there. Returns the total bytes.
pub fn loose_collection(
    dir: &Path,
    files: usize,
    file_bytes: usize,
    seed: u64,
) -> std::io::Result<u64> {
    let marker = marker(dir, &format!("{files}-{file_bytes}-{seed}"));
    let mut total = 0u64;
    let mut rng = Rng::new(seed);
    let mut buf = Vec::with_capacity(file_bytes + 256);
    let exists = marker.exists();
    if !exists && dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    for i in 0..files {
        buf.clear();
        let len = file_bytes / 2 + rng.below(file_bytes as u64) as usize;
        text(&mut rng, len, &mut buf);
        total += buf.len() as u64;
        if !exists {
            let folder = dir.join(format!("d{:04}", i / 500));
            fs_err::create_dir_all(&folder)?;
            fs_err::write(folder.join(format!("doc{i:06}.txt")), &buf)?;
        }
    }
    if !exists {
        fs_err::write(&marker, b"")?;
    }
    Ok(total)
}

/// Packs the loose collection's files into ZIP archives of `per_archive` entries each
/// (deflate, fast level), unless already done. Returns the number of archives.
pub fn zip_collection(loose: &Path, dir: &Path, per_archive: usize) -> std::io::Result<usize> {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for folder in sorted(loose)? {
        if folder.is_dir() {
            files.extend(sorted(&folder)?);
        }
    }
    let archives = files.len().div_ceil(per_archive);
    let marker = marker(dir, &format!("{}-{per_archive}", files.len()));
    if marker.exists() {
        return Ok(archives);
    }
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    fs_err::create_dir_all(dir)?;
    for (n, chunk) in files.chunks(per_archive).enumerate() {
        let file = fs_err::File::create(dir.join(format!("batch{n:04}.zip")))?;
        let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1));
        for path in chunk {
            let name = path.strip_prefix(loose).unwrap_or(path).to_string_lossy().into_owned();
            writer.start_file(name, options).map_err(std::io::Error::other)?;
            writer.write_all(&fs_err::read(path)?)?;
        }
        writer.finish().map_err(std::io::Error::other)?;
    }
    fs_err::write(&marker, b"")?;
    Ok(archives)
}

/// The file beside a generated folder that says it is complete (kept outside the folder, so it
/// is not ingested with it).
fn marker(dir: &Path, what: &str) -> std::path::PathBuf {
    let name = dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!(".{name}.complete-{what}"))
}

/// The entries of a folder, sorted by name, hidden files left out.
pub fn sorted(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut entries: Vec<std::path::PathBuf> = fs_err::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    Ok(entries)
}
