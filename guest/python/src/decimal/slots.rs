//! The rebuilt `Decimal`'s type slots, pointed straight at the native
//! methods.
//!
//! `Decimal` is a Python class (`glue.py` makes it with `type()`), so
//! RustPython fills its slots (`+`, `<`, `hash()`, `str()`, ...) with
//! wrappers that look the special method up by name and call it with an
//! argument list: a cost paid at every operation before the method starts,
//! larger than a small number's arithmetic. [`install`] replaces those
//! wrappers with functions that call the same native methods directly;
//! they hand what they do not take to the same Python fallbacks, so the
//! behaviour is the methods'. A subclass inherits these slots, and one that
//! defines its own special method gets the usual wrapper for it.

use rustpython_vm::builtins::{PyInt, PyStr, PyTypeRef};
use rustpython_vm::function::{Either, OptionalArg, PyComparisonValue};
use rustpython_vm::protocol::PyNumber;
use rustpython_vm::types::PyComparisonOp;
use rustpython_vm::{AsObject as _, PyObject, PyObjectRef, PyRef, PyResult, VirtualMachine};

use num_traits::ToPrimitive as _;

use super::_decimal::{DecimalBase, Value, state};
use super::methods::{Binary, BinaryArgs, PowArgs, StrArgs, operand};
use super::{hash, number};

/// `a op b` with `zelf` the Decimal operand: the left one, or the right
/// one of a reflected operation.
fn binary(
    zelf: &PyObject,
    other: &PyObject,
    op: Binary,
    reflected: bool,
    name: &str,
    vm: &VirtualMachine,
) -> PyResult {
    let Ok(zelf) = zelf.to_owned().downcast::<DecimalBase>() else {
        return Ok(vm.ctx.not_implemented());
    };
    let args = BinaryArgs {
        other: other.to_owned(),
        context: OptionalArg::Missing,
    };
    DecimalBase::binary(zelf, args, op, reflected, name, vm)
}

macro_rules! binary_slots {
    ($($left:ident, $right:ident: $op:ident, $name:literal, $rname:literal;)*) => {
        $(
            fn $left(a: &PyObject, b: &PyObject, vm: &VirtualMachine) -> PyResult {
                binary(a, b, Binary::$op, false, $name, vm)
            }

            fn $right(a: &PyObject, b: &PyObject, vm: &VirtualMachine) -> PyResult {
                binary(b, a, Binary::$op, true, $rname, vm)
            }
        )*
    };
}

binary_slots! {
    add, right_add: Add, "__add__", "__radd__";
    subtract, right_subtract: Sub, "__sub__", "__rsub__";
    multiply, right_multiply: Mul, "__mul__", "__rmul__";
    true_divide, right_true_divide: Div, "__truediv__", "__rtruediv__";
    floor_divide, right_floor_divide: FloorDiv, "__floordiv__", "__rfloordiv__";
    remainder, right_remainder: Mod, "__mod__", "__rmod__";
}

fn power(a: &PyObject, b: &PyObject, modulo: &PyObject, vm: &VirtualMachine) -> PyResult {
    let Ok(zelf) = a.to_owned().downcast::<DecimalBase>() else {
        return Ok(vm.ctx.not_implemented());
    };
    let args = PowArgs {
        other: b.to_owned(),
        modulo: OptionalArg::Present(modulo.to_owned()),
        context: OptionalArg::Missing,
    };
    DecimalBase::pow(zelf, args, vm)
}

fn decimal(number: PyNumber<'_>, vm: &VirtualMachine) -> PyResult<PyRef<DecimalBase>> {
    number
        .obj
        .to_owned()
        .downcast::<DecimalBase>()
        .map_err(|_| vm.new_type_error("a Decimal slot got another type".to_owned()))
}

fn negative(number: PyNumber<'_>, vm: &VirtualMachine) -> PyResult {
    let zelf = decimal(number, vm)?;
    let fallback = vec![zelf.clone().into(), vm.ctx.none()];
    DecimalBase::signed(zelf, vm.ctx.none(), |n| !n, fallback, "__neg__", vm)
}

fn positive(number: PyNumber<'_>, vm: &VirtualMachine) -> PyResult {
    let zelf = decimal(number, vm)?;
    let fallback = vec![zelf.clone().into(), vm.ctx.none()];
    DecimalBase::signed(zelf, vm.ctx.none(), |n| n, fallback, "__pos__", vm)
}

fn absolute(number: PyNumber<'_>, vm: &VirtualMachine) -> PyResult {
    let zelf = decimal(number, vm)?;
    let fallback = vec![
        zelf.clone().into(),
        vm.ctx.new_bool(true).into(),
        vm.ctx.none(),
    ];
    DecimalBase::signed(zelf, vm.ctx.none(), |_| false, fallback, "__abs__", vm)
}

