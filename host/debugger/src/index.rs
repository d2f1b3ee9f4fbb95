//! The index over a recording's events: one pass over the bytes when the
//! recording is opened builds, per thread, a few flat arrays (kind, frame,
//! line and byte offset of every event), the frames (calls) with their
//! extent, and every local's change, grouped by frame. Moving, reading the
//! locals or a backtrace then never decodes more than a handful of events.

use std::collections::{BTreeMap, HashMap};

use rewind_format::model::{ExceptionStage, ThreadId};
use rewind_format::{FormatError, LazyEvents, RawEvent, Recording, StrId, ValueRef};

/// A frame's locals are checkpointed every this many changes, so that
/// reading them at any step replays at most this many changes.
const CHECKPOINT: usize = 128;

/// What an event is, without its strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Call,
    Line,
    Return,
    Exception(ExceptionStage),
}

/// A call: one activation of a function, and the events it spans.
#[derive(Debug, Clone)]
pub struct FrameInfo {
    /// `None` for a frame entered before the first recorded event whose
    /// function and file the recording does not name (one written before
    /// windows said which calls they start inside).
    pub function: Option<StrId>,
    pub file: Option<StrId>,
    pub parent: Option<u32>,
    pub depth: u32,
    /// For a frame entered before the recorded events that the recording
    /// names, the line it was at when they begin.
    pub entered_line: Option<u32>,
    /// The first and last events of the frame itself or its callees.
    pub first: u32,
    pub last: u32,
}

/// One name/value change of a local (a call's argument, a line's changed
/// local).
#[derive(Debug, Clone, Copy)]
pub struct Change {
    pub at: u32,
    pub name: StrId,
    pub value: ValueRef,
}

/// A run of consecutive events: `start..` in positions, `first..` in the
/// thread's recorded event numbers. A gap between runs is events that were
/// not kept (the window of a snapshot starts mid-run).
#[derive(Debug, Clone, Copy)]
struct Run {
    first: u64,
    start: u32,
}

/// One thread's events, indexed. Positions are `0..len()`.
#[derive(Debug, Default)]
pub struct ThreadIndex {
    kinds: Vec<Kind>,
    frame_of: Vec<u32>,
    lines: Vec<u32>,
    offsets: Vec<u64>,
    runs: Vec<Run>,
    pub frames: Vec<FrameInfo>,
    changes: Vec<Change>,
    /// Indices into `changes`, grouped by frame (`by_frame_start[f]..[f+1]`),
    /// in event order within a frame.
    by_frame: Vec<u32>,
    by_frame_start: Vec<u32>,
    /// For frames with many changes: their locals after every
    /// `CHECKPOINT`-th change.
    checkpoints: HashMap<u32, Vec<Vec<(StrId, ValueRef)>>>,
}

/// The events of a recording, indexed, with the events they are read from.
#[derive(Debug)]
pub struct Trace {
    lazy: LazyEvents,
    pub threads: BTreeMap<ThreadId, ThreadIndex>,
}

/// A frame a run of events starts inside: its function, file and line.
type EnteredFrame = (StrId, StrId, u32);

/// Building a thread's index: the frames open at this point of the pass.
#[derive(Default)]
struct Builder {
    index: ThreadIndex,
    /// The open frames, innermost last, with the line each is at.
    stack: Vec<(u32, u32)>,
    /// Frames that returned with no known caller (the caller is a frame
    /// entered before the recorded events, made when it is next seen), with
    /// their last line.
    orphans: Vec<(u32, u32)>,
    next_event: Option<u64>,
}

