//! The WASI functions a re-executed guest calls, answered from its log:
//! clocks, randomness, stdin and the whole filesystem. Nothing here touches
//! the host's clocks, random source, stdin or files.
//!
//! Descriptors are placeholders ([`ReplayFile`]): the `descriptor` resource
//! is redefined in the replay linker, so that no wasmtime-wasi function that
//! would do real I/O can be reached with one.

use bytes::Bytes;
use rewind_format::model::Input;
use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi::p2::bindings::sync::clocks::wall_clock::Datetime;
use wasmtime_wasi::p2::bindings::sync::filesystem::types as fs;
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, InputStream, OutputStream, Pollable, StreamError,
    StreamResult,
};

use crate::recorder::ThreadRecorder;
use crate::recorder::hooks;
use crate::recorder::replay::Asked;
use crate::recorder::wire::{self, Wire};
use crate::run::GuestState;

const WALL_CLOCK: &str = "wasi:clocks/wall-clock@0.2.12";
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// A descriptor during re-execution: its path is in the store's `paths`.
pub(crate) struct ReplayFile;

/// A directory listing during re-execution.
pub(crate) struct ReplayEntries;

/// Replaces, in `linker`, every WASI function whose answer comes from
/// outside the guest by one that reads it from the log.
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let result = clocks(linker)
        .and_then(|()| random(linker))
        .and_then(|()| filesystem(linker));
    linker.allow_shadowing(false);
    result
}

fn input(state: &GuestState, asked: Asked<'_>) -> wasmtime::Result<Input> {
    state.rewind.thread.replay_input(asked)
}

fn u64_of(name: &str, data: &[u8]) -> wasmtime::Result<u64> {
    let bytes: [u8; 8] = data
        .try_into()
        .map_err(|_| wasmtime::format_err!("the recording's {name} is not 8 bytes"))?;
    Ok(u64::from_le_bytes(bytes))
}

fn clocks(linker: &mut Linker<GuestState>) -> anyhow::Result<()> {
    let mut wall = linker.instance(WALL_CLOCK)?;
    wall.func_wrap("now", |store, (): ()| {
        match input(store.data(), Asked::WallClock)? {
            Input::WallClock { secs, nanos } => Ok((Datetime {
                seconds: secs,
                nanoseconds: nanos,
            },)),
            _ => unreachable!("matched by kind"),
        }
    })?;
    wall.func_wrap("resolution", |store, (): ()| {
        let Input::Other { data, .. } = input(store.data(), Asked::Other("wall-clock-resolution"))?
        else {
            unreachable!("matched by kind")
        };
        let nanos = u64_of("wall-clock resolution", &data.0)?;
        Ok((Datetime {
            seconds: nanos / 1_000_000_000,
            nanoseconds: (nanos % 1_000_000_000) as u32,
        },))
    })?;

    let mut monotonic = linker.instance(MONOTONIC_CLOCK)?;
    monotonic.func_wrap("now", |store, (): ()| {
        match input(store.data(), Asked::MonotonicClock)? {
            Input::MonotonicClock { nanos } => Ok((nanos,)),
            _ => unreachable!("matched by kind"),
        }
    })?;
    monotonic.func_wrap("resolution", |store, (): ()| {
        let Input::Other { data, .. } =
            input(store.data(), Asked::Other("monotonic-clock-resolution"))?
        else {
            unreachable!("matched by kind")
        };
        Ok((u64_of("monotonic-clock resolution", &data.0)?,))
    })?;
    // Timers are ready at once: the time they waited for has passed in the
    // recording, and the clock readings that follow say so.
    monotonic.func_wrap("subscribe-instant", |mut store, (_when,): (u64,)| {
        input(store.data(), Asked::MonotonicClock)?;
        Ok((ready(&mut store.data_mut().table)?,))
    })?;
    monotonic.func_wrap("subscribe-duration", |mut store, (_duration,): (u64,)| {
        Ok((ready(&mut store.data_mut().table)?,))
    })?;
    Ok(())
}

/// A pollable that is always ready.
struct Ready;

#[async_trait::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

fn ready(
    table: &mut wasmtime::component::ResourceTable,
) -> wasmtime::Result<Resource<DynPollable>> {
    let ready = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, ready)
}

