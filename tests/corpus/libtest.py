"""Runs one of CPython's `Lib/test` modules and prints unittest's verdict.

Usage: libtest.py LIB MODULE, where LIB is the directory holding CPython's
`test` package and MODULE a name inside it (`test_bisect`).
unittest's own report, with its timings, goes to stderr; stdout gets the
lines the corpus compares: how many tests ran, the verdict with its
failure and error counts, and the id of each test that failed.
Skips are reported on stderr only: a test marked CPython-only skips itself
on another implementation by design.
"""

import sys
import unittest

lib, name = sys.argv[1], sys.argv[2]
# Last on the path: the `test` package comes from LIB, every module the
# interpreter's own library has comes from that library (LIB is another
# CPython's standard library when this runs in the sandbox).
sys.path.append(lib)
# test.support is verbose unless regrtest says otherwise; the corpus wants
# only the verdict on stdout.
import test.support  # noqa: E402

test.support.verbose = False
suite = unittest.defaultTestLoader.loadTestsFromName("test." + name)
result = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(suite)
print(f"Ran {result.testsRun} tests")
problems = [
    f"{label}={len(found)}"
    for label, found in (
        ("failures", result.failures),
        ("errors", result.errors),
        ("unexpected successes", result.unexpectedSuccesses),
    )
    if found
]
print("FAILED (" + ", ".join(problems) + ")" if problems else "OK")
# Which tests, so that two runs agree only when the same ones fail.
for label, found in (
    ("FAIL", result.failures),
    ("ERROR", result.errors),
    ("UNEXPECTED SUCCESS", [(test, "") for test in result.unexpectedSuccesses]),
):
    for test_id in sorted(test.id() for test, _ in found):
        print(f"{label}: {test_id}")
print(f"skipped={len(result.skipped)}", file=sys.stderr)
# The last line of stderr names the first problem: the corpus's one-line reason.
for test, text in (result.failures + result.errors)[:1]:
    print(f"first problem: {test.id()}: {text.strip().splitlines()[-1]}", file=sys.stderr)
sys.exit(0 if result.wasSuccessful() else 1)
