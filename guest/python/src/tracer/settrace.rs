//! Live tracing (`rewind run --trace`): a `sys.settrace` callback written in
//! Rust that turns call, line, return and exception events into recorder
//! events with argument, local and return values, and hands them to the host
//! in batches.
//!
//! settrace is the hook that is both correct and complete here; RustPython's
//! `sys.monitoring` LINE events are cheaper but miscomputed a workload (see
//! the toolchain notes). Only frames whose code `revdebug._should_record`
//! accepts get line events: the callback returns no local tracer for the
//! others, so the standard library runs without per-line cost.

use std::cell::RefCell;
use std::collections::HashMap;

use rustpython_vm::builtins::{PyBaseExceptionRef, PyStrRef, PyType};
use rustpython_vm::frame::FrameObject;
use rustpython_vm::{AsObject as _, Py, PyObject, PyObjectRef, PyResult, VirtualMachine};

use crate::host::{self, Event, Stage};

/// Events batched before one call to the host.
const BATCH: usize = 1024;

/// The longest string form of a value, in characters, as `revdebug._cap`.
const MAX_LEN: usize = 256;

thread_local! {
    static TRACER: RefCell<Tracer> = RefCell::new(Tracer::default());
}

#[derive(Default)]
struct Tracer {
    /// The callback itself: returned for `call` events to get line events.
    callback: Option<PyObjectRef>,
    /// `revdebug`, for `_should_record` and `_saferepr`.
    revdebug: Option<PyObjectRef>,
    batch: Vec<Event>,
    /// Whether a code object is recorded, by its address; the code object is
    /// kept alive so that its address is not reused.
    decided: HashMap<usize, (PyObjectRef, bool)>,
    /// The string forms of each live traced frame's locals, innermost last.
    frames: Vec<FrameValues>,
    /// Stringify exact ints, floats, strs, bools and None natively (unless a
    /// `recrepr` stringifier is registered for one of them).
    slow_repr: bool,
    /// The last exception raised, in which frame: if that frame goes on to
    /// another line, it caught it.
    raised: Option<(usize, String, String)>,
}

struct FrameValues {
    frame: usize,
    values: Vec<Value>,
}

struct Value {
    name: String,
    /// The fingerprint of the value the text was made from, if it has one.
    fingerprint: Option<u64>,
    text: String,
}

/// Installs the tracer for the rest of the run.
pub fn start(vm: &VirtualMachine, revdebug: PyObjectRef) -> PyResult<()> {
    let callback: PyObjectRef = vm.new_function("_rewind_trace", trace).into();
    TRACER.with(|tracer| {
        let mut tracer = tracer.borrow_mut();
        tracer.callback = Some(callback.clone());
        tracer.revdebug = Some(revdebug);
    });
    let settrace = vm.sys_module.get_attr("settrace", vm)?;
    settrace.call((callback,), vm)?;
    Ok(())
}

/// Removes the tracer.
pub fn stop(vm: &VirtualMachine) {
    if tracing()
        && let Ok(settrace) = vm.sys_module.get_attr("settrace", vm)
    {
        let _ = settrace.call((vm.ctx.none(),), vm);
    }
}

/// Hands the batched events to the host; control calls do this first, so
/// that events and markers stay in order.
pub fn flush() {
    let batch = TRACER.with(|tracer| std::mem::take(&mut tracer.borrow_mut().batch));
    if !batch.is_empty() {
        host::events(batch);
    }
}

/// Records that `exc` ends the run.
pub fn unhandled(exc: &PyBaseExceptionRef, vm: &VirtualMachine) {
    if tracing() {
        let (type_name, message) = describe(exc.as_object(), vm);
        push(Event::Exception {
            stage: Stage::Unhandled,
            type_name,
            message,
        });
    }
}

/// Whether the tracer was started.
fn tracing() -> bool {
    TRACER.with(|tracer| tracer.borrow().callback.is_some())
}

pub fn forget_decisions() {
    TRACER.with(|tracer| tracer.borrow_mut().decided.clear());
}

pub fn set_fast_repr(on: bool) {
    TRACER.with(|tracer| tracer.borrow_mut().slow_repr = !on);
}

