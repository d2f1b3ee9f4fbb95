//! Where the recorder stands between WASI and the host: every
//! nondeterministic input a guest can receive passes through one of these
//! on its way in and is logged, unchanged.
//!
//! wasmtime-wasi has hooks for clocks and stdin (the `WasiCtxBuilder` takes
//! them as trait objects). The filesystem and randomness have none that fit,
//! so [`add_to_linker`] shadows their interfaces in the linker by [`Logged`],
//! which implements wasmtime-wasi's generated `Host` traits by calling
//! wasmtime-wasi's own and logging what they return: every filesystem call,
//! not only reads, since what `stat` or a directory listing says decides what
//! the guest does next just as much. Implementing the traits, rather than
//! shadowing functions by name, makes the compiler check that no function
//! of a shadowed interface is missed, and the names and versions are
//! wasmtime-wasi's own. The filesystem calls and their logged outcomes are
//! the table of [`fs_ops`](super::fs_ops), which re-execution answers from.
//!
//! `wasi:io/poll` is shadowed too: which pollables were ready, and when a
//! wait ended, is decided by the world outside (a timer, a pipe), so every
//! answer is logged as well ([`POLL`], [`POLL_READY`], [`POLL_BLOCK`]). A
//! run stopped while it waited (its time limit, say) has no answer for that
//! wait, and re-execution stops there, as the run did.

use std::future::Future;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rewind_format::model::{Bytes as Data, Input};
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::cli::{IsTerminal, StdinStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::filesystem::{WasiFilesystemCtxView, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::io::poll as async_poll;
use wasmtime_wasi::p2::bindings::random::{insecure, random};
use wasmtime_wasi::p2::bindings::sync::filesystem::types as fs;
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, FsError, FsResult, InputStream, Pollable,
    StreamError, StreamResult,
};
use wasmtime_wasi::random::WasiRandomView as _;

use super::config::{POLL, POLL_BLOCK, POLL_READY, STDIN_INTERRUPTED};
use super::ctx::RecorderView;
use super::fs_ops::{Answer, Fd, Outcome, error_code, fs_op_path, plain_fs_ops};
use super::handle::ThreadRecorder;
use super::wire::{self, Wire};
use crate::interrupt::{Interrupts, Wake};
use crate::limits::{Limit, LimitError};

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
            // An empty read is logged too: the stream was not ready (a file
            // being read ahead, a pipe), and the guest goes on to wait for
            // it, which is logged (`poll-block`) and must be met again.
            Ok(data) => match &mut self.source {
                Source::Stdin => self.log.input(Input::Stdin {
                    data: data[..].into(),
                }),
                Source::File { path, offset } => {
                    self.log.file_read(path, *offset, data);
                    *offset = offset.saturating_add(data.len() as u64);
                }
            },
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

impl LoggedStream {
    /// A read of stdin ended by Ctrl-C: logged, and failed for the guest
    /// to ask why; or the guest is stopped.
    fn interrupted(&mut self, wake: Wake) -> StreamResult<Bytes> {
        match wake {
            Wake::Pending => {
                self.log.input(Input::Other {
                    name: STDIN_INTERRUPTED.to_owned(),
                    data: Default::default(),
                });
                Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                    "interrupted"
                )))
            }
            Wake::Stop => Err(StreamError::Trap(LimitError(Limit::Interrupted).into())),
        }
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
        // A guest that reads stdin without blocking waits in between (in
        // `pollable.block`, which ends at once while an interrupt waits):
        // its next read fails instead, for it to ask why.
        if let Source::Stdin = self.source
            && let Some(wake) = self.log.interrupts().and_then(Interrupts::wake)
        {
            return self.interrupted(wake);
        }
        let result = self.inner.read(size.min(MAX_READ));
        self.logged(result)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        // A read of stdin that waits for the user ends at Ctrl-C: the guest
        // sees it fail, asks, and raises KeyboardInterrupt (or stops).
        let interrupts = match self.source {
            Source::Stdin => self.log.interrupts().cloned(),
            Source::File { .. } => None,
        };
        let size = size.min(MAX_READ);
        let result = match interrupts {
            None => self.inner.blocking_read(size).await,
            Some(interrupts) => tokio::select! {
                result = self.inner.blocking_read(size) => result,
                wake = interrupts.woken() => return self.interrupted(wake),
            },
        };
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

/// A store's data, seen by the shadowed WASI interfaces: each call goes to
/// wasmtime-wasi and what it returns is logged on its way to the guest.
pub(crate) struct Logged<'a, T>(&'a mut T);

