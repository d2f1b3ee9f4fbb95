//! A debugging session: a position in each thread's events, breakpoints,
//! and the moves of a time-travel debugger in both directions.

use std::collections::{BTreeMap, HashMap};

use rewind_format::model::{Crash, Event, ExceptionStage, MarkerKind, ThreadId, Window};
use rewind_format::{Recording, StrId, ValueRef};

use crate::index::{Kind, ThreadIndex, Trace};

/// Which way a move goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// The moves of a debugger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// To the next event (into calls).
    Step,
    /// To the next event of this frame or its callers (over calls).
    Next,
    /// Out of the current frame: forwards to its caller after it returns,
    /// backwards to the line that called it.
    Finish,
    /// To the next breakpoint hit, or the end.
    Continue,
}

/// Where a move ended and what it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub pos: u32,
    /// The breakpoint that stopped it.
    pub breakpoint: Option<u32>,
    /// The value the finished frame returned.
    pub returned: Option<String>,
    /// It stopped at an end of the recording instead of where it was going.
    pub at_edge: Option<&'static str>,
}

/// A breakpoint on a line of a file.
#[derive(Debug, Clone)]
pub struct Breakpoint {
    pub id: u32,
    /// The file as recorded.
    pub file: String,
    pub line: u32,
    /// Per thread, the positions it stops at.
    hits: BTreeMap<ThreadId, Vec<u32>>,
}

impl Breakpoint {
    /// How many times the recorded run passed it.
    pub fn hit_count(&self) -> usize {
        self.hits.values().map(Vec::len).sum()
    }

    /// The positions of `thread` it stops at, ascending.
    pub fn hits(&self, thread: ThreadId) -> &[u32] {
        self.hits.get(&thread).map_or(&[], Vec::as_slice)
    }
}

/// A frame of the call stack at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFrame {
    pub frame: u32,
    pub function: String,
    pub file: Option<String>,
    pub line: u32,
}

/// A snapshot or a crash: where its window of events ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub thread: ThreadId,
    pub pos: u32,
    pub label: String,
    /// The crash's id, when it is a crash.
    pub crash: Option<u64>,
}

/// An open recording and the debugger's state over it.
#[derive(Debug)]
pub struct Session {
    /// The recording, as read (its events are in `trace`).
    pub recording: Recording,
    pub trace: Trace,
    /// Where the events came from, in words.
    pub origin: String,
    /// What could not be read or done, for the user to know.
    pub notes: Vec<String>,
    pub marks: Vec<Mark>,
    thread: ThreadId,
    positions: BTreeMap<ThreadId, u32>,
    breakpoints: Vec<Breakpoint>,
    next_breakpoint: u32,
    sources: HashMap<String, Vec<String>>,
    /// The frame `up`, `down` and `frame N` selected, counted from the
    /// innermost (0); every move selects the innermost again.
    selected: usize,
    evaluator: Option<Box<dyn Evaluator>>,
}

/// Evaluates expressions in the recorded run's past: the re-execution a
/// host of the debugger provides (the debugger itself runs no guest).
pub trait Evaluator {
    /// The text of `expression` evaluated in frame `depth` (0 is the
    /// innermost) of `thread` when the run was at its recorded event
    /// `event`; the error's text when it raised or could not be evaluated.
    fn evaluate(
        &mut self,
        thread: ThreadId,
        event: u64,
        depth: usize,
        expression: &str,
    ) -> Result<String, String>;
}

impl std::fmt::Debug for dyn Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Evaluator")
    }
}

