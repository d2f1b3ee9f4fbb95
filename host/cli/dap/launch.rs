//! What a DAP `launch` opens: a recording named by path, collector URL or
//! id, or a script recorded first by `rewind run --trace`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::common::args::{CollectorArgs, parse_timeout};
use crate::common::events::newest_recording;
use rewind_runtime::ReplayTimeout;

/// A launch's arguments, checked.
pub struct Launch {
    pub target: Target,
    /// The guest component a `.wasm` recording needs (`guest`).
    pub guest: Option<PathBuf>,
    pub timeout: ReplayTimeout,
}

pub enum Target {
    /// A recording file, or what the collector has under an id or URL.
    Recording {
        name: String,
        collector: CollectorArgs,
    },
    /// A script to record first.
    Program {
        program: PathBuf,
        args: Vec<String>,
        cwd: Option<PathBuf>,
        /// `rustpython` or `cpython`; `rewind run`'s default when none.
        python: Option<String>,
    },
}

impl Launch {
    /// Reads `launch`'s arguments; an error names what is wrong.
    pub fn parse(arguments: &Value) -> Result<Launch, String> {
        let text = |key: &str| -> Result<Option<String>, String> {
            match arguments.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => Err(format!("launch: \"{key}\" must be a string, not {other}")),
            }
        };
        let timeout = match text("timeout")? {
            None => ReplayTimeout::Derived,
            Some(spec) => {
                match parse_timeout("timeout", &spec).map_err(|err| format!("launch: {err}"))? {
                    Some(timeout) => ReplayTimeout::Limit(timeout),
                    None => ReplayTimeout::Unlimited,
                }
            }
        };
        let last = match arguments.get("last") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => {
                let dir = PathBuf::from(text("out")?.unwrap_or_else(|| "rewind-recordings".into()));
                let newest = newest_recording(&dir).ok().flatten().ok_or_else(|| {
                    format!(
                        "launch: \"last\": no recordings in {} (give \"out\": the directory `rewind run --out` wrote to)",
                        dir.display()
                    )
                })?;
                Some(newest.to_string_lossy().into_owned())
            }
            Some(other) => {
                return Err(format!(
                    "launch: \"last\" must be true or false, not {other}"
                ));
            }
        };
        let target = match (text("recording")?.or(last), text("program")?) {
            (Some(name), None) => Target::Recording {
                name,
                collector: CollectorArgs {
                    server: text("server")?,
                    token: text("token")?,
                },
            },
            (None, Some(program)) => {
                let args = match arguments.get("args") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|item| match item {
                            Value::String(text) => Ok(text.clone()),
                            other => Ok(other.to_string()),
                        })
                        .collect::<Result<_, String>>()?,
                    Some(other) => {
                        return Err(format!("launch: \"args\" must be a list, not {other}"));
                    }
                };
                let python = text("python")?;
                if let Some(python) = &python
                    && !["rustpython", "cpython"].contains(&python.as_str())
                {
                    return Err(format!(
                        "launch: \"python\" is \"rustpython\" or \"cpython\", not {python:?}"
                    ));
                }
                Target::Program {
                    program: PathBuf::from(program),
                    args,
                    cwd: text("cwd")?.map(PathBuf::from),
                    python,
                }
            }
            (Some(_), Some(_)) => {
                return Err("launch: give \"recording\" or \"program\", not both".into());
            }
            (None, None) => {
                return Err("launch: give \"recording\" (a recording file, a collector URL or id), \"last\": true (the newest in \"out\") or \"program\" (a script to record and open)".into());
            }
        };
        Ok(Launch {
            target,
            guest: text("guest")?.map(PathBuf::from),
            timeout,
        })
    }
}

/// Records `program` with `rewind run --trace --mode continuous` (on the
/// Python guest `python` names, when it does) into a directory of `scratch`, handing each line it prints to `output` (with
/// its category, `stdout` or `stderr`); the recording written.
pub fn record(
    rewind: &Path,
    program: &Path,
    (args, python): (&[String], Option<&str>),
    cwd: Option<&Path>,
    scratch: &Path,
    mut output: impl FnMut(&str, String),
) -> Result<PathBuf> {
    let out = scratch.join("recordings");
    let mut command = Command::new(rewind);
    command.args(["run", "--trace", "--mode", "continuous", "--out"]);
    command.arg(&out);
    if let Some(python) = python {
        command.args(["--python", python]);
    }
    command
        .arg("--")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", rewind.display()))?;
    // Both streams are read on threads of their own and handed over in
    // the order their lines came.
    let (lines, received) = mpsc::channel();
    let mut readers = Vec::new();
    for (category, stream) in [
        (
            "stdout",
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ),
        (
            "stderr",
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ),
    ] {
        let Some(stream) = stream else { continue };
        let lines = lines.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = lines.send((category, line));
            }
        }));
    }
    drop(lines);
    for (category, line) in received {
        output(category, format!("{line}\n"));
    }
    for reader in readers {
        let _ = reader.join();
    }
    child.wait().context("waiting for the recorded run")?;
    newest_recording(&out).ok().flatten().with_context(|| {
        format!(
            "the run of {} wrote no recording (see its output)",
            program.display()
        )
    })
}
