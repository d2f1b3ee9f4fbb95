//! The Debug Adapter Protocol's requests, answered over a debugger
//! [`Session`].
//!
//! A launch opens the recording and only then says `initialized`, so that
//! the editor's breakpoints are set on events that exist; after
//! `configurationDone` the recorded run "plays" from its first event to
//! the first breakpoint hit, else to its crash, else to its end, as a live
//! run would stop. From there every move goes either way.
//!
//! DAP's numbers are the debugger's shifted: a thread's id is its number
//! plus one (clients take 0 for none), a frame's id says its thread and
//! its depth in the call stack, a variables reference is an index into the
//! scopes handed out since the last stop.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use rewind_debugger::commands;
use rewind_debugger::session::{Direction, Motion, Moved, Session};
use rewind_format::ValueRef;
use rewind_format::model::ThreadId;
use serde_json::{Value, json};

use super::launch::{Launch, Target};
use super::write_message;
use crate::common::evaluate::PastEvaluator;
use crate::common::events::{self, Source};

/// A frame's id: its thread's DAP id times this, plus its depth.
const FRAME_IDS: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Locals,
    Globals,
    /// A container's items, as the recording kept them.
    Items(ValueRef),
}

pub struct Adapter<W: Write> {
    out: W,
    seq: i64,
    /// The binary that records a launched `program`.
    rewind: PathBuf,
    session: Option<Session>,
    /// Where a launched program's recording is kept for the session.
    scratch: Option<tempfile::TempDir>,
    configured: bool,
    /// Whether the first stop was announced.
    started: bool,
    /// Breakpoint conditions, by breakpoint id.
    conditions: HashMap<u32, String>,
    /// The breakpoints the client set per source path, by id.
    by_source: HashMap<String, Vec<u32>>,
    /// Variables references handed out since the last stop.
    scopes: Vec<(ThreadId, usize, Scope)>,
    /// Sources the client reads from the recording (not on its disk).
    source_refs: Vec<String>,
}

/// A request that failed: its message goes back in the response.
type Answer = std::result::Result<Value, String>;

impl<W: Write> Adapter<W> {
    pub fn new(out: W, rewind: PathBuf) -> Adapter<W> {
        Adapter {
            out,
            seq: 0,
            rewind,
            session: None,
            scratch: None,
            configured: false,
            started: false,
            conditions: HashMap::new(),
            by_source: HashMap::new(),
            scopes: Vec::new(),
            source_refs: Vec::new(),
        }
    }

    /// Answers one message; false when the client is done.
    pub fn handle(&mut self, message: Value) -> Result<bool> {
        if message["type"] != "request" {
            return Ok(true);
        }
        let command = message["command"].as_str().unwrap_or_default().to_owned();
        let arguments = message.get("arguments").cloned().unwrap_or(Value::Null);
        let request_seq = message["seq"].as_i64().unwrap_or(0);
        let answer = match command.as_str() {
            "initialize" => Ok(capabilities()),
            "launch" | "attach" => self.launch(&arguments),
            "setBreakpoints" => self.set_breakpoints(&arguments),
            "setExceptionBreakpoints" => Ok(json!({"breakpoints": []})),
            "configurationDone" => {
                self.configured = true;
                Ok(Value::Null)
            }
            "threads" => self.threads(),
            "stackTrace" => self.stack_trace(&arguments),
            "scopes" => self.scopes(&arguments),
            "variables" => self.variables(&arguments),
            "source" => self.source(&arguments),
            "continue" | "next" | "stepIn" | "stepOut" | "stepBack" | "reverseContinue" => {
                self.prepare_move(&arguments)
            }
            "gotoTargets" => self.goto_targets(&arguments),
            "goto" => self.prepare_goto(&arguments),
            "evaluate" => self.evaluate(&arguments),
            "pause" => Ok(Value::Null),
            "disconnect" | "terminate" => Ok(Value::Null),
            other => Err(format!("rewind's debug adapter does not support {other:?}")),
        };
        let ok = answer.is_ok();
        self.respond(request_seq, &command, answer)?;
        match command.as_str() {
            "initialize" => {}
            "launch" | "attach" if ok => {
                self.event("initialized", Value::Null)?;
                self.start_if_ready()?;
            }
            "configurationDone" => self.start_if_ready()?,
            "continue" | "next" | "stepIn" | "stepOut" | "stepBack" | "reverseContinue" if ok => {
                self.make_move(&command, &arguments)?
            }
            "goto" if ok => self.stopped("goto", None, Vec::new())?,
            "terminate" => self.event("terminated", Value::Null)?,
            "disconnect" => return Ok(false),
            _ => {}
        }
        Ok(true)
    }

