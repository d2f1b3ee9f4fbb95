//! The writer and the reader, side by side so that they stay in step.
//! `docs/recording-format.md` is the normative description of these bytes.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::ops::Range;

use crate::encoding::{Cursor, put_bytes, put_i64, put_u64};
use crate::events::{Body, FileNames, ReadNames, payload, read_chunk};
use crate::lazy::LazyEvents;
use crate::model::*;
use crate::packed::{PackedEvent, PackedEvents, parse_body, value_text};
use crate::{FormatError, MAGIC, VERSION};

/// Chunk kinds. Kinds from 0x80 up may be skipped by a reader that does not
/// know them; an unknown kind below 0x80 is an error.
pub(crate) mod kind {
    pub const HEADER: u8 = 0x01;
    pub const STRINGS: u8 = 0x02;
    pub const SOURCE: u8 = 0x03;
    pub const INPUTS: u8 = 0x04;
    pub const MARKERS: u8 = 0x05;
    pub const CRASH: u8 = 0x06;
    pub const EVENTS: u8 = 0x07;
    pub const MATERIALIZED: u8 = 0x08;
    pub const PACKED_EVENTS: u8 = 0x09;
    pub const END: u8 = 0x7f;
    pub const FIRST_SKIPPABLE: u8 = 0x80;
    /// How long the run had taken when the recording was written: an
    /// extension, skipped by readers that predate it.
    pub const ELAPSED: u8 = 0x80;
    /// The frames a thread's events start inside: an extension, skipped
    /// by readers that predate it.
    pub const ENTERED: u8 = 0x81;
}

/// The largest payload a chunk may have: a writer splits its batches well
/// below this, and a reader takes a larger length for corruption.
pub const MAX_CHUNK: u32 = 64 << 20;

/// Bytes before the first chunk: magic and version.
pub(crate) const PREAMBLE: usize = MAGIC.len() + 2;

/// What a reader decodes a recording into, at most, in bytes: every
/// string it makes of an interned one, every name and value of an event,
/// every input, marker, frame and event at its size in memory, the data of
/// inputs, the sources, and the decompressed bodies of events. A string is
/// written once and referred to by number, and events are compressed, so a
/// small file can describe an enormous recording; past this the reading
/// ends with a cut at the chunk. [`Recording::read_within`] takes another
/// limit.
pub const MAX_DECODED: u64 = 4 << 30;

/// Chunk framing: kind, payload length, and after the payload a CRC-32.
const CHUNK_HEAD: usize = 1 + 4;
const CHUNK_TAIL: usize = 4;

