//! What runtimes and the collector say to each other: the JSON bodies and
//! the rules for names. `docs/collector-api.md` is the specification.

use rewind_format::model::Mode;
use serde::{Deserialize, Serialize};

/// The version prefix of every path of the API.
pub const API: &str = "/v1";

/// What the collector allows, as `GET /v1/policy` publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The highest recording mode a runtime may use: `off`, `on-event` or
    /// `continuous`.
    #[serde(with = "mode_name")]
    pub max_mode: Mode,
    /// The largest body of one request: a frame of a stream, or a whole
    /// recording when it is smaller than `max_recording_bytes`.
    pub max_frame_bytes: u64,
    /// The largest recording the collector keeps.
    pub max_recording_bytes: u64,
    /// Whether requests need `Authorization: Bearer` (this one included: a
    /// runtime learns at start whether its token is good).
    pub token_required: bool,
}

/// How a recording came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An unhandled exception, `revdebug.exception()`, or a crash of the VM.
    Crash,
    /// `revdebug.snapshot()` or `snapshotall()`.
    Snapshot,
    /// A continuous stream, sent frame by frame.
    Stream,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::Snapshot => "snapshot",
            Kind::Stream => "stream",
        }
    }
}

/// One stored recording, as `GET /v1/recordings` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingInfo {
    pub id: String,
    pub kind: Kind,
    /// The name the runtime gave: the script's, or the component's.
    pub script: String,
    /// The guest component's name and digest, from the recording's header.
    pub guest: String,
    pub guest_digest: String,
    /// When recording started, from the header (milliseconds since the Unix
    /// epoch).
    pub created_unix_ms: u64,
    /// When the collector first stored a byte of it.
    pub received_unix_ms: u64,
    /// Bytes stored (and acknowledged).
    pub size: u64,
    /// Whether the recording ends with its end chunk: a stream becomes
    /// complete when its last frame arrives; one cut short (its runtime was
    /// killed) stays incomplete and reads up to its last frame.
    pub complete: bool,
}

/// The answer to a frame or a whole recording: how much of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub id: String,
    /// Bytes of the recording stored so far, all of them acknowledged.
    pub acked: u64,
    pub complete: bool,
}

/// The body of every 4xx and 5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// For a frame at the wrong offset: where the next frame must start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<u64>,
}

/// Whether `id` can name a recording: 1 to 128 of `A-Z a-z 0-9 . _ -`, not
/// starting with a dot. Ids become object names, so nothing else gets in.
pub fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Modes by the names the CLI and the API use.
pub mod mode_name {
    use rewind_format::model::Mode;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn name(mode: Mode) -> &'static str {
        match mode {
            Mode::Off => "off",
            Mode::OnEvent => "on-event",
            Mode::Continuous => "continuous",
        }
    }

    /// A mode by its CLI name or RevDeBug's, in any case.
    pub fn parse(name: &str) -> Option<Mode> {
        match name.to_ascii_lowercase().as_str() {
            "off" => Some(Mode::Off),
            "on-event" | "onevent" | "crash" => Some(Mode::OnEvent),
            "continuous" | "live" => Some(Mode::Continuous),
            _ => None,
        }
    }

    pub fn serialize<S: Serializer>(mode: &Mode, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(name(*mode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Mode, D::Error> {
        let name = String::deserialize(deserializer)?;
        parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown mode {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_names() {
        assert!(valid_id("hello-20261122-101500-crash-1a2b3c4d"));
        for bad in ["", ".hidden", "a/b", "..", "a b", "ü", &"x".repeat(129)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_policy_reads_back() {
        let policy = Policy {
            max_mode: Mode::OnEvent,
            max_frame_bytes: 1,
            max_recording_bytes: 2,
            token_required: false,
        };
        let json = serde_json::to_string(&policy).unwrap();
        assert!(json.contains(r#""max_mode":"on-event""#), "{json}");
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy);
    }
}
