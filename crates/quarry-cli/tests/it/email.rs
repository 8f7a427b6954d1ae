//! Email, mailboxes and the text export, on inputs written by the tests (no corpus needed).

use crate::common::{Scratch, blake3_hex, fixtures, u};
use serde_json::Value;

const MBOX: &str = "From alice@example.com Mon May 14 16:39:00 2001\n\
Message-ID: <1@example.com>\n\
Date: Mon, 14 May 2001 09:39:00 -0700\n\
From: Alice Example <alice@example.com>\n\
To: bob@example.com\n\
Subject: Raptor\n\
\n\
First message.\n\
>From the desk of Alice\n\
\n\
From bob@example.com Mon May 14 17:00:00 2001\n\
Message-ID: <2@example.com>\n\
Date: Mon, 14 May 2001 10:00:00 -0700\n\
From: bob@example.com\n\
To: alice@example.com\n\
Subject: Re: Raptor\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
Content-Type: text/plain; charset=iso-8859-1\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
Caf=E9 at noon.\n\
--b\n\
Content-Type: text/plain; name=notes.txt\n\
Content-Disposition: attachment; filename=notes.txt\n\
\n\
attached notes\n\
--b--\n";

/// The same first message as saved in another folder: other Message-ID and line ends.
const COPY: &str = "Message-ID: <1-copy@example.com>\r\n\
X-Folder: \\Alice\\Sent\r\n\
Date: Mon, 14 May 2001 16:39:00 +0000\r\n\
From: alice@example.com\r\n\
To: BOB@example.com\r\n\
Subject: Raptor\r\n\
\r\n\
First   message.\r\n\
From the desk of Alice\r\n";

fn by_locator<'a>(rows: &'a [Value], locator: &str) -> &'a Value {
    rows.iter().find(|r| r["locator"] == locator).unwrap_or_else(|| panic!("no {locator}"))
}

