"""RevDeBug's Python agent API, recording into Rewind's host.

The recorder lives in the host: every call here becomes a control call of
the `rewind:recorder` WIT interfaces (through the native `_rewind` module),
which the host logs as a marker at its place in the run. Modes are capped by
what the host allows; `setrecmode` returns the mode that took effect.

Values are stringified safely (`_saferepr`): capped in length and depth,
cycle-safe, with per-type stringifiers registered by `recrepr`; a
stringifier that raises is suppressed and noted. In a crash capture, the
values' own `__repr__` and `recrepr` functions run on a budget of steps
(function calls and loop iterations, counted the same on every run): one
that runs past it is interrupted, and once the capture's budget is spent
the rest are not called; each is noted.
"""

import sys
import _rewind

__all__ = [
    "flush", "exception", "setrecmode", "getrecmode", "block", "snapshot",
    "snapshotall", "clear", "clearall", "record", "norecord", "setrecord",
    "recrepr", "Off", "Continuous", "Live", "OnEvent", "Crash",
]


class RecordingMode(int):
    """A recording mode: `Off < OnEvent (Crash) < Continuous (Live)`."""

    __slots__ = ()
    _names = ("Off", "OnEvent", "Continuous")

    def __repr__(self):
        return "revdebug." + self._names[self]

    __str__ = __repr__


Off = RecordingMode(0)
OnEvent = RecordingMode(1)
Continuous = RecordingMode(2)
Live = Continuous
Crash = OnEvent
_MODES = (Off, OnEvent, Continuous)


def _mode(mode):
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(
            "recording mode must be revdebug.Off, OnEvent, Crash, Continuous "
            "or Live, not %s" % type(mode).__name__
        )
    if mode not in (0, 1, 2):
        raise ValueError(
            "%r is not a recording mode (revdebug.Off, OnEvent, Crash, "
            "Continuous or Live)" % (int(mode),)
        )
    return _MODES[mode]


def setrecmode(mode):
    """Sets the recording mode; returns the mode in effect, which is never
    above what the host (or its collector) allows."""
    return _MODES[_rewind.set_mode(int(_mode(mode)))]


def getrecmode():
    """The recording mode in effect."""
    return _MODES[_rewind.get_mode()]


def flush():
    """Continuous mode: send every thread's buffer now. Otherwise nothing."""
    _rewind.flush()


def snapshot(name=None):
    """Sends the current thread's buffer as a snapshot called `name` (or the
    next number); returns the name."""
    return _rewind.snapshot(_name(name), False)


def snapshotall(name=None):
    """Sends every thread's buffer as a snapshot; returns its name."""
    return _rewind.snapshot(_name(name), True)


def _name(name):
    if name is not None and not isinstance(name, str):
        raise TypeError("snapshot name must be a str or None, not %s" % type(name).__name__)
    return name


def clear(flush=True):
    """Empties the current thread's buffer; in continuous mode with `flush`
    its content is sent first, so nothing is lost."""
    _rewind.clear(False, bool(flush))


def clearall(flush=True):
    """Empties every thread's buffer (see `clear`)."""
    _rewind.clear(True, bool(flush))


def block(clear=True):
    """Isolates the recording of the current async task (or thread) from the
    others; re-entering a block that exists empties it when `clear`."""
    task = None
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
    if task is None:
        import _thread
        key = _thread.get_ident() & ~_TASK_KEY
    else:
        key = _task_key(task)
    return _rewind.block(key & 0xFFFFFFFFFFFFFFFF, bool(clear))


# A task's block key: a number of its own, with the top bit set so that it is
# never a thread's. Not `id(task)`: a task that ends frees its id for the
# next one, which must not re-enter its block.
_TASK_KEY = 1 << 63
_task_keys = {}
_next_task_key = [0]


