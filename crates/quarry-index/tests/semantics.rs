//! What each construct of the query language matches, table-driven over a small index.

#![allow(clippy::unwrap_used)] // test code

use quarry_index::{CaseIndex, IndexDoc};

fn doc(id: u64, text: &str) -> IndexDoc {
    IndexDoc {
        item_id: id,
        control: format!("QRY{id:08}"),
        family: format!("QRY{id:08}"),
        custodian: if id.is_multiple_of(2) { "allen-p".into() } else { "skilling-j".into() },
        file_type: "email".into(),
        name: format!("message {id}.eml"),
        locator: format!("mail/inbox/{id}.eml"),
        text: text.into(),
        ..IndexDoc::default()
    }
}

fn index() -> (tempfile::TempDir, CaseIndex) {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = CaseIndex::open_or_create(dir.path()).expect("index");
    let mut docs = vec![
        doc(1, "the apple pie was baked by the chef"),
        doc(2, "pie made with apple and cinnamon"),
        doc(3, "apple one two three four five pie"),
        doc(4, "apple one two three four five six pie"),
        doc(5, "the contract was terminated; contracts are void"),
        doc(6, "Müller signed the contractual agreement with Miller"),
        doc(7, "banana bandana cabana"),
        doc(8, "Résumé of the gas trader, natural gas and power"),
        doc(9, "power trading desk, no natural resources"),
        doc(10, "privileged and confidential attorney client communication"),
    ];
    docs[0].from = vec!["Jeff Skilling <jeff.skilling@enron.com>".into()];
    docs[0].subject = Some("Quarterly gas report".into());
    docs[0].sent = Some(988_243_200); // 2001-04-26
    docs[0].date = docs[0].sent;
    docs[1].from = vec!["Phillip Allen <phillip.allen@enron.com>".into()];
    docs[1].sent = Some(993_945_600); // 2001-07-01
    docs[1].date = docs[1].sent;
    docs[2].flags = vec!["no-text".into()];
    // A metadata date no index can hold (a PDF claiming year 9999999) is left out.
    docs[3].created = Some(315_537_897_599_999);
    docs[3].date = docs[3].created;
    let mut writer = index.writer().expect("writer");
    // Split over two commits: two segments, so expansion and spans cross segments.
    for d in &docs[..5] {
        writer.add(d).expect("add");
    }
    writer.commit(5).expect("commit");
    for d in &docs[5..] {
        writer.add(d).expect("add");
    }
    writer.commit(10).expect("commit");
    writer.finish().expect("finish");
    index.reload().expect("reload");
    (dir, index)
}

