//! The WASI functions a re-executed guest calls, answered from its log:
//! clocks, randomness, stdin and the whole filesystem. Nothing here touches
//! the host's clocks, random source, stdin or files.
//!
//! [`add_to_linker`] shadows those interfaces by [`Fed`], which implements
//! wasmtime-wasi's generated `Host` traits (so the compiler checks that no
//! function is missed, and the names and versions are wasmtime-wasi's).
//! Every filesystem function is answered here, and a descriptor is a
//! placeholder in the store's table ([`ReplayFile`]) that only these
//! functions understand: no wasmtime-wasi function that would do real I/O
//! can be reached with one. The plain filesystem calls are generated from
//! the same table as the record side's ([`fs_ops`](crate::recorder::fs_ops)).

use std::marker::PhantomData;

use bytes::Bytes;
use rewind_format::model::Input;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi::p2::bindings::clocks::{monotonic_clock, wall_clock};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::random::{insecure, random};
use wasmtime_wasi::p2::bindings::sync::filesystem::types as fs;
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, FsError, FsResult, InputStream, OutputStream,
    Pollable, StreamError, StreamResult,
};

use crate::recorder::config::{POLL, POLL_BLOCK, POLL_READY, STDIN_INTERRUPTED};
use crate::recorder::fs_ops::{Answer, Fd, Outcome, error_code, fs_op_path, plain_fs_ops, refused};
use crate::recorder::replay::Asked;
use crate::recorder::wire::{self, Wire};
use crate::recorder::{RecorderView, ThreadRecorder};

/// A descriptor during re-execution: its path is in the store's `paths`.
pub(crate) struct ReplayFile;

/// A directory listing during re-execution.
pub(crate) struct ReplayEntries;

/// A store's data, seen by the shadowed WASI interfaces during
/// re-execution: every answer comes from the log.
pub(crate) struct Fed<'a, T>(&'a mut T);

struct HasFed<T>(PhantomData<T>);

impl<T: 'static> HasData for HasFed<T> {
    type Data<'a> = Fed<'a, T>;
}

/// Replaces, in `linker`, every WASI function whose answer comes from
/// outside the guest by one that reads it from the log.
pub(crate) fn add_to_linker<T: RecorderView + 'static>(
    linker: &mut Linker<T>,
) -> anyhow::Result<()> {
    fn view<T>(state: &mut T) -> Fed<'_, T> {
        Fed(state)
    }
    linker.allow_shadowing(true);
    let result = (|| -> wasmtime::Result<()> {
        wall_clock::add_to_linker::<T, HasFed<T>>(linker, view::<T>)?;
        monotonic_clock::add_to_linker::<T, HasFed<T>>(linker, view::<T>)?;
        random::add_to_linker::<T, HasFed<T>>(linker, view::<T>)?;
        insecure::add_to_linker::<T, HasFed<T>>(linker, view::<T>)?;
        preopens::add_to_linker::<T, HasFed<T>>(linker, view::<T>)?;
        fs::add_to_linker::<T, HasFed<T>>(linker, view::<T>)?;
        poll::add_to_linker::<T, HasFed<T>>(linker, view::<T>)
    })();
    linker.allow_shadowing(false);
    result.map_err(anyhow::Error::from)
}

fn u64_of(name: &str, data: &[u8]) -> wasmtime::Result<u64> {
    let bytes: [u8; 8] = data
        .try_into()
        .map_err(|_| wasmtime::format_err!("the recording's {name} is not 8 bytes"))?;
    Ok(u64::from_le_bytes(bytes))
}

impl<T: RecorderView> Fed<'_, T> {
    fn thread(&mut self) -> &ThreadRecorder {
        &self.0.recorder().thread
    }

    fn table(&mut self) -> &mut ResourceTable {
        self.0.ctx().table
    }

    /// The next logged input, which must be what the guest asked for.
    fn input(&mut self, asked: Asked<'_>) -> wasmtime::Result<Input> {
        self.thread().replay_input(asked)
    }

    /// The data of the next logged input of kind `Other`, named `name`.
    fn other(&mut self, name: &str) -> wasmtime::Result<Vec<u8>> {
        match self.input(Asked::Other(name))? {
            Input::Other { data, .. } => Ok(data.0),
            _ => unreachable!("matched by kind"),
        }
    }

    /// The logged outcome of filesystem call `op` on `path`.
    fn outcome<A: Wire>(&mut self, op: &str, path: &str) -> wasmtime::Result<A> {
        let Input::Fs { result, .. } = self.input(Asked::Fs { op, path })? else {
            unreachable!("matched by kind")
        };
        wire::decode(&result.0).ok_or_else(|| {
            wasmtime::format_err!("the recording's outcome of {op} on {path} is malformed")
        })
    }

    /// A plain call, answered with its logged outcome.
    fn answered<A: Answer>(&mut self, op: &str, path: String) -> A::Returned {
        match self.outcome::<A>(op, &path) {
            Ok(answer) => answer.returned(),
            Err(trap) => A::trap(trap),
        }
    }

    /// A call that made a descriptor when it was recorded: a placeholder
    /// for `path` when it succeeded then.
    fn descriptor(&mut self, op: &str, path: String) -> FsResult<Fd> {
        match self
            .outcome::<Outcome<()>>(op, &path)
            .map_err(FsError::trap)?
        {
            Ok(()) => {
                let file = self.table().push(ReplayFile)?;
                self.0.recorder().paths.insert(file.rep(), path);
                Ok(Resource::new_own(file.rep()))
            }
            Err(code) => refused(code),
        }
    }

    /// What a call that made a stream when it was recorded answers now.
    fn stream<S: Send + 'static>(
        &mut self,
        op: &str,
        path: &str,
        stream: S,
    ) -> FsResult<Resource<S>> {
        match self
            .outcome::<Outcome<()>>(op, path)
            .map_err(FsError::trap)?
        {
            Ok(()) => Ok(self.table().push(stream)?),
            Err(code) => refused(code),
        }
    }
}

