//! Deterministic re-execution of a recording, and the materialization of
//! its events.
//!
//! [`Runtime::replay`] runs the recorded guest again with every input it
//! received fed back from the log ([`feed`]): clock readings, random bytes,
//! stdin, every filesystem call's outcome. It does no real I/O. The
//! recorder, in its replay role, checks each control call against the
//! logged marker and each input request against the next logged input; the
//! first difference stops the guest and is reported as a [`Divergence`]
//! with its position.
//!
//! With materialization on, the guest traces as it re-executes and the
//! recorder keeps, for each snapshot and crash, the window of events its
//! buffer held — what RevDeBug's buffers would have carried — or every
//! event with `full`. They are written to a file beside the recording
//! ([`materialized_path`]), so the next reader finds them at once.

use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use rewind_format::model::{
    CrashReason, End, Input, MarkerKind, Materialized, Mode, ThreadId, Window,
};
use rewind_format::{Recording, Writer};
use wasmtime::component::Component;
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::limits::{Limit, Limits};
use crate::outcome::Outcome;
use crate::recorder::config::{
    INTERRUPT, POLL, POLL_BLOCK, POLL_READY, POLL_SETTING, STDIN_INTERRUPTED,
};
use crate::recorder::replay::{
    Asked, Evaluation, ProgressFn, ReplayState, ReplayThread, Sink, TimeLimit, is_time_limit,
};
use crate::recorder::{Recorder, RecordingConfig, ThreadRecorder};
use crate::run::{Inputs, Runtime};

mod temporary;

use temporary::Temporary;
pub use temporary::remove_all as remove_temporary_files;

pub(crate) mod feed;

pub use crate::recorder::replay::{Divergence, Progress, Stop};

/// A recording file, read and checked.
#[derive(Debug, Clone)]
pub struct RecordingFile {
    pub path: PathBuf,
    pub recording: Recording,
    /// The file's length and CRC-32: what its materialized events name.
    pub len: u64,
    pub crc: u32,
}

impl RecordingFile {
    /// Reads a recording. A recording cut short opens up to its cut.
    pub fn open(path: &Path) -> Result<RecordingFile> {
        let bytes = rewind_format::read_file(path).map_err(|err| match err {
            rewind_format::FileError::Io(err) => {
                anyhow::Error::new(err).context(format!("cannot read {}", path.display()))
            }
            err => anyhow::Error::new(err)
                .context(format!("{} is not a readable recording", path.display())),
        })?;
        RecordingFile::from_bytes(path, &bytes)
            .with_context(|| format!("{} is not a readable recording", path.display()))
    }

