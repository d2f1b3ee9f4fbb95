//! The decimal context as the native operations see it: which `Context`
//! applies, what of it the arithmetic needs, and how the conditions an
//! operation raises reach its flags and traps.
//!
//! `Context` stays `_pydecimal`'s Python class, and the current one lives
//! in a context variable. Reading them through Python (a call to the
//! variable's `get`, then five attribute lookups) cost more than the
//! arithmetic on a small number, at every operation. So [`State`] keeps
//! what it last read, and a process-wide generation counter says when that
//! may be stale: `glue.py` makes `Context.__setattr__` and `setcontext`
//! bump it after they change anything ([`context_changed`]). The flags and
//! traps dictionaries and the ignored-flags list are changed in place
//! (`ctx.traps[Inexact] = True`), so those are kept by reference and read
//! at every use, never copied.
//!
//! What this does not see: a context changed with `object.__setattr__`
//! directly, bypassing `Context.__setattr__` (`_pydecimal` itself only does
//! so from inside it).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use num_traits::ToPrimitive as _;
use rustpython_vm::builtins::{PyInt, PyList, PyStr, PyTypeRef};
use rustpython_vm::{AsObject as _, PyObjectRef, PyResult, VirtualMachine};

use super::number::{self, Ctx, Num, Rounding, Signal};

/// Bumped whenever a `Context`'s attributes or the current context change:
/// what was read before it may be stale. Process-wide, because a context
/// object can be shared between threads.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Called (from `glue.py`) after a context attribute or the current context
/// changed.
pub fn context_changed() {
    GENERATION.fetch_add(1, Ordering::Release);
}

fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// What the native operations read of one `Context` object.
pub struct Snapshot {
    /// The context read, held so that its identity stays its own.
    context: PyObjectRef,
    generation: u64,
    /// The arithmetic's view, or `None` for a context the native code does
    /// not take (an unknown rounding, an absurd precision): Python judges.
    pub ctx: Option<Ctx>,
    pub capitals: bool,
    /// The rounding mode alone, for `format()`, which needs no more.
    pub rounding: Option<Rounding>,
    flags: PyObjectRef,
    traps: PyObjectRef,
    ignored: PyObjectRef,
}

/// The current context as last found: valid while the generation and the
/// innermost `contextvars.Context` (and the depth of their stack) are the
/// same, since the variable only changes through `setcontext` or by running
/// in another `contextvars.Context`.
struct Current {
    generation: u64,
    /// The innermost `contextvars.Context`, held so that its address is not
    /// reused by another one.
    scope: Option<PyObjectRef>,
    depth: usize,
    context: PyObjectRef,
}

/// What `glue.py` registers, and what the native side keeps of contexts.
pub struct State {
    pub decimal: PyTypeRef,
    /// `_pydecimal`'s own `Decimal` class and its `__new__`, for the
    /// constructions left to Python (floats, tuples, special strings).
    pub py_class: PyObjectRef,
    pub py_new: PyObjectRef,
    /// The context variable's bound `get`, looked up once.
    context_var_get: PyObjectRef,
    getcontext: PyObjectRef,
    /// The signal classes, in the order of [`Signal`].
    signals: Vec<PyObjectRef>,
    fallbacks: HashMap<String, PyObjectRef>,
    current: RefCell<Option<Current>>,
    snapshot: RefCell<Option<Rc<Snapshot>>>,
}

/// The signal names, in the order of [`Signal`]'s variants.
pub const SIGNAL_NAMES: [&str; 6] = [
    "Clamped",
    "Inexact",
    "Rounded",
    "Subnormal",
    "Underflow",
    "Overflow",
];

fn signal_index(signal: Signal) -> usize {
    match signal {
        Signal::Clamped => 0,
        Signal::Inexact => 1,
        Signal::Rounded => 2,
        Signal::Subnormal => 3,
        Signal::Underflow => 4,
        Signal::Overflow => 5,
    }
}

impl State {
    pub fn new(
        decimal: PyTypeRef,
        py_class: PyObjectRef,
        py_new: PyObjectRef,
        context_var_get: PyObjectRef,
        getcontext: PyObjectRef,
        signals: Vec<PyObjectRef>,
        fallbacks: HashMap<String, PyObjectRef>,
    ) -> State {
        State {
            decimal,
            py_class,
            py_new,
            context_var_get,
            getcontext,
            signals,
            fallbacks,
            current: RefCell::new(None),
            snapshot: RefCell::new(None),
        }
    }

    /// Calls the Python method `name` replaced: `_pydecimal`'s own code.
    pub fn fallback(&self, name: &str, args: Vec<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
        self.fallback_function(name, vm)?.call(args, vm)
    }

    pub fn fallback_function(&self, name: &str, vm: &VirtualMachine) -> PyResult<&PyObjectRef> {
        self.fallbacks
            .get(name)
            .ok_or_else(|| vm.new_runtime_error(format!("_decimal: no fallback for {name}")))
    }

