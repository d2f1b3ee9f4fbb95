//! `rewind run` started the ways `python3` is: `-m`, `-`, stdin, `-c`,
//! python3's own options, the interactive prompt, packages on `sys.path`,
//! and the exit status of `os._exit` and `sys.exit` (recorded when not 0).

use std::path::Path;
use std::process::Command;

use crate::run as finish;
use crate::{Scripts, Tmux, rewind, run_with_stdin};

fn rewind_in(dir: &Path) -> Command {
    let mut command = rewind();
    command.current_dir(dir).arg("run");
    command
}

#[test]
fn dash_m_runs_a_module_or_a_package_from_the_working_directory() {
    let scripts = Scripts::new();
    scripts.write(
        "greet.py",
        "import os, sys\nprint(__name__, sys.argv, sys.path[0] == os.getcwd())\n",
    );
    scripts.write("tool/__init__.py", "");
    scripts.write(
        "tool/__main__.py",
        "import sys\nprint('tool', sys.argv[1:])\n",
    );
    let root = scripts.root().canonicalize().unwrap();

    let run = finish(rewind_in(&root).args(["-m", "greet", "a", "-b"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    let greet = root.join("greet.py");
    assert_eq!(
        run.stdout,
        format!("__main__ ['{}', 'a', '-b'] True\n", greet.display())
    );

    let run = finish(rewind_in(&root).args(["-m", "tool", "x"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "tool ['x']\n");

    let run = finish(rewind_in(&root).args(["-m", "no_such_module"]));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("No module named no_such_module"),
        "{run:?}"
    );
}

#[test]
fn the_program_can_come_from_stdin() {
    let scripts = Scripts::new();
    scripts.write("helper.py", "VALUE = 42\n");
    let program = b"import sys, helper\nprint(sys.argv, repr(sys.path[0]), helper.VALUE)\n";

    // No script, stdin not a terminal: python3 reads the program from it.
    let run = run_with_stdin(&mut rewind_in(scripts.root()), program);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "[''] '' 42\n");

    let run = run_with_stdin(rewind_in(scripts.root()).args(["-", "x", "y"]), program);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "['-', 'x', 'y'] '' 42\n");

    // Its traceback is python3's: `<stdin>` frames, no frame of the launch.
    let run = run_with_stdin(
        &mut rewind_in(scripts.root()),
        b"def f():\n    raise ValueError(3)\nf()\n",
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stderr,
        "Traceback (most recent call last):\n  File \"<stdin>\", line 3, in <module>\n  \
         File \"<stdin>\", line 2, in f\nValueError: 3\n"
    );

    // A coding declaration is honoured.
    let run = run_with_stdin(
        &mut rewind_in(scripts.root()),
        b"# -*- coding: latin-1 -*-\nprint(len('\xe9t\xe9'))\n",
    );
    assert_eq!(run.stdout, "3\n", "{run:?}");
}

#[test]
fn dash_c_sees_the_working_directory_as_path0() {
    let scripts = Scripts::new();
    scripts.write("helper.py", "VALUE = 7\n");
    let run = finish(rewind_in(scripts.root()).args([
        "-c",
        "import sys, helper; print(repr(sys.path[0]), helper.VALUE)",
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "'' 7\n");
}

#[test]
fn python3_options_are_accepted() {
    let scripts = Scripts::new();
    let probe = "import sys; print(sys._xoptions, sys.warnoptions, repr(sys.path[0]))";
    let run = finish(rewind_in(scripts.root()).args([
        "-B", "-s", "-X", "dev", "-X", "utf8=1", "-W", "error", "-c", probe,
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "{'dev': True, 'utf8': '1'} ['error'] ''\n");

    // -W error makes a warning an exception, as in python3.
    let run = finish(rewind_in(scripts.root()).args([
        "-W",
        "error",
        "-c",
        "import warnings; warnings.warn('careful')",
    ]));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("UserWarning: careful"), "{run:?}");

    // -I (and -P): the working directory is not on sys.path.
    let run = finish(rewind_in(scripts.root()).args(["-I", "-c", probe]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stdout.ends_with("''\n"), "{run:?}");

    // -u: what was printed is out even when the process ends at once.
    let exits = "print('before'); import os; os._exit(0)";
    let run = finish(rewind_in(scripts.root()).args(["-u", "-c", exits]));
    assert_eq!(run.stdout, "before\n", "{run:?}");
    let run = finish(rewind_in(scripts.root()).args(["-c", exits]));
    assert_eq!(run.stdout, "", "buffered, as python3's: {run:?}");

    // An option python3 does not have is refused before anything runs.
    let run = finish(rewind_in(scripts.root()).args(["-Z", "-c", "pass"]));
    assert_eq!(run.code, Some(2), "{run:?}");
}

#[test]
fn double_dash_makes_any_name_the_script() {
    let scripts = Scripts::new();
    scripts.write("-odd.py", "import sys\nprint('odd', sys.argv[1:])\n");
    let run = finish(rewind_in(scripts.root()).args(["--", "-odd.py", "--x"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "odd ['--x']\n");
}

#[test]
fn os_exit_ends_with_its_status() {
    let run = finish(rewind().args([
        "run",
        "-c",
        "import os\ntry:\n    os._exit(5)\nfinally:\n    print('not run')",
    ]));
    assert_eq!(run.code, Some(5), "{run:?}");
    assert_eq!(run.stdout, "");
}

#[test]
fn a_non_zero_exit_is_recorded_and_re_executes() {
    let scripts = Scripts::new();
    let out = scripts.path("recordings");
    let script = scripts.write(
        "job.py",
        "import random, sys\nvalue = random.random()\nprint(value)\nsys.exit(7)\n",
    );
    let recorded = finish(rewind().arg("run").arg("--out").arg(&out).arg(&script));
    assert_eq!(recorded.code, Some(7), "{recorded:?}");
    assert_eq!(recorded.recorded.len(), 1, "{recorded:?}");
    let path = &recorded.recorded[0];
    assert!(path.to_string_lossy().contains("exit-7"), "{path:?}");

    let replayed = finish(rewind().args(["replay", "--exec"]).arg(path));
    assert_eq!(replayed.code, Some(7), "{replayed:?}");
    assert_eq!(replayed.stdout, recorded.stdout);

    // os._exit too; a zero status writes nothing.
    let exits = scripts.write("exits.py", "import os\nos._exit(3)\n");
    let run3 = finish(rewind().arg("run").arg("--out").arg(&out).arg(&exits));
    assert_eq!(run3.code, Some(3), "{run3:?}");
    assert_eq!(run3.recorded.len(), 1, "{run3:?}");
    let fine = scripts.write("fine.py", "import sys\nsys.exit(0)\n");
    let run0 = finish(rewind().arg("run").arg("--out").arg(&out).arg(&fine));
    assert_eq!(run0.code, Some(0), "{run0:?}");
    assert!(run0.recorded.is_empty(), "{run0:?}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}

#[test]
fn packages_come_from_path_pythonpath_and_a_virtualenv() {
    let scripts = Scripts::new();
    scripts.write("target/tiny/__init__.py", "NAME = 'from --path'\n");
    scripts.write("other/shared.py", "NAME = 'from PYTHONPATH'\n");
    let target = scripts.path("target");
    let other = scripts.path("other");
    let run1 = finish(
        rewind()
            .arg("run")
            .arg("--path")
            .arg(&target)
            .args(["-c", "import tiny; print(tiny.NAME)"]),
    );
    assert_eq!(run1.stdout, "from --path\n", "{run1:?}");

    let pythonpath = format!("PYTHONPATH={}", other.display());
    let program = "import shared; print(shared.NAME)";
    let run2 = finish(rewind().arg("run").arg("--dir").arg(&other).args([
        "--env",
        &pythonpath,
        "-c",
        program,
    ]));
    assert_eq!(run2.stdout, "from PYTHONPATH\n", "{run2:?}");
    // -E ignores it, as python3's does.
    let run3 = finish(rewind().arg("run").arg("--dir").arg(&other).args([
        "-E",
        "--env",
        &pythonpath,
        "-c",
        program,
    ]));
    assert_eq!(run3.code, Some(1), "{run3:?}");

    // A virtualenv made by python3, with a package installed by pip from
    // a wheel this test builds.
    let venv = scripts.path("venv");
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv");
    assert!(made.success());
    let wheel = scripts.path("greeting-1.0-py3-none-any.whl");
    let build = Command::new("python3")
        .arg("-c")
        .arg(WHEEL)
        .arg(&wheel)
        .status()
        .expect("building the wheel");
    assert!(build.success());
    let installed = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--target",
        ])
        .arg(scripts.path("site"))
        .arg(&wheel)
        .status()
        .expect("pip install");
    assert!(installed.success());
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    for entry in std::fs::read_dir(scripts.path("site")).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), site.join(entry.file_name())).unwrap();
    }
    let run4 = finish(rewind().env("VIRTUAL_ENV", &venv).args([
        "run",
        "-c",
        "import greeting; print(greeting.hello())",
    ]));
    assert_eq!(run4.code, Some(0), "{run4:?}");
    assert_eq!(run4.stdout, "hello from a wheel\n");

    // A compiled extension module: one clear ImportError naming it.
    scripts.write("native/fast/__init__.py", "from ._speedups import go\n");
    scripts.write(
        "native/fast/_speedups.cpython-311-x86_64-linux-gnu.so",
        "\x7fELF",
    );
    let run5 = finish(
        rewind()
            .arg("run")
            .arg("--path")
            .arg(scripts.path("native"))
            .args(["-c", "import fast"]),
    );
    assert_eq!(run5.code, Some(1), "{run5:?}");
    assert!(
        run5.stderr
            .contains("ImportError: cannot import fast._speedups: ")
            && run5
                .stderr
                .contains("is a compiled extension module, which cannot load in the sandbox"),
        "{run5:?}"
    );

    let missing = finish(rewind().args(["run", "--path", "/no/such/dir", "-c", "pass"]));
    assert_eq!(missing.code, Some(2), "{missing:?}");
    assert_eq!(
        missing.stderr,
        "rewind: --path /no/such/dir: not a directory\n"
    );
}

/// Writes a minimal wheel of a pure-Python package `greeting` to argv[1].
const WHEEL: &str = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as wheel:
    wheel.writestr("greeting/__init__.py", "def hello():\n    return 'hello from a wheel'\n")
    info = "greeting-1.0.dist-info/"
    wheel.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: greeting\nVersion: 1.0\n")
    wheel.writestr(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    wheel.writestr(info + "RECORD", "")
"#;

#[test]
fn no_script_on_a_terminal_opens_the_prompt() {
    let scripts = Scripts::new();
    scripts.write("helper.py", "VALUE = 6\n");
    let shell = format!(
        "cd '{}' && REWIND_CACHE_DIR='{}' '{}' run; echo exited $?; sleep 30",
        scripts.root().display(),
        crate::shared_cache_dir().display(),
        env!("CARGO_BIN_EXE_rewind"),
    );
    let tmux = Tmux::start("rewind-prompt", &shell, 120, 30);
    let screen = tmux.wait_for(">>>");
    assert!(screen.contains("Type \"help\""), "{screen}");
    tmux.keys(&["import helper; print(helper.VALUE * 7)", "Enter"]);
    tmux.wait_for("42");
    tmux.keys(&["1/0", "Enter"]);
    tmux.wait_for("ZeroDivisionError");
    tmux.keys(&["C-d"]);
    tmux.wait_for("exited 0");
}

/// `rewind run SCRIPT` started with piped streams, its stdout read line by
/// line, interrupted (SIGINT, as Ctrl-C sends) once `ready` is printed.
fn interrupted_run(
    scripts: &Scripts,
    script: &Path,
    sigints: usize,
) -> (crate::Run, std::process::ChildStdin) {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::Stdio;
    let mut child = rewind()
        .arg("run")
        .arg("--out")
        .arg(scripts.path("recordings"))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rewind");
    let stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "ready\n");
    // The guest is past `ready`, into what the test interrupts.
    std::thread::sleep(std::time::Duration::from_millis(300));
    for _ in 0..sigints {
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut output = child.wait_with_output().unwrap();
    output.stdout = rest.into_bytes();
    (output.into(), stdin)
}

#[test]
fn ctrl_c_raises_keyboard_interrupt_where_the_program_is() {
    if crate::rustpython_only(
        "KeyboardInterrupt at a safe point: the CPython guest is stopped at once by Ctrl-C",
    ) {
        return;
    }
    let scripts = Scripts::new();
    for (name, body) in [
        ("busy", "n = 0\n    while True:\n        n += 1"),
        ("sleeping", "import time\n    time.sleep(120)"),
        ("reading", "input()"),
    ] {
        let script = scripts.write(
            &format!("{name}.py"),
            &format!(
                "print('ready', flush=True)\ntry:\n    {body}\nexcept KeyboardInterrupt:\n    print('caught', flush=True)\n    raise\n"
            ),
        );
        let (run, _stdin) = interrupted_run(&scripts, &script, 1);
        assert_eq!(run.code, Some(130), "{name}: {run:?}");
        assert_eq!(run.stdout, "caught\n", "{name}: {run:?}");
        assert!(
            run.stderr.starts_with("Traceback (most recent call last):")
                && run.stderr.ends_with("KeyboardInterrupt\n"),
            "{name}: {run:?}"
        );
        // Recorded like any unhandled exception, and re-executed to it.
        assert_eq!(run.recorded.len(), 1, "{name}: {run:?}");
        let replayed = crate::run(rewind().args(["replay", "--exec"]).arg(&run.recorded[0]));
        assert_eq!(replayed.code, Some(130), "{name}: {replayed:?}");
        assert_eq!(replayed.stdout, "ready\ncaught\n", "{name}: {replayed:?}");
    }
}

#[test]
fn a_second_ctrl_c_stops_the_run_and_keeps_the_recording() {
    if crate::rustpython_only(
        "KeyboardInterrupt at a safe point: the CPython guest is stopped at once by Ctrl-C",
    ) {
        return;
    }
    let scripts = Scripts::new();
    let script = scripts.write(
        "stubborn.py",
        "print('ready', flush=True)\nwhile True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        print('ignored', flush=True)\n",
    );
    let (run, _stdin) = interrupted_run(&scripts, &script, 2);
    assert_eq!(run.code, Some(130), "{run:?}");
    assert_eq!(run.stdout, "ignored\n", "{run:?}");
    assert!(
        run.stderr.contains("rewind: interrupted (Ctrl-C, twice)"),
        "{run:?}"
    );
    assert_eq!(run.recorded.len(), 1, "{run:?}");
    let replayed = crate::run(rewind().args(["replay", "--exec"]).arg(&run.recorded[0]));
    assert_eq!(replayed.stdout, "ready\nignored\n", "{replayed:?}");
}
