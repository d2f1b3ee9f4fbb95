//! The C compiler for the guests' C sources: SQLite, which `libsqlite3-sys`
//! compiles from its bundled amalgamation for the Python guest's `sqlite3`,
//! and zlib, which `libz-sys` compiles from its vendored source for `zlib`'s
//! compression (the `rustpython-common` patch).
//!
//! Rust's `wasm32-wasip2` target links its own wasi-libc, so C needs only a
//! clang that emits wasm32 objects and wasi-libc's headers to compile
//! against: Debian's `clang` and `wasi-libc` packages. Debian's clang 14
//! does not know the `wasm32-wasip2` triple (it then reads the host's glibc
//! headers), and Debian's wasi-libc ships its headers for `wasm32-wasi`
//! (preview 1), whose types and constants are the ones the wasip2 libc was
//! built with. So the target is probed: `wasm32-wasip2` where the compiler
//! and headers know it, else `wasm32-wasi`.
//!
//! What this module decides reaches `cc` (inside `libsqlite3-sys`' and
//! `libz-sys`' build scripts) through the environment of the nested cargo,
//! the way a user would set it: `CC_wasm32_wasip2`, `CFLAGS_wasm32_wasip2`,
//! and SQLite's compile-time options in `LIBSQLITE3_FLAGS`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// SQLite's options for the sandbox (besides what `libsqlite3-sys` sets for
/// WASI: no threads, no mmap, no extension loading).
///
/// - No file locking (`unix-none`): WASI has no `fcntl` locks, and SQLite's
///   WASI default, dot-file locking, creates `NAME.db.lock` even to read, so
///   it cannot read a database in a read-only grant, and a guest killed by
///   a limit would leave the lock behind, the database locked for good.
///   One run at a time may write a database; `docs/python.md` says so.
/// - Temporary tables and indices in memory unless a program asks for files
///   (`PRAGMA temp_store`): the sandbox has no temporary directory.
const SQLITE_FLAGS: &str = "-DSQLITE_DEFAULT_UNIX_VFS=\"unix-none\" -DSQLITE_TEMP_STORE=2";

/// What Debian calls the packages, for the error that names them.
const INSTALL: &str = "install Debian's `clang` and `wasi-libc` packages \
     (`sudo apt-get install clang wasi-libc`; the README's commands do)";

/// Environment variables for the nested cargo that builds the guests.
pub fn guest_env(target: &str, scratch: &Path) -> Result<Vec<(String, String)>, String> {
    for var in [
        "CC_wasm32_wasip2",
        "CFLAGS_wasm32_wasip2",
        "WASI_SYSROOT",
        "LIBSQLITE3_FLAGS",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let user = |var: &str| std::env::var(var).ok().filter(|value| !value.is_empty());
    let mut sqlite_flags = SQLITE_FLAGS.to_owned();
    if let Some(more) = user("LIBSQLITE3_FLAGS") {
        sqlite_flags = format!("{sqlite_flags} {more}");
    }
    let mut vars = vec![("LIBSQLITE3_FLAGS".to_owned(), sqlite_flags)];
    let cc_var = format!("CC_{}", target.replace('-', "_"));
    if user(&cc_var).is_some() {
        // A compiler the user chose, with the flags they chose for it.
        return Ok(vars);
    }
    let c_target = probe("clang", scratch)?;
    let mut cflags = format!("--target={c_target}");
    let cflags_var = format!("CFLAGS_{}", target.replace('-', "_"));
    if let Some(more) = user(&cflags_var) {
        cflags = format!("{cflags} {more}");
    }
    vars.push((cc_var, "clang".to_owned()));
    vars.push((cflags_var, cflags));
    Ok(vars)
}

/// The clang target under which `clang` compiles C against wasi-libc's
/// headers, tried by compiling a file that includes them.
fn probe(clang: &str, scratch: &Path) -> Result<&'static str, String> {
    std::fs::create_dir_all(scratch)
        .map_err(|err| format!("creating {}: {err}", scratch.display()))?;
    let object = scratch.join("probe.o");
    let mut last_error = String::new();
    for c_target in ["wasm32-wasip2", "wasm32-wasi"] {
        let mut command = Command::new(clang);
        command.arg(format!("--target={c_target}"));
        if let Ok(sysroot) = std::env::var("WASI_SYSROOT") {
            command.arg(format!("--sysroot={sysroot}"));
        }
        command
            .args(["-x", "c", "-c", "-", "-o"])
            .arg(&object)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|err| {
            format!(
                "the Python guest's sqlite3 compiles SQLite's C source for WebAssembly, \
                 and running `{clang}` failed ({err}): {INSTALL}, \
                 or set CC_wasm32_wasip2 to a C compiler for wasm32-wasip2"
            )
        })?;
        // wasi/api.h exists only in wasi-libc: a host's headers do not pass.
        let source =
            b"#include <stdio.h>\n#include <wasi/api.h>\nint probe(void) { return BUFSIZ; }\n";
        let wrote = child.stdin.take().map(|mut stdin| stdin.write_all(source));
        let output = child
            .wait_with_output()
            .map_err(|err| format!("running `{clang}`: {err}"))?;
        if output.status.success() && matches!(wrote, Some(Ok(()))) {
            return Ok(c_target);
        }
        last_error = String::from_utf8_lossy(&output.stderr)
            .lines()
            .find(|line| line.contains("error"))
            .unwrap_or("")
            .to_owned();
    }
    Err(format!(
        "`{clang}` cannot compile C for WASI (the wasi-libc headers are missing?): {last_error}; \
         the Python guest's sqlite3 needs them to build SQLite: {INSTALL}, \
         or set WASI_SYSROOT to a wasi-libc sysroot"
    ))
}
