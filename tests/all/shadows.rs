//! Every WASI function whose answer comes from outside the guest reaches the
//! recorder: logged when the guest is recorded, answered from the log when
//! it is re-executed — whichever WASI 0.2 version the guest was built
//! against. The test app's `--every-input` mode calls each such function.

use std::collections::BTreeSet;

use rewind_format::Recording;
use rewind_format::model::Input;
use rewind_runtime::{ComponentCache, ComponentSource, Runtime};
use wasmtime::component::types::ComponentItem;

use crate::{Scripts, rewind, rewind_run};

/// The interfaces whose answers come from outside the guest.
const INPUT_INTERFACES: [&str; 3] = ["wasi:filesystem/", "wasi:random/", "wasi:clocks/"];

/// The functions of the input interfaces `source` imports, as `INTERFACE
/// FUNCTION` with the interface's version left out.
fn input_imports(runtime: &Runtime, source: &ComponentSource) -> BTreeSet<String> {
    let cache = ComponentCache::new(crate::shared_cache_dir());
    let component = cache
        .load_or_compile(runtime.engine(), source, &mut |_| {})
        .expect("the guest compiles");
    let engine = runtime.engine();
    let mut functions = BTreeSet::new();
    for (name, item) in component.component_type().imports(engine) {
        let interface = name.split('@').next().unwrap_or(name);
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !INPUT_INTERFACES
            .iter()
            .any(|prefix| interface.starts_with(prefix))
        {
            continue;
        }
        for (function, item) in instance.exports(engine) {
            if matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                functions.insert(format!("{interface} {function}"));
            }
        }
    }
    functions
}

fn component_file(name: &str, path: &str) -> ComponentSource {
    ComponentSource::from_bytes(name, std::fs::read(path).expect("the guest is built"))
}

/// Whether `inputs` has what a call of `call` (`INTERFACE FUNCTION`) logs.
fn logged(call: &str, inputs: &[Input]) -> bool {
    let (interface, function) = call.split_once(' ').unwrap();
    // `[method]descriptor.stat-at` is logged as `stat-at`.
    let op = function.rsplit('.').next().unwrap();
    let any = |wanted: &dyn Fn(&Input) -> bool| inputs.iter().any(wanted);
    let other =
        |name: &str| any(&|input| matches!(input, Input::Other { name: n, .. } if n == name));
    match (interface, op) {
        ("wasi:filesystem/types" | "wasi:filesystem/preopens", op) => {
            any(&|input| matches!(input, Input::Fs { op: o, .. } if o == op))
        }
        ("wasi:clocks/wall-clock", "now") => any(&|input| matches!(input, Input::WallClock { .. })),
        ("wasi:clocks/wall-clock", "resolution") => other("wall-clock-resolution"),
        ("wasi:clocks/monotonic-clock", "now" | "subscribe-instant") => {
            any(&|input| matches!(input, Input::MonotonicClock { .. }))
        }
        ("wasi:clocks/monotonic-clock", "resolution") => other("monotonic-clock-resolution"),
        // A timer of a duration reads no clock: re-execution makes it ready.
        ("wasi:clocks/monotonic-clock", "subscribe-duration") => true,
        ("wasi:random/random", _) => any(&|input| matches!(input, Input::Random { .. })),
        ("wasi:random/insecure", _) => any(&|input| matches!(input, Input::InsecureRandom { .. })),
        // The seed is fixed when the guest starts, and logged then.
        ("wasi:random/insecure-seed", _) => other("insecure-seed"),
        _ => panic!("no rule for {call}: is it an input the recorder misses?"),
    }
}

#[test]
fn every_input_a_guest_can_ask_for_is_logged_and_answered_from_the_log() {
    let scripts = Scripts::new();
    let wasm = scripts.path("testapp.wasm");
    std::fs::copy(rewind_guests::TESTAPP_WASM, &wasm).unwrap();
    let dir = scripts.path("probe");
    std::fs::create_dir(&dir).unwrap();
    let out = scripts.path("recordings");
    let grant = format!("{}::/probe", dir.display());
    let recorded = rewind_run([
        "--mode",
        "continuous",
        "--out",
        out.to_str().unwrap(),
        "--dir-rw",
        &grant,
        wasm.to_str().unwrap(),
        "--every-input",
        "/probe",
    ]);
    assert_eq!(recorded.code, Some(0), "{recorded:?}");
    let calls: BTreeSet<String> = recorded
        .stdout
        .lines()
        .filter(|line| line.starts_with("wasi:"))
        .filter_map(|line| Some(line.split_once(": ")?.0.to_owned()))
        .collect();
    assert!(calls.len() > 30, "{}", recorded.stdout);

    // The probe calls every such function any guest imports, the Python
    // guest's through Rust's standard library (WASI 0.2.0) included.
    crate::rewind();
    let runtime = Runtime::new().unwrap();
    let python = rewind_guests::PYTHON;
    let guests = [
        ComponentSource::with_digest(python.name, python.wasm, python.digest),
        component_file("testapp", rewind_guests::TESTAPP_WASM),
        component_file("example", rewind_guests::EXAMPLE_GUEST_WASM),
    ];
    for guest in &guests {
        let imports = input_imports(&runtime, guest);
        assert!(!imports.is_empty(), "{} imports no input", guest.name());
        let missed: Vec<&String> = imports.difference(&calls).collect();
        assert!(
            missed.is_empty(),
            "{} imports {missed:?}, which the probe does not call",
            guest.name()
        );
    }

    // Each call was logged...
    let streams: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let [stream] = &streams[..] else {
        panic!("one stream in {streams:?}");
    };
    let recording = Recording::read(&std::fs::read(stream).unwrap()).unwrap();
    let inputs = &recording.threads[&0].inputs;
    for call in &calls {
        assert!(logged(call, inputs), "{call} left nothing in the log");
    }

    // ...and re-execution answers it from the log alone: the directory the
    // run wrote in is gone, and the output is the same.
    std::fs::remove_dir_all(&dir).unwrap();
    let replayed = crate::run(rewind().args(["replay", "--exec"]).arg(stream));
    assert_eq!(replayed.stderr, "", "{replayed:?}");
    assert_eq!(replayed.code, Some(0), "{replayed:?}");
    assert_eq!(replayed.stdout, recorded.stdout);
}