#[test]
fn every_construct_matches_what_it_says() {
    let (_dir, index) = index();
    let no_tags = |tag: &str| -> Result<Vec<u64>, String> {
        match tag {
            "privileged" => Ok(vec![10, 2]),
            _ => Ok(vec![]),
        }
    };
    let cases: &[(&str, &[u64])] = &[
        ("apple", &[1, 2, 3, 4]),
        ("APPLE", &[1, 2, 3, 4]),
        ("apple pie", &[1]),
        // Phrases with common words.
        ("the apple pie", &[1]),
        ("\"was baked by the chef\"", &[1]),
        ("\"pie made with apple and cinnamon\"", &[2]),
        ("\"the contract\"", &[5]),
        ("\"of the gas\"", &[8]),
        ("\"apple and\"", &[2]),
        ("\"and apple\"", &[]),
        ("\"the\"", &[1, 5, 6, 8]),
        ("\"the the\"", &[]),
        ("the w/1 chef", &[1]),
        ("\"apple pie\"", &[1]),
        ("apple AND cinnamon", &[2]),
        ("apple OR banana", &[1, 2, 3, 4, 7]),
        ("apple AND NOT pie", &[]),
        ("apple NOT chef", &[2, 3, 4]),
        ("NOT apple AND NOT contract*", &[7, 8, 9, 10]),
        ("NOT apple AND NOT contract", &[6, 7, 8, 9, 10]),
        ("(apple OR banana) AND NOT (chef OR cinnamon)", &[3, 4, 7]),
        // Proximity: w/N either order, words 1..=N apart.
        ("apple w/1 pie", &[1]),
        ("pie w/1 apple", &[1]),
        ("apple w/3 pie", &[1, 2]),
        ("apple w/6 pie", &[1, 2, 3]),
        ("apple w/7 pie", &[1, 2, 3, 4]),
        ("apple pre/6 pie", &[1, 3]),
        ("pie pre/6 apple", &[2]),
        ("apple NOT w/3 pie", &[3, 4]),
        ("apple w/4294967295 pie", &[1, 2, 3, 4]),
        ("(apple OR banana) w/1 (pie OR bandana)", &[1, 7]),
        ("\"natural gas\" w/3 power", &[8]),
        ("natural w/1 (gas OR resources)", &[8, 9]),
        ("(apple w/1 pie) w/4 chef", &[]),
        ("(apple w/1 pie) w/5 chef", &[1]),
        ("chef w/5 (apple w/1 pie)", &[1]),
        ("contract* w/3 terminated", &[5]),
        // Wildcards, trailing, inner and leading.
        ("contract*", &[5, 6]),
        ("contract", &[5]),
        ("m?ller", &[6]),
        ("m*ller", &[6]),
        ("*ana", &[7]),
        ("cont*ual", &[6]),
        ("\"natural g*\"", &[8]),
        // Fuzzy.
        ("banana~1", &[7]),
        ("bandana~1", &[7]),
        ("contrakt~1", &[5]),
        ("ba%nnana", &[7]),
        ("xa%nana", &[]),
        // Accents fold both ways.
        ("resume", &[8]),
        ("müller", &[6]),
        // Fields.
        ("from:skilling", &[1]),
        ("from:\"jeff.skilling@enron.com\"", &[1]),
        ("from:(allen OR skilling)", &[1, 2]),
        ("subject:gas", &[1]),
        ("custodian:\"allen-p\"", &[2, 4, 6, 8, 10]),
        ("custodian:ALLEN-P AND apple", &[2, 4]),
        ("custodian:allen*", &[2, 4, 6, 8, 10]),
        ("filename:\"message 7\"", &[7]),
        ("custodian:\"allen p\"", &[]),
        ("flag:no-text", &[3]),
        ("control:QRY00000007", &[7]),
        ("filename:message AND locator:inbox AND banana", &[7]),
        ("type:email AND cabana", &[7]),
        // Dates.
        ("date:[2001-01-01 TO 2001-06-30]", &[1]),
        ("date:[2001-01-01 TO 2001-07-01]", &[1, 2]),
        ("date:{2001-04-26 TO *]", &[2]),
        ("sent:2001-07-01", &[2]),
        ("sent:[* TO 2001-04-25]", &[]),
        ("date:[2262-01-01 TO *]", &[]),
        ("date:[0001-01-01 TO 9999-12-31]", &[1, 2]),
        // Tags resolved outside the index.
        ("tag:privileged", &[2, 10]),
        ("tag:privileged AND apple", &[2]),
        ("tag:none OR banana", &[7]),
    ];
    let mut failures = Vec::new();
    for (query, want) in cases {
        match index.query_ids(query, &no_tags) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{query:?}: want {want:?}, got {got:?}")),
            Err(e) => failures.push(format!("{query:?}: error {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn scores_order_hits_and_snippets_mark_them() {
    let (_dir, index) = index();
    let parsed = quarry_index::query::parse("gas").expect("parse");
    let prepared = index.prepare(&parsed.query, &|_: &str| Ok(vec![])).expect("prepare");
    let hits = index.search(&prepared).expect("search");
    // Document 8 says "gas" twice in fewer words than document 1's subject-less text.
    assert_eq!(hits.iter().map(|h| h.item_id).collect::<Vec<_>>(), vec![8]);
    let snippet = quarry_index::snippet(
        "Résumé of the gas trader, natural gas and power",
        &prepared.highlight,
        60,
    );
    assert_eq!(snippet.marked("[", "]"), "Résumé of the [gas] trader, natural [gas] and power");
}

#[test]
fn wildcard_expansion_reports_no_match() {
    let (_dir, index) = index();
    let parsed = quarry_index::query::parse("zebra*").expect("parse");
    let prepared = index.prepare(&parsed.query, &|_: &str| Ok(vec![])).expect("prepare");
    assert!(
        prepared.warnings.iter().any(|w| w.contains("matches no word")),
        "{:?}",
        prepared.warnings
    );
    assert!(index.matching_ids(&prepared).expect("search").is_empty());
}

#[test]
fn many_small_runs_are_merged_down_at_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = CaseIndex::open_or_create(dir.path()).expect("index");
    let mut writer = index.writer().expect("writer");
    let runs = quarry_index::MAX_SEGMENTS as u64 + 5;
    for id in 1..=runs {
        writer.add(&doc(id, "one small run")).expect("add");
        writer.commit(id).expect("commit");
    }
    assert_eq!(index.segments().expect("segments"), runs as usize);
    writer.finish().expect("finish");
    index.reload().expect("reload");
    assert!(index.segments().expect("segments") <= quarry_index::MAX_SEGMENTS / 2 + 1);
    assert_eq!(index.num_docs().expect("docs"), runs);
    assert_eq!(
        index.query_ids("small", &|_: &str| Ok(vec![])).expect("query").len(),
        runs as usize
    );
    assert_eq!(index.indexed_through().expect("payload"), Some(runs));
}

#[test]
fn an_index_of_another_layout_is_refused_then_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut b = tantivy::schema::Schema::builder();
        b.add_text_field("text", tantivy::schema::TEXT);
        tantivy::Index::create_in_dir(dir.path(), b.build()).expect("older index");
    }
    let err = CaseIndex::open_or_create(dir.path()).expect_err("another layout");
    assert!(matches!(err, quarry_index::Error::Outdated), "{err}");
    assert!(err.to_string().contains("quarry reindex"));
    let index = CaseIndex::recreate(dir.path()).expect("recreated");
    assert_eq!(index.num_docs().expect("docs"), 0);
}

