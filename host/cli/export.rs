//! `rewind export`: a recording's events for other tools — the Chrome
//! trace-event JSON that Perfetto and chrome://tracing open, or JSON Lines.
//!
//! The events are the debugger's (`common::events`): traced live,
//! materialized beside the recording, materialized now, or the crash
//! capture. A recording has no clock per event, so the trace's clock is
//! logical: event number N is at N microseconds. A call is a slice from its
//! call event to its return; the gaps between a snapshot's and a crash's
//! windows stay gaps.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use rewind_debugger::index::{Kind, ThreadIndex};
use rewind_debugger::session::Session;
use rewind_format::model::{Event, ExceptionStage, ThreadId};
use serde_json::{Map, Value, json};

use crate::common::args::parse_timeout;
use crate::common::events::{self, Source};
use crate::common::{UsageError, io_message};
use rewind_runtime::ReplayTimeout;

/// Export a recording's events for trace viewers and scripts.
///
/// `--format chrome` writes the Chrome trace-event JSON that Perfetto
/// (ui.perfetto.dev), chrome://tracing and speedscope open: each thread a
/// track, each call a slice from its call to its return with its arguments
/// and its return value, exceptions, snapshots and crashes as instant
/// events. Time is logical: the event numbered N is at N µs.
///
/// `--format jsonl` writes one JSON object per line: a header, then every
/// event (call, line, return, exception) with its thread, number, frame,
/// file, line and values, then the snapshots and crashes; the schema is
/// docs/export.schema.json, described in docs/export.md.
///
/// The events come from where the debugger finds them: the recording
/// itself when it was traced live, NAME.events.rwd beside it, or a
/// re-execution that materializes them first.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The format to write.
    #[arg(long, value_enum)]
    format: Format,

    /// Where to write it (`-` for stdout, the default).
    #[arg(short, long, value_name = "PATH", default_value = "-")]
    output: PathBuf,

    /// The longest the re-execution may take when the events must be
    /// materialized first, e.g. 30s, 5m; `none` for no limit.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,

    /// The guest component a recording of a `.wasm` program needs, when it
    /// is no longer where it was recorded.
    #[arg(long, value_name = "WASM")]
    guest: Option<PathBuf>,

    /// The recording file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Chrome trace-event JSON (Perfetto, chrome://tracing, speedscope).
    Chrome,
    /// One JSON object per line (docs/export.md).
    Jsonl,
}

pub fn main(args: ExportArgs) -> Result<ExitCode> {
    let timeout = match &args.timeout {
        None => ReplayTimeout::Derived,
        Some(spec) => match parse_timeout("--timeout", spec)? {
            Some(timeout) => ReplayTimeout::Limit(timeout),
            None => ReplayTimeout::Unlimited,
        },
    };
    // A bad output path costs nothing: it is opened before the work.
    let mut out: Box<dyn std::io::Write> = match args.output.to_str() {
        Some("-") => Box::new(std::io::stdout().lock()),
        _ => Box::new(std::io::BufWriter::new(
            std::fs::File::create(&args.output).map_err(|err| {
                UsageError(format!(
                    "cannot write {}: {}",
                    args.output.display(),
                    io_message(&err)
                ))
            })?,
        )),
    };
    let source = Source {
        path: &args.file,
        guest: args.guest.as_ref(),
        timeout,
    };
    let (session, _) = events::open(&source)?;
    for note in &session.notes {
        eprintln!("rewind: note: {note}");
    }
    match args.format {
        Format::Chrome => {
            let trace = chrome(&session, &args.file.display().to_string());
            serde_json::to_writer(&mut out, &trace).context("writing the trace")?;
            out.write_all(b"\n")?;
        }
        Format::Jsonl => jsonl(&session, &args.file.display().to_string(), &mut out)?,
    }
    out.flush().context("writing the export")?;
    Ok(ExitCode::SUCCESS)
}

/// The process id every event of the trace has: one guest, one process.
const PID: u32 = 1;