struct HasLogged<T>(PhantomData<T>);

impl<T: 'static> HasData for HasLogged<T> {
    type Data<'a> = Logged<'a, T>;
}

/// Shadows `wasi:filesystem` and `wasi:random` in `linker`, which already
/// has wasmtime-wasi's, by versions that log what they return.
pub(crate) fn add_to_linker<T: RecorderView + 'static>(
    linker: &mut Linker<T>,
) -> anyhow::Result<()> {
    fn view<T>(state: &mut T) -> Logged<'_, T> {
        Logged(state)
    }
    linker.allow_shadowing(true);
    let result = (|| -> wasmtime::Result<()> {
        random::add_to_linker::<T, HasLogged<T>>(linker, view::<T>)?;
        insecure::add_to_linker::<T, HasLogged<T>>(linker, view::<T>)?;
        preopens::add_to_linker::<T, HasLogged<T>>(linker, view::<T>)?;
        fs::add_to_linker::<T, HasLogged<T>>(linker, view::<T>)?;
        poll::add_to_linker::<T, HasLogged<T>>(linker, view::<T>)
    })();
    linker.allow_shadowing(false);
    result.map_err(anyhow::Error::from)
}

/// Waits for `wait`, but not past `deadline`: the guest's time is up then,
/// and it stops in the wait, which is not logged as over. An interrupt
/// (Ctrl-C) ends the wait early with `woken`'s answer, for the guest to
/// take the interrupt, or stops the guest.
fn until<R>(
    deadline: Option<(Instant, Limit)>,
    interrupts: Option<Interrupts>,
    woken: impl FnOnce() -> R,
    wait: impl Future<Output = wasmtime::Result<R>>,
) -> wasmtime::Result<R> {
    wasmtime_wasi::runtime::in_tokio(async move {
        let interrupted = async {
            match &interrupts {
                Some(interrupts) => interrupts.woken().await,
                None => std::future::pending().await,
            }
        };
        let deadline = async {
            match deadline {
                Some((at, limit)) => {
                    tokio::time::sleep_until(at.into()).await;
                    limit
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = wait => result,
            limit = deadline => Err(LimitError(limit).into()),
            wake = interrupted => match wake {
                Wake::Pending => Ok(woken()),
                Wake::Stop => Err(LimitError(Limit::Interrupted).into()),
            },
        }
    })
}

/// `wasi:io/poll`, answered by wasmtime-wasi and logged.
impl<T: RecorderView> poll::Host for Logged<'_, T> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let deadline = self.0.recorder().deadline;
        let interrupts = self.thread().interrupts().cloned();
        // Cut short by an interrupt, every pollable is said to be ready: the
        // guest looks, finds little, and asks about the interrupt.
        let all: Vec<u32> = (0..pollables.len() as u32).collect();
        let table = self.0.ctx().table;
        let ready = until(
            deadline,
            interrupts,
            || all,
            async_poll::Host::poll(table, pollables),
        )?;
        let data: Vec<u8> = ready.iter().flat_map(|index| index.to_le_bytes()).collect();
        self.thread().input(Input::Other {
            name: POLL.to_owned(),
            data: Data(data),
        });
        Ok(ready)
    }
}

impl<T: RecorderView> poll::HostPollable for Logged<'_, T> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        let ready = poll::HostPollable::ready(self.0.ctx().table, pollable)?;
        self.thread().input(Input::Other {
            name: POLL_READY.to_owned(),
            data: Data(vec![u8::from(ready)]),
        });
        Ok(ready)
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let deadline = self.0.recorder().deadline;
        let interrupts = self.thread().interrupts().cloned();
        let table = self.0.ctx().table;
        until(
            deadline,
            interrupts,
            || (),
            async_poll::HostPollable::block(table, pollable),
        )?;
        self.thread().input(Input::Other {
            name: POLL_BLOCK.to_owned(),
            data: Data(Vec::new()),
        });
        Ok(())
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(self.0.ctx().table, pollable)
    }
}

