//! Running a WASI command component to completion, and how it ended.

use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::bindings::sync::{Command, CommandPre};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::embed::{RecorderCtx, RecorderView};
use crate::limits::{Limit, LimitError, Limiter, Limits};
use crate::recorder::{ThreadEnd, ThreadRecorder, hooks};
use crate::sandbox::Sandbox;
use crate::serve::{Jobs, Response, Serving};
use rewind_format::model::CrashReason;

/// How long the wasm stack of a guest may grow. RustPython recurses through
/// many wasm frames per Python call; 64 MiB keeps CPython's default recursion
/// limit (1000 Python frames) well inside it, so deep recursion ends in
/// Python's own `RecursionError` rather than in a trap.
const MAX_WASM_STACK: usize = 64 << 20;

/// The host thread that runs a guest needs the wasm stack plus room for the
/// host's own frames (WASI calls, Cranelift's trampolines).
const GUEST_THREAD_STACK: usize = MAX_WASM_STACK + (16 << 20);

/// How often the engine's epoch advances; the granularity of `--timeout`.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// After a timeout, how long to wait for the guest to notice before giving up
/// on it: a guest blocked inside a host call (reading stdin, say) cannot be
/// interrupted by the epoch.
const TIMEOUT_GRACE: Duration = Duration::from_millis(500);

/// The wasmtime engine and WASI linker every guest of this process runs on.
pub struct Runtime {
    engine: Engine,
    linker: Linker<GuestState>,
    /// The same, with every source of input answered from a log.
    replay_linker: Linker<GuestState>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

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

/// The state a guest's store carries.
pub(crate) struct GuestState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    /// This guest thread's handle on the run's recorder.
    pub(crate) rewind: RecorderCtx,
    /// When the guest serves HTTP requests: where they come from.
    pub(crate) serving: Option<Serving>,
}

impl GuestState {
    pub(crate) fn new(wasi: WasiCtx, limiter: Limiter, recorder: ThreadRecorder) -> GuestState {
        GuestState {
            wasi,
            table: ResourceTable::new(),
            limiter,
            rewind: RecorderCtx::new(recorder),
            serving: None,
        }
    }
}

