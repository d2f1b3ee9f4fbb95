//! `rewind replay`: open a recording in the debugger, re-execute it, or
//! materialize its events.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use rewind_runtime::{
    ComponentSource, Materialize, Outcome, Progress, RecordingFile, ReplayOptions, Runtime, Stop,
};

use crate::run::load_guest;
use crate::{UsageError, io_message, status};

/// Open a recording in the time-travel debugger, re-execute it
/// deterministically, or materialize its events.
///
/// `rewind replay FILE` opens the debugger in the terminal: step forwards
/// and backwards through the run, read the locals and the call stack at
/// every step, set breakpoints and run to them in either direction. The
/// line-level events come from the recording when it was traced live,
/// else from `NAME.events.rwd` beside it, else they are materialized first
/// by re-executing the run (with progress shown). When the run cannot be
/// re-executed the debugger says why and shows the crash capture.
/// `--commands SCRIPT` runs gdb-style commands instead (one per line, `-`
/// for stdin) and prints plain text; `help` lists them.
///
/// `--exec` runs the recorded guest again, feeding it every input from the
/// recording's log (clock, random, stdin, files, argv, env) with no real
/// I/O: it prints the same output and ends with the same status. It checks
/// that the guest consumes the log exactly; the first difference is
/// reported with its position.
///
/// `--materialize` re-executes with tracing on and keeps the events each
/// snapshot and crash would have carried (calls with arguments, lines with
/// changed locals, returns, exceptions) in `NAME.events.rwd` beside the
/// recording, where `rewind dump` shows them.
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_STATUS_HELP)]
#[command(group = clap::ArgGroup::new("action").args(["exec", "materialize", "commands"]))]
pub struct ReplayArgs {
    /// Re-execute the recording, showing the guest's output.
    #[arg(long)]
    exec: bool,

    /// Re-execute with tracing on and store the events beside the
    /// recording.
    #[arg(long)]
    materialize: bool,

    /// Run debugger commands from SCRIPT (one per line; `-` reads stdin)
    /// and print their answers, instead of opening the terminal UI.
    #[arg(long, value_name = "SCRIPT")]
    commands: Option<PathBuf>,

    /// With --materialize: keep every event of the run, not only the last
    /// N before each snapshot and crash.
    #[arg(long, requires = "materialize")]
    full: bool,

    /// With --materialize: the N of "the last N events" (default: the
    /// recorded run's --buffer-events).
    #[arg(long, value_name = "N", requires = "materialize")]
    buffer_events: Option<usize>,

    /// The guest component a recording of a `.wasm` program needs, when it
    /// is no longer where it was recorded.
    #[arg(long, value_name = "WASM")]
    guest: Option<PathBuf>,

    /// The collector to fetch the recording from, when FILE is its id
    /// there (`rewind recordings --server URL` lists them).
    #[arg(long, value_name = "URL", env = "REWIND_SERVER")]
    server: Option<String>,

    /// The collector's token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REWIND_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// The recording: a file, a recording's id on the collector given by
    /// --server, or its URL (http://HOST:PORT/v1/recordings/ID).
    #[arg(value_name = "FILE|ID|URL")]
    file: PathBuf,
}

const EXIT_STATUS_HELP: &str = "\
Exit status:
  With --exec, the re-executed guest's own status when it ran as recorded,
  and 0 when the recording ends before the run did (a snapshot, a crash
  reported mid-run). Otherwise:
    2    bad flags, or a file that is not a readable recording
    3    rewind itself failed, or the recording cannot be re-executed
    4    the re-execution diverged from the recording";

/// The re-execution did something its recording does not have.
const DIVERGED: u8 = 4;