/// Writes a recording as a sequence of self-checking chunks. Every method
/// appends whole chunks, so whatever has been written so far is a valid
/// recording up to its last chunk: a stream and a file are the same bytes.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    /// Interned strings and their ids, in order of first use.
    strings: HashMap<String, u64>,
    /// The bytes of those strings.
    interned: u64,
    /// Each thread's names in packed events.
    names: FileNames,
    /// Bytes written so far.
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Starts a recording: the preamble and the header chunk.
    pub fn new(mut out: W, header: &Header) -> io::Result<Writer<W>> {
        out.write_all(&MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        let mut writer = Writer {
            out,
            strings: HashMap::new(),
            interned: 0,
            names: FileNames::default(),
            written: PREAMBLE as u64,
        };
        let mut payload = Vec::new();
        payload.extend_from_slice(&header.recording_id);
        put_u64(&mut payload, header.created_unix_ms);
        put_bytes(&mut payload, header.guest_name.as_bytes());
        put_bytes(&mut payload, header.guest_digest.as_bytes());
        payload.push(mode_code(header.mode));
        put_u64(&mut payload, header.settings.len() as u64);
        for (key, value) in &header.settings {
            put_bytes(&mut payload, key.as_bytes());
            put_bytes(&mut payload, value.as_bytes());
        }
        writer.chunk(kind::HEADER, &payload)?;
        Ok(writer)
    }

    /// Bytes written so far, preamble included.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes of the strings the writer keeps to intern them (each was
    /// written once, and is kept to be referred to again): with
    /// [`Writer::written`], what a writer into memory costs.
    pub fn interned_bytes(&self) -> u64 {
        self.interned
    }

    /// What the recording is being written to.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// A writer that goes on from where this one is, into `out`, which must
    /// already hold every byte this one wrote: a copy of the recording so far
    /// (a snapshot), or a stream that has been sent it (going live). The two
    /// writers then continue independently.
    pub fn fork<O: Write>(&self, out: O) -> Writer<O> {
        Writer {
            out,
            strings: self.strings.clone(),
            interned: self.interned,
            names: self.names.clone(),
            written: self.written,
        }
    }

    /// The text of a source file the guest ran.
    pub fn source(&mut self, source: &Source) -> io::Result<()> {
        let mut enc = self.encoder();
        enc.string(&source.path);
        put_bytes(&mut enc.out, source.text.as_bytes());
        let (fresh, out) = enc.finish();
        self.emit(kind::SOURCE, fresh, out)
    }

    /// Inputs `first_seq..` of `thread`.
    pub fn inputs(&mut self, thread: ThreadId, first_seq: u64, inputs: &[Input]) -> io::Result<()> {
        let mut enc = self.encoder();
        put_u64(&mut enc.out, thread.into());
        put_u64(&mut enc.out, first_seq);
        put_u64(&mut enc.out, inputs.len() as u64);
        for input in inputs {
            enc.input(input);
        }
        let (fresh, out) = enc.finish();
        self.emit(kind::INPUTS, fresh, out)
    }

    /// Markers of `thread`.
    pub fn markers(&mut self, thread: ThreadId, markers: &[Marker]) -> io::Result<()> {
        let mut enc = self.encoder();
        put_u64(&mut enc.out, thread.into());
        put_u64(&mut enc.out, markers.len() as u64);
        for marker in markers {
            enc.marker(marker);
        }
        let (fresh, out) = enc.finish();
        self.emit(kind::MARKERS, fresh, out)
    }

    /// A crash capture.
    pub fn crash(&mut self, crash: &Crash) -> io::Result<()> {
        let mut enc = self.encoder();
        enc.crash(crash);
        let (fresh, out) = enc.finish();
        self.emit(kind::CRASH, fresh, out)
    }

    /// Events `first_index..` of `thread`, given as text: they are packed
    /// with each value as its text.
    pub fn events(
        &mut self,
        thread: ThreadId,
        first_index: u64,
        events: &[Event],
    ) -> io::Result<()> {
        const PART: usize = 4096;
        for (n, part) in events.chunks(PART).enumerate() {
            let body = self.names.pack(thread, part);
            let first = first_index + (n * PART) as u64;
            self.chunk(
                kind::PACKED_EVENTS,
                &payload(thread, first, part.len() as u64, &body),
            )?;
        }
        Ok(())
    }

    /// `count` packed events (the events of a [`crate::packed`] body),
    /// `first_index..` of `thread`, whose name ids number the caller's
    /// table `names` of the thread (which only grows from call to call).
    pub fn packed_events(
        &mut self,
        thread: ThreadId,
        first_index: u64,
        count: u64,
        names: &[impl AsRef<str>],
        events: &[u8],
    ) -> io::Result<()> {
        let body = self
            .names
            .body(thread, names, count, events)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        self.chunk(
            kind::PACKED_EVENTS,
            &payload(thread, first_index, count, &body),
        )
    }

    /// What a re-execution materialized (in a file of materialized events).
    pub fn materialized(&mut self, materialized: &Materialized) -> io::Result<()> {
        let mut payload = Vec::new();
        put_u64(&mut payload, materialized.recording_len);
        payload.extend_from_slice(&materialized.recording_crc.to_le_bytes());
        put_u64(&mut payload, materialized.buffer_events);
        payload.push(materialized.full.into());
        put_bytes(&mut payload, materialized.outcome.as_bytes());
        put_u64(&mut payload, materialized.windows.len() as u64);
        for window in &materialized.windows {
            put_u64(&mut payload, window.thread.into());
            put_u64(&mut payload, window.at_thread.into());
            put_u64(&mut payload, window.marker);
            put_u64(&mut payload, window.first);
            put_u64(&mut payload, window.end);
        }
        put_u64(&mut payload, materialized.traced_from);
        self.chunk(kind::MATERIALIZED, &payload)
    }

    /// The frames running when `entered.thread`'s events from
    /// `entered.first` on begin (a window cut from a longer run): their
    /// calls are not among the events.
    pub fn entered(&mut self, entered: &Entered) -> io::Result<()> {
        let mut payload = Vec::new();
        put_u64(&mut payload, entered.thread.into());
        put_u64(&mut payload, entered.first);
        put_u64(&mut payload, entered.frames.len() as u64);
        for frame in &entered.frames {
            put_bytes(&mut payload, frame.function.as_bytes());
            put_bytes(&mut payload, frame.file.as_bytes());
            put_u64(&mut payload, frame.line.into());
        }
        self.chunk(kind::ENTERED, &payload)
    }

    /// How long the run had taken when this was written, in milliseconds:
    /// a re-execution bounds its own time by it.
    pub fn elapsed(&mut self, elapsed_ms: u64) -> io::Result<()> {
        let mut payload = Vec::new();
        put_u64(&mut payload, elapsed_ms);
        self.chunk(kind::ELAPSED, &payload)
    }

    /// Closes the recording: a reader then knows nothing was cut.
    pub fn end(mut self, end: &End) -> io::Result<W> {
        let mut payload = Vec::new();
        match end.exit_code {
            Some(code) => {
                payload.push(1);
                put_i64(&mut payload, code.into());
            }
            None => payload.push(0),
        }
        self.chunk(kind::END, &payload)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn encoder(&self) -> Encoder<'_> {
        Encoder {
            known: &self.strings,
            fresh: Vec::new(),
            fresh_ids: HashMap::new(),
            out: Vec::new(),
        }
    }

    /// Writes the strings a payload introduced, then the payload: a reader
    /// always meets a string before its first use.
    fn emit(&mut self, kind: u8, fresh: Vec<String>, out: Vec<u8>) -> io::Result<()> {
        if !fresh.is_empty() {
            let mut strings = Vec::new();
            put_u64(&mut strings, self.strings.len() as u64);
            put_u64(&mut strings, fresh.len() as u64);
            for string in &fresh {
                put_bytes(&mut strings, string.as_bytes());
            }
            self.chunk(kind::STRINGS, &strings)?;
            for string in fresh {
                self.interned += string.len() as u64;
                let id = self.strings.len() as u64;
                self.strings.insert(string, id);
            }
        }
        self.chunk(kind, &out)
    }

    fn chunk(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|len| *len <= MAX_CHUNK)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "chunk larger than 64 MiB: write smaller batches",
                )
            })?;
        let mut head = [0u8; CHUNK_HEAD];
        head[0] = kind;
        head[1..].copy_from_slice(&len.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(payload);
        // One write per chunk: a stream cut by a killed writer ends at a
        // chunk boundary more often than not.
        let mut chunk = Vec::with_capacity(CHUNK_HEAD + payload.len() + CHUNK_TAIL);
        chunk.extend_from_slice(&head);
        chunk.extend_from_slice(payload);
        chunk.extend_from_slice(&crc.finalize().to_le_bytes());
        self.out.write_all(&chunk)?;
        self.written += (CHUNK_HEAD + payload.len() + CHUNK_TAIL) as u64;
        Ok(())
    }
}

