//! The recorder on its own: modes, buffers, streams and files, without a guest.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rewind_format::Recording;
use rewind_format::model::{Crash, CrashReason, Event, Input, MarkerKind, Mode};

use super::files::file_safe;
use super::output::MAX_FILES;
use super::{Recorder, RecorderEvent, RecordingConfig, ThreadEnd, Written};

fn config(dir: &Path, mode: Mode, max_mode: Mode) -> RecordingConfig {
    RecordingConfig {
        mode,
        max_mode,
        buffer_events: 3,
        trace: true,
        out_dir: dir.to_owned(),
        name: "test".to_owned(),
        guest_name: "guest".to_owned(),
        guest_digest: "sha256:00".to_owned(),
        settings: vec![("hash-seed".to_owned(), "0".to_owned())],
        max_bytes: 1 << 30,
        per_request_files: false,
    }
}

fn recorder(dir: &Path, mode: Mode, max_mode: Mode) -> (Recorder, Arc<Mutex<Vec<RecorderEvent>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let recorder = Recorder::new(config(dir, mode, max_mode), move |event| {
        if !matches!(event, RecorderEvent::Flushed { .. }) {
            sink.lock().unwrap().push(event.clone())
        }
    });
    (recorder, heard)
}

fn read(path: &Path) -> Recording {
    Recording::read(&std::fs::read(path).unwrap()).unwrap()
}

fn line(n: u32) -> Event {
    Event::Line {
        line: n,
        changed: Vec::new(),
    }
}

#[test]
fn a_snapshot_holds_the_log_and_the_last_events() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = recorder(dir.path(), Mode::OnEvent, Mode::Continuous);
    let thread = recorder.thread();
    thread.input(Input::MonotonicClock { nanos: 7 });
    thread.events((1..=5).map(line).collect());
    assert_eq!(thread.snapshot(None, false), "snapshot-1");
    thread.input(Input::MonotonicClock { nanos: 8 });

    let heard = heard.lock().unwrap();
    let [RecorderEvent::Written { path, what }] = &heard[..] else {
        panic!("{heard:?}");
    };
    assert_eq!(*what, Written::Snapshot("snapshot-1".to_owned()));
    let recording = read(path);
    assert!(recording.cut.is_none() && recording.end.is_some());
    let log = &recording.threads[&0];
    assert_eq!(log.inputs, [Input::MonotonicClock { nanos: 7 }]);
    assert_eq!(log.markers[0].input_pos, 1);
    // The ring kept the last three events, numbered as in the run.
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.events[0].first, 2);
    assert_eq!(log.events[0].events, [line(3), line(4), line(5)]);
}

#[test]
fn modes_are_capped_and_off_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::OnEvent);
    assert_eq!(recorder.mode(), Mode::OnEvent);
    let thread = recorder.thread();
    assert_eq!(thread.set_mode(Mode::Continuous), Mode::OnEvent);
    assert_eq!(thread.set_mode(Mode::Off), Mode::Off);
    thread.snapshot(Some("quiet".to_owned()), false);
    assert!(thread.crash(crash()).is_none());
    assert!(heard.lock().unwrap().is_empty());
}

fn crash() -> Crash {
    Crash {
        id: 0,
        thread: 0,
        reason: CrashReason::Reported,
        exception: None,
        frames: Vec::new(),
        notes: Vec::new(),
    }
}

#[test]
fn a_run_that_starts_off_says_its_log_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, _) = recorder(dir.path(), Mode::Off, Mode::Continuous);
    let thread = recorder.thread();
    thread.input(Input::MonotonicClock { nanos: 1 });
    thread.set_mode(Mode::OnEvent);
    thread.input(Input::MonotonicClock { nanos: 2 });
    let path = thread.crash(crash()).unwrap();
    let recording = read(&path);
    assert!(
        recording
            .header
            .settings
            .contains(&("log-complete".to_owned(), "false".to_owned()))
    );
    assert_eq!(
        recording.threads[&0].inputs,
        [Input::MonotonicClock { nanos: 2 }]
    );
}

