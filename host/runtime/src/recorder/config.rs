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
    /// The input log kept in memory stops growing here (inputs after it are
    /// not logged, and the recorder says so): a guest that reads far more
    /// than it keeps cannot make the host run out of memory. `rewind run`
    /// ties it to the guest's `--max-memory`.
    pub max_log_bytes: u64,
}

impl RecordingConfig {
    /// The settings `rewind run` starts from: record on events (crashes and
    /// snapshots), allow continuous recording, keep the last 10,000 events
    /// per thread, no live tracing, recordings named after `guest` and
    /// written into `out_dir`, an input log of 1 GiB at most.
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
            max_log_bytes: 1 << 30,
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