fn random(linker: &mut Linker<GuestState>) -> anyhow::Result<()> {
    let mut random = linker.instance(hooks::RANDOM)?;
    random.func_wrap("get-random-bytes", |store, (len,): (u64,)| {
        match input(store.data(), Asked::Random { len })? {
            Input::Random { data } => Ok((data.0,)),
            _ => unreachable!("matched by kind"),
        }
    })?;
    random.func_wrap("get-random-u64", |store, (): ()| {
        match input(store.data(), Asked::Random { len: 8 })? {
            Input::Random { data } => Ok((u64_of("random u64", &data.0)?,)),
            _ => unreachable!("matched by kind"),
        }
    })?;
    let mut insecure = linker.instance(hooks::INSECURE_RANDOM)?;
    insecure.func_wrap(
        "get-insecure-random-bytes",
        |store, (len,): (u64,)| match input(store.data(), Asked::InsecureRandom { len })? {
            Input::InsecureRandom { data } => Ok((data.0,)),
            _ => unreachable!("matched by kind"),
        },
    )?;
    insecure.func_wrap("get-insecure-random-u64", |store, (): ()| {
        match input(store.data(), Asked::InsecureRandom { len: 8 })? {
            Input::InsecureRandom { data } => Ok((u64_of("insecure random u64", &data.0)?,)),
            _ => unreachable!("matched by kind"),
        }
    })?;
    Ok(())
}

/// The logged outcome of filesystem call `op` on `path`.
fn outcome<T: Wire>(state: &GuestState, op: &str, path: &str) -> wasmtime::Result<T> {
    let Input::Fs { result, .. } = input(state, Asked::Fs { op, path })? else {
        unreachable!("matched by kind")
    };
    wire::decode(&result.0).ok_or_else(|| {
        wasmtime::format_err!("the recording's outcome of {op} on {path} is malformed")
    })
}

type Fd = Resource<ReplayFile>;
type Flags = fs::PathFlags;
type Stamp = fs::NewTimestamp;
type Outcome<T> = Result<T, fs::ErrorCode>;

/// A descriptor method whose outcome is a plain value: `$path` names what
/// it concerns, given the store's state and the arguments.
macro_rules! answered {
    ($types:ident, $op:literal, ($($arg:ident: $ty:ty),*) -> $out:ty, |$state:ident| $path:expr) => {
        $types.func_wrap(
            concat!("[method]descriptor.", $op),
            |store, ($($arg,)*): ($($ty,)*)| {
                let $state = store.data();
                let path: String = $path;
                let _ = ($(&$arg,)*);
                Ok((outcome::<$out>($state, $op, &path)?,))
            },
        )?;
    };
}

