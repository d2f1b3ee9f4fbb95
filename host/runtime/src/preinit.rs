//! Pre-initialisation: run a component's `wizer-initialize` once and snapshot
//! the result (wasmtime's wizer), so that every later run starts from an
//! initialised guest instead of initialising it again.
//!
//! For the Python guest this moves the VM's start-up (building the
//! interpreter, importing `site` and friends) out of every run.
//!
//! The initialisation sees a WASI world with nothing in it: no arguments, no
//! environment, no directories, and clocks and randomness fixed at zero and a
//! constant seed. So the snapshot depends only on the component's bytes, and
//! two machines pre-initialising the same guest get the same snapshot, which
//! deterministic re-execution relies on.

use std::time::Duration;

use anyhow::{Context as _, Result};
use rand::SeedableRng as _;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, OptLevel, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};

use crate::engine;
use crate::guest_state::GuestState;
use crate::limits::{Limiter, Limits};
use crate::recorder::{self, ThreadRecorder};
use crate::serve;

/// The export a component offers to be pre-initialised.
pub(crate) const INIT_EXPORT: &str = "wizer-initialize";

/// Whether `wasm` is a component exporting [`INIT_EXPORT`] at its top level.
pub(crate) fn wants_preinit(wasm: &[u8]) -> bool {
    use wasmparser::{Parser, Payload};
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::ModuleSection { .. } | Payload::ComponentSection { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentExportSection(exports)) if depth == 0 => {
                for export in exports.into_iter().flatten() {
                    if export.name.name == INIT_EXPORT {
                        return true;
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Runs `wasm`'s `wizer-initialize` and returns the snapshot: a component
/// that starts where initialisation left off.
pub(crate) fn preinitialize(wasm: &[u8]) -> Result<Vec<u8>> {
    preinitialize_within(wasm, PREINIT_TIMEOUT)
}

/// The longest pre-initialisation may take: the Python guest's takes a few
/// seconds; a component whose `wizer-initialize` never returns must not
/// hang `rewind` before any `--timeout` applies.
const PREINIT_TIMEOUT: Duration = Duration::from_secs(120);

fn preinitialize_within(wasm: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // This engine compiles code that runs once: compile it fast.
    config.cranelift_opt_level(OptLevel::None);
    engine::deterministic_floats(&mut config);
    let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
    let mut linker = Linker::<GuestState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
    // The guest imports the recorder; pre-initialisation records nothing.
    recorder::wit::add_to_linker(&mut linker)?;
    // Requests answer none: pre-initialisation serves nothing.
    serve::add_to_linker(&mut linker)?;

    let wasi = WasiCtxBuilder::new()
        .wall_clock(FixedClock)
        .monotonic_clock(FixedClock)
        .secure_random(rand::rngs::StdRng::seed_from_u64(0))
        .insecure_random(rand::rngs::StdRng::seed_from_u64(0))
        .insecure_random_seed(0)
        .build();
    let mut store = Store::new(
        &engine,
        GuestState::new(
            wasi,
            Limiter::new(Limits::DEFAULT_MAX_MEMORY),
            ThreadRecorder::detached(),
        ),
    );
    store.limiter(|state| &mut state.limiter);
    engine::start_epoch_ticker(&engine)?;
    store.set_epoch_deadline(engine::deadline_ticks(Some(timeout)));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the pre-initialisation runtime")?;
    let mut wizer = wasmtime_wizer::Wizer::new();
    // The component's own lift of the export refers to it: keep it (calling
    // it again would only rebuild what is already there).
    wizer.keep_init_func(true);
    let (snapshot, _results) = runtime
        .block_on(
            wizer.run_component(&mut store, wasm, async |store, component| {
                linker.instantiate_async(store, component).await
            }),
        )
        .map_err(|err| match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => anyhow::anyhow!(
                "its `{INIT_EXPORT}` ran longer than {}",
                humantime::format_duration(timeout)
            ),
            _ => anyhow::Error::from(err),
        })
        .context("pre-initialising the guest")?;
    Ok(snapshot)
}

/// A clock stopped at zero: what initialisation reads of time must not
/// depend on when it ran.
struct FixedClock;

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_guest_asks_for_preinitialisation() {
        assert!(wants_preinit(rewind_guests::PYTHON.wasm));
        assert!(!wants_preinit(b"\0asm\x01\0\0\0"));
        assert!(!wants_preinit(b"not wasm at all"));
    }

    #[test]
    fn an_initialisation_that_never_returns_is_stopped() {
        let looping = wat::parse_str(
            r#"(component
                (core module $m (func (export "init") (loop $l (br $l))))
                (core instance $i (instantiate $m))
                (func (export "wizer-initialize") (canon lift (core func $i "init"))))"#,
        )
        .unwrap();
        assert!(wants_preinit(&looping));
        let err = preinitialize_within(&looping, Duration::from_millis(300)).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "pre-initialising the guest: its `wizer-initialize` ran longer than 300ms"
        );
    }

    #[test]
    fn the_snapshot_depends_only_on_the_guest() {
        // Re-execution on another machine relies on getting the same
        // pre-initialised guest there.
        let first = preinitialize(rewind_guests::PYTHON.wasm).unwrap();
        let second = preinitialize(rewind_guests::PYTHON.wasm).unwrap();
        assert!(first == second, "two pre-initialisations differ");
    }
}
