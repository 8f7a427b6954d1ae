//! # Email and PDF extraction benchmark
//!
//! **What's measured.** Throughput of quarry's email and PDF extraction, each against its
//! baseline measured in the same run on the same bytes:
//! - email (MB/s and messages/s): the bare mailparse parse of every message (headers, MIME
//!   tree, every leaf part decoded), quarry's own parse (`quarry_ingest::email::parse`: envelope,
//!   body, attachments, identity hash), both on one core; then the whole isolated stage, the
//!   real `quarry ingest` with its worker processes (two, one per core), storing natives and
//!   text and committing to SQLite, on the mailboxes and on the same messages as loose EML files.
//! - PDF (pages/s, one core each): poppler's `pdftotext` over every PDF (one process per file,
//!   as any tool that shells out to it runs it) and `quarry_ingest::pdf::extract` (pdf_oxide
//!   text per page, lopdf properties) over the same files.
//!
//! **Corpus.** `QUARRY_CORPUS/email/enron-mbox` (18,663 messages, 49 MB) and every PDF under
//! `QUARRY_CORPUS/pdf` that pdftotext opens, except `bomb_giant.pdf`; without the corpus, a
//! generated mailbox (5,000 messages of English-like text) and the sample PDF of `fixtures/`.
//!
//! **Notes.** Every benchmark asserts its counts (messages parsed, items ingested, pages
//! extracted), so a "speed-up" that drops work fails. Needs `pdftotext` (Debian poppler-utils).
//! Run: `QUARRY_CORPUS=../shared/corpus cargo bench -p quarry-bench --bench extract`; add
//! `QUARRY_BENCH_DIR=/dev/shm/quarry-bench` to take the disk out of the ingest ratios.

use criterion::{Criterion, Throughput};
use mailparse::ParsedMail;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in quarry_bench::sorted(dir).expect("readable folder") {
        if entry.is_dir() {
            out.extend(files_under(&entry, keep));
        } else if keep(&entry) {
            out.push(entry);
        }
    }
    out
}

/// Every leaf part decoded, as a consumer of mailparse would do to read a message.
fn decode_all(part: &ParsedMail<'_>) -> usize {
    if part.subparts.is_empty() {
        return part.get_body_raw().map_or(0, |b| b.len());
    }
    part.subparts.iter().map(decode_all).sum()
}

fn generated_mbox(path: &Path, messages: usize) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut rng = quarry_bench::Rng::new(7);
    let mut out = Vec::new();
    for n in 0..messages {
        use std::io::Write;
        let _ = write!(
            out,
            "From MAILER-DAEMON Mon Apr 18 14:23:22 2022\nMessage-ID: <{n}@bench.invalid>\nDate: Tue, 12 Dec 2000 04:{:02}:00 -0800 (PST)\nFrom: sender{}@bench.invalid\nTo: a{}@bench.invalid, b@bench.invalid\nSubject: report {n}\nContent-Type: text/plain; charset=us-ascii\n\n",
            n % 60,
            n % 40,
            n % 90
        );
        let len = 1_000 + rng.below(4_000) as usize;
        quarry_bench::text(&mut rng, len, &mut out);
        out.extend_from_slice(b"\n\n");
    }
    fs_err::create_dir_all(path.parent().expect("parent"))?;
    fs_err::write(path, out)
}