fn filesystem(linker: &mut Linker<GuestState>) -> anyhow::Result<()> {
    let mut preopens = linker.instance(hooks::FILESYSTEM_PREOPENS)?;
    preopens.func_wrap("get-directories", |mut store, (): ()| {
        let state = store.data_mut();
        let paths: Vec<String> = outcome(state, "get-directories", "")?;
        let mut dirs = Vec::with_capacity(paths.len());
        for path in paths {
            let dir = state.table.push(ReplayFile)?;
            state.rewind.paths.insert(dir.rep(), path.clone());
            dirs.push((dir, path));
        }
        Ok((dirs,))
    })?;

    let mut types = linker.instance(hooks::FILESYSTEM_TYPES)?;
    types.resource(
        "descriptor",
        ResourceType::host::<ReplayFile>(),
        |mut store, rep| {
            store
                .data_mut()
                .table
                .delete(Resource::<ReplayFile>::new_own(rep))?;
            Ok(())
        },
    )?;
    types.resource(
        "directory-entry-stream",
        ResourceType::host::<ReplayEntries>(),
        |mut store, rep| {
            store
                .data_mut()
                .table
                .delete(Resource::<ReplayEntries>::new_own(rep))?;
            Ok(())
        },
    )?;

    types.func_wrap(
        "[method]descriptor.open-at",
        |mut store,
         (dir, _flags, path, _open, _descriptor): (
            Fd,
            Flags,
            String,
            fs::OpenFlags,
            fs::DescriptorFlags,
        )| {
            let state = store.data_mut();
            let full = state.rewind.paths.at(dir.rep(), &path);
            let result = match outcome::<Outcome<()>>(state, "open-at", &full)? {
                Ok(()) => {
                    let file = state.table.push(ReplayFile)?;
                    state.rewind.paths.insert(file.rep(), full);
                    Ok(file)
                }
                Err(code) => Err(code),
            };
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read-via-stream",
        |mut store, (file, offset): (Fd, u64)| {
            let state = store.data_mut();
            let path = state.rewind.paths.get(file.rep());
            let result = match outcome::<Outcome<()>>(state, "read-via-stream", &path)? {
                Ok(()) => {
                    let stream: DynInputStream = Box::new(ReplayStream {
                        log: state.rewind.thread.clone(),
                        file: Some((path, offset)),
                    });
                    Ok(state.table.push(stream)?)
                }
                Err(code) => Err(code),
            };
            Ok((result,))
        },
    )?;
    for op in ["write-via-stream", "append-via-stream"] {
        let write = move |mut store: wasmtime::StoreContextMut<'_, GuestState>, file: Fd| {
            let state = store.data_mut();
            let path = state.rewind.paths.get(file.rep());
            // What the guest writes goes nowhere: replay does no real I/O.
            let result = match outcome::<Outcome<()>>(state, op, &path)? {
                Ok(()) => {
                    let sink: DynOutputStream = Box::new(SinkOutputStream);
                    Ok(state.table.push(sink)?)
                }
                Err(code) => Err(code),
            };
            wasmtime::Result::Ok((result,))
        };
        let name = format!("[method]descriptor.{op}");
        if op == "write-via-stream" {
            types.func_wrap(&name, move |store, (file, _offset): (Fd, u64)| {
                write(store, file)
            })?;
        } else {
            types.func_wrap(&name, move |store, (file,): (Fd,)| write(store, file))?;
        }
    }
    types.func_wrap(
        "[method]descriptor.read",
        |store, (file, len, offset): (Fd, u64, u64)| {
            let state = store.data();
            let path = state.rewind.paths.get(file.rep());
            let data = match state.rewind.thread.replay_input_if(Asked::FileRead {
                path: &path,
                offset,
            }) {
                Some(Input::FileRead { data, .. }) if data.0.len() as u64 > len => {
                    return Err(wasmtime::format_err!(
                        "re-execution diverged: the guest read {len} bytes of {path} \
                         where the recording has {}",
                        data.0.len()
                    ));
                }
                Some(Input::FileRead { data, .. }) => data.0,
                _ => Vec::new(),
            };
            let result = outcome::<Outcome<bool>>(state, "read", &path)?;
            Ok((result.map(|eof| (data, eof)),))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read-directory",
        |mut store, (dir,): (Fd,)| {
            let state = store.data_mut();
            let path = state.rewind.paths.get(dir.rep());
            let result = match outcome::<Outcome<()>>(state, "read-directory", &path)? {
                Ok(()) => {
                    let entries = state.table.push(ReplayEntries)?;
                    state.rewind.paths.insert(entries.rep(), path);
                    Ok(entries)
                }
                Err(code) => Err(code),
            };
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "[method]directory-entry-stream.read-directory-entry",
        |store, (entries,): (Resource<ReplayEntries>,)| {
            let state = store.data();
            let path = state.rewind.paths.get(entries.rep());
            let result: Outcome<Option<fs::DirectoryEntry>> =
                outcome(state, "read-directory-entry", &path)?;
            Ok((result,))
        },
    )?;
    types.func_wrap(
        "filesystem-error-code",
        |store, (_error,): (Resource<wasmtime_wasi::p2::bindings::sync::io::streams::Error>,)| {
            let code: Option<fs::ErrorCode> = outcome(store.data(), "filesystem-error-code", "")?;
            Ok((code,))
        },
    )?;

    answered!(types, "advise", (file: Fd, _offset: u64, _len: u64, _advice: fs::Advice) -> Outcome<()>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "sync-data", (file: Fd) -> Outcome<()>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "get-flags", (file: Fd) -> Outcome<fs::DescriptorFlags>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "get-type", (file: Fd) -> Outcome<fs::DescriptorType>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "set-size", (file: Fd, _size: u64) -> Outcome<()>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "set-times", (file: Fd, _atime: Stamp, _mtime: Stamp) -> Outcome<()>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "write", (file: Fd, _buffer: Vec<u8>, _offset: u64) -> Outcome<u64>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "sync", (file: Fd) -> Outcome<()>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "create-directory-at", (dir: Fd, path: String) -> Outcome<()>, |state| state.rewind.paths.at(dir.rep(), &path));
    answered!(types, "stat", (file: Fd) -> Outcome<fs::DescriptorStat>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "stat-at", (dir: Fd, _flags: Flags, path: String) -> Outcome<fs::DescriptorStat>, |state| state.rewind.paths.at(dir.rep(), &path));
    answered!(types, "set-times-at", (dir: Fd, _flags: Flags, path: String, _atime: Stamp, _mtime: Stamp) -> Outcome<()>, |state| state.rewind.paths.at(dir.rep(), &path));
    answered!(types, "link-at", (dir: Fd, _flags: Flags, old: String, _new_dir: Fd, _new: String) -> Outcome<()>, |state| state.rewind.paths.at(dir.rep(), &old));
    answered!(types, "readlink-at", (dir: Fd, path: String) -> Outcome<String>, |state| state.rewind.paths.at(dir.rep(), &path));
    answered!(types, "remove-directory-at", (dir: Fd, path: String) -> Outcome<()>, |state| state.rewind.paths.at(dir.rep(), &path));
    answered!(types, "rename-at", (dir: Fd, old: String, _new_dir: Fd, _new: String) -> Outcome<()>, |state| state.rewind.paths.at(dir.rep(), &old));
    answered!(types, "symlink-at", (dir: Fd, _old: String, new: String) -> Outcome<()>, |state| state.rewind.paths.at(dir.rep(), &new));
    answered!(types, "unlink-file-at", (dir: Fd, path: String) -> Outcome<()>, |state| state.rewind.paths.at(dir.rep(), &path));
    answered!(types, "is-same-object", (file: Fd, _other: Fd) -> bool, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "metadata-hash", (file: Fd) -> Outcome<fs::MetadataHashValue>, |state| state.rewind.paths.get(file.rep()));
    answered!(types, "metadata-hash-at", (dir: Fd, _flags: Flags, path: String) -> Outcome<fs::MetadataHashValue>, |state| state.rewind.paths.at(dir.rep(), &path));
    Ok(())
}

/// Stdin, or a file being read as a stream, fed from the log.
pub(crate) struct ReplayStream {
    log: ThreadRecorder,
    /// The file and the offset of the next read; `None` for stdin.
    file: Option<(String, u64)>,
}

impl ReplayStream {
    fn next(&mut self, size: usize) -> StreamResult<Bytes> {
        let trap = |err: wasmtime::Error| StreamError::Trap(err);
        let data = match &mut self.file {
            None => match self.log.replay_input(Asked::Stdin).map_err(trap)? {
                Input::Stdin { data } => data.0,
                _ => return Err(StreamError::Closed),
            },
            Some((path, offset)) => {
                let read = Asked::FileRead {
                    path,
                    offset: *offset,
                };
                if let Some(Input::FileRead { data, .. }) = self.log.replay_input_if(read) {
                    *offset += data.0.len() as u64;
                    data.0
                } else if self
                    .log
                    .replay_input_if(Asked::Fs {
                        op: "stream-closed",
                        path,
                    })
                    .is_some()
                {
                    return Err(StreamError::Closed);
                } else if self
                    .log
                    .replay_input_if(Asked::Fs {
                        op: "stream-failed",
                        path,
                    })
                    .is_some()
                {
                    return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                        "reading {path} failed when it was recorded"
                    )));
                } else {
                    // Not what the log has next: this reports how.
                    self.log.replay_input(read).map_err(trap)?;
                    unreachable!("the input did not match a moment ago")
                }
            }
        };
        if data.len() > size {
            return Err(StreamError::Trap(wasmtime::format_err!(
                "re-execution diverged: the guest read {size} bytes where the recording has {}",
                data.len()
            )));
        }
        Ok(Bytes::from(data))
    }
}

