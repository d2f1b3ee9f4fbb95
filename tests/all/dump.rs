//! `rewind dump` prints recordings, whole, cut or damaged, without panicking.

use rewind_format::Writer;
use rewind_format::model::*;

use crate::{Scripts, rewind};

fn recording() -> Vec<u8> {
    let header = Header {
        recording_id: [0xab; 16],
        created_unix_ms: 1_795_000_000_000,
        guest_name: "python".into(),
        guest_digest: "sha256:feed".into(),
        mode: Mode::OnEvent,
        settings: vec![("hash-seed".into(), "0".into())],
    };
    let mut writer = Writer::new(Vec::new(), &header).unwrap();
    writer
        .source(&Source {
            path: "/app/job.py".into(),
            text: "x = 1\nprint(x)\n".into(),
        })
        .unwrap();
    writer
        .inputs(
            0,
            0,
            &[
                Input::Stdin {
                    data: b"hello\n".as_slice().into(),
                },
                Input::Random {
                    data: vec![0xde, 0xad].as_slice().into(),
                },
            ],
        )
        .unwrap();
    writer
        .markers(
            0,
            &[Marker {
                seq: 0,
                input_pos: 1,
                position: None,
                kind: MarkerKind::Snapshot {
                    name: "before-save".into(),
                    all: false,
                },
            }],
        )
        .unwrap();
    writer
        .events(
            0,
            0,
            &[
                Event::Call {
                    function: "save".into(),
                    file: "/app/job.py".into(),
                    line: 3,
                    args: vec![("path".into(), "'/tmp/x'".into())],
                },
                Event::Line {
                    line: 4,
                    changed: vec![("n".into(), "2".into())],
                },
            ],
        )
        .unwrap();
    writer
        .crash(&Crash {
            id: 0,
            thread: 0,
            reason: CrashReason::Unhandled,
            exception: Some(ExceptionInfo {
                type_name: "OSError".into(),
                message: "disk full".into(),
            }),
            frames: vec![Frame {
                function: "save".into(),
                file: "/app/job.py".into(),
                line: 4,
                locals: vec![("n".into(), "2".into())],
            }],
            notes: vec![],
        })
        .unwrap();
    writer.end(&End { exit_code: Some(1) }).unwrap()
}

#[test]
fn dump_prints_a_recording_readably() {
    let scripts = Scripts::new();
    let file = scripts.path("crash.rwd");
    std::fs::write(&file, recording()).unwrap();
    let run = crate::run(rewind().arg("dump").arg(&file));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "");
    for needle in [
        "guest       python sha256:feed",
        "mode        on-event",
        "setting     hash-seed = 0",
        "source      /app/job.py (2 lines)",
        "thread 0: 2 inputs, 1 markers, 2 events",
        "input      0  stdin \"hello\\n\"",
        "input      1  random 0xdead (2 bytes)",
        "marker     0  after input 1: snapshot \"before-save\"",
        "event      0  call save(path='/tmp/x') /app/job.py:3",
        "event      1  line 4  n=2",
        "crash 0 in thread 0: unhandled exception",
        "  File \"/app/job.py\", line 4, in save",
        "      n = 2",
        "  OSError: disk full",
        "end: the guest exited with status 1",
    ] {
        assert!(
            run.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            run.stdout
        );
    }
}

/// Output read by a reader that stops early (`| head`) ends the command
/// quietly, with status 0: no "Broken pipe", in every form it prints.
#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    let scripts = Scripts::new();
    let file = scripts.path("crash.rwd");
    std::fs::write(&file, recording()).unwrap();
    let commands = scripts.write("commands.txt", "where\nbacktrace\nlocals\n");
    let command = |args: &[&std::ffi::OsStr]| {
        let mut command = rewind();
        command.args(args);
        command
    };
    for (name, mut command) in [
        ("dump", command(&["dump".as_ref(), file.as_ref()])),
        (
            "dump --json",
            command(&["dump".as_ref(), "--json".as_ref(), file.as_ref()]),
        ),
        (
            "replay --commands",
            command(&[
                "replay".as_ref(),
                file.as_ref(),
                "--commands".as_ref(),
                commands.as_ref(),
            ]),
        ),
    ] {
        let run = crate::run_with_stdout_closed(&mut command);
        assert_eq!(run.code, Some(0), "{name}: {run:?}");
        assert_eq!(run.stderr, "", "{name}");
    }
}

#[test]
fn dump_json_is_the_documented_schema() {
    let scripts = Scripts::new();
    let file = scripts.path("crash.rwd");
    std::fs::write(&file, recording()).unwrap();
    let run = crate::run(rewind().args(["dump", "--json"]).arg(&file));
    assert_eq!(run.code, Some(0), "{run:?}");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["version"], 2);
    assert_eq!(json["header"]["mode"], "on-event");
    assert_eq!(
        json["threads"]["0"]["inputs"][0],
        serde_json::json!({"kind": "stdin", "data": {"text": "hello\n"}})
    );
    assert_eq!(json["crashes"][0]["exception"]["message"], "disk full");
    assert_eq!(json["end"]["exit_code"], 1);
    assert!(json["cut"].is_null());
}

