"""The CPython guest: CPython 3.14 made a component by componentize-py, run
by `rewind run --python cpython`.

The host starts it with the launch protocol of the RustPython guest
(guest/python/src/main.rs), on argv:

    python [--cwd DIR] [--hash-seed N] [PYTHON OPTIONS]
        (--script PATH | --command CODE | --module NAME | --stdin | --interactive) -- ARGV...

and this module does what python3 does with it: `sys.argv`, `sys.path[0]`,
the program run as `__main__`, a traceback and status 1 for an exception
nothing handled, `sys.exit`'s status. Exit statuses other than 0 leave
through `wasi:cli/exit.exit-with-code`, which carries the number.

This module's top level runs once, when componentize-py pre-initialises the
component at build time: whatever it imports is in the snapshot every run
starts from. The standard library is at `/python`, where the host grants it
read-only at run time, so that a module first imported by the program is
found there. At build time only, the directory mounted at `/1` receives a
copy of that standard library (see host/guests/cpython.rs).
"""

import os
import sys

import wit_world
from wit_world import exports
from wit_world.imports import exit as _exit

import _rewind
import _rewind_tracer

# What every run imports, and what most programs do: in the snapshot, so
# that a run reads none of it from /python.
import atexit
import code
import codeop
import importlib.machinery
import importlib.util
import io
import linecache
import runpy
import traceback
import warnings


def _install_agent():
    """`import revdebug` and its submodules, from the sources beside this
    file, as the RustPython guest installs them (guest/python/src/
    recorder.rs): named `<revdebug>`, `<revdebug.registry>` and
    `<revdebug.serve>`, so that their frames read as the agent's own in
    tracebacks, captures and the debugger page, and are never traced."""
    import types
    here = os.path.dirname(__file__)
    for name, file in (
        ("revdebug", "revdebug/__init__.py"),
        ("revdebug.registry", "revdebug/registry.py"),
        ("revdebug.serve", "revdebug/serve.py"),
    ):
        with open(os.path.join(here, file), encoding="utf-8") as source:
            code = compile(source.read(), "<%s>" % name, "exec")
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(code, module.__dict__)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


_install_agent()
import revdebug

for _name in (
    "abc", "argparse", "array", "asyncio", "base64", "binascii", "bisect",
    "calendar", "collections", "contextlib", "copy", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "enum", "fnmatch", "fractions",
    "functools", "glob", "hashlib", "heapq", "hmac", "html", "http",
    "inspect", "itertools", "json", "logging", "math", "numbers", "operator",
    "pathlib", "pickle", "pprint", "queue", "random", "re", "select",
    "selectors", "shlex", "shutil", "socket", "sqlite3", "statistics",
    "string", "struct", "subprocess", "tempfile", "textwrap", "threading",
    "time", "timeit", "tokenize", "typing", "unittest", "urllib.parse",
    "uuid", "weakref", "zlib", "zoneinfo",
):
    try:
        __import__(_name)
    except ImportError:
        pass

# What WASI lacks for asyncio's event loop, and a clear error for a compiled
# extension module, as in the RustPython guest (guest/python/src/platform.py).
import _rewind_platform
import asyncio.selector_events
import asyncio.unix_events

_rewind_platform._selector_events(asyncio.selector_events)
_rewind_platform._unix_events(asyncio.unix_events)
sys.meta_path.append(_rewind_platform.NativeExtensionFinder)

# CPython's WASI build changes no mode, and says nothing of a missing file:
# as python3 elsewhere, a missing file is a FileNotFoundError.
_chmod = os.chmod


def _checked_chmod(path, mode, *, dir_fd=None, follow_symlinks=True):
    os.stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
    return _chmod(path, mode, dir_fd=dir_fd, follow_symlinks=follow_symlinks)


os.chmod = _checked_chmod

# Nothing the sandbox would keep: as the RustPython guest, no bytecode is
# written beside the program.
sys.dont_write_bytecode = True
_rewind._internal_files.add(__file__)

if os.path.isdir("/1/stdlib"):
    # Build time only: hand the standard library to the host's build.
    import shutil

    shutil.copytree(
        "/python",
        "/1/stdlib/python",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )

