//! Exit statuses, and the errors a user can fix by changing the command
//! line. `rewind run --help` and `docs/cli.md` list the statuses.

use rewind_runtime::{Limit, Outcome};

/// Bad flags, a missing script: as `python3` does.
pub const USAGE: u8 = 2;
/// Rewind itself failed (not the guest).
pub const HOST_ERROR: u8 = 3;
/// A re-execution did something its recording does not have.
pub const DIVERGED: u8 = 4;
/// A re-execution took longer than its time bound.
pub const REPLAY_TIMED_OUT: u8 = 5;
/// The guest crashed (a trap in the VM).
pub const GUEST_CRASH: u8 = 70;
/// The run exceeded `--timeout`.
pub const TIME_LIMIT: u8 = 124;
/// The guest exceeded `--max-memory`.
pub const MEMORY_LIMIT: u8 = 125;
/// The guest's call stack overflowed.
pub const STACK_LIMIT: u8 = 126;

/// Errors the user can fix by changing the command line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The status `rewind` exits with for an error.
pub fn of_error(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<UsageError>().is_some() {
        USAGE
    } else {
        HOST_ERROR
    }
}

/// The status `rewind` exits with for a guest that ended so: its own, or
/// the one for the limit or the crash that stopped it.
pub fn of_outcome(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Exited(code) => u8::try_from(*code).unwrap_or(1),
        Outcome::LimitExceeded(Limit::Memory { .. }) => MEMORY_LIMIT,
        Outcome::LimitExceeded(Limit::Time { .. }) => TIME_LIMIT,
        Outcome::LimitExceeded(Limit::Stack) => STACK_LIMIT,
        // As a shell reports a command ended by SIGINT.
        Outcome::LimitExceeded(Limit::Interrupted) => 130,
        Outcome::Trapped(_) => GUEST_CRASH,
    }
}

/// What `rewind` says of a guest that did not end by itself: the limit it
/// ran into, or the first line of its crash.
pub fn stopped(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Exited(_) => None,
        Outcome::LimitExceeded(limit) => Some(limit.to_string()),
        Outcome::Trapped(message) => {
            // The runtime logs the whole error at debug level; the user gets
            // one line.
            let first = message.lines().next().unwrap_or("trap");
            Some(format!("the guest crashed: {first}"))
        }
    }
}

/// An I/O error as a person reads it: "No such file or directory", without
/// Rust's " (os error 2)" suffix.
/// The bytes of the recording at `path` ([`rewind_format::read_file`]), or
/// the user's one-line error: it cannot be read, is not a regular file, or
/// does not start as a recording does.
pub fn read_recording(path: &std::path::Path) -> Result<Vec<u8>, UsageError> {
    rewind_format::read_file(path).map_err(|err| match err {
        rewind_format::FileError::Io(err) => UsageError(format!(
            "cannot read {}: {}",
            path.display(),
            io_message(&err)
        )),
        err => UsageError(format!("{}: {err}", path.display())),
    })
}

pub fn io_message(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.split_once(" (os error") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_ending_has_its_status() {
        let check = |outcome: Outcome, status: u8, said: Option<&str>| {
            assert_eq!(of_outcome(&outcome), status, "{outcome:?}");
            assert_eq!(stopped(&outcome).as_deref(), said, "{outcome:?}");
        };
        check(Outcome::Exited(0), 0, None);
        check(Outcome::Exited(7), 7, None);
        check(Outcome::Exited(-1), 1, None);
        check(Outcome::Exited(256), 1, None);
        check(
            Outcome::LimitExceeded(Limit::Time {
                timeout: Duration::from_secs(2),
            }),
            TIME_LIMIT,
            Some("time limit of 2s exceeded"),
        );
        check(
            Outcome::LimitExceeded(Limit::Memory { max: 64 << 20 }),
            MEMORY_LIMIT,
            Some("memory limit of 64 MiB exceeded"),
        );
        check(
            Outcome::LimitExceeded(Limit::Stack),
            STACK_LIMIT,
            Some("stack limit exceeded (recursion too deep)"),
        );
        check(
            Outcome::Trapped("unreachable\nmore".into()),
            GUEST_CRASH,
            Some("the guest crashed: unreachable"),
        );
    }
}
