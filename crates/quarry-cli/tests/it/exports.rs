//! `export privlog | production | chronology`: what leaves the firm, checked before it is
//! written, the same bytes every time, and read back.

use crate::common::{Scratch, blake3_hex, copy_dir, u};
use crate::review::{as_reviewer, attachment_of, audit, collection, messages, ok, refused};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn code(s: &Scratch, docs: &[&str], sets: &[&str], family: bool) {
    let mut args = vec!["review", "code"];
    args.extend_from_slice(docs);
    for set in sets {
        args.push("--set");
        args.push(set);
    }
    if family {
        args.push("--family");
    }
    ok(&as_reviewer(s, "rev", &args));
}

const PRIVILEGED: &[&str] = &[
    "privilege=attorney-client",
    "privilege_basis=Legal advice from in-house counsel on the pipeline contract",
    "privilege_treatment=withhold",
];

/// Rows of a CSV export, the header first.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    quarry_case::parse_csv(&std::fs::read_to_string(path).unwrap())
}

fn xlsx_rows(path: &Path) -> Vec<Vec<String>> {
    use calamine::{Reader, open_workbook_auto};
    let mut book = open_workbook_auto(path).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).unwrap();
    range.rows().map(|r| r.iter().map(ToString::to_string).collect()).collect()
}