def _task_key(task):
    key = _task_keys.get(id(task))
    if key is not None:
        return key
    _next_task_key[0] += 1
    key = _TASK_KEY | _next_task_key[0]
    _task_keys[id(task)] = key
    # The entry goes when the task is done. The task object lives until its
    # done callbacks have run, so its id is not reused before this one.
    task.add_done_callback(lambda done, ident=id(task): _task_keys.pop(ident, None))
    return key


def exception(*args):
    """Records a crash event for an exception and sends it with the buffers:
    `exception(type, value, tb)`, `exception(exc)`, or `exception()` for the
    exception being handled. Returns the path of the recording written, if
    one was."""
    if len(args) == 0:
        exc = sys.exc_info()[1]
        if exc is None:
            raise RuntimeError(
                "revdebug.exception() needs an exception: call it in an "
                "except block or pass one"
            )
        tb = exc.__traceback__
    elif len(args) == 1:
        exc = args[0]
        if isinstance(exc, tuple) and len(exc) == 3:
            return exception(*exc)
        if not isinstance(exc, BaseException):
            raise TypeError(
                "revdebug.exception() takes an exception, not %s" % type(exc).__name__
            )
        tb = exc.__traceback__
    elif len(args) == 3:
        etype, exc, tb = args
        if exc is None:
            if etype is None:
                raise TypeError("revdebug.exception(type, value, tb) needs a type or a value")
            exc = etype()
        elif not isinstance(exc, BaseException):
            raise TypeError(
                "revdebug.exception() takes an exception, not %s" % type(exc).__name__
            )
        if tb is None:
            tb = exc.__traceback__
    else:
        raise TypeError(
            "revdebug.exception() takes 0, 1 or 3 arguments (%d given)" % len(args)
        )
    return _capture(exc, tb, "reported", sys._getframe(1))


# ---------------------------------------------------------------------------
# Selective recording

# Rules by code object (functions, methods, classes' functions): id -> (code, on).
_code_rules = {}
# Rules by path (files and directories), newest last: [(path, on)].
_path_rules = []
# The user's own code: recorded unless a rule says otherwise.
_user_root = None


def record(target):
    """Records `target` (a function, class, module, code object, file name
    or path). Usable as a decorator."""
    setrecord(target, True)
    return target


def norecord(target):
    """Keeps `target` out of the recording (see `record`). Usable as a
    decorator."""
    setrecord(target, False)
    return target


def setrecord(target, on):
    """Records `target` when `on` is true, else keeps it out."""
    on = bool(on)
    for kind, key, code in _targets(target):
        if kind == "path":
            _path_rules[:] = [rule for rule in _path_rules if rule[0] != key]
            _path_rules.append((key, on))
        else:
            _code_rules[id(code)] = (code, on)
        _rewind.rule("%s:%s" % (kind, key), on)
    # Code already loaded is decided again at its next call.
    _rewind.rules_changed()


def _targets(target):
    import types
    if isinstance(target, (staticmethod, classmethod)):
        target = target.__func__
    if isinstance(target, types.MethodType):
        target = target.__func__
    if isinstance(target, types.CodeType):
        return [("code", _code_key(target), target)]
    if isinstance(target, types.FunctionType):
        return [("function", _code_key(target.__code__), target.__code__)]
    if isinstance(target, type):
        codes = []
        _class_codes(target, codes, set())
        if not codes:
            raise ValueError("class %s has no functions to record" % target.__qualname__)
        return [("class", _code_key(code), code) for code in codes]
    if isinstance(target, types.ModuleType):
        path = getattr(target, "__file__", None)
        if not path:
            raise ValueError("module %s has no file to record by" % target.__name__)
        return [("path", _absolute(path), None)]
    if isinstance(target, (str, bytes)) or hasattr(target, "__fspath__"):
        import os
        path = os.fsdecode(os.fspath(target))
        if not path:
            raise ValueError("an empty path names nothing to record")
        return [("path", _absolute(path), None)]
    raise TypeError(
        "cannot record %s: expected a function, class, module, code object or path"
        % type(target).__name__
    )


