"""Exception chaining, finally, context managers, groups and tracebacks as text."""
import contextlib
import traceback


class AppError(Exception):
    pass


def load(key):
    data = {"a": "1", "b": "x"}
    try:
        return int(data[key])
    except KeyError as e:
        raise AppError(f"missing {key}") from e
    except ValueError:
        raise AppError(f"bad value for {key}")


for key in "abc":
    try:
        print(key, load(key))
    except AppError as e:
        cause = e.__cause__ or e.__context__
        print(key, "error:", e, "| cause:", type(cause).__name__, cause, "| explicit:", e.__cause__ is not None)


def steps():
    log = []
    try:
        log.append("try")
        return log
    finally:
        log.append("finally")


print(steps())


@contextlib.contextmanager
def tag(name, log):
    log.append(f"<{name}>")
    try:
        yield name
    except ZeroDivisionError:
        log.append("handled")
    finally:
        log.append(f"</{name}>")


log = []
with tag("outer", log), tag("inner", log):
    1 / 0
print(log)
with contextlib.suppress(FileNotFoundError):
    open("/definitely/not/here")
print("suppressed")

try:
    raise ExceptionGroup("many", [ValueError("v"), TypeError("t"), ValueError("w")])
except* ValueError as g:
    print("values:", [str(e) for e in g.exceptions])
except* TypeError as g:
    print("types:", [str(e) for e in g.exceptions])

try:
    {}["k"]
except KeyError as e:
    print(traceback.format_exception_only(type(e), e))
e = ValueError("noted")
e.add_note("a note")
print(e.__notes__, repr(e))
try:
    try:
        raise OSError(2, "No such file")
    except OSError as inner:
        print(inner.errno, inner.strerror, isinstance(inner, FileNotFoundError))
        raise
except Exception as outer:
    print("re-raised", type(outer).__name__)