/// Removes the rule that a privileged call needs a basis and a treatment, so the case can
/// hold the incomplete coding an edited layout or an older case might.
fn relax_layout(s: &Scratch) {
    let path = s.case().join("case.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let relaxed: String = text
        .lines()
        .filter(|l| {
            !l.starts_with("[coding.fields.required_when]")
                && !l.starts_with("any_of")
                && *l != "field = \"privilege\""
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(relaxed, text);
    std::fs::write(&path, relaxed).unwrap();
}

#[test]
fn privilege_log_refuses_gaps_then_writes_csv_and_xlsx_that_agree_and_diff() {
    let s = collection(3);
    let docs = messages(&s);
    relax_layout(&s);
    // A privileged call without a basis, and a treatment without a privilege type.
    code(&s, &[&docs[0]], &["privilege=attorney-client", "privilege_treatment=withhold"], false);
    code(&s, &[&docs[1]], &["privilege_treatment=redact"], false);
    let out = s.path("log.csv");
    let err = refused(&s.run(&["export", "privlog", "--out", out.to_str().unwrap()]));
    assert!(err.contains(&format!("{}: no basis", docs[0])), "{err}");
    assert!(err.contains(&format!("{}: no privilege type, basis", docs[1])), "{err}");
    assert!(!out.exists(), "nothing written");

    code(&s, &[&docs[0]], PRIVILEGED, true);
    code(
        &s,
        &[&docs[1]],
        &[
            "privilege=work-product",
            "privilege_basis=Draft for litigation counsel",
            "privilege_description=Draft memorandum regarding litigation strategy",
        ],
        false,
    );
    ok(&s.run(&["export", "privlog", "--out", out.to_str().unwrap()]));
    let rows = csv_rows(&out);
    assert_eq!(rows[0], quarry_case::PRIVLOG_COLUMNS);
    // docs[0], its attachment (through --family), docs[1].
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let row = |control: &str| rows.iter().find(|r| r[2] == control).unwrap().clone();
    let first = row(&docs[0]);
    assert_eq!(
        (first[0].as_str(), first[1].as_str(), first[3].as_str()),
        ("PRIV-0001", docs[0].as_str(), "parent")
    );
    assert_eq!(first[5], "Ann <ann@example.com>");
    assert_eq!(first[6], "Bob <bob@example.com>");
    assert_eq!(first[9], "Report 0");
    assert_eq!(first[10], "Email");
    assert_eq!(first[11], "Attorney-Client Privilege");
    assert_eq!(first[13], "Withheld");
    assert_eq!(first[14], "alpha");
    let attachment = row(&attachment_of(&s, &docs[0]));
    assert_eq!(attachment[3], format!("attachment of {}", docs[0]));
    assert_eq!(attachment[10], "Attachment (Text file)");
    let second = row(&docs[1]);
    assert_eq!(
        second[9], "Draft memorandum regarding litigation strategy",
        "the description stands in for the subject"
    );
    assert_eq!((second[11].as_str(), second[13].as_str()), ("Attorney Work Product", "Redacted"));

    // The XLSX holds the same rows; both formats give the same bytes twice.
    let xlsx = s.path("log.xlsx");
    ok(&s.run(&["export", "privlog", "--out", xlsx.to_str().unwrap()]));
    assert_eq!(xlsx_rows(&xlsx), rows);
    let mut book = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut book.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    assert!(
        sheet.contains(r#"ySplit="1""#) && sheet.contains(r#"state="frozen""#),
        "header row frozen"
    );
    assert!(sheet.contains("customWidth=\"1\""), "columns sized");
    for (a, b) in [("log.csv", "again.csv"), ("log.xlsx", "again.xlsx")] {
        ok(&s.run(&["export", "privlog", "--out", s.path(b).to_str().unwrap()]));
        assert_eq!(
            std::fs::read(s.path(a)).unwrap(),
            std::fs::read(s.path(b)).unwrap(),
            "{a} differs from {b}"
        );
    }
    // An existing file is never replaced.
    let err = refused(&s.run(&["export", "privlog", "--out", out.to_str().unwrap()]));
    assert!(err.contains("already exists"), "{err}");

    // Version 2: one document added, one no longer privileged, one basis rewritten.
    code(&s, &[&docs[2]], PRIVILEGED, false);
    code(
        &s,
        &[&docs[1]],
        &[
            "privilege=not-privileged",
            "privilege_treatment=",
            "privilege_basis=",
            "privilege_description=",
        ],
        false,
    );
    code(
        &s,
        &[&docs[0]],
        &["privilege_basis=Request for legal advice on the pipeline contract"],
        false,
    );
    let v2 = s.path("log-v2.xlsx");
    let diff = s.json(&[
        "export",
        "privlog",
        "--out",
        v2.to_str().unwrap(),
        "--diff-from",
        xlsx.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(diff["diff"]["added"], serde_json::json!([docs[2]]));
    assert_eq!(diff["diff"]["removed"], serde_json::json!([docs[1]]));
    assert_eq!(diff["diff"]["changed"], serde_json::json!([[docs[0], ["BASIS"]]]));
    let entries = audit(&s, &["--action", "export.privlog"]);
    assert_eq!(entries.len(), 5, "two CSV, two XLSX, then version 2");
    assert_eq!(entries[4]["detail"]["blake3"], blake3_hex(&std::fs::read(&v2).unwrap()));
}

#[test]
fn privilege_log_lists_each_message_of_a_thread_on_request() {
    let s = Scratch::new();
    let body = "Agreed, go ahead.\n\n -----Original Message-----\nFrom: \tSanders, Richard\nSent:\tMonday, May 14, 2001 9:39 AM\nTo:\tHaedicke, Mark\nSubject:\tRE: Raptor\n\nShould we settle?\n\n -----Original Message-----\nFrom: \tHaedicke, Mark\nSent:\tMonday, May 14, 2001 8:02 AM\nTo:\tSanders, Richard\nSubject:\tRaptor\n\nYour view?\n";
    s.file(
        "m/thread.eml",
        format!("From: Mark Haedicke <mark@x.com>\nTo: Richard Sanders <richard@x.com>\nSubject: RE: Raptor\nDate: Mon, 14 May 2001 10:00:00 -0500\nMessage-ID: <t@x>\n\n{body}").as_bytes(),
    );
    s.ingest("legal", &[&s.path("m")], &[]);
    let doc = messages(&s)[0].clone();
    code(&s, &[&doc], PRIVILEGED, false);
    let out = s.path("log.csv");
    ok(&s.run(&["export", "privlog", "--out", out.to_str().unwrap(), "--expand-threads"]));
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[2][0], "PRIV-0001.1");
    assert_eq!(rows[2][3], format!("message 1 of 2 quoted in {doc}"));
    assert_eq!(
        (rows[2][4].as_str(), rows[2][5].as_str()),
        ("Monday, May 14, 2001 9:39 AM", "Sanders, Richard")
    );
    assert_eq!(
        (rows[3][5].as_str(), rows[3][6].as_str(), rows[3][9].as_str()),
        ("Haedicke, Mark", "Sanders, Richard", "Raptor")
    );
    assert!(
        rows[3][11..].iter().zip(&rows[1][11..]).all(|(a, b)| a == b),
        "privilege columns repeat"
    );
    // Without the email's text its quoted messages cannot be listed: the log is refused rather
    // than written without them.
    let blake3 = s.items().iter().find(|i| i["control_number"] == doc.as_str()).unwrap()["blake3"]
        .as_str()
        .unwrap()
        .to_owned();
    let saved = s.hide_text(&blake3);
    let again = s.path("log2.csv");
    let err = refused(&s.run(&[
        "export",
        "privlog",
        "--out",
        again.to_str().unwrap(),
        "--expand-threads",
    ]));
    assert!(err.contains(&format!("{doc}: its extracted text is missing")), "{err}");
    assert!(!again.exists());
    s.restore_text(saved);
}

/// A small reader of the DAT format (FORMATS.md §1.1): BOM, þ-qualified fields separated by
/// 0x14, ® for a line break, doubled þ for a þ, CRLF after every record.
fn read_dat(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap().strip_prefix('\u{feff}').expect("a UTF-8 BOM");
    let (mut records, mut fields, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut inside = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            'þ' if inside && chars.peek() == Some(&'þ') => {
                chars.next();
                field.push('þ');
            }
            'þ' => inside = !inside,
            '®' if inside => field.push('\n'),
            '\u{14}' if !inside => fields.push(std::mem::take(&mut field)),
            '\r' if !inside => {
                assert_eq!(chars.next(), Some('\n'), "records end with CRLF");
                fields.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut fields));
            }
            c => {
                assert!(inside, "text outside a qualifier: {c:?}");
                field.push(c);
            }
        }
    }
    assert!(fields.is_empty() && field.is_empty() && !inside, "the last record ends with CRLF");
    records
}

#[test]
fn dat_values_with_delimiters_quotes_and_line_breaks_read_back() {
    let header = ["A", "B", "C"];
    let rows = vec![
        vec!["þ".to_owned(), "x\u{14}y".to_owned(), "line 1\r\nline 2\nline 3".to_owned()],
        vec![String::new(), "þþ \"quoted\", þend þ".to_owned(), "a;b\\c".to_owned()],
    ];
    let bytes = quarry_case::dat_bytes(&header, &rows);
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF\xC3\xBEA\xC3\xBE\x14\xC3\xBEB\xC3\xBE\x14"),
        "header bytes"
    );
    assert!(bytes.ends_with(b"\xC3\xBE\r\n"));
    let back = read_dat(&bytes);
    assert_eq!(back[0], header);
    assert_eq!(back[1], ["þ", "x\u{14}y", "line 1\nline 2\nline 3"]);
    assert_eq!(back[2], rows[1]);
}

/// Two families responsive (one with a withheld attachment), one message not responsive, and a
/// loose file whose name holds the DAT's delimiters, a quote and a line break.
fn production_case() -> (Scratch, Vec<String>) {
    let s = collection(2);
    let tricky = "memo þ\u{14} \"draft\", v2\nfinal.txt";
    s.file(&format!("loose/{tricky}"), b"loose memo about the pipeline\n");
    s.ingest("alpha", &[&s.path("loose")], &[]);
    let docs = messages(&s);
    let loose = s
        .items()
        .iter()
        .find(|i| i["locator"].as_str().unwrap().ends_with("final.txt"))
        .map(|i| i["control_number"].as_str().unwrap().to_owned())
        .unwrap();
    code(&s, &[&docs[0], &docs[2]], &["responsiveness=responsive"], true);
    code(&s, &[&attachment_of(&s, &docs[0])], PRIVILEGED, false);
    code(&s, &[&docs[1]], &["responsiveness=not-responsive"], true);
    code(&s, &[&docs[3]], &["responsiveness=needs-further-review"], true);
    code(&s, &[&loose], &["responsiveness=responsive"], false);
    (s, vec![docs[0].clone(), docs[2].clone(), loose])
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walk(dir) {
        let rel = entry.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        out.insert(rel, std::fs::read(&entry).unwrap());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn production_writes_bates_natives_text_slip_sheets_and_a_dat_that_reads_back() {
    let (s, produced) = production_case();
    // The same case copied before producing: a second production must give the same bytes.
    copy_dir(&s.case(), &s.path("copy"));
    let out = s.path("prod");
    let report = s.json(&[
        "export",
        "production",
        "--out",
        out.to_str().unwrap(),
        "--prefix",
        "ABC",
        "--start",
        "1",
        "--json",
    ]);
    // Two families of two, and the loose file.
    assert_eq!(
        (u(&report, "documents"), u(&report, "families"), u(&report, "slip_sheets")),
        (5, 3, 1)
    );
    assert_eq!(
        (report["first"].as_str(), report["last"].as_str()),
        (Some("ABC0000001"), Some("ABC0000005"))
    );
    let dat = std::fs::read(out.join("DATA/loadfile.dat")).unwrap();
    assert_eq!(report["dat_blake3"], blake3_hex(&dat));
    let records = read_dat(&dat);
    assert_eq!(records[0], quarry_case::DEFAULT_DAT_FIELDS);
    assert_eq!(records.len(), 6);
    let rows: Vec<BTreeMap<&str, &str>> = records[1..]
        .iter()
        .map(|r| {
            quarry_case::DEFAULT_DAT_FIELDS
                .iter()
                .copied()
                .zip(r.iter().map(String::as_str))
                .collect()
        })
        .collect();
    let bates: Vec<&str> = rows.iter().map(|r| r["BEGBATES"]).collect();
    assert_eq!(bates, ["ABC0000001", "ABC0000002", "ABC0000003", "ABC0000004", "ABC0000005"]);
    // The first family: the message, then its withheld attachment as a slip sheet.
    let items = s.items();
    let item =
        |control: &str| items.iter().find(|i| i["control_number"] == control).unwrap().clone();
    let message = item(&produced[0]);
    assert_eq!((rows[0]["BEGATTACH"], rows[0]["ENDATTACH"]), ("ABC0000001", "ABC0000002"));
    assert_eq!((rows[1]["BEGATTACH"], rows[1]["ENDATTACH"]), ("ABC0000001", "ABC0000002"));
    assert_eq!(rows[0]["FROM"], "Ann <ann@example.com>");
    assert_eq!(rows[0]["SUBJECT"], "Report 0");
    assert_eq!(rows[0]["DATESENT"], "12/12/2000");
    assert_eq!(rows[0]["FILEEXT"], "eml");
    assert_eq!(rows[0]["NATIVEPATH"], "NATIVES\\0001\\ABC0000001.eml");
    assert_eq!(rows[0]["TEXTPATH"], "TEXT\\0001\\ABC0000001.txt");
    assert_eq!(rows[0]["MD5HASH"].len(), 32);
    let native = std::fs::read(out.join("NATIVES/0001/ABC0000001.eml")).unwrap();
    assert_eq!(blake3_hex(&native), message["blake3"].as_str().unwrap());
    assert_eq!(rows[1]["FROM"], "", "nothing of a withheld document is disclosed");
    assert_eq!(rows[1]["FILENAME"], "");
    assert_eq!(rows[1]["NATIVEPATH"], "NATIVES\\0001\\ABC0000002.pdf");
    let slip = std::fs::read(out.join("NATIVES/0001/ABC0000002.pdf")).unwrap();
    assert!(slip.starts_with(b"%PDF-1.4") && String::from_utf8_lossy(&slip).contains("ABC0000002"));
    let slip_text = std::fs::read_to_string(out.join("TEXT/0001/ABC0000002.txt")).unwrap();
    assert!(slip_text.contains(quarry_case::SLIP_SHEET_TEXT));
    // The loose file's name, with þ, 0x14, a quote, a comma and a line break, reads back.
    assert_eq!(rows[4]["FILENAME"], "memo þ\u{14} \"draft\", v2\nfinal.txt");
    assert_eq!(rows[4]["ALL_CUSTODIANS"], "alpha");
    // The manifest lists every file with its hash.
    let files = files_under(&out);
    let manifest =
        quarry_case::parse_csv(std::str::from_utf8(&files["DATA/manifest.csv"]).unwrap());
    assert_eq!(manifest.len() - 1, files.len() - 1);
    for line in &manifest[1..] {
        assert_eq!(blake3_hex(&files[&line[0]]), line[2], "{}", line[0]);
    }
    // The same case produces the same bytes.
    let copy_out = s.path("prod-copy");
    let copy = s.path("copy");
    let args = [
        "--case",
        copy.to_str().unwrap(),
        "export",
        "production",
        "--out",
        copy_out.to_str().unwrap(),
        "--prefix",
        "ABC",
    ];
    ok(&s.quarry(&args));
    assert!(files_under(&copy_out) == files, "a second production of the same case differs");
    // Recorded: the audit log holds the hashes; the privilege log shows the slip sheet's Bates.
    let entry = &audit(&s, &["--action", "export.production"])[0];
    assert_eq!(entry["detail"]["dat_blake3"], blake3_hex(&dat));
    let log = s.path("log.csv");
    ok(&s.run(&["export", "privlog", "--out", log.to_str().unwrap()]));
    assert_eq!(csv_rows(&log)[1][1], "ABC0000002");
}

#[test]
fn production_quality_control_refuses_and_writes_nothing() {
    let (s, produced) = production_case();
    let out = s.path("prod");
    let produce = |start: &str, extra: &[&str]| {
        let mut args = vec![
            "export",
            "production",
            "--out",
            out.to_str().unwrap(),
            "--prefix",
            "ABC",
            "--start",
            start,
        ];
        args.extend_from_slice(extra);
        s.run(&args)
    };
    let refuse = |start: &str, extra: &[&str], needle: &str| {
        let err = refused(&produce(start, extra));
        assert!(err.contains("quality control failed") && err.contains(needle), "{err}");
        assert!(!out.exists(), "written despite a failed check");
    };
    // Width: 5 documents do not fit under 99999 in 5 digits from 99998.
    refuse("99998", &["--digits", "5"], "do not fit in 5 digits");
    // A privileged document coded for redaction would be produced unredacted.
    code(
        &s,
        &[&produced[2]],
        &[
            "privilege=work-product",
            "privilege_basis=Notes for counsel",
            "privilege_treatment=redact",
        ],
        false,
    );
    refuse("1", &[], &format!("{}: coded redact", produced[2]));
    code(
        &s,
        &[&produced[2]],
        &["privilege=not-privileged", "privilege_treatment=", "privilege_basis="],
        false,
    );
    // A privileged call with no treatment (an edited layout allows it).
    relax_layout(&s);
    code(&s, &[&produced[2]], &["privilege=attorney-client"], false);
    refuse(
        "1",
        &[],
        &format!("{}: a privileged document (attorney-client) would be produced", produced[2]),
    );
    code(&s, &[&produced[2]], &["privilege=not-privileged"], false);
    // An attachment nobody reviewed.
    let attachment = attachment_of(&s, &produced[1]);
    code(&s, &[&attachment], &["responsiveness="], false);
    refuse("1", &[], &format!("{attachment}: not reviewed"));
    code(&s, &[&attachment], &["responsiveness=responsive"], false);
    // A native gone from the store breaks its family.
    let blake3 =
        s.items().iter().find(|i| i["control_number"] == attachment.as_str()).unwrap()["blake3"]
            .as_str()
            .unwrap()
            .to_owned();
    let stored = s.case().join("natives").join(&blake3[..2]).join(&blake3);
    let keep = std::fs::read(&stored).unwrap();
    std::fs::remove_file(&stored).unwrap();
    refuse("1", &[], "would be broken");
    std::fs::write(&stored, keep).unwrap();
    // A text damaged in the store would be produced empty, or stop the production midway.
    let loose =
        s.items().iter().find(|i| i["control_number"] == produced[2].as_str()).unwrap()["blake3"]
            .as_str()
            .unwrap()
            .to_owned();
    let saved = s.hide_text(&loose);
    refuse("1", &[], &format!("{}: its extracted text is missing", produced[2]));
    s.restore_text(saved);
    let packs = s.case().join("text").join("packs");
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&packs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    s.change_text_letter(&loose);
    refuse("1", &[], &format!("{}: its extracted text cannot be read", produced[2]));
    for (path, bytes) in before {
        std::fs::write(path, bytes).unwrap();
    }
    // Another custodian's copy of a produced document, withheld.
    s.file("copy/0.eml", &crate::review::family_email(0, "beta"));
    s.ingest("gamma", &[&s.path("copy")], &[]);
    let copy = s.items().last().unwrap()["parent"].as_str().unwrap().to_owned();
    code(&s, &[&copy], &["responsiveness=responsive"], false);
    code(&s, &[&copy], PRIVILEGED, false);
    refuse(
        "1",
        &[],
        &format!("{}: its duplicate {copy} is coded privileged or withheld", produced[1]),
    );
    code(
        &s,
        &[&copy],
        &["privilege=not-privileged", "privilege_treatment=", "privilege_basis="],
        false,
    );
    // Clean: it goes through. The next production may not reuse its numbers.
    ok(&produce("1", &[]));
    let again = s.path("prod2");
    let err = refused(&s.run(&[
        "export",
        "production",
        "--out",
        again.to_str().unwrap(),
        "--prefix",
        "ABC",
        "--start",
        "3",
        "--reproduce",
    ]));
    assert!(
        err.contains("overlap production 1 (ABC0000001–ABC0000005)") && err.contains("start at 6"),
        "{err}"
    );
    assert!(!again.exists());
    ok(&s.run(&[
        "export",
        "production",
        "--out",
        again.to_str().unwrap(),
        "--prefix",
        "ABC",
        "--start",
        "6",
        "--reproduce",
    ]));
}

/// Messages `m/0.eml`, `m/1.eml`, ... about gas, one per date (`None`: no Date header).
fn dated_emails(s: &Scratch, dates: &[Option<&str>]) {
    for (n, date) in dates.iter().enumerate() {
        let date = date.map(|d| format!("Date: {d}\n")).unwrap_or_default();
        s.file(
            &format!("m/{n}.eml"),
            format!("From: a{n}@x.com\nTo: b@x.com\nSubject: Event {n}\n{date}Message-ID: <{n}@x>\n\nBody {n} about gas.\n").as_bytes(),
        );
    }
}

#[test]
fn chronology_lists_hot_documents_in_date_order() {
    let s = Scratch::new();
    dated_emails(
        &s,
        &[
            Some("Tue, 12 Dec 2000 04:03:00 -0800"),
            Some("Mon, 11 Dec 2000 09:00:00 -0800"),
            Some("Wed, 13 Dec 2000 10:00:00 -0800"),
        ],
    );
    s.ingest("alpha", &[&s.path("m")], &[]);
    let docs = messages(&s);
    let toml = std::fs::read_to_string(s.case().join("case.toml")).unwrap();
    let toml = toml.replacen(
        "kind = \"multi\"\n",
        "kind = \"multi\"\nchoices = [\"pricing\", \"storage\"]\n",
        1,
    );
    std::fs::write(s.case().join("case.toml"), toml).unwrap();
    code(&s, &[&docs[0], &docs[1]], &["hot=yes", "issues=pricing,storage"], false);
    code(&s, &[&docs[1]], &["note=Key admission"], false);
    let out = s.path("chron.csv");
    ok(&s.run(&["export", "chronology", "--out", out.to_str().unwrap()]));
    let rows = csv_rows(&out);
    assert_eq!(rows[0], quarry_case::CHRONOLOGY_COLUMNS);
    let order: Vec<&str> = rows[1..].iter().map(|r| r[5].as_str()).collect();
    assert_eq!(order, [docs[1].as_str(), docs[0].as_str()], "oldest first");
    assert_eq!(rows[1][0], "2000-12-11T17:00:00Z");
    assert_eq!((rows[1][7].as_str(), rows[1][8].as_str()), ("pricing; storage", "Key admission"));
    let xlsx = s.path("chron.xlsx");
    ok(&s.run(&["export", "chronology", "--out", xlsx.to_str().unwrap()]));
    assert_eq!(xlsx_rows(&xlsx), rows);
    let again = s.path("again.xlsx");
    ok(&s.run(&["export", "chronology", "--out", again.to_str().unwrap()]));
    assert_eq!(
        std::fs::read(&xlsx).unwrap(),
        std::fs::read(&again).unwrap(),
        "same case, same bytes"
    );
    let by_query = s.path("q.csv");
    ok(&s.run(&["export", "chronology", "--out", by_query.to_str().unwrap(), "--query", "gas"]));
    assert_eq!(csv_rows(&by_query).len(), 4);
}

/// Exports to folders and files whose names are not UTF-8 are written and recorded in the audit
/// log with the name's bad bytes as `\xNN`; the record once panicked after the files were
/// written (a production then left its Bates range unrecorded).
#[test]
fn exports_to_names_that_are_not_utf8_are_written_and_audited() {
    use std::os::unix::ffi::OsStrExt;
    let (s, _) = production_case();
    let named = |rel: &[u8]| s.path("out").join(std::ffi::OsStr::from_bytes(rel));
    std::fs::create_dir_all(s.path("out")).unwrap();
    let run = |args: &[&str], out: &Path, more: &[&str]| {
        let mut cmd = s.command(args);
        cmd.arg(out).args(more).env("QUARRY_REVIEWER", "rev");
        ok(&cmd.output().unwrap());
    };
    run(&["export", "production", "--out"], &named(b"prod\xe9"), &["--prefix", "ABC"]);
    run(&["export", "text", "--out"], &named(b"text\xe9"), &[]);
    run(&["export", "chronology", "--query", "*", "--out"], &named(b"chron\xe9.csv"), &[]);
    run(&["export", "privlog", "--out"], &named(b"log\xe9.csv"), &[]);
    let mut diff = s.command(&["export", "privlog", "--json", "--out"]);
    diff.arg(named(b"log2.csv")).arg("--diff-from").arg(named(b"log\xe9.csv"));
    let report: serde_json::Value = serde_json::from_str(&ok(&diff.output().unwrap())).unwrap();
    assert!(report["out"].as_str().unwrap().ends_with("/out/log2.csv"), "{report}");
    assert!(named(b"prod\xe9/DATA/loadfile.dat").is_file());
    assert!(named(b"text\xe9/index.csv").is_file());
    for (action, name) in [
        ("export.production", "prod\\xE9"),
        ("export.text", "text\\xE9"),
        ("export.chronology", "chron\\xE9.csv"),
        ("export.privlog", "log\\xE9.csv"),
    ] {
        let entries = audit(&s, &["--action", action]);
        let out = entries[0]["detail"]["out"].as_str().unwrap_or_else(|| panic!("{entries:?}"));
        assert!(out.ends_with(&format!("/out/{name}")), "{action}: {out}");
    }
    let diffed = &audit(&s, &["--action", "export.privlog"])[1]["detail"];
    assert!(diffed["diff_from"].as_str().unwrap().ends_with("/out/log\\xE9.csv"), "{diffed}");
}

/// A message to a distribution list names more recipients than an XLSX cell holds (32,767
/// characters): the XLSX log cuts that value with a note and says so, the CSV keeps it whole.
/// The XLSX writer refused such a cell, and the whole log was then not written.
#[test]
fn a_recipient_list_longer_than_a_cell_is_cut_with_a_note_in_xlsx_only() {
    let s = Scratch::new();
    let to: Vec<String> =
        (0..2000).map(|n| format!("Person {n} <person.{n}@example.com>")).collect();
    let message = format!(
        "From: Counsel <counsel@example.com>\nTo: {}\nSubject: All hands\n\
         Date: Tue, 12 Dec 2000 04:03:00 -0800\nMessage-ID: <all@test>\n\nLegal advice to everyone.\n",
        to.join(",\n ")
    );
    s.file("in/all.eml", message.as_bytes());
    s.ingest("alpha", &[&s.path("in")], &[]);
    let doc = s.items()[0]["control_number"].as_str().unwrap().to_owned();
    code(&s, &[&doc], PRIVILEGED, false);
    let csv = s.path("log.csv");
    ok(&as_reviewer(&s, "rev", &["export", "privlog", "--out", csv.to_str().unwrap()]));
    let whole = csv_rows(&csv)[1][6].clone();
    assert_eq!(whole, to.join("; "), "the CSV holds every recipient");
    assert!(whole.len() > quarry_case::XLSX_CELL_LIMIT);
    let xlsx = s.path("log.xlsx");
    let out = as_reviewer(&s, "rev", &["export", "privlog", "--out", xlsx.to_str().unwrap()]);
    ok(&out);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(warned.contains("1 value(s) longer") && warned.contains("PRIV-0001 (TO)"), "{warned}");
    let cell = xlsx_rows(&xlsx)[1][6].clone();
    assert!(cell.encode_utf16().count() <= quarry_case::XLSX_CELL_LIMIT, "{}", cell.len());
    assert!(cell.ends_with("the CSV export holds it whole]"), "{}", &cell[cell.len() - 200..]);
    assert!(whole.starts_with(cell.split(" [... cut").next().unwrap()));
    // Against that XLSX log, the same log has no change: the cut value compares as cut.
    let again = s.path("again.csv");
    let diff = ["export", "privlog", "--json", "--out", again.to_str().unwrap(), "--diff-from"];
    let mut diff: Vec<&str> = diff.to_vec();
    diff.push(xlsx.to_str().unwrap());
    let report: serde_json::Value =
        serde_json::from_str(&ok(&as_reviewer(&s, "rev", &diff))).unwrap();
    assert_eq!(report["diff"]["changed"], serde_json::json!([]), "{report}");
}

/// A production is written file by file, not held in memory. Three natives of 40 MB each are
/// produced by a process held to 120 MB of address space (`ulimit -v`): the whole production,
/// once built in memory before anything was written, does not fit beside the program.
#[test]
fn a_production_larger_than_its_memory_is_written_file_by_file() {
    let s = Scratch::new();
    // A mebibyte of noise (no text to extract), repeated, behind a byte that tells them apart.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..1 << 17)
        .flat_map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed.to_le_bytes()
        })
        .collect();
    let natives: Vec<Vec<u8>> = (0..3u8)
        .map(|n| {
            let mut native = Vec::with_capacity(40_000_000);
            native.push(n);
            while native.len() < 40_000_000 {
                let more = noise.len().min(40_000_000 - native.len());
                native.extend_from_slice(&noise[..more]);
            }
            native
        })
        .collect();
    for (n, bytes) in natives.iter().enumerate() {
        s.file(&format!("in/blob{n}.bin"), bytes);
    }
    s.ingest("alpha", &[&s.path("in")], &[]);
    let docs: Vec<String> =
        s.items().iter().map(|i| i["control_number"].as_str().unwrap().to_owned()).collect();
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    code(&s, &docs, &["responsiveness=responsive"], false);
    let out = s.path("prod");
    let limited = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 122880 && exec \"$0\" \"$@\"", crate::common::BIN, "--case"])
        .arg(s.case())
        .args(["export", "production", "--prefix", "ABC", "--out"])
        .arg(&out)
        .env("QUARRY_REVIEWER", "rev")
        .output()
        .unwrap();
    ok(&limited);
    for (n, bytes) in natives.iter().enumerate() {
        let produced =
            std::fs::read(out.join(format!("NATIVES/0001/ABC{:07}.bin", n + 1))).unwrap();
        assert!(produced == *bytes, "native {n}");
    }
    let manifest = std::fs::read_to_string(out.join("DATA/manifest.csv")).unwrap();
    let blake3 = s.items()[0]["blake3"].as_str().unwrap().to_owned();
    let line = format!("NATIVES/0001/ABC0000001.bin,40000000,{blake3}");
    assert!(manifest.contains(&line), "{manifest}");
    // A stored native changed on disk is found as it is copied: the production stops, and its
    // staging folder, half written by then, is removed.
    let stored = s.case().join("natives").join(&blake3[..2]).join(&blake3);
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[39_999_999] ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    let again = s.path("prod2");
    let produce = ["export", "production", "--prefix", "ABC", "--reproduce", "--out"];
    let out = as_reviewer(&s, "rev", &[&produce[..], &[again.to_str().unwrap()]].concat());
    assert!(refused(&out).contains(&blake3), "{}", String::from_utf8_lossy(&out.stderr));
    let left: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("prod2"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// With `exports.time_zone` set, the privilege log, the chronology and the DAT give dates in
/// that zone (an evening email from California is not dated the next day, as in UTC), the
/// audit log records the zone, and a name that is no zone is refused when the case opens.
#[test]
fn exports_give_dates_in_the_case_time_zone() {
    let s = Scratch::new();
    dated_emails(
        &s,
        &[
            // 05:30 the next day in UTC; Pacific standard time.
            Some("Mon, 11 Dec 2000 21:30:00 -0800"),
            // Midnight in California.
            Some("Tue, 12 Dec 2000 08:00:00 +0000"),
            // 03:00 the next day in UTC; Pacific daylight time.
            Some("Mon, 14 May 2001 20:00:00 -0700"),
        ],
    );
    s.ingest("alpha", &[&s.path("m")], &[]);
    let docs = messages(&s);
    code(&s, &docs.iter().map(String::as_str).collect::<Vec<_>>(), &["hot=yes"], false);
    code(&s, &[&docs[0]], PRIVILEGED, false);
    code(&s, &[&docs[1], &docs[2]], &["responsiveness=responsive"], false);
    let config = s.case().join("case.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    assert!(toml.contains("[exports]\ntime_zone = \"UTC\"\n"), "{toml}");
    let export = |zone: &str, tag: &str| {
        std::fs::write(&config, toml.replace("\"UTC\"", &format!("\"{zone}\""))).unwrap();
        let chronology = s.path(&format!("chronology-{tag}.csv"));
        ok(&s.run(&["export", "chronology", "--out", chronology.to_str().unwrap()]));
        let privlog = s.path(&format!("privlog-{tag}.csv"));
        ok(&s.run(&["export", "privlog", "--out", privlog.to_str().unwrap()]));
        let production = s.path(&format!("production-{tag}"));
        let prefix = format!("P{tag}");
        let args = ["--prefix", &prefix, "--reproduce"];
        let mut command = vec!["export", "production", "--out", production.to_str().unwrap()];
        command.extend_from_slice(&args);
        ok(&s.run(&command));
        let dat = read_dat(&std::fs::read(production.join("DATA/loadfile.dat")).unwrap());
        let sent = dat[0].iter().position(|c| c == "DATESENT").unwrap();
        (
            csv_rows(&chronology)[1..].iter().map(|r| r[0].clone()).collect::<Vec<_>>(),
            csv_rows(&privlog)[1][4].clone(),
            dat[1..].iter().map(|r| r[sent].clone()).collect::<Vec<_>>(),
        )
    };
    let (chronology, privlog, dat) = export("UTC", "utc");
    assert_eq!(
        chronology,
        ["2000-12-12T05:30:00Z", "2000-12-12T08:00:00Z", "2001-05-15T03:00:00Z"]
    );
    assert_eq!(privlog, "2000-12-12T05:30:00Z");
    assert_eq!(dat, ["12/12/2000", "05/15/2001"]);
    let (chronology, privlog, dat) = export("America/Los_Angeles", "la");
    assert_eq!(
        chronology,
        ["2000-12-11T21:30:00-08:00", "2000-12-12T00:00:00-08:00", "2001-05-14T20:00:00-07:00"]
    );
    assert_eq!(privlog, "2000-12-11T21:30:00-08:00");
    assert_eq!(dat, ["12/12/2000", "05/14/2001"]);
    let zones: Vec<(String, String)> = audit(&s, &[])
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("export."))
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["detail"]["time_zone"].to_string()))
        .collect();
    assert_eq!(zones.len(), 6, "{zones:?}");
    assert!(zones[..3].iter().all(|(_, z)| z == "\"UTC\""), "{zones:?}");
    assert!(zones[3..].iter().all(|(_, z)| z == "\"America/Los_Angeles\""), "{zones:?}");
    // Not a time zone: refused before anything runs, saying what to write.
    std::fs::write(&config, toml.replace("\"UTC\"", "\"Pacific\"")).unwrap();
    let message = refused(&s.run(&["report", "summary"]));
    assert!(
        message.contains("\"Pacific\" is not a time zone") && message.contains("America/New_York"),
        "{message}"
    );
}

