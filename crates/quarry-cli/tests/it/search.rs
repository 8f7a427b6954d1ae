//! `search`, `report terms` and `reindex` on a small collection built by the test.

use crate::common::{Scratch, zip};
use serde_json::Value;

/// Two custodians; a disclaimer both hold (a duplicate), a ZIP family, loose memos.
fn collection() -> Scratch {
    let s = Scratch::new();
    s.file("a/memo1.txt", b"The gas pipeline contract was terminated early.\n");
    s.file("a/memo2.txt", b"Natural gas prices in California went up.\n");
    s.file("a/disclaimer.txt", b"This message is privileged and confidential.\n");
    s.file(
        "a/mail.zip",
        &zip(&[
            ("note.txt", b"The pipeline schedule is attached.\n"),
            ("other.txt", b"Nothing of interest here.\n"),
        ]),
    );
    s.file("b/disclaimer.txt", b"This message is privileged and confidential.\n");
    s.file("b/memo3.txt", b"Pipeline maintenance without any contracts.\n");
    // Distinct modification dates, for the date order.
    for (file, secs) in
        [("a/memo1.txt", 983_404_800), ("a/memo2.txt", 946_684_800), ("b/memo3.txt", 928_195_200)]
    {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        std::fs::File::options().write(true).open(s.path(file)).unwrap().set_modified(at).unwrap();
    }
    let (code, _) = s.ingest("custodian-a", &[&s.path("a")], &[]);
    assert_eq!(code, 0);
    let (code, _) = s.ingest("custodian-b", &[&s.path("b")], &[]);
    assert_eq!(code, 0);
    s
}

fn search(s: &Scratch, args: &[&str]) -> Value {
    let mut all = vec!["search", "--format", "json", "--all"];
    all.extend_from_slice(args);
    s.json(&all)
}

