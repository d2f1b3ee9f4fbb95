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
//!   number, with the hot methods (`+ - * /`, unary signs, comparisons,
//!   `hash`, `str`, `repr`, `format`, `bool`, `quantize`, construction)
//!   native.
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
//!
//! The arithmetic itself is in [`number`], free of the VM.

mod format;
mod number;

pub(crate) use _decimal::module_def;

#[rustpython_vm::pymodule]
pub mod _decimal {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use malachite_bigint::{BigUint, Sign};
    use num_traits::{ToPrimitive as _, Zero as _};
    use rustpython_vm::builtins::{PyDictRef, PyInt, PyModule, PyStr, PyTypeRef};
    use rustpython_vm::function::{FuncArgs, OptionalArg};
    use rustpython_vm::scope::Scope;
    use rustpython_vm::types::Constructor;
    use rustpython_vm::{
        AsObject as _, FromArgs, Py, PyObjectRef, PyPayload as _, PyRef, PyResult, VirtualMachine,
        pyclass,
    };

    use super::format;
    use super::number::{self, Ctx, Finite, Num, Rounding, Signal};

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
    #[derive(Debug, rustpython_vm::PyPayload)]
    pub struct DecimalBase {
        value: Value,
    }

    /// What `glue.py` registers: the rebuilt class, `_pydecimal`'s pieces
    /// the native code calls back into, and the Python methods it falls
    /// back to.
    struct State {
        decimal: PyTypeRef,
        /// `_pydecimal`'s own `Decimal` class and its `__new__`, for the
        /// constructions left to Python (floats, tuples, special strings).
        py_class: PyObjectRef,
        py_new: PyObjectRef,
        context_var: PyObjectRef,
        getcontext: PyObjectRef,
        signals: HashMap<&'static str, PyObjectRef>,
        fallbacks: HashMap<String, PyObjectRef>,
    }

    thread_local! {
        static STATE: RefCell<Option<std::rc::Rc<State>>> = const { RefCell::new(None) };
    }

    fn state(vm: &VirtualMachine) -> PyResult<std::rc::Rc<State>> {
        STATE
            .with(|state| state.borrow().clone())
            .ok_or_else(|| vm.new_runtime_error("_decimal is not initialised"))
    }

    impl State {
        /// Calls the Python method `name` replaced: `_pydecimal`'s own code.
        fn fallback(&self, name: &str, args: Vec<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
            let function = self
                .fallbacks
                .get(name)
                .ok_or_else(|| vm.new_runtime_error(format!("_decimal: no fallback for {name}")))?;
            function.call(args, vm)
        }

        fn new_decimal(&self, value: Value, vm: &VirtualMachine) -> PyResult {
            Ok(DecimalBase { value }
                .into_ref_with_type(vm, self.decimal.clone())?
                .into())
        }

        /// The context to use: the one given, else the thread's current one.
        fn context(&self, given: Option<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
            if let Some(context) = given.filter(|c| !vm.is_none(c)) {
                return Ok(context);
            }
            let current = vm.call_method(&self.context_var, "get", (vm.ctx.none(),))?;
            if vm.is_none(&current) {
                return self.getcontext.call((), vm);
            }
            Ok(current)
        }