#[test]
fn a_truncated_recording_prints_what_it_holds_and_where_it_stops() {
    let scripts = Scripts::new();
    let bytes = recording();
    let file = scripts.path("cut.rwd");
    std::fs::write(&file, &bytes[..bytes.len() - 30]).unwrap();
    let run = crate::run(rewind().arg("dump").arg(&file));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("source      /app/job.py"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("cut at offset "), "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
}

#[test]
fn files_that_are_not_recordings_get_one_line() {
    let scripts = Scripts::new();
    let check = |name: &str, bytes: Option<&[u8]>, message: &str| {
        let file = scripts.path(name);
        if let Some(bytes) = bytes {
            std::fs::write(&file, bytes).unwrap();
        }
        let run = crate::run(rewind().arg("dump").arg(&file));
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        assert_eq!(run.stdout, "", "{name}");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
    };
    check("missing.rwd", None, "No such file or directory");
    check(
        "script.py",
        Some(b"print('not a recording')\n"),
        "not a Rewind recording",
    );
    let bytes = recording();
    check(
        "header-cut.rwd",
        Some(&bytes[..20]),
        "truncated at offset 10",
    );
    let mut future = bytes.clone();
    future[8] = 3;
    check("future.rwd", Some(&future), "version 3 is not supported");

    // Nothing that is not a recording is read whole: not a device...
    check("/dev/zero", None, "/dev/zero: not a regular file");
    check(".", None, "not a regular file");
    // ...nor a huge file of something else (sparse: it takes no disk).
    let huge = scripts.path("huge.bin");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(16 << 30)
        .unwrap();
    check("huge.bin", None, "not a Rewind recording");
    for args in [
        &["replay", "--exec"][..],
        &["replay", "--commands", "-"][..],
    ] {
        for file in [std::path::Path::new("/dev/zero"), &huge] {
            let run = crate::run(rewind().args(args).arg(file));
            assert_eq!(run.code, Some(2), "{args:?} {file:?}: {run:?}");
            assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        }
    }
}

/// A recording written by the previous format version (1: text events, no
/// positions in markers), kept as it was written: it still reads, its live
/// events and all, and the debugger opens it.
#[test]
fn a_format_1_recording_still_reads_and_opens() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/format-1-traced-crash.rwd");
    let run = crate::run(rewind().arg("dump").arg(&file));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.starts_with("recording   format 1,"),
        "{}",
        run.stdout
    );
    for line in [
        "event      3  call total(xs=[1, 2, 3]) /app/job.py:1",
        "event     11  line 3  s=6",
        "event     13  return 6",
        "event     17  exception unhandled ValueError: bad total",
    ] {
        assert!(run.stdout.contains(line), "{line} missing:\n{}", run.stdout);
    }

    let run = crate::run(rewind().args(["dump", "--json"]).arg(&file));
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["version"], 1);
    assert!(json["threads"]["0"]["markers"][0].get("position").is_none());

    let scripts = Scripts::new();
    let commands = scripts.write("commands", "where\nlocals\n");
    let run = crate::run(
        rewind()
            .args(["replay", "--commands"])
            .arg(&commands)
            .arg(&file),
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains("18 events in 1 thread (events traced live during the run)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("total = <function total at 0x37b9ab0>"),
        "{}",
        run.stdout
    );
}

/// `rewind dump` on what only claims to be large takes little memory: a
/// device, a sparse file of 8 GiB, and the same behind a recording's header
/// (a cut after the header, its chunks never read into memory), each with
/// its one line, in an address space of 512 MiB. `docs/benchmarks.md` has
/// the peak resident figures.
#[test]
fn dump_on_a_huge_file_takes_little_memory() {
    let scripts = Scripts::new();
    let zeros = scripts.path("zeros.bin");
    std::fs::File::create(&zeros)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    let headed = scripts.path("headed.rwd");
    let mut bytes = recording();
    // The preamble and the header chunk, then 8 GiB of nothing.
    let header_end = 10 + 5 + u32::from_le_bytes(bytes[11..15].try_into().unwrap()) as usize + 4;
    bytes.truncate(header_end);
    std::fs::write(&headed, &bytes).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&headed)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();

    for (file, code, message) in [
        ("/dev/zero", 2, "not a regular file"),
        (zeros.to_str().unwrap(), 2, "not a Rewind recording"),
        (headed.to_str().unwrap(), 0, "chunk checksum does not match"),
    ] {
        let run = crate::run_within(rewind().arg("dump").arg(file), 512 << 20);
        assert_eq!(run.code, Some(code), "{file}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{file}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{file}: {}", run.stderr);
    }
}
