//! The recorder's state behind its lock: each thread's pending inputs,
//! markers and buffer of events, the mode, the sources the guest read, and
//! what happens on each control call and at each thread's end. Where the
//! log goes is [`Output`]'s business; when re-executing, the replay state
//! is what the calls are checked against instead.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rewind_format::model::{
    Crash, CrashReason, Event, Frame, Header, Input, Marker, MarkerKind, Mode, ThreadId,
};

use super::buffer::EventBuffer;
use super::config::{RecorderEvent, RecordingConfig, Written};
use super::files::{Append, RequestLog, STREAM_EVENTS};
use super::output::{Limit, Output};
use super::replay::{Halt, ReplayState, is_time_limit};
use crate::limits;
use crate::outcome::Outcome;

/// Inputs batched before they are encoded into the log.
const INPUT_BATCH: usize = 256;
/// Bytes of input data batched before they are encoded into the log.
const INPUT_BATCH_BYTES: usize = 64 << 10;
/// Source files kept for the recording are at most this long...
const MAX_SOURCE: usize = 4 << 20;
/// ...and all of them together at most this.
const MAX_SOURCES: usize = 64 << 20;
/// A thread's buffer of events holds at most this share of the run's
/// budget: the rest is the log's, and other threads'.
const BUFFER_SHARE: u64 = 4;
/// What a block (`revdebug.block`) costs to keep.
const BLOCK_BYTES: u64 = 32;
/// Everything the recorder keeps, behind its lock.
pub(super) struct State {
    pub(super) config: RecordingConfig,
    /// Every recording of this run shares the id; the header's template.
    header: Header,
    pub(super) mode: Mode,
    /// The log, the stream and the files it goes to.
    output: Output,
    /// Whether the log starts with the run, so that it can be re-executed.
    complete: bool,
    threads: BTreeMap<ThreadId, ThreadLog>,
    next_thread: ThreadId,
    /// `.py` files the guest read, as it read them, for the recording's
    /// source chunks, and their bytes.
    sources: BTreeMap<String, Vec<u8>>,
    source_bytes: u64,
    next_crash: u64,
    next_snapshot: u64,
    /// Each (thread, task)'s block number; a released thread's are dropped.
    blocks: HashMap<(ThreadId, u64), u64>,
    /// What the guest made the host keep reached `config.max_bytes`:
    /// nothing more is logged, which the log says with a `log-truncated`
    /// input.
    full: bool,
    /// The next block's number: counted, never taken from `blocks.len()`,
    /// which shrinks when a thread is released and would give a number
    /// that is still in use.
    next_block: u64,
    /// An unhandled exception's capture, written when its thread ends: the
    /// guest still prints the traceback (reading source files) and exits,
    /// and the recording should re-execute to that end.
    unhandled: Option<ThreadId>,
    /// Set when this recorder re-executes a recording instead of making one.
    pub(super) replay: Option<ReplayState>,
    /// The run's time limit, once it has run out.
    out_of_time: Option<limits::Limit>,
}

/// How often, in positions, a guest tells the host how far it has run
/// while recording: a host call per 65536 function entries and loop
/// iterations (25 in the whole fib benchmark) is nothing next to the run,
/// and stops a guest that is out of time within a few milliseconds.
pub(super) const REPORT_EVERY: u64 = 1 << 16;

/// How a guest thread ended, as the recorder logs it.
#[derive(Debug, Clone)]
pub(crate) enum ThreadEnd {
    Exited(i32),
    /// The VM itself stopped (a trap or a limit): the host's capture of it.
    Crashed(Crash),
}

