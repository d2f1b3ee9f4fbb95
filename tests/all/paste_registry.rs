//! `revdebug.registry` against Python Paste's own registry: the same checks
//! (`paste_registry/checks.py`) under CPython with PyPI's Paste and under
//! `rewind run`, with the same results line for line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Scripts, rewind_run};

/// The Paste the checks run against, from PyPI.
const PASTE: &str = "Paste==3.10.1";

/// Checks in `checks.py`: a run that prints fewer stopped early.
const CHECKS: usize = 43;

/// A Python with Paste installed: a virtual environment in `target/paste`,
/// made (`python3 -m venv`, then pip) when it is missing or has no Paste.
fn paste_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/paste");
    let python = venv.join("bin/python");
    let has_paste = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                "import paste.registry, paste.evalexception.middleware",
            ])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if has_paste(&python) {
        return python;
    }
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .output()
        .expect("running python3 -m venv (CPython is needed for Paste)");
    assert!(made.status.success(), "python3 -m venv: {made:?}");
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", PASTE])
        .output()
        .expect("running pip");
    assert!(
        installed.status.success(),
        "pip install {PASTE} (PyPI must be reachable): {installed:?}"
    );
    assert!(has_paste(&python), "{PASTE} installed but not importable");
    python
}

/// The check lines of a run, and its closing `N of M checks pass` line.
fn results(stdout: &str) -> (Vec<&str>, &str) {
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    (lines, summary)
}

#[test]
fn revdebug_registry_answers_as_pastes_does() {
    let checks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/paste_registry/checks.py");
    let paste = Command::new(paste_python())
        .arg(&checks)
        .output()
        .expect("running the checks under Paste");
    let paste_out = String::from_utf8_lossy(&paste.stdout).into_owned();
    assert!(paste.status.success(), "under Paste: {paste:?}");
    let (paste_lines, paste_summary) = results(&paste_out);
    // The checks say what Paste does: all of them pass under Paste.
    assert_eq!(
        paste_summary,
        format!("{CHECKS} of {CHECKS} checks pass"),
        "under Paste:\n{paste_out}"
    );

    // The debugging layer writes a crash recording for each failed request.
    let scripts = Scripts::new();
    let ours = rewind_run([
        "--out".as_ref(),
        scripts.path("recordings").as_os_str(),
        checks.as_os_str(),
    ]);
    assert_eq!(ours.code, Some(0), "under rewind run: {ours:?}");
    let (our_lines, our_summary) = results(&ours.stdout);
    assert_eq!(our_lines.len(), CHECKS, "{}", ours.stdout);
    let differences: Vec<String> = paste_lines
        .iter()
        .zip(&our_lines)
        .filter(|(paste, ours)| paste != ours)
        .map(|(paste, ours)| format!("  Paste:           {paste}\n  revdebug.registry: {ours}"))
        .collect();
    assert!(
        differences.is_empty(),
        "{} of {CHECKS} checks differ ({our_summary} under revdebug.registry):\n{}",
        differences.len(),
        differences.join("\n")
    );
    assert_eq!(our_summary, paste_summary);
}