impl<T: RecorderView> wall_clock::Host for Fed<'_, T> {
    fn now(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        match self.input(Asked::WallClock)? {
            Input::WallClock { secs, nanos } => Ok(wall_clock::Datetime {
                seconds: secs,
                nanoseconds: nanos,
            }),
            _ => unreachable!("matched by kind"),
        }
    }

    fn resolution(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        let nanos = u64_of(
            "wall-clock resolution",
            &self.other("wall-clock-resolution")?,
        )?;
        Ok(wall_clock::Datetime {
            seconds: nanos / 1_000_000_000,
            nanoseconds: (nanos % 1_000_000_000) as u32,
        })
    }
}

impl<T: RecorderView> monotonic_clock::Host for Fed<'_, T> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        match self.input(Asked::MonotonicClock)? {
            Input::MonotonicClock { nanos } => Ok(nanos),
            _ => unreachable!("matched by kind"),
        }
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        u64_of(
            "monotonic-clock resolution",
            &self.other("monotonic-clock-resolution")?,
        )
    }

    // Timers are ready at once: the time they waited for has passed in the
    // recording, and the clock readings that follow say so.
    fn subscribe_instant(&mut self, _when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        // When it was recorded, the timer read the clock to know how far
        // off `when` was.
        self.input(Asked::MonotonicClock)?;
        ready(self.table())
    }

    fn subscribe_duration(&mut self, _duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        ready(self.table())
    }
}

/// A pollable that is always ready.
struct Ready;

#[async_trait::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

fn ready(table: &mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>> {
    let ready = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, ready)
}

/// `wasi:io/poll`: which pollables were ready, and that a wait ended, as
/// logged. A recording made before polls were logged has every pollable
/// ready at once (its timers and streams are placeholders that are).
impl<T: RecorderView> poll::Host for Fed<'_, T> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        if !self.thread().replay_logs_poll() {
            return poll::Host::poll(self.table(), pollables);
        }
        let count = pollables.len();
        let data = self.other(POLL)?;
        let ready: Vec<u32> = data
            .as_chunks::<4>()
            .0
            .iter()
            .map(|index| u32::from_le_bytes(*index))
            .collect();
        if ready.is_empty() || ready.iter().any(|&index| index as usize >= count) {
            return Err(wasmtime::format_err!(
                "the recording's answer to a poll of {count} pollables is malformed"
            ));
        }
        Ok(ready)
    }
}

impl<T: RecorderView> poll::HostPollable for Fed<'_, T> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        if !self.thread().replay_logs_poll() {
            return poll::HostPollable::ready(self.table(), pollable);
        }
        match self.other(POLL_READY)?[..] {
            [ready @ (0 | 1)] => Ok(ready == 1),
            _ => Err(wasmtime::format_err!(
                "the recording's answer to pollable.ready is malformed"
            )),
        }
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        if !self.thread().replay_logs_poll() {
            return poll::HostPollable::block(self.table(), pollable);
        }
        self.other(POLL_BLOCK)?;
        Ok(())
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(self.table(), pollable)
    }
}

impl<T: RecorderView> random::Host for Fed<'_, T> {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        match self.input(Asked::Random { len })? {
            Input::Random { data } => Ok(data.0),
            _ => unreachable!("matched by kind"),
        }
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        match self.input(Asked::Random { len: 8 })? {
            Input::Random { data } => u64_of("random u64", &data.0),
            _ => unreachable!("matched by kind"),
        }
    }
}

impl<T: RecorderView> insecure::Host for Fed<'_, T> {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        match self.input(Asked::InsecureRandom { len })? {
            Input::InsecureRandom { data } => Ok(data.0),
            _ => unreachable!("matched by kind"),
        }
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        match self.input(Asked::InsecureRandom { len: 8 })? {
            Input::InsecureRandom { data } => u64_of("insecure random u64", &data.0),
            _ => unreachable!("matched by kind"),
        }
    }
}

