//! Nothing of the host is reachable unless granted, and grants hold.

use crate::{Scripts, rewind, rewind_run};

/// Runs `code` with the grants in `flags`, expecting it to print `expected`.
fn check(flags: &[&str], code: &str, expected: &str) {
    let run = crate::run(rewind().arg("run").args(flags).args(["-c", code]));
    assert_eq!(run.code, Some(0), "{code}\n{run:?}");
    assert_eq!(run.stdout, expected, "{code}\n{}", run.stderr);
}

/// Python that prints the exception class an expression raises, or `ok`.
fn attempt(expr: &str) -> String {
    format!(
        "try:\n    {expr}\n    print('ok')\nexcept Exception as e:\n    print(type(e).__name__)\n"
    )
}

#[test]
fn host_files_are_invisible_without_a_grant() {
    check(
        &[],
        &attempt("open('/etc/passwd').read()"),
        "FileNotFoundError\n",
    );
    check(
        &[],
        &attempt("import os; os.listdir('/')"),
        "FileNotFoundError\n",
    );
}

#[test]
fn the_script_directory_is_readable_but_nothing_around_it() {
    let scripts = Scripts::new();
    scripts.write("secret.txt", "top secret\n");
    scripts.write("app/data.txt", "visible\n");
    let script = scripts.write(
        "app/main.py",
        &format!(
            "import os\nhere = os.path.dirname(__file__)\nprint(open(os.path.join(here, 'data.txt')).read().strip())\n{}{}",
            attempt("open(os.path.join(here, '..', 'secret.txt')).read()"),
            attempt("open(os.path.join(here, 'new.txt'), 'w').write('x')"),
        ),
    );
    let run = rewind_run([&script]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines: Vec<_> = run.stdout.lines().collect();
    assert_eq!(lines[0], "visible");
    assert_eq!(
        lines[1], "PermissionError",
        "read a file outside the script's directory"
    );
    assert_eq!(
        lines[2], "PermissionError",
        "wrote into the read-only script directory"
    );
    assert!(!scripts.path("app/new.txt").exists());
}

#[test]
fn dot_dot_cannot_leave_a_grant() {
    let scripts = Scripts::new();
    scripts.write("outside.txt", "outside\n");
    scripts.write("granted/inside.txt", "inside\n");
    scripts.write("granted/sub/more.txt", "more\n");
    let granted = scripts.path("granted");
    let flags = ["--dir", &format!("{}::/data", granted.display())];
    check(
        &flags,
        "print(open('/data/inside.txt').read().strip())",
        "inside\n",
    );
    // wasmtime-wasi refuses a path that climbs out of its preopen.
    check(
        &flags,
        &attempt("open('/data/../outside.txt').read()"),
        "PermissionError\n",
    );
    check(
        &flags,
        &attempt("open('/data/sub/../../outside.txt').read()"),
        "PermissionError\n",
    );
}

#[test]
fn a_symlink_pointing_outside_a_grant_is_not_followed() {
    let scripts = Scripts::new();
    scripts.write("outside/secret.txt", "secret\n");
    scripts.write("granted/ok.txt", "ok\n");
    std::os::unix::fs::symlink(
        scripts.path("outside/secret.txt"),
        scripts.path("granted/link.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(scripts.path("outside"), scripts.path("granted/linkdir")).unwrap();
    std::os::unix::fs::symlink(
        "../outside/secret.txt",
        scripts.path("granted/relative.txt"),
    )
    .unwrap();
    let flags = [
        "--dir",
        &format!("{}::/data", scripts.path("granted").display()),
    ];
    check(&flags, "print(open('/data/ok.txt').read().strip())", "ok\n");
    for path in [
        "/data/link.txt",
        "/data/linkdir/secret.txt",
        "/data/relative.txt",
    ] {
        let run = crate::run(
            rewind()
                .arg("run")
                .args(flags)
                .args(["-c", &attempt(&format!("open('{path}').read()"))]),
        );
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(
            run.stdout, "PermissionError\n",
            "followed {path} out of the grant"
        );
    }
}

#[test]
fn a_read_only_grant_cannot_be_written() {
    let scripts = Scripts::new();
    scripts.write("ro/existing.txt", "original\n");
    let flags = ["--dir", &format!("{}::/ro", scripts.path("ro").display())];
    check(
        &flags,
        &attempt("open('/ro/new.txt', 'w').write('x')"),
        "PermissionError\n",
    );
    check(
        &flags,
        &attempt("open('/ro/existing.txt', 'a').write('x')"),
        "PermissionError\n",
    );
    check(
        &flags,
        &attempt("import os; os.remove('/ro/existing.txt')"),
        "PermissionError\n",
    );
    check(
        &flags,
        &attempt("import os; os.mkdir('/ro/sub')"),
        "PermissionError\n",
    );
    assert_eq!(
        std::fs::read_to_string(scripts.path("ro/existing.txt")).unwrap(),
        "original\n"
    );
    assert!(!scripts.path("ro/new.txt").exists());
}

#[test]
fn a_read_write_grant_can_be_written() {
    let scripts = Scripts::new();
    std::fs::create_dir(scripts.path("rw")).unwrap();
    let flags = [
        "--dir-rw",
        &format!("{}::/out", scripts.path("rw").display()),
    ];
    check(
        &flags,
        "import os\nopen('/out/result.txt', 'w').write('written')\nos.mkdir('/out/sub')\nprint(sorted(os.listdir('/out')))",
        "['result.txt', 'sub']\n",
    );
    assert_eq!(
        std::fs::read_to_string(scripts.path("rw/result.txt")).unwrap(),
        "written"
    );
}

#[test]
fn a_grant_defaults_to_its_host_path() {
    let scripts = Scripts::new();
    scripts.write("d/f.txt", "same path\n");
    let dir = scripts.path("d");
    let code = format!("print(open('{}/f.txt').read().strip())", dir.display());
    check(&["--dir", dir.to_str().unwrap()], &code, "same path\n");
}

/// A real listener on loopback: the guest's connection attempts fail with
/// `OSError` itself (not a timeout or a refusal, which would mean a socket
/// was tried), and nothing reaches the listener. CPython's WASI build says
/// it with the `OSError`s of its own socket module: name resolution fails
/// (`gaierror`) and a socket may not connect (`PermissionError`).
#[test]
fn there_is_no_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let [by_name, by_socket, resolve] = match crate::guest() {
        crate::Guest::RustPython => ["OSError\n"; 3],
        crate::Guest::CPython => ["gaierror\n", "PermissionError\n", "gaierror\n"],
    };
    let connect = |how: &str| {
        format!(
            "import socket\ntry:\n    {how}\n    print('connected')\nexcept Exception as e:\n    print(type(e).__name__)\n"
        )
    };
    check(
        &[],
        &connect(&format!(
            "socket.create_connection(('127.0.0.1', {port}), timeout=2)"
        )),
        by_name,
    );
    check(
        &[],
        &connect(&format!(
            "s = socket.socket(); s.settimeout(2); s.connect(('127.0.0.1', {port}))"
        )),
        by_socket,
    );
    check(
        &[],
        &attempt("import socket; socket.getaddrinfo('localhost', 80)"),
        resolve,
    );
    match listener.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener heard from the guest: {other:?}"),
    }
}

/// Two grants at one guest path would shadow one another: refused, naming
/// both.
#[test]
fn two_grants_at_one_guest_path_are_refused() {
    let scripts = Scripts::new();
    std::fs::create_dir(scripts.path("a")).unwrap();
    std::fs::create_dir(scripts.path("b")).unwrap();
    let a = format!("{}::/data", scripts.path("a").display());
    let b = format!("{}::/data/", scripts.path("b").display());
    let run = crate::run(rewind().args(["run", "--dir", &a, "--dir-rw", &b, "-c", "pass"]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "rewind: --dir {a} and --dir-rw {b} both grant the guest path /data; give each its own ::GUEST_DIR\n"
        )
    );
    // The script's own directory is a grant too.
    let script = scripts.write("app/main.py", "print('ran')\n");
    let app = scripts.path("app");
    let over = format!("{}::{}", scripts.path("a").display(), app.display());
    let run = crate::run(rewind().args(["run", "--dir", &over]).arg(&script));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "rewind: --dir {over} and the script's directory {} both grant the guest path {}; give each its own ::GUEST_DIR\n",
            app.display(),
            app.display()
        )
    );
    // The same grant twice is one grant.
    let same = scripts.path("a");
    check(
        &[
            "--dir",
            same.to_str().unwrap(),
            "--dir",
            same.to_str().unwrap(),
        ],
        "print('ok')",
        "ok\n",
    );
}

