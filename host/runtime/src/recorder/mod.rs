//! The flight recorder: host-owned, per-thread logs of what a guest received
//! and did, written out under RevDeBug's recording modes.
//!
//! While a guest runs, the recorder keeps for each logical guest thread
//!
//! - the **input log**: every nondeterministic input the guest received, in
//!   order — argv, environment, working directory, clock readings, random
//!   bytes, stdin bytes, the content of files read ([`hooks`] puts the
//!   recorder between WASI and the host for each of them);
//! - **markers**: every control call (snapshot, clear, block, mode change,
//!   flush, rule, crash, exit) with its position in the input log;
//! - with live tracing on, a ring buffer of the last N **events**.
//!
//! The input log and markers are kept encoded (`rewind-format`), so they cost
//! a few bytes per input. What leaves the process depends on the mode:
//! nothing while `Off`; in `OnEvent`, a recording file per crash and per
//! snapshot; in `Continuous`, one stream file that grows as the log does and
//! is a valid recording at every chunk boundary.
//!
//! A [`Recorder`] is shared by every thread of a run; [`ThreadRecorder`] is
//! one thread's handle, kept in its store. The guest reaches it through the
//! `rewind:recorder` WIT interfaces ([`wit`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use rewind_format::Writer;
use rewind_format::model::{
    Crash, CrashReason, End, Event, Header, Input, Marker, MarkerKind, Mode, Source, ThreadId,
};

pub(crate) mod hooks;
pub(crate) mod replay;
pub mod wire;
pub(crate) mod wit;

/// Inputs batched before they are encoded into the log.
const INPUT_BATCH: usize = 256;
/// Bytes of input data batched before they are encoded into the log.
const INPUT_BATCH_BYTES: usize = 64 << 10;
/// Events gathered before a continuous stream gets them.
const STREAM_EVENTS: usize = 4096;
/// Source files kept for the recording are at most this long...
const MAX_SOURCE: usize = 4 << 20;
/// ...and all of them together at most this.
const MAX_SOURCES: usize = 64 << 20;
/// The input log kept in memory stops growing here: a guest that reads far
/// more than this cannot make the host run out of memory. Inputs after it
/// are not logged, which the log says with a `log-truncated` input.
const MAX_LOG: u64 = 1 << 30;
/// At most this many recording files per run: a guest that snapshots in a
/// loop cannot fill the disk. Later snapshots are markers only.
const MAX_FILES: usize = 100;

/// How a run is recorded.
#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// The mode asked for at the start.
    pub mode: Mode,
    /// The highest mode allowed; `mode` and every later change are capped.
    pub max_mode: Mode,
    /// How many events each thread's ring buffer keeps (live tracing).
    pub buffer_events: usize,
    /// Whether the guest traces live (`--trace`).
    pub trace: bool,
    /// Where recordings are written; created when the first one is.
    pub out_dir: PathBuf,
    /// The start of every recording's file name (the script's name).
    pub name: String,
    /// The guest component's short name and `sha256:` digest.
    pub guest_name: String,
    pub guest_digest: String,
    /// Settings that affect execution, beyond the engine's own (which the
    /// recorder adds): hash seed, limits.
    pub settings: Vec<(String, String)>,
}

impl RecordingConfig {
    /// The settings `rewind run` starts from: record on events (crashes and
    /// snapshots), allow continuous recording, keep the last 10,000 events
    /// per thread, no live tracing, recordings named after `guest` and
    /// written into `out_dir`.
    ///
    /// A recording finds its guest again for re-execution through the
    /// setting `guest-path` (the component's absolute path), which `rewind
    /// replay` reads; push it onto `settings` when the guest is a file.
    pub fn new(guest: &crate::ComponentSource, out_dir: impl Into<PathBuf>) -> RecordingConfig {
        RecordingConfig {
            mode: Mode::OnEvent,
            max_mode: Mode::Continuous,
            buffer_events: 10_000,
            trace: false,
            out_dir: out_dir.into(),
            name: guest.name().to_owned(),
            guest_name: guest.name().to_owned(),
            guest_digest: guest.digest().to_owned(),
            settings: Vec::new(),
        }
    }
}

/// Something the recorder did that the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderEvent {
    /// A recording file was written (or, for a stream, started).
    Written { path: PathBuf, what: Written },
    /// Writing failed; recording goes on in memory.
    Failed(String),
    /// The stream was brought up to date on the guest's request
    /// (`revdebug.flush()`, a snapshot, a crash): a sink that ships it
    /// elsewhere should do so now.
    Flushed { path: PathBuf },
}

/// What a recording file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A crash: an unhandled exception, `revdebug.exception`, or the VM.
    Crash,
    /// A snapshot with this name.
    Snapshot(String),
    /// A continuous stream.
    Stream,
}

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

