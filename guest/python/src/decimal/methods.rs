//! The bodies of `Decimal`'s native methods (`mod.rs` declares them): each
//! takes finite operands (and ints) natively and hands anything else to the
//! Python method it replaced, `_pydecimal`'s own, with the same arguments.

use std::borrow::Cow;
use std::cmp::Ordering;

use malachite_bigint::Sign;
use rustpython_vm::builtins::{PyInt, PyStr};
use rustpython_vm::function::{FuncArgs, OptionalArg};
use rustpython_vm::{
    FromArgs, PyObject, PyObjectRef, PyPayload as _, PyRef, PyResult, VirtualMachine,
};

use super::_decimal::{DecimalBase, Value, state};
use super::context::{Snapshot, State};
use super::number::{self, Ctx, Finite, Num, Rounding};
use super::{format, power, text};

#[derive(FromArgs)]
pub struct BinaryArgs {
    #[pyarg(positional)]
    pub other: PyObjectRef,
    #[pyarg(any, optional)]
    pub context: OptionalArg<PyObjectRef>,
}

#[derive(FromArgs)]
pub struct ContextArgs {
    #[pyarg(any, optional)]
    pub context: OptionalArg<PyObjectRef>,
}

#[derive(FromArgs)]
pub struct AbsArgs {
    #[pyarg(any, optional)]
    round: OptionalArg<PyObjectRef>,
    #[pyarg(any, optional)]
    context: OptionalArg<PyObjectRef>,
}

#[derive(FromArgs)]
pub struct StrArgs {
    #[pyarg(any, optional)]
    pub eng: OptionalArg<PyObjectRef>,
    #[pyarg(any, optional)]
    pub context: OptionalArg<PyObjectRef>,
}

#[derive(FromArgs)]
pub struct QuantizeArgs {
    #[pyarg(any)]
    exp: PyObjectRef,
    #[pyarg(any, optional)]
    rounding: OptionalArg<PyObjectRef>,
    #[pyarg(any, optional)]
    context: OptionalArg<PyObjectRef>,
}

#[derive(FromArgs)]
pub struct PowArgs {
    #[pyarg(positional)]
    pub other: PyObjectRef,
    #[pyarg(any, optional)]
    pub modulo: OptionalArg<PyObjectRef>,
    #[pyarg(any, optional)]
    pub context: OptionalArg<PyObjectRef>,
}

#[derive(FromArgs)]
pub struct RoundingArgs {
    #[pyarg(any, optional)]
    rounding: OptionalArg<PyObjectRef>,
    #[pyarg(any, optional)]
    context: OptionalArg<PyObjectRef>,
}

fn or_none(arg: OptionalArg<PyObjectRef>, vm: &VirtualMachine) -> PyObjectRef {
    arg.unwrap_or_none(vm)
}

/// An operand the native arithmetic takes: a Decimal (borrowed: at a
/// thousand digits a copy costs more than a comparison), or an int exactly.
pub fn operand(obj: &PyObject) -> Option<Cow<'_, Value>> {
    if let Some(decimal) = obj.downcast_ref::<DecimalBase>() {
        return Some(Cow::Borrowed(&decimal.value));
    }
    obj.downcast_ref::<PyInt>().map(|int| {
        let int = int.as_bigint();
        Cow::Owned(Value::Finite(Finite {
            negative: int.sign() == Sign::Minus,
            coef: int.magnitude().clone(),
            exp: 0,
        }))
    })
}

/// A rounding mode given by name, `None` for one the native code does not
/// know (Python raises for it).
fn rounding_named(name: &PyObjectRef) -> Option<Rounding> {
    name.downcast_ref::<PyStr>()
        .and_then(|name| name.to_str().and_then(Rounding::from_name))
}

/// The binary operations done natively.
#[derive(Clone, Copy)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

/// The context's snapshot and the arithmetic's view of it, or `None` when
/// the native code does not take this context.
fn arithmetic(
    state: &State,
    context: &PyObjectRef,
    vm: &VirtualMachine,
) -> PyResult<Option<(std::rc::Rc<Snapshot>, Ctx)>> {
    let context = state.context(Some(context.clone()), vm)?;
    let snapshot = state.snapshot(&context, vm)?;
    Ok(snapshot.ctx.map(|ctx| (snapshot.clone(), ctx)))
}

/// The result of a native operation: its conditions raised, then the number
/// made.
fn finish(
    state: &State,
    snapshot: &Snapshot,
    outcome: number::Outcome,
    vm: &VirtualMachine,
) -> PyResult {
    let num = state.settle(snapshot, outcome, vm)?;
    new_decimal(state, num.into(), vm)
}

pub fn new_decimal(state: &State, value: Value, vm: &VirtualMachine) -> PyResult {
    Ok(DecimalBase { value }
        .into_ref_with_type(vm, state.decimal.clone())?
        .into())
}

impl DecimalBase {
    pub fn finite(&self) -> Option<&Finite> {
        match &self.value {
            Value::Finite(finite) => Some(finite),
            _ => None,
        }
    }

