//! Reading packed events: checking a body once, then walking its events
//! with each value left where it is, as an offset to format on demand.

use super::{READ_DEPTH, event, tag};
use crate::FormatError;
use crate::encoding::{Cursor, put_u64};
use crate::model::ExceptionStage;

/// An event with its values left in place: a value is its offset, to give
/// to [`value_text`](super::value_text). Names are the thread's name ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedEvent {
    Call {
        function: u32,
        file: u32,
        line: u32,
    },
    Line {
        line: u32,
    },
    Return {
        value: u64,
    },
    Exception {
        stage: ExceptionStage,
        type_name: u32,
        message: u64,
    },
}

/// The head of a body: the names it defines.
#[derive(Debug)]
pub(crate) struct Body<'a> {
    pub(crate) names_first: u32,
    pub(crate) names: Vec<&'a str>,
}

/// Reads a body's names; `cur` is left at its first event.
pub(crate) fn parse_body<'a>(cur: &mut Cursor<'a>) -> Result<Body<'a>, FormatError> {
    let names_first = cur.u32()?;
    let count = cur.count()?;
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        let at = cur.offset();
        let text = std::str::from_utf8(cur.bytes()?).map_err(|_| FormatError::Corrupt {
            offset: at,
            what: "name is not UTF-8".into(),
        })?;
        names.push(text);
    }
    if u64::from(names_first) + names.len() as u64 > u64::from(u32::MAX) {
        return Err(cur.error("too many names"));
    }
    Ok(Body { names_first, names })
}

/// A body's parts: the id of the first name it defines, the names, and
/// its events' bytes.
pub fn split_body(body: &[u8]) -> Result<(u32, Vec<&str>, &[u8]), FormatError> {
    let mut cur = Cursor::new(body, 0);
    let head = parse_body(&mut cur)?;
    Ok((head.names_first, head.names, cur.rest()))
}

/// Decodes events one by one, checking each whole (every name defined,
/// every value well-formed) and allocating nothing.
#[derive(Debug)]
pub struct PackedEvents<'b> {
    cur: Cursor<'b>,
    left: u64,
    /// Names ids below this are defined.
    names: u32,
}

impl<'b> PackedEvents<'b> {
    /// The `count` events in `bytes`, whose first byte is at `offset` (the
    /// offsets reported are counted from there); names below `names` are
    /// defined.
    pub fn new(bytes: &'b [u8], offset: u64, count: u64, names: u32) -> PackedEvents<'b> {
        PackedEvents {
            cur: Cursor::new(bytes, offset),
            left: count,
            names,
        }
    }

    #[cfg(test)]
    pub(crate) fn from_cursor(cur: Cursor<'b>, count: u64, names: u32) -> PackedEvents<'b> {
        PackedEvents {
            cur,
            left: count,
            names,
        }
    }

    /// The offset the next event starts at.
    pub fn offset(&self) -> u64 {
        self.cur.offset()
    }

    /// Where the events stopped: just past the last one read.
    #[cfg(test)]
    pub(crate) fn cursor(&self) -> &Cursor<'b> {
        &self.cur
    }

    /// The next event and its offset; its pairs (name, value offset) are
    /// appended to `pairs`. After an error, nothing more.
    #[allow(clippy::should_implement_trait)]
    pub fn next(
        &mut self,
        pairs: &mut Vec<(u32, u64)>,
    ) -> Option<Result<(u64, PackedEvent), FormatError>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let offset = self.cur.offset();
        let event = decode_event(&mut self.cur, self.names, pairs);
        if event.is_err() {
            self.left = 0;
        }
        Some(event.map(|event| (offset, event)))
    }
}

fn name(cur: &mut Cursor<'_>, names: u32) -> Result<u32, FormatError> {
    let at = cur.offset();
    let id = cur.u64()?;
    if id >= u64::from(names) {
        return Err(FormatError::Corrupt {
            offset: at,
            what: format!("name {id} used before it was defined"),
        });
    }
    Ok(id as u32)
}

fn stage(cur: &mut Cursor<'_>) -> Result<ExceptionStage, FormatError> {
    match cur.u8()? {
        0 => Ok(ExceptionStage::Raised),
        1 => Ok(ExceptionStage::Caught),
        2 => Ok(ExceptionStage::Unhandled),
        other => Err(cur.error(format!("unknown exception stage {other}"))),
    }
}

fn decode_event(
    cur: &mut Cursor<'_>,
    names: u32,
    pairs: &mut Vec<(u32, u64)>,
) -> Result<PackedEvent, FormatError> {
    let mut read_pairs = |cur: &mut Cursor<'_>| -> Result<(), FormatError> {
        loop {
            let at = cur.offset();
            let id = cur.u64()?;
            if id == 0 {
                return Ok(());
            }
            if id > u64::from(names) {
                return Err(FormatError::Corrupt {
                    offset: at,
                    what: format!("name {} used before it was defined", id - 1),
                });
            }
            let value = cur.offset();
            skip_value(cur, names, 0)?;
            pairs.push(((id - 1) as u32, value));
        }
    };
    Ok(match cur.u8()? {
        event::CALL => {
            let function = name(cur, names)?;
            let file = name(cur, names)?;
            let line = cur.u32()?;
            read_pairs(cur)?;
            PackedEvent::Call {
                function,
                file,
                line,
            }
        }
        event::LINE => {
            let line = cur.u32()?;
            read_pairs(cur)?;
            PackedEvent::Line { line }
        }
        event::RETURN => {
            let value = cur.offset();
            skip_value(cur, names, 0)?;
            PackedEvent::Return { value }
        }
        event::EXCEPTION => {
            let stage = stage(cur)?;
            let type_name = name(cur, names)?;
            let message = cur.offset();
            skip_value(cur, names, 0)?;
            PackedEvent::Exception {
                stage,
                type_name,
                message,
            }
        }
        other => return Err(cur.error(format!("unknown event tag {other}"))),
    })
}

