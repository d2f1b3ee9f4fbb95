//! A `rewind run` as its flags say, checked before any work starts: what
//! to run with which argv, in which sandbox, under which limits, recorded
//! how and sent where.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use rewind_collector::Uploader;
use rewind_runtime::{
    ComponentCache, ComponentSource, DirGrant, Limits, Mode, Recorder, RecorderEvent,
    RecordingConfig, Written,
};

use super::RunArgs;
use super::collector::{self, Server};
use crate::common::args::{
    ANY_SIZE, MEMORY, guest_cwd, parse_duration, parse_env, parse_grants, parse_python_memory,
    parse_size, parse_timeout, refuse_unknown_flag, script_path,
};
use crate::common::collector::server_key;
use crate::common::guest::Python;
use crate::common::{UsageError, report};

/// A validated `rewind run`.
pub(super) struct RunConfig {
    pub(super) main: Main,
    /// The Python guest that runs a script.
    pub(super) guest: Python,
    pub(super) python: PythonOptions,
    pub(super) argv: Vec<String>,
    pub(super) grants: Vec<DirGrant>,
    pub(super) env: Vec<(String, String)>,
    pub(super) cwd: Option<String>,
    pub(super) limits: Limits,
    pub(super) recording: Recording,
}

/// How the run is recorded, as the flags say.
pub(super) struct Recording {
    pub(super) mode: Mode,
    pub(super) max_mode: Mode,
    pub(super) buffer_events: usize,
    pub(super) out: PathBuf,
    pub(super) trace: bool,
    pub(super) server: Option<Server>,
}

/// What python3's own options ask of the Python guest, and where its
/// `sys.path` reaches beyond the program's directory.
#[derive(Default)]
pub(super) struct PythonOptions {
    inspect: bool,
    unbuffered: bool,
    ignore_environment: bool,
    safe_path: bool,
    quiet: bool,
    xoptions: Vec<String>,
    warnoptions: Vec<String>,
    /// Guest directories before the standard library (`--path`).
    sys_path: Vec<String>,
    /// Guest site-packages directories after it (a virtualenv's).
    site_dirs: Vec<String>,
}

pub(super) enum Main {
    /// An absolute path to the script (as CPython makes `__file__`).
    Script(String),
    Command(String),
    /// `-m MODULE`.
    Module(String),
    /// The program read from stdin.
    Stdin,
    /// The interactive prompt.
    Interactive,
    /// A WASI command component.
    Component(ComponentSource),
}

impl Recording {
    /// Caps the modes at what the collector allows.
    pub(super) fn cap(&mut self, allowed: Mode) {
        self.max_mode = self.max_mode.min(allowed);
        self.mode = self.mode.min(self.max_mode);
    }
}

impl RunConfig {
    /// The run's recorder, unless the run may not record at all.
    pub(super) fn recorder(
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
            Main::Module(module) => module.replace('.', "_"),
            Main::Stdin => "stdin".to_owned(),
            Main::Interactive => "interactive".to_owned(),
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
            _ => {
                settings.push(("hash-seed".to_owned(), "0".to_owned()));
                if let Some(slowdown) = self.guest.tracing_slowdown() {
                    settings.push(("tracing-slowdown".to_owned(), slowdown.to_string()));
                }
            }
        }
        let out_dir = match uploader {
            Some(uploader) => uploader.dir().to_owned(),
            None => recording.out.clone(),
        };
        let config = RecordingConfig {
            mode: recording.mode,
            max_mode: recording.max_mode,
            buffer_events: recording.buffer_events,
            trace: recording.trace,
            out_dir,
            name: name.clone(),
            guest_name: guest.name().to_owned(),
            guest_digest: guest.digest().to_owned(),
            settings,
            max_bytes: crate::common::args::recording_budget(self.limits.max_memory),
            per_request_files: false,
        };
        let recorder = match uploader.zip(recording.server.as_ref()) {
            // Files go to the collector: the spill queue takes each one.
            Some((uploader, server)) => Recorder::new(
                config,
                collector::listener(uploader.queue(), name, server.client.clone()),
            ),
            // A crash's path is said last, after the traceback.
            None => Recorder::new(config, move |event| match event {
                RecorderEvent::Written {
                    what: Written::Crash | Written::Exit(_),
                    ..
                } => {
                    let line = report::recorder_event(event).unwrap_or_default();
                    crashes.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
                event => report::print_recorder_event(event),
            }),
        };
        if let Main::Command(code) = &self.main {
            recorder.add_source("<string>", code);
        }
        Some(recorder)
    }