fn boolean(number: PyNumber<'_>, vm: &VirtualMachine) -> PyResult<bool> {
    let zelf = decimal(number, vm)?;
    Ok(match &zelf.value {
        Value::Finite(finite) => !finite.is_zero(),
        _ => true,
    })
}

fn richcompare(
    a: &PyObject,
    b: &PyObject,
    op: PyComparisonOp,
    vm: &VirtualMachine,
) -> PyResult<Either<PyObjectRef, PyComparisonValue>> {
    let Some(zelf) = a.downcast_ref::<DecimalBase>() else {
        return Ok(Either::B(PyComparisonValue::NotImplemented));
    };
    if let (Some(this), Some(Value::Finite(other))) = (zelf.finite(), operand(b).as_deref()) {
        let ordering = number::compare(this, other);
        return Ok(Either::B(PyComparisonValue::Implemented(
            op.eval_ord(ordering),
        )));
    }
    // `_pydecimal` has no `__ne__`: Python's default inverts `__eq__`.
    let name = match op {
        PyComparisonOp::Lt => "__lt__",
        PyComparisonOp::Le => "__le__",
        PyComparisonOp::Eq | PyComparisonOp::Ne => "__eq__",
        PyComparisonOp::Gt => "__gt__",
        PyComparisonOp::Ge => "__ge__",
    };
    let result = state(vm)?.fallback(name, vec![a.to_owned(), b.to_owned(), vm.ctx.none()], vm)?;
    if op == PyComparisonOp::Ne && !result.is(&vm.ctx.not_implemented) {
        return Ok(Either::B(PyComparisonValue::Implemented(
            !result.try_to_bool(vm)?,
        )));
    }
    Ok(Either::A(result))
}

fn hash(zelf: &PyObject, vm: &VirtualMachine) -> PyResult<i64> {
    if let Some(this) = zelf.downcast_ref::<DecimalBase>().and_then(|d| d.finite()) {
        return Ok(hash::hash(this));
    }
    let result = state(vm)?.fallback("__hash__", vec![zelf.to_owned()], vm)?;
    let hash = result
        .downcast_ref::<PyInt>()
        .and_then(|int| int.as_bigint().to_i64())
        .ok_or_else(|| vm.new_type_error("__hash__ method should return an integer".to_owned()))?;
    Ok(if hash == -1 { -2 } else { hash })
}

fn text(zelf: &PyObject, vm: &VirtualMachine) -> PyResult<PyRef<PyStr>> {
    let Ok(zelf) = zelf.to_owned().downcast::<DecimalBase>() else {
        return Err(vm.new_type_error("a Decimal slot got another type".to_owned()));
    };
    let args = StrArgs {
        eng: OptionalArg::Missing,
        context: OptionalArg::Missing,
    };
    DecimalBase::str(zelf, args, vm)?
        .downcast::<PyStr>()
        .map_err(|_| vm.new_type_error("__str__ returned non-string".to_owned()))
}

fn repr(zelf: &PyObject, vm: &VirtualMachine) -> PyResult<PyRef<PyStr>> {
    let text = text(zelf, vm)?;
    Ok(vm
        .ctx
        .new_str(format!("Decimal('{}')", text.to_str().unwrap_or_default())))
}

/// Points `decimal`'s slots at the native methods.
pub fn install(decimal: &PyTypeRef) {
    let number = &decimal.slots.as_number;
    number.add.store(Some(add));
    number.right_add.store(Some(right_add));
    number.subtract.store(Some(subtract));
    number.right_subtract.store(Some(right_subtract));
    number.multiply.store(Some(multiply));
    number.right_multiply.store(Some(right_multiply));
    number.true_divide.store(Some(true_divide));
    number.right_true_divide.store(Some(right_true_divide));
    number.floor_divide.store(Some(floor_divide));
    number.right_floor_divide.store(Some(right_floor_divide));
    number.remainder.store(Some(remainder));
    number.right_remainder.store(Some(right_remainder));
    number.power.store(Some(power));
    number.negative.store(Some(negative));
    number.positive.store(Some(positive));
    number.absolute.store(Some(absolute));
    number.boolean.store(Some(boolean));
    decimal.slots.richcompare.store(Some(richcompare));
    decimal.slots.hash.store(Some(hash));
    decimal.slots.str.store(Some(text));
    decimal.slots.repr.store(Some(repr));
    // `Decimal` defines `__new__` natively and no `__init__`: without an
    // init slot, a call to the class skips copying its arguments for an
    // `object.__init__` that would do nothing.
    decimal.slots.init.store(None);
}
