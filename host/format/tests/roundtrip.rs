//! Recordings written by `Writer` read back exactly, and damaged ones read
//! back as far as they are whole.

use rewind_format::model::*;
use rewind_format::{FormatError, Recording, Writer};

fn header() -> Header {
    Header {
        recording_id: *b"0123456789abcdef",
        created_unix_ms: 1_795_000_000_000,
        guest_name: "python".into(),
        guest_digest: "sha256:4242".into(),
        mode: Mode::Continuous,
        settings: vec![
            ("hash-seed".into(), "0".into()),
            ("max-memory".into(), "2147483648".into()),
        ],
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A recording with every kind of record, written in two threads.
fn sample() -> (Vec<u8>, Vec<usize>) {
    let mut boundaries = Vec::new();
    let mut writer = Writer::new(Vec::new(), &header()).unwrap();
    boundaries.push(writer.written() as usize);
    writer
        .source(&Source {
            path: "/app/main.py".into(),
            text: "print('hi')\n".into(),
        })
        .unwrap();
    boundaries.push(writer.written() as usize);
    writer
        .inputs(
            0,
            0,
            &[
                Input::Args {
                    args: vec!["main.py".into(), "--flag".into()],
                },
                Input::Env {
                    vars: pairs(&[("HOME", "/home/x")]),
                },
                Input::Cwd {
                    path: "/app".into(),
                },
                Input::Stdin {
                    data: b"line\n".as_slice().into(),
                },
                Input::WallClock {
                    secs: 1_795_000_000,
                    nanos: 999_999_999,
                },
                Input::MonotonicClock { nanos: 123_456_789 },
                Input::Random {
                    data: vec![0, 255, 7].as_slice().into(),
                },
                Input::InsecureRandom {
                    data: vec![1; 16].as_slice().into(),
                },
                Input::FileRead {
                    path: "/app/data.txt".into(),
                    offset: 4096,
                    data: b"payload".as_slice().into(),
                },
                Input::Other {
                    name: "future-input".into(),
                    data: b"?".as_slice().into(),
                },
            ],
        )
        .unwrap();
    boundaries.push(writer.written() as usize);
    writer
        .markers(
            0,
            &[
                Marker {
                    seq: 0,
                    input_pos: 3,
                    position: None,
                    kind: MarkerKind::ModeChange {
                        requested: Mode::Continuous,
                        effective: Mode::OnEvent,
                    },
                },
                Marker {
                    seq: 1,
                    input_pos: 3,
                    position: Some(1234),
                    kind: MarkerKind::Snapshot {
                        name: "snapshot-1".into(),
                        all: false,
                    },
                },
                Marker {
                    seq: 2,
                    input_pos: 5,
                    position: None,
                    kind: MarkerKind::Clear {
                        all: true,
                        flush: false,
                    },
                },
                Marker {
                    seq: 3,
                    input_pos: 5,
                    position: None,
                    kind: MarkerKind::Block {
                        block: 9,
                        clear: true,
                    },
                },
                Marker {
                    seq: 4,
                    input_pos: 6,
                    position: None,
                    kind: MarkerKind::Flush,
                },
                Marker {
                    seq: 5,
                    input_pos: 6,
                    position: None,
                    kind: MarkerKind::Rule {
                        target: "/app/lib".into(),
                        record: false,
                    },
                },
                Marker {
                    seq: 6,
                    input_pos: 10,
                    position: None,
                    kind: MarkerKind::Crash { crash: 0 },
                },
                Marker {
                    seq: 7,
                    input_pos: 10,
                    position: None,
                    kind: MarkerKind::Exit { code: -3 },
                },
            ],
        )
        .unwrap();
    boundaries.push(writer.written() as usize);
    writer
        .events(
            1,
            0,
            &[
                Event::Call {
                    function: "main".into(),
                    file: "/app/main.py".into(),
                    line: 1,
                    args: pairs(&[("n", "3")]),
                },
                Event::Line {
                    line: 2,
                    changed: pairs(&[("x", "[1, 2]")]),
                },
                Event::Exception {
                    stage: ExceptionStage::Raised,
                    type_name: "ValueError".into(),
                    message: "bad".into(),
                },
                Event::Exception {
                    stage: ExceptionStage::Caught,
                    type_name: "ValueError".into(),
                    message: "bad".into(),
                },
                Event::Return {
                    value: "None".into(),
                },
            ],
        )
        .unwrap();
    boundaries.push(writer.written() as usize);
    // A second batch continues the run; a third after a gap starts another.
    writer
        .events(
            1,
            5,
            &[Event::Line {
                line: 3,
                changed: vec![],
            }],
        )
        .unwrap();
    boundaries.push(writer.written() as usize);
    writer
        .events(
            1,
            100,
            &[Event::Exception {
                stage: ExceptionStage::Unhandled,
                type_name: "KeyError".into(),
                message: "'k'".into(),
            }],
        )
        .unwrap();
    boundaries.push(writer.written() as usize);
    writer
        .crash(&Crash {
            id: 0,
            thread: 0,
            reason: CrashReason::Unhandled,
            exception: Some(ExceptionInfo {
                type_name: "KeyError".into(),
                message: "'k'".into(),
            }),
            frames: vec![
                Frame {
                    function: "<module>".into(),
                    file: "/app/main.py".into(),
                    line: 9,
                    locals: pairs(&[("__name__", "'__main__'")]),
                },
                Frame {
                    function: "lookup".into(),
                    file: "/app/main.py".into(),
                    line: 4,
                    locals: pairs(&[("table", "{}"), ("key", "'k'")]),
                },
            ],
            notes: vec!["repr of Weird raised RuntimeError".into()],
        })
        .unwrap();
    boundaries.push(writer.written() as usize);
    writer
        .entered(&Entered {
            thread: 1,
            first: 100,
            frames: vec![
                EnteredFrame {
                    function: "<module>".into(),
                    file: "/app/main.py".into(),
                    line: 9,
                },
                EnteredFrame {
                    function: "serve".into(),
                    file: "/app/main.py".into(),
                    line: 4,
                },
            ],
        })
        .unwrap();
    boundaries.push(writer.written() as usize);
    let bytes = writer.end(&End { exit_code: Some(1) }).unwrap();
    boundaries.push(bytes.len());
    (bytes, boundaries)
}

#[test]
fn everything_written_reads_back() {
    let (bytes, _) = sample();
    let recording = Recording::read(&bytes).unwrap();
    assert_eq!(recording.header, header());
    assert_eq!(recording.version, rewind_format::VERSION);
    assert_eq!(
        recording.sources,
        [Source {
            path: "/app/main.py".into(),
            text: "print('hi')\n".into()
        }]
    );
    assert_eq!(recording.threads[&0].inputs.len(), 10);
    assert_eq!(
        recording.threads[&0].inputs[8],
        Input::FileRead {
            path: "/app/data.txt".into(),
            offset: 4096,
            data: b"payload".as_slice().into()
        }
    );
    assert_eq!(recording.threads[&0].markers.len(), 8);
    assert_eq!(
        recording.threads[&0].markers[7].kind,
        MarkerKind::Exit { code: -3 }
    );
    let runs = &recording.threads[&1].events;
    assert_eq!(
        runs.len(),
        2,
        "contiguous batches merge, a gap starts a new run"
    );
    assert_eq!((runs[0].first, runs[0].events.len()), (0, 6));
    assert_eq!((runs[1].first, runs[1].events.len()), (100, 1));
    assert_eq!(
        recording.crashes[0].frames[1].locals,
        pairs(&[("table", "{}"), ("key", "'k'")])
    );
    assert_eq!(recording.entered.len(), 1);
    assert_eq!(
        (recording.entered[0].thread, recording.entered[0].first),
        (1, 100)
    );
    assert_eq!(recording.entered[0].frames[1].function, "serve");
    assert_eq!(recording.entered[0].frames[0].line, 9);
    assert_eq!(recording.end, Some(End { exit_code: Some(1) }));
    assert_eq!(recording.cut, None);
}

#[test]
fn strings_are_written_once() {
    let mut writer = Writer::new(Vec::new(), &header()).unwrap();
    let line = Event::Line {
        line: 7,
        changed: pairs(&[("counter", "12345678901234567890")]),
    };
    writer.events(0, 0, &vec![line.clone(); 1000]).unwrap();
    let bytes = writer.end(&End { exit_code: None }).unwrap();
    assert!(
        bytes.len() < 1000 * 6,
        "{} bytes for 1000 repeated events",
        bytes.len()
    );
    let recording = Recording::read(&bytes).unwrap();
    assert_eq!(recording.threads[&0].events[0].events, vec![line; 1000]);
}

/// Where each chunk ends, from the framing (kind, u32 length, payload, CRC).
fn chunk_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut pos = 10;
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 1..pos + 5].try_into().unwrap()) as usize;
        pos += 5 + len + 4;
        ends.push(pos);
    }
    ends
}