def _class_codes(cls, codes, seen):
    import types
    if id(cls) in seen:
        return
    seen.add(id(cls))
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            for accessor in (value.fget, value.fset, value.fdel):
                if isinstance(accessor, types.FunctionType):
                    codes.append(accessor.__code__)
        elif isinstance(value, types.FunctionType):
            codes.append(value.__code__)
        elif isinstance(value, type):
            _class_codes(value, codes, seen)


def _code_key(code):
    return "%s:%d:%s" % (code.co_filename, code.co_firstlineno, code.co_qualname)


def _absolute(path):
    import os
    return os.path.normpath(os.path.abspath(path))


def _covers(rule, path):
    return path == rule or path.startswith(rule if rule.endswith("/") else rule + "/")


def _should_record(code):
    """Whether calls of `code` are recorded: its own rule, else the most
    specific path rule (the newest on a tie), else whether it is the user's
    own code."""
    rule = _code_rules.get(id(code))
    if rule is not None and rule[0] is code:
        return rule[1]
    filename = code.co_filename
    best = None
    for path, on in _path_rules:
        if _covers(path, filename) and (best is None or len(path) >= len(best[0])):
            best = (path, on)
    if best is not None:
        return best[1]
    if filename.startswith("<"):
        return filename in ("<string>", "<stdin>")
    return _user_root is not None and _covers(_user_root, filename)


def _start(user_root):
    global _user_root
    _user_root = user_root


# ---------------------------------------------------------------------------
# Safe stringification

_MAX_LEN = 256
_MAX_DEPTH = 3
_MAX_ITEMS = 32
_reprs = {}
# The types the tracer stringifies natively (and `object`, whose
# stringifier would apply to them all).
_FAST_TYPES = (int, float, str, bool, type(None), list, tuple, dict, object)


def recrepr(typ, func):
    """Registers `func(obj) -> str` as the stringifier of `typ` (builtin
    types included); `None` removes it. Returns the one it replaces."""
    if not isinstance(typ, type):
        raise TypeError("recrepr() needs a type, not %s" % type(typ).__name__)
    if func is not None and not callable(func):
        raise TypeError("recrepr() needs a callable or None, not %s" % type(func).__name__)
    previous = _reprs.pop(typ, None)
    if func is not None:
        _reprs[typ] = func
    # The tracer stringifies builtin scalars and containers natively, unless
    # one of them has a stringifier of its own.
    _rewind.set_fast_repr(not any(t in _reprs for t in _FAST_TYPES))
    _rewind.set_stringifiers(bool(_reprs))
    return previous


def _stringifier(cls):
    if _reprs:
        for base in cls.__mro__:
            func = _reprs.get(base)
            if func is not None:
                return func
    return None


def _cap(text):
    if len(text) > _MAX_LEN:
        return text[: _MAX_LEN - 3] + "..."
    return text


def _saferepr(obj, notes=None):
    """The safe string form of `obj`; problems are appended to `notes`."""
    return _cap(_repr(obj, 0, set(), notes))


class _BudgetSpent(BaseException):
    """Raised in a value's own `__repr__` (or `recrepr` function) that runs
    past its budget during a crash capture; a `BaseException`, so that the
    code it interrupts does not take it for one of its own errors."""


# Steps (see `_rewind.budget`) one value's own stringifier may take in a
# crash capture, and all of them together: a few tens of milliseconds, and
# a few tenths of a second.
_VALUE_STEPS = 200_000
_CAPTURE_STEPS = 2_000_000
# Steps left in the capture running (None: not capturing, no budget), and
# the values it did not stringify once they were spent.
_steps_left = None
_skipped = 0
# Builtin types whose repr runs no Python code.
_PLAIN = (int, float, complex, str, bytes, bool, type(None))


