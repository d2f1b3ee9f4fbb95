//! `rewind run` behaves like `python3` for the script it runs.

use crate::{Scripts, rewind, rewind_run, run_with_stdin};

#[test]
fn argv_is_the_script_then_its_arguments() {
    let scripts = Scripts::new();
    let script = scripts.write("argv.py", "import sys\nprint(sys.argv)\n");
    let run = rewind_run([
        script.as_os_str(),
        "one".as_ref(),
        "--two".as_ref(),
        "-c".as_ref(),
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "[{:?}, 'one', '--two', '-c']\n",
            script.display().to_string()
        )
        .replace('"', "'")
    );
}

#[test]
fn dunder_file_is_absolute_and_script_dir_is_path0() {
    let scripts = Scripts::new();
    scripts.write(
        "pkg/where.py",
        "import sys\nprint(__file__)\nprint(sys.path[0])\nprint(__name__)\n",
    );
    let run = crate::run(
        rewind()
            .current_dir(scripts.root())
            .args(["run", "pkg/where.py"]),
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let root = scripts.root().display();
    assert_eq!(
        run.stdout,
        format!("{root}/pkg/where.py\n{root}/pkg\n__main__\n")
    );
}

#[test]
fn stdin_and_stdout_are_the_process_streams() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "echo.py",
        "import sys\nfor line in sys.stdin:\n    print(line.strip().upper())\nsys.stdout.write('no newline at the end')\n",
    );
    let run = run_with_stdin(rewind().arg("run").arg(&script), b"alpha\nbeta\n");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "ALPHA\nBETA\nno newline at the end");
}

#[test]
fn stderr_is_the_process_stderr() {
    let run = rewind_run([
        "-c",
        "import sys; print('to stderr', file=sys.stderr); print('to stdout')",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "to stdout\n");
    assert_eq!(run.stderr, "to stderr\n");
}

#[test]
fn exit_statuses_follow_sys_exit() {
    let check = |code: &str, status: i32, stderr: &str| {
        let run = rewind_run(["-c", code]);
        assert_eq!(run.code, Some(status), "{code}: {run:?}");
        assert_eq!(run.stderr, stderr, "{code}");
    };
    check("pass", 0, "");
    check("import sys; sys.exit()", 0, "");
    check("import sys; sys.exit(0)", 0, "");
    check("import sys; sys.exit(3)", 3, "");
    check("import sys; sys.exit(255)", 255, "");
    check(
        "import sys; sys.exit('fatal: no config')",
        1,
        "fatal: no config\n",
    );
    check("raise SystemExit(7)", 7, "");
    check("exit(4)", 4, "");
}

#[test]
fn unhandled_exception_prints_a_traceback_and_exits_1() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "crash.py",
        "def divide(a, b):\n    return a / b\n\ndef main():\n    divide(1, 0)\n\nmain()\n",
    );
    let run = rewind_run([&script]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    let path = script.display();
    let expected_lines = [
        "Traceback (most recent call last):".to_owned(),
        format!("  File \"{path}\", line 7, in <module>"),
        "    main()".to_owned(),
        format!("  File \"{path}\", line 5, in main"),
        "    divide(1, 0)".to_owned(),
        format!("  File \"{path}\", line 2, in divide"),
        "    return a / b".to_owned(),
        "ZeroDivisionError: division by zero".to_owned(),
    ];
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| !line.trim().chars().all(|c| "~^ ".contains(c)))
        .collect();
    assert_eq!(lines, expected_lines, "{}", run.stderr);
}

