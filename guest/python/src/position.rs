//! The guest's position: how far the script has run, in the VM's own
//! deterministic count (function entries and loop iterations, see
//! `rustpython_vm::protocol::position`), which a re-execution reaches at
//! the same points as the recorded run. The guest tells the host before
//! every control call and capture and at exit, so that each marker of the
//! recording says where it was. Re-executing, the host also asks to be told
//! along the way, which is how it shows progress that advances steadily to
//! 100%, and may ask for tracing to start only at a position (the last
//! events before a crash are all it keeps): the tracer then starts there,
//! at a function's entry or a loop's backward jump
//! ([`crate::tracer::start_midway`]).

use std::cell::Cell;

use rustpython_vm::builtins::{PyBaseExceptionRef, PyType};
use rustpython_vm::protocol::{self, PositionHook};
use rustpython_vm::{PyResult, VirtualMachine};

use crate::host;
use crate::tracer;

thread_local! {
    /// Where to tell the host next (`u64::MAX`: never).
    static REPORT_AT: Cell<u64> = const { Cell::new(u64::MAX) };
    /// Where the tracer is to start, when it waits for a position.
    static TRACE_FROM: Cell<Option<u64>> = const { Cell::new(None) };
    /// Where the budget of the code running now ends (`u64::MAX`: none).
    static BUDGET_AT: Cell<u64> = const { Cell::new(u64::MAX) };
}

/// Gives the Python code about to run a budget of `steps` positions (0:
/// none): when it has run that far, `revdebug._BudgetSpent` is raised in
/// it. Positions are deterministic, so a re-execution interrupts it at the
/// same place. Returns how much of the budget before was left.
pub fn budget(steps: u64) -> u64 {
    let now = protocol::position();
    let left = match BUDGET_AT.get() {
        u64::MAX => 0,
        end => end.saturating_sub(now),
    };
    BUDGET_AT.set(match steps {
        0 => u64::MAX,
        steps => now.saturating_add(steps),
    });
    arm();
    left
}

/// `revdebug._BudgetSpent`, to raise in the code running.
fn spent(vm: &VirtualMachine) -> PyBaseExceptionRef {
    let class = vm
        .import("revdebug", 0)
        .and_then(|revdebug| revdebug.get_attr("_BudgetSpent", vm))
        .ok()
        .and_then(|class| class.downcast::<PyType>().ok());
    match class {
        Some(class) => vm.new_exception_empty(class),
        None => vm.new_runtime_error("the budget of this code was spent"),
    }
}

/// The script starts here: position 0. From now on a blocking call that
/// ends early asks the host about an interrupt (see [`interrupt`]).
pub fn start() {
    protocol::set_position(0);
    protocol::set_interrupt_hook(Some(interrupt));
    tell(0);
}

/// Asks the host whether the user interrupted the run (Ctrl-C), and if so
/// raises `KeyboardInterrupt` here, as CPython does at its next check.
fn interrupt(vm: &VirtualMachine) -> PyResult<()> {
    match host::interrupted(protocol::position()) {
        true => Err(vm.new_exception_empty(vm.ctx.exceptions.keyboard_interrupt.to_owned())),
        false => Ok(()),
    }
}

/// Tells the host the position now.
pub fn tell_host() {
    tell(protocol::position());
}

/// Starts the tracer at position `from`, not now.
pub fn trace_from(from: u64) {
    TRACE_FROM.set(Some(from));
    arm();
}

fn tell(at: u64) {
    let next = match host::position(at) {
        0 => u64::MAX,
        next => next,
    };
    REPORT_AT.set(next);
    arm();
}

/// Asks the VM to call [`reached`] at the nearest position of interest.
fn arm() {
    let limit = REPORT_AT
        .get()
        .min(TRACE_FROM.get().unwrap_or(u64::MAX))
        .min(BUDGET_AT.get());
    let hook = (limit != u64::MAX).then_some(reached as PositionHook);
    protocol::set_position_hook(hook, limit);
}

/// The VM reached a position asked for.
fn reached(vm: &VirtualMachine, at: u64, entry: bool) -> (u64, Option<PyBaseExceptionRef>) {
    if let Some(from) = TRACE_FROM.get()
        && at >= from
    {
        // At a function's entry, that function's frame gets its 'call'
        // event like any other; the frames running are adopted with what
        // they hold now (at a loop's backward jump, the looping one too).
        TRACE_FROM.set(None);
        tracer::start_midway(vm, entry);
        protocol::set_position(at);
    }
    let mut raise = None;
    if at >= BUDGET_AT.get() {
        BUDGET_AT.set(u64::MAX);
        raise = Some(spent(vm));
    }
    if at >= REPORT_AT.get() {
        REPORT_AT.set(match host::position(at) {
            0 => u64::MAX,
            next => next,
        });
        if raise.is_none() {
            raise = interrupt(vm).err();
        }
    }
    let next = REPORT_AT
        .get()
        .min(TRACE_FROM.get().unwrap_or(u64::MAX))
        .min(BUDGET_AT.get());
    (next, raise)
}
