//! [`Runtime`]: running a WASI command component to completion on a thread
//! of its own, under limits, with its recorder — the same way for a run, a
//! worker of `rewind serve` and a re-execution.

use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, StoreContextMut, Trap, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::bindings::sync::{Command, CommandPre};

use crate::engine::{self, GUEST_THREAD_STACK};
use crate::guest_state::GuestState;
use crate::interrupt::Interrupts;
use crate::limits::{Limit, LimitError, Limiter, Limits};
use crate::outcome::{self, Outcome, RunResult};
use crate::recorder::{self, ThreadEnd, ThreadRecorder};
use crate::sandbox::Sandbox;
use crate::serve::{self, Jobs, Response, Serving};

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

/// Which of a [`Runtime`]'s linkers a guest runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inputs {
    /// From the host, through the recorder's hooks.
    Live,
    /// From a recording's log.
    Replayed,
}

impl Runtime {
    /// An engine configured for Rewind's guests, with WASI linked.
    pub fn new() -> Result<Runtime> {
        let engine = Engine::new(&engine::runtime_config()).map_err(anyhow::Error::from)?;
        let linker = |inputs: Inputs| -> Result<Linker<GuestState>> {
            let mut linker = Linker::new(&engine);
            // WASI 0.2.12's `exit-with-code`, which the Python guest uses for
            // `sys.exit(n)`, is part of the default link.
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
            match inputs {
                Inputs::Live => recorder::hooks::add_to_linker(&mut linker)?,
                Inputs::Replayed => crate::replay::feed::add_to_linker(&mut linker)?,
            }
            recorder::wit::add_to_linker(&mut linker)?;
            serve::add_to_linker(&mut linker)?;
            Ok(linker)
        };
        let (linker, replay_linker) = (linker(Inputs::Live)?, linker(Inputs::Replayed)?);
        engine::start_epoch_ticker(&engine)?;
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
        let recorder = sandbox.thread_recorder();
        let wasi = sandbox.build(&recorder)?;
        self.execute(Inputs::Live, component, wasi, recorder, limits, None)
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
        self.execute(
            Inputs::Live,
            component,
            wasi,
            recorder,
            &limits,
            Some(serving),
        )
    }

    /// Runs `component` on one thread with `wasi` as its view of the world
    /// and `recorder` as its thread's recorder, its inputs coming from where
    /// `inputs` says.
    pub(crate) fn execute(
        &self,
        inputs: Inputs,
        component: &Component,
        wasi: WasiCtx,
        recorder: ThreadRecorder,
        limits: &Limits,
        serving: Option<Serving>,
    ) -> Result<Outcome> {
        let linker = match inputs {
            Inputs::Live => &self.linker,
            Inputs::Replayed => &self.replay_linker,
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
                    .recorder
                    .deadline
                    .is_some_and(|(deadline, _)| Instant::now() >= deadline);
                match overdue {
                    true => Err(Trap::Interrupt.into()),
                    false => Ok(UpdateDeadline::Continue(1)),
                }
            });
            store.set_epoch_deadline(1);
        } else if let Some(interrupts) = recorder.interrupts().cloned() {
            // Ctrl-C twice stops the guest at the next tick; the time limit
            // is looked at every tick too.
            if let Some(timeout) = limits.timeout {
                let limit = Limit::Time { timeout };
                store.data_mut().recorder.deadline = Some((Instant::now() + timeout, limit));
            }
            store.epoch_deadline_callback(interruptible(inputs, interrupts, limits.timeout));
            store.set_epoch_deadline(1);
        } else if recorder.evaluates() {
            // Evaluating in the past: the expressions have a time budget of
            // their own, looked at every tick.
            let mut time_up = limits
                .timeout
                .map(|timeout| (Instant::now() + timeout, time_limit(inputs, timeout)));
            store.epoch_deadline_callback(move |store| {
                if store.data().recorder.thread.evaluation_overdue() {
                    return Err(Trap::Interrupt.into());
                }
                match &mut time_up {
                    Some((at, on_time_limit)) if Instant::now() >= *at => on_time_limit(store),
                    _ => Ok(UpdateDeadline::Continue(1)),
                }
            });
            store.set_epoch_deadline(1);
        } else if let Some(timeout) = limits.timeout {
            // Its waits in host calls end at the deadline too.
            let limit = Limit::Time { timeout };
            store.data_mut().recorder.deadline = Some((Instant::now() + timeout, limit));
            store.epoch_deadline_callback(time_limit(inputs, timeout));
            store.set_epoch_deadline(engine::deadline_ticks(Some(timeout)));
        } else {
            store.set_epoch_deadline(engine::deadline_ticks(None));
        }

        let (done, finished) = mpsc::channel();
        let timeout = limits.timeout;
        std::thread::Builder::new()
            .name("guest".into())
            .stack_size(GUEST_THREAD_STACK)
            .spawn(move || {
                let result = call_run(&mut store, &pre);
                let wasm_frames = outcome::wasm_frames(&result);
                let outcome = Outcome::of(result, timeout.or(request_timeout));
                let state = store.data_mut();
                if let Some(serving) = &mut state.serving {
                    serving.stopped(stopped_under(&outcome));
                }
                // The thread that was running: a request's, when serving.
                let thread = state.recorder.thread().clone();
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
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let limit = match inputs {
                        Inputs::Replayed => recorder.replay_timed_out(timeout),
                        Inputs::Live => None,
                    };
                    let limit = limit.unwrap_or(Limit::Time { timeout });
                    (Outcome::LimitExceeded(limit), Vec::new(), recorder)
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("the guest thread died")
                }
            },
        };
        thread.end(ThreadEnd::new(&outcome, wasm_frames));
        Ok(outcome)
    }
}

