//! The `rewind:recorder` WIT interfaces (`wit/recorder.wit`), implemented on
//! a thread's [`ThreadRecorder`]. This is the only `bindgen!` of them.
//!
//! Everything a guest passes is validated by the canonical ABI before it
//! gets here (a bad string or enum traps that guest); nothing here can fail
//! the host. Every string a guest passes is cut to [`MAX_STRING`] bytes
//! here, before the recorder keeps it: snapshot names, rule targets, crash
//! captures and live events alike.

use rewind_format::model::{self as format, CrashReason, Mode};
use wasmtime::component::{HasSelf, Linker};

use super::ctx::RecorderView;
use super::handle::ThreadRecorder;

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "rewind:recorder/recorded",
        // Every call may stop the guest: re-execution traps it where it
        // diverged from its recording.
        imports: { default: trappable },
    });
}

use generated::rewind::recorder::{capture, control, trace};

/// Adds the recorder's interfaces to `linker`: each call goes to the
/// calling store's thread of the recording.
pub(crate) fn add_to_linker<T: RecorderView + 'static>(
    linker: &mut Linker<T>,
) -> anyhow::Result<()> {
    generated::Recorded::add_to_linker::<T, HasSelf<ThreadRecorder>>(linker, |state| {
        &mut state.recorder().thread
    })
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

type Result<T> = wasmtime::Result<T>;

/// The longest string the recorder keeps of one a guest passes, in bytes:
/// a longer one is cut at a character boundary and ends in `...`. The
/// guest's own safe string forms are far shorter (256 characters).
pub(crate) const MAX_STRING: usize = 4096;

/// `text`, cut to [`MAX_STRING`] bytes.
fn cut(mut text: String) -> String {
    if text.len() <= MAX_STRING {
        return text;
    }
    let mut end = MAX_STRING - "...".len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
    text
}

fn cut_pairs(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(name, value)| (cut(name), cut(value)))
        .collect()
}

/// A control call's answer, unless re-execution must stop here.
fn answer<T>(thread: &ThreadRecorder, value: T) -> Result<T> {
    thread.replay_check()?;
    Ok(value)
}

impl control::Host for ThreadRecorder {
    fn get_mode(&mut self) -> Result<control::Mode> {
        answer(self, from_mode(self.mode()))
    }

    fn set_mode(&mut self, requested: control::Mode) -> Result<control::Mode> {
        let effective = ThreadRecorder::set_mode(self, to_mode(requested));
        answer(self, from_mode(effective))
    }

    fn max_mode(&mut self) -> Result<control::Mode> {
        answer(self, from_mode(ThreadRecorder::max_mode(self)))
    }

    fn tracing(&mut self) -> Result<bool> {
        answer(self, ThreadRecorder::tracing(self))
    }

    fn position(&mut self, at: u64) -> Result<u64> {
        let next = ThreadRecorder::position(self, at)?;
        answer(self, next)
    }

    fn interrupted(&mut self, at: u64) -> Result<bool> {
        let interrupted = ThreadRecorder::interrupted(self, at);
        answer(self, interrupted)
    }

    fn trace_from(&mut self) -> Result<u64> {
        answer(self, ThreadRecorder::trace_from(self))
    }

    fn snapshot(&mut self, name: Option<String>, all: bool) -> Result<String> {
        let name = ThreadRecorder::snapshot(self, name.map(cut), all);
        answer(self, name)
    }

    fn clear(&mut self, all: bool, flush: bool) -> Result<()> {
        ThreadRecorder::clear(self, all, flush);
        answer(self, ())
    }

    fn flush(&mut self) -> Result<()> {
        ThreadRecorder::flush(self);
        answer(self, ())
    }

    fn block(&mut self, task: u64, clear: bool) -> Result<u64> {
        let block = ThreadRecorder::block(self, task, clear);
        answer(self, block)
    }

    fn rule(&mut self, target: String, record: bool) -> Result<()> {
        ThreadRecorder::rule(self, cut(target), record);
        answer(self, ())
    }
}

impl capture::Host for ThreadRecorder {
    fn report(&mut self, crash: capture::Crash) -> Result<Option<String>> {
        let crash = format::Crash {
            id: 0,
            thread: 0,
            reason: match crash.kind {
                capture::CrashKind::Unhandled => CrashReason::Unhandled,
                capture::CrashKind::Reported => CrashReason::Reported,
            },
            exception: crash.exception.map(|exception| format::ExceptionInfo {
                type_name: cut(exception.type_name),
                message: cut(exception.message),
            }),
            frames: crash
                .frames
                .into_iter()
                .map(|frame| format::Frame {
                    function: cut(frame.function),
                    file: cut(frame.file),
                    line: frame.line,
                    locals: cut_pairs(frame.locals),
                })
                .collect(),
            notes: crash.notes.into_iter().map(cut).collect(),
        };
        let path = self.crash(crash);
        answer(self, path.map(|path| path.to_string_lossy().into_owned()))
    }
}

impl trace::Host for ThreadRecorder {
    fn events(&mut self, batch: Vec<trace::Event>) -> Result<()> {
        let batch = batch
            .into_iter()
            .map(|event| match event {
                trace::Event::Call(call) => format::Event::Call {
                    function: cut(call.function),
                    file: cut(call.file),
                    line: call.line,
                    args: cut_pairs(call.args),
                },
                trace::Event::Line(line) => format::Event::Line {
                    line: line.line,
                    changed: cut_pairs(line.changed),
                },
                trace::Event::Return(value) => format::Event::Return { value: cut(value) },
                trace::Event::Exception(exception) => format::Event::Exception {
                    stage: match exception.stage {
                        trace::ExceptionStage::Raised => format::ExceptionStage::Raised,
                        trace::ExceptionStage::Caught => format::ExceptionStage::Caught,
                        trace::ExceptionStage::Unhandled => format::ExceptionStage::Unhandled,
                    },
                    type_name: cut(exception.type_name),
                    message: cut(exception.message),
                },
            })
            .collect();
        ThreadRecorder::events(self, batch);
        answer(self, ())
    }

    fn packed_events(&mut self, count: u32, body: Vec<u8>) -> Result<()> {
        ThreadRecorder::packed_events(self, count, &body);
        answer(self, ())
    }

    fn approximate(&mut self, index: u64) -> Result<()> {
        ThreadRecorder::approximate(self, index);
        answer(self, ())
    }

    fn evaluate_at(&mut self) -> Result<Option<u64>> {
        answer(self, ThreadRecorder::evaluate_at(self))
    }

    fn evaluations(&mut self) -> Result<Vec<trace::Evaluation>> {
        let requests = ThreadRecorder::evaluations(self)
            .into_iter()
            .map(|(depth, expression)| trace::Evaluation { depth, expression })
            .collect();
        answer(self, requests)
    }

    fn evaluated(&mut self, results: Vec<std::result::Result<String, String>>) -> Result<()> {
        let results = results
            .into_iter()
            .map(|result| result.map(cut).map_err(cut))
            .collect();
        // The re-execution ends here (`Stop::Evaluated`).
        ThreadRecorder::evaluated(self, results);
        answer(self, ())
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_STRING, cut};

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        assert_eq!(cut("short".to_owned()), "short");
        let exact = "x".repeat(MAX_STRING);
        assert_eq!(cut(exact.clone()), exact);
        let long = cut("é".repeat(MAX_STRING));
        assert!(long.len() <= MAX_STRING, "{}", long.len());
        assert!(long.ends_with("é..."), "{long}");
    }
}