fn push(event: Event) {
    let full = TRACER.with(|tracer| {
        let mut tracer = tracer.borrow_mut();
        tracer.batch.push(event);
        tracer.batch.len() >= BATCH
    });
    if full {
        flush();
    }
}

/// The `sys.settrace` callback. Tracing is suspended while it runs, so the
/// Python it calls (`_should_record`, stringifiers) is not traced.
fn trace(
    frame: PyObjectRef,
    event: PyStrRef,
    arg: PyObjectRef,
    vm: &VirtualMachine,
) -> PyResult<PyObjectRef> {
    let Some(frame_obj) = frame.downcast_ref::<FrameObject>() else {
        return Ok(vm.ctx.none());
    };
    let id = frame.get_id();
    // What a local trace function returns becomes the frame's next one.
    let this = || {
        TRACER
            .with(|tracer| tracer.borrow().callback.clone())
            .unwrap_or_else(|| vm.ctx.none())
    };
    match event.to_str().unwrap_or_default() {
        "call" => {
            let code = frame_obj.f_code();
            if !should_record(code.as_object(), vm)? {
                return Ok(vm.ctx.none());
            }
            let nargs = code.code.arg_count as usize
                + code.code.kwonlyarg_count as usize
                + usize::from(
                    code.code
                        .flags
                        .contains(rustpython_vm::bytecode::CodeFlags::VARARGS),
                )
                + usize::from(
                    code.code
                        .flags
                        .contains(rustpython_vm::bytecode::CodeFlags::VARKEYWORDS),
                );
            let locals = frame_locals(frame_obj, vm)?;
            let mut values = Vec::with_capacity(nargs);
            for name in code.code.varnames.iter().take(nargs) {
                let name = name.as_str();
                let Ok(value) = locals.obj().get_item(name, vm) else {
                    continue;
                };
                values.push(Value {
                    name: name.to_owned(),
                    fingerprint: fingerprint(&value, vm),
                    text: stringify(&value, vm),
                });
            }
            let args = values
                .iter()
                .map(|value| (value.name.clone(), value.text.clone()))
                .collect();
            TRACER.with(|tracer| {
                let mut tracer = tracer.borrow_mut();
                tracer.frames.push(FrameValues { frame: id, values });
            });
            push(Event::Call {
                function: code.code.qualname.as_str().to_owned(),
                file: code.code.source_path.as_str().to_owned(),
                line: u32::try_from(frame_obj.lineno()).unwrap_or(0),
                args,
            });
            Ok(this())
        }
        "line" => {
            let caught = TRACER.with(|tracer| {
                let raised = &mut tracer.borrow_mut().raised;
                match raised {
                    Some((frame, _, _)) if *frame == id => raised.take(),
                    _ => None,
                }
            });
            if let Some((_, type_name, message)) = caught {
                push(Event::Exception {
                    stage: Stage::Caught,
                    type_name,
                    message,
                });
            }
            let changed = changed_locals(frame_obj, id, vm)?;
            push(Event::Line {
                line: u32::try_from(frame_obj.lineno()).unwrap_or(0),
                changed,
            });
            Ok(this())
        }
        "return" => {
            let value = stringify(&arg, vm);
            TRACER.with(|tracer| {
                let tracer = &mut *tracer.borrow_mut();
                // A frame that returns while its exception is pending lets it
                // go on to its caller: raised there next.
                if tracer
                    .raised
                    .as_ref()
                    .is_some_and(|(frame, _, _)| *frame == id)
                {
                    tracer.raised = None;
                }
                let frames = &mut tracer.frames;
                if let Some(at) = frames.iter().rposition(|f| f.frame == id) {
                    // Frames above it ended without a return event.
                    frames.truncate(at);
                }
            });
            push(Event::Return(value));
            Ok(this())
        }
        "exception" => {
            let exc = match arg.downcast_ref::<rustpython_vm::builtins::PyTuple>() {
                Some(tuple) if tuple.len() == 3 => tuple.as_slice()[1].clone(),
                _ => arg.clone(),
            };
            let (type_name, message) = describe(&exc, vm);
            TRACER.with(|tracer| {
                tracer.borrow_mut().raised = Some((id, type_name.clone(), message.clone()))
            });
            push(Event::Exception {
                stage: Stage::Raised,
                type_name,
                message,
            });
            Ok(this())
        }
        _ => Ok(this()),
    }
}

