//! The Rust guest SDK (`guest/sdk`), through the example guest that uses
//! it (`examples/rust-guest`), run and recorded by `rewind run`.

use crate::{Scripts, rewind};

fn example() -> &'static str {
    rewind_guests::EXAMPLE_GUEST_WASM
}

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_rust_guests_events_and_snapshot_are_recorded() {
    let scripts = Scripts::new();
    let out = scripts.path("out");
    let run = crate::run(rewind().arg("run").arg("--out").arg(&out).arg(example()));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "total = 7\nsnapshot after-fib\n");
    let [snapshot] = files(&out).try_into().unwrap_or_else(|f| panic!("{f:?}"));
    let recording = crate::recording::dump(&snapshot);
    let events = &recording["threads"]["0"]["events"][0]["events"];
    let events = events.as_array().unwrap();
    // main, then fib(0) .. fib(4) with their recursive calls.
    assert_eq!(events[0]["function"], "main");
    assert_eq!(events[1]["function"], "fib");
    assert_eq!(events[1]["args"][0], serde_json::json!(["n", "0"]));
    let calls = events
        .iter()
        .filter(|event| event["event"] == "call")
        .count();
    // 1 main + fib(0..5) = 1 + 1 + 1 + 3 + 5 + 9.
    assert_eq!(calls, 20);
    let last_line = events
        .iter()
        .rev()
        .find(|event| event["event"] == "line")
        .unwrap();
    assert_eq!(
        last_line["changed"],
        serde_json::json!([["n", "4"], ["total", "7"]])
    );
    let returns: Vec<&str> = events
        .iter()
        .filter(|event| event["event"] == "return")
        .map(|event| event["value"].as_str().unwrap())
        .collect();
    assert!(returns.contains(&"3"), "{returns:?}");
}

#[test]
fn a_panic_in_a_rust_guest_is_one_crash_event_the_debugger_opens() {
    let scripts = Scripts::new();
    let out = scripts.path("out");
    let run = crate::run(
        rewind()
            .arg("run")
            .arg("--out")
            .arg(&out)
            .arg(example())
            .arg("--panic"),
    );
    assert_eq!(run.code, Some(70), "{run:?}");
    assert!(run.stderr.contains("index out of bounds"), "{}", run.stderr);
    let crashes: Vec<_> = files(&out)
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("-crash"))
        .collect();
    let [crash] = crashes.as_slice() else {
        panic!("one crash recording, not {crashes:?}");
    };
    let recording = crate::recording::dump(crash);
    let captured = &recording["crashes"][0];
    assert_eq!(captured["exception"]["type_name"], "panic");
    assert_eq!(
        captured["exception"]["message"],
        "index out of bounds: the len is 0 but the index is 7"
    );
    let frames: Vec<&str> = captured["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|frame| frame["function"].as_str().unwrap())
        .collect();
    assert_eq!(frames, ["main", "<panic>"]);

    let mut replay = rewind();
    replay.arg("replay").arg(crash).args(["--commands", "-"]);
    let session = crate::run_with_stdin(&mut replay, b"backtrace\nlocals\n");
    assert_eq!(session.code, Some(0), "{session:?}");
    assert!(
        session
            .stdout
            .contains("crashed here: panic: index out of bounds"),
        "{}",
        session.stdout
    );
    assert!(
        session
            .stdout
            .contains("(rewind) locals\nn = 4\ntotal = 7\nindex = 7\n"),
        "{}",
        session.stdout
    );
}

#[test]
fn a_panic_recorded_continuously_is_one_crash_in_the_stream() {
    let scripts = Scripts::new();
    let out = scripts.path("out");
    let run = crate::run(
        rewind()
            .args(["run", "--mode", "continuous", "--out"])
            .arg(&out)
            .arg(example())
            .arg("--panic"),
    );
    assert_eq!(run.code, Some(70), "{run:?}");
    let [stream] = files(&out).try_into().unwrap_or_else(|f| panic!("{f:?}"));
    let recording = crate::recording::dump(&stream);
    // The panic hook's capture; the abort's trap that follows adds none.
    let crashes = recording["crashes"].as_array().unwrap();
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    assert_eq!(crashes[0]["exception"]["type_name"], "panic");
}

/// The SDK's own tests and documentation examples, built for this machine
/// (where every call answers as `Off` does): the guest workspace is not a
/// member of this one, so `cargo test` reaches them from here.
#[test]
fn the_sdks_doc_examples_compile_and_run() {
    let guest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guest");
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rewind-sdk");
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(&guest)
        .args([
            "test",
            "--release",
            "--locked",
            "-p",
            "rewind-sdk",
            "--target-dir",
        ])
        .arg(&target)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("test sdk/src/lib.rs - (line ") && stdout.contains(" ... ok"),
        "{stdout}"
    );
}