    fn respond(&mut self, request_seq: i64, command: &str, answer: Answer) -> Result<()> {
        self.seq += 1;
        let mut response = json!({
            "seq": self.seq,
            "type": "response",
            "request_seq": request_seq,
            "command": command,
            "success": answer.is_ok(),
        });
        match answer {
            Ok(Value::Null) => {}
            Ok(body) => response["body"] = body,
            Err(message) => {
                response["message"] = message.clone().into();
                response["body"] = json!({"error": {"id": 1, "format": message}});
            }
        }
        write_message(&mut self.out, &response)
    }

    fn event(&mut self, event: &str, body: Value) -> Result<()> {
        self.seq += 1;
        let mut message = json!({"seq": self.seq, "type": "event", "event": event});
        if !body.is_null() {
            message["body"] = body;
        }
        write_message(&mut self.out, &message)
    }

    fn output(&mut self, category: &str, text: String) -> Result<()> {
        self.event("output", json!({"category": category, "output": text}))
    }

    fn session(&mut self) -> std::result::Result<&mut Session, String> {
        self.session
            .as_mut()
            .ok_or_else(|| "no recording is open: launch one first".to_owned())
    }

    fn launch(&mut self, arguments: &Value) -> Answer {
        if self.session.is_some() {
            return Err("a recording is open already".into());
        }
        let launch = Launch::parse(arguments)?;
        let path = match &launch.target {
            Target::Recording { name, collector } => {
                let remote = name.starts_with("http://") || name.starts_with("https://");
                let path = PathBuf::from(name);
                if remote || (collector.server.is_some() && !path.exists()) {
                    crate::common::collector::fetch(name, collector)
                        .map_err(|err| format!("{err:#}"))?
                } else {
                    path
                }
            }
            Target::Program {
                program,
                args,
                cwd,
                python,
            } => {
                let scratch = tempfile::Builder::new()
                    .prefix("rewind-dap-")
                    .tempdir()
                    .map_err(|err| format!("cannot make a scratch directory: {err}"))?;
                let rewind = self.rewind.clone();
                // The run's output reaches the editor as it is printed.
                let recorded = super::launch::record(
                    &rewind,
                    program,
                    (args, python.as_deref()),
                    cwd.as_deref(),
                    scratch.path(),
                    |category, line| {
                        let _ = self.output(category, line);
                    },
                );
                let recorded = recorded.map_err(|err| format!("{err:#}"))?;
                self.scratch = Some(scratch);
                recorded
            }
        };
        let source = Source {
            path: &path,
            guest: launch.guest.as_ref(),
            timeout: launch.timeout,
        };
        let (mut session, traced_from) = events::open(&source).map_err(|err| format!("{err:#}"))?;
        if let Some(traced_from) = traced_from {
            session.set_evaluator(Box::new(PastEvaluator::new(
                path.clone(),
                launch.guest.clone(),
                launch.timeout,
                traced_from,
            )));
        }
        let events: u32 = session
            .trace
            .threads
            .values()
            .map(|index| index.len())
            .sum();
        let mut banner = format!("{}: {events} events ({})\n", path.display(), session.origin);
        for note in &session.notes {
            banner.push_str(&format!("note: {note}\n"));
        }
        let _ = self.output("console", banner);
        self.session = Some(session);
        Ok(Value::Null)
    }

