//! The native tracer. Rewind's patch of rustpython-vm lets the VM call
//! [`hook`] from Rust for every event `sys.settrace` would get, with the
//! frame that fired it current; nothing is materialized or allocated to
//! deliver it, and the VM finds each instruction's line in O(1).
//!
//! The events are the settrace tracer's, and so are the values' texts, but
//! they are written packed (`rewind_format::packed`): a number is its bits,
//! a str its bytes, a name an id; no string is made. A traced frame's locals
//! are read from its slots (its namespace, for module and class bodies) at
//! each line, and a local is packed again only when it is another object
//! than at the frame's last event, or, being the same object, its text may
//! have changed — a container whose items changed (their fingerprint), or
//! an object whose `__repr__` is its own. It is reported when its text
//! changed, which comparing packed values tells without making the texts
//! ([`same_text`]). Values whose text cannot change while they are the
//! same object (numbers, strings, classes, functions, objects with the
//! default repr) cost a pointer comparison per line.
//!
//! After a short warm-up the tracer allocates nothing per event: frames'
//! buffers are reused, and a code object's names are looked up once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::rc::Rc;

use rewind_format::model::ExceptionStage;
use rewind_format::packed::{NameHasher, shown_whole, value_text, values as packed};
use rustpython_vm::builtins::{PyCell, PyCode, PyDict, PyStr, PyTuple, PyType};
use rustpython_vm::bytecode::{CO_FAST_CELL, CO_FAST_FREE, CodeFlags};
use rustpython_vm::frame::{InterpreterFrame, current_thread_iframe};
use rustpython_vm::protocol::{TraceEvent, set_native_tracer};
use rustpython_vm::{AsObject as _, Py, PyObject, PyObjectRef, PyResult, VirtualMachine};

use super::values::{describe, encode, fingerprint, is_scalar};
use super::{SHARED, last_index, name, rules, rules_changed_since_start, should_record, write};
use crate::host;

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

type ById<V> = HashMap<usize, V, BuildHasherDefault<NameHasher>>;

#[derive(Default)]
struct State {
    /// A traced frame's `f_trace`, which turns on its line events.
    marker: Option<PyObjectRef>,
    /// The traced frames, innermost last.
    frames: Vec<Traced>,
    /// Frames that ended, kept for their buffers.
    spare: Vec<Traced>,
    /// The last exception raised, in which frame: if that frame goes on to
    /// another line, it caught it.
    raised: Option<Raised>,
    /// What the tracer knows of each class, by address.
    classes: ById<ClassInfo>,
    /// Per code object, by address (kept alive): its names.
    codes: ById<Rc<CodeInfo>>,
    /// A value being packed.
    scratch: Vec<u8>,
    /// The locals that changed at this event, by index.
    changed: Vec<usize>,
    /// The event at which the host wants expressions evaluated
    /// (`trace.evaluate-at`), until it is reached.
    evaluate_at: Option<u64>,
}

struct ClassInfo {
    /// Kept alive, so that its address is not another class's.
    _class: PyObjectRef,
    /// The name its instances' default repr shows; `None` when they have
    /// another repr (or a `recrepr` stringifier could apply).
    repr_name: Option<u32>,
    /// Whether its instances cannot change.
    immutable: bool,
}

struct Raised {
    frame: usize,
    type_name: String,
    message: String,
}

/// What a traced frame's events need of its code, looked up once.
struct CodeInfo {
    _code: PyObjectRef,
    /// Whether its calls are recorded, decided under which rules.
    recorded: std::cell::Cell<Option<(u32, bool)>>,
    /// Its names, once a call of it is recorded.
    names: std::cell::OnceCell<CodeNames>,
    /// How many slots are arguments.
    nargs: usize,
    optimized: bool,
}

struct CodeNames {
    function: u32,
    file: u32,
    /// The name of each slot.
    slots: Vec<u32>,
}

impl CodeInfo {
    fn names(&self, code: &Py<PyCode>) -> &CodeNames {
        self.names.get_or_init(|| CodeNames {
            function: name(code.qualname.as_str()),
            file: name(code.source_path().as_str()),
            slots: code
                .localsplus_names()
                .iter()
                .map(|slot| name(slot.as_str()))
                .collect(),
        })
    }
}