/// An email without a sent date is undated in the chronology, the privilege log and searches:
/// its file's times are those of the copy collected (here, today), not the message's. A loose
/// document keeps its file's date.
#[test]
fn an_email_without_a_sent_date_is_undated() {
    let s = Scratch::new();
    dated_emails(
        &s,
        &[Some("Mon, 11 Dec 2000 09:00:00 -0800"), None, Some("30 Feb 2001 10:00 +0000")],
    );
    s.file("m/memo.txt", b"Gas memo.\n");
    s.ingest("alpha", &[&s.path("m")], &[]);
    let docs = messages(&s);
    code(&s, &docs.iter().map(String::as_str).collect::<Vec<_>>(), &["hot=yes"], false);
    code(&s, &docs.iter().map(String::as_str).collect::<Vec<_>>(), PRIVILEGED, false);
    let chronology = s.path("chronology.csv");
    ok(&s.run(&["export", "chronology", "--out", chronology.to_str().unwrap()]));
    let rows = csv_rows(&chronology);
    let dated: Vec<(&str, &str)> =
        rows[1..].iter().map(|r| (r[3].as_str(), r[0].as_str())).collect();
    assert_eq!(dated, [("Event 0", "2000-12-11T17:00:00Z"), ("Event 1", ""), ("Event 2", "")]);
    let privlog = s.path("privlog.csv");
    ok(&s.run(&["export", "privlog", "--out", privlog.to_str().unwrap()]));
    let log = csv_rows(&privlog);
    let dates: Vec<&str> = log[1..].iter().map(|r| r[4].as_str()).collect();
    assert_eq!(dates, ["2000-12-11T17:00:00Z", "", ""]);
    let today = s.json(&["search", "--format", "json", "--all", "date:[2020-01-01 TO *]"]);
    let hits: Vec<&str> =
        today["hits"].as_array().unwrap().iter().map(|h| h["locator"].as_str().unwrap()).collect();
    assert_eq!(hits, ["m/memo.txt"]);
}

