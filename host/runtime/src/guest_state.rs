//! The data of every store a Rewind guest runs in: its WASI context, the
//! memory limiter, its thread's handle on the recorder, and, in a worker of
//! `rewind serve`, where its requests come from. Each interface it serves
//! reaches its part through a view trait, so that none of them depends on
//! this type.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::limits::Limiter;
use crate::recorder::{RecorderCtx, RecorderView, ThreadRecorder};
use crate::serve::{ServeCtx, ServeView, Serving};

pub(crate) struct GuestState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    /// This guest thread's handle on the run's recorder.
    pub(crate) recorder: RecorderCtx,
    /// When the guest serves HTTP requests: where they come from.
    pub(crate) serving: Option<Serving>,
}

impl GuestState {
    pub(crate) fn new(wasi: WasiCtx, limiter: Limiter, recorder: ThreadRecorder) -> GuestState {
        GuestState {
            wasi,
            table: ResourceTable::new(),
            limiter,
            recorder: RecorderCtx::new(recorder),
            serving: None,
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl RecorderView for GuestState {
    fn recorder(&mut self) -> &mut RecorderCtx {
        &mut self.recorder
    }
}

impl ServeView for GuestState {
    fn serve(&mut self) -> ServeCtx<'_> {
        ServeCtx {
            serving: &mut self.serving,
            recorder: &mut self.recorder,
        }
    }
}
