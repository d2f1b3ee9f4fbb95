//! The runtime's side of the collector: a spill queue on disk and a thread
//! that empties it.
//!
//! The recorder writes its recordings into the run's spill directory exactly
//! as it writes them anywhere else: whole files for crashes and snapshots,
//! a growing file for a continuous stream. The uploader sends each file to
//! the collector — a stream frame by frame, up to its last whole chunk, as
//! it grows — and deletes it once the collector has acknowledged all of it.
//! The guest never waits on the network: the recorder only writes local
//! files. When the collector cannot be reached, the files stay where they
//! are and the uploader retries with backoff; at the end of the run it waits
//! a bounded time, and what is still unsent stays in the spill directory for
//! the next run with the same collector, which sends it first.
//!
//! Each run's files live in a directory of its own, `run-PID-N`, locked
//! (`run-PID-N.lock`) while the run lives: a later run adopts the
//! directories whose lock it can take, i.e. those of runs that are over.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::client::{Client, ClientError};
use crate::protocol::Kind;

/// The most a stream frame carries...
const MAX_FRAME: u64 = 4 << 20;
/// ...and the least it is cut down to when the collector finds frames too
/// large.
const MIN_FRAME: u64 = 64 << 10;
/// How often a growing stream is looked at when nothing nudges.
const POLL: Duration = Duration::from_millis(200);
/// Retries start this soon after a failure and back off up to...
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// ...this.
const LAST_RETRY: Duration = Duration::from_secs(2);

/// Something the uploader did that the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The collector could not be reached (said once per run).
    Unreachable(String),
    /// It could again, after [`Report::Unreachable`].
    Reachable,
    /// A recording was stored whole by the collector.
    Sent { kind: Kind, id: String, url: String },
    /// The collector refused a recording; the file was kept locally.
    Refused { kept: PathBuf, error: String },
    /// Old unsent recordings were dropped to keep the spill queue bounded.
    Dropped { files: usize, bytes: u64 },
}

/// What the run ended with.
#[derive(Debug, Default)]
pub struct Summary {
    /// Recordings the collector has acknowledged whole (complete), by kind;
    /// a stream that holds a crash is listed twice, as a stream and as a
    /// crash.
    pub sent: Vec<(Kind, String)>,
    /// Files not (wholly) acknowledged yet, left in the spill directory.
    pub pending: Vec<PathBuf>,
}

/// The spill queue of one run and its sender thread.
#[derive(Debug)]
pub struct Uploader {
    queue: SpillQueue,
    thread: Option<std::thread::JoinHandle<Summary>>,
    dir: PathBuf,
}

