//! Materialization at the speed of the run: the native tracer checked
//! against the settrace reference, windows traced from near their marker
//! checked against a whole trace, and what a user sees of a long one —
//! progress, Ctrl-C, a kill.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::recording::{dump, record};
use crate::{Scripts, rewind};

/// Recursion, generators, comprehensions, closures (cell variables), class
/// bodies, exceptions caught and re-raised, module-level loops, and enough
/// of them that a window of 200 events is a small part of the run.
const CONSTRUCTS: &str = "\
import math

def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)

def gen(n):
    total = 0
    for i in range(n):
        total += i
        yield total

def outer(x):
    factor = x * 2
    def inner(y):
        return y * factor
    return [inner(v) for v in range(3)]

class Shape:
    sides = 0
    def __init__(self, name, sides):
        self.name = name
        self.sides = sides
    def __repr__(self):
        return 'Shape(%r, %d)' % (self.name, self.sides)

def risky(k):
    try:
        if k % 2:
            raise ValueError('odd %d' % k)
        return k
    except ValueError as err:
        msg = str(err)
        return -1

def reraise():
    try:
        {}['missing']
    except KeyError:
        raise

for round in range(40):
    items = []
    for k in range(5):
        items.append(risky(k))
        s = Shape('sq', k)
    squares = {n: n * n for n in range(4)}
    sums = list(gen(4))
    tripled = outer(round)
    try:
        reraise()
    except KeyError:
        pass
    data = [1.5, 2.5, round]
    data[0] += 1.0
    total = sum(data) + fact(6)
print(total, math.sqrt(total), items, squares, s, sums, tripled)
raise RuntimeError('done after %d rounds' % round)
";

/// A loop of calls long enough to interrupt while it is materialized.
const LONG: &str = "\
def step(i, acc):
    return (acc * 31 + i) % 1000003

acc = 0
for i in range(1000000):
    acc = step(i, acc)
raise RuntimeError(acc)
";

/// `text` with every `0x...` address made `0x?`: objects' addresses depend
/// on what else was allocated, which tracing (and where it starts) changes.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        let hex = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_hexdigit())
                .len();
        if hex > 0 {
            out.push('?');
        }
        rest = &rest[hex..];
    }
    out.push_str(rest);
    out
}

/// The events of `runs` (as `dump --json` lists them) from `first` to
/// `end`, in order, addresses masked.
fn events(runs: &Value, first: u64, end: u64) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs.as_array().into_iter().flatten() {
        let start = run["first"].as_u64().unwrap();
        for (offset, event) in run["events"].as_array().unwrap().iter().enumerate() {
            let index = start + offset as u64;
            if (first..end).contains(&index) {
                out.push(mask(&event.to_string()));
            }
        }
    }
    out
}

/// The materialized window of a recording's crash, and where tracing
/// started.
fn materialized_window(file: &Path) -> (Vec<String>, u64) {
    let dumped = dump(file);
    let info = &dumped["materialized"]["info"];
    let window = info["windows"].as_array().unwrap().last().unwrap().clone();
    let (first, end) = (
        window["first"].as_u64().unwrap(),
        window["end"].as_u64().unwrap(),
    );
    let events = events(&dumped["materialized"]["events"]["0"], first, end);
    assert_eq!(
        events.len() as u64,
        end - first,
        "the window's events are all there"
    );
    (events, info["traced_from"].as_u64().unwrap())
}