# The standard library's entries of pre-initialisation's `sys.path`; the
# others (the app, the bindings) are not there at run time.
_STDLIB_PATH = [p for p in sys.path if p == "/python" or p.startswith("/python/")]


class _Launch:
    """The launch protocol, parsed."""

    _FLAGS = {
        "--inspect": "inspect", "--unbuffered": "unbuffered",
        "--ignore-environment": "ignore_environment",
        "--safe-path": "safe_path", "--quiet": "quiet",
    }
    _LISTS = {
        "--xoption": "xoptions", "--warnoption": "warnoptions",
        "--sys-path": "sys_path", "--site-dir": "site_dirs", "--expect": "expected",
    }

    def __init__(self, args):
        self.cwd = None
        self.main = None
        self.serve = None
        self.debug_prefix = ""
        for flag in self._FLAGS.values():
            setattr(self, flag, False)
        for name in self._LISTS.values():
            setattr(self, name, [])
        args = iter(args[1:])
        for arg in args:
            if arg == "--":
                break
            if arg in self._FLAGS:
                setattr(self, self._FLAGS[arg], True)
                continue
            if arg in ("--stdin", "--interactive"):
                self.main = (arg[2:], None)
                continue
            value = next(args, None)
            if value is None:
                raise ValueError("%s needs a value" % arg)
            if arg in self._LISTS:
                getattr(self, self._LISTS[arg]).append(value)
            elif arg in ("--script", "--command", "--module"):
                self.main = (arg[2:], value)
            elif arg == "--cwd":
                self.cwd = value
            elif arg == "--serve":
                self.serve = value
            elif arg == "--debug-prefix":
                self.debug_prefix = value
            elif arg in ("--hash-seed", "--tracer"):
                # The snapshot fixed the hash seed, as the RustPython
                # guest's default does: re-execution hashes alike. There is
                # one tracer.
                pass
            else:
                raise ValueError("unknown launch option %r" % arg)
        else:
            raise ValueError("missing `--` before the script's argv")
        if self.main is None:
            raise ValueError(
                "one of --script, --command, --module, --stdin or --interactive is required")
        if self.serve is not None and self.main[0] != "script":
            raise ValueError("--serve needs --script")
        self.argv = list(args)


def _resync(launch):
    """What pre-initialisation saw of the process is not what this run sees."""
    sys.path[:] = list(_STDLIB_PATH)
    env = {} if launch.ignore_environment else os.environ
    _streams(launch.unbuffered or bool(env.get("PYTHONUNBUFFERED")))
    for option in launch.xoptions:
        key, eq, value = option.partition("=")
        sys._xoptions[key] = value if eq else True
    warnoptions = [w for w in env.get("PYTHONWARNINGS", "").split(",") if w] + launch.warnoptions
    if warnoptions:
        sys.warnoptions.extend(warnoptions)
        warnings._processoptions(warnoptions)
    before = launch.sys_path + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[0:0] = before
    if launch.site_dirs:
        import site
        for site_dir in launch.site_dirs:
            site.addsitedir(site_dir)


