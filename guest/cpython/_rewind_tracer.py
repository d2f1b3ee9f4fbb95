"""The CPython guest's tracer: line-level events for `rewind run --trace`
and for materialization, from PEP 669's `sys.monitoring`.

It makes the events the RustPython guest's tracers make (guest/python/src/
tracer/), with the same meaning: a call (function, file, first line and the
arguments' safe strings), each line with the locals whose string changed
since the frame's last event, a return with the value's safe string, an
exception raised in a frame and caught in it, and the exception that ends
the run. Only the code `revdebug._should_record` accepts is traced: other
code locations are disabled in `sys.monitoring` the first time they are
seen, so that they cost nothing after that.

It traces from the start of the run (the `trace-from` position of a
re-execution is then met by tracing more than asked, which the host
allows), and answers `trace.evaluate-at`: at that event it evaluates the
host's expressions in the traced frames of the moment.
"""

import sys
import types

from componentize_py_types import Err as _Err
from componentize_py_types import Ok as _Ok
from wit_world.imports import trace as _trace

_monitoring = sys.monitoring
_TOOL = _monitoring.DEBUGGER_ID
_E = _monitoring.events
_BATCH = 1024
_MAX_TEXT = 4000
# Values whose string only changes when the object does: one kept by
# identity need not be stringified again.
_ATOMS = {
    int, float, str, bytes, bool, type(None), complex, type, types.ModuleType,
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, range,
}