/// An uncaught recursion as deep as the wasm stack allows (about 100,000
/// Python frames under `sys.setrecursionlimit(10**6)`) prints its traceback
/// folded, as CPython does, and without formatting the frames it folds:
/// formatting them all took longer than the 20 s allowed here.
#[test]
fn a_deep_recursion_prints_a_folded_traceback() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "deep.py",
        "import sys\nsys.setrecursionlimit(10**6)\n\ndef down(n):\n    return down(n + 1)\n\ndown(0)\n",
    );
    let run = rewind_run([
        "--mode".as_ref(),
        "off".as_ref(),
        "--timeout".as_ref(),
        "20s".as_ref(),
        script.as_os_str(),
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let path = script.display();
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| !line.trim().chars().all(|c| "~^ ".contains(c)))
        .collect();
    assert_eq!(
        lines[..3],
        [
            "Traceback (most recent call last):",
            &format!("  File \"{path}\", line 7, in <module>"),
            "    down(0)"
        ],
        "{}",
        run.stderr
    );
    let frame = format!("  File \"{path}\", line 5, in down");
    assert_eq!(
        lines.iter().filter(|line| **line == frame).count(),
        3,
        "three frames shown before the fold: {}",
        run.stderr
    );
    let fold = lines[lines.len() - 2];
    let repeated: u64 = fold
        .strip_prefix("  [Previous line repeated ")
        .and_then(|rest| rest.strip_suffix(" more times]"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("a fold line, not {fold:?}"));
    assert!(repeated > 10_000, "{fold}");
    assert!(
        lines[lines.len() - 1].starts_with("RecursionError"),
        "{}",
        run.stderr
    );
}

#[test]
fn output_before_a_crash_is_flushed() {
    let run = rewind_run([
        "-c",
        "import sys\nprint('partial', end='')\nsys.stdout.write(' result')\nraise ValueError('late')",
    ]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "partial result");
    assert!(run.stderr.ends_with("ValueError: late\n"), "{}", run.stderr);
}

#[test]
fn modules_beside_the_script_import() {
    let scripts = Scripts::new();
    scripts.write("app/helper.py", "GREETING = 'hello from helper'\n");
    scripts.write("app/pkg/__init__.py", "from .inner import VALUE\n");
    scripts.write("app/pkg/inner.py", "VALUE = 42\n");
    let script = scripts.write(
        "app/main.py",
        "import helper, pkg\nprint(helper.GREETING, pkg.VALUE)\n",
    );
    let run = rewind_run([&script]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello from helper 42\n");
}

#[test]
fn dash_c_runs_code_with_its_argv() {
    let run = rewind_run(["-c", "import sys; print(sys.argv)", "x", "-y"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "['-c', 'x', '-y']\n");
}

#[test]
fn dash_c_traceback_shows_the_source_line() {
    let run = rewind_run(["-c", "x = 1\ny = x + undefined_name"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("  File \"<string>\", line 2, in <module>\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("    y = x + undefined_name\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("NameError: name 'undefined_name' is not defined\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn standard_library_modules_work() {
    let code = "\
import json, re, collections, math, datetime, random, itertools, functools, dataclasses, logging, threading
@dataclasses.dataclass
class P:
    x: int
print(json.dumps({'a': [1, 2]}), re.sub(r'\\d', '#', 'a1b2'), collections.Counter('aab').most_common(1))
print(math.sqrt(16), P(3), sum(itertools.islice(itertools.count(), 5)))
";
    let run = rewind_run(["-c", code]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "{\"a\": [1, 2]} a#b# [('a', 2)]\n4.0 P(x=3) 10\n"
    );
}

#[test]
fn large_reference_counts_do_not_abort_the_vm() {
    // RustPython 0.5's 15-bit reference count aborted here on wasm32.
    let run = rewind_run([
        "-c",
        "x = [None] * 40000\ny = [x] * 40000\nprint(len(x), len(y))",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "40000 40000\n");
}

#[test]
fn deep_recursion_raises_recursion_error() {
    let code = "\
def down(n):
    return down(n + 1)
try:
    down(0)
except RecursionError as e:
    print('RecursionError caught')
import sys
sys.setrecursionlimit(5000)
def count(n):
    return n if n == 0 else 1 + count(n - 1)
print(count(4000))
";
    let run = rewind_run(["-c", code]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "RecursionError caught\n4000\n");
}

#[test]
fn unhandled_recursion_error_is_a_python_traceback() {
    let run = rewind_run(["-c", "def f(): f()\nf()"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("RecursionError: maximum recursion depth exceeded"),
        "{}",
        run.stderr
    );
}

#[test]
fn syntax_errors_are_reported_like_python() {
    let scripts = Scripts::new();
    let script = scripts.write("bad.py", "print('ok')\ndef broken(:\n    pass\n");
    let run = rewind_run([&script]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "", "nothing runs before a syntax error");
    assert!(
        run.stderr
            .contains(&format!("File \"{}\", line 2", script.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("SyntaxError"), "{}", run.stderr);
}

/// A binary given as a script (here the start of an ELF executable) gets
/// CPython's one line, naming the file, and none of its bytes.
#[test]
fn a_binary_file_is_one_line_not_its_bytes() {
    let scripts = Scripts::new();
    let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    elf.extend((0..=255u8).cycle().take(4096));
    let binary = scripts.path("tool");
    std::fs::write(&binary, &elf).unwrap();
    let run = rewind_run([&binary]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "SyntaxError: source code cannot contain null bytes ({})\n",
            binary.display()
        )
    );
}

/// The guest starts in the host's working directory only where a grant
/// shows it, at the grant's guest path; elsewhere at `/`, and the host's
/// directory is not in the recording either.
#[test]
fn the_working_directory_is_the_guests_only_inside_a_grant() {
    let scripts = Scripts::new();
    let elsewhere = Scripts::new();
    std::fs::create_dir(elsewhere.path("sub")).unwrap();
    let script = scripts.write(
        "cwd.py",
        "import os, revdebug\nprint(os.getcwd())\nrevdebug.snapshot('here')\n",
    );
    let out = scripts.path("out");
    let cwd_of = |cwd: &std::path::Path, flags: &[String]| {
        let run = crate::run(
            rewind()
                .current_dir(cwd)
                .arg("run")
                .arg("--out")
                .arg(&out)
                .args(flags)
                .arg(&script),
        );
        assert_eq!(run.code, Some(0), "{run:?}");
        run.stdout
    };
    assert_eq!(cwd_of(elsewhere.root(), &[]), "/\n");
    let recording = crate::recording::recordings(&out).pop().unwrap();
    let dump = crate::run(rewind().arg("dump").arg(&recording));
    let host_dir = elsewhere.root().canonicalize().unwrap();
    assert!(
        !dump.stdout.contains(host_dir.to_str().unwrap()),
        "the host's directory reached the recording:\n{}",
        dump.stdout
    );
    let grant = format!("{}::/data", elsewhere.root().display());
    assert_eq!(
        cwd_of(&elsewhere.path("sub"), &["--dir".into(), grant]),
        "/data/sub\n"
    );
    // The script's own directory is a grant at its host path.
    assert_eq!(
        cwd_of(scripts.root(), &[]),
        format!("{}\n", scripts.root().display())
    );
}

/// An OS error reads as CPython's: the errno (on the RustPython guest
/// Linux's number, as python3 on Linux; on the CPython guest WASI's 44, as
/// CPython's WASI build), its text, the file.
#[test]
fn os_errors_read_like_python() {
    let enoent = crate::errno(2, 44);
    let run = rewind_run(["-c", "open('/missing.txt')"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.ends_with(&format!(
            "FileNotFoundError: [Errno {enoent}] No such file or directory: '/missing.txt'\n"
        )),
        "{}",
        run.stderr
    );
    let run = rewind_run([
        "-c",
        "import os\ntry:\n    os.listdir('/nowhere')\nexcept OSError as e:\n    print(e)",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        format!("[Errno {enoent}] No such file or directory: '/nowhere'\n")
    );
}

#[test]
fn environment_is_only_what_is_granted() {
    let run = crate::run(
        rewind()
            .env("REWIND_TEST_SECRET", "host-only")
            .env("REWIND_TEST_PASSED", "from-host")
            .args([
                "run",
                "--env",
                "GREETING=hi there",
                "--env",
                "REWIND_TEST_PASSED",
            ])
            .args(["-c", "import os; print(sorted(os.environ.items()))"]),
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "[('GREETING', 'hi there'), ('REWIND_TEST_PASSED', 'from-host')]\n"
    );
}

#[test]
fn relative_paths_resolve_from_the_working_directory_inside_grants() {
    let scripts = Scripts::new();
    scripts.write("data/input.txt", "payload\n");
    let script = scripts.write("read.py", "print(open('data/input.txt').read().strip())\n");
    let run = crate::run(rewind().current_dir(scripts.root()).arg("run").arg(&script));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "payload\n");
}

#[test]
fn the_readme_example_runs() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello.py");
    let run = rewind_run([example.as_os_str(), "Ada".as_ref(), "Grace".as_ref()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Hello, Ada, from Python in a WebAssembly sandbox!"
    );
    assert_eq!(
        lines[1],
        "Hello, Grace, from Python in a WebAssembly sandbox!"
    );
    assert!(
        lines[2].starts_with("greeting.py has 2 lines; it is "),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "/etc/passwd is out of reach: FileNotFoundError");

    let crash = rewind_run([example.as_os_str(), "--crash".as_ref()]);
    assert_eq!(crash.code, Some(1), "{crash:?}");
    assert!(
        crash
            .stderr
            .ends_with("ZeroDivisionError: division by zero\n"),
        "{}",
        crash.stderr
    );
}
