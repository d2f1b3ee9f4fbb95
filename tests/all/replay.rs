//! `rewind replay`: re-execution from the log alone, divergence, and
//! materialized events checked against live tracing (the oracle).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rewind_format::model::{End, Input};
use rewind_format::{Recording, Writer};
use serde_json::Value;

use crate::recording::{dump, record};
use crate::{Run, Scripts, rewind, run_with_stdin};

/// A script whose output depends on every kind of input: the clock,
/// `random` (seeded from `os.urandom`), stdin, the environment, a file, a
/// directory listing, `os.stat`.
const INPUTS_SCRIPT: &str = "\
import os, random, sys, time
here = os.path.dirname(__file__)
print('clock', time.time(), time.monotonic() > 0)
print('random', random.random(), os.urandom(4).hex())
print('env', os.environ.get('GREETING'))
with open(os.path.join(here, 'data.txt')) as f:
    data = f.read()
print('data', repr(data), os.stat(os.path.join(here, 'data.txt')).st_size)
print('listing', sorted(os.listdir(here)))
for line in sys.stdin:
    print('stdin', line.strip())
total = sum(len(line) for line in data.splitlines())
print('total', 1 / (total - total))
";

/// `rewind replay ARGS...` with `stdin` (which re-execution must ignore).
fn replay(args: &[&str], file: &Path, stdin: &str) -> Run {
    let mut command = rewind();
    command.arg("replay").args(args).arg(file);
    run_with_stdin(&mut command, stdin.as_bytes())
}

fn find<'a>(files: &'a [PathBuf], kind: &str) -> &'a PathBuf {
    let matching: Vec<_> = files
        .iter()
        .filter(|path| path.to_string_lossy().contains(kind))
        .collect();
    assert_eq!(matching.len(), 1, "one {kind} recording in {files:?}");
    matching[0]
}

#[test]
fn a_python_run_re_executes_identically_after_its_inputs_change() {
    let scripts = Scripts::new();
    let script = scripts.write("app.py", INPUTS_SCRIPT);
    scripts.write("data.txt", "first line\nsecond\n");
    let script = script.to_str().unwrap();
    let (recorded, files) = record(&scripts, &["--env", "GREETING=hello", script], "one\ntwo\n");
    assert_eq!(recorded.code, Some(1), "{recorded:?}");
    assert!(recorded.stdout.contains("stdin two"), "{recorded:?}");
    let crash = find(&files, "crash");

    // Everything the run read changes, or goes away: the log has it all.
    scripts.write("data.txt", "something else entirely\n");
    scripts.write("new.txt", "a file that was not there\n");
    for round in 0..2 {
        let replayed = replay(&["--exec"], crash, "other stdin\n");
        assert_eq!(replayed.stdout, recorded.stdout, "round {round}");
        assert_eq!(replayed.stderr, recorded.stderr, "round {round}");
        assert_eq!(replayed.code, Some(1), "round {round}: {replayed:?}");
        std::fs::remove_file(scripts.path("data.txt")).ok();
        std::fs::remove_file(scripts.path("app.py")).ok();
    }
}

#[test]
fn a_snapshot_re_executes_up_to_where_it_was_taken() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "snap.py",
        "import revdebug, time\n\
         print('before', time.time(), flush=True)\n\
         revdebug.snapshot('middle')\n\
         print('after', time.time())\n",
    );
    let (recorded, files) = record(&scripts, &[script.to_str().unwrap()], "");
    assert_eq!(recorded.code, Some(0), "{recorded:?}");
    let snapshot = find(&files, "middle");
    let replayed = replay(&["--exec"], snapshot, "");
    assert_eq!(replayed.code, Some(0), "{replayed:?}");
    let before = recorded.stdout.lines().next().unwrap();
    assert_eq!(replayed.stdout, format!("{before}\n"), "{replayed:?}");
    assert!(
        replayed
            .stderr
            .contains("the recording ends at the guest's snapshot \"middle\""),
        "{replayed:?}"
    );
}

/// Rewrites a recording with `change` applied to thread 0's inputs.
fn tamper(path: &Path, change: impl FnOnce(&mut Vec<Input>)) -> PathBuf {
    let recording = Recording::read(&std::fs::read(path).unwrap()).unwrap();
    let mut inputs = recording.threads[&0].inputs.clone();
    change(&mut inputs);
    let mut writer = Writer::new(Vec::new(), &recording.header).unwrap();
    for source in &recording.sources {
        writer.source(source).unwrap();
    }
    writer.inputs(0, 0, &inputs).unwrap();
    writer.markers(0, &recording.threads[&0].markers).unwrap();
    for crash in &recording.crashes {
        writer.crash(crash).unwrap();
    }
    let bytes = writer.end(recording.end.as_ref().unwrap()).unwrap();
    let tampered = path.with_file_name("tampered.rwd");
    std::fs::write(&tampered, bytes).unwrap();
    tampered
}

