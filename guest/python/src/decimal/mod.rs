//! `_decimal`: Python's `decimal` with a native core.
//!
//! RustPython has no `_decimal`, so `decimal` fell back to `_pydecimal`,
//! whose every operation runs dozens of Python-level calls and converts its
//! coefficients between `str` and `int`: 30-180x CPython's C `_decimal` on
//! decimal-heavy programs. This module keeps `_pydecimal`'s semantics and
//! code for everything (contexts, signals, formatting, the long tail of
//! operations) and moves the hot operations on finite numbers to Rust:
//!
//! - `glue.py` runs `_pydecimal`'s frozen code in this module and rebuilds
//!   its `Decimal` class on [`DecimalBase`], a native type that holds the
//!   number, with the hot methods (`+ - * / // % **`, unary signs,
//!   comparisons, `hash`, `str`, `repr`, `format`, `bool`, `quantize`,
//!   `normalize`, `to_integral`, construction) native, and its type slots
//!   pointed at them ([`slots`]).
//! - The other methods are `_pydecimal`'s own Python functions: they read
//!   the number through the `_sign`, `_int`, `_exp` and `_is_special`
//!   attributes they always used, and make results through the native
//!   `_dec_from_triple`.
//! - A native method handles finite operands (and ints); infinities, NaNs,
//!   zero divisors, invalid results and foreign operand types go to the
//!   Python method it replaced ([`State::fallback`]), so they behave as
//!   `_pydecimal` does.
//! - Conditions raised by native arithmetic set the context's flags
//!   directly when untrapped (the common case: `Inexact`, `Rounded`), and
//!   otherwise go through `Context._raise_error`, which raises the trap.
//! - What the operations need of the context (which one is current, its
//!   precision, rounding, limits, flags and traps) is read once and kept
//!   until a context changes ([`context`]).
//!
//! The methods' bodies are in [`methods`]; the arithmetic itself is in
//! [`number`] and [`power`], and the numbers' text in [`text`] and
//! [`format`], free of the VM.

mod context;
mod format;
mod hash;
mod methods;
mod number;
mod power;
mod slots;
mod text;
pub(crate) use _decimal::module_def;

#[rustpython_vm::pymodule]
pub mod _decimal {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use malachite_bigint::BigUint;
    use num_traits::{ToPrimitive as _, Zero as _};
    use rustpython_vm::builtins::{PyDictRef, PyInt, PyModule, PyStr, PyTypeRef};
    use rustpython_vm::function::{FuncArgs, OptionalArg};
    use rustpython_vm::scope::Scope;
    use rustpython_vm::types::Constructor;
    use rustpython_vm::{
        AsObject as _, Py, PyObjectRef, PyPayload as _, PyRef, PyResult, VirtualMachine, pyclass,
    };

    use super::context::{self, SIGNAL_NAMES, State};
    use super::methods::{
        AbsArgs, Binary, BinaryArgs, ContextArgs, PowArgs, QuantizeArgs, RoundingArgs, StrArgs,
        new_decimal, operand,
    };
    use super::number::{self, Finite, Num};
    use super::{hash, text};

    /// The Python half: runs `_pydecimal` here and rebuilds `Decimal` on
    /// the native type.
    const GLUE: &str = include_str!("glue.py");

    /// A decimal number as `_pydecimal` knows it.
    #[derive(Clone, Debug)]
    pub enum Value {
        Finite(Finite),
        Infinite {
            negative: bool,
        },
        /// A quiet or signalling NaN, with its diagnostic digits as
        /// `_pydecimal` keeps them (`_int`).
        NaN {
            negative: bool,
            signaling: bool,
            payload: String,
        },
    }

    impl From<Num> for Value {
        fn from(num: Num) -> Value {
            match num {
                Num::Finite(finite) => Value::Finite(finite),
                Num::Infinity { negative } => Value::Infinite { negative },
            }
        }
    }

    /// The base of `decimal.Decimal`: the number itself, immutable.
    #[pyattr]
    #[pyclass(name = "_DecimalBase", module = "decimal")]
    #[derive(Debug)]
    pub struct DecimalBase {
        pub value: Value,
    }

    impl rustpython_vm::PyPayload for DecimalBase {
        /// Made untracked by the cycle collector, as CPython's C `Decimal`
        /// is: the number references nothing but its class, so it cannot be
        /// in a cycle, and every instance of a Python class was tracked,
        /// which made the collector walk every Decimal a program keeps (a
        /// tenth of `decimal_text.py`). An instance of a subclass with a
        /// `__dict__` can be, and `slot_new` tracks it.
        const NEW_REF_UNTRACKED: bool = true;