#[test]
fn every_truncation_opens_up_to_the_last_whole_chunk() {
    let (bytes, batches) = sample();
    let ends = chunk_ends(&bytes);
    assert!(
        batches.iter().all(|b| ends.contains(b)),
        "batches end on chunk ends"
    );
    let header_end = ends[0];
    for len in 0..bytes.len() {
        let result = Recording::read(&bytes[..len]);
        if len < header_end {
            assert!(
                result.is_err(),
                "a cut inside the header is an error (len {len})"
            );
            continue;
        }
        let recording = result.unwrap_or_else(|err| panic!("len {len}: {err}"));
        assert_eq!(recording.end, None, "len {len}");
        let whole: Vec<_> = ends.iter().filter(|end| **end <= len).collect();
        if ends.contains(&len) {
            assert_eq!(recording.cut, None, "len {len} ends on a chunk boundary");
        } else {
            let cut = recording
                .cut
                .as_ref()
                .unwrap_or_else(|| panic!("len {len} not reported cut"));
            assert_eq!(cut.offset, *whole[whole.len() - 1] as u64, "len {len}");
            assert_eq!(cut.chunks, whole.len() as u64, "len {len}");
            assert!(
                cut.reason.contains("truncated"),
                "len {len}: {}",
                cut.reason
            );
        }
    }
}

