//! Events read on demand: a viewer of millions of events walks them once to
//! build its index, keeping byte offsets, and decodes one again only to
//! show it.

use std::ops::Range;

use crate::FormatError;
use crate::encoding::Cursor;
use crate::model::{Event, ExceptionStage, ThreadId};

/// An interned string's number in a recording.
pub type StrId = u32;

/// The events of a recording read by [`Recording::read_lazy`]: where each
/// event chunk is, and where each interned string is, in the recording's
/// bytes. Every chunk was checked when it was read, so decoding it again
/// from the same bytes succeeds.
///
/// [`Recording::read_lazy`]: crate::Recording::read_lazy
#[derive(Debug, Clone, Default)]
pub struct LazyEvents {
    pub(crate) strings: Vec<Range<usize>>,
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
    /// The offset of its first event in the recording's bytes.
    pub start: usize,
    /// How many strings were defined before it: the ids it may use.
    pub(crate) strings: usize,
}

/// An event with its strings left as ids and its name/value pairs (a call's
/// arguments, a line's changed locals) handed over separately.
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
        value: StrId,
    },
    Exception {
        stage: ExceptionStage,
        type_name: StrId,
        message: StrId,
    },
}

impl LazyEvents {
    /// How many strings the recording interned.
    pub fn strings(&self) -> usize {
        self.strings.len()
    }

    /// The string `id` of the recording `bytes` (those this was read from).
    pub fn string<'b>(&self, bytes: &'b [u8], id: StrId) -> &'b str {
        self.strings
            .get(id as usize)
            .and_then(|span| bytes.get(span.clone()))
            .and_then(|raw| std::str::from_utf8(raw).ok())
            .unwrap_or("?")
    }

    /// The events of `chunk`, in order.
    pub fn events<'b>(&self, bytes: &'b [u8], chunk: &EventChunk) -> RawEvents<'b> {
        RawEvents::at(bytes, chunk.start, chunk.count, chunk.strings)
    }

    /// The one event at `offset` (as [`RawEvents::next`] reported it).
    pub fn event_at(
        &self,
        bytes: &[u8],
        offset: usize,
        pairs: &mut Vec<(StrId, StrId)>,
    ) -> Result<RawEvent, FormatError> {
        let mut events = RawEvents::at(bytes, offset, 1, self.strings.len());
        match events.next(pairs) {
            Some(result) => result.map(|(_, event)| event),
            None => Err(FormatError::Truncated {
                offset: offset as u64,
                what: "an event".into(),
            }),
        }
    }
}

/// Decodes events one by one without allocating.
#[derive(Debug)]
pub struct RawEvents<'b> {
    pub(crate) cur: Cursor<'b>,
    pub(crate) left: u64,
    pub(crate) strings: usize,
}

impl<'b> RawEvents<'b> {
    fn at(bytes: &'b [u8], offset: usize, count: u64, strings: usize) -> RawEvents<'b> {
        let offset = offset.min(bytes.len());
        RawEvents {
            cur: Cursor::new(&bytes[offset..], offset as u64),
            left: count,
            strings,
        }
    }

    /// The next event and its offset; its pairs are appended to `pairs`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(
        &mut self,
        pairs: &mut Vec<(StrId, StrId)>,
    ) -> Option<Result<(usize, RawEvent), FormatError>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let offset = self.cur.offset() as usize;
        let event = decode_event(&mut self.cur, self.strings, pairs);
        if event.is_err() {
            self.left = 0;
        }
        Some(event.map(|event| (offset, event)))
    }
}

impl RawEvent {
    /// The event with its strings: `pairs` are the ones decoded with it,
    /// `text` gives a string by id.
    pub fn resolve(self, pairs: &[(StrId, StrId)], text: impl Fn(StrId) -> String) -> Event {
        let resolved = || pairs.iter().map(|(n, v)| (text(*n), text(*v))).collect();
        match self {
            RawEvent::Call {
                function,
                file,
                line,
            } => Event::Call {
                function: text(function),
                file: text(file),
                line,
                args: resolved(),
            },
            RawEvent::Line { line } => Event::Line {
                line,
                changed: resolved(),
            },
            RawEvent::Return { value } => Event::Return { value: text(value) },
            RawEvent::Exception {
                stage,
                type_name,
                message,
            } => Event::Exception {
                stage,
                type_name: text(type_name),
                message: text(message),
            },
        }
    }
}

/// Decodes one event whose strings are among the first `strings` ids;
/// its pairs are appended to `pairs`. The one decoder of event bytes, for
/// the eager reader and the lazy one.
pub(crate) fn decode_event(
    cur: &mut Cursor<'_>,
    strings: usize,
    pairs: &mut Vec<(StrId, StrId)>,
) -> Result<RawEvent, FormatError> {
    let string = |cur: &mut Cursor<'_>| -> Result<StrId, FormatError> {
        let at = cur.offset();
        let id = cur.u64()?;
        if id >= strings as u64 {
            return Err(FormatError::Corrupt {
                offset: at,
                what: format!("string id {id} used before it was defined"),
            });
        }
        Ok(id as StrId)
    };
    let mut read_pairs = |cur: &mut Cursor<'_>| -> Result<(), FormatError> {
        for _ in 0..cur.count()? {
            let name = string(cur)?;
            pairs.push((name, string(cur)?));
        }
        Ok(())
    };
    Ok(match cur.u8()? {
        0 => {
            let function = string(cur)?;
            let file = string(cur)?;
            let line = cur.u32()?;
            read_pairs(cur)?;
            RawEvent::Call {
                function,
                file,
                line,
            }
        }
        1 => {
            let line = cur.u32()?;
            read_pairs(cur)?;
            RawEvent::Line { line }
        }
        2 => RawEvent::Return {
            value: string(cur)?,
        },
        3 => {
            let stage = match cur.u8()? {
                0 => ExceptionStage::Raised,
                1 => ExceptionStage::Caught,
                2 => ExceptionStage::Unhandled,
                other => return Err(cur.error(format!("unknown exception stage {other}"))),
            };
            RawEvent::Exception {
                stage,
                type_name: string(cur)?,
                message: string(cur)?,
            }
        }
        other => return Err(cur.error(format!("unknown event tag {other}"))),
    })
}
