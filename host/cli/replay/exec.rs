//! `rewind replay --exec` and `--materialize`: the recorded guest run
//! again from its log, showing its output, or tracing it to materialize the
//! recording's events beside it.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use rewind_runtime::{Materialize, RecordingFile, ReplayOptions, Runtime, Stop};

use super::Replay;
use crate::common::report::{clear_progress_line, progress_line};
use crate::common::{UsageError, guest, io_message, status};

/// What to do with the re-execution.
pub enum Action {
    /// Show the guest's output and end with its status.
    Exec,
    /// Trace it and keep the events beside the recording.
    Materialize {
        full: bool,
        buffer_events: Option<usize>,
    },
}

pub fn main(replay: &Replay<'_>, action: Action) -> Result<ExitCode> {
    let (path, guest) = (replay.path, replay.guest);
    let file = open(path)?;
    if let Some(why) = file.not_replayable() {
        anyhow::bail!("{} cannot be re-executed: {why}", path.display());
    }
    let runtime = Runtime::new()?;
    let source = guest::of_recording(&file, guest)?;
    let component = guest::load(&runtime, &source)?;

    let (exec, materialize) = match action {
        Action::Exec => (true, None),
        Action::Materialize {
            full,
            buffer_events,
        } => (
            false,
            Some(Materialize {
                full,
                buffer_events,
            }),
        ),
    };
    let materializing = materialize.is_some();
    let started = Instant::now();
    let options = ReplayOptions {
        echo_output: exec,
        materialize,
        progress: progress_line(materializing),
        timeout: replay.timeout,
    };
    let replayed = runtime.replay(&component, &file, options)?;
    clear_progress_line(materializing);
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
            return Ok(ExitCode::from(status::DIVERGED));
        }
        Some(stop @ Stop::TimedOut(_)) => {
            eprintln!(
                "rewind: replay stopped: {}",
                crate::common::events::timed_out(stop, &file, replay.timeout)
            );
            return Ok(ExitCode::from(status::REPLAY_TIMED_OUT));
        }
        // Only `Runtime::evaluate` asks a guest to evaluate.
        Some(stop @ (Stop::EndOfRecording(_) | Stop::Evaluated)) => {
            if exec {
                eprintln!("rewind: replay stopped: {stop}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    if let Some(stopped) = status::stopped(&replayed.outcome) {
        eprintln!("rewind: {stopped}, as recorded");
    }
    let code = status::of_outcome(&replayed.outcome);
    Ok(ExitCode::from(if exec { code } else { 0 }))
}

fn open(path: &Path) -> Result<RecordingFile> {
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