    /// A recording from the bytes of the file at `path`.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
    ) -> Result<RecordingFile, rewind_format::FormatError> {
        Ok(RecordingFile {
            path: path.to_owned(),
            recording: Recording::read(bytes)?,
            len: bytes.len() as u64,
            crc: rewind_format::checksum(bytes),
        })
    }

    /// The events materialized from this recording, if a file of them is
    /// beside it and was made from these very bytes.
    pub fn materialized(&self) -> Option<Recording> {
        let bytes = std::fs::read(materialized_path(&self.path)).ok()?;
        let events = Recording::read(&bytes).ok()?;
        events.materialized_from(&self.recording.header, self.len, self.crc)?;
        Some(events)
    }

    /// A setting of the recorded run.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.recording
            .header
            .settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// How long a re-execution of it may take unless told otherwise: ten
    /// times as long as the recorded run took (tracing and a busy machine
    /// are slower), or the `tracing-slowdown` setting's times when the run
    /// says its guest traces slower than that, and at least a minute; an
    /// hour, as `rewind run`'s own default, when the recording does not say
    /// how long the run took.
    pub fn derived_timeout(&self) -> Duration {
        let slowdown = self
            .setting("tracing-slowdown")
            .and_then(|value| value.parse::<u32>().ok())
            .unwrap_or(10)
            .clamp(10, 10_000);
        match self.recording.elapsed_ms {
            Some(ms) => Duration::from_millis(ms)
                .saturating_mul(slowdown)
                .max(Duration::from_secs(60)),
            None => Limits::DEFAULT_TIMEOUT,
        }
    }

    /// Why this recording cannot be re-executed, if it cannot.
    pub fn not_replayable(&self) -> Option<String> {
        if self.setting("request") == Some("true") {
            return Some(
                "it is the recording of one request of `rewind serve`, for the debugger; requests are not re-executed".into(),
            );
        }
        if self.setting("log-complete") == Some("false") {
            return Some(
                "the run started with recording off, so its log misses its first inputs".into(),
            );
        }
        let Some(thread) = self.recording.threads.get(&0) else {
            return Some("it holds no input log".into());
        };
        if !matches!(thread.inputs.first(), Some(Input::Args { .. })) {
            return Some("its input log does not start at the start of the run".into());
        }
        let truncated = thread
            .inputs
            .iter()
            .any(|input| matches!(input, Input::Other { name, .. } if name == "log-truncated"));
        if truncated {
            return Some("its input log was cut short at its size limit".into());
        }
        for (key, wanted) in [
            ("nan-canonicalization", "true"),
            ("relaxed-simd", "deterministic"),
        ] {
            let value = self.setting(key).unwrap_or("unset");
            if value != wanted {
                return Some(format!(
                    "it was recorded with {key}={value}; this build re-executes with {key}={wanted}"
                ));
            }
        }
        self.recording
            .threads
            .iter()
            .find_map(|(id, thread)| invalid_input(*id, &thread.inputs))
    }
}

/// The first input of a thread's log that its interface could never have
/// answered, which re-execution must not feed to the guest (a wall-clock
/// time with a billion nanoseconds or more would make the guest panic).
fn invalid_input(thread: ThreadId, inputs: &[Input]) -> Option<String> {
    let fixed = |name: &str| match name {
        "insecure-seed" => Some(16),
        "terminals" => Some(3),
        "wall-clock-resolution" | "monotonic-clock-resolution" => Some(8),
        POLL_READY => Some(1),
        POLL_BLOCK => Some(0),
        INTERRUPT => Some(8),
        STDIN_INTERRUPTED => Some(0),
        _ => None,
    };
    inputs.iter().enumerate().find_map(|(at, input)| {
        let why = match input {
            Input::WallClock { nanos, .. } if *nanos >= 1_000_000_000 => format!(
                "a wall-clock time of {nanos} nanoseconds past the second (wasi:clocks allows fewer than 1,000,000,000)"
            ),
            Input::Other { name, data } if name == POLL => match data.0.len() {
                0 => "a poll answer with no pollable ready".to_owned(),
                len if !len.is_multiple_of(4) => {
                    format!("a poll answer of {len} bytes, not a multiple of 4")
                }
                _ => return None,
            },
            Input::Other { name, data } if name == POLL_READY && data.0.first() > Some(&1) => {
                format!("a pollable.ready answer of {}", data.0[0])
            }
            Input::Other { name, data } => match fixed(name) {
                Some(len) if data.0.len() != len => {
                    format!("a {name} of {} bytes, not {len}", data.0.len())
                }
                _ => return None,
            },
            _ => return None,
        };
        Some(format!("input {at} of thread {thread} is {why}"))
    })
}

/// Where the events materialized from `recording` are kept:
/// `NAME.rwd` -> `NAME.events.rwd`.
pub fn materialized_path(recording: &Path) -> PathBuf {
    let name = recording
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".rwd").unwrap_or(&name);
    recording.with_file_name(format!("{stem}.events.rwd"))
}

/// How to re-execute.
pub struct ReplayOptions {
    /// Show the guest's stdout and stderr (re-execution), or drop them
    /// (materialization).
    pub echo_output: bool,
    /// Materialize events, and how.
    pub materialize: Option<Materialize>,
    /// Called now and then with how far re-execution has come.
    pub progress: Option<Box<dyn Fn(Progress) + Send + Sync>>,
    /// How long it may take.
    pub timeout: ReplayTimeout,
}

