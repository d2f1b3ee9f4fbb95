//! Python as CPython runs it: asyncio, subprocess, the `os`/`time` names
//! WASI can serve, zone files, the parser, zlib, and CPython's own tests,
//! each compared with what `python3` prints.

use std::path::Path;
use std::process::Command;

use crate::recording::record;
use crate::{Run, Scripts, rewind, rewind_run, run, run_with_stdin};

/// What CPython prints for `script` (the machine's `python3`).
fn cpython(script: &Path) -> Run {
    run(Command::new("python3").arg(script))
}

/// Runs `text` under `rewind run` and under `python3`, and checks that both
/// print the same and succeed.
fn same_as_cpython(name: &str, text: &str) -> Run {
    same_as_cpython_with(name, text, false)
}

/// `same_as_cpython`, with the script's directory granted read-write when
/// `writes`.
fn same_as_cpython_with(name: &str, text: &str, writes: bool) -> Run {
    let scripts = Scripts::new();
    let script = scripts.write(name, text);
    let expected = cpython(&script);
    assert_eq!(expected.code, Some(0), "CPython: {expected:?}");
    let dir = scripts.root().to_str().unwrap().to_owned();
    let mut args = Vec::new();
    if writes {
        args.extend(["--dir-rw".to_owned(), dir]);
    }
    args.push(script.to_str().unwrap().to_owned());
    let got = rewind_run(&args);
    assert_eq!(got.stdout, expected.stdout, "{got:?}");
    assert_eq!(got.code, Some(0), "{got:?}");
    got
}

/// Tasks, `asyncio.sleep`, queues, `gather`, `wait_for`, `asyncio.timeout`
/// and `TaskGroup`: what a program sees of them is their order and results.
const ASYNCIO: &str = r#"
import asyncio

async def worker(name, delay, log):
    await asyncio.sleep(delay)
    log.append(name)
    return name.upper()

async def producer(queue, n):
    for i in range(n):
        await queue.put(i)
        await asyncio.sleep(0)
    await queue.put(None)

async def consumer(queue):
    total = 0
    while (item := await queue.get()) is not None:
        total += item
    return total

async def main():
    log = []
    results = await asyncio.gather(
        worker("c", 0.03, log), worker("a", 0.01, log), worker("b", 0.02, log))
    print("gather", results, "finished", log)

    queue = asyncio.Queue(maxsize=2)
    _, total = await asyncio.gather(producer(queue, 10), consumer(queue))
    print("queue total", total)

    try:
        await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)
    except TimeoutError:
        print("wait_for timed out")
    try:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(10)
    except TimeoutError:
        print("timeout() timed out")

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(worker(str(i), 0.001 * (3 - i), [])) for i in range(3)]
    print("task group", [task.result() for task in tasks])

    async def fails():
        await asyncio.sleep(0)
        raise ValueError("boom")
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(fails())
            group.create_task(asyncio.sleep(10))
    except* ValueError as group_error:
        print("task group error", [str(e) for e in group_error.exceptions])

    task = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled", task.cancelled())

    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_later(0.01, future.set_result, "called later")
    print(await future)
    return "done"

print(asyncio.run(main()))
"#;

#[test]
fn asyncio_runs_tasks_queues_gather_timeouts_and_task_groups() {
    same_as_cpython("tasks.py", ASYNCIO);
}

#[test]
fn selectors_and_select_wait_on_the_clock() {
    same_as_cpython(
        "select_wait.py",
        "import select, selectors, time\n\
         start = time.monotonic()\n\
         print(select.select([], [], [], 0.05))\n\
         print(time.monotonic() - start >= 0.04)\n\
         with selectors.DefaultSelector() as selector:\n\
         \x20   print(selector.select(0.01))\n",
    );
}

