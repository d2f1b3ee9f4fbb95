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

#[test]
fn bad_flags() {
    check_usage_error(&["run", "--no-such-flag", "x.py"], "--no-such-flag");
    check_usage_error(&["frobnicate"], "frobnicate");
    check_usage_error(
        &["run", "--max-memory", "lots", "-c", "pass"],
        "--max-memory",
    );
    check_usage_error(
        &["run", "--max-memory", "1KiB", "-c", "pass"],
        "between 16MiB and 4GiB",
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

#[test]
fn nothing_to_run() {
    check_usage_error(&["run"], "nothing to run");
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

#[test]
fn unreadable_script() {
    use std::os::unix::fs::PermissionsExt as _;
    let scripts = Scripts::new();
    let script = scripts.write("locked.py", "print('hi')\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&script).is_ok() {
        return; // running as root: permissions do not apply
    }
    check_usage_error(
        &["run", script.to_str().unwrap()],
        "[Errno 13] Permission denied",
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
    check_usage_error(
        &["serve", "--max-memory", "1KiB", &app],
        "between 16MiB and 4GiB",
    );
    check_usage_error(
        &["serve", "--request-timeout", "0s", &app],
        "--request-timeout",
    );
}
