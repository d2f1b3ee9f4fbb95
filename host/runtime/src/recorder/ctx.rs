//! The recorder in a store: [`RecorderCtx`], what a store's data keeps of
//! it, and [`RecorderView`], how the WASI hooks and the `rewind:recorder`
//! interfaces find it — as `WasiCtx` and `WasiView` are for WASI.

use std::collections::HashMap;
use std::time::Instant;

use wasmtime_wasi::WasiView;

use super::ThreadRecorder;
use crate::limits::Limit;

/// One guest thread's recording state, kept in its store's data.
///
/// It holds the thread's handle on the run's [`Recorder`](crate::Recorder)
/// and what the WASI hooks need to log file reads by path.
#[derive(Debug, Default)]
pub struct RecorderCtx {
    pub(crate) thread: ThreadRecorder,
    pub(crate) paths: Paths,
    /// When the guest's time is up, and the limit that says so: a wait in a
    /// host call (`wasi:io/poll`) ends there, which the epoch, counting
    /// only time spent in the guest's own code, cannot do.
    pub(crate) deadline: Option<(Instant, Limit)>,
}

impl RecorderCtx {
    /// The state of a store whose guest records through `thread` (from
    /// [`Recorder::thread`](crate::Recorder::thread), or
    /// [`ThreadRecorder::detached`] to record nothing).
    pub fn new(thread: ThreadRecorder) -> RecorderCtx {
        RecorderCtx {
            thread,
            paths: Paths::default(),
            deadline: None,
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

/// The guest paths of a store's open descriptors, by resource handle, so
/// that a file read can be logged with its path, and re-execution can find
/// it by the same path.
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
