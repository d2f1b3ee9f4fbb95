//! The recorder's other direction: during re-execution it hands the guest
//! its logged inputs back, one by one, checks every control call against
//! the logged marker, and keeps the events the re-execution traces where
//! a snapshot or a crash would have kept them.
//!
//! The state machine is the recorder's own (modes, buffers, `clear`,
//! blocks): only where the recorder would log, replay compares, and where
//! it would write a recording, replay keeps a window of events.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufWriter;

use std::time::Duration;

use rewind_format::Writer;
use rewind_format::model::{Crash, CrashReason, Input, Marker, MarkerKind, ThreadId, Window};

use super::buffer::EventBuffer;
use crate::limits::{Limit, LimitError};

/// Why a re-execution stopped before the guest ended on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The guest did something the recording does not have at that point.
    Diverged(Divergence),
    /// The recording ends here (a snapshot or a crash taken mid-run): the
    /// guest was stopped where the recorded run was when it was written.
    EndOfRecording(String),
    /// Re-execution ran past its own time bound: the recording does not say
    /// where the run ended, or the guest does not get there.
    TimedOut(Duration),
    /// The guest evaluated the expressions asked of it at the event asked
    /// (`Runtime::evaluate`): the rest of the run is not re-executed.
    Evaluated,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Diverged(divergence) => divergence.fmt(f),
            Stop::EndOfRecording(what) => write!(f, "the recording ends {what}"),
            Stop::TimedOut(bound) => write!(
                f,
                "re-execution took longer than its bound of {}",
                humantime::format_duration(*bound)
            ),
            Stop::Evaluated => f.write_str("re-execution stopped where it evaluated"),
        }
    }
}

/// Why the guest is stopped in a host call: a [`Stop`], or the place where
/// the recorded run was stopped by its time limit, which a re-execution
/// ends at as the run did (with the same [`Limit`], so that it is the
/// run's outcome and its crash capture).
#[derive(Debug, Clone)]
pub(crate) enum Halt {
    Stop(Stop),
    Limit(Limit),
}

impl From<Stop> for Halt {
    fn from(stop: Stop) -> Halt {
        Halt::Stop(stop)
    }
}

impl From<Halt> for wasmtime::Error {
    fn from(halt: Halt) -> wasmtime::Error {
        match halt {
            Halt::Stop(stop) => wasmtime::format_err!("{stop}"),
            Halt::Limit(limit) => LimitError(limit).into(),
        }
    }
}

/// Whether a crash capture is of a run stopped by its time limit.
/// A run the user stopped (Ctrl-C twice) ends the same way: where the host
/// chose, not where the program did.
pub(crate) fn is_time_limit(reason: &CrashReason) -> bool {
    matches!(reason, CrashReason::Limit(limit)
        if limit.starts_with("time limit") || limit == crate::limits::INTERRUPTED)
}

/// Where the recorded run was stopped by its time limit. Time is not
/// deterministic, so the run stopped at a place of its own choosing: at a
/// position it told the host (the host stops a guest that is out of time
/// at the next one), or, when it did not get there, blocked in a host call
/// that the log has no answer to, or in a long computation before the
/// next position (the host stops it a little later, by force). The first
/// of these a re-execution reaches is where it stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeLimit {
    pub(crate) limit: Limit,
    /// The position to stop at at the latest; `None` when the guest does
    /// not count positions.
    pub(crate) position: Option<u64>,
}

/// The first point where a re-execution differed from its recording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "re-execution diverged at {at} of thread {thread}: the recording has {expected}, the guest {actual}"
)]
pub struct Divergence {
    pub thread: ThreadId,
    /// `input N` or `marker N (after input M)`.
    pub at: String,
    pub expected: String,
    pub actual: String,
}

