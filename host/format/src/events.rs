//! `packed events` chunks: a batch of one thread's packed events
//! ([`crate::packed`]) with the names they are the first to use,
//! compressed.
//!
//! ```text
//! payload := thread:varint first_index:varint count:varint codec:u8 data
//! codec   := 0 (data is the body) | 1 (data is raw_len:varint, then the
//!            body compressed with zstd)
//! body    := names_first:varint names:count:varint text* event*
//! ```
//!
//! Names are numbered per thread in the file: a chunk's `names_first` is
//! how many names earlier chunks of its thread defined.

use std::collections::BTreeMap;

use crate::FormatError;
use crate::encoding::{Cursor, put_bytes, put_u64};
use crate::model::{Event, ThreadId};
use crate::packed::{Batch, NameTable, remap_names};

/// The largest body a chunk may hold once decompressed: a reader takes a
/// larger announced size for corruption (or a decompression bomb).
pub const MAX_BODY: usize = 64 << 20;

/// Bodies at least this long are compressed.
const COMPRESS_FROM: usize = 256;

/// A writer's names, per thread: the file's own numbering, and how the
/// names of each caller's table map to it.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileNames {
    threads: BTreeMap<ThreadId, ThreadNames>,
}

#[derive(Debug, Clone, Default)]
struct ThreadNames {
    /// The file's names.
    names: NameTable,
    /// How many of `names` chunks written so far defined.
    written: usize,
    /// The file id of each name of the caller's table, as far as it was
    /// seen.
    caller: Vec<u32>,
    /// For events given as text ([`FileNames::pack`]), and the file id of
    /// each of its names.
    batch: Option<Batch>,
    batch_ids: Vec<u32>,
}

impl ThreadNames {
    /// The body for events whose names are `names`, which `map` maps to
    /// the file's as far as it was seen.
    fn body(
        &mut self,
        map: &mut Vec<u32>,
        names: &[impl AsRef<str>],
        count: u64,
        events: &[u8],
    ) -> Result<Vec<u8>, FormatError> {
        for text in names.iter().skip(map.len()) {
            let id = self.names.id(text.as_ref());
            map.push(id);
        }
        let identity = map.iter().enumerate().all(|(at, id)| *id as usize == at);
        let remapped;
        let events = match identity {
            true => events,
            false => {
                remapped = remap_names(events, count, map)?;
                &remapped
            }
        };
        let mut body = self.head();
        body.extend_from_slice(events);
        Ok(body)
    }

    /// The names defined since the last chunk, as a body's head, and
    /// notes them written.
    fn head(&mut self) -> Vec<u8> {
        let mut head = Vec::new();
        put_u64(&mut head, self.written as u64);
        put_u64(&mut head, (self.names.len() - self.written) as u64);
        for text in &self.names.texts()[self.written..] {
            put_bytes(&mut head, text.as_bytes());
        }
        self.written = self.names.len();
        head
    }
}

impl FileNames {
    /// A chunk's body for `count` packed `events` whose name ids are those
    /// of the caller's table `names` (the thread's, which only grows).
    pub(crate) fn body(
        &mut self,
        thread: ThreadId,
        names: &[impl AsRef<str>],
        count: u64,
        events: &[u8],
    ) -> Result<Vec<u8>, FormatError> {
        let file = self.threads.entry(thread).or_default();
        let mut map = std::mem::take(&mut file.caller);
        let body = file.body(&mut map, names, count, events);
        file.caller = map;
        body
    }
    /// Events given as text, packed with the file's own names: the chunk's
    /// body.
    pub(crate) fn pack(&mut self, thread: ThreadId, events: &[Event]) -> Vec<u8> {
        let file = self.threads.entry(thread).or_default();
        let mut batch = file.batch.take().unwrap_or_default();
        for event in events {
            batch.text_event(event);
        }
        // The batch's names are its own table, mapped to the file's.
        let packed = batch.take();
        let (count, events) = match &packed {
            Some(packed) => {
                let mut cur = Cursor::new(&packed.body, 0);
                let at = crate::packed::parse_body(&mut cur)
                    .map_or(packed.body.len(), |_| cur.offset() as usize);
                (packed.count.into(), &packed.body[at..])
            }
            None => (0, &[][..]),
        };
        let mut map = std::mem::take(&mut file.batch_ids);
        // The batch's own bytes re-map without fail.
        let body = file
            .body(&mut map, batch.name_texts(), count, events)
            .unwrap_or_default();
        file.batch_ids = map;
        file.batch = Some(batch);
        body
    }
}

