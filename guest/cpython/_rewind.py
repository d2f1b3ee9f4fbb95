"""The CPython guest's `_rewind`: what `revdebug` calls, over the
`rewind:recorder` WIT imports.

The RustPython guest implements this module natively (guest/python/src/
recorder.rs); here it is Python over the bindings componentize-py generates
(`wit_world.imports`). The functions `revdebug.py`, `registry.py` and
`serve.py` call are the same, with the same arguments, so those modules are
shared by both guests unchanged.

The guest's position (how far it has run, the same on every run of the same
program with the same inputs) is counted in the calls that reach the host
here: each control call, capture and exit is one step. It is coarser than
the RustPython guest's count of function entries and loop iterations, and
as deterministic, which is what markers and re-execution need.
"""

import sys

from wit_world.imports import capture as _capture
from wit_world.imports import control as _control
from wit_world.imports import requests as _requests

_position = 0
# The frames of the launch itself, left out of captures.
_internal_files = set()
# The tracer (see `_rewind_tracer`), while there is one.
_tracer = None
# Whether no `recrepr` stringifier covers the scalars (see the tracer).
_fast_repr = True


def tell_host():
    """Counts a step and tells the host where the guest is."""
    global _position
    _position += 1
    _control.position(_position)


def _to_mode(mode):
    return _control.Mode(int(mode))


def get_mode():
    return int(_control.get_mode().value)


def set_mode(mode):
    _flush_tracer()
    tell_host()
    return int(_control.set_mode(_to_mode(mode)).value)


def set_traced(on):
    """Suspends (or resumes) tracing; returns whether it was on."""
    return _tracer is not None and _tracer.set_active(on)


def snapshot(name, all):
    _flush_tracer()
    tell_host()
    return _control.snapshot(name, bool(all))


def clear(all, flush):
    _flush_tracer()
    tell_host()
    _control.clear(bool(all), bool(flush))


def flush():
    _flush_tracer()
    tell_host()
    _control.flush()


def block(task, clear):
    _flush_tracer()
    tell_host()
    return _control.block(task, bool(clear))


def rule(target, record):
    tell_host()
    _control.rule(target, bool(record))


def rules_changed():
    if _tracer is not None:
        _tracer.rules_changed()


def set_fast_repr(on):
    global _fast_repr
    _fast_repr = bool(on)
    if _tracer is not None:
        _tracer.fast_repr = _fast_repr


def set_stringifiers(any):
    pass


def mark_position():
    """Where a crash capture starts: the crash's position."""
    _flush_tracer()
    tell_host()


# The budget of the code running now, in steps: function calls and lines,
# counted by a trace function while a value's own stringifier runs in a
# crash capture. Deterministic, as the RustPython guest's positions.
_budget_left = 0
_budget_saved = None


def _budget_trace(frame, event, arg):
    global _budget_left
    if event in ("call", "line"):
        _budget_left -= 1
        if _budget_left <= 0:
            import revdebug
            raise revdebug._BudgetSpent
    return _budget_trace


def budget(steps):
    """Gives the code about to run `steps` steps (0: none); when it has run
    that far, `revdebug._BudgetSpent` is raised in it. Returns how many
    steps of the budget before were left."""
    global _budget_left, _budget_saved
    left = max(_budget_left, 0) if _budget_saved is not None else 0
    if steps:
        if _budget_saved is None:
            _budget_saved = (sys.gettrace(),)
        _budget_left = steps
        sys.settrace(_budget_trace)
    elif _budget_saved is not None:
        sys.settrace(_budget_saved[0])
        _budget_saved = None
        _budget_left = 0
    return left


def crash(kind, info, frames, notes):
    frames = [
        _capture.Frame(function, file, line, list(locals))
        for function, file, line, locals in frames
        if file not in _internal_files
    ]
    exception = None
    if info is not None:
        exception = _capture.ExceptionInfo(info[0], info[1])
    kind = _capture.CrashKind.UNHANDLED if kind == "unhandled" else _capture.CrashKind.REPORTED
    return _capture.report(_capture.Crash(kind, exception, frames, list(notes)))


def next_request():
    request = _requests.next()
    if request is None:
        return None
    return {
        "id": request.id,
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": list(request.headers),
        "body": bytes(request.body),
        "remote_addr": request.remote_addr,
        "remote_port": request.remote_port,
        "server_name": request.server_name,
        "server_port": request.server_port,
    }


def respond(id, status, headers, body):
    _requests.respond(id, _requests.Response(status, list(headers), bytes(body)))


def _flush_tracer():
    if _tracer is not None:
        _tracer.flush()


def start_tracing():
    """Starts the tracer when the host asks for live events."""
    global _tracer
    if not _control.tracing():
        return
    import revdebug
    import _rewind_tracer

    _tracer = _rewind_tracer.Tracer(revdebug)
    _tracer.fast_repr = _fast_repr
    _tracer.start()


def stop_tracing(unhandled):
    """Stops the tracer; `unhandled` is the exception that ends the run."""
    global _tracer
    tracer, _tracer = _tracer, None
    if tracer is None:
        return
    tracer.stop()
    if unhandled is not None and not isinstance(unhandled, SystemExit):
        tracer.unhandled(unhandled)
    tracer.flush()
