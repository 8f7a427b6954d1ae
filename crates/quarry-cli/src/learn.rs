//! `quarry learn`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use fs_err as fs;

use crate::args::LearnCommand;
use crate::commands::open;
use crate::output;
use crate::review::actor;

pub(crate) fn learn(case_dir: &Path, command: LearnCommand) -> Result<ExitCode> {
    let case = open(case_dir)?;
    match command {
        LearnCommand::Start { field, positive, seed_query } => {
            let session = case.learn_start(&actor(), &field, &positive, seed_query.as_deref())?;
            outln!(
                "prioritized review {} started: relevant = {} is {}{}",
                session.id,
                session.field,
                session.positive,
                session
                    .seed_query
                    .as_deref()
                    .map(|q| format!(", seed query {q:?}"))
                    .unwrap_or_default()
            )?;
            outln!("next: quarry review batch next --prioritized --reviewer NAME")?;
        }
        LearnCommand::Status { chart, json } => {
            let status = case.learn_status()?;
            if let Some(path) = &chart {
                fs::write(path, png_chart(&status.gain, status.knee.1)?)?;
            }
            if json {
                output::json(&status)?;
                return Ok(ExitCode::SUCCESS);
            }
            let s = &status;
            outln!(
                "prioritized review {}: {} = {}",
                s.session.id,
                s.session.field,
                s.session.positive
            )?;
            outln!("  documents            {:>8}", s.documents)?;
            outln!(
                "  reviewed             {:>8}   ({:.1}%)",
                s.reviewed,
                100.0 * s.reviewed as f64 / s.documents.max(1) as f64
            )?;
            outln!("  relevant found       {:>8}", s.relevant_found)?;
            outln!("  models built         {:>8}", s.models)?;
            if s.unreadable_texts > 0 {
                outln!(
                    "  unreadable texts     {:>8}   (stored text could not be read: these documents have no features)",
                    s.unreadable_texts
                )?;
            }
            match (&s.validation, &s.pending_sample) {
                (Some(v), _) => {
                    outln!(
                        "  estimated recall     {:>7.1}%   (95% interval {:.1}%–{:.1}%; elusion {:.2}% in a sample of {} from {} not reviewed)",
                        100.0 * v.recall,
                        100.0 * v.recall_low,
                        100.0 * v.recall_high,
                        100.0 * v.elusion,
                        v.sample,
                        v.discard
                    )?;
                    if let Some(p) = s.estimated_prevalence {
                        outln!("  estimated prevalence {:>7.1}%", 100.0 * p)?;
                    }
                }
                (None, Some((batch, done, n))) => {
                    outln!("  validation           sample {batch}: {done} of {n} coded")?
                }
                (None, None) => outln!(
                    "  estimated recall     unknown until a validation sample is coded (quarry learn validate --sample 385)"
                )?,
            }
            if let (None, Some(r)) = (&s.validation, &s.running) {
                let pct = |x: f64| format!("{:.1}%", 100.0 * x);
                let drawn = format!(
                    "{} of {} documents drawn at random into prioritized batches were relevant, each weighted by its chance",
                    r.relevant, r.drawn
                );
                // A point figure is shown once its interval is within 20 points: before that
                // it reads as precise (a recall near 100% from a few draws with nothing
                // relevant among them) when the draws say little.
                if r.recall_high - r.recall_low > 0.2 {
                    outln!(
                        "  running estimate     recall {} to {}, prevalence {} to {} (95% intervals; too few draws to say more: {drawn})",
                        pct(r.recall_low),
                        pct(r.recall_high),
                        pct(r.prevalence_low),
                        pct(r.prevalence_high),
                    )?;
                } else {
                    outln!(
                        "  running estimate     recall {} ({} to {}), prevalence {} ({} to {}) (95% intervals; {drawn}; indicative, not a validation)",
                        pct(r.recall),
                        pct(r.recall_low),
                        pct(r.recall_high),
                        pct(r.prevalence),
                        pct(r.prevalence_low),
                        pct(r.prevalence_high),
                    )?;
                }
            }
            outln!("\ngain curve (relevant found against documents reviewed; | marks the knee)")?;
            print!("{}", terminal_chart(&s.gain, s.knee.1));
            outln!(
                "\nknee rule: {} (largest slope ratio {:.1} after {} documents)",
                if s.stop {
                    "STOP: the rate of finding relevant documents has fallen off; validate before you stop"
                } else {
                    "go on reviewing"
                },
                s.knee.0,
                s.knee.1
            )?;
            if let Some(path) = chart {
                outln!("chart written to {}", path.display())?;
            }
        }
        LearnCommand::Validate { sample } => {
            let (batch, discard) = case.learn_validate(&actor(), sample)?;
            outln!(
                "elusion sample {}: {} documents drawn at random from the {discard} not reviewed; code them (quarry review batch next --level 3), then run quarry learn status",
                batch.name,
                batch.documents
            )?;
        }
        LearnCommand::Rebuild { model } => {
            let (recorded, rebuilt) = case.learn_rebuild(model)?;
            if recorded == rebuilt {
                outln!("model {model} rebuilt bit for bit: weights blake3 {rebuilt}")?;
            } else {
                outln!("model {model} differs: recorded {recorded}, rebuilt {rebuilt}")?;
                return Ok(ExitCode::from(1));
            }
        }
        LearnCommand::Simulate { labels, field, positive, seed_query, seeds, json } => {
            let text = crate::commands::read_user_text(&labels, "labels file")?;
            let (relevant, unmatched) = case.read_labels(&text, &field, &positive)?;
            let seeds: Vec<u64> = (1..=seeds).collect();
            let sim = case.learn_simulate(&relevant, unmatched, &seed_query, &seeds)?;
            if json {
                output::json(&sim)?;
                return Ok(ExitCode::SUCCESS);
            }
            outln!(
                "{} documents, {} relevant ({field} = {positive}); seed query {:?}",
                sim.documents,
                sim.relevant,
                sim.seed_query
            )?;
            if sim.unmatched_labels > 0 {
                outln!("warning: {} label rows matched no document", sim.unmatched_labels)?;
            }
            outln!(
                "documents reviewed to reach a recall (mean over {} seeds; % of the collection)",
                seeds.len()
            )?;
            outln!("{:<10} {:>16} {:>16} {:>16}", "method", "75%", "80%", "90%")?;
            for method in ["quarry", "bmi", "keyword", "random"] {
                let runs: Vec<&quarry_case::SimulationRow> =
                    sim.rows.iter().filter(|r| r.method == method).collect();
                let mean = |k: usize| {
                    runs.iter().map(|r| r.effort[k] as f64).sum::<f64>() / runs.len().max(1) as f64
                };
                let cell = |k: usize| {
                    format!(
                        "{:.0} ({:.1}%)",
                        mean(k),
                        100.0 * mean(k) / sim.documents.max(1) as f64
                    )
                };
                outln!("{method:<10} {:>16} {:>16} {:>16}", cell(0), cell(1), cell(2))?;
            }
            if let Some((mean, se)) = sim.quarry_less_bmi(1) {
                outln!(
                    "quarry - bmi at 80%: {mean:+.1} documents, standard error {se:.1} (paired by seed)"
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The gain curve in a few terminal lines: documents reviewed across, relevant found up.
pub(crate) fn terminal_chart(gain: &[u64], knee_at: usize) -> String {
    const W: usize = 60;
    const H: usize = 10;
    let n = gain.len();
    let top = gain.last().copied().unwrap_or(0).max(1);
    let mut grid = vec![vec![' '; W]; H];
    for (x, column) in (0..W).map(|x| (x, (x + 1) * n / W)) {
        if column == 0 {
            continue;
        }
        let found = gain[column - 1];
        let y = ((found as f64 / top as f64) * (H - 1) as f64).round() as usize;
        for row in grid.iter_mut().skip(H - 1 - y) {
            if row[x] == ' ' {
                row[x] = '.';
            }
        }
        grid[H - 1 - y][x] = '*';
    }
    if n > 0 && knee_at > 0 {
        let x = ((knee_at * W).div_ceil(n)).clamp(1, W) - 1;
        for row in &mut grid {
            if row[x] == ' ' {
                row[x] = '|';
            }
        }
    }
    let mut out = String::new();
    for (i, row) in grid.iter().enumerate() {
        let label = if i == 0 {
            format!("{top:>6} ")
        } else if i == H - 1 {
            format!("{:>6} ", 0)
        } else {
            " ".repeat(7)
        };
        out.push_str(&label);
        out.push('|');
        out.extend(row.iter());
        out.push('\n');
    }
    out.push_str(&format!(
        "{}+{}\n{}0{}{n} reviewed\n",
        " ".repeat(7),
        "-".repeat(W),
        " ".repeat(8),
        " ".repeat(W.saturating_sub(10))
    ));
    out
}

/// The gain curve as a PNG, 640 x 400: relevant found (blue, up) against documents reviewed
/// (across), the average rate so far (grey, the straight line to the last point: a curve
/// that has bent below it has slowed down), and the knee (red). Deterministic bytes.
pub(crate) fn png_chart(gain: &[u64], knee_at: usize) -> Result<Vec<u8>> {
    const W: u32 = 640;
    const H: u32 = 400;
    const M: u32 = 40;
    let mut px = vec![255u8; (W * H * 3) as usize];
    let mut put = |x: u32, y: u32, c: [u8; 3]| {
        if x < W && y < H {
            let i = ((y * W + x) * 3) as usize;
            px[i..i + 3].copy_from_slice(&c);
        }
    };
    let (x0, y0, x1, y1) = (M, H - M, W - M, M);
    for x in x0..=x1 {
        put(x, y0, [0, 0, 0]);
    }
    for y in y1..=y0 {
        put(x0, y, [0, 0, 0]);
    }
    let n = gain.len().max(1) as f64;
    let top = gain.last().copied().unwrap_or(0).max(1) as f64;
    let to_x = |k: f64| x0 as f64 + k / n * f64::from(x1 - x0);
    let to_y = |f: f64| y0 as f64 - f / top * f64::from(y0 - y1);
    for x in x0..=x1 {
        let k = (f64::from(x - x0) / f64::from(x1 - x0)) * n;
        put(x, to_y(k / n * top).round() as u32, [170, 170, 170]);
    }
    if knee_at > 0 {
        let x = to_x(knee_at as f64).round() as u32;
        for y in y1..y0 {
            put(x, y, [220, 40, 40]);
        }
    }
    let mut last: Option<(u32, u32)> = None;
    for (k, &f) in gain.iter().enumerate() {
        let (x, y) = (to_x((k + 1) as f64).round() as u32, to_y(f as f64).round() as u32);
        if let Some((px0, py0)) = last {
            for y_step in py0.min(y)..=py0.max(y) {
                for dx in 0..2 {
                    put(px0 + dx, y_step, [30, 80, 200]);
                }
            }
            for x_step in px0..=x {
                for dy in 0..2 {
                    put(x_step, y + dy, [30, 80, 200]);
                }
            }
        }
        last = Some((x, y));
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, W, H);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&px)?;
    }
    Ok(out)
}
