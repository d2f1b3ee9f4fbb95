//! `decimal` in the Python guest (its native `_decimal`): the same results
//! as CPython's C `decimal` on representative programs, and the General
//! Decimal Arithmetic test files CPython ships (`test/decimaltestdata`),
//! read from the `python3` on the PATH and granted read-only to the guest.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::rewind_run;

/// The decTest files run by `python_decimal/dectest.py`, a runner of ours.
const RUNNER: &str = "tests/all/python_decimal/dectest.py";

/// Tests of the decTest files the guest must pass, at least: what it passed
/// when this was written. CPython 3.11's C `decimal` passes 93582 of the
/// 97465 (30 fail, 3853 are skipped), `_pydecimal` 93588, the RustPython
/// guest 93588. The CPython guest's C `decimal` is a 32-bit build, whose
/// limits (MAX_PREC, MAX_EMAX) skip 7625 more: it passes 85943 (44 fail).
fn dectest_passed() -> u64 {
    match crate::guest() {
        crate::Guest::RustPython => 93588,
        crate::Guest::CPython => 85943,
    }
}

fn source(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// What `python3` (CPython, with its C `_decimal`) prints for `script`.
fn cpython(script: &Path, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("running python3 (CPython is needed for the reference output)");
    assert!(output.status.success(), "python3 {script:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// CPython's `test/decimaltestdata`.
fn dectest_dir() -> PathBuf {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, test; print(os.path.dirname(test.__file__))",
        ])
        .output()
        .expect("running python3 to find its test package");
    assert!(
        output.status.success(),
        "python3 has no test package: {output:?}"
    );
    let dir =
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim()).join("decimaltestdata");
    assert!(dir.is_dir(), "no decTest files in {}", dir.display());
    dir
}

#[test]
fn decimal_programs_print_what_cpython_prints() {
    let script = source("tests/all/python_decimal/programs.py");
    let run = rewind_run([script.as_os_str()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let expected = cpython(&script, &[]);
    for (line, (got, want)) in run.stdout.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {} of the output differs", line + 1);
    }
    assert_eq!(run.stdout.lines().count(), expected.lines().count());
}

#[test]
fn decimal_workloads_print_what_cpython_prints() {
    for workload in ["decimal_money.py", "decimal_pi.py", "decimal_text.py"] {
        let script = source(&format!("host/bench/python/{workload}"));
        let run = rewind_run([script.as_os_str()]);
        assert_eq!(run.code, Some(0), "{workload}: {}", run.stderr);
        assert_eq!(run.stdout, cpython(&script, &[]), "{workload}");
    }
}

/// The totals line of the runner: passed, failed, skipped.
fn totals(output: &str) -> (u64, u64, u64) {
    let line = output
        .lines()
        .find_map(|line| line.strip_prefix("TOTAL "))
        .unwrap_or_else(|| panic!("no TOTAL line in {output}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

#[test]
fn dectest_files_pass_as_under_cpython() {
    let dir = dectest_dir();
    let runner = source(RUNNER);
    let grant = dir.display().to_string();
    let run = rewind_run([
        "--dir".as_ref(),
        grant.as_ref(),
        runner.as_os_str(),
        dir.as_os_str(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let (passed, failed, skipped) = totals(&run.stdout);
    let (c_passed, c_failed, c_skipped) = totals(&cpython(&runner, &[&grant]));
    assert_eq!(
        passed + failed + skipped,
        c_passed + c_failed + c_skipped,
        "the runner read different tests under the guest"
    );
    assert!(
        passed >= dectest_passed(),
        "the guest passes {passed} decTest tests ({failed} fail), fewer than {}; \
         CPython passes {c_passed}:\n{}",
        dectest_passed(),
        run.stdout
    );
}
