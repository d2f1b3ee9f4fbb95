//! `rewind`: the command-line interface, a thin layer over the host crates.
//!
//! Flags are parsed into raw clap structs, validated into typed settings
//! before any work starts, and every error is printed once, here, as one
//! line (`-v` adds the chain of causes).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod collect;
mod debug;
mod dump;
mod replay;
mod run;
mod serve;

/// Rewind runs programs in a WebAssembly sandbox with a flight recorder.
#[derive(Debug, Parser)]
#[command(name = "rewind", version, about, long_about = None)]
#[command(propagate_version = true, disable_help_subcommand = true)]
struct Cli {
    /// Show more detail: the causes of errors, and what rewind is doing.
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(run::RunArgs),
    Serve(serve::ServeArgs),
    Replay(replay::ReplayArgs),
    Dump(dump::DumpArgs),
    Collect(collect::CollectArgs),
    Recordings(collect::RecordingsArgs),
}

/// Exit statuses of `rewind` itself, documented in `rewind run --help`.
pub mod status {
    /// Bad flags, a missing script: as `python3` does.
    pub const USAGE: u8 = 2;
    /// Rewind itself failed (not the guest).
    pub const HOST_ERROR: u8 = 3;
    /// The guest crashed (a trap in the VM).
    pub const GUEST_CRASH: u8 = 70;
    /// The run exceeded `--timeout`.
    pub const TIME_LIMIT: u8 = 124;
    /// The guest exceeded `--max-memory`.
    pub const MEMORY_LIMIT: u8 = 125;
    /// The guest's call stack overflowed.
    pub const STACK_LIMIT: u8 = 126;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Replay(args) => replay::main(args),
        Command::Dump(args) => dump::main(args),
        Command::Collect(args) => collect::collect(args),
        Command::Recordings(args) => collect::recordings(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rewind: {err:#}");
            if cli.verbose {
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::from(err_status(&err))
        }
    }
}

/// An I/O error as a person reads it: "No such file or directory", without
/// Rust's " (os error 2)" suffix.
pub fn io_message(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.split_once(" (os error") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}

/// Errors the user can fix by changing the command line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn err_status(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<UsageError>().is_some() {
        status::USAGE
    } else {
        status::HOST_ERROR
    }
}

/// Help and version go to stdout as clap prints them; a real error becomes
/// one line with a pointer to `--help`.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            let code = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                status::USAGE
            } else {
                0
            };
            ExitCode::from(code)
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("rewind: {first} (see `rewind --help`)");
            ExitCode::from(status::USAGE)
        }
    }
}

fn init_tracing(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose {
        "rewind=debug,rewind_runtime=debug"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_env("REWIND_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}