/// A handle that puts files in the queue, for the recorder's listener.
#[derive(Debug, Clone)]
pub struct SpillQueue {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Told when [`Uploader::finish`] sets the deadline, so that a request
    /// in flight stops waiting at it.
    finishing: tokio::sync::Notify,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    nudged: bool,
    /// Set by [`Uploader::finish`]: send what is there until this instant.
    deadline: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Item {
    path: PathBuf,
    kind: Kind,
    script: String,
    /// Known once the header has been read.
    id: Option<String>,
    /// Streams: bytes the collector has acknowledged.
    acked: u64,
    /// Not to be sent again: done, or given up on.
    done: bool,
    /// A stream that holds a crash.
    crash: bool,
}

impl Uploader {
    /// Starts the spill queue of a run under `root` (created if missing),
    /// adopting what runs that are over left unsent, and its sender thread.
    /// `limit` bounds what old runs may leave: the oldest files beyond it
    /// are dropped (and reported). Refused recordings are moved to `keep`.
    /// Frames are at most 4 MiB, and are cut down while the collector finds
    /// them too large.
    pub fn start(
        client: Client,
        root: &Path,
        limit: u64,
        keep: PathBuf,
        report: impl Fn(Report) + Send + 'static,
    ) -> std::io::Result<Uploader> {
        std::fs::create_dir_all(root)?;
        let (dir, lock) = own_dir(root)?;
        let mut locks = vec![lock];
        let mut items = VecDeque::new();
        let mut leftovers = Vec::new();
        for (dir, lock) in adopt(root)? {
            locks.push(lock);
            for entry in std::fs::read_dir(&dir)?.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|ext| ext == "rwd") {
                    let meta = entry.metadata()?;
                    leftovers.push((meta.modified().ok(), meta.len(), path));
                }
            }
        }
        // Oldest first; the oldest go when the leftovers are over the limit.
        leftovers.sort();
        let mut total: u64 = leftovers.iter().map(|(_, len, _)| len).sum();
        let (mut dropped, mut dropped_bytes) = (0, 0);
        for (_, len, path) in leftovers {
            if total > limit {
                total -= len;
                if std::fs::remove_file(&path).is_ok() {
                    dropped += 1;
                    dropped_bytes += len;
                }
                continue;
            }
            let (kind, script) = describe(&path);
            items.push_back(Item {
                path,
                kind,
                script,
                id: None,
                acked: 0,
                done: false,
                crash: false,
            });
        }
        if dropped > 0 {
            report(Report::Dropped {
                files: dropped,
                bytes: dropped_bytes,
            });
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items,
                ..Queue::default()
            }),
            wake: Condvar::new(),
            finishing: tokio::sync::Notify::new(),
        });
        let sender = Sender {
            shared: shared.clone(),
            client,
            keep,
            report: Box::new(report),
            unreachable: false,
            failures: 0,
            frame_limit: MAX_FRAME,
            locks,
            sent: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("rewind-uploader".to_owned())
            .spawn(move || sender.run())?;
        Ok(Uploader {
            queue: SpillQueue { shared },
            thread: Some(thread),
            dir,
        })
    }

    /// A handle that queues files.
    pub fn queue(&self) -> SpillQueue {
        self.queue.clone()
    }

    /// The run's own spill directory: where its recordings are to be written.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sends what is left, waiting at most `wait`, and stops. What could not
    /// be sent stays in the spill directory.
    pub fn finish(mut self, wait: Duration) -> Summary {
        let shared = &self.queue.shared;
        {
            let mut queue = shared.lock();
            queue.deadline = Some(Instant::now() + wait);
            queue.nudged = true;
        }
        shared.wake.notify_all();
        shared.finishing.notify_one();
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}

/// Resolves once [`Uploader::finish`]'s deadline has passed.
async fn past_deadline(shared: &Shared) {
    loop {
        let notified = shared.finishing.notified();
        let deadline = shared.lock().deadline;
        match deadline {
            Some(deadline) => {
                tokio::time::sleep_until(deadline.into()).await;
                return;
            }
            None => notified.await,
        }
    }
}

impl SpillQueue {
    /// Queues a whole recording file (a crash or a snapshot).
    /// Returns the id the collector will know it by.
    pub fn whole(&self, path: PathBuf, kind: Kind, script: &str) -> String {
        self.push(path, kind, script)
    }

    /// Queues a stream file: it is sent as it grows, until its end chunk.
    /// Returns the id the collector will know it by.
    pub fn stream(&self, path: PathBuf, script: &str) -> String {
        self.push(path, Kind::Stream, script)
    }

    fn push(&self, path: PathBuf, kind: Kind, script: &str) -> String {
        let id = file_id(&path);
        let mut queue = self.shared.lock();
        queue.items.push_back(Item {
            path,
            kind,
            script: script.to_owned(),
            id: Some(id.clone()),
            acked: 0,
            done: false,
            crash: false,
        });
        queue.nudged = true;
        self.shared.wake.notify_all();
        id
    }

    /// Whether `path` is a stream in the queue.
    pub fn is_stream(&self, path: &Path) -> bool {
        self.shared
            .lock()
            .items
            .iter()
            .any(|item| item.kind == Kind::Stream && item.path == path)
    }

    /// The stream at `path` holds a crash: once it is sent, the summary
    /// lists it as a crash too.
    pub fn crash_in_stream(&self, path: &Path) {
        let mut queue = self.shared.lock();
        for item in queue.items.iter_mut().filter(|item| item.path == path) {
            item.crash = true;
        }
        queue.nudged = true;
        self.shared.wake.notify_all();
    }

