//! `quarry-bench-ingest [--legacy-hashes] [--no-index] CASE CUSTODIAN PATH...`: creates CASE,
//! ingests PATHs with the real pipeline, prints the run report and the case summary as one JSON
//! object.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "__worker") {
        return ExitCode::from(u8::try_from(quarry_engine::worker_main()).unwrap_or(3));
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut flag = |name: &str| {
        let found = args.iter().position(|a| a == name);
        found.map(|at| args.remove(at)).is_some()
    };
    let legacy = flag("--legacy-hashes");
    let no_index = flag("--no-index");
    let [case_dir, custodian, paths @ ..] = args.as_slice() else {
        eprintln!("usage: quarry-bench-ingest CASE CUSTODIAN PATH...");
        return ExitCode::from(2);
    };
    let run = || -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let mut case = quarry_case::Case::init(case_dir.as_ref(), "bench")?;
        let mut config = case.config().clone();
        config.hashes.legacy_at_ingest = legacy;
        config.index.at_ingest = !no_index;
        case.save_config(config)?;
        let options = quarry_engine::IngestOptions {
            custodian: custodian.clone(),
            paths: paths.iter().map(PathBuf::from).collect(),
            passwords: Vec::new(),
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            worker: quarry_engine::WorkerCommand::current_exe()?,
            progress: false,
            retry_exceptions: false,
        };
        let report = quarry_engine::ingest(&case, &options)?;
        Ok(serde_json::json!({ "run": report, "case": case.summary(None)? }))
    };
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quarry-bench-ingest: {e}");
            ExitCode::from(2)
        }
    }
}
