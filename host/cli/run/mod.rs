//! `rewind run`: run a Python script in the sandbox, as `python3` would, or
//! a WASI command component, and record it. The flags are checked into a
//! [`config::RunConfig`] before any work starts; [`collector`] is what a
//! run does when a collector takes its recordings.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use clap::Args;
use rewind_runtime::{Interrupts, Mode, Outcome, Runtime, Sandbox};

use crate::common::args::{CollectorArgs, parse_mode};
use crate::common::guest::{Python, PythonArg};
use crate::common::{guest, interrupt, status};

mod collector;
mod config;

use config::RunConfig;

/// Run a Python script (or a WebAssembly component) in the sandbox.
///
/// A Python script runs as `python3` would run it. The script sees `sys.argv` as `[SCRIPT, ARGS...]`, the process's stdin,
/// stdout and stderr, and its own directory (read-only, so modules beside it
/// import). Nothing else of the host is visible unless granted: no other
/// files, no environment variables, no network. `-c CODE`, `-m MODULE`,
/// `-` (the program on stdin) and the interactive prompt (no script, on a
/// terminal) see the working directory instead, read-only.
///
/// Packages: an active virtualenv (VIRTUAL_ENV) is honoured, `--path DIR`
/// adds a directory such as `pip install --target DIR` makes, and
/// `--env PYTHONPATH=...` names directories granted with --dir. Only
/// pure-Python packages run: a compiled extension module cannot load in the
/// sandbox, and importing one says so.
///
/// A SCRIPT ending in `.wasm` is a WASI command component: it runs with argv
/// `[SCRIPT, ARGS...]` under the same grants and limits (its own directory
/// is not granted).
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_STATUS_HELP)]
#[command(mut_arg("server", |arg| arg.help(SERVER_HELP)))]
#[command(mut_arg("token", |arg| arg.requires("server")))]
pub struct RunArgs {
    /// Run CODE instead of a script, as `python3 -c` does (`sys.path[0]`
    /// is '', the working directory, granted read-only).
    #[arg(short = 'c', value_name = "CODE")]
    command: Option<String>,

    /// Run library module MODULE as a script, as `python3 -m` does: the
    /// working directory is granted read-only and is `sys.path[0]`.
    #[arg(short = 'm', value_name = "MODULE", conflicts_with = "command")]
    module: Option<String>,

    /// Open the interactive prompt when the program ends, as `python3 -i`.
    #[arg(short = 'i', help_heading = PYTHON_FLAGS)]
    inspect: bool,

    /// Unbuffered stdout and stderr, as `python3 -u` (or
    /// `--env PYTHONUNBUFFERED=1`).
    #[arg(short = 'u', help_heading = PYTHON_FLAGS)]
    unbuffered: bool,

    /// Ignore the PYTHON* variables given with --env (PYTHONPATH,
    /// PYTHONUNBUFFERED, ...), as `python3 -E`.
    #[arg(short = 'E', help_heading = PYTHON_FLAGS)]
    ignore_environment: bool,

    /// Isolated mode, as `python3 -I`: implies -E, -P and -s.
    #[arg(short = 'I', help_heading = PYTHON_FLAGS)]
    isolated: bool,

    /// Don't put the script's directory (or '') first on `sys.path`, as
    /// `python3 -P`.
    #[arg(short = 'P', help_heading = PYTHON_FLAGS)]
    safe_path: bool,

    /// Don't print the version banner at the interactive prompt.
    #[arg(short = 'q', help_heading = PYTHON_FLAGS)]
    quiet: bool,

    /// Accepted as python3 does; the sandbox never writes `.pyc` files.
    #[arg(short = 'B', help_heading = PYTHON_FLAGS)]
    dont_write_bytecode: bool,

    /// Accepted as python3 does; the sandbox has no user site directory.
    #[arg(short = 's', help_heading = PYTHON_FLAGS)]
    no_user_site: bool,

