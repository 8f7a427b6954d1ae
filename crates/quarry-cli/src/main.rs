//! The `quarry` binary: argument parsing, output and exit codes. The work is done by
//! `quarry-engine` and `quarry-case`.

/// `println!` that gives back the write's error instead of panicking, for `?`: output piped
/// into a reader that stops early (`quarry export privlog ... | head`) ends the command quietly
/// (`main` treats a closed pipe as success) rather than with a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

mod args;
mod commands;
mod exports;
mod learn;
mod output;
mod review;
mod tui;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The extraction worker is this same binary; it skips argument parsing.
    if std::env::args_os().nth(1).is_some_and(|a| a == "__worker") {
        return ExitCode::from(u8::try_from(quarry_engine::worker_main()).unwrap_or(3));
    }
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(status) => status,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("quarry: {err:#}");
            ExitCode::from(2)
        }
    }
}