    /// Sends what is there now (`revdebug.flush()`), without waiting.
    pub fn nudge(&self) {
        self.shared.lock().nudged = true;
        self.shared.wake.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sender thread's side.
struct Sender {
    shared: Arc<Shared>,
    client: Client,
    keep: PathBuf,
    report: Box<dyn Fn(Report) + Send>,
    unreachable: bool,
    /// Transient failures in a row, for the backoff.
    failures: u32,
    /// The most a frame carries: halved when the collector answers 413.
    frame_limit: u64,
    /// Held while the run lives: its own directory's lock, and those of the
    /// directories it adopted.
    locks: Vec<(File, PathBuf)>,
    /// Recordings the collector has acknowledged whole.
    sent: Vec<(Kind, String)>,
}

/// What one pass over a queue item came to.
enum Step {
    /// Something was sent: look again at once.
    Progress,
    /// Nothing to send now.
    Idle,
    /// The collector cannot be reached: back off.
    Retry,
}

impl Sender {
    fn run(mut self) -> Summary {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                (self.report)(Report::Unreachable(format!(
                    "cannot start the uploader: {err}"
                )));
                return self.summary();
            }
        };
        loop {
            let (items, deadline) = {
                let mut queue = self.shared.lock();
                queue.nudged = false;
                let items: Vec<usize> = (0..queue.items.len())
                    .filter(|n| !queue.items[*n].done)
                    .collect();
                (items, queue.deadline)
            };
            let mut step = Step::Idle;
            for n in items {
                let mut item = self.shared.lock().items[n].clone();
                // A request in flight when the run ends stops at the
                // deadline (`--server-wait`): what it was sending stays in
                // the spill queue for the next run.
                let shared = self.shared.clone();
                let this = runtime.block_on(async {
                    tokio::select! {
                        step = self.send(&mut item, deadline.is_some()) => step,
                        () = past_deadline(&shared) => Step::Retry,
                    }
                });
                // Only what the sender owns: the queue's side may have
                // marked a crash meanwhile.
                let mut queue = self.shared.lock();
                let slot = &mut queue.items[n];
                slot.id = item.id;
                slot.acked = item.acked;
                slot.done = item.done;
                drop(queue);
                match this {
                    Step::Retry => {
                        step = Step::Retry;
                        break;
                    }
                    Step::Progress => step = Step::Progress,
                    Step::Idle => {}
                }
            }
            let queue = self.shared.lock();
            if let Some(deadline) = queue.deadline
                && (queue.items.iter().all(|item| item.done) || Instant::now() >= deadline)
            {
                drop(queue);
                return self.summary();
            }
            let until = |pause: Duration| match queue.deadline {
                Some(deadline) => pause.min(deadline.saturating_duration_since(Instant::now())),
                None => pause,
            };
            let wake = &self.shared.wake;
            match step {
                Step::Progress => continue,
                Step::Idle => {
                    let pause = until(POLL);
                    let _ = wake.wait_timeout_while(queue, pause, |queue| !queue.nudged);
                }
                Step::Retry => {
                    self.failures += 1;
                    let pause = until(
                        FIRST_RETRY
                            .saturating_mul(1 << self.failures.min(5))
                            .min(LAST_RETRY),
                    );
                    // Only the end of the run cuts a backoff short.
                    let _ =
                        wake.wait_timeout_while(queue, pause, |queue| queue.deadline == deadline);
                }
            }
        }
    }

    /// One pass over one item: a whole file sent, or a stream's next frame.
    async fn send(&mut self, item: &mut Item, finishing: bool) -> Step {
        let result = match item.kind {
            Kind::Stream => self.send_frame(item, finishing).await,
            _ => self.send_whole(item).await,
        };
        match result {
            Ok(step) => {
                if self.unreachable && matches!(step, Step::Progress) {
                    self.unreachable = false;
                    (self.report)(Report::Reachable);
                }
                if matches!(step, Step::Progress) {
                    self.failures = 0;
                }
                step
            }
            Err(err) if err.is_transient() => {
                if !self.unreachable {
                    self.unreachable = true;
                    (self.report)(Report::Unreachable(err.to_string()));
                }
                Step::Retry
            }
            Err(err) => {
                // Refused for good: keep the file where the user finds it.
                item.done = true;
                let kept = self.keep_locally(&item.path);
                (self.report)(Report::Refused {
                    kept,
                    error: err.to_string(),
                });
                Step::Progress
            }
        }
    }