/// Checks one value and steps over it.
pub(crate) fn skip_value(
    cur: &mut Cursor<'_>,
    names: u32,
    depth: usize,
) -> Result<(), FormatError> {
    if depth > READ_DEPTH {
        return Err(cur.error("values nested too deep"));
    }
    match cur.u8()? {
        tag::TEXT => {
            let at = cur.offset();
            std::str::from_utf8(cur.bytes()?).map_err(|_| FormatError::Corrupt {
                offset: at,
                what: "text is not UTF-8".into(),
            })?;
        }
        tag::NONE | tag::TRUE | tag::FALSE => {}
        tag::INT => {
            cur.i64()?;
        }
        tag::FLOAT => {
            cur.take(8)?;
        }
        tag::STR | tag::STR_DOUBLE => {
            let at = cur.offset();
            if !cur.bytes()?.is_ascii() {
                return Err(FormatError::Corrupt {
                    offset: at,
                    what: "str value is not ASCII".into(),
                });
            }
        }
        tag::LIST | tag::TUPLE => {
            for _ in 0..cur.count()? {
                skip_value(cur, names, depth + 1)?;
            }
        }
        tag::DICT => {
            for _ in 0..cur.count()? {
                skip_value(cur, names, depth + 1)?;
                skip_value(cur, names, depth + 1)?;
            }
        }
        tag::OBJECT => {
            name(cur, names)?;
            cur.u64()?;
        }
        other => return Err(cur.error(format!("unknown value tag {other}"))),
    }
    Ok(())
}

/// Where event `skip` starts in `events` (`count` events, names below
/// `names` defined): for keeping the tail of a batch.
pub fn skip_events(events: &[u8], skip: u64, names: u32) -> Result<usize, FormatError> {
    let mut walk = PackedEvents::new(events, 0, skip, names);
    let mut pairs = Vec::new();
    while let Some(event) = walk.next(&mut pairs) {
        event?;
        pairs.clear();
    }
    Ok(walk.offset() as usize)
}

/// `count` events checked and copied with every name id `n` replaced by
/// `map[n]` (`map` covers every id they may use).
pub fn remap_names(events: &[u8], count: u64, map: &[u32]) -> Result<Vec<u8>, FormatError> {
    let names = u32::try_from(map.len()).unwrap_or(u32::MAX);
    let mut cur = Cursor::new(events, 0);
    let mut out = Vec::with_capacity(events.len() + events.len() / 8);
    let id = |cur: &mut Cursor<'_>, out: &mut Vec<u8>| -> Result<(), FormatError> {
        let n = name(cur, names)?;
        put_u64(out, map[n as usize].into());
        Ok(())
    };
    for _ in 0..count {
        let tag_at = cur.offset() as usize;
        let kind = cur.u8()?;
        out.push(kind);
        let copy_value = |cur: &mut Cursor<'_>, out: &mut Vec<u8>| copy_value(cur, out, map, 0);
        match kind {
            event::CALL => {
                id(&mut cur, &mut out)?;
                id(&mut cur, &mut out)?;
                put_u64(&mut out, cur.u32()?.into());
            }
            event::LINE => put_u64(&mut out, cur.u32()?.into()),
            event::RETURN => {
                copy_value(&mut cur, &mut out)?;
                continue;
            }
            event::EXCEPTION => {
                out.push(cur.u8()?);
                id(&mut cur, &mut out)?;
                copy_value(&mut cur, &mut out)?;
                continue;
            }
            other => {
                return Err(FormatError::Corrupt {
                    offset: tag_at as u64,
                    what: format!("unknown event tag {other}"),
                });
            }
        }
        loop {
            let at = cur.offset();
            let pair = cur.u64()?;
            if pair == 0 {
                out.push(0);
                break;
            }
            if pair > u64::from(names) {
                return Err(FormatError::Corrupt {
                    offset: at,
                    what: format!("name {} used before it was defined", pair - 1),
                });
            }
            put_u64(&mut out, u64::from(map[(pair - 1) as usize]) + 1);
            copy_value(&mut cur, &mut out)?;
        }
    }
    if !cur.is_empty() {
        return Err(cur.error("bytes after the last event"));
    }
    Ok(out)
}

fn copy_value(
    cur: &mut Cursor<'_>,
    out: &mut Vec<u8>,
    map: &[u32],
    depth: usize,
) -> Result<(), FormatError> {
    let names = u32::try_from(map.len()).unwrap_or(u32::MAX);
    let start = cur.offset();
    let Some(&kind) = cur.rest().first() else {
        return Err(cur.error("unexpected end of chunk"));
    };
    match kind {
        tag::OBJECT => {
            cur.u8()?;
            out.push(kind);
            let n = name(cur, names)?;
            put_u64(out, map[n as usize].into());
            put_u64(out, cur.u64()?);
        }
        tag::LIST | tag::TUPLE | tag::DICT => {
            if depth > READ_DEPTH {
                return Err(cur.error("values nested too deep"));
            }
            cur.u8()?;
            out.push(kind);
            let count = cur.count()?;
            put_u64(out, count as u64);
            let items = if kind == tag::DICT { count * 2 } else { count };
            for _ in 0..items {
                copy_value(cur, out, map, depth + 1)?;
            }
        }
        _ => {
            let before = cur.rest();
            skip_value(cur, names, depth)?;
            let used = (cur.offset() - start) as usize;
            out.extend_from_slice(&before[..used]);
        }
    }
    Ok(())
}
