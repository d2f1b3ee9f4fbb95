//! The events of a recording, for the viewers (the debugger, export):
//! traced live in the recording, materialized beside it, materialized now
//! by re-executing it, or, when none of these can be had, its crash
//! capture.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use rewind_debugger::index::Trace;
use rewind_debugger::session::Session;
use rewind_format::Writer;
use rewind_format::model::{Crash, CrashReason, Event, ExceptionStage, MarkerKind, Window};
use rewind_runtime::{
    Materialize, RecordingFile, ReplayOptions, ReplayTimeout, Runtime, Stop, materialized_path,
};

use super::report::{clear_progress_line, progress_line};
use super::{UsageError, guest, read_recording};

/// The recording in `dir` written last: a `*.rwd` file, not the
/// materialized events beside one (`*.events.rwd`); `None` when there is
/// none.
pub fn newest_recording(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let newest = std::fs::read_dir(dir)?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|name| name.ends_with(".rwd") && !name.ends_with(".events.rwd"))
        })
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            meta.is_file().then_some((meta.modified().ok()?, path))
        })
        .max();
    Ok(newest.map(|(_, path)| path))
}

/// A recording to read events from, and how to re-execute it when they
/// have to be materialized.
pub struct Source<'a> {
    pub path: &'a Path,
    /// The guest component given by --guest.
    pub guest: Option<&'a PathBuf>,
    pub timeout: ReplayTimeout,
}

/// Reads the recording and finds its events: traced live in the
/// recording, materialized beside it, materialized now, or, when none of
/// these can be had, its crash capture. With the session, the position
/// its events were traced from, which a re-execution to one of them
/// traces from too (`None` for the crash capture, whose steps are not
/// traced events).
pub fn open(replay: &Source<'_>) -> Result<(Session, Option<u64>)> {
    let path = replay.path;
    let bytes = read_recording(path)?;
    let len = bytes.len() as u64;
    let crc = rewind_format::checksum(&bytes);
    let (recording, trace) =
        Trace::build(bytes).map_err(|err| UsageError(format!("{}: {err}", path.display())))?;
    let mut notes = Vec::new();
    if let Some(cut) = &recording.cut {
        notes.push(format!(
            "the recording is cut at byte {} after {} whole chunks ({}): showing what precedes",
            cut.offset, cut.chunks, cut.reason
        ));
    }
    if !trace.threads.values().all(|index| index.is_empty()) {
        // A live-traced crash's buffer ends at the crash.
        let windows: Vec<Window> = recording
            .crashes
            .iter()
            .filter_map(|crash| {
                let index = trace.threads.get(&crash.thread)?;
                let last = index.event_number(index.len().checked_sub(1)?);
                Some(Window {
                    thread: crash.thread,
                    at_thread: crash.thread,
                    marker: crash_marker(&recording, crash),
                    first: 0,
                    end: last + 1,
                })
            })
            .collect();
        let origin = "events traced live during the run".to_owned();
        let session = Session::new(recording, trace, &windows, origin, notes);
        return Ok((session, Some(0)));
    }

    let sidecar = materialized_path(path);
    let current = |bytes: Vec<u8>| -> Option<(Trace, Vec<Window>, bool, u64)> {
        let (events, trace) = Trace::build(bytes).ok()?;
        let made_from = events.materialized_from(&recording.header, len, crc)?;
        let windows = made_from.windows.clone();
        Some((trace, windows, made_from.full, made_from.traced_from))
    };
    if let Some((trace, windows, full, traced_from)) =
        std::fs::read(&sidecar).ok().and_then(current)
    {
        if !full {
            notes.push(format!(
                "{} holds only the events before each snapshot and crash; `rewind replay --materialize --full` keeps them all",
                sidecar.display()
            ));
        }
        let origin = format!("materialized in {}", sidecar.display());
        let session = Session::new(recording, trace, &windows, origin, notes);
        return Ok((session, Some(traced_from)));
    }

    match materialize(replay) {
        Ok(()) => match std::fs::read(&sidecar).ok().and_then(current) {
            Some((trace, windows, _, traced_from)) => {
                let origin = format!("materialized by re-execution into {}", sidecar.display());
                let session = Session::new(recording, trace, &windows, origin, notes);
                return Ok((session, Some(traced_from)));
            }
            None => notes.push("the materialized events could not be read back".into()),
        },
        Err(err) => notes.push(format!("{err:#}")),
    }

    // What the recording holds on its own.
    let Some(crash) = recording.crashes.last().cloned() else {
        anyhow::bail!(
            "{} has no events to show: {}",
            path.display(),
            notes.last().map_or("it holds none", String::as_str)
        );
    };
    let events = capture_events(&crash);
    let mut writer = Writer::new(Vec::new(), &recording.header)?;
    writer.events(crash.thread, 0, &events)?;
    let bytes = writer.end(&rewind_format::model::End { exit_code: None })?;
    let (_, trace) = Trace::build(bytes)?;
    let origin = "the crash capture only: one step per frame".to_owned();
    let window = Window {
        thread: crash.thread,
        at_thread: crash.thread,
        marker: crash_marker(&recording, &crash),
        first: 0,
        end: events.len() as u64,
    };
    Ok((
        Session::new(recording, trace, &[window], origin, notes),
        None,
    ))
}