fn materialize(file: &Path, args: &[&str]) {
    let run = crate::run(
        rewind()
            .args(["replay", "--materialize"])
            .args(args)
            .arg(file),
    );
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn the_native_tracer_makes_the_settrace_reference_s_events() {
    let scripts = Scripts::new();
    let script = scripts.write("constructs.py", CONSTRUCTS);
    let mut traced = Vec::new();
    for tracer in ["native", "settrace"] {
        let out = scripts.path(tracer);
        let run = crate::run(
            rewind()
                .env("REWIND_TRACER", tracer)
                .args(["run", "--trace", "--mode", "continuous", "--out"])
                .arg(&out)
                .arg(&script),
        );
        assert_eq!(run.code, Some(1), "{tracer}: {run:?}");
        let stream = crate::recording::recordings(&out)
            .into_iter()
            .find(|path| path.to_string_lossy().contains("stream"))
            .expect("a continuous stream");
        traced.push(events(
            &dump(&stream)["threads"]["0"]["events"],
            0,
            u64::MAX,
        ));
    }
    let (native, settrace) = (&traced[0], &traced[1]);
    assert!(native.len() > 5_000, "{} events", native.len());
    for (index, (a, b)) in native.iter().zip(settrace).enumerate() {
        assert_eq!(a, b, "event {index} differs");
    }
    assert_eq!(native.len(), settrace.len());
    // Every kind of event is in there.
    for kind in [
        r#""event":"call""#,
        r#""event":"line""#,
        r#""event":"return""#,
        r#""stage":"raised""#,
        r#""stage":"caught""#,
        r#""stage":"unhandled""#,
        "Shape('sq', 4)",
        r#""factor""#,
    ] {
        assert!(native.iter().any(|event| event.contains(kind)), "no {kind}");
    }
}

#[test]
fn a_window_traced_from_near_its_crash_is_what_a_whole_trace_cuts() {
    if crate::rustpython_only(
        "tracing from a position: the CPython guest traces every re-execution from the start",
    ) {
        return;
    }
    let scripts = Scripts::new();
    let script = scripts.write("constructs.py", CONSTRUCTS);
    let script = script.to_str().unwrap();
    let (run, files) = record(&scripts, &["--buffer-events", "200", script], "");
    assert_eq!(run.code, Some(1), "{run:?}");
    let crash = &files[0];

    materialize(crash, &[]);
    let (tail, traced_from) = materialized_window(crash);
    assert!(traced_from > 0, "tracing started near the crash");
    assert_eq!(tail.len(), 200);

    materialize(crash, &["--full"]);
    let (whole, from_start) = materialized_window(crash);
    assert_eq!(from_start, 0);
    assert_eq!(tail, whole);

    // And what live tracing records, of the same script.
    let live = scripts.path("live");
    let run = crate::run(
        rewind()
            .args(["run", "--trace", "--buffer-events", "200", "--out"])
            .arg(&live)
            .arg(script),
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    let dumped = dump(&crate::recording::recordings(&live)[0]);
    let live_events = events(&dumped["threads"]["0"]["events"], 0, u64::MAX);
    assert_eq!(tail, live_events);
}

/// A recording of [`LONG`]'s crash.
fn long_crash(scripts: &Scripts) -> PathBuf {
    let script = scripts.write("long.py", LONG);
    let (run, files) = record(scripts, &[script.to_str().unwrap()], "");
    assert_eq!(run.code, Some(1), "{run:?}");
    files[0].clone()
}

/// `rewind replay --materialize --full FILE` with progress lines on stderr.
fn start_materializing(file: &Path) -> Child {
    rewind()
        .env("REWIND_PROGRESS", "1")
        .args(["replay", "--materialize", "--full"])
        .arg(file)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("starting rewind")
}

/// The temporary files of materializations in `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".materializing"))
        .collect()
}

/// The percentage a progress line shows.
fn percent(line: &str) -> Option<f64> {
    let rest = line.strip_prefix("rewind: materializing: ")?;
    rest.split('%').next()?.parse().ok()
}

#[test]
fn progress_advances_steadily_with_the_time_spent_and_an_estimate() {
    if crate::rustpython_only(
        "progress by position: the CPython guest counts positions only at its control calls",
    ) {
        return;
    }
    let scripts = Scripts::new();
    let crash = long_crash(&scripts);
    let child = start_materializing(&crash);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let percents: Vec<f64> = stderr.lines().filter_map(percent).collect();
    assert!(percents.len() >= 3, "a few progress lines: {stderr}");
    assert!(
        percents.windows(2).all(|pair| pair[0] <= pair[1]),
        "never backwards: {percents:?}"
    );
    assert!(
        percents.windows(2).any(|pair| pair[0] < pair[1]),
        "it moves: {percents:?}"
    );
    assert!(*percents.last().unwrap() > 50.0, "{percents:?}");
    assert!(
        percents.iter().all(|p| *p < 100.0),
        "100% only when done: {percents:?}"
    );
    assert!(
        stderr
            .lines()
            .filter(|l| percent(l).is_some())
            .all(|l| l.contains("s elapsed")),
        "{stderr}"
    );
    assert!(stderr.contains("s left"), "an estimate: {stderr}");
    assert!(stderr.contains("rewind: materialized "), "{stderr}");
}

/// Waits for `child`'s first progress line: it is materializing.
fn wait_until_underway(child: &mut Child) {
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .expect("a progress line before the end")
            .unwrap();
        if percent(&line).is_some() {
            break;
        }
    }
    // Keep draining, so that rewind never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
}

fn signal(child: &Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn ctrl_c_stops_materializing_at_once_and_leaves_no_file() {
    let scripts = Scripts::new();
    let crash = long_crash(&scripts);
    let dir = crash.parent().unwrap();
    let mut child = start_materializing(&crash);
    wait_until_underway(&mut child);
    assert_eq!(temporaries(dir).len(), 1, "it writes a temporary file");
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(temporaries(dir).is_empty(), "{:?}", temporaries(dir));
    assert!(!rewind_runtime::materialized_path(&crash).exists());
}

#[test]
fn a_killed_materialization_s_file_is_swept_by_the_next_one() {
    if crate::rustpython_only(
        "a full materialization of a million iterations: about 40 s through the CPython guest's tracer",
    ) {
        return;
    }
    let scripts = Scripts::new();
    let crash = long_crash(&scripts);
    let dir = crash.parent().unwrap();
    let mut child = start_materializing(&crash);
    wait_until_underway(&mut child);
    signal(&child, "-KILL");
    child.wait().unwrap();
    let left = temporaries(dir);
    assert_eq!(left.len(), 1, "a kill leaves its file: {left:?}");

    materialize(&crash, &[]);
    assert!(temporaries(dir).is_empty(), "swept: {:?}", temporaries(dir));
    assert!(rewind_runtime::materialized_path(&crash).exists());
}