    async fn send_whole(&mut self, item: &mut Item) -> Result<Step, ClientError> {
        let bytes = match std::fs::read(&item.path) {
            Ok(bytes) => Bytes::from(bytes),
            Err(_) => {
                item.done = true;
                return Ok(Step::Idle);
            }
        };
        let id = match &item.id {
            Some(id) => id.clone(),
            None => {
                let id = recording_id(&item.path, &bytes);
                item.id = Some(id.clone());
                id
            }
        };
        self.client
            .put_whole(&id, item.kind, &item.script, bytes)
            .await?;
        let _ = std::fs::remove_file(&item.path);
        item.done = true;
        self.sent.push((item.kind, id.clone()));
        (self.report)(Report::Sent {
            kind: item.kind,
            url: self.client.recording_url(&id),
            id,
        });
        Ok(Step::Progress)
    }

    async fn send_frame(&mut self, item: &mut Item, finishing: bool) -> Result<Step, ClientError> {
        // A frame of whole chunks: more than the limit when one chunk alone
        // is larger (a chunk is at most 64 MiB).
        let mut limit = self.frame_limit;
        let (frame, (whole, ended)) = loop {
            let frame = match read_from(&item.path, item.acked, limit) {
                Ok(frame) => frame,
                Err(_) => {
                    item.done = true;
                    return Ok(Step::Idle);
                }
            };
            let chunks = rewind_format::whole_chunks(&frame, item.acked);
            let short = (frame.len() as u64) < limit;
            if chunks.0 > 0 || short || limit > u64::from(rewind_format::MAX_CHUNK) * 2 {
                break (frame, chunks);
            }
            limit *= 2;
        };
        if whole == 0 {
            if finishing && !frame.is_empty() {
                // The run is over and the file ends in a half-written chunk
                // (a kill): nothing more will come.
                item.done = true;
            }
            return Ok(Step::Idle);
        }
        let id = item.id.get_or_insert_with(|| file_id(&item.path)).clone();
        let frame = Bytes::from(frame).slice(..whole);
        let ack = match self
            .client
            .put_frame(&id, item.acked, &item.script, frame)
            .await
        {
            Ok(ack) => ack,
            Err(ClientError::Refused {
                status: 409,
                acked: Some(acked),
                ..
            }) if acked != item.acked => {
                // The collector has more (an earlier run of this queue sent
                // it) or less (it lost a frame it never acknowledged): go on
                // from where it is.
                item.acked = acked;
                return Ok(Step::Progress);
            }
            Err(ClientError::Refused { status: 413, .. }) if self.frame_limit > MIN_FRAME => {
                // The collector takes smaller frames than this: a backlog
                // after an outage is sent in smaller pieces.
                self.frame_limit = (self.frame_limit / 2).max(MIN_FRAME);
                return Ok(Step::Progress);
            }
            Err(err) => return Err(err),
        };
        tracing::debug!("{id}: acked up to byte {}", ack.acked);
        item.acked = ack.acked;
        if ack.complete || ended {
            let _ = std::fs::remove_file(&item.path);
            item.done = true;
            self.sent.push((Kind::Stream, id.clone()));
            (self.report)(Report::Sent {
                kind: Kind::Stream,
                url: self.client.recording_url(&id),
                id,
            });
        }
        Ok(Step::Progress)
    }

    fn keep_locally(&self, path: &Path) -> PathBuf {
        let name = path.file_name().unwrap_or_default();
        let kept = self.keep.join(name);
        let moved = std::fs::create_dir_all(&self.keep)
            .and_then(|()| std::fs::rename(path, &kept))
            .or_else(|_| {
                std::fs::copy(path, &kept)?;
                std::fs::remove_file(path)
            });
        match moved {
            Ok(()) => kept,
            Err(_) => path.to_owned(),
        }
    }

    /// What is left, and the directories emptied are removed.
    fn summary(mut self) -> Summary {
        let queue = self.shared.lock();
        let pending: Vec<PathBuf> = queue
            .items
            .iter()
            .filter(|item| item.path.exists())
            .map(|item| item.path.clone())
            .collect();
        let crashed: Vec<String> = queue
            .items
            .iter()
            .filter(|item| item.crash)
            .filter_map(|item| item.id.clone())
            .filter(|id| self.sent.contains(&(Kind::Stream, id.clone())))
            .collect();
        drop(queue);
        self.sent
            .extend(crashed.into_iter().map(|id| (Kind::Crash, id)));
        for (file, lock) in self.locks {
            let dir = lock.with_extension("");
            // Only an empty directory goes; its lock file after it.
            if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                let _ = std::fs::remove_file(&lock);
            }
            drop(file);
        }
        Summary {
            sent: self.sent,
            pending,
        }
    }
}