def _streams(unbuffered):
    """stdout and stderr as python3 makes them: componentize-py
    pre-initialises with PYTHONUNBUFFERED, and without a terminal. stdout
    is buffered, by line on a terminal; stderr by line; with -u neither."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        try:
            stream.flush()
            tty = os.isatty(fd)
            raw = io.FileIO(fd, "w", closefd=False)
            text = io.TextIOWrapper(
                raw if unbuffered else io.BufferedWriter(raw),
                encoding=stream.encoding,
                errors=stream.errors,
                line_buffering=not unbuffered and (tty or name == "stderr"),
                write_through=unbuffered,
            )
        except Exception:
            continue
        setattr(sys, name, text)
        setattr(sys, "__%s__" % name, text)


def _user_root(launch):
    kind, value = launch.main
    if kind == "script":
        return os.path.dirname(value) or "/"
    return launch.cwd or "/"


def _main_module():
    import types
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    return main.__dict__


def _run(launch):
    kind, value = launch.main
    path0 = None
    if kind == "script":
        path0 = os.path.dirname(value) or "/"
    elif kind == "module":
        path0 = os.getcwd()
    else:
        path0 = ""
    if not launch.safe_path:
        sys.path.insert(0, path0)
    globals = _main_module()
    if kind == "script":
        with open(value, "rb") as file:
            source = file.read()
        globals["__file__"] = value
        globals["__cached__"] = None
        try:
            code = compile(source, value, "exec")
        except SyntaxError as err:
            if "null bytes" in str(err.msg):
                # A binary given by mistake: one line naming it, not its bytes.
                err._rewind_one_line = "SyntaxError: source code cannot contain null bytes (%s)" % value
            raise
        exec(code, globals)
    elif kind == "command":
        exec(_compile_shown(value, "<string>"), globals)
    elif kind == "module":
        runpy._run_module_as_main(value, True)
    elif kind == "stdin":
        source = importlib.util.decode_source(sys.stdin.buffer.read())
        exec(compile(source, "<stdin>", "exec"), globals)
    elif kind == "interactive":
        _interact(globals, launch.quiet)
        return globals
    return globals


def _compile_shown(source, name):
    """`source` compiled as `name`, and kept where tracebacks find its lines,
    as python3 keeps the code of -c (not that of stdin)."""
    code = compile(source, name, "exec")
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    return code


def _interact(globals, quiet):
    _rewind_platform.interact(globals, quiet)


def _prompt(globals, launch):
    try:
        _interact(globals, launch.quiet)
    except SystemExit as exc:
        return _exit_status(exc)
    return 0


def _drop_launch_frames(exc):
    """`exc` with its traceback starting at the program's first frame, not
    at the launch's own."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    exc.__traceback__ = tb


def _print_exception(exc):
    """As python3 prints an exception nothing handled."""
    one_line = getattr(exc, "_rewind_one_line", None)
    if one_line is not None:
        print(one_line, file=sys.stderr)
        return
    try:
        traceback.print_exception(exc)
    except BaseException:
        print("%s: %s" % (type(exc).__name__, exc), file=sys.stderr)


def _exit_status(exc):
    """The status of a `SystemExit`, printing its message as python3 does."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, bool) or not isinstance(code, int):
        try:
            print(code, file=sys.stderr)
        except BaseException:
            pass
        return 1
    return code & 0xFF


def _capture_unhandled(exc):
    try:
        revdebug._capture(exc, exc.__traceback__, "unhandled", None)
    except BaseException as err:
        print("rewind: capturing the crash failed: %s: %s" % (type(err).__name__, err),
              file=sys.stderr)


def _finish(status):
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    _rewind._flush_tracer()
    _rewind.tell_host()
    if status:
        _exit.exit_with_code(status)


def _os_exit(status):
    """`os._exit(n)`: ends the run with status n at once, no clean-up."""
    _rewind._flush_tracer()
    _rewind.tell_host()
    _exit.exit_with_code(status & 0xFF)


_unhandled = []


class Run(exports.Run):
    def run(self) -> None:
        try:
            launch = _Launch(sys.argv)
        except ValueError as err:
            print("rewind-python: %s" % err, file=sys.stderr)
            _finish(2)
            return
        if launch.cwd:
            try:
                os.chdir(launch.cwd)
            except OSError:
                pass
        os._exit = _os_exit
        sys.argv = launch.argv
        _resync(launch)
        revdebug._start(_user_root(launch))
        _rewind.start_tracing()
        status = 0
        globals = None
        try:
            if launch.serve is not None:
                sys.path.insert(0, os.path.dirname(launch.main[1]) or "/")
                revdebug.serve.main(launch.main[1], launch.serve, launch.debug_prefix,
                                    launch.expected)
            else:
                globals = _run(launch)
        except SystemExit as exc:
            status = _exit_status(exc)
        except BaseException as exc:
            # Kept until the run exits: freeing a traceback a million frames
            # deep recurses deeper than the wasm stack goes.
            _unhandled.append(exc)
            _drop_launch_frames(exc)
            if launch.inspect:
                # python -i: the traceback, then the prompt.
                _print_exception(exc)
                status = _prompt(sys.modules["__main__"].__dict__, launch)
            else:
                _rewind.stop_tracing(exc)
                _print_exception(exc)
                _capture_unhandled(exc)
                status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        else:
            if launch.inspect and launch.main[0] != "interactive":
                status = _prompt(globals, launch)
        _rewind.stop_tracing(None)
        _finish(status)
