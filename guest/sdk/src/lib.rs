//! Rewind's guest SDK for Rust: what a Rust WebAssembly component calls to
//! be recorded by Rewind, the counterpart of Python's `import revdebug`.
//!
//! - Control calls: [`set_mode`], [`snapshot`], [`clear`], [`flush`],
//!   [`exception`], as RevDeBug's agent API has them.
//! - Events, which the host keeps in the thread's ring buffer: [`call`]
//!   opens a frame (with its arguments) and returns a guard whose
//!   [`Call::returns`] (or drop) closes it; [`line`] marks a line with the
//!   values that changed.
//! - [`install_panic_hook`]: a panic becomes a crash event, with the
//!   message, where it happened, and the frames open at the time.
//!
//! ```
//! fn fib(n: u64) -> u64 {
//!     let call = rewind::call("fib", file!(), line!(), &[("n", &n)]);
//!     let result = if n < 2 { n } else { fib(n - 1) + fib(n - 2) };
//!     call.returns(result)
//! }
//!
//! rewind::install_panic_hook();
//! let total = fib(10);
//! rewind::line(line!(), &[("total", &total)]);
//! let name = rewind::snapshot(Some("after-fib"));
//! assert_eq!((total, name.as_str()), (55, "after-fib"));
//! ```
//!
//! Built for anything but WASI (unit tests of the host, say, and this
//! example under `cargo test`), every call is a no-op answering as the
//! `Off` mode would, and a snapshot is named but not taken. Under Rewind
//! (`rewind run app.wasm`, or a host that embeds `rewind-runtime`), the
//! same calls go to the recorder through the `rewind:recorder` WIT
//! interfaces.

use std::cell::RefCell;
use std::fmt::Debug;

/// RevDeBug's recording modes, ordered `Off < OnEvent < Continuous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Off,
    /// RevDeBug's `Crash`: the log stays in the host until a crash or a
    /// snapshot.
    OnEvent,
    /// RevDeBug's `Live`: the log streams as it grows.
    Continuous,
}

/// The longest a value's `Debug` form is kept.
const MAX_VALUE: usize = 1000;
/// Events batched before they go to the host.
const BATCH: usize = 256;

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

#[derive(Default)]
struct State {
    batch: Vec<Event>,
    /// The frames open now, outermost first: function, file, line.
    frames: Vec<(String, String, u32)>,
}

/// An event as the SDK batches it, before the host's types.
enum Event {
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
        unhandled: bool,
        type_name: String,
        message: String,
    },
}

/// A value's `Debug` form, capped.
fn show(value: &dyn Debug) -> String {
    let mut text = format!("{value:?}");
    if text.len() > MAX_VALUE {
        let mut end = MAX_VALUE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

fn pairs(values: &[(&str, &dyn Debug)]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|(name, value)| ((*name).to_owned(), show(*value)))
        .collect()
}

fn emit(event: Event) {
    let full = STATE.with(|state| {
        let mut state = state.borrow_mut();
        state.batch.push(event);
        state.batch.len() >= BATCH
    });
    if full {
        send();
    }
}

/// Hands the batched events to the host: before every control call, so that
/// the host sees them in order with it.
fn send() {
    let batch = STATE.with(|state| std::mem::take(&mut state.borrow_mut().batch));
    if !batch.is_empty() {
        host::events(batch);
    }
}

/// A frame opened by [`call`]; closing it (with [`Call::returns`], or by
/// dropping it) records the return.
#[must_use = "the frame closes when the guard is dropped"]
#[derive(Debug)]
pub struct Call {
    closed: bool,
}

/// Opens a frame of `function` at `file:line` with its arguments.
pub fn call(function: &str, file: &str, line: u32, args: &[(&str, &dyn Debug)]) -> Call {
    STATE.with(|state| {
        state
            .borrow_mut()
            .frames
            .push((function.to_owned(), file.to_owned(), line))
    });
    emit(Event::Call {
        function: function.to_owned(),
        file: file.to_owned(),
        line,
        args: pairs(args),
    });
    Call { closed: false }
}

impl Call {
    /// Closes the frame, recording `value` as what it returned, and gives
    /// the value back.
    pub fn returns<T: Debug>(mut self, value: T) -> T {
        self.close(show(&value));
        value
    }

    fn close(&mut self, value: String) {
        if self.closed {
            return;
        }
        self.closed = true;
        STATE.with(|state| state.borrow_mut().frames.pop());
        emit(Event::Return(value));
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.close("()".to_owned());
    }
}

/// Marks line `line` of the current frame, with the values that changed.
pub fn line(line: u32, changed: &[(&str, &dyn Debug)]) {
    STATE.with(|state| {
        if let Some(frame) = state.borrow_mut().frames.last_mut() {
            frame.2 = line;
        }
    });
    emit(Event::Line {
        line,
        changed: pairs(changed),
    });
}

/// The mode in effect.
pub fn mode() -> Mode {
    host::get_mode()
}

/// Asks for `mode`; returns the mode in effect, never above what the host
/// (or its collector) allows.
pub fn set_mode(mode: Mode) -> Mode {
    send();
    host::set_mode(mode)
}

/// The highest mode the host allows.
pub fn max_mode() -> Mode {
    host::max_mode()
}

/// Sends the current thread's buffer as a snapshot; without a name the host
/// numbers it. Returns the name used.
pub fn snapshot(name: Option<&str>) -> String {
    send();
    host::snapshot(name, false)
}

/// [`snapshot`] for every thread's buffer.
pub fn snapshot_all(name: Option<&str>) -> String {
    send();
    host::snapshot(name, true)
}

/// Empties the current thread's buffer; in continuous mode with `flush`, it
/// is sent first.
pub fn clear(flush: bool) {
    send();
    host::clear(false, flush)
}

/// [`clear`] for every thread's buffer.
pub fn clear_all(flush: bool) {
    send();
    host::clear(true, flush)
}

/// Continuous mode: sends every buffer now. Other modes: nothing.
pub fn flush() {
    send();
    host::flush()
}

/// Records a crash event for `error` (RevDeBug's `exception`), with the
/// frames open now; the program goes on. Returns where the recording went,
/// when one was written.
pub fn exception(error: &dyn std::error::Error) -> Option<String> {
    send();
    let type_name = error_type(error);
    host::crash(false, type_name, error.to_string(), frames())
}

fn error_type(error: &dyn std::error::Error) -> String {
    // The concrete type is not known through `dyn Error`; its Debug form
    // starts with it for derived implementations.
    let debug = format!("{error:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    if name.is_empty() {
        "Error".to_owned()
    } else {
        name
    }
}

fn frames() -> Vec<(String, String, u32)> {
    STATE.with(|state| state.borrow().frames.clone())
}

/// Makes a panic a crash event: the message, where it happened, and the
/// frames open at the time. The previous hook runs after (it prints the
/// message).
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = match info.payload().downcast_ref::<&str>() {
            Some(text) => (*text).to_owned(),
            None => match info.payload().downcast_ref::<String>() {
                Some(text) => text.clone(),
                None => "a panic".to_owned(),
            },
        };
        let mut frames = frames();
        if let Some(location) = info.location() {
            frames.push((
                "<panic>".to_owned(),
                location.file().to_owned(),
                location.line(),
            ));
        }
        emit(Event::Exception {
            unhandled: true,
            type_name: "panic".to_owned(),
            message: message.clone(),
        });
        send();
        host::crash(true, "panic".to_owned(), message, frames);
        previous(info);
    }));
}

