//! Resource limits for one guest run, and the limiter that enforces memory.

use std::fmt;
use std::time::Duration;

/// The limits a guest runs under.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest size, in bytes, any one linear memory of the guest may grow to.
    pub max_memory: u64,
    /// Wall-clock time the run may take; `None` for no limit.
    pub timeout: Option<Duration>,
}

impl Limits {
    /// 2 GiB: room for real Python programs, well under wasm32's 4 GiB.
    pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;
    /// One hour: a sandbox should not run forever unless asked to.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory: Self::DEFAULT_MAX_MEMORY,
            timeout: Some(Self::DEFAULT_TIMEOUT),
        }
    }
}

/// A limit that a guest ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The guest tried to grow its memory past `max` bytes.
    Memory { max: u64 },
    /// The run took longer than its timeout.
    Time { timeout: Duration },
    /// The guest's call stack overflowed (recursion too deep for the wasm stack).
    Stack,
    /// The user stopped the run (Ctrl-C while an interrupt was on its way).
    Interrupted,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Memory { max } => write!(f, "memory limit of {} exceeded", Bytes(*max)),
            Limit::Time { timeout } => {
                write!(f, "time limit of {} exceeded", humanize(*timeout))
            }
            Limit::Stack => write!(f, "stack limit exceeded (recursion too deep)"),
            Limit::Interrupted => write!(f, "{INTERRUPTED}"),
        }
    }
}

/// How a run stopped by the user is described, in messages and in its
/// recording's crash capture.
pub(crate) const INTERRUPTED: &str = "interrupted (Ctrl-C, twice)";

/// The error a limiter raises inside the store, recognised again in the
/// run's outcome.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LimitError(pub(crate) Limit);

/// Enforces [`Limits::max_memory`] on every memory and table of a store.
pub(crate) struct Limiter {
    max_memory: u64,
}

impl Limiter {
    /// Table elements a guest may have: far more than any real program uses.
    const MAX_TABLE_ELEMENTS: usize = 10_000_000;

    pub(crate) fn new(max_memory: u64) -> Self {
        Limiter { max_memory }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_memory {
            // An error, not `Ok(false)`: a guest told "no" by memory.grow
            // aborts with a message about allocation; the user should be told
            // which limit it was.
            return Err(LimitError(Limit::Memory {
                max: self.max_memory,
            })
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= Self::MAX_TABLE_ELEMENTS)
    }
}

/// A byte count shown the way people write limits: `512 MiB`, `2 GiB`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
        let mut value = self.0;
        for unit in &UNITS[..3] {
            if value < 1024 || !value.is_multiple_of(1024) {
                return write!(f, "{value} {unit}");
            }
            value /= 1024;
        }
        write!(f, "{value} {}", UNITS[3])
    }
}

/// A duration as people write it, never rounded to zero: in the largest
/// unit it is a whole number of (`1h`, `2m`, `30s`, `250ms`, `1ns`), else in
/// seconds with the fraction it has (`1.5s`).
fn humanize(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    const UNITS: [(u128, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos >= 1_000_000_000 && !nanos.is_multiple_of(1_000_000_000) {
        let fraction = format!("{:09}", duration.subsec_nanos());
        return format!("{}.{}s", duration.as_secs(), fraction.trim_end_matches('0'));
    }
    let (size, unit) = UNITS
        .into_iter()
        .find(|(size, _)| nanos.is_multiple_of(*size))
        .unwrap_or((1, "ns"));
    format!("{}{unit}", nanos / size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_they_were_given() {
        let check = |limit: Limit, expected: &str| assert_eq!(limit.to_string(), expected);
        check(
            Limit::Memory { max: 64 << 20 },
            "memory limit of 64 MiB exceeded",
        );
        check(
            Limit::Memory { max: 2 << 30 },
            "memory limit of 2 GiB exceeded",
        );
        check(
            Limit::Memory { max: 1000 },
            "memory limit of 1000 bytes exceeded",
        );
        check(
            Limit::Time {
                timeout: Duration::from_millis(1500),
            },
            "time limit of 1.5s exceeded",
        );
        check(
            Limit::Time {
                timeout: Duration::from_secs(2),
            },
            "time limit of 2s exceeded",
        );
        check(
            Limit::Time {
                timeout: Duration::from_secs(120),
            },
            "time limit of 2m exceeded",
        );
    }

    #[test]
    fn durations_are_never_shown_as_zero() {
        let check = |duration: Duration, expected: &str| assert_eq!(humanize(duration), expected);
        check(Duration::from_nanos(1), "1ns");
        check(Duration::from_micros(20), "20us");
        check(Duration::from_millis(250), "250ms");
        check(Duration::from_secs(2), "2s");
        check(Duration::from_millis(1500), "1.5s");
        check(Duration::new(1, 1), "1.000000001s");
        check(Duration::from_secs(90), "90s");
        check(Duration::from_secs(3600), "1h");
        check(Duration::from_secs(7200 + 60), "121m");
        check(Duration::ZERO, "0s");
    }
}
