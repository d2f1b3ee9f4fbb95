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
//! - with live tracing on, a buffer of the last N **events**, packed.
//!
//! The input log and markers are kept encoded (`rewind-format`), so they cost
//! a few bytes per input. What leaves the process depends on the mode:
//! nothing while `Off`; in `OnEvent`, a recording file per crash and per
//! snapshot; in `Continuous`, one stream file that grows as the log does and
//! is a valid recording at every chunk boundary.
//!
//! A [`Recorder`] is shared by every thread of a run; [`ThreadRecorder`] is
//! one thread's handle, kept in its store's [`RecorderCtx`]. The guest
//! reaches it through the `rewind:recorder` WIT interfaces ([`wit`]).
//!
//! The files, in the order a recording flows through them:
//!
//! - [`config`]: how a run is recorded ([`RecordingConfig`]) and what its
//!   listener hears ([`RecorderEvent`]);
//! - [`handle`]: the run's [`Recorder`] and each guest thread's
//!   [`ThreadRecorder`], with the calls a guest makes through them;
//! - [`ctx`]: the recorder in a store ([`RecorderCtx`], [`RecorderView`]);
//! - [`hooks`] and [`wit`]: where inputs and control calls come in;
//! - [`log`]: the state behind the lock — per-thread logs, buffers, modes;
//!   [`buffer`]: a thread's events, packed, as the guest sent them;
//! - [`output`], with [`stream`] and [`files`]: where the log goes, as a
//!   growing stream or whole files;
//! - [`replay`]: the same recorder in its replay role, comparing instead of
//!   logging;
//! - [`fs_ops`] and [`wire`]: how filesystem calls are named and encoded in
//!   the log, the contract both directions share.

mod buffer;
pub(crate) mod config;
mod ctx;
mod files;
pub(crate) mod fs_ops;
mod handle;
pub(crate) mod hooks;
mod log;
mod output;
pub(crate) mod replay;
mod stream;
pub mod wire;
pub(crate) mod wit;

#[cfg(test)]
mod tests;

pub use config::{RecorderEvent, RecordingConfig, Written};
pub use ctx::{RecorderCtx, RecorderView};
pub use handle::{Recorder, ThreadRecorder};
pub(crate) use log::ThreadEnd;