#[async_trait::async_trait]
impl Pollable for ReplayStream {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl InputStream for ReplayStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        self.next(size)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        self.next(size)
    }

    fn skip(&mut self, size: usize) -> StreamResult<usize> {
        self.next(size).map(|data| data.len())
    }

    async fn blocking_skip(&mut self, size: usize) -> StreamResult<usize> {
        self.next(size).map(|data| data.len())
    }
}

/// Stdin during re-execution: what the guest read of it, from the log.
pub(crate) struct ReplayStdin {
    pub(crate) log: ThreadRecorder,
    pub(crate) terminal: bool,
}

impl IsTerminal for ReplayStdin {
    fn is_terminal(&self) -> bool {
        self.terminal
    }
}

impl StdinStream for ReplayStdin {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        Box::new(tokio::io::empty())
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(ReplayStream {
            log: self.log.clone(),
            file: None,
        })
    }
}

/// Stdout or stderr during re-execution: written where the caller wants,
/// but a terminal exactly when the recorded run's was.
pub(crate) struct Output<S> {
    pub(crate) inner: S,
    pub(crate) terminal: bool,
}

impl<S> IsTerminal for Output<S> {
    fn is_terminal(&self) -> bool {
        self.terminal
    }
}

impl<S: StdoutStream> StdoutStream for Output<S> {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        self.inner.async_stream()
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        self.inner.p2_stream()
    }
}
