//! `learn` and `review batch next --prioritized`: a prioritized review finds the relevant
//! documents first, every model is recorded and rebuilds bit for bit, and an elusion sample
//! estimates recall.

use crate::common::{Scratch, u};
use crate::review::{as_reviewer, audit, ok};
use serde_json::Value;
use std::collections::HashMap;

/// 150 messages: 30 about pipeline safety (relevant), the rest about other business, words
/// drawn by a fixed generator so every run has the same collection.
fn collection() -> (Scratch, HashMap<String, bool>) {
    let s = Scratch::new();
    let relevant_words =
        ["pipeline", "rupture", "safety", "inspection", "corrosion", "valve", "pressure", "leak"];
    let other_words = [
        "lunch", "weather", "budget", "meeting", "travel", "invoice", "holiday", "party", "report",
        "market", "trading", "desk", "schedule", "office", "golf", "dinner", "review", "forecast",
    ];
    let common = ["the", "and", "please", "call", "today", "week", "thanks", "team"];
    let mut state = 0x1234_5678_u64;
    let mut next = |n: usize| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n
    };
    for k in 0..150 {
        let relevant = k % 5 == 2;
        let mut words = Vec::new();
        for _ in 0..40 {
            let w = match next(10) {
                0..=2 if relevant => relevant_words[next(relevant_words.len())],
                0..=3 => other_words[next(other_words.len())],
                _ => common[next(common.len())],
            };
            words.push(w);
        }
        // A few non-relevant messages mention one pipeline word in passing.
        if !relevant && k % 7 == 0 {
            words.push("pipeline");
        }
        s.file(
            &format!("m/{k:03}.eml"),
            format!(
                "From: a{k}@x.com\nTo: b@x.com\nSubject: Note {k:03}\nDate: Tue, 12 Dec 2000 04:03:00 -0800\nMessage-ID: <{k}@x>\n\n{}\n",
                words.join(" ")
            )
            .as_bytes(),
        );
    }
    s.ingest("alpha", &[&s.path("m")], &[]);
    let truth = s
        .items()
        .iter()
        .map(|i| {
            let k: usize = i["locator"]
                .as_str()
                .unwrap()
                .trim_end_matches(".eml")
                .rsplit('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (i["control_number"].as_str().unwrap().to_owned(), k % 5 == 2)
        })
        .collect();
    (s, truth)
}

/// Codes every document of a batch as the truth says.
fn code_batch(s: &Scratch, batch: &str, truth: &HashMap<String, bool>) -> usize {
    let docs = s.json(&["review", "batch", "show", batch, "--format", "json"]);
    let mut found = 0;
    for d in docs.as_array().unwrap() {
        let control = d["control_number"].as_str().unwrap();
        let value = if truth[control] { "responsive" } else { "not-responsive" };
        found += usize::from(truth[control]);
        ok(&as_reviewer(
            s,
            "rita",
            &["review", "code", control, "--set", &format!("responsiveness={value}")],
        ));
    }
    found
}