#[test]
fn a_damaged_byte_cuts_the_recording_there() {
    let (bytes, boundaries) = sample();
    for at in boundaries[0]..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x55;
        let recording = Recording::read(&damaged).unwrap_or_else(|err| panic!("byte {at}: {err}"));
        let cut = recording
            .cut
            .unwrap_or_else(|| panic!("damage at {at} went unnoticed"));
        assert!(cut.offset <= at as u64, "byte {at}: cut at {}", cut.offset);
    }
}

#[test]
fn bad_starts_are_errors_not_panics() {
    assert_eq!(Recording::read(b""), Err(FormatError::NotARecording));
    assert_eq!(
        Recording::read(b"#!/usr/bin/env python3\n"),
        Err(FormatError::NotARecording)
    );
    let (mut bytes, _) = sample();
    bytes[8] = 9;
    assert_eq!(
        Recording::read(&bytes),
        Err(FormatError::Version { found: 9 })
    );
}

#[test]
fn json_has_the_documented_shape() {
    let (bytes, _) = sample();
    let recording = Recording::read(&bytes).unwrap();
    let json = serde_json::to_value(&recording).unwrap();
    assert_eq!(json["header"]["guest_digest"], "sha256:4242");
    assert_eq!(json["header"]["mode"], "continuous");
    assert_eq!(
        json["threads"]["0"]["inputs"][3],
        serde_json::json!({"kind": "stdin", "data": {"text": "line\n"}})
    );
    assert_eq!(
        json["threads"]["0"]["inputs"][6]["data"],
        serde_json::json!({"hex": "00ff07"})
    );
    assert_eq!(
        json["threads"]["0"]["markers"][1],
        serde_json::json!({"seq": 1, "input_pos": 3, "position": 1234, "marker": "snapshot", "name": "snapshot-1", "all": false})
    );
    assert_eq!(
        json["threads"]["1"]["events"][0]["events"][1],
        serde_json::json!({"event": "line", "line": 2, "changed": [["x", "[1, 2]"]]})
    );
    assert_eq!(
        json["crashes"][0]["reason"],
        serde_json::json!({"reason": "unhandled"})
    );
    assert_eq!(json["end"], serde_json::json!({"exit_code": 1}));
    assert_eq!(json["cut"], serde_json::Value::Null);
}

#[test]
fn mode_names_match_their_json() {
    for mode in [Mode::Off, Mode::OnEvent, Mode::Continuous] {
        assert_eq!(serde_json::to_value(mode).unwrap(), mode.name());
        assert_eq!(mode.to_string(), mode.name());
    }
}

/// The lazy reader sees the events the eager one decodes, string for
/// string, and the rest of the recording the same.
#[test]
fn lazy_reading_decodes_the_same_events() {
    let (bytes, _) = sample();
    let eager = Recording::read(&bytes).unwrap();
    let (mut lazy, events) = Recording::read_lazy(&bytes).unwrap();
    let mut decoded: Vec<(ThreadId, u64, Event)> = Vec::new();
    for chunk in &events.chunks {
        let mut raw = events.events(chunk);
        let mut pairs = Vec::new();
        let mut index = chunk.first;
        while let Some(next) = raw.next(&mut pairs) {
            let (offset, event) = next.unwrap();
            let mut again = Vec::new();
            assert_eq!(events.event_at(offset, &mut again).unwrap(), event);
            assert_eq!(again, pairs);
            decoded.push((chunk.thread, index, event.resolve(&pairs, &events)));
            pairs.clear();
            index += 1;
        }
    }
    let expected: Vec<(ThreadId, u64, Event)> = eager
        .threads
        .iter()
        .flat_map(|(thread, log)| {
            log.events.iter().flat_map(move |run| {
                (run.first..)
                    .zip(&run.events)
                    .map(move |(index, event)| (*thread, index, event.clone()))
            })
        })
        .collect();
    decoded.sort_by_key(|(thread, index, _)| (*thread, *index));
    assert_eq!(decoded, expected);
    assert!(!decoded.is_empty());
    for (thread, log) in &eager.threads {
        lazy.threads.get_mut(thread).unwrap().events = log.events.clone();
    }
    assert_eq!(lazy, eager);
}