/// Sets case.toml's `[exports]`: the time zone and the DAT's fields.
fn set_exports(s: &Scratch, time_zone: &str, fields: &[&str]) {
    let config = s.case().join("case.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    // `[exports]` is the last table of case.toml as quarry writes it.
    let start = toml.find("\n[exports]\n").unwrap() + 1;
    let listed = fields.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", ");
    let exports = format!("[exports]\ntime_zone = \"{time_zone}\"\ndat_fields = [{listed}]\n");
    std::fs::write(&config, format!("{}{exports}", &toml[..start])).unwrap();
}

/// The DAT carries the fields case.toml lists, in its order and under its column names:
/// family links (PARENTID, ATTACHIDS), time and zone, file dates and size, Message-ID; a slip
/// sheet fills only what places it. A field not in the catalog is refused, naming the fields.
#[test]
fn the_dat_carries_the_fields_the_case_lists() {
    let (s, produced) = production_case();
    // Another custodian's copy of the first message: a duplicate under the global view.
    s.file("copy/000.eml", &crate::review::family_email(0, "alpha"));
    s.ingest("gamma", &[&s.path("copy")], &[]);
    let fields = [
        "BEGBATES=ProdBeg",
        "PARENTID",
        "ATTACHIDS",
        "CONTROL_NUMBER",
        "FROM",
        "DATESENT=Date Sent",
        "TIMESENT",
        "TIMEZONE",
        "DATEMODIFIED",
        "FILENAME",
        "FILESIZE",
        "MESSAGEID",
        "NATIVEPATH",
        "ALL_PATHS",
        "DUP_COUNT",
    ];
    set_exports(&s, "America/New_York", &fields);
    let out = s.path("prod");
    ok(&s.run(&["export", "production", "--out", out.to_str().unwrap(), "--prefix", "ABC"]));
    let records = read_dat(&std::fs::read(out.join("DATA/loadfile.dat")).unwrap());
    let header: Vec<&str> = records[0].iter().map(String::as_str).collect();
    assert_eq!(
        header,
        [
            "ProdBeg",
            "PARENTID",
            "ATTACHIDS",
            "CONTROL_NUMBER",
            "FROM",
            "Date Sent",
            "TIMESENT",
            "TIMEZONE",
            "DATEMODIFIED",
            "FILENAME",
            "FILESIZE",
            "MESSAGEID",
            "NATIVEPATH",
            "ALL_PATHS",
            "DUP_COUNT"
        ]
    );
    let rows: Vec<BTreeMap<&str, &str>> = records[1..]
        .iter()
        .map(|r| header.iter().copied().zip(r.iter().map(String::as_str)).collect())
        .collect();
    // The first family: the message and its withheld attachment, a slip sheet.
    let (message, slip) = (&rows[0], &rows[1]);
    assert_eq!(
        (message["ProdBeg"], message["PARENTID"], message["ATTACHIDS"]),
        ("ABC0000001", "", "ABC0000002")
    );
    assert_eq!(message["CONTROL_NUMBER"], produced[0]);
    // Sent 04:03 in California: 07:03 in New York, on the same day.
    assert_eq!((message["Date Sent"], message["TIMESENT"]), ("12/12/2000", "07:03:00"));
    assert_eq!(message["TIMEZONE"], "America/New_York");
    assert_eq!(message["MESSAGEID"], "<0.alpha@test>");
    assert_eq!((message["ALL_PATHS"], message["DUP_COUNT"]), ("alpha/000.eml;copy/000.eml", "1"));
    assert_eq!((rows[2]["ALL_PATHS"], rows[2]["DUP_COUNT"]), ("beta/000.eml", "0"));
    let native = std::fs::read(out.join("NATIVES/0001/ABC0000001.eml")).unwrap();
    assert_eq!(message["FILESIZE"], native.len().to_string());
    let item = s.items().into_iter().find(|i| i["control_number"] == produced[0]).unwrap();
    // The file's time (today's): its day in New York.
    let modified = item["modified"].as_str().unwrap();
    let new_york = quarry_case::ExportZone::named("America/New_York").unwrap();
    assert_eq!(message["DATEMODIFIED"], new_york.us_date(modified));
    assert_eq!(
        (slip["ProdBeg"], slip["PARENTID"], slip["ATTACHIDS"]),
        ("ABC0000002", "ABC0000001", "")
    );
    assert_eq!(slip["TIMEZONE"], "America/New_York");
    for withheld in [
        "CONTROL_NUMBER",
        "FROM",
        "Date Sent",
        "FILENAME",
        "FILESIZE",
        "MESSAGEID",
        "ALL_PATHS",
        "DUP_COUNT",
    ] {
        assert_eq!(slip[withheld], "", "{withheld} of a withheld document");
    }
    assert_eq!(slip["NATIVEPATH"], "NATIVES\\0001\\ABC0000002.pdf");
    // A field that is not in the catalog stops the case from opening, naming the fields.
    set_exports(&s, "UTC", &["BEGBATES", "DATE_SENT"]);
    let message = refused(&s.run(&["report", "summary"]));
    assert!(
        message.contains("\"DATE_SENT\" is not a DAT field; the fields are BEGBATES, ENDBATES"),
        "{message}"
    );
}