def _call_stringifier(func, obj, cls, notes):
    """`func(obj)` within the capture's budget. Raises `_BudgetSpent` when it
    ran past it, or when the budget was spent before."""
    global _steps_left
    if _steps_left is None or cls in _PLAIN:
        return func(obj)
    if _steps_left <= 0:
        raise _BudgetSpent
    given = min(_steps_left, _VALUE_STEPS)
    _rewind.budget(given)
    try:
        return func(obj)
    finally:
        left = _rewind.budget(0)
        _steps_left -= given - left


def _spent(cls, what, notes):
    """The text of a value whose stringifier ran out of budget."""
    global _skipped
    if _steps_left is not None and _steps_left <= 0:
        # Said once, at the end of the capture.
        _skipped += 1
        return "<%s object: not shown, the capture ran out of time>" % cls.__qualname__
    if notes is not None:
        notes.append("%s of %s interrupted after %d steps" % (what, cls.__qualname__, _VALUE_STEPS))
    return "<%s object: %s ran too long>" % (cls.__qualname__, what)


def _repr(obj, depth, active, notes):
    cls = type(obj)
    func = _stringifier(cls)
    if func is not None:
        try:
            text = _call_stringifier(func, obj, cls, notes)
            return text if isinstance(text, str) else str(text)
        except _BudgetSpent:
            return _spent(cls, "recrepr", notes)
        except BaseException as err:
            if notes is not None:
                notes.append(
                    "recrepr for %s raised %s: %s" % (cls.__qualname__, type(err).__name__, _message(err))
                )
    if cls in (list, tuple, dict, set, frozenset):
        return _container(obj, cls, depth, active, notes)
    try:
        text = _call_stringifier(repr, obj, cls, notes)
        return text if isinstance(text, str) else "<%s>" % cls.__qualname__
    except _BudgetSpent:
        return _spent(cls, "repr", notes)
    except BaseException as err:
        if notes is not None:
            notes.append("repr of %s raised %s" % (cls.__qualname__, type(err).__name__))
        return "<%s object: repr raised %s>" % (cls.__qualname__, type(err).__name__)


def _container(obj, cls, depth, active, notes):
    if id(obj) in active:
        return {list: "[...]", tuple: "(...)", dict: "{...}"}.get(cls, "{...}")
    if not obj:
        return {list: "[]", tuple: "()", dict: "{}", set: "set()", frozenset: "frozenset()"}[cls]
    if depth >= _MAX_DEPTH:
        return {list: "[...]", tuple: "(...)", dict: "{...}"}.get(cls, "{...}")
    active.add(id(obj))
    try:
        parts = []
        size = 0
        items = obj.items() if cls is dict else obj
        for count, item in enumerate(items):
            if count >= _MAX_ITEMS or size > _MAX_LEN:
                parts.append("...")
                break
            if cls is dict:
                part = _repr(item[0], depth + 1, active, notes) + ": " + _repr(item[1], depth + 1, active, notes)
            else:
                part = _repr(item, depth + 1, active, notes)
            parts.append(part)
            size += len(part) + 2
    finally:
        active.discard(id(obj))
    body = ", ".join(parts)
    if cls is list:
        return "[" + body + "]"
    if cls is tuple:
        return "(" + body + ("," if len(obj) == 1 else "") + ")"
    if cls is dict or cls is set:
        return "{" + body + "}"
    return "frozenset({" + body + "})"


def _message(exc):
    try:
        return _cap(_call_stringifier(str, exc, type(exc), None))
    except _BudgetSpent:
        return "<str() ran too long>"
    except BaseException as err:
        return "<str() raised %s>" % type(err).__name__


# ---------------------------------------------------------------------------
# Crash capture

_MAX_FRAMES = 100
_MAX_LOCALS = 64


def _type_name(cls):
    module = getattr(cls, "__module__", None)
    if module in (None, "builtins", "__main__"):
        return cls.__qualname__
    return "%s.%s" % (module, cls.__qualname__)


