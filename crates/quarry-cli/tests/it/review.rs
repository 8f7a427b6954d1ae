//! `review` and `audit`: coding checks, family propagation, batches, several reviewers at
//! once, and an audit log that catches tampering.

use crate::common::{Scratch, u};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::process::Output;

/// A message with one attachment; `n` makes each one distinct.
pub(crate) fn family_email(n: usize, custodian_word: &str) -> Vec<u8> {
    format!(
        "From: Ann <ann@example.com>\nTo: Bob <bob@example.com>\nSubject: Report {n}\n\
Date: Tue, 12 Dec 2000 04:03:00 -0800\nMessage-ID: <{n}.{custodian_word}@test>\n\
MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: text/plain\n\nThe pipeline report number {n} for {custodian_word}.\n\
--b\nContent-Type: text/plain; name=notes{n}.txt\nContent-Disposition: attachment; filename=notes{n}.txt\n\n\
attached pipeline notes {n}\n--b--\n"
    )
    .into_bytes()
}

/// Two custodians, `per` messages each, every message with one attachment.
pub(crate) fn collection(per: usize) -> Scratch {
    let s = Scratch::new();
    for custodian in ["alpha", "beta"] {
        for n in 0..per {
            s.file(&format!("{custodian}/{n:03}.eml"), &family_email(n, custodian));
        }
        let (code, _) = s.ingest(custodian, &[&s.path(custodian)], &[]);
        assert_eq!(code, 0);
    }
    s
}

pub(crate) fn as_reviewer(s: &Scratch, reviewer: &str, args: &[&str]) -> Output {
    let mut cmd = s.command(args);
    cmd.env("QUARRY_REVIEWER", reviewer);
    cmd.output().unwrap()
}

pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn refused(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected a refusal: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn show(s: &Scratch, doc: &str) -> Value {
    s.json(&["review", "show", doc, "--format", "json"])
}

/// Field -> values of a document's current coding.
pub(crate) fn coding(s: &Scratch, doc: &str) -> BTreeMap<String, Vec<String>> {
    show(s, doc)["coding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let values =
                c["values"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned());
            (c["field"].as_str().unwrap().to_owned(), values.collect())
        })
        .collect()
}

pub(crate) fn audit(s: &Scratch, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "log", "--format", "json"];
    args.extend_from_slice(extra);
    s.json(&args).as_array().unwrap().clone()
}

fn verify(s: &Scratch) -> (i32, Value) {
    let out = s.run(&["audit", "verify", "--json"]);
    (out.status.code().unwrap(), serde_json::from_slice(&out.stdout).unwrap())
}

