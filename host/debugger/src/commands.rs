//! gdb-style commands over a [`Session`], answered in plain, deterministic
//! text: the scripted mode (`rewind replay FILE --commands SCRIPT`) and the
//! terminal UI's command line both use them.

use std::fmt::Write as _;

use rewind_format::model::ExceptionStage;

use rewind_format::model::Event;

use crate::session::{Direction, Motion, Moved, Session};

/// The commands and what they do, for `help`.
pub const HELP: &str = "\
step, s                 to the next event, into calls
next, n                 to the next event of this frame, over calls
finish, f               out of this frame, to its caller after it returns
continue, c             to the next breakpoint hit (or the end)
reverse-step, rs        to the previous event
reverse-next, rn        to the previous event of this frame, over calls
reverse-finish, rf      back to the line that called this frame
reverse-continue, rc    to the previous breakpoint hit (or the beginning)
break FILE:LINE, b      set a breakpoint (FILE may be the end of a path)
break LINE              set a breakpoint in the current file
delete [N]              delete breakpoint N, or all of them
info breakpoints        list the breakpoints
goto N                  to recorded event number N
print NAME, p           a local of the selected frame, else a global
print EXPR              EXPR evaluated in the selected frame as the run was
                        here (re-executes the run to this event; e.g.
                        p self.balance, p order[\"qty\"], p len(items))
locals                  the locals of the selected frame
backtrace, bt           the call stack, innermost first
up [N], down [N]        select the caller (up) or the callee (down)
frame [N]               select frame N of the backtrace, or show the selected
history NAME            every value NAME took in this frame, with its event
threads                 the threads, their events and positions
thread N                switch to thread N
where                   the current position
marks                   the snapshots and crashes
help, h, ?              this list
quit, q                 end the session";

/// Whether `line` ends the session (`quit`, `q`, `exit`).
pub fn is_quit(line: &str) -> bool {
    matches!(line.trim(), "quit" | "q" | "exit")
}

/// Runs one command line; the text to print. Errors are text too: the
/// session goes on.
pub fn run(session: &mut Session, line: &str) -> String {
    let line = line.trim();
    let (command, arg) = match line.split_once(char::is_whitespace) {
        Some((command, arg)) => (command, arg.trim()),
        None => (line, ""),
    };
    use Direction::{Backward, Forward};
    let moving = match command {
        "step" | "s" => Some((Motion::Step, Forward)),
        "next" | "n" => Some((Motion::Next, Forward)),
        "finish" | "f" => Some((Motion::Finish, Forward)),
        "continue" | "c" => Some((Motion::Continue, Forward)),
        "reverse-step" | "rs" => Some((Motion::Step, Backward)),
        "reverse-next" | "rn" => Some((Motion::Next, Backward)),
        "reverse-finish" | "rf" => Some((Motion::Finish, Backward)),
        "reverse-continue" | "rc" => Some((Motion::Continue, Backward)),
        _ => None,
    };
    if let Some((motion, direction)) = moving {
        if !arg.is_empty() {
            return format!("{command} takes no argument");
        }
        return match session.motion(motion, direction) {
            Some(moved) => describe_move(session, &moved),
            None => no_events(session),
        };
    }
    match command {
        "" => String::new(),
        "break" | "b" => breakpoint(session, arg),
        "delete" | "d" => match arg {
            "" => format!("deleted {} breakpoints", session.delete_breakpoints(None)),
            id => match id.parse::<u32>() {
                Ok(id) => match session.delete_breakpoints(Some(id)) {
                    0 => format!("no breakpoint {id}"),
                    _ => format!("deleted breakpoint {id}"),
                },
                Err(_) => format!("delete: {id:?} is not a breakpoint number"),
            },
        },
        "info" if matches!(arg, "breakpoints" | "break" | "b") => {
            let mut out = String::new();
            if session.breakpoints().is_empty() {
                out.push_str("no breakpoints");
            }
            for bp in session.breakpoints() {
                let _ = writeln!(
                    out,
                    "{}: {}:{} ({} hits)",
                    bp.id,
                    bp.file,
                    bp.line,
                    bp.hit_count()
                );
            }
            out.trim_end().to_owned()
        }
        "goto" | "g" => match arg.parse::<u64>() {
            Ok(number) => match session.goto(number) {
                Ok(pos) => place(session, pos),
                Err(err) => err,
            },
            Err(_) if arg.is_empty() => "goto needs an event number".into(),
            Err(_) => format!("goto: {arg:?} is not an event number"),
        },
        "print" | "p" => {
            if arg.is_empty() {
                return "print needs a variable name or an expression".into();
            }
            let Some(pos) = session.pos() else {
                return no_events(session);
            };
            // A name is answered from the recorded values; anything else,
            // or a name the events do not hold (a builtin, a global set
            // before the window), by evaluating it in the past.
            let recorded = is_name(arg).then(|| session.lookup(pos, arg)).flatten();
            match recorded {
                Some((value, "global")) => format!("{arg} = {value} (global)"),
                Some((value, _)) => format!("{arg} = {value}"),
                None => match session.evaluate(arg) {
                    Ok(value) => format!("{arg} = {value}"),
                    Err(err) if is_name(arg) && err.starts_with("NameError") => {
                        format!("no variable {arg:?} at this point")
                    }
                    Err(err) if is_name(arg) => {
                        format!("no variable {arg:?} at this point ({err})")
                    }
                    Err(err) => err,
                },
            }
        }
        "up" | "down" => {
            let Some(pos) = session.pos() else {
                return no_events(session);
            };
            let steps = match arg {
                "" => 1,
                n => match n.parse::<usize>() {
                    Ok(n) => n,
                    Err(_) => return format!("{command}: {n:?} is not a number of frames"),
                },
            };
            let depth = session.backtrace(pos).len();
            let selected = session.selected();
            let target = match command {
                "up" if selected + 1 >= depth => {
                    return "already at the outermost frame".into();
                }
                "up" => (selected + steps).min(depth - 1),
                _ if selected == 0 => return "already at the innermost frame".into(),
                _ => selected.saturating_sub(steps),
            };
            select(session, target, pos)
        }
        "frame" | "fr" => {
            let Some(pos) = session.pos() else {
                return no_events(session);
            };
            match arg {
                "" => select(session, session.selected(), pos),
                n => match n.parse::<usize>() {
                    Ok(n) => select(session, n, pos),
                    Err(_) => format!("frame: {n:?} is not a frame number"),
                },
            }
        }
        "locals" => {
            let Some(pos) = session.pos() else {
                return no_events(session);
            };
            let locals = shown_locals(session, pos);
            if locals.is_empty() {
                return "no locals".into();
            }
            locals
                .iter()
                .map(|(name, value)| format!("{name} = {value}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        "backtrace" | "bt" => {
            let Some(pos) = session.pos() else {
                return no_events(session);
            };
            let selected = session.selected();
            session
                .backtrace(pos)
                .iter()
                .enumerate()
                .map(|(n, frame)| {
                    format!(
                        "{}#{n} {} at {}:{}",
                        if n == selected && n > 0 { "*" } else { "" },
                        frame.function,
                        frame.file.as_deref().unwrap_or("?"),
                        frame.line
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        "where" | "w" => match session.pos() {
            Some(pos) => place(session, pos),
            None => no_events(session),
        },
        "history" => {
            if arg.is_empty() {
                return "history needs a variable name".into();
            }
            let Some(pos) = session.pos() else {
                return no_events(session);
            };
            match session.history(pos, arg) {
                Some((frame, values)) => {
                    let mut out = format!(
                        "{arg} in {}: {} value{}",
                        frame.function,
                        values.len(),
                        if values.len() == 1 { "" } else { "s" }
                    );
                    for (number, value) in values {
                        let _ = write!(out, "\n  #{number} {arg} = {value}");
                    }
                    out
                }
                None => format!("no variable {arg:?} in this frame"),
            }
        }
        "threads" => session
            .threads()
            .iter()
            .map(|(thread, len, pos)| {
                let current = if *thread == session.thread() {
                    "*"
                } else {
                    " "
                };
                let at = session
                    .trace
                    .threads
                    .get(thread)
                    .filter(|index| !index.is_empty())
                    .map_or("-".to_owned(), |index| {
                        format!("#{}", index.event_number(*pos))
                    });
                format!("{current} thread {thread}: {len} events, at {at}")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        "thread" | "t" => match arg.parse::<u32>() {
            Ok(thread) => match session.set_thread(thread) {
                Ok(()) => match session.pos() {
                    Some(pos) => format!("thread {thread}\n{}", place(session, pos)),
                    None => format!("thread {thread}: no events"),
                },
                Err(err) => err,
            },
            Err(_) if arg.is_empty() => format!("thread {}", session.thread()),
            Err(_) => format!("thread: {arg:?} is not a thread number"),
        },
        "marks" => {
            if session.marks.is_empty() {
                return "no snapshots or crashes with events".into();
            }
            session
                .marks
                .iter()
                .map(|mark| {
                    let number = session
                        .trace
                        .threads
                        .get(&mark.thread)
                        .map_or(0, |index| index.event_number(mark.pos));
                    format!("thread {} #{number}: {}", mark.thread, mark.label)
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        "help" | "h" | "?" => HELP.to_owned(),
        "quit" | "q" | "exit" => String::new(),
        other => format!("unknown command {other:?} (try \"help\")"),
    }
}

/// Selects frame `n` and shows it: `#1 main at app.py:12` and its line.
fn select(session: &mut Session, n: usize, pos: u32) -> String {
    match session.select_frame(n) {
        Ok(frame) => {
            let file = frame.file.as_deref().unwrap_or("?");
            let mut out = format!("#{n} {} at {}:{}", frame.function, file, frame.line);
            if let Some(text) = session
                .source(file)
                .and_then(|lines| lines.get((frame.line as usize).checked_sub(1)?))
            {
                let _ = write!(out, "\n{:>6} | {}", frame.line, text.trim_end());
            }
            let locals = shown_locals(session, pos);
            if !locals.is_empty() {
                let names: Vec<&str> = locals.iter().map(|(name, _)| name.as_str()).collect();
                let _ = write!(out, "\nlocals: {}", names.join(", "));
            }
            out
        }
        Err(err) => err,
    }
}

/// Whether `text` is a plain name (`total`, `_x1`), not an expression:
/// a recorded name is answered without evaluating anything.
pub fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn no_events(session: &Session) -> String {
    format!("thread {} has no events", session.thread())
}

fn breakpoint(session: &mut Session, arg: &str) -> String {
    if arg.is_empty() {
        return "break needs FILE:LINE or LINE".into();
    }
    let (file, line) = match arg.rsplit_once(':') {
        Some((file, line)) => (Some(file.to_owned()), line),
        None => (None, arg),
    };
    let Ok(line) = line.parse::<u32>() else {
        return format!("break: {line:?} is not a line number");
    };
    let file = match file {
        Some(file) => file,
        None => match session
            .pos()
            .and_then(|pos| session.backtrace(pos).into_iter().next())
            .and_then(|frame| frame.file)
        {
            Some(file) => file,
            None => return "break: no current file; give FILE:LINE".into(),
        },
    };
    match session.add_breakpoint(&file, line) {
        Ok(bp) => format!(
            "breakpoint {} at {}:{} ({} hit{})",
            bp.id,
            bp.file,
            bp.line,
            bp.hit_count(),
            if bp.hit_count() == 1 { "" } else { "s" }
        ),
        Err(err) => err,
    }
}

/// What a move passed or met: the value a finished frame returned, the
/// breakpoint that stopped it, an end of the recording.
pub fn move_notes(moved: &Moved) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(value) = &moved.returned {
        notes.push(format!("returned {value}"));
    }
    if let Some(id) = moved.breakpoint {
        notes.push(format!("breakpoint {id}"));
    }
    if let Some(edge) = moved.at_edge {
        notes.push(format!("{edge} of the recording"));
    }
    notes
}

/// The locals of the innermost frame at `pos` as they are shown: a
/// module's namespace without the interpreter's dunders.
pub fn shown_locals(session: &Session, pos: u32) -> Vec<(String, String)> {
    let mut locals = session.locals(pos);
    locals.retain(|(name, _)| !(name.starts_with("__") && name.ends_with("__")));
    locals
}

fn describe_move(session: &Session, moved: &Moved) -> String {
    let mut out = String::new();
    for note in move_notes(moved) {
        let _ = writeln!(out, "{note}");
    }
    if let Some(index) = session.index()
        && index.starts_gap(moved.pos)
    {
        let _ = writeln!(out, "(events before this one were not recorded)");
    }
    out.push_str(&place(session, moved.pos));
    out
}

/// The position in one line, and the source line below it:
/// `#42 app.py:5 in fib: call (n=3)`.
pub fn place(session: &Session, pos: u32) -> String {
    let Some(index) = session.index() else {
        return no_events(session);
    };
    let frame = session.backtrace(pos).into_iter().next();
    let (function, file) = match &frame {
        Some(frame) => (frame.function.clone(), frame.file.clone()),
        None => ("?".to_owned(), None),
    };
    let line = index.line(pos);
    let what = match session.event(pos) {
        Some(Event::Call { args, .. }) => format!(
            ": call ({})",
            args.iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(Event::Line { .. }) | None => String::new(),
        Some(Event::Return { value }) => format!(": return {value}"),
        Some(Event::Exception {
            stage,
            type_name,
            message,
        }) => format!(": {} {type_name}: {message}", stage_word(stage)),
    };
    let mut out = format!(
        "#{} {}:{} in {function}{what}",
        index.event_number(pos),
        short(file.as_deref().unwrap_or("?")),
        line
    );
    if let Some(text) = file
        .as_deref()
        .and_then(|file| session.source(file))
        .and_then(|lines| lines.get((line as usize).checked_sub(1)?))
    {
        let _ = write!(out, "\n{line:>6} | {}", text.trim_end());
    }
    if let Some(exception) = session.crash_at(pos).and_then(|c| c.exception.as_ref()) {
        let _ = write!(
            out,
            "\ncrashed here: {}: {}",
            exception.type_name, exception.message
        );
    }
    out
}

/// Exception stages as a debugger says them.
pub fn stage_word(stage: ExceptionStage) -> &'static str {
    match stage {
        ExceptionStage::Raised => "raised",
        ExceptionStage::Caught => "caught",
        ExceptionStage::Unhandled => "unhandled",
    }
}

/// A recorded path shown by its file name: the full path is in
/// `backtrace`.
fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
