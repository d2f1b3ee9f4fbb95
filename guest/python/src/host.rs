//! The recorder's WIT imports (`wit/recorder.wit`), and stand-ins for them
//! when the guest is built natively (for benchmarks), where there is no host
//! recorder: the mode is `Off` and nothing is recorded.

/// A recording mode as the WIT numbers it: 0 off, 1 on-event, 2 continuous.
pub type Mode = u8;

/// A crash capture, in the guest's own types.
pub struct Crash {
    pub reported: bool,
    pub exception: Option<(String, String)>,
    pub frames: Vec<Frame>,
    pub notes: Vec<String>,
}

pub struct Frame {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub locals: Vec<(String, String)>,
}

/// A live trace event, in the guest's own types.
pub enum Event {
    Call {
        function: String,
        file: String,
        line: u32,
        args: Vec<(String, String)>,
    },
    Line {
        line: u32,
        changed: Vec<(String, String)>,
    },
    Return(String),
    Exception {
        stage: Stage,
        type_name: String,
        message: String,
    },
}

/// An HTTP request to serve (`rewind serve`), as the host hands it over.
pub struct Request {
    pub id: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote_addr: String,
    pub remote_port: u16,
    pub server_name: String,
    pub server_port: u16,
}

/// Where an exception is: just raised in a frame, caught there, or ending
/// the run.
#[derive(Clone, Copy)]
pub enum Stage {
    Raised,
    Caught,
    Unhandled,
}

#[cfg(target_os = "wasi")]
mod imp {
    use super::{Crash, Event, Mode, Request};
    use crate::wasi::rewind::recorder::{capture, control, requests, trace};

    pub fn next_request() -> Option<Request> {
        let request = requests::next()?;
        Some(Request {
            id: request.id,
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: request.body,
            remote_addr: request.remote_addr,
            remote_port: request.remote_port,
            server_name: request.server_name,
            server_port: request.server_port,
        })
    }

    pub fn respond(id: u64, status: u16, headers: Vec<(String, String)>, body: Vec<u8>) {
        requests::respond(
            id,
            &requests::Response {
                status,
                headers,
                body,
            },
        )
    }

    fn from_mode(mode: control::Mode) -> Mode {
        match mode {
            control::Mode::Off => 0,
            control::Mode::OnEvent => 1,
            control::Mode::Continuous => 2,
        }
    }

    fn to_mode(mode: Mode) -> control::Mode {
        match mode {
            0 => control::Mode::Off,
            1 => control::Mode::OnEvent,
            _ => control::Mode::Continuous,
        }
    }

    pub fn get_mode() -> Mode {
        from_mode(control::get_mode())
    }

    pub fn set_mode(mode: Mode) -> Mode {
        from_mode(control::set_mode(to_mode(mode)))
    }

    pub fn max_mode() -> Mode {
        from_mode(control::max_mode())
    }

    pub fn tracing() -> bool {
        control::tracing()
    }

    pub fn position(at: u64) -> u64 {
        control::position(at)
    }

    pub fn interrupted(at: u64) -> bool {
        control::interrupted(at)
    }

    pub fn trace_from() -> u64 {
        control::trace_from()
    }

    pub fn approximate(index: u64) {
        trace::approximate(index)
    }

    pub fn evaluate_at() -> Option<u64> {
        trace::evaluate_at()
    }

    pub fn evaluations() -> Vec<(u32, String)> {
        trace::evaluations()
            .into_iter()
            .map(|request| (request.depth, request.expression))
            .collect()
    }

    pub fn evaluated(results: Vec<Result<String, String>>) {
        trace::evaluated(&results)
    }

    pub fn snapshot(name: Option<&str>, all: bool) -> String {
        control::snapshot(name, all)
    }

    pub fn clear(all: bool, flush: bool) {
        control::clear(all, flush)
    }

    pub fn flush() {
        control::flush()
    }

    pub fn block(task: u64, clear: bool) -> u64 {
        control::block(task, clear)
    }

    pub fn rule(target: &str, record: bool) {
        control::rule(target, record)
    }