impl<T: RecorderView> Logged<'_, T> {
    fn thread(&mut self) -> &ThreadRecorder {
        &self.0.recorder().thread
    }

    fn fs(&mut self) -> WasiFilesystemCtxView<'_> {
        self.0.filesystem()
    }

    /// Logs filesystem call `op` on `path` with its outcome.
    fn log_fs<A: Wire>(&mut self, op: &str, path: String, outcome: &A) {
        let thread = self.thread();
        if thread.recorder().is_some() {
            thread.input(Input::Fs {
                op: op.to_owned(),
                path,
                result: wire::encode(outcome)[..].into(),
            });
        }
    }

    /// Logs what a plain call returned, and hands it on.
    fn logged<A: Answer>(&mut self, op: &str, path: String, returned: A::Returned) -> A::Returned {
        match A::of(returned) {
            Ok(answer) => {
                self.log_fs(op, path, &answer);
                answer.returned()
            }
            Err(trap) => A::trap(trap),
        }
    }

    /// Logs whether a call that makes a resource succeeded.
    fn logged_resource<R>(
        &mut self,
        op: &str,
        path: String,
        returned: FsResult<Resource<R>>,
    ) -> FsResult<Resource<R>> {
        // A trap: the guest gets nothing, and nothing is logged.
        let Some(answer) = answer_of(&returned) else {
            return returned;
        };
        self.log_fs(op, path, &answer.map(|_| ()));
        returned
    }
}

/// Whether `err` is wasmtime-wasi's answer for a name that is not UTF-8.
fn is_not_utf8(err: &FsError) -> bool {
    use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
    matches!(err.downcast_ref(), Some(ErrorCode::IllegalByteSequence))
}

/// Says once per process that a directory listing left out a name that is
/// not UTF-8.
fn skipped_name(dir: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    // A directory opened as `.` of its parent is named so.
    let dir = dir.strip_suffix("/.").unwrap_or(dir);
    SAID.call_once(|| {
        tracing::warn!(
            "a file name in {dir} is not valid UTF-8 and cannot reach the guest: \
             directory listings leave out such names"
        );
    });
}

/// What the guest gets from `returned`: a value or an error code; `None`
/// when the call trapped.
fn answer_of<T>(returned: &FsResult<T>) -> Option<Result<&T, fs::ErrorCode>> {
    match returned {
        Ok(value) => Some(Ok(value)),
        Err(err) => err.downcast_ref().map(|code| Err((*code).into())),
    }
}

/// Random bytes are logged a call at a time, as the guest received them.
impl<T: RecorderView> random::Host for Logged<'_, T> {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        let bytes = random::Host::get_random_bytes(self.0.random(), len)?;
        self.thread().input(Input::Random {
            data: bytes[..].into(),
        });
        Ok(bytes)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        let value = random::Host::get_random_u64(self.0.random())?;
        self.thread().input(Input::Random {
            data: value.to_le_bytes()[..].into(),
        });
        Ok(value)
    }
}

impl<T: RecorderView> insecure::Host for Logged<'_, T> {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        let bytes = insecure::Host::get_insecure_random_bytes(self.0.random(), len)?;
        self.thread().input(Input::InsecureRandom {
            data: bytes[..].into(),
        });
        Ok(bytes)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        let value = insecure::Host::get_insecure_random_u64(self.0.random())?;
        self.thread().input(Input::InsecureRandom {
            data: value.to_le_bytes()[..].into(),
        });
        Ok(value)
    }
}

impl<T: RecorderView> preopens::Host for Logged<'_, T> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Fd, String)>> {
        let dirs = preopens::Host::get_directories(&mut self.fs())?;
        for (dir, path) in &dirs {
            self.0.recorder().paths.insert(dir.rep(), path.clone());
        }
        let paths: Vec<String> = dirs.iter().map(|(_, path)| path.clone()).collect();
        self.log_fs("get-directories", String::new(), &paths);
        Ok(dirs)
    }
}

impl<T: RecorderView> fs::Host for Logged<'_, T> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<fs::ErrorCode> {
        error_code(err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<streams::Error>,
    ) -> wasmtime::Result<Option<fs::ErrorCode>> {
        let code = fs::Host::filesystem_error_code(&mut self.fs(), err)?;
        self.log_fs("filesystem-error-code", String::new(), &code);
        Ok(code)
    }
}

/// A plain call of [`plain_fs_ops!`]: wasmtime-wasi's answer, logged.
macro_rules! logged_methods {
    ($($op:literal $method:ident ($($arg:ident: $ty:ty),*) @ $fd:ident $(/ $rel:ident)? -> $out:ty;)*) => {
        $(
            fn $method(&mut self, $($arg: $ty),*) -> <$out as Answer>::Returned {
                let path = fs_op_path!(self.0.recorder().paths, $fd $(/ $rel)?);
                let returned = self.fs().$method($($arg),*);
                self.logged::<$out>($op, path, returned)
            }
        )*
    };
}