fn ingest(case: &Path, input: &Path, items: u64) {
    if case.exists() {
        fs_err::remove_dir_all(case).expect("remove scratch case");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_quarry-bench-ingest"))
        .arg(case)
        .arg("bench")
        .arg(input)
        .output()
        .expect("run quarry-bench-ingest");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let summary = &report["case"];
    assert_eq!(summary["items"], items, "items ingested: {summary}");
    assert_eq!(summary["reconciled"], true, "{summary}");
}

fn main() {
    let corpus = std::env::var_os("QUARRY_CORPUS").map(PathBuf::from);
    let root = std::env::var_os("QUARRY_BENCH_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from);
    let scratch = root.join("bench-scratch");
    fs_err::create_dir_all(&scratch).expect("scratch");

    // ---- email ----
    let mboxes: Vec<PathBuf> = match &corpus {
        Some(c) => files_under(&c.join("email/enron-mbox"), &|_| true),
        None => {
            let path = root.join("bench-data/generated.mbox");
            generated_mbox(&path, 5_000).expect("generate mailbox");
            vec![path]
        }
    };
    let mbox_dir = mboxes[0].parent().expect("mailbox folder").to_path_buf();
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for path in &mboxes {
        let file = std::io::BufReader::new(fs_err::File::open(path).expect("open mailbox"));
        let mut reader = quarry_ingest::mbox::Reader::new(file);
        while let Some(m) = reader.next_message().expect("read mailbox") {
            messages.push(m.bytes);
        }
    }
    let count = messages.len();
    let bytes: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let eml_dir = scratch.join("eml");
    if eml_dir.exists() {
        fs_err::remove_dir_all(&eml_dir).expect("clear eml folder");
    }
    fs_err::create_dir_all(&eml_dir).expect("eml folder");
    for (n, m) in messages.iter().enumerate() {
        fs_err::write(eml_dir.join(format!("{n:06}.eml")), m).expect("write eml");
    }
    let _ = Command::new("sync").status();
    eprintln!("email: {count} messages, {bytes} bytes from {} mailboxes", mboxes.len());

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut group = c.benchmark_group("email");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("mailparse_bare_1core", |b| {
        b.iter(|| {
            let mut parsed = 0;
            for m in &messages {
                let mail = mailparse::parse_mail(m).expect("mailparse");
                std::hint::black_box(decode_all(&mail));
                parsed += 1;
            }
            assert_eq!(parsed, count);
        });
    });
    group.bench_function("quarry_email_parse_1core", |b| {
        b.iter(|| {
            let mut parsed = 0;
            for m in &messages {
                let email = quarry_ingest::email::parse(m).expect("quarry parse");
                assert_eq!(email.identity.len(), 64);
                std::hint::black_box(&email.text);
                parsed += 1;
            }
            assert_eq!(parsed, count);
        });
    });
    let case = scratch.join("email-case");
    group.bench_function("quarry_ingest_mbox_isolated_2workers", |b| {
        b.iter(|| ingest(&case, &mbox_dir, (count + mboxes.len()) as u64));
    });
    group.bench_function("quarry_ingest_eml_isolated_2workers", |b| {
        b.iter(|| ingest(&case, &eml_dir, count as u64));
    });
    group.finish();

    // ---- PDF ----
    assert!(
        Command::new("pdftotext").arg("-v").output().is_ok(),
        "install pdftotext (Debian poppler-utils)"
    );
    let candidates: Vec<PathBuf> = match &corpus {
        Some(c) => files_under(&c.join("pdf"), &|p| {
            p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
                && !p.to_string_lossy().contains("bomb")
        }),
        None => {
            vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sample/loose/memo.pdf")]
        }
    };
    // The PDFs both tools read: pdftotext opens them, quarry extracts text from them.
    // (path, bytes, pages): the pages found here are what every iteration must find again.
    let mut pdfs: Vec<(PathBuf, Vec<u8>, u64)> = Vec::new();
    let mut pages = 0u64;
    let mut slowest = Vec::new();
    for path in candidates {
        let ok = Command::new("pdftotext")
            .arg(&path)
            .arg("/dev/null")
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let bytes = fs_err::read(&path).expect("read pdf");
        let started = std::time::Instant::now();
        let extracted = quarry_ingest::pdf::extract(&bytes, &[]);
        let took = started.elapsed();
        if let (true, Ok(pdf)) = (ok, extracted) {
            pages += pdf.meta.pages.unwrap_or(0);
            slowest.push((took, pdf.meta.pages.unwrap_or(0), path.clone()));
            pdfs.push((path, bytes, pdf.meta.pages.unwrap_or(0)));
        }
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    eprintln!("pdf: {} files, {pages} pages; slowest for quarry:", pdfs.len());
    for (took, pages, path) in slowest.iter().take(6) {
        eprintln!("  {took:>10.1?} {pages:>4} pages  {}", path.display());
    }
    // The pdf.js test files (the anchor: pdftotext ~730 pages/s per core there), then
    // every PDF of the corpus, whose damaged govdocs files hold pdf_oxide's slow path.
    let pdfjs: Vec<(PathBuf, Vec<u8>, u64)> = pdfs
        .iter()
        .filter(|(p, _, _)| p.components().any(|c| c.as_os_str() == "pdfjs"))
        .cloned()
        .collect();
    let sets = if pdfjs.is_empty() {
        vec![("pdf", pdfs)]
    } else {
        vec![("pdf_pdfjs", pdfjs), ("pdf_all", pdfs)]
    };
    for (name, pdfs) in sets {
        let pages: u64 = pdfs.iter().map(|(_, _, pages)| pages).sum();
        eprintln!("{name}: {} files, {pages} pages", pdfs.len());
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(pages));
        group.bench_function("pdftotext_1core", |b| {
            b.iter(|| {
                let mut done = 0;
                for (path, _, _) in &pdfs {
                    let status = Command::new("pdftotext")
                        .arg(path)
                        .arg("/dev/null")
                        .stderr(std::process::Stdio::null())
                        .status()
                        .expect("pdftotext");
                    assert!(status.success());
                    done += 1;
                }
                assert_eq!(done, pdfs.len());
            });
        });
        group.bench_function("quarry_pdf_extract_1core", |b| {
            b.iter(|| {
                let mut extracted = 0;
                for (_, bytes, _) in &pdfs {
                    let pdf = quarry_ingest::pdf::extract(bytes, &[]).expect("extract");
                    extracted += pdf.meta.pages.unwrap_or(0);
                    std::hint::black_box(&pdf.text);
                }
                assert_eq!(extracted, pages);
            });
        });
        group.finish();
    }
    c.final_summary();
}
