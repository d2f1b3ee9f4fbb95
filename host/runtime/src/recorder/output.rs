//! Where the log goes: the encoded log kept in memory, the continuous
//! stream it feeds, and the recording files forked from it for crashes and
//! snapshots. A failure to write is reported once, and recording goes on;
//! so is each limit, the first time it is met.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rewind_format::Writer;
use rewind_format::model::{Header, ThreadId};

use super::buffer::{EventBuffer, Slice};
use super::config::{RecorderEvent, Written};
use super::files::{self, Append, RequestLog};
use super::stream::Stream;

/// At most this many recording files per run: a guest that snapshots in a
/// loop cannot fill the disk. Later snapshots are markers only.
pub(super) const MAX_FILES: usize = 100;

/// The recording files of a run hold at most this many times the run's
/// byte budget in all: each file holds the whole log so far, so that a
/// hundred snapshots of a full log would otherwise take a hundred times it.
pub(super) const FILES_PER_BUDGET: u64 = 8;

/// A limit the recorder meets, said once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    /// What the guest made the host keep reached the run's budget.
    Memory,
    /// The run's recording files reached their count or their bytes.
    Files,
    /// A request's recording files reached their count.
    RequestFiles,
}

pub(super) struct Output {
    out_dir: PathBuf,
    /// The start of every file's name.
    name: String,
    /// The encoded inputs, markers and crashes so far; `None` until logging
    /// starts (a run that starts `Off` logs nothing).
    log: Option<Writer<Vec<u8>>>,
    stream: Option<Stream>,
    /// Recording files written so far, and their bytes.
    files: usize,
    file_bytes: u64,
    /// The bytes recording files may hold in all.
    max_file_bytes: u64,
    /// Whether a failure was reported already (once is enough).
    failed: bool,
    /// When the run started: every recording says how long it had run.
    started: Instant,
    /// The limits met and said.
    said: Vec<Limit>,
}

impl Output {
    /// An output into `out_dir`, its files named after `name`; `budget` is
    /// the run's byte budget, which bounds the files' bytes too.
    pub(super) fn new(out_dir: PathBuf, name: String, budget: u64) -> Output {
        Output {
            out_dir,
            name,
            log: None,
            stream: None,
            files: 0,
            file_bytes: 0,
            max_file_bytes: budget.saturating_mul(FILES_PER_BUDGET),
            failed: false,
            started: Instant::now(),
            said: Vec::new(),
        }
    }

    /// Whether the log has started.
    pub(super) fn logging(&self) -> bool {
        self.log.is_some()
    }

    /// The memory the log takes: its bytes, and the strings its writer
    /// (and the stream's) keeps to intern them.
    pub(super) fn kept(&self) -> u64 {
        let log = self
            .log
            .as_ref()
            .map_or(0, |log| log.written() + log.interned_bytes());
        log + self.stream.as_ref().map_or(0, Stream::interned_bytes)
    }

    /// Starts the log, under `header`.
    pub(super) fn start_log(&mut self, header: &Header, events: &mut Vec<RecorderEvent>) {
        match Writer::new(Vec::new(), header) {
            Ok(writer) => self.log = Some(writer),
            Err(err) => self.fail(format!("starting the log: {err}"), events),
        }
    }

    /// Appends to the log and, in continuous mode, to the stream, which
    /// reaches its file at once: a killed run loses at most the batch in
    /// progress.
    pub(super) fn append(&mut self, item: Append<'_>, events: &mut Vec<RecorderEvent>) {
        let mut failures = Vec::new();
        if let Some(writer) = &mut self.log
            && let Err(err) = item.write_to(writer)
        {
            failures.push(format!("logging {}: {err}", item.what()));
        }
        if let Some(stream) = &mut self.stream
            && let Err(err) = stream.append(&item)
        {
            failures.push(stream.failure(err));
        }
        for failure in failures {
            self.fail(failure, events);
        }
    }

    /// A recording file holding the log so far, `sources` and the events
    /// `buffers` hold: a crash or a snapshot in `OnEvent` mode. The log is
    /// copied from memory to the file as it is, not into another buffer.
    pub(super) fn write_file<'a>(
        &mut self,
        sources: &BTreeMap<String, Vec<u8>>,
        buffers: impl IntoIterator<Item = (ThreadId, &'a EventBuffer)>,
        what: Written,
        events: &mut Vec<RecorderEvent>,
    ) -> Option<PathBuf> {
        let buffers: Vec<_> = buffers.into_iter().collect();
        let size = self.log.as_ref()?.written()
            + sources.values().map(|text| text.len() as u64).sum::<u64>()
            + buffers
                .iter()
                .map(|(_, buffer)| buffer.bytes() as u64)
                .sum::<u64>();
        if self.files >= MAX_FILES {
            let limit = format!("{MAX_FILES} recordings written; no more from this run");
            self.limit(Limit::Files, limit, events);
            return None;
        }
        if self.past_file_bytes(size, events) {
            return None;
        }
        let log = self.log.as_ref()?;
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        let kind = files::file_kind(&what);
        let written = files::write_recording(
            &self.out_dir,
            &self.name,
            &kind,
            log,
            sources,
            buffers,
            elapsed_ms,
        );
        let path = self.written(written, what, events)?;
        self.files += 1;
        Some(path)
    }