fn position(inputs: &[Input], wanted: impl Fn(&Input) -> bool) -> usize {
    inputs.iter().position(wanted).expect("the input is logged")
}

#[test]
fn a_tampered_log_or_another_script_diverges_where_it_differs() {
    let scripts = Scripts::new();
    let script = scripts.write("app.py", INPUTS_SCRIPT);
    scripts.write("data.txt", "x\n");
    let script_path = script.to_str().unwrap().to_owned();
    let (_, files) = record(&scripts, &[&script_path], "");
    let crash = find(&files, "crash").clone();
    let original = Recording::read(&std::fs::read(&crash).unwrap()).unwrap();
    let inputs = &original.threads[&0].inputs;

    // A wall-clock reading turned into a monotonic one.
    let at = position(inputs, |input| matches!(input, Input::WallClock { .. }));
    let tampered = tamper(&crash, |inputs| {
        inputs[at] = Input::MonotonicClock { nanos: 1 };
    });
    let run = replay(&["--exec"], &tampered, "");
    assert_eq!(run.code, Some(4), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "diverged at input {at} of thread 0: the recording has a monotonic-clock reading, \
             the guest read the wall clock"
        )),
        "{run:?}"
    );

    // Another script: the log's copy of app.py reads the clock where the
    // recorded one took random bytes (os.urandom(4), the run's last).
    let random = inputs
        .iter()
        .rposition(|input| matches!(input, Input::Random { .. }))
        .expect("os.urandom is logged");
    // The guest's own read of random bytes: 8 in RustPython, 4 in CPython.
    let Input::Random { data: bytes } = &inputs[random] else {
        unreachable!()
    };
    let bytes = bytes.0.len();
    let tampered = tamper(&crash, |inputs| {
        let mut changed = false;
        for input in inputs.iter_mut() {
            if let Input::FileRead { path, data, .. } = input
                && *path == script_path
            {
                let text = String::from_utf8(data.0.clone()).unwrap();
                let other = text.replace("os.urandom(4).hex()", "str(time.time())[:]");
                changed |= other != text;
                data.0 = other.into_bytes();
            }
        }
        assert!(changed, "the script is in the log");
    });
    let run = replay(&["--exec"], &tampered, "");
    assert_eq!(run.code, Some(4), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "diverged at input {random} of thread 0: the recording has {bytes} random bytes, \
             the guest read the wall clock"
        )),
        "{run:?}"
    );

    // A log with inputs left over once the guest has exited.
    let tampered = tamper(&crash, |inputs| {
        inputs.push(Input::MonotonicClock { nanos: 7 });
    });
    let run = replay(&["--exec"], &tampered, "");
    assert_eq!(run.code, Some(4), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "diverged at input {} of thread 0: the recording has a monotonic-clock reading, \
             the guest ended",
            inputs.len()
        )),
        "{run:?}"
    );
}