impl ThreadEnd {
    /// How a run's [`Outcome`] is logged; `wasm_frames` are the frames that
    /// could still be read when the VM stopped, innermost first.
    pub(crate) fn new(outcome: &Outcome, wasm_frames: Vec<String>) -> ThreadEnd {
        let reason = match outcome {
            Outcome::Exited(code) => return ThreadEnd::Exited(*code),
            Outcome::LimitExceeded(limit) => CrashReason::Limit(limit.to_string()),
            Outcome::Trapped(message) => CrashReason::Trap(message.clone()),
        };
        let mut notes = vec![
            "the guest's own frames (Python's) cannot be read once the VM has stopped; \
             re-executing the recording reaches this point with them"
                .to_owned(),
        ];
        if wasm_frames.is_empty() {
            notes.push("no WebAssembly backtrace was available".to_owned());
        }
        let frames = wasm_frames
            .into_iter()
            .rev()
            .map(|function| Frame {
                function,
                file: "<wasm>".to_owned(),
                line: 0,
                locals: Vec::new(),
            })
            .collect();
        ThreadEnd::Crashed(Crash {
            id: 0,
            thread: 0,
            reason,
            exception: None,
            frames,
            notes,
        })
    }
}

#[derive(Default)]
struct ThreadLog {
    /// Inputs received and not yet encoded.
    pending: Vec<Input>,
    pending_bytes: usize,
    /// Inputs encoded into the log.
    logged: u64,
    next_marker: u64,
    /// The last events (live tracing).
    events: EventBuffer,
    /// Events sent to the stream.
    streamed_events: u64,
    /// How far the guest says it has run (`control.position`), put in the
    /// markers it sets.
    position: Option<u64>,
    /// The guest was stopped at `position` because its time ran out.
    stopped_at_position: bool,
    /// The thread's guest is done; its log stays for `snapshotall`.
    finished: bool,
    /// The guest reported an unhandled crash of this thread (a Rust panic
    /// hook does, just before the abort traps).
    crashed: bool,
    /// A request's own log, for its own recording files
    /// (`RecordingConfig::per_request_files`).
    own: Option<Box<OwnLog>>,
}

/// What a request logged, kept apart until it is over.
#[derive(Default)]
struct OwnLog {
    inputs: Vec<Input>,
    markers: Vec<Marker>,
    crashes: Vec<Crash>,
    /// Recording files written of this request.
    files: usize,
}

impl ThreadLog {
    fn input_pos(&self) -> u64 {
        self.logged + self.pending.len() as u64
    }
}

impl State {
    pub(super) fn new(
        config: RecordingConfig,
        header: Header,
        replay: Option<ReplayState>,
    ) -> State {
        let output = Output::new(
            config.out_dir.clone(),
            config.name.clone(),
            config.max_bytes,
        );
        State {
            config,
            header,
            mode: Mode::Off,
            output,
            complete: true,
            threads: BTreeMap::new(),
            next_thread: 0,
            sources: BTreeMap::new(),
            source_bytes: 0,
            next_crash: 0,
            next_snapshot: 0,
            blocks: HashMap::new(),
            full: false,
            next_block: 0,
            unhandled: None,
            replay,
            out_of_time: None,
        }
    }

    /// A new logical thread, with an empty log.
    pub(super) fn new_thread(&mut self) -> ThreadId {
        let thread = self.next_thread;
        self.next_thread += 1;
        let own = (self.config.per_request_files && thread > 0).then(Box::default);
        self.threads.insert(
            thread,
            ThreadLog {
                own,
                ..ThreadLog::default()
            },
        );
        thread
    }

    /// A source file the host knows the guest runs.
    pub(super) fn add_source(&mut self, path: &str, text: &str) {
        let old = self
            .sources
            .insert(path.to_owned(), text.as_bytes().to_vec());
        self.source_bytes += text.len() as u64;
        self.source_bytes -= old.map_or(0, |old| old.len() as u64);
    }

    /// Keeps what the guest read of a source file, for the recording's
    /// source chunks.
    pub(super) fn keep_source(&mut self, path: &str, offset: u64, data: &[u8]) {
        // Sources are a courtesy: past their limits, or past the budget
        // (which the input read says), they are not kept.
        if self.source_bytes as usize + data.len() > MAX_SOURCES || !self.fits(data.len()) {
            return;
        }
        // The file as the guest read it: reads may restart at 0 or overlap
        // (a probe of its first bytes, then the whole).
        let text = self.sources.entry(path.to_owned()).or_default();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(data.len());
        if start <= text.len() && end <= MAX_SOURCE {
            if text.len() < end {
                self.source_bytes += (end - text.len()) as u64;
                text.resize(end, 0);
            }
            text[start..end].copy_from_slice(data);
        }
    }

