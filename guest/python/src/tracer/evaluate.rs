//! Expressions evaluated in the past: a re-execution the host asked
//! (`trace.evaluate-at`) stops at one traced event, evaluates the host's
//! expressions in the frames of that moment, hands back their texts and
//! ends there, so that nothing they change is ever seen.
//!
//! The frames are counted as the debugger counts them: the traced frames
//! only (those whose code `revdebug._should_record` accepts), innermost
//! first, which are the frames of the recorded events.

use rustpython_vm::frame::{FrameObjectRef, frame_at_offset};
use rustpython_vm::{AsObject as _, VirtualMachine};

use super::values::describe;
use crate::host;

/// The longest text of a value handed back, in characters: the host keeps
/// 4 KiB of a string.
const MAX_TEXT: usize = 4000;

/// At the event the host named: evaluate what it asks and hand the
/// results back. The host ends the re-execution in that call.
pub(super) fn at_event(vm: &VirtualMachine) {
    let requests = host::evaluations();
    let frames = traced_frames(vm);
    let results = requests
        .iter()
        .map(|(depth, expression)| match frames.get(*depth as usize) {
            Some(frame) => evaluate(frame, expression, vm),
            None => Err(format!(
                "no frame {depth} here: the call stack has {} frame{}",
                frames.len(),
                if frames.len() == 1 { "" } else { "s" }
            )),
        })
        .collect();
    host::evaluated(results);
}

/// The traced frames running now, innermost first.
fn traced_frames(vm: &VirtualMachine) -> Vec<FrameObjectRef> {
    let mut frames = Vec::new();
    let mut offset = 0;
    while let Some(frame) = frame_at_offset(offset, vm) {
        offset += 1;
        let code = frame.f_code();
        if super::should_record(code.as_object(), vm).unwrap_or(false) {
            frames.push(frame);
        }
    }
    frames
}

/// `expression` evaluated with `frame`'s globals and locals: the value's
/// `repr`, or the exception's type and message.
fn evaluate(
    frame: &FrameObjectRef,
    expression: &str,
    vm: &VirtualMachine,
) -> Result<String, String> {
    let failed = |exc: rustpython_vm::builtins::PyBaseExceptionRef| {
        let (type_name, message) = describe(exc.as_object(), vm);
        match message.is_empty() {
            true => type_name,
            false => format!("{type_name}: {message}"),
        }
    };
    let object = frame.as_object();
    let globals = object.get_attr("f_globals", vm).map_err(failed)?;
    let locals = object.get_attr("f_locals", vm).map_err(failed)?;
    let eval = vm.builtins.get_attr("eval", vm).map_err(failed)?;
    let value = eval
        .call((expression.to_owned(), globals, locals), vm)
        .map_err(failed)?;
    let text = value.repr(vm).map_err(failed)?;
    let text = text.to_string_lossy();
    Ok(match text.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    })
}
