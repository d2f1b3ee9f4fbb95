//! Packed events: line-level events as compact binary records, with each
//! value kept as what it is — an int, a float, a short string, a list of
//! them, an object's class and address — rather than as its text.
//!
//! A tracer writes them in its hot path with [`Batch`]: no string is built
//! for a number, and a name (a local's, a function's, a file's) is written
//! once per thread and then referred to by number. The host keeps and writes
//! the bytes as they came (in `packed events` chunks, compressed), and a
//! reader makes a value's text only to show it ([`value_text`]): exactly the
//! safe string form the tracer would have produced, capped as
//! `revdebug._saferepr` caps it.
//!
//! The body of a batch (`docs/recording-format.md` is normative):
//!
//! ```text
//! body   := names_first:varint count:varint text* event*
//! event  := 0 call     function:name file:name line:varint pairs
//!         | 1 line     line:varint pairs
//!         | 2 return   value
//!         | 3 exception stage:u8 type:name message:value
//! pairs  := (name+1:varint value)* 0
//! ```
//!
//! Names are numbered per thread in order of definition; a body defines the
//! names `names_first..` its events are the first to use. Values are a tag
//! byte and fields ([`tag`]).

mod names;
mod read;
mod text;
mod write;

pub use names::NameTable;
pub use read::{PackedEvent, PackedEvents, remap_names, skip_events, split_body};
pub use text::{
    Item, float_repr, same_text, same_without_text, shown_whole, value_items, value_text,
};
pub use write::{Batch, NameHasher, Packed, values};

pub(crate) use read::{Body, parse_body};

/// The longest safe string form of a value, in characters
/// (`revdebug._MAX_LEN`): a longer one is cut to `MAX_LEN - 3` and `...`.
pub const MAX_LEN: usize = 256;
/// Items a container's text shows before `...` (`revdebug._MAX_ITEMS`).
pub const MAX_ITEMS: usize = 32;
/// Items a container's value keeps: one more than it shows, which is how
/// its text knows to end in `...`.
pub const KEEP_ITEMS: usize = MAX_ITEMS + 1;
/// Nesting of containers shown before `[...]` (`revdebug._MAX_DEPTH`).
pub const MAX_DEPTH: usize = 3;
/// Characters a text value keeps: one past [`MAX_LEN`], so that a cut
/// text is still known to be too long, wherever it is shown.
pub const KEEP_TEXT: usize = MAX_LEN + 1;
/// Bytes an ASCII string value keeps: its text (quotes and escapes
/// added) is then past [`MAX_LEN`] whenever the whole string's is.
pub const KEEP_STR: usize = MAX_LEN;

/// Event tags.
pub mod event {
    pub const CALL: u8 = 0;
    pub const LINE: u8 = 1;
    pub const RETURN: u8 = 2;
    pub const EXCEPTION: u8 = 3;
}

/// Value tags.
pub mod tag {
    /// `text`: a value's safe string form, as text (at most
    /// [`KEEP_TEXT`](super::KEEP_TEXT) characters).
    pub const TEXT: u8 = 0;
    pub const NONE: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const FALSE: u8 = 3;
    /// `zigzag`: an int that fits 64 bits.
    pub const INT: u8 = 4;
    /// 8 bytes, the float's bits little-endian (NaNs canonical).
    pub const FLOAT: u8 = 5;
    /// `bytes`: an ASCII str whose repr uses single quotes (at most
    /// [`KEEP_STR`](super::KEEP_STR) bytes of it).
    pub const STR: u8 = 6;
    /// The same, for a str whose repr uses double quotes.
    pub const STR_DOUBLE: u8 = 7;
    /// `count:varint value*`: a list's first items (at most
    /// [`KEEP_ITEMS`](super::KEEP_ITEMS)).
    pub const LIST: u8 = 8;
    pub const TUPLE: u8 = 9;
    /// `count:varint (value value)*`: a dict's first items.
    pub const DICT: u8 = 10;
    /// `class:name address:varint`: an object with `object.__repr__`.
    pub const OBJECT: u8 = 11;
}

/// The deepest nesting a reader accepts: a writer nests at most
/// [`MAX_DEPTH`] containers.
pub(crate) const READ_DEPTH: usize = 16;

#[cfg(test)]
mod tests;