    pub fn crash(crash: Crash) -> Option<String> {
        let crash = capture::Crash {
            kind: if crash.reported {
                capture::CrashKind::Reported
            } else {
                capture::CrashKind::Unhandled
            },
            exception: crash
                .exception
                .map(|(type_name, message)| capture::ExceptionInfo { type_name, message }),
            frames: crash
                .frames
                .into_iter()
                .map(|frame| capture::Frame {
                    function: frame.function,
                    file: frame.file,
                    line: frame.line,
                    locals: frame.locals,
                })
                .collect(),
            notes: crash.notes,
        };
        capture::report(&crash)
    }

    pub fn events(batch: Vec<Event>) {
        let batch: Vec<trace::Event> = batch
            .into_iter()
            .map(|event| match event {
                Event::Call {
                    function,
                    file,
                    line,
                    args,
                } => trace::Event::Call(trace::CallEvent {
                    function,
                    file,
                    line,
                    args,
                }),
                Event::Line { line, changed } => {
                    trace::Event::Line(trace::LineEvent { line, changed })
                }
                Event::Return(value) => trace::Event::Return(value),
                Event::Exception {
                    stage,
                    type_name,
                    message,
                } => trace::Event::Exception(trace::ExceptionEvent {
                    stage: match stage {
                        super::Stage::Raised => trace::ExceptionStage::Raised,
                        super::Stage::Caught => trace::ExceptionStage::Caught,
                        super::Stage::Unhandled => trace::ExceptionStage::Unhandled,
                    },
                    type_name,
                    message,
                }),
            })
            .collect();
        trace::events(&batch)
    }

    pub fn packed_events(count: u32, body: &[u8]) {
        trace::packed_events(count, body)
    }
}

#[cfg(not(target_os = "wasi"))]
mod imp {
    use super::{Crash, Event, Mode, Request};

    /// Natively there is no server: nothing to serve.
    pub fn next_request() -> Option<Request> {
        None
    }

    pub fn respond(_id: u64, _status: u16, _headers: Vec<(String, String)>, _body: Vec<u8>) {}

    pub fn get_mode() -> Mode {
        0
    }

    pub fn set_mode(_mode: Mode) -> Mode {
        0
    }

    pub fn max_mode() -> Mode {
        0
    }

    /// Natively nothing records; `REWIND_TRACE_NATIVELY=1` turns the tracer
    /// on anyway (its events are dropped), to measure the tracer alone.
    pub fn tracing() -> bool {
        std::env::var_os("REWIND_TRACE_NATIVELY").is_some()
    }

    pub fn position(_at: u64) -> u64 {
        0
    }

    pub fn interrupted(_at: u64) -> bool {
        false
    }

    /// `REWIND_TRACE_FROM=N` starts the tracer at position N, to measure
    /// a tracer started mid-run.
    pub fn trace_from() -> u64 {
        std::env::var("REWIND_TRACE_FROM")
            .ok()
            .and_then(|from| from.parse().ok())
            .unwrap_or(0)
    }

    pub fn approximate(index: u64) {
        if std::env::var_os("REWIND_TRACE_NATIVELY").is_some_and(|v| v == "verbose") {
            eprintln!("rewind-python: event {index} is approximate");
        }
    }

    pub fn evaluate_at() -> Option<u64> {
        None
    }

    pub fn evaluations() -> Vec<(u32, String)> {
        Vec::new()
    }

    pub fn evaluated(_results: Vec<Result<String, String>>) {}

    pub fn snapshot(name: Option<&str>, _all: bool) -> String {
        name.unwrap_or("snapshot-1").to_owned()
    }

    pub fn clear(_all: bool, _flush: bool) {}

    pub fn flush() {}

    pub fn block(task: u64, _clear: bool) -> u64 {
        task
    }

    pub fn rule(_target: &str, _record: bool) {}

    pub fn crash(_crash: Crash) -> Option<String> {
        None
    }

    pub fn events(_batch: Vec<Event>) {}

    /// With `REWIND_TRACE_NATIVELY=verbose`, each batch is reported on stderr.
    pub fn packed_events(count: u32, body: &[u8]) {
        if std::env::var_os("REWIND_TRACE_NATIVELY").is_some_and(|v| v == "verbose") {
            eprintln!("rewind-python: {count} packed events, {} bytes", body.len());
        }
    }
}

pub use imp::*;