impl RecorderView for GuestState {
    fn recorder(&mut self) -> &mut RecorderCtx {
        &mut self.rewind
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Runtime {
    /// An engine configured for Rewind's guests, with WASI linked.
    pub fn new() -> Result<Runtime> {
        let engine = Engine::new(&engine_config()).map_err(anyhow::Error::from)?;
        let linker = |replay: bool| -> Result<Linker<GuestState>> {
            let mut linker = Linker::new(&engine);
            // WASI 0.2.12's `exit-with-code`, which the Python guest uses for
            // `sys.exit(n)`, is part of the default link.
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
            match replay {
                false => hooks::add_to_linker(&mut linker)?,
                true => crate::replay::feed::add_to_linker(&mut linker)?,
            }
            crate::recorder::wit::add_to_linker(&mut linker, |state: &mut GuestState| {
                &mut state.rewind.thread
            })?;
            crate::serve::add_to_linker(&mut linker)?;
            Ok(linker)
        };
        let (linker, replay_linker) = (linker(false)?, linker(true)?);
        start_epoch_ticker(&engine);
        Ok(Runtime {
            engine,
            linker,
            replay_linker,
        })
    }

    /// The engine, for compiling components with [`crate::ComponentCache`].
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs `component`'s `wasi:cli/run` in `sandbox` under `limits`, on a
    /// thread of its own, and says how it ended. An `Err` is a failure of the
    /// host (the component does not link, a granted directory cannot be
    /// opened), never of the guest.
    pub fn run(&self, component: &Component, sandbox: Sandbox, limits: &Limits) -> Result<Outcome> {
        let recorder = match sandbox.recorder() {
            Some(recorder) => recorder.thread(),
            None => ThreadRecorder::detached(),
        };
        let wasi = sandbox.build(&recorder)?;
        self.execute(false, component, wasi, recorder, limits, None)
    }

    /// Runs `component` as a worker serving HTTP requests from `jobs` until
    /// `jobs` runs dry, each request a thread of the recording and each
    /// limited to `request_timeout`. A request the worker stops under (a
    /// limit, a crash) is answered by the host with a 5xx saying why; the
    /// returned [`Outcome`] says how the worker ended, and a caller starts
    /// another in its place.
    pub fn serve(
        &self,
        component: &Component,
        sandbox: Sandbox,
        limits: &Limits,
        jobs: Box<dyn Jobs>,
        request_timeout: Duration,
    ) -> Result<Outcome> {
        let recorder = match sandbox.recorder() {
            Some(recorder) => recorder.thread(),
            None => ThreadRecorder::detached(),
        };
        let serving = Serving::new(jobs, sandbox.recorder().cloned(), request_timeout);
        let wasi = sandbox.build(&recorder)?;
        let limits = Limits {
            max_memory: limits.max_memory,
            timeout: None,
        };
        self.execute(false, component, wasi, recorder, &limits, Some(serving))
    }

    /// Runs `component` on one thread with `wasi` as its view of the world
    /// and `recorder` as its thread's recorder; `replay` picks the linker
    /// whose inputs come from the recorder's log.
    pub(crate) fn execute(
        &self,
        replay: bool,
        component: &Component,
        wasi: WasiCtx,
        recorder: ThreadRecorder,
        limits: &Limits,
        serving: Option<Serving>,
    ) -> Result<Outcome> {
        let linker = match replay {
            true => &self.replay_linker,
            false => &self.linker,
        };
        let pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("the guest's imports cannot be satisfied")?;
        let pre = CommandPre::new(pre).map_err(anyhow::Error::from)?;
        let mut store = Store::new(
            &self.engine,
            GuestState::new(wasi, Limiter::new(limits.max_memory), recorder.clone()),
        );
        store.limiter(|state| &mut state.limiter);
        let request_timeout = serving.as_ref().map(|serving| serving.request_timeout);
        if serving.is_some() {
            // Each request has its own deadline, looked at every tick.
            store.data_mut().serving = serving;
            store.epoch_deadline_callback(|store| {
                let overdue = store
                    .data()
                    .serving
                    .as_ref()
                    .and_then(|serving| serving.deadline)
                    .is_some_and(|deadline| Instant::now() >= deadline);
                match overdue {
                    true => Err(Trap::Interrupt.into()),
                    false => Ok(UpdateDeadline::Continue(1)),
                }
            });
            store.set_epoch_deadline(1);
        } else {
            let deadline = match limits.timeout {
                Some(timeout) => timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64,
                // The deadline is added to the current epoch: leave room for it.
                None => u64::MAX / 2,
            };
            store.set_epoch_deadline(deadline.max(1));
        }

        let (done, finished) = mpsc::channel();
        let timeout = limits.timeout;
        std::thread::Builder::new()
            .name("guest".into())
            .stack_size(GUEST_THREAD_STACK)
            .spawn(move || {
                let result = call_run(&mut store, &pre);
                let wasm_frames = backtrace(&result);
                let outcome = outcome(result, timeout.or(request_timeout));
                let state = store.data_mut();
                if let Some(serving) = &mut state.serving {
                    serving.stopped(stopped_under(&outcome));
                }
                // The thread that was running: a request's, when serving.
                let thread = state.rewind.thread().clone();
                let _ = done.send((outcome, wasm_frames, thread));
            })
            .context("starting the guest thread")?;

        let (outcome, wasm_frames, thread) = match timeout {
            None => finished.recv().context("the guest thread died")?,
            Some(timeout) => match finished.recv_timeout(timeout + TIMEOUT_GRACE) {
                Ok(ended) => ended,
                // The epoch did not stop the guest in time: it is blocked in
                // a host call. Its thread is abandoned; the caller decides
                // whether to end the process.
                Err(mpsc::RecvTimeoutError::Timeout) => (
                    Outcome::LimitExceeded(Limit::Time { timeout }),
                    Vec::new(),
                    recorder,
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("the guest thread died")
                }
            },
        };
        thread.end(thread_end(&outcome, wasm_frames));
        Ok(outcome)
    }
}

impl ThreadRecorder {
    /// This thread's guest is done: `result` is what its `wasi:cli/run`
    /// call returned (see [`crate::add_to_linker_sync`] for running a
    /// component in a host of your own). The recorder logs how it ended —
    /// an exit status, or a crash captured with the wasm frames still on
    /// the stack — and, when this was the run's last thread, closes the
    /// recording. Returns the same ending as an [`Outcome`].
    pub fn finish(&self, result: wasmtime::Result<Result<(), ()>>) -> Outcome {
        let wasm_frames = backtrace(&result);
        let outcome = outcome(result, None);
        self.end(thread_end(&outcome, wasm_frames));
        outcome
    }
}

/// How a run's [`Outcome`] is logged.
fn thread_end(outcome: &Outcome, wasm_frames: Vec<String>) -> ThreadEnd {
    match outcome {
        Outcome::Exited(code) => ThreadEnd::Exited(*code),
        Outcome::LimitExceeded(limit) => ThreadEnd::Crashed {
            reason: CrashReason::Limit(limit.to_string()),
            wasm_frames,
        },
        Outcome::Trapped(message) => ThreadEnd::Crashed {
            reason: CrashReason::Trap(message.clone()),
            wasm_frames,
        },
    }
}

/// The host's answer to a request whose worker stopped under it.
fn stopped_under(outcome: &Outcome) -> Response {
    match outcome {
        Outcome::LimitExceeded(limit @ Limit::Time { .. }) => Response::text(
            504,
            &format!("rewind: the request ran out of time: {limit}"),
        ),
        Outcome::LimitExceeded(limit) => {
            Response::text(500, &format!("rewind: the request stopped: {limit}"))
        }
        Outcome::Trapped(message) => Response::text(
            500,
            &format!("rewind: the application crashed the VM: {message}"),
        ),
        Outcome::Exited(code) => Response::text(
            500,
            &format!("rewind: the application exited (status {code}) before answering"),
        ),
    }
}

fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    // Guests run on fibers when called asynchronously; their stacks must hold
    // the same wasm stack plus the host's frames.
    config.async_stack_size(GUEST_THREAD_STACK);
    deterministic_floats(&mut config);
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

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the
/// process lives, so that every store's deadline is counted in ticks.
fn start_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    let _ = std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
}

fn call_run(
    store: &mut Store<GuestState>,
    pre: &CommandPre<GuestState>,
) -> wasmtime::Result<Result<(), ()>> {
    let command: Command = pre.instantiate(&mut *store)?;
    command.wasi_cli_run().call_run(&mut *store)
}

/// The most wasm frames a VM crash keeps, innermost first.
const MAX_WASM_FRAMES: usize = 64;

/// The names of the wasm functions on the stack when the guest trapped.
fn backtrace(result: &wasmtime::Result<Result<(), ()>>) -> Vec<String> {
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

fn outcome(result: wasmtime::Result<Result<(), ()>>, timeout: Option<Duration>) -> Outcome {
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
