//! `classify` on a small mail collection built by the test: an attorney's message, a privilege
//! phrase, a disclaimer repeated across many messages, relevance terms and a query.

use crate::common::{Scratch, u};
use serde_json::Value;

const RULES: &str = r#"
[privilege]
threshold = 4
phrases = ["privileged and confidential", "attorney-client"]
terms = ["counsel"]

[[privilege.attorney]]
name = "Richard B. Sanders"
emails = ["richard.sanders@enron.com"]

[[privilege.firm]]
name = "Vinson & Elkins"
domains = ["velaw.com"]

[boilerplate]
min_documents = 5
min_words = 8

[[issue]]
name = "california"
terms = ["price cap", "FERC", "blackout*"]
min_terms = 2

[[issue]]
name = "pipeline"
terms = ["pipeline"]
queries = ["gas w/3 storage"]
"#;

const DISCLAIMER: &str = "This e-mail is the property of Example Corp. and may contain \
privileged and confidential material for the sole use of the intended recipient.";

fn email(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nDate: Tue, 12 Dec 2000 04:03:00 -0800\nMessage-ID: <{}@test>\n\n{body}\n",
        blake3::hash(format!("{from}{to}{subject}{body}").as_bytes()).to_hex()
    )
    .into_bytes()
}

fn collection() -> Scratch {
    let s = Scratch::new();
    s.file(
        "a/01-attorney.eml",
        &email(
            "Richard Sanders <richard.sanders@enron.com>",
            "joe@enron.com",
            "Status",
            "Here is the update.",
        ),
    );
    s.file(
        "a/02-phrase.eml",
        &email(
            "joe@enron.com",
            "bob@enron.com",
            "Draft",
            "PRIVILEGED AND CONFIDENTIAL\n\nPlease see the draft.",
        ),
    );
    s.file(
        "a/03-disclaimer.eml",
        &email(
            "joe@enron.com",
            "bob@enron.com",
            "Lunch",
            &format!("Shall we meet at noon?\n\n{DISCLAIMER}"),
        ),
    );
    // The same disclaimer under five more messages: boilerplate.
    for i in 0..5 {
        s.file(
            &format!("a/1{i}-other.eml"),
            &email(
                "sue@example.com",
                "joe@enron.com",
                &format!("Note {i}"),
                &format!("Item {i} is ready.\n\n{DISCLAIMER}"),
            ),
        );
    }
    s.file(
        "a/04-california.eml",
        &email(
            "joe@enron.com",
            "bob@enron.com",
            "FERC",
            "The price cap and the rolling blackouts in California.",
        ),
    );
    s.file("a/05-firm.eml", &email("jdoe@mail.velaw.com", "joe@enron.com", "Call", "Call me."));
    s.file(
        "a/06-storage.eml",
        &email("joe@enron.com", "bob@enron.com", "Gas", "Natural gas in storage is low."),
    );
    s.file("rules.toml", RULES.as_bytes());
    let (code, _) = s.ingest("custodian-a", &[&s.path("a")], &[]);
    assert_eq!(code, 0);
    s
}

