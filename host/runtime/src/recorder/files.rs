//! What the recorder writes, at the level of the format's `Writer`: the
//! pieces of the log, events and sources; and how recording files are named
//! and created, so that a file under its final name is always whole.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rewind_format::Writer;
use rewind_format::model::{
    Crash, End, Entered, EnteredFrame, Header, Input, Marker, Source, ThreadId,
};

use super::buffer::{EventBuffer, Slice};
use super::config::Written;

/// A continuous stream gets a thread's events once this many are waiting.
pub(super) const STREAM_EVENTS: usize = 4096;

/// Bytes of packed events per chunk, at most: a reader decompresses a
/// chunk at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// A piece of the log, appended alike to the log in memory and to the
/// continuous stream.
pub(super) enum Append<'a> {
    Inputs(ThreadId, u64, &'a [Input]),
    Marker(ThreadId, &'a Marker),
    Crash(&'a Crash),
}

impl Append<'_> {
    pub(super) fn write_to<W: std::io::Write>(
        &self,
        writer: &mut Writer<W>,
    ) -> std::io::Result<()> {
        match *self {
            Append::Inputs(thread, first, inputs) => writer.inputs(thread, first, inputs),
            Append::Marker(thread, marker) => writer.markers(thread, std::slice::from_ref(marker)),
            Append::Crash(crash) => writer.crash(crash),
        }
    }

    pub(super) fn what(&self) -> &'static str {
        match self {
            Append::Inputs(..) => "inputs",
            Append::Marker(..) => "a marker",
            Append::Crash(..) => "a crash",
        }
    }
}

/// Sources, as the format takes them.
pub(super) fn write_sources<'a, W: std::io::Write>(
    writer: &mut Writer<W>,
    sources: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>,
) -> std::io::Result<()> {
    for (path, text) in sources {
        writer.source(&Source {
            path: path.clone(),
            text: String::from_utf8_lossy(text).into_owned(),
        })?;
    }
    Ok(())
}

/// A thread's events, from slices of its buffer (`names` its names), in
/// chunks of up to [`CHUNK_BYTES`].
pub(super) fn write_events<W: std::io::Write>(
    writer: &mut Writer<W>,
    thread: ThreadId,
    names: &[Arc<str>],
    slices: &[Slice<'_>],
) -> std::io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let (mut first, mut count) = (0, 0);
    for slice in slices {
        let follows = first + count == slice.first;
        if count > 0 && (!follows || pending.len() + slice.events.len() > CHUNK_BYTES) {
            writer.packed_events(thread, first, count, names, &pending)?;
            pending.clear();
            count = 0;
        }
        if count == 0 {
            first = slice.first;
        }
        pending.extend_from_slice(slice.events);
        count += slice.count;
    }
    if count > 0 {
        writer.packed_events(thread, first, count, names, &pending)?;
    }
    Ok(())
}

/// A thread's events held in `buffer` from `from` on, preceded, when they
/// start inside calls whose call events are not among them, by those
/// calls (`Writer::entered`), so that a reader can name the frames.
pub(super) fn write_window<W: std::io::Write>(
    writer: &mut Writer<W>,
    thread: ThreadId,
    buffer: &EventBuffer,
    from: u64,
) -> std::io::Result<()> {
    let slices = buffer.since(from);
    if let Some(first) = slices.first().map(|slice| slice.first)
        && first > 0
    {
        let frames = buffer.entered_at(first);
        if !frames.is_empty() {
            writer.entered(&Entered {
                thread,
                first,
                frames: frames
                    .into_iter()
                    .map(|(function, file, line)| EnteredFrame {
                        function: function.to_string(),
                        file: file.to_string(),
                        line,
                    })
                    .collect(),
            })?;
        }
    }
    write_events(writer, thread, buffer.names(), &slices)
}

/// Writes a whole recording under a fresh name: the log so far, the
/// sources, and the events some threads' buffers hold, ended. The log goes
/// from memory to the file as it is, and the rest follows it through a fork
/// of its writer: a snapshot costs no copy of the log in memory. Returns
/// the file and its bytes.
pub(super) fn write_recording<'a>(
    dir: &Path,
    name: &str,
    kind: &str,
    log: &Writer<Vec<u8>>,
    sources: &BTreeMap<String, Vec<u8>>,
    buffers: impl IntoIterator<Item = (ThreadId, &'a EventBuffer)>,
    elapsed_ms: u64,
) -> std::io::Result<(PathBuf, u64)> {
    let temp = new_temporary(dir)?;
    let mut out = BufWriter::new(temp);
    out.write_all(log.get_ref())?;
    let mut writer = log.fork(out);
    write_sources(&mut writer, sources)?;
    for (thread, buffer) in buffers {
        write_window(&mut writer, thread, buffer, 0)?;
    }
    finish(writer, elapsed_ms, dir, name, kind)
}

