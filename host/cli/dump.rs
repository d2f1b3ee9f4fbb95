//! `rewind dump`: print a recording without replaying it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use rewind_format::Recording;
use rewind_format::model::*;

use rewind_runtime::{RecordingFile, materialized_path};

use crate::common::{UsageError, read_recording, report};

/// Print a recording without replaying it.
///
/// Shows the header, the sources, each thread's inputs, markers and events,
/// and the crash captures, then the events materialized from it by
/// `rewind replay --materialize` when they are beside it. A recording that was cut short (a killed process, a damaged file) is
/// printed up to its last whole chunk, followed by where and why it stops.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Print JSON instead (the schema is in docs/recording-format.md).
    #[arg(long)]
    json: bool,

    /// The recording file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn main(args: DumpArgs) -> Result<ExitCode> {
    let bytes = read_recording(&args.file)?;
    let file = RecordingFile::from_bytes(&args.file, &bytes)
        .map_err(|err| UsageError(format!("{}: {err}", args.file.display())))?;
    let materialized = file.materialized();
    let recording = &file.recording;
    let text = if args.json {
        let mut json = serde_json::to_value(recording).context("encoding JSON")?;
        if let (Some(events), Some(object)) = (&materialized, json.as_object_mut()) {
            let threads: std::collections::BTreeMap<_, _> = events
                .threads
                .iter()
                .map(|(id, thread)| (*id, &thread.events))
                .collect();
            let value = serde_json::json!({
                "info": events.materialized,
                "events": threads,
            });
            object.insert("materialized".into(), value);
        }
        let mut json = serde_json::to_string_pretty(&json).context("encoding JSON")?;
        json.push('\n');
        json
    } else {
        let mut text = render(recording);
        if let Some(events) = &materialized {
            render_materialized(&mut text, &materialized_path(&args.file), events);
        }
        text
    };
    report::print(&text)?;
    if let Some(cut) = &recording.cut {
        eprintln!(
            "rewind: {}: cut at offset {} after {} whole chunks: {}",
            args.file.display(),
            cut.offset,
            cut.chunks,
            cut.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn render(recording: &Recording) -> String {
    let mut out = String::new();
    let header = &recording.header;
    let _ = writeln!(
        out,
        "recording   format {}, id {}",
        recording.version,
        hex(&header.recording_id)
    );
    let _ = writeln!(
        out,
        "guest       {} {}",
        header.guest_name, header.guest_digest
    );
    let _ = writeln!(
        out,
        "created     {} ms after the Unix epoch",
        header.created_unix_ms
    );
    let _ = writeln!(out, "mode        {}", header.mode);
    for (key, value) in &header.settings {
        let _ = writeln!(out, "setting     {key} = {value}");
    }
    for source in &recording.sources {
        let _ = writeln!(
            out,
            "source      {} ({} lines)",
            source.path,
            source.text.lines().count()
        );
    }
    for (id, thread) in &recording.threads {
        let events: usize = thread.events.iter().map(|run| run.events.len()).sum();
        let _ = writeln!(
            out,
            "\nthread {id}: {} inputs, {} markers, {events} events",
            thread.inputs.len(),
            thread.markers.len()
        );
        for (seq, input) in thread.inputs.iter().enumerate() {
            let _ = writeln!(out, "  input {seq:>6}  {}", describe_input(input));
        }
        for marker in &thread.markers {
            let _ = writeln!(
                out,
                "  marker {:>5}  after input {}: {}",
                marker.seq,
                marker.input_pos,
                describe_marker(&marker.kind)
            );
        }
        for run in &thread.events {
            for (offset, event) in run.events.iter().enumerate() {
                let step = run.first + offset as u64;
                let _ = writeln!(out, "  event {step:>6}  {}", describe_event(event));
            }
        }
    }
    for crash in &recording.crashes {
        let reason = match &crash.reason {
            CrashReason::Unhandled => "unhandled exception".to_owned(),
            CrashReason::Reported => "reported with revdebug.exception".to_owned(),
            CrashReason::Trap(detail) => format!("VM crash: {detail}"),
            CrashReason::Limit(detail) => format!("limit: {detail}"),
        };
        let _ = writeln!(
            out,
            "\ncrash {} in thread {}: {reason}",
            crash.id, crash.thread
        );
        for frame in &crash.frames {
            let _ = writeln!(
                out,
                "  File \"{}\", line {}, in {}",
                frame.file, frame.line, frame.function
            );
            for (name, value) in &frame.locals {
                let _ = writeln!(out, "      {name} = {value}");
            }
        }
        if let Some(exception) = &crash.exception {
            let _ = writeln!(out, "  {}: {}", exception.type_name, exception.message);
        }
        for note in &crash.notes {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    if let Some(ms) = recording.elapsed_ms {
        let _ = writeln!(
            out,
            "\nelapsed: the run had taken {} when this was written",
            humantime::format_duration(std::time::Duration::from_millis(ms))
        );
    }
    match (&recording.end, &recording.cut) {
        (
            Some(End {
                exit_code: Some(code),
            }),
            _,
        ) => {
            let _ = writeln!(out, "\nend: the guest exited with status {code}");
        }
        (Some(End { exit_code: None }), _) => {
            let _ = writeln!(
                out,
                "\nend: the recording was closed before the guest exited"
            );
        }
        (None, Some(cut)) => {
            let _ = writeln!(
                out,
                "\ncut at offset {} after {} whole chunks: {}",
                cut.offset, cut.chunks, cut.reason
            );
        }
        (None, None) => {
            let _ = writeln!(
                out,
                "\nno end: the recording stops after a whole chunk (a stream still open, or a killed process)"
            );
        }
    }
    out
}

/// The events re-execution materialized, window by window.
fn render_materialized(out: &mut String, path: &std::path::Path, events: &Recording) {
    let Some(info) = &events.materialized else {
        return;
    };
    let _ = writeln!(
        out,
        "\nmaterialized in {}: {}{}",
        path.display(),
        info.outcome,
        if info.full { " (every event)" } else { "" }
    );
    for window in &info.windows {
        let _ = writeln!(
            out,
            "  window  thread {} events {}..{} at marker {} of thread {}",
            window.thread, window.first, window.end, window.marker, window.at_thread
        );
    }
    for (id, thread) in &events.threads {
        let count: usize = thread.events.iter().map(|run| run.events.len()).sum();
        let _ = writeln!(out, "\nthread {id}: {count} materialized events");
        for run in &thread.events {
            for (offset, event) in run.events.iter().enumerate() {
                let step = run.first + offset as u64;
                let _ = writeln!(out, "  event {step:>6}  {}", describe_event(event));
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes as text when they are text, as hex otherwise.
fn data(bytes: &Bytes) -> String {
    data_as(bytes, true)
}

/// Bytes as hex: random bytes are not text, whatever they happen to decode to.
fn hex_data(bytes: &Bytes) -> String {
    data_as(bytes, false)
}

fn data_as(bytes: &Bytes, text_if_possible: bool) -> String {
    const SHOWN: usize = 60;
    let text = std::str::from_utf8(&bytes.0)
        .ok()
        .filter(|_| text_if_possible);
    match text {
        Some(text) if text.chars().count() <= SHOWN => format!("{text:?}"),
        Some(text) => {
            let head: String = text.chars().take(SHOWN).collect();
            format!("{head:?}... ({} bytes)", bytes.0.len())
        }
        None => {
            let head = hex(&bytes.0[..bytes.0.len().min(SHOWN / 2)]);
            format!(
                "0x{head}{} ({} bytes)",
                if bytes.0.len() > SHOWN / 2 { "..." } else { "" },
                bytes.0.len()
            )
        }
    }
}

fn describe_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::Args { args } => format!("args {args:?}"),
        Input::Env { vars } => format!("env {}", describe_pairs(vars)),
        Input::Cwd { path } => format!("cwd {path}"),
        Input::Stdin { data: bytes } => format!("stdin {}", data(bytes)),
        Input::WallClock { secs, nanos } => format!("wall clock {secs}.{nanos:09}"),
        Input::MonotonicClock { nanos } => format!("monotonic clock {nanos} ns"),
        Input::Random { data: bytes } => format!("random {}", hex_data(bytes)),
        Input::InsecureRandom { data: bytes } => {
            format!("insecure random {}", hex_data(bytes))
        }
        Input::FileRead {
            path,
            offset,
            data: bytes,
        } => format!("read {path} at {offset}: {}", data(bytes)),
        Input::Other { name, data: bytes } => format!("{name} {}", data(bytes)),
        Input::Fs { op, path, result } => {
            let outcome = rewind_runtime::describe_fs_outcome(op, &result.0);
            format!("fs {op} {path} {outcome}").trim_end().to_owned()
        }
    }
}

fn describe_marker(marker: &MarkerKind) -> String {
    match marker {
        MarkerKind::Snapshot { name, all: false } => format!("snapshot {name:?}"),
        MarkerKind::Snapshot { name, all: true } => format!("snapshot of all threads {name:?}"),
        MarkerKind::Clear { all, flush } => {
            format!(
                "{} (flush={flush})",
                if *all { "clear all threads" } else { "clear" }
            )
        }
        MarkerKind::Block { block, clear } => format!("block {block} (clear={clear})"),
        MarkerKind::ModeChange {
            requested,
            effective,
        } => {
            format!("mode {requested} requested, {effective} in effect")
        }
        MarkerKind::Flush => "flush".to_owned(),
        MarkerKind::Rule { target, record } => {
            format!("{} {target}", if *record { "record" } else { "norecord" })
        }
        MarkerKind::Crash { crash } => format!("crash {crash}"),
        MarkerKind::Exit { code } => format!("exit {code}"),
    }
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::Call {
            function,
            file,
            line,
            args,
        } => {
            format!("call {function}({}) {file}:{line}", describe_pairs(args))
        }
        Event::Line { line, changed } if changed.is_empty() => format!("line {line}"),
        Event::Line { line, changed } => format!("line {line}  {}", describe_pairs(changed)),
        Event::Return { value } => format!("return {value}"),
        Event::Exception {
            stage,
            type_name,
            message,
        } => {
            let stage = match stage {
                ExceptionStage::Raised => "raised",
                ExceptionStage::Caught => "caught",
                ExceptionStage::Unhandled => "unhandled",
            };
            format!("exception {stage} {type_name}: {message}")
        }
    }
}