/// The bytes of `path` from `offset`, at most a frame's worth.
fn read_from(path: &Path, offset: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut frame = Vec::new();
    file.take(limit).read_to_end(&mut frame)?;
    Ok(frame)
}

/// The collector's id of the recording in the file at `path`.
fn file_id(path: &Path) -> String {
    let mut head = Vec::new();
    if let Ok(file) = File::open(path) {
        let _ = file.take(64 << 10).read_to_end(&mut head);
    }
    recording_id(path, &head)
}

/// The collector's id of a recording file: its name, and the start of its
/// recording id, which tells apart two runs' files of the same name.
fn recording_id(path: &Path, head: &[u8]) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem: String = stem
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .take(100)
        .collect();
    let tag = match rewind_format::check_frame(head, 0) {
        Ok(check) => check.header.map(|header| header.recording_id),
        // The head may stop inside a chunk: the header is whole if it is
        // there at all.
        Err(_) => {
            let (whole, _) = rewind_format::whole_chunks(head, 0);
            rewind_format::check_frame(&head[..whole], 0)
                .ok()
                .and_then(|check| check.header)
                .map(|header| header.recording_id)
        }
    };
    let tag: String = match tag {
        Some(id) => id[..4].iter().map(|b| format!("{b:02x}")).collect(),
        None => format!("{:08x}", rand::random::<u32>()),
    };
    format!("{}-{tag}", stem.trim_start_matches('.'))
}

/// A leftover file's kind and script, from the name the recorder gave it:
/// `SCRIPT-YYYYMMDD-HHMMSS-KIND[-N].rwd`.
fn describe(path: &Path) -> (Kind, String) {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parts: Vec<&str> = stem.split('-').collect();
    // The date is the first 8-digit part followed by a 6-digit one.
    let at = (0..parts.len().saturating_sub(1)).find(|&n| {
        parts[n].len() == 8
            && parts[n + 1].len() == 6
            && parts[n].bytes().all(|b| b.is_ascii_digit())
            && parts[n + 1].bytes().all(|b| b.is_ascii_digit())
    });
    let (script, kind) = match at {
        Some(n) => (
            parts[..n].join("-"),
            parts.get(n + 2).copied().unwrap_or(""),
        ),
        None => (stem.clone(), ""),
    };
    let kind = match kind {
        "crash" => Kind::Crash,
        "stream" => Kind::Stream,
        _ => Kind::Snapshot,
    };
    (kind, script)
}

