//! A thread's events as the recorder keeps them: blocks of packed events
//! (`rewind_format::packed`) as the guest sent them, checked, or as the
//! host packed the events a guest sent as text; the last ones the thread's
//! buffer holds; and the thread's names.
//!
//! Nothing is decoded to keep or to write them: a window of the last N
//! events is whole blocks, the first one cut where the window starts.

use std::collections::VecDeque;
use std::sync::Arc;

use rewind_format::model::Event;
use rewind_format::packed::{
    Batch, NameTable, PackedEvent, PackedEvents, remap_names, skip_events,
};

/// A run of consecutive events, packed; their name ids are the buffer's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slice<'a> {
    pub(crate) first: u64,
    pub(crate) count: u64,
    pub(crate) events: &'a [u8],
}

#[derive(Debug)]
struct Block {
    first: u64,
    count: u64,
    events: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct EventBuffer {
    /// The thread's names.
    names: NameTable,
    /// Each of the guest's name ids, as one of `names`.
    guest: Vec<u32>,
    /// Packs events sent as text, and each of its names' id in `names`.
    text: Batch,
    text_ids: Vec<u32>,
    blocks: VecDeque<Block>,
    /// The first event held: `blocks[0]` may start before it.
    first: u64,
    /// Events seen in all.
    total: u64,
    /// Bytes the blocks hold.
    block_bytes: usize,
    /// Bytes the names take, with what indexes them.
    name_bytes: usize,
    /// The calls still open where `blocks[0]` starts, whose events are
    /// gone: what a window starting there was entered through.
    base: Stack,
}

/// Calls open at a point of the events, outermost first: each its
/// function's and file's name ids, and the line it is at.
#[derive(Debug, Default, Clone)]
struct Stack {
    frames: Vec<(u32, u32, u32)>,
    /// Calls deeper than [`MAX_ENTERED`], counted only.
    deeper: u64,
}

/// The most open calls a buffer remembers by name: far past Python's
/// recursion limit, and a bound on what a guest's calls cost the host.
const MAX_ENTERED: usize = 4096;

impl Stack {
    /// Follows the first `count` of `events` (checked when they came in).
    fn walk(&mut self, events: &[u8], count: u64, names: u32) {
        let mut walk = PackedEvents::new(events, 0, count, names);
        let mut pairs = Vec::new();
        while let Some(Ok((_, event))) = walk.next(&mut pairs) {
            pairs.clear();
            match event {
                PackedEvent::Call {
                    function,
                    file,
                    line,
                } => match self.frames.len() < MAX_ENTERED {
                    true => self.frames.push((function, file, line)),
                    false => self.deeper += 1,
                },
                PackedEvent::Line { line } => {
                    if self.deeper == 0
                        && let Some(top) = self.frames.last_mut()
                    {
                        top.2 = line;
                    }
                }
                // A return with nothing open is that of a frame entered
                // before tracing started.
                PackedEvent::Return { .. } => match self.deeper {
                    0 => {
                        self.frames.pop();
                    }
                    _ => self.deeper -= 1,
                },
                _ => {}
            }
        }
    }
}

/// What a block costs beyond its bytes.
const BLOCK_OVERHEAD: usize = 48;
/// What a name costs beyond its text: its place in the table, both ways,
/// and in the guest's numbering.
const NAME_OVERHEAD: usize = 64;

impl EventBuffer {
    /// Events seen in all.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The first event the buffer holds.
    pub(crate) fn first(&self) -> u64 {
        self.first
    }

    /// The memory the buffer takes: its events and its names.
    pub(crate) fn bytes(&self) -> usize {
        self.block_bytes + self.name_bytes
    }

    /// The thread's names: those the events' ids number.
    pub(crate) fn names(&self) -> &[Arc<str>] {
        self.names.texts()
    }

