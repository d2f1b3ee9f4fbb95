//! Rewind's collector: the HTTP service runtimes send recordings to, and
//! the client they send them with.
//!
//! - [`server`]: `rewind collect` — publishes its policy (the highest
//!   recording mode it allows), takes continuous streams frame by frame and
//!   crash and snapshot recordings whole, acknowledges each once it is
//!   stored, lists recordings and serves them for replay.
//! - [`store`]: where recordings are kept, through `object_store`: a local
//!   directory, or an S3-compatible bucket.
//! - [`client`]: the requests, for runtimes, `rewind recordings` and
//!   `rewind replay ID`.
//! - [`uploader`]: a runtime's spill queue on disk and the thread that
//!   empties it, with retries and backoff, never making the guest wait.
//! - [`protocol`]: the JSON bodies; `docs/collector-api.md` specifies the
//!   API.
//!
//! The bytes sent are recordings in the format of `rewind-format`: a
//! stream's frames are runs of whole chunks, so what the collector has
//! stored of a stream is always a recording readable up to its last frame.

pub mod client;
pub mod protocol;
pub mod server;
pub mod store;
pub mod uploader;

pub use client::{Client, ClientError};
pub use protocol::{Ack, Kind, Policy, RecordingInfo};
pub use server::ServerConfig;
pub use store::Store;
pub use uploader::{Report, Summary, Uploader};