/// A traced frame and what its locals were at its last event.
#[derive(Default)]
struct Traced {
    /// The interpreter frame's address.
    frame: usize,
    /// For optimized code, one per slot; for a module or class body, one
    /// per name of its namespace, in the namespace's order.
    locals: Vec<Local>,
    /// Adopted running (see [`adopt`]) with locals it may have changed
    /// since its last line: its next line event may not be what a trace
    /// from the start shows.
    approximate: bool,
}

#[derive(Default)]
struct Local {
    name: u32,
    /// For a namespace, the key (kept alive).
    key: Option<PyObjectRef>,
    /// The value's address; 0 while unbound.
    value: usize,
    shape: Shape,
    /// The value as last reported, packed.
    packed: Vec<u8>,
    /// Its text, when it had to be made.
    text: Option<String>,
    /// Whether its text is shown whole, once asked.
    whole: Option<bool>,
}

/// What a local's text depends on while it is the same object.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Shape {
    /// Nothing: it cannot change.
    #[default]
    Fixed,
    /// Its items, by this fingerprint.
    Items(u64),
    /// Anything: it is packed again at every event.
    Open,
}

/// Installs the tracer: a placeholder `sys.settrace` function turns the
/// VM's tracing on, and the native hook takes every event.
pub(super) fn start(vm: &VirtualMachine) -> PyResult<()> {
    let marker: PyObjectRef = vm
        .new_function(
            "_rewind_trace",
            |_args: rustpython_vm::function::FuncArgs| (),
        )
        .into();
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        state.marker = Some(marker.clone());
        state.evaluate_at = host::evaluate_at();
    });
    set_native_tracer(Some(hook));
    let settrace = vm.sys_module.get_attr("settrace", vm)?;
    settrace.call((marker,), vm)?;
    Ok(())
}

pub(super) fn stop(vm: &VirtualMachine) {
    if let Ok(settrace) = vm.sys_module.get_attr("settrace", vm) {
        let _ = settrace.call((vm.ctx.none(),), vm);
    }
    set_native_tracer(None);
}

/// The frame that fired the event.
fn current() -> Option<&'static InterpreterFrame> {
    let frame = current_thread_iframe();
    // SAFETY: the VM calls the hook from the frame's own execution, so the
    // current frame is live for the whole call; the reference does not
    // outlive it.
    unsafe { frame.as_ref() }
}

/// The VM's entry point: every `sys.settrace` event. Python code the
/// tracer calls (rules, stringifiers) runs untraced; should it turn
/// tracing back on and come back here, the inner event is dropped.
fn hook(
    vm: &VirtualMachine,
    event: TraceEvent,
    arg: Option<PyObjectRef>,
) -> PyResult<Option<PyObjectRef>> {
    let Some(frame) = current() else {
        return Ok(None);
    };
    let was = vm.use_tracing.replace(false);
    let (result, evaluate) = STATE.with(|state| {
        let Ok(mut state) = state.try_borrow_mut() else {
            return (None, false);
        };
        let state = &mut *state;
        let before = state.evaluate_at.map(|_| super::written());
        let result = match event {
            TraceEvent::Call => call(state, frame, vm),
            TraceEvent::Line => {
                line(state, frame, vm);
                None
            }
            TraceEvent::Return => {
                finish(state, frame, arg, vm);
                None
            }
            TraceEvent::Exception => {
                raised(state, frame, arg, vm);
                None
            }
            _ => None,
        };
        // The event the host asked to evaluate at was just written: the
        // frame that fired it is still current, its locals as the event
        // shows them.
        let evaluate = match (state.evaluate_at, before) {
            (Some(at), Some(before)) if before <= at && at < super::written() => {
                state.evaluate_at = None;
                true
            }
            _ => false,
        };
        (result, evaluate)
    });
    if evaluate {
        // Untraced, as the tracer's own Python calls are.
        super::evaluate::at_event(vm);
    }
    vm.use_tracing.set(was);
    Ok(result)
}

fn address(frame: &InterpreterFrame) -> usize {
    frame as *const InterpreterFrame as usize
}

/// The line `frame` is at: that of the instruction in flight.
fn line_of(frame: &InterpreterFrame) -> u32 {
    let code = frame.code();
    let lasti = frame.lasti.load(std::sync::atomic::Ordering::Relaxed) as usize;
    let line = code.line_at(lasti.saturating_sub(1));
    match line {
        line if line >= 0 => line as u32,
        _ => code.first_line_number.map_or(0, |n| n.get() as u32),
    }
}

