//! Where the recorder stands between WASI and the host: every
//! nondeterministic input a guest can receive passes through one of these
//! on its way in and is logged, unchanged.
//!
//! wasmtime-wasi has hooks for clocks, randomness and stdin (the
//! `WasiCtxBuilder` takes them as trait objects); file reads have none, so
//! the filesystem functions that open and read files are shadowed in the
//! linker by versions that call wasmtime-wasi's own and log what they return.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rewind_format::model::Input;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::cli::{IsTerminal, StdinStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{self as fs, HostDescriptor as _};
use wasmtime_wasi::p2::{DynInputStream, InputStream, Pollable, StreamError, StreamResult};

use super::ThreadRecorder;
use crate::run::GuestState;

/// The most one read hands over: a longer read is cut short (which WASI
/// allows), so that one input never approaches a chunk's size limit.
const MAX_READ: usize = 16 << 20;

/// The wall clock, logged at every reading.
pub(crate) struct WallClock {
    pub(crate) inner: Box<dyn HostWallClock + Send>,
    pub(crate) log: ThreadRecorder,
}

impl HostWallClock for WallClock {
    fn resolution(&self) -> Duration {
        let resolution = self.inner.resolution();
        self.log.input(Input::Other {
            name: "wall-clock-resolution".to_owned(),
            data: (resolution.as_nanos() as u64).to_le_bytes()[..].into(),
        });
        resolution
    }

    fn now(&self) -> Duration {
        let now = self.inner.now();
        self.log.input(Input::WallClock {
            secs: now.as_secs(),
            nanos: now.subsec_nanos(),
        });
        now
    }
}

/// The monotonic clock, logged at every reading (timers read it too).
pub(crate) struct MonotonicClock {
    pub(crate) inner: Box<dyn HostMonotonicClock + Send>,
    pub(crate) log: ThreadRecorder,
}

impl HostMonotonicClock for MonotonicClock {
    fn resolution(&self) -> u64 {
        let resolution = self.inner.resolution();
        self.log.input(Input::Other {
            name: "monotonic-clock-resolution".to_owned(),
            data: resolution.to_le_bytes()[..].into(),
        });
        resolution
    }

    fn now(&self) -> u64 {
        let now = self.inner.now();
        self.log.input(Input::MonotonicClock { nanos: now });
        now
    }
}

/// A random number generator whose every output is logged.
pub(crate) struct Random {
    pub(crate) inner: Box<dyn rand::Rng + Send>,
    pub(crate) log: ThreadRecorder,
    /// `wasi:random/random` (secure) or `wasi:random/insecure`.
    pub(crate) secure: bool,
}

impl Random {
    fn logged(&self, data: &[u8]) {
        let data = data.into();
        self.log.input(match self.secure {
            true => Input::Random { data },
            false => Input::InsecureRandom { data },
        });
    }
}

impl rand::TryRng for Random {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let value = self.inner.next_u32();
        self.logged(&value.to_le_bytes());
        Ok(value)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let value = self.inner.next_u64();
        self.logged(&value.to_le_bytes());
        Ok(value)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.fill_bytes(dst);
        self.logged(dst);
        Ok(())
    }
}

/// The host's stdin, every byte the guest reads of it logged.
pub(crate) struct Stdin<S> {
    pub(crate) inner: S,
    pub(crate) log: ThreadRecorder,
}

impl<S: IsTerminal> IsTerminal for Stdin<S> {
    fn is_terminal(&self) -> bool {
        self.inner.is_terminal()
    }
}

impl<S: StdinStream + Sync> StdinStream for Stdin<S> {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        // Only WASI 0.3 reads through this, and Rewind links 0.2: a guest
        // that reached it would read unlogged, so it reads nothing.
        Box::new(tokio::io::empty())
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(LoggedStream {
            inner: self.inner.p2_stream(),
            log: self.log.clone(),
            source: Source::Stdin,
        })
    }
}

/// Where a logged stream's bytes come from.
enum Source {
    Stdin,
    File { path: String, offset: u64 },
}

/// An input stream whose every read is logged.
struct LoggedStream {
    inner: Box<dyn InputStream>,
    log: ThreadRecorder,
    source: Source,
}

impl LoggedStream {
    fn logged(&mut self, result: StreamResult<Bytes>) -> StreamResult<Bytes> {
        match &result {
            Ok(data) if !data.is_empty() => match &mut self.source {
                Source::Stdin => self.log.input(Input::Stdin {
                    data: data[..].into(),
                }),
                Source::File { path, offset } => {
                    self.log.file_read(path, *offset, data);
                    *offset = offset.saturating_add(data.len() as u64);
                }
            },
            Ok(_) => {}
            Err(StreamError::Closed) => {
                if let Source::Stdin = self.source {
                    self.log.input(Input::Other {
                        name: "stdin-closed".to_owned(),
                        data: Default::default(),
                    });
                }
            }
            Err(_) => {}
        }
        result
    }
}