#[test]
fn a_continuous_stream_ends_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::Continuous);
    let thread = recorder.thread();
    thread.input(Input::WallClock { secs: 1, nanos: 2 });
    thread.events(vec![line(1)]);
    thread.flush();
    thread.end(ThreadEnd::Exited(4));
    let heard = heard.lock().unwrap();
    let [RecorderEvent::Written { path, .. }] = &heard[..] else {
        panic!("{heard:?}");
    };
    let recording = read(path);
    assert_eq!(recording.end.unwrap().exit_code, Some(4));
    let log = &recording.threads[&0];
    assert_eq!(log.inputs.len(), 1);
    assert_eq!(log.events[0].events, [line(1)]);
    let kinds: Vec<_> = log.markers.iter().map(|m| m.kind.clone()).collect();
    assert_eq!(kinds, [MarkerKind::Flush, MarkerKind::Exit { code: 4 }]);
}

#[test]
fn a_stream_gets_every_source_the_guest_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::Continuous);
    let thread = recorder.thread();
    thread.file_read("/app/main.py", 0, b"import lib\n");
    thread.flush();
    // Sorts before the source already sent.
    thread.file_read("/app/lib.py", 0, b"x = 1\n");
    thread.flush();
    // Read further after it was sent: sent again, and the reader keeps
    // the whole.
    thread.file_read("/app/lib.py", 6, b"y = 2\n");
    thread.flush();
    thread.end(ThreadEnd::Exited(0));
    let heard = heard.lock().unwrap();
    let [RecorderEvent::Written { path, .. }] = &heard[..] else {
        panic!("{heard:?}");
    };
    let sources: Vec<(String, String)> = read(path)
        .sources
        .into_iter()
        .map(|source| (source.path, source.text))
        .collect();
    assert_eq!(
        sources,
        [
            ("/app/main.py".to_owned(), "import lib\n".to_owned()),
            ("/app/lib.py".to_owned(), "x = 1\ny = 2\n".to_owned()),
        ]
    );
}

#[test]
fn a_snapshot_loop_cannot_fill_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = recorder(dir.path(), Mode::OnEvent, Mode::OnEvent);
    let thread = recorder.thread();
    for _ in 0..MAX_FILES + 5 {
        thread.snapshot(None, false);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), MAX_FILES);
    let failures = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|event| matches!(event, RecorderEvent::Failed(_)))
        .count();
    assert_eq!(failures, 1);
}

#[test]
fn clear_without_flush_leaves_a_hole_in_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = recorder(dir.path(), Mode::Continuous, Mode::Continuous);
    let thread = recorder.thread();
    thread.events(vec![line(1)]);
    thread.clear(false, true);
    thread.events(vec![line(2)]);
    thread.clear(false, false);
    thread.events(vec![line(3)]);
    thread.end(ThreadEnd::Exited(0));
    let heard = heard.lock().unwrap();
    let [RecorderEvent::Written { path, .. }] = &heard[..] else {
        panic!("{heard:?}");
    };
    let recording = read(path);
    let runs: Vec<(u64, Vec<Event>)> = recording.threads[&0]
        .events
        .iter()
        .map(|run| (run.first, run.events.clone()))
        .collect();
    // Event 1 was flushed before its clear; event 2 was cleared unsent.
    assert_eq!(runs, [(0, vec![line(1)]), (2, vec![line(3)])]);
}

#[test]
fn block_numbers_are_never_given_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, _) = recorder(dir.path(), Mode::OnEvent, Mode::OnEvent);
    let (first, second) = (recorder.thread(), recorder.thread());
    let released = first.block(1, true);
    let kept = second.block(2, true);
    // The first thread's request is over: its block goes, the second's stays.
    first.release();
    let third = recorder.thread();
    let new = third.block(3, true);
    assert_ne!(new, kept, "a new block took the number of one in use");
    assert_ne!(new, released);
    assert_eq!(second.block(2, true), kept);
}