/// A frame's locals. A module or class body's are its namespace, read
/// directly: RustPython 0.6's `frame.locals()` indexes past the end of such
/// a frame's (empty) fast locals when its code has an inlined comprehension
/// (`values = [f(n) for n in range(8)]` at module level), and panics.
fn frame_locals(
    frame: &Py<FrameObject>,
    vm: &VirtualMachine,
) -> PyResult<rustpython_vm::function::ArgMapping> {
    let optimized = frame
        .f_code()
        .code
        .flags
        .contains(rustpython_vm::bytecode::CodeFlags::OPTIMIZED);
    match optimized {
        true => frame.locals(vm),
        false => Ok(frame.iframe().locals.clone_mapping(vm)),
    }
}

/// The locals of `frame` whose string form changed since its last event.
fn changed_locals(
    frame: &Py<FrameObject>,
    id: usize,
    vm: &VirtualMachine,
) -> PyResult<Vec<(String, String)>> {
    // A function's locals come as a dict snapshot of its fast locals: read
    // its items directly rather than through Python-level iteration.
    let locals = frame_locals(frame, vm)?;
    let items: Vec<Option<(PyObjectRef, PyObjectRef)>> = match locals
        .obj()
        .downcast_ref::<rustpython_vm::builtins::PyDict>(
    ) {
        Some(dict) => dict.items_vec().into_iter().map(Some).collect(),
        None => {
            let items = vm.call_method(locals.obj(), "items", ())?;
            vm.extract_elements_with(&items, |pair| {
                let pair = vm.extract_elements_with(&pair, Ok)?;
                match <[PyObjectRef; 2]>::try_from(pair) {
                    Ok([name, value]) => Ok(Some((name, value))),
                    Err(_) => Ok(None),
                }
            })?
        }
    };
    // The frame's previous values, taken out while stringifiers run (they
    // may call back into `_rewind`).
    let mut previous = TRACER.with(|tracer| {
        let frames = &mut tracer.borrow_mut().frames;
        match frames.iter().rposition(|f| f.frame == id) {
            Some(at) => std::mem::take(&mut frames[at].values),
            None => Vec::new(),
        }
    });
    let mut changed = Vec::new();
    let mut values = Vec::with_capacity(items.len());
    for (name, value) in items.into_iter().flatten() {
        let Some(name) = name.downcast_ref::<rustpython_vm::builtins::PyStr>() else {
            continue;
        };
        let name = name.to_string_lossy();
        let before = previous
            .iter()
            .position(|v| v.name == name)
            .map(|at| previous.swap_remove(at));
        let identity = fingerprint(&value, vm);
        let value = match before {
            // The same fingerprint: the same text.
            Some(before) if identity.is_some() && before.fingerprint == identity => before,
            before => {
                let text = stringify(&value, vm);
                if before.as_ref().is_none_or(|b| b.text != text) {
                    changed.push((name.clone().into_owned(), text.clone()));
                }
                Value {
                    name: name.into_owned(),
                    fingerprint: identity,
                    text,
                }
            }
        };
        values.push(value);
    }
    TRACER.with(|tracer| {
        let frames = &mut tracer.borrow_mut().frames;
        match frames.iter().rposition(|f| f.frame == id) {
            Some(at) => frames[at].values = values,
            None => frames.push(FrameValues { frame: id, values }),
        }
    });
    Ok(changed)
}

/// Whether calls of `code` are recorded, asked of `revdebug` once per code
/// object (again after a rule changes).
fn should_record(code: &PyObject, vm: &VirtualMachine) -> PyResult<bool> {
    let key = code.get_id();
    let known = TRACER.with(|tracer| tracer.borrow().decided.get(&key).map(|(_, on)| *on));
    if let Some(on) = known {
        return Ok(on);
    }
    let Some(revdebug) = TRACER.with(|tracer| tracer.borrow().revdebug.clone()) else {
        return Ok(false);
    };
    let decide = revdebug.get_attr("_should_record", vm)?;
    let on = decide.call((code.to_owned(),), vm)?.try_to_bool(vm)?;
    TRACER.with(|tracer| {
        tracer
            .borrow_mut()
            .decided
            .insert(key, (code.to_owned(), on))
    });
    Ok(on)
}