impl<T: RecorderView> fs::HostDescriptor for Logged<'_, T> {
    plain_fs_ops!(logged_methods);

    fn open_at(
        &mut self,
        dir: Fd,
        path_flags: fs::PathFlags,
        path: String,
        open_flags: fs::OpenFlags,
        flags: fs::DescriptorFlags,
    ) -> FsResult<Fd> {
        let full = self.0.recorder().paths.at(dir.rep(), &path);
        let returned = self.fs().open_at(dir, path_flags, path, open_flags, flags);
        let returned = self.logged_resource("open-at", full.clone(), returned);
        if let Ok(file) = &returned {
            self.0.recorder().paths.insert(file.rep(), full);
        }
        returned
    }

    fn read_via_stream(&mut self, file: Fd, offset: u64) -> FsResult<Resource<DynInputStream>> {
        let path = self.0.recorder().paths.get(file.rep());
        let returned = self.fs().read_via_stream(file, offset);
        let stream = self.logged_resource("read-via-stream", path.clone(), returned)?;
        // Take wasmtime-wasi's stream out of the table and put it back
        // wrapped.
        let inner: DynInputStream = self.0.ctx().table.delete(stream)?;
        let logged: DynInputStream = Box::new(LoggedStream {
            inner,
            log: self.thread().clone(),
            source: Source::File { path, offset },
        });
        Ok(self.0.ctx().table.push(logged)?)
    }

    fn write_via_stream(&mut self, file: Fd, offset: u64) -> FsResult<Resource<DynOutputStream>> {
        let path = self.0.recorder().paths.get(file.rep());
        let returned = self.fs().write_via_stream(file, offset);
        self.logged_resource("write-via-stream", path, returned)
    }

    fn append_via_stream(&mut self, file: Fd) -> FsResult<Resource<DynOutputStream>> {
        let path = self.0.recorder().paths.get(file.rep());
        let returned = self.fs().append_via_stream(file);
        self.logged_resource("append-via-stream", path, returned)
    }

    fn read(&mut self, file: Fd, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        let path = self.0.recorder().paths.get(file.rep());
        let len = len.min(MAX_READ as u64);
        let returned = self.fs().read(file, len, offset);
        // The data goes in as a file read (which keeps sources), then
        // whether the call succeeded and hit the end.
        let Some(answer) = answer_of(&returned) else {
            return returned;
        };
        let outcome: Outcome<bool> = answer.map(|(data, eof)| {
            if !data.is_empty() {
                self.thread().file_read(&path, offset, data);
            }
            *eof
        });
        self.log_fs("read", path, &outcome);
        returned
    }

    fn read_directory(&mut self, dir: Fd) -> FsResult<Resource<fs::DirectoryEntryStream>> {
        let path = self.0.recorder().paths.get(dir.rep());
        let returned = self.fs().read_directory(dir);
        let returned = self.logged_resource("read-directory", path.clone(), returned);
        if let Ok(entries) = &returned {
            self.0.recorder().paths.insert(entries.rep(), path);
        }
        returned
    }

    fn drop(&mut self, file: Fd) -> wasmtime::Result<()> {
        fs::HostDescriptor::drop(&mut self.fs(), file)
    }
}

impl<T: RecorderView> fs::HostDirectoryEntryStream for Logged<'_, T> {
    fn read_directory_entry(
        &mut self,
        entries: Resource<fs::DirectoryEntryStream>,
    ) -> FsResult<Option<fs::DirectoryEntry>> {
        let path = self.0.recorder().paths.get(entries.rep());
        // A name that is not UTF-8 cannot cross WASI 0.2, whose names are
        // strings: wasmtime-wasi answers `illegal-byte-sequence` for its
        // entry, which fails the whole listing (`os.listdir` raises). The
        // entry is left out instead, as if it were not there, and the log
        // holds what the guest got, so re-execution sees the same.
        let returned = loop {
            let returned = self
                .fs()
                .read_directory_entry(Resource::new_borrow(entries.rep()));
            match &returned {
                Err(err) if is_not_utf8(err) => skipped_name(&path),
                _ => break returned,
            }
        };
        self.logged::<Outcome<Option<fs::DirectoryEntry>>>("read-directory-entry", path, returned)
    }

    fn drop(&mut self, entries: Resource<fs::DirectoryEntryStream>) -> wasmtime::Result<()> {
        fs::HostDirectoryEntryStream::drop(&mut self.fs(), entries)
    }
}
