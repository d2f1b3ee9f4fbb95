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
//! [`Runtime`] does all of it for `rewind run`:
//!
//! ```
//! use rewind_runtime::{
//!     ComponentCache, ComponentSource, Limits, Outcome, Recorder, RecordingConfig, Runtime,
//!     Sandbox,
//! };
//!
//! # fn main() -> anyhow::Result<()> {
//! # let app_wasm = rewind_guests::EXAMPLE_GUEST_WASM;
//! # let cache_dir = tempfile::tempdir()?;
//! # let out = tempfile::tempdir()?;
//! # let out_dir = out.path();
//! let runtime = Runtime::new()?;
//! let source = ComponentSource::from_bytes("app", std::fs::read(app_wasm)?);
//! let cache = ComponentCache::new(cache_dir.path());
//! let component = cache.load_or_compile(runtime.engine(), &source, &mut |_| {})?;
//!
//! let mut sandbox = Sandbox::new(["app", "--verbose"]);
//! sandbox.env("GREETING", "hello");
//! // Crashes and snapshots are written into `out_dir`.
//! let recorder = Recorder::new(RecordingConfig::new(&source, out_dir), |event| {
//!     eprintln!("{event:?}")
//! });
//! sandbox.record(recorder);
//! let outcome = runtime.run(&component, sandbox, &Limits::default())?;
//! assert_eq!(outcome, Outcome::Exited(0));
//! // The guest took one snapshot.
//! assert_eq!(std::fs::read_dir(out_dir)?.count(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Recording in a host of your own
//!
//! A program that already runs components in wasmtime adds the recorder to
//! its own [`Linker`](wasmtime::component::Linker) and store, as it adds
//! WASI: its store's data keeps a [`RecorderCtx`] and implements
//! [`RecorderView`], [`add_to_linker_sync`] links the recorder, and
//! [`configure`] sets what the engine needs for recordings to re-execute.
//! The [`RecordingConfig`] says which [`Mode`] to record in and where
//! recordings go: files in its `out_dir`, each announced to the
//! [`Recorder`]'s listener as a [`RecorderEvent`] (the listener is where a
//! host ships them elsewhere, to a collector say).
//!
//! ```
//! use rewind_runtime::format::{Recording, model::Event};
//! use rewind_runtime::{
//!     ComponentSource, Mode, Outcome, Recorder, RecorderCtx, RecorderEvent, RecorderView,
//!     RecordingConfig, Sandbox,
//! };
//! use wasmtime::component::{Component, Linker, ResourceTable};
//! use wasmtime::{Config, Engine, Store};
//! use wasmtime_wasi::p2::bindings::sync::Command;
//! use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
//!
//! struct Host {
//!     wasi: WasiCtx,
//!     table: ResourceTable,
//!     recorder: RecorderCtx,
//! }
//!
//! impl WasiView for Host {
//!     fn ctx(&mut self) -> WasiCtxView<'_> {
//!         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
//!     }
//! }
//!
//! impl RecorderView for Host {
//!     fn recorder(&mut self) -> &mut RecorderCtx {
//!         &mut self.recorder
//!     }
//! }
//!
//! # fn main() -> anyhow::Result<()> {
//! # let guest_wasm = rewind_guests::EXAMPLE_GUEST_WASM;
//! # let out = tempfile::tempdir()?;
//! # let out_dir = out.path();
//! let engine = Engine::new(rewind_runtime::configure(&mut Config::new()))?;
//! let mut linker = Linker::<Host>::new(&engine);
//! wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
//! rewind_runtime::add_to_linker_sync(&mut linker)?;
//!
//! // The guest's name and digest go into every recording.
//! let source = ComponentSource::from_bytes("fib", std::fs::read(guest_wasm)?);
//! let component = Component::new(&engine, source.bytes())?;
//!
//! // Record crashes and snapshots into `out_dir`; hear of each file.
//! let mut config = RecordingConfig::new(&source, out_dir);
//! config.mode = Mode::OnEvent;
//! let (written, files) = std::sync::mpsc::channel();
//! let recorder = Recorder::new(config, move |event| {
//!     if let RecorderEvent::Written { path, .. } = event {
//!         let _ = written.send(path.clone());
//!     }
//! });
//!
//! // One store per guest thread, each with its own handle on the recorder.
//! let thread = recorder.thread();
//! let wasi = Sandbox::new(["fib"]).wasi_builder(&thread)?.build();
//! let recorder = RecorderCtx::new(thread.clone());
//! let mut store = Store::new(&engine, Host { wasi, table: ResourceTable::new(), recorder });
//! let command = Command::instantiate(&mut store, &component, &linker)?;
//! let result = command.wasi_cli_run().call_run(&mut store);
//! assert_eq!(thread.finish(result), Outcome::Exited(0));
//!
//! // The guest took a snapshot: read its events back, with their values.
//! let snapshot = files.try_recv()?;
//! let recording = Recording::read(&std::fs::read(&snapshot)?)?;
//! assert_eq!(recording.header.guest_digest, source.digest());
//! let events: Vec<&Event> = recording.threads[&0]
//!     .events
//!     .iter()
//!     .flat_map(|run| &run.events)
//!     .collect();
//! assert!(matches!(events[0], Event::Call { function, .. } if function == "main"));
//! let Event::Call { function, args, .. } = events[1] else { panic!("{:?}", events[1]) };
//! assert_eq!((function.as_str(), &args[..]), ("fib", &[("n".into(), "0".into())][..]));
//! # Ok(())
//! # }
//! ```
//!
//! A recording made this way re-executes like one of `rewind run`'s: with
//! [`Runtime::replay`], or with `rewind replay` when its settings name the
//! guest's file (`guest-path`, see [`RecordingConfig::new`]).

mod cache;
mod embed;
mod engine;
mod guest_state;
mod interrupt;
mod limits;
mod outcome;
mod preinit;
mod recorder;
mod replay;
mod run;
mod sandbox;
mod serve;
mod source;

pub use cache::{CacheEvent, CompileError, ComponentCache};
pub use embed::add_to_linker_sync;
pub use engine::configure;
pub use interrupt::Interrupts;
pub use limits::{Limit, Limits};
pub use outcome::Outcome;
pub use recorder::fs_ops::describe as describe_fs_outcome;
pub use recorder::{
    Recorder, RecorderCtx, RecorderEvent, RecorderView, RecordingConfig, ThreadRecorder, Written,
};
pub use replay::{
    Divergence, Evaluate, Materialize, Progress, RecordingFile, ReplayOptions, ReplayTimeout,
    Replayed, Stop, materialized_path, remove_temporary_files,
};
/// The recording format: [`format::Recording::read`] reads a recording's
/// header, threads, inputs, markers, events and crashes.
pub use rewind_format as format;
pub use rewind_format::model::Mode;
pub use run::Runtime;
pub use sandbox::{DirGrant, Sandbox};
pub use serve::{Job, Jobs, Request, Response};
pub use source::ComponentSource;
pub use wasmtime::component::Component;