/// A fingerprint of what a value's string form depends on, when that can
/// be told without stringifying it: the object itself for immutable
/// scalars; for lists, tuples and dicts, the object and its own items (so a
/// change of an item of an item goes unseen until the container's own
/// items change). An unchanged fingerprint means an unchanged local.
fn fingerprint(value: &PyObject, vm: &VirtualMachine) -> Option<u64> {
    use rustpython_vm::builtins::{PyDict, PyList, PyTuple};
    const ITEMS: usize = 32;
    let mix = |hash: u64, n: usize| (hash ^ n as u64).wrapping_mul(0x0000_0100_0000_01b3);
    let start = mix(0xcbf2_9ce4_8422_2325, value.get_id());
    let sequence = |items: &[PyObjectRef]| {
        let hash = mix(start, items.len());
        items
            .iter()
            .take(ITEMS)
            .fold(hash, |h, item| mix(h, item.get_id()))
    };
    let class = value.class();
    let types = &vm.ctx.types;
    if is_scalar(class, vm) || class.is(types.bytes_type) {
        return Some(start);
    }
    if class.is(types.list_type) {
        return Some(sequence(&value.downcast_ref::<PyList>()?.borrow_vec()));
    }
    if class.is(types.tuple_type) {
        return Some(sequence(value.downcast_ref::<PyTuple>()?.as_slice()));
    }
    if class.is(types.dict_type) {
        let dict = value.downcast_ref::<PyDict>()?;
        if dict.__len__() > ITEMS {
            return None;
        }
        let hash = mix(start, dict.__len__());
        return Some(
            dict.items_vec()
                .iter()
                .fold(hash, |h, (k, v)| mix(mix(h, k.get_id()), v.get_id())),
        );
    }
    None
}

/// Whether `class` is exactly int, float, str, bool or None's type: values
/// that cannot change, whose `repr` runs no user code.
fn is_scalar(class: &Py<PyType>, vm: &VirtualMachine) -> bool {
    let types = &vm.ctx.types;
    class.is(types.int_type)
        || class.is(types.float_type)
        || class.is(types.str_type)
        || class.is(types.bool_type)
        || class.is(types.none_type)
}

/// The safe string form of a value: `revdebug._saferepr`, or natively for
/// plain scalars and containers of them, with the same result.
fn stringify(value: &PyObject, vm: &VirtualMachine) -> String {
    let slow = TRACER.with(|tracer| tracer.borrow().slow_repr);
    if !slow && let Some(text) = native_repr(value, 0, &mut Vec::new(), vm) {
        return cap(&text);
    }
    let revdebug = TRACER.with(|tracer| tracer.borrow().revdebug.clone());
    let text = revdebug
        .and_then(|revdebug| revdebug.get_attr("_saferepr", vm).ok())
        .and_then(|saferepr| saferepr.call((value.to_owned(),), vm).ok())
        .and_then(|text| text.str(vm).ok());
    match text {
        Some(text) => text.to_string_lossy().into_owned(),
        None => format!("<{} object>", value.class().name()),
    }
}