#[test]
fn an_asyncio_run_re_executes_identically() {
    let scripts = Scripts::new();
    let text = format!("import time, random\nprint(time.time(), random.random())\n{ASYNCIO}");
    let script = scripts.write("replayed.py", &text);
    let (recorded, files) = record(
        &scripts,
        &["--mode", "continuous", script.to_str().unwrap()],
        "",
    );
    assert_eq!(recorded.code, Some(0), "{recorded:?}");
    assert!(recorded.stdout.contains("task group"), "{recorded:?}");
    let stream = files
        .iter()
        .find(|path| path.to_string_lossy().contains("stream"))
        .unwrap_or_else(|| panic!("a stream in {files:?}"));
    let mut command = rewind();
    command.arg("replay").arg("--exec").arg(stream);
    let replayed = run_with_stdin(&mut command, b"");
    assert_eq!(replayed.stdout, recorded.stdout, "{replayed:?}");
    assert_eq!(replayed.code, Some(0), "{replayed:?}");
}

#[test]
fn each_asyncio_task_gets_a_block_of_its_own() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "blocks.py",
        r#"
import asyncio, revdebug
blocks = {}

async def worker(name, delay):
    first = revdebug.block()
    await asyncio.sleep(delay)
    blocks[name] = (first, revdebug.block(clear=False))

async def main():
    await asyncio.gather(worker("a", 0.02), worker("b", 0.01), worker("c", 0))
    # Tasks that start after others ended may reuse their ids: not their blocks.
    for i in range(5):
        await asyncio.create_task(worker(f"late{i}", 0))
    blocks["main"] = (revdebug.block(), revdebug.block())

outside = revdebug.block()
asyncio.run(main())
firsts = [first for first, _ in blocks.values()]
print("re-entered the same", all(first == again for first, again in blocks.values()))
print("distinct", len(set(firsts)) == len(blocks), len(blocks))
print("outside a task", outside not in firsts, revdebug.block() == outside)
"#,
    );
    let got = rewind_run([&script]);
    assert_eq!(got.code, Some(0), "{got:?}");
    assert_eq!(
        got.stdout, "re-entered the same True\ndistinct True 9\noutside a task True True\n",
        "{got:?}"
    );
}

#[test]
fn subprocess_imports_and_starting_a_process_is_a_clear_os_error() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "proc.py",
        "import errno, subprocess\n\
         try:\n\
         \x20   subprocess.run(['echo', 'hi'])\n\
         except OSError as error:\n\
         \x20   print(type(error).__name__, error.errno == errno.ENOTSUP, error)\n",
    );
    let got = rewind_run([&script]);
    let enotsup = crate::errno(95, 58);
    assert_eq!(
        got.stdout,
        format!("OSError True [Errno {enotsup}] wasi does not support processes.\n"),
        "{got:?}"
    );
}

#[test]
fn shutil_copies_files_and_chmod_changes_nothing() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "copy.py",
        "import os, shutil, sys\n\
         here = os.path.dirname(os.path.abspath(__file__))\n\
         src = os.path.join(here, 'src.txt')\n\
         shutil.copy(src, os.path.join(here, 'copy.txt'))\n\
         shutil.copy2(src, os.path.join(here, 'copy2.txt'))\n\
         shutil.copytree(os.path.join(here, 'tree'), os.path.join(here, 'tree2'))\n\
         os.chmod(src, 0o600)\n\
         print(open(os.path.join(here, 'copy.txt')).read(), sorted(os.listdir(os.path.join(here, 'tree2'))))\n\
         try:\n\
         \x20   os.chmod(os.path.join(here, 'missing'), 0o600)\n\
         except FileNotFoundError:\n\
         \x20   print('missing file: FileNotFoundError')\n",
    );
    scripts.write("src.txt", "copied");
    scripts.write("tree/a.txt", "a");
    let dir = scripts.root().to_str().unwrap().to_owned();
    let got = rewind_run(["--dir-rw", &dir, script.to_str().unwrap()]);
    assert_eq!(
        got.stdout, "copied ['a.txt']\nmissing file: FileNotFoundError\n",
        "{got:?}"
    );
    assert_eq!(
        std::fs::read_to_string(scripts.path("copy2.txt")).unwrap(),
        "copied"
    );
}

#[test]
fn strptime_and_the_time_zone_names() {
    same_as_cpython(
        "strptime.py",
        "import datetime, time\n\
         print(datetime.datetime.strptime('2024-02-29 13:45:01', '%Y-%m-%d %H:%M:%S'))\n\
         print(time.strptime('1 Jan 2001', '%d %b %Y')[:6])\n\
         print(datetime.datetime.strptime('2024-03-01T10:00:00+0200', '%Y-%m-%dT%H:%M:%S%z'))\n\
         print(type(time.tzname), type(time.timezone), type(time.daylight))\n",
    );
}