/// A file name that is not UTF-8 cannot cross WASI 0.2: the listing goes on
/// without it, rewind says so once, and a re-execution lists the same.
#[test]
fn a_name_that_is_not_utf8_is_left_out_of_a_listing() {
    use std::os::unix::ffi::OsStrExt as _;
    let scripts = Scripts::new();
    let data = scripts.path("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("good.txt"), "").unwrap();
    for name in [&b"bad-\xff.txt"[..], b"worse-\xfe\xfd"] {
        std::fs::write(data.join(std::ffi::OsStr::from_bytes(name)), "").unwrap();
    }
    std::fs::write(data.join("zed.txt"), "").unwrap();
    let grant = format!("{}::/data", data.display());
    let (run, files) = crate::recording::record(
        &scripts,
        &[
            "--dir",
            &grant,
            "-c",
            "import os, revdebug\nprint(sorted(os.listdir('/data')))\nprint(len(list(os.scandir('/data'))), flush=True)\nrevdebug.snapshot('listed')",
        ],
        "",
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "['good.txt', 'zed.txt']\n2\n");
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("UTF-8"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains(
            "a file name in /data is not valid UTF-8 and cannot reach the guest: \
             directory listings leave out such names"
        ),
        "{}",
        run.stderr
    );
    let [snapshot] = &files[..] else {
        panic!("one snapshot: {files:?}");
    };
    let replayed = crate::run(rewind().args(["replay", "--exec"]).arg(snapshot));
    assert_eq!(replayed.code, Some(0), "{replayed:?}");
    assert_eq!(replayed.stdout, run.stdout);
}

/// The CPython guest's standard library is granted at `/python`: a grant of
/// the program's there is refused, by `run` and by `serve`, saying why.
#[test]
fn a_grant_where_the_cpython_guest_has_its_library_is_refused() {
    let scripts = Scripts::new();
    let app = scripts.write(
        "app.py",
        "def app(environ, start_response):\n    return []\n",
    );
    let dir = scripts.root().display().to_string();
    for args in [
        vec!["run", "--python", "cpython", "--dir"],
        vec!["serve", "--python", "cpython", "--dir"],
    ] {
        let grant = format!("{dir}::/python/lib");
        let target = match args[0] {
            "run" => app.display().to_string(),
            _ => format!("{}:app", app.display()),
        };
        let run = crate::run(rewind().args(&args).arg(&grant).arg(&target));
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert_eq!(
            run.stderr,
            format!(
                "rewind: {dir} is granted at /python/lib, where the CPython guest has its \
                 standard library; grant it somewhere else (HOST_DIR::GUEST_DIR)\n"
            ),
            "{args:?}"
        );
    }
}
