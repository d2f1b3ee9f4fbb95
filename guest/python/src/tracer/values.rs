//! The safe string forms of values, as `revdebug._saferepr` makes them
//! (natively for plain scalars and containers of them, with the same
//! result), values packed for the native tracer, and what a value's string
//! form depends on.

use rewind_format::packed::{KEEP_ITEMS, MAX_DEPTH, values};
use rustpython_vm::builtins::{PyDict, PyFloat, PyInt, PyList, PyStr, PyTuple, PyType};
use rustpython_vm::common::str::StrKind;
use rustpython_vm::{AsObject as _, Py, PyObject, PyObjectRef, VirtualMachine};

use super::SHARED;

/// The longest string form of a value, in characters, as `revdebug._cap`.
pub(super) const MAX_LEN: usize = 256;

/// A fingerprint of what a value's string form depends on, when that can
/// be told without stringifying it: the object itself for immutable
/// scalars; for lists, tuples and dicts, the object and the items its text
/// can show (the first [`KEEP_ITEMS`]), so a change of an item of an item
/// goes unseen until the container's own items change. An unchanged
/// fingerprint means an unchanged local.
pub(super) fn fingerprint(value: &PyObject, vm: &VirtualMachine) -> Option<u64> {
    let mix = |hash: u64, n: usize| (hash ^ n as u64).wrapping_mul(0x0000_0100_0000_01b3);
    let start = mix(0xcbf2_9ce4_8422_2325, value.get_id());
    let sequence = |items: &[PyObjectRef]| {
        let shown = &items[..items.len().min(KEEP_ITEMS)];
        let hash = mix(start, shown.len());
        shown.iter().fold(hash, |h, item| mix(h, item.get_id()))
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
        let mut hash = mix(start, dict.__len__().min(KEEP_ITEMS));
        let mut position = 0;
        for _ in 0..KEEP_ITEMS {
            let Some((next, key, item)) = dict.next_entry(position) else {
                break;
            };
            hash = mix(mix(hash, key.get_id()), item.get_id());
            position = next;
        }
        return Some(hash);
    }
    None
}

/// Whether `class` is exactly int, float, str, bool or None's type: values
/// that cannot change, whose `repr` runs no user code.
pub(super) fn is_scalar(class: &Py<PyType>, vm: &VirtualMachine) -> bool {
    let types = &vm.ctx.types;
    class.is(types.int_type)
        || class.is(types.float_type)
        || class.is(types.str_type)
        || class.is(types.bool_type)
        || class.is(types.none_type)
}

/// The safe string form of a value: `revdebug._saferepr`, or natively for
/// plain scalars and containers of them, with the same result.
pub(super) fn stringify(value: &PyObject, vm: &VirtualMachine) -> String {
    let slow = SHARED.with(|shared| shared.borrow().slow_repr);
    if !slow && let Some(text) = native_repr(value, 0, &mut Vec::new(), vm) {
        return cap(&text);
    }
    if let Some(text) = builtin_repr(value, vm) {
        return cap(&text);
    }
    let revdebug = SHARED.with(|shared| shared.borrow().revdebug.clone());
    let text = revdebug
        .and_then(|revdebug| revdebug.get_attr("_saferepr", vm).ok())
        .and_then(|saferepr| saferepr.call((value.to_owned(),), vm).ok())
        .and_then(|text| text.str(vm).ok());
    match text {
        Some(text) => text.to_string_lossy().into_owned(),
        None => format!("<{} object>", value.class().name()),
    }
}

