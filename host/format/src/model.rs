//! What a recording holds, decoded: the types the writer takes and the reader
//! returns. Strings here are resolved; interning is the encoding's business.

use serde::Serialize;

/// A logical guest thread: one log of inputs, markers and events.
pub type ThreadId = u32;

/// Who recorded what, under which settings. The first chunk of every file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Random, so that the chunks of one stream can be told from another's.
    pub recording_id: [u8; 16],
    /// When recording started, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// The guest component's short name, e.g. `python`.
    pub guest_name: String,
    /// `sha256:<hex>` of the guest component: re-execution needs the same one.
    pub guest_digest: String,
    /// The effective recording mode when the run started.
    pub mode: Mode,
    /// Everything else that affects execution (hash seed, limits, engine
    /// determinism settings, versions), as ordered key/value pairs.
    pub settings: Vec<(String, String)>,
}

/// RevDeBug's recording modes, ordered `Off < OnEvent < Continuous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Off,
    OnEvent,
    Continuous,
}

impl Mode {
    /// The mode's name as the CLI and the JSON spell it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::OnEvent => "on-event",
            Mode::Continuous => "continuous",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The text of a source file the guest ran, so the recording replays where
/// the file is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// One nondeterministic input the guest received, in the order it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Input {
    Args {
        args: Vec<String>,
    },
    Env {
        vars: Vec<(String, String)>,
    },
    Cwd {
        path: String,
    },
    Stdin {
        data: Bytes,
    },
    WallClock {
        secs: u64,
        nanos: u32,
    },
    MonotonicClock {
        nanos: u64,
    },
    Random {
        data: Bytes,
    },
    InsecureRandom {
        data: Bytes,
    },
    FileRead {
        path: String,
        offset: u64,
        data: Bytes,
    },
    /// A filesystem call and what it returned: `op` is the WASI function
    /// (`open-at`, `stat-at`, `read-directory-entry`...), `path` the guest path
    /// it concerned, `result` its outcome in the encoding of
    /// `docs/recording-format.md`.
    Fs {
        op: String,
        path: String,
        result: Bytes,
    },
    /// An input of a kind this version does not name (forward compatibility).
    Other {
        name: String,
        data: Bytes,
    },
}

/// Raw bytes, shown in JSON as a string when they are UTF-8 and as hex
/// otherwise (see `docs/recording-format.md`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(text) => write!(f, "{text:?}"),
            Err(_) => write!(f, "<{} bytes>", self.0.len()),
        }
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match std::str::from_utf8(&self.0) {
            Ok(text) => map.serialize_entry("text", text)?,
            Err(_) => {
                let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
                map.serialize_entry("hex", &hex)?;
            }
        }
        map.end()
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        Bytes(bytes.to_vec())
    }
}

/// A control call or an event of the run, with its place in the thread's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marker {
    /// The marker's ordinal in its thread: re-execution meets the same control
    /// calls in the same order.
    pub seq: u64,
    /// How many inputs the thread had received when the marker was set.
    pub input_pos: u64,
    /// How far the guest had run when the marker was set, in its own
    /// deterministic count (for the Python guest: function entries and loop
    /// iterations since the script started); `None` when the guest did not
    /// say (recordings of format version 1, guests that do not count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(flatten)]
    pub kind: MarkerKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "marker", rename_all = "kebab-case")]
pub enum MarkerKind {
    /// `snapshot(name)`, or `snapshotall(name)` when `all`.
    Snapshot {
        name: String,
        all: bool,
    },
    /// `clear(flush)`, or `clearall(flush)` when `all`.
    Clear {
        all: bool,
        flush: bool,
    },
    /// `block(clear)`: the current task's buffer, by the host's number for it.
    Block {
        block: u64,
        clear: bool,
    },
    /// `setrecmode(requested)`, and the mode that took effect under the cap.
    ModeChange {
        requested: Mode,
        effective: Mode,
    },
    Flush,
    /// A selective-recording rule: `record(target)` or `norecord(target)`.
    Rule {
        target: String,
        record: bool,
    },
    /// A crash capture was taken (see [`Crash`] with this id).
    Crash {
        crash: u64,
    },
    /// The guest ended with this status.
    Exit {
        code: i32,
    },
}

/// A crash captured on the spot: the traceback with every frame's locals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Crash {
    pub id: u64,
    pub thread: ThreadId,
    pub reason: CrashReason,
    /// The exception's type and message, when there is one.
    pub exception: Option<ExceptionInfo>,
    /// Outermost first, as a Python traceback lists them.
    pub frames: Vec<Frame>,
    /// What the capture could not do (a stringifier that raised, a cap hit).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "kebab-case")]
pub enum CrashReason {
    /// An exception nothing handled.
    Unhandled,
    /// `revdebug.exception(...)`.
    Reported,
    /// The VM itself crashed (a trap), with what the host knows of it.
    Trap(String),
    /// A limit stopped the run (memory, time, stack).
    Limit(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionInfo {
    pub type_name: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub function: String,
    pub file: String,
    pub line: u32,
    /// Name and safe string form of each local.
    pub locals: Vec<(String, String)>,
}

/// A line-level event, as a debugger shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Call {
        function: String,
        file: String,
        line: u32,
        args: Vec<(String, String)>,
    },
    Line {
        line: u32,
        /// The locals whose value changed since the previous event of the frame.
        changed: Vec<(String, String)>,
    },
    Return {
        value: String,
    },
    Exception {
        stage: ExceptionStage,
        type_name: String,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExceptionStage {
    Raised,
    Caught,
    Unhandled,
}

/// Events materialized by re-executing a recording, kept in a file beside
/// it: which recording they came from, and where each snapshot's or crash's
/// buffer lies in them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Materialized {
    /// The recording re-executed: its length and the CRC-32 of its bytes, so
    /// that events of an older state of a growing stream are not mistaken for
    /// its own.
    pub recording_len: u64,
    pub recording_crc: u32,
    /// The buffer size each window was cut to.
    pub buffer_events: u64,
    /// Whether every event of the run was kept, not only the windows.
    pub full: bool,
    /// The position (see [`Marker::position`]) tracing started at: 0 for
    /// the whole run. The events are numbered from the first traced.
    pub traced_from: u64,
    /// How the re-execution ended, in words.
    pub outcome: String,
    pub windows: Vec<Window>,
}

/// The events a snapshot or a crash carries: events `first..end` of
/// `thread`, at marker `marker` of thread `at_thread` (a `snapshotall`
/// has a window for every thread at one marker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub thread: ThreadId,
    pub at_thread: ThreadId,
    pub marker: u64,
    pub first: u64,
    pub end: u64,
}

/// The frames running when a thread's events from event `first` on begin,
/// outermost first: a window of the last events of a run starts inside
/// calls whose call events it does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entered {
    pub thread: ThreadId,
    pub first: u64,
    pub frames: Vec<EnteredFrame>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnteredFrame {
    pub function: String,
    pub file: String,
    /// The line it was at (of its last line event, else its call's).
    pub line: u32,
}

/// The last chunk of a recording that was closed properly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct End {
    /// The guest's exit status, when it exited.
    pub exit_code: Option<i32>,
}