/// A code object's names, looked up at its first traced call.
fn code_info(codes: &mut ById<Rc<CodeInfo>>, code: &Py<PyCode>) -> Rc<CodeInfo> {
    let key = code.get_id();
    if let Some(info) = codes.get(&key) {
        return info.clone();
    }
    let flags = code.flags;
    let nargs = code.arg_count as usize
        + code.kwonlyarg_count as usize
        + usize::from(flags.contains(CodeFlags::VARARGS))
        + usize::from(flags.contains(CodeFlags::VARKEYWORDS));
    let info = Rc::new(CodeInfo {
        _code: code.to_owned().into(),
        recorded: std::cell::Cell::new(None),
        names: std::cell::OnceCell::new(),
        nargs,
        optimized: flags.contains(CodeFlags::OPTIMIZED),
    });
    codes.insert(key, info.clone());
    info
}

/// Whether calls of `code` are recorded, decided once per code object
/// under the rules in force. A rule that fails to decide records nothing:
/// tracing must not change what the program does.
fn is_recorded(info: &CodeInfo, code: &Py<PyCode>, rules: u32, vm: &VirtualMachine) -> bool {
    match info.recorded.get() {
        Some((decided, recorded)) if decided == rules => recorded,
        _ => {
            let recorded = should_record(code.as_object(), vm).unwrap_or(false);
            info.recorded.set(Some((rules, recorded)));
            recorded
        }
    }
}

fn call(state: &mut State, frame: &InterpreterFrame, vm: &VirtualMachine) -> Option<PyObjectRef> {
    let code = frame.code();
    let info = code_info(&mut state.codes, code);
    if !is_recorded(&info, code, rules(), vm) {
        return None;
    }
    let names = info.names(code);
    let mut traced = state.spare.pop().unwrap_or_default();
    traced.frame = address(frame);
    traced.approximate = false;
    state.changed.clear();
    if info.optimized {
        let slots = frame.fastlocals();
        reset(&mut traced.locals, slots.len());
        for (slot, (local, value)) in traced.locals.iter_mut().zip(slots).enumerate() {
            local.name = names.slots.get(slot).copied().unwrap_or(0);
            if slot < info.nargs
                && let Some(value) = visible(value.as_ref(), code.localspluskinds.get(slot))
            {
                local.value = value.get_id();
                local.shape = shape(&value, &mut state.classes, vm);
                encode(
                    &value,
                    &mut local.packed,
                    &mut |class| object_name(&mut state.classes, class, vm),
                    vm,
                );
                state.changed.push(slot);
            }
        }
    } else {
        reset(&mut traced.locals, 0);
    }
    let line = line_of(frame);
    write(|batch| {
        batch.call(names.function, names.file, line);
        for &at in &state.changed {
            let local = &traced.locals[at];
            batch.pair(local.name);
            batch.value().extend_from_slice(&local.packed);
        }
        batch.end_pairs();
        batch.end();
    });
    state.frames.push(traced);
    state.marker.clone()
}

/// Adopts the frames running when the tracer starts mid-run (from
/// `tracer::start_midway`: at a function's `entry`, every frame but the
/// entered one, which gets its 'call' event; at a loop's backward jump,
/// every frame), as the tracer would know them had it traced from the
/// start. Each one that is recorded gets its line events, and its locals
/// as they are now, silently. Those are what they were at its last line
/// event unless the frame changed something since, within its current
/// line before the call it is in (or the rules changed while it ran, which
/// could have decided it otherwise): then its next line event may differ
/// from a whole run's, and is reported to the host as approximate.
pub(super) fn adopt(vm: &VirtualMachine, entry: bool) -> PyResult<()> {
    let Some(current) = current() else {
        return Ok(());
    };
    let mut running = Vec::new();
    let mut at = match entry {
        true => current.previous(),
        false => current as *const InterpreterFrame,
    };
    // SAFETY: the frames of the chain are those of the calls in progress
    // around this one, live until it returns.
    while let Some(frame) = unsafe { at.as_ref() } {
        running.push(frame);
        at = frame.previous();
    }
    let rules = rules();
    let was = vm.use_tracing.replace(false);
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let state = &mut *state;
        let Some(marker) = state.marker.clone() else {
            return;
        };
        for frame in running.into_iter().rev() {
            let code = frame.code();
            let info = code_info(&mut state.codes, code);
            if !is_recorded(&info, code, rules, vm) {
                continue;
            }
            frame.set_trace(marker.clone());
            let mut traced = state.spare.pop().unwrap_or_default();
            traced.frame = address(frame);
            reset(&mut traced.locals, 0);
            let State {
                codes,
                classes,
                scratch,
                changed,
                ..
            } = state;
            changed.clear();
            if info.optimized {
                changed_slots(
                    frame,
                    code,
                    codes,
                    &mut traced,
                    classes,
                    scratch,
                    changed,
                    vm,
                );
            } else {
                changed_names(frame, &mut traced, classes, scratch, changed, vm);
            }
            traced.approximate = rules_changed_since_start() || !quiet_since_line(frame);
            state.frames.push(traced);
            // Its call, at the line it is on, with no arguments: what the
            // host names the frame by when a window of events starts inside
            // it (a materialization's window is cut from the events after
            // this one, so it never holds it).
            let names = info.names(code);
            let line = line_of(frame);
            write(|batch| {
                batch.call(names.function, names.file, line);
                batch.end_pairs();
                batch.end();
            });
        }
    });
    vm.use_tracing.set(was);
    Ok(())
}