/// How long a re-execution may take: whatever the recording says of its
/// own limits, a re-execution has a bound of its own, so that a recording
/// (edited, or of a guest that diverges into a loop) cannot make it run
/// forever. Running past it stops the re-execution ([`Stop::TimedOut`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplayTimeout {
    /// [`RecordingFile::derived_timeout`].
    #[default]
    Derived,
    Limit(Duration),
    Unlimited,
}

impl std::fmt::Debug for ReplayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayOptions")
            .field("echo_output", &self.echo_output)
            .field("timeout", &self.timeout)
            .field("materialize", &self.materialize)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct Materialize {
    /// Keep every event of the run, not only each snapshot's and crash's
    /// window.
    pub full: bool,
    /// The buffer size windows are cut to; the recorded run's by default.
    pub buffer_events: Option<usize>,
}

/// What a re-execution came to.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub outcome: Outcome,
    /// Why it stopped early; `None` when the guest ran to its recorded end.
    pub stop: Option<Stop>,
    /// The recorded run's exit status, when the recording has it.
    pub recorded_exit: Option<i32>,
    /// Events traced (materialization only).
    pub events: u64,
    pub windows: Vec<Window>,
    /// Where the materialized events were written.
    pub materialized: Option<PathBuf>,
    /// Things that do not stop re-execution but may explain a divergence.
    pub warnings: Vec<String>,
    /// What was evaluated, for [`Runtime::evaluate`].
    evaluation: Option<Evaluation>,
}

impl Replayed {
    pub fn divergence(&self) -> Option<&Divergence> {
        match &self.stop {
            Some(Stop::Diverged(divergence)) => Some(divergence),
            _ => None,
        }
    }

    /// How it ended, in words.
    pub fn summary(&self) -> String {
        match &self.stop {
            Some(stop) => stop.to_string(),
            None => as_recorded(&self.outcome),
        }
    }
}

/// Expressions to evaluate in the past (see [`Runtime::evaluate`]).
#[derive(Debug, Clone)]
pub struct Evaluate {
    pub thread: ThreadId,
    /// The event to evaluate at: its number among the thread's traced
    /// events when tracing starts at `traced_from`, as the materialized
    /// events (or the live trace, from 0) number them.
    pub event: u64,
    pub traced_from: u64,
    /// Each expression with the depth of the frame to evaluate it in (0 is
    /// the event's frame, 1 its nearest traced caller, ...).
    pub expressions: Vec<(u32, String)>,
    /// The re-execution's bound, the expressions' time included.
    pub timeout: ReplayTimeout,
    /// How long the expressions may take, together.
    pub budget: Duration,
}

