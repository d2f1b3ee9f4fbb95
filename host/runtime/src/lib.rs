//! Rewind's host runtime: run guest components in wasmtime, sandboxed and
//! limited, with their compiled form cached on disk.
//!
//! The pieces, in the order a run uses them:
//!
//! - [`Runtime`] owns the wasmtime [`Engine`](wasmtime::Engine), configured
//!   once for every guest (deterministic floating point, epoch interruption,
//!   a deep wasm stack), and the WASI linker.
//! - [`ComponentCache`] turns a [`ComponentSource`] (the guest's bytes and
//!   digest) into a compiled component, compiling only when no valid cached
//!   copy exists.
//! - [`Sandbox`] says what the guest may see: its argv, its environment, the
//!   directories granted to it. Nothing else of the host is visible.
//! - [`Limits`] bound memory and wall-clock time; [`Runtime::run`] returns an
//!   [`Outcome`] saying how the guest ended, a tripped limit included.
//! - [`Recorder`] is the flight recorder ([`Sandbox::record`] attaches it):
//!   it logs every nondeterministic input the guest receives and every
//!   control call it makes through the `rewind:recorder` WIT interfaces, and
//!   writes recordings under the [`Mode`] in effect.
//! - [`Runtime::replay`] re-executes a [`RecordingFile`] from its log, with
//!   no real I/O, checking that the guest does what it did; with tracing on
//!   it materializes the recording's events.
//!
//! ```no_run
//! use rewind_runtime::{ComponentCache, ComponentSource, Limits, Runtime, Sandbox};
//!
//! # fn main() -> anyhow::Result<()> {
//! let runtime = Runtime::new()?;
//! let wasm = std::fs::read("app.wasm")?;
//! let source = ComponentSource::from_bytes("app", wasm);
//! let cache = ComponentCache::new(ComponentCache::default_dir().unwrap());
//! let component = cache.load_or_compile(runtime.engine(), &source, &mut |_| {})?;
//!
//! let mut sandbox = Sandbox::new(["app", "--verbose"]);
//! sandbox.env("GREETING", "hello");
//! let outcome = runtime.run(&component, sandbox, &Limits::default())?;
//! println!("{outcome}");
//! # Ok(())
//! # }
//! ```

mod cache;
mod limits;
mod preinit;
mod recorder;
mod replay;
mod run;
mod sandbox;
mod serve;

pub use cache::{CacheEvent, ComponentCache, ComponentSource};
pub use limits::{Limit, Limits};
pub use recorder::wire::describe as describe_fs_outcome;
pub use recorder::{Recorder, RecorderEvent, RecordingConfig, ThreadRecorder, Written};
pub use replay::{
    Divergence, Materialize, Progress, RecordingFile, ReplayOptions, Replayed, Stop,
    materialized_path,
};
pub use rewind_format::model::Mode;
pub use run::{Outcome, Runtime};
pub use sandbox::{DirGrant, Sandbox};
pub use serve::{Job, Jobs, Request, Response};
pub use wasmtime::component::Component;