/// A thread's id in the trace: its number plus one. Trace viewers take
/// thread id 0 for the process's own (Perfetto moves it onto the pid),
/// which would merge thread 0 with another.
fn tid(thread: ThreadId) -> u64 {
    u64::from(thread) + 1
}

/// The Chrome trace-event JSON of the session's events.
fn chrome(session: &Session, file: &str) -> Value {
    let mut events = vec![json!({
        "ph": "M", "name": "process_name", "pid": PID, "tid": tid(0),
        "args": {"name": session.recording.header.guest_name},
    })];
    for (&thread, index) in &session.trace.threads {
        events.push(json!({
            "ph": "M", "name": "thread_name", "pid": PID, "tid": tid(thread),
            "args": {"name": format!("thread {thread}")},
        }));
        chrome_thread(session, thread, index, &mut events);
    }
    for mark in &session.marks {
        let Some(index) = session.trace.threads.get(&mark.thread) else {
            continue;
        };
        let kind = if mark.crash.is_some() {
            "crash"
        } else {
            "snapshot"
        };
        events.push(json!({
            "ph": "i", "s": "t", "name": mark.label, "cat": kind,
            "ts": index.event_number(mark.pos), "pid": PID, "tid": tid(mark.thread),
            "args": {"event": index.event_number(mark.pos)},
        }));
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "recording": file,
            "events": session.origin,
            "clock": "logical: the event numbered N is at N microseconds",
        },
    })
}

/// One thread's calls as nested slices: a frame's slice begins at its call
/// event (or, for a frame entered before the recorded events, at the first
/// event seen in it) and ends at its return; frames still open at the end
/// end after the last event, marked unfinished.
fn chrome_thread(session: &Session, thread: ThreadId, index: &ThreadIndex, out: &mut Vec<Value>) {
    let mut open: Vec<u32> = Vec::new();
    let base = |ts: u64| json!({"pid": PID, "tid": tid(thread), "ts": ts});
    let mut last = 0;
    for pos in 0..index.len() {
        let ts = index.event_number(pos);
        last = ts;
        let frame = index.frame(pos);
        // The unhandled exception's last event comes after every frame
        // returned: it opens none.
        let after_the_end =
            index.kind(pos) == Kind::Exception(ExceptionStage::Unhandled) && !open.contains(&frame);
        // Leave the frames this event is not in, innermost first (a
        // window's gap can skip their returns).
        if after_the_end {
            // Nothing to open or leave.
        } else if let Some(keep) = open.iter().position(|&f| f == frame) {
            while open.len() > keep + 1 {
                open.pop();
                out.push(end(base(ts), Some(("unfinished", Value::Bool(true)))));
            }
        } else {
            let mut entered = Vec::new();
            let mut at = Some(frame);
            while let Some(f) = at
                && !open.contains(&f)
            {
                entered.push(f);
                at = index.frames[f as usize].parent;
            }
            if let Some(parent) = at
                && let Some(keep) = open.iter().position(|&f| f == parent)
            {
                while open.len() > keep + 1 {
                    open.pop();
                    out.push(end(base(ts), Some(("unfinished", Value::Bool(true)))));
                }
            }
            for &f in entered.iter().rev() {
                let info = &index.frames[f as usize];
                let name = info
                    .function
                    .map_or("<entered before the recorded events>", |id| {
                        session.trace.string(id)
                    });
                let mut args = Map::new();
                if let Some(file) = info.file {
                    args.insert("file".into(), session.trace.string(file).into());
                }
                if f == frame
                    && let Some(Event::Call {
                        line, args: call, ..
                    }) = event(session, index, pos)
                {
                    args.insert("line".into(), line.into());
                    args.insert("arguments".into(), pairs(&call));
                } else {
                    args.insert("line".into(), index.line(pos).into());
                    args.insert(
                        "entered_before_the_recorded_events".into(),
                        Value::Bool(true),
                    );
                }
                let mut begin = base(ts);
                begin["ph"] = "B".into();
                begin["name"] = name.into();
                begin["cat"] = "call".into();
                begin["args"] = Value::Object(args);
                out.push(begin);
                open.push(f);
            }
        }
        match event(session, index, pos) {
            Some(Event::Return { value }) => {
                if open.last() == Some(&frame) {
                    open.pop();
                    out.push(end(base(ts), Some(("return", value.into()))));
                }
            }
            Some(Event::Exception {
                stage,
                type_name,
                message,
            }) => {
                let mut instant = base(ts);
                instant["ph"] = "i".into();
                instant["s"] = "t".into();
                instant["cat"] = "exception".into();
                instant["name"] = format!(
                    "{} {type_name}",
                    rewind_debugger::commands::stage_word(stage)
                )
                .into();
                instant["args"] = json!({"message": message, "line": index.line(pos)});
                out.push(instant);
            }
            _ => {}
        }
    }
    while open.pop().is_some() {
        out.push(end(base(last + 1), Some(("unfinished", Value::Bool(true)))));
    }
}