    /// An implementation option, as `python3 -X`: set in `sys._xoptions`.
    #[arg(short = 'X', value_name = "OPT", help_heading = PYTHON_FLAGS)]
    xoptions: Vec<String>,

    /// A warning filter, as `python3 -W` (e.g. `error`, `ignore::DeprecationWarning`).
    #[arg(short = 'W', value_name = "ARG", help_heading = PYTHON_FLAGS)]
    warnoptions: Vec<String>,

    /// Put DIR on `sys.path`, before the standard library, as PYTHONPATH
    /// would: granted read-only (e.g. a `pip install --target DIR`). An
    /// active virtualenv (VIRTUAL_ENV) is honoured without it: its
    /// site-packages are granted read-only and on `sys.path`.
    #[arg(long = "path", value_name = "DIR")]
    paths: Vec<PathBuf>,

    #[command(flatten)]
    guest: PythonArg,

    /// Grant a host directory, read-only; the guest sees it at GUEST_DIR, or
    /// at the host directory's absolute path.
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]")]
    dirs: Vec<String>,

    /// Grant a host directory, readable and writable.
    #[arg(long = "dir-rw", value_name = "HOST_DIR[::GUEST_DIR]")]
    dirs_rw: Vec<String>,

    /// Set an environment variable of the guest; KEY alone passes the host's
    /// value. The host environment is not inherited.
    #[arg(long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,

    /// The most memory the guest may use, e.g. 512MiB or 2GiB (the Python
    /// guest needs at least 64MiB).
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    max_memory: String,

    /// The longest the run may take, e.g. 30s, 5m, 1h; `none` for no limit.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    timeout: String,

    /// The recording mode: `off` records nothing; `on-event` (RevDeBug's
    /// Crash) keeps the log in memory and writes a recording on a crash or a
    /// snapshot; `continuous` (Live) streams the log to a file as it grows.
    #[arg(long, value_name = "MODE", default_value = "on-event", value_parser = parse_mode)]
    mode: Mode,

    /// The highest mode the run may use, even when the script asks for more
    /// with `revdebug.setrecmode`.
    #[arg(long, value_name = "MODE", default_value = "continuous", value_parser = parse_mode)]
    max_mode: Mode,

    /// How many live-traced events each thread's buffer keeps: a crash or a
    /// snapshot carries the last N.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    buffer_events: usize,

    /// Where recordings are written (created when the first one is).
    #[arg(
        long,
        value_name = "DIR",
        env = "REWIND_OUT",
        default_value = "rewind-recordings"
    )]
    out: PathBuf,

    #[command(flatten)]
    collector: CollectorArgs,

    /// With --server: where recordings wait until the collector has them
    /// (default: a directory per collector in rewind's cache). What a run
    /// leaves unsent there, the next run with the same collector sends.
    #[arg(long, value_name = "DIR", requires = "server")]
    spill: Option<PathBuf>,

    /// With --server: the most that unsent recordings of earlier runs may
    /// take in --spill; the oldest beyond it are dropped.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", requires = "server")]
    spill_limit: String,

    /// With --server: how long the end of the run waits for the collector
    /// to acknowledge what is left to send.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        requires = "server"
    )]
    server_wait: String,

    /// Trace calls, lines, returns and exceptions live, with argument, local
    /// and return values. Slow: 3-110x (25x on the median benchmark); without
    /// it the same events are materialized later from the recording.
    #[arg(long)]
    trace: bool,

    /// The script to run, then the arguments it receives in `sys.argv[1:]`.
    /// `-` (or no script, with stdin not a terminal) reads the program from
    /// stdin; no script on a terminal opens the interactive prompt.
    #[arg(
        value_name = "SCRIPT [ARGS]",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    program: Vec<OsString>,
}

const PYTHON_FLAGS: &str = "Python options (as python3's)";