/// Whether `frame`, in the middle of a call, did nothing within its
/// current line before that call that could change a local or what one
/// shows: no store, delete, import, other call or in-place addition among
/// the line's instructions before the one in flight (a superset of those
/// that ran since its last line event, which only ever moves forward
/// within a line).
fn quiet_since_line(frame: &InterpreterFrame) -> bool {
    const EFFECTS: [&str; 11] = [
        "Store", "Delete", "Call", "Import", "Append", "Extend", "Update", "Merge", "SetAdd",
        "MapAdd", "Send",
    ];
    let code = frame.code();
    let units = &code.instructions;
    let lasti = frame.lasti.load(std::sync::atomic::Ordering::Relaxed) as usize;
    let Some(last) = lasti.checked_sub(1) else {
        return true;
    };
    // The instructions before the one in flight, walked from the start (a
    // code unit may be an instruction's inline cache, which is no opcode).
    let mut before = Vec::new();
    let mut at = 0;
    while at <= last && at < units.len() {
        before.push(at);
        at += 1 + units.read_op(at).cache_entries();
    }
    let Some(in_flight) = before.pop() else {
        return true;
    };
    let line = code.line_at(in_flight);
    before
        .into_iter()
        .filter(|&at| code.line_at(at) == line)
        .all(|at| {
            let op = format!("{:?}", units.read_op(at));
            !EFFECTS.iter().any(|effect| op.contains(effect))
        })
}

/// `locals` made `len` unbound locals, keeping their buffers.
fn reset(locals: &mut Vec<Local>, len: usize) {
    locals.truncate(len);
    for local in locals.iter_mut() {
        local.key = None;
        local.value = 0;
        local.shape = Shape::Fixed;
        local.packed.clear();
        local.text = None;
        local.whole = None;
    }
    locals.resize_with(len, Local::default);
}

fn line(state: &mut State, frame: &InterpreterFrame, vm: &VirtualMachine) {
    let id = address(frame);
    let caught = state.raised.take_if(|raised| raised.frame == id);
    let at = match state.frames.last() {
        Some(top) if top.frame == id => state.frames.len() - 1,
        _ => match state.frames.iter().rposition(|t| t.frame == id) {
            Some(at) => at,
            // Traced without its call event (the VM decides which frames
            // get line events): from here on, then.
            None => {
                let mut traced = state.spare.pop().unwrap_or_default();
                traced.frame = id;
                traced.approximate = false;
                reset(&mut traced.locals, 0);
                state.frames.push(traced);
                state.frames.len() - 1
            }
        },
    };
    let State {
        frames,
        classes,
        codes,
        scratch,
        changed,
        ..
    } = state;
    let traced = &mut frames[at];
    changed.clear();
    let code = frame.code();
    if code.flags.contains(CodeFlags::OPTIMIZED) {
        changed_slots(frame, code, codes, traced, classes, scratch, changed, vm);
    } else {
        changed_names(frame, traced, classes, scratch, changed, vm);
    }
    let line = line_of(frame);
    write(|batch| {
        if let Some(caught) = &caught {
            let type_name = batch.name(&caught.type_name);
            batch.exception(ExceptionStage::Caught, type_name);
            packed::text(batch.value(), &caught.message);
            batch.end();
        }
        batch.line(line);
        for &at in changed.iter() {
            let local = &traced.locals[at];
            batch.pair(local.name);
            batch.value().extend_from_slice(&local.packed);
        }
        batch.end_pairs();
        batch.end();
    });
    if std::mem::take(&mut traced.approximate) {
        host::approximate(last_index());
    }
}

