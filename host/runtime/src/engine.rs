//! The wasmtime configuration every guest runs under, and the ticker that
//! turns the engine's epoch into wall-clock time.
//!
//! One engine serves every guest of a process. Its settings are of two
//! kinds: what recordings need to re-execute anywhere ([`configure`], which
//! a host of its own also calls), and what Rewind's own runs need on top
//! (epoch interruption for `--timeout`, a wasm stack deep enough for the
//! Python VM).

use std::time::Duration;

use anyhow::Context as _;
use wasmtime::{Config, Engine};

/// How long the wasm stack of a guest may grow. RustPython recurses through
/// many wasm frames per Python call; 64 MiB keeps CPython's default recursion
/// limit (1000 Python frames) well inside it, so deep recursion ends in
/// Python's own `RecursionError` rather than in a trap.
const MAX_WASM_STACK: usize = 64 << 20;

/// The host thread that runs a guest needs the wasm stack plus room for the
/// host's own frames (WASI calls, Cranelift's trampolines).
pub(crate) const GUEST_THREAD_STACK: usize = MAX_WASM_STACK + (16 << 20);

/// How often the engine's epoch advances; the granularity of `--timeout`.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sets in `config` what recording needs of an engine: the component model,
/// and floating point that computes bit-identical results on every machine
/// (canonical NaNs, deterministic relaxed SIMD), which re-execution relies
/// on. Every recording says so in its settings.
pub fn configure(config: &mut Config) -> &mut Config {
    config.wasm_component_model(true);
    deterministic_floats(config);
    config
}

/// Re-execution must compute bit-identical results on every machine:
/// canonical NaNs and deterministic relaxed SIMD take away the two sources of
/// float nondeterminism wasm allows. Every engine that runs guest code sets
/// them, pre-initialisation's included (its results end up in the snapshot).
pub(crate) fn deterministic_floats(config: &mut Config) {
    config.cranelift_nan_canonicalization(true);
    config.relaxed_simd_deterministic(true);
}

/// The configuration of [`Runtime`](crate::Runtime)'s engine.
pub(crate) fn runtime_config() -> Config {
    let mut config = Config::new();
    configure(&mut config);
    config.epoch_interruption(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    // Guests run on fibers when called asynchronously; their stacks must hold
    // the same wasm stack plus the host's frames.
    config.async_stack_size(GUEST_THREAD_STACK);
    // `REWIND_PROFILE=perfmap` lets `perf` name the guest's functions
    // (docs/benchmarks.md, "Profiling").
    if std::env::var_os("REWIND_PROFILE").is_some_and(|v| v == "perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// The epoch deadline, in ticks, of a run limited to `timeout`.
pub(crate) fn deadline_ticks(timeout: Option<Duration>) -> u64 {
    let ticks = match timeout {
        Some(timeout) => timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64,
        // The deadline is added to the current epoch: leave room for it.
        None => u64::MAX / 2,
    };
    ticks.max(1)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the
/// engine lives, so that every store's deadline is counted in ticks.
///
/// Without the ticker no deadline ever passes: a thread that cannot be
/// started is an error, not a runtime whose every time limit is off.
pub(crate) fn start_epoch_ticker(engine: &Engine) -> anyhow::Result<()> {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .context("starting the epoch ticker, which enforces time limits")?;
    Ok(())
}
