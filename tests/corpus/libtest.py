"""Runs one of CPython's `Lib/test` modules and prints unittest's verdict.

Usage: libtest.py LIB MODULE, where LIB is the directory holding CPython's
`test` package and MODULE a name inside it (`test_bisect`).
unittest's own report, with its timings, goes to stderr; stdout gets the
lines the corpus compares: how many tests ran and the verdict with its
failure and error counts.
Skips are reported on stderr only: a test marked CPython-only skips itself
on another implementation by design.
"""

import sys
import unittest

lib, name = sys.argv[1], sys.argv[2]
sys.path.insert(0, lib)
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
print(f"skipped={len(result.skipped)}", file=sys.stderr)
# The last line of stderr names the first problem: the corpus's one-line reason.
for test, text in (result.failures + result.errors)[:1]:
    print(f"first problem: {test.id()}: {text.strip().splitlines()[-1]}", file=sys.stderr)
sys.exit(0 if result.wasSuccessful() else 1)
