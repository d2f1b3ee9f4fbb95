//! Writing packed events: [`Batch`] for events and names, [`values`] for
//! the values in them.

use std::hash::{BuildHasherDefault, Hasher};

use super::{NameTable, event, tag};
use crate::encoding::{put_bytes, put_u64};
use crate::model::{Event, ExceptionStage};

/// A batch of one thread's events being written, and the thread's names.
///
/// An event is begun ([`Batch::call`], [`Batch::line`], ...), given its
/// pairs and values, and ended with [`Batch::end`]; [`Batch::take`] hands
/// over the events ended so far, and keeps one still being written (a
/// tracer may have to flush while it makes one). The names outlive the
/// batch: a name is defined once per thread, in the first body that needs
/// it.
///
/// ```
/// use rewind_format::packed::{Batch, values, value_text};
///
/// let mut batch = Batch::new();
/// let x = batch.name("x");
/// batch.line(3);
/// batch.pair(x);
/// values::float(batch.value(), 0.1);
/// batch.end_pairs();
/// batch.end();
/// let packed = batch.take().unwrap();
/// assert_eq!(packed.count, 1);
/// assert_eq!(packed.names_first, 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Every name of the thread.
    names: NameTable<BuildHasherDefault<NameHasher>>,
    /// Names defined and not yet handed over, as `text*`.
    fresh: Vec<u8>,
    fresh_count: u32,
    events: Vec<u8>,
    /// The bytes of `events` that are whole events.
    whole: usize,
    count: u32,
}

/// The events a [`Batch`] handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub count: u32,
    /// The id of the first name the body defines.
    pub names_first: u32,
    /// The body: names defined, then events.
    pub body: Vec<u8>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// The id of name `text`, defined now if it is new.
    #[inline]
    pub fn name(&mut self, text: &str) -> u32 {
        let (id, new) = self.names.intern(text);
        if new {
            put_bytes(&mut self.fresh, text.as_bytes());
            self.fresh_count += 1;
        }
        id
    }

    /// The text of name `id`.
    pub fn name_text(&self, id: u32) -> Option<&str> {
        self.names.text(id)
    }

    /// Every name of the thread, by id.
    pub fn name_texts(&self) -> &[std::sync::Arc<str>] {
        self.names.texts()
    }

    /// How many names the thread has.
    pub fn names(&self) -> u32 {
        self.names.len() as u32
    }

    /// Begins a call of `function` in `file`; its arguments are its pairs.
    #[inline]
    pub fn call(&mut self, function: u32, file: u32, line: u32) {
        self.events.push(event::CALL);
        put_u64(&mut self.events, function.into());
        put_u64(&mut self.events, file.into());
        put_u64(&mut self.events, line.into());
    }

    /// Begins a line event; its changed locals are its pairs.
    #[inline]
    pub fn line(&mut self, line: u32) {
        self.events.push(event::LINE);
        put_u64(&mut self.events, line.into());
    }

    /// Begins a return; one value follows.
    #[inline]
    pub fn ret(&mut self) {
        self.events.push(event::RETURN);
    }

    /// Begins an exception event; its message, a value, follows.
    #[inline]
    pub fn exception(&mut self, stage: ExceptionStage, type_name: u32) {
        self.events.push(event::EXCEPTION);
        self.events.push(match stage {
            ExceptionStage::Raised => 0,
            ExceptionStage::Caught => 1,
            ExceptionStage::Unhandled => 2,
        });
        put_u64(&mut self.events, type_name.into());
    }

    /// A pair's name; its value follows.
    #[inline]
    pub fn pair(&mut self, name: u32) {
        put_u64(&mut self.events, u64::from(name) + 1);
    }

    /// Ends the pairs of a call or a line.
    #[inline]
    pub fn end_pairs(&mut self) {
        self.events.push(0);
    }

    /// Where the next value goes, for [`values`].
    #[inline]
    pub fn value(&mut self) -> &mut Vec<u8> {
        &mut self.events
    }

    /// Ends the event being written.
    #[inline]
    pub fn end(&mut self) {
        self.whole = self.events.len();
        self.count += 1;
    }

    /// Writes an event given as text (by a tracer that makes strings, or
    /// read from a version 1 file): its names named, its values as text.
    pub fn text_event(&mut self, event: &Event) {
        match event {
            Event::Call {
                function,
                file,
                line,
                args,
            } => {
                let function = self.name(function);
                let file = self.name(file);
                self.call(function, file, *line);
                self.text_pairs(args);
            }
            Event::Line { line, changed } => {
                self.line(*line);
                self.text_pairs(changed);
            }
            Event::Return { value } => {
                self.ret();
                values::text(self.value(), value);
            }
            Event::Exception {
                stage,
                type_name,
                message,
            } => {
                let type_name = self.name(type_name);
                self.exception(*stage, type_name);
                values::text(self.value(), message);
            }
        }
        self.end();
    }

    fn text_pairs(&mut self, pairs: &[(String, String)]) {
        for (name, value) in pairs {
            let name = self.name(name);
            self.pair(name);
            values::text(self.value(), value);
        }
        self.end_pairs();
    }

    /// Drops what was written of the event being written.
    pub fn abandon(&mut self) {
        self.events.truncate(self.whole);
    }

    /// Whole events not handed over yet.
    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes held, to decide when to hand them over.
    pub fn bytes(&self) -> usize {
        self.events.len() + self.fresh.len()
    }

    /// Hands over the whole events written so far, with the names they are
    /// the first to use; `None` when there are none.
    pub fn take(&mut self) -> Option<Packed> {
        if self.count == 0 {
            return None;
        }
        // The fresh names are the last ones numbered.
        let fresh_first = self.names() - self.fresh_count;
        let mut body = Vec::with_capacity(self.fresh.len() + self.whole + 10);
        put_u64(&mut body, fresh_first.into());
        put_u64(&mut body, self.fresh_count.into());
        body.extend_from_slice(&self.fresh);
        body.extend_from_slice(&self.events[..self.whole]);
        self.events.drain(..self.whole);
        let packed = Packed {
            count: self.count,
            names_first: fresh_first,
            body,
        };
        self.fresh.clear();
        self.fresh_count = 0;
        self.whole = 0;
        self.count = 0;
        Some(packed)
    }
}