#[async_trait::async_trait]
impl Pollable for LoggedStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[async_trait::async_trait]
impl InputStream for LoggedStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let result = self.inner.read(size.min(MAX_READ));
        self.logged(result)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        let result = self.inner.blocking_read(size.min(MAX_READ)).await;
        self.logged(result)
    }

    // Skipped bytes are read too: what the guest skipped decides where its
    // next read starts, and re-execution must see the same.
    fn skip(&mut self, size: usize) -> StreamResult<usize> {
        self.read(size).map(|data| data.len())
    }

    async fn blocking_skip(&mut self, size: usize) -> StreamResult<usize> {
        self.blocking_read(size).await.map(|data| data.len())
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

/// The guest paths of a store's open descriptors, by resource handle, so
/// that a file read can be logged with its path.
#[derive(Debug, Default)]
pub(crate) struct Paths {
    by_rep: HashMap<u32, String>,
}

impl Paths {
    fn get(&self, rep: u32) -> String {
        self.by_rep
            .get(&rep)
            .cloned()
            .unwrap_or_else(|| "<unknown>".to_owned())
    }
}

/// `dir/path` as the guest would spell it.
fn join(dir: &str, path: &str) -> String {
    if path.starts_with('/') || dir.is_empty() {
        path.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{path}")
    } else {
        format!("{dir}/{path}")
    }
}

/// Shadows the `wasi:filesystem` functions through which a guest finds and
/// reads files, so that what it reads is logged with its path.
pub(crate) fn add_file_reads_to_linker(linker: &mut Linker<GuestState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let result = shadow(linker);
    linker.allow_shadowing(false);
    result
}

fn shadow(linker: &mut Linker<GuestState>) -> anyhow::Result<()> {
    const TYPES: &str = "wasi:filesystem/types@0.2.12";
    const PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";

    let mut preopens = linker.instance(PREOPENS)?;
    preopens.func_wrap("get-directories", |mut store, (): ()| {
        let state = store.data_mut();
        let dirs = wasmtime_wasi::p2::bindings::filesystem::preopens::Host::get_directories(
            &mut state.filesystem(),
        )?;
        for (dir, path) in &dirs {
            state.paths.by_rep.insert(dir.rep(), path.clone());
        }
        Ok((dirs,))
    })?;

    let mut types = linker.instance(TYPES)?;
    types.func_wrap(
        "[method]descriptor.open-at",
        |mut store,
         (dir, path_flags, path, open_flags, flags): (
            Resource<fs::Descriptor>,
            fs::PathFlags,
            String,
            fs::OpenFlags,
            fs::DescriptorFlags,
        )| {
            let state = store.data_mut();
            let full = join(&state.paths.get(dir.rep()), &path);
            let result = state
                .filesystem()
                .open_at(dir, path_flags, path, open_flags, flags);
            let result = fs_result(result)?;
            if let Ok(file) = &result {
                state.paths.by_rep.insert(file.rep(), full);
            }
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read-via-stream",
        |mut store, (file, offset): (Resource<fs::Descriptor>, u64)| {
            let state = store.data_mut();
            let path = state.paths.get(file.rep());
            let result = fs_result(state.filesystem().read_via_stream(file, offset))?;
            let result = match result {
                Ok(stream) => {
                    // Take wasmtime-wasi's stream out of the table and put it
                    // back wrapped.
                    let inner: DynInputStream = state.table.delete(stream)?;
                    let logged: DynInputStream = Box::new(LoggedStream {
                        inner,
                        log: state.recorder.clone(),
                        source: Source::File { path, offset },
                    });
                    Ok(state.table.push(logged)?)
                }
                Err(code) => Err(code),
            };
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read",
        |mut store, (file, len, offset): (Resource<fs::Descriptor>, u64, u64)| {
            let state = store.data_mut();
            let path = state.paths.get(file.rep());
            let len = len.min(MAX_READ as u64);
            let result = fs_result(state.filesystem().read(file, len, offset))?;
            if let Ok((data, _eof)) = &result
                && !data.is_empty()
            {
                state.recorder.file_read(&path, offset, data);
            }
            Ok((result,))
        },
    )?;
    Ok(())
}

/// Splits wasmtime-wasi's result into the guest's error code and a trap.
fn fs_result<T>(
    result: wasmtime_wasi::p2::FsResult<T>,
) -> wasmtime::Result<Result<T, fs::ErrorCode>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) => Ok(Err(err.downcast()?.into())),
    }
}
