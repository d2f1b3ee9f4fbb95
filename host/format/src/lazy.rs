//! Events read on demand: a viewer of millions of events walks them once to
//! build its index, keeping offsets, and decodes one again, or makes a
//! value's text, only to show it.
//!
//! The events of every chunk are kept packed, one after another, in one
//! buffer (decompressed; a version 1 recording's are packed as they are
//! read), and names are numbered across threads.

use std::collections::BTreeMap;

use crate::FormatError;
use crate::model::{Event, ExceptionStage, ThreadId};
use crate::packed::{NameTable, PackedEvent, PackedEvents, value_text};

/// A name's number in [`LazyEvents`]: a function's, a file's, a local's,
/// an exception type's.
pub type StrId = u32;

/// Where a value is in [`LazyEvents`]: [`LazyEvents::value`] makes its text.
pub type ValueRef = u64;

/// The events of a recording read by [`Recording::read_lazy`]: every
/// event chunk checked, its events kept packed.
///
/// [`Recording::read_lazy`]: crate::Recording::read_lazy
#[derive(Debug, Clone, Default)]
pub struct LazyEvents {
    names: NameTable,
    /// Per thread, each of its names' number here.
    maps: BTreeMap<ThreadId, Vec<StrId>>,
    events: Vec<u8>,
    /// The event chunks, in the order they are in the recording.
    pub chunks: Vec<EventChunk>,
}

/// One chunk of events of one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventChunk {
    pub thread: ThreadId,
    /// The index of its first event in the thread's whole event sequence.
    pub first: u64,
    pub count: u64,
    /// Where its events are.
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// How many of its thread's names were defined by then.
    pub(crate) names: u32,
}

/// An event with its names as [`StrId`]s and its values as [`ValueRef`]s;
/// its name/value pairs (a call's arguments, a line's changed locals) are
/// handed over separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawEvent {
    Call {
        function: StrId,
        file: StrId,
        line: u32,
    },
    Line {
        line: u32,
    },
    Return {
        value: ValueRef,
    },
    Exception {
        stage: ExceptionStage,
        type_name: StrId,
        message: ValueRef,
    },
}

impl LazyEvents {
    /// Takes in the events of a chunk whose body (names, then `count`
    /// events) is checked and defines `new_names` for `thread`; `at` is
    /// where its events start in the body. Called by the reader.
    pub(crate) fn add(
        &mut self,
        thread: ThreadId,
        first: u64,
        count: u64,
        new_names: &[String],
        names: u32,
        events: &[u8],
    ) {
        let map = self.maps.entry(thread).or_default();
        for text in new_names {
            map.push(self.names.id(text));
        }
        let start = self.events.len() as u64;
        self.events.extend_from_slice(events);
        self.chunks.push(EventChunk {
            thread,
            first,
            count,
            start,
            end: self.events.len() as u64,
            names,
        });
    }

    /// How many names there are.
    pub fn names(&self) -> usize {
        self.names.len()
    }

    /// Name `id` (`"?"` for an id that is not one).
    pub fn name(&self, id: StrId) -> &str {
        self.names.text(id).unwrap_or("?")
    }