    /// Takes in `count` events the guest packed (`body`: the names it
    /// defines, then the events), checking every byte: a malformed batch
    /// is refused whole, with why.
    /// Returns how many events it added.
    pub(crate) fn packed(&mut self, count: u32, body: &[u8]) -> Result<u64, String> {
        let (names_first, names, events) =
            rewind_format::packed::split_body(body).map_err(|err| err.to_string())?;
        if names_first as usize != self.guest.len() {
            return Err(format!(
                "its names start at {names_first}, after {} defined",
                self.guest.len()
            ));
        }
        let before = self.guest.len();
        for text in names {
            let (id, new) = self.names.intern(text);
            if new {
                self.name_bytes += text.len() + NAME_OVERHEAD;
            }
            self.guest.push(id);
        }
        let identity = self
            .guest
            .iter()
            .enumerate()
            .all(|(at, id)| *id as usize == at);
        let count = u64::from(count);
        let events = match identity {
            true => check(events, count, self.guest.len() as u32),
            false => remap_names(events, count, &self.guest),
        };
        match events {
            Ok(events) => Ok(self.push(count, events)),
            Err(err) => {
                // Names of a refused batch are not the guest's.
                self.guest.truncate(before);
                Err(err.to_string())
            }
        }
    }

    /// Takes in events the guest sent as text; returns how many.
    pub(crate) fn text(&mut self, events: &[Event]) -> u64 {
        let batch = &mut self.text;
        for event in events {
            batch.text_event(event);
        }
        let Some(packed) = batch.take() else {
            return self.push(0, Vec::new());
        };
        for text in &self.text.name_texts()[self.text_ids.len()..] {
            let (id, new) = self.names.intern(text);
            // The batch that packs text events keeps the name too.
            self.name_bytes += text.len() + NAME_OVERHEAD;
            if new {
                self.name_bytes += text.len() + NAME_OVERHEAD;
            }
            self.text_ids.push(id);
        }
        let (_, _, events) =
            rewind_format::packed::split_body(&packed.body).unwrap_or((0, Vec::new(), &[]));
        // What the batch wrote re-maps without fail.
        let events = remap_names(events, packed.count.into(), &self.text_ids).unwrap_or_default();
        self.push(packed.count.into(), events)
    }

    fn push(&mut self, count: u64, events: Vec<u8>) -> u64 {
        let first = self.total;
        self.total += count;
        if count > 0 {
            self.block_bytes += events.len() + BLOCK_OVERHEAD;
            self.blocks.push_back(Block {
                first,
                count,
                events,
            });
        }
        count
    }

    /// Holds only the last `keep` events, in blocks of `max_bytes` at most:
    /// a guest's events may be large, and their count alone bounds nothing.
    pub(crate) fn keep(&mut self, keep: usize, max_bytes: usize) {
        self.first = self.first.max(self.total.saturating_sub(keep as u64));
        while let Some(block) = self.blocks.front()
            && (block.first + block.count <= self.first || self.block_bytes > max_bytes)
        {
            self.first = self.first.max(block.first + block.count);
            self.block_bytes -= block.events.len() + BLOCK_OVERHEAD;
            let names = self.names.len() as u32;
            if let Some(block) = self.blocks.pop_front() {
                self.base.walk(&block.events, block.count, names);
            }
        }
    }

    /// Drops every event held.
    pub(crate) fn clear(&mut self) {
        let names = self.names.len() as u32;
        for block in &self.blocks {
            self.base.walk(&block.events, block.count, names);
        }
        self.blocks.clear();
        self.block_bytes = 0;
        self.first = self.total;
    }

    /// The calls open just before event `at` whose call events are gone
    /// or come before `at`, outermost first, as (function, file, the line
    /// each is at): where a
    /// window starting at `at` was entered. Only the innermost
    /// [`MAX_ENTERED`] are known by name; deeper ones are left out.
    pub(crate) fn entered_at(&self, at: u64) -> Vec<(Arc<str>, Arc<str>, u32)> {
        let names = self.names.len() as u32;
        let mut stack = self.base.clone();
        for block in &self.blocks {
            if block.first >= at {
                break;
            }
            stack.walk(&block.events, (at - block.first).min(block.count), names);
        }
        let texts = self.names.texts();
        let text = |id: u32| {
            texts
                .get(id as usize)
                .cloned()
                .unwrap_or_else(|| Arc::from("?"))
        };
        stack
            .frames
            .iter()
            .map(|&(function, file, line)| (text(function), text(file), line))
            .collect()
    }