/// Messages are stored in the native packs, not a file each: what reads natives back (MD5 and
/// SHA-1 on demand here) finds them there, and gets the bytes ingest hashed.
#[test]
fn mailbox_messages_are_packed_and_read_back_from_the_pack() {
    let s = Scratch::new();
    s.file("in/alice.mbox", MBOX.as_bytes());
    assert_eq!(s.ingest("alice", &[&s.path("in")], &[]).0, 0);
    let at_ingest = Scratch::new();
    at_ingest.set("legacy_at_ingest", "true");
    at_ingest.file("in/alice.mbox", MBOX.as_bytes());
    assert_eq!(at_ingest.ingest("alice", &[&at_ingest.path("in")], &[]).0, 0);

    let messages: Vec<Value> =
        s.items().into_iter().filter(|i| i["file_type"] == "email").collect();
    assert_eq!(messages.len(), 2);
    for message in &messages {
        let blake3 = message["blake3"].as_str().unwrap();
        let file = s.case().join("natives").join(&blake3[..2]).join(blake3);
        assert!(!file.exists(), "{message}");
    }
    let notes = by_locator(&s.items(), "in/alice.mbox//message 2//notes.txt").clone();
    let blake3 = notes["blake3"].as_str().unwrap();
    assert!(s.case().join("natives").join(&blake3[..2]).join(blake3).is_file(), "attachments");

    let out = s.run(&["hashes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = at_ingest.items();
    for message in &messages {
        let locator = message["locator"].as_str().unwrap();
        let ours = by_locator(&s.items(), locator).clone();
        let theirs = by_locator(&expected, locator).clone();
        assert_eq!(ours["md5"].as_str().map(str::len), Some(32), "{ours}");
        assert_eq!((&ours["md5"], &ours["sha1"]), (&theirs["md5"], &theirs["sha1"]));
    }
}

#[test]
fn a_mailbox_is_a_container_of_messages_with_families_and_identities() {
    let s = Scratch::new();
    s.file("in/alice.mbox", MBOX.as_bytes());
    s.file("in/sent/copy.eml", COPY.as_bytes());
    let (code, out) = s.ingest("alice", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    let case = &out["case"];
    assert_eq!(case["reconciled"], true, "{case}");
    assert_eq!(u(case, "items"), 5, "mailbox, two messages, an attachment, the copy");
    assert_eq!(u(case, "duplicate_items"), 1, "the copy is the first message again");

    let items = s.items();
    let mbox = by_locator(&items, "in/alice.mbox");
    assert_eq!(mbox["file_type"], "mbox");
    // Read in place: hashed, its messages stored, the mailbox itself left at its source.
    assert!(mbox["flags"].as_str().unwrap().contains("native-at-source"), "{mbox}");
    let mbox_blake3 = mbox["blake3"].as_str().unwrap();
    assert_eq!(mbox_blake3, blake3_hex(MBOX.as_bytes()));
    let stored = s.case().join("natives").join(&mbox_blake3[..2]).join(mbox_blake3);
    assert!(!stored.exists(), "the mailbox is not copied into the case");
    let first = by_locator(&items, "in/alice.mbox//message 1");
    let second = by_locator(&items, "in/alice.mbox//message 2");
    let notes = by_locator(&items, "in/alice.mbox//message 2//notes.txt");
    let copy = by_locator(&items, "in/sent/copy.eml");
    assert_eq!(first["parent"], mbox["control_number"]);
    assert_eq!(notes["parent"], second["control_number"]);
    assert_eq!(copy["master"], first["control_number"], "one message, two folders");
    assert_eq!(notes["master"], second["control_number"], "an attachment goes with its message");
    assert_eq!(second["master"], second["control_number"]);
    // The line end before a boundary belongs to the boundary (RFC 2046).
    assert_eq!(s.text(notes["blake3"].as_str().unwrap()), "attached notes");
    let text = s.text(first["blake3"].as_str().unwrap());
    assert!(text.starts_with("From: Alice Example <alice@example.com>\nTo: bob@example.com\n"));
    assert!(text.ends_with("\nFirst message.\nFrom the desk of Alice\n"), "unescaped: {text}");
    let text = s.text(second["blake3"].as_str().unwrap());
    assert!(text.contains("Attachments: notes.txt\n\nCafé at noon.\n"), "{text}");

    let emails = s.json(&["report", "emails", "--format", "json"]);
    let emails = emails.as_array().unwrap();
    assert_eq!(emails.len(), 3);
    let first = by_locator(emails, "in/alice.mbox//message 1");
    assert_eq!(first["sent"], "2001-05-14T16:39:00Z");
    assert_eq!(first["sent_offset"], "-07:00");
    assert_eq!(first["message_id"], "<1@example.com>");
    let copy = by_locator(emails, "in/sent/copy.eml");
    assert_eq!(copy["identity"], first["identity"]);
    assert_eq!(copy["x_folder"], "\\Alice\\Sent");
    assert_eq!(by_locator(emails, "in/alice.mbox//message 2")["attachments"], "1");

    let groups = s.json(&["report", "duplicates", "--format", "json"]);
    let group = &groups[0];
    assert_eq!(group["all_paths"][1], "in/sent/copy.eml");
    assert_eq!(group["dedup_key"], first["identity"], "grouped by identity, not bytes");
    assert_ne!(group["dedup_key"], group["blake3"]);
}

/// Message files of a Maildir take their folder as their X-Folder (a header of their own wins),
/// and their flags from their names.
#[test]
fn maildir_messages_carry_their_folder() {
    let s = Scratch::new();
    let message = |subject: &str| {
        format!("From: alice@example.com\nTo: bob@example.com\nSubject: {subject}\n\nText.\n")
    };
    for dir in ["", ".Sent", ".Archive.2001", "Projects"] {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(s.path("Maildir").join(dir).join(sub)).unwrap();
        }
    }
    s.file("Maildir/cur/1.host:2,S", message("inbox").as_bytes());
    s.file("Maildir/.Sent/cur/2.host:2,RS", message("sent").as_bytes());
    s.file("Maildir/.Archive.2001/new/3.host", message("archived").as_bytes());
    s.file("Maildir/Projects/cur/4.host:2,", message("project").as_bytes());
    s.file("Maildir/.Sent/cur/5.host:2,S", COPY.as_bytes());
    s.file("loose/6.eml", message("loose").as_bytes());
    let (code, out) = s.ingest("alice", &[&s.path("Maildir"), &s.path("loose")], &[]);
    assert_eq!(code, 0, "{out}");
    let emails = s.json(&["report", "emails", "--format", "json"]);
    let mut folders: Vec<(String, String)> = emails
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["subject"].as_str().unwrap().into(), e["x_folder"].as_str().unwrap().into()))
        .collect();
    folders.sort();
    let expected = [
        ("Raptor", "\\Alice\\Sent"),
        ("archived", "Archive/2001"),
        ("inbox", "INBOX"),
        ("loose", ""),
        ("project", "Projects"),
        ("sent", "Sent"),
    ];
    assert_eq!(folders, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let items = s.items();
    let sent = by_locator(&items, "Maildir/.Sent/cur/2.host:2,RS");
    assert_eq!(sent["flags"], "maildir-replied maildir-seen");
}

/// 2,700 messages, "report 1" to "report 2700": over the 8 MiB a worker keeps in memory.
fn big_mailbox() -> String {
    let body = "A line of the quarterly gas report, repeated to fill the message.\n".repeat(50);
    let mut mbox = String::new();
    for n in 1..=2_700 {
        mbox.push_str(&format!(
            "From sender@example.com Mon May 14 16:39:00 2001\nFrom: sender@example.com\n\
             To: bob@example.com\nSubject: report {n}\nMessage-ID: <{n}@example.com>\n\n{body}\n"
        ));
    }
    mbox
}

#[test]
fn a_mailbox_larger_than_memory_holds_is_read_at_its_source_and_checked() {
    // Over the 8 MiB a worker keeps in memory: hashed, then read again at the source, and
    // what is read the second time is checked against the hash.
    let s = Scratch::new();
    let mbox = big_mailbox();
    assert!(mbox.len() > 8 << 20, "{}", mbox.len());
    s.file("in/big.mbox", mbox.as_bytes());
    let (code, out) = s.ingest("alice", &[&s.path("in")], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["case"]["reconciled"], true, "{out}");
    assert_eq!(u(&out["case"], "items"), 2_701);
    assert_eq!(u(&out["case"], "exceptions"), 0, "read as hashed: {out}");
    let items = s.items();
    let big = by_locator(&items, "in/big.mbox");
    assert_eq!(big["blake3"], blake3_hex(mbox.as_bytes()));
    assert!(big["flags"].as_str().unwrap().contains("native-at-source"), "{big}");
    let last = by_locator(&items, "in/big.mbox//message 2700");
    assert!(s.text(last["blake3"].as_str().unwrap()).contains("Subject: report 2700"));
}

/// A mailbox read in place that fails to read part-way (a failing medium): the messages read
/// are kept, and an `unreadable` exception at the first message not read stands for the rest.
#[test]
fn a_mailbox_that_fails_part_way_at_its_source_is_accounted_for() {
    let s = Scratch::new();
    let mbox = big_mailbox();
    let path = s.file("in/big.mbox", mbox.as_bytes());
    let report = s.ingest_with_fault("c", &path, "readerror:big.mbox");
    assert_eq!(report["case"]["reconciled"], true, "{report}");
    let e = s.sole_exception("unreadable");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("could not be read from here on"), "{message}");
    assert!(message.contains("injected read failure"), "{message}");
    // Half the mailbox was read: the exception stands at the first message not read, after
    // every message that was.
    let first_unread: u64 = e["locator"]
        .as_str()
        .unwrap()
        .strip_prefix("big.mbox//message ")
        .unwrap_or_else(|| panic!("{e}"))
        .parse()
        .unwrap();
    assert!((1_000..2_000).contains(&first_unread), "{first_unread}");
    let items = s.items();
    assert_eq!(
        items.len() as u64,
        first_unread,
        "the mailbox and messages 1 to {first_unread} - 1"
    );
    let last = by_locator(&items, &format!("big.mbox//message {}", first_unread - 1));
    let text = s.text(last["blake3"].as_str().unwrap());
    assert!(text.contains(&format!("Subject: report {}\n", first_unread - 1)), "{text}");
}

