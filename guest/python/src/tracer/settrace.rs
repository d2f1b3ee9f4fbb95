//! The reference tracer: a `sys.settrace` callback written in Rust, which
//! reads a traced frame's locals through `frame.f_locals` at every line and
//! compares their fingerprints and string forms with the frame's last ones.
//! The native tracer makes the same events faster; this one stays as what
//! it is checked against (`--tracer settrace` in the launch protocol).

use std::cell::RefCell;

use rustpython_vm::builtins::PyStrRef;
use rustpython_vm::frame::FrameObject;
use rustpython_vm::{AsObject as _, Py, PyObjectRef, PyResult, VirtualMachine};

use super::values::{describe, fingerprint, stringify};
use super::{push, should_record};
use crate::host::{Event, Stage};

thread_local! {
    static TRACER: RefCell<Tracer> = RefCell::new(Tracer::default());
}

#[derive(Default)]
struct Tracer {
    /// The callback itself: returned for `call` events to get line events.
    callback: Option<PyObjectRef>,
    /// The string forms of each live traced frame's locals, innermost last.
    frames: Vec<FrameValues>,
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

/// Installs the callback with `sys.settrace`.
pub(super) fn start(vm: &VirtualMachine) -> PyResult<()> {
    let callback: PyObjectRef = vm.new_function("_rewind_trace", trace).into();
    TRACER.with(|tracer| tracer.borrow_mut().callback = Some(callback.clone()));
    let settrace = vm.sys_module.get_attr("settrace", vm)?;
    settrace.call((callback,), vm)?;
    Ok(())
}

/// Removes it.
pub(super) fn stop(vm: &VirtualMachine) {
    if let Ok(settrace) = vm.sys_module.get_attr("settrace", vm) {
        let _ = settrace.call((vm.ctx.none(),), vm);
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
