//! How a guest run ended: what `wasi:cli/run` returned, sorted into an
//! exit, a tripped limit or a trap, with the wasm frames of a trap.

use std::fmt;
use std::time::Duration;

use wasmtime::Trap;
use wasmtime_wasi::I32Exit;

use crate::limits::{Limit, LimitError};

/// How a guest run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The guest exited with this status (0 when `main` returned normally).
    Exited(i32),
    /// A limit stopped the guest.
    LimitExceeded(Limit),
    /// The guest trapped: a crash of the guest itself (an `unreachable`, an
    /// out-of-bounds access, a Rust panic in the VM).
    Trapped(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with status {code}"),
            Outcome::LimitExceeded(limit) => write!(f, "{limit}"),
            Outcome::Trapped(message) => write!(f, "the guest crashed: {message}"),
        }
    }
}

/// What a call of `wasi:cli/run` returned.
pub(crate) type RunResult = wasmtime::Result<Result<(), ()>>;

impl Outcome {
    /// The outcome of a run that returned `result`. An epoch interrupt is
    /// the run's time limit when it had one (`timeout`).
    pub(crate) fn of(result: RunResult, timeout: Option<Duration>) -> Outcome {
        let err = match result {
            Ok(Ok(())) => return Outcome::Exited(0),
            Ok(Err(())) => return Outcome::Exited(1),
            Err(err) => err,
        };
        if let Some(exit) = err.downcast_ref::<I32Exit>() {
            return Outcome::Exited(exit.0);
        }
        if let Some(LimitError(limit)) = err.downcast_ref::<LimitError>() {
            return Outcome::LimitExceeded(*limit);
        }
        match err.downcast_ref::<Trap>() {
            // Only the epoch interrupts a guest, and only at its deadline; a
            // host of its own may interrupt one for reasons of its own.
            Some(Trap::Interrupt) => match timeout {
                Some(timeout) => Outcome::LimitExceeded(Limit::Time { timeout }),
                None => Outcome::Trapped(Trap::Interrupt.to_string()),
            },
            Some(Trap::StackOverflow) => Outcome::LimitExceeded(Limit::Stack),
            Some(trap) => {
                tracing::debug!("guest trapped: {err:?}");
                Outcome::Trapped(trap.to_string())
            }
            None => {
                tracing::debug!("guest failed: {err:?}");
                Outcome::Trapped(err.root_cause().to_string())
            }
        }
    }
}

/// The most wasm frames a VM crash keeps, innermost first.
const MAX_WASM_FRAMES: usize = 64;

/// The names of the wasm functions on the stack when the guest trapped.
pub(crate) fn wasm_frames(result: &RunResult) -> Vec<String> {
    let Err(err) = result else {
        return Vec::new();
    };
    let Some(trace) = err.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return Vec::new();
    };
    trace
        .frames()
        .iter()
        .take(MAX_WASM_FRAMES)
        .map(|frame| match frame.func_name() {
            // The guest's Rust names, without their hashes.
            Some(name) => format!("{:#}", rustc_demangle::demangle(name)),
            None => format!("<wasm function {}>", frame.func_index()),
        })
        .collect()
}