#[test]
fn zoneinfo_finds_granted_zone_files() {
    let zones = Path::new("/usr/share/zoneinfo");
    assert!(
        zones.join("Europe/Paris").is_file(),
        "the machine's zone files (Debian's tzdata)"
    );
    let scripts = Scripts::new();
    let text = "import datetime, zoneinfo\n\
                print(zoneinfo.TZPATH[0])\n\
                paris = zoneinfo.ZoneInfo('Europe/Paris')\n\
                moment = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=datetime.timezone.utc)\n\
                print(moment.astimezone(paris), moment.astimezone(paris).tzname())\n";
    let script = scripts.write("zones.py", text);
    let expected = cpython(&script);
    let got = rewind_run(["--dir", "/usr/share/zoneinfo", script.to_str().unwrap()]);
    assert_eq!(got.stdout, expected.stdout, "{got:?}");
    assert_eq!(
        got.stdout,
        "/usr/share/zoneinfo\n2024-07-01 14:00:00+02:00 CEST\n"
    );
    // Not granted: the zone is not found, as on a machine without tzdata.
    let missing = rewind_run([&script]);
    assert!(
        missing.stderr.contains("ZoneInfoNotFoundError"),
        "{missing:?}"
    );
}

#[test]
fn a_comment_in_a_call_is_not_code() {
    same_as_cpython(
        "comments.py",
        "d = dict(a=1 # x for y\n)\n\
         print(d)\n\
         f = lambda *a, **k: (a, k)\n\
         print(f(a=1, # for x in y\n b=2))\n\
         print(f(1, key=2 # the for loop below\n))\n\
         print(sum(x for x in range(3)))\n",
    );
    // A real one is still refused as CPython refuses it.
    let scripts = Scripts::new();
    let script = scripts.write("bad.py", "f(a=1 for x in y)\n");
    let got = rewind_run([&script]);
    assert_eq!(got.code, Some(1), "{got:?}");
    assert!(
        got.stderr
            .contains("SyntaxError: invalid syntax. Maybe you meant '==' or ':=' instead of '='?"),
        "{got:?}"
    );
}

/// Where RustPython's VM or library differed from CPython 3.14, which the
/// guest says it is: the output is CPython 3.14.0's (its WASI build, the
/// CPython guest, prints the same; the machine's python3 is older and
/// words the first message differently).
#[test]
fn messages_and_modules_are_cpython_3_14s() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "as_314.py",
        r#"import abc, argparse, enum, textwrap

class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self): ...
    @abc.abstractmethod
    def edges(self): ...

try:
    Shape()
except TypeError as e:
    print(e)
for encoding in (1, len):
    try:
        str(b"x", encoding)
    except TypeError as e:
        print(e)

class Stooge(int, enum.Enum):
    LARRY = 1
    MOE = 3

print(Stooge.from_bytes(b"\x00\x03", "big") is Stooge.MOE)
parser = argparse.ArgumentParser(prog="todo", exit_on_error=False)
parser.add_argument("-p", type=int, choices=[1, 2, 3])
try:
    parser.parse_args(["-p", "9"])
except argparse.ArgumentError as e:
    print(e)
print(textwrap.wrap("aaaa bbbbbbbbbbbb", 5))
# test.support's import_fresh_module: the standard library stays importable.
import _imp, importlib, sys
_imp._override_frozen_modules_for_tests(-1)
for name in [m for m in sys.modules if m == "json" or m.startswith("json.")]:
    del sys.modules[name]
print(importlib.import_module("json").loads("[1]"))
_imp._override_frozen_modules_for_tests(0)
"#,
    );
    let got = rewind_run([&script]);
    assert_eq!(got.code, Some(0), "{got:?}");
    assert_eq!(
        got.stdout,
        "Can't instantiate abstract class Shape without an implementation for abstract methods 'area', 'edges'\n\
         str() argument 'encoding' must be str, not int\n\
         str() argument 'encoding' must be str, not builtin_function_or_method\n\
         True\n\
         argument -p: invalid choice: '9' (choose from 1, 2, 3)\n\
         ['aaaa ', 'bbbbb', 'bbbbb', 'bb']\n\
         [1]\n",
        "{got:?}"
    );
}

