//! The lines `rewind` prints on stderr while it works: where each
//! recording went, and how far a long materialization has come.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rewind_runtime::{Progress, RecorderEvent, Written};

/// The line that tells the user what the recorder did, if any.
pub fn recorder_event(event: &RecorderEvent) -> Option<String> {
    match event {
        RecorderEvent::Written { path, what } => {
            let path = path.display();
            Some(match what {
                Written::Crash => format!("rewind: crash recorded in {path}"),
                Written::Snapshot(name) => format!("rewind: snapshot {name:?} recorded in {path}"),
                Written::Stream => format!("rewind: recording live to {path}"),
            })
        }
        RecorderEvent::Failed(failure) => Some(format!("rewind: recording failed: {failure}")),
        RecorderEvent::Flushed { .. } => None,
    }
}

/// A recorder's listener that prints [`recorder_event`]'s lines.
pub fn print_recorder_event(event: &RecorderEvent) {
    if let Some(line) = recorder_event(event) {
        eprintln!("{line}");
    }
}

/// A progress line on stderr while materializing, when `on` and stderr is
/// a terminal: inputs consumed of the log, events traced.
pub fn progress_line(on: bool) -> Option<Box<dyn Fn(Progress) + Send + Sync>> {
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

/// Clears what [`progress_line`] printed.
pub fn clear_progress_line(on: bool) {
    if on && std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}