/// `revdebug._repr` for exact ints, floats, strs, bools, None, lists,
/// tuples and dicts made of them; `None` for anything else, which Python
/// then stringifies (running no user code here keeps the tracer cheap and
/// safe). The caps are `revdebug`'s: depth 3, 32 items, ~256 characters.
fn native_repr(
    value: &PyObject,
    depth: usize,
    active: &mut Vec<usize>,
    vm: &VirtualMachine,
) -> Option<String> {
    use rustpython_vm::builtins::{PyDict, PyList, PyTuple};
    const MAX_DEPTH: usize = 3;
    const MAX_ITEMS: usize = 32;

    let class = value.class();
    let types = &vm.ctx.types;
    if is_scalar(class, vm) {
        return value
            .repr(vm)
            .ok()
            .map(|text| text.to_string_lossy().into_owned());
    }
    enum Kind {
        List,
        Tuple,
        Dict,
    }
    let (kind, items): (Kind, Vec<(PyObjectRef, Option<PyObjectRef>)>) =
        if class.is(types.list_type) {
            let list = value.downcast_ref::<PyList>()?;
            let items = list
                .borrow_vec()
                .iter()
                .take(MAX_ITEMS + 1)
                .map(|item| (item.clone(), None))
                .collect();
            (Kind::List, items)
        } else if class.is(types.tuple_type) {
            let tuple = value.downcast_ref::<PyTuple>()?;
            let items = tuple
                .as_slice()
                .iter()
                .take(MAX_ITEMS + 1)
                .map(|item| (item.clone(), None))
                .collect();
            (Kind::Tuple, items)
        } else if class.is(types.dict_type) {
            let dict = value.downcast_ref::<PyDict>()?;
            if dict.__len__() > 4 * MAX_ITEMS {
                // Copying a big dict's items costs more than Python's slicing.
                return None;
            }
            let items = dict
                .items_vec()
                .into_iter()
                .take(MAX_ITEMS + 1)
                .map(|(k, v)| (k, Some(v)))
                .collect();
            (Kind::Dict, items)
        } else {
            return None;
        };
    let (open, close, recursive) = match kind {
        Kind::List => ("[", "]", "[...]"),
        Kind::Tuple => ("(", ")", "(...)"),
        Kind::Dict => ("{", "}", "{...}"),
    };
    let id = value.get_id();
    if active.contains(&id) {
        return Some(recursive.to_owned());
    }
    if items.is_empty() {
        return Some(format!("{open}{close}"));
    }
    if depth >= MAX_DEPTH {
        return Some(recursive.to_owned());
    }
    active.push(id);
    let mut parts = Vec::new();
    let mut size = 0;
    let mut result = Some(());
    for (count, (item, dict_value)) in items.iter().enumerate() {
        if count >= MAX_ITEMS || size > MAX_LEN {
            parts.push("...".to_owned());
            break;
        }
        let part = match dict_value {
            Some(dict_value) => native_repr(item, depth + 1, active, vm).and_then(|key| {
                native_repr(dict_value, depth + 1, active, vm)
                    .map(|value| format!("{key}: {value}"))
            }),
            None => native_repr(item, depth + 1, active, vm),
        };
        let Some(part) = part else {
            result = None;
            break;
        };
        size += part.chars().count() + 2;
        parts.push(part);
    }
    active.pop();
    result?;
    let trailing = match kind {
        Kind::Tuple if items.len() == 1 => ",",
        _ => "",
    };
    Some(format!("{open}{}{trailing}{close}", parts.join(", ")))
}

/// `revdebug._cap`: at most [`MAX_LEN`] characters.
fn cap(text: &str) -> String {
    if text.chars().count() <= MAX_LEN {
        return text.to_owned();
    }
    let mut capped: String = text.chars().take(MAX_LEN - 3).collect();
    capped.push_str("...");
    capped
}

/// An exception's type name and message, as the crash capture gives them.
fn describe(exc: &PyObject, vm: &VirtualMachine) -> (String, String) {
    let class = exc.class();
    let module = class
        .get_attr(vm.ctx.intern_str("__module__"))
        .and_then(|module| {
            module
                .downcast_ref::<rustpython_vm::builtins::PyStr>()
                .map(|m| m.to_string_lossy().into_owned())
        });
    let qualname = class
        .get_attr(vm.ctx.intern_str("__qualname__"))
        .and_then(|name| {
            name.downcast_ref::<rustpython_vm::builtins::PyStr>()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| class.name().to_string());
    let type_name = match module.as_deref() {
        None | Some("builtins") | Some("__main__") => qualname,
        Some(module) => format!("{module}.{qualname}"),
    };
    let message = exc
        .str(vm)
        .map(|text| cap(&text.to_string_lossy()))
        .unwrap_or_else(|_| "<str() raised>".to_owned());
    (type_name, message)
}