impl Trace {
    /// Reads the recording `bytes` lazily and indexes its events.
    pub fn build(bytes: Vec<u8>) -> Result<(Recording, Trace), FormatError> {
        let (recording, mut lazy) = Recording::read_lazy(&bytes)?;
        // The calls a window of events starts inside, by where it starts.
        let entered: HashMap<(ThreadId, u64), Vec<EnteredFrame>> = recording
            .entered
            .iter()
            .map(|entered| {
                let frames = entered
                    .frames
                    .iter()
                    .map(|frame| {
                        let function = lazy.intern(&frame.function);
                        (function, lazy.intern(&frame.file), frame.line)
                    })
                    .collect();
                ((entered.thread, entered.first), frames)
            })
            .collect();
        let mut builders: BTreeMap<ThreadId, Builder> = BTreeMap::new();
        let mut pairs = Vec::new();
        for chunk in &lazy.chunks {
            let builder = builders.entry(chunk.thread).or_default();
            let mut skip = 0;
            match builder.next_event {
                Some(next) if next == chunk.first => {}
                // Events written twice (overlapping windows): the first copy counts.
                Some(next) if next > chunk.first => skip = next - chunk.first,
                _ => builder.start_run(
                    chunk.first,
                    entered
                        .get(&(chunk.thread, chunk.first))
                        .map_or(&[], Vec::as_slice),
                ),
            }
            let mut events = lazy.events(chunk);
            while let Some(event) = events.next(&mut pairs) {
                let (offset, event) = event?;
                if skip > 0 {
                    skip -= 1;
                } else {
                    builder.event(offset, event, &pairs);
                }
                pairs.clear();
            }
            builder.next_event = Some(
                builder
                    .next_event
                    .unwrap_or(0)
                    .max(chunk.first + chunk.count),
            );
        }
        let threads = builders
            .into_iter()
            .map(|(thread, builder)| (thread, builder.finish()))
            .collect();
        Ok((recording, Trace { lazy, threads }))
    }

    /// Name `id`: a function's, a file's, a local's.
    pub fn string(&self, id: StrId) -> &str {
        self.lazy.name(id)
    }

    /// The text of a value.
    pub fn value(&self, value: ValueRef) -> String {
        self.lazy.value(value)
    }

    /// The events, as read.
    pub fn events(&self) -> &LazyEvents {
        &self.lazy
    }

    /// The event at `pos` of `thread`, decoded, with its pairs.
    pub fn event(
        &self,
        thread: &ThreadIndex,
        pos: u32,
    ) -> Option<(RawEvent, Vec<(StrId, ValueRef)>)> {
        let offset = *thread.offsets.get(pos as usize)?;
        let mut pairs = Vec::new();
        let event = self.lazy.event_at(offset, &mut pairs).ok()?;
        Some((event, pairs))
    }

