//! Every limit trips cleanly: one line naming it, a distinct exit status.

use crate::rewind;

#[test]
fn memory_limit() {
    let run = crate::rewind_run([
        "--max-memory",
        "64MiB",
        "-c",
        "x = bytearray(200 * 1024 * 1024)\nprint('allocated')",
    ]);
    assert_eq!(run.code, Some(125), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "rewind: memory limit of 64 MiB exceeded\n");
    // The flight recorder kept the run, stopped VM and all.
    assert_eq!(run.recorded.len(), 1, "{run:?}");
    assert!(run.recorded[0].is_file());
}

#[test]
fn memory_within_the_limit_is_fine() {
    let run = crate::rewind_run([
        "--max-memory",
        "256MiB",
        "-c",
        "x = bytearray(100 * 1024 * 1024)\nprint(len(x))",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "104857600\n");
}

#[test]
fn time_limit_on_a_busy_loop() {
    let run = crate::rewind_run([
        "--timeout",
        "1s",
        "-c",
        "print('started', flush=True)\nwhile True:\n    pass",
    ]);
    assert_eq!(run.code, Some(124), "{run:?}");
    assert_eq!(run.stdout, "started\n");
    assert_eq!(run.stderr, "rewind: time limit of 1s exceeded\n");
}

/// A limit is said in the unit it was given in, never rounded to zero.
#[test]
fn a_time_limit_reads_as_it_was_given() {
    for (timeout, said) in [("1ns", "1ns"), ("1500ms", "1.5s")] {
        let run = crate::rewind_run(["--timeout", timeout, "-c", "while True:\n    pass"]);
        assert_eq!(run.code, Some(124), "{run:?}");
        assert_eq!(
            run.stderr,
            format!("rewind: time limit of {said} exceeded\n")
        );
    }
}

#[test]
fn time_limit_while_blocked_reading_stdin() {
    // The guest sits in a host call, where the epoch cannot interrupt it.
    let mut child = rewind()
        .args([
            "run",
            "--timeout",
            "500ms",
            "-c",
            "import sys; sys.stdin.read()",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take(); // kept open: the guest never sees EOF
    let run = crate::Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, Some(124), "{run:?}");
    assert_eq!(run.stderr, "rewind: time limit of 500ms exceeded\n");
    // The recorder is not stuck behind the blocked guest.
    assert_eq!(run.recorded.len(), 1, "{run:?}");
}

#[test]
fn recursion_past_the_stack_raises_recursion_error() {
    if crate::rustpython_only(
        "RustPython's stack guard; CPython frees a caught traceback a million frames deep recursively, past the wasm stack",
    ) {
        return;
    }
    // With the recursion limit lifted, the VM's own stack guard stops the
    // recursion before the wasm stack overflows: Python sees RecursionError,
    // as in CPython 3.12+, and the program can carry on.
    let code = "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\ntry:\n    f(0)\nexcept RecursionError:\n    print('caught')\nprint('still running')";
    let run = crate::rewind_run(["-c", code]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "caught\nstill running\n");
}

#[test]
fn no_time_limit() {
    // Regression: a deadline of "never" once overflowed into "now".
    let run = crate::rewind_run([
        "--timeout",
        "none",
        "-c",
        "import time\ntime.sleep(0.2)\nprint('done')",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "done\n");
}