impl Runtime {
    /// Evaluates expressions in the past: re-executes `file` with tracing
    /// on up to the event `request` names, where the guest evaluates each
    /// expression in the frame of that moment and the re-execution stops,
    /// so that nothing they change is seen. One result per expression: the
    /// value's text, or the text of what it raised. An error when the run
    /// cannot be re-executed to that event.
    pub fn evaluate(
        &self,
        component: &Component,
        file: &RecordingFile,
        request: Evaluate,
    ) -> Result<Vec<std::result::Result<String, String>>> {
        if let Some(why) = file.not_replayable() {
            anyhow::bail!("{} cannot be re-executed: {why}", file.path.display());
        }
        if request.thread != 0 {
            anyhow::bail!(
                "only thread 0 is re-executed; thread {} cannot be evaluated in",
                request.thread
            );
        }
        let evaluation = Evaluation::new(
            request.thread,
            request.event,
            request.expressions,
            request.budget,
        );
        let limits = replay_limits(file, request.timeout);
        let attempt = Attempt {
            component,
            file,
            echo_output: false,
            materialize: None,
            progress: None,
            buffer_events: recorded_buffer_events(file, None),
            max_mode: recorded_max_mode(file),
            limits: &limits,
            trace_from: request.traced_from,
            evaluation: Some(evaluation),
        };
        let mut warnings = Vec::new();
        let Some(replayed) = self.attempt(attempt, &mut warnings)? else {
            anyhow::bail!("the re-execution could not be traced to that event");
        };
        let Some(evaluation) = replayed.evaluation.clone() else {
            anyhow::bail!("the re-execution lost its evaluation");
        };
        let reached = evaluation.reached.is_some();
        match (reached, evaluation.results, &replayed.stop) {
            (true, Some(results), _) => Ok(results),
            (true, None, _) if evaluation.overdue => anyhow::bail!(
                "the expression did not finish within its budget of {}",
                humantime::format_duration(evaluation.budget)
            ),
            (true, None, Some(Stop::TimedOut(bound))) => anyhow::bail!(
                "the expression did not finish: the re-execution's bound of {} ran out",
                humantime::format_duration(*bound)
            ),
            (true, None, stop) => anyhow::bail!(
                "the expression did what the recording cannot answer ({})",
                stop.as_ref()
                    .map_or_else(|| "it ended the run".into(), Stop::to_string)
            ),
            (false, _, _) => anyhow::bail!(
                "no frame runs at event {} of thread {} when it is re-executed (an unhandled exception's last event, after its frames ended, is one); the re-execution ended: {}",
                request.event,
                request.thread,
                replayed.summary()
            ),
        }
    }

    /// Re-executes `file` with `component`, which must be the recorded
    /// guest (its digest is checked by the caller, who loaded it).
    pub fn replay(
        &self,
        component: &Component,
        file: &RecordingFile,
        options: ReplayOptions,
    ) -> Result<Replayed> {
        if let Some(why) = file.not_replayable() {
            anyhow::bail!("{} cannot be re-executed: {why}", file.path.display());
        }
        let recording = &file.recording;
        let mut warnings = Vec::new();
        let wasmtime = env!("REWIND_WASMTIME_VERSION");
        if let Some(recorded) = file.setting("wasmtime")
            && recorded != wasmtime
        {
            warnings.push(format!(
                "recorded with wasmtime {recorded}, re-executed with wasmtime {wasmtime}"
            ));
        }
        if recording.threads.len() > 1 {
            warnings.push(format!(
                "the recording has {} threads; only thread 0 is re-executed",
                recording.threads.len()
            ));
        }

        let buffer_events = recorded_buffer_events(
            file,
            options.materialize.as_ref().and_then(|m| m.buffer_events),
        );
        let max_mode = recorded_max_mode(file);
        let limits = replay_limits(file, options.timeout);
        let progress: Option<Arc<dyn Fn(Progress) + Send + Sync>> = options.progress.map(Arc::from);
        let mut plan = TracePlan::new(recording, options.materialize.as_ref(), buffer_events);
        loop {
            let attempt = Attempt {
                component,
                file,
                echo_output: options.echo_output,
                materialize: options.materialize.as_ref(),
                progress: progress.clone(),
                buffer_events,
                max_mode,
                limits: &limits,
                trace_from: plan.trace_from,
                evaluation: None,
            };
            match self.attempt(attempt, &mut warnings)? {
                Some(replayed) => return Ok(replayed),
                None => plan.further_back(),
            }
        }
    }