impl Session {
    /// A session over `trace`, the events of `recording` (from the
    /// recording itself or from its materialized events), whose snapshots
    /// and crashes are `windows`. It starts at the crash, or else at the
    /// end of the first thread with events.
    pub fn new(
        recording: Recording,
        trace: Trace,
        windows: &[Window],
        origin: String,
        notes: Vec<String>,
    ) -> Session {
        let sources = recording
            .sources
            .iter()
            .map(|source| {
                let lines = source.text.lines().map(str::to_owned).collect();
                (source.path.clone(), lines)
            })
            .collect();
        let mut marks = Vec::new();
        for window in windows {
            let Some(index) = trace.threads.get(&window.thread) else {
                continue;
            };
            let Some(pos) = window
                .end
                .checked_sub(1)
                .and_then(|last| index.position(last))
            else {
                continue;
            };
            let marker = recording
                .threads
                .get(&window.at_thread)
                .and_then(|log| log.markers.get(window.marker as usize))
                .map(|marker| &marker.kind);
            let crash = match marker {
                Some(MarkerKind::Crash { crash }) => Some(*crash),
                _ => None,
            };
            let label = match (marker, crash) {
                (Some(MarkerKind::Snapshot { name, .. }), _) => format!("snapshot {name:?}"),
                (_, Some(id)) => recording
                    .crashes
                    .iter()
                    .find(|c| c.id == id)
                    .and_then(|c| c.exception.as_ref())
                    .map_or_else(
                        || "crash".to_owned(),
                        |e| format!("crash: {}: {}", e.type_name, e.message),
                    ),
                _ => "snapshot".to_owned(),
            };
            // An unhandled exception's events end with its way out (raised
            // again in each caller, each frame returning): the crash is
            // where it was first raised.
            let pos = match crash {
                Some(_) => raised_at(index, pos),
                None => pos,
            };
            marks.push(Mark {
                thread: window.thread,
                pos,
                label,
                crash,
            });
        }
        let positions: BTreeMap<ThreadId, u32> = trace
            .threads
            .iter()
            .map(|(thread, index)| (*thread, index.len().saturating_sub(1)))
            .collect();
        let crash_mark = marks.iter().find(|m| m.crash.is_some()).cloned();
        let thread = crash_mark
            .as_ref()
            .map(|m| m.thread)
            .or_else(|| {
                trace
                    .threads
                    .iter()
                    .find(|(_, index)| !index.is_empty())
                    .map(|(t, _)| *t)
            })
            .unwrap_or(0);
        let mut session = Session {
            recording,
            trace,
            origin,
            notes,
            thread,
            positions,
            breakpoints: Vec::new(),
            next_breakpoint: 1,
            sources,
            marks,
            selected: 0,
            evaluator: None,
        };
        if let Some(mark) = crash_mark {
            session.positions.insert(mark.thread, mark.pos);
        }
        session
    }

    pub fn thread(&self) -> ThreadId {
        self.thread
    }

    pub fn threads(&self) -> Vec<(ThreadId, u32, u32)> {
        self.trace
            .threads
            .iter()
            .map(|(t, index)| (*t, index.len(), self.positions.get(t).copied().unwrap_or(0)))
            .collect()
    }

    pub fn set_thread(&mut self, thread: ThreadId) -> Result<(), String> {
        if !self.trace.threads.contains_key(&thread) {
            let known: Vec<String> = self.trace.threads.keys().map(|t| t.to_string()).collect();
            return Err(format!(
                "no thread {thread} in the recording (threads: {})",
                known.join(", ")
            ));
        }
        self.thread = thread;
        self.selected = 0;
        Ok(())
    }

    pub fn index(&self) -> Option<&ThreadIndex> {
        self.trace.threads.get(&self.thread)
    }

    /// The current position, `None` when the thread has no events.
    pub fn pos(&self) -> Option<u32> {
        let index = self.index()?;
        (!index.is_empty()).then(|| self.positions.get(&self.thread).copied().unwrap_or(0))
    }

    fn set_pos(&mut self, pos: u32) {
        self.positions.insert(self.thread, pos);
        self.selected = 0;
    }

    /// The selected frame of the call stack at the current position
    /// (0 is the innermost).
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Selects frame `n` of the call stack at the current position
    /// (0 is the innermost); the frame selected.
    pub fn select_frame(&mut self, n: usize) -> Result<StackFrame, String> {
        let pos = self.pos().ok_or("the thread has no events")?;
        let stack = self.backtrace(pos);
        match stack.get(n) {
            Some(frame) => {
                self.selected = n;
                Ok(frame.clone())
            }
            None => Err(format!(
                "no frame {n}: the call stack has {} frame{} (0 to {})",
                stack.len(),
                if stack.len() == 1 { "" } else { "s" },
                stack.len().saturating_sub(1)
            )),
        }
    }

    /// Sets the evaluator of expressions (see [`Session::evaluate`]).
    pub fn set_evaluator(&mut self, evaluator: Box<dyn Evaluator>) {
        self.evaluator = Some(evaluator);
    }

    /// Evaluates `expression` in the selected frame at the current
    /// position, as the run was there: the evaluator re-executes the run to
    /// this event. An error when the session has no evaluator.
    pub fn evaluate(&mut self, expression: &str) -> Result<String, String> {
        let pos = self.pos().ok_or("the thread has no events")?;
        let event = self
            .index()
            .map(|index| index.event_number(pos))
            .ok_or("the thread has no events")?;
        let (thread, depth) = (self.thread, self.selected);
        match &mut self.evaluator {
            Some(evaluator) => evaluator.evaluate(thread, event, depth, expression),
            None => Err("expressions cannot be evaluated here: the recording is not re-executed in this session".into()),
        }
    }

