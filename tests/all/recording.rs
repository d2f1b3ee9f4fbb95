//! The flight recorder: what `rewind run` records, read back with `rewind dump --json`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Run, Scripts, rewind, run_with_stdin};

/// Runs `rewind run --out OUT ARGS...` with `stdin`, and returns the run and
/// the recordings it wrote, oldest first.
pub(crate) fn record(scripts: &Scripts, args: &[&str], stdin: &str) -> (Run, Vec<PathBuf>) {
    let out = scripts.path("out");
    let mut command = rewind();
    command
        .current_dir(scripts.root())
        .arg("run")
        .arg("--out")
        .arg(&out)
        .args(args);
    let run = run_with_stdin(&mut command, stdin.as_bytes());
    (run, recordings(&out))
}

pub(crate) fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "rwd"))
                .map(|path| (path.metadata().unwrap().modified().unwrap(), path))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.into_iter().map(|(_, path)| path).collect()
}

/// The recording as `rewind dump --json` gives it.
pub(crate) fn dump(path: &Path) -> Value {
    let run = crate::run(rewind().arg("dump").arg("--json").arg(path));
    assert_eq!(run.code, Some(0), "{run:?}");
    serde_json::from_str(&run.stdout).expect("dump --json prints JSON")
}

fn only(recordings: &[PathBuf], kind: &str) -> Value {
    let matching: Vec<_> = recordings
        .iter()
        .filter(|path| path.to_string_lossy().contains(kind))
        .collect();
    assert_eq!(matching.len(), 1, "one {kind} recording in {recordings:?}");
    dump(matching[0])
}

fn inputs(recording: &Value) -> &Vec<Value> {
    recording["threads"]["0"]["inputs"].as_array().unwrap()
}

fn markers(recording: &Value) -> Vec<Value> {
    recording["threads"]["0"]["markers"]
        .as_array()
        .unwrap()
        .clone()
}

fn events(recording: &Value) -> Vec<Value> {
    recording["threads"]["0"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|run| run["events"].as_array().unwrap().clone())
        .collect()
}

/// Byte data in the JSON dump: `{"text": ...}` or `{"hex": ...}`.
fn bytes(data: &Value) -> Vec<u8> {
    if let Some(text) = data["text"].as_str() {
        return text.as_bytes().to_vec();
    }
    let hex = data["hex"].as_str().unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn pairs(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn local<'a>(locals: &'a [(String, String)], name: &str) -> &'a str {
    locals
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no local {name} in {locals:?}"))
}