#[test]
fn elapsed_time_reads_back_and_older_readers_may_skip_it() {
    let mut writer = Writer::new(Vec::new(), &header()).unwrap();
    writer.elapsed(2_500).unwrap();
    let bytes = writer.end(&End { exit_code: None }).unwrap();
    let recording = Recording::read(&bytes).unwrap();
    assert_eq!(recording.elapsed_ms, Some(2_500));
    assert_eq!(recording.end, Some(End { exit_code: None }));
    assert!(recording.cut.is_none());
}

/// One long string, written once, then referred to by `times` markers, ten
/// to a chunk: a small file that describes an enormous recording.
fn one_string_many_times(len: usize, times: u64) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new(), &header()).unwrap();
    let target = "t".repeat(len);
    let markers: Vec<Marker> = (0..10)
        .map(|seq| Marker {
            seq,
            input_pos: 0,
            position: None,
            kind: MarkerKind::Rule {
                target: target.clone(),
                record: true,
            },
        })
        .collect();
    for _ in 0..times / 10 {
        writer.markers(0, &markers).unwrap();
    }
    writer.end(&End { exit_code: Some(0) }).unwrap()
}

#[test]
fn an_interned_string_referred_to_many_times_decodes_within_the_limit() {
    // 20,000 references to 64 KiB: 1.25 GiB decoded, from 200 KiB.
    let bytes = one_string_many_times(64 << 10, 20_000);
    assert!(bytes.len() < 256 << 10, "{} bytes", bytes.len());
    let recording = Recording::read_within(&bytes, 4 << 20).unwrap();
    let cut = recording.cut.clone().expect("reading stops at the limit");
    assert!(
        cut.reason.contains("too large to decode") && cut.reason.contains("4 MiB"),
        "{}",
        cut.reason
    );
    assert!(cut.offset > 0 && cut.offset < bytes.len() as u64);
    // Everything before the chunk that passed the limit is kept.
    let markers = &recording.threads[&0].markers;
    assert_eq!(markers.len(), 60);
    assert_eq!(markers[59].seq, 9);
    // Checking makes no string of an interned one: it reads to the end.
    let checked = Recording::check(&bytes).unwrap();
    assert_eq!(checked.cut, None);
    assert_eq!(checked.end, Some(End { exit_code: Some(0) }));
    assert!(checked.threads.is_empty());
    assert_eq!(checked.header, header());
}

#[test]
fn compressed_events_count_as_what_they_decompress_to() {
    // Ten million line events, three bytes each, compress to next to nothing.
    let events = [1u8, 0, 0].repeat(10_000_000);
    let mut writer = Writer::new(Vec::new(), &header()).unwrap();
    for n in 0..3 {
        writer
            .packed_events(0, n * 10_000_000, 10_000_000, &[] as &[&str], &events)
            .unwrap();
    }
    let bytes = writer.end(&End { exit_code: None }).unwrap();
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
    let recording = Recording::read_within(&bytes, 64 << 20).unwrap();
    let cut = recording.cut.expect("reading stops at the limit");
    assert!(cut.reason.contains("too large to decode"), "{}", cut.reason);
    assert_eq!(recording.threads.get(&0).map(|t| t.events.len()), None);
    // Checked, they are walked a chunk at a time and kept nowhere.
    let checked = Recording::check(&bytes).unwrap();
    assert_eq!(checked.cut, None);
}

#[test]
fn a_limit_the_recording_stays_within_changes_nothing() {
    let (bytes, _) = sample();
    assert_eq!(
        Recording::read_within(&bytes, 1 << 20).unwrap(),
        Recording::read(&bytes).unwrap()
    );
    let checked = Recording::check(&bytes).unwrap();
    assert_eq!(checked.cut, None);
    assert_eq!(checked.end, Recording::read(&bytes).unwrap().end);
}