/// A slot's value as the program sees it: a cell's contents for a cell or
/// free variable.
fn visible(slot: Option<&PyObjectRef>, kind: Option<&u8>) -> Option<PyObjectRef> {
    let value = slot?;
    if kind.is_some_and(|kind| kind & (CO_FAST_CELL | CO_FAST_FREE) != 0)
        && let Some(cell) = value.downcast_ref::<PyCell>()
    {
        return cell.get();
    }
    Some(value.clone())
}

/// Notes in `changed` the locals of an optimized frame whose text changed
/// since its last event, updating them.
#[allow(clippy::too_many_arguments)]
fn changed_slots(
    frame: &InterpreterFrame,
    code: &Py<PyCode>,
    codes: &mut ById<Rc<CodeInfo>>,
    traced: &mut Traced,
    classes: &mut ById<ClassInfo>,
    scratch: &mut Vec<u8>,
    changed: &mut Vec<usize>,
    vm: &VirtualMachine,
) {
    let slots = frame.fastlocals();
    if traced.locals.len() != slots.len() {
        // A frame first seen at a line: its names now.
        let info = code_info(codes, code);
        reset(&mut traced.locals, slots.len());
        for (local, name) in traced.locals.iter_mut().zip(&info.names(code).slots) {
            local.name = *name;
        }
    }
    for (slot, local) in traced.locals.iter_mut().enumerate() {
        let Some(value) = slots[slot].as_ref() else {
            // Unbound: bound again later, it is new whatever its text.
            local.value = 0;
            continue;
        };
        // The common case first: the same plain object as before.
        if value.get_id() == local.value && local.shape == Shape::Fixed {
            continue;
        }
        let kind = code.localspluskinds.get(slot);
        let Some(value) = visible(Some(value), kind) else {
            local.value = 0;
            continue;
        };
        if update(local, &value, classes, scratch, vm) {
            changed.push(slot);
        }
    }
}

/// The same for a module or class body, whose locals are its namespace.
fn changed_names(
    frame: &InterpreterFrame,
    traced: &mut Traced,
    classes: &mut ById<ClassInfo>,
    scratch: &mut Vec<u8>,
    changed: &mut Vec<usize>,
    vm: &VirtualMachine,
) {
    let Some(mapping) = frame.locals.get() else {
        return;
    };
    let mut visit = |at: &mut usize, key: PyObjectRef, value: PyObjectRef| {
        let Some(text) = key.downcast_ref::<PyStr>() else {
            return;
        };
        let locals = &mut traced.locals;
        // Namespaces keep their order: the same name is usually where it was.
        let same = |local: &Local| local.key.as_ref().is_some_and(|k| k.is(&key));
        if !locals.get(*at).is_some_and(same) {
            match locals[*at..].iter().position(same) {
                Some(found) => {
                    let local = locals.remove(*at + found);
                    locals.insert(*at, local);
                }
                None => {
                    let local = Local {
                        name: name(&text.to_string_lossy()),
                        key: Some(key.clone()),
                        ..Local::default()
                    };
                    locals.insert(*at, local);
                }
            }
        }
        if update(&mut locals[*at], &value, classes, scratch, vm) {
            changed.push(*at);
        }
        *at += 1;
    };
    let mut at = 0;
    if let Some(dict) = mapping.obj().downcast_ref::<PyDict>() {
        let mut position = 0;
        while let Some((next, key, value)) = dict.next_entry(position) {
            position = next;
            visit(&mut at, key, value);
        }
    } else if let Some(items) = items_of(mapping.obj(), vm) {
        for (key, value) in items {
            visit(&mut at, key, value);
        }
    } else {
        return;
    }
    // Names deleted since.
    traced.locals.truncate(at);
}