const SERVER_HELP: &str = "Send recordings to the collector at URL (`rewind collect`) instead of \
keeping them in --out: its policy caps the mode, a continuous stream goes to it as it grows, \
crashes and snapshots as they happen. While it cannot be reached, recordings wait on disk \
(--spill) and are retried; the guest never waits for it.";

const EXIT_STATUS_HELP: &str = "\
Recording:
  By default (--mode on-event) the run keeps a log of everything it receives
  (clock, random, stdin, files read, argv, env) in memory, and writes a
  recording into --out when the script crashes or calls revdebug.snapshot(),
  printing its path on stderr. A recording holds what the program read,
  secrets included: keep recordings as you would keep its inputs.

Exit status:
  The script's own status (0, sys.exit(n), 1 for an unhandled exception), or:
    2    bad flags or a script that cannot be opened, as python3
         (or a .wasm that is not a component that compiles)
    3    rewind itself failed
    70   the guest crashed (a trap in the VM)
    124  the run exceeded --timeout
    130  Ctrl-C: an unhandled KeyboardInterrupt, or a second Ctrl-C
         that stopped the run at once (what was recorded is written)
    125  the guest exceeded --max-memory
    126  the guest's call stack overflowed";

pub fn main(args: RunArgs) -> Result<ExitCode> {
    let start = std::time::Instant::now();
    let mut config = RunConfig::from_args(args)?;
    let crashes = Arc::new(Mutex::new(Vec::new()));
    let recording = &mut config.recording;
    let uploader = match &recording.server {
        Some(server) => {
            let (uploader, allowed) =
                collector::connect(server, recording.mode, &recording.out, crashes.clone())?;
            recording.cap(allowed);
            Some(uploader)
        }
        None => None,
    };
    let runtime = Runtime::new()?;
    tracing::debug!("engine ready after {:?}", start.elapsed());
    let source = config.guest();
    let component = guest::load(&runtime, &source)?;
    tracing::debug!(
        "guest {} loaded after {:?}",
        source.digest(),
        start.elapsed()
    );

    let mut sandbox = Sandbox::new(config.guest_args());
    if let Some(recorder) = config.recorder(&source, crashes.clone(), uploader.as_ref()) {
        sandbox.record(recorder);
    }
    for (key, value) in &config.env {
        sandbox.env(key, value);
    }
    for grant in &config.grants {
        sandbox.dir(grant.clone());
    }
    if let Some(cwd) = &config.cwd {
        sandbox.cwd(cwd);
    }
    let interrupts = Interrupts::new();
    sandbox.interrupts(interrupts.clone());
    let over = Arc::new(AtomicBool::new(false));
    // Only the RustPython guest asks for Ctrl-C at its safe points (to raise
    // KeyboardInterrupt); any other guest is stopped at once.
    let takes_interrupts =
        !matches!(config.main, config::Main::Component(_)) && config.guest == Python::Rustpython;
    interrupt::interrupt_guest(interrupts, !takes_interrupts, over.clone());

    let outcome = runtime.run(&component, sandbox, &config.limits);
    over.store(true, Ordering::SeqCst);
    let outcome = outcome?;
    tracing::debug!("guest {outcome} after {:?}", start.elapsed());
    let _ = std::io::stdout().flush();
    if let Some(stopped) = status::stopped(&outcome) {
        eprintln!("rewind: {stopped}");
    }
    let code = status::of_outcome(&outcome);
    // A guest stuck in a host call past its timeout is still running on its
    // own thread: end the process rather than wait for it.
    let exit_now = matches!(outcome, Outcome::LimitExceeded(_));
    if let (Some(uploader), Some(server)) = (uploader, &config.recording.server) {
        let mut crashes = crashes.lock().unwrap_or_else(|p| p.into_inner());
        crashes.extend(collector::finish(uploader, server));
    }
    // Where a crash went is said last, after the traceback or the reason.
    for line in crashes.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
        eprintln!("{line}");
    }
    if exit_now {
        std::process::exit(code.into());
    }
    Ok(ExitCode::from(code))
}