class Tracer:
    def __init__(self, revdebug):
        self._revdebug = revdebug
        self._saferepr = revdebug._saferepr
        self._decided = {}
        self._batch = []
        # (frame, {name: (value or None, text)}) of the traced frames.
        self._frames = []
        self._count = 0
        self._evaluate_at = _trace.evaluate_at()
        self._active = True
        # An exception handled in a frame, said at that frame's next line
        # (as settrace says it): a handler that only cleans up and raises
        # again (the end of an `except` block that raised) runs no line.
        self._caught = None

    # -- installation ------------------------------------------------------

    def start(self):
        _monitoring.use_tool_id(_TOOL, "rewind")
        register = _monitoring.register_callback
        register(_TOOL, _E.PY_START, self._start)
        register(_TOOL, _E.PY_RESUME, self._start)
        register(_TOOL, _E.LINE, self._line)
        register(_TOOL, _E.PY_RETURN, self._return)
        register(_TOOL, _E.PY_YIELD, self._return)
        register(_TOOL, _E.PY_UNWIND, self._unwind)
        register(_TOOL, _E.RAISE, self._raise)
        register(_TOOL, _E.EXCEPTION_HANDLED, self._handled)
        self._set_events()

    def _set_events(self):
        _monitoring.set_events(
            _TOOL,
            _E.PY_START | _E.PY_RESUME | _E.LINE | _E.PY_RETURN | _E.PY_YIELD
            | _E.PY_UNWIND | _E.RAISE | _E.EXCEPTION_HANDLED,
        )

    def stop(self):
        try:
            _monitoring.set_events(_TOOL, 0)
            _monitoring.free_tool_id(_TOOL)
        except ValueError:
            pass
        self.flush()

    def set_active(self, on):
        self._active = on

    def rules_changed(self):
        self._decided.clear()
        _monitoring.restart_events()

    # -- events ------------------------------------------------------------

    def _record(self, code):
        on = self._decided.get(code)
        if on is None:
            was, self._active = self._active, False
            try:
                on = bool(self._revdebug._should_record(code))
            except Exception:
                on = False
            finally:
                self._active = was
            self._decided[code] = on
        return on

    def _push(self, event, evaluable=True):
        self._batch.append(event)
        index = self._count
        self._count += 1
        if index == self._evaluate_at and evaluable:
            self.flush()
            self._evaluate()
        elif len(self._batch) >= _BATCH:
            self.flush()

    def flush(self):
        if self._batch:
            batch, self._batch = self._batch, []
            _trace.events(batch)

    def _text(self, value):
        was, self._active = self._active, False
        try:
            return self._saferepr(value)
        finally:
            self._active = was

    def _start(self, code, offset):
        if not self._record(code):
            return _monitoring.DISABLE
        if not self._active:
            return None
        frame = sys._getframe(1)
        nargs = code.co_argcount + code.co_kwonlyargcount
        nargs += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
        values = {}
        args = []
        locals = frame.f_locals
        for name in code.co_varnames[:nargs]:
            try:
                value = locals[name]
            except (KeyError, Exception):
                continue
            text = self._text(value)
            values[name] = (value if type(value) in _ATOMS else None, text)
            args.append((name, text))
        self._frames.append((frame, values))
        # A module's call is at line 0, before its first line, as the
        # RustPython guest says it.
        line = 0 if code.co_name == "<module>" else frame.f_lineno or code.co_firstlineno
        self._push(_trace.Event_Call(_trace.CallEvent(
            code.co_qualname, code.co_filename, line, args)))
        return None

    def _line(self, code, line):
        if not self._record(code):
            return _monitoring.DISABLE
        if not self._active:
            return None
        frame = sys._getframe(1)
        caught, self._caught = self._caught, None
        if caught is not None and caught[0] is frame:
            self._exception(_trace.ExceptionStage.CAUGHT, caught[1])
        values = self._values_of(frame)
        changed = []
        try:
            items = list(frame.f_locals.items())
        except Exception:
            items = []
        module = code.co_name == "<module>"
        for name, value in items:
            if not isinstance(name, str):
                continue
            if module and name.startswith("__") and name.endswith("__"):
                continue
            before = values.get(name)
            if before is not None and before[0] is not None and before[0] is value:
                continue
            text = self._text(value)
            if before is not None and before[1] == text:
                values[name] = (value if type(value) in _ATOMS else None, text)
                continue
            values[name] = (value if type(value) in _ATOMS else None, text)
            changed.append((name, text))
        self._push(_trace.Event_Line(_trace.LineEvent(line, changed)))
        return None

    def _values_of(self, frame):
        frames = self._frames
        for at in range(len(frames) - 1, -1, -1):
            if frames[at][0] is frame:
                return frames[at][1]
        values = {}
        frames.append((frame, values))
        return values

    def _pop(self, frame):
        frames = self._frames
        for at in range(len(frames) - 1, -1, -1):
            if frames[at][0] is frame:
                del frames[at:]
                return

    def _return(self, code, offset, value):
        if not self._record(code):
            return _monitoring.DISABLE
        if not self._active:
            return None
        self._caught = None
        self._pop(sys._getframe(1))
        self._push(_trace.Event_Return(self._text(value)))
        return None

    def _unwind(self, code, offset, exc):
        # PY_UNWIND cannot be disabled per location.
        if not self._active or not self._record(code):
            return None
        self._caught = None
        self._pop(sys._getframe(1))
        self._push(_trace.Event_Return("None"))
        return None

    def _raise(self, code, offset, exc):
        if not self._active or not self._record(code):
            return None
        self._caught = None
        self._exception(_trace.ExceptionStage.RAISED, exc)
        return None

    def _handled(self, code, offset, exc):
        if not self._active or not self._record(code):
            return None
        self._caught = (sys._getframe(1), exc)
        return None

    def unhandled(self, exc):
        """The exception that ends the run, after every frame ended: no
        frame to evaluate in there."""
        self._exception(_trace.ExceptionStage.UNHANDLED, exc, evaluable=False)

    def _exception(self, stage, exc, evaluable=True):
        type_name, message = _describe(exc, self._text)
        self._push(
            _trace.Event_Exception(_trace.ExceptionEvent(stage, type_name, message)), evaluable)

    # -- expressions in the past --------------------------------------------

    def _evaluate(self):
        self._active = False
        requests = _trace.evaluations()
        frames = []
        frame = sys._getframe(1)
        while frame is not None:
            if self._decided.get(frame.f_code):
                frames.append(frame)
            frame = frame.f_back
        results = []
        for depth, expression in ((r.depth, r.expression) for r in requests):
            if depth >= len(frames):
                results.append(_Err("no frame %d here: the call stack has %d frame%s"
                                    % (depth, len(frames), "" if len(frames) == 1 else "s")))
                continue
            frame = frames[depth]
            try:
                text = repr(eval(expression, frame.f_globals, frame.f_locals))
            except BaseException as err:
                type_name, message = _describe(err, str)
                results.append(_Err("%s: %s" % (type_name, message) if message else type_name))
                continue
            if len(text) > _MAX_TEXT:
                text = text[:_MAX_TEXT] + "..."
            results.append(_Ok(text))
        _trace.evaluated(results)


def _describe(exc, text):
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    name = cls.__qualname__ if module in (None, "builtins", "__main__") else "%s.%s" % (
        module, cls.__qualname__)
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable %s>" % name
    return name, message