    /// After launch and configuration: the run plays from its first event
    /// to the first breakpoint hit, else its crash, else its end.
    fn start_if_ready(&mut self) -> Result<()> {
        if self.started || !self.configured || self.session.is_none() {
            return Ok(());
        }
        self.started = true;
        let session = self.session.as_mut().expect("checked");
        let crash = session.marks.iter().find(|m| m.crash.is_some()).cloned();
        let thread = crash.as_ref().map_or(session.thread(), |mark| mark.thread);
        let _ = session.set_thread(thread);
        session.seek(0);
        let on_first = session
            .breakpoints()
            .iter()
            .find(|bp| bp.hits(thread).first() == Some(&0))
            .map(|bp| bp.id);
        let hit = match on_first {
            Some(id) => Some((0, id)),
            None => self
                .run_to_breakpoint(Direction::Forward)
                .and_then(|moved| Some((moved.pos, moved.breakpoint?))),
        };
        let session = self.session.as_mut().expect("checked");
        match (hit, crash) {
            (Some((pos, id)), crash)
                if crash
                    .as_ref()
                    .is_none_or(|c| pos <= c.pos || c.thread != thread) =>
            {
                session.seek(pos);
                self.stopped("breakpoint", None, vec![id])
            }
            (_, Some(crash)) => {
                session.seek(crash.pos);
                self.stopped("exception", Some(crash.label.clone()), Vec::new())
            }
            _ => {
                session.seek(u32::MAX);
                self.stopped("entry", Some("the end of the recording".into()), Vec::new())
            }
        }
    }

    fn stopped(&mut self, reason: &str, text: Option<String>, hits: Vec<u32>) -> Result<()> {
        self.scopes.clear();
        let thread = self.session.as_ref().map_or(0, Session::thread);
        let mut body = json!({
            "reason": reason,
            "threadId": thread + 1,
            "allThreadsStopped": true,
        });
        if let Some(text) = text {
            body["description"] = text.clone().into();
            body["text"] = text.into();
        }
        if !hits.is_empty() {
            body["hitBreakpointIds"] = hits.into();
        }
        self.event("stopped", body)
    }

    fn threads(&mut self) -> Answer {
        let session = self.session()?;
        let threads: Vec<Value> = session
            .threads()
            .iter()
            .map(|(thread, _, _)| json!({"id": thread + 1, "name": format!("thread {thread}")}))
            .collect();
        Ok(json!({ "threads": threads }))
    }

    /// Switches to the DAP thread `id`.
    fn thread(&mut self, id: &Value) -> std::result::Result<(), String> {
        let Some(id) = id.as_i64() else {
            return Ok(());
        };
        let thread = ThreadId::try_from(id - 1).map_err(|_| format!("no thread {id}"))?;
        let session = self.session()?;
        if session.thread() != thread {
            session.set_thread(thread)?;
        }
        Ok(())
    }

    /// Selects the frame DAP's `frameId` names; its thread and depth.
    fn frame(&mut self, frame_id: &Value) -> std::result::Result<(ThreadId, usize), String> {
        let Some(id) = frame_id.as_i64() else {
            let session = self.session()?;
            return Ok((session.thread(), session.selected()));
        };
        let (thread, depth) = (id / FRAME_IDS - 1, (id % FRAME_IDS) as usize);
        self.thread(&json!(thread + 1))?;
        let session = self.session()?;
        session.select_frame(depth)?;
        Ok((session.thread(), depth))
    }

