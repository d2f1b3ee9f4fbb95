//! The example host, run as a user runs it, on the example guest
//! (`examples/rust-guest`, built by `rewind-guests`).

use std::path::{Path, PathBuf};
use std::process::Command;

use rewind_runtime::format::Recording;
use rewind_runtime::format::model::Event;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn host(out: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_rewind-example-host"))
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("the example host runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn guest() -> &'static str {
    rewind_guests::EXAMPLE_GUEST_WASM
}

fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the output directory exists")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    files
}

fn events(path: &Path) -> Vec<Event> {
    let recording = Recording::read(&std::fs::read(path).expect("the recording is readable"))
        .expect("the recording reads");
    recording.threads[&0]
        .events
        .iter()
        .flat_map(|run| run.events.clone())
        .collect()
}

#[test]
fn the_host_records_the_guests_events_prints_them_and_re_executes_them() {
    let out = tempfile::tempdir().unwrap();
    let run = host(out.path(), &["--events", "1000", "--check", guest()]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr,
        "rewind-example-host: the guest exited with status 0\n"
    );
    // The guest's own output, then the snapshot it took, event by event.
    assert!(
        run.stdout
            .starts_with("total = 7\nsnapshot after-fib\nrecording "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(": on-event, guest rewind-example-guest (sha256:")
    );
    assert!(
        run.stdout
            .contains("\nthread 0: 4 inputs, 1 markers, 44 events\n")
    );
    assert!(run.stdout.contains("\n  call main() at "), "{}", run.stdout);
    assert!(
        run.stdout.contains("\n    call fib(n=0) at "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\n      call fib(n=1) at "),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("call fib(").count(), 19);
    assert!(run.stdout.contains(": n=4 total=7\n"), "{}", run.stdout);
    assert!(run.stdout.contains("\n    return 3\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("re-executed: the recording ends at the guest's snapshot \"after-fib\"\n"),
        "{}",
        run.stdout
    );

    // What it printed is what the file holds.
    let [snapshot] = recordings(out.path())
        .try_into()
        .unwrap_or_else(|files| panic!("one recording, not {files:?}"));
    let events = events(&snapshot);
    assert_eq!(events.len(), 44);
    let calls: Vec<(&str, &[(String, String)])> = events
        .iter()
        .filter_map(|event| match event {
            Event::Call { function, args, .. } => Some((function.as_str(), &args[..])),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 20);
    assert_eq!(calls[0], ("main", &[][..]));
    assert_eq!(calls[1], ("fib", &[("n".to_owned(), "0".to_owned())][..]));
}

#[test]
fn a_panic_is_one_crash_in_the_stream_and_re_executes_as_recorded() {
    let out = tempfile::tempdir().unwrap();
    let run = host(
        out.path(),
        &["--mode", "continuous", "--check", guest(), "--panic"],
    );
    assert_eq!(run.code, Some(70), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("index out of bounds: the len is 0 but the index is 7"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("rewind-example-host: the guest crashed: wasm trap: wasm `unreachable` instruction executed\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains(": continuous, guest rewind-example-guest")
    );
    // The panic hook's capture is the only crash: the abort's trap after it
    // adds none.
    assert_eq!(
        run.stdout.matches("\ncrash in thread").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "\ncrash in thread 0: panic: index out of bounds: the len is 0 but the index is 7\n  at main ("
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("exception (Unhandled) panic: index out of bounds")
    );
    assert!(
        run.stdout.ends_with(
            "re-executed: the guest crashed: wasm trap: wasm `unreachable` instruction executed, as recorded\n"
        ),
        "{}",
        run.stdout
    );
    let [stream] = recordings(out.path())
        .try_into()
        .unwrap_or_else(|files| panic!("one stream, not {files:?}"));
    assert!(stream.to_string_lossy().ends_with("-stream.rwd"));
    let recording = Recording::read(&std::fs::read(&stream).unwrap()).unwrap();
    assert_eq!(recording.crashes.len(), 1);
    assert!(recording.end.is_some(), "the stream is closed");
}

#[test]
fn off_writes_nothing_and_says_so() {
    let out = tempfile::tempdir().unwrap();
    let run = host(out.path(), &["--mode", "off", guest()]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .ends_with("no recording was written (mode off)\n")
    );
    assert!(!out.path().exists() || recordings(out.path()).is_empty());
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wasm");
    let run = host(dir.path(), &[missing.to_str().unwrap()]);
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("rewind-example-host: cannot read "));

    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "not wasm").unwrap();
    let run = host(dir.path(), &[text.to_str().unwrap()]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.starts_with("rewind-example-host: ")
            && run.stderr.contains("is not a WebAssembly component"),
        "{}",
        run.stderr
    );

    let run = host(dir.path(), &["--mode", "sometimes", guest()]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("\"sometimes\" is not a recording mode"));
}