#[test]
fn time_and_os_names_wasi_can_serve() {
    same_as_cpython_with(
        "names.py",
        "import os, tempfile, time\n\
         print(time.clock_gettime(time.CLOCK_MONOTONIC) > 0, time.clock_gettime_ns(time.CLOCK_REALTIME) > 0)\n\
         print(time.clock_getres(time.CLOCK_MONOTONIC) > 0)\n\
         os.sched_yield()\n\
         fd, path = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(__file__)))\n\
         os.write(fd, b'0123456789')\n\
         print(os.pread(fd, 4, 2), os.pwrite(fd, b'ab', 8), os.lseek(fd, 0, os.SEEK_CUR))\n\
         os.lseek(fd, 0, os.SEEK_SET)\n\
         print(os.read(fd, 100))\n\
         os.close(fd)\n\
         os.remove(path)\n",
        true,
    );
}

#[test]
fn strftime_formats_as_the_c_library_does() {
    // The guest's local time is UTC; CPython's here is made UTC too. glibc
    // names a `gmtime` zone "GMT", wasi-libc "UTC": tuples are used instead.
    let scripts = Scripts::new();
    let script = scripts.write(
        "strftime.py",
        "import datetime, time\n\
         t = (2000, 1, 1, 12, 0, 5, 5, 1, 0)\n\
         print(time.strftime('%c | %x | %X | %z | %%c %%%x | %Y-%m-%d %H:%M:%S', t))\n\
         d = datetime.datetime(2000, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)\n\
         print(d.strftime('%c | %x | %X | %Z | %z'))\n",
    );
    let expected = run(Command::new("python3").env("TZ", "UTC").arg(&script));
    let got = rewind_run([&script]);
    assert_eq!(got.stdout, expected.stdout, "{got:?}");
    assert_eq!(
        got.stdout.lines().next(),
        Some(
            "Sat Jan  1 12:00:05 2000 | 01/01/00 | 12:00:05 | +0000 | %c %01/01/00 | 2000-01-01 12:00:05"
        )
    );
}

#[test]
fn zlib_errors_read_as_cpythons() {
    same_as_cpython(
        "zlib_errors.py",
        "import zlib\n\
         whole = zlib.compress(b'hello ' * 100)\n\
         for bad in (lambda: zlib.decompress(b'not zlib'),\n\
         \x20           lambda: zlib.decompressobj().decompress(b'not zlib'),\n\
         \x20           lambda: zlib.decompress(whole[:-3]),\n\
         \x20           lambda: zlib.decompress(whole[:2] + b'garbage' + whole[9:])):\n\
         \x20   try:\n\
         \x20       bad()\n\
         \x20   except zlib.error as e:\n\
         \x20       print(e)\n",
    );
}

/// Compressed bytes are CPython's, byte for byte: golden files and content
/// hashes of `.gz` files made by CPython match (docs/python.md, "zlib").
#[test]
fn zlib_output_is_cpythons_byte_for_byte() {
    same_as_cpython(
        "deflate.py",
        "import gzip, hashlib, zlib\n\
         text = b''.join(b'line %d: hello hello world %d\\n' % (i, i * i) for i in range(20000))\n\
         data = text + bytes(range(256)) * 300\n\
         digest = lambda b: hashlib.sha256(b).hexdigest()[:16]\n\
         for level in range(-1, 10):\n\
         \x20   print('compress', level, len(zlib.compress(data, level)), digest(zlib.compress(data, level)))\n\
         for level in (0, 1, 6, 9):\n\
         \x20   for wbits in (-15, 9, 15, 31):\n\
         \x20       for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_RLE):\n\
         \x20           c = zlib.compressobj(level, zlib.DEFLATED, wbits, 8, strategy)\n\
         \x20           out = c.compress(data) + c.flush()\n\
         \x20           print('object', level, wbits, strategy, len(out), digest(out))\n\
         c = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict=text[:4096])\n\
         parts = [c.compress(data[i:i + 3000]) for i in range(0, len(data), 3000)]\n\
         parts += [c.flush(zlib.Z_SYNC_FLUSH), c.compress(b'tail'), c.flush(zlib.Z_FULL_FLUSH), c.flush()]\n\
         print('streamed', [len(p) for p in parts][:8], digest(b''.join(parts)))\n\
         # After gzip's 10-byte header, whose OS byte is 255 since 3.13 (3 before).\n\
         print('gzip', digest(gzip.compress(data, mtime=0)[10:]), digest(gzip.compress(data, 1, mtime=0)[10:]))\n",
    );
}