def _capture(exc, tb, kind, caller=None):
    """Captures `exc` with every frame's locals and hands it to the host.
    The frames are the traceback's, below the callers of its first frame
    (or `caller` when there is no traceback). With recording off there is
    nothing to capture for, and nothing is stringified: a `__repr__` that
    never returns cannot hold up a crash nobody records."""
    if _rewind.get_mode() == 0:
        return None
    _rewind.mark_position()
    global _steps_left, _skipped
    _steps_left, _skipped = _CAPTURE_STEPS, 0
    traced = _rewind.set_traced(False)
    try:
        return _capture_frames(exc, tb, kind, caller)
    finally:
        _rewind.set_traced(traced)
        _steps_left = None


def _capture_frames(exc, tb, kind, caller):
    notes = []
    frames = []
    if tb is not None:
        outer = tb.tb_frame.f_back
        below = []
        while tb is not None:
            below.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
    else:
        outer = caller
        below = []
    above = []
    while outer is not None:
        above.append((outer, outer.f_lineno))
        outer = outer.f_back
    above.reverse()
    stack = above + below
    if len(stack) > _MAX_FRAMES:
        notes.append("%d frames, only the outermost and innermost %d kept" % (len(stack), _MAX_FRAMES))
        half = _MAX_FRAMES // 2
        stack = stack[:half] + stack[-half:]
    for frame, line in stack:
        code = frame.f_code
        frames.append((code.co_name, code.co_filename, line or 0, _locals(frame, notes)))
    if _skipped:
        notes.append(
            "%d values not stringified: the capture's budget of %d steps was spent"
            % (_skipped, _CAPTURE_STEPS)
        )
    info = None
    if exc is not None:
        info = (_type_name(type(exc)), _message(exc))
    return _rewind.crash(kind, info, frames, notes)


def _locals(frame, notes):
    try:
        code = frame.f_code
        if not code.co_flags & 1 and code.co_name == "<module>":
            # A module's locals are its globals. RustPython 0.6's f_locals
            # can index past the end of a module frame's fast locals when
            # the module has an inlined comprehension, and panic.
            items = list(frame.f_globals.items())
        else:
            items = list(frame.f_locals.items())
    except BaseException as err:
        notes.append("locals of %s unreadable: %s" % (frame.f_code.co_name, type(err).__name__))
        return []
    module_level = frame.f_code.co_name == "<module>"
    result = []
    for name, value in items:
        if not isinstance(name, str):
            continue
        if module_level and (name.startswith("__") and name.endswith("__")):
            continue
        if len(result) >= _MAX_LOCALS:
            notes.append("%s has more than %d locals, the rest left out" % (frame.f_code.co_name, _MAX_LOCALS))
            break
        result.append((name, _saferepr(value, notes)))
    return result


# ---------------------------------------------------------------------------
# Tracebacks

def _fold_repeats_first():
    """Makes `traceback.StackSummary.format` skip the frames it folds into
    "[Previous line repeated N more times]" before formatting them, not
    after: the standard library formats every frame first, which in this VM
    costs a fraction of a millisecond each (the caret lines parse the
    source), so that an uncaught recursion 100,000 deep took 20 seconds to
    print. What is printed is unchanged."""
    import traceback

    summary = traceback.StackSummary
    cutoff = getattr(traceback, "_RECURSIVE_CUTOFF", 3)

    def repeated(times):
        return "  [Previous line repeated %d more time%s]\n" % (times, "s" if times > 1 else "")

    def format(self, **kwargs):
        lines = []
        last = None
        count = 0
        for frame in self:
            here = (frame.filename, frame.lineno, frame.name)
            if here == last and count >= cutoff:
                # Folded: counted, never formatted.
                count += 1
                continue
            text = self.format_frame_summary(frame, **kwargs)
            if text is None:
                continue
            if here != last:
                if count > cutoff:
                    lines.append(repeated(count - cutoff))
                last = here
                count = 0
            count += 1
            lines.append(text)
        if count > cutoff:
            lines.append(repeated(count - cutoff))
        return lines

    summary.format = format


_fold_repeats_first()
