//! The `rewind:recorder` WIT interfaces (`wit/recorder.wit`), implemented on
//! a thread's [`ThreadRecorder`]. This is the only `bindgen!` of them.
//!
//! Everything a guest passes is validated by the canonical ABI before it
//! gets here (a bad string or enum traps that guest); nothing here can fail
//! the host.

use rewind_format::model::{self as format, CrashReason, Mode};
use wasmtime::component::{HasSelf, Linker};

use super::ThreadRecorder;

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "rewind:recorder/recorded",
    });
}

use generated::rewind::recorder::{capture, control, trace};

/// Adds the recorder's interfaces to `linker`, for stores whose data gives
/// a thread's recorder through `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut ThreadRecorder,
) -> anyhow::Result<()> {
    generated::Recorded::add_to_linker::<T, HasSelf<ThreadRecorder>>(linker, get)
        .map_err(anyhow::Error::from)
}

fn to_mode(mode: control::Mode) -> Mode {
    match mode {
        control::Mode::Off => Mode::Off,
        control::Mode::OnEvent => Mode::OnEvent,
        control::Mode::Continuous => Mode::Continuous,
    }
}

fn from_mode(mode: Mode) -> control::Mode {
    match mode {
        Mode::Off => control::Mode::Off,
        Mode::OnEvent => control::Mode::OnEvent,
        Mode::Continuous => control::Mode::Continuous,
    }
}

impl control::Host for ThreadRecorder {
    fn get_mode(&mut self) -> control::Mode {
        from_mode(self.mode())
    }

    fn set_mode(&mut self, requested: control::Mode) -> control::Mode {
        from_mode(ThreadRecorder::set_mode(self, to_mode(requested)))
    }

    fn max_mode(&mut self) -> control::Mode {
        from_mode(ThreadRecorder::max_mode(self))
    }

    fn tracing(&mut self) -> bool {
        ThreadRecorder::tracing(self)
    }

    fn snapshot(&mut self, name: Option<String>, all: bool) -> String {
        ThreadRecorder::snapshot(self, name, all)
    }

    fn clear(&mut self, all: bool, flush: bool) {
        ThreadRecorder::clear(self, all, flush)
    }

    fn flush(&mut self) {
        ThreadRecorder::flush(self)
    }

    fn block(&mut self, task: u64, clear: bool) -> u64 {
        ThreadRecorder::block(self, task, clear)
    }

    fn rule(&mut self, target: String, record: bool) {
        ThreadRecorder::rule(self, target, record)
    }
}

impl capture::Host for ThreadRecorder {
    fn report(&mut self, crash: capture::Crash) -> Option<String> {
        let crash = format::Crash {
            id: 0,
            thread: 0,
            reason: match crash.kind {
                capture::CrashKind::Unhandled => CrashReason::Unhandled,
                capture::CrashKind::Reported => CrashReason::Reported,
            },
            exception: crash.exception.map(|exception| format::ExceptionInfo {
                type_name: exception.type_name,
                message: exception.message,
            }),
            frames: crash
                .frames
                .into_iter()
                .map(|frame| format::Frame {
                    function: frame.function,
                    file: frame.file,
                    line: frame.line,
                    locals: frame.locals,
                })
                .collect(),
            notes: crash.notes,
        };
        self.crash(crash)
            .map(|path| path.to_string_lossy().into_owned())
    }
}

impl trace::Host for ThreadRecorder {
    fn events(&mut self, batch: Vec<trace::Event>) {
        let batch = batch
            .into_iter()
            .map(|event| match event {
                trace::Event::Call(call) => format::Event::Call {
                    function: call.function,
                    file: call.file,
                    line: call.line,
                    args: call.args,
                },
                trace::Event::Line(line) => format::Event::Line {
                    line: line.line,
                    changed: line.changed,
                },
                trace::Event::Return(value) => format::Event::Return { value },
                trace::Event::Exception(exception) => format::Event::Exception {
                    stage: match exception.stage {
                        trace::ExceptionStage::Raised => format::ExceptionStage::Raised,
                        trace::ExceptionStage::Caught => format::ExceptionStage::Caught,
                        trace::ExceptionStage::Unhandled => format::ExceptionStage::Unhandled,
                    },
                    type_name: exception.type_name,
                    message: exception.message,
                },
            })
            .collect();
        ThreadRecorder::events(self, batch)
    }
}