    /// Moves to recorded event number `number` of the current thread.
    pub fn goto(&mut self, number: u64) -> Result<u32, String> {
        let index = self.index().ok_or("the thread has no events")?;
        match index.position(number) {
            Some(pos) => {
                self.set_pos(pos);
                Ok(pos)
            }
            None => {
                let kept: Vec<String> = index
                    .kept()
                    .iter()
                    .map(|r| format!("{}..{}", r.start, r.end - 1))
                    .collect();
                Err(format!(
                    "event {number} is not in the recording (thread {} has events {})",
                    self.thread,
                    kept.join(", ")
                ))
            }
        }
    }

    /// Moves to position `pos` (clamped to the events there are).
    pub fn seek(&mut self, pos: u32) {
        if let Some(index) = self.index() {
            let last = index.len().saturating_sub(1);
            self.set_pos(pos.min(last));
        }
    }

    /// Makes a move; `None` when the thread has no events.
    pub fn motion(&mut self, motion: Motion, direction: Direction) -> Option<Moved> {
        let pos = self.pos()?;
        let index = self.index()?;
        let len = index.len();
        let mut moved = Moved {
            pos,
            breakpoint: None,
            returned: None,
            at_edge: None,
        };
        let edge = |forward: bool| if forward { "end" } else { "beginning" };
        let forward = direction == Direction::Forward;
        let target: Option<u32> = match (motion, direction) {
            (Motion::Step, Direction::Forward) => pos.checked_add(1).filter(|p| *p < len),
            (Motion::Step, Direction::Backward) => pos.checked_sub(1),
            (Motion::Next, Direction::Forward) => {
                let depth = index.depth(pos);
                let mut at = pos + 1;
                while at < len && index.depth(at) > depth {
                    at = index.frames[index.frame(at) as usize].last + 1;
                }
                (at < len).then_some(at)
            }
            (Motion::Next, Direction::Backward) => {
                let depth = index.depth(pos);
                let mut at = pos.checked_sub(1);
                while let Some(p) = at
                    && index.depth(p) > depth
                {
                    at = index.frames[index.frame(p) as usize].first.checked_sub(1);
                }
                at
            }
            (Motion::Finish, Direction::Forward) => {
                let frame = index.frame(pos);
                let last = index.frames[frame as usize].last;
                if index.kind(last) == Kind::Return && index.frame(last) == frame {
                    moved.returned = self.return_value(last);
                }
                last.checked_add(1).filter(|p| *p < len)
            }
            (Motion::Finish, Direction::Backward) => {
                let depth = index.depth(pos);
                let mut at = index.frames[index.frame(pos) as usize].first.checked_sub(1);
                while let Some(p) = at
                    && index.depth(p) >= depth
                {
                    at = index.frames[index.frame(p) as usize].first.checked_sub(1);
                }
                at
            }
            (Motion::Continue, _) => {
                let hit = self.next_hit(pos, forward);
                moved.breakpoint = hit.map(|(id, _)| id);
                hit.map(|(_, at)| at)
            }
        };
        moved.pos = match target {
            Some(at) => at,
            None => {
                moved.at_edge = Some(edge(forward));
                if forward { len - 1 } else { 0 }
            }
        };
        self.set_pos(moved.pos);
        Some(moved)
    }

    /// The nearest breakpoint hit after (or before) `pos` in the current
    /// thread.
    fn next_hit(&self, pos: u32, forward: bool) -> Option<(u32, u32)> {
        let mut best: Option<(u32, u32)> = None;
        for bp in &self.breakpoints {
            let Some(hits) = bp.hits.get(&self.thread) else {
                continue;
            };
            let candidate = if forward {
                let at = hits.partition_point(|h| *h <= pos);
                hits.get(at).copied()
            } else {
                let at = hits.partition_point(|h| *h < pos);
                at.checked_sub(1).map(|a| hits[a])
            };
            if let Some(c) = candidate {
                let better = match best {
                    None => true,
                    Some((_, b)) => {
                        if forward {
                            c < b
                        } else {
                            c > b
                        }
                    }
                };
                if better {
                    best = Some((bp.id, c));
                }
            }
        }
        best
    }

    fn return_value(&self, pos: u32) -> Option<String> {
        match self.event(pos)? {
            Event::Return { value } => Some(value),
            _ => None,
        }
    }

