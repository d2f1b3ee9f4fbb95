//! Tracing (`rewind run --trace`, and every re-execution that materializes
//! events): call, line, return and exception events with argument, local
//! and return values, handed to the host in batches.
//!
//! Two tracers make them, with the same events:
//!
//! - [`native`], the one in use: Rewind's patch of rustpython-vm
//!   (`guest/patches/`) lets the VM call it from Rust for every event, with
//!   nothing materialized or allocated to deliver it, and it reads a
//!   frame's locals from its slots, comparing them by identity;
//! - [`settrace`], a `sys.settrace` callback that reads each frame's locals
//!   through `frame.f_locals` at every line: slower, kept as the reference
//!   the native tracer is checked against (`--tracer settrace` in the
//!   launch protocol).
//!
//! Only frames whose code `revdebug._should_record` accepts are traced; the
//! standard library runs without per-line cost.

use std::cell::RefCell;
use std::collections::HashMap;

use rewind_format::model::ExceptionStage;
use rewind_format::packed::{Batch, values as packed};
use rustpython_vm::builtins::PyBaseExceptionRef;
use rustpython_vm::{AsObject as _, PyObject, PyObjectRef, PyResult, VirtualMachine};

use crate::host::{self, Event, Stage};

mod evaluate;
mod native;
mod settrace;
mod values;

/// Events batched before one call to the host (the settrace tracer's).
const BATCH: usize = 1024;
/// Bytes of packed events batched before one call to the host.
const PACKED_BATCH: usize = 48 << 10;

/// Which tracer makes the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Native,
    Settrace,
}

thread_local! {
    static SHARED: RefCell<Shared> = RefCell::new(Shared::default());
}

/// What both tracers share.
#[derive(Default)]
struct Shared {
    /// The tracer in use, once started.
    kind: Option<Kind>,
    /// `revdebug`, for `_should_record` and `_saferepr`.
    revdebug: Option<PyObjectRef>,
    /// The settrace tracer's events.
    batch: Vec<Event>,
    /// The native tracer's events, and the thread's names.
    packed: Batch,
    /// Packed events handed to the host so far.
    sent: u64,
    /// Whether a code object is recorded, by its address; the code object is
    /// kept alive so that its address is not reused.
    decided: HashMap<usize, (PyObjectRef, bool)>,
    /// How many times the rules changed: a decision taken before is stale.
    rules: u32,
    /// That count when the script started.
    rules_at_start: u32,
    /// Stringify exact ints, floats, strs, bools and None natively (unless a
    /// `recrepr` stringifier is registered for one of them).
    slow_repr: bool,
    /// Whether any `recrepr` stringifier is registered.
    stringifiers: bool,
}

/// Installs the tracer for the rest of the run.
pub fn start(vm: &VirtualMachine, revdebug: PyObjectRef, kind: Kind) -> PyResult<()> {
    prepare(revdebug, kind);
    match kind {
        Kind::Native => native::start(vm),
        Kind::Settrace => settrace::start(vm),
    }
}

/// What the tracer needs, for [`start_midway`] later.
pub fn prepare(revdebug: PyObjectRef, kind: Kind) {
    SHARED.with(|shared| {
        let mut shared = shared.borrow_mut();
        shared.kind = Some(kind);
        shared.revdebug = Some(revdebug);
        shared.rules_at_start = shared.rules;
    });
}

/// Whether a rule changed since the script started.
fn rules_changed_since_start() -> bool {
    SHARED.with(|shared| {
        let shared = shared.borrow();
        shared.rules != shared.rules_at_start
    })
}

/// Installs the native tracer while the script runs, from the VM's
/// position hook at a function's `entry` or a loop's backward jump: the
/// frames already running that are recorded are adopted as they are now
/// (see [`native::adopt`]). An entered function's frame gets its 'call'
/// event as usual. The caller puts the position back afterwards.
pub fn start_midway(vm: &VirtualMachine, entry: bool) {
    let started = native::start(vm).and_then(|()| native::adopt(vm, entry));
    if let Err(err) = started {
        // The events then start later or not at all; the host sees the
        // window short and traces from the start.
        let _ = err;
        native::stop(vm);
    }
}

/// Removes the tracer.
pub fn stop(vm: &VirtualMachine) {
    match kind() {
        Some(Kind::Native) => native::stop(vm),
        Some(Kind::Settrace) => settrace::stop(vm),
        None => {}
    }
}