    /// `setrecmode`: the mode asked for, capped; returns the mode in effect.
    pub(super) fn request_mode(
        &mut self,
        thread: ThreadId,
        requested: Mode,
        events: &mut Vec<RecorderEvent>,
    ) -> Mode {
        let effective = requested.min(self.config.max_mode);
        self.set_mode(effective, events);
        self.marker(
            thread,
            MarkerKind::ModeChange {
                requested,
                effective,
            },
            events,
        );
        effective
    }

    /// `snapshot` and `snapshotall`: returns the snapshot's name.
    pub(super) fn snapshot(
        &mut self,
        thread: ThreadId,
        name: Option<String>,
        all: bool,
        events: &mut Vec<RecorderEvent>,
    ) -> String {
        self.next_snapshot += 1;
        let name = name.unwrap_or_else(|| format!("snapshot-{}", self.next_snapshot));
        self.marker(
            thread,
            MarkerKind::Snapshot {
                name: name.clone(),
                all,
            },
            events,
        );
        let threads = self.scope(thread, all);
        if self.replay.is_some() {
            if self.mode != Mode::Off {
                self.capture(thread, &threads);
            }
            return name;
        }
        match self.mode {
            Mode::Off => {}
            Mode::OnEvent => {
                self.write_file(&threads, Written::Snapshot(name.clone()), events);
            }
            Mode::Continuous => {
                self.flush_stream(events);
                self.flushed(events);
            }
        }
        name
    }

    /// `clear` and `clearall`.
    pub(super) fn clear(
        &mut self,
        thread: ThreadId,
        all: bool,
        flush: bool,
        events: &mut Vec<RecorderEvent>,
    ) {
        self.marker(thread, MarkerKind::Clear { all, flush }, events);
        if flush && self.mode == Mode::Continuous {
            self.flush_stream(events);
        }
        for thread in self.scope(thread, all) {
            if let Some(log) = self.threads.get_mut(&thread) {
                log.events.clear();
                // Events never sent are gone: the stream has a hole.
                log.streamed_events = log.streamed_events.max(log.events.total());
            }
        }
    }

    /// `flush`.
    pub(super) fn flush(&mut self, thread: ThreadId, events: &mut Vec<RecorderEvent>) {
        self.marker(thread, MarkerKind::Flush, events);
        if self.mode == Mode::Continuous {
            self.flush_stream(events);
            self.flushed(events);
        }
    }

    /// `block`: returns the block's number, the same for the same task.
    pub(super) fn block(
        &mut self,
        thread: ThreadId,
        task: u64,
        clear: bool,
        events: &mut Vec<RecorderEvent>,
    ) -> u64 {
        let (block, existed) = match self.blocks.get(&(thread, task)) {
            Some(block) => (*block, true),
            // Past the budget a new block is not kept (its marker is not
            // logged either).
            None if !self.fits(BLOCK_BYTES as usize) => {
                let block = self.next_block;
                self.next_block += 1;
                (block, false)
            }
            None => {
                let block = self.next_block;
                self.next_block += 1;
                self.blocks.insert((thread, task), block);
                (block, false)
            }
        };
        self.marker(
            thread,
            MarkerKind::Block {
                block,
                clear: clear && existed,
            },
            events,
        );
        block
    }

    /// A thread nothing will refer to again: what it logged goes to the log,
    /// and the rest of it is forgotten.
    pub(super) fn release(&mut self, thread: ThreadId, events: &mut Vec<RecorderEvent>) {
        self.commit_inputs(thread, events);
        if self.mode == Mode::Continuous {
            self.stream_events(thread, events);
        }
        self.threads.remove(&thread);
        self.blocks.retain(|(owner, _), _| *owner != thread);
    }

