//! Runs queries against an index folder and prints hits and time per query.
//!
//! `cargo run --release -p quarry-index --example query -- INDEX_DIR QUERY...`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: query INDEX_DIR QUERY...")?;
    let index = quarry_index::CaseIndex::open_or_create(std::path::Path::new(&dir))?;
    let no_tags = |_: &str| -> Result<Vec<u64>, String> { Ok(Vec::new()) };
    for q in args {
        for round in 0..3 {
            let t = Instant::now();
            let parsed = quarry_index::query::parse(&q)?;
            let t_parse = t.elapsed();
            let prepared = index.prepare(&parsed.query, &no_tags)?;
            let t_prepare = t.elapsed();
            let ids = index.matching_ids(&prepared)?;
            let t_all = t.elapsed();
            println!(
                "{q:<30} round {round}: {:>8} hits  parse {:>8.3} ms  prepare {:>8.3} ms  total {:>8.3} ms",
                ids.len(),
                t_parse.as_secs_f64() * 1e3,
                t_prepare.as_secs_f64() * 1e3,
                t_all.as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