    /// The ids of every string equal to `text` among `ids`.
    pub fn matching(&self, ids: impl IntoIterator<Item = StrId>, text: &str) -> Vec<StrId> {
        let mut found: Vec<StrId> = ids
            .into_iter()
            .filter(|id| self.string(*id) == text)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

impl Builder {
    /// Events from recorded event `first` on, not following the last
    /// ones: inside the calls `entered` (outermost first), when the
    /// recording names them.
    fn start_run(&mut self, first: u64, entered: &[EnteredFrame]) {
        let start = self.index.kinds.len() as u32;
        self.index.runs.push(Run { first, start });
        self.stack.clear();
        self.orphans.clear();
        self.next_event = Some(first);
        for &(function, file, line) in entered {
            let parent = self.stack.last().map(|(frame, _)| *frame);
            let frame = self.new_frame(Some(function), Some(file), parent, start);
            self.index.frames[frame as usize].entered_line = Some(line);
            self.stack.push((frame, line));
        }
    }

    fn event(&mut self, offset: u64, event: RawEvent, pairs: &[(StrId, ValueRef)]) {
        let at = self.index.kinds.len() as u32;
        let (kind, frame, line) = match event {
            RawEvent::Call {
                function,
                file,
                line,
            } => {
                let parent = self.stack.last().map(|(frame, _)| *frame);
                let frame = self.new_frame(Some(function), Some(file), parent, at);
                self.stack.push((frame, line));
                (Kind::Call, frame, line)
            }
            RawEvent::Line { line } => {
                let (frame, _) = self.current(false);
                if let Some(top) = self.stack.last_mut() {
                    top.1 = line;
                }
                (Kind::Line, frame, line)
            }
            RawEvent::Return { .. } => {
                let (frame, line) = self.current(false);
                self.stack.pop();
                if self.stack.is_empty() {
                    self.orphans.push((frame, line));
                }
                (Kind::Return, frame, line)
            }
            RawEvent::Exception { stage, .. } => {
                let (frame, line) = self.current(true);
                (Kind::Exception(stage), frame, line)
            }
        };
        for &(name, value) in pairs {
            self.index.changes.push(Change { at, name, value });
        }
        self.index.frames[frame as usize].last = at;
        // The frames it is nested in span it too.
        let mut parent = self.index.frames[frame as usize].parent;
        while let Some(p) = parent {
            let info = &mut self.index.frames[p as usize];
            if info.last == at {
                break;
            }
            info.last = at;
            parent = info.parent;
        }
        self.index.kinds.push(kind);
        self.index.frame_of.push(frame);
        self.index.lines.push(line);
        self.index.offsets.push(offset);
    }

    /// The frame an event that is not a call belongs to. With no frame
    /// open, it is the caller of the frames that returned (entered before
    /// the recorded events), or, for an exception that escaped them all,
    /// the last of them.
    fn current(&mut self, exception: bool) -> (u32, u32) {
        if let Some(top) = self.stack.last() {
            return *top;
        }
        if exception && let Some(orphan) = self.orphans.last() {
            return *orphan;
        }
        let at = self.index.kinds.len() as u32;
        let start = self.index.runs.last().map_or(0, |run| run.start);
        let frame = self.new_frame(None, None, None, start.min(at));
        for (orphan, _) in std::mem::take(&mut self.orphans) {
            self.index.frames[orphan as usize].parent = Some(frame);
        }
        self.stack.push((frame, 0));
        (frame, 0)
    }

    fn new_frame(
        &mut self,
        function: Option<StrId>,
        file: Option<StrId>,
        parent: Option<u32>,
        first: u32,
    ) -> u32 {
        let id = self.index.frames.len() as u32;
        self.index.frames.push(FrameInfo {
            function,
            file,
            parent,
            depth: 0,
            entered_line: None,
            first,
            last: first,
        });
        id
    }

    fn finish(mut self) -> ThreadIndex {
        if self.index.runs.is_empty() {
            self.index.runs.push(Run { first: 0, start: 0 });
        }
        let index = &mut self.index;
        // Depths: a parent made after its child (entered before the
        // recording) has a larger id, so resolve by walking up.
        let mut depth: Vec<Option<u32>> = vec![None; index.frames.len()];
        for frame in 0..index.frames.len() {
            let mut chain = Vec::new();
            let mut at = Some(frame as u32);
            let mut base = 0;
            while let Some(f) = at {
                if let Some(d) = depth[f as usize] {
                    base = d + 1;
                    break;
                }
                chain.push(f);
                at = index.frames[f as usize].parent;
            }
            for (n, f) in chain.iter().rev().enumerate() {
                depth[*f as usize] = Some(base + n as u32);
            }
        }
        for (frame, d) in index.frames.iter_mut().zip(depth) {
            frame.depth = d.unwrap_or(0);
        }
        // Changes grouped by frame, by a counting sort.
        let frames = index.frames.len();
        let mut start = vec![0u32; frames + 1];
        for change in &index.changes {
            start[index.frame_of[change.at as usize] as usize + 1] += 1;
        }
        for f in 0..frames {
            start[f + 1] += start[f];
        }
        let mut fill = start.clone();
        let mut by_frame = vec![0u32; index.changes.len()];
        for (n, change) in index.changes.iter().enumerate() {
            let f = index.frame_of[change.at as usize] as usize;
            by_frame[fill[f] as usize] = n as u32;
            fill[f] += 1;
        }
        index.by_frame = by_frame;
        index.by_frame_start = start;
        for f in 0..frames as u32 {
            let changes = index.frame_changes(f);
            if changes.len() <= CHECKPOINT {
                continue;
            }
            let mut locals: Vec<(StrId, ValueRef)> = Vec::new();
            let mut points = Vec::new();
            for (n, c) in changes.iter().enumerate() {
                apply(&mut locals, index.changes[*c as usize]);
                if (n + 1) % CHECKPOINT == 0 {
                    points.push(locals.clone());
                }
            }
            index.checkpoints.insert(f, points);
        }
        self.index
    }
}

fn apply(locals: &mut Vec<(StrId, ValueRef)>, change: Change) {
    match locals.iter_mut().find(|(name, _)| *name == change.name) {
        Some(slot) => slot.1 = change.value,
        None => locals.push((change.name, change.value)),
    }
}

impl ThreadIndex {
    /// How many events the thread has.
    pub fn len(&self) -> u32 {
        self.kinds.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn kind(&self, pos: u32) -> Kind {
        self.kinds[pos as usize]
    }

    pub fn frame(&self, pos: u32) -> u32 {
        self.frame_of[pos as usize]
    }

    pub fn line(&self, pos: u32) -> u32 {
        self.lines[pos as usize]
    }

    pub fn depth(&self, pos: u32) -> u32 {
        self.frames[self.frame(pos) as usize].depth
    }

    /// The recorded event number of position `pos`.
    pub fn event_number(&self, pos: u32) -> u64 {
        let run = self.run_of(pos);
        run.first + u64::from(pos - run.start)
    }

    /// The position of recorded event number `number`, if it was kept.
    pub fn position(&self, number: u64) -> Option<u32> {
        let at = self.runs.partition_point(|run| run.first <= number);
        let run = self.runs.get(at.checked_sub(1)?)?;
        let end = self.runs.get(at).map_or(self.len(), |next| next.start);
        let pos = u64::from(run.start) + (number - run.first);
        (pos < u64::from(end)).then_some(pos as u32)
    }

    /// The recorded event numbers kept, as ranges.
    pub fn kept(&self) -> Vec<std::ops::Range<u64>> {
        self.runs
            .iter()
            .enumerate()
            .map(|(n, run)| {
                let end = self.runs.get(n + 1).map_or(self.len(), |next| next.start);
                run.first..run.first + u64::from(end - run.start)
            })
            .filter(|range| !range.is_empty())
            .collect()
    }

    /// Whether `pos` starts a run that does not follow the previous one.
    pub fn starts_gap(&self, pos: u32) -> bool {
        pos > 0 && self.runs.iter().any(|run| run.start == pos)
    }

    fn run_of(&self, pos: u32) -> Run {
        let at = self.runs.partition_point(|run| run.start <= pos);
        self.runs[at.saturating_sub(1)]
    }

    fn frame_changes(&self, frame: u32) -> &[u32] {
        let start = self.by_frame_start[frame as usize] as usize;
        let end = self.by_frame_start[frame as usize + 1] as usize;
        &self.by_frame[start..end]
    }

    /// The locals of `frame` as they were after the event at `pos`, in
    /// the order they first appeared.
    pub fn locals(&self, frame: u32, pos: u32) -> Vec<(StrId, ValueRef)> {
        let changes = self.frame_changes(frame);
        let upto = changes.partition_point(|c| self.changes[*c as usize].at <= pos);
        let done = upto / CHECKPOINT;
        let (mut locals, from) = match (done, self.checkpoints.get(&frame)) {
            (1.., Some(points)) => (points[done - 1].clone(), done * CHECKPOINT),
            _ => (Vec::new(), 0),
        };
        for c in &changes[from..upto] {
            apply(&mut locals, self.changes[*c as usize]);
        }
        locals
    }

    /// Every change of the locals named by `names` in `frame`, in order.
    pub fn history(&self, frame: u32, names: &[StrId]) -> Vec<Change> {
        self.frame_changes(frame)
            .iter()
            .map(|c| self.changes[*c as usize])
            .filter(|change| names.contains(&change.name))
            .collect()
    }

    /// The names `frame`'s locals ever had.
    pub fn names(&self, frame: u32) -> Vec<StrId> {
        let mut names: Vec<StrId> = self
            .frame_changes(frame)
            .iter()
            .map(|c| self.changes[*c as usize].name)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The line a frame was at just before `pos` (for a caller: the line
    /// of the call).
    pub fn line_before(&self, frame: u32, pos: u32) -> u32 {
        let info = &self.frames[frame as usize];
        let mut at = pos.min(self.len().saturating_sub(1));
        loop {
            if self.frame_of[at as usize] == frame {
                return self.lines[at as usize];
            }
            // Skip a callee as a whole.
            let callee = &self.frames[self.frame_of[at as usize] as usize];
            let back = callee.first.min(at);
            if back <= info.first || back == 0 {
                return info.entered_line.unwrap_or(self.lines[info.first as usize]);
            }
            at = back - 1;
        }
    }

    /// Every position of a line event at `line` of a frame whose file is
    /// one of `files`.
    pub fn line_hits(&self, files: &[StrId], line: u32) -> Vec<u32> {
        (0..self.len())
            .filter(|&pos| {
                self.kinds[pos as usize] == Kind::Line
                    && self.lines[pos as usize] == line
                    && self.frames[self.frame_of[pos as usize] as usize]
                        .file
                        .is_some_and(|file| files.contains(&file))
            })
            .collect()
    }

    /// The distinct files of the thread's frames.
    pub fn files(&self) -> Vec<StrId> {
        let mut files: Vec<StrId> = self.frames.iter().filter_map(|f| f.file).collect();
        files.sort_unstable();
        files.dedup();
        files
    }
}