/// A mapping's items, through Python.
fn items_of(mapping: &PyObject, vm: &VirtualMachine) -> Option<Vec<(PyObjectRef, PyObjectRef)>> {
    let items = vm.call_method(mapping, "items", ()).ok()?;
    vm.extract_elements_with(&items, |pair| {
        let pair = vm.extract_elements_with(&pair, Ok)?;
        match <[PyObjectRef; 2]>::try_from(pair) {
            Ok([name, value]) => Ok((name, value)),
            Err(_) => Err(vm.new_type_error("not a pair")),
        }
    })
    .ok()
}

/// Brings `local` up to `value`; returns whether its text changed (or it
/// was unbound), its new packed value then in `local.packed`.
fn update(
    local: &mut Local,
    value: &PyObject,
    classes: &mut ById<ClassInfo>,
    scratch: &mut Vec<u8>,
    vm: &VirtualMachine,
) -> bool {
    let id = value.get_id();
    let items = is_container(value, vm).then(|| fingerprint(value, vm));
    if local.value == id {
        match local.shape {
            Shape::Fixed => return false,
            Shape::Items(before) if items == Some(Some(before)) => return false,
            Shape::Items(_) | Shape::Open => {}
        }
    }
    let was_bound = local.value != 0;
    encode(
        value,
        scratch,
        &mut |class| object_name(classes, class, vm),
        vm,
    );
    local.value = id;
    local.shape = match items {
        Some(Some(items)) => Shape::Items(items),
        Some(None) => Shape::Open,
        None => shape(value, classes, vm),
    };
    let name = |id: u32, out: &mut String| class_text(id, out);
    if was_bound {
        if local.packed == *scratch {
            return false;
        }
        let before = *local
            .whole
            .get_or_insert_with(|| shown_whole(&local.packed, &name));
        let after = shown_whole(scratch, &name);
        if !(before && after) {
            // Texts cut at their cap, or made by Python: compare them,
            // keeping the new one for next time.
            let before = match local.text.take() {
                Some(text) => text,
                None => value_text(&local.packed, 0, &name).unwrap_or_default(),
            };
            let text = value_text(scratch, 0, &name).unwrap_or_default();
            if before == text {
                local.text = Some(before);
                return false;
            }
            local.text = Some(text);
        } else {
            local.text = None;
        }
        local.whole = Some(after);
    } else {
        local.text = None;
        local.whole = None;
    }
    std::mem::swap(&mut local.packed, scratch);
    true
}

fn is_container(value: &PyObject, vm: &VirtualMachine) -> bool {
    let class = value.class();
    let types = &vm.ctx.types;
    class.is(types.list_type) || class.is(types.tuple_type) || class.is(types.dict_type)
}

/// A name's text, for comparing objects' texts.
fn class_text(id: u32, out: &mut String) {
    SHARED.with(|shared| {
        if let Some(text) = shared.borrow().packed.name_text(id) {
            out.push_str(text);
        }
    });
}

/// What a value's text depends on while it is the same object.
fn shape(value: &PyObject, classes: &mut ById<ClassInfo>, vm: &VirtualMachine) -> Shape {
    let class = value.class();
    let types = &vm.ctx.types;
    if is_scalar(class, vm)
        || class.is(types.bytes_type)
        || class.is(types.complex_type)
        || class.is(types.type_type)
        || class.is(types.module_type)
        || class.is(types.function_type)
        || class.is(types.builtin_function_or_method_type)
        || class.is(types.bound_method_type)
        || class.is(types.code_type)
    {
        return Shape::Fixed;
    }
    if class.is(types.list_type) || class.is(types.tuple_type) || class.is(types.dict_type) {
        return match fingerprint(value, vm) {
            Some(items) => Shape::Items(items),
            None => Shape::Open,
        };
    }
    // A `recrepr` stringifier may make any text depend on more.
    if SHARED.with(|shared| shared.borrow().stringifiers) {
        return Shape::Open;
    }
    match class_info(classes, class, vm) {
        ClassInfo {
            repr_name: Some(_), ..
        }
        | ClassInfo {
            immutable: true, ..
        } => Shape::Fixed,
        _ => Shape::Open,
    }
}