struct State {
    config: RecordingConfig,
    /// Every recording of this run shares the id; the header's template.
    header: Header,
    mode: Mode,
    /// The encoded inputs, markers and crashes so far; `None` until logging
    /// starts (a run that starts `Off` logs nothing).
    log: Option<Writer<Vec<u8>>>,
    /// Whether the log starts with the run, so that it can be re-executed.
    complete: bool,
    stream: Option<Stream>,
    threads: BTreeMap<ThreadId, ThreadLog>,
    next_thread: ThreadId,
    /// `.py` files the guest read, as it read them, for the recording's
    /// source chunks.
    sources: BTreeMap<String, Vec<u8>>,
    next_crash: u64,
    next_snapshot: u64,
    blocks: HashMap<(ThreadId, u64), u64>,
    /// Whether a write failure was reported already (once is enough).
    failed: bool,
    /// Recording files written so far.
    files: usize,
    /// The input log reached [`MAX_LOG`]: inputs are no longer logged.
    truncated: bool,
    /// An unhandled exception's capture, written when its thread ends: the
    /// guest still prints the traceback (reading source files) and exits,
    /// and the recording should re-execute to that end.
    unhandled: Option<ThreadId>,
    /// Set when this recorder re-executes a recording instead of making one.
    replay: Option<replay::ReplayState>,
}

struct Stream {
    writer: Writer<BufWriter<File>>,
    path: PathBuf,
    /// How much of each source has been sent, by path: a source is sent
    /// when it first appears and again when the guest has read more of it.
    sent: BTreeMap<String, usize>,
}

#[derive(Default)]
struct ThreadLog {
    /// Inputs received and not yet encoded.
    pending: Vec<Input>,
    pending_bytes: usize,
    /// Inputs encoded into the log.
    logged: u64,
    next_marker: u64,
    /// The last events (live tracing), `events[0]` being event `first_event`.
    events: VecDeque<Event>,
    first_event: u64,
    /// Events seen in all, and sent to the stream.
    total_events: u64,
    streamed_events: u64,
    /// The thread's guest is done; its log stays for `snapshotall`.
    finished: bool,
    /// The guest reported an unhandled crash of this thread (a Rust panic
    /// hook does, just before the abort traps).
    crashed: bool,
}