#[cfg(target_os = "wasi")]
mod host {
    wit_bindgen::generate!({ path: "../../wit", world: "rewind:recorder/recorded" });

    use super::Event;
    use rewind::recorder::{capture, control, trace};

    fn from(mode: control::Mode) -> super::Mode {
        match mode {
            control::Mode::Off => super::Mode::Off,
            control::Mode::OnEvent => super::Mode::OnEvent,
            control::Mode::Continuous => super::Mode::Continuous,
        }
    }

    pub fn get_mode() -> super::Mode {
        from(control::get_mode())
    }

    pub fn set_mode(mode: super::Mode) -> super::Mode {
        from(control::set_mode(match mode {
            super::Mode::Off => control::Mode::Off,
            super::Mode::OnEvent => control::Mode::OnEvent,
            super::Mode::Continuous => control::Mode::Continuous,
        }))
    }

    pub fn max_mode() -> super::Mode {
        from(control::max_mode())
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

    pub fn crash(
        unhandled: bool,
        type_name: String,
        message: String,
        frames: Vec<(String, String, u32)>,
    ) -> Option<String> {
        capture::report(&capture::Crash {
            kind: if unhandled {
                capture::CrashKind::Unhandled
            } else {
                capture::CrashKind::Reported
            },
            exception: Some(capture::ExceptionInfo { type_name, message }),
            frames: frames
                .into_iter()
                .map(|(function, file, line)| capture::Frame {
                    function,
                    file,
                    line,
                    locals: Vec::new(),
                })
                .collect(),
            notes: Vec::new(),
        })
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
                    unhandled,
                    type_name,
                    message,
                } => trace::Event::Exception(trace::ExceptionEvent {
                    stage: if unhandled {
                        trace::ExceptionStage::Unhandled
                    } else {
                        trace::ExceptionStage::Raised
                    },
                    type_name,
                    message,
                }),
            })
            .collect();
        trace::events(&batch)
    }
}

#[cfg(not(target_os = "wasi"))]
mod host {
    use super::Event;

    pub fn get_mode() -> super::Mode {
        super::Mode::Off
    }

    pub fn set_mode(_: super::Mode) -> super::Mode {
        super::Mode::Off
    }

    pub fn max_mode() -> super::Mode {
        super::Mode::Off
    }

    pub fn snapshot(name: Option<&str>, _: bool) -> String {
        name.unwrap_or("snapshot-1").to_owned()
    }

    pub fn clear(_: bool, _: bool) {}

    pub fn flush() {}

    pub fn crash(_: bool, _: String, _: String, _: Vec<(String, String, u32)>) -> Option<String> {
        None
    }

    pub fn events(batch: Vec<Event>) {
        drop(batch);
    }
}