/// Encodes one payload, interning strings: those already written get their
/// id, new ones get the next ids and are written just before the payload.
struct Encoder<'a> {
    known: &'a HashMap<String, u64>,
    fresh: Vec<String>,
    fresh_ids: HashMap<String, u64>,
    out: Vec<u8>,
}

impl Encoder<'_> {
    fn finish(self) -> (Vec<String>, Vec<u8>) {
        (self.fresh, self.out)
    }

    fn string(&mut self, string: &str) {
        let id = match self
            .known
            .get(string)
            .or_else(|| self.fresh_ids.get(string))
        {
            Some(id) => *id,
            None => {
                let id = (self.known.len() + self.fresh.len()) as u64;
                self.fresh.push(string.to_owned());
                self.fresh_ids.insert(string.to_owned(), id);
                id
            }
        };
        put_u64(&mut self.out, id);
    }

    fn pairs(&mut self, pairs: &[(String, String)]) {
        put_u64(&mut self.out, pairs.len() as u64);
        for (name, value) in pairs {
            self.string(name);
            self.string(value);
        }
    }

    fn input(&mut self, input: &Input) {
        match input {
            Input::Args { args } => {
                self.out.push(0);
                put_u64(&mut self.out, args.len() as u64);
                for arg in args {
                    self.string(arg);
                }
            }
            Input::Env { vars } => {
                self.out.push(1);
                self.pairs(vars);
            }
            Input::Cwd { path } => {
                self.out.push(2);
                self.string(path);
            }
            Input::Stdin { data } => {
                self.out.push(3);
                put_bytes(&mut self.out, &data.0);
            }
            Input::WallClock { secs, nanos } => {
                self.out.push(4);
                put_u64(&mut self.out, *secs);
                put_u64(&mut self.out, (*nanos).into());
            }
            Input::MonotonicClock { nanos } => {
                self.out.push(5);
                put_u64(&mut self.out, *nanos);
            }
            Input::Random { data } => {
                self.out.push(6);
                put_bytes(&mut self.out, &data.0);
            }
            Input::InsecureRandom { data } => {
                self.out.push(7);
                put_bytes(&mut self.out, &data.0);
            }
            Input::FileRead { path, offset, data } => {
                self.out.push(8);
                self.string(path);
                put_u64(&mut self.out, *offset);
                put_bytes(&mut self.out, &data.0);
            }
            Input::Other { name, data } => {
                self.out.push(9);
                self.string(name);
                put_bytes(&mut self.out, &data.0);
            }
            Input::Fs { op, path, result } => {
                self.out.push(10);
                self.string(op);
                self.string(path);
                put_bytes(&mut self.out, &result.0);
            }
        }
    }

    fn marker(&mut self, marker: &Marker) {
        put_u64(&mut self.out, marker.seq);
        put_u64(&mut self.out, marker.input_pos);
        put_u64(
            &mut self.out,
            marker.position.map_or(0, |at| at.saturating_add(1)),
        );
        match &marker.kind {
            MarkerKind::Snapshot { name, all } => {
                self.out.push(0);
                self.string(name);
                self.out.push((*all).into());
            }
            MarkerKind::Clear { all, flush } => {
                self.out.extend([1, (*all).into(), (*flush).into()]);
            }
            MarkerKind::Block { block, clear } => {
                self.out.push(2);
                put_u64(&mut self.out, *block);
                self.out.push((*clear).into());
            }
            MarkerKind::ModeChange {
                requested,
                effective,
            } => {
                self.out
                    .extend([3, mode_code(*requested), mode_code(*effective)]);
            }
            MarkerKind::Flush => self.out.push(4),
            MarkerKind::Rule { target, record } => {
                self.out.push(5);
                self.string(target);
                self.out.push((*record).into());
            }
            MarkerKind::Crash { crash } => {
                self.out.push(6);
                put_u64(&mut self.out, *crash);
            }
            MarkerKind::Exit { code } => {
                self.out.push(7);
                put_i64(&mut self.out, (*code).into());
            }
        }
    }

    fn crash(&mut self, crash: &Crash) {
        put_u64(&mut self.out, crash.id);
        put_u64(&mut self.out, crash.thread.into());
        match &crash.reason {
            CrashReason::Unhandled => self.out.push(0),
            CrashReason::Reported => self.out.push(1),
            CrashReason::Trap(detail) => {
                self.out.push(2);
                self.string(detail);
            }
            CrashReason::Limit(detail) => {
                self.out.push(3);
                self.string(detail);
            }
        }
        match &crash.exception {
            Some(exception) => {
                self.out.push(1);
                self.string(&exception.type_name);
                self.string(&exception.message);
            }
            None => self.out.push(0),
        }
        put_u64(&mut self.out, crash.frames.len() as u64);
        for frame in &crash.frames {
            self.string(&frame.function);
            self.string(&frame.file);
            put_u64(&mut self.out, frame.line.into());
            self.pairs(&frame.locals);
        }
        put_u64(&mut self.out, crash.notes.len() as u64);
        for note in &crash.notes {
            self.string(note);
        }
    }
}

fn mode_code(mode: Mode) -> u8 {
    match mode {
        Mode::Off => 0,
        Mode::OnEvent => 1,
        Mode::Continuous => 2,
    }
}

/// A recording, decoded as far as it could be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recording {
    pub version: u16,
    pub header: Header,
    pub sources: Vec<Source>,
    pub threads: BTreeMap<ThreadId, Thread>,
    pub crashes: Vec<Crash>,
    /// In a file of materialized events: what they were materialized from.
    pub materialized: Option<Materialized>,
    /// How long the run had taken when the recording was written (its last
    /// `elapsed` chunk), in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// For a thread's events that start inside frames entered before them
    /// (a window), those frames.
    pub entered: Vec<Entered>,
    /// Present when the recording was closed properly.
    pub end: Option<End>,
    /// Present when the bytes stopped making sense before their end: what was
    /// read up to there is kept, the rest is described here.
    pub cut: Option<Cut>,
}