impl ThreadLog {
    fn input_pos(&self) -> u64 {
        self.logged + self.pending.len() as u64
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
    pub(crate) fn replaying(config: RecordingConfig, replay: replay::ReplayState) -> Recorder {
        Recorder::build(config, Box::new(|_| {}), Some(replay))
    }

    fn build(
        config: RecordingConfig,
        listener: Listener,
        replay: Option<replay::ReplayState>,
    ) -> Recorder {
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
        let state = State {
            config,
            header,
            mode: Mode::Off,
            log: None,
            complete: true,
            stream: None,
            threads: BTreeMap::new(),
            next_thread: 0,
            sources: BTreeMap::new(),
            next_crash: 0,
            next_snapshot: 0,
            blocks: HashMap::new(),
            failed: false,
            files: 0,
            truncated: false,
            unhandled: None,
            replay,
        };
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
        let thread = self.with(|state, _| {
            let thread = state.next_thread;
            state.next_thread += 1;
            state.threads.insert(thread, ThreadLog::default());
            thread
        });
        ThreadRecorder {
            recorder: Some(self.clone()),
            thread,
        }
    }

    /// Adds a source file the host knows the guest runs (`python -c`'s code,
    /// say); files the guest reads are added by themselves.
    pub fn add_source(&self, path: &str, text: &str) {
        self.with(|state, _| {
            state
                .sources
                .insert(path.to_owned(), text.as_bytes().to_vec())
        });
    }

    /// The mode in effect.
    pub fn mode(&self) -> Mode {
        self.with(|state, _| state.mode)
    }

    /// What a re-execution came to: taken once, when it is over.
    pub(crate) fn take_replay(&self) -> Option<replay::ReplayState> {
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
}

impl ThreadRecorder {
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
        self.with((), |state, thread, events| {
            state.input(thread, input, events)
        })
    }

    /// Logs `len` bytes the guest read from `path` at `offset`; `.py` files
    /// are also kept as source text.
    pub(crate) fn file_read(&self, path: &str, offset: u64, data: &[u8]) {
        self.with((), |state, thread, events| {
            if path.ends_with(".py")
                && state.sources.values().map(Vec::len).sum::<usize>() + data.len() <= MAX_SOURCES
            {
                // The file as the guest read it: reads may restart at 0 or
                // overlap (a probe of its first bytes, then the whole).
                let text = state.sources.entry(path.to_owned()).or_default();
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let end = start.saturating_add(data.len());
                if start <= text.len() && end <= MAX_SOURCE {
                    if text.len() < end {
                        text.resize(end, 0);
                    }
                    text[start..end].copy_from_slice(data);
                }
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
    pub(crate) fn replay_input(&self, asked: replay::Asked<'_>) -> wasmtime::Result<Input> {
        let result = self.with(Ok(None), |state, thread, _| match &mut state.replay {
            Some(replay) => replay.next_input(thread, asked).map(Some),
            None => Ok(None),
        });
        match result {
            Ok(Some(input)) => Ok(input),
            Ok(None) => Err(wasmtime::format_err!("not re-executing a recording")),
            Err(stop) => Err(wasmtime::format_err!("{stop}")),
        }
    }

    /// Re-execution: the next logged input if it is what `asked` describes.
    pub(crate) fn replay_input_if(&self, asked: replay::Asked<'_>) -> Option<Input> {
        self.with(None, |state, thread, _| {
            state.replay.as_mut()?.next_input_if(thread, asked)
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
            let effective = requested.min(state.config.max_mode);
            state.set_mode(effective, events);
            state.marker(
                thread,
                MarkerKind::ModeChange {
                    requested,
                    effective,
                },
                events,
            );
            effective
        })
    }

    pub(crate) fn snapshot(&self, name: Option<String>, all: bool) -> String {
        let fallback = name.clone().unwrap_or_else(|| "snapshot-1".to_owned());
        self.with(fallback, |state, thread, events| {
            state.next_snapshot += 1;
            let name = name.unwrap_or_else(|| format!("snapshot-{}", state.next_snapshot));
            state.marker(
                thread,
                MarkerKind::Snapshot {
                    name: name.clone(),
                    all,
                },
                events,
            );
            let threads = state.scope(thread, all);
            if state.replay.is_some() {
                if state.mode != Mode::Off {
                    state.capture(thread, &threads);
                }
                return name;
            }
            match state.mode {
                Mode::Off => {}
                Mode::OnEvent => {
                    state.write_file(&threads, Written::Snapshot(name.clone()), events);
                }
                Mode::Continuous => {
                    state.flush_stream(events);
                    state.flushed(events);
                }
            }
            name
        })
    }

    pub(crate) fn clear(&self, all: bool, flush: bool) {
        self.with((), |state, thread, events| {
            state.marker(thread, MarkerKind::Clear { all, flush }, events);
            if flush && state.mode == Mode::Continuous {
                state.flush_stream(events);
            }
            for thread in state.scope(thread, all) {
                if let Some(log) = state.threads.get_mut(&thread) {
                    log.events.clear();
                    log.first_event = log.total_events;
                    // Events never sent are gone: the stream has a hole.
                    log.streamed_events = log.streamed_events.max(log.total_events);
                }
            }
        })
    }

    pub(crate) fn flush(&self) {
        self.with((), |state, thread, events| {
            state.marker(thread, MarkerKind::Flush, events);
            if state.mode == Mode::Continuous {
                state.flush_stream(events);
                state.flushed(events);
            }
        })
    }

    pub(crate) fn block(&self, task: u64, clear: bool) -> u64 {
        self.with(0, |state, thread, events| {
            let known = state.blocks.len() as u64;
            let (block, existed) = match state.blocks.get(&(thread, task)) {
                Some(block) => (*block, true),
                None => {
                    state.blocks.insert((thread, task), known);
                    (known, false)
                }
            };
            state.marker(
                thread,
                MarkerKind::Block {
                    block,
                    clear: clear && existed,
                },
                events,
            );
            block
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
        self.with((), |state, thread, events| {
            state.commit_inputs(thread, events);
            if state.mode == Mode::Continuous {
                state.stream_events(thread, events);
            }
            state.threads.remove(&thread);
            state.blocks.retain(|(owner, _), _| *owner != thread);
        })
    }

    /// The next live trace events of this thread.
    pub(crate) fn events(&self, batch: Vec<Event>) {
        self.with((), |state, thread, events| {
            state.events(thread, batch, events)
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
}

/// How a guest thread ended, as the recorder logs it.
#[derive(Debug, Clone)]
pub(crate) enum ThreadEnd {
    Exited(i32),
    /// The VM itself stopped: a trap or a limit, with the wasm frames that
    /// could still be read (innermost first).
    Crashed {
        reason: CrashReason,
        wasm_frames: Vec<String>,
    },
}

impl State {
    /// Changes the mode in effect, starting the log or the stream as needed.
    fn set_mode(&mut self, mode: Mode, events: &mut Vec<RecorderEvent>) {
        if self.replay.is_some() {
            self.mode = mode;
            return;
        }
        if mode > Mode::Off && self.log.is_none() {
            // Logging starts now. A run that started `Off` has lost its
            // first inputs: its recordings say so and cannot be re-executed.
            self.complete = self.threads.is_empty();
            let mut header = self.header.clone();
            header.mode = mode;
            header
                .settings
                .push(("log-complete".to_owned(), self.complete.to_string()));
            match Writer::new(Vec::new(), &header) {
                Ok(writer) => self.log = Some(writer),
                Err(err) => self.fail(format!("starting the log: {err}"), events),
            }
        }
        if mode == Mode::Continuous && self.stream.is_none() {
            self.start_stream(events);
        }
        if mode < Mode::Continuous {
            self.end_stream(None, events);
        }
        self.mode = mode;
    }

    /// The threads a call acts on: its own, or every thread (`...all`).
    fn scope(&self, thread: ThreadId, all: bool) -> Vec<ThreadId> {
        match all {
            true => self.all_threads(),
            false => vec![thread],
        }
    }

    fn all_threads(&self) -> Vec<ThreadId> {
        self.threads.keys().copied().collect()
    }

    fn input(&mut self, thread: ThreadId, input: Input, events: &mut Vec<RecorderEvent>) {
        if self.replay.is_some() {
            return;
        }
        let Some(writer) = &self.log else {
            return;
        };
        if self.truncated {
            return;
        }
        let input = if writer.written() > MAX_LOG {
            self.truncated = true;
            self.fail(
                format!(
                    "the input log passed {} MiB; inputs after this point are not logged",
                    MAX_LOG >> 20
                ),
                events,
            );
            Input::Other {
                name: "log-truncated".to_owned(),
                data: Default::default(),
            }
        } else {
            input
        };
        let log = self.threads.entry(thread).or_default();
        log.pending_bytes += input_bytes(&input);
        log.pending.push(input);
        if log.pending.len() >= INPUT_BATCH || log.pending_bytes >= INPUT_BATCH_BYTES {
            self.commit_inputs(thread, events);
        }
    }

    /// Encodes a thread's pending inputs into the log (and the stream).
    fn commit_inputs(&mut self, thread: ThreadId, events: &mut Vec<RecorderEvent>) {
        let Some(log) = self.threads.get_mut(&thread) else {
            return;
        };
        if log.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut log.pending);
        let first = log.logged;
        log.logged += pending.len() as u64;
        log.pending_bytes = 0;
        self.append(Append::Inputs(thread, first, &pending), events);
    }

    /// Appends to the log and, in continuous mode, to the stream. The stream
    /// is written out as it grows: each append reaches the file at once, so
    /// a killed run loses at most the batch in progress.
    fn append(&mut self, item: Append<'_>, events: &mut Vec<RecorderEvent>) {
        let mut failures = Vec::new();
        if let Some(writer) = &mut self.log
            && let Err(err) = item.write_to(writer)
        {
            failures.push(format!("logging {}: {err}", item.what()));
        }
        if let Some(stream) = &mut self.stream
            && let Err(err) = item
                .write_to(&mut stream.writer)
                .and_then(|()| stream.writer.flush())
        {
            failures.push(format!("writing {}: {err}", stream.path.display()));
        }
        for failure in failures {
            self.fail(failure, events);
        }
    }

    fn commit_all_inputs(&mut self, events: &mut Vec<RecorderEvent>) {
        for thread in self.all_threads() {
            self.commit_inputs(thread, events);
        }
    }

    fn marker(&mut self, thread: ThreadId, kind: MarkerKind, events: &mut Vec<RecorderEvent>) {
        if let Some(replay) = &mut self.replay {
            replay.marker(thread, &kind);
            return;
        }
        if self.log.is_none() {
            return;
        }
        self.commit_inputs(thread, events);
        let log = self.threads.entry(thread).or_default();
        let marker = Marker {
            seq: log.next_marker,
            input_pos: log.input_pos(),
            kind,
        };
        log.next_marker += 1;
        self.append(Append::Marker(thread, &marker), events);
    }

    fn events(&mut self, thread: ThreadId, batch: Vec<Event>, events: &mut Vec<RecorderEvent>) {
        if self.mode == Mode::Off {
            return;
        }
        let keep = self.config.buffer_events;
        if let Some(replay) = &mut self.replay {
            let first = self.threads.get(&thread).map_or(0, |log| log.total_events);
            replay.events(thread, first, &batch);
        }
        let log = self.threads.entry(thread).or_default();
        log.total_events += batch.len() as u64;
        log.events.extend(batch);
        while log.events.len() > keep {
            log.events.pop_front();
            log.first_event += 1;
        }
        let unsent = log.total_events - log.streamed_events;
        if self.mode == Mode::Continuous && unsent >= STREAM_EVENTS.min(keep.max(1)) as u64 {
            self.stream_events(thread, events);
        }
    }

    /// Sends a thread's events that the stream has not had yet.
    fn stream_events(&mut self, thread: ThreadId, events: &mut Vec<RecorderEvent>) {
        let (Some(stream), Some(log)) = (&mut self.stream, self.threads.get_mut(&thread)) else {
            return;
        };
        let from = log.streamed_events.max(log.first_event);
        if from >= log.total_events {
            return;
        }
        let skip = (from - log.first_event) as usize;
        let batch: Vec<Event> = log.events.iter().skip(skip).cloned().collect();
        log.streamed_events = log.total_events;
        if let Err(err) = write_events(&mut stream.writer, thread, from, &batch) {
            let failure = format!("writing {}: {err}", stream.path.display());
            self.fail(failure, events);
        }
    }

    fn crash(&mut self, crash: Crash, events: &mut Vec<RecorderEvent>) -> Option<PathBuf> {
        if self.mode == Mode::Off || (self.log.is_none() && self.replay.is_none()) {
            return None;
        }
        let id = self.next_crash;
        self.next_crash += 1;
        let crash = Crash { id, ..crash };
        let thread = crash.thread;
        self.marker(thread, MarkerKind::Crash { crash: id }, events);
        if crash.reason == CrashReason::Unhandled
            && let Some(log) = self.threads.get_mut(&thread)
        {
            log.crashed = true;
        }
        if let Some(replay) = &mut self.replay {
            replay.crash(&crash);
            let path = PathBuf::from(&replay.recording_path);
            self.capture(thread, &[thread]);
            return Some(path);
        }
        self.append(Append::Crash(&crash), events);
        match self.mode {
            Mode::Continuous => {
                self.flush_stream(events);
                self.flushed(events);
                let path = self.stream.as_ref().map(|stream| stream.path.clone())?;
                events.push(RecorderEvent::Written {
                    path: path.clone(),
                    what: Written::Crash,
                });
                Some(path)
            }
            _ if crash.reason == CrashReason::Unhandled => {
                self.unhandled = Some(thread);
                None
            }
            _ => self.write_file(&[thread], Written::Crash, events),
        }
    }

    fn finish(&mut self, thread: ThreadId, end: ThreadEnd, events: &mut Vec<RecorderEvent>) {
        let exit_code = match end {
            ThreadEnd::Exited(code) => {
                self.marker(thread, MarkerKind::Exit { code }, events);
                Some(code)
            }
            // The guest captured this crash itself just before the VM
            // stopped (a Rust panic hook, then the abort's trap): its
            // capture, with the message, is the one kept.
            ThreadEnd::Crashed { .. }
                if self.threads.get(&thread).is_some_and(|log| log.crashed) =>
            {
                None
            }
            ThreadEnd::Crashed {
                reason,
                wasm_frames,
            } => {
                let mut notes = vec![
                    "the guest's own frames (Python's) cannot be read once the VM has \
                     stopped; re-executing the recording reaches this point with them"
                        .to_owned(),
                ];
                if wasm_frames.is_empty() {
                    notes.push("no WebAssembly backtrace was available".to_owned());
                }
                let frames = wasm_frames
                    .into_iter()
                    .rev()
                    .map(|function| rewind_format::model::Frame {
                        function,
                        file: "<wasm>".to_owned(),
                        line: 0,
                        locals: Vec::new(),
                    })
                    .collect();
                self.crash(
                    Crash {
                        id: 0,
                        thread,
                        reason,
                        exception: None,
                        frames,
                        notes,
                    },
                    events,
                );
                None
            }
        };
        self.commit_inputs(thread, events);
        if let Some(log) = self.threads.get_mut(&thread) {
            log.finished = true;
        }
        if let Some(replay) = &mut self.replay {
            replay.finished(thread);
        }
        if self
            .unhandled
            .take_if(|crashed| *crashed == thread)
            .is_some()
        {
            self.write_file(&[thread], Written::Crash, events);
        }
        if self.threads.values().all(|log| log.finished) {
            self.end_stream(Some(exit_code), events);
        }
    }

    /// Re-execution reached a snapshot or a crash of `at_thread`: keep the
    /// window of each thread's buffer the recording would have carried.
    fn capture(&mut self, at_thread: ThreadId, threads: &[ThreadId]) {
        let Some(replay) = &mut self.replay else {
            return;
        };
        for thread in threads {
            if let Some(log) = self.threads.get(thread) {
                let (front, back) = log.events.as_slices();
                let events = [front, back].concat();
                replay.window(*thread, at_thread, log.first_event, &events);
            }
        }
    }

    /// A recording file holding the log so far, the given threads' events
    /// and the sources: a crash or a snapshot in `OnEvent` mode.
    fn write_file(
        &mut self,
        threads: &[ThreadId],
        what: Written,
        events: &mut Vec<RecorderEvent>,
    ) -> Option<PathBuf> {
        self.commit_all_inputs(events);
        if self.files >= MAX_FILES {
            let failure = format!("{MAX_FILES} recordings written; no more from this run");
            self.fail(failure, events);
            return None;
        }
        let log = self.log.as_ref()?;
        let mut writer = log.fork(log.get_ref().clone());
        let result = (|| -> std::io::Result<Vec<u8>> {
            write_sources(&mut writer, &self.sources)?;
            for thread in threads {
                if let Some(log) = self.threads.get(thread) {
                    let batch: Vec<Event> = log.events.iter().cloned().collect();
                    write_events(&mut writer, *thread, log.first_event, &batch)?;
                }
            }
            writer.end(&End { exit_code: None })
        })();
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(err) => {
                self.fail(format!("encoding a recording: {err}"), events);
                return None;
            }
        };
        let kind = match &what {
            Written::Crash => "crash".to_owned(),
            Written::Snapshot(name) if name.starts_with("snapshot") => file_safe(name),
            Written::Snapshot(name) => format!("snapshot-{}", file_safe(name)),
            Written::Stream => "stream".to_owned(),
        };
        match write_new_file(&self.config.out_dir, &self.config.name, &kind, &bytes) {
            Ok(path) => {
                self.files += 1;
                events.push(RecorderEvent::Written {
                    path: path.clone(),
                    what,
                });
                Some(path)
            }
            Err(err) => {
                let failure = format!(
                    "cannot write a recording into {}: {err}",
                    self.config.out_dir.display()
                );
                self.fail(failure, events);
                None
            }
        }
    }

    /// Continuous mode begins: the stream gets the log so far, then grows
    /// with it.
    fn start_stream(&mut self, events: &mut Vec<RecorderEvent>) {
        self.commit_all_inputs(events);
        let Some(log) = &self.log else {
            return;
        };
        let opened = create_new_file(&self.config.out_dir, &self.config.name, "stream").and_then(
            |(file, path)| {
                let mut out = BufWriter::new(file);
                out.write_all(log.get_ref())?;
                out.flush()?;
                Ok((out, path))
            },
        );
        match opened {
            Ok((out, path)) => {
                let writer = log.fork(out);
                events.push(RecorderEvent::Written {
                    path: path.clone(),
                    what: Written::Stream,
                });
                self.stream = Some(Stream {
                    writer,
                    path,
                    sent: BTreeMap::new(),
                });
                // Events still in the buffers go out with the stream.
                for log in self.threads.values_mut() {
                    log.streamed_events = log.first_event;
                }
            }
            Err(err) => {
                let failure = format!(
                    "cannot start a stream in {}: {err}",
                    self.config.out_dir.display()
                );
                self.fail(failure, events);
            }
        }
    }

    /// Sends everything pending to the stream and flushes it to the file.
    fn flush_stream(&mut self, events: &mut Vec<RecorderEvent>) {
        if self.stream.is_none() {
            return;
        }
        self.commit_all_inputs(events);
        for thread in self.all_threads() {
            self.stream_events(thread, events);
        }
        let Some(stream) = &mut self.stream else {
            return;
        };
        let result = (|| -> std::io::Result<()> {
            let unsent: Vec<_> = self
                .sources
                .iter()
                .filter(|(path, text)| stream.sent.get(*path) != Some(&text.len()))
                .collect();
            write_sources(&mut stream.writer, unsent.iter().copied())?;
            for (path, text) in unsent {
                stream.sent.insert(path.clone(), text.len());
            }
            stream.writer.flush()
        })();
        if let Err(err) = result {
            let failure = format!("writing {}: {err}", stream.path.display());
            self.fail(failure, events);
        }
    }

    /// Tells the listener the stream is up to date.
    fn flushed(&mut self, events: &mut Vec<RecorderEvent>) {
        if let Some(stream) = &self.stream
            && self.replay.is_none()
        {
            events.push(RecorderEvent::Flushed {
                path: stream.path.clone(),
            });
        }
    }

    /// Closes the stream, with an end chunk when the run is over
    /// (`exit_code` is then `Some`).
    fn end_stream(&mut self, exit_code: Option<Option<i32>>, events: &mut Vec<RecorderEvent>) {
        self.flush_stream(events);
        let Some(stream) = self.stream.take() else {
            return;
        };
        // A stream closed because the mode went down ends too: its reader
        // knows nothing more follows in that file.
        let exit_code = exit_code.flatten();
        if let Err(err) = stream.writer.end(&End { exit_code }) {
            let failure = format!("writing {}: {err}", stream.path.display());
            self.fail(failure, events);
        }
    }

    fn fail(&mut self, failure: String, events: &mut Vec<RecorderEvent>) {
        tracing::debug!("recorder: {failure}");
        if !self.failed {
            self.failed = true;
            events.push(RecorderEvent::Failed(failure));
        }
    }
}

/// What [`State::append`] writes to both the log and the stream.
enum Append<'a> {
    Inputs(ThreadId, u64, &'a [Input]),
    Marker(ThreadId, &'a Marker),
    Crash(&'a Crash),
}

impl Append<'_> {
    fn write_to<W: std::io::Write>(&self, writer: &mut Writer<W>) -> std::io::Result<()> {
        match *self {
            Append::Inputs(thread, first, inputs) => writer.inputs(thread, first, inputs),
            Append::Marker(thread, marker) => writer.markers(thread, std::slice::from_ref(marker)),
            Append::Crash(crash) => writer.crash(crash),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Append::Inputs(..) => "inputs",
            Append::Marker(..) => "a marker",
            Append::Crash(..) => "a crash",
        }
    }
}

/// Sources, as the format takes them.
fn write_sources<'a, W: std::io::Write>(
    writer: &mut Writer<W>,
    sources: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>,
) -> std::io::Result<()> {
    for (path, text) in sources {
        writer.source(&Source {
            path: path.clone(),
            text: String::from_utf8_lossy(text).into_owned(),
        })?;
    }
    Ok(())
}

/// Events, in chunks of a size a reader takes in stride.
fn write_events<W: std::io::Write>(
    writer: &mut Writer<W>,
    thread: ThreadId,
    first: u64,
    events: &[Event],
) -> std::io::Result<()> {
    for (n, chunk) in events.chunks(STREAM_EVENTS).enumerate() {
        writer.events(thread, first + (n * STREAM_EVENTS) as u64, chunk)?;
    }
    Ok(())
}

fn input_bytes(input: &Input) -> usize {
    match input {
        Input::Stdin { data }
        | Input::Random { data }
        | Input::InsecureRandom { data }
        | Input::FileRead { data, .. }
        | Input::Other { data, .. } => data.0.len(),
        _ => 16,
    }
}

/// A name's characters that are safe in a file name.
fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .take(64)
        .collect();
    safe.trim_start_matches('.').to_owned()
}

/// `NAME-YYYYMMDD-HHMMSS-KIND[-N].rwd`, unused so far in `dir`.
fn file_name(name: &str, kind: &str, n: u32) -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = stamp
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let (date, time) = stamp.split_at(stamp.len().min(8));
    let suffix = if n == 0 {
        String::new()
    } else {
        format!("-{n}")
    };
    format!("{name}-{date}-{time}-{kind}{suffix}.rwd")
}

/// Creates a file that did not exist, under a fresh name.
fn create_new_file(dir: &Path, name: &str, kind: &str) -> std::io::Result<(File, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    for n in 0..1000 {
        let path = dir.join(file_name(name, kind, n));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // A recording holds what the program read: readable by its owner
        // only, as the temporary files of whole recordings are.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::other(
        "too many recordings with the same name",
    ))
}

/// Writes a whole recording under a fresh name: first to a temporary file,
/// then renamed, so that a file with the final name is always complete.
fn write_new_file(dir: &Path, name: &str, kind: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".rewind-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_data()?;
    for n in 0..1000 {
        let path = dir.join(file_name(name, kind, n));
        match temp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(err) if err.error.kind() == std::io::ErrorKind::AlreadyExists => temp = err.file,
            Err(err) => return Err(err.error),
        }
    }
    Err(std::io::Error::other(
        "too many recordings with the same name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewind_format::Recording;

    fn config(dir: &Path, mode: Mode, max_mode: Mode) -> RecordingConfig {
        RecordingConfig {
            mode,
            max_mode,
            buffer_events: 3,
            trace: true,
            out_dir: dir.to_owned(),
            name: "test".to_owned(),
            guest_name: "guest".to_owned(),
            guest_digest: "sha256:00".to_owned(),
            settings: vec![("hash-seed".to_owned(), "0".to_owned())],
        }
    }

    fn recorder(
        dir: &Path,
        mode: Mode,
        max_mode: Mode,
    ) -> (Recorder, Arc<Mutex<Vec<RecorderEvent>>>) {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        let recorder = Recorder::new(config(dir, mode, max_mode), move |event| {
            if !matches!(event, RecorderEvent::Flushed { .. }) {
                sink.lock().unwrap().push(event.clone())
            }
        });
        (recorder, heard)
    }

    fn read(path: &Path) -> Recording {
        Recording::read(&std::fs::read(path).unwrap()).unwrap()
    }

    fn line(n: u32) -> Event {
        Event::Line {
            line: n,
            changed: Vec::new(),
        }
    }

    #[test]
    fn a_snapshot_holds_the_log_and_the_last_events() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, heard) = recorder(dir.path(), Mode::OnEvent, Mode::Continuous);
        let thread = recorder.thread();
        thread.input(Input::MonotonicClock { nanos: 7 });
        thread.events((1..=5).map(line).collect());
        assert_eq!(thread.snapshot(None, false), "snapshot-1");
        thread.input(Input::MonotonicClock { nanos: 8 });

        let heard = heard.lock().unwrap();
        let [RecorderEvent::Written { path, what }] = &heard[..] else {
            panic!("{heard:?}");
        };
        assert_eq!(*what, Written::Snapshot("snapshot-1".to_owned()));
        let recording = read(path);
        assert!(recording.cut.is_none() && recording.end.is_some());
        let log = &recording.threads[&0];
        assert_eq!(log.inputs, [Input::MonotonicClock { nanos: 7 }]);
        assert_eq!(log.markers[0].input_pos, 1);
        // The ring kept the last three events, numbered as in the run.
        assert_eq!(log.events.len(), 1);
        assert_eq!(log.events[0].first, 2);
        assert_eq!(log.events[0].events, [line(3), line(4), line(5)]);
    }

    #[test]
    fn modes_are_capped_and_off_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::OnEvent);
        assert_eq!(recorder.mode(), Mode::OnEvent);
        let thread = recorder.thread();
        assert_eq!(thread.set_mode(Mode::Continuous), Mode::OnEvent);
        assert_eq!(thread.set_mode(Mode::Off), Mode::Off);
        thread.snapshot(Some("quiet".to_owned()), false);
        assert!(thread.crash(crash()).is_none());
        assert!(heard.lock().unwrap().is_empty());
    }

    fn crash() -> Crash {
        Crash {
            id: 0,
            thread: 0,
            reason: CrashReason::Reported,
            exception: None,
            frames: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_run_that_starts_off_says_its_log_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, _) = recorder(dir.path(), Mode::Off, Mode::Continuous);
        let thread = recorder.thread();
        thread.input(Input::MonotonicClock { nanos: 1 });
        thread.set_mode(Mode::OnEvent);
        thread.input(Input::MonotonicClock { nanos: 2 });
        let path = thread.crash(crash()).unwrap();
        let recording = read(&path);
        assert!(
            recording
                .header
                .settings
                .contains(&("log-complete".to_owned(), "false".to_owned()))
        );
        assert_eq!(
            recording.threads[&0].inputs,
            [Input::MonotonicClock { nanos: 2 }]
        );
    }

    #[test]
    fn a_continuous_stream_ends_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::Continuous);
        let thread = recorder.thread();
        thread.input(Input::WallClock { secs: 1, nanos: 2 });
        thread.events(vec![line(1)]);
        thread.flush();
        thread.end(ThreadEnd::Exited(4));
        let heard = heard.lock().unwrap();
        let [RecorderEvent::Written { path, .. }] = &heard[..] else {
            panic!("{heard:?}");
        };
        let recording = read(path);
        assert_eq!(recording.end.unwrap().exit_code, Some(4));
        let log = &recording.threads[&0];
        assert_eq!(log.inputs.len(), 1);
        assert_eq!(log.events[0].events, [line(1)]);
        let kinds: Vec<_> = log.markers.iter().map(|m| m.kind.clone()).collect();
        assert_eq!(kinds, [MarkerKind::Flush, MarkerKind::Exit { code: 4 }]);
    }