    /// Changes the mode in effect, starting the log or the stream as needed.
    pub(super) fn set_mode(&mut self, mode: Mode, events: &mut Vec<RecorderEvent>) {
        if self.replay.is_some() {
            self.mode = mode;
            return;
        }
        if mode > Mode::Off && !self.output.logging() {
            // Logging starts now. A run that started `Off` has lost its
            // first inputs: its recordings say so and cannot be re-executed.
            self.complete = self.threads.is_empty();
            let mut header = self.header.clone();
            header.mode = mode;
            header
                .settings
                .push(("log-complete".to_owned(), self.complete.to_string()));
            self.output.start_log(&header, events);
        }
        if mode == Mode::Continuous && self.output.stream_path().is_none() {
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

    pub(super) fn input(
        &mut self,
        thread: ThreadId,
        input: Input,
        events: &mut Vec<RecorderEvent>,
    ) {
        if self.replay.is_some() {
            return;
        }
        if !self.output.logging() || self.full {
            return;
        }
        if !self.fits(input_bytes(&input)) {
            self.overflow(thread, events);
            return;
        }
        let log = self.threads.entry(thread).or_default();
        log.pending_bytes += input_bytes(&input);
        if let Some(own) = &mut log.own {
            own.inputs.push(input.clone());
        }
        log.pending.push(input);
        if log.pending.len() >= INPUT_BATCH || log.pending_bytes >= INPUT_BATCH_BYTES {
            self.commit_inputs(thread, events);
        }
    }

    /// The bytes the guest has made the host keep: the log, inputs waiting
    /// to join it, every thread's events and names, the sources and the
    /// blocks.
    fn kept(&self) -> u64 {
        let threads: u64 = self
            .threads
            .values()
            .map(|log| (log.pending_bytes + log.events.bytes()) as u64)
            .sum();
        self.output.kept() + threads + self.source_bytes + BLOCK_BYTES * self.blocks.len() as u64
    }

    /// Whether `bytes` more stay within the run's budget. Re-execution
    /// keeps no log, and its events are what it is for: it has none.
    fn fits(&self, bytes: usize) -> bool {
        self.replay.is_some() || self.kept().saturating_add(bytes as u64) <= self.config.max_bytes
    }

    /// What the guest made the host keep reached the budget: the log ends
    /// here, which `thread`'s inputs say, and the user hears it once.
    fn overflow(&mut self, thread: ThreadId, events: &mut Vec<RecorderEvent>) {
        if self.full || self.replay.is_some() {
            return;
        }
        self.full = true;
        let limit = self.config.max_bytes;
        self.output.limit(
            Limit::Memory,
            format!(
                "the recording passed {} MiB, its limit (the run's --max-memory); what the guest does after this point (inputs, markers, crash captures, events) is not recorded, and the recording cannot be re-executed past it",
                limit >> 20
            ),
            events,
        );
        if !self.output.logging() {
            return;
        }
        let log = self.threads.entry(thread).or_default();
        log.pending.push(Input::Other {
            name: "log-truncated".to_owned(),
            data: Default::default(),
        });
        self.commit_inputs(thread, events);
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

    fn append(&mut self, item: Append<'_>, events: &mut Vec<RecorderEvent>) {
        self.output.append(item, events);
    }

    fn commit_all_inputs(&mut self, events: &mut Vec<RecorderEvent>) {
        for thread in self.all_threads() {
            self.commit_inputs(thread, events);
        }
    }

    pub(super) fn marker(
        &mut self,
        thread: ThreadId,
        kind: MarkerKind,
        events: &mut Vec<RecorderEvent>,
    ) {
        if let Some(replay) = &mut self.replay {
            replay.marker(thread, &kind);
            return;
        }
        if !self.output.logging() || self.full {
            return;
        }
        if !self.fits(marker_bytes(&kind)) {
            self.overflow(thread, events);
            return;
        }
        self.commit_inputs(thread, events);
        let log = self.threads.entry(thread).or_default();
        let marker = Marker {
            seq: log.next_marker,
            input_pos: log.input_pos(),
            position: log.position,
            kind,
        };
        log.next_marker += 1;
        if let Some(own) = &mut log.own {
            own.markers.push(marker.clone());
        }
        self.append(Append::Marker(thread, &marker), events);
    }

    /// Events the guest sent as text.
    pub(super) fn events(
        &mut self,
        thread: ThreadId,
        batch: Vec<Event>,
        events: &mut Vec<RecorderEvent>,
    ) {
        if self.mode == Mode::Off || self.full {
            return;
        }
        if !self.fits(batch.iter().map(event_bytes).sum()) {
            self.overflow(thread, events);
            return;
        }
        let log = self.threads.entry(thread).or_default();
        let added = log.events.text(&batch);
        if let Some(replay) = &mut self.replay {
            replay.events(thread, &log.events, added);
        }
        self.kept_events(thread, events);
    }

    /// Events the guest packed: `count` of them in `body`. A malformed
    /// batch is dropped, and the failure reported.
    /// The guest has run to `at` (see `control.position`). Returns where it
    /// should say so again: every [`REPORT_EVERY`] positions, so that the
    /// host always knows where the guest is to within that many, and can
    /// stop a guest that is out of time at a position; re-execution asks
    /// more often, for its progress.
    pub(super) fn position(&mut self, thread: ThreadId, at: u64) -> Result<u64, Halt> {
        if let Some(replay) = &mut self.replay {
            return replay.position(at);
        }
        let log = self.threads.entry(thread).or_default();
        log.position = Some(at);
        if let Some(limit) = self.out_of_time {
            log.stopped_at_position = true;
            return Err(Halt::Limit(limit));
        }
        Ok(at.saturating_add(REPORT_EVERY))
    }

    /// The run's time ran out: stop `thread` at the next position it tells,
    /// if it tells them.
    pub(super) fn out_of_time(&mut self, thread: ThreadId, limit: limits::Limit) -> bool {
        self.out_of_time = Some(limit);
        self.threads
            .get(&thread)
            .is_some_and(|log| log.position.is_some())
    }

    pub(super) fn packed_events(
        &mut self,
        thread: ThreadId,
        count: u32,
        body: &[u8],
        events: &mut Vec<RecorderEvent>,
    ) {
        if self.mode == Mode::Off || self.full {
            return;
        }
        if !self.fits(body.len()) {
            self.overflow(thread, events);
            return;
        }
        let log = self.threads.entry(thread).or_default();
        match log.events.packed(count, body) {
            Ok(added) => {
                if let Some(replay) = &mut self.replay {
                    replay.events(thread, &log.events, added);
                }
                self.kept_events(thread, events);
            }
            Err(why) => {
                let failure = format!("the guest sent malformed packed events: {why}");
                self.output.fail(failure, events);
            }
        }
    }

    /// New events are in `thread`'s buffer: it keeps the last ones, and the
    /// stream gets them when enough are waiting.
    fn kept_events(&mut self, thread: ThreadId, events: &mut Vec<RecorderEvent>) {
        let keep = self.config.buffer_events;
        let max_bytes = match self.replay {
            Some(_) => usize::MAX,
            None => usize::try_from(self.config.max_bytes / BUFFER_SHARE).unwrap_or(usize::MAX),
        };
        let Some(log) = self.threads.get_mut(&thread) else {
            return;
        };
        log.events.keep(keep, max_bytes);
        let unsent = log.events.total() - log.streamed_events;
        if self.mode == Mode::Continuous && unsent >= STREAM_EVENTS.min(keep.max(1)) as u64 {
            self.stream_events(thread, events);
        }
    }

    /// Sends a thread's events that the stream has not had yet.
    fn stream_events(&mut self, thread: ThreadId, events: &mut Vec<RecorderEvent>) {
        if self.output.stream_path().is_none() {
            return;
        }
        let Some(log) = self.threads.get_mut(&thread) else {
            return;
        };
        let from = log.streamed_events.max(log.events.first());
        if from >= log.events.total() {
            return;
        }
        log.streamed_events = log.events.total();
        let slices = log.events.since(from);
        self.output
            .stream_events(thread, &log.events, &slices, events);
    }

    pub(super) fn crash(
        &mut self,
        crash: Crash,
        events: &mut Vec<RecorderEvent>,
    ) -> Option<PathBuf> {
        if self.mode == Mode::Off || (!self.output.logging() && self.replay.is_none()) {
            return None;
        }
        let thread = crash.thread;
        let unhandled = crash.reason == CrashReason::Unhandled;
        if unhandled && let Some(log) = self.threads.get_mut(&thread) {
            log.crashed = true;
        }
        // Past the budget the capture is not kept, but the recording of
        // what came before is still written, as for any crash.
        let fits = self.fits(crash_bytes(&crash));
        if !fits {
            self.overflow(thread, events);
        }
        if !self.full && fits {
            let id = self.next_crash;
            self.next_crash += 1;
            let crash = Crash { id, ..crash };
            self.marker(thread, MarkerKind::Crash { crash: id }, events);
            if let Some(replay) = &mut self.replay {
                replay.crash(&crash);
                let path = PathBuf::from(&replay.recording_path);
                self.capture(thread, &[thread]);
                return Some(path);
            }
            if let Some(own) = self
                .threads
                .get_mut(&thread)
                .and_then(|log| log.own.as_mut())
            {
                own.crashes.push(crash.clone());
            }
            self.append(Append::Crash(&crash), events);
        }
        match self.mode {
            Mode::Continuous => {
                self.flush_stream(events);
                self.flushed(events);
                let path = self.output.stream_path()?.to_owned();
                events.push(RecorderEvent::Written {
                    path: path.clone(),
                    what: Written::Crash,
                });
                Some(path)
            }
            _ if unhandled => {
                self.unhandled = Some(thread);
                None
            }
            _ => self.write_file(&[thread], Written::Crash, events),
        }
    }

    pub(super) fn finish(
        &mut self,
        thread: ThreadId,
        end: ThreadEnd,
        events: &mut Vec<RecorderEvent>,
    ) {
        let exit_code = match end {
            ThreadEnd::Exited(code) => {
                self.marker(thread, MarkerKind::Exit { code }, events);
                Some(code)
            }
            // The guest captured this crash itself just before the VM
            // stopped (a Rust panic hook, then the abort's trap): its
            // capture, with the message, is the one kept.
            ThreadEnd::Crashed(_) if self.threads.get(&thread).is_some_and(|log| log.crashed) => {
                None
            }
            ThreadEnd::Crashed(crash) => {
                // Stopped by its time limit, but not at a position: in a host
                // call or a computation, before the next position it would
                // have told, which is where a re-execution is to stop at
                // the latest.
                if is_time_limit(&crash.reason)
                    && let Some(log) = self.threads.get_mut(&thread)
                    && !log.stopped_at_position
                {
                    log.position = log.position.map(|at| at.saturating_add(REPORT_EVERY));
                }
                self.crash(Crash { thread, ..crash }, events);
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
        } else if let Some(code) = exit_code.filter(|code| *code != 0)
            && self.records_exit(thread)
        {
            // A failed job leaves a recording to re-execute and debug, as a
            // crash does.
            self.write_file(&[thread], Written::Exit(code), events);
        }
        if self.threads.values().all(|log| log.finished) {
            self.end_stream(Some(exit_code), events);
        }
    }

    /// Whether a non-zero exit of `thread` gets a recording of its own: in
    /// on-event mode, recording, when no crash of it was written as it
    /// ended, and not a request's thread (a server's requests have theirs).
    fn records_exit(&self, thread: ThreadId) -> bool {
        self.replay.is_none()
            && self.mode == Mode::OnEvent
            && self.output.logging()
            && self
                .threads
                .get(&thread)
                .is_none_or(|log| !log.crashed && log.own.is_none())
    }

    /// Re-execution reached a snapshot or a crash of `at_thread`: keep the
    /// window of each thread's buffer the recording would have carried.
    fn capture(&mut self, at_thread: ThreadId, threads: &[ThreadId]) {
        let Some(replay) = &mut self.replay else {
            return;
        };
        for thread in threads {
            if let Some(log) = self.threads.get(thread) {
                replay.window(*thread, at_thread, &log.events);
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
        if let [thread] = threads
            && let Some(log) = self.threads.get_mut(thread)
            && let Some(own) = &mut log.own
        {
            // A request's recording: its own part only.
            let request = RequestLog {
                thread: *thread,
                inputs: &own.inputs,
                markers: &own.markers,
                crashes: &own.crashes,
                events: &log.events,
                files: &mut own.files,
            };
            return self.output.write_request_file(
                &self.header,
                &self.sources,
                request,
                what,
                events,
            );
        }
        self.commit_all_inputs(events);
        let buffers = threads.iter().filter_map(|thread| {
            let log = self.threads.get(thread)?;
            Some((*thread, &log.events))
        });
        self.output.write_file(&self.sources, buffers, what, events)
    }

    /// Continuous mode begins: the stream gets the log so far, then grows
    /// with it.
    fn start_stream(&mut self, events: &mut Vec<RecorderEvent>) {
        self.commit_all_inputs(events);
        if self.output.start_stream(events) {
            // Events still in the buffers go out with the stream.
            for log in self.threads.values_mut() {
                log.streamed_events = log.events.first();
            }
        }
    }

    /// Sends everything pending to the stream and flushes it to the file.
    fn flush_stream(&mut self, events: &mut Vec<RecorderEvent>) {
        if self.output.stream_path().is_none() {
            return;
        }
        self.commit_all_inputs(events);
        for thread in self.all_threads() {
            self.stream_events(thread, events);
        }
        self.output.send_sources(&self.sources, events);
    }

    /// Tells the listener the stream is up to date.
    fn flushed(&mut self, events: &mut Vec<RecorderEvent>) {
        if let Some(path) = self.output.stream_path()
            && self.replay.is_none()
        {
            events.push(RecorderEvent::Flushed {
                path: path.to_owned(),
            });
        }
    }

    /// Closes the stream, with an end chunk when the run is over
    /// (`exit_code` is then `Some`).
    fn end_stream(&mut self, exit_code: Option<Option<i32>>, events: &mut Vec<RecorderEvent>) {
        self.flush_stream(events);
        // A stream closed because the mode went down ends too: its reader
        // knows nothing more follows in that file.
        self.output.end_stream(exit_code.flatten(), events);
    }
}

/// What a marker costs in the log, at most.
fn marker_bytes(kind: &MarkerKind) -> usize {
    let text = match kind {
        MarkerKind::Snapshot { name, .. } => 2 * name.len(),
        MarkerKind::Rule { target, .. } => 2 * target.len(),
        _ => 0,
    };
    32 + text
}

/// What a crash capture costs in the log, at most (its strings are
/// interned: kept once in the log, once to intern them).
fn crash_bytes(crash: &Crash) -> usize {
    let pairs = |pairs: &[(String, String)]| -> usize {
        pairs.iter().map(|(a, b)| 2 * (a.len() + b.len()) + 4).sum()
    };
    let reason = match &crash.reason {
        CrashReason::Trap(detail) | CrashReason::Limit(detail) => detail.len(),
        _ => 0,
    };
    let exception = crash
        .exception
        .as_ref()
        .map_or(0, |e| e.type_name.len() + e.message.len());
    let frames: usize = crash
        .frames
        .iter()
        .map(|f| 2 * (f.function.len() + f.file.len()) + 8 + pairs(&f.locals))
        .sum();
    let notes: usize = crash.notes.iter().map(|note| note.len() + 2).sum();
    // With its marker.
    96 + 2 * (reason + exception + notes) + frames
}

/// What an event sent as text costs to keep, at most.
fn event_bytes(event: &Event) -> usize {
    let pairs = |pairs: &[(String, String)]| -> usize {
        pairs.iter().map(|(a, b)| 3 * a.len() + b.len() + 4).sum()
    };
    8 + match event {
        Event::Call {
            function,
            file,
            args,
            ..
        } => 3 * (function.len() + file.len()) + pairs(args),
        Event::Line { changed, .. } => pairs(changed),
        Event::Return { value } => value.len(),
        Event::Exception {
            type_name, message, ..
        } => 3 * type_name.len() + message.len(),
    }
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