    /// The event at `pos` of the current thread, with its strings.
    pub fn event(&self, pos: u32) -> Option<Event> {
        let index = self.index()?;
        let (event, pairs) = self.trace.event(index, pos)?;
        Some(event.resolve(&pairs, self.trace.events()))
    }

    /// The call stack at `pos`, innermost first.
    pub fn backtrace(&self, pos: u32) -> Vec<StackFrame> {
        let Some(index) = self.index() else {
            return Vec::new();
        };
        let mut stack = Vec::new();
        let mut frame = Some(index.frame(pos));
        let mut line = index.line(pos);
        let mut child_first = pos;
        while let Some(f) = frame {
            let info = &index.frames[f as usize];
            if !stack.is_empty() {
                line = index.line_before(f, child_first.saturating_sub(1));
            }
            stack.push(StackFrame {
                frame: f,
                function: self.function_name(info.function),
                file: info.file.map(|id| self.trace.string(id).to_owned()),
                line,
            });
            child_first = info.first;
            frame = info.parent;
        }
        stack
    }

    fn function_name(&self, function: Option<StrId>) -> String {
        match function {
            Some(id) => self.trace.string(id).to_owned(),
            None => "<entered before the recorded events>".to_owned(),
        }
    }

    /// The locals of the selected frame at `pos`.
    pub fn locals(&self, pos: u32) -> Vec<(String, String)> {
        match self.backtrace(pos).get(self.selected) {
            Some(frame) => self.frame_locals(frame.frame, pos),
            None => Vec::new(),
        }
    }

    /// The locals of the selected frame at `pos`, each with where its
    /// value is (see [`Session::value_items`]); a module's dunders left
    /// out.
    pub fn local_values(&self, pos: u32) -> Vec<(String, ValueRef)> {
        let (Some(index), Some(frame)) = (
            self.index(),
            self.backtrace(pos).get(self.selected).cloned(),
        ) else {
            return Vec::new();
        };
        index
            .locals(frame.frame, pos)
            .into_iter()
            .map(|(n, v)| (self.trace.string(n).to_owned(), v))
            .filter(|(name, _)| !(name.starts_with("__") && name.ends_with("__")))
            .collect()
    }

    /// A value's text.
    pub fn value_text(&self, value: ValueRef) -> String {
        self.trace.value(value)
    }

    /// The items a container value kept, each as (key's text for a dict,
    /// else `[i]`; the item): `None` when the value is not a container
    /// the recording kept as one.
    pub fn value_items(&self, value: ValueRef) -> Option<Vec<(String, ValueRef)>> {
        let items = self.trace.events().items(value)?;
        Some(
            items
                .into_iter()
                .enumerate()
                .map(|(at, (key, item))| match key {
                    Some(key) => (self.trace.value(key), item),
                    None => (format!("[{at}]"), item),
                })
                .collect(),
        )
    }

    /// The locals of `frame` at `pos`.
    pub fn frame_locals(&self, frame: u32, pos: u32) -> Vec<(String, String)> {
        let Some(index) = self.index() else {
            return Vec::new();
        };
        index
            .locals(frame, pos)
            .into_iter()
            .map(|(n, v)| (self.trace.string(n).to_owned(), self.trace.value(v)))
            .collect()
    }

    /// `name`'s value at `pos`: a local of the selected frame, else a
    /// global (a local of the module frame). The second value says which.
    pub fn lookup(&self, pos: u32, name: &str) -> Option<(String, &'static str)> {
        let stack = self.backtrace(pos);
        let find = |frame: u32| {
            self.frame_locals(frame, pos)
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
        };
        if let Some(value) = find(stack.get(self.selected)?.frame) {
            return Some((value, "local"));
        }
        let module = stack.iter().rev().find(|f| f.function == "<module>")?;
        find(module.frame).map(|value| (value, "global"))
    }

    /// Every value `name` took in the selected frame at `pos` (or, when
    /// it is not a local there, in the module frame), with the recorded
    /// event number where it took it.
    pub fn history(&self, pos: u32, name: &str) -> Option<(StackFrame, Vec<(u64, String)>)> {
        let index = self.index()?;
        let stack = self.backtrace(pos);
        let module = stack.iter().rev().find(|f| f.function == "<module>");
        for frame in std::iter::once(stack.get(self.selected)?).chain(module) {
            let names = self.trace.matching(index.names(frame.frame), name);
            if names.is_empty() {
                continue;
            }
            let values = index
                .history(frame.frame, &names)
                .into_iter()
                .map(|c| (index.event_number(c.at), self.trace.value(c.value)))
                .collect();
            return Some((frame.clone(), values));
        }
        None
    }