    #[test]
    fn a_stream_gets_every_source_the_guest_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::Continuous);
        let thread = recorder.thread();
        thread.file_read("/app/main.py", 0, b"import lib\n");
        thread.flush();
        // Sorts before the source already sent.
        thread.file_read("/app/lib.py", 0, b"x = 1\n");
        thread.flush();
        // Read further after it was sent: sent again, and the reader keeps
        // the whole.
        thread.file_read("/app/lib.py", 6, b"y = 2\n");
        thread.flush();
        thread.end(ThreadEnd::Exited(0));
        let heard = heard.lock().unwrap();
        let [RecorderEvent::Written { path, .. }] = &heard[..] else {
            panic!("{heard:?}");
        };
        let sources: Vec<(String, String)> = read(path)
            .sources
            .into_iter()
            .map(|source| (source.path, source.text))
            .collect();
        assert_eq!(
            sources,
            [
                ("/app/main.py".to_owned(), "import lib\n".to_owned()),
                ("/app/lib.py".to_owned(), "x = 1\ny = 2\n".to_owned()),
            ]
        );
    }

    #[test]
    fn a_snapshot_loop_cannot_fill_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, heard) = recorder(dir.path(), Mode::OnEvent, Mode::OnEvent);
        let thread = recorder.thread();
        for _ in 0..MAX_FILES + 5 {
            thread.snapshot(None, false);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), MAX_FILES);
        let failures = heard
            .lock()
            .unwrap()
            .iter()
            .filter(|event| matches!(event, RecorderEvent::Failed(_)))
            .count();
        assert_eq!(failures, 1);
    }

    #[test]
    fn clear_without_flush_leaves_a_hole_in_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::Continuous);
        let thread = recorder.thread();
        thread.events(vec![line(1)]);
        thread.clear(false, true);
        thread.events(vec![line(2)]);
        thread.clear(false, false);
        thread.events(vec![line(3)]);
        thread.end(ThreadEnd::Exited(0));
        let heard = heard.lock().unwrap();
        let [RecorderEvent::Written { path, .. }] = &heard[..] else {
            panic!("{heard:?}");
        };
        let recording = read(path);
        let runs: Vec<(u64, Vec<Event>)> = recording.threads[&0]
            .events
            .iter()
            .map(|run| (run.first, run.events.clone()))
            .collect();
        // Event 1 was flushed before its clear; event 2 was cleared unsent.
        assert_eq!(runs, [(0, vec![line(1)]), (2, vec![line(3)])]);
    }

    #[test]
    fn a_block_keeps_its_number_per_task() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, _) = recorder(dir.path(), Mode::OnEvent, Mode::OnEvent);
        let thread = recorder.thread();
        let first = thread.block(7, true);
        let second = thread.block(9, true);
        assert_ne!(first, second);
        assert_eq!(thread.block(7, true), first);
        let path = thread.crash(crash()).unwrap();
        let markers = read(&path).threads[&0].markers.clone();
        let blocks: Vec<_> = markers.iter().map(|m| m.kind.clone()).collect();
        assert_eq!(
            blocks[..3],
            [
                MarkerKind::Block {
                    block: first,
                    clear: false
                },
                MarkerKind::Block {
                    block: second,
                    clear: false
                },
                MarkerKind::Block {
                    block: first,
                    clear: true
                },
            ]
        );
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_safe("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_safe("a b/c"), "a_b_c");
        assert_eq!(file_safe(&"x".repeat(100)).len(), 64);
    }
}