impl<T: RecorderView> preopens::Host for Fed<'_, T> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Fd, String)>> {
        let paths: Vec<String> = self.outcome("get-directories", "")?;
        let mut dirs = Vec::with_capacity(paths.len());
        for path in paths {
            let dir = self.table().push(ReplayFile)?;
            self.0.recorder().paths.insert(dir.rep(), path.clone());
            dirs.push((Resource::new_own(dir.rep()), path));
        }
        Ok(dirs)
    }
}

impl<T: RecorderView> fs::Host for Fed<'_, T> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<fs::ErrorCode> {
        error_code(err)
    }

    fn filesystem_error_code(
        &mut self,
        _error: Resource<streams::Error>,
    ) -> wasmtime::Result<Option<fs::ErrorCode>> {
        self.outcome("filesystem-error-code", "")
    }
}

/// A plain call of [`plain_fs_ops!`], answered from the log.
macro_rules! answered_methods {
    ($($op:literal $method:ident ($($arg:ident: $ty:ty),*) @ $fd:ident $(/ $rel:ident)? -> $out:ty;)*) => {
        $(
            fn $method(&mut self, $($arg: $ty),*) -> <$out as Answer>::Returned {
                let path = fs_op_path!(self.0.recorder().paths, $fd $(/ $rel)?);
                let _ = ($(&$arg,)*);
                self.answered::<$out>($op, path)
            }
        )*
    };
}

impl<T: RecorderView> fs::HostDescriptor for Fed<'_, T> {
    plain_fs_ops!(answered_methods);

    fn open_at(
        &mut self,
        dir: Fd,
        _path_flags: fs::PathFlags,
        path: String,
        _open_flags: fs::OpenFlags,
        _flags: fs::DescriptorFlags,
    ) -> FsResult<Fd> {
        let full = self.0.recorder().paths.at(dir.rep(), &path);
        self.descriptor("open-at", full)
    }

    fn read_via_stream(&mut self, file: Fd, offset: u64) -> FsResult<Resource<DynInputStream>> {
        let path = self.0.recorder().paths.get(file.rep());
        let stream: DynInputStream = Box::new(ReplayStream {
            log: self.thread().clone(),
            file: Some((path.clone(), offset)),
        });
        self.stream("read-via-stream", &path, stream)
    }

    // What the guest writes goes nowhere: replay does no real I/O.
    fn write_via_stream(&mut self, file: Fd, _offset: u64) -> FsResult<Resource<DynOutputStream>> {
        let path = self.0.recorder().paths.get(file.rep());
        let sink: DynOutputStream = Box::new(SinkOutputStream);
        self.stream("write-via-stream", &path, sink)
    }

    fn append_via_stream(&mut self, file: Fd) -> FsResult<Resource<DynOutputStream>> {
        let path = self.0.recorder().paths.get(file.rep());
        let sink: DynOutputStream = Box::new(SinkOutputStream);
        self.stream("append-via-stream", &path, sink)
    }

    fn read(&mut self, file: Fd, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        let path = self.0.recorder().paths.get(file.rep());
        let read = Asked::FileRead {
            path: &path,
            offset,
        };
        let data = match self.thread().replay_input_if(read) {
            Some(Input::FileRead { data, .. }) if data.0.len() as u64 > len => {
                return Err(FsError::trap(wasmtime::format_err!(
                    "re-execution diverged: the guest read {len} bytes of {path} \
                     where the recording has {}",
                    data.0.len()
                )));
            }
            Some(Input::FileRead { data, .. }) => data.0,
            _ => Vec::new(),
        };
        let eof = self.answered::<Outcome<bool>>("read", path)?;
        Ok((data, eof))
    }

    fn read_directory(&mut self, dir: Fd) -> FsResult<Resource<fs::DirectoryEntryStream>> {
        let path = self.0.recorder().paths.get(dir.rep());
        match self
            .outcome::<Outcome<()>>("read-directory", &path)
            .map_err(FsError::trap)?
        {
            Ok(()) => {
                let entries = self.table().push(ReplayEntries)?;
                self.0.recorder().paths.insert(entries.rep(), path);
                Ok(Resource::new_own(entries.rep()))
            }
            Err(code) => refused(code),
        }
    }

    fn drop(&mut self, file: Fd) -> wasmtime::Result<()> {
        self.table()
            .delete(Resource::<ReplayFile>::new_own(file.rep()))?;
        Ok(())
    }
}

impl<T: RecorderView> fs::HostDirectoryEntryStream for Fed<'_, T> {
    fn read_directory_entry(
        &mut self,
        entries: Resource<fs::DirectoryEntryStream>,
    ) -> FsResult<Option<fs::DirectoryEntry>> {
        let path = self.0.recorder().paths.get(entries.rep());
        self.answered::<Outcome<Option<fs::DirectoryEntry>>>("read-directory-entry", path)
    }

    fn drop(&mut self, entries: Resource<fs::DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.table()
            .delete(Resource::<ReplayEntries>::new_own(entries.rep()))?;
        Ok(())
    }
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
                Input::Other { name, .. } if name == STDIN_INTERRUPTED => {
                    return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                        "interrupted"
                    )));
                }
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
