//! The recorder's two handles: the run's [`Recorder`], shared by every
//! thread of the guest, and each thread's [`ThreadRecorder`], through which
//! that thread's inputs, control calls, events and end arrive.
//!
//! Both only take the lock and hand the call to the log state
//! ([`super::log`]); listeners hear what happened after the lock is let go.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rewind_format::model::{Crash, Event, Header, Input, MarkerKind, Mode, ThreadId};

use super::config::{INTERRUPT, POLL_SETTING, RecorderEvent, RecordingConfig};
use super::log::{State, ThreadEnd};
use super::replay::{Asked, Halt, ReplayState};
use crate::interrupt::Interrupts;
use crate::limits::Limit;
use crate::outcome::{self, Outcome};

type Listener = Box<dyn Fn(&RecorderEvent) + Send + Sync>;

/// The recorder of one run, shared by its threads.
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    listener: Listener,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for one run. `listener` hears about every recording file
    /// written, and about failures to write one.
    pub fn new(
        config: RecordingConfig,
        listener: impl Fn(&RecorderEvent) + Send + Sync + 'static,
    ) -> Recorder {
        Recorder::build(config, Box::new(listener), None)
    }

    /// A recorder that re-executes a recording: it feeds the guest the
    /// logged inputs and checks its control calls against the markers.
    pub(crate) fn replaying(config: RecordingConfig, replay: ReplayState) -> Recorder {
        Recorder::build(config, Box::new(|_| {}), Some(replay))
    }

    fn build(config: RecordingConfig, listener: Listener, replay: Option<ReplayState>) -> Recorder {
        let mut settings = vec![
            ("rewind".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
            (
                "wasmtime".to_owned(),
                env!("REWIND_WASMTIME_VERSION").to_owned(),
            ),
            ("nan-canonicalization".to_owned(), "true".to_owned()),
            ("relaxed-simd".to_owned(), "deterministic".to_owned()),
            ("trace".to_owned(), config.trace.to_string()),
            ("buffer-events".to_owned(), config.buffer_events.to_string()),
            ("max-mode".to_owned(), config.max_mode.to_string()),
            (POLL_SETTING.0.to_owned(), POLL_SETTING.1.to_owned()),
        ];
        settings.extend(config.settings.iter().cloned());
        let mode = config.mode.min(config.max_mode);
        let header = Header {
            recording_id: rand::random(),
            created_unix_ms: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |since| since.as_millis() as u64),
            guest_name: config.guest_name.clone(),
            guest_digest: config.guest_digest.clone(),
            mode,
            settings,
        };
        let state = State::new(config, header, replay);
        let recorder = Recorder {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                listener,
            }),
        };
        recorder.with(|state, events| state.set_mode(mode, events));
        recorder
    }

    /// A handle for a new logical thread of the guest.
    pub fn thread(&self) -> ThreadRecorder {
        let thread = self.with(|state, _| state.new_thread());
        ThreadRecorder::new(self.clone(), thread)
    }

    /// Adds a source file the host knows the guest runs (`python -c`'s code,
    /// say); files the guest reads are added by themselves.
    pub fn add_source(&self, path: &str, text: &str) {
        self.with(|state, _| state.add_source(path, text));
    }

    /// The mode in effect.
    pub fn mode(&self) -> Mode {
        self.with(|state, _| state.mode)
    }

    /// What a re-execution came to: taken once, when it is over.
    pub(crate) fn take_replay(&self) -> Option<ReplayState> {
        self.with(|state, _| state.replay.take())
    }

    fn with<R>(&self, f: impl FnOnce(&mut State, &mut Vec<RecorderEvent>) -> R) -> R {
        let mut events = Vec::new();
        let result = {
            let mut state = self.lock();
            f(&mut state, &mut events)
        };
        // Listeners run outside the lock: they may take their time.
        for event in &events {
            (self.shared.listener)(event);
        }
        result
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a log that is still whole at
        // its last chunk: go on with it.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// One logical guest thread's handle on the recorder, kept in its store.
/// A detached handle (no recorder) records nothing and answers as `Off`.
#[derive(Debug, Clone, Default)]
pub struct ThreadRecorder {
    recorder: Option<Recorder>,
    thread: ThreadId,
    /// The thread the WASI context's hooks (clocks, stdin), which hold
    /// clones of a store's first handle, log for while another thread of
    /// the recording runs in the store: a request of `rewind serve`.
    current: Arc<AtomicU64>,
    /// The run's Ctrl-C, when it can be interrupted.
    interrupts: Option<Interrupts>,
}

/// No other thread runs in the store (see [`ThreadRecorder::current`]).
const NO_REDIRECT: u64 = u64::MAX;

impl ThreadRecorder {
    fn new(recorder: Recorder, thread: ThreadId) -> ThreadRecorder {
        ThreadRecorder {
            recorder: Some(recorder),
            thread,
            current: Arc::new(AtomicU64::new(NO_REDIRECT)),
            interrupts: None,
        }
    }

    /// This handle, and every clone made of it from now on, takes the
    /// run's interrupts (see [`crate::Interrupts`]).
    pub fn with_interrupts(mut self, interrupts: Interrupts) -> ThreadRecorder {
        self.interrupts = Some(interrupts);
        self
    }

    pub(crate) fn interrupts(&self) -> Option<&Interrupts> {
        self.interrupts.as_ref()
    }

    /// The guest, at `at`, asks whether it was interrupted: live, whether
    /// an interrupt waits for it (taken and logged at `at`); re-executing,
    /// whether the recorded run took one here.
    pub(crate) fn interrupted(&self, at: u64) -> bool {
        if self.replaying() {
            return self.replay_input_if(Asked::Interrupt { at }).is_some();
        }
        let taken = self.interrupts.as_ref().is_some_and(Interrupts::take);
        if taken {
            self.input(Input::Other {
                name: INTERRUPT.to_owned(),
                data: at.to_le_bytes()[..].into(),
            });
        }
        taken
    }

    fn replaying(&self) -> bool {
        self.with(false, |state, _, _| state.replay.is_some())
    }

    /// While `thread` runs in the store in this handle's place (`None`:
    /// until it is over), the inputs this handle's clones log are its.
    pub(crate) fn redirect(&self, thread: Option<&ThreadRecorder>) {
        let to = thread.map_or(NO_REDIRECT, |thread| u64::from(thread.thread));
        self.current.store(to, Ordering::Relaxed);
    }

    /// The thread this handle logs for now.
    fn current(&self) -> ThreadId {
        match self.current.load(Ordering::Relaxed) {
            NO_REDIRECT => self.thread,
            to => to as ThreadId,
        }
    }

    /// A handle that records nothing (pre-initialisation, unrecorded runs).
    pub fn detached() -> ThreadRecorder {
        ThreadRecorder::default()
    }

    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    fn with<R>(
        &self,
        default: R,
        f: impl FnOnce(&mut State, ThreadId, &mut Vec<RecorderEvent>) -> R,
    ) -> R {
        match &self.recorder {
            Some(recorder) => recorder.with(|state, events| f(state, self.thread, events)),
            None => default,
        }
    }

    /// Logs an input the guest received.
    pub(crate) fn input(&self, input: Input) {
        self.with((), |state, _, events| {
            state.input(self.current(), input, events)
        })
    }

    /// Logs `len` bytes the guest read from `path` at `offset`; `.py` files
    /// are also kept as source text.
    pub(crate) fn file_read(&self, path: &str, offset: u64, data: &[u8]) {
        let thread = self.current();
        self.with((), |state, _, events| {
            if path.ends_with(".py") {
                state.keep_source(path, offset, data);
            }
            state.input(
                thread,
                Input::FileRead {
                    path: path.to_owned(),
                    offset,
                    data: data.into(),
                },
                events,
            )
        })
    }

    pub(crate) fn mode(&self) -> Mode {
        self.with(Mode::Off, |state, _, _| state.mode)
    }

    /// Re-execution: the next logged input, which must be what the guest
    /// asked for. An `Err` stops the guest (a divergence, or the end of the
    /// recording).
    pub(crate) fn replay_input(&self, asked: Asked<'_>) -> wasmtime::Result<Input> {
        let result = self.with(Ok(None), |state, thread, _| match &mut state.replay {
            Some(replay) => replay.next_input(thread, asked).map(Some),
            None => Ok(None),
        });
        match result {
            Ok(Some(input)) => Ok(input),
            Ok(None) => Err(wasmtime::format_err!("not re-executing a recording")),
            Err(halt) => Err(halt.into()),
        }
    }

    /// Re-execution: the next logged input if it is what `asked` describes.
    pub(crate) fn replay_input_if(&self, asked: Asked<'_>) -> Option<Input> {
        self.with(None, |state, thread, _| {
            state.replay.as_mut()?.next_input_if(thread, asked)
        })
    }

    /// Re-execution: whether the recording logged `wasi:io/poll`.
    pub(crate) fn replay_logs_poll(&self) -> bool {
        self.with(false, |state, _, _| {
            state.replay.as_ref().is_some_and(|replay| replay.logs_poll)
        })
    }

    /// Re-execution: whether the guest must stop now. Every control call
    /// ends with it, so that a divergence stops the guest where it happened.
    pub(crate) fn replay_check(&self) -> wasmtime::Result<()> {
        let stop = self.with(None, |state, _, _| {
            state
                .replay
                .as_mut()
                .and_then(|replay| replay.check().err())
        });
        match stop {
            Some(stop) => Err(wasmtime::format_err!("{stop}")),
            None => Ok(()),
        }
    }

    pub(crate) fn max_mode(&self) -> Mode {
        self.with(Mode::Off, |state, _, _| state.config.max_mode)
    }

    pub(crate) fn tracing(&self) -> bool {
        self.with(false, |state, _, _| state.config.trace)
    }

    pub(crate) fn set_mode(&self, requested: Mode) -> Mode {
        self.with(Mode::Off, |state, thread, events| {
            state.request_mode(thread, requested, events)
        })
    }

    pub(crate) fn snapshot(&self, name: Option<String>, all: bool) -> String {
        let fallback = name.clone().unwrap_or_else(|| "snapshot-1".to_owned());
        self.with(fallback, |state, thread, events| {
            state.snapshot(thread, name, all, events)
        })
    }

    pub(crate) fn clear(&self, all: bool, flush: bool) {
        self.with((), |state, thread, events| {
            state.clear(thread, all, flush, events)
        })
    }

    pub(crate) fn flush(&self) {
        self.with((), |state, thread, events| state.flush(thread, events))
    }

    pub(crate) fn block(&self, task: u64, clear: bool) -> u64 {
        self.with(0, |state, thread, events| {
            state.block(thread, task, clear, events)
        })
    }

    pub(crate) fn rule(&self, target: String, record: bool) {
        self.with((), |state, thread, events| {
            state.marker(thread, MarkerKind::Rule { target, record }, events)
        })
    }

    /// A crash the guest captured. Returns where the recording went.
    pub(crate) fn crash(&self, crash: Crash) -> Option<PathBuf> {
        self.with(None, |state, thread, events| {
            state.crash(Crash { thread, ..crash }, events)
        })
    }

    /// This thread is over and nothing will refer to it again (a request
    /// `rewind serve` answered): what it logged goes to the log, and the
    /// recorder forgets it, so that a long-running server does not keep a
    /// buffer per request it ever served.
    pub(crate) fn release(&self) {
        self.with((), |state, thread, events| state.release(thread, events))
    }

    /// The guest has run to `at`; returns where to say so again (0: never),
    /// or stops it there: its time ran out, or re-execution reached the
    /// place the recorded run's time limit stopped it.
    pub(crate) fn position(&self, at: u64) -> Result<u64, Halt> {
        // A run that records nothing still hears the guest now and then
        // when it can be interrupted.
        let unrecorded = match self.interrupts {
            Some(_) => Ok(at.saturating_add(super::log::REPORT_EVERY)),
            None => Ok(0),
        };
        self.with(unrecorded, |state, thread, _| state.position(thread, at))
    }

    /// The run's time is up: the guest is stopped at the next position it
    /// tells (see [`Self::position`]), where a re-execution can stop too.
    /// Returns whether it tells positions at all; if not, the caller stops
    /// it by force.
    pub(crate) fn out_of_time(&self, limit: Limit) -> bool {
        self.with(false, |state, thread, _| state.out_of_time(thread, limit))
    }

    /// Re-execution ran past its time bound. Returns the recorded run's
    /// time limit when that is where it ends (see
    /// [`ReplayState::timed_out`]); else the re-execution stops, saying so.
    pub(crate) fn replay_timed_out(&self, bound: Duration) -> Option<Limit> {
        self.with(None, |state, _, _| state.replay.as_mut()?.timed_out(bound))
    }

    /// Where the guest is to start tracing (0: from the start).
    pub(crate) fn trace_from(&self) -> u64 {
        self.with(0, |state, _, _| {
            state.replay.as_ref().map_or(0, |replay| replay.trace_from)
        })
    }

    /// This thread's traced event `index` may not be what a trace from the
    /// start shows.
    pub(crate) fn approximate(&self, index: u64) {
        self.with((), |state, thread, _| {
            if let Some(replay) = &mut state.replay {
                replay.approximate(thread, index);
            }
        })
    }

    /// The traced event of this thread at which expressions are to be
    /// evaluated, in a re-execution that evaluates.
    pub(crate) fn evaluate_at(&self) -> Option<u64> {
        self.with(None, |state, thread, _| {
            let evaluation = state.replay.as_ref()?.evaluation.as_ref()?;
            (evaluation.thread == thread).then_some(evaluation.event)
        })
    }

    /// The expressions to evaluate, now that the guest is at the event.
    pub(crate) fn evaluations(&self) -> Vec<(u32, String)> {
        self.with(Vec::new(), |state, _, _| {
            state
                .replay
                .as_mut()
                .map_or_else(Vec::new, |replay| replay.evaluating())
        })
    }

    /// Whether this is a re-execution that evaluates expressions.
    pub(crate) fn evaluates(&self) -> bool {
        self.with(false, |state, _, _| {
            state
                .replay
                .as_ref()
                .is_some_and(|replay| replay.evaluation.is_some())
        })
    }

    /// Whether the expressions being evaluated ran out of their time.
    pub(crate) fn evaluation_overdue(&self) -> bool {
        self.with(false, |state, _, _| {
            state
                .replay
                .as_mut()
                .is_some_and(|replay| replay.evaluation_overdue())
        })
    }

    /// The guest's results of the evaluations; the re-execution ends.
    pub(crate) fn evaluated(&self, results: Vec<Result<String, String>>) {
        self.with((), |state, _, _| {
            if let Some(replay) = &mut state.replay {
                replay.evaluated(results);
            }
        })
    }

    /// The next live trace events of this thread.
    pub(crate) fn events(&self, batch: Vec<Event>) {
        self.with((), |state, thread, events| {
            state.events(thread, batch, events)
        })
    }

    /// The next live trace events of this thread, packed.
    pub(crate) fn packed_events(&self, count: u32, body: &[u8]) {
        self.with((), |state, thread, events| {
            state.packed_events(thread, count, body, events)
        })
    }

    /// The thread's guest is done: log how it ended (a VM crash is captured
    /// here, with whatever the host knows of it), and close the recording
    /// when this was the last thread.
    pub(crate) fn end(&self, end: ThreadEnd) {
        self.with((), |state, thread, events| {
            state.finish(thread, end, events)
        })
    }

    /// This thread's guest is done: `result` is what its `wasi:cli/run`
    /// call returned (see [`crate::add_to_linker_sync`] for running a
    /// component in a host of your own). The recorder logs how it ended —
    /// an exit status, or a crash captured with the wasm frames still on
    /// the stack — and, when this was the run's last thread, closes the
    /// recording. Returns the same ending as an [`Outcome`].
    pub fn finish(&self, result: wasmtime::Result<Result<(), ()>>) -> Outcome {
        let wasm_frames = outcome::wasm_frames(&result);
        let outcome = Outcome::of(result, None);
        self.end(ThreadEnd::new(&outcome, wasm_frames));
        outcome
    }
}
