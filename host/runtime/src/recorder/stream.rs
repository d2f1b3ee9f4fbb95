//! A continuous recording: one stream file that starts with the log so far
//! and grows as it does. Every append is written through to the file, so a
//! killed run loses at most the batch in progress, and a reader (the spill
//! queue tailing it for a collector) finds a valid recording at every chunk
//! boundary.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use rewind_format::Writer;
use rewind_format::model::{End, ThreadId};

use super::buffer::Slice;
use super::files::{self, Append};

pub(super) struct Stream {
    writer: Writer<BufWriter<File>>,
    path: PathBuf,
    /// How much of each source has been sent, by path: a source is sent
    /// when it first appears and again when the guest has read more of it.
    sent: BTreeMap<String, usize>,
}

impl Stream {
    /// A new stream file `NAME-...-stream.rwd` in `dir`, holding `log` so
    /// far; later appends follow it.
    pub(super) fn create(dir: &Path, name: &str, log: &Writer<Vec<u8>>) -> std::io::Result<Stream> {
        let (file, path) = files::create_new_file(dir, name, "stream")?;
        let mut out = BufWriter::new(file);
        out.write_all(log.get_ref())?;
        out.flush()?;
        Ok(Stream {
            writer: log.fork(out),
            path,
            sent: BTreeMap::new(),
        })
    }

    /// The bytes of the strings its writer keeps to intern them.
    pub(super) fn interned_bytes(&self) -> u64 {
        self.writer.interned_bytes()
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// A failure to write, as the listener hears it.
    pub(super) fn failure(&self, err: std::io::Error) -> String {
        format!("writing {}: {err}", self.path.display())
    }

    /// Appends `item`, through to the file.
    pub(super) fn append(&mut self, item: &Append<'_>) -> std::io::Result<()> {
        item.write_to(&mut self.writer)?;
        self.writer.flush()
    }

    /// Appends `thread`'s events (`names` its names).
    pub(super) fn events(
        &mut self,
        thread: ThreadId,
        names: &[Arc<str>],
        slices: &[Slice<'_>],
    ) -> std::io::Result<()> {
        files::write_events(&mut self.writer, thread, names, slices)
    }

    /// Sends the sources it has not had, or had less of, and flushes
    /// everything to the file.
    pub(super) fn send_sources(
        &mut self,
        sources: &BTreeMap<String, Vec<u8>>,
    ) -> std::io::Result<()> {
        let unsent: Vec<_> = sources
            .iter()
            .filter(|(path, text)| self.sent.get(*path) != Some(&text.len()))
            .collect();
        files::write_sources(&mut self.writer, unsent.iter().copied())?;
        for (path, text) in unsent {
            self.sent.insert(path.clone(), text.len());
        }
        self.writer.flush()
    }

    /// Closes the stream with its end chunk: `exit_code` when the run is
    /// over, `None` when the mode went down and nothing more follows in
    /// this file.
    pub(super) fn end(mut self, exit_code: Option<i32>, elapsed_ms: u64) -> Result<(), String> {
        let path = self.path.display().to_string();
        let writer = match self.writer.elapsed(elapsed_ms) {
            Ok(()) => self.writer,
            Err(err) => return Err(format!("writing {path}: {err}")),
        };
        writer
            .end(&End { exit_code })
            .map(drop)
            .map_err(|err| format!("writing {path}: {err}"))
    }
}