    pub(super) fn from_args(args: RunArgs) -> Result<RunConfig> {
        let separated = explicit_separator(&args.program);
        if args.command.is_none() && args.module.is_none() && !separated {
            refuse_unknown_flag(args.program.first().map(|arg| arg.as_os_str()))?;
        }
        // A component may be small; the Python guest has a floor.
        let component = args.command.is_none()
            && args.module.is_none()
            && args
                .program
                .first()
                .is_some_and(|script| script.to_string_lossy().ends_with(".wasm"));
        let limits = Limits {
            max_memory: if component {
                parse_size("--max-memory", &args.max_memory, MEMORY)?
            } else {
                parse_python_memory(&args.max_memory)?
            },
            timeout: parse_timeout("--timeout", &args.timeout)?,
        };
        let env = args
            .env
            .iter()
            .map(|spec| parse_env(spec))
            .collect::<Result<Vec<_>>>()?;

        let mut program = args.program.into_iter().map(|arg| {
            arg.into_string()
                .map_err(|arg| UsageError(format!("argument is not valid UTF-8: {arg:?}")))
        });
        let (main, argv0) = match (args.command, args.module) {
            (Some(code), _) => (Main::Command(code), "-c".to_owned()),
            // `runpy` puts the module's path in `sys.argv[0]`.
            (None, Some(module)) => (Main::Module(module), "-m".to_owned()),
            (None, None) => match program.next().transpose()? {
                // As python3: no script reads the program from stdin, or
                // prompts for it on a terminal.
                None if std::io::stdin().is_terminal() => (Main::Interactive, String::new()),
                None => (Main::Stdin, String::new()),
                Some(dash) if dash == "-" => (Main::Stdin, dash),
                Some(script) => {
                    let path = script_path(&script)?;
                    if script.ends_with(".wasm") {
                        (Main::Component(component_source(&path)?), script)
                    } else {
                        (Main::Script(path), script)
                    }
                }
            },
        };
        let program_dir = match &main {
            Main::Script(path) => Some((
                Path::new(path)
                    .parent()
                    .unwrap_or(Path::new("/"))
                    .to_owned(),
                "the script's directory",
            )),
            Main::Command(_) | Main::Module(_) | Main::Stdin | Main::Interactive => {
                std::env::current_dir()
                    .ok()
                    .map(|cwd| (cwd, "the working directory"))
            }
            Main::Component(_) => None,
        };
        let program_dir = program_dir
            .as_ref()
            .map(|(dir, what)| (dir.as_path(), *what));
        let mut grants = parse_grants(&args.dirs, &args.dirs_rw, program_dir)?;
        let mut python = PythonOptions {
            inspect: args.inspect,
            unbuffered: args.unbuffered,
            ignore_environment: args.ignore_environment || args.isolated,
            safe_path: args.safe_path || args.isolated,
            quiet: args.quiet,
            xoptions: args.xoptions,
            warnoptions: args.warnoptions,
            ..PythonOptions::default()
        };
        // `-B` and `-s` ask for what the sandbox does anyway.
        let _ = (args.dont_write_bytecode, args.no_user_site);
        for dir in &args.paths {
            python
                .sys_path
                .push(add_read_only_grant(&mut grants, dir, "--path")?);
        }
        if let Some(site) = virtualenv_site_packages()? {
            python
                .site_dirs
                .push(add_read_only_grant(&mut grants, &site, "VIRTUAL_ENV")?);
        }
        let mut argv = vec![argv0];
        for arg in program {
            argv.push(arg?);
        }
        let cwd = std::env::current_dir()
            .ok()
            .and_then(|dir| guest_cwd(&dir, &grants));
        if !matches!(main, Main::Component(_)) {
            args.guest.python.add_grants(&mut grants)?;
        }
        if args.buffer_events == 0 {
            return Err(
                UsageError("--buffer-events 0: a buffer keeps at least one event".into()).into(),
            );
        }
        let server = match args.collector.client()? {
            Some(client) => {
                let spill = match &args.spill {
                    Some(spill) => spill.clone(),
                    None => ComponentCache::default_dir()
                        .context("no cache directory for --spill: set REWIND_CACHE_DIR or HOME")?
                        .join("spill")
                        .join(server_key(client.server())),
                };
                Some(Server {
                    client,
                    spill,
                    spill_limit: parse_size("--spill-limit", &args.spill_limit, ANY_SIZE)?,
                    wait: parse_duration("--server-wait", &args.server_wait)?,
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
            guest: args.guest.python,
            python,
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
    pub(super) fn guest_args(&self) -> Vec<String> {
        let mut args = vec!["python".to_owned()];
        let main = match &self.main {
            Main::Script(path) => vec!["--script".to_owned(), path.clone()],
            Main::Command(code) => vec!["--command".to_owned(), code.clone()],
            Main::Module(module) => vec!["--module".to_owned(), module.clone()],
            Main::Stdin => vec!["--stdin".to_owned()],
            Main::Interactive => vec!["--interactive".to_owned()],
            // A component gets its argv as it is.
            Main::Component(_) => return self.argv.clone(),
        };
        if let Some(cwd) = &self.cwd {
            args.extend(["--cwd".to_owned(), cwd.clone()]);
        }
        // A diagnostic: the reference tracer instead of the native one
        // (guest/python/src/tracer), to cross-check their events.
        if let Ok(tracer) = std::env::var("REWIND_TRACER") {
            args.extend(["--tracer".to_owned(), tracer]);
        }
        let python = &self.python;
        for (on, flag) in [
            (python.inspect, "--inspect"),
            (python.unbuffered, "--unbuffered"),
            (python.ignore_environment, "--ignore-environment"),
            (python.safe_path, "--safe-path"),
            (python.quiet, "--quiet"),
        ] {
            if on {
                args.push(flag.to_owned());
            }
        }
        for (values, flag) in [
            (&python.xoptions, "--xoption"),
            (&python.warnoptions, "--warnoption"),
            (&python.sys_path, "--sys-path"),
            (&python.site_dirs, "--site-dir"),
        ] {
            for value in values {
                args.extend([flag.to_owned(), value.clone()]);
            }
        }
        args.extend(main);
        args.push("--".to_owned());
        args.extend(self.argv.iter().cloned());
        args
    }

    /// The guest that runs: the component, or the Python guest.
    pub(super) fn guest(&self) -> Cow<'_, ComponentSource> {
        match &self.main {
            Main::Component(source) => Cow::Borrowed(source),
            _ => Cow::Owned(self.guest.source()),
        }
    }
}

/// Whether SCRIPT came after an explicit `--`, which makes even a name that
/// starts with `-` the script (clap does not say so itself).
fn explicit_separator(program: &[OsString]) -> bool {
    let Some(first) = program.first() else {
        return false;
    };
    let args: Vec<OsString> = std::env::args_os().collect();
    args.windows(2)
        .any(|pair| pair[0] == "--" && pair[1] == *first)
}

/// A `.wasm` file's component, named after the file.
fn component_source(path: &str) -> Result<ComponentSource> {
    let wasm = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    let name: String = Path::new(path)
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
    Ok(ComponentSource::from_bytes(&name, wasm))
}

/// Grants `dir` read-only at its own absolute path (unless a grant already
/// shows it there) and returns that guest path.
fn add_read_only_grant(grants: &mut Vec<DirGrant>, dir: &Path, flag: &str) -> Result<String> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    if !absolute.is_dir() {
        return Err(UsageError(format!("{flag} {}: not a directory", absolute.display())).into());
    }
    let guest = absolute
        .to_str()
        .ok_or_else(|| UsageError(format!("{flag} {}: not valid UTF-8", absolute.display())))?
        .to_owned();
    let shown = grants.iter().any(|grant| {
        absolute.starts_with(&grant.host) && grant.host.as_os_str() == grant.guest.as_str()
    });
    if !shown {
        let clash = grants
            .iter()
            .find(|grant| grant.guest.trim_end_matches('/') == guest);
        if let Some(other) = clash {
            return Err(UsageError(format!(
                "{flag} {guest} and the grant of {} both use the guest path {guest}",
                other.host.display()
            ))
            .into());
        }
        grants.push(DirGrant {
            host: absolute,
            guest: guest.clone(),
            writable: false,
        });
    }
    Ok(guest)
}

/// The site-packages of the active virtualenv (`VIRTUAL_ENV`, as `activate`
/// sets it): `lib/python3.X/site-packages`. A virtualenv made for another
/// Python works for its pure-Python packages.
fn virtualenv_site_packages() -> Result<Option<PathBuf>> {
    let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|venv| !venv.is_empty()) else {
        return Ok(None);
    };
    let venv = PathBuf::from(venv);
    let lib = venv.join("lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("python3"))
                .map(|entry| entry.path().join("site-packages"))
                .filter(|site| site.is_dir())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    match found.pop() {
        Some(site) => Ok(Some(site)),
        None => Err(UsageError(format!(
            "VIRTUAL_ENV={}: no lib/python3.*/site-packages in it (deactivate it, or unset VIRTUAL_ENV)",
            venv.display()
        ))
        .into()),
    }
}
