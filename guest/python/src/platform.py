"""What the guest adds to RustPython's standard library so that Python
programs run on WASI as they do on CPython's own WASI build, and a little
further: asyncio's event loop runs. The CPython guest uses the asyncio
adapters and the extension-module finder too (guest/cpython/).

Installed once, at pre-initialisation (`install`), so every run starts with
it. Each piece says which gap it closes; `docs/python.md` lists them.
"""

import errno
import sys

# CPython's default TZPATH (its configure script's), which its WASI build
# keeps too: zone files are found when the user grants the directory that
# holds them (`--dir /usr/share/zoneinfo`).
TZPATH = "/usr/share/zoneinfo:/usr/lib/zoneinfo:/usr/share/lib/zoneinfo:/etc/zoneinfo"


def install():
    _time()
    _os()
    _tzpath()
    _signal_numbers()
    _frozen_library()
    sys.meta_path.insert(0, _AfterImport({
        "asyncio.selector_events": _selector_events,
        "asyncio.unix_events": _unix_events,
    }))


def _time():
    """WASI has no time zone: wasi-libc's local time is UTC. RustPython on
    WASI leaves out the names that say so, and `_strptime` (so every
    `datetime.strptime`) reads them."""
    import time
    time.tzname = ("UTC", "UTC")
    time.timezone = 0
    time.altzone = 0
    time.daylight = 0
    # The clocks WASI has, under the names CPython gives them.
    clocks = {0: time.time_ns, 1: time.monotonic_ns}
    time.CLOCK_REALTIME = 0
    time.CLOCK_MONOTONIC = 1

    def clock_gettime_ns(clk_id):
        """The clock's time in nanoseconds (CLOCK_REALTIME, CLOCK_MONOTONIC)."""
        try:
            clock = clocks[clk_id]
        except (KeyError, TypeError):
            raise OSError(errno.EINVAL, "Invalid argument") from None
        return clock()

    def clock_gettime(clk_id):
        """The clock's time in seconds (CLOCK_REALTIME, CLOCK_MONOTONIC)."""
        return clock_gettime_ns(clk_id) / 1e9

    def clock_getres(clk_id):
        """The clock's resolution in seconds."""
        clock_gettime_ns(clk_id)
        name = "time" if clk_id == 0 else "monotonic"
        return time.get_clock_info(name).resolution

    time.clock_gettime_ns = clock_gettime_ns
    time.clock_gettime = clock_gettime
    time.clock_getres = clock_getres
    time.strftime = _strftime(time)


# What the C library's strftime makes of the directives RustPython's
# formatter on WASI leaves as they are or formats its own way, in the C
# locale (the only one there is): spelled with the directives it does
# format, or computed from the time itself.
_C_LOCALE = {"c": "%a %b %e %H:%M:%S %Y", "x": "%m/%d/%y", "X": "%H:%M:%S"}


def _strftime(time):
    formatter = time.strftime

    def strftime(format, t=None, /):
        """Format a time tuple (the local time by default) as `format`
        says, as the C library's strftime does."""
        if t is None:
            t = time.localtime()
        if not isinstance(format, str):
            return formatter(format, t)
        parts = format.split("%%")
        if not any(f"%{d}" in part for part in parts for d in "cxXZz"):
            return formatter(format, t)
        isdst = t[8] > 0 if len(t) > 8 else False
        zone = getattr(t, "tm_zone", None) or time.tzname[isdst]
        offset = getattr(t, "tm_gmtoff", None)
        if offset is None:
            offset = -(time.altzone if isdst else time.timezone)
        sign = "-" if offset < 0 else "+"
        minutes = abs(offset) // 60
        computed = {"Z": zone.replace("%", "%%"), "z": f"{sign}{minutes // 60:02d}{minutes % 60:02d}"}
        spelled = []
        for part in parts:
            for directive, text in (_C_LOCALE | computed).items():
                part = part.replace(f"%{directive}", text)
            spelled.append(part)
        return formatter("%%".join(spelled), t)

    strftime.__module__ = "time"
    return strftime


def _os():
    """WASI files have no permission bits. CPython's WASI build makes
    `os.chmod` succeed and change nothing, so that `shutil.copy` and
    friends work; so does the guest, once the file is found (the error of
    `os.stat` otherwise, where CPython's says nothing)."""
    import os
    import posix
    from operator import index

    def chmod(path, mode, *, dir_fd=None, follow_symlinks=True):
        """Change the access permissions of a file: WASI has none, so this
        checks that the file exists and changes nothing."""
        index(mode)
        os.stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

    def fchmod(fd, mode):
        """Change the access permissions of an open file: WASI has none, so
        this checks the descriptor and changes nothing."""
        index(mode)
        os.fstat(fd)

    def at_offset(fd, offset, io):
        """`io()` with the file at `offset`, its position put back after."""
        if offset < 0:
            raise OSError(errno.EINVAL, "Invalid argument")
        here = os.lseek(fd, 0, os.SEEK_CUR)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            return io()
        finally:
            os.lseek(fd, here, os.SEEK_SET)

    def pread(fd, length, offset, /):
        """Read at most `length` bytes at `offset`, leaving the file's
        position where it was."""
        return at_offset(fd, offset, lambda: os.read(fd, length))

    def pwrite(fd, data, offset, /):
        """Write `data` at `offset`, leaving the file's position where it
        was; returns the number of bytes written."""
        return at_offset(fd, offset, lambda: os.write(fd, data))

    def sched_yield():
        """Nothing else runs in the guest: there is nothing to yield to."""

    added = {"chmod": chmod, "fchmod": fchmod, "pread": pread, "pwrite": pwrite,
             "sched_yield": sched_yield}
    for name, function in added.items():
        if not hasattr(os, name):
            function.__module__ = "os"
            setattr(os, name, function)
            setattr(posix, name, function)
            os.__all__.append(name)