/// Control numbers by file name (ingest order is file-name order).
fn control(s: &Scratch, name: &str) -> String {
    s.items()
        .iter()
        .find(|i| i["locator"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no item {name}"))["control_number"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn tagged(s: &Scratch, tag: &str) -> Vec<String> {
    let query = format!("tag:\"{tag}\"");
    let out = s.run(&[
        "search", "--format", "ids", "--all", "--sort", "control", "--dedup", "none", &query,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

fn classify(s: &Scratch, args: &[&str]) -> Value {
    let mut all = vec!["classify", "--json"];
    all.extend_from_slice(args);
    s.json(&all)
}

#[test]
fn suggests_privilege_and_issues_and_sets_disclaimers_aside() {
    let s = collection();
    let rules = s.path("rules.toml");
    let report = classify(&s, &["--rules", rules.to_str().unwrap()]);
    assert_eq!(report["scope"], "all");
    assert_eq!(u(&report, "items"), 11);
    assert_eq!(u(&report, "boilerplate_paragraphs"), 1, "{report}");
    assert_eq!(u(&report, "suppressed_hits"), 6, "one phrase hit in each of six disclaimers");

    let c = |name: &str| control(&s, name);
    let mut privileged = vec![c("01-attorney.eml"), c("02-phrase.eml"), c("05-firm.eml")];
    privileged.sort();
    assert_eq!(tagged(&s, "suggest:privileged"), privileged);
    assert_eq!(tagged(&s, "suggest:issue/california"), [c("04-california.eml")]);
    assert_eq!(tagged(&s, "suggest:issue/pipeline"), [c("06-storage.eml")], "the query");

    // The disclaimer's hit is kept, marked, and does not count.
    let shown = s.json(&["classify", "--json", "--show", &c("03-disclaimer.eml")]);
    assert_eq!(shown["score"], 0);
    assert_eq!(shown["rules"][0]["rule"], "phrase:privileged and confidential");
    assert_eq!(shown["rules"][0]["suppressed"], 1);
    assert_eq!(shown["hits"][0]["boilerplate"], true);
    // The attorney's hit is in the From line, with offsets into the stored text.
    let shown = s.json(&["classify", "--json", "--show", &c("01-attorney.eml")]);
    assert_eq!(shown["tags"], serde_json::json!(["suggest:privileged"]));
    let hit = &shown["hits"][0];
    assert_eq!(hit["zone"], "from");
    assert_eq!(hit["rule"], "attorney:Richard B. Sanders");

    // Without boilerplate detection the disclaimers would all be suggested privileged.
    let off = RULES.replace("min_documents = 5", "min_documents = 0");
    let off_file = s.file("rules-off.toml", off.as_bytes());
    let report = classify(&s, &["--rules", off_file.to_str().unwrap()]);
    assert_eq!(report["reason"], "the rules changed");
    assert_eq!(tagged(&s, "suggest:privileged").len(), 3 + 6);
}

#[test]
fn suggestions_never_touch_coding_and_new_items_are_scored_alone() {
    let s = collection();
    let rules = s.path("rules.toml");
    classify(&s, &["--rules", rules.to_str().unwrap()]);
    // A reviewer's coding (a tag outside suggest:) on a document.
    let case = quarry_case::Case::open(&s.case()).unwrap();
    let disclaimer = control(&s, "03-disclaimer.eml");
    case.add_tag("privileged", std::slice::from_ref(&disclaimer)).unwrap();

    // Same rules, nothing new: nothing scanned, nothing changed.
    let report = classify(&s, &[]);
    assert_eq!((report["scope"].as_str(), u(&report, "items")), (Some("new"), 0));

    // A further ingest: only its items are scored.
    s.file(
        "b/07-new.eml",
        &email("joe@enron.com", "Richard.Sanders@Enron.com", "Re: Status", "Thanks."),
    );
    s.file("b/08-copy.eml", &std::fs::read(s.path("a/02-phrase.eml")).unwrap());
    let (code, _) = s.ingest("custodian-b", &[&s.path("b")], &[]);
    assert_eq!(code, 0);
    let report = classify(&s, &[]);
    assert_eq!(report["scope"], "new");
    assert_eq!(u(&report, "items"), 2);
    assert_eq!(u(&report, "texts_scanned"), 1, "the copy's text was scored before");
    assert_eq!(u(&report, "items_reused"), 1);
    let privileged = tagged(&s, "suggest:privileged");
    assert!(privileged.contains(&control(&s, "07-new.eml")));
    assert!(privileged.contains(&control(&s, "08-copy.eml")));
    assert_eq!(privileged.len(), 5);

    // Changed rules replace every suggestion, and only suggestions.
    let fewer = RULES.replace("\"privileged and confidential\", ", "");
    let fewer_file = s.file("fewer.toml", fewer.as_bytes());
    let report = classify(&s, &["--rules", fewer_file.to_str().unwrap()]);
    assert_eq!(report["scope"], "all");
    assert!(!tagged(&s, "suggest:privileged").contains(&control(&s, "02-phrase.eml")));
    assert_eq!(tagged(&s, "privileged"), [disclaimer]);
    // The case keeps the rules it ran with.
    assert_eq!(std::fs::read_to_string(s.case().join("rules.toml")).unwrap(), fewer);
}

#[test]
fn one_thread_or_many_give_the_same_bytes() {
    let s = collection();
    let rules = s.path("rules.toml");
    let mut outputs = Vec::new();
    for threads in ["1", "2", "4"] {
        classify(&s, &["--rules", rules.to_str().unwrap(), "--rescore-all", "--threads", threads]);
        let out = s.run(&["report", "classification", "--format", "json"]);
        assert!(out.status.success());
        let mut shows = Vec::new();
        for item in s.items() {
            let control = item["control_number"].as_str().unwrap();
            shows.push(s.run(&["classify", "--json", "--show", control]).stdout);
        }
        outputs.push((out.stdout, shows));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    let listed: Value = serde_json::from_slice(&outputs[0].0).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 5, "{listed}");
}

#[test]
fn bad_rules_are_refused_with_the_entry_named_and_the_case_keeps_its_rules() {
    let s = collection();
    let out = s.run(&["classify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rules yet"), "{out:?}");

    let good = s.path("rules.toml");
    classify(&s, &["--rules", good.to_str().unwrap()]);
    for (bad, message) in [
        ("[privilege]\nphrases = [\"att*rney\"]\n", "only a trailing *"),
        ("[[issue]]\nname = \"a b\"\nterms = [\"x\"]\n", "issue name \"a b\""),
        ("[privilege]\nthreshold = \"high\"\n", "threshold"),
        ("[privilege]\nphrases = [\"--\"]\n", "has no words"),
        ("[[issue]]\nname = \"x\"\nterms = [\"price cap*\"]\n", "a wildcard ends one word"),
    ] {
        let file = s.file("bad.toml", bad.as_bytes());
        let out = s.run(&["classify", "--rules", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{bad}: {err}");
    }
    assert_eq!(std::fs::read_to_string(s.case().join("rules.toml")).unwrap(), RULES);
}

#[test]
fn a_paragraph_that_becomes_boilerplate_later_is_set_aside_in_earlier_documents() {
    let s = collection();
    // Eight documents make boilerplate; the collection has six with the disclaimer.
    let rules =
        s.file("rules8.toml", RULES.replace("min_documents = 5", "min_documents = 8").as_bytes());
    let report = classify(&s, &["--rules", rules.to_str().unwrap()]);
    assert_eq!(u(&report, "boilerplate_paragraphs"), 0);
    let disclaimer = control(&s, "03-disclaimer.eml");
    assert!(tagged(&s, "suggest:privileged").contains(&disclaimer));

    for i in 0..2 {
        s.file(
            &format!("b/2{i}-more.eml"),
            &email(
                "ann@example.com",
                "joe@enron.com",
                &format!("More {i}"),
                &format!("Part {i}.\n\n{DISCLAIMER}"),
            ),
        );
    }
    let (code, _) = s.ingest("custodian-b", &[&s.path("b")], &[]);
    assert_eq!(code, 0);
    let report = classify(&s, &[]);
    assert_eq!((report["scope"].as_str(), u(&report, "items")), (Some("new"), 2));
    assert_eq!(u(&report, "boilerplate_paragraphs"), 1);
    assert_eq!(u(&report, "rescored_earlier"), 6, "{report}");
    let privileged = tagged(&s, "suggest:privileged");
    assert!(!privileged.contains(&disclaimer), "{privileged:?}");
    assert_eq!(privileged.len(), 3);
    // The same as scoring everything from scratch.
    let all = classify(&s, &["--rescore-all"]);
    assert_eq!(all["suggested"], report["suggested"]);
}