/// What the guest asked for, to match against the next logged input.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Asked<'a> {
    Args,
    Env,
    Cwd,
    Other(&'a str),
    WallClock,
    MonotonicClock,
    Random {
        len: u64,
    },
    InsecureRandom {
        len: u64,
    },
    Stdin,
    FileRead {
        path: &'a str,
        offset: u64,
    },
    Fs {
        op: &'a str,
        path: &'a str,
    },
    /// An interrupt taken at this position.
    Interrupt {
        at: u64,
    },
}

impl Asked<'_> {
    fn matches(&self, input: &Input) -> bool {
        match (*self, input) {
            (Asked::Args, Input::Args { .. })
            | (Asked::Env, Input::Env { .. })
            | (Asked::Cwd, Input::Cwd { .. })
            | (Asked::WallClock, Input::WallClock { .. })
            | (Asked::MonotonicClock, Input::MonotonicClock { .. }) => true,
            (Asked::Other(name), Input::Other { name: logged, .. }) => name == logged,
            (Asked::Random { len }, Input::Random { data })
            | (Asked::InsecureRandom { len }, Input::InsecureRandom { data }) => {
                data.0.len() as u64 == len
            }
            (Asked::Stdin, Input::Stdin { .. }) => true,
            (Asked::Stdin, Input::Other { name, .. }) => {
                name == "stdin-closed" || name == super::config::STDIN_INTERRUPTED
            }
            (Asked::Interrupt { at }, Input::Other { name, data }) => {
                name == super::config::INTERRUPT && data.0 == at.to_le_bytes()
            }
            (
                Asked::FileRead { path, offset },
                Input::FileRead {
                    path: p, offset: o, ..
                },
            ) => path == p && offset == *o,
            (Asked::Fs { op, path }, Input::Fs { op: o, path: p, .. }) => op == o && path == p,
            _ => false,
        }
    }

    fn describe(&self) -> String {
        match *self {
            Asked::Args => "asked for its arguments".into(),
            Asked::Env => "asked for its environment".into(),
            Asked::Cwd => "asked for its working directory".into(),
            Asked::Other(name) => format!("asked for {name}"),
            Asked::WallClock => "read the wall clock".into(),
            Asked::MonotonicClock => "read the monotonic clock".into(),
            Asked::Random { len } => format!("asked for {len} random bytes"),
            Asked::InsecureRandom { len } => format!("asked for {len} insecure random bytes"),
            Asked::Stdin => "read stdin".into(),
            Asked::FileRead { path, offset } => format!("read {path} at offset {offset}"),
            Asked::Fs { op, path: "" } => format!("called {op}"),
            Asked::Fs { op, path } => format!("called {op} on {path}"),
            Asked::Interrupt { at } => format!("asked for an interrupt at position {at}"),
        }
    }
}

/// An input, in words, for a divergence message.
pub(crate) fn describe_input(input: &Input) -> String {
    match input {
        Input::Args { args } => format!("arguments {args:?}"),
        Input::Env { vars } => format!("an environment of {} variables", vars.len()),
        Input::Cwd { path } => format!("working directory {path}"),
        Input::Stdin { data } => format!("{} bytes of stdin", data.0.len()),
        Input::WallClock { .. } => "a wall-clock reading".into(),
        Input::MonotonicClock { .. } => "a monotonic-clock reading".into(),
        Input::Random { data } => format!("{} random bytes", data.0.len()),
        Input::InsecureRandom { data } => format!("{} insecure random bytes", data.0.len()),
        Input::FileRead { path, offset, data } => {
            format!(
                "a read of {path} at offset {offset} ({} bytes)",
                data.0.len()
            )
        }
        Input::Fs { op, path, .. } if path.is_empty() => format!("a call of {op}"),
        Input::Fs { op, path, .. } => format!("a call of {op} on {path}"),
        Input::Other { name, .. } => format!("input {name:?}"),
    }
}