#[test]
fn a_component_records_and_re_executes() {
    let scripts = Scripts::new();
    let wasm = scripts.path("testapp.wasm");
    std::fs::copy(rewind_guests::TESTAPP_WASM, &wasm).unwrap();
    let data = scripts.write("data/input.txt", "component data\nmore\n");
    let data_dir = data.parent().unwrap().to_str().unwrap().to_owned();
    let (recorded, files) = record(
        &scripts,
        &[
            "--mode",
            "continuous",
            "--dir",
            &data_dir,
            "--env",
            "GREETING=hi there",
            wasm.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        "fine\nfail\n",
    );
    assert_eq!(recorded.code, Some(1), "{recorded:?}");
    assert!(
        recorded.stdout.contains("greeting: hi there"),
        "{recorded:?}"
    );
    assert!(
        recorded
            .stdout
            .contains("20 bytes, first line \"component data\""),
        "{recorded:?}"
    );
    let stream = find(&files, "stream");

    std::fs::write(&data, "changed").unwrap();
    let replayed = replay(&["--exec"], stream, "different\n");
    assert_eq!(replayed.stdout, recorded.stdout, "{replayed:?}");
    assert_eq!(replayed.code, Some(1), "{replayed:?}");

    // The component moved: --guest says where it is now, and must be it.
    let moved = scripts.path("moved.wasm");
    std::fs::rename(&wasm, &moved).unwrap();
    let lost = replay(&["--exec"], stream, "");
    assert_eq!(lost.code, Some(2), "{lost:?}");
    assert!(lost.stderr.contains("--guest WASM"), "{lost:?}");
    let found = replay(&["--exec", "--guest", moved.to_str().unwrap()], stream, "");
    assert_eq!(found.stdout, recorded.stdout, "{found:?}");
    let other = scripts.path("other.wasm");
    std::fs::write(&other, crate::components::empty_component()).unwrap();
    let wrong = replay(&["--exec", "--guest", other.to_str().unwrap()], stream, "");
    assert_eq!(wrong.code, Some(3), "{wrong:?}");
    assert!(wrong.stderr.contains("is not the guest"), "{wrong:?}");
}

/// Events as `dump --json` lists runs of them, by index.
fn by_index(runs: &Value) -> BTreeMap<u64, Value> {
    let mut events = BTreeMap::new();
    for run in runs.as_array().into_iter().flatten() {
        let first = run["first"].as_u64().unwrap();
        for (offset, event) in run["events"].as_array().unwrap().iter().enumerate() {
            events.insert(first + offset as u64, event.clone());
        }
    }
    events
}

/// Scripts for the oracle: calls, recursion, loops, exceptions caught and
/// re-raised, methods, inputs.
const ORACLE_SCRIPTS: &[(&str, &str)] = &[
    (
        "recursion.py",
        "def fib(n):\n\
         \x20   if n < 2:\n\
         \x20       return n\n\
         \x20   return fib(n - 1) + fib(n - 2)\n\
         def safe_div(a, b):\n\
         \x20   try:\n\
         \x20       return a / b\n\
         \x20   except ZeroDivisionError as e:\n\
         \x20       raise ValueError('bad divisor') from e\n\
         values = [fib(n) for n in range(8)]\n\
         try:\n\
         \x20   safe_div(1, 0)\n\
         except ValueError:\n\
         \x20   values.append(-1)\n\
         print(values)\n\
         safe_div(values[3], values[0])\n",
    ),
    (
        "inputs.py",
        "import random, sys, time\n\
         class Counter:\n\
         \x20   def __init__(self):\n\
         \x20       self.seen = {}\n\
         \x20   def add(self, word):\n\
         \x20       self.seen[word] = self.seen.get(word, 0) + 1\n\
         \x20       return self.seen[word]\n\
         counter = Counter()\n\
         started = time.monotonic()\n\
         for line in sys.stdin:\n\
         \x20   for word in line.split():\n\
         \x20       n = counter.add(word)\n\
         pick = random.choice(sorted(counter.seen))\n\
         elapsed = time.monotonic() - started\n\
         import revdebug\n\
         revdebug.snapshot('counted')\n\
         missing = counter.seen['absent']\n",
    ),
];

#[test]
fn materialized_events_equal_live_traced_ones() {
    for (name, text) in ORACLE_SCRIPTS {
        let scripts = Scripts::new();
        let script = scripts.write(name, text);
        let (run, files) = record(
            &scripts,
            &[
                "--trace",
                "--buffer-events",
                "300",
                script.to_str().unwrap(),
            ],
            "a b c a\nb a d\n",
        );
        assert_eq!(run.code, Some(1), "{name}: {run:?}");
        for file in &files {
            let live = dump(file);
            let live_events = by_index(&live["threads"]["0"]["events"]);
            assert!(!live_events.is_empty(), "{name}: {file:?} has live events");

            let materialized = replay(&["--materialize"], file, "");
            assert_eq!(materialized.code, Some(0), "{name}: {materialized:?}");
            let both = dump(file);
            let info = &both["materialized"]["info"];
            let events = by_index(&both["materialized"]["events"]["0"]);
            // The recording's window: the last one, at its snapshot or crash.
            let window = info["windows"].as_array().unwrap().last().unwrap();
            let (first, end) = (
                window["first"].as_u64().unwrap(),
                window["end"].as_u64().unwrap(),
            );
            let window_events: BTreeMap<u64, Value> = events
                .range(first..end)
                .map(|(index, event)| (*index, event.clone()))
                .collect();
            assert_eq!(
                window_events.len() as u64,
                end - first,
                "{name}: the window's events are all there"
            );
            // Index by index within the window: a window traced from near
            // its marker numbers its events from where tracing started.
            assert_eq!(
                window_events.values().collect::<Vec<_>>(),
                live_events.values().collect::<Vec<_>>(),
                "{name}: {file:?}: materialized events differ from live ones"
            );
        }
    }
}

#[test]
fn full_materialization_keeps_every_event_and_a_plain_recording_materializes() {
    let scripts = Scripts::new();
    let script = scripts.write(ORACLE_SCRIPTS[0].0, ORACLE_SCRIPTS[0].1);
    // Recorded without tracing: the events come from re-execution only.
    let (_, files) = record(
        &scripts,
        &["--buffer-events", "50", script.to_str().unwrap()],
        "",
    );
    let crash = find(&files, "crash");
    assert!(by_index(&dump(crash)["threads"]["0"]["events"]).is_empty());

    let windowed = replay(&["--materialize"], crash, "");
    assert_eq!(windowed.code, Some(0), "{windowed:?}");
    let dumped = dump(crash);
    let window = by_index(&dumped["materialized"]["events"]["0"]);
    assert_eq!(window.len(), 50, "the recorded buffer size holds");
    assert!(
        dumped["materialized"]["info"]["outcome"]
            .as_str()
            .unwrap()
            .contains("exited with status 1, as recorded")
    );

    let full = replay(&["--materialize", "--full"], crash, "");
    assert_eq!(full.code, Some(0), "{full:?}");
    let every = by_index(&dump(crash)["materialized"]["events"]["0"]);
    assert!(
        every.len() > 200,
        "fib's calls are all there: {}",
        every.len()
    );
    assert_eq!(*every.keys().next().unwrap(), 0);
    assert!(every.keys().copied().eq(0..every.len() as u64), "no holes");
    let last: Vec<_> = every.values().rev().take(50).rev().cloned().collect();
    assert_eq!(last, window.values().cloned().collect::<Vec<_>>());
    let calls = every
        .values()
        .filter(|event| event["event"] == "call" && event["function"] == "fib")
        .count();
    // fib(0..8) makes 1+1+3+5+9+15+25+41 calls.
    assert_eq!(calls, 100);

    // The text dump shows them, after the recording.
    let text = crate::run(rewind().arg("dump").arg(crash));
    assert!(text.stdout.contains("materialized in"), "{text:?}");
    assert!(text.stdout.contains("call fib(n=7)"), "{text:?}");
}

#[test]
fn replay_rejects_what_it_cannot_re_execute() {
    let scripts = Scripts::new();
    let none = replay(&["--exec"], &scripts.path("missing.rwd"), "");
    assert_eq!(none.code, Some(2), "{none:?}");
    assert!(none.stderr.contains("cannot read"), "{none:?}");

    let text = scripts.write("notes.rwd", "not a recording");
    let garbage = replay(&["--exec"], &text, "");
    assert_eq!(garbage.code, Some(2), "{garbage:?}");
    assert!(
        garbage.stderr.contains("not a Rewind recording"),
        "{garbage:?}"
    );

    let flagless = crate::run(rewind().arg("replay").arg(&text));
    assert_eq!(flagless.code, Some(2), "{flagless:?}");

    // A run that started with recording off has no whole log.
    let script = scripts.write(
        "late.py",
        "import revdebug\nrevdebug.setrecmode(revdebug.OnEvent)\nrevdebug.snapshot('late')\n",
    );
    let (_, files) = record(&scripts, &["--mode", "off", script.to_str().unwrap()], "");
    let late = find(&files, "late");
    let refused = replay(&["--exec"], late, "");
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("cannot be re-executed: the run started with recording off"),
        "{refused:?}"
    );
}