/// Built-in classes whose instances cannot change: their text is made once
/// per object. (A heap type of the same name is not one of them.)
fn immutable_builtin(class: &Py<PyType>, vm: &VirtualMachine) -> bool {
    use rustpython_vm::types::PyTypeFlags;
    let types = &vm.ctx.types;
    if class.is(types.range_type) || class.is(types.slice_type) {
        return true;
    }
    if class.slots.flags.has_feature(PyTypeFlags::HEAPTYPE) {
        return false;
    }
    let name = class.slot_name();
    let module = class.__module__(vm).ok();
    let in_re = module
        .as_ref()
        .and_then(|module| module.downcast_ref::<PyStr>())
        .is_some_and(|module| module.as_bytes() == b"re");
    in_re && matches!(&*name, "Match" | "Pattern")
}

/// For a class whose instances have `object.__repr__` (and no `recrepr`
/// stringifier is registered, which could make their text depend on more),
/// the name that repr shows; `None` for any other class.
fn object_name(
    classes: &mut ById<ClassInfo>,
    class: &Py<PyType>,
    vm: &VirtualMachine,
) -> Option<u32> {
    if SHARED.with(|shared| shared.borrow().stringifiers) {
        return None;
    }
    class_info(classes, class, vm).repr_name
}

/// What the tracer knows of `class`, learnt on first sight.
fn class_info<'c>(
    classes: &'c mut ById<ClassInfo>,
    class: &Py<PyType>,
    vm: &VirtualMachine,
) -> &'c ClassInfo {
    classes.entry(class.get_id()).or_insert_with(|| {
        let repr = vm.ctx.intern_str("__repr__");
        let object_repr = vm.ctx.types.object_type.get_attr(repr);
        let own = class.get_attr(repr);
        let default = matches!((own, object_repr), (Some(own), Some(object)) if own.is(&object));
        let shown = default.then(|| repr_name(class, vm)).flatten();
        ClassInfo {
            _class: class.to_owned().into(),
            repr_name: shown.map(|text| name(&text)),
            immutable: immutable_builtin(class, vm),
        }
    })
}

/// The class as `object.__repr__` names it: `module.qualname`, or only
/// the qualname for builtins.
fn repr_name(class: &Py<PyType>, vm: &VirtualMachine) -> Option<String> {
    let qualname = class.__qualname__(vm);
    let qualname = qualname
        .downcast_ref::<PyStr>()?
        .to_string_lossy()
        .into_owned();
    // A missing `__module__` is not an error here.
    let module = class.__module__(vm).ok();
    match module
        .as_ref()
        .and_then(|module| module.downcast_ref::<PyStr>())
    {
        Some(module) if module.as_bytes() != b"builtins" => {
            Some(format!("{}.{qualname}", module.to_string_lossy()))
        }
        _ => Some(qualname),
    }
}

fn finish(
    state: &mut State,
    frame: &InterpreterFrame,
    value: Option<PyObjectRef>,
    vm: &VirtualMachine,
) {
    let id = address(frame);
    // A frame that returns while its exception is pending lets it go on to
    // its caller: raised there next.
    if state
        .raised
        .as_ref()
        .is_some_and(|raised| raised.frame == id)
    {
        state.raised = None;
    }
    let Some(at) = state.frames.iter().rposition(|t| t.frame == id) else {
        return;
    };
    // Frames above it ended without a return event.
    let ended = state.frames.drain(at..);
    state.spare.extend(ended);
    let value = value.unwrap_or_else(|| vm.ctx.none());
    let State {
        classes, scratch, ..
    } = state;
    encode(
        &value,
        scratch,
        &mut |class| object_name(classes, class, vm),
        vm,
    );
    write(|batch| {
        batch.ret();
        batch.value().extend_from_slice(scratch);
        batch.end();
    });
}

fn raised(
    state: &mut State,
    frame: &InterpreterFrame,
    arg: Option<PyObjectRef>,
    vm: &VirtualMachine,
) {
    let id = address(frame);
    if state.frames.last().is_none_or(|top| top.frame != id) {
        return;
    }
    let Some(arg) = arg else {
        return;
    };
    let exc = match arg.downcast_ref::<PyTuple>() {
        Some(tuple) if tuple.len() == 3 => tuple.as_slice()[1].clone(),
        _ => arg.clone(),
    };
    let (type_name, message) = describe(&exc, vm);
    write(|batch| {
        let type_id = batch.name(&type_name);
        batch.exception(ExceptionStage::Raised, type_id);
        packed::text(batch.value(), &message);
        batch.end();
    });
    state.raised = Some(Raised {
        frame: id,
        type_name,
        message,
    });
}
