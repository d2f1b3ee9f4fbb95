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

import dis as _dis
import sys
import types
from itertools import islice

from componentize_py_types import Err as _Err
from componentize_py_types import Ok as _Ok
from wit_world.imports import trace as _trace

_monitoring = sys.monitoring
_DISABLE = _monitoring.DISABLE
_getframe = sys._getframe
_Call, _CallEvent = _trace.Event_Call, _trace.CallEvent
_Line, _LineEvent = _trace.Event_Line, _trace.LineEvent
# Not one of the ids PEP 669 names (debuggers, coverage.py and profilers
# take those): a program that uses `sys.monitoring` itself runs the same
# traced and untraced, so that re-execution does not diverge.
_TOOL = 4
_E = _monitoring.events
_BATCH = 1024
_MAX_TEXT = 4000
# A container's text is made again only when it is another object or holds
# other items: its identity, length and the identities of the items its text
# shows, as the RustPython guest's native tracer decides (a change deeper
# inside is seen when the container itself changes).
_CONTAINERS = {list, tuple, dict}
_SHOWN = 32


# Keys of a frame's values that are not names of locals: the line of its
# last event, and the names holding containers.
_LAST_LINE = 0
_CONTAINER_NAMES = 1

# The instructions that bind a name in a frame's locals (its globals, for a
# module).
_STORES = {"STORE_FAST", "STORE_NAME", "STORE_DEREF", "STORE_GLOBAL", "DELETE_FAST",
           "DELETE_NAME", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST"}


def _stores_by_line(code):
    """{line: the names its instructions bind} for `code`."""
    stores = {}
    line = None
    for instruction in _dis.get_instructions(code):
        if instruction.positions is not None and instruction.positions.lineno is not None:
            line = instruction.positions.lineno
        if instruction.opname in _STORES:
            names = stores.setdefault(line, set())
            if instruction.opname == "STORE_FAST_STORE_FAST" or (
                    instruction.opname == "STORE_FAST_LOAD_FAST"):
                names.update(_pair_names(code, instruction))
            else:
                names.add(instruction.argval)
    return {line: tuple(names) for line, names in stores.items()}


def _pair_names(code, instruction):
    """The names of a superinstruction of two fast locals."""
    value = instruction.argval
    if isinstance(value, tuple):
        return [name for name in value if isinstance(name, str)]
    names = code.co_varnames + code.co_cellvars + code.co_freevars
    arg = instruction.arg
    return [names[i] for i in (arg >> 4, arg & 15) if i < len(names)]


def _fingerprint(value, kind):
    if kind is dict:
        return (id(value), len(value),
                *map(id, islice(value.keys(), _SHOWN)),
                *map(id, islice(value.values(), _SHOWN)))
    return (id(value), len(value), *map(id, value[:_SHOWN]))


# What `revdebug._saferepr` makes of a scalar: its repr, capped.
_SCALARS = {int, float, bool, type(None), str}
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
        # {code: {line: the names the line binds}}, made on first use.
        self._stores = {}
        self._batch = []
        # (frame, {name: (value or None, text)}) of the traced frames.
        self._frames = []
        # Events handed to the host so far.
        self._sent = 0
        self._evaluate_at = _trace.evaluate_at()
        self._active = True
        # Whether scalars may be stringified by their repr (no `recrepr`
        # stringifier for their types).
        self.fast_repr = True
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
        """Suspends (or resumes) tracing; returns whether it was on."""
        was, self._active = self._active, bool(on)
        return was

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
        batch = self._batch
        batch.append(event)
        # This event's index, counting from the thread's first.
        if self._sent + len(batch) - 1 == self._evaluate_at and evaluable:
            self.flush()
            self._evaluate()
        elif len(batch) >= _BATCH:
            self.flush()

    def flush(self):
        if self._batch:
            batch, self._batch = self._batch, []
            self._sent += len(batch)
            _trace.events(batch)

    def _text(self, value):
        # The scalars' text is their repr, made in C, unless a `recrepr`
        # stringifier of their type says otherwise (`set_fast_repr`).
        if type(value) in _SCALARS and self.fast_repr:
            return self._revdebug._cap(repr(value))
        was, self._active = self._active, False
        try:
            return self._saferepr(value)
        finally:
            self._active = was

    def _start(self, code, offset):
        on = self._decided.get(code)
        if on is None:
            on = self._record(code)
        if not on:
            return _DISABLE
        if not self._active:
            return None
        frame = _getframe(1)
        nargs = code.co_argcount + code.co_kwonlyargcount
        flags = code.co_flags
        nargs += bool(flags & 0x04) + bool(flags & 0x08)
        values = {}
        args = []
        if nargs:
            locals = frame.f_locals
            for name in code.co_varnames[:nargs]:
                try:
                    value = locals[name]
                except Exception:
                    continue
                kind = type(value)
                text = self._text(value)
                key = None
                if kind in _CONTAINERS:
                    key = _fingerprint(value, kind)
                    values.setdefault(_CONTAINER_NAMES, set()).add(name)
                values[name] = (value if kind in _ATOMS else None, text, key)
                args.append((name, text))
        self._frames.append((frame, values))
        # A module's call is at line 0, before its first line, as the
        # RustPython guest says it.
        line = 0 if code.co_name == "<module>" else frame.f_lineno or code.co_firstlineno
        self._push(_Call(_CallEvent(code.co_qualname, code.co_filename, line, args)))
        return None

    def _line(self, code, line):
        on = self._decided.get(code)
        if on is None:
            on = self._record(code)
        if not on:
            return _DISABLE
        if not self._active:
            return None
        frame = _getframe(1)
        if self._caught is not None:
            caught, self._caught = self._caught, None
            if caught[0] is frame:
                self._exception(_trace.ExceptionStage.CAUGHT, caught[1])
        frames = self._frames
        if frames and frames[-1][0] is frame:
            values = frames[-1][1]
        else:
            values = self._values_of(frame)
        changed = []
        try:
            locals = frame.f_locals
        except Exception:
            locals = {}
        # What may have changed since the frame's last event: the names the
        # line it ran stores to, and the containers (changed in place by
        # anyone). Every name the first time.
        last = values.get(_LAST_LINE)
        values[_LAST_LINE] = line
        if last is None:
            names = list(locals.keys())
        else:
            stores = self._stores.get(code)
            if stores is None:
                stores = self._stores[code] = _stores_by_line(code)
            names = [name for name in stores.get(last, ()) if name in locals]
            names.extend(values.get(_CONTAINER_NAMES, ()))
        module = code.co_name == "<module>"
        for name in names:
            if module and (type(name) is not str or name.startswith("__") and name.endswith("__")):
                continue
            try:
                value = locals[name]
            except Exception:
                continue
            before = values.get(name)
            if before is not None and before[0] is value and before[0] is not None:
                continue
            kind = type(value)
            key = None
            if kind in _CONTAINERS:
                key = _fingerprint(value, kind)
                if before is None or before[2] is None:
                    values.setdefault(_CONTAINER_NAMES, set()).add(name)
                elif before[2] == key:
                    continue
            elif before is not None and before[2] is not None:
                values[_CONTAINER_NAMES].discard(name)
            text = self._text(value)
            values[name] = (value if kind in _ATOMS else None, text, key)
            if before is None or before[1] != text:
                changed.append((name, text))
        self._push(_Line(_LineEvent(line, changed)))
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
        if frames and frames[-1][0] is frame:
            del frames[-1]
            return
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
