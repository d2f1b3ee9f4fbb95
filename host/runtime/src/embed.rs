//! Recording in a host of your own: the recorder added to a wasmtime
//! [`Linker`] the way `wasmtime_wasi::p2::add_to_linker_sync` adds WASI.
//!
//! A store's data keeps a [`RecorderCtx`] next to its `WasiCtx` and says
//! where it is by implementing [`RecorderView`], as it implements
//! `WasiView` for WASI. [`add_to_linker_sync`] then links the
//! `rewind:recorder` interfaces, and shadows the WASI functions that bring
//! nondeterministic input (the filesystem, randomness) by versions that log
//! what they return. [`Sandbox::wasi_builder`](crate::Sandbox::wasi_builder)
//! makes the `WasiCtx` whose argv, environment, clocks and stdin are logged.
//! The crate documentation has the whole sequence as an example.

use wasmtime::Config;
use wasmtime::component::Linker;
use wasmtime_wasi::WasiView;

use crate::recorder::hooks::Paths;
use crate::recorder::{ThreadRecorder, hooks, wit};

/// One guest thread's recording state, kept in its store's data.
///
/// It holds the thread's handle on the run's [`Recorder`](crate::Recorder)
/// and what the WASI hooks need to log file reads by path.
#[derive(Debug, Default)]
pub struct RecorderCtx {
    pub(crate) thread: ThreadRecorder,
    pub(crate) paths: Paths,
}

impl RecorderCtx {
    /// The state of a store whose guest records through `thread` (from
    /// [`Recorder::thread`](crate::Recorder::thread), or
    /// [`ThreadRecorder::detached`] to record nothing).
    pub fn new(thread: ThreadRecorder) -> RecorderCtx {
        RecorderCtx {
            thread,
            paths: Paths::default(),
        }
    }

    /// The thread's handle on the recorder.
    pub fn thread(&self) -> &ThreadRecorder {
        &self.thread
    }
}

/// A store's data that records its guest: where its [`RecorderCtx`] is.
///
/// The recorder's WASI hooks reach WASI through [`WasiView`], so the same
/// data implements both.
pub trait RecorderView: WasiView {
    /// This store's recording state.
    fn recorder(&mut self) -> &mut RecorderCtx;
}

/// Adds the recorder to `linker`: the `rewind:recorder` interfaces a guest
/// calls (control, capture, trace), and logging of every filesystem and
/// random input WASI gives it.
///
/// Call it after `wasmtime_wasi::p2::add_to_linker_sync`, whose filesystem
/// and random functions it shadows (it allows shadowing for the time it
/// takes, and disallows it again). Functions the host adds of its own are
/// not logged: a recording re-executes when its guest's inputs all come
/// through WASI and `rewind:recorder`.
pub fn add_to_linker_sync<T: RecorderView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    wit::add_to_linker(linker, thread_of::<T>)?;
    hooks::add_to_linker(linker)
}

fn thread_of<T: RecorderView>(state: &mut T) -> &mut ThreadRecorder {
    &mut state.recorder().thread
}

/// Sets in `config` what recording needs of an engine: the component model,
/// and floating point that computes bit-identical results on every machine
/// (canonical NaNs, deterministic relaxed SIMD), which re-execution relies
/// on. Every recording says so in its settings.
pub fn configure(config: &mut Config) -> &mut Config {
    config.wasm_component_model(true);
    crate::run::deterministic_floats(config);
    config
}