/// One logical thread's log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Thread {
    pub inputs: Vec<Input>,
    pub markers: Vec<Marker>,
    /// Runs of consecutive events; a gap between runs is a deliberate hole
    /// (`clear(flush=False)`) or events never materialized.
    pub events: Vec<EventRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRun {
    /// Index of the first event in the thread's whole event sequence.
    pub first: u64,
    pub events: Vec<Event>,
}

/// Where and why reading stopped early.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cut {
    /// File offset of the first byte not used.
    pub offset: u64,
    /// Whole chunks read before it.
    pub chunks: u64,
    pub reason: String,
}

impl Recording {
    /// Reads a recording. The preamble and header must be whole; after them,
    /// a truncated or corrupt chunk ends the reading and is reported in
    /// [`Recording::cut`], keeping everything before it.
    pub fn read(bytes: &[u8]) -> Result<Recording, FormatError> {
        read_with(bytes, Read::Eager, MAX_DECODED).map(|(recording, _)| recording)
    }

    /// Checks a recording as [`Recording::read`] reads it — every chunk
    /// framed, checksummed and decoded, every string id and count checked —
    /// but keeps only its header, end and cut: a chunk's contents are
    /// dropped once checked, and strings are not made of interned ones, so
    /// checking takes memory for one chunk at a time, whatever the chunks
    /// refer to. A collector checks an upload this way.
    pub fn check(bytes: &[u8]) -> Result<Recording, FormatError> {
        read_with(bytes, Read::Check, MAX_DECODED).map(|(recording, _)| recording)
    }

    /// Reads a recording as [`Recording::read`] does, decoding
    /// `max_decoded` bytes at most instead of [`MAX_DECODED`].
    pub fn read_within(bytes: &[u8], max_decoded: u64) -> Result<Recording, FormatError> {
        read_with(bytes, Read::Eager, max_decoded).map(|(recording, _)| recording)
    }

    /// For a file of materialized events: what it holds, when it was made
    /// from the recording with `header` whose bytes have this length and
    /// CRC-32 (not from another recording, nor an older state of a growing
    /// stream).
    pub fn materialized_from(&self, header: &Header, len: u64, crc: u32) -> Option<&Materialized> {
        let made_from = self.materialized.as_ref()?;
        (self.header.recording_id == header.recording_id
            && made_from.recording_len == len
            && made_from.recording_crc == crc)
            .then_some(made_from)
    }

    /// Reads a recording as [`Recording::read`] does, except its events:
    /// they are checked and left where they are, to be decoded on demand
    /// through the returned [`LazyEvents`] (the threads' `events` stay
    /// empty). A viewer of millions of events indexes them this way without
    /// holding every one decoded.
    pub fn read_lazy(bytes: &[u8]) -> Result<(Recording, LazyEvents), FormatError> {
        read_with(bytes, Read::Lazy, MAX_DECODED)
            .map(|(recording, lazy)| (recording, lazy.unwrap_or_default()))
    }
}

/// Why [`read_file`] read no recording.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a regular file")]
    NotAFile,
    #[error(transparent)]
    Format(#[from] FormatError),
}

/// The bytes of the recording at `path`, for [`Recording::read`]: what is
/// not a regular file (a device, a pipe, a directory) is refused before it
/// is read, and so is a file whose first bytes are not a recording's
/// preamble of a version this build reads, so that neither `/dev/zero` nor
/// a huge file of something else is read into memory.
///
/// The file is read a chunk at a time, up to the first chunk a reader
/// stops at (cut short, too long, or failing its checksum, which is kept
/// for the reader to report) or its end chunk: what follows is never read,
/// so a huge file that starts as a recording costs no more than its whole
/// chunks.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, FileError> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(FileError::NotAFile);
    }
    let mut bytes = Vec::with_capacity(PREAMBLE);
    (&mut file).take(PREAMBLE as u64).read_to_end(&mut bytes)?;
    check_preamble(&bytes)?;
    // Room for the file as it says it is, up to a point: a file may claim
    // far more than it holds.
    let len = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
    bytes.reserve(len.min(64 << 20).saturating_sub(PREAMBLE));
    let mut file = io::BufReader::with_capacity(1 << 20, file);
    loop {
        let at = bytes.len();
        (&mut file)
            .take(CHUNK_HEAD as u64)
            .read_to_end(&mut bytes)?;
        if bytes.len() < at + CHUNK_HEAD {
            break;
        }
        let chunk_kind = bytes[at];
        let len = u32::from_le_bytes([bytes[at + 1], bytes[at + 2], bytes[at + 3], bytes[at + 4]]);
        if len > MAX_CHUNK {
            break;
        }
        let rest = len as u64 + CHUNK_TAIL as u64;
        (&mut file).take(rest).read_to_end(&mut bytes)?;
        if bytes.len() < at + CHUNK_HEAD + rest as usize {
            break;
        }
        let (framed, tail) = bytes[at..].split_at(CHUNK_HEAD + len as usize);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if crc32fast::hash(framed) != stored || chunk_kind == kind::END {
            break;
        }
    }
    Ok(bytes)
}