#[test]
fn an_unhandled_exception_records_every_frames_locals() {
    let scripts = Scripts::new();
    scripts.write(
        "crash.py",
        "def inner(n, data):\n\
         \x20   total = sum(data)\n\
         \x20   label = 'x' * 1000\n\
         \x20   return {'k': 1}[n]\n\
         def outer():\n\
         \x20   items = [1, 2, 3]\n\
         \x20   return inner('missing', items)\n\
         greeting = 'hi'\n\
         outer()\n",
    );
    let (run, files) = record(&scripts, &["crash.py"], "");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("KeyError: 'missing'"), "{run:?}");
    assert_eq!(files.len(), 1, "{run:?}");
    assert_eq!(run.recorded, files);

    let recording = dump(&files[0]);
    let crash = &recording["crashes"][0];
    assert_eq!(crash["reason"]["reason"], "unhandled");
    assert_eq!(crash["exception"]["type_name"], "KeyError");
    assert_eq!(crash["exception"]["message"], "'missing'");
    let frames = crash["frames"].as_array().unwrap();
    let names: Vec<_> = frames
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["<module>", "outer", "inner"]);
    let lines: Vec<_> = frames.iter().map(|f| f["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [9, 7, 4]);
    assert!(frames[2]["file"].as_str().unwrap().ends_with("/crash.py"));

    let module = pairs(&frames[0]["locals"]);
    assert_eq!(local(&module, "greeting"), "'hi'");
    assert!(
        module.iter().all(|(name, _)| !name.starts_with("__")),
        "{module:?}"
    );
    let outer = pairs(&frames[1]["locals"]);
    assert_eq!(local(&outer, "items"), "[1, 2, 3]");
    let inner = pairs(&frames[2]["locals"]);
    assert_eq!(local(&inner, "n"), "'missing'");
    assert_eq!(local(&inner, "data"), "[1, 2, 3]");
    assert_eq!(local(&inner, "total"), "6");
    // Long values are capped.
    let label = local(&inner, "label");
    assert_eq!(label.chars().count(), 256);
    assert!(label.ends_with("..."));

    // The script's source travels with the recording.
    let sources = recording["sources"].as_array().unwrap();
    assert!(sources.iter().any(|s| {
        s["path"].as_str().unwrap().ends_with("/crash.py")
            && s["text"]
                .as_str()
                .unwrap()
                .starts_with("def inner(n, data):")
    }));
    // Written when the run ended, so that it re-executes to the traceback
    // and the exit status.
    let markers = markers(&recording);
    let [.., crash, exit] = &markers[..] else {
        panic!("a crash and an exit marker: {markers:?}");
    };
    assert_eq!(crash["marker"], "crash");
    assert_eq!(exit["marker"], "exit");
    assert_eq!(exit["code"], 1);
}

#[test]
fn the_input_log_holds_what_the_script_read() {
    let scripts = Scripts::new();
    scripts.write("data/input.txt", "file contents\n");
    scripts.write(
        "read.py",
        "import os, sys, time, revdebug\n\
         wall = time.time()\n\
         mono = time.monotonic_ns()\n\
         noise = os.urandom(8)\n\
         line = sys.stdin.readline()\n\
         with open('data/input.txt') as f:\n\
         \x20   text = f.read()\n\
         print(repr(wall), mono, noise.hex(), repr(line), repr(text), os.environ['TOKEN'])\n\
         revdebug.snapshot('read')\n",
    );
    let (run, files) = record(
        &scripts,
        &["--env", "TOKEN=s3cret", "read.py"],
        "from stdin\n",
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let printed: Vec<&str> = run.stdout.split_whitespace().collect();
    let wall: f64 = printed[0].parse().unwrap();
    let noise = printed[2];

    let recording = only(&files, "snapshot-read");
    let inputs = inputs(&recording);
    let kinds: Vec<&str> = inputs.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(&kinds[..3], ["args", "env", "cwd"], "{kinds:?}");
    assert_eq!(
        pairs(&inputs[1]["vars"]),
        [("TOKEN".to_owned(), "s3cret".to_owned())]
    );

    let clock = inputs
        .iter()
        .filter(|i| i["kind"] == "wall-clock")
        .map(|i| i["secs"].as_f64().unwrap() + i["nanos"].as_f64().unwrap() / 1e9)
        .find(|secs| (secs - wall).abs() < 1e-6);
    assert!(clock.is_some(), "time.time() = {wall} in {inputs:?}");
    assert!(inputs.iter().any(|i| i["kind"] == "monotonic-clock"));
    let random: Vec<u8> = inputs
        .iter()
        .filter(|i| i["kind"] == "random")
        .flat_map(|i| bytes(&i["data"]))
        .collect();
    let noise: Vec<u8> = (0..noise.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&noise[i..i + 2], 16).unwrap())
        .collect();
    assert!(
        random.windows(noise.len()).any(|w| w == noise),
        "os.urandom's bytes are in the log"
    );
    let stdin: Vec<u8> = inputs
        .iter()
        .filter(|i| i["kind"] == "stdin")
        .flat_map(|i| bytes(&i["data"]))
        .collect();
    assert_eq!(stdin, b"from stdin\n");
    let file = inputs
        .iter()
        // A read that found nothing ready yet is logged too, empty.
        .find(|i| {
            i["kind"] == "file-read"
                && i["path"].as_str().unwrap().ends_with("data/input.txt")
                && !bytes(&i["data"]).is_empty()
        })
        .expect("the file read is logged");
    assert_eq!(bytes(&file["data"]), b"file contents\n");
    assert_eq!(file["offset"], 0);
}

#[test]
fn modes_are_capped_and_bad_modes_raise() {
    let scripts = Scripts::new();
    scripts.write(
        "modes.py",
        "import revdebug\n\
         print(revdebug.setrecmode(revdebug.Live))\n\
         print(revdebug.setrecmode(revdebug.Off), revdebug.getrecmode())\n\
         print(revdebug.setrecmode(revdebug.Crash))\n\
         print(revdebug.Live is revdebug.Continuous, revdebug.Crash is revdebug.OnEvent)\n\
         for bad in ('live', 3, -1, True, None, 1.0):\n\
         \x20   try:\n\
         \x20       revdebug.setrecmode(bad)\n\
         \x20   except (TypeError, ValueError) as err:\n\
         \x20       print(type(err).__name__)\n\
         revdebug.snapshot('end')\n",
    );
    let (run, files) = record(&scripts, &["--max-mode", "on-event", "modes.py"], "");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "revdebug.OnEvent\nrevdebug.Off revdebug.Off\nrevdebug.OnEvent\nTrue True\n\
         TypeError\nValueError\nValueError\nTypeError\nTypeError\nTypeError\n"
    );
    let recording = only(&files, "snapshot-end");
    let changes: Vec<(String, String)> = markers(&recording)
        .iter()
        .filter(|m| m["marker"] == "mode-change")
        .map(|m| {
            (
                m["requested"].as_str().unwrap().to_owned(),
                m["effective"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("continuous", "on-event"),
        ("off", "off"),
        ("on-event", "on-event"),
    ];
    assert_eq!(changes, expected.map(|(r, e)| (r.to_owned(), e.to_owned())));
}

#[test]
fn mode_off_writes_nothing() {
    let scripts = Scripts::new();
    scripts.write(
        "boom.py",
        "import revdebug\nrevdebug.snapshot()\nraise SystemError('x')\n",
    );
    let (run, files) = record(&scripts, &["--mode", "off", "boom.py"], "");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(files.is_empty(), "{files:?}");
    assert!(run.recorded.is_empty(), "{run:?}");
    assert!(!scripts.path("out").exists());

    // Nothing is stringified either: a local whose __repr__ never returns
    // does not hold up the crash (python3 exits 1 at once).
    scripts.write(
        "stuck.py",
        "class Stuck:\n    def __repr__(self):\n        while True:\n            pass\n\n\
         def fail(value):\n    raise ValueError('boom')\n\nfail(Stuck())\n",
    );
    let (run, files) = record(
        &scripts,
        &["--mode", "off", "--timeout", "60s", "stuck.py"],
        "",
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("ValueError: boom"), "{run:?}");
    assert!(files.is_empty(), "{files:?}");
}

/// Recording, a value's own `__repr__` runs on a budget: one that never
/// returns is interrupted, the crash is captured with the rest, and a
/// re-execution interrupts it at the same place.
#[test]
fn stringification_has_a_budget_when_recording() {
    let scripts = Scripts::new();
    scripts.write(
        "stuck.py",
        "class Stuck:\n    def __repr__(self):\n        while True:\n            pass\n\n\
         class Fine:\n    def __repr__(self):\n        return 'Fine()'\n\n\
         def fail(stuck, fine, many):\n    raise ValueError('boom')\n\n\
         fail(Stuck(), Fine(), [Stuck() for _ in range(3)] + [Stuck()] * 30)\n",
    );
    let (run, files) = record(&scripts, &["--timeout", "60s", "stuck.py"], "");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("ValueError: boom"), "{run:?}");
    let crash = only(&files, "crash");
    let frame = crash["crashes"][0]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .find(|frame| frame["function"] == "fail")
        .expect("the frame of fail")
        .clone();
    let locals: std::collections::BTreeMap<String, String> = frame["locals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let pair = pair.as_array().unwrap();
            (
                pair[0].as_str().unwrap().into(),
                pair[1].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(locals["stuck"], "<Stuck object: repr ran too long>");
    assert_eq!(locals["fine"], "Fine()");
    assert!(
        locals["many"].starts_with("[<Stuck object: repr ran too long>"),
        "{locals:?}"
    );
    let notes = crash["crashes"][0]["notes"].to_string();
    assert!(
        notes.contains("repr of Stuck interrupted after 200000 steps"),
        "{notes}"
    );
    let replayed = crate::run(crate::rewind().args(["replay", "--exec"]).arg(&files[0]));
    assert_eq!(replayed.code, Some(1), "{replayed:?}");
    assert_eq!(replayed.stderr, run.stderr, "{replayed:?}");
}

#[test]
fn snapshots_are_named_and_numbered() {
    let scripts = Scripts::new();
    scripts.write(
        "snaps.py",
        "import revdebug\n\
         print(revdebug.snapshot('first'), revdebug.snapshot(), revdebug.snapshotall())\n\
         try:\n\
         \x20   revdebug.snapshot(42)\n\
         except TypeError as err:\n\
         \x20   print('TypeError')\n",
    );
    let (run, files) = record(&scripts, &["snaps.py"], "");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "first snapshot-2 snapshot-3\nTypeError\n");
    assert_eq!(files.len(), 3, "{files:?}");
    for name in ["first", "snapshot-2", "snapshot-3"] {
        assert!(
            run.stderr
                .contains(&format!("rewind: snapshot \"{name}\" recorded in ")),
            "{run:?}"
        );
    }
    let last = only(&files, "snapshot-3");
    let snapshots: Vec<(String, bool)> = markers(&last)
        .iter()
        .filter(|m| m["marker"] == "snapshot")
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["all"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        snapshots,
        [
            ("first".to_owned(), false),
            ("snapshot-2".to_owned(), false),
            ("snapshot-3".to_owned(), true)
        ]
    );
    // Markers count up, each after the inputs received before it.
    let seqs: Vec<u64> = markers(&last)
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert!(last["end"].is_object() && last["cut"].is_null());
}

#[test]
fn clear_block_and_rules_are_markers() {
    let scripts = Scripts::new();
    scripts.write("lib/helper.py", "def help():\n    return 1\n");
    scripts.write(
        "control.py",
        "import revdebug, os\n\
         revdebug.clear()\n\
         revdebug.clearall(False)\n\
         a = revdebug.block()\n\
         b = revdebug.block(clear=True)\n\
         print(a == b)\n\
         revdebug.flush()\n\
         @revdebug.norecord\n\
         def quiet():\n\
         \x20   pass\n\
         revdebug.norecord('lib')\n\
         revdebug.setrecord(quiet, True)\n\
         print(revdebug.record(quiet) is quiet)\n\
         for bad in (3, object()):\n\
         \x20   try:\n\
         \x20       revdebug.record(bad)\n\
         \x20   except TypeError:\n\
         \x20       print('TypeError')\n\
         revdebug.snapshot('s')\n",
    );
    let (run, files) = record(&scripts, &["control.py"], "");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "True\nTrue\nTypeError\nTypeError\n");
    let recording = only(&files, "snapshot-s");
    let markers = markers(&recording);
    let kinds: Vec<&str> = markers
        .iter()
        .map(|m| m["marker"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "clear", "clear", "block", "block", "flush", "rule", "rule", "rule", "rule", "snapshot"
        ]
    );
    assert_eq!(
        (markers[0]["all"].clone(), markers[0]["flush"].clone()),
        (false.into(), true.into())
    );
    assert_eq!(
        (markers[1]["all"].clone(), markers[1]["flush"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(markers[2]["block"], markers[3]["block"]);
    assert_eq!(
        markers[2]["clear"], false,
        "a new block has nothing to clear"
    );
    assert_eq!(markers[3]["clear"], true);
    let root = scripts.root();
    // As in CPython, a decorated function starts at its first decorator.
    let quiet = format!("function:{}:8:quiet", root.join("control.py").display());
    let rules: Vec<(String, bool)> = markers[5..9]
        .iter()
        .map(|m| {
            (
                m["target"].as_str().unwrap().to_owned(),
                m["record"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            (quiet.clone(), false),
            (format!("path:{}", root.join("lib").display()), false),
            (quiet.clone(), true),
            (quiet, true),
        ]
    );
}

#[test]
fn trace_records_arguments_locals_and_returns() {
    let scripts = Scripts::new();
    scripts.write(
        "traced.py",
        "import revdebug\n\
         def add(a, b=10, *rest, **named):\n\
         \x20   c = a + b\n\
         \x20   c = c * 2\n\
         \x20   return c\n\
         def fails():\n\
         \x20   try:\n\
         \x20       raise ValueError('bad')\n\
         \x20   except ValueError:\n\
         \x20       return 'caught'\n\
         total = add(1, 2)\n\
         fails()\n\
         revdebug.snapshot('done')\n",
    );
    let (run, files) = record(&scripts, &["--trace", "traced.py"], "");
    assert_eq!(run.code, Some(0), "{run:?}");
    let recording = only(&files, "snapshot-done");
    assert!(
        recording["header"]["settings"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["trace", "true"]))
    );
    let events = events(&recording);
    let call = events
        .iter()
        .position(|e| e["event"] == "call" && e["function"] == "add")
        .expect("a call event for add");
    assert_eq!(events[call]["line"], 2);
    assert_eq!(
        pairs(&events[call]["args"]),
        [("a", "1"), ("b", "2"), ("rest", "()"), ("named", "{}")]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    let body: Vec<&Value> = events[call + 1..call + 5].iter().collect();
    assert_eq!(body[0]["line"], 3);
    assert_eq!(body[1]["line"], 4);
    assert_eq!(
        pairs(&body[1]["changed"]),
        [("c".to_owned(), "3".to_owned())]
    );
    assert_eq!(body[2]["line"], 5);
    assert_eq!(
        pairs(&body[2]["changed"]),
        [("c".to_owned(), "6".to_owned())]
    );
    assert_eq!(body[3]["event"], "return");
    assert_eq!(body[3]["value"], "6");

    let stages: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "exception")
        .map(|e| {
            (
                e["stage"].as_str().unwrap(),
                e["type_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(stages, [("raised", "ValueError"), ("caught", "ValueError")]);
    // The module's own locals change too.
    assert!(events.iter().any(|e| e["event"] == "line"
        && pairs(&e["changed"]).contains(&("total".to_owned(), "6".to_owned()))));
    // The standard library is not traced by default.
    assert!(
        events
            .iter()
            .all(|e| e["event"] != "call" || e["file"].as_str().unwrap().ends_with("/traced.py"))
    );
}

#[test]
fn record_and_norecord_choose_what_is_traced() {
    let scripts = Scripts::new();
    scripts.write("lib/helper.py", "def help(x):\n    return x + 1\n");
    scripts.write(
        "select.py",
        "import revdebug\n\
         revdebug.norecord('lib')\n\
         import lib.helper as helper\n\
         @revdebug.norecord\n\
         def hidden():\n\
         \x20   return 1\n\
         class Shown:\n\
         \x20   def method(self):\n\
         \x20       return 2\n\
         revdebug.norecord(Shown)\n\
         revdebug.record(Shown.method)\n\
         def seen():\n\
         \x20   return helper.help(hidden())\n\
         seen()\n\
         Shown().method()\n\
         revdebug.record(helper)\n\
         helper.help(5)\n\
         revdebug.snapshot('s')\n",
    );
    let (run, files) = record(&scripts, &["--trace", "select.py"], "");
    assert_eq!(run.code, Some(0), "{run:?}");
    let recording = only(&files, "snapshot-s");
    let calls: Vec<(String, String)> = events(&recording)
        .iter()
        .filter(|e| e["event"] == "call")
        .map(|e| {
            let file = e["file"].as_str().unwrap();
            let file = file.rsplit('/').next().unwrap().to_owned();
            (e["function"].as_str().unwrap().to_owned(), file)
        })
        .collect();
    let expected = [
        ("<module>", "select.py"),
        ("Shown", "select.py"),
        ("seen", "select.py"),
        ("Shown.method", "select.py"),
        ("help", "helper.py"),
    ];
    assert_eq!(calls, expected.map(|(f, p)| (f.to_owned(), p.to_owned())));
}

#[test]
fn recrepr_stringifies_by_type_and_survives_a_raising_one() {
    let scripts = Scripts::new();
    scripts.write(
        "reprs.py",
        "import revdebug\n\
         class Point:\n\
         \x20   def __init__(self, x): self.x = x\n\
         class Broken:\n\
         \x20   pass\n\
         def bad(obj):\n\
         \x20   raise ValueError('no')\n\
         print(revdebug.recrepr(int, lambda i: 'int:%d' % i))\n\
         print(revdebug.recrepr(Point, lambda p: 'Point(%r)' % p.x))\n\
         previous = revdebug.recrepr(Point, lambda p: 'P<%r>' % p.x)\n\
         print(previous(Point(1)))\n\
         revdebug.recrepr(Broken, bad)\n\
         try:\n\
         \x20   revdebug.recrepr('int', str)\n\
         except TypeError:\n\
         \x20   print('TypeError')\n\
         def crash(point, count, broken, nested):\n\
         \x20   raise RuntimeError('end')\n\
         crash(Point(3), 7, Broken(), [Point(4)])\n",
    );
    let (run, files) = record(&scripts, &["reprs.py"], "");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "None\nNone\nPoint(1)\nTypeError\n");
    let recording = only(&files, "crash");
    let crash = &recording["crashes"][0];
    let frame = crash["frames"].as_array().unwrap().last().unwrap();
    let locals = pairs(&frame["locals"]);
    assert_eq!(local(&locals, "point"), "P<3>");
    assert_eq!(local(&locals, "count"), "int:7");
    assert_eq!(local(&locals, "nested"), "[P<4>]");
    assert!(local(&locals, "broken").starts_with("<__main__.Broken object at"));
    let notes: Vec<&str> = crash["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.contains(&"recrepr for Broken raised ValueError: no"),
        "{notes:?}"
    );
}

#[test]
fn revdebug_exception_records_without_stopping_the_script() {
    let scripts = Scripts::new();
    scripts.write(
        "report.py",
        "import revdebug, sys\n\
         def work(items):\n\
         \x20   return items['k']\n\
         for form in range(3):\n\
         \x20   try:\n\
         \x20       work({'n': form})\n\
         \x20   except KeyError as err:\n\
         \x20       if form == 0: path = revdebug.exception()\n\
         \x20       elif form == 1: path = revdebug.exception(err)\n\
         \x20       else: path = revdebug.exception(*sys.exc_info())\n\
         \x20       print(path.endswith('.rwd'))\n\
         try:\n\
         \x20   revdebug.exception()\n\
         except RuntimeError:\n\
         \x20   print('outside')\n\
         print('still running')\n",
    );
    let (run, files) = record(&scripts, &["report.py"], "");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "True\nTrue\nTrue\noutside\nstill running\n");
    assert_eq!(files.len(), 3, "{files:?}");
    let last = dump(files.last().unwrap());
    let crashes = last["crashes"].as_array().unwrap();
    assert_eq!(crashes.len(), 3);
    for crash in crashes {
        assert_eq!(crash["reason"]["reason"], "reported");
        assert_eq!(crash["exception"]["type_name"], "KeyError");
        let frames = crash["frames"].as_array().unwrap();
        assert_eq!(frames.last().unwrap()["function"], "work");
        assert_eq!(pairs(&frames.last().unwrap()["locals"])[0].0, "items");
    }
}

#[test]
fn a_guest_stopped_by_a_limit_leaves_a_recording() {
    let scripts = Scripts::new();
    scripts.write(
        "hungry.py",
        "import time\nstarted = time.time()\ndata = []\nwhile True:\n    data.append(bytearray(1 << 20))\n",
    );
    let (run, files) = record(&scripts, &["--max-memory", "64MiB", "hungry.py"], "");
    assert_eq!(run.code, Some(125), "{run:?}");
    assert_eq!(run.stderr, "rewind: memory limit of 64 MiB exceeded\n");
    assert_eq!(run.recorded, files);
    let recording = dump(&files[0]);
    let crash = &recording["crashes"][0];
    assert_eq!(crash["reason"]["reason"], "limit");
    assert!(
        crash["reason"]["detail"]
            .as_str()
            .unwrap()
            .contains("memory limit of 64 MiB")
    );
    // What the host could still read: the wasm frames, down to the allocator.
    let frames: Vec<&str> = crash["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    let interpreter = match crate::guest() {
        crate::Guest::RustPython => "rustpython_vm",
        crate::Guest::CPython => "_PyEval_EvalFrameDefault",
    };
    assert!(frames.iter().any(|f| f.contains(interpreter)), "{frames:?}");
    // The inputs before the crash are all there, for re-execution.
    assert!(inputs(&recording).iter().any(|i| i["kind"] == "wall-clock"));
}

#[test]
fn a_truncated_recording_still_opens() {
    let scripts = Scripts::new();
    scripts.write(
        "cut.py",
        "import revdebug\nx = [1, 2]\nraise ValueError(x)\n",
    );
    let (_, files) = record(&scripts, &["cut.py"], "");
    let whole = std::fs::read(&files[0]).unwrap();
    let cut = scripts.path("cut.rwd");
    // Into the middle of the last chunk.
    std::fs::write(&cut, &whole[..whole.len() - 3]).unwrap();
    let run = crate::run(rewind().arg("dump").arg(&cut));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("cut at offset"), "{run:?}");
    let recording = dump(&cut);
    assert!(recording["cut"]["offset"].as_u64().unwrap() > 0);
    assert!(recording["end"].is_null());
}

#[test]
fn continuous_mode_streams_a_recording_that_survives_a_kill() {
    let scripts = Scripts::new();
    scripts.write(
        "live.py",
        "import revdebug, time, sys\n\
         print(revdebug.getrecmode(), flush=True)\n\
         stamp = time.time()\n\
         revdebug.flush()\n\
         time.sleep(60)\n",
    );
    let out = scripts.path("out");
    let mut child = rewind()
        .current_dir(scripts.root())
        .args(["run", "--mode", "continuous", "--out"])
        .arg(&out)
        .arg("live.py")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the flush marker is in the stream, then kill rewind hard.
    let deadline = Instant::now() + Duration::from_secs(60);
    let stream = loop {
        assert!(Instant::now() < deadline, "the stream never got the flush");
        if let Some(stream) = recordings(&out).pop() {
            let run = crate::run(rewind().arg("dump").arg("--json").arg(&stream));
            let flushed = run.code == Some(0)
                && serde_json::from_str::<Value>(&run.stdout).is_ok_and(|recording| {
                    markers(&recording).iter().any(|m| m["marker"] == "flush")
                });
            if flushed {
                break stream;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "revdebug.Continuous\n"
    );
    assert!(stream.to_string_lossy().ends_with("-stream.rwd"));

    let recording = dump(&stream);
    assert_eq!(recording["header"]["mode"], "continuous");
    assert!(recording["end"].is_null(), "a killed stream has no end");
    let kinds: Vec<String> = markers(&recording)
        .iter()
        .map(|m| m["marker"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["flush"]);
    assert!(inputs(&recording).iter().any(|i| i["kind"] == "wall-clock"));
    // Every prefix that ends on a chunk boundary is a recording too: cut it
    // anywhere and it still opens.
    let bytes = std::fs::read(&stream).unwrap();
    // (The header chunk must be whole: it follows the 10-byte preamble.)
    let header_len = u32::from_le_bytes(bytes[11..15].try_into().unwrap()) as usize;
    let after_header = 10 + 5 + header_len + 4;
    for len in (after_header..bytes.len()).step_by(bytes.len() / 7 + 1) {
        let cut = scripts.path("prefix.rwd");
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let run = crate::run(rewind().arg("dump").arg(&cut));
        assert_eq!(run.code, Some(0), "prefix of {len} bytes: {run:?}");
    }
}

#[test]
fn continuous_mode_ends_the_stream_at_exit() {
    let scripts = Scripts::new();
    scripts.write("done.py", "import sys\nsys.exit(3)\n");
    let (run, files) = record(&scripts, &["--mode", "live", "done.py"], "");
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(files.len(), 1);
    assert!(run.stderr.contains("rewind: recording live to "), "{run:?}");
    let recording = dump(&files[0]);
    assert_eq!(recording["end"]["exit_code"], 3);
    assert_eq!(markers(&recording).last().unwrap()["marker"], "exit");
    assert!(recording["cut"].is_null());
}

#[test]
fn bad_recording_flags_are_usage_errors() {
    for args in [
        &["--mode", "sometimes"][..],
        &["--max-mode", "x"][..],
        &["--buffer-events", "0"][..],
        &["--buffer-events", "many"][..],
    ] {
        let run = crate::run(rewind().arg("run").args(args).args(["-c", "pass"]));
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {run:?}");
        assert!(run.stderr.starts_with("rewind: "), "{run:?}");
    }
}

/// The input log is bounded by the run's --max-memory: a guest that reads
/// more than it may hold (random bytes it throws away) goes on, and the
/// recorder says where it stopped logging.
#[test]
fn the_input_log_is_bounded_by_max_memory() {
    let scripts = Scripts::new();
    scripts.write(
        "noise.py",
        "import os\nfor _ in range(1200):\n    os.urandom(1 << 16)\nprint('done')\n",
    );
    let (run, files) = record(
        &scripts,
        &["--max-memory", "64MiB", "--mode", "continuous", "noise.py"],
        "",
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "done\n");
    assert_eq!(
        run.stderr.matches("the recording passed 64 MiB").count(),
        1,
        "{}",
        run.stderr
    );
    // The log says where it stops (read directly: as JSON, 64 MiB of random
    // bytes is a lot of hex).
    let bytes = std::fs::read(&files[0]).unwrap();
    let recording = rewind_format::Recording::read(&bytes).unwrap();
    let last = recording.threads[&0].inputs.last().cloned();
    assert!(
        matches!(&last, Some(rewind_format::model::Input::Other { name, .. }) if name == "log-truncated"),
        "{last:?}"
    );
    assert!(bytes.len() < 80 << 20, "{} bytes", bytes.len());
}

/// Snapshot names are cut where they cross WIT, and a snapshot loop stops
/// writing files at its limit, said once: the run goes on.
#[test]
fn huge_snapshot_names_in_a_loop_are_bounded() {
    let scripts = Scripts::new();
    scripts.write(
        "names.py",
        "import revdebug\nfor i in range(120):\n    revdebug.snapshot('x' * 10**7)\nprint('done')\n",
    );
    // The guest needs room for a name of 10 MB, and its copy for the call.
    let (run, files) = record(&scripts, &["--max-memory", "256MiB", "names.py"], "");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "done\n");
    assert_eq!(
        run.stderr.matches("100 recordings written").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(files.len(), 100);
    // What was recorded stays readable, with the name cut to 4 KiB.
    let recording = dump(files.last().unwrap());
    let names: Vec<String> = markers(&recording)
        .iter()
        .filter(|marker| marker["marker"] == "snapshot")
        .map(|marker| marker["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 100, "{names:?}");
    assert_eq!(names[0].len(), 4096);
    assert!(names[0].ends_with("x..."));
}

/// Everything the guest makes the host keep counts against one budget, tied
/// to --max-memory: markers with names that do not repeat reach it, the
/// recorder says so once, and what came before stays readable.
#[test]
fn markers_count_against_the_recording_budget() {
    let scripts = Scripts::new();
    scripts.write(
        "markers.py",
        "import revdebug\npad = 'y' * 5000\nfor i in range(20000):\n    revdebug.snapshot('%08d' % i + pad)\nraise ValueError('boom')\n",
    );
    let (run, files) = record(
        &scripts,
        &[
            "--max-memory",
            "64MiB",
            "--mode",
            "continuous",
            "markers.py",
        ],
        "",
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("ValueError: boom"), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("the recording passed 64 MiB").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.matches("rewind: recording failed").count(), 1);
    assert_eq!(files.len(), 1, "{files:?}");
    let size = std::fs::metadata(&files[0]).unwrap().len();
    assert!(size < 80 << 20, "{size} bytes");
    let recording = dump(&files[0]);
    assert!(recording["cut"].is_null());
    let snapshots = markers(&recording)
        .iter()
        .filter(|marker| marker["marker"] == "snapshot")
        .count();
    assert!((1000..20000).contains(&snapshots), "{snapshots} snapshots");
    let last = inputs(&recording).last().cloned().unwrap();
    assert_eq!(last["name"], "log-truncated", "{last}");
}

/// A CPython guest's recording says how much slower its tracer may make a
/// re-execution, and re-execution's derived time bound allows for it, so
/// that opening a long run's crash is not cut at ten times the run.
#[test]
fn a_cpython_recording_allows_for_its_slower_tracer() {
    for (python, guest_name, slowdown) in [
        ("cpython", "cpython", Some("500")),
        ("rustpython", "python", None),
    ] {
        let scripts = Scripts::new();
        scripts.write("boom.py", "raise ValueError('boom')\n");
        let (run, files) = record(&scripts, &["--python", python, "boom.py"], "");
        assert_eq!(run.code, Some(1), "{python}: {run:?}");
        let recording = only(&files, "crash");
        let settings = recording["header"]["settings"].as_array().unwrap();
        let found = settings
            .iter()
            .find(|pair| pair[0] == "tracing-slowdown")
            .map(|pair| pair[1].as_str().unwrap());
        assert_eq!(found, slowdown, "{python}: {settings:?}");
        assert_eq!(recording["header"]["guest_name"], guest_name, "{python}");
    }
}

/// The CPython guest's tracer uses `sys.monitoring` under an id of its own:
/// a program that takes the debugger's or coverage's id itself runs the
/// same traced as untraced.
#[test]
fn a_program_using_sys_monitoring_runs_alike_traced_on_cpython() {
    let scripts = Scripts::new();
    scripts.write(
        "own.py",
        "import sys\n\
         m = sys.monitoring\n\
         for tool in (m.DEBUGGER_ID, m.COVERAGE_ID, m.PROFILER_ID):\n\
         \x20   m.use_tool_id(tool, 'mine')\n\
         seen = []\n\
         m.register_callback(m.DEBUGGER_ID, m.events.PY_START, lambda code, offset: seen.append(code.co_name))\n\
         m.set_events(m.DEBUGGER_ID, m.events.PY_START)\n\
         def f():\n\
         \x20   return 1\n\
         f()\n\
         m.set_events(m.DEBUGGER_ID, 0)\n\
         print('mine', seen)\n",
    );
    for trace in [false, true] {
        let mut args = vec!["--python", "cpython"];
        if trace {
            args.push("--trace");
        }
        args.push("own.py");
        let (run, _) = record(&scripts, &args, "");
        assert_eq!(run.code, Some(0), "traced: {trace}: {run:?}");
        assert_eq!(run.stdout, "mine ['f']\n", "traced: {trace}");
    }
}