/// An input no interface could have given is refused before the guest
/// sees it, with its position: a wall-clock time with 2^32-1 nanoseconds
/// made the guest panic ("invalid timestamp").
#[test]
fn an_input_outside_its_interface_is_refused_with_its_position() {
    let scripts = Scripts::new();
    let script = scripts.write("clock.py", "import time\nprint(time.time())\n1 / 0\n");
    let (_, files) = record(&scripts, &[script.to_str().unwrap()], "");
    let crash = find(&files, "crash").clone();
    let original = Recording::read(&std::fs::read(&crash).unwrap()).unwrap();
    let at = position(&original.threads[&0].inputs, |input| {
        matches!(input, Input::WallClock { .. })
    });
    let tampered = tamper(&crash, |inputs| {
        if let Input::WallClock { nanos, .. } = &mut inputs[at] {
            *nanos = u32::MAX;
        }
    });
    for args in [&["--exec"][..], &["--materialize"][..]] {
        let run = replay(args, &tampered, "");
        assert_eq!(run.code, Some(3), "{args:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "input {at} of thread 0 is a wall-clock time of 4294967295 nanoseconds"
            )),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panic"), "{}", run.stderr);
    }
}

/// A run stopped by its time limit in the middle of a computation
/// re-executes to the same place: the same last line printed, the same
/// status, the time limit "as recorded", not a divergence.
#[test]
fn a_run_stopped_by_its_time_limit_re_executes_to_where_it_stopped() {
    if crate::rustpython_only(
        "stopping at the recorded position: the CPython guest counts positions only at its control calls",
    ) {
        return;
    }
    let scripts = Scripts::new();
    let script = scripts.write(
        "ticks.py",
        "n = 0\n\
         while True:\n\
         \x20   n += 1\n\
         \x20   if n % 50000 == 0:\n\
         \x20       print('tick', n, flush=True)\n",
    );
    let (recorded, files) = record(&scripts, &["--timeout", "2s", script.to_str().unwrap()], "");
    assert_eq!(recorded.code, Some(124), "{recorded:?}");
    assert!(recorded.stdout.contains("tick 50000\n"), "{recorded:?}");
    let crash = find(&files, "crash");
    for round in 0..2 {
        let replayed = replay(&["--exec"], crash, "");
        assert_eq!(replayed.stdout, recorded.stdout, "round {round}");
        assert_eq!(replayed.code, Some(124), "round {round}: {replayed:?}");
        assert!(
            replayed
                .stderr
                .contains("rewind: time limit of 2s exceeded, as recorded"),
            "round {round}: {replayed:?}"
        );
    }
    // Its events re-execute too: the debugger shows the loop it was in.
    let materialized = replay(&["--materialize"], crash, "");
    assert_eq!(materialized.code, Some(0), "{materialized:?}");
    assert!(
        materialized.stderr.contains("materialized"),
        "{materialized:?}"
    );
}