/// Runs CPython's own test modules (argv[2:]) from its `Lib` (argv[1])
/// against this interpreter's `unittest` and codecs; prints each test that
/// failed and a count.
const CPYTHON_TESTS: &str = r#"
import sys, unittest
lib = sys.argv[1]
# CPython 3.11 keeps the tests of unittest inside its unittest package.
unittest.__path__.append(lib + "/unittest")
sys.path.append(lib)
suite = unittest.TestSuite()
for name in sys.argv[2:]:
    suite.addTests(unittest.TestLoader().loadTestsFromName(name))
result = unittest.TestResult()
suite.run(result)
for test, _ in result.failures + result.errors:
    print("failed", test.id())
print("ran", result.testsRun)
"#;

/// What CPython 3.11's tests expect and the 3.13 standard library the
/// guest has (like CPython 3.13) does differently.
const NEWER_PYTHON: &[&str] = &[
    // Removed in 3.12.
    "unittest.test.test_case.Test_TestCase.testAssertDictContainsSubset",
    "unittest.test.test_case.Test_TestCase.testDeprecatedMethodNames",
    // Since 3.12 an error inside a codec keeps its type and gets a note
    // ("encoding with 'X' codec failed") instead of being wrapped.
    "test.test_codecs.ExceptionChainingTest.test_raise_by_type",
    "test.test_codecs.ExceptionChainingTest.test_raise_by_value",
    "test.test_codecs.ExceptionChainingTest.test_raise_grandchild_subclass_exact_size",
    "test.test_codecs.ExceptionChainingTest.test_raise_subclass_with_weakref_support",
    "test.test_codecs.TransformCodecTest.test_custom_hex_error_is_wrapped",
    "test.test_codecs.TransformCodecTest.test_custom_zlib_error_is_wrapped",
];

#[test]
fn cpython_tests_of_unittest_and_codecs_pass_but_for_newer_python() {
    let lib = Command::new("python3")
        .args(["-c", "import os; print(os.path.dirname(os.__file__))"])
        .output()
        .unwrap();
    let lib = String::from_utf8(lib.stdout).unwrap().trim().to_owned();
    assert!(
        Path::new(&lib).join("test/test_codecs.py").is_file(),
        "{lib}"
    );
    let scripts = Scripts::new();
    let script = scripts.write("cpython_tests.py", CPYTHON_TESTS);
    let dir = scripts.root().to_str().unwrap().to_owned();
    let mut command = rewind();
    // test_codecs writes its temporary files in the working directory.
    command.current_dir(scripts.root()).arg("run").args([
        "--dir",
        &lib,
        "--dir-rw",
        &dir,
        script.to_str().unwrap(),
        &lib,
        "unittest.test.test_case",
        "unittest.test.test_skipping",
        "unittest.test.test_suite",
        "unittest.test.test_functiontestcase",
        "unittest.test.test_setups",
        "test.test_charmapcodec",
        "test.test_codecs",
        "test.test_codeccallbacks",
    ]);
    let got = run(&mut command);
    assert_eq!(got.code, Some(0), "{got:?}");
    let failed: Vec<&str> = got
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("failed "))
        .filter(|id| !NEWER_PYTHON.contains(id))
        .collect();
    assert!(failed.is_empty(), "{failed:?}\n{got:?}");
    let ran: usize = got
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("ran "))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no count in {got:?}"));
    assert!(ran > 400, "{got:?}");
}