    fn stack_trace(&mut self, arguments: &Value) -> Answer {
        self.thread(&arguments["threadId"])?;
        let start = arguments["startFrame"].as_u64().unwrap_or(0) as usize;
        let levels = arguments["levels"]
            .as_u64()
            .filter(|&n| n > 0)
            .unwrap_or(u64::MAX) as usize;
        let session = self.session()?;
        let Some(pos) = session.pos() else {
            return Ok(json!({"stackFrames": [], "totalFrames": 0}));
        };
        let thread = session.thread();
        let stack = session.backtrace(pos);
        let total = stack.len();
        let mut frames = Vec::new();
        for (depth, frame) in stack.into_iter().enumerate().skip(start).take(levels) {
            let source = frame.file.as_deref().map(|file| self.source_of(file));
            let mut entry = json!({
                "id": (i64::from(thread) + 1) * FRAME_IDS + depth as i64,
                "name": frame.function,
                "line": frame.line.max(1),
                "column": 1,
            });
            if let Some(source) = source {
                entry["source"] = source;
            } else {
                entry["presentationHint"] = "subtle".into();
            }
            frames.push(entry);
        }
        Ok(json!({"stackFrames": frames, "totalFrames": total}))
    }

    /// A recorded file as DAP's `source`: its path when it is on this
    /// disk, else a reference to the text the recording carries.
    fn source_of(&mut self, file: &str) -> Value {
        let name = file.rsplit('/').next().unwrap_or(file);
        let in_recording = self
            .session
            .as_ref()
            .is_some_and(|session| session.source(file).is_some());
        if Path::new(file).is_file() || !in_recording {
            return json!({"name": name, "path": file});
        }
        let at = match self.source_refs.iter().position(|known| known == file) {
            Some(at) => at,
            None => {
                self.source_refs.push(file.to_owned());
                self.source_refs.len() - 1
            }
        };
        json!({"name": name, "path": file, "sourceReference": at + 1, "origin": "the recording"})
    }

    fn source(&mut self, arguments: &Value) -> Answer {
        let reference = arguments["sourceReference"]
            .as_u64()
            .or_else(|| arguments["source"]["sourceReference"].as_u64())
            .unwrap_or(0) as usize;
        let file = match reference
            .checked_sub(1)
            .and_then(|at| self.source_refs.get(at))
        {
            Some(file) => file.clone(),
            None => match arguments["source"]["path"].as_str() {
                Some(path) => path.to_owned(),
                None => return Err(format!("no source {reference}")),
            },
        };
        let session = self.session()?;
        match session.source(&file) {
            Some(lines) => Ok(json!({"content": lines.join("\n") + "\n"})),
            None => Err(format!("the recording does not carry {file}")),
        }
    }

    fn scopes(&mut self, arguments: &Value) -> Answer {
        let (thread, depth) = self.frame(&arguments["frameId"])?;
        let session = self.session()?;
        let module = session
            .pos()
            .map(|pos| session.backtrace(pos))
            .and_then(|stack| {
                let last = stack.len().checked_sub(1)?;
                (stack[last].function == "<module>" && last != depth).then_some(last)
            });
        let mut scopes = Vec::new();
        self.scopes.push((thread, depth, Scope::Locals));
        scopes.push(json!({
            "name": "Locals", "presentationHint": "locals",
            "variablesReference": self.scopes.len(), "expensive": false,
        }));
        if let Some(module) = module {
            self.scopes.push((thread, module, Scope::Globals));
            scopes.push(json!({
                "name": "Globals",
                "variablesReference": self.scopes.len(), "expensive": false,
            }));
        }
        Ok(json!({ "scopes": scopes }))
    }

    fn variables(&mut self, arguments: &Value) -> Answer {
        let reference = arguments["variablesReference"].as_u64().unwrap_or(0) as usize;
        let Some(&(thread, depth, scope)) =
            reference.checked_sub(1).and_then(|at| self.scopes.get(at))
        else {
            return Ok(json!({"variables": []}));
        };
        self.thread(&json!(i64::from(thread) + 1))?;
        let session = self.session()?;
        let named: Vec<(String, ValueRef)> = match scope {
            Scope::Items(value) => session.value_items(value).unwrap_or_default(),
            Scope::Locals | Scope::Globals => {
                session.select_frame(depth)?;
                match session.pos() {
                    Some(pos) => session.local_values(pos),
                    None => Vec::new(),
                }
            }
        };
        let mut variables = Vec::new();
        for (name, value) in named {
            let session = self.session.as_ref().expect("checked");
            let text = session.value_text(value);
            // A container the recording kept item by item opens.
            let reference = match session.value_items(value) {
                Some(items) if !items.is_empty() => {
                    self.scopes.push((thread, depth, Scope::Items(value)));
                    self.scopes.len()
                }
                _ => 0,
            };
            variables.push(json!({"name": name, "value": text, "variablesReference": reference}));
        }
        Ok(json!({ "variables": variables }))
    }

