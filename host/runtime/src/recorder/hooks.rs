//! Where the recorder stands between WASI and the host: every
//! nondeterministic input a guest can receive passes through one of these
//! on its way in and is logged, unchanged.
//!
//! wasmtime-wasi has hooks for clocks and stdin (the `WasiCtxBuilder` takes
//! them as trait objects). The filesystem and randomness have none that fit,
//! so [`add_to_linker`] shadows their functions in the linker by versions that
//! call wasmtime-wasi's own and log what they return: every filesystem call,
//! not only reads, since what `stat` or a directory listing says decides what
//! the guest does next just as much.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rewind_format::model::Input;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::cli::{IsTerminal, StdinStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::HostDirectoryEntryStream as _;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{self as fs, HostDescriptor as _};
use wasmtime_wasi::p2::{
    DynInputStream, FsResult, InputStream, Pollable, StreamError, StreamResult,
};
use wasmtime_wasi::random::WasiRandomView;

use super::ThreadRecorder;
use super::wire::{self, Wire};
use crate::embed::RecorderView;

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
            // The end of a stream is an input too: re-execution must end it
            // where it ended.
            Err(StreamError::Closed) => match &self.source {
                Source::Stdin => self.log.input(Input::Other {
                    name: "stdin-closed".to_owned(),
                    data: Default::default(),
                }),
                Source::File { path, .. } => self.log.input(Input::Fs {
                    op: "stream-closed".to_owned(),
                    path: path.clone(),
                    result: Default::default(),
                }),
            },
            Err(StreamError::LastOperationFailed(_)) => {
                if let Source::File { path, .. } = &self.source {
                    self.log.input(Input::Fs {
                        op: "stream-failed".to_owned(),
                        path: path.clone(),
                        result: Default::default(),
                    })
                }
            }
            Err(StreamError::Trap(_)) => {}
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
    pub(crate) fn insert(&mut self, rep: u32, path: String) {
        self.by_rep.insert(rep, path);
    }

    pub(crate) fn get(&self, rep: u32) -> String {
        self.by_rep
            .get(&rep)
            .cloned()
            .unwrap_or_else(|| "<unknown>".to_owned())
    }

    /// The guest path that `path`, relative to descriptor `rep`, names.
    pub(crate) fn at(&self, rep: u32, path: &str) -> String {
        join(&self.get(rep), path)
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

/// The WASI interfaces the hooks shadow.
pub(crate) const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";
pub(crate) const FILESYSTEM_PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";
pub(crate) const RANDOM: &str = "wasi:random/random@0.2.12";
pub(crate) const INSECURE_RANDOM: &str = "wasi:random/insecure@0.2.12";

/// Shadows the `wasi:filesystem` and `wasi:random` functions in `linker` by
/// versions that log what they return.
pub(crate) fn add_to_linker<V: RecorderView>(linker: &mut Linker<V>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let result = shadow_random(linker).and_then(|()| shadow_filesystem(linker));
    linker.allow_shadowing(false);
    result
}

/// Random bytes are logged a call at a time, as the guest received them.
fn shadow_random<V: RecorderView>(linker: &mut Linker<V>) -> anyhow::Result<()> {
    let mut random = linker.instance(RANDOM)?;
    random.func_wrap("get-random-bytes", |mut store, (len,): (u64,)| {
        let state = store.data_mut();
        let bytes = wasmtime_wasi::p2::bindings::sync::random::random::Host::get_random_bytes(
            WasiRandomView::random(state),
            len,
        )?;
        state.recorder().thread.input(Input::Random {
            data: bytes[..].into(),
        });
        Ok((bytes,))
    })?;
    random.func_wrap("get-random-u64", |mut store, (): ()| {
        let state = store.data_mut();
        let value = wasmtime_wasi::p2::bindings::sync::random::random::Host::get_random_u64(
            WasiRandomView::random(state),
        )?;
        state.recorder().thread.input(Input::Random {
            data: value.to_le_bytes()[..].into(),
        });
        Ok((value,))
    })?;
    let mut insecure = linker.instance(INSECURE_RANDOM)?;
    insecure.func_wrap("get-insecure-random-bytes", |mut store, (len,): (u64,)| {
        let state = store.data_mut();
        let bytes =
            wasmtime_wasi::p2::bindings::sync::random::insecure::Host::get_insecure_random_bytes(
                WasiRandomView::random(state),
                len,
            )?;
        state.recorder().thread.input(Input::InsecureRandom {
            data: bytes[..].into(),
        });
        Ok((bytes,))
    })?;
    insecure.func_wrap("get-insecure-random-u64", |mut store, (): ()| {
        let state = store.data_mut();
        let value =
            wasmtime_wasi::p2::bindings::sync::random::insecure::Host::get_insecure_random_u64(
                WasiRandomView::random(state),
            )?;
        state.recorder().thread.input(Input::InsecureRandom {
            data: value.to_le_bytes()[..].into(),
        });
        Ok((value,))
    })?;
    Ok(())
}

type Fd = Resource<fs::Descriptor>;
type Flags = fs::PathFlags;
type Stamp = fs::NewTimestamp;

/// Logs a filesystem call's outcome and hands it to the guest.
fn logged<V: RecorderView, T: Wire>(
    state: &mut V,
    op: &str,
    path: String,
    result: FsResult<T>,
) -> wasmtime::Result<Result<T, fs::ErrorCode>> {
    let result = fs_result(result)?;
    log_fs(state, op, path, &result);
    Ok(result)
}

fn log_fs<V: RecorderView, T: Wire>(state: &mut V, op: &str, path: String, result: &T) {
    if state.recorder().thread.recorder().is_some() {
        state.recorder().thread.input(Input::Fs {
            op: op.to_owned(),
            path,
            result: wire::encode(result)[..].into(),
        });
    }
}

/// Logs a call that returns a resource: whether it succeeded.
fn logged_resource<V: RecorderView, T>(
    state: &mut V,
    op: &str,
    path: String,
    result: FsResult<Resource<T>>,
) -> wasmtime::Result<Result<Resource<T>, fs::ErrorCode>> {
    let result = fs_result(result)?;
    let outcome: Result<(), fs::ErrorCode> = result.as_ref().map(|_| ()).map_err(|code| *code);
    log_fs(state, op, path, &outcome);
    Ok(result)
}

fn shadow_filesystem<V: RecorderView>(linker: &mut Linker<V>) -> anyhow::Result<()> {
    let mut preopens = linker.instance(FILESYSTEM_PREOPENS)?;
    preopens.func_wrap("get-directories", |mut store, (): ()| {
        let state = store.data_mut();
        let dirs = wasmtime_wasi::p2::bindings::filesystem::preopens::Host::get_directories(
            &mut state.filesystem(),
        )?;
        for (dir, path) in &dirs {
            state.recorder().paths.insert(dir.rep(), path.clone());
        }
        let paths: Vec<String> = dirs.iter().map(|(_, path)| path.clone()).collect();
        log_fs(state, "get-directories", String::new(), &paths);
        Ok((dirs,))
    })?;

    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap(
        "[method]descriptor.open-at",
        |mut store,
         (dir, path_flags, path, open_flags, flags): (
            Fd,
            Flags,
            String,
            fs::OpenFlags,
            fs::DescriptorFlags,
        )| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state
                .filesystem()
                .open_at(dir, path_flags, path, open_flags, flags);
            let result = logged_resource(state, "open-at", full.clone(), result)?;
            if let Ok(file) = &result {
                state.recorder().paths.insert(file.rep(), full);
            }
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read-via-stream",
        |mut store, (file, offset): (Fd, u64)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().read_via_stream(file, offset);
            let result = match logged_resource(state, "read-via-stream", path.clone(), result)? {
                Ok(stream) => {
                    // Take wasmtime-wasi's stream out of the table and put it
                    // back wrapped.
                    let inner: DynInputStream = state.ctx().table.delete(stream)?;
                    let logged: DynInputStream = Box::new(LoggedStream {
                        inner,
                        log: state.recorder().thread.clone(),
                        source: Source::File { path, offset },
                    });
                    Ok(state.ctx().table.push(logged)?)
                }
                Err(code) => Err(code),
            };
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read",
        |mut store, (file, len, offset): (Fd, u64, u64)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let len = len.min(MAX_READ as u64);
            let result = fs_result(state.filesystem().read(file, len, offset))?;
            // The data goes in as a file read (which keeps sources), then
            // whether the call succeeded and hit the end.
            let outcome = match &result {
                Ok((data, eof)) => {
                    if !data.is_empty() {
                        state.recorder().thread.file_read(&path, offset, data);
                    }
                    Ok(*eof)
                }
                Err(code) => Err(*code),
            };
            log_fs(state, "read", path, &outcome);
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.write-via-stream",
        |mut store, (file, offset): (Fd, u64)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().write_via_stream(file, offset);
            Ok((logged_resource(state, "write-via-stream", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.append-via-stream",
        |mut store, (file,): (Fd,)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().append_via_stream(file);
            Ok((logged_resource(state, "append-via-stream", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.advise",
        |mut store, (file, offset, len, advice): (Fd, u64, u64, fs::Advice)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().advise(file, offset, len, advice);
            Ok((logged(state, "advise", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.sync-data",
        |mut store, (file,): (Fd,)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().sync_data(file);
            Ok((logged(state, "sync-data", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.get-flags",
        |mut store, (file,): (Fd,)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().get_flags(file);
            Ok((logged(state, "get-flags", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.get-type",
        |mut store, (file,): (Fd,)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().get_type(file);
            Ok((logged(state, "get-type", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.set-size",
        |mut store, (file, size): (Fd, u64)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().set_size(file, size);
            Ok((logged(state, "set-size", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.set-times",
        |mut store, (file, atime, mtime): (Fd, Stamp, Stamp)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().set_times(file, atime, mtime);
            Ok((logged(state, "set-times", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.write",
        |mut store, (file, buffer, offset): (Fd, Vec<u8>, u64)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().write(file, buffer, offset);
            Ok((logged(state, "write", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read-directory",
        |mut store, (dir,): (Fd,)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(dir.rep());
            let result = state.filesystem().read_directory(dir);
            let result = logged_resource(state, "read-directory", path.clone(), result)?;
            if let Ok(entries) = &result {
                state.recorder().paths.insert(entries.rep(), path);
            }
            Ok((result,))
        },
    )?;
    types.func_wrap("[method]descriptor.sync", |mut store, (file,): (Fd,)| {
        let state = store.data_mut();
        let path = state.recorder().paths.get(file.rep());
        let result = state.filesystem().sync(file);
        Ok((logged(state, "sync", path, result)?,))
    })?;
    types.func_wrap(
        "[method]descriptor.create-directory-at",
        |mut store, (dir, path): (Fd, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state.filesystem().create_directory_at(dir, path);
            Ok((logged(state, "create-directory-at", full, result)?,))
        },
    )?;
    types.func_wrap("[method]descriptor.stat", |mut store, (file,): (Fd,)| {
        let state = store.data_mut();
        let path = state.recorder().paths.get(file.rep());
        let result = state.filesystem().stat(file);
        Ok((logged(state, "stat", path, result)?,))
    })?;
    types.func_wrap(
        "[method]descriptor.stat-at",
        |mut store, (dir, flags, path): (Fd, Flags, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state.filesystem().stat_at(dir, flags, path);
            Ok((logged(state, "stat-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.set-times-at",
        |mut store, (dir, flags, path, atime, mtime): (Fd, Flags, String, Stamp, Stamp)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state
                .filesystem()
                .set_times_at(dir, flags, path, atime, mtime);
            Ok((logged(state, "set-times-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.link-at",
        |mut store, (dir, flags, old, new_dir, new): (Fd, Flags, String, Fd, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &old);
            let result = state.filesystem().link_at(dir, flags, old, new_dir, new);
            Ok((logged(state, "link-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.readlink-at",
        |mut store, (dir, path): (Fd, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state.filesystem().readlink_at(dir, path);
            Ok((logged(state, "readlink-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.remove-directory-at",
        |mut store, (dir, path): (Fd, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state.filesystem().remove_directory_at(dir, path);
            Ok((logged(state, "remove-directory-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.rename-at",
        |mut store, (dir, old, new_dir, new): (Fd, String, Fd, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &old);
            let result = state.filesystem().rename_at(dir, old, new_dir, new);
            Ok((logged(state, "rename-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.symlink-at",
        |mut store, (dir, old, new): (Fd, String, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &new);
            let result = state.filesystem().symlink_at(dir, old, new);
            Ok((logged(state, "symlink-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.unlink-file-at",
        |mut store, (dir, path): (Fd, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state.filesystem().unlink_file_at(dir, path);
            Ok((logged(state, "unlink-file-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.is-same-object",
        |mut store, (file, other): (Fd, Fd)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let same = state.filesystem().is_same_object(file, other)?;
            log_fs(state, "is-same-object", path, &same);
            Ok((same,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.metadata-hash",
        |mut store, (file,): (Fd,)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(file.rep());
            let result = state.filesystem().metadata_hash(file);
            Ok((logged(state, "metadata-hash", path, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.metadata-hash-at",
        |mut store, (dir, flags, path): (Fd, Flags, String)| {
            let state = store.data_mut();
            let full = state.recorder().paths.at(dir.rep(), &path);
            let result = state.filesystem().metadata_hash_at(dir, flags, path);
            Ok((logged(state, "metadata-hash-at", full, result)?,))
        },
    )?;
    types.func_wrap(
        "[method]directory-entry-stream.read-directory-entry",
        |mut store, (entries,): (Resource<fs::DirectoryEntryStream>,)| {
            let state = store.data_mut();
            let path = state.recorder().paths.get(entries.rep());
            let result = state.filesystem().read_directory_entry(entries);
            Ok((logged(state, "read-directory-entry", path, result)?,))
        },
    )?;
    types.func_wrap(
        "filesystem-error-code",
        |mut store,
         (error,): (Resource<wasmtime_wasi::p2::bindings::sync::io::streams::Error>,)| {
            let state = store.data_mut();
            let code =
                wasmtime_wasi::p2::bindings::sync::filesystem::types::Host::filesystem_error_code(
                    &mut state.filesystem(),
                    error,
                )?;
            log_fs(state, "filesystem-error-code", String::new(), &code);
            Ok((code,))
        },
    )?;
    Ok(())
}

/// Splits wasmtime-wasi's result into the guest's error code and a trap.
pub(crate) fn fs_result<T>(
    result: wasmtime_wasi::p2::FsResult<T>,
) -> wasmtime::Result<Result<T, fs::ErrorCode>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) => Ok(Err(err.downcast()?.into())),
    }
}