fn describe_marker(kind: &MarkerKind) -> String {
    match kind {
        MarkerKind::Snapshot { name, all: false } => format!("snapshot {name:?}"),
        MarkerKind::Snapshot { name, all: true } => format!("snapshotall {name:?}"),
        MarkerKind::Clear { all: false, .. } => "clear()".into(),
        MarkerKind::Clear { all: true, .. } => "clearall()".into(),
        MarkerKind::Block { block, .. } => format!("block() (block {block})"),
        MarkerKind::ModeChange { requested, .. } => format!("setrecmode({requested})"),
        MarkerKind::Flush => "flush()".into(),
        MarkerKind::Rule { target, record } => {
            let call = if *record { "record" } else { "norecord" };
            format!("{call}({target})")
        }
        MarkerKind::Crash { crash } => format!("crash {crash}"),
        MarkerKind::Exit { code } => format!("exit with status {code}"),
    }
}

/// One thread's log as recorded, and how far re-execution has consumed it.
/// Expressions to evaluate in the past: when `thread`'s traced event
/// number `event` (counting from its first traced event) is reached, the
/// guest evaluates each expression in the frame its depth names and hands
/// the results back, and the re-execution stops there.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation {
    pub(crate) thread: ThreadId,
    pub(crate) event: u64,
    /// Each expression with its frame's depth (0 is the event's frame).
    pub(crate) requests: Vec<(u32, String)>,
    /// How long the expressions may take, from when the guest asks for
    /// them.
    pub(crate) budget: Duration,
    /// When the guest reached the event and asked for the requests.
    pub(crate) reached: Option<std::time::Instant>,
    /// Whether they took longer than `budget`, and the guest was stopped.
    pub(crate) overdue: bool,
    pub(crate) results: Option<Vec<Result<String, String>>>,
}