        /// Raises the conditions of a native operation on `context`, in
        /// order: untrapped ones set their flag, the rest go through
        /// `_raise_error`, which raises the trapped one.
        fn signal(
            &self,
            context: &PyObjectRef,
            signals: &[Signal],
            negative: bool,
            vm: &VirtualMachine,
        ) -> PyResult<()> {
            if signals.is_empty() {
                return Ok(());
            }
            let ignored = context.get_attr("_ignored_flags", vm)?;
            let ignoring = ignored
                .downcast_ref::<rustpython_vm::builtins::PyList>()
                .is_none_or(|list| !list.borrow_vec().is_empty());
            let flags = context.get_attr("flags", vm)?;
            let traps = context.get_attr("traps", vm)?;
            for signal in signals {
                let (name, explanation) = match signal {
                    Signal::Clamped => ("Clamped", None),
                    Signal::Inexact => ("Inexact", None),
                    Signal::Rounded => ("Rounded", None),
                    Signal::Subnormal => ("Subnormal", None),
                    Signal::Underflow => ("Underflow", None),
                    Signal::Overflow => ("Overflow", Some("above Emax")),
                };
                let class = &self.signals[name];
                let trapped = traps.get_item(class.as_object(), vm)?.try_to_bool(vm)?;
                if ignoring || trapped || *signal == Signal::Overflow {
                    let explanation = match explanation {
                        Some(text) => vm.ctx.new_str(text).into(),
                        None => vm.ctx.none(),
                    };
                    // Overflow's handler computes the same result as
                    // `number::fix` (which is kept): only the flag and the
                    // trap matter here.
                    vm.call_method(
                        context,
                        "_raise_error",
                        (class.clone(), explanation, vm.ctx.new_int(negative as u8)),
                    )?;
                } else {
                    flags.set_item(class.as_object(), vm.ctx.new_int(1).into(), vm)?;
                }
            }
            Ok(())
        }

        /// The result of a native operation: conditions raised, then the
        /// number made.
        fn finish(
            &self,
            context: &PyObjectRef,
            (num, signals): number::Outcome,
            vm: &VirtualMachine,
        ) -> PyResult {
            let negative = match &num {
                Num::Finite(finite) => finite.negative,
                Num::Infinity { negative } => *negative,
            };
            self.signal(context, &signals, negative, vm)?;
            self.new_decimal(num.into(), vm)
        }
    }

