//! `rewind run`: run a Python script in the sandbox, as `python3` would.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use rewind_runtime::{
    CacheEvent, Component, ComponentCache, ComponentSource, DirGrant, Limit, Limits, Mode, Outcome,
    Recorder, RecorderEvent, RecordingConfig, Runtime, Sandbox, Written,
};

use rewind_collector::Uploader;

use crate::{UsageError, io_message, status};

/// Run a Python script (or a WebAssembly component) in the sandbox.
///
/// A Python script runs as `python3` would run it. The script sees `sys.argv` as `[SCRIPT, ARGS...]`, the process's stdin,
/// stdout and stderr, and its own directory (read-only, so modules beside it
/// import). Nothing else of the host is visible unless granted: no other
/// files, no environment variables, no network.
///
/// A SCRIPT ending in `.wasm` is a WASI command component: it runs with argv
/// `[SCRIPT, ARGS...]` under the same grants and limits (its own directory
/// is not granted).
#[derive(Debug, Args)]
#[command(after_long_help = EXIT_STATUS_HELP)]
pub struct RunArgs {
    /// Run CODE instead of a script, as `python3 -c` does.
    #[arg(short = 'c', value_name = "CODE")]
    command: Option<String>,

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

    /// The most memory the guest may use, e.g. 512MiB or 2GiB.
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

    /// Send recordings to the collector at URL (`rewind collect`) instead of
    /// keeping them in --out: its policy caps the mode, a continuous stream
    /// goes to it as it grows, crashes and snapshots as they happen. While
    /// it cannot be reached, recordings wait on disk (--spill) and are
    /// retried; the guest never waits for it.
    #[arg(long, value_name = "URL", env = "REWIND_SERVER")]
    server: Option<String>,

    /// The collector's token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REWIND_TOKEN",
        hide_env_values = true,
        requires = "server"
    )]
    token: Option<String>,

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
    #[arg(
        value_name = "SCRIPT [ARGS]",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    program: Vec<OsString>,
}

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
    3    rewind itself failed
    70   the guest crashed (a trap in the VM)
    124  the run exceeded --timeout
    125  the guest exceeded --max-memory
    126  the guest's call stack overflowed";

/// A validated `rewind run`.
struct RunConfig {
    main: Main,
    argv: Vec<String>,
    grants: Vec<DirGrant>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    limits: Limits,
    recording: Recording,
}

/// How the run is recorded, as the flags say.
struct Recording {
    mode: Mode,
    max_mode: Mode,
    buffer_events: usize,
    out: PathBuf,
    trace: bool,
    server: Option<Server>,
}

/// Where recordings go when a collector takes them.
struct Server {
    client: rewind_collector::Client,
    spill: PathBuf,
    spill_limit: u64,
    wait: Duration,
}

enum Main {
    /// An absolute path to the script (as CPython makes `__file__`).
    Script(String),
    Command(String),
    /// A WASI command component.
    Component(ComponentSource),
}