fn controls(result: &Value) -> Vec<String> {
    result["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["control_number"].as_str().unwrap().to_owned())
        .collect()
}

fn locators_in_order(result: &Value) -> Vec<String> {
    result["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["locator"].as_str().unwrap().to_owned())
        .collect()
}

fn locators(result: &Value) -> Vec<String> {
    let mut l: Vec<String> = result["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["locator"].as_str().unwrap().to_owned())
        .collect();
    l.sort();
    l
}

#[test]
fn search_counts_documents_and_families_under_each_dedup_view() {
    let s = collection();
    let pipeline = search(&s, &["--dedup", "none", "pipeline"]);
    assert_eq!(pipeline["documents"], 3);
    assert_eq!(pipeline["families"], 3);
    assert_eq!(locators(&pipeline), ["a/mail.zip//note.txt", "a/memo1.txt", "b/memo3.txt"]);
    let hit = &pipeline["hits"][0];
    assert!(hit["snippet"]["text"].as_str().unwrap().to_lowercase().contains("pipeline"), "{hit}");
    assert_eq!(hit["hit"], true);

    // The disclaimer is one document held by two custodians.
    let none = search(&s, &["--dedup", "none", "\"privileged and confidential\""]);
    assert_eq!(none["documents"], 2);
    let global = search(&s, &["--dedup", "global", "\"privileged and confidential\""]);
    assert_eq!(global["documents"], 1);
    assert_eq!(global["hits"][0]["instances"], 2);
    assert_eq!(
        global["hits"][0]["all_custodians"],
        serde_json::json!(["custodian-a", "custodian-b"])
    );
    let custodial = search(&s, &["--dedup", "custodial", "\"privileged and confidential\""]);
    assert_eq!(custodial["documents"], 2);
    // Fielded: the custodian narrows to one instance.
    let b = search(&s, &["--dedup", "none", "privileged AND custodian:custodian-b"]);
    assert_eq!(locators(&b), ["b/disclaimer.txt"]);
    assert_eq!(b["hits"][0]["all_custodians"], serde_json::json!(["custodian-b"]));
    // Under global dedup, the master found through custodian-b's copy names both holders.
    let b = search(&s, &["--dedup", "global", "privileged AND custodian:custodian-b"]);
    assert_eq!(b["documents"], 1);
    assert_eq!(b["hits"][0]["all_custodians"], serde_json::json!(["custodian-a", "custodian-b"]));

    // --families lists the rest of the ZIP after its hit.
    let family = search(&s, &["--families", "schedule"]);
    assert_eq!(family["documents"], 1);
    let listed: Vec<(String, bool)> = family["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["locator"].as_str().unwrap().to_owned(), h["hit"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            ("a/mail.zip//note.txt".to_owned(), true),
            ("a/mail.zip".to_owned(), false),
            ("a/mail.zip//other.txt".to_owned(), false),
        ]
    );

    // Proximity, wildcard and fuzzy through the command line.
    assert_eq!(search(&s, &["gas w/2 contract"])["documents"], 1);
    assert_eq!(search(&s, &["gas pre/2 contract"])["documents"], 1);
    assert_eq!(search(&s, &["contract pre/2 gas"])["documents"], 0);
    assert_eq!(search(&s, &["contract*"])["documents"], 2);
    assert_eq!(search(&s, &["pipelne~1"])["documents"], 3);

    // Sorted by control number and by date (undated last; these files all carry mtimes).
    let by_control =
        controls(&search(&s, &["--dedup", "none", "--sort", "control", "pipeline OR gas"]));
    let mut sorted = by_control.clone();
    sorted.sort();
    assert_eq!(by_control, sorted);
    let dated = search(&s, &["--dedup", "none", "--sort", "date", "pipeline OR gas"]);
    let dates: Vec<String> = dated["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["date"].as_str().unwrap_or("~").to_owned())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "oldest first");
    let loose: Vec<String> =
        locators_in_order(&dated).into_iter().filter(|l| !l.contains("mail.zip")).collect();
    assert_eq!(loose, ["b/memo3.txt", "a/memo2.txt", "a/memo1.txt"]);

    // --limit caps the list, not the count; ids prints control numbers only.
    let limited = s.json(&["search", "--format", "json", "--limit", "1", "pipeline"]);
    assert_eq!(limited["documents"], 3);
    assert_eq!(controls(&limited).len(), 1);
    let ids = s.run(&["search", "--format", "ids", "--all", "pipeline"]);
    let ids = String::from_utf8(ids.stdout).unwrap();
    assert_eq!(ids.lines().count(), 3);
    assert!(ids.lines().all(|l| l.starts_with("DOC-")), "{ids}");
}

#[test]
fn malformed_queries_point_at_the_problem_and_lowercase_operators_warn() {
    let s = collection();
    let out = s.run(&["search", "(gas AND pipeline"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("column 1") && err.contains("hint: add ')'"), "{err}");

    let out = s.run(&["search", "--format", "json", "gas and pipeline"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: \"and\" at column 5 is searched as a word"), "{err}");
}

#[test]
fn tags_from_the_case_database_combine_with_text() {
    let s = collection();
    let memo2 = search(&s, &["california"]);
    let control = controls(&memo2)[0].clone();
    let case = quarry_case::Case::open(&s.case()).unwrap();
    assert_eq!(case.add_tag("privileged", std::slice::from_ref(&control)).unwrap(), 1);
    let tagged = search(&s, &["--dedup", "none", "tag:privileged OR pipeline"]);
    assert_eq!(tagged["documents"], 4);
    let both = search(&s, &["tag:privileged AND gas"]);
    assert_eq!(controls(&both), [control]);
    let none = search(&s, &["tag:unknown"]);
    assert_eq!(none["documents"], 0);
    assert!(none["warnings"][0].as_str().unwrap().contains("no item carries tag"));
}

#[test]
fn reindex_answers_as_the_index_written_during_ingest() {
    let s = collection();
    let queries =
        ["pipeline", "gas OR privileged", "contract* w/3 gas", "NOT pipeline", "type:zip"];
    let before: Vec<Value> = queries.iter().map(|q| search(&s, &["--dedup", "none", q])).collect();
    let out = s.json(&["reindex", "--json"]);
    assert_eq!(out["indexed"], 8, "every item");
    assert_eq!(out["text_unreadable"], 0);
    let after: Vec<Value> = queries.iter().map(|q| search(&s, &["--dedup", "none", q])).collect();
    assert_eq!(before, after);

    // A run that lost its index (or stopped before committing it) is caught up by the next.
    std::fs::remove_dir_all(s.case().join("index")).unwrap();
    s.file("c/late.txt", b"A late pipeline memo.\n");
    let (code, out) = s.ingest("custodian-c", &[&s.path("c")], &[]);
    assert_eq!(code, 0);
    assert_eq!(out["run"]["items_indexed"], 9, "{out}");
    let found = search(&s, &["--dedup", "none", "pipeline"]);
    // Failed once in CI (3, with 9 items indexed): two workers wrote texts into one pack, fixed
    // in quarry-store (`Packs::take`). Should it fail again, say what the index held.
    let unreadable = search(&s, &["--dedup", "none", "flag:text-unreadable"]);
    let everything = search(&s, &["--dedup", "none", "NOT zzzz"]);
    assert_eq!(
        found["documents"],
        4,
        "hits {:?}; text unreadable {:?}; all {:?}",
        controls(&found),
        controls(&unreadable),
        controls(&everything)
    );
}

#[test]
fn terms_report_counts_unique_hits_and_families_with_lint() {
    let s = collection();
    s.file(
        "terms.txt",
        b"# negotiated terms\npipeline\ncontract*\nprivileged\ngas and oil\n(broken\n\n*ine\n",
    );
    let report = s.json(&[
        "report",
        "terms",
        "--terms",
        "terms.txt",
        "--format",
        "json",
        "--dedup",
        "global",
    ]);
    let rows = report["terms"].as_array().unwrap();
    let row = |term: &str| rows.iter().find(|r| r["term"] == term).unwrap().clone();
    assert_eq!(rows.len(), 6, "comments and blank lines skipped");
    // pipeline: memo1, note, memo3; contract*: memo1, memo3 -> pipeline alone hits note.
    assert_eq!(row("pipeline")["documents"], 3);
    assert_eq!(row("pipeline")["unique"], 0, "*ine also hits every pipeline document");
    assert_eq!(row("contract*")["documents"], 2);
    assert_eq!(row("contract*")["unique"], 0);
    assert_eq!(row("privileged")["documents"], 1, "one document under global dedup");
    assert_eq!(row("privileged")["unique"], 1);
    // Families: the ZIP family of note.txt holds three items.
    assert_eq!(row("pipeline")["with_families"], 5);
    let lowercase = row("gas and oil");
    assert_eq!(lowercase["documents"], 0);
    assert!(lowercase["warnings"][0].as_str().unwrap().contains("searched as a word"));
    let broken = row("(broken");
    assert_eq!(broken["error"], true);
    assert!(broken["warnings"][0].as_str().unwrap().contains("never closed"));
    assert!(row("*ine")["warnings"][0].as_str().unwrap().contains("starts with a wildcard"));
    assert_eq!(report["documents"], 4, "pipeline's 3 and the disclaimer");
    assert_eq!(report["total_documents"], 7, "8 items, the disclaimer twice");

    let table = s.run(&["report", "terms", "--terms", "terms.txt"]);
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("(any term)"), "{table}");

    // The same list saved by Notepad (a byte-order mark, CRLF) or by Excel as "Unicode Text"
    // (UTF-16): the same report, the first term without the mark.
    let text = "# negotiated terms\r\npipeline\r\ncontract*\r\nprivileged\r\ngas and oil\r\n(broken\r\n\r\n*ine\r\n";
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    for (name, bytes) in
        [("bom.txt", [&b"\xef\xbb\xbf"[..], text.as_bytes()].concat()), ("utf16.txt", utf16)]
    {
        s.file(name, &bytes);
        let again =
            s.json(&["report", "terms", "--terms", name, "--format", "json", "--dedup", "global"]);
        assert_eq!(again, report, "{name}");
    }
    s.file("latin1.txt", b"caf\xe9\n");
    let out = s.run(&["report", "terms", "--terms", "latin1.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither UTF-8 nor UTF-16"));
}

#[test]
fn with_indexing_off_at_ingest_the_first_search_indexes_what_is_missing() {
    let s = Scratch::new();
    s.set("at_ingest", "false");
    s.file("a/memo1.txt", b"The gas pipeline contract was terminated early.\n");
    s.file("a/memo2.txt", b"Natural gas prices in California went up.\n");
    let (code, out) = s.ingest("custodian-a", &[&s.path("a")], &[]);
    assert_eq!(code, 0);
    assert_eq!(out["run"]["items_indexed"], 0);
    let out = s.run(&["search", "--format", "json", "gas"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["documents"], 2, "the search caught the index up first");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));

    // While another process holds the index writer, a search says how far behind it is.
    s.file("b/memo3.txt", b"More gas.\n");
    let (code, _) = s.ingest("custodian-b", &[&s.path("b")], &[]);
    assert_eq!(code, 0);
    let case = quarry_case::Case::open(&s.case()).unwrap();
    let index = case.index().unwrap();
    let writer = index.writer().unwrap();
    let out = s.run(&["search", "--format", "json", "gas"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the index is 1 items behind the case"), "{err}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["documents"], 2);
    drop(writer);
    assert_eq!(search(&s, &["gas"])["documents"], 3);
}

#[test]
fn an_unreadable_stored_text_is_flagged_and_indexing_goes_on() {
    let s = collection();
    // Damage one stored text (invalid UTF-8) and remove another.
    let items = s.items();
    let blake3_of = |locator: &str| {
        items.iter().find(|i| i["locator"] == locator).unwrap()["blake3"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    s.damage_text(&blake3_of("a/memo1.txt"));
    s.hide_text(&blake3_of("a/memo2.txt"));
    let out = s.json(&["reindex", "--json"]);
    assert_eq!(out["indexed"], 8, "every item is still indexed");
    let flagged = search(&s, &["--dedup", "none", "flag:text-unreadable"]);
    let packs: Vec<(String, u64)> = std::fs::read_dir(s.case().join("text").join("packs"))
        .map(|d| {
            d.filter_map(|e| {
                let e = e.ok()?;
                Some((e.file_name().to_string_lossy().into_owned(), e.metadata().ok()?.len()))
            })
            .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        out["text_unreadable"],
        2,
        "flagged {:?}; items {items:?}; packs {packs:?}",
        locators(&flagged)
    );
    assert_eq!(locators(&flagged), ["a/memo1.txt", "a/memo2.txt"]);
    let found = search(&s, &["--dedup", "none", "pipeline"]);
    // Failed under load (3) from the same pack race as the reindex test: say what answered.
    let index = s.case().join("index");
    let files: Vec<String> = std::fs::read_dir(&index)
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect()
        })
        .unwrap_or_default();
    assert_eq!(
        found["documents"],
        2,
        "the others still answer: hits {:?}, index files {files:?}, reindex {out}",
        locators(&found)
    );
}

/// A query hitting thousands of items reads them in one scan instead of one query each; the
/// collapse under the dedup view must be the same as item by item: 3,000 texts, 1,500 of them
/// stored twice under another name.
#[test]
fn a_broad_query_collapses_thousands_of_hits_like_a_narrow_one() {
    let s = Scratch::new();
    for i in 0..3_000 {
        s.file(&format!("many/f{i:04}.txt"), format!("common word{i}\n").as_bytes());
    }
    for i in 0..1_500 {
        s.file(&format!("many/g{i:04}.txt"), format!("common word{i}\n").as_bytes());
    }
    let (code, _) = s.ingest("c", &[&s.path("many")], &[]);
    assert_eq!(code, 0);

    let broad = search(&s, &["common"]);
    assert_eq!(broad["documents"], 3_000);
    let hits = broad["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3_000);
    let instances: Vec<u64> = hits.iter().map(|h| h["instances"].as_u64().unwrap()).collect();
    assert_eq!(instances.iter().sum::<u64>(), 4_500);
    assert_eq!(instances.iter().filter(|&&n| n == 2).count(), 1_500);
    // The first instance (the lower id, ingested first) stands for each document, and each
    // text's pair collapsed onto its own first file.
    for hit in hits {
        let locator = hit["locator"].as_str().unwrap();
        let n: usize = locator["many/f".len().."many/f".len() + 4].parse().unwrap();
        assert!(locator.starts_with("many/f"), "{locator}");
        assert_eq!(hit["instances"], if n < 1_500 { 2 } else { 1 }, "{locator}");
    }
    // The same document found by a narrow query, item by item.
    let narrow = search(&s, &["word7"]);
    assert_eq!(controls(&narrow), vec![s_control(hits, "many/f0007.txt")]);
    assert_eq!(narrow["hits"][0]["instances"], 2);
    let none = search(&s, &["--dedup", "none", "common"]);
    assert_eq!(none["documents"], 4_500);
}

fn s_control(hits: &[Value], locator: &str) -> String {
    let hit = hits.iter().find(|h| h["locator"] == locator).unwrap();
    hit["control_number"].as_str().unwrap().to_owned()
}

/// Text and names written decomposed (`o` and a combining diaeresis, as macOS writes file names)
/// are found by a query typed composed, and the other way round; Devanagari words, whose vowels
/// are marks, are whole words. The classifier reads the same words.
#[test]
fn decomposed_text_is_found_by_composed_queries() {
    let s = Scratch::new();
    let nfd =
        |text: &str| unicode_normalization::UnicodeNormalization::nfd(text).collect::<String>();
    s.file(&nfd("m/Résumé São Paulo.txt"), nfd("Die Frösche von Ångström.\n").as_bytes());
    s.file("m/composed.txt", "Die Frösche in Zürich; हिंदी भाषा.\n".as_bytes());
    s.file(
        "rules.toml",
        "[[issue]]\nname = \"frogs\"\nterms = [\"Ångström\", \"हिंदी\"]\n".as_bytes(),
    );
    let (code, _) = s.ingest("custodian-a", &[&s.path("m")], &[]);
    assert_eq!(code, 0);
    let hits = |query: &str| locators(&search(&s, &[query]));
    let decomposed = nfd("m/Résumé São Paulo.txt");
    for query in ["Frösche", &nfd("Frösche"), "frosche"] {
        assert_eq!(hits(query), [decomposed.clone(), "m/composed.txt".to_owned()], "{query}");
    }
    assert_eq!(hits("Ångström"), [decomposed.as_str()]);
    // A wildcard typed decomposed keeps its marks with their letters.
    assert_eq!(hits(&nfd("Ångstr*")), [decomposed.as_str()]);
    assert_eq!(hits("Ångstr*"), [decomposed.as_str()]);
    assert_eq!(hits("filename:\"São Paulo\""), [decomposed.as_str()]);
    assert_eq!(hits("filename:résumé"), [decomposed.as_str()]);
    assert_eq!(hits("हिंदी"), ["m/composed.txt"]);
    assert_eq!(hits("\"हिंदी भाषा\""), ["m/composed.txt"]);
    let rules = s.path("rules.toml");
    let out = s.run(&["classify", "--json", "--rules", rules.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids = s.run(&["search", "--format", "ids", "--all", "tag:\"suggest:issue/frogs\""]);
    assert_eq!(String::from_utf8_lossy(&ids.stdout).lines().count(), 2);
}