def _frozen_library():
    """The guest's whole standard library is frozen into it: there is no
    source of it anywhere to load instead. CPython freezes a few start-up
    modules as a cache of files it also has, and its tests ask, through
    `_imp._override_frozen_modules_for_tests(-1)` (`test.support`'s
    `import_fresh_module`), to load those from source; RustPython then
    finds no standard library module at all, or another Python's from
    `sys.path`. Here the request keeps the library that there is."""
    import _imp

    def _override_frozen_modules_for_tests(override, /):
        """Frozen modules are this interpreter's standard library, so they
        stay in use."""

    _imp._override_frozen_modules_for_tests = _override_frozen_modules_for_tests


def _tzpath():
    """RustPython's build variables have no TZPATH, so `zoneinfo.TZPATH` is
    empty even when the zone files are granted."""
    import _sysconfigdata
    _sysconfigdata.build_time_vars.setdefault("TZPATH", TZPATH)
    sysconfig = sys.modules.get("sysconfig")
    config = getattr(sysconfig, "_CONFIG_VARS", None)
    if isinstance(config, dict):
        config.setdefault("TZPATH", TZPATH)


def _signal_numbers():
    """RustPython on WASI has no signal numbers at all, where CPython's WASI
    build has the usual ones (wasi-libc's emulated signals): asyncio's
    `Runner` reads `signal.SIGINT`. The numbers come before `signal` builds
    its `Signals` from them; handlers stay as they are."""
    import _signal
    numbers = {"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGABRT": 6, "SIGKILL": 9,
               "SIGUSR1": 10, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14,
               "SIGTERM": 15, "SIGCHLD": 17}
    if "signal" in sys.modules:
        return
    for name, number in numbers.items():
        if not hasattr(_signal, name):
            setattr(_signal, name, number)


class _AfterImport:
    """A meta path finder that finds nothing itself: it lets the other
    finders find a module, and adapts the module to WASI right after it
    first runs."""

    def __init__(self, adapters):
        self.adapters = adapters

    def find_spec(self, name, path=None, target=None):
        adapt = self.adapters.get(name)
        if adapt is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _AdaptingLoader(spec.loader, adapt)
        return spec


class _AdaptingLoader:
    """Loads as `loader` does, then calls `adapt(module)`."""

    def __init__(self, loader, adapt):
        self.loader = loader
        self.adapt = adapt

    def create_module(self, spec):
        create = getattr(self.loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.adapt(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def _selector_events(module):
    """asyncio's selector loop wakes itself through a socket pair, for
    callbacks from other threads and for signal handlers. WASI has no
    socket pair (nor an address to make one from), and the guest has no
    other thread: a signal handler runs in the loop's own thread, after the
    wait it interrupted, and the loop runs what it scheduled at once. So the
    loop keeps no self-pipe."""
    loop = module.BaseSelectorEventLoop

    def _make_self_pipe(self):
        self._ssock = self._csock = None

    def _close_self_pipe(self):
        self._ssock = self._csock = None

    def _write_to_self(self):
        pass

    loop._make_self_pipe = _make_self_pipe
    loop._close_self_pipe = _close_self_pipe
    loop._write_to_self = _write_to_self


def _unix_events(module):
    """`add_signal_handler` without the wake-up descriptor: the handler
    calls the loop directly (see `_selector_events`)."""
    import signal
    from asyncio import events
    loop = module._UnixSelectorEventLoop

    def add_signal_handler(self, sig, callback, *args):
        """Add a handler for a signal: `callback(*args)` runs in the loop."""
        if _iscoroutine(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        handle = events.Handle(callback, args, self, None)
        self._signal_handlers[sig] = handle
        try:
            signal.signal(sig, lambda signum, frame: self._handle_signal(signum))
        except (OSError, NotImplementedError, ValueError) as exc:
            del self._signal_handlers[sig]
            raise RuntimeError(f"sig {sig} cannot be caught: {exc}") from None

    loop.add_signal_handler = add_signal_handler


class NativeExtensionFinder:
    """A meta path finder after all the others, reached only when nothing
    importable was found: importing a compiled extension module says why it
    cannot load, naming it, where python3 would load it. Both Python guests
    install it."""

    SUFFIXES = (".so", ".pyd", ".dylib")

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        import os
        leaf = name.rpartition(".")[2]
        for entry in (sys.path if path is None else path):
            try:
                files = os.listdir(entry or ".")
            except (OSError, TypeError, ValueError):
                continue
            for file in files:
                if file.startswith(leaf + ".") and file.endswith(cls.SUFFIXES):
                    where = os.path.join(entry, file)
                    package = name.partition(".")[0]
                    raise ImportError(
                        f"cannot import {name}: {where} is a compiled extension module, "
                        "which cannot load in the sandbox (it runs WebAssembly); "
                        f"use a pure-Python version of {package!r}",
                        name=name, path=where)
        return None


def interact(globals, quiet):
    """The interactive prompt (`code.interact`) in `globals`, with python3's
    banner unless `quiet` (-q). Both Python guests' prompt."""
    import code
    banner = "" if quiet else (
        f"Python {sys.version} on {sys.platform}\n"
        'Type "help", "copyright", "credits" or "license" for more information.\n'
        "(rewind: inside the sandbox; what you type is recorded as the program's input)")
    code.interact(banner=banner, local=globals, exitmsg="")


def _iscoroutine(callback):
    from asyncio import coroutines
    return coroutines.iscoroutine(callback) or coroutines._iscoroutinefunction(callback)