    /// `a op b` when both are finite and the operation is valid; else the
    /// Python method `name`.
    pub fn binary(
        zelf: PyRef<Self>,
        args: BinaryArgs,
        op: Binary,
        reflected: bool,
        name: &str,
        vm: &VirtualMachine,
    ) -> PyResult {
        let state = state(vm)?;
        let context = or_none(args.context, vm);
        let native = (|| -> PyResult<Option<PyObjectRef>> {
            let other = operand(&args.other);
            let (Some(this), Some(Value::Finite(other))) = (zelf.finite(), other.as_deref()) else {
                return Ok(None);
            };
            let (a, b) = if reflected {
                (other, this)
            } else {
                (this, other)
            };
            Self::compute(&state, a, b, op, &context, vm)
        })()?;
        match native {
            Some(result) => Ok(result),
            None => state.fallback(name, vec![zelf.into(), args.other, context], vm),
        }
    }

    /// `a op b` for finite operands, or `None` to leave it to Python.
    fn compute(
        state: &State,
        a: &Finite,
        b: &Finite,
        op: Binary,
        context: &PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<Option<PyObjectRef>> {
        let divides = matches!(op, Binary::Div | Binary::FloorDiv | Binary::Mod);
        if divides && b.is_zero() {
            return Ok(None);
        }
        let Some((snapshot, ctx)) = arithmetic(state, context, vm)? else {
            return Ok(None);
        };
        let outcome = match op {
            Binary::Add => number::add(a, b, &ctx),
            Binary::Sub => {
                let negated = Finite {
                    negative: !b.negative,
                    ..b.clone()
                };
                number::add(a, &negated, &ctx)
            }
            Binary::Mul => number::mul(a, b, &ctx),
            Binary::Div => number::div(a, b, &ctx),
            // The quotient is returned unrounded, as `_pydecimal` does.
            Binary::FloorDiv => match number::divide_integer(a, b, &ctx) {
                Some((quotient, _)) => (Num::Finite(quotient), vec![]),
                None => return Ok(None),
            },
            Binary::Mod => match number::divide_integer(a, b, &ctx) {
                Some((_, remainder)) => number::fix(remainder, &ctx),
                None => return Ok(None),
            },
            Binary::Pow => match power::power(a, b, &ctx) {
                Some(outcome) => outcome,
                None => return Ok(None),
            },
        };
        finish(state, &snapshot, outcome, vm).map(Some)
    }

    /// `x ** y` (no modulo) natively where `power` takes it.
    pub fn pow(zelf: PyRef<Self>, args: PowArgs, vm: &VirtualMachine) -> PyResult {
        let modulo = or_none(args.modulo, vm);
        if !vm.is_none(&modulo) {
            let context = or_none(args.context, vm);
            return state(vm)?.fallback(
                "__pow__",
                vec![zelf.into(), args.other, modulo, context],
                vm,
            );
        }
        let state = state(vm)?;
        let context = or_none(args.context, vm);
        let native = match (zelf.finite(), operand(&args.other).as_deref()) {
            (Some(this), Some(Value::Finite(other))) => {
                Self::compute(&state, this, other, Binary::Pow, &context, vm)?
            }
            _ => None,
        };
        match native {
            Some(result) => Ok(result),
            None => state.fallback(
                "__pow__",
                vec![zelf.into(), args.other, modulo, context],
                vm,
            ),
        }
    }

    /// `+x`, `-x` and `abs(x)`: the number with a sign, rounded to the
    /// context; a zero keeps its sign only under ROUND_FLOOR.
    pub fn signed(
        zelf: PyRef<Self>,
        context: PyObjectRef,
        sign: fn(bool) -> bool,
        fallback: Vec<PyObjectRef>,
        name: &str,
        vm: &VirtualMachine,
    ) -> PyResult {
        let state = state(vm)?;
        let Some(this) = zelf.finite() else {
            return state.fallback(name, fallback, vm);
        };
        let Some((snapshot, ctx)) = arithmetic(&state, &context, vm)? else {
            return state.fallback(name, fallback, vm);
        };
        let negative = if this.is_zero() && ctx.rounding != Rounding::Floor {
            false
        } else {
            sign(this.negative)
        };
        let value = Finite {
            negative,
            ..this.clone()
        };
        finish(&state, &snapshot, number::fix(value, &ctx), vm)
    }

    pub fn abs(zelf: PyRef<Self>, args: AbsArgs, vm: &VirtualMachine) -> PyResult {
        let context = or_none(args.context, vm);
        let round = match args.round {
            OptionalArg::Present(round) => round.try_to_bool(vm)?,
            OptionalArg::Missing => true,
        };
        let fallback = vec![
            zelf.clone().into(),
            vm.ctx.new_bool(round).into(),
            context.clone(),
        ];
        if !round {
            return state(vm)?.fallback("__abs__", fallback, vm);
        }
        Self::signed(zelf, context, |_| false, fallback, "__abs__", vm)
    }

    /// An ordering comparison with a finite Decimal or an int; else the
    /// Python method.
    pub fn compare(
        zelf: PyRef<Self>,
        args: BinaryArgs,
        test: fn(Ordering) -> bool,
        name: &str,
        vm: &VirtualMachine,
    ) -> PyResult {
        if let (Some(this), Some(Value::Finite(other))) =
            (zelf.finite(), operand(&args.other).as_deref())
        {
            return Ok(vm.ctx.new_bool(test(number::compare(this, other))).into());
        }
        let context = or_none(args.context, vm);
        state(vm)?.fallback(name, vec![zelf.into(), args.other, context], vm)
    }

    /// `normalize()`: rounded, trailing zeros stripped.
    pub fn normalize(zelf: PyRef<Self>, args: ContextArgs, vm: &VirtualMachine) -> PyResult {
        let state = state(vm)?;
        let context = or_none(args.context, vm);
        if let Some(this) = zelf.finite()
            && let Some((snapshot, ctx)) = arithmetic(&state, &context, vm)?
        {
            return finish(&state, &snapshot, number::normalize(this, &ctx), vm);
        }
        state.fallback("normalize", vec![zelf.into(), context], vm)
    }

    /// `to_integral_value()` (and its old name `to_integral`): rounded to
    /// exponent 0 when below it, raising nothing.
    pub fn to_integral(
        zelf: PyRef<Self>,
        args: RoundingArgs,
        name: &str,
        vm: &VirtualMachine,
    ) -> PyResult {
        let state = state(vm)?;
        let rounding = or_none(args.rounding, vm);
        let context = or_none(args.context, vm);
        if let Some(this) = zelf.finite() {
            let mode = if vm.is_none(&rounding) {
                let context = state.context(Some(context.clone()), vm)?;
                state.snapshot(&context, vm)?.rounding
            } else {
                rounding_named(&rounding)
            };
            if let Some(mode) = mode {
                let value = if this.exp >= 0 {
                    this.clone()
                } else {
                    number::rescale(this, 0, mode)
                };
                return new_decimal(&state, Value::Finite(value), vm);
            }
        }
        state.fallback(name, vec![zelf.into(), rounding, context], vm)
    }

    pub fn str(zelf: PyRef<Self>, args: StrArgs, vm: &VirtualMachine) -> PyResult {
        let state = state(vm)?;
        let eng = match &args.eng {
            OptionalArg::Present(eng) => eng.clone().try_to_bool(vm)?,
            OptionalArg::Missing => false,
        };
        let context = or_none(args.context, vm);
        let Some(finite) = zelf.finite() else {
            let eng = vm.ctx.new_bool(eng).into();
            return state.fallback("__str__", vec![zelf.into(), eng, context], vm);
        };
        let context = state.context(Some(context), vm)?;
        let capitals = state.snapshot(&context, vm)?.capitals;
        Ok(vm
            .ctx
            .new_str(text::to_string(finite, eng, capitals))
            .into())
    }

    /// `format(d, spec)` of a finite number (`format.rs`); the rest (the
    /// `n` type, a locale, infinities and NaNs) is `_pydecimal`'s.
    pub fn format(zelf: PyRef<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        let state = state(vm)?;
        let spec = match (&args.args[..], args.kwargs.is_empty()) {
            ([spec], true) => spec.downcast_ref::<PyStr>().and_then(|spec| spec.to_str()),
            _ => None,
        };
        if let (Some(spec), Some(finite)) = (spec, zelf.finite()) {
            let context = state.context(None, vm)?;
            let snapshot = state.snapshot(&context, vm)?;
            if let Some(text) = snapshot
                .rounding
                .and_then(|rounding| format::format(finite, spec, snapshot.capitals, rounding))
            {
                return Ok(vm.ctx.new_str(text).into());
            }
        }
        let mut args = args;
        args.args.insert(0, zelf.into());
        state.fallback_function("__format__", vm)?.call(args, vm)
    }

    pub fn quantize(zelf: PyRef<Self>, args: QuantizeArgs, vm: &VirtualMachine) -> PyResult {
        let state = state(vm)?;
        let rounding = or_none(args.rounding, vm);
        let context = or_none(args.context, vm);
        let native = (|| -> PyResult<Option<PyObjectRef>> {
            let target = operand(&args.exp);
            let (Some(this), Some(Value::Finite(target))) = (zelf.finite(), target.as_deref())
            else {
                return Ok(None);
            };
            let Some((snapshot, ctx)) = arithmetic(&state, &context, vm)? else {
                return Ok(None);
            };
            let mode = if vm.is_none(&rounding) {
                ctx.rounding
            } else {
                match rounding_named(&rounding) {
                    Some(mode) => mode,
                    None => return Ok(None),
                }
            };
            match number::quantize(this, target.exp, mode, &ctx) {
                Some(outcome) => finish(&state, &snapshot, outcome, vm).map(Some),
                None => Ok(None),
            }
        })()?;
        match native {
            Some(result) => Ok(result),
            None => state.fallback(
                "quantize",
                vec![zelf.into(), args.exp, rounding, context],
                vm,
            ),
        }
    }
}