    /// One re-execution, tracing from `attempt.trace_from`. `None` when it
    /// started tracing too late for its windows to be exact: the next
    /// attempt starts further back.
    fn attempt(
        &self,
        attempt: Attempt<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Replayed>> {
        let Attempt {
            component,
            file,
            echo_output,
            materialize,
            progress,
            buffer_events,
            max_mode,
            limits,
            trace_from,
            evaluation,
        } = attempt;
        let evaluating = evaluation.is_some();
        let recording = &file.recording;

        let out = materialized_path(&file.path);
        let (sink, temp) = match materialize {
            Some(materialize) => {
                let dir = out.parent().filter(|dir| !dir.as_os_str().is_empty());
                let temp = Temporary::new(dir.unwrap_or(Path::new(".")), &file.path)
                    .with_context(|| format!("cannot write beside {}", file.path.display()))?;
                let mut header = recording.header.clone();
                header
                    .settings
                    .push(("materialized-by".into(), env!("CARGO_PKG_VERSION").into()));
                let writer = Writer::new(BufWriter::new(temp.reopen()?), &header)?;
                let sink = Sink {
                    writer,
                    full: materialize.full,
                };
                (Some(sink), Some(temp))
            }
            None => (None, None),
        };

        let threads: BTreeMap<_, _> = recording
            .threads
            .iter()
            .map(|(id, thread)| {
                let replay = ReplayThread::new(thread.inputs.clone(), thread.markers.clone());
                (*id, replay)
            })
            .collect();
        let progress: Option<ProgressFn> =
            progress.map(|progress| -> ProgressFn { Box::new(move |at: Progress| progress(at)) });
        let mut state = ReplayState::new(
            threads,
            recording.crashes.clone(),
            file.path.to_string_lossy().into_owned(),
            sink,
            progress,
        );
        state.trace_from = trace_from;
        state.time_limit = recorded_time_limit(file);
        state.interrupts = recorded_interrupts(file);
        state.logs_poll = file.setting(POLL_SETTING.0) == Some(POLL_SETTING.1);
        state.evaluation = evaluation;
        let config = RecordingConfig {
            mode: recording.header.mode,
            max_mode,
            buffer_events,
            trace: materialize.is_some() || evaluating,
            out_dir: PathBuf::new(),
            name: String::new(),
            guest_name: recording.header.guest_name.clone(),
            guest_digest: recording.header.guest_digest.clone(),
            settings: Vec::new(),
            max_bytes: 0,
            per_request_files: false,
        };
        let recorder = Recorder::replaying(config, state);
        let thread = recorder.thread();

        let (outcome, start_failure) = match replay_wasi(&thread, echo_output) {
            Ok(wasi) => (
                self.execute(Inputs::Replayed, component, wasi, thread, limits, None)?,
                None,
            ),
            // The log does not start as a run does: the guest never ran.
            Err(err) => {
                let message = format!("the guest could not start: {err}");
                (Outcome::Trapped(message), Some(err))
            }
        };

        let state = recorder
            .take_replay()
            .context("the re-execution's state is gone")?;
        let events = state.events_seen();
        let stop = state.stop.clone();
        if let Some(err) = start_failure
            && stop.is_none()
        {
            anyhow::bail!("{} cannot be re-executed: {err}", file.path.display());
        }
        let windows = state.windows.clone();
        let evaluation = state.evaluation.clone();
        if let Some(failure) = &state.failure {
            anyhow::bail!("cannot write the materialized events: {failure}");
        }
        if stop.is_none() && !evaluating && !state.windows_exact(buffer_events as u64) {
            // Dropping the temporary file removes it.
            return Ok(None);
        }
        let recorded_exit = recording.threads.get(&0).and_then(|thread| {
            thread.markers.iter().find_map(|marker| match marker.kind {
                rewind_format::model::MarkerKind::Exit { code } => Some(code),
                _ => None,
            })
        });

        let mut materialized = None;
        // A re-execution stopped by its own time bound has events only up
        // to somewhere: none are kept (dropping the temporary removes it).
        let timed_out = matches!(stop, Some(Stop::TimedOut(_)));
        if let (Some(sink), Some(temp), Some(options)) = (state.sink, temp, materialize)
            && !timed_out
        {
            let mut writer = sink.writer;
            writer.materialized(&Materialized {
                recording_len: file.len,
                recording_crc: file.crc,
                buffer_events: buffer_events as u64,
                full: options.full,
                traced_from: trace_from,
                outcome: match &stop {
                    Some(stop) => stop.to_string(),
                    None => as_recorded(&outcome),
                },
                windows: windows.clone(),
            })?;
            let exit_code = match outcome {
                Outcome::Exited(code) => Some(code),
                _ => None,
            };
            let mut out_file = writer.end(&End { exit_code })?;
            std::io::Write::flush(&mut out_file)?;
            out_file
                .into_inner()
                .map_err(|err| err.into_error())?
                .sync_all()?;
            temp.persist(&out)?;
            materialized = Some(out);
        }

        Ok(Some(Replayed {
            outcome,
            stop,
            recorded_exit,
            events,
            windows,
            materialized,
            warnings: std::mem::take(warnings),
            evaluation,
        }))
    }
}

/// The buffer size a re-execution cuts windows to: `asked`, else the
/// recorded run's.
fn recorded_buffer_events(file: &RecordingFile, asked: Option<usize>) -> usize {
    asked
        .or_else(|| file.setting("buffer-events")?.parse().ok())
        .unwrap_or(10_000)
        .max(1)
}

/// The highest mode the recorded run was allowed.
fn recorded_max_mode(file: &RecordingFile) -> Mode {
    match file.setting("max-mode") {
        Some("off") => Mode::Off,
        Some("on-event") => Mode::OnEvent,
        _ => Mode::Continuous,
    }
}

/// A re-execution's limits: the recorded run's memory, and its own time
/// bound.
fn replay_limits(file: &RecordingFile, timeout: ReplayTimeout) -> Limits {
    Limits {
        max_memory: file
            .setting("max-memory")
            .and_then(|value| value.parse().ok())
            .unwrap_or(Limits::DEFAULT_MAX_MEMORY),
        timeout: match timeout {
            ReplayTimeout::Derived => Some(file.derived_timeout()),
            ReplayTimeout::Limit(timeout) => Some(timeout),
            ReplayTimeout::Unlimited => None,
        },
    }
}

/// What one re-execution needs.
struct Attempt<'a> {
    component: &'a Component,
    file: &'a RecordingFile,
    echo_output: bool,
    materialize: Option<&'a Materialize>,
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    buffer_events: usize,
    max_mode: Mode,
    limits: &'a Limits,
    trace_from: u64,
    evaluation: Option<Evaluation>,
}