    /// What of `context` the arithmetic needs, or `None` for a context the
    /// native code does not take (an unknown rounding, an absurd
    /// precision), left to Python to judge.
    fn read_context(context: &PyObjectRef, vm: &VirtualMachine) -> PyResult<Option<Ctx>> {
        let int = |name: &'static str| -> PyResult<Option<i64>> {
            let value = context.get_attr(name, vm)?;
            Ok(value
                .downcast_ref::<PyInt>()
                .and_then(|int| int.as_bigint().to_i64())
                .filter(|v| v.unsigned_abs() < number::EXP_LIMIT as u64))
        };
        let rounding = context.get_attr("rounding", vm)?;
        let Some(rounding) = rounding
            .downcast_ref::<PyStr>()
            .and_then(|name| name.to_str().and_then(Rounding::from_name))
        else {
            return Ok(None);
        };
        let (Some(prec), Some(emin), Some(emax), Some(clamp)) =
            (int("prec")?, int("Emin")?, int("Emax")?, int("clamp")?)
        else {
            return Ok(None);
        };
        if prec < 1 {
            return Ok(None);
        }
        Ok(Some(Ctx {
            prec,
            rounding,
            emin,
            emax,
            clamp: clamp != 0,
        }))
    }

    /// An operand the native arithmetic takes: a Decimal, or an int exactly.
    fn operand(obj: &PyObjectRef) -> Option<Value> {
        if let Some(decimal) = obj.downcast_ref::<DecimalBase>() {
            return Some(decimal.value.clone());
        }
        obj.downcast_ref::<PyInt>().map(|int| {
            let int = int.as_bigint();
            Value::Finite(Finite {
                negative: int.sign() == Sign::Minus,
                coef: int.magnitude().clone(),
                exp: 0,
            })
        })
    }

    #[derive(FromArgs)]
    struct BinaryArgs {
        #[pyarg(positional)]
        other: PyObjectRef,
        #[pyarg(any, optional)]
        context: OptionalArg<PyObjectRef>,
    }

    #[derive(FromArgs)]
    struct ContextArgs {
        #[pyarg(any, optional)]
        context: OptionalArg<PyObjectRef>,
    }

    #[derive(FromArgs)]
    struct AbsArgs {
        #[pyarg(any, optional)]
        round: OptionalArg<PyObjectRef>,
        #[pyarg(any, optional)]
        context: OptionalArg<PyObjectRef>,
    }

    #[derive(FromArgs)]
    struct StrArgs {
        #[pyarg(any, optional)]
        eng: OptionalArg<PyObjectRef>,
        #[pyarg(any, optional)]
        context: OptionalArg<PyObjectRef>,
    }

    #[derive(FromArgs)]
    struct QuantizeArgs {
        #[pyarg(any)]
        exp: PyObjectRef,
        #[pyarg(any, optional)]
        rounding: OptionalArg<PyObjectRef>,
        #[pyarg(any, optional)]
        context: OptionalArg<PyObjectRef>,
    }

    fn or_none(arg: OptionalArg<PyObjectRef>, vm: &VirtualMachine) -> PyObjectRef {
        arg.unwrap_or_none(vm)
    }

    /// The binary operations done natively.
    #[derive(Clone, Copy)]
    enum Binary {
        Add,
        Sub,
        Mul,
        Div,
    }

    impl DecimalBase {
        fn finite(&self) -> Option<&Finite> {
            match &self.value {
                Value::Finite(finite) => Some(finite),
                _ => None,
            }
        }

        /// `a op b` when both are finite and the divisor is not zero; else
        /// the Python method `name`.
        fn binary(
            zelf: PyRef<Self>,
            args: BinaryArgs,
            op: Binary,
            reflected: bool,
            name: &str,
            vm: &VirtualMachine,
        ) -> PyResult {
            let state = state(vm)?;
            let context = or_none(args.context, vm);
            let other = match operand(&args.other) {
                Some(Value::Finite(other)) => other,
                _ => return state.fallback(name, vec![zelf.into(), args.other, context], vm),
            };
            let Some(this) = zelf.finite() else {
                return state.fallback(name, vec![zelf.into(), args.other, context], vm);
            };
            let (a, b) = if reflected {
                (&other, this)
            } else {
                (this, &other)
            };
            if matches!(op, Binary::Div) && b.is_zero() {
                return state.fallback(name, vec![zelf.into(), args.other, context], vm);
            }
            let context_obj = state.context(Some(context.clone()), vm)?;
            let Some(ctx) = read_context(&context_obj, vm)? else {
                return state.fallback(name, vec![zelf.into(), args.other, context], vm);
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
            };
            state.finish(&context_obj, outcome, vm)
        }

        /// `+x`, `-x` and `abs(x)`: the number with a sign, rounded to the
        /// context; a zero keeps its sign only under ROUND_FLOOR.
        fn signed(
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
            let context_obj = state.context(Some(context), vm)?;
            let Some(ctx) = read_context(&context_obj, vm)? else {
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
            state.finish(&context_obj, number::fix(value, &ctx), vm)
        }

        /// An ordering comparison with a finite Decimal or an int; else the
        /// Python method.
        fn compare(
            zelf: PyRef<Self>,
            args: BinaryArgs,
            test: fn(std::cmp::Ordering) -> bool,
            name: &str,
            vm: &VirtualMachine,
        ) -> PyResult {
            let state = state(vm)?;
            if let (Some(this), Some(Value::Finite(other))) = (zelf.finite(), operand(&args.other))
            {
                return Ok(vm.ctx.new_bool(test(number::compare(this, &other))).into());
            }
            let context = or_none(args.context, vm);
            state.fallback(name, vec![zelf.into(), args.other, context], vm)
        }
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
        fn _neg(zelf: PyRef<Self>, args: ContextArgs, vm: &VirtualMachine) -> PyResult {
            let context = or_none(args.context, vm);
            let fallback = vec![zelf.clone().into(), context.clone()];
            Self::signed(zelf, context, |negative| !negative, fallback, "__neg__", vm)
        }

        #[pymethod]
        fn _pos(zelf: PyRef<Self>, args: ContextArgs, vm: &VirtualMachine) -> PyResult {
            let context = or_none(args.context, vm);
            let fallback = vec![zelf.clone().into(), context.clone()];
            Self::signed(zelf, context, |negative| negative, fallback, "__pos__", vm)
        }

        #[pymethod]
        fn _abs(zelf: PyRef<Self>, args: AbsArgs, vm: &VirtualMachine) -> PyResult {
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
                Some(finite) => Ok(vm.ctx.new_int(number::hash(finite)).into()),
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
            let capitals = context.get_attr("capitals", vm)?.try_to_bool(vm)?;
            Ok(vm
                .ctx
                .new_str(number::to_string(finite, eng, capitals))
                .into())
        }

        /// `format(d, spec)` of a finite number (`format.rs`); the rest
        /// (the `n` type, a locale, infinities and NaNs) is `_pydecimal`'s.
        #[pymethod]
        fn _format(zelf: PyRef<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
            let spec = match (&args.args[..], args.kwargs.is_empty()) {
                ([spec], true) => spec.downcast_ref::<PyStr>().and_then(|spec| spec.to_str()),
                _ => None,
            };
            if let (Some(spec), Some(finite)) = (spec, zelf.finite()) {
                let state = state(vm)?;
                let context = state.context(None, vm)?;
                let capitals = context.get_attr("capitals", vm)?.try_to_bool(vm)?;
                let rounding = context.get_attr("rounding", vm)?;
                let rounding = rounding
                    .downcast_ref::<PyStr>()
                    .and_then(|name| name.to_str().and_then(Rounding::from_name));
                if let Some(text) =
                    rounding.and_then(|rounding| format::format(finite, spec, capitals, rounding))
                {
                    return Ok(vm.ctx.new_str(text).into());
                }
            }
            let state = state(vm)?;
            let function = state
                .fallbacks
                .get("__format__")
                .ok_or_else(|| vm.new_runtime_error("_decimal: no fallback for __format__"))?;
            let mut args = args;
            args.args.insert(0, zelf.into());
            function.call(args, vm)
        }

        #[pymethod]
        fn _repr(zelf: PyRef<Self>, vm: &VirtualMachine) -> PyResult {
            let text = Self::_str(
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
            let state = state(vm)?;
            let rounding = or_none(args.rounding, vm);
            let context = or_none(args.context, vm);
            let fallback = |zelf: PyRef<Self>| {
                state.fallback(
                    "quantize",
                    vec![
                        zelf.into(),
                        args.exp.clone(),
                        rounding.clone(),
                        context.clone(),
                    ],
                    vm,
                )
            };
            let (Some(this), Some(Value::Finite(target))) = (zelf.finite(), operand(&args.exp))
            else {
                return fallback(zelf);
            };
            let context_obj = state.context(Some(context.clone()), vm)?;
            let Some(ctx) = read_context(&context_obj, vm)? else {
                return fallback(zelf);
            };
            let mode = if vm.is_none(&rounding) {
                ctx.rounding
            } else {
                match rounding
                    .downcast_ref::<PyStr>()
                    .and_then(|name| name.to_str().and_then(Rounding::from_name))
                {
                    Some(mode) => mode,
                    None => return fallback(zelf),
                }
            };
            match number::quantize(this, target.exp, mode, &ctx) {
                Some(outcome) => state.finish(&context_obj, outcome, vm),
                None => fallback(zelf),
            }
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
                        .and_then(number::parse)
                        .map(Value::Finite),
                    None => operand(value),
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
            Ok(DecimalBase { value }.into_ref_with_type(vm, cls)?.into())
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
        state(vm)?.new_decimal(value, vm)
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
        let mut signal_map = HashMap::new();
        for name in [
            "Clamped",
            "Inexact",
            "Rounded",
            "Subnormal",
            "Underflow",
            "Overflow",
        ] {
            signal_map.insert(name, signals.get_item(name, vm)?);
        }
        let mut fallback_map = HashMap::new();
        for (name, function) in fallbacks {
            let name = name
                .downcast_ref::<PyStr>()
                .ok_or_else(|| vm.new_type_error("fallback names are str".to_owned()))?
                .to_string_lossy()
                .into_owned();
            fallback_map.insert(name, function);
        }
        let state = State {
            decimal,
            py_class,
            py_new,
            context_var,
            getcontext,
            signals: signal_map,
            fallbacks: fallback_map,
        };
        STATE.with(|slot| *slot.borrow_mut() = Some(std::rc::Rc::new(state)));
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