    /// The events held from `from` on, in slices.
    pub(crate) fn since(&self, from: u64) -> Vec<Slice<'_>> {
        let from = from.max(self.first);
        let names = self.names.len() as u32;
        self.blocks
            .iter()
            .filter(|block| block.first + block.count > from)
            .map(|block| {
                let skip = from.saturating_sub(block.first);
                // Checked when it came in: the walk cannot fail.
                let at = match skip {
                    0 => 0,
                    _ => skip_events(&block.events, skip, names).unwrap_or(block.events.len()),
                };
                Slice {
                    first: block.first + skip,
                    count: block.count - skip,
                    events: &block.events[at..],
                }
            })
            .collect()
    }
}

/// `count` events checked whole: every name below `names`, nothing after.
fn check(events: &[u8], count: u64, names: u32) -> Result<Vec<u8>, rewind_format::FormatError> {
    let mut walk = PackedEvents::new(events, 0, count, names);
    let mut pairs = Vec::new();
    while let Some(event) = walk.next(&mut pairs) {
        event?;
        pairs.clear();
    }
    if walk.offset() as usize != events.len() {
        return Err(rewind_format::FormatError::Corrupt {
            offset: walk.offset(),
            what: format!("{count} events end before the batch does"),
        });
    }
    Ok(events.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewind_format::model::ExceptionStage;
    use rewind_format::packed::values;

    fn guest_batch(batch: &mut Batch, lines: std::ops::Range<u32>) -> (u32, Vec<u8>) {
        let x = batch.name("x");
        for line in lines {
            batch.line(line);
            batch.pair(x);
            values::int(batch.value(), line.into());
            batch.end_pairs();
            batch.end();
        }
        let packed = batch.take().unwrap();
        (packed.count, packed.body)
    }

    #[test]
    fn a_window_is_the_last_events_cut_from_whole_blocks() {
        let mut buffer = EventBuffer::default();
        let mut batch = Batch::new();
        for block in 0..5 {
            let (count, body) = guest_batch(&mut batch, block * 10..block * 10 + 10);
            buffer.packed(count, &body).unwrap();
        }
        buffer.keep(15, usize::MAX);
        assert_eq!((buffer.first(), buffer.total()), (35, 50));
        let slices = buffer.since(0);
        assert_eq!(slices.len(), 2);
        assert_eq!((slices[0].first, slices[0].count), (35, 5));
        let mut walk = PackedEvents::new(slices[0].events, 0, 5, 1);
        let mut pairs = Vec::new();
        let first = walk.next(&mut pairs).unwrap().unwrap().1;
        assert_eq!(first, rewind_format::packed::PackedEvent::Line { line: 35 });
        buffer.clear();
        assert!(buffer.since(0).is_empty());
    }

    #[test]
    fn text_and_packed_events_share_the_names() {
        let mut buffer = EventBuffer::default();
        buffer.text(&[Event::Exception {
            stage: ExceptionStage::Raised,
            type_name: "ValueError".into(),
            message: "bad".into(),
        }]);
        // The guest's own numbering starts at 0 too: its "x" is remapped.
        let (count, body) = guest_batch(&mut Batch::new(), 0..3);
        assert_eq!(buffer.packed(count, &body).unwrap(), 3);
        assert_eq!(buffer.names().len(), 2);
        let slices = buffer.since(1);
        assert_eq!((slices[0].first, slices[0].count), (1, 3));
        let mut walk = PackedEvents::new(slices[0].events, 0, 3, 2);
        let mut pairs = Vec::new();
        walk.next(&mut pairs).unwrap().unwrap();
        assert_eq!(&*buffer.names()[pairs[0].0 as usize], "x");
    }

    #[test]
    fn malformed_batches_are_refused_whole() {
        let mut buffer = EventBuffer::default();
        let (count, body) = guest_batch(&mut Batch::new(), 0..3);
        assert!(buffer.packed(count + 1, &body).is_err());
        assert!(buffer.packed(count - 1, &body).is_err());
        assert!(buffer.packed(count, &body[..body.len() - 1]).is_err());
        // Names must follow on from those defined.
        let mut batch = Batch::new();
        guest_batch(&mut batch, 0..1);
        batch.name("y");
        let (count2, body2) = guest_batch(&mut batch, 1..2);
        let err = buffer.packed(count2, &body2).unwrap_err();
        assert!(err.contains("names start at 1, after 0"), "{err}");
        assert_eq!(buffer.total(), 0);
        buffer.packed(count, &body).unwrap();
        assert_eq!(buffer.total(), 3);
    }
}