/// Where a materialization starts tracing. Keeping only the last events
/// before each snapshot and crash, it need not trace the whole run: it
/// starts a little before the earliest of them (by the positions the
/// recording's markers carry: N positions for N events, or a 64th of the
/// run if more), and further back whenever that proved too late (a window short of events, or holding one that a trace from the
/// start might show otherwise): each time 16 times further, down to the
/// start.
struct TracePlan {
    /// The earliest position a window ends at.
    earliest: u64,
    /// How far before it tracing starts.
    back: u64,
    trace_from: u64,
}

impl TracePlan {
    fn new(
        recording: &Recording,
        materialize: Option<&Materialize>,
        buffer_events: usize,
    ) -> TracePlan {
        let from_start = TracePlan {
            earliest: 0,
            back: 0,
            trace_from: 0,
        };
        if materialize.is_none_or(|m| m.full) {
            return from_start;
        }
        let mut earliest = None::<u64>;
        let mut total = 0;
        for marker in recording
            .threads
            .values()
            .flat_map(|thread| &thread.markers)
        {
            total = total.max(marker.position.unwrap_or(0));
            if !matches!(
                marker.kind,
                MarkerKind::Snapshot { .. } | MarkerKind::Crash { .. }
            ) {
                continue;
            }
            match marker.position {
                Some(at) => earliest = Some(earliest.map_or(at, |e| e.min(at))),
                // A recording without positions: from the start.
                None => return from_start,
            }
        }
        let Some(earliest) = earliest else {
            return from_start;
        };
        // A position is a call or a loop iteration: 2 to 10 events each in
        // traced code on the benchmark workloads, so N positions usually
        // hold N events with room to spare; a 64th of the run costs little
        // next to it.
        let back = (buffer_events as u64).max(total / 64);
        TracePlan {
            earliest,
            back,
            trace_from: earliest.saturating_sub(back),
        }
    }