/// One request's own log, for its own recording.
pub(super) struct RequestLog<'a> {
    pub(super) thread: ThreadId,
    pub(super) inputs: &'a [Input],
    pub(super) markers: &'a [Marker],
    pub(super) crashes: &'a [Crash],
    pub(super) events: &'a EventBuffer,
    /// Recording files written of it so far.
    pub(super) files: &'a mut usize,
}

/// Writes a recording of one request alone under a fresh name: `header`,
/// the sources, the request's inputs, markers, crashes and events, ended.
pub(super) fn write_request(
    dir: &Path,
    name: &str,
    kind: &str,
    header: &Header,
    sources: &BTreeMap<String, Vec<u8>>,
    request: &RequestLog<'_>,
    elapsed_ms: u64,
) -> std::io::Result<(PathBuf, u64)> {
    let temp = new_temporary(dir)?;
    let mut writer = Writer::new(BufWriter::new(temp), header)?;
    write_sources(&mut writer, sources)?;
    writer.inputs(request.thread, 0, request.inputs)?;
    writer.markers(request.thread, request.markers)?;
    for crash in request.crashes {
        writer.crash(crash)?;
    }
    write_window(&mut writer, request.thread, request.events, 0)?;
    finish(writer, elapsed_ms, dir, name, kind)
}

/// Ends a recording written to a temporary file (how long the run had
/// taken, the end chunk) and gives it its fresh name. Returns the file and
/// its bytes.
fn finish(
    mut writer: Writer<BufWriter<tempfile::NamedTempFile>>,
    elapsed_ms: u64,
    dir: &Path,
    name: &str,
    kind: &str,
) -> std::io::Result<(PathBuf, u64)> {
    writer.elapsed(elapsed_ms)?;
    let bytes = writer.written();
    let out = writer.end(&End { exit_code: None })?;
    let temp = out.into_inner().map_err(|err| err.into_error())?;
    let path = persist_new(temp, dir, name, kind)?;
    Ok((path, bytes))
}

/// The kind a recording file's name ends with.
pub(super) fn file_kind(what: &Written) -> String {
    match what {
        Written::Crash => "crash".to_owned(),
        Written::Snapshot(name) if name.starts_with("snapshot") => file_safe(name),
        Written::Snapshot(name) => format!("snapshot-{}", file_safe(name)),
        Written::Stream => "stream".to_owned(),
        Written::Exit(code) => format!("exit-{code}"),
    }
}

/// A name's characters that are safe in a file name.
pub(super) fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .take(64)
        .collect();
    safe.trim_start_matches('.').to_owned()
}

/// `NAME-YYYYMMDD-HHMMSS-KIND[-N].rwd`, unused so far in `dir`.
fn file_name(name: &str, kind: &str, n: u32) -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = stamp
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let (date, time) = stamp.split_at(stamp.len().min(8));
    let suffix = if n == 0 {
        String::new()
    } else {
        format!("-{n}")
    };
    format!("{name}-{date}-{time}-{kind}{suffix}.rwd")
}

/// Creates a file that did not exist, under a fresh name.
pub(super) fn create_new_file(
    dir: &Path,
    name: &str,
    kind: &str,
) -> std::io::Result<(File, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    for n in 0..1000 {
        let path = dir.join(file_name(name, kind, n));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // A recording holds what the program read: readable by its owner
        // only, as the temporary files of whole recordings are.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::other(
        "too many recordings with the same name",
    ))
}

/// A temporary file in `dir` for a recording being written: it gets its
/// final name once it is whole ([`persist_new`]).
fn new_temporary(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    std::fs::create_dir_all(dir)?;
    tempfile::Builder::new()
        .prefix(".rewind-")
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// Gives a whole recording, written to `temp`, a fresh name: a file with
/// the final name is always complete.
fn persist_new(
    mut temp: tempfile::NamedTempFile,
    dir: &Path,
    name: &str,
    kind: &str,
) -> std::io::Result<PathBuf> {
    temp.as_file().sync_data()?;
    for n in 0..1000 {
        let path = dir.join(file_name(name, kind, n));
        match temp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(err) if err.error.kind() == std::io::ErrorKind::AlreadyExists => temp = err.file,
            Err(err) => return Err(err.error),
        }
    }
    Err(std::io::Error::other(
        "too many recordings with the same name",
    ))
}