fn end(mut base: Value, arg: Option<(&str, Value)>) -> Value {
    base["ph"] = "E".into();
    if let Some((name, value)) = arg {
        base["args"] = json!({ name: value });
    }
    base
}

/// The event at `pos` of `index`'s thread, with its strings.
fn event(session: &Session, index: &ThreadIndex, pos: u32) -> Option<Event> {
    let (event, values) = session.trace.event(index, pos)?;
    Some(event.resolve(&values, session.trace.events()))
}

/// Names and values as a JSON object (a name given twice keeps its last).
fn pairs(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect(),
    )
}

/// The session's events as JSON Lines: a header, every event of every
/// thread in order, then the snapshots and crashes.
fn jsonl(session: &Session, file: &str, out: &mut dyn std::io::Write) -> Result<()> {
    let mut line = |value: Value| -> Result<()> {
        serde_json::to_writer(&mut *out, &value).context("writing the export")?;
        out.write_all(b"\n").context("writing the export")
    };
    let header = &session.recording.header;
    line(json!({
        "type": "recording",
        "file": file,
        "guest": header.guest_name,
        "guest_digest": header.guest_digest,
        "events_from": session.origin,
        "threads": session.trace.threads.keys().collect::<Vec<_>>(),
    }))?;
    for (&thread, index) in &session.trace.threads {
        for pos in 0..index.len() {
            let frame = &index.frames[index.frame(pos) as usize];
            let mut record = json!({
                "type": "event",
                "thread": thread,
                "event": index.event_number(pos),
                "frame": index.frame(pos),
                "depth": index.depth(pos),
                "function": frame.function.map(|id| session.trace.string(id)),
                "file": frame.file.map(|id| session.trace.string(id)),
                "line": index.line(pos),
            });
            let fields = match event(session, index, pos) {
                Some(Event::Call { args, .. }) => json!({"kind": "call", "args": pairs(&args)}),
                Some(Event::Line { changed, .. }) => {
                    json!({"kind": "line", "changed": pairs(&changed)})
                }
                Some(Event::Return { value }) => json!({"kind": "return", "value": value}),
                Some(Event::Exception {
                    stage,
                    type_name,
                    message,
                }) => json!({
                    "kind": "exception",
                    "stage": rewind_debugger::commands::stage_word(stage),
                    "exception_type": type_name,
                    "message": message,
                }),
                None => json!({"kind": kind_word(index.kind(pos))}),
            };
            if let (Some(record), Some(fields)) = (record.as_object_mut(), fields.as_object()) {
                record.extend(fields.clone());
            }
            line(record)?;
        }
    }
    for mark in &session.marks {
        let Some(index) = session.trace.threads.get(&mark.thread) else {
            continue;
        };
        line(json!({
            "type": if mark.crash.is_some() { "crash" } else { "snapshot" },
            "thread": mark.thread,
            "event": index.event_number(mark.pos),
            "label": mark.label,
        }))?;
    }
    Ok(())
}

/// An event's kind in words, for an event that cannot be decoded.
fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Call => "call",
        Kind::Line => "line",
        Kind::Return => "return",
        Kind::Exception(_) => "exception",
    }
}