#[test]
fn prioritized_review_finds_relevant_documents_first_and_validates() {
    let (s, truth) = collection();
    // One message's stored text cannot be read at first: counted as unreadable, not stored,
    // and read on a later use.
    let items = s.items();
    let hidden = items.iter().find(|i| !truth[i["control_number"].as_str().unwrap()]).unwrap();
    let blake3 = hidden["blake3"].as_str().unwrap();
    let saved = s.hide_text(blake3);
    ok(&as_reviewer(
        &s,
        "manager",
        &[
            "learn",
            "start",
            "--field",
            "responsiveness",
            "--positive",
            "responsive",
            "--seed-query",
            "pipeline safety",
        ],
    ));
    assert_eq!(u(&s.json(&["learn", "status", "--json"]), "unreadable_texts"), 1);
    s.restore_text(saved);
    let mut found = 0;
    // Per batch: whether its drawn document (the last: the top of the ranking comes first)
    // is relevant.
    let mut drawn_relevant = Vec::new();
    for round in 0..3 {
        let next = s.json(&[
            "review",
            "batch",
            "next",
            "--prioritized",
            "--size",
            "10",
            "--json",
            "--reviewer",
            "rita",
        ]);
        assert_eq!(next["checked_out"], true, "{next}");
        let name = next["batch"]["name"].as_str().unwrap().to_owned();
        assert_eq!(name, format!("PRI-{:04}", round + 1));
        assert_eq!(u(&next["batch"], "documents"), 10);
        let docs = s.json(&["review", "batch", "show", &name, "--format", "json"]);
        let last = docs.as_array().unwrap().last().unwrap()["control_number"].as_str().unwrap();
        drawn_relevant.push(truth[last]);
        found += code_batch(&s, &name, &truth);
    }
    // 30 of 150 are relevant: a random order finds 6 in 30 on average; the ranking finds most.
    assert!(found >= 20, "found {found} relevant in the first 30 reviewed");
    let chart = s.path("gain.png");
    let status = s.json(&["learn", "status", "--json", "--chart", chart.to_str().unwrap()]);
    assert_eq!((u(&status, "reviewed"), u(&status, "relevant_found")), (30, found as u64));
    assert_eq!(status["gain"].as_array().unwrap().len(), 30);
    assert_eq!(u(&status, "models"), 3);
    assert_eq!(u(&status, "unreadable_texts"), 0, "read on a later use");
    // One document of each batch of 10 was drawn at random, favouring the top of the rest:
    // the running estimate rests on them, each weighted by one over the probability it had.
    let running = &status["running"];
    assert_eq!(u(running, "drawn"), 3, "{status}");
    let draws = audit(&s, &["--action", "batch.create"]);
    let p: Vec<f64> =
        draws.iter().map(|b| b["detail"]["explored_p"][0].as_f64().unwrap()).collect();
    assert!(p.iter().all(|&p| p > 0.0 && p < 1.0), "{p:?}");
    // Every document of a rest of n keeps a chance of at least 0.5 / n, and n <= 141 here.
    assert!(p.iter().all(|&p| p >= 0.5 / 141.0), "{p:?}");
    let weight: f64 = p.iter().map(|p| 1.0 / p).sum();
    let hits: f64 = p.iter().zip(&drawn_relevant).filter(|x| *x.1).map(|x| 1.0 / x.0).sum();
    assert_eq!(u(running, "relevant"), drawn_relevant.iter().filter(|&&r| r).count() as u64);
    let expected = found as f64 / (found as f64 + hits / weight * 120.0);
    assert!((running["recall"].as_f64().unwrap() - expected).abs() < 1e-9, "{running}");
    // Its 95% interval: Wilson's on the weighted rate, the three draws counted as their
    // effective number, (sum of weights)^2 / sum of squared weights.
    let (rate, n) = (hits / weight, weight * weight / p.iter().map(|p| p.powi(-2)).sum::<f64>());
    let z = 1.959_963_984_540_054_f64;
    let center = (rate + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (rate * (1.0 - rate) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    let recall_at = |rate: f64| found as f64 / (found as f64 + rate * 120.0);
    let (low, high) =
        (running["recall_low"].as_f64().unwrap(), running["recall_high"].as_f64().unwrap());
    assert!((low - recall_at((center + half).min(1.0))).abs() < 1e-9, "{running}");
    assert!((high - recall_at((center - half).max(0.0))).abs() < 1e-9, "{running}");
    assert!(low < expected && expected <= high, "{running}");
    let prevalence_at = |rate: f64| (found as f64 + rate * 120.0) / 150.0;
    for (key, rate) in
        [("prevalence_low", (center - half).max(0.0)), ("prevalence_high", center + half)]
    {
        assert!((running[key].as_f64().unwrap() - prevalence_at(rate)).abs() < 1e-9, "{running}");
    }
    assert!(std::fs::read(&chart).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    let text = ok(&s.run(&["learn", "status"]));
    assert!(text.contains("gain curve") && text.contains("knee rule"), "{text}");
    // Three draws say little: the interval is shown, not a point figure.
    let shown = format!("recall {:.1}% to {:.1}%", 100.0 * low, 100.0 * high);
    assert!(text.contains(&shown) && text.contains("too few draws to say more"), "{text}");

    // The seed query's prior: full weight for the first batch (nothing coded), then faded by
    // the relevant found, and of that the share that best orders the documents handed out
    // so far by the two scores each had when it was ranked. Each batch's audit entry keeps
    // those scores for every document it handed out, in the batch's order.
    let batches = audit(&s, &["--action", "batch.create"]);
    assert_eq!(batches.len(), 3);
    let control_of: HashMap<u64, String> = audit(&s, &["--action", "code"])
        .iter()
        .map(|c| (c["item_id"].as_u64().unwrap(), c["control_number"].as_str().unwrap().into()))
        .collect();
    let mut history: Vec<((f32, f32), bool)> = Vec::new();
    let mut fractions = Vec::new();
    for b in &batches {
        let detail = &b["detail"];
        let found = history.iter().filter(|h| h.1).count();
        let base = 5.0 * 10.0 / (10.0 + found as f32);
        let fraction = quarry_learn::cal::fitted_fraction(&history, base);
        let weight = detail["prior_weight"].as_f64().unwrap();
        assert!((weight - f64::from(base * fraction)).abs() < 1e-5, "{weight} {base} {fraction}");
        fractions.push(fraction);
        let name = detail["batch"].as_str().unwrap();
        let shown = s.json(&["review", "batch", "show", name, "--format", "json"]);
        let ranked = detail["ranked"].as_array().unwrap();
        assert_eq!(ranked.len(), 10, "{detail}");
        for (entry, doc) in ranked.iter().zip(shown.as_array().unwrap()) {
            let control = &control_of[&entry[0].as_u64().unwrap()];
            assert_eq!(control, doc["control_number"].as_str().unwrap());
            let (zm, zk) = (entry[1].as_f64().unwrap(), entry[2].as_f64().unwrap());
            history.push(((zm as f32, zk as f32), truth[control]));
        }
    }
    assert_eq!(fractions[0], 1.0, "nothing coded: the whole weight");
    assert!(fractions[1..].iter().any(|&f| f < 1.0), "{fractions:?}");

    // Every model is in the audit log with its training set's hash, and rebuilds bit for bit.
    let models = audit(&s, &["--action", "learn.model"]);
    assert_eq!(models.len(), 3);
    assert_eq!(
        models[2]["detail"]["negatives"].as_u64().unwrap()
            + models[2]["detail"]["positives"].as_u64().unwrap()
            - 1,
        20
    );
    for m in &models {
        assert_eq!(m["detail"]["training_blake3"].as_str().unwrap().len(), 64);
        let id = m["detail"]["model"].as_i64().unwrap().to_string();
        let out = ok(&s.run(&["learn", "rebuild", &id]));
        assert!(out.contains("bit for bit"), "{out}");
    }

    // An elusion sample from the 120 not reviewed, coded blind, gives the recall estimate.
    ok(&as_reviewer(&s, "manager", &["learn", "validate", "--sample", "40"]));
    let pending = s.json(&["learn", "status", "--json"]);
    assert_eq!(pending["pending_sample"], serde_json::json!(["VAL-0001", 0, 40]));
    code_batch(&s, "VAL-0001", &truth);
    let done = s.json(&["learn", "status", "--json"]);
    let v = &done["validation"];
    assert_eq!((u(v, "sample"), u(v, "discard"), u(v, "found")), (40, 120, found as u64));
    let missed_in_sample = u(v, "sample_relevant");
    let recall = v["recall"].as_f64().unwrap();
    let expected = found as f64 / (found as f64 + missed_in_sample as f64 / 40.0 * 120.0);
    assert!((recall - expected).abs() < 1e-9, "{v}");
    assert!(
        v["recall_low"].as_f64().unwrap() <= recall && recall <= v["recall_high"].as_f64().unwrap()
    );

    // A question started afresh has no draws of its own yet: the earlier session's do not
    // make its running estimate, though their coding counts as reviewed.
    ok(&as_reviewer(
        &s,
        "manager",
        &["learn", "start", "--field", "responsiveness", "--positive", "responsive"],
    ));
    let fresh = s.json(&["learn", "status", "--json"]);
    assert_eq!(u(&fresh, "reviewed"), 70, "{fresh}");
    assert!(fresh["running"].is_null(), "{fresh}");
}

#[test]
fn simulation_beats_random_order_and_reports_every_method() {
    let (s, truth) = collection();
    let mut labels = String::from("document,responsiveness\n");
    for (control, relevant) in &truth {
        labels.push_str(&format!(
            "{control},{}\n",
            if *relevant { "responsive" } else { "not-responsive" }
        ));
    }
    let file = s.file("labels.csv", labels.as_bytes());
    let args = [
        "learn",
        "simulate",
        "--labels",
        file.to_str().unwrap(),
        "--field",
        "responsiveness",
        "--positive",
        "responsive",
        "--seed-query",
        "pipeline safety",
        "--seeds",
        "2",
        "--json",
    ];
    let sim = s.json(&args);
    assert_eq!(
        (u(&sim, "documents"), u(&sim, "relevant"), u(&sim, "unmatched_labels")),
        (150, 30, 0)
    );
    let rows = sim["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8);
    let mean = |method: &str| {
        let r: Vec<&Value> = rows.iter().filter(|r| r["method"] == method).collect();
        r.iter().map(|r| r["effort"][1].as_u64().unwrap()).sum::<u64>() as f64 / r.len() as f64
    };
    assert!(
        mean("quarry") < 0.6 * mean("random"),
        "quarry {} random {}",
        mean("quarry"),
        mean("random")
    );
    assert!(mean("bmi") < 0.6 * mean("random"));
    // The same seeds give the same efforts.
    let again = s.json(&args);
    assert_eq!(again["rows"], sim["rows"]);
    // The text report pairs the two learners seed by seed.
    let at_80 = |method: &str, seed: u64| {
        let row = rows.iter().find(|r| r["method"] == method && r["seed"] == seed).unwrap();
        row["effort"][1].as_u64().unwrap() as f64
    };
    let diffs = [1, 2].map(|seed| at_80("quarry", seed) - at_80("bmi", seed));
    let mean = f64::midpoint(diffs[0], diffs[1]);
    let se = (diffs[0] - diffs[1]).abs() / 2.0;
    let text = String::from_utf8(s.run(&args[..args.len() - 1]).stdout).unwrap();
    let line = format!(
        "quarry - bmi at 80%: {mean:+.1} documents, standard error {se:.1} (paired by seed)"
    );
    assert!(text.contains(&line), "{line}\n{text}");
}
