//! Recording in a host of your own: the recorder added to a wasmtime
//! [`Linker`] the way `wasmtime_wasi::p2::add_to_linker_sync` adds WASI.
//!
//! A store's data keeps a [`RecorderCtx`](crate::RecorderCtx) next to its
//! `WasiCtx` and says where it is by implementing
//! [`RecorderView`], as it implements `WasiView` for
//! WASI. [`add_to_linker_sync`] then links the `rewind:recorder` interfaces,
//! and shadows the WASI functions that bring nondeterministic input (the
//! filesystem, randomness) by versions that log what they return.
//! [`Sandbox::wasi_builder`](crate::Sandbox::wasi_builder) makes the
//! `WasiCtx` whose argv, environment, clocks and stdin are logged, and
//! [`configure`](crate::configure) sets what the engine needs. The crate
//! documentation has the whole sequence as an example.

use wasmtime::component::Linker;

use crate::recorder::{RecorderView, hooks, wit};

/// Adds the recorder to `linker`: the `rewind:recorder` interfaces a guest
/// calls (control, capture, trace), and logging of every filesystem and
/// random input WASI gives it.
///
/// Call it after `wasmtime_wasi::p2::add_to_linker_sync`, whose filesystem
/// and random interfaces it shadows (it allows shadowing for the time it
/// takes, and disallows it again). Functions the host adds of its own are
/// not logged: a recording re-executes when its guest's inputs all come
/// through WASI and `rewind:recorder`.
pub fn add_to_linker_sync<T: RecorderView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    wit::add_to_linker(linker)?;
    hooks::add_to_linker(linker)
}