/// Control numbers of the messages (not attachments), in order.
pub(crate) fn messages(s: &Scratch) -> Vec<String> {
    s.items()
        .iter()
        .filter(|i| i["file_type"] == "email")
        .map(|i| i["control_number"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn attachment_of(s: &Scratch, parent: &str) -> String {
    s.items()
        .iter()
        .find(|i| i["parent"] == parent)
        .map(|i| i["control_number"].as_str().unwrap().to_owned())
        .unwrap()
}

#[test]
fn coding_is_checked_before_anything_is_written() {
    let s = collection(2);
    let docs = messages(&s);
    let d = docs[0].as_str();
    // No reviewer: refused.
    let mut cmd = s.command(&["review", "code", d, "--set", "responsiveness=responsive"]);
    cmd.env_remove("QUARRY_REVIEWER");
    assert!(refused(&cmd.output().unwrap()).contains("--reviewer"));
    // Unknown field and value: the allowed ones are listed.
    let err = refused(&as_reviewer(&s, "ann", &["review", "code", d, "--set", "relevance=yes"]));
    assert!(err.contains("responsiveness, privilege"), "{err}");
    let err =
        refused(&as_reviewer(&s, "ann", &["review", "code", d, "--set", "responsiveness=maybe"]));
    assert!(err.contains("responsive, not-responsive, needs-further-review"), "{err}");
    let err = refused(&as_reviewer(&s, "ann", &["review", "code", d, "--set", "hot=perhaps"]));
    assert!(err.contains("yes, no"), "{err}");
    let err = refused(&as_reviewer(&s, "ann", &["review", "code", d, "--set", "privilege+=both"]));
    assert!(err.contains("one value"), "{err}");
    // A privilege call without its basis refuses the whole request, naming the document.
    let err = refused(&as_reviewer(
        &s,
        "ann",
        &[
            "review",
            "code",
            &docs[0],
            &docs[1],
            "--set",
            "responsiveness=responsive",
            "--set",
            "privilege=work-product",
        ],
    ));
    assert!(err.contains(&format!("{d}: privilege_basis is required")), "{err}");
    assert!(err.contains("2 document(s)"), "{err}");
    assert!(audit(&s, &["--action", "code"]).is_empty(), "a refused request writes nothing");
    assert!(coding(&s, d).values().all(Vec::is_empty));

    // Issues take the choices the case lists.
    let err = refused(&as_reviewer(&s, "ann", &["review", "code", d, "--set", "issues=fraud"]));
    assert!(err.contains("no choices yet"), "{err}");
    let toml = std::fs::read_to_string(s.case().join("case.toml")).unwrap();
    let toml = toml.replacen(
        "name = \"issues\"\nlabel = \"Issues\"\nkind = \"multi\"\n",
        "name = \"issues\"\nlabel = \"Issues\"\nkind = \"multi\"\nchoices = [\"fraud\", \"pricing\", \"trading\"]\n",
        1,
    );
    assert!(toml.contains("\"pricing\""), "{toml}");
    std::fs::write(s.case().join("case.toml"), toml).unwrap();

    ok(&as_reviewer(
        &s,
        "ann",
        &[
            "review",
            "code",
            d,
            "--set",
            "responsiveness=responsive",
            "--set",
            "privilege=work-product",
            "--set",
            "privilege_basis=Draft prepared at counsel's request",
            "--set",
            "privilege_treatment=redact",
            "--set",
            "issues=trading,fraud",
            "--set",
            "hot=Y",
            "--set",
            "note=call back",
        ],
    ));
    ok(&as_reviewer(
        &s,
        "ann",
        &["review", "code", d, "--set", "issues-=trading", "--set", "issues+=pricing"],
    ));
    let c = coding(&s, d);
    assert_eq!(c["responsiveness"], ["responsive"]);
    assert_eq!(c["privilege_basis"], ["Draft prepared at counsel's request"]);
    assert_eq!(c["issues"], ["fraud", "pricing"]);
    assert_eq!(c["hot"], ["yes"]);
    // Clearing the basis of a privileged document is refused too.
    let err = refused(&as_reviewer(&s, "ann", &["review", "code", d, "--set", "privilege_basis="]));
    assert!(err.contains("privilege_basis is required"), "{err}");
    // Every decision is in the history, with old and new values.
    let history = show(&s, d)["history"].as_array().unwrap().clone();
    // Seven fields, then one multi field changed twice in one request: one decision.
    assert_eq!(history.len(), 8);
    let issues: Vec<(&Value, &Value)> =
        history.iter().filter(|h| h["field"] == "issues").map(|h| (&h["old"], &h["new"])).collect();
    assert_eq!(issues[0], (&Value::Null, &Value::from("fraud,trading")));
    assert_eq!(issues[1], (&Value::from("fraud,trading"), &Value::from("fraud,pricing")));
    // Coding is searchable as tags.
    let ids = ok(&s.run(&[
        "search",
        "--format",
        "ids",
        "--dedup",
        "none",
        "tag:\"issues:pricing\" AND tag:hot",
    ]));
    assert_eq!(ids.lines().collect::<Vec<_>>(), [d]);
    let ids = ok(&s.run(&[
        "search",
        "--format",
        "ids",
        "--dedup",
        "none",
        "pipeline NOT tag:\"responsiveness:*\"",
    ]));
    assert!(!ids.contains(d) && ids.lines().count() > 1, "{ids}");
    assert_eq!(verify(&s).0, 0);
}

#[test]
fn family_coding_reaches_the_family_fields_only() {
    let s = collection(2);
    let docs = messages(&s);
    let attachment = attachment_of(&s, &docs[0]);
    let report = s.json(&[
        "review",
        "code",
        &docs[0],
        "--family",
        "--json",
        "--reviewer",
        "bea",
        "--set",
        "responsiveness=responsive",
        "--set",
        "privilege=not-privileged",
        "--set",
        "hot=yes",
    ]);
    assert_eq!((u(&report, "documents"), u(&report, "family_members")), (2, 1));
    assert_eq!(u(&report, "decisions"), 3 + 2);
    let c = coding(&s, &attachment);
    assert_eq!(c["responsiveness"], ["responsive"]);
    assert_eq!(c["privilege"], ["not-privileged"]);
    assert!(c["hot"].is_empty(), "hot is not a family field");
    // The other family is untouched; without --family only the document is coded.
    assert!(coding(&s, &attachment_of(&s, &docs[1])).values().all(Vec::is_empty));
    ok(&as_reviewer(
        &s,
        "bea",
        &["review", "code", &docs[1], "--set", "responsiveness=not-responsive"],
    ));
    assert!(coding(&s, &attachment_of(&s, &docs[1]))["responsiveness"].is_empty());
    // Propagation is recorded as such.
    let entries = audit(&s, &["--doc", &attachment]);
    assert!(entries.iter().all(|e| e["detail"]["family_of"] == docs[0].as_str()), "{entries:?}");
    // A privileged call on a family needs the basis on every member, and gets it with --family.
    ok(&as_reviewer(
        &s,
        "bea",
        &[
            "review",
            "code",
            &docs[1],
            "--family",
            "--set",
            "privilege=attorney-client",
            "--set",
            "privilege_basis=Legal advice",
            "--set",
            "privilege_treatment=withhold",
        ],
    ));
    assert_eq!(coding(&s, &attachment_of(&s, &docs[1]))["privilege_basis"], ["Legal advice"]);
}

#[test]
fn coding_by_query_codes_every_hit() {
    let s = collection(30);
    let out = s.json(&[
        "review",
        "code",
        "--query",
        "pipeline AND report",
        "--reviewer",
        "cy",
        "--set",
        "confidentiality=confidential",
        "--json",
    ]);
    // Every message (60) matches; attachments say "notes", not "report".
    assert_eq!(u(&out, "documents"), 60);
    let hits = ok(&s.run(&[
        "search",
        "--format",
        "ids",
        "--all",
        "--dedup",
        "none",
        "tag:\"confidentiality:confidential\"",
    ]));
    assert_eq!(hits.lines().count(), 60);
    let entries = audit(&s, &["--action", "code.query"]);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["detail"]["query"], "pipeline AND report");
    assert_eq!(entries[0]["detail"]["documents"], 60);
}

#[test]
fn batches_keep_families_whole_and_custodians_apart() {
    let s = collection(5);
    let plan = s.json(&[
        "review",
        "batch",
        "create",
        "--query",
        "pipeline",
        "--size",
        "3",
        "--keep-families",
        "--by",
        "custodian",
        "--json",
        "--reviewer",
        "manager",
    ]);
    // 10 messages, 10 attachments; a family is 2 documents, so batches of 3 hold one family
    // (a second would split or overflow), 5 per custodian.
    let batches = plan["batches"].as_array().unwrap();
    assert_eq!(u(&plan, "documents"), 20);
    assert_eq!(batches.len(), 10);
    for b in batches {
        assert_eq!(u(b, "documents"), 2);
        assert!(b["custodian"] == "alpha" || b["custodian"] == "beta");
    }
    for b in batches {
        let docs =
            s.json(&["review", "batch", "show", b["name"].as_str().unwrap(), "--format", "json"]);
        let docs: Vec<&str> = docs
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["control_number"].as_str().unwrap())
            .collect();
        assert_eq!(attachment_of(&s, docs[0]), docs[1], "a family is kept together in order");
    }
    // Documents already batched at level 1 are not batched again; a QC level can.
    let again =
        s.json(&["review", "batch", "create", "--query", "pipeline", "--size", "50", "--json"]);
    assert_eq!((u(&again, "documents"), u(&again, "already_batched")), (0, 20));
    let qc = s.json(&[
        "review", "batch", "create", "--query", "pipeline", "--size", "50", "--level", "2",
        "--json",
    ]);
    assert_eq!(qc["batches"][0]["name"], "QC-0001");
    assert_eq!(u(&qc, "documents"), 20);
    // Without families, exact sizes.
    let t = collection(7);
    let plan =
        t.json(&["review", "batch", "create", "--query", "pipeline", "--size", "4", "--json"]);
    let sizes: Vec<u64> =
        plan["batches"].as_array().unwrap().iter().map(|b| u(b, "documents")).collect();
    assert_eq!(sizes, [4, 4, 4, 4, 4, 4, 4]);
    assert_eq!(audit(&t, &["--action", "batch"]).len(), 7);
}

#[test]
fn concurrent_checkouts_never_share_a_batch() {
    let s = collection(6);
    s.json(&["review", "batch", "create", "--query", "pipeline", "--size", "2", "--json"]);
    // 12 messages (the attachments say "pipeline" too: 24 documents) in 12 batches; 16 reviewers ask at once.
    let reviewers: Vec<String> = (0..16).map(|i| format!("r{i:02}")).collect();
    let children: Vec<_> = reviewers
        .iter()
        .map(|r| {
            let mut cmd = s.command(&["review", "batch", "next", "--json"]);
            cmd.env("QUARRY_REVIEWER", r)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut held: HashMap<String, String> = HashMap::new();
    let mut empty = 0;
    for (reviewer, child) in reviewers.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        let value: Value = serde_json::from_slice(&ok(&out).into_bytes()).unwrap();
        if value.is_null() {
            empty += 1;
            continue;
        }
        assert_eq!(value["checked_out"], true);
        let name = value["batch"]["name"].as_str().unwrap().to_owned();
        assert!(held.insert(name.clone(), reviewer.clone()).is_none(), "{name} handed out twice");
    }
    assert_eq!(held.len(), 12);
    assert_eq!(empty, 4);
    let list = s.json(&["review", "batch", "list", "--format", "json"]);
    for b in list.as_array().unwrap() {
        assert_eq!(held[b["name"].as_str().unwrap()], b["assignee"].as_str().unwrap());
    }
    // Asking again returns the batch already held; releasing hands it to the next reviewer.
    let (name, holder) = held.iter().next().unwrap();
    let again = s.json(&["review", "batch", "next", "--json", "--reviewer", holder]);
    assert_eq!(
        (&again["batch"]["name"], &again["checked_out"]),
        (&Value::from(name.as_str()), &Value::from(false))
    );
    ok(&as_reviewer(&s, holder, &["review", "batch", "release"]));
    let next = s.json(&["review", "batch", "next", "--json", "--reviewer", "late"]);
    assert_eq!(next["batch"]["name"], name.as_str());
    assert_eq!(audit(&s, &["--action", "batch.checkout"]).len(), 13);
    assert_eq!(audit(&s, &["--action", "batch.release"]).len(), 1);
    // One reviewer asking four times at once holds one batch.
    s.json(&[
        "review", "batch", "create", "--query", "pipeline", "--size", "2", "--level", "2", "--json",
    ]);
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = s.command(&["review", "batch", "next", "--json", "--level", "2"]);
            cmd.env("QUARRY_REVIEWER", "dup").stdout(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let answers: Vec<Value> = children
        .into_iter()
        .map(|c| serde_json::from_str(&ok(&c.wait_with_output().unwrap())).unwrap())
        .collect();
    assert!(answers.iter().all(|a| a["batch"]["name"] == "QC-0001"), "{answers:?}");
    assert_eq!(answers.iter().filter(|a| a["checked_out"] == true).count(), 1);
    assert_eq!(verify(&s).0, 0);
}

#[test]
fn reviewers_in_parallel_processes_lose_no_update() {
    let s = collection(10);
    let docs = messages(&s); // 20
    // Four reviewers: each codes 4 documents of its own and all of the shared last 4, one
    // command per document, all at once.
    let shared: Vec<String> = docs[16..].to_vec();
    let values = ["responsive", "not-responsive", "needs-further-review", "responsive"];
    let threads: Vec<_> = (0..4)
        .map(|r| {
            let own: Vec<String> = docs[r * 4..r * 4 + 4].to_vec();
            let shared = shared.clone();
            let case = s.case();
            let value = values[r];
            std::thread::spawn(move || {
                for doc in own.iter().chain(&shared) {
                    let out = std::process::Command::new(crate::common::BIN)
                        .args(["--case", case.to_str().unwrap(), "review", "code", doc])
                        .args([
                            "--set",
                            &format!("responsiveness={value}"),
                            "--set",
                            &format!("note=by r{r}"),
                        ])
                        .env("QUARRY_REVIEWER", format!("r{r}"))
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let entries = audit(&s, &["--action", "code"]);
    // 4 reviewers x 8 documents x 2 fields, each audited exactly once.
    assert_eq!(entries.len(), 4 * 8 * 2);
    let seqs: Vec<u64> = entries.iter().map(|e| u(e, "seq")).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    for (r, value) in values.iter().enumerate() {
        for doc in &docs[r * 4..r * 4 + 4] {
            let c = coding(&s, doc);
            assert_eq!(c["responsiveness"], [*value]);
            assert_eq!(c["note"], [format!("by r{r}")]);
        }
    }
    // Shared documents hold the last decision, and each decision's "old" is the one before it.
    for doc in &shared {
        let mine: Vec<&Value> = entries
            .iter()
            .filter(|e| e["control_number"] == doc.as_str() && e["field"] == "note")
            .collect();
        assert_eq!(mine.len(), 4);
        for pair in mine.windows(2) {
            assert_eq!(pair[1]["old_value"], pair[0]["new_value"], "a lost update on {doc}");
        }
        assert_eq!(mine[0]["old_value"], Value::Null);
        let last = mine[3]["new_value"].as_str().unwrap();
        assert_eq!(coding(&s, doc)["note"], [last]);
    }
    let (code, v) = verify(&s);
    assert_eq!((code, &v["ok"]), (0, &Value::from(true)), "{v}");
}

/// Opens the case database for tampering.
/// A manager hands a batch to a named reviewer: it is theirs at their next `batch next`, ahead
/// of the queue; a held or finished batch is refused, and the hand-out is in the log.
#[test]
fn a_manager_assigns_a_batch_to_a_named_reviewer() {
    let s = collection(2);
    s.json(&["review", "batch", "create", "--query", "pipeline", "--size", "2", "--json"]);
    let names: Vec<String> = s
        .json(&["review", "batch", "list", "--format", "json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    let assign = |batch: &str, to: &str| {
        as_reviewer(&s, "mgr", &["review", "batch", "assign", batch, "--to", to])
    };
    let said = ok(&assign(&names[2], "bob"));
    assert!(said.contains(&format!("assigned {} to bob", names[2])), "{said}");
    // Bob gets the batch assigned to him, not the first in the queue; Alice gets the first.
    let next = |who: &str| s.json(&["review", "batch", "next", "--json", "--reviewer", who]);
    let bob = next("bob");
    assert_eq!(
        (&bob["batch"]["name"], &bob["checked_out"]),
        (&Value::from(names[2].as_str()), &Value::from(false))
    );
    assert_eq!(next("alice")["batch"]["name"], names[0].as_str());
    // Held by someone else, held already, unknown: refused, and nothing changes hands.
    assert!(refused(&assign(&names[2], "carol")).contains("checked out to bob"));
    assert!(refused(&assign(&names[0], "alice")).contains("already holds"));
    assert!(refused(&assign("REV-9999", "carol")).contains("no batch REV-9999"));
    assert!(refused(&assign(&names[1], " ")).contains("not a reviewer's name"));
    // A second batch for Bob waits behind the first he holds.
    ok(&assign(&names[1], "bob"));
    assert_eq!(next("bob")["batch"]["name"], names[1].as_str(), "the earlier-cut batch first");
    let list = s.json(&["review", "batch", "list", "--format", "json"]);
    let holder = |n: &str| {
        list.as_array().unwrap().iter().find(|b| b["name"] == n).unwrap()["assignee"].clone()
    };
    assert_eq!((holder(&names[1]), holder(&names[2])), (Value::from("bob"), Value::from("bob")));
    // A batch with nothing left to review is refused too.
    let first = s.json(&["review", "batch", "show", &names[0], "--format", "json"]);
    for doc in first.as_array().unwrap() {
        let doc = doc["control_number"].as_str().unwrap();
        ok(&as_reviewer(
            &s,
            "alice",
            &["review", "code", doc, "--set", "responsiveness=not-responsive"],
        ));
    }
    ok(&as_reviewer(&s, "mgr", &["review", "batch", "release", &names[0]]));
    assert!(refused(&assign(&names[0], "carol")).contains("nothing left to review"));
    let log = audit(&s, &["--action", "batch.assign"]);
    assert_eq!(log.len(), 2, "refusals are not logged");
    assert_eq!(
        (&log[0]["actor"], &log[0]["detail"]["to"]),
        (&Value::from("mgr"), &Value::from("bob"))
    );
    assert_eq!(log[0]["detail"]["batch"], names[2].as_str());
    assert_eq!(verify(&s).0, 0);
}

fn db(s: &Scratch) -> rusqlite::Connection {
    rusqlite::Connection::open(s.case().join("quarry.db")).unwrap()
}

#[test]
fn audit_verify_names_the_first_edited_deleted_or_swapped_entry() {
    let s = collection(3);
    for (i, doc) in messages(&s).iter().enumerate() {
        ok(&as_reviewer(
            &s,
            "dee",
            &[
                "review",
                "code",
                doc,
                "--set",
                "responsiveness=responsive",
                "--set",
                &format!("note=n{i}"),
            ],
        ));
    }
    ok(&s.run(&["search", "pipeline"]));
    let (code, good) = verify(&s);
    assert_eq!(code, 0, "{good}");
    // Two ingests, six documents with two decisions each, one search.
    assert_eq!(u(&good, "entries"), 15);
    let last = i64::try_from(u(&good, "head_seq")).unwrap();
    let anchor = format!("{last}:{}", good["head_hash"].as_str().unwrap());
    // Fold the write-ahead log into the database file, then keep a copy to restore.
    db(&s).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    let pristine = std::fs::read(s.case().join("quarry.db")).unwrap();
    let restore = || {
        for extra in ["quarry.db-wal", "quarry.db-shm"] {
            let _ = std::fs::remove_file(s.case().join(extra));
        }
        std::fs::write(s.case().join("quarry.db"), &pristine).unwrap();
    };
    let bad = |expect_seq: u64, needle: &str| {
        let (code, v) = verify(&s);
        assert_eq!(code, 1, "{v}");
        assert_eq!(u(&v, "first_bad"), expect_seq, "{v}");
        assert!(v["problem"].as_str().unwrap().contains(needle), "{v}");
    };

    // An edited value.
    db(&s).execute("UPDATE audit SET new_value = 'not-responsive' WHERE seq = 5", []).unwrap();
    bad(5, "edited");
    restore();
    assert_eq!(verify(&s).0, 0);
    // A deleted entry.
    db(&s).execute("DELETE FROM audit WHERE seq = 7", []).unwrap();
    bad(8, "missing");
    restore();
    // A deleted entry with the later ones renumbered to hide the gap.
    {
        let c = db(&s);
        c.execute("DELETE FROM audit WHERE seq = 7", []).unwrap();
        c.execute("UPDATE audit SET seq = seq - 1 WHERE seq > 7", []).unwrap();
    }
    bad(7, "edited");
    restore();
    // Two entries swapped (contents and hashes moved, numbers kept).
    {
        let c = db(&s);
        c.execute_batch(
            "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (3, 4);
             DELETE FROM audit WHERE seq IN (3, 4);
             INSERT INTO audit SELECT CASE seq WHEN 3 THEN 4 ELSE 3 END, at, actor, action, item_id, control_number,
                 field, old_value, new_value, detail, prev_hash, hash FROM t;",
        )
        .unwrap();
    }
    bad(3, "edited");
    restore();
    // The last entry deleted: the head says there was one more.
    db(&s).execute("DELETE FROM audit WHERE seq = ?1", [last]).unwrap();
    bad(last.cast_unsigned(), "at the end were deleted");
    restore();
    // The head record deleted.
    db(&s).execute("DELETE FROM audit_head", []).unwrap();
    bad(last.cast_unsigned() + 1, "head record");
    restore();
    // The whole tail rewritten consistently, head included: only an anchor kept elsewhere tells.
    let out = s.run(&["audit", "verify", "--expect", &anchor]);
    assert_eq!(out.status.code(), Some(0));
    {
        let c = db(&s);
        c.execute("DELETE FROM audit WHERE seq = ?1", [last]).unwrap();
        let (seq, hash): (i64, String) = c
            .query_row("SELECT seq, hash FROM audit WHERE seq = ?1", [last - 1], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        c.execute("UPDATE audit_head SET seq = ?1, hash = ?2", rusqlite::params![seq, hash])
            .unwrap();
    }
    assert_eq!(verify(&s).0, 0);
    let out = s.run(&["audit", "verify", "--expect", &anchor, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["problem"].as_str().unwrap().contains("written down earlier"), "{v}");
}

#[test]
fn searches_exports_and_runs_are_audited_and_listed_with_filters() {
    let s = collection(2);
    let docs = messages(&s);
    ok(&as_reviewer(&s, "eve", &["search", "pipeline w/3 report"]));
    ok(&as_reviewer(&s, "eve", &["export", "text", "--out", s.path("out").to_str().unwrap()]));
    ok(&as_reviewer(&s, "eve", &["review", "code", &docs[0], "--set", "hot=yes"]));
    ok(&as_reviewer(&s, "fay", &["review", "code", &docs[1], "--set", "hot=no"]));
    let all = audit(&s, &[]);
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["ingest", "ingest", "search", "export.text", "code", "code"]);
    assert_eq!(all[2]["detail"]["query"], "pipeline w/3 report");
    assert_eq!(all[2]["detail"]["documents"], 4);
    let index = std::fs::read(s.path("out/index.csv")).unwrap();
    assert_eq!(all[3]["detail"]["index_csv_blake3"], crate::common::blake3_hex(&index));
    assert_eq!(audit(&s, &["--reviewer", "fay"]).len(), 1);
    assert_eq!(audit(&s, &["--doc", &docs[0]]).len(), 1);
    let csv = ok(&s.run(&["audit", "log", "--format", "csv", "--action", "code"]));
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.starts_with("seq,at,actor,action,control_number,field,old,new,detail\n"), "{csv}");
}

#[test]
fn managers_see_rates_overturns_and_progress() {
    let s = collection(3);
    let docs = messages(&s); // 6 messages, 6 attachments
    for doc in &docs[..4] {
        ok(&as_reviewer(
            &s,
            "first",
            &["review", "code", doc, "--set", "responsiveness=responsive"],
        ));
    }
    // Second level looks at three of them and changes one.
    for (doc, value) in docs[..3].iter().zip(["responsive", "not-responsive", "responsive"]) {
        ok(&as_reviewer(
            &s,
            "qc",
            &["review", "code", doc, "--level", "2", "--set", &format!("responsiveness={value}")],
        ));
    }
    let report = s.json(&["report", "reviewers", "--format", "json"]);
    let rows = report["reviewers"].as_array().unwrap();
    let first = rows.iter().find(|r| r["reviewer"] == "first").unwrap();
    assert_eq!(
        (u(first, "documents"), u(first, "second_looked"), u(first, "overturned")),
        (4, 3, 1)
    );
    assert!((first["overturn_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(first["by_value"]["responsiveness=responsive"], 4);
    assert_eq!(
        first["by_hour"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        4
    );
    let later = s.json(&["report", "reviewers", "--since", "2999-01-01", "--format", "json"]);
    assert!(later["reviewers"].as_array().unwrap().is_empty());

    let p = s.json(&["report", "progress", "--format", "json"]);
    assert_eq!((u(&p, "documents"), u(&p, "coded")), (12, 4));
    let by_value: BTreeMap<&str, u64> = p["by_responsiveness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["group"].as_str().unwrap(), u(r, "documents")))
        .collect();
    assert_eq!(
        by_value,
        BTreeMap::from([("not-responsive", 1), ("responsive", 3), ("uncoded", 8)])
    );
    let custodians: Vec<(String, u64)> = p["by_custodian"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["group"].as_str().unwrap().to_owned(), u(r, "remaining")))
        .collect();
    assert_eq!(custodians, [("alpha".to_owned(), 3), ("beta".to_owned(), 5)]);
    let table = ok(&s.run(&["report", "progress"]));
    assert!(table.contains("custodian") && table.contains("alpha"), "{table}");
}

/// `quarry review next` on a pseudo-terminal, its screen kept by a terminal emulator.
struct Screen {
    master: std::fs::File,
    child: std::process::Child,
    parser: std::sync::Arc<std::sync::Mutex<vt100::Parser>>,
}

impl Screen {
    fn start(s: &Scratch, reviewer: &str) -> Screen {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave =
            std::fs::File::options().read(true).write(true).open(name.to_str().unwrap()).unwrap();
        let size = rustix::termios::Winsize { ws_row: 40, ws_col: 140, ws_xpixel: 0, ws_ypixel: 0 };
        rustix::termios::tcsetwinsize(&slave, size).unwrap();
        let mut cmd = s.command(&["review", "next"]);
        cmd.env("QUARRY_REVIEWER", reviewer)
            .env("TERM", "xterm-256color")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        let child = cmd.spawn().unwrap();
        drop(cmd); // the parent's copies of the terminal's other end
        let master = std::fs::File::from(master);
        let parser = std::sync::Arc::new(std::sync::Mutex::new(vt100::Parser::new(
            40.try_into().unwrap(),
            140.try_into().unwrap(),
            0,
        )));
        let (mut reader, screen) = (master.try_clone().unwrap(), parser.clone());
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 8192];
            // Ends with EIO once the program has exited and the terminal is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().process(&buf[..n]);
            }
        });
        Screen { master, child, parser }
    }

    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen shows `needle` (20 s at most).
    fn wait_for(&self, needle: &str) {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(20) {
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the screen never showed {needle:?}:\n{}", self.text());
    }

    fn keys(&mut self, keys: &str) {
        use std::io::Write;
        for key in keys.split(' ') {
            let bytes = match key {
                "DOWN" => "\x1b[B",
                "UP" => "\x1b[A",
                "ENTER" => "\r",
                "SPACE" => " ",
                other => other,
            };
            self.master.write_all(bytes.as_bytes()).unwrap();
            self.master.flush().unwrap();
            // One key at a time, as typed: the screen redraws between keys.
            std::thread::sleep(std::time::Duration::from_millis(60));
        }
    }

    fn wait(mut self) -> i32 {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(start.elapsed().as_secs() < 20, "review next did not exit:\n{}", self.text());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[test]
fn the_reviewers_screen_codes_by_keystroke_refuses_gaps_and_resumes() {
    let s = collection(2);
    s.json(&["review", "batch", "create", "--query", "pipeline", "--size", "10", "--json"]);
    let docs: Vec<String> = s
        .json(&["review", "batch", "show", "REV-0001", "--format", "json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["control_number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(docs.len(), 8);

    let mut screen = Screen::start(&s, "tess");
    screen.wait_for("document 1 of 8");
    screen.wait_for(&docs[0]);
    screen.wait_for("pipeline report number"); // the text
    screen.wait_for("> Responsiveness: -");
    // 1 = the first choice of the selected field (responsiveness); n saves and moves on.
    screen.keys("1");
    screen.wait_for("Responsiveness: responsive *");
    screen.keys("n");
    screen.wait_for("document 2 of 8");
    // Privileged without a basis: refused on screen, the reviewer stays on the document.
    screen.keys("DOWN 1 n");
    screen.wait_for("privilege_basis is required");
    assert!(screen.text().contains("document 2 of 8"));
    // Type the basis, choose withhold, go back up to responsiveness, save and move on.
    screen.keys("DOWN ENTER L e g a l SPACE a d v i c e ENTER DOWN 1 UP UP UP 2 n");
    screen.wait_for("document 3 of 8");
    screen.wait_for("(2 reviewed)");
    screen.keys("q");
    assert_eq!(screen.wait(), 0);

    let first = coding(&s, &docs[0]);
    assert_eq!(first["responsiveness"], ["responsive"]);
    let second = coding(&s, &docs[1]);
    assert_eq!(second["responsiveness"], ["not-responsive"]);
    assert_eq!(second["privilege"], ["attorney-client"]);
    assert_eq!(second["privilege_basis"], ["Legal advice"]);
    assert_eq!(second["privilege_treatment"], ["withhold"]);
    let entries = audit(&s, &["--reviewer", "tess", "--action", "code"]);
    assert_eq!(entries.len(), 5);
    assert!(entries.iter().all(|e| e["detail"]["batch"] == "REV-0001"), "{entries:?}");
    let batch = &s.json(&["review", "batch", "list", "--format", "json"])[0];
    assert_eq!((u(batch, "reviewed"), batch["assignee"].as_str()), (2, Some("tess")));

    // Coming back resumes at the first document not reviewed.
    let mut screen = Screen::start(&s, "tess");
    screen.wait_for("document 3 of 8");
    screen.wait_for(&docs[2]);
    screen.keys("q");
    assert_eq!(screen.wait(), 0);
}