/// The recording's version, if `bytes` start with a preamble this build
/// reads.
fn check_preamble(bytes: &[u8]) -> Result<u16, FormatError> {
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(FormatError::NotARecording);
    }
    if bytes.len() < PREAMBLE {
        return Err(FormatError::Truncated {
            offset: bytes.len() as u64,
            what: "format version".into(),
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if !(1..=VERSION).contains(&version) {
        return Err(FormatError::Version { found: version });
    }
    Ok(version)
}

/// How a recording is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// Everything decoded.
    Eager,
    /// Events checked and left where they are.
    Lazy,
    /// Everything checked, nothing kept.
    Check,
}

/// Reads `bytes` as `how` says, decoding `limit` bytes at most.
pub(crate) fn read_with(
    bytes: &[u8],
    how: Read,
    limit: u64,
) -> Result<(Recording, Option<LazyEvents>), FormatError> {
    let version = check_preamble(bytes)?;

    let mut chunks = Chunks {
        bytes,
        pos: PREAMBLE,
    };
    let header = match chunks.next() {
        Some(Ok(chunk)) if chunk.kind == kind::HEADER => {
            decode_header(&mut Cursor::new(chunk.payload, chunk.payload_offset))?
        }
        Some(Ok(chunk)) => {
            return Err(FormatError::Corrupt {
                offset: chunk.offset,
                what: format!("first chunk has kind {:#04x}, not a header", chunk.kind),
            });
        }
        Some(Err(err)) => return Err(err),
        None => {
            return Err(FormatError::Truncated {
                offset: bytes.len() as u64,
                what: "header chunk".into(),
            });
        }
    };

    let mut reader = Reader {
        bytes,
        source_index: HashMap::new(),
        strings: Vec::new(),
        names: ReadNames::default(),
        converted: FileNames::default(),
        lazy: (how == Read::Lazy).then(LazyEvents::default),
        keep: how != Read::Check,
        inputs: HashMap::new(),
        decoded: std::cell::Cell::new(0),
        limit,
        recording: Recording {
            version,
            header,
            sources: Vec::new(),
            threads: BTreeMap::new(),
            crashes: Vec::new(),
            materialized: None,
            elapsed_ms: None,
            entered: Vec::new(),
            end: None,
            cut: None,
        },
    };
    let mut whole = 1u64;
    for chunk in chunks {
        let result = chunk.and_then(|chunk| reader.chunk(&chunk).map(|()| chunk.offset));
        match result {
            // Nothing follows the end chunk of a recording.
            Ok(_) if reader.recording.end.is_some() => break,
            Ok(_) => whole += 1,
            Err(err) => {
                reader.recording.cut = Some(Cut {
                    offset: err.offset().unwrap_or(bytes.len() as u64),
                    chunks: whole,
                    reason: err.to_string(),
                });
                break;
            }
        }
    }
    Ok((reader.recording, reader.lazy))
}

pub(crate) struct Chunk<'a> {
    pub(crate) kind: u8,
    pub(crate) offset: u64,
    pub(crate) payload_offset: u64,
    pub(crate) payload: &'a [u8],
}

/// Splits the bytes after the preamble into checked chunks.
pub(crate) struct Chunks<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.bytes[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let offset = self.pos as u64;
        let fail = |err| {
            // Nothing after a bad chunk can be trusted to be framed right.
            Some(Err(err))
        };
        if rest.len() < CHUNK_HEAD {
            self.pos = self.bytes.len();
            return fail(FormatError::Truncated {
                offset,
                what: "chunk header".into(),
            });
        }
        let kind = rest[0];
        let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]);
        if len > MAX_CHUNK {
            self.pos = self.bytes.len();
            return fail(FormatError::Corrupt {
                offset,
                what: format!("chunk length {len} exceeds the 64 MiB limit"),
            });
        }
        let total = CHUNK_HEAD + len as usize + CHUNK_TAIL;
        if rest.len() < total {
            self.pos = self.bytes.len();
            return fail(FormatError::Truncated {
                offset,
                what: format!("chunk of {total} bytes, {} present", rest.len()),
            });
        }
        let payload = &rest[CHUNK_HEAD..CHUNK_HEAD + len as usize];
        let stored = &rest[total - CHUNK_TAIL..total];
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&rest[..CHUNK_HEAD + len as usize]);
        if crc.finalize() != stored {
            self.pos = self.bytes.len();
            return fail(FormatError::Corrupt {
                offset,
                what: "chunk checksum does not match".into(),
            });
        }
        self.pos += total;
        Some(Ok(Chunk {
            kind,
            offset,
            payload_offset: offset + CHUNK_HEAD as u64,
            payload,
        }))
    }
}

pub(crate) fn decode_header(cur: &mut Cursor<'_>) -> Result<Header, FormatError> {
    let id = cur.take(16)?;
    let mut recording_id = [0u8; 16];
    recording_id.copy_from_slice(id);
    let created_unix_ms = cur.u64()?;
    let guest_name = raw_string(cur)?;
    let guest_digest = raw_string(cur)?;
    let mode = decode_mode(cur)?;
    let count = cur.count()?;
    let mut settings = Vec::with_capacity(count);
    for _ in 0..count {
        settings.push((raw_string(cur)?, raw_string(cur)?));
    }
    end_of_chunk(cur)?;
    Ok(Header {
        recording_id,
        created_unix_ms,
        guest_name,
        guest_digest,
        mode,
        settings,
    })
}

fn raw_string(cur: &mut Cursor<'_>) -> Result<String, FormatError> {
    let at = cur.offset();
    let bytes = cur.bytes()?;
    String::from_utf8(bytes.to_vec()).map_err(|_| FormatError::Corrupt {
        offset: at,
        what: "string is not UTF-8".into(),
    })
}

/// A string's place in the bytes, once it is known to be UTF-8.
fn string_span(cur: &mut Cursor<'_>) -> Result<Range<usize>, FormatError> {
    let at = cur.offset();
    let bytes = cur.bytes()?;
    if std::str::from_utf8(bytes).is_err() {
        return Err(FormatError::Corrupt {
            offset: at,
            what: "string is not UTF-8".into(),
        });
    }
    let end = cur.offset() as usize;
    Ok(end - bytes.len()..end)
}