    /// The source lines of `file`, as the recording carries them.
    pub fn source(&self, file: &str) -> Option<&[String]> {
        self.sources.get(file).map(Vec::as_slice)
    }

    pub fn breakpoints(&self) -> &[Breakpoint] {
        &self.breakpoints
    }

    /// Sets a breakpoint at `file:line`: `file` is a recorded path or a
    /// path's ending (`app.py`, `pkg/app.py`).
    pub fn add_breakpoint(&mut self, file: &str, line: u32) -> Result<&Breakpoint, String> {
        let recorded = self.resolve_file(file)?;
        if let Some(at) = self
            .breakpoints
            .iter()
            .position(|bp| bp.file == recorded && bp.line == line)
        {
            return Ok(&self.breakpoints[at]);
        }
        let mut hits = BTreeMap::new();
        for (thread, index) in &self.trace.threads {
            let files = self.trace.matching(index.files(), &recorded);
            hits.insert(*thread, index.line_hits(&files, line));
        }
        let id = self.next_breakpoint;
        self.next_breakpoint += 1;
        self.breakpoints.push(Breakpoint {
            id,
            file: recorded,
            line,
            hits,
        });
        Ok(self.breakpoints.last().expect("just pushed"))
    }

    /// The positions of the current thread where `file:line` ran.
    pub fn line_hits(&self, file: &str, line: u32) -> Result<Vec<u32>, String> {
        let recorded = self.resolve_file(file)?;
        let index = self.index().ok_or("the thread has no events")?;
        let files = self.trace.matching(index.files(), &recorded);
        Ok(index.line_hits(&files, line))
    }

    /// Deletes breakpoint `id`, or all of them; how many were deleted.
    pub fn delete_breakpoints(&mut self, id: Option<u32>) -> usize {
        let before = self.breakpoints.len();
        self.breakpoints
            .retain(|bp| id.is_some_and(|id| bp.id != id));
        before - self.breakpoints.len()
    }

    /// Sets a breakpoint at `file:line`, or deletes the one there; whether
    /// one is there now.
    pub fn toggle_breakpoint(&mut self, file: &str, line: u32) -> Result<bool, String> {
        if let Some(bp) = self
            .breakpoints
            .iter()
            .find(|bp| bp.file == file && bp.line == line)
        {
            let id = bp.id;
            self.delete_breakpoints(Some(id));
            return Ok(false);
        }
        self.add_breakpoint(file, line).map(|_| true)
    }

    pub fn has_breakpoint(&self, file: &str, line: u32) -> bool {
        self.breakpoints
            .iter()
            .any(|bp| bp.file == file && bp.line == line)
    }

    /// The recorded file a user's `file` names: itself, or the one recorded
    /// path that ends with it.
    fn resolve_file(&self, file: &str) -> Result<String, String> {
        let mut known: Vec<String> = self
            .trace
            .threads
            .values()
            .flat_map(|index| index.files())
            .map(|id| self.trace.string(id).to_owned())
            .collect();
        known.extend(self.sources.keys().cloned());
        known.sort();
        known.dedup();
        if known.iter().any(|k| k == file) {
            return Ok(file.to_owned());
        }
        let suffix = format!("/{}", file.trim_start_matches("./"));
        let matches: Vec<&String> = known.iter().filter(|k| k.ends_with(&suffix)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(format!(
                "no file {file:?} in the recording (files: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )),
            many => Err(format!(
                "{file:?} is ambiguous: {}",
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The crash whose capture ends at `pos` of the current thread.
    pub fn crash_at(&self, pos: u32) -> Option<&Crash> {
        let id = self
            .marks
            .iter()
            .find(|m| m.thread == self.thread && m.pos == pos)?
            .crash?;
        self.recording.crashes.iter().find(|crash| crash.id == id)
    }
}

/// The first `raised` event of the run of exception and return events that
/// ends at `pos`, or `pos` when there is none.
fn raised_at(index: &ThreadIndex, pos: u32) -> u32 {
    let mut first = None;
    let mut at = pos;
    loop {
        match index.kind(at) {
            Kind::Exception(ExceptionStage::Raised) => first = Some(at),
            Kind::Exception(ExceptionStage::Unhandled) | Kind::Return => {}
            _ => break,
        }
        match at.checked_sub(1) {
            Some(prev) => at = prev,
            None => break,
        }
    }
    first.unwrap_or(pos)
}
