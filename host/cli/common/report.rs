//! The lines `rewind` prints on stderr while it works: where each
//! recording went, and how far a long materialization has come; and the
//! output of the commands that print a lot on stdout ([`print`]).

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rewind_runtime::{Progress, RecorderEvent, Written};

/// Stdout was closed by its reader (`rewind dump FILE | head`): it has what
/// it wanted, so the command stops there, quietly and with status 0, as
/// ripgrep does.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub struct ClosedStdout;

/// Writes `text` to stdout; [`ClosedStdout`] when the reader has gone,
/// which `main` ends the command on without a word.
pub fn print(text: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Err(ClosedStdout.into()),
        other => other.context("writing to stdout"),
    }
}

/// The line that tells the user what the recorder did, if any.
pub fn recorder_event(event: &RecorderEvent) -> Option<String> {
    match event {
        RecorderEvent::Written { path, what } => {
            let open = format!("(open it: rewind replay {})", shell_word(path));
            let path = path.display();
            Some(match what {
                Written::Crash => format!("rewind: crash recorded in {path} {open}"),
                Written::Snapshot(name) => {
                    format!("rewind: snapshot {name:?} recorded in {path} {open}")
                }
                Written::Stream => format!("rewind: recording live to {path}"),
                Written::Exit(code) => {
                    format!("rewind: exit status {code} recorded in {path} {open}")
                }
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
/// a terminal (or `REWIND_PROGRESS=1` asks for it anyway, one line per
/// update): how far the re-execution has run of the recorded run, the
/// events traced, the time it took so far and an estimate of what is left.
///
/// How far comes from the guest's position (see `control.position` in the
/// WIT), which advances steadily to the recorded run's; a recording without
/// positions (format version 1), or with too few to measure by (the CPython
/// guest counts only its calls to the host), is measured by the inputs
/// consumed instead.
pub fn progress_line(on: bool) -> Option<Box<dyn Fn(Progress) + Send + Sync>> {
    let forced = std::env::var_os("REWIND_PROGRESS").is_some_and(|v| v == "1");
    let terminal = std::io::stderr().is_terminal();
    if !on || !(terminal || forced) {
        return None;
    }
    let started = Instant::now();
    let last = Mutex::new((started, 0u64));
    Some(Box::new(move |progress: Progress| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if last.0.elapsed() < Duration::from_millis(200) {
            return;
        }
        let permille = match (progress.total_position, progress.total_inputs) {
            (Some(total), _) if total >= FINE_POSITIONS => {
                progress.position.saturating_mul(1000) / total
            }
            (_, 0) => 1000,
            (_, total) => progress.inputs.saturating_mul(1000) / total,
        };
        // Never backwards, and 100% only once it is done.
        let permille = permille.clamp(last.1, 999);
        *last = (Instant::now(), permille);
        let line = progress_text(permille, progress.events, started.elapsed());
        match terminal && !forced {
            true => eprint!("\r\x1b[K{line}"),
            false => eprintln!("{line}"),
        }
    }))
}

/// Fewer positions than this in a whole run do not measure progress.
const FINE_POSITIONS: u64 = 100;

/// `rewind: materializing: 42.0%, 1200000 events, 3.1s elapsed, about 4s left`
fn progress_text(permille: u64, events: u64, elapsed: Duration) -> String {
    let mut line = format!(
        "rewind: materializing: {}.{}%, {events} events, {:.1}s elapsed",
        permille / 10,
        permille % 10,
        elapsed.as_secs_f64()
    );
    // An estimate once there is something to go on.
    if permille >= 20 && elapsed >= Duration::from_millis(500) {
        let left = elapsed.as_secs_f64() * (1000 - permille) as f64 / permille as f64;
        line.push_str(&format!(", about {left:.0}s left"));
    }
    line
}

/// Clears what [`progress_line`] printed.
pub fn clear_progress_line(on: bool) {
    if on && std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}

/// `path` as one word a shell reads back as it is: quoted when it holds
/// anything but letters, digits and `_-./+,:@%=`.
pub fn shell_word(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./+,:@%=".contains(c));
    match plain {
        true => text.into_owned(),
        false => format!("'{}'", text.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_words_are_quoted_when_they_must_be() {
        use std::path::Path;
        assert_eq!(super::shell_word(Path::new("out/a-1.rwd")), "out/a-1.rwd");
        assert_eq!(
            super::shell_word(Path::new("my dir/it's.rwd")),
            "'my dir/it'\\''s.rwd'"
        );
    }

    use super::*;

    #[test]
    fn the_progress_text_gives_an_estimate_once_it_can() {
        assert_eq!(
            progress_text(5, 10, Duration::from_millis(100)),
            "rewind: materializing: 0.5%, 10 events, 0.1s elapsed"
        );
        assert_eq!(
            progress_text(250, 1000, Duration::from_secs(2)),
            "rewind: materializing: 25.0%, 1000 events, 2.0s elapsed, about 6s left"
        );
    }
}