/// Writers of values, each appending one value to `out` (a batch's
/// [`Batch::value`], or a buffer of the tracer's own).
pub mod values {
    use super::*;
    use crate::packed::{KEEP_STR, KEEP_TEXT};

    #[inline]
    pub fn none(out: &mut Vec<u8>) {
        out.push(tag::NONE);
    }

    #[inline]
    pub fn boolean(out: &mut Vec<u8>, value: bool) {
        out.push(if value { tag::TRUE } else { tag::FALSE });
    }

    #[inline]
    pub fn int(out: &mut Vec<u8>, value: i64) {
        out.push(tag::INT);
        crate::encoding::put_i64(out, value);
    }

    /// Every NaN is written as the same one: they all read `nan`.
    #[inline]
    pub fn float(out: &mut Vec<u8>, value: f64) {
        let value = if value.is_nan() { f64::NAN } else { value };
        out.push(tag::FLOAT);
        out.extend_from_slice(&value.to_bits().to_le_bytes());
    }

    /// A str of ASCII characters (`text.is_ascii()`, which the caller
    /// checks; anything else is written as [`text`] of its repr).
    #[inline]
    pub fn ascii_str(out: &mut Vec<u8>, text: &[u8]) {
        debug_assert!(text.is_ascii());
        // Python's repr quotes with ' unless the string has a ' and no ".
        let double = text.contains(&b'\'') && !text.contains(&b'"');
        out.push(if double { tag::STR_DOUBLE } else { tag::STR });
        put_bytes(out, &text[..text.len().min(KEEP_STR)]);
    }

    /// A value by its safe string form.
    pub fn text(out: &mut Vec<u8>, text: &str) {
        out.push(tag::TEXT);
        let end = text
            .char_indices()
            .nth(KEEP_TEXT)
            .map_or(text.len(), |(at, _)| at);
        put_bytes(out, &text.as_bytes()[..end]);
    }

    /// A list of `count` items, which follow (at most
    /// [`KEEP_ITEMS`](crate::packed::KEEP_ITEMS) of its items).
    #[inline]
    pub fn list(out: &mut Vec<u8>, count: usize) {
        out.push(tag::LIST);
        put_u64(out, count as u64);
    }

    #[inline]
    pub fn tuple(out: &mut Vec<u8>, count: usize) {
        out.push(tag::TUPLE);
        put_u64(out, count as u64);
    }

    /// A dict of `count` items, which follow as key, value, key, ...
    #[inline]
    pub fn dict(out: &mut Vec<u8>, count: usize) {
        out.push(tag::DICT);
        put_u64(out, count as u64);
    }

    /// An object shown as `<CLASS object at 0xADDRESS>`: `class` names
    /// its class as `object.__repr__` does.
    #[inline]
    pub fn object(out: &mut Vec<u8>, class: u32, address: u64) {
        out.push(tag::OBJECT);
        put_u64(out, class.into());
        put_u64(out, address);
    }
}

/// Hashes names: a multiply-rotate over 8-byte words, much faster than the
/// default hasher on the short keys a tracer looks up at every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NameHasher(u64);

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let (words, rest) = bytes.as_chunks::<8>();
        for word in words {
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(*word)).wrapping_mul(K);
        }
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0.rotate_left(23) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