pub fn main(args: RunArgs) -> Result<ExitCode> {
    let start = std::time::Instant::now();
    let mut config = RunConfig::from_args(args)?;
    let crashes = Arc::new(Mutex::new(Vec::new()));
    let uploader = match config.recording.server.is_some() {
        true => Some(connect(&mut config.recording, crashes.clone())?),
        false => None,
    };
    let runtime = Runtime::new()?;
    tracing::debug!("engine ready after {:?}", start.elapsed());
    let python;
    let (source, what) = match &config.main {
        Main::Component(source) => (source, format!("{}.wasm", source.name())),
        Main::Script(_) | Main::Command(_) => {
            let guest = rewind_guests::PYTHON;
            python = ComponentSource::with_digest(guest.name, guest.wasm, guest.digest);
            (&python, "the Python guest".to_owned())
        }
    };
    let component = load_guest(&runtime, source, &what)?;
    tracing::debug!(
        "guest {} loaded after {:?}",
        source.digest(),
        start.elapsed()
    );

    let mut sandbox = Sandbox::new(config.guest_args());
    if let Some(recorder) = config.recorder(source, crashes.clone(), uploader.as_ref()) {
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

    let outcome = runtime.run(&component, sandbox, &config.limits)?;
    tracing::debug!("guest {outcome} after {:?}", start.elapsed());
    let _ = std::io::stdout().flush();
    let (code, exit_now) = match outcome {
        Outcome::Exited(code) => (u8::try_from(code).unwrap_or(1), false),
        Outcome::LimitExceeded(limit) => {
            eprintln!("rewind: {limit}");
            let code = match limit {
                Limit::Memory { .. } => status::MEMORY_LIMIT,
                Limit::Time { .. } => status::TIME_LIMIT,
                Limit::Stack => status::STACK_LIMIT,
            };
            // A guest stuck in a host call past its timeout is still running
            // on its own thread: end the process rather than wait for it.
            (code, true)
        }
        Outcome::Trapped(message) => {
            // The runtime logs the whole error at debug level; the user gets
            // one line.
            let first = message.lines().next().unwrap_or("trap");
            eprintln!("rewind: the guest crashed: {first}");
            (status::GUEST_CRASH, false)
        }
    };
    if let (Some(uploader), Some(server)) = (uploader, &config.recording.server) {
        let summary = uploader.finish(server.wait);
        let mut crashes = crashes.lock().unwrap_or_else(|p| p.into_inner());
        let url = server.client.server();
        for path in &summary.pending {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            crashes.push(format!(
                "rewind: {name} is not yet on {url}: it waits in {}, and the next run with --server {url} sends it",
                path.parent().unwrap_or(path).display()
            ));
        }
        for (kind, id) in &summary.sent {
            if *kind == rewind_collector::Kind::Crash {
                crashes.push(format!(
                    "rewind: crash recorded on {url} as {id} (rewind replay {id} --server {url})"
                ));
            }
        }
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

/// The compiled guest, from the cache when possible. Compiling the Python
/// guest takes seconds, so the user is told when it happens.
pub(crate) fn load_guest(
    runtime: &Runtime,
    source: &ComponentSource,
    what: &str,
) -> Result<Component> {
    let bytes = source.bytes();
    if bytes.starts_with(b"\0asm\x01\0\0\0") {
        return Err(UsageError(format!(
            "{what} is a core WebAssembly module; rewind runs components (wasm32-wasip2)"
        ))
        .into());
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(UsageError(format!("{what} is not a WebAssembly component")).into());
    }
    let dir = ComponentCache::default_dir()
        .context("no cache directory: set REWIND_CACHE_DIR or HOME")?;
    let cache = ComponentCache::new(dir);
    // Small components compile in an instant: only big ones are announced.
    let announce = bytes.len() > 1 << 20;
    let how_long = if bytes.len() > 8 << 20 {
        ", about 20 s"
    } else {
        ""
    };
    let mut progress = |event| match event {
        _ if !announce => {}
        CacheEvent::Compiling => {
            eprintln!("rewind: compiling {what} for this machine (first run only{how_long})...")
        }
        CacheEvent::Recompiling => {
            eprintln!("rewind: the cached {what} failed its check; compiling it again{how_long}...")
        }
        CacheEvent::Uncached => {
            eprintln!("rewind: the cache directory is not writable; compiling {what}{how_long}...")
        }
    };
    cache
        .load_or_compile(runtime.engine(), source, &mut progress)
        .with_context(|| format!("{what} cannot be loaded"))
}

impl RunConfig {
    /// The run's recorder, unless the run may not record at all.
    fn recorder(
        &self,
        guest: &ComponentSource,
        crashes: Arc<Mutex<Vec<String>>>,
        uploader: Option<&Uploader>,
    ) -> Option<Recorder> {
        let recording = &self.recording;
        if recording.max_mode == Mode::Off {
            return None;
        }
        let name = match &self.main {
            Main::Script(path) => Path::new(path)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_else(|| "script".to_owned()),
            Main::Command(_) => "command".to_owned(),
            Main::Component(source) => source.name().to_owned(),
        };
        let timeout = match self.limits.timeout {
            Some(timeout) => humantime::format_duration(timeout).to_string(),
            None => "none".to_owned(),
        };
        let mut settings = vec![
            ("max-memory".to_owned(), self.limits.max_memory.to_string()),
            ("timeout".to_owned(), timeout),
        ];
        match &self.main {
            // Where the component was, so that replay finds it by itself.
            Main::Component(_) => {
                let path = std::path::absolute(&self.argv[0])
                    .map(|path| path.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| self.argv[0].clone());
                settings.push(("guest-path".to_owned(), path));
            }
            _ => settings.push(("hash-seed".to_owned(), "0".to_owned())),
        }
        let out_dir = match uploader {
            Some(uploader) => uploader.dir().to_owned(),
            None => recording.out.clone(),
        };
        let queue = uploader
            .zip(recording.server.as_ref())
            .map(|(uploader, server)| (uploader.queue(), name.clone(), server.client.clone()));
        let config = RecordingConfig {
            mode: recording.mode,
            max_mode: recording.max_mode,
            buffer_events: recording.buffer_events,
            trace: recording.trace,
            out_dir,
            name,
            guest_name: guest.name().to_owned(),
            guest_digest: guest.digest().to_owned(),
            settings,
        };
        let recorder = match queue {
            // Files go to the collector: the spill queue takes each one.
            Some((queue, script, client)) => Recorder::new(config, move |event| match event {
                RecorderEvent::Written { path, what } => {
                    use rewind_collector::Kind;
                    match what {
                        // In continuous mode the crash is in the stream.
                        Written::Crash if queue.is_stream(path) => queue.crash_in_stream(path),
                        Written::Crash => {
                            queue.whole(path.clone(), Kind::Crash, &script);
                        }
                        Written::Snapshot(_) => {
                            queue.whole(path.clone(), Kind::Snapshot, &script);
                        }
                        Written::Stream => {
                            let id = queue.stream(path.clone(), &script);
                            eprintln!("rewind: recording live to {}", client.recording_url(&id));
                        }
                    }
                }
                RecorderEvent::Flushed { .. } => queue.nudge(),
                event => report(event),
            }),
            None => Recorder::new(config, move |event| match event {
                RecorderEvent::Written {
                    path,
                    what: Written::Crash,
                } => {
                    let line = format!("rewind: crash recorded in {}", path.display());
                    crashes.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
                event => report(event),
            }),
        };
        if let Main::Command(code) = &self.main {
            recorder.add_source("<string>", code);
        }
        Some(recorder)
    }

    fn from_args(args: RunArgs) -> Result<RunConfig> {
        let limits = Limits {
            max_memory: parse_size(&args.max_memory)?,
            timeout: parse_timeout(&args.timeout)?,
        };
        let mut grants = Vec::new();
        for spec in &args.dirs {
            grants.push(parse_grant(spec, false)?);
        }
        for spec in &args.dirs_rw {
            grants.push(parse_grant(spec, true)?);
        }
        let env = args
            .env
            .iter()
            .map(|spec| parse_env(spec))
            .collect::<Result<Vec<_>>>()?;

        let mut program = args.program.into_iter().map(|arg| {
            arg.into_string()
                .map_err(|arg| UsageError(format!("argument is not valid UTF-8: {arg:?}")))
        });
        let (main, argv0) = match args.command {
            Some(code) => (Main::Command(code), "-c".to_owned()),
            None => {
                let Some(script) = program.next() else {
                    return Err(
                        UsageError("nothing to run: give a SCRIPT or -c CODE".into()).into(),
                    );
                };
                let script = script?;
                if script.ends_with(".wasm") {
                    let path = script_path(&script)?;
                    let wasm = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
                    let name: String = Path::new(&path)
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let name = if name.is_empty() {
                        "component".to_owned()
                    } else {
                        name
                    };
                    (
                        Main::Component(ComponentSource::from_bytes(&name, wasm)),
                        script,
                    )
                } else {
                    let path = script_path(&script)?;
                    if !grants.iter().any(|grant| covers(grant, &path)) {
                        let dir = Path::new(&path).parent().unwrap_or(Path::new("/"));
                        grants.push(DirGrant {
                            host: dir.to_owned(),
                            guest: dir.to_string_lossy().into_owned(),
                            writable: false,
                        });
                    }
                    (Main::Script(path), script)
                }
            }
        };
        let mut argv = vec![argv0];
        for arg in program {
            argv.push(arg?);
        }
        let cwd = std::env::current_dir()
            .ok()
            .and_then(|dir| dir.into_os_string().into_string().ok());
        if args.buffer_events == 0 {
            return Err(
                UsageError("--buffer-events 0: a buffer keeps at least one event".into()).into(),
            );
        }
        let server = match &args.server {
            Some(url) => {
                let client = crate::collect::client(url, args.token.clone())?;
                let spill = match &args.spill {
                    Some(spill) => spill.clone(),
                    None => ComponentCache::default_dir()
                        .context("no cache directory for --spill: set REWIND_CACHE_DIR or HOME")?
                        .join("spill")
                        .join(crate::collect::server_key(client.server())),
                };
                let spill_limit: bytesize::ByteSize = args.spill_limit.parse().map_err(|err| {
                    UsageError(format!("--spill-limit {:?}: {err}", args.spill_limit))
                })?;
                let wait = humantime::parse_duration(&args.server_wait).map_err(|err| {
                    UsageError(format!(
                        "--server-wait {:?}: {err} (e.g. 10s)",
                        args.server_wait
                    ))
                })?;
                Some(Server {
                    client,
                    spill,
                    spill_limit: spill_limit.as_u64(),
                    wait,
                })
            }
            None => None,
        };
        let recording = Recording {
            mode: args.mode,
            max_mode: args.max_mode,
            buffer_events: args.buffer_events,
            out: args.out,
            trace: args.trace,
            server,
        };
        Ok(RunConfig {
            main,
            argv,
            grants,
            env,
            cwd,
            limits,
            recording,
        })
    }

    /// The guest's argv: for Python, the launch protocol of
    /// `guest/python/src/main.rs`.
    fn guest_args(&self) -> Vec<String> {
        let mut args = vec!["python".to_owned()];
        let main = match &self.main {
            Main::Script(path) => ["--script".to_owned(), path.clone()],
            Main::Command(code) => ["--command".to_owned(), code.clone()],
            // A component gets its argv as it is.
            Main::Component(_) => return self.argv.clone(),
        };
        if let Some(cwd) = &self.cwd {
            args.extend(["--cwd".to_owned(), cwd.clone()]);
        }
        args.extend(main);
        args.push("--".to_owned());
        args.extend(self.argv.iter().cloned());
        args
    }
}

/// Learns the collector's policy, caps the run's modes with it, and starts
/// the spill queue that sends it the run's recordings.
fn connect(recording: &mut Recording, crashes: Arc<Mutex<Vec<String>>>) -> Result<Uploader> {
    use rewind_collector::ClientError;
    use rewind_collector::protocol::mode_name;
    let Some(server) = &recording.server else {
        anyhow::bail!("no collector to connect to");
    };
    let client = &server.client;
    let url = client.server().to_owned();
    let said_unreachable = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let allowed = match crate::collect::block_on(client.policy())? {
        Ok(policy) => policy.max_mode,
        Err(err @ ClientError::Unauthorized(_)) => {
            return Err(crate::collect::collector_error(client, err));
        }
        Err(ClientError::Unreachable(why)) => {
            said_unreachable.store(true, std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "rewind: {why}; recording on-event at most, recordings wait in {} until it is back",
                server.spill.display()
            );
            Mode::OnEvent
        }
        Err(err) => anyhow::bail!("{url}: {err}"),
    };
    if recording.mode > allowed {
        eprintln!(
            "rewind: the collector allows {} at most; recording {}",
            mode_name::name(allowed),
            mode_name::name(allowed)
        );
    }
    let spill = server.spill.display().to_string();
    let started = Uploader::start(
        client.clone(),
        &server.spill,
        server.spill_limit,
        recording.out.clone(),
        report_to(url.clone(), spill.clone(), crashes, said_unreachable),
    )
    .with_context(|| format!("cannot use {spill} for the spill queue"));
    recording.max_mode = recording.max_mode.min(allowed);
    recording.mode = recording.mode.min(recording.max_mode);
    started
}

/// What the user hears of the spill queue's work.
fn report_to(
    url: String,
    spill: String,
    crashes: Arc<Mutex<Vec<String>>>,
    said_unreachable: Arc<std::sync::atomic::AtomicBool>,
) -> impl Fn(rewind_collector::Report) + Send + 'static {
    use rewind_collector::Report;
    move |report: Report| match report {
        // Said once: at the start, or when it first happens.
        Report::Unreachable(why) => {
            if !said_unreachable.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("rewind: {why}; recordings wait in {spill} and are retried")
            }
        }
        Report::Reachable => eprintln!("rewind: the collector at {url} is reachable again"),
        Report::Sent { kind, id, .. } => match kind {
            rewind_collector::Kind::Snapshot => {
                eprintln!("rewind: snapshot recorded on {url} as {id}")
            }
            _ => tracing::debug!("{id} sent to {url}"),
        },
        Report::Refused { kept, error } => {
            let line = format!(
                "rewind: {error}; the recording is kept in {}",
                kept.display()
            );
            crashes.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
        Report::Dropped { files, bytes } => eprintln!(
            "rewind: dropped the {files} oldest unsent recordings ({}) from {spill}: it holds at most --spill-limit",
            bytesize::ByteSize(bytes).display().si()
        ),
    }
}

/// Tells the user where each recording went, on stderr.
fn report(event: &RecorderEvent) {
    match event {
        RecorderEvent::Written { path, what } => {
            let path = path.display();
            match what {
                Written::Crash => eprintln!("rewind: crash recorded in {path}"),
                Written::Snapshot(name) => {
                    eprintln!("rewind: snapshot {name:?} recorded in {path}")
                }
                Written::Stream => eprintln!("rewind: recording live to {path}"),
            }
        }
        RecorderEvent::Failed(failure) => eprintln!("rewind: recording failed: {failure}"),
        RecorderEvent::Flushed { .. } => {}
    }
}

/// A recording mode by its CLI name or RevDeBug's.
pub(crate) fn parse_mode(name: &str) -> Result<Mode, String> {
    match name.to_ascii_lowercase().as_str() {
        "off" => Ok(Mode::Off),
        "on-event" | "onevent" | "crash" => Ok(Mode::OnEvent),
        "continuous" | "live" => Ok(Mode::Continuous),
        _ => Err(format!(
            "{name:?} is not a recording mode (off, on-event, continuous)"
        )),
    }
}

/// The absolute path of a script the guest can open, checked on the host so
/// that a missing file gets python3's message before any work starts.
pub(crate) fn script_path(script: &str) -> Result<String> {
    let absolute = std::path::absolute(script).unwrap_or_else(|_| PathBuf::from(script));
    let cant_open = |err: std::io::Error| {
        let errno = err.raw_os_error().unwrap_or(2);
        let message = io_message(&std::io::Error::from_raw_os_error(errno));
        UsageError(format!(
            "can't open file {:?}: [Errno {errno}] {message}",
            absolute.display().to_string()
        ))
    };
    let metadata = std::fs::metadata(&absolute).map_err(cant_open)?;
    if metadata.is_dir() {
        return Err(cant_open(std::io::Error::from_raw_os_error(21)).into());
    }
    std::fs::File::open(&absolute).map_err(cant_open)?;
    // A script reached through a symlink runs from where it really is: the
    // sandbox does not follow links out of a granted directory.
    let is_link = std::fs::symlink_metadata(&absolute).is_ok_and(|m| m.file_type().is_symlink());
    let path = if is_link {
        absolute.canonicalize().map_err(cant_open)?
    } else {
        absolute
    };
    path.into_os_string()
        .into_string()
        .map_err(|path| UsageError(format!("script path is not valid UTF-8: {path:?}")).into())
}

/// Whether a grant already makes `path` visible at the same path.
fn covers(grant: &DirGrant, path: &str) -> bool {
    Path::new(path).starts_with(&grant.host) && grant.host.as_os_str() == grant.guest.as_str()
}

fn parse_grant(spec: &str, writable: bool) -> Result<DirGrant> {
    let (host, guest) = match spec.split_once("::") {
        Some((host, guest)) => (host, Some(guest)),
        None => (spec, None),
    };
    let flag = if writable { "--dir-rw" } else { "--dir" };
    if host.is_empty() || guest.is_some_and(str::is_empty) {
        return Err(UsageError(format!("{flag} {spec:?}: expected HOST_DIR[::GUEST_DIR]")).into());
    }
    let host_path =
        std::path::absolute(host).map_err(|err| UsageError(format!("{flag} {host}: {err}")))?;
    match std::fs::metadata(&host_path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(UsageError(format!("{flag} {host}: not a directory")).into()),
        Err(err) => return Err(UsageError(format!("{flag} {host}: {err}")).into()),
    }
    let guest = match guest {
        Some(guest) => guest.to_owned(),
        None => host_path
            .to_str()
            .ok_or_else(|| UsageError(format!("{flag} {host}: path is not valid UTF-8")))?
            .to_owned(),
    };
    Ok(DirGrant {
        host: host_path,
        guest,
        writable,
    })
}

pub(crate) fn parse_env(spec: &str) -> Result<(String, String)> {
    match spec.split_once('=') {
        Some(("", _)) => Err(UsageError(format!("--env {spec:?}: the name is empty")).into()),
        Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
        None => match std::env::var(spec) {
            Ok(value) => Ok((spec.to_owned(), value)),
            Err(_) => Err(UsageError(format!(
                "--env {spec}: not set in rewind's environment (use KEY=VALUE)"
            ))
            .into()),
        },
    }
}

pub(crate) fn parse_size(spec: &str) -> Result<u64> {
    let size: bytesize::ByteSize = spec
        .parse()
        .map_err(|err| UsageError(format!("--max-memory {spec:?}: {err}")))?;
    let bytes = size.as_u64();
    // wasm32 addresses 4 GiB; below a few MiB the VM cannot even start.
    if !(16 << 20..=4 << 30).contains(&bytes) {
        return Err(UsageError(format!(
            "--max-memory {spec}: must be between 16MiB and 4GiB"
        ))
        .into());
    }
    Ok(bytes)
}

fn parse_timeout(spec: &str) -> Result<Option<Duration>> {
    if spec == "none" {
        return Ok(None);
    }
    let timeout = humantime::parse_duration(spec)
        .map_err(|err| UsageError(format!("--timeout {spec:?}: {err} (e.g. 30s, 5m, none)")))?;
    if timeout.is_zero() {
        return Err(UsageError("--timeout 0: use `none` for no limit".into()).into());
    }
    Ok(Some(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_timeouts() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert!(parse_size("1KiB").is_err());
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_timeout("30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("none").unwrap(), None);
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn env_specs() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_env("A=").unwrap(), ("A".into(), "".into()));
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn grant_specs() {
        let dir = std::env::temp_dir();
        let grant = parse_grant(&format!("{}::/data", dir.display()), true).unwrap();
        assert_eq!(grant.guest, "/data");
        assert!(grant.writable);
        let grant = parse_grant(dir.to_str().unwrap(), false).unwrap();
        assert_eq!(
            grant.guest,
            std::path::absolute(&dir).unwrap().to_str().unwrap()
        );
        assert!(parse_grant("/no/such/dir", false).is_err());
        assert!(parse_grant("::/x", false).is_err());
    }
}