    fn set_breakpoints(&mut self, arguments: &Value) -> Answer {
        let path = arguments["source"]["path"]
            .as_str()
            .ok_or("setBreakpoints: the source has no path")?
            .to_owned();
        let wanted: Vec<(u32, Option<String>)> = match arguments["breakpoints"].as_array() {
            Some(list) => list
                .iter()
                .map(|bp| {
                    let line = bp["line"].as_u64().unwrap_or(0) as u32;
                    let condition = bp["condition"]
                        .as_str()
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned);
                    (line, condition)
                })
                .collect(),
            None => arguments["lines"]
                .as_array()
                .map(|lines| {
                    lines
                        .iter()
                        .map(|line| (line.as_u64().unwrap_or(0) as u32, None))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let old = self.by_source.remove(&path).unwrap_or_default();
        let session = self.session()?;
        for id in &old {
            session.delete_breakpoints(Some(*id));
        }
        let mut ids = Vec::new();
        let mut answers = Vec::new();
        let mut conditions = Vec::new();
        for (line, condition) in wanted {
            match session.add_breakpoint(&path, line) {
                Ok(bp) => {
                    let hits = bp.hit_count();
                    ids.push(bp.id);
                    if let Some(condition) = condition {
                        conditions.push((bp.id, condition));
                    }
                    let mut answer = json!({"id": bp.id, "verified": hits > 0, "line": line});
                    if hits == 0 {
                        answer["message"] = "the recorded run never ran this line".into();
                    }
                    answers.push(answer);
                }
                Err(message) => {
                    answers.push(json!({"verified": false, "line": line, "message": message}));
                }
            }
        }
        for id in &old {
            self.conditions.remove(id);
        }
        self.conditions.extend(conditions);
        self.by_source.insert(path, ids);
        Ok(json!({ "breakpoints": answers }))
    }

    /// Checks a move's request before it is answered; the move itself is
    /// made after the response, as DAP orders it.
    fn prepare_move(&mut self, arguments: &Value) -> Answer {
        self.thread(&arguments["threadId"])?;
        self.session()?;
        Ok(json!({"allThreadsContinued": false}))
    }

    fn make_move(&mut self, command: &str, _arguments: &Value) -> Result<()> {
        use Direction::{Backward, Forward};
        let from = self.session.as_ref().and_then(Session::pos);
        let moved = match command {
            "continue" => self.run_to_breakpoint(Forward),
            "reverseContinue" => self.run_to_breakpoint(Backward),
            other => {
                let (motion, direction) = match other {
                    "next" => (Motion::Next, Forward),
                    "stepIn" => (Motion::Step, Forward),
                    "stepOut" => (Motion::Finish, Forward),
                    _ => (Motion::Next, Backward),
                };
                self.session
                    .as_mut()
                    .and_then(|s| s.motion(motion, direction))
            }
        };
        let Some(moved) = moved else {
            return self.stopped("step", Some("the thread has no events".into()), Vec::new());
        };
        // Continuing either way stops at a crash on the way, as a live run
        // stops at an exception nothing handles.
        if matches!(command, "continue" | "reverseContinue")
            && let Some(from) = from
            && let Some(crash) = self.crash_between(from, moved.pos)
        {
            let session = self.session.as_mut().expect("moved");
            session.seek(crash.pos);
            return self.stopped("exception", Some(crash.label), Vec::new());
        }
        for note in commands::move_notes(&Moved {
            breakpoint: None,
            ..moved.clone()
        }) {
            self.output("console", format!("{note}\n"))?;
        }
        match (moved.breakpoint, moved.at_edge) {
            (Some(id), _) => self.stopped("breakpoint", None, vec![id]),
            (None, Some(edge)) => self.stopped(
                "step",
                Some(format!("the {edge} of the recording")),
                Vec::new(),
            ),
            (None, None) => self.stopped("step", None, Vec::new()),
        }
    }

    /// The crash of the current thread strictly after `from` and up to
    /// `to` (either way round), the nearest to `from`.
    fn crash_between(&self, from: u32, to: u32) -> Option<rewind_debugger::session::Mark> {
        let session = self.session.as_ref()?;
        let thread = session.thread();
        let crashes = session
            .marks
            .iter()
            .filter(|mark| mark.crash.is_some() && mark.thread == thread);
        match from < to {
            true => crashes
                .filter(|mark| mark.pos > from && mark.pos <= to)
                .min_by_key(|mark| mark.pos),
            false => crashes
                .filter(|mark| mark.pos < from && mark.pos >= to)
                .max_by_key(|mark| mark.pos),
        }
        .cloned()
    }

    /// Continues in `direction` to the next breakpoint hit whose condition
    /// (if any) holds there, or to an end.
    fn run_to_breakpoint(&mut self, direction: Direction) -> Option<Moved> {
        let session = self.session.as_mut()?;
        loop {
            let moved = session.motion(Motion::Continue, direction)?;
            let Some(id) = moved.breakpoint else {
                return Some(moved);
            };
            let Some(condition) = self.conditions.get(&id) else {
                return Some(moved);
            };
            match session.evaluate(&format!("bool({condition})")) {
                Ok(value) if value == "True" => return Some(moved),
                Ok(_) => continue,
                // A condition that cannot be evaluated stops, as in other
                // debuggers, so that the user sees why.
                Err(_) => return Some(moved),
            }
        }
    }

    fn goto_targets(&mut self, arguments: &Value) -> Answer {
        let path = arguments["source"]["path"]
            .as_str()
            .ok_or("gotoTargets: the source has no path")?;
        let line = arguments["line"].as_u64().unwrap_or(0) as u32;
        let session = self.session()?;
        let hits = session.line_hits(path, line)?;
        let index = session.index().ok_or("the thread has no events")?;
        let targets: Vec<Value> = hits
            .iter()
            .map(|&pos| {
                let number = index.event_number(pos);
                json!({"id": number, "label": format!("event #{number}"), "line": line})
            })
            .collect();
        Ok(json!({ "targets": targets }))
    }

    fn prepare_goto(&mut self, arguments: &Value) -> Answer {
        self.thread(&arguments["threadId"])?;
        let target = arguments["targetId"].as_u64().ok_or("goto: no targetId")?;
        self.session()?.goto(target)?;
        Ok(Value::Null)
    }

    fn evaluate(&mut self, arguments: &Value) -> Answer {
        let expression = arguments["expression"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if expression.is_empty() {
            return Err("evaluate: no expression".into());
        }
        self.frame(&arguments["frameId"])?;
        let session = self.session()?;
        let pos = session.pos().ok_or("the thread has no events")?;
        let recorded = commands::is_name(&expression)
            .then(|| session.lookup(pos, &expression))
            .flatten();
        let result = match recorded {
            Some((value, _)) => value,
            None => session.evaluate(&expression)?,
        };
        Ok(json!({"result": result, "variablesReference": 0}))
    }
}

/// What the adapter can do, for `initialize`.
fn capabilities() -> Value {
    json!({
        "supportsConfigurationDoneRequest": true,
        "supportsStepBack": true,
        "supportsConditionalBreakpoints": true,
        "supportsGotoTargetsRequest": true,
        "supportsEvaluateForHovers": true,
        "supportsTerminateRequest": true,
        "supportsSingleThreadExecutionRequests": false,
    })
}