/// A fresh directory for this run, and its lock, held.
fn own_dir(root: &Path) -> std::io::Result<(PathBuf, (File, PathBuf))> {
    let pid = std::process::id();
    for n in 0..1000u32 {
        let dir = root.join(format!("run-{pid}-{n}"));
        let lock_path = dir.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        if lock.try_lock().is_err() {
            continue;
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((dir, (lock, lock_path))),
            // A dead run's directory with our pid: leave it for adoption.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::other("no free spill directory"))
}

/// The directories of runs that are over, locked for this run.
fn adopt(root: &Path) -> std::io::Result<Vec<(PathBuf, (File, PathBuf))>> {
    let mut adopted = Vec::new();
    for entry in std::fs::read_dir(root)?.flatten() {
        let dir = entry.path();
        let is_run = dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("run-") && !name.ends_with(".lock"));
        if !is_run || !dir.is_dir() {
            continue;
        }
        let lock_path = dir.with_extension("lock");
        let Ok(lock) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        else {
            continue;
        };
        if lock.try_lock().is_ok() {
            adopted.push((dir, (lock, lock_path)));
        }
    }
    Ok(adopted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_described_by_their_names() {
        let kind = |name: &str| describe(Path::new(name));
        assert_eq!(
            kind("my-app-20261122-101500-crash.rwd"),
            (Kind::Crash, "my-app".to_owned())
        );
        assert_eq!(
            kind("job-20261122-101500-stream-2.rwd"),
            (Kind::Stream, "job".to_owned())
        );
        assert_eq!(
            kind("job-20261122-101500-snapshot-3.rwd"),
            (Kind::Snapshot, "job".to_owned())
        );
    }

    /// A collector on loopback, in this process, over a memory store.
    fn collector(max_frame_bytes: u64) -> (tokio::runtime::Runtime, Client) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let config = crate::ServerConfig {
            max_mode: rewind_format::model::Mode::Continuous,
            token: None,
            max_frame_bytes,
            max_recording_bytes: 1 << 30,
            upload_idle: std::time::Duration::from_secs(30),
        };
        let store = crate::Store::open("memory://", false).unwrap();
        runtime.spawn(crate::server::serve(
            listener,
            config,
            store,
            std::future::pending(),
        ));
        (runtime, Client::new(&url, None).unwrap())
    }

    /// A stream file of source chunks of these sizes, and its end.
    fn stream_file(dir: &Path, name: &str, tag: u8, sizes: &[usize]) -> (PathBuf, Vec<u8>) {
        use rewind_format::Writer;
        use rewind_format::model::{End, Header, Mode, Source};
        let header = Header {
            recording_id: [tag; 16],
            created_unix_ms: 0,
            guest_name: "python".into(),
            guest_digest: "sha256:00".into(),
            mode: Mode::Continuous,
            settings: Vec::new(),
        };
        let mut writer = Writer::new(Vec::new(), &header).unwrap();
        for (n, size) in sizes.iter().enumerate() {
            let text = "#".repeat(*size);
            let path = format!("/app/{n}.py");
            writer.source(&Source { path, text }).unwrap();
        }
        let bytes = writer.end(&End { exit_code: Some(0) }).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }

    #[test]
    fn a_backlog_goes_in_frames_the_collector_takes() {
        let (runtime, client) = collector(100 << 10);
        let spill = tempfile::tempdir().unwrap();
        let kept = spill.path().join("kept");
        let reports = Arc::new(Mutex::new(Vec::new()));
        let heard = reports.clone();
        let uploader = Uploader::start(
            client.clone(),
            spill.path(),
            1 << 30,
            kept.clone(),
            move |report| heard.lock().unwrap().push(report),
        )
        .unwrap();
        // 440 KB waiting, in chunks of 40 KB: more than a frame may carry.
        let (backlog, backlog_bytes) = stream_file(
            uploader.dir(),
            "job-20261122-101500-stream.rwd",
            1,
            &[40_000; 11],
        );
        // A chunk of 300 KB cannot go in any frame the collector takes.
        let (big, big_bytes) = stream_file(
            uploader.dir(),
            "job-20261122-101500-stream-1.rwd",
            2,
            &[40_000, 300_000, 40_000],
        );
        let queue = uploader.queue();
        let backlog_id = queue.stream(backlog.clone(), "job");
        let big_id = queue.stream(big.clone(), "job");
        let summary = uploader.finish(Duration::from_secs(60));

        assert_eq!(summary.sent, [(Kind::Stream, backlog_id.clone())]);
        assert_eq!(summary.pending, Vec::<PathBuf>::new());
        let stored = runtime.block_on(client.download(&backlog_id)).unwrap();
        assert!(stored[..] == backlog_bytes[..]);
        assert!(!backlog.exists());

        // What came before the big chunk is stored; the file is kept.
        let stored = runtime.block_on(client.download(&big_id)).unwrap();
        assert!(
            stored.len() > 40_000 && stored.len() < 100_000,
            "{}",
            stored.len()
        );
        assert!(stored[..] == big_bytes[..stored.len()]);
        let kept_file = kept.join(big.file_name().unwrap());
        assert_eq!(std::fs::read(&kept_file).unwrap(), big_bytes);
        let reports = reports.lock().unwrap();
        assert!(
            reports
                .iter()
                .any(|report| matches!(report, Report::Refused { kept, .. } if *kept == kept_file)),
            "{reports:?}"
        );
    }

    #[test]
    fn a_live_run_keeps_its_directory() {
        let root = tempfile::tempdir().unwrap();
        let (dir, _lock) = own_dir(root.path()).unwrap();
        assert!(adopt(root.path()).unwrap().is_empty());
        drop(_lock);
        let adopted = adopt(root.path()).unwrap();
        assert_eq!(adopted.len(), 1);
        assert_eq!(adopted[0].0, dir);
    }
}