/// Hands the batched events to the host; control calls do this first, so
/// that events and markers stay in order.
pub fn flush() {
    let (batch, packed) = SHARED.with(|shared| {
        let shared = &mut *shared.borrow_mut();
        (std::mem::take(&mut shared.batch), shared.packed.take())
    });
    if !batch.is_empty() {
        host::events(batch);
    }
    if let Some(packed) = packed {
        SHARED.with(|shared| shared.borrow_mut().sent += u64::from(packed.count));
        host::packed_events(packed.count, &packed.body);
    }
}

/// Packed events written so far (handed over or batched), counting from
/// the first the thread traced.
fn written() -> u64 {
    SHARED.with(|shared| {
        let shared = shared.borrow();
        shared.sent + u64::from(shared.packed.len())
    })
}

/// The index of the last packed event written (counting from the first
/// the thread traced).
fn last_index() -> u64 {
    SHARED.with(|shared| {
        let shared = shared.borrow();
        (shared.sent + u64::from(shared.packed.len())).saturating_sub(1)
    })
}

/// Records that `exc` ends the run.
pub fn unhandled(exc: &PyBaseExceptionRef, vm: &VirtualMachine) {
    let (type_name, message) = match kind() {
        Some(_) => values::describe(exc.as_object(), vm),
        None => return,
    };
    match kind() {
        Some(Kind::Native) => write(|batch| {
            let type_name = batch.name(&type_name);
            batch.exception(ExceptionStage::Unhandled, type_name);
            packed::text(batch.value(), &message);
            batch.end();
        }),
        _ => push(Event::Exception {
            stage: Stage::Unhandled,
            type_name,
            message,
        }),
    }
}

/// The rules changed: every code object is decided again.
pub fn forget_decisions() {
    SHARED.with(|shared| {
        let shared = &mut *shared.borrow_mut();
        shared.decided.clear();
        shared.rules = shared.rules.wrapping_add(1);
    });
}

/// The rules' version: a decision of [`should_record`] holds while it is
/// the same.
fn rules() -> u32 {
    SHARED.with(|shared| shared.borrow().rules)
}

pub fn set_fast_repr(on: bool) {
    SHARED.with(|shared| shared.borrow_mut().slow_repr = !on);
}

pub fn set_stringifiers(any: bool) {
    SHARED.with(|shared| shared.borrow_mut().stringifiers = any);
}

fn kind() -> Option<Kind> {
    SHARED.with(|shared| shared.borrow().kind)
}

fn push(event: Event) {
    let full = SHARED.with(|shared| {
        let mut shared = shared.borrow_mut();
        shared.batch.push(event);
        shared.batch.len() >= BATCH
    });
    if full {
        flush();
    }
}

/// Writes packed events with `f`, handing them over when enough are
/// batched. `f` must not run Python code: that could flush.
fn write<R>(f: impl FnOnce(&mut Batch) -> R) -> R {
    let (result, full) = SHARED.with(|shared| {
        let batch = &mut shared.borrow_mut().packed;
        let result = f(batch);
        (result, batch.bytes() >= PACKED_BATCH)
    });
    if full {
        flush();
    }
    result
}

/// The id of a name of the thread's packed events.
fn name(text: &str) -> u32 {
    SHARED.with(|shared| shared.borrow_mut().packed.name(text))
}

/// Whether calls of `code` are recorded, asked of `revdebug` once per code
/// object (again after a rule changes). The caller keeps tracing suspended.
fn should_record(code: &PyObject, vm: &VirtualMachine) -> PyResult<bool> {
    let key = code.get_id();
    let known = SHARED.with(|shared| shared.borrow().decided.get(&key).map(|(_, on)| *on));
    if let Some(on) = known {
        return Ok(on);
    }
    let Some(revdebug) = SHARED.with(|shared| shared.borrow().revdebug.clone()) else {
        return Ok(false);
    };
    let decide = revdebug.get_attr("_should_record", vm)?;
    let on = decide.call((code.to_owned(),), vm)?.try_to_bool(vm)?;
    SHARED.with(|shared| {
        shared
            .borrow_mut()
            .decided
            .insert(key, (code.to_owned(), on))
    });
    Ok(on)
}