/// Rolling productions: the next production under a prefix continues its Bates numbers and
/// carries only families the series has not produced; a slip-sheeted document whose
/// withholding is lifted is named, since its family is not produced again unless asked;
/// --reproduce produces again; another prefix starts a series of its own.
#[test]
fn a_rolling_production_carries_only_what_is_new() {
    let (s, produced) = production_case();
    let docs = messages(&s);
    let produce = |out: &str, extra: &[&str]| {
        let path = s.path(out);
        let mut args = vec!["export", "production", "--json", "--prefix", "ABC", "--out"];
        args.push(path.to_str().unwrap());
        args.extend_from_slice(extra);
        s.run(&args)
    };
    let bates = |out: &std::process::Output| -> (Value, Vec<(String, String)>) {
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rows = report["produced"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["bates"].as_str().unwrap().to_owned(),
                    p["control_number"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (report, rows)
    };
    let first = produce("vol1", &[]);
    ok(&first);
    let (report, _) = bates(&first);
    assert_eq!((u(&report, "documents"), u(&report, "already_produced")), (5, 0));
    // Nothing new: refused, saying why.
    let err = refused(&produce("vol2", &[]));
    assert!(err.contains("the 5 document(s) coded responsive and not withheld (within the query) were produced before; --reproduce"), "{err}");
    // A family coded responsive since: produced alone, numbered after the first volume.
    code(&s, &[&docs[1]], &["responsiveness=responsive"], true);
    let second = produce("vol2", &[]);
    ok(&second);
    let (report, rows) = bates(&second);
    assert_eq!(u(&report, "already_produced"), 5);
    let attachment = attachment_of(&s, &docs[1]);
    assert_eq!(
        rows,
        [("ABC0000006".to_owned(), docs[1].clone()), ("ABC0000007".to_owned(), attachment)]
    );
    assert_eq!(audit(&s, &["--action", "export.production"])[1]["detail"]["already_produced"], 5);
    // The first family's slip-sheeted attachment is no longer withheld: named, not produced.
    let slipped = attachment_of(&s, &produced[0]);
    code(
        &s,
        &[&slipped],
        &["privilege=not-privileged", "privilege_treatment=", "privilege_basis="],
        false,
    );
    code(&s, &[&docs[3]], &["responsiveness=responsive"], true);
    let third = produce("vol3", &[]);
    ok(&third);
    let (report, rows) = bates(&third);
    assert_eq!(
        rows.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(),
        ["ABC0000008", "ABC0000009"]
    );
    let note =
        format!("{slipped} went out as a slip sheet (ABC0000002) and is no longer coded withheld");
    assert!(report["warnings"].to_string().contains(&note), "{report}");
    assert!(String::from_utf8_lossy(&third.stderr).contains(&note));
    // Asked for, everything responsive goes out again under new numbers, the attachment natively.
    let again = produce("vol4", &["--reproduce"]);
    ok(&again);
    let (report, rows) = bates(&again);
    assert_eq!(
        (u(&report, "documents"), u(&report, "slip_sheets"), u(&report, "already_produced")),
        (9, 0, 0)
    );
    assert_eq!(rows[0].0, "ABC0000010");
    // Another prefix is another Bates series (another party, say): it starts from nothing.
    let path = s.path("other");
    let other = s.run(&[
        "export",
        "production",
        "--json",
        "--prefix",
        "XYZ",
        "--out",
        path.to_str().unwrap(),
    ]);
    ok(&other);
    let (report, rows) = bates(&other);
    assert_eq!((u(&report, "documents"), u(&report, "already_produced")), (9, 0));
    assert_eq!(rows[0].0, "XYZ0000001");
}

/// When a message reached the mailbox (its last hop's Received header) is in the email report
/// and, asked for, in the DAT's DATERCVD and TIMERCVD, in the export time zone.
#[test]
fn the_received_date_is_reported_and_produced() {
    let s = Scratch::new();
    s.file(
        "m/in.eml",
        concat!(
            "Received: from relay.example.com by mx.example.com; Tue, 12 Dec 2000 23:30:05 -0500\n",
            "Received: from laptop by relay.example.com; Tue, 12 Dec 2000 23:30:01 -0500\n",
            "From: a@example.com\nTo: b@example.com\nSubject: Late\n",
            "Date: Tue, 12 Dec 2000 20:30:00 -0800\nMessage-ID: <late@x>\n\nGas.\n"
        )
        .as_bytes(),
    );
    s.ingest("alpha", &[&s.path("m")], &[]);
    let emails = s.json(&["report", "emails", "--format", "json"]);
    assert_eq!(emails[0]["received"], "2000-12-13T04:30:05Z");
    let docs = messages(&s);
    let shown = crate::review::show(&s, &docs[0])["metadata"].to_string();
    assert!(shown.contains(r#"["Received (UTC)","2000-12-13T04:30:05Z"]"#), "{shown}");
    code(&s, &[&docs[0]], &["responsiveness=responsive"], false);
    let fields = ["BEGBATES", "DATESENT", "TIMESENT", "DATERCVD", "TIMERCVD"];
    set_exports(&s, "America/New_York", &fields);
    let out = s.path("prod");
    ok(&s.run(&["export", "production", "--out", out.to_str().unwrap(), "--prefix", "ABC"]));
    let records = read_dat(&std::fs::read(out.join("DATA/loadfile.dat")).unwrap());
    assert_eq!(records[1], ["ABC0000001", "12/12/2000", "23:30:00", "12/12/2000", "23:30:05"]);
}

/// Output into a pipe its reader has closed (`quarry export privlog ... | head`) ends the
/// command quietly once the work is done; it used to panic on the first line printed.
#[test]
fn a_closed_output_pipe_is_no_crash() {
    let (s, _) = production_case();
    let log = s.path("log.csv");
    let mut command = s.command(&["export", "privlog", "--out", log.to_str().unwrap()]);
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(log.exists(), "the log is written all the same");
}