/// What happens when a run's time is up. A recorded guest that tells the
/// host its position is stopped at the next one it tells, within
/// [`STOP_GRACE`], so that a re-execution can stop at the same place
/// (`control.position`); any other guest, or one that does not get there
/// (a long computation in the VM), is stopped where it is. A re-execution
/// that runs out of its own time bound stops, saying so, unless the
/// recorded run's time limit ends it there (a guest that does not count
/// positions).
fn time_limit(
    inputs: Inputs,
    timeout: Duration,
) -> impl FnMut(StoreContextMut<'_, GuestState>) -> wasmtime::Result<UpdateDeadline> {
    let mut told = false;
    move |store| {
        let thread = &store.data().recorder.thread;
        let limit = match inputs {
            Inputs::Live => {
                let limit = Limit::Time { timeout };
                if !std::mem::replace(&mut told, true) && thread.out_of_time(limit) {
                    return Ok(UpdateDeadline::Continue(engine::deadline_ticks(Some(
                        STOP_GRACE,
                    ))));
                }
                limit
            }
            Inputs::Replayed => match thread.replay_timed_out(timeout) {
                Some(limit) => limit,
                None => return Err(Trap::Interrupt.into()),
            },
        };
        Err(LimitError(limit).into())
    }
}

/// The epoch callback of a run that can be interrupted (see
/// [`crate::Interrupts`]): every tick it stops the guest if the user asked
/// to, and otherwise does what [`time_limit`] does once the time is up.
fn interruptible(
    inputs: Inputs,
    interrupts: Interrupts,
    timeout: Option<Duration>,
) -> impl FnMut(StoreContextMut<'_, GuestState>) -> wasmtime::Result<UpdateDeadline> {
    let deadline = timeout.map(|timeout| (Instant::now() + timeout, time_limit(inputs, timeout)));
    let mut out_of_time = false;
    let mut deadline = deadline;
    move |store| {
        if interrupts.stopping() {
            return Err(LimitError(Limit::Interrupted).into());
        }
        match &mut deadline {
            Some((at, on_time_limit)) if out_of_time || Instant::now() >= *at => {
                out_of_time = true;
                on_time_limit(store)
            }
            _ => Ok(UpdateDeadline::Continue(1)),
        }
    }
}

/// How long a guest that is out of time has to reach its next position
/// (see [`time_limit`]): 65536 positions take a few milliseconds.
const STOP_GRACE: Duration = Duration::from_millis(200);

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

fn call_run(store: &mut Store<GuestState>, pre: &CommandPre<GuestState>) -> RunResult {
    let command: Command = pre.instantiate(&mut *store)?;
    command.wasi_cli_run().call_run(&mut *store)
}