/// A run stopped by its time limit while it waited (in `time.sleep`)
/// re-executes up to that wait and stops there: what the script would
/// have printed after it never appears.
#[test]
fn a_run_stopped_while_it_waited_re_executes_no_further() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "sleeper.py",
        "import time\n\
         for n in range(3):\n\
         \x20   time.sleep(0.01)\n\
         \x20   print('short sleep', n, flush=True)\n\
         time.sleep(100)\n\
         print('after the long sleep', flush=True)\n",
    );
    let (recorded, files) = record(&scripts, &["--timeout", "2s", script.to_str().unwrap()], "");
    assert_eq!(recorded.code, Some(124), "{recorded:?}");
    assert_eq!(
        recorded.stdout, "short sleep 0\nshort sleep 1\nshort sleep 2\n",
        "{recorded:?}"
    );
    let replayed = replay(&["--exec"], find(&files, "crash"), "");
    assert_eq!(replayed.stdout, recorded.stdout, "{replayed:?}");
    assert_eq!(replayed.code, Some(124), "{replayed:?}");
    assert!(
        replayed
            .stderr
            .contains("rewind: time limit of 2s exceeded, as recorded"),
        "{replayed:?}"
    );
}

/// A recording whose end was taken away (its crash capture and markers
/// removed, as an editor could) re-executes a `while True` loop: the
/// re-execution's own bound stops it, with its own status.
#[test]
fn re_execution_has_a_time_bound_of_its_own() {
    let scripts = Scripts::new();
    let script = scripts.write("spin.py", "while True:\n    pass\n");
    let (recorded, files) = record(&scripts, &["--timeout", "1s", script.to_str().unwrap()], "");
    assert_eq!(recorded.code, Some(124), "{recorded:?}");
    let crash = find(&files, "crash");
    let recording = Recording::read(&std::fs::read(crash).unwrap()).unwrap();
    let mut header = recording.header.clone();
    for (key, value) in &mut header.settings {
        if key == "timeout" {
            *value = "none".into();
        }
    }
    let mut writer = Writer::new(Vec::new(), &header).unwrap();
    for source in &recording.sources {
        writer.source(source).unwrap();
    }
    writer.inputs(0, 0, &recording.threads[&0].inputs).unwrap();
    let endless = crash.with_file_name("endless.rwd");
    let bytes = writer.end(&End { exit_code: None }).unwrap();
    std::fs::write(&endless, bytes).unwrap();

    let replayed = replay(&["--exec", "--timeout", "2s"], &endless, "");
    assert_eq!(replayed.code, Some(5), "{replayed:?}");
    assert_eq!(
        replayed.stderr,
        "rewind: replay stopped: re-execution took longer than its bound of 2s (--timeout)\n",
        "{replayed:?}"
    );
    let bad = replay(&["--exec", "--timeout", "soon"], &endless, "");
    assert_eq!(bad.code, Some(2), "{bad:?}");
}