/// A chunk's payload: the head, then the body, compressed when that pays.
pub(crate) fn payload(thread: ThreadId, first: u64, count: u64, body: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(body.len() / 3 + 16);
    put_u64(&mut payload, thread.into());
    put_u64(&mut payload, first);
    put_u64(&mut payload, count);
    if body.len() >= COMPRESS_FROM
        && let Some(packed) = compress(body)
        && packed.len() < body.len()
    {
        payload.push(1);
        put_u64(&mut payload, body.len() as u64);
        payload.extend_from_slice(&packed);
        return payload;
    }
    payload.push(0);
    payload.extend_from_slice(body);
    payload
}

/// zstd's level: on the benchmark workloads' events, 6 makes a third to a
/// half smaller files than 3 for text-heavy ones at about the same speed; 9
/// gains little more and costs a quarter more time (docs/benchmarks.md).
#[cfg(feature = "zstd")]
const LEVEL: i32 = 6;

#[cfg(feature = "zstd")]
fn compress(body: &[u8]) -> Option<Vec<u8>> {
    zstd::bulk::compress(body, LEVEL).ok()
}

#[cfg(not(feature = "zstd"))]
fn compress(_body: &[u8]) -> Option<Vec<u8>> {
    None
}

/// A `packed events` chunk, read: its place, and its body.
#[derive(Debug)]
pub(crate) struct ReadChunk {
    pub(crate) thread: ThreadId,
    pub(crate) first: u64,
    pub(crate) count: u64,
    pub(crate) body: Body,
}

/// A body, as it is in the recording or decompressed.
#[derive(Debug)]
pub(crate) enum Body {
    /// Where it is in the recording's bytes.
    Stored(std::ops::Range<usize>),
    Decompressed(Vec<u8>),
}

/// Reads a chunk's head and finds (or decompresses) its body.
pub(crate) fn read_chunk(cur: &mut Cursor<'_>) -> Result<ReadChunk, FormatError> {
    let thread = cur.u32()?;
    let first = cur.u64()?;
    let at = cur.offset();
    let count = cur.u64()?;
    match cur.u8()? {
        0 => {
            let start = cur.offset() as usize;
            let len = cur.remaining();
            cur.take(len)?;
            // Each event takes at least two bytes.
            if count > len as u64 {
                return Err(FormatError::Corrupt {
                    offset: at,
                    what: format!("{count} events in {len} bytes"),
                });
            }
            Ok(ReadChunk {
                thread,
                first,
                count,
                body: Body::Stored(start..start + len),
            })
        }
        1 => {
            let size_at = cur.offset();
            let size = cur.u64()?;
            if size > MAX_BODY as u64 || count > size {
                return Err(FormatError::Corrupt {
                    offset: size_at,
                    what: format!("a body of {size} bytes for {count} events"),
                });
            }
            let data_at = cur.offset();
            let data = cur.take(cur.remaining())?;
            let body = decompress(data, size as usize).ok_or(FormatError::Corrupt {
                offset: data_at,
                what: "compressed events do not decompress".into(),
            })?;
            Ok(ReadChunk {
                thread,
                first,
                count,
                body: Body::Decompressed(body),
            })
        }
        other => Err(cur.error(format!("unknown events codec {other}"))),
    }
}

#[cfg(feature = "zstd")]
fn decompress(data: &[u8], size: usize) -> Option<Vec<u8>> {
    let body = zstd::bulk::decompress(data, size).ok()?;
    (body.len() == size).then_some(body)
}

#[cfg(not(feature = "zstd"))]
fn decompress(_data: &[u8], _size: usize) -> Option<Vec<u8>> {
    None
}

/// A reader's names, per thread.
#[derive(Debug, Default)]
pub(crate) struct ReadNames {
    pub(crate) threads: BTreeMap<ThreadId, Vec<String>>,
}

impl ReadNames {
    /// Takes in the names a body defines; returns how many names its
    /// thread has.
    pub(crate) fn define(
        &mut self,
        thread: ThreadId,
        at: u64,
        head: &crate::packed::Body<'_>,
    ) -> Result<u32, FormatError> {
        let names = self.threads.entry(thread).or_default();
        let first = head.names_first as usize;
        if first > names.len() {
            return Err(FormatError::Corrupt {
                offset: at,
                what: format!(
                    "thread {thread}'s names resume at {first}, expected {}",
                    names.len()
                ),
            });
        }
        for (n, text) in head.names.iter().enumerate() {
            match names.get(first + n) {
                Some(known) if known == text => {}
                Some(_) => {
                    return Err(FormatError::Corrupt {
                        offset: at,
                        what: format!("name {} of thread {thread} defined twice", first + n),
                    });
                }
                None => names.push((*text).to_owned()),
            }
        }
        Ok(names.len() as u32)
    }
}