    /// A recording of one request of `rewind serve` alone (see
    /// `RecordingConfig::per_request_files`): its inputs, markers, crashes
    /// and events, under `header` marked as a request's (`log-complete`
    /// false: it is for the debugger, not for re-execution). At most
    /// [`MAX_FILES`] per request; the run's bytes limit holds as for any.
    pub(super) fn write_request_file(
        &mut self,
        header: &Header,
        sources: &BTreeMap<String, Vec<u8>>,
        request: RequestLog<'_>,
        what: Written,
        events: &mut Vec<RecorderEvent>,
    ) -> Option<PathBuf> {
        if *request.files >= MAX_FILES {
            let limit = format!("{MAX_FILES} recordings written for one request; no more from it");
            self.limit(Limit::RequestFiles, limit, events);
            return None;
        }
        if self.past_file_bytes(0, events) {
            return None;
        }
        let mut header = header.clone();
        header.settings.retain(|(key, _)| key != "log-complete");
        header
            .settings
            .push(("log-complete".into(), "false".into()));
        header.settings.push(("request".into(), "true".into()));
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        let kind = files::file_kind(&what);
        let written = files::write_request(
            &self.out_dir,
            &self.name,
            &kind,
            &header,
            sources,
            &request,
            elapsed_ms,
        );
        let path = self.written(written, what, events)?;
        *request.files += 1;
        Some(path)
    }

    /// Whether this run's recording files, with `size` more bytes, would
    /// pass their limit; said once when they do.
    fn past_file_bytes(&mut self, size: u64, events: &mut Vec<RecorderEvent>) -> bool {
        if self.file_bytes.saturating_add(size) <= self.max_file_bytes {
            return false;
        }
        let limit = format!(
            "this run's recordings reached {} MiB, their limit ({FILES_PER_BUDGET} times the recording's, from --max-memory); no more from this run",
            self.max_file_bytes >> 20
        );
        self.limit(Limit::Files, limit, events);
        true
    }

    /// A recording file written, its bytes counted and the listener told;
    /// or a failure to write one, said once.
    fn written(
        &mut self,
        written: std::io::Result<(PathBuf, u64)>,
        what: Written,
        events: &mut Vec<RecorderEvent>,
    ) -> Option<PathBuf> {
        match written {
            Ok((path, bytes)) => {
                self.file_bytes += bytes;
                events.push(RecorderEvent::Written {
                    path: path.clone(),
                    what,
                });
                Some(path)
            }
            Err(err) => {
                let failure = format!(
                    "cannot write a recording into {}: {err}",
                    self.out_dir.display()
                );
                self.fail(failure, events);
                None
            }
        }
    }

    /// Continuous mode begins: a stream file that gets the log so far, then
    /// grows with it. Whether it started.
    pub(super) fn start_stream(&mut self, events: &mut Vec<RecorderEvent>) -> bool {
        let Some(log) = &self.log else {
            return false;
        };
        match Stream::create(&self.out_dir, &self.name, log) {
            Ok(stream) => {
                events.push(RecorderEvent::Written {
                    path: stream.path().to_owned(),
                    what: Written::Stream,
                });
                self.stream = Some(stream);
                true
            }
            Err(err) => {
                let failure = format!("cannot start a stream in {}: {err}", self.out_dir.display());
                self.fail(failure, events);
                false
            }
        }
    }

    /// The stream's file, while there is one.
    pub(super) fn stream_path(&self) -> Option<&Path> {
        self.stream.as_ref().map(Stream::path)
    }

    /// Sends `thread`'s events to the stream.
    pub(super) fn stream_events(
        &mut self,
        thread: ThreadId,
        buffer: &EventBuffer,
        slices: &[Slice<'_>],
        events: &mut Vec<RecorderEvent>,
    ) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        if let Err(err) = stream.events(thread, buffer.names(), slices) {
            let failure = stream.failure(err);
            self.fail(failure, events);
        }
    }

    /// Sends the stream the sources it lacks, and flushes it to its file.
    pub(super) fn send_sources(
        &mut self,
        sources: &BTreeMap<String, Vec<u8>>,
        events: &mut Vec<RecorderEvent>,
    ) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        if let Err(err) = stream.send_sources(sources) {
            let failure = stream.failure(err);
            self.fail(failure, events);
        }
    }

    /// Closes the stream with an end chunk: `exit_code` when the run is
    /// over; `None` when the mode went down and nothing more follows in
    /// that file.
    pub(super) fn end_stream(&mut self, exit_code: Option<i32>, events: &mut Vec<RecorderEvent>) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        if let Err(failure) = stream.end(exit_code, elapsed_ms) {
            self.fail(failure, events);
        }
    }

    /// Tells the listener, the first time, that a limit was met.
    pub(super) fn limit(&mut self, limit: Limit, why: String, events: &mut Vec<RecorderEvent>) {
        tracing::debug!("recorder: {why}");
        if !self.said.contains(&limit) {
            self.said.push(limit);
            events.push(RecorderEvent::Failed(why));
        }
    }

    /// Tells the listener once that writing failed; recording goes on.
    pub(super) fn fail(&mut self, failure: String, events: &mut Vec<RecorderEvent>) {
        tracing::debug!("recorder: {failure}");
        if !self.failed {
            self.failed = true;
            events.push(RecorderEvent::Failed(failure));
        }
    }
}
