//! `rewind replay`: open a recording in the debugger, re-execute it, or
//! materialize its events.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use rewind_runtime::ReplayTimeout;

use crate::common::UsageError;
use crate::common::args::{CollectorArgs, parse_timeout};

mod debug;
mod exec;

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
///
/// While it materializes, a progress line on a terminal shows how far the
/// re-execution has run of the recorded run, with the time spent and an
/// estimate of what is left (`REWIND_PROGRESS=1` prints it, one line per
/// update, when stderr is not a terminal). Ctrl-C stops it at once and
/// leaves no partial file behind.
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

    /// The longest the re-execution may take (materializing, --exec, or
    /// opening the debugger), e.g. 30s, 5m, 1h; `none` for no limit. By
    /// default ten times as long as the recorded run took, and at least a
    /// minute; an hour when the recording does not say.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,

    /// The guest component a recording of a `.wasm` program needs, when it
    /// is no longer where it was recorded.
    #[arg(long, value_name = "WASM")]
    guest: Option<PathBuf>,

    /// The collector to fetch the recording from, when FILE is its id there
    /// (`rewind recordings --server URL` lists them).
    #[command(flatten)]
    collector: CollectorArgs,

    /// Open the newest recording in --out's directory (by the time it was
    /// last written), instead of naming one.
    #[arg(long, conflicts_with = "file")]
    last: bool,

    /// With --last: the directory `rewind run --out` wrote recordings to.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "rewind-recordings",
        requires = "last"
    )]
    out: PathBuf,

    /// The recording: a file, a recording's id on the collector given by
    /// --server, or its URL (http://HOST:PORT/v1/recordings/ID).
    #[arg(value_name = "FILE|ID|URL", required_unless_present = "last")]
    file: Option<PathBuf>,
}

const EXIT_STATUS_HELP: &str = "\
Exit status:
  With --exec, the re-executed guest's own status when it ran as recorded,
  and 0 when the recording ends before the run did (a snapshot, a crash
  reported mid-run). Otherwise:
    2    bad flags, or a file that is not a readable recording
    3    rewind itself failed, or the recording cannot be re-executed
    4    the re-execution diverged from the recording
    5    the re-execution took longer than --timeout";

pub fn main(args: ReplayArgs) -> Result<ExitCode> {
    crate::common::interrupt::remove_temporaries_on_signal();
    let file = match &args.file {
        Some(file) => file.clone(),
        None => {
            let last = newest_recording(&args.out)?;
            eprintln!("rewind: opening {}", last.display());
            last
        }
    };
    let named = file.to_string_lossy().into_owned();
    let remote = named.starts_with("http://") || named.starts_with("https://");
    let file = match remote || (args.collector.server.is_some() && !file.exists()) {
        // Fetched into the cache, it is a file like any other.
        true => crate::common::collector::fetch(&named, &args.collector)?,
        false => file,
    };
    if args.buffer_events == Some(0) {
        return Err(
            UsageError("--buffer-events 0: a buffer keeps at least one event".into()).into(),
        );
    }
    let timeout = match &args.timeout {
        None => ReplayTimeout::Derived,
        Some(spec) => match parse_timeout("--timeout", spec)? {
            Some(timeout) => ReplayTimeout::Limit(timeout),
            None => ReplayTimeout::Unlimited,
        },
    };
    let replay = Replay {
        path: &file,
        guest: args.guest.as_ref(),
        timeout,
    };
    match (args.exec, args.materialize, args.commands) {
        (false, false, Some(script)) => debug::main(&replay, debug::Driver::Script(script)),
        (false, false, None) => debug::main(&replay, debug::Driver::Terminal),
        (exec, _, _) => exec::main(
            &replay,
            match exec {
                true => exec::Action::Exec,
                false => exec::Action::Materialize {
                    full: args.full,
                    buffer_events: args.buffer_events,
                },
            },
        ),
    }
}

/// `--last`: the recording in `dir` written last.
fn newest_recording(dir: &Path) -> Result<PathBuf> {
    let newest = crate::common::events::newest_recording(dir).map_err(|err| {
        UsageError(format!(
            "--last: cannot read {}: {} (give --out DIR where the recordings are)",
            dir.display(),
            crate::common::io_message(&err)
        ))
    })?;
    newest.ok_or_else(|| {
        UsageError(format!(
            "--last: no recordings in {} (give --out DIR where the recordings are)",
            dir.display()
        ))
        .into()
    })
}

impl Replay<'_> {
    /// The recording as the viewers' events read it.
    fn source(&self) -> crate::common::events::Source<'_> {
        crate::common::events::Source {
            path: self.path,
            guest: self.guest,
            timeout: self.timeout,
        }
    }
}

/// The recording to re-execute, and how.
struct Replay<'a> {
    path: &'a Path,
    /// The guest component given by --guest.
    guest: Option<&'a PathBuf>,
    timeout: ReplayTimeout,
}