/// The repr of an instance of a built-in class, as `revdebug._repr`
/// makes it when no `recrepr` stringifier applies: its own repr, made by
/// the VM (sets and frozensets excepted: `revdebug` caps their items).
fn builtin_repr(value: &PyObject, vm: &VirtualMachine) -> Option<String> {
    use rustpython_vm::types::PyTypeFlags;
    let class = value.class();
    let types = &vm.ctx.types;
    let plain = !class.slots.flags.has_feature(PyTypeFlags::HEAPTYPE)
        && !class.is(types.set_type)
        && !class.is(types.frozenset_type)
        && !SHARED.with(|shared| shared.borrow().stringifiers);
    if !plain {
        return None;
    }
    let text = value.repr(vm).ok()?;
    Some(text.to_string_lossy().into_owned())
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
    // A sequence's first items, one more than are shown.
    let first = |items: &[PyObjectRef]| -> Vec<(PyObjectRef, Option<PyObjectRef>)> {
        items
            .iter()
            .take(MAX_ITEMS + 1)
            .map(|item| (item.clone(), None))
            .collect()
    };
    let (kind, items): (Kind, Vec<(PyObjectRef, Option<PyObjectRef>)>) =
        if class.is(types.list_type) {
            let list = value.downcast_ref::<PyList>()?;
            (Kind::List, first(&list.borrow_vec()))
        } else if class.is(types.tuple_type) {
            let tuple = value.downcast_ref::<PyTuple>()?;
            (Kind::Tuple, first(tuple.as_slice()))
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

/// Writes `value` packed into `out` (emptied first): natively, with the
/// same text as [`stringify`] would give, for what [`pack`] can write;
/// else as the text [`stringify`] gives. `object` names a class whose
/// instances have the default repr, or says they do not.
pub(super) fn encode(
    value: &PyObject,
    out: &mut Vec<u8>,
    object: &mut dyn FnMut(&Py<PyType>) -> Option<u32>,
    vm: &VirtualMachine,
) {
    out.clear();
    let slow = SHARED.with(|shared| shared.borrow().slow_repr);
    if !slow && pack(value, 0, &mut Vec::new(), out, object, vm) {
        return;
    }
    out.clear();
    values::text(out, &stringify(value, vm));
}

/// [`native_repr`]'s values, packed: exact None, bools, ints, floats,
/// strs, lists, tuples and dicts of them, and objects with the default
/// repr. Returns false, having written part of it, for anything else.
fn pack(
    value: &PyObject,
    depth: usize,
    active: &mut Vec<usize>,
    out: &mut Vec<u8>,
    object: &mut dyn FnMut(&Py<PyType>) -> Option<u32>,
    vm: &VirtualMachine,
) -> bool {
    let class = value.class();
    let types = &vm.ctx.types;
    if class.is(types.none_type) {
        values::none(out);
    } else if class.is(types.bool_type) {
        values::boolean(out, value.is(&vm.ctx.true_value));
    } else if class.is(types.int_type) {
        let Some(int) = value.downcast_ref::<PyInt>() else {
            return false;
        };
        match i64::try_from(int.as_bigint()) {
            Ok(int) => values::int(out, int),
            Err(_) => match value.repr(vm) {
                Ok(text) => values::text(out, &text.to_string_lossy()),
                Err(_) => return false,
            },
        }
    } else if class.is(types.float_type) {
        let Some(float) = value.downcast_ref::<PyFloat>() else {
            return false;
        };
        values::float(out, float.to_f64());
    } else if class.is(types.str_type) {
        let Some(text) = value.downcast_ref::<PyStr>() else {
            return false;
        };
        if matches!(text.kind(), StrKind::Ascii) {
            values::ascii_str(out, text.as_bytes());
        } else {
            match value.repr(vm) {
                Ok(text) => values::text(out, &text.to_string_lossy()),
                Err(_) => return false,
            }
        }
    } else if class.is(types.list_type) || class.is(types.tuple_type) || class.is(types.dict_type) {
        return pack_container(value, class, depth, active, out, object, vm);
    } else {
        match object(class) {
            Some(name) => values::object(out, name, value.get_id() as u64),
            None => return false,
        }
    }
    true
}

fn pack_container(
    value: &PyObject,
    class: &Py<PyType>,
    depth: usize,
    active: &mut Vec<usize>,
    out: &mut Vec<u8>,
    object: &mut dyn FnMut(&Py<PyType>) -> Option<u32>,
    vm: &VirtualMachine,
) -> bool {
    let types = &vm.ctx.types;
    let (recursive, empty) = if class.is(types.list_type) {
        (
            "[...]",
            value
                .downcast_ref::<PyList>()
                .is_some_and(|l| l.borrow_vec().is_empty()),
        )
    } else if class.is(types.tuple_type) {
        (
            "(...)",
            value
                .downcast_ref::<PyTuple>()
                .is_some_and(|t| t.is_empty()),
        )
    } else {
        (
            "{...}",
            value
                .downcast_ref::<PyDict>()
                .is_some_and(|d| d.__len__() == 0),
        )
    };
    let id = value.get_id();
    if active.contains(&id) || (!empty && depth >= MAX_DEPTH) {
        values::text(out, recursive);
        return true;
    }
    active.push(id);
    let packed = if let Some(list) = value.downcast_ref::<PyList>() {
        // Packing runs no Python code: nothing can change the list meanwhile.
        let items = list.borrow_vec();
        let items = &items[..items.len().min(KEEP_ITEMS)];
        values::list(out, items.len());
        items
            .iter()
            .all(|item| pack(item, depth + 1, active, out, object, vm))
    } else if let Some(tuple) = value.downcast_ref::<PyTuple>() {
        let items = &tuple.as_slice()[..tuple.len().min(KEEP_ITEMS)];
        values::tuple(out, items.len());
        items
            .iter()
            .all(|item| pack(item, depth + 1, active, out, object, vm))
    } else if let Some(dict) = value.downcast_ref::<PyDict>() {
        let mut items = Vec::with_capacity(dict.__len__().min(KEEP_ITEMS));
        let mut position = 0;
        while items.len() < KEEP_ITEMS
            && let Some((next, key, item)) = dict.next_entry(position)
        {
            items.push((key, item));
            position = next;
        }
        values::dict(out, items.len());
        items.iter().all(|(key, item)| {
            pack(key, depth + 1, active, out, object, vm)
                && pack(item, depth + 1, active, out, object, vm)
        })
    } else {
        false
    };
    active.pop();
    packed
}

/// `revdebug._cap`: at most [`MAX_LEN`] characters.
pub(super) fn cap(text: &str) -> String {
    if text.chars().count() <= MAX_LEN {
        return text.to_owned();
    }
    let mut capped: String = text.chars().take(MAX_LEN - 3).collect();
    capped.push_str("...");
    capped
}

/// An exception's type name and message, as the crash capture gives them.
pub(super) fn describe(exc: &PyObject, vm: &VirtualMachine) -> (String, String) {
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
