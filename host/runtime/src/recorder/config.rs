//! How a run is recorded, and what the recorder tells its listener.

use std::path::PathBuf;

use rewind_format::model::Mode;

use crate::source::ComponentSource;

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
    /// The byte budget of everything the guest makes the host keep for
    /// its recording: the input log, markers and crash captures (with the
    /// strings interned for them), live events and their names (each
    /// thread's buffer holds a quarter of it at most), the sources and the
    /// blocks. Past it nothing more is logged, and the recorder says so
    /// once; a run's recording files hold at most 8 times it in all. A
    /// guest that reads far more than it keeps, or snapshots with huge
    /// names in a loop, cannot make the host run out of memory. `rewind
    /// run` ties it to the guest's `--max-memory`.
    pub max_bytes: u64,
    /// Each thread after the first is a request of `rewind serve`: a crash
    /// or snapshot of one writes a recording of that request alone (its
    /// inputs, markers, crash and events, not the worker's whole history),
    /// which is for the debugger, not for re-execution; at most
    /// 100 of them per request.
    pub per_request_files: bool,
}

impl RecordingConfig {
    /// The settings `rewind run` starts from: record on events (crashes and
    /// snapshots), allow continuous recording, keep the last 10,000 events
    /// per thread, no live tracing, recordings named after `guest` and
    /// written into `out_dir`, a byte budget of 1 GiB.
    ///
    /// A recording finds its guest again for re-execution through the
    /// setting `guest-path` (the component's absolute path), which `rewind
    /// replay` reads; push it onto `settings` when the guest is a file.
    pub fn new(guest: &ComponentSource, out_dir: impl Into<PathBuf>) -> RecordingConfig {
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
            max_bytes: 1 << 30,
            per_request_files: false,
        }
    }
}

/// Something the recorder did that the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderEvent {
    /// A recording file was written (or, for a stream, started).
    Written { path: PathBuf, what: Written },
    /// Writing failed, or the recording met one of its limits (its byte
    /// budget, or the run's files): each is said once, and recording goes
    /// on as far as it can.
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
    /// The end of a run that exited with this non-zero status, in on-event
    /// mode (a crash's recording is written instead when there was one).
    Exit(i32),
}

/// The input a `poll` call logs: the indexes of the ready pollables, each
/// a little-endian `u32`.
pub(crate) const POLL: &str = "poll";
/// The input `pollable.ready` logs: one byte, 1 when it was ready.
pub(crate) const POLL_READY: &str = "poll-ready";
/// The input `pollable.block` logs when the wait ends: no bytes.
pub(crate) const POLL_BLOCK: &str = "poll-block";
/// The input an interrupt (Ctrl-C) logs when the guest takes it: its
/// position, a little-endian `u64`.
pub(crate) const INTERRUPT: &str = "interrupt";
/// The input a read of stdin logs when an interrupt ends it: no bytes.
pub(crate) const STDIN_INTERRUPTED: &str = "stdin-interrupted";
/// The setting that says a recording logs `wasi:io/poll` (older ones do
/// not, and re-execute with every pollable ready at once).
pub(crate) const POLL_SETTING: (&str, &str) = ("poll", "logged");
