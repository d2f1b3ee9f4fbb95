//! `rewind run app.wasm`: any WASI command component, under the same limits.
//! Hostile guests, written in WAT, make their own run fail, never the host.

use crate::{Scripts, rewind_run};

/// A component whose `wasi:cli/run` calls `body`, a core function in a module
/// that also holds `items` (more functions, a memory).
fn component(items: &str, body: &str) -> Vec<u8> {
    let text = format!(
        r#"(component
            (core module $m
                {items}
                (func (export "run") (result i32) {body}))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $run (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $run)))"#
    );
    wat::parse_str(text).expect("valid component text")
}

/// A component that exits with status 0 and reads nothing.
pub fn empty_component() -> Vec<u8> {
    component("", "i32.const 0")
}

fn run_component(scripts: &Scripts, name: &str, wasm: &[u8], flags: &[&str]) -> crate::Run {
    let path = scripts.path(name);
    std::fs::write(&path, wasm).unwrap();
    let mut args: Vec<std::ffi::OsString> = flags.iter().map(Into::into).collect();
    if !flags.contains(&"--timeout") {
        args.extend(["--timeout".into(), "5s".into()]);
    }
    args.push(path.into());
    rewind_run(args)
}

#[test]
fn a_component_runs_and_its_result_is_the_exit_status() {
    let scripts = Scripts::new();
    let ok = run_component(&scripts, "ok.wasm", &component("", "i32.const 0"), &[]);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    let failed = run_component(&scripts, "failed.wasm", &component("", "i32.const 1"), &[]);
    assert_eq!(failed.code, Some(1), "{failed:?}");
}

#[test]
fn a_trap_is_a_crash_of_the_guest_only() {
    let scripts = Scripts::new();
    let run = run_component(&scripts, "trap.wasm", &component("", "unreachable"), &[]);
    assert_eq!(run.code, Some(70), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("rewind: the guest crashed: "),
        "{}",
        run.stderr
    );
}

#[test]
fn unbounded_recursion_trips_the_stack_limit() {
    let scripts = Scripts::new();
    let items =
        "(func $down (param i64) (result i64) (call $down (i64.add (local.get 0) (i64.const 1))))";
    let wasm = component(items, "(drop (call $down (i64.const 0))) i32.const 0");
    let run = run_component(&scripts, "recurse.wasm", &wasm, &[]);
    assert_eq!(run.code, Some(126), "{run:?}");
    assert_eq!(
        run.stderr,
        "rewind: stack limit exceeded (recursion too deep)\n"
    );
}

#[test]
fn an_endless_loop_trips_the_time_limit() {
    let scripts = Scripts::new();
    let wasm = component("", "(loop $forever (br $forever)) i32.const 0");
    let run = run_component(&scripts, "spin.wasm", &wasm, &["--timeout", "300ms"]);
    assert_eq!(run.code, Some(124), "{run:?}");
    assert_eq!(run.stderr, "rewind: time limit of 300ms exceeded\n");
}

#[test]
fn growing_memory_trips_the_memory_limit() {
    let scripts = Scripts::new();
    // 64 KiB pages, 100 at a time, until memory.grow fails or the host says no.
    let items = "(memory 1)";
    let body = "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 100)) (i32.const -1)))) i32.const 0";
    let run = run_component(
        &scripts,
        "hog.wasm",
        &component(items, body),
        &["--max-memory", "32MiB"],
    );
    assert_eq!(run.code, Some(125), "{run:?}");
    assert_eq!(run.stderr, "rewind: memory limit of 32 MiB exceeded\n");
}

#[test]
fn bad_component_files_get_one_line() {
    let scripts = Scripts::new();
    let check = |name: &str, bytes: &[u8], message: &str| {
        let run = run_component(&scripts, name, bytes, &[]);
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
    };
    check(
        "text.wasm",
        b"this is not wasm",
        "is not a WebAssembly component",
    );
    check(
        "core.wasm",
        &wat::parse_str("(module)").unwrap(),
        "is a core WebAssembly module",
    );
    let mut truncated = component("", "i32.const 0");
    truncated.truncate(truncated.len() / 2);
    let run = run_component(&scripts, "truncated.wasm", &truncated, &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stderr,
        "rewind: truncated.wasm cannot be loaded: compiling guest `truncated`: \
         failed to parse WebAssembly module: unexpected end-of-file (at offset 0x56)\n"
    );
}