        #[inline]
        fn class(
            _ctx: &rustpython_vm::vm::Context,
        ) -> &'static Py<rustpython_vm::builtins::PyType> {
            <Self as rustpython_vm::class::StaticType>::static_type()
        }
    }

    thread_local! {
        static STATE: RefCell<Option<Rc<State>>> = const { RefCell::new(None) };
    }

    pub fn state(vm: &VirtualMachine) -> PyResult<Rc<State>> {
        STATE
            .with(|state| state.borrow().clone())
            .ok_or_else(|| vm.new_runtime_error("_decimal is not initialised"))
    }

    #[pyclass(flags(BASETYPE), with(Constructor))]
    impl DecimalBase {
        #[pygetset]
        fn _sign(zelf: &Py<Self>) -> u8 {
            match &zelf.value {
                Value::Finite(f) => f.negative as u8,
                Value::Infinite { negative } | Value::NaN { negative, .. } => *negative as u8,
            }
        }

        #[pygetset]
        fn _int(zelf: &Py<Self>) -> String {
            match &zelf.value {
                Value::Finite(f) => f.coef.to_string(),
                Value::Infinite { .. } => "0".to_owned(),
                Value::NaN { payload, .. } => payload.clone(),
            }
        }

        #[pygetset]
        fn _exp(zelf: &Py<Self>, vm: &VirtualMachine) -> PyObjectRef {
            match &zelf.value {
                Value::Finite(f) => vm.ctx.new_int(f.exp).into(),
                Value::Infinite { .. } => vm.ctx.new_str("F").into(),
                Value::NaN {
                    signaling: false, ..
                } => vm.ctx.new_str("n").into(),
                Value::NaN {
                    signaling: true, ..
                } => vm.ctx.new_str("N").into(),
            }
        }

        #[pygetset]
        fn _is_special(zelf: &Py<Self>) -> bool {
            !matches!(zelf.value, Value::Finite(_))
        }

        #[pymethod]
        fn _add(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Add, false, "__add__", vm)
        }

        #[pymethod]
        fn _sub(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Sub, false, "__sub__", vm)
        }

        #[pymethod]
        fn _rsub(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Sub, true, "__rsub__", vm)
        }

        #[pymethod]
        fn _mul(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Mul, false, "__mul__", vm)
        }

        #[pymethod]
        fn _truediv(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Div, false, "__truediv__", vm)
        }

        #[pymethod]
        fn _rtruediv(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Div, true, "__rtruediv__", vm)
        }

        #[pymethod]
        fn _floordiv(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::FloorDiv, false, "__floordiv__", vm)
        }

        #[pymethod]
        fn _rfloordiv(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::FloorDiv, true, "__rfloordiv__", vm)
        }

        #[pymethod]
        fn _mod(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Mod, false, "__mod__", vm)
        }

        #[pymethod]
        fn _rmod(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::binary(zelf, args, Binary::Mod, true, "__rmod__", vm)
        }

        #[pymethod]
        fn _pow(zelf: PyRef<Self>, args: PowArgs, vm: &VirtualMachine) -> PyResult {
            Self::pow(zelf, args, vm)
        }

        #[pymethod]
        fn _neg(zelf: PyRef<Self>, args: ContextArgs, vm: &VirtualMachine) -> PyResult {
            let context = args.context.unwrap_or_none(vm);
            let fallback = vec![zelf.clone().into(), context.clone()];
            Self::signed(zelf, context, |negative| !negative, fallback, "__neg__", vm)
        }

        #[pymethod]
        fn _pos(zelf: PyRef<Self>, args: ContextArgs, vm: &VirtualMachine) -> PyResult {
            let context = args.context.unwrap_or_none(vm);
            let fallback = vec![zelf.clone().into(), context.clone()];
            Self::signed(zelf, context, |negative| negative, fallback, "__pos__", vm)
        }

        #[pymethod]
        fn _abs(zelf: PyRef<Self>, args: AbsArgs, vm: &VirtualMachine) -> PyResult {
            Self::abs(zelf, args, vm)
        }

        #[pymethod]
        fn _eq(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::compare(zelf, args, |o| o.is_eq(), "__eq__", vm)
        }

        #[pymethod]
        fn _lt(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::compare(zelf, args, |o| o.is_lt(), "__lt__", vm)
        }

        #[pymethod]
        fn _le(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::compare(zelf, args, |o| o.is_le(), "__le__", vm)
        }

        #[pymethod]
        fn _gt(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::compare(zelf, args, |o| o.is_gt(), "__gt__", vm)
        }

        #[pymethod]
        fn _ge(zelf: PyRef<Self>, args: BinaryArgs, vm: &VirtualMachine) -> PyResult {
            Self::compare(zelf, args, |o| o.is_ge(), "__ge__", vm)
        }

        #[pymethod]
        fn _hash(zelf: PyRef<Self>, vm: &VirtualMachine) -> PyResult {
            match zelf.finite() {
                Some(finite) => Ok(vm.ctx.new_int(hash::hash(finite)).into()),
                None => state(vm)?.fallback("__hash__", vec![zelf.into()], vm),
            }
        }

        #[pymethod]
        fn _bool(zelf: &Py<Self>) -> bool {
            match &zelf.value {
                Value::Finite(f) => !f.is_zero(),
                _ => true,
            }
        }

        #[pymethod]
        fn _str(zelf: PyRef<Self>, args: StrArgs, vm: &VirtualMachine) -> PyResult {
            Self::str(zelf, args, vm)
        }

        #[pymethod]
        fn _format(zelf: PyRef<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
            Self::format(zelf, args, vm)
        }

        #[pymethod]
        fn _repr(zelf: PyRef<Self>, vm: &VirtualMachine) -> PyResult {
            let text = Self::str(
                zelf,
                StrArgs {
                    eng: OptionalArg::Missing,
                    context: OptionalArg::Missing,
                },
                vm,
            )?;
            let text = text.str(vm)?;
            Ok(vm
                .ctx
                .new_str(format!("Decimal('{}')", text.to_string_lossy()))
                .into())
        }

        #[pymethod]
        fn _quantize(zelf: PyRef<Self>, args: QuantizeArgs, vm: &VirtualMachine) -> PyResult {
            Self::quantize(zelf, args, vm)
        }

        #[pymethod]
        fn _normalize(zelf: PyRef<Self>, args: ContextArgs, vm: &VirtualMachine) -> PyResult {
            Self::normalize(zelf, args, vm)
        }

        #[pymethod]
        fn _to_integral_value(
            zelf: PyRef<Self>,
            args: RoundingArgs,
            vm: &VirtualMachine,
        ) -> PyResult {
            Self::to_integral(zelf, args, "to_integral_value", vm)
        }

        #[pymethod]
        fn _to_integral(zelf: PyRef<Self>, args: RoundingArgs, vm: &VirtualMachine) -> PyResult {
            Self::to_integral(zelf, args, "to_integral", vm)
        }
    }

    impl Constructor for DecimalBase {
        type Args = FuncArgs;

        /// `Decimal(value="0", context=None)`: Decimals, ints and plain
        /// numeric strings here; the rest by `_pydecimal`'s `__new__`.
        fn slot_new(cls: PyTypeRef, mut args: FuncArgs, vm: &VirtualMachine) -> PyResult {
            let state = state(vm)?;
            let mut positional = std::mem::take(&mut args.args).into_iter();
            let value = positional.next().or_else(|| args.take_keyword("value"));
            let context = positional.next().or_else(|| args.take_keyword("context"));
            if positional.next().is_some() || !args.kwargs.is_empty() {
                return Err(vm.new_type_error(
                    "Decimal() takes at most 2 arguments (value, context)".to_owned(),
                ));
            }
            let native = match &value {
                None => Some(Value::Finite(Finite::zero(false, 0))),
                Some(value) => match value.downcast_ref::<PyStr>() {
                    Some(text) => text
                        .to_str()
                        .map(|text| text.trim_matches(|c: char| c.is_ascii_whitespace()))
                        .and_then(text::parse)
                        .map(Value::Finite),
                    None => operand(value).map(std::borrow::Cow::into_owned),
                },
            };
            let value = match native {
                Some(value) => value,
                None => {
                    let value = value.unwrap_or_else(|| vm.ctx.new_str("0").into());
                    let context = context.unwrap_or_else(|| vm.ctx.none());
                    let made = state
                        .py_new
                        .call((state.py_class.clone(), value, context), vm)?;
                    from_triple(
                        made.get_attr("_sign", vm)?,
                        made.get_attr("_int", vm)?,
                        made.get_attr("_exp", vm)?,
                        vm,
                    )?
                }
            };
            let made = DecimalBase { value }.into_ref_with_type(vm, cls)?;
            if made.as_object().dict().is_some() {
                // SAFETY: `made` is a live object, created untracked above.
                unsafe {
                    let gc = rustpython_vm::gc_state::gc_state();
                    let owner = rustpython_vm::gc_state::current_owner();
                    gc.track_object(std::ptr::NonNull::from(made.as_object()), owner);
                }
            }
            Ok(made.into())
        }

        fn py_new(
            _cls: &Py<rustpython_vm::builtins::PyType>,
            _args: FuncArgs,
            vm: &VirtualMachine,
        ) -> PyResult<Self> {
            Err(vm.new_type_error("Decimal is made by its slot_new".to_owned()))
        }
    }

    /// A number from `_pydecimal`'s representation: sign, coefficient
    /// digits (a NaN's diagnostic) and exponent, or `F`, `n`, `N` for an
    /// infinity, a quiet and a signalling NaN.
    fn from_triple(
        sign: PyObjectRef,
        coefficient: PyObjectRef,
        exponent: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<Value> {
        let negative = sign.try_to_bool(vm)?;
        let digits = coefficient
            .downcast_ref::<PyStr>()
            .and_then(|digits| digits.to_str())
            .ok_or_else(|| vm.new_type_error("the coefficient must be a str of digits".to_owned()))?
            .to_owned();
        if let Some(kind) = exponent.downcast_ref::<PyStr>() {
            let kind = kind.to_string_lossy();
            return match &*kind {
                "F" => Ok(Value::Infinite { negative }),
                "n" | "N" => Ok(Value::NaN {
                    negative,
                    signaling: kind == "N",
                    payload: digits,
                }),
                other => Err(vm.new_value_error(format!("invalid exponent {other:?}"))),
            };
        }
        let exp = exponent
            .downcast_ref::<PyInt>()
            .ok_or_else(|| vm.new_type_error("the exponent must be an int".to_owned()))?
            .as_bigint()
            .to_i64()
            .filter(|exp| exp.unsigned_abs() <= number::EXP_LIMIT as u64)
            .ok_or_else(|| vm.new_overflow_error("decimal exponent out of range".to_owned()))?;
        let coef = if digits.is_empty() {
            BigUint::zero()
        } else {
            BigUint::parse_bytes(digits.as_bytes(), 10)
                .ok_or_else(|| vm.new_value_error(format!("invalid coefficient {digits:?}")))?
        };
        Ok(Value::Finite(Finite {
            negative,
            coef,
            exp,
        }))
    }

    /// `_pydecimal`'s `_dec_from_triple`, making the native type.
    #[pyfunction]
    fn _dec_from_triple(
        sign: PyObjectRef,
        coefficient: PyObjectRef,
        exponent: PyObjectRef,
        _special: OptionalArg<PyObjectRef>,
        vm: &VirtualMachine,
    ) -> PyResult {
        let value = from_triple(sign, coefficient, exponent, vm)?;
        new_decimal(&*state(vm)?, value, vm)
    }

    /// Called by `glue.py` after a context attribute or the current context
    /// changed: what the native side read of contexts is stale.
    #[pyfunction]
    fn _context_changed() {
        context::context_changed();
    }

    /// Called once by `glue.py` with what the native code needs.
    // One argument per object `glue.py` hands over, as Python passes them.
    #[allow(clippy::too_many_arguments)]
    #[pyfunction]
    fn _register(
        decimal: PyTypeRef,
        py_class: PyObjectRef,
        py_new: PyObjectRef,
        context_var: PyObjectRef,
        getcontext: PyObjectRef,
        signals: PyDictRef,
        fallbacks: PyDictRef,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        let signals = SIGNAL_NAMES
            .iter()
            .map(|name| signals.get_item(*name, vm))
            .collect::<PyResult<Vec<_>>>()?;
        let mut fallback_map = HashMap::new();
        for (name, function) in fallbacks {
            let name = name
                .downcast_ref::<PyStr>()
                .ok_or_else(|| vm.new_type_error("fallback names are str".to_owned()))?
                .to_string_lossy()
                .into_owned();
            fallback_map.insert(name, function);
        }
        super::slots::install(&decimal);
        let context_var_get = context_var.get_attr("get", vm)?;
        let state = State::new(
            decimal,
            py_class,
            py_new,
            context_var_get,
            getcontext,
            signals,
            fallback_map,
        );
        STATE.with(|slot| *slot.borrow_mut() = Some(Rc::new(state)));
        Ok(())
    }

    pub(crate) fn module_exec(vm: &VirtualMachine, module: &Py<PyModule>) -> PyResult<()> {
        __module_exec(vm, module);
        let code = vm
            .compile(GLUE, rustpython_vm::compiler::Mode::Exec, "<_decimal>")
            .map_err(|err| err.into_pyexception(vm, Some(GLUE)))?;
        let scope = Scope::with_builtins(None, module.dict(), vm);
        vm.run_code_obj(code, scope)?;
        Ok(())
    }
}
