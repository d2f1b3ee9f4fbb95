//! The Rewind recording format, version 1: the only place that defines the
//! bytes of a recording, on disk and on the wire.
//!
//! A recording is a preamble (magic and version) followed by chunks. Each
//! chunk is framed (kind, length, CRC-32), so a reader can tell a whole chunk
//! from a cut or damaged one, and a writer only ever appends whole chunks:
//! a live stream and a file are the same bytes, and a recording cut off by a
//! killed process still opens up to its last whole chunk. Strings are
//! interned (each is written once, then referred to by number) and integers
//! are variable-length, so an event takes a few bytes.
//!
//! [`Writer`] writes; [`Recording::read`] reads, tolerating a cut;
//! [`model`] has the types both use. `docs/recording-format.md` is the
//! normative specification. This crate knows nothing of wasmtime.
//!
//! ```
//! use rewind_format::{Recording, Writer};
//! use rewind_format::model::*;
//!
//! let header = Header {
//!     recording_id: [7; 16],
//!     created_unix_ms: 0,
//!     guest_name: "python".into(),
//!     guest_digest: "sha256:00".into(),
//!     mode: Mode::OnEvent,
//!     settings: vec![("hash-seed".into(), "0".into())],
//! };
//! let mut writer = Writer::new(Vec::new(), &header)?;
//! writer.inputs(0, 0, &[Input::MonotonicClock { nanos: 42 }])?;
//! let bytes = writer.end(&End { exit_code: Some(0) })?;
//!
//! let recording = Recording::read(&bytes)?;
//! assert_eq!(recording.header, header);
//! assert_eq!(recording.threads[&0].inputs, [Input::MonotonicClock { nanos: 42 }]);
//! assert!(recording.cut.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod encoding;
mod events;
mod file;
mod frame;
mod lazy;
pub mod model;
pub mod packed;

pub use file::{
    Cut, EventRun, FileError, MAX_CHUNK, MAX_DECODED, Recording, Thread, Writer, read_file,
};
pub use frame::{FrameCheck, check_frame, whole_chunks};
pub use lazy::{EventChunk, LazyEvents, RawEvent, RawEvents, StrId, ValueRef};

/// The first bytes of every recording. The high first byte and the CR LF /
/// ^Z / LF sequence catch transfers that mangle binary data (as PNG's do).
pub const MAGIC: [u8; 8] = *b"\x89RWD\r\n\x1a\n";

/// The format version this crate writes and reads.
pub const VERSION: u16 = 2;

/// Why bytes could not be read as a recording. Every variant that concerns a
/// place in the bytes names its offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not a Rewind recording (the file does not start with the recording magic)")]
    NotARecording,
    #[error(
        "recording format version {found} is not supported (this build reads versions 1 and 2)"
    )]
    Version { found: u16 },
    #[error("recording truncated at offset {offset}: missing {what}")]
    Truncated { offset: u64, what: String },
    #[error("corrupt recording at offset {offset}: {what}")]
    Corrupt { offset: u64, what: String },
    /// Decoding would take more memory than a reader allows itself
    /// ([`MAX_DECODED`]): what a chunk refers to (interned strings,
    /// compressed events) can be far larger than the chunk itself.
    #[error(
        "recording too large to decode at offset {offset}: what it holds up to there takes more than {} MiB decoded, the reader's limit",
        limit >> 20
    )]
    TooLarge { offset: u64, limit: u64 },
}

impl FormatError {
    /// The offset the error concerns, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            FormatError::Truncated { offset, .. }
            | FormatError::Corrupt { offset, .. }
            | FormatError::TooLarge { offset, .. } => Some(*offset),
            FormatError::NotARecording | FormatError::Version { .. } => None,
        }
    }
}

/// The CRC-32 of a whole recording's bytes, as a file of materialized events
/// names the recording it was made from.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}