/// Re-executes the recording, keeping the last events before each
/// snapshot and crash (the recorded run's buffer size), showing progress.
fn materialize(replay: &Source<'_>) -> Result<()> {
    let (path, guest) = (replay.path, replay.guest);
    let file = RecordingFile::open(path)?;
    if let Some(why) = file.not_replayable() {
        anyhow::bail!("it cannot be re-executed: {why}");
    }
    let runtime = Runtime::new()?;
    let source = guest::of_recording(&file, guest)?;
    let component = guest::load(&runtime, &source)?;
    let started = Instant::now();
    if std::io::stderr().is_terminal() {
        eprint!("rewind: materializing the events of {}...", path.display());
    }
    let replayed = runtime.replay(
        &component,
        &file,
        ReplayOptions {
            echo_output: false,
            materialize: Some(Materialize {
                full: false,
                buffer_events: None,
            }),
            progress: progress_line(true),
            timeout: replay.timeout,
        },
    )?;
    clear_progress_line(true);
    for warning in &replayed.warnings {
        eprintln!("rewind: warning: {warning}");
    }
    if let Some(divergence) = replayed.divergence() {
        anyhow::bail!("re-execution {divergence}");
    }
    if let Some(stop @ Stop::TimedOut(_)) = &replayed.stop {
        anyhow::bail!("{}", timed_out(stop, &file, replay.timeout));
    }
    eprintln!(
        "rewind: materialized {} events in {:.1?}",
        replayed.events,
        started.elapsed()
    );
    Ok(())
}

/// A crash capture as events: a call per frame, outermost first, with its
/// locals, then the exception.
fn capture_events(crash: &Crash) -> Vec<Event> {
    let mut events = Vec::new();
    for frame in &crash.frames {
        events.push(Event::Call {
            function: frame.function.clone(),
            file: frame.file.clone(),
            line: frame.line,
            args: Vec::new(),
        });
        events.push(Event::Line {
            line: frame.line,
            changed: frame.locals.clone(),
        });
    }
    let (type_name, message) = match (&crash.exception, &crash.reason) {
        (Some(exception), _) => (exception.type_name.clone(), exception.message.clone()),
        (None, CrashReason::Trap(what) | CrashReason::Limit(what)) => {
            ("crash".into(), what.clone())
        }
        (None, _) => ("crash".into(), String::new()),
    };
    events.push(Event::Exception {
        stage: ExceptionStage::Unhandled,
        type_name,
        message,
    });
    events
}

/// The number of `crash`'s marker in its thread.
fn crash_marker(recording: &rewind_format::Recording, crash: &Crash) -> u64 {
    recording
        .threads
        .get(&crash.thread)
        .and_then(|log| {
            log.markers
                .iter()
                .position(|m| matches!(m.kind, MarkerKind::Crash { crash: id } if id == crash.id))
        })
        .unwrap_or(0) as u64
}

/// What a re-execution that ran out of time says: its bound, and where
/// that came from.
pub fn timed_out(stop: &Stop, file: &RecordingFile, timeout: ReplayTimeout) -> String {
    match (timeout, file.recording.elapsed_ms) {
        (ReplayTimeout::Derived, Some(ms)) => format!(
            "{stop} (derived from the recorded run's {}); give --timeout to change it",
            humantime::format_duration(std::time::Duration::from_millis(ms))
        ),
        (ReplayTimeout::Derived, None) => format!("{stop}; give --timeout to change it"),
        _ => format!("{stop} (--timeout)"),
    }
}