#[test]
fn text_export_has_one_file_per_item_and_the_same_bytes_every_time() {
    let s = Scratch::new();
    let (code, _) = s.ingest("sanders-r", &[&fixtures().join("sample")], &[]);
    assert_eq!(code, 1, "the sample holds a broken and a locked archive");
    let items = s.items();
    let export = |dir: &str| {
        let out = s.run(&["export", "text", "--out", s.path(dir).to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(u(&report, "items"), items.len() as u64);
        std::fs::read_to_string(s.path(dir).join("index.csv")).unwrap()
    };
    let index = export("text1");
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(lines[0], "control_number,parent,family,locator,custodian,blake3,type,flags");
    assert_eq!(lines.len(), items.len() + 1);
    for item in &items {
        let control = item["control_number"].as_str().unwrap();
        let file = std::fs::read_to_string(s.path("text1").join(format!("{control}.txt"))).unwrap();
        if item["text_chars"].is_null() {
            assert_eq!(file, "", "{control} has no text");
        } else {
            assert_eq!(file, s.text(item["blake3"].as_str().unwrap()), "{control}");
        }
    }
    let email = items.iter().find(|i| i["locator"] == "sample/loose/memo.eml").unwrap();
    let row =
        lines.iter().find(|l| l.starts_with(email["control_number"].as_str().unwrap())).unwrap();
    assert!(row.ends_with(",email,"), "{row}");

    assert_eq!(export("text2"), index);
    for item in &items {
        let name = format!("{}.txt", item["control_number"].as_str().unwrap());
        assert_eq!(
            std::fs::read(s.path("text1").join(&name)).unwrap(),
            std::fs::read(s.path("text2").join(&name)).unwrap()
        );
    }
    let again = s.run(&["export", "text", "--out", s.path("text1").to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "an export never mixes with older files");
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

/// A text changed in its pack after ingest (a disk, a bug) is refused when read, not exported
/// or indexed as if it were the item's: `export text` writes the item's file empty, flags it in
/// `index.csv`, names it and goes on; `reindex` counts it unreadable. Before texts carried a
/// checksum, both took the changed text for the item's.
#[test]
fn a_text_damaged_in_the_store_is_refused_not_exported() {
    let s = Scratch::new();
    let (code, _) = s.ingest("sanders-r", &[&fixtures().join("sample")], &[]);
    assert_eq!(code, 1, "the sample holds a broken and a locked archive");
    let items = s.items();
    let memo = items.iter().find(|i| i["locator"] == "sample/loose/memo.eml").unwrap();
    let blake3 = memo["blake3"].as_str().unwrap();
    s.change_text_letter(blake3);
    // The memo and its copy in an archive: one native, one text.
    let copies: Vec<&str> = items
        .iter()
        .filter(|i| i["blake3"] == blake3)
        .map(|i| i["control_number"].as_str().unwrap())
        .collect();
    assert_eq!(copies.len(), 2, "{items:?}");

    let out = s.run(&["export", "text", "--out", s.path("text").to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(u(&report, "items"), items.len() as u64, "every item is exported");
    let unreadable = report["unreadable"].as_array().unwrap();
    let named: Vec<&str> =
        unreadable.iter().map(|u| u["control_number"].as_str().unwrap()).collect();
    assert_eq!(named, copies, "{report}");
    let reason = unreadable[0]["reason"].as_str().unwrap();
    assert!(reason.contains("damaged") && reason.contains("CRC-32"), "{reason}");
    let index = std::fs::read_to_string(s.path("text").join("index.csv")).unwrap();
    for control in &copies {
        let file = s.path("text").join(format!("{control}.txt"));
        assert_eq!(std::fs::read_to_string(file).unwrap(), "");
        let row = index.lines().find(|l| l.starts_with(control)).unwrap();
        assert!(row.ends_with(",email,text-unreadable"), "{row}");
    }
    // The other texts are exported as stored.
    let others = items.iter().filter(|i| i["blake3"] != blake3 && !i["text_chars"].is_null());
    for item in others {
        let name = format!("{}.txt", item["control_number"].as_str().unwrap());
        let file = std::fs::read_to_string(s.path("text").join(name)).unwrap();
        assert_eq!(file, s.text(item["blake3"].as_str().unwrap()));
    }
    // Without --json the warning names the items.
    let out = s.run(&["export", "text", "--out", s.path("text2").to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 items' texts could not be read"), "{stderr}");
    assert!(copies.iter().all(|c| stderr.contains(c)), "{stderr}");

    let reindex = s.json(&["reindex", "--json"]);
    assert_eq!(reindex["text_unreadable"], 2, "{reindex}");
}

#[test]
fn pdf_properties_and_text_of_the_sample() {
    let s = Scratch::new();
    let (code, out) = s.ingest("sanders-r", &[&fixtures().join("sample/loose/memo.pdf")], &[]);
    assert_eq!(code, 0, "{out}");
    let docs = s.json(&["report", "documents", "--format", "json"]);
    let doc = &docs[0];
    assert_eq!(doc["title"], "Raptor memo");
    assert_eq!(doc["author"], "General Counsel");
    assert_eq!(doc["pages"], "1");
    assert_eq!(doc["created"], "2001-05-14T16:39:00Z");
    let item = &s.items()[0];
    let text = s.text(item["blake3"].as_str().unwrap());
    assert!(text.contains("PRIVILEGED AND CONFIDENTIAL"), "{text}");
}