    fn further_back(&mut self) {
        self.back = self.back.saturating_mul(16);
        self.trace_from = self.earliest.saturating_sub(self.back);
    }
}

/// A re-execution's end when it is the recorded run's.
fn as_recorded(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Exited(code) => format!("the guest exited with status {code}, as recorded"),
        stopped => format!("{stopped}, as recorded"),
    }
}

/// The positions where the recorded run took interrupts, ascending.
fn recorded_interrupts(file: &RecordingFile) -> Vec<u64> {
    let mut positions: Vec<u64> = file
        .recording
        .threads
        .values()
        .flat_map(|thread| &thread.inputs)
        .filter_map(|input| match input {
            Input::Other { name, data } if name == INTERRUPT => {
                Some(u64::from_le_bytes(data.0.as_slice().try_into().ok()?))
            }
            _ => None,
        })
        .collect();
    positions.sort_unstable();
    positions
}

/// Where the recorded run's time limit stopped it, if it did: the
/// position its crash capture was taken at (see [`TimeLimit`]).
fn recorded_time_limit(file: &RecordingFile) -> Option<TimeLimit> {
    let recording = &file.recording;
    let crash = recording
        .crashes
        .iter()
        .find(|crash| is_time_limit(&crash.reason))?;
    let position = recording.threads.get(&crash.thread).and_then(|thread| {
        thread
            .markers
            .iter()
            .find(|marker| marker.kind == MarkerKind::Crash { crash: crash.id })?
            .position
    });
    if crash.reason == CrashReason::Limit(Limit::Interrupted.to_string()) {
        return Some(TimeLimit {
            limit: Limit::Interrupted,
            position,
        });
    }
    let timeout = file
        .setting("timeout")
        .and_then(|value| humantime::parse_duration(value).ok())
        .unwrap_or_default();
    Some(TimeLimit {
        limit: Limit::Time { timeout },
        position,
    })
}

/// The guest's WASI context, from the first inputs of its log: argv,
/// environment, working directory, insecure seed, which streams were
/// terminals.
fn replay_wasi(log: &ThreadRecorder, echo: bool) -> wasmtime::Result<WasiCtx> {
    let mut builder = WasiCtxBuilder::new();
    let Input::Args { args } = log.replay_input(Asked::Args)? else {
        unreachable!("matched by kind")
    };
    let Input::Env { vars } = log.replay_input(Asked::Env)? else {
        unreachable!("matched by kind")
    };
    builder.args(&args).envs(&vars);
    if let Some(Input::Cwd { path }) = log.replay_input_if(Asked::Cwd) {
        builder.initial_cwd(path);
    }
    let Input::Other { data: seed, .. } = log.replay_input(Asked::Other("insecure-seed"))? else {
        unreachable!("matched by kind")
    };
    let seed: [u8; 16] = seed.0[..]
        .try_into()
        .map_err(|_| wasmtime::format_err!("the recording's insecure seed is not 16 bytes"))?;
    builder.insecure_random_seed(u128::from_le_bytes(seed));
    let terminals = match log.replay_input_if(Asked::Other("terminals")) {
        Some(Input::Other { data, .. }) if data.0.len() == 3 => [data.0[0], data.0[1], data.0[2]],
        _ => [0; 3],
    };
    builder.stdin(feed::ReplayStdin {
        log: log.clone(),
        terminal: terminals[0] != 0,
    });
    if echo {
        builder
            .stdout(feed::Output {
                inner: wasmtime_wasi::cli::stdout(),
                terminal: terminals[1] != 0,
            })
            .stderr(feed::Output {
                inner: wasmtime_wasi::cli::stderr(),
                terminal: terminals[2] != 0,
            });
    } else {
        builder
            .stdout(feed::Output {
                inner: SinkOutputStream,
                terminal: terminals[1] != 0,
            })
            .stderr(feed::Output {
                inner: SinkOutputStream,
                terminal: terminals[2] != 0,
            });
    }
    builder
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    Ok(builder.build())
}