    /// The context to use: the one given, else the thread's current one.
    pub fn context(&self, given: Option<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
        if let Some(context) = given.filter(|c| !vm.is_none(c)) {
            return Ok(context);
        }
        let generation = generation();
        let scope = |vm: &VirtualMachine| {
            let stack = vm.context_stack.borrow();
            (stack.last().cloned(), stack.len())
        };
        let (scope_now, depth) = scope(vm);
        if let Some(current) = &*self.current.borrow() {
            let same_scope = match (&current.scope, &scope_now) {
                (Some(a), Some(b)) => a.is(b),
                (None, None) => true,
                _ => false,
            };
            if current.generation == generation && current.depth == depth && same_scope {
                return Ok(current.context.clone());
            }
        }
        let value = self.context_var_get.call((vm.ctx.none(),), vm)?;
        let context = if vm.is_none(&value) {
            self.getcontext.call((), vm)?
        } else {
            value
        };
        // Read after the lookup, which may have made the first scope; the
        // generation read before it is the conservative one.
        let (scope, depth) = scope(vm);
        *self.current.borrow_mut() = Some(Current {
            generation,
            scope,
            depth,
            context: context.clone(),
        });
        Ok(context)
    }

    /// What the native code needs of `context`, read again only when it
    /// may have changed.
    pub fn snapshot(&self, context: &PyObjectRef, vm: &VirtualMachine) -> PyResult<Rc<Snapshot>> {
        let generation = generation();
        if let Some(snapshot) = &*self.snapshot.borrow()
            && snapshot.generation == generation
            && snapshot.context.is(context)
        {
            return Ok(snapshot.clone());
        }
        let rounding = context.get_attr("rounding", vm)?;
        let rounding = rounding
            .downcast_ref::<PyStr>()
            .and_then(|name| name.to_str().and_then(Rounding::from_name));
        let snapshot = Rc::new(Snapshot {
            context: context.clone(),
            generation,
            ctx: read_ctx(context, rounding, vm)?,
            capitals: context.get_attr("capitals", vm)?.try_to_bool(vm)?,
            rounding,
            flags: context.get_attr("flags", vm)?,
            traps: context.get_attr("traps", vm)?,
            ignored: context.get_attr("_ignored_flags", vm)?,
        });
        *self.snapshot.borrow_mut() = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Raises the conditions of a native operation on the context, in
    /// order: untrapped ones set their flag, the rest go through
    /// `_raise_error`, which raises the trapped one.
    pub fn signal(
        &self,
        snapshot: &Snapshot,
        signals: &[Signal],
        negative: bool,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        if signals.is_empty() {
            return Ok(());
        }
        let ignoring = snapshot
            .ignored
            .downcast_ref::<PyList>()
            .is_none_or(|list| !list.borrow_vec().is_empty());
        for &signal in signals {
            let class = &self.signals[signal_index(signal)];
            let trapped = snapshot
                .traps
                .get_item(class.as_object(), vm)?
                .try_to_bool(vm)?;
            if ignoring || trapped || signal == Signal::Overflow {
                let explanation = match signal {
                    Signal::Overflow => vm.ctx.new_str("above Emax").into(),
                    _ => vm.ctx.none(),
                };
                // Overflow's handler computes the same result as
                // `number::fix` (which is kept): only the flag and the
                // trap matter here.
                vm.call_method(
                    &snapshot.context,
                    "_raise_error",
                    (class.clone(), explanation, vm.ctx.new_int(negative as u8)),
                )?;
            } else {
                snapshot
                    .flags
                    .set_item(class.as_object(), vm.ctx.new_int(1).into(), vm)?;
            }
        }
        Ok(())
    }

    /// Raises the conditions of an outcome; returns its number.
    pub fn settle(
        &self,
        snapshot: &Snapshot,
        (num, signals): number::Outcome,
        vm: &VirtualMachine,
    ) -> PyResult<Num> {
        let negative = match &num {
            Num::Finite(finite) => finite.negative,
            Num::Infinity { negative } => *negative,
        };
        self.signal(snapshot, &signals, negative, vm)?;
        Ok(num)
    }
}

/// The arithmetic's view of `context`, or `None` for a context the native
/// code does not take, left to Python to judge.
fn read_ctx(
    context: &PyObjectRef,
    rounding: Option<Rounding>,
    vm: &VirtualMachine,
) -> PyResult<Option<Ctx>> {
    let int = |name: &'static str| -> PyResult<Option<i64>> {
        let value = context.get_attr(name, vm)?;
        Ok(value
            .downcast_ref::<PyInt>()
            .and_then(|int| int.as_bigint().to_i64())
            .filter(|v| v.unsigned_abs() < number::EXP_LIMIT as u64))
    };
    let Some(rounding) = rounding else {
        return Ok(None);
    };
    let (Some(prec), Some(emin), Some(emax), Some(clamp)) =
        (int("prec")?, int("Emin")?, int("Emax")?, int("clamp")?)
    else {
        return Ok(None);
    };
    if !(1..=number::MAX_PREC).contains(&prec) {
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