pub fn main(mut args: ReplayArgs) -> Result<ExitCode> {
    let named = args.file.to_string_lossy().into_owned();
    let remote = named.starts_with("http://") || named.starts_with("https://");
    if remote || (args.server.is_some() && !args.file.exists()) {
        // Fetched into the cache, it is a file like any other.
        args.file = crate::collect::fetch(&named, args.server.as_deref(), args.token.take())?;
    }
    if !args.exec && !args.materialize {
        let driver = match args.commands {
            Some(script) => crate::debug::Driver::Script(script),
            None => crate::debug::Driver::Terminal,
        };
        return crate::debug::main(&args.file, args.guest.as_ref(), driver);
    }
    if args.buffer_events == Some(0) {
        return Err(
            UsageError("--buffer-events 0: a buffer keeps at least one event".into()).into(),
        );
    }
    let file = open(&args.file)?;
    if let Some(why) = file.not_replayable() {
        anyhow::bail!("{} cannot be re-executed: {why}", args.file.display());
    }
    let runtime = Runtime::new()?;
    let source = guest_of(&file, args.guest.as_ref())?;
    let what = match source.name() {
        "python" => "the Python guest".to_owned(),
        name => format!("{name}.wasm"),
    };
    let component = load_guest(&runtime, &source, &what)?;

    let progress = progress_line(args.materialize);
    let started = Instant::now();
    let options = ReplayOptions {
        echo_output: args.exec,
        materialize: args.materialize.then_some(Materialize {
            full: args.full,
            buffer_events: args.buffer_events,
        }),
        progress,
    };
    let replayed = runtime.replay(&component, &file, options)?;
    clear_progress_line(args.materialize);
    let _ = std::io::stdout().flush();
    for warning in &replayed.warnings {
        eprintln!("rewind: warning: {warning}");
    }
    if let Some(path) = &replayed.materialized {
        eprintln!(
            "rewind: materialized {} events ({} windows) in {:.1?} into {}",
            replayed.events,
            replayed.windows.len(),
            started.elapsed(),
            path.display()
        );
    }
    match &replayed.stop {
        Some(Stop::Diverged(divergence)) => {
            eprintln!("rewind: {divergence}");
            return Ok(ExitCode::from(DIVERGED));
        }
        Some(stop @ Stop::EndOfRecording(_)) => {
            if args.exec {
                eprintln!("rewind: replay stopped: {stop}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    let code = match replayed.outcome {
        Outcome::Exited(code) => u8::try_from(code).unwrap_or(1),
        Outcome::LimitExceeded(limit) => {
            eprintln!("rewind: {limit}, as recorded");
            match limit {
                rewind_runtime::Limit::Memory { .. } => 125,
                rewind_runtime::Limit::Time { .. } => 124,
                rewind_runtime::Limit::Stack => 126,
            }
        }
        Outcome::Trapped(message) => {
            let first = message.lines().next().unwrap_or("trap");
            eprintln!("rewind: the guest crashed: {first}, as recorded");
            status::GUEST_CRASH
        }
    };
    Ok(ExitCode::from(if args.exec { code } else { 0 }))
}

fn open(path: &PathBuf) -> Result<RecordingFile> {
    if let Err(err) = std::fs::metadata(path) {
        return Err(UsageError(format!(
            "cannot read {}: {}",
            path.display(),
            io_message(&err)
        ))
        .into());
    }
    RecordingFile::open(path).map_err(|err| UsageError(format!("{err:#}")).into())
}

/// The guest the recording was made by: the Python guest built into this
/// binary, or a component file, checked against the recorded digest.
pub(crate) fn guest_of(file: &RecordingFile, guest: Option<&PathBuf>) -> Result<ComponentSource> {
    let header = &file.recording.header;
    let python = rewind_guests::PYTHON;
    if guest.is_none() && header.guest_name == python.name {
        if header.guest_digest != python.digest {
            anyhow::bail!(
                "{} was recorded by another build of the Python guest ({}; this rewind has {}): \
                 it cannot be re-executed here",
                file.path.display(),
                header.guest_digest,
                python.digest
            );
        }
        return Ok(ComponentSource::with_digest(
            python.name,
            python.wasm,
            python.digest,
        ));
    }
    let path = match guest {
        Some(path) => path.clone(),
        None => match file.setting("guest-path") {
            Some(path) => PathBuf::from(path),
            None => {
                return Err(UsageError(format!(
                    "{} was recorded by guest {:?}: give its component with --guest WASM",
                    file.path.display(),
                    header.guest_name
                ))
                .into());
            }
        },
    };
    let wasm = std::fs::read(&path).map_err(|err| {
        UsageError(format!(
            "cannot read the guest {}: {} (give it with --guest WASM)",
            path.display(),
            io_message(&err)
        ))
    })?;
    let source = ComponentSource::from_bytes(&header.guest_name, wasm);
    if source.digest() != header.guest_digest {
        anyhow::bail!(
            "{} is not the guest {} was recorded with ({} is {}, the recording needs {})",
            path.display(),
            file.path.display(),
            path.display(),
            source.digest(),
            header.guest_digest
        );
    }
    Ok(source)
}

/// A progress line on stderr while materializing, when stderr is a
/// terminal: inputs consumed of the log, events traced.
pub(crate) fn progress_line(on: bool) -> Option<Box<dyn Fn(Progress) + Send + Sync>> {
    if !on || !std::io::stderr().is_terminal() {
        return None;
    }
    let last = Mutex::new(Instant::now());
    Some(Box::new(move |progress: Progress| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() < Duration::from_millis(200) {
            return;
        }
        *last = Instant::now();
        let percent = match progress.total_inputs {
            0 => 100,
            total => progress.inputs * 100 / total,
        };
        eprint!(
            "\rrewind: materializing: {percent:>3}% of the log, {} events",
            progress.events
        );
    }))
}

pub(crate) fn clear_progress_line(materializing: bool) {
    if materializing && std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}
