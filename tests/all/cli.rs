//! Bad input gets one clear line and a non-zero exit, like `python3`.

use crate::{Scripts, rewind, rewind_run};

/// Runs `rewind ARGS`, expecting exit status 2 and one line on stderr that
/// contains `message`.
fn check_usage_error(args: &[&str], message: &str) {
    let run = crate::run(rewind().args(args));
    assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
    assert_eq!(run.stdout, "", "{args:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
    assert!(
        run.stderr.starts_with("rewind: "),
        "{args:?}: {}",
        run.stderr
    );
    assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
}

/// Runs `rewind ARGS`, expecting exit status 2 and exactly `line` on
/// stderr.
fn check_usage_line(args: &[&str], line: &str) {
    let run = crate::run(rewind().args(args));
    assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
    assert_eq!(run.stdout, "", "{args:?}");
    assert_eq!(run.stderr, format!("rewind: {line}\n"), "{args:?}");
}

#[test]
fn bad_flags() {
    check_usage_error(&["frobnicate"], "frobnicate");
    check_usage_line(
        &["run", "--max-memory", "lots", "-c", "pass"],
        "--max-memory: \"lots\" is not a size; use a number with an optional unit, like 512MiB or 2GiB",
    );
    check_usage_line(
        &["run", "--max-memory", "", "-c", "pass"],
        "--max-memory: \"\" is not a size; use a number with an optional unit, like 512MiB or 2GiB",
    );
    check_usage_line(
        &["run", "--max-memory", "8GiB", "-c", "pass"],
        "--max-memory 8GiB: must be between 64MiB and 4GiB",
    );
    check_usage_error(&["run", "--timeout", "soon", "-c", "pass"], "--timeout");
    check_usage_error(
        &["run", "--dir", "/no/such/dir", "-c", "pass"],
        "/no/such/dir",
    );
    check_usage_error(&["run", "--env", "=x", "-c", "pass"], "--env");
    check_usage_error(
        &["run", "--env", "REWIND_SURELY_UNSET_VARIABLE", "-c", "pass"],
        "not set",
    );
    check_usage_error(&["run", "-c"], "-c");
    // What is missing is named, on the same line.
    check_usage_error(
        &["recordings"],
        "required arguments were not provided: --server <URL>",
    );
    check_usage_error(
        &["run", "--token", "secret-token", "-c", "pass"],
        "--server <URL>",
    );
}

/// Flags come before the script: an unknown one there is named, not taken
/// for the script; after the script everything is the script's.
#[test]
fn an_unknown_flag_is_named() {
    for args in [
        &["run", "--no-such-flag", "x.py"][..],
        &["run", "--no-such-flag", "-c", "pass"],
        &["run", "--no-such-flag=3", "x.py"],
    ] {
        check_usage_line(
            args,
            "unexpected argument '--no-such-flag' found (see `rewind run --help`)",
        );
    }
    check_usage_line(
        &["run", "-Z", "x.py"],
        "unexpected argument '-Z' found (see `rewind run --help`)",
    );
    let scripts = Scripts::new();
    let script = scripts.write("args.py", "import sys\nprint(sys.argv[1:])\n");
    let run = rewind_run([script.to_str().unwrap(), "--no-such-flag", "-q"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "['--no-such-flag', '-q']\n");
    let run = rewind_run(["-c", "import sys; print(sys.argv)", "--no-such-flag"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "['-c', '--no-such-flag']\n");
}

/// Below what the Python guest needs to start, `--max-memory` is refused
/// before the run, naming the least it takes; at that least, a script runs.
#[test]
fn too_little_memory_for_python_is_refused_up_front() {
    for size in ["16MiB", "1KiB", "63MiB"] {
        check_usage_line(
            &["run", "--max-memory", size, "-c", "print(1)"],
            &format!("--max-memory {size}: the Python guest needs at least 64MiB"),
        );
    }
    let run = rewind_run(["--max-memory", "64MiB", "-c", "print(1)"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "1\n");
}

#[test]
fn no_script_runs_the_empty_program_on_stdin() {
    let run = crate::run(crate::rewind().arg("run"));
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (Some(0), ""),
        "an empty program on stdin, as python3: {run:?}"
    );
}

#[test]
fn missing_script_is_reported_like_python() {
    let scripts = Scripts::new();
    let missing = scripts.path("missing.py");
    check_usage_error(
        &["run", missing.to_str().unwrap()],
        &format!(
            "can't open file \"{}\": [Errno 2] No such file or directory",
            missing.display()
        ),
    );
}

#[test]
fn unreadable_or_directory_script() {
    let scripts = Scripts::new();
    let dir = scripts.path("adir");
    std::fs::create_dir(&dir).unwrap();
    check_usage_error(&["run", dir.to_str().unwrap()], "[Errno 21] Is a directory");
}

/// A script that cannot be opened gets python3's line with the reason,
/// whatever the reason: these paths fail for root too (CI runs as root,
/// where permissions do not apply).
#[test]
fn unopenable_script() {
    let scripts = Scripts::new();
    let file = scripts.write("file.py", "print('hi')\n");
    let under_a_file = file.join("inner.py");
    check_usage_line(
        &["run", under_a_file.to_str().unwrap()],
        &format!(
            "can't open file \"{}\": [Errno 20] Not a directory",
            under_a_file.display()
        ),
    );
    let looped = scripts.path("loop.py");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    check_usage_line(
        &["run", looped.to_str().unwrap()],
        &format!(
            "can't open file \"{}\": [Errno 40] Too many levels of symbolic links",
            looped.display()
        ),
    );
}

#[test]
fn unreadable_script() {
    use std::os::unix::fs::PermissionsExt as _;
    let scripts = Scripts::new();
    let script = scripts.write("locked.py", "print('hi')\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&script).is_ok() {
        // Root reads it anyway (CI runs as root): the run goes ahead, as
        // python3's does; `unopenable_script` covers the message.
        let run = rewind_run([&script]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, "hi\n");
        return;
    }
    check_usage_line(
        &["run", script.to_str().unwrap()],
        &format!(
            "can't open file \"{}\": [Errno 13] Permission denied",
            script.display()
        ),
    );
}

#[test]
fn help_explains_run() {
    let run = crate::run(rewind().args(["run", "--help"]));
    assert_eq!(run.code, Some(0));
    for needle in [
        "--dir",
        "--dir-rw",
        "--env",
        "--max-memory",
        "--timeout",
        "-c <CODE>",
        "Exit status",
        "124",
    ] {
        assert!(
            run.stdout.contains(needle),
            "--help lacks {needle}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn version() {
    let run = rewind_run(["--version"]);
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.starts_with("rewind-run "), "{}", run.stdout);
}

#[test]
fn serve_checks_its_flags_as_run_does() {
    let scripts = Scripts::new();
    let app = scripts.write("app.py", "def app(environ, start_response):\n    pass\n");
    let app = format!("{}:app", app.display());
    let dir = scripts.root().to_str().unwrap();
    check_usage_error(
        &["serve", "--dir", &format!("{dir}::"), &app],
        "expected HOST_DIR[::GUEST_DIR]",
    );
    check_usage_error(&["serve", "--dir", "/no/such/dir", &app], "/no/such/dir");
    check_usage_line(
        &["serve", "--max-memory", "16MiB", &app],
        "--max-memory 16MiB: the Python guest needs at least 64MiB",
    );
    check_usage_error(
        &["serve", "--request-timeout", "0s", &app],
        "--request-timeout",
    );
}