#[test]
fn a_block_keeps_its_number_per_task() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, _) = recorder(dir.path(), Mode::OnEvent, Mode::OnEvent);
    let thread = recorder.thread();
    let first = thread.block(7, true);
    let second = thread.block(9, true);
    assert_ne!(first, second);
    assert_eq!(thread.block(7, true), first);
    let path = thread.crash(crash()).unwrap();
    let markers = read(&path).threads[&0].markers.clone();
    let blocks: Vec<_> = markers.iter().map(|m| m.kind.clone()).collect();
    assert_eq!(
        blocks[..3],
        [
            MarkerKind::Block {
                block: first,
                clear: false
            },
            MarkerKind::Block {
                block: second,
                clear: false
            },
            MarkerKind::Block {
                block: first,
                clear: true
            },
        ]
    );
}

#[test]
fn file_names_are_safe() {
    assert_eq!(file_safe("../../etc/passwd"), "_.._etc_passwd");
    assert_eq!(file_safe("a b/c"), "a_b_c");
    assert_eq!(file_safe(&"x".repeat(100)).len(), 64);
}

#[test]
fn the_input_log_stops_at_its_limit_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let config = RecordingConfig {
        max_bytes: 1 << 20,
        per_request_files: false,
        ..config(dir.path(), Mode::Continuous, Mode::Continuous)
    };
    let recorder = Recorder::new(config, move |event| {
        sink.lock().unwrap().push(event.clone())
    });
    let thread = recorder.thread();
    for _ in 0..64 {
        thread.input(Input::Random {
            data: rewind_format::model::Bytes(vec![7; 64 << 10]),
        });
    }
    thread.end(ThreadEnd::Exited(0));
    let heard = heard.lock().unwrap();
    let failed: Vec<_> = heard
        .iter()
        .filter_map(|event| match event {
            RecorderEvent::Failed(why) => Some(why.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{heard:?}");
    assert!(failed[0].contains("passed 1 MiB"), "{}", failed[0]);
    let stream = heard
        .iter()
        .find_map(|event| match event {
            RecorderEvent::Written {
                path,
                what: Written::Stream,
            } => Some(path.clone()),
            _ => None,
        })
        .expect("a stream");
    let recording = read(&stream);
    let inputs = &recording.threads[&0].inputs;
    assert!(inputs.len() < 64, "{}", inputs.len());
    assert!(matches!(inputs.last(), Some(Input::Other { name, .. }) if name == "log-truncated"));
}

/// A recorder with a budget of `max_bytes`, and the failures it reported.
fn budgeted(dir: &Path, mode: Mode, max_bytes: u64) -> (Recorder, Arc<Mutex<Vec<RecorderEvent>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let config = RecordingConfig {
        max_bytes,
        buffer_events: 1_000_000,
        ..config(dir, mode, Mode::Continuous)
    };
    let recorder = Recorder::new(config, move |event| {
        if !matches!(event, RecorderEvent::Flushed { .. }) {
            sink.lock().unwrap().push(event.clone())
        }
    });
    (recorder, heard)
}

fn failures(heard: &Mutex<Vec<RecorderEvent>>) -> Vec<String> {
    heard
        .lock()
        .unwrap()
        .iter()
        .filter_map(|event| match event {
            RecorderEvent::Failed(why) => Some(why.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn markers_and_crashes_count_against_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = budgeted(dir.path(), Mode::Continuous, 4 << 20);
    let thread = recorder.thread();
    thread.input(Input::MonotonicClock { nanos: 1 });
    for n in 0..64 {
        // Each name is new: interning does not help.
        thread.rule(format!("path:{n}{}", "x".repeat(256 << 10)), true);
        thread.crash(Crash {
            notes: vec![format!("{n}{}", "y".repeat(256 << 10))],
            ..crash()
        });
        thread.input(Input::MonotonicClock { nanos: n });
    }
    thread.end(ThreadEnd::Exited(0));
    let failed = failures(&heard);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("passed 4 MiB"), "{}", failed[0]);
    let stream = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with("stream.rwd"))
        .unwrap();
    // What came before the limit is whole, and says where it stopped.
    assert!(std::fs::metadata(&stream).unwrap().len() < 5 << 20);
    let recording = read(&stream);
    assert!(recording.cut.is_none());
    assert!(!recording.crashes.is_empty());
    let inputs = &recording.threads[&0].inputs;
    assert!(matches!(inputs.last(), Some(Input::Other { name, .. }) if name == "log-truncated"));
}

#[test]
fn snapshots_of_a_full_log_are_bounded_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = budgeted(dir.path(), Mode::OnEvent, 1 << 20);
    let thread = recorder.thread();
    // A log near its budget, then snapshots in a loop: each file holds the
    // whole log, and all of them 8 times the budget at most.
    for _ in 0..14 {
        thread.input(Input::Random {
            data: rewind_format::model::Bytes(vec![7; 64 << 10]),
        });
    }
    for _ in 0..40 {
        thread.snapshot(Some("s".repeat(1 << 20)), false);
    }
    thread.end(ThreadEnd::Exited(0));
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk <= 8 << 20, "{on_disk} bytes on disk");
    let failed = failures(&heard);
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].contains("passed 1 MiB"), "{}", failed[0]);
    assert!(failed[1].contains("reached 8 MiB"), "{}", failed[1]);
}

