//! `rewind`: the command-line interface, a thin layer over the host crates.
//!
//! Flags are parsed into raw clap structs, validated into typed settings
//! before any work starts, and every error is printed once, here, as one
//! line (`-v` adds the chain of causes).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod collect;
mod common;
mod dap;
mod dump;
mod export;
mod replay;
mod run;
mod serve;

use common::status;

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
    Export(export::ExportArgs),
    Dap(dap::DapArgs),
    Collect(collect::CollectArgs),
    Recordings(collect::RecordingsArgs),
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
        Command::Export(args) => export::main(args),
        Command::Dap(args) => dap::main(args),
        Command::Collect(args) => collect::collect(args),
        Command::Recordings(args) => collect::recordings(args),
    };
    match result {
        Ok(code) => code,
        Err(err) if err.is::<common::report::ClosedStdout>() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rewind: {err:#}");
            if cli.verbose {
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::from(status::of_error(&err))
        }
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
            eprintln!("rewind: {} (see `rewind --help`)", one_line(&err));
            ExitCode::from(status::USAGE)
        }
    }
}

/// A clap error on one line: its first, and the indented lines that list
/// what it is about (the missing arguments, say).
fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    if line.ends_with(':') {
        let listed: Vec<&str> = lines
            .take_while(|next| next.starts_with("  "))
            .map(str::trim)
            .collect();
        line = format!("{line} {}", listed.join(", "));
    }
    line
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
        // Colour codes only where a terminal shows them, not in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
}