fn decode_mode(cur: &mut Cursor<'_>) -> Result<Mode, FormatError> {
    match cur.u8()? {
        0 => Ok(Mode::Off),
        1 => Ok(Mode::OnEvent),
        2 => Ok(Mode::Continuous),
        other => Err(cur.error(format!("{other} is not a recording mode"))),
    }
}

fn end_of_chunk(cur: &Cursor<'_>) -> Result<(), FormatError> {
    if cur.is_empty() {
        Ok(())
    } else {
        Err(cur.error(format!(
            "{} unexpected bytes at the end of the chunk",
            cur.remaining()
        )))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    /// Where each interned string is in `bytes` (checked to be UTF-8).
    strings: Vec<Range<usize>>,
    /// Each thread's names in packed events.
    names: ReadNames,
    /// Reading lazily, version 1 events are packed as they are read.
    converted: FileNames,
    /// Reading lazily: event chunks are checked and noted here.
    lazy: Option<LazyEvents>,
    /// Whether what the chunks hold is kept ([`Read::Check`] keeps none).
    keep: bool,
    /// Each thread's inputs so far.
    inputs: HashMap<ThreadId, u64>,
    /// Bytes decoded so far, and at most.
    decoded: std::cell::Cell<u64>,
    limit: u64,
    recording: Recording,
    /// Where each source path is in `recording.sources`.
    source_index: HashMap<String, usize>,
}

impl Reader<'_> {
    fn chunk(&mut self, chunk: &Chunk<'_>) -> Result<(), FormatError> {
        let cur = &mut Cursor::new(chunk.payload, chunk.payload_offset);
        match chunk.kind {
            kind::STRINGS => {
                let at = cur.offset();
                let first = cur.u64()?;
                if first != self.strings.len() as u64 {
                    return Err(FormatError::Corrupt {
                        offset: at,
                        what: format!(
                            "strings start at id {first}, expected {}",
                            self.strings.len()
                        ),
                    });
                }
                for _ in 0..cur.count()? {
                    self.strings.push(string_span(cur)?);
                }
            }
            kind::SOURCE => {
                let path = self.string(cur)?;
                let text = raw_string(cur)?;
                self.spend(text.len(), chunk.offset)?;
                if !self.keep {
                    return end_of_chunk(cur);
                }
                // A stream sends a source again when more of it was read:
                // the last one counts.
                let sources = &mut self.recording.sources;
                match self.source_index.get(&path) {
                    Some(&at) => sources[at].text = text,
                    None => {
                        self.source_index.insert(path.clone(), sources.len());
                        sources.push(Source { path, text });
                    }
                }
            }
            kind::INPUTS => {
                let thread = cur.u32()?;
                let at = cur.offset();
                let first = cur.u64()?;
                let count = cur.count()?;
                let logged = self.inputs.get(&thread).copied().unwrap_or(0);
                if first != logged {
                    return Err(FormatError::Corrupt {
                        offset: at,
                        what: format!(
                            "thread {thread}'s inputs resume at {first}, expected {logged}"
                        ),
                    });
                }
                let mut inputs = Vec::with_capacity(count);
                for _ in 0..count {
                    inputs.push(self.input(cur)?);
                }
                self.inputs.insert(thread, logged + count as u64);
                if self.keep {
                    self.thread(thread).inputs.extend(inputs);
                }
            }
            kind::MARKERS => {
                let thread = cur.u32()?;
                let count = cur.count()?;
                let mut markers = Vec::with_capacity(count);
                for _ in 0..count {
                    markers.push(self.marker(cur)?);
                }
                if self.keep {
                    self.thread(thread).markers.extend(markers);
                }
            }
            kind::CRASH => {
                let crash = self.crash(cur)?;
                if self.keep {
                    self.recording.crashes.push(crash);
                }
            }
            kind::EVENTS => {
                let thread = cur.u32()?;
                let first = cur.u64()?;
                let count = cur.count()?;
                let mut events = Vec::with_capacity(count);
                for _ in 0..count {
                    events.push(self.v1_event(cur)?);
                }
                if self.lazy.is_some() {
                    let body = self.converted.pack(thread, &events);
                    self.packed(thread, first, count as u64, &body, chunk.offset)?;
                } else if self.keep {
                    self.push_events(thread, first, events);
                }
            }
            kind::PACKED_EVENTS => {
                let read = read_chunk(cur)?;
                let body = match &read.body {
                    Body::Stored(range) => &self.bytes[range.clone()],
                    Body::Decompressed(body) => {
                        // Kept when reading lazily, and work in any case.
                        self.spend(body.len(), chunk.offset)?;
                        body.as_slice()
                    }
                };
                self.packed(read.thread, read.first, read.count, body, chunk.offset)?;
            }
            kind::MATERIALIZED => {
                let recording_len = cur.u64()?;
                let crc = cur.take(4)?;
                let recording_crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                let buffer_events = cur.u64()?;
                let full = cur.bool()?;
                let outcome = raw_string(cur)?;
                let count = cur.count()?;
                let mut windows = Vec::with_capacity(count);
                for _ in 0..count {
                    windows.push(Window {
                        thread: cur.u32()?,
                        at_thread: cur.u32()?,
                        marker: cur.u64()?,
                        first: cur.u64()?,
                        end: cur.u64()?,
                    });
                }
                let traced_from = match self.recording.version {
                    1 => 0,
                    _ => cur.u64()?,
                };
                self.recording.materialized = Some(Materialized {
                    recording_len,
                    recording_crc,
                    buffer_events,
                    full,
                    traced_from,
                    outcome,
                    windows,
                });
            }
            kind::END => {
                let exit_code = match cur.bool()? {
                    true => Some(cur.i32()?),
                    false => None,
                };
                self.recording.end = Some(End { exit_code });
            }
            kind::ELAPSED => self.recording.elapsed_ms = Some(cur.u64()?),
            kind::ENTERED => {
                let thread = cur.u32()?;
                let first = cur.u64()?;
                let count = cur.count()?;
                let mut frames = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    let function = raw_string(cur)?;
                    let file = raw_string(cur)?;
                    let line = cur.u32()?;
                    self.spend(function.len() + file.len(), chunk.offset)?;
                    frames.push(EnteredFrame {
                        function,
                        file,
                        line,
                    });
                }
                self.recording.entered.push(Entered {
                    thread,
                    first,
                    frames,
                });
            }
            kind::HEADER => return Err(cur.error("a second header chunk")),
            other if other >= kind::FIRST_SKIPPABLE => return Ok(()),
            other => return Err(cur.error(format!("unknown chunk kind {other:#04x}"))),
        }
        end_of_chunk(cur)
    }

    fn thread(&mut self, thread: ThreadId) -> &mut Thread {
        self.recording.threads.entry(thread).or_default()
    }

    /// Counts `bytes` more decoded; past the limit, the chunk at `offset`
    /// is where reading ends.
    fn spend(&self, bytes: usize, offset: u64) -> Result<(), FormatError> {
        let decoded = self.decoded.get().saturating_add(bytes as u64);
        self.decoded.set(decoded);
        if decoded > self.limit {
            return Err(FormatError::TooLarge {
                offset,
                limit: self.limit,
            });
        }
        Ok(())
    }

    fn push_events(&mut self, thread: ThreadId, first: u64, events: Vec<Event>) {
        let runs = &mut self.thread(thread).events;
        match runs.last_mut() {
            Some(run) if run.first + run.events.len() as u64 == first => run.events.extend(events),
            _ => runs.push(EventRun { first, events }),
        }
    }

    /// A body of `count` packed events, `first..` of `thread`, from the
    /// chunk at `offset`: checked whole, then kept (lazily) or decoded.
    fn packed(
        &mut self,
        thread: ThreadId,
        first: u64,
        count: u64,
        body: &[u8],
        offset: u64,
    ) -> Result<(), FormatError> {
        // Errors name the chunk: a body may be compressed.
        let at_chunk = |err: FormatError| FormatError::Corrupt {
            offset,
            what: match err {
                FormatError::Corrupt { what, .. } | FormatError::Truncated { what, .. } => what,
                other => other.to_string(),
            },
        };
        let mut cur = Cursor::new(body, 0);
        let head = parse_body(&mut cur).map_err(at_chunk)?;
        let before = self.names.threads.get(&thread).map_or(0, Vec::len);
        let names = self.names.define(thread, offset, &head)?;
        let start = cur.offset() as usize;
        let mut walk = PackedEvents::new(&body[start..], start as u64, count, names);
        let mut pairs = Vec::new();
        let mut events = Vec::new();
        let eager = self.lazy.is_none() && self.keep;
        let texts = &self.names.threads[&thread];
        let name = |id: u32| {
            let text: String = texts.get(id as usize).cloned().unwrap_or_default();
            self.spend(text.len(), offset).map(|()| text)
        };
        let value = |at: u64| {
            let text = value_text(body, at, &|id, out: &mut String| {
                out.push_str(texts.get(id as usize).map_or("", String::as_str))
            })
            .map_err(at_chunk)?;
            self.spend(text.len(), offset).map(|()| text)
        };
        while let Some(event) = walk.next(&mut pairs) {
            let (_, event) = event.map_err(at_chunk)?;
            if eager {
                let mut resolved = Vec::with_capacity(pairs.len());
                self.spend(
                    size_of::<Event>() + pairs.len() * size_of::<(String, String)>(),
                    offset,
                )?;
                for (n, v) in pairs.drain(..) {
                    resolved.push((name(n)?, value(v)?));
                }
                events.push(match event {
                    PackedEvent::Call {
                        function,
                        file,
                        line,
                    } => Event::Call {
                        function: name(function)?,
                        file: name(file)?,
                        line,
                        args: resolved,
                    },
                    PackedEvent::Line { line } => Event::Line {
                        line,
                        changed: resolved,
                    },
                    PackedEvent::Return { value: v } => Event::Return { value: value(v)? },
                    PackedEvent::Exception {
                        stage,
                        type_name,
                        message,
                    } => Event::Exception {
                        stage,
                        type_name: name(type_name)?,
                        message: value(message)?,
                    },
                });
            }
            pairs.clear();
        }
        if walk.offset() as usize != body.len() {
            return Err(FormatError::Corrupt {
                offset,
                what: format!(
                    "{} bytes after the last event",
                    body.len() - walk.offset() as usize
                ),
            });
        }
        let new_names = texts[before..].to_vec();
        match &mut self.lazy {
            Some(lazy) => lazy.add(thread, first, count, &new_names, names, &body[start..]),
            None if self.keep => self.push_events(thread, first, events),
            None => {}
        }
        if self.keep {
            self.thread(thread);
        }
        Ok(())
    }

    /// The string an id refers to: a copy of it, counted against the
    /// limit; checking only, an empty one once the id is known good.
    fn string(&self, cur: &mut Cursor<'_>) -> Result<String, FormatError> {
        let at = cur.offset();
        let id = cur.u64()?;
        let span = self
            .strings
            .get(id as usize)
            .ok_or_else(|| FormatError::Corrupt {
                offset: at,
                what: format!("string id {id} used before it was defined"),
            })?;
        if !self.keep {
            return Ok(String::new());
        }
        self.spend(span.len(), at)?;
        // Checked to be UTF-8 when it was defined.
        Ok(String::from_utf8_lossy(&self.bytes[span.clone()]).into_owned())
    }

    /// Counts an item of type `T` decoded, when reading keeps it.
    fn item<T>(&self, cur: &Cursor<'_>) -> Result<(), FormatError> {
        match self.keep {
            true => self.spend(size_of::<T>(), cur.offset()),
            false => Ok(()),
        }
    }

    fn pairs(&self, cur: &mut Cursor<'_>) -> Result<Vec<(String, String)>, FormatError> {
        let count = cur.count()?;
        if self.keep {
            self.spend(count * size_of::<(String, String)>(), cur.offset())?;
        }
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            pairs.push((self.string(cur)?, self.string(cur)?));
        }
        Ok(pairs)
    }

    fn input(&self, cur: &mut Cursor<'_>) -> Result<Input, FormatError> {
        self.item::<Input>(cur)?;
        let bytes = |cur: &mut Cursor<'_>| {
            let at = cur.offset();
            let data = cur.bytes()?;
            self.spend(data.len(), at)?;
            Ok::<_, FormatError>(Bytes::from(data))
        };
        Ok(match cur.u8()? {
            0 => {
                let count = cur.count()?;
                let mut args = Vec::with_capacity(count);
                for _ in 0..count {
                    args.push(self.string(cur)?);
                }
                Input::Args { args }
            }
            1 => Input::Env {
                vars: self.pairs(cur)?,
            },
            2 => Input::Cwd {
                path: self.string(cur)?,
            },
            3 => Input::Stdin { data: bytes(cur)? },
            4 => Input::WallClock {
                secs: cur.u64()?,
                nanos: cur.u32()?,
            },
            5 => Input::MonotonicClock { nanos: cur.u64()? },
            6 => Input::Random { data: bytes(cur)? },
            7 => Input::InsecureRandom { data: bytes(cur)? },
            8 => Input::FileRead {
                path: self.string(cur)?,
                offset: cur.u64()?,
                data: bytes(cur)?,
            },
            9 => Input::Other {
                name: self.string(cur)?,
                data: bytes(cur)?,
            },
            10 => Input::Fs {
                op: self.string(cur)?,
                path: self.string(cur)?,
                result: bytes(cur)?,
            },
            other => return Err(cur.error(format!("unknown input tag {other}"))),
        })
    }

    fn marker(&self, cur: &mut Cursor<'_>) -> Result<Marker, FormatError> {
        self.item::<Marker>(cur)?;
        let seq = cur.u64()?;
        let input_pos = cur.u64()?;
        let position = match self.recording.version {
            1 => None,
            _ => cur.u64()?.checked_sub(1),
        };
        let kind = match cur.u8()? {
            0 => MarkerKind::Snapshot {
                name: self.string(cur)?,
                all: cur.bool()?,
            },
            1 => MarkerKind::Clear {
                all: cur.bool()?,
                flush: cur.bool()?,
            },
            2 => MarkerKind::Block {
                block: cur.u64()?,
                clear: cur.bool()?,
            },
            3 => MarkerKind::ModeChange {
                requested: decode_mode(cur)?,
                effective: decode_mode(cur)?,
            },
            4 => MarkerKind::Flush,
            5 => MarkerKind::Rule {
                target: self.string(cur)?,
                record: cur.bool()?,
            },
            6 => MarkerKind::Crash { crash: cur.u64()? },
            7 => MarkerKind::Exit { code: cur.i32()? },
            other => return Err(cur.error(format!("unknown marker tag {other}"))),
        };
        Ok(Marker {
            seq,
            input_pos,
            position,
            kind,
        })
    }

    fn crash(&self, cur: &mut Cursor<'_>) -> Result<Crash, FormatError> {
        let id = cur.u64()?;
        let thread = cur.u32()?;
        let reason = match cur.u8()? {
            0 => CrashReason::Unhandled,
            1 => CrashReason::Reported,
            2 => CrashReason::Trap(self.string(cur)?),
            3 => CrashReason::Limit(self.string(cur)?),
            other => return Err(cur.error(format!("unknown crash reason {other}"))),
        };
        let exception = match cur.bool()? {
            true => Some(ExceptionInfo {
                type_name: self.string(cur)?,
                message: self.string(cur)?,
            }),
            false => None,
        };
        let count = cur.count()?;
        let mut frames = Vec::with_capacity(count);
        for _ in 0..count {
            self.item::<Frame>(cur)?;
            frames.push(Frame {
                function: self.string(cur)?,
                file: self.string(cur)?,
                line: cur.u32()?,
                locals: self.pairs(cur)?,
            });
        }
        let count = cur.count()?;
        let mut notes = Vec::with_capacity(count);
        for _ in 0..count {
            notes.push(self.string(cur)?);
        }
        Ok(Crash {
            id,
            thread,
            reason,
            exception,
            frames,
            notes,
        })
    }

    /// A version 1 event: its strings are string ids.
    fn v1_event(&self, cur: &mut Cursor<'_>) -> Result<Event, FormatError> {
        self.item::<Event>(cur)?;
        Ok(match cur.u8()? {
            0 => Event::Call {
                function: self.string(cur)?,
                file: self.string(cur)?,
                line: cur.u32()?,
                args: self.pairs(cur)?,
            },
            1 => Event::Line {
                line: cur.u32()?,
                changed: self.pairs(cur)?,
            },
            2 => Event::Return {
                value: self.string(cur)?,
            },
            3 => {
                let stage = match cur.u8()? {
                    0 => ExceptionStage::Raised,
                    1 => ExceptionStage::Caught,
                    2 => ExceptionStage::Unhandled,
                    other => return Err(cur.error(format!("unknown exception stage {other}"))),
                };
                Event::Exception {
                    stage,
                    type_name: self.string(cur)?,
                    message: self.string(cur)?,
                }
            }
            other => return Err(cur.error(format!("unknown event tag {other}"))),
        })
    }
}
