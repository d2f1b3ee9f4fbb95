//! Integration tests: the real `rewind` binary on real scripts and files.

mod cache;
mod cli;
mod collector;
mod components;
mod dap;
mod debugger;
mod dump;
mod export;
mod limits;
mod materialize;
mod paste_registry;
mod python_cli;
mod python_compat;
mod python_corpus;
mod python_decimal;
mod python_sqlite;
mod recording;
mod replay;
mod run;
mod sandbox;
mod sdk;
mod serve;
mod shadows;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `rewind` as a user runs it, sharing one compiled-guest cache between tests
/// so that only the first pays the compile. The cache is warmed before the
/// first command is handed out, so no test sees the first-run message.
pub fn rewind() -> Command {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        let warm = bare_rewind()
            .args(["run", "-c", "pass"])
            .output()
            .expect("starting rewind");
        assert!(warm.status.success(), "warming the guest cache: {warm:?}");
    });
    bare_rewind()
}

fn bare_rewind() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rewind"));
    // Recordings of crashing test scripts land out of the source tree;
    // tests that read them pass `--out` themselves.
    command
        .env("REWIND_CACHE_DIR", shared_cache_dir())
        .env(
            "REWIND_OUT",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("recordings"),
        )
        .env_remove("REWIND_LOG")
        .stdin(Stdio::null());
    command
}

/// The Python guest the suite runs on. `rewind` reads `REWIND_PYTHON`
/// (`rustpython`, the default, or `cpython`) from the environment the suite
/// passes on, so the whole suite runs on either guest; `.ci/run` runs it on
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guest {
    RustPython,
    CPython,
}

pub fn guest() -> Guest {
    match std::env::var("REWIND_PYTHON").as_deref() {
        Ok("cpython") => Guest::CPython,
        _ => Guest::RustPython,
    }
}

/// The guest's name in recordings (`guest_name` of the header).
pub fn guest_name() -> &'static str {
    match guest() {
        Guest::RustPython => "python",
        Guest::CPython => "cpython",
    }
}

/// How `rewind`'s messages name the guest.
pub fn guest_described() -> &'static str {
    match guest() {
        Guest::RustPython => "the Python guest",
        Guest::CPython => "the CPython guest",
    }
}

/// An errno as the guest numbers it: the RustPython guest uses Linux's
/// numbers, as python3 on Linux prints them; the CPython guest WASI's, as
/// CPython's WASI build does (`ENOENT` is 44 there).
pub fn errno(linux: i32, wasi: i32) -> i32 {
    match guest() {
        Guest::RustPython => linux,
        Guest::CPython => wasi,
    }
}

/// For a test of what only the RustPython guest does (its native tracer,
/// its fine-grained positions, Ctrl-C at its safe points): true, with the
/// reason said, when the suite runs on the CPython guest.
pub fn rustpython_only(what: &str) -> bool {
    let skip = guest() == Guest::CPython;
    if skip {
        eprintln!("not on the CPython guest: {what}");
    }
    skip
}

pub fn shared_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("rewind-cache")
}

/// A directory of scripts, removed when dropped.
#[derive(Debug)]
pub struct Scripts {
    dir: tempfile::TempDir,
}

impl Default for Scripts {
    fn default() -> Scripts {
        Scripts {
            dir: tempfile::tempdir().expect("creating a temporary directory"),
        }
    }
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts::default()
    }

    /// Writes `text` to `name` (creating parent directories) and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// What a finished run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    /// stderr, without rewind's closing `crash recorded in PATH` lines,
    /// which are in `recorded`: the rest is what python3 would print.
    pub stderr: String,
    /// The crash (and non-zero exit) recordings the run said it wrote.
    pub recorded: Vec<PathBuf>,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        const RECORDED: &str = "rewind: crash recorded in ";
        const EXIT: &str = "rewind: exit status ";
        let mut stderr = String::new();
        let mut recorded = Vec::new();
        for line in String::from_utf8_lossy(&output.stderr).split_inclusive('\n') {
            let exit = line
                .strip_prefix(EXIT)
                .and_then(|rest| rest.split_once(" recorded in "))
                .map(|(_, path)| path);
            // `PATH (open it: rewind replay PATH)`
            let path = line.strip_prefix(RECORDED).or(exit).map(|rest| {
                rest.split_once(" (open it: ")
                    .map_or(rest, |(path, _)| path)
            });
            match path {
                Some(path) => recorded.push(PathBuf::from(path.trim_end())),
                None => stderr.push_str(line),
            }
        }
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
            recorded,
        }
    }
}

/// Runs `command` to completion, feeding it `stdin`.
pub fn run_with_stdin(command: &mut Command, stdin: &[u8]) -> Run {
    use std::io::Write as _;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rewind");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap().into()
}

/// Runs `command` with its stdout closed before it writes, as `| head`
/// leaves it once it has read enough.
pub fn run_with_stdout_closed(command: &mut Command) -> Run {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rewind");
    drop(child.stdout.take());
    child.wait_with_output().unwrap().into()
}

pub fn run(command: &mut Command) -> Run {
    command.output().expect("starting rewind").into()
}

/// `rewind run ARGS...`
pub fn rewind_run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run(rewind().arg("run").args(args))
}

/// The peak resident memory of process `pid` so far, in bytes
/// (`VmHWM` in `/proc/PID/status`).
pub fn peak_resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"));
    kib << 10
}

/// Runs `command` to completion with its address space limited to
/// `bytes` (`RLIMIT_AS`): a child that tries to take more fails to
/// allocate. A bound that holds however the child is spawned, where the
/// peak resident size a parent reads (`wait4`'s `ru_maxrss`) counts the
/// parent's own at the spawn.
pub fn run_within(command: &mut Command, bytes: u64) -> Run {
    use std::os::unix::process::CommandExt as _;
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: between fork and exec the closure calls only setrlimit, which
    // is async-signal-safe, on a value it owns.
    unsafe {
        command.pre_exec(move || match libc::setrlimit(libc::RLIMIT_AS, &limit) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    command.output().expect("starting rewind").into()
}

/// A tmux server of the test's own, so tests do not meet.
#[derive(Debug)]
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// A tmux server of its own (named after `name` and this process)
    /// running `shell` in a detached session `debug` of `columns` x `rows`.
    pub fn start(name: &str, shell: &str, columns: u16, rows: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("{name}-{}", std::process::id()),
        };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-s", "debug", "-x"])
            .arg(columns.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .arg(shell)
            .status()
            .expect("tmux must be installed (the README's test command installs it)");
        assert!(status.success());
        tmux
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    pub fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", "debug"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .args(["send-keys", "-t", "debug"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Waits until the screen shows `text`.
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the screen never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}