    /// The events of `chunk`, in order.
    pub fn events(&self, chunk: &EventChunk) -> RawEvents<'_> {
        let bytes = self.slice(chunk.start, chunk.end);
        RawEvents {
            events: PackedEvents::new(bytes, chunk.start, chunk.count, chunk.names),
            map: self.map(chunk.thread),
            packed: Vec::new(),
        }
    }

    /// The one event at `offset` (as [`RawEvents::next`] reported it).
    pub fn event_at(
        &self,
        offset: u64,
        pairs: &mut Vec<(StrId, ValueRef)>,
    ) -> Result<RawEvent, FormatError> {
        let chunk = self.chunk_of(offset).ok_or(FormatError::Corrupt {
            offset,
            what: "no event there".into(),
        })?;
        let mut events = RawEvents {
            events: PackedEvents::new(self.slice(offset, chunk.end), offset, 1, chunk.names),
            map: self.map(chunk.thread),
            packed: Vec::new(),
        };
        match events.next(pairs) {
            Some(result) => result.map(|(_, event)| event),
            None => Err(FormatError::Truncated {
                offset,
                what: "an event".into(),
            }),
        }
    }

    /// The number of name `text`, adding it when it is new (a name a
    /// chunk other than the events' gives, such as a frame's in
    /// [`Entered`](crate::model::Entered)).
    pub fn intern(&mut self, text: &str) -> StrId {
        self.names.intern(text).0
    }

    /// The items value `value` kept, when it is a container (a list, a
    /// tuple, a dict): each with its key, for a dict. `None` for any other
    /// value, and for a value kept as text.
    pub fn items(&self, value: ValueRef) -> Option<Vec<(Option<ValueRef>, ValueRef)>> {
        let chunk = self.chunk_of(value)?;
        let end = usize::try_from(chunk.end).unwrap_or(usize::MAX);
        crate::packed::value_items(&self.events[..end.min(self.events.len())], value)
            .ok()
            .flatten()
    }

    /// The text of value `value`: its safe string form, as the tracer made
    /// it.
    pub fn value(&self, value: ValueRef) -> String {
        let Some(chunk) = self.chunk_of(value) else {
            return "?".into();
        };
        let map = self.map(chunk.thread);
        let name = |id: u32, out: &mut String| {
            let id = map.get(id as usize).copied().unwrap_or(StrId::MAX);
            out.push_str(self.name(id));
        };
        let end = usize::try_from(chunk.end).unwrap_or(usize::MAX);
        value_text(&self.events[..end.min(self.events.len())], value, &name)
            .unwrap_or_else(|_| "?".into())
    }

    /// Bytes the events take, packed.
    pub fn packed_len(&self) -> usize {
        self.events.len()
    }

    fn map(&self, thread: ThreadId) -> &[StrId] {
        self.maps.get(&thread).map_or(&[], Vec::as_slice)
    }

    fn slice(&self, start: u64, end: u64) -> &[u8] {
        let len = self.events.len();
        let end = usize::try_from(end).map_or(len, |end| end.min(len));
        let start = usize::try_from(start).map_or(end, |start| start.min(end));
        &self.events[start..end]
    }

    fn chunk_of(&self, offset: u64) -> Option<&EventChunk> {
        let at = self.chunks.partition_point(|chunk| chunk.start <= offset);
        let chunk = self.chunks.get(at.checked_sub(1)?)?;
        (offset < chunk.end).then_some(chunk)
    }
}

/// Decodes events one by one without allocating.
#[derive(Debug)]
pub struct RawEvents<'b> {
    events: PackedEvents<'b>,
    map: &'b [StrId],
    packed: Vec<(u32, u64)>,
}

impl RawEvents<'_> {
    /// The next event and its offset; its pairs are appended to `pairs`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(
        &mut self,
        pairs: &mut Vec<(StrId, ValueRef)>,
    ) -> Option<Result<(u64, RawEvent), FormatError>> {
        self.packed.clear();
        let (offset, event) = match self.events.next(&mut self.packed)? {
            Ok(next) => next,
            Err(err) => return Some(Err(err)),
        };
        let map = self.map;
        let global = |id: u32| map.get(id as usize).copied().unwrap_or(StrId::MAX);
        pairs.extend(
            self.packed
                .iter()
                .map(|&(name, value)| (global(name), value)),
        );
        let event = match event {
            PackedEvent::Call {
                function,
                file,
                line,
            } => RawEvent::Call {
                function: global(function),
                file: global(file),
                line,
            },
            PackedEvent::Line { line } => RawEvent::Line { line },
            PackedEvent::Return { value } => RawEvent::Return { value },
            PackedEvent::Exception {
                stage,
                type_name,
                message,
            } => RawEvent::Exception {
                stage,
                type_name: global(type_name),
                message,
            },
        };
        Some(Ok((offset, event)))
    }
}

impl RawEvent {
    /// The event with its names and values as text: `pairs` are the ones
    /// decoded with it.
    pub fn resolve(self, pairs: &[(StrId, ValueRef)], lazy: &LazyEvents) -> Event {
        let resolved = || {
            pairs
                .iter()
                .map(|(n, v)| (lazy.name(*n).to_owned(), lazy.value(*v)))
                .collect()
        };
        match self {
            RawEvent::Call {
                function,
                file,
                line,
            } => Event::Call {
                function: lazy.name(function).to_owned(),
                file: lazy.name(file).to_owned(),
                line,
                args: resolved(),
            },
            RawEvent::Line { line } => Event::Line {
                line,
                changed: resolved(),
            },
            RawEvent::Return { value } => Event::Return {
                value: lazy.value(value),
            },
            RawEvent::Exception {
                stage,
                type_name,
                message,
            } => Event::Exception {
                stage,
                type_name: lazy.name(type_name).to_owned(),
                message: lazy.value(message),
            },
        }
    }
}