/// Random queries from the language's pieces never panic: each parses and runs, or is refused
/// with an error that points inside the query.
#[test]
fn random_queries_parse_and_run_or_are_refused() {
    let (_dir, index) = index();
    let pieces = [
        "apple",
        "pie",
        "AND",
        "OR",
        "NOT",
        "(",
        ")",
        "\"",
        "w/3",
        "pre/2",
        "NOT w/1",
        "w/",
        "contract*",
        "*",
        "?",
        "m?ller",
        "ba%nana",
        "banana~1",
        "~",
        "%%%",
        "from:",
        "from:skilling",
        "custodian:\"allen-p\"",
        "date:[2001-01-01 TO 2001-06-30]",
        "date:[",
        "]",
        "{",
        "}",
        "tag:privileged",
        "tag:",
        "subject:(gas OR power)",
        "and",
        "or",
        ":",
        "é",
        "Müller",
        "\u{201c}",
        "\u{201d}",
        "-",
        "&",
        "|",
        "date:2001-13-45",
        "type:email",
        "w/0",
        "pre/99999999999",
        "text:",
        "\"\"",
        "((",
        "))",
        "NOT NOT",
        "*tion",
        "a*b*c",
        "??",
        "flag:no-text",
    ];
    let tags = |tag: &str| -> Result<Vec<u64>, String> {
        if tag == "privileged" { Ok(vec![2, 10]) } else { Ok(vec![]) }
    };
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut ran, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let len = 1 + next(7);
        let query: Vec<&str> = (0..len).map(|_| pieces[next(pieces.len())]).collect();
        let sep = if next(3) == 0 { "" } else { " " };
        let query = query.join(sep);
        if std::env::var_os("QUARRY_FUZZ_TRACE").is_some() {
            eprintln!("Q {query:?}");
        }
        match quarry_index::query::parse(&query) {
            Ok(parsed) => {
                let printed = parsed.query.to_string();
                match index.prepare(&parsed.query, &tags) {
                    Ok(prepared) => {
                        index.matching_ids(&prepared).expect("a compiled query runs");
                        ran += 1;
                    }
                    Err(quarry_index::Error::Query(_)) => refused += 1,
                    Err(e) => panic!("{query:?} ({printed}): {e}"),
                }
            }
            Err(e) => {
                assert!(e.column >= 1 && e.column <= query.chars().count() + 1, "{query:?}: {e}");
                refused += 1;
            }
        }
    }
    assert!(ran > 2_000 && refused > 2_000, "ran {ran}, refused {refused}");
}