#[test]
fn live_events_are_bounded_by_bytes_too() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, heard) = budgeted(dir.path(), Mode::OnEvent, 8 << 20);
    let thread = recorder.thread();
    let big = |n: u32| Event::Return {
        value: format!("{n}{}", "v".repeat(200)),
    };
    // A quarter of the budget at most, for a buffer that keeps a million.
    for round in 0..200 {
        thread.events((0..100).map(|n| big(round * 100 + n)).collect());
    }
    let path = thread.snapshot(None, false);
    assert_eq!(path, "snapshot-1");
    assert!(failures(&heard).is_empty(), "{:?}", failures(&heard));
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let recording = read(&file);
    let events: usize = recording.threads[&0]
        .events
        .iter()
        .map(|run| run.events.len())
        .sum();
    assert!(events > 0 && events < 20_000, "{events} events");
    assert!(std::fs::metadata(&file).unwrap().len() <= 3 << 20);
}

#[test]
fn a_requests_recording_is_its_own_part_and_each_request_has_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let config = RecordingConfig {
        per_request_files: true,
        ..config(dir.path(), Mode::OnEvent, Mode::OnEvent)
    };
    let recorder = Recorder::new(config, move |event| {
        sink.lock().unwrap().push(event.clone())
    });
    let worker = recorder.thread();
    worker.input(Input::MonotonicClock { nanos: 1 });
    let first = recorder.thread();
    first.input(Input::MonotonicClock { nanos: 2 });
    first.release();
    let request = recorder.thread();
    request.input(Input::MonotonicClock { nanos: 3 });
    let path = request.crash(crash()).expect("a recording of the request");
    let recording = read(&path);
    let threads: Vec<_> = recording.threads.keys().copied().collect();
    assert_eq!(threads, [2], "only the request's own thread");
    assert_eq!(
        recording.threads[&2].inputs,
        [Input::MonotonicClock { nanos: 3 }]
    );
    assert_eq!(recording.crashes.len(), 1);
    assert!(
        recording
            .header
            .settings
            .contains(&("request".to_owned(), "true".to_owned()))
    );

    // A request snapshotting in a loop: MAX_FILES of its own (its crash
    // among them), said once; the next request has its own again.
    for _ in 0..MAX_FILES + 5 {
        request.snapshot(None, false);
    }
    request.release();
    let next = recorder.thread();
    assert!(
        next.crash(crash()).is_some(),
        "the next request is recorded"
    );
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, MAX_FILES + 1);
    assert_eq!(
        failures(&heard),
        [format!(
            "{MAX_FILES} recordings written for one request; no more from it"
        )]
    );
}