impl Evaluation {
    pub(crate) fn new(
        thread: ThreadId,
        event: u64,
        requests: Vec<(u32, String)>,
        budget: Duration,
    ) -> Evaluation {
        Evaluation {
            thread,
            event,
            requests,
            budget,
            reached: None,
            overdue: false,
            results: None,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct ReplayThread {
    inputs: Vec<Input>,
    markers: Vec<Marker>,
    next_input: usize,
    next_marker: usize,
}

impl ReplayThread {
    pub(crate) fn new(inputs: Vec<Input>, markers: Vec<Marker>) -> ReplayThread {
        ReplayThread {
            inputs,
            markers,
            ..ReplayThread::default()
        }
    }
}

/// Where materialized events go: a recording file of events, written as
/// re-execution produces them.
pub(crate) struct Sink {
    pub(crate) writer: Writer<BufWriter<File>>,
    /// Keep every event, not only those of the windows.
    pub(crate) full: bool,
}

/// Progress of a re-execution, for a progress line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub inputs: u64,
    pub total_inputs: u64,
    pub events: u64,
    /// How far the guest has run, and where the recorded run's last marker
    /// was (its exit when the recording has it): the measure of progress
    /// that advances steadily, when the guest counts positions.
    pub position: u64,
    pub total_position: Option<u64>,
}

pub(crate) type ProgressFn = Box<dyn Fn(Progress) + Send + Sync>;

pub(crate) struct ReplayState {
    pub(crate) threads: BTreeMap<ThreadId, ReplayThread>,
    crashes: HashMap<u64, Crash>,
    /// Whether the recorded run's end is in the recording: then the guest
    /// must end exactly there. Otherwise the recording was written mid-run
    /// and re-execution stops where it ends.
    has_exit: bool,
    /// What `revdebug.exception()` returns: where the recording is.
    pub(crate) recording_path: String,
    pub(crate) stop: Option<Stop>,
    /// A stop decided in this host call, effective when it returns.
    pending: Option<Stop>,
    pub(crate) sink: Option<Sink>,
    pub(crate) windows: Vec<Window>,
    /// Per thread, events below this index are in the sink already.
    written: BTreeMap<ThreadId, u64>,
    pub(crate) failure: Option<String>,
    pub(crate) progress: Option<ProgressFn>,
    consumed: u64,
    total_inputs: u64,
    events_seen: u64,
    position: u64,
    total_position: Option<u64>,
    /// Where the guest is to start tracing (`control.trace-from`); 0 from
    /// the start.
    pub(crate) trace_from: u64,
    /// Per thread, the last traced event that may not be what a trace from
    /// the start shows (`trace.approximate`).
    approximate: BTreeMap<ThreadId, u64>,
    /// Where the recorded run's time limit stopped it, if it did.
    pub(crate) time_limit: Option<TimeLimit>,
    /// The positions where the recorded run took an interrupt (Ctrl-C),
    /// ascending: the guest is asked to tell those positions, where it
    /// asks about the interrupt as it did when recorded.
    pub(crate) interrupts: Vec<u64>,
    /// Whether the recording logged `wasi:io/poll`.
    pub(crate) logs_poll: bool,
    /// Expressions to evaluate at an event, when re-executing to do so.
    pub(crate) evaluation: Option<Evaluation>,
}

impl ReplayState {
    pub(crate) fn new(
        threads: BTreeMap<ThreadId, ReplayThread>,
        crashes: Vec<Crash>,
        recording_path: String,
        sink: Option<Sink>,
        progress: Option<ProgressFn>,
    ) -> ReplayState {
        let has_exit = threads.values().any(|thread| {
            thread
                .markers
                .iter()
                .any(|marker| matches!(marker.kind, MarkerKind::Exit { .. }))
        });
        let total_inputs = threads.values().map(|t| t.inputs.len() as u64).sum();
        let total_position = threads
            .values()
            .flat_map(|thread| thread.markers.iter())
            .filter_map(|marker| marker.position)
            .max();
        ReplayState {
            threads,
            crashes: crashes.into_iter().map(|crash| (crash.id, crash)).collect(),
            has_exit,
            recording_path,
            stop: None,
            pending: None,
            sink,
            windows: Vec::new(),
            written: BTreeMap::new(),
            failure: None,
            progress,
            consumed: 0,
            total_inputs,
            events_seen: 0,
            position: 0,
            total_position,
            trace_from: 0,
            approximate: BTreeMap::new(),
            time_limit: None,
            interrupts: Vec::new(),
            logs_poll: false,
            evaluation: None,
        }
    }

    /// The guest reached the event to evaluate at: what it is to evaluate.
    /// From here on it runs the expressions, not the recorded program.
    pub(crate) fn evaluating(&mut self) -> Vec<(u32, String)> {
        match &mut self.evaluation {
            Some(evaluation) if evaluation.reached.is_none() => {
                evaluation.reached = Some(std::time::Instant::now());
                evaluation.requests.clone()
            }
            _ => Vec::new(),
        }
    }

    /// Whether the expressions being evaluated ran out of their budget:
    /// the guest is to be stopped.
    pub(crate) fn evaluation_overdue(&mut self) -> bool {
        let Some(evaluation) = &mut self.evaluation else {
            return false;
        };
        if evaluation
            .reached
            .is_some_and(|at| at.elapsed() >= evaluation.budget)
        {
            evaluation.overdue = true;
        }
        evaluation.overdue
    }

    /// The guest's results: the re-execution stops.
    pub(crate) fn evaluated(&mut self, results: Vec<Result<String, String>>) {
        if let Some(evaluation) = &mut self.evaluation
            && evaluation.reached.is_some()
            && evaluation.results.is_none()
        {
            evaluation.results = Some(results);
        }
        self.stop_now(Stop::Evaluated);
    }

    /// Whether the guest is evaluating expressions: it no longer runs the
    /// recorded program, so its positions mean nothing.
    fn is_evaluating(&self) -> bool {
        self.evaluation
            .as_ref()
            .is_some_and(|e| e.reached.is_some())
    }

    /// The stop in effect for a host call that is returning.
    pub(crate) fn check(&mut self) -> Result<(), Stop> {
        if let Some(pending) = self.pending.take() {
            self.stop.get_or_insert(pending);
        }
        match &self.stop {
            Some(stop) => Err(stop.clone()),
            None => Ok(()),
        }
    }

    fn stop_now(&mut self, stop: Stop) -> Stop {
        self.stop.get_or_insert(stop).clone()
    }

    fn diverge(&mut self, divergence: Divergence) -> Stop {
        self.stop_now(Stop::Diverged(divergence))
    }

    /// The next logged input of `thread`, which must be what the guest asked.
    pub(crate) fn next_input(&mut self, thread: ThreadId, asked: Asked<'_>) -> Result<Input, Halt> {
        self.check()?;
        let has_exit = self.has_exit;
        let time_limit = self.time_limit;
        let log = self.threads.entry(thread).or_default();
        let position = log.next_input;
        let Some(input) = log.inputs.get(position) else {
            // The recorded run waited here when its time ran out.
            if let Some(time_limit) = time_limit {
                return Err(Halt::Limit(time_limit.limit));
            }
            if has_exit {
                let divergence = Divergence {
                    thread,
                    at: format!("input {position}"),
                    expected: "no more inputs".into(),
                    actual: asked.describe(),
                };
                return Err(self.diverge(divergence).into());
            }
            let what = format!("here: the guest {} after its last input", asked.describe());
            return Err(self.stop_now(Stop::EndOfRecording(what)).into());
        };
        if !asked.matches(input) {
            let divergence = Divergence {
                thread,
                at: format!("input {position}"),
                expected: describe_input(input),
                actual: asked.describe(),
            };
            return Err(self.diverge(divergence).into());
        }
        let input = input.clone();
        log.next_input += 1;
        self.consumed += 1;
        if self.consumed.is_multiple_of(4096) {
            self.report_progress();
        }
        Ok(input)
    }

    /// The next input of `thread` if it is what `asked` describes.
    pub(crate) fn next_input_if(&mut self, thread: ThreadId, asked: Asked<'_>) -> Option<Input> {
        if self.stop.is_some() {
            return None;
        }
        let log = self.threads.get_mut(&thread)?;
        let input = log.inputs.get(log.next_input)?;
        if !asked.matches(input) {
            return None;
        }
        let input = input.clone();
        log.next_input += 1;
        self.consumed += 1;
        Some(input)
    }

    /// Checks a control call against the next logged marker of `thread`.
    pub(crate) fn marker(&mut self, thread: ThreadId, kind: &MarkerKind) {
        if self.stop.is_some() || self.pending.is_some() {
            return;
        }
        let has_exit = self.has_exit;
        let log = self.threads.entry(thread).or_default();
        let at = format!(
            "marker {} (after input {})",
            log.next_marker, log.next_input
        );
        let Some(expected) = log.markers.get(log.next_marker) else {
            if has_exit {
                let divergence = Divergence {
                    thread,
                    at,
                    expected: "no more control calls".into(),
                    actual: format!("made {}", describe_marker(kind)),
                };
                self.diverge(divergence);
            } else {
                let what = format!("before the guest's {}", describe_marker(kind));
                self.pending = Some(Stop::EndOfRecording(what));
            }
            return;
        };
        if expected.kind != *kind || expected.input_pos != log.next_input as u64 {
            let expected_what = match expected.input_pos == log.next_input as u64 {
                true => describe_marker(&expected.kind),
                false => format!(
                    "{} after input {}",
                    describe_marker(&expected.kind),
                    expected.input_pos
                ),
            };
            let divergence = Divergence {
                thread,
                at,
                expected: expected_what,
                actual: format!("made {}", describe_marker(kind)),
            };
            self.diverge(divergence);
            return;
        }
        log.next_marker += 1;
        let last = log.next_marker == log.markers.len() && log.next_input == log.inputs.len();
        // A recording written mid-run ends at its last marker: stop there,
        // except after an unhandled exception's capture, from which the
        // guest only goes on to print the traceback and exit, and the
        // capture of the time limit that ended the run.
        let ending = match kind {
            MarkerKind::Crash { crash } => self.crashes.get(crash).is_some_and(|crash| {
                crash.reason == CrashReason::Unhandled || is_time_limit(&crash.reason)
            }),
            _ => false,
        };
        if last && !has_exit && !ending && !matches!(kind, MarkerKind::Exit { .. }) {
            let what = format!("at the guest's {}", describe_marker(kind));
            self.pending = Some(Stop::EndOfRecording(what));
        }
    }

    /// Compares a crash the re-execution captured with the recorded one.
    pub(crate) fn crash(&mut self, crash: &Crash) {
        if self.stop.is_some() {
            return;
        }
        let Some(recorded) = self.crashes.get(&crash.id) else {
            return;
        };
        // Where, not the locals' text: tracing allocates, so an object's
        // default repr (its address) differs when materializing.
        let places = |crash: &Crash| -> Vec<(String, String, u32)> {
            crash
                .frames
                .iter()
                .map(|frame| (frame.function.clone(), frame.file.clone(), frame.line))
                .collect()
        };
        // A time limit stops the guest wherever it is: the same place as
        // recorded when it was at a position, a host call or a computation
        // short of the next one, whose wasm frames differ.
        let same = (is_time_limit(&recorded.reason) && is_time_limit(&crash.reason))
            || (recorded.reason == crash.reason
                && recorded.exception == crash.exception
                && places(recorded) == places(crash));
        if !same {
            let place = |crash: &Crash| {
                let what = match &crash.exception {
                    Some(exception) => exception.type_name.clone(),
                    None => format!("{:?}", crash.reason),
                };
                match crash.frames.last() {
                    Some(frame) => format!("{what} at {}:{}", frame.file, frame.line),
                    None => what,
                }
            };
            let divergence = Divergence {
                thread: crash.thread,
                at: format!("crash {}", crash.id),
                expected: format!("a crash capture of {}", place(recorded)),
                actual: format!("captured {}", place(crash)),
            };
            self.diverge(divergence);
        }
    }

    /// The guest ended: the whole log must have been consumed.
    pub(crate) fn finished(&mut self, thread: ThreadId) {
        if self.stop.is_some() {
            return;
        }
        if let Some(pending) = self.pending.take() {
            self.stop = Some(pending);
            return;
        }
        let has_exit = self.has_exit;
        let Some(log) = self.threads.get(&thread) else {
            return;
        };
        if let Some(input) = log.inputs.get(log.next_input) {
            let divergence = Divergence {
                thread,
                at: format!("input {}", log.next_input),
                expected: describe_input(input),
                actual: "ended".into(),
            };
            self.diverge(divergence);
        } else if let Some(marker) = log.markers.get(log.next_marker)
            && has_exit
        {
            let divergence = Divergence {
                thread,
                at: format!("marker {}", log.next_marker),
                expected: describe_marker(&marker.kind),
                actual: "ended".into(),
            };
            self.diverge(divergence);
        }
    }

    /// The marker `thread` is at, for a window's place.
    pub(crate) fn last_marker(&self, thread: ThreadId) -> u64 {
        self.threads
            .get(&thread)
            .map_or(0, |log| log.next_marker.saturating_sub(1) as u64)
    }

    /// Events the re-execution traced, now in `buffer`: a full
    /// materialization keeps them all.
    /// The last `added` events of `buffer` are new.
    pub(crate) fn events(&mut self, thread: ThreadId, buffer: &EventBuffer, added: u64) {
        self.events_seen += added;
        let Some(sink) = &mut self.sink else {
            return;
        };
        if sink.full && added > 0 {
            let slices = buffer.since(buffer.total() - added);
            let written =
                super::files::write_events(&mut sink.writer, thread, buffer.names(), &slices);
            if let Err(err) = written {
                self.failure.get_or_insert(err.to_string());
            }
            self.written.insert(thread, buffer.total());
        }
        if self.events_seen % 65_536 < added {
            self.report_progress();
        }
    }

    /// A snapshot or a crash: the window of `thread`'s buffer, at
    /// `at_thread`'s marker. Its events not in the sink yet go there.
    pub(crate) fn window(&mut self, thread: ThreadId, at_thread: ThreadId, buffer: &EventBuffer) {
        let (first, end) = (buffer.first(), buffer.total());
        let marker = self.last_marker(at_thread);
        self.windows.push(Window {
            thread,
            at_thread,
            marker,
            first,
            end,
        });
        let Some(sink) = &mut self.sink else {
            return;
        };
        let written = self.written.get(&thread).copied();
        let from = written.unwrap_or(0).max(first);
        if from < end {
            // Events that go on from those written need not say which
            // calls they are in: the reader knows.
            let result = match written {
                Some(written) if written == from => super::files::write_events(
                    &mut sink.writer,
                    thread,
                    buffer.names(),
                    &buffer.since(from),
                ),
                _ => super::files::write_window(&mut sink.writer, thread, buffer, from),
            };
            if let Err(err) = result {
                self.failure.get_or_insert(err.to_string());
            }
            self.written.insert(thread, end);
        }
    }

    /// The guest has run to `at`: progress to show. Returns where it should
    /// say so again, about every half percent of the recorded run.
    pub(crate) fn position(&mut self, at: u64) -> Result<u64, Halt> {
        if self.is_evaluating() {
            return Ok(0);
        }
        self.position = self.position.max(at);
        self.report_progress();
        let stop_at = self.time_limit.and_then(|time_limit| time_limit.position);
        if let Some(TimeLimit {
            limit,
            position: Some(stop_at),
        }) = self.time_limit
            && at >= stop_at
        {
            return Err(Halt::Limit(limit));
        }
        let stride = self.total_position.map_or(1 << 16, |total| total / 200);
        let next = at.saturating_add(stride.max(1 << 12));
        let next = match self.interrupts.iter().find(|&&interrupt| interrupt > at) {
            Some(&interrupt) => next.min(interrupt),
            None => next,
        };
        Ok(stop_at.map_or(next, |stop_at| next.min(stop_at)))
    }

    /// Re-execution ran past its time bound: the end the recorded run's
    /// time limit would have been, when the recording cannot say where that
    /// was (a guest that does not count positions); otherwise a stop.
    pub(crate) fn timed_out(&mut self, bound: Duration) -> Option<Limit> {
        match self.time_limit {
            Some(TimeLimit {
                limit,
                position: None,
            }) => Some(limit),
            _ => {
                self.stop_now(Stop::TimedOut(bound));
                None
            }
        }
    }

    pub(crate) fn approximate(&mut self, thread: ThreadId, index: u64) {
        let last = self.approximate.entry(thread).or_insert(index);
        *last = (*last).max(index);
    }

    /// Whether every window is what a trace from the start would have cut:
    /// tracing started there, or each window is full (`buffer_events`
    /// events, so that nothing earlier belongs in it), starts after the
    /// first traced event and holds no approximate event.
    pub(crate) fn windows_exact(&self, buffer_events: u64) -> bool {
        self.trace_from == 0
            || self.windows.iter().all(|window| {
                // A window reaching back to where tracing started would
                // hold the calls the tracer gave the frames it adopted.
                window.first > 0
                    && window.end - window.first >= buffer_events
                    && self
                        .approximate
                        .get(&window.thread)
                        .is_none_or(|&last| last < window.first)
            })
    }

    fn report_progress(&self) {
        if let Some(progress) = &self.progress {
            progress(Progress {
                inputs: self.consumed,
                total_inputs: self.total_inputs,
                events: self.events_seen,
                position: self.position,
                total_position: self.total_position,
            });
        }
    }

    pub(crate) fn events_seen(&self) -> u64 {
        self.events_seen
    }
}
