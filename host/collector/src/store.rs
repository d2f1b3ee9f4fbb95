//! Where the collector keeps recordings: any `object_store` (a local
//! directory by default, an S3-compatible bucket when one machine is not
//! enough), laid out as
//!
//! ```text
//! recordings/ID/meta.json          what the listing shows; written first
//! recordings/ID/data.rwd           a whole recording (a crash, a snapshot)
//! recordings/ID/parts/OFFSET       a stream's frames, OFFSET zero-padded
//! recordings/ID/complete           a stream whose end chunk is stored
//! ```
//!
//! Every object is written whole or not at all (the local store writes a
//! temporary file and renames it; S3 has no partial objects), and a stream's
//! `complete` only after its last frame: a collector killed at any point
//! leaves no recording that claims more than it holds. An acknowledgement
//! is sent only once the object is written, so what was acknowledged is
//! there after a restart, which rebuilds its state from the objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use rewind_format::Recording;
use serde::{Deserialize, Serialize};

use crate::protocol::{Ack, Kind, RecordingInfo};

/// Why a write was refused. Each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bytes are not what they claim to be (400).
    #[error("{0}")]
    Malformed(String),
    /// A frame at the wrong offset, or an id already used otherwise (409).
    #[error("{message}")]
    Conflict { message: String, acked: Option<u64> },
    /// Past the collector's size limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The store itself failed (500).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// What `meta.json` holds: what the listing shows that the objects' sizes
/// do not.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    kind: Kind,
    script: String,
    guest: String,
    guest_digest: String,
    created_unix_ms: u64,
    received_unix_ms: u64,
}

/// What the collector knows of a stream between frames.
#[derive(Debug, Default)]
struct StreamState {
    /// Read from the objects since the collector started.
    loaded: bool,
    exists: bool,
    size: u64,
    complete: bool,
}

/// The recordings, in an object store.
#[derive(Debug)]
pub struct Store {
    objects: Arc<dyn ObjectStore>,
    /// The prefix everything lives under.
    root: Path,
    /// Where the store is, for messages.
    describe: String,
    /// One lock per recording: its frames are stored one at a time.
    streams: Mutex<HashMap<String, Arc<tokio::sync::Mutex<StreamState>>>>,
    /// `meta.json` never changes once written.
    metas: Mutex<HashMap<String, Meta>>,
}

impl Store {
    /// A store at `spec`: a directory (created if missing), `file://DIR`,
    /// `memory://`, or `s3://BUCKET[/PREFIX]` configured from the usual
    /// `AWS_*` environment variables (`AWS_ENDPOINT` and `AWS_ALLOW_HTTP`
    /// for an S3-compatible server). `fsync` makes the local store flush
    /// every object before it is acknowledged.
    pub fn open(spec: &str, fsync: bool) -> Result<Store> {
        let (objects, root): (Arc<dyn ObjectStore>, Path) = if let Some(rest) =
            spec.strip_prefix("s3://")
        {
            let bucket = rest.split('/').next().unwrap_or_default();
            if bucket.is_empty() {
                anyhow::bail!("{spec}: no bucket (expected s3://BUCKET[/PREFIX])");
            }
            let prefix = rest[bucket.len()..].trim_matches('/');
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .with_context(|| format!("{spec}: cannot configure the S3 store"))?;
            (Arc::new(store), Path::from(prefix))
        } else if spec == "memory://" {
            (
                Arc::new(object_store::memory::InMemory::new()),
                Path::default(),
            )
        } else {
            if spec.contains("://") && !spec.starts_with("file://") {
                anyhow::bail!(
                    "{spec}: not a store this collector knows (a directory, file://, s3:// or memory://)"
                );
            }
            let dir = spec.strip_prefix("file://").unwrap_or(spec);
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {dir}"))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .with_context(|| format!("cannot open {dir} as a store"))?
                .with_fsync(fsync);
            (Arc::new(store), Path::default())
        };
        Ok(Store {
            objects,
            root,
            describe: spec.to_owned(),
            streams: Mutex::default(),
            metas: Mutex::default(),
        })
    }

    /// Whether the store answers: a listing of its top level.
    pub async fn check(&self) -> Result<()> {
        match self
            .objects
            .list_with_delimiter(Some(&self.recordings()))
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => anyhow::bail!(
                "the store {} does not answer: {}",
                self.describe,
                short_error(&err)
            ),
        }
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }

    fn path(&self, id: &str, name: &str) -> Path {
        self.recordings().clone().join(id).join(name)
    }

    fn recordings(&self) -> Path {
        self.root.clone().join("recordings")
    }

    fn part(&self, id: &str, offset: u64) -> Path {
        self.path(id, "parts").join(format!("{offset:020}"))
    }

    fn lock(&self, id: &str) -> Arc<tokio::sync::Mutex<StreamState>> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        streams.entry(id.to_owned()).or_default().clone()
    }

    /// Stores a whole recording (a crash or a snapshot) under `id`. Sending
    /// the same bytes again is acknowledged again; other bytes under a used
    /// id are refused.
    pub async fn put_whole(
        &self,
        id: &str,
        kind: Kind,
        script: &str,
        bytes: Bytes,
        max_bytes: u64,
    ) -> Result<Ack, StoreError> {
        if bytes.len() as u64 > max_bytes {
            return Err(too_large(max_bytes));
        }
        // Checked a chunk at a time, keeping nothing, on a thread of its
        // own: a large upload takes a while, and must not hold up the
        // collector's async workers.
        let checking = bytes.clone();
        let recording = tokio::task::spawn_blocking(move || Recording::check(&checking))
            .await
            .context("checking a recording")?
            .map_err(|err| StoreError::Malformed(format!("not a whole recording: {err}")))?;
        if let Some(cut) = &recording.cut {
            return Err(StoreError::Malformed(format!(
                "not a whole recording: cut at byte {}: {}",
                cut.offset, cut.reason
            )));
        }
        if recording.end.is_none() {
            return Err(StoreError::Malformed(
                "not a whole recording: it has no end chunk (send a stream frame by frame)".into(),
            ));
        }
        let lock = self.lock(id);
        let mut state = lock.lock().await;
        self.load(id, &mut state).await?;
        let data = self.path(id, "data.rwd");
        if state.exists {
            let same = match self.objects.get(&data).await {
                Ok(stored) => stored.bytes().await.context("reading a recording")? == bytes,
                Err(object_store::Error::NotFound { .. }) => false,
                Err(err) => return Err(anyhow::Error::from(err).into()),
            };
            if !same {
                return Err(StoreError::Conflict {
                    message: format!("{id} already names another recording"),
                    acked: None,
                });
            }
        } else {
            let meta = Meta {
                kind,
                script: script.to_owned(),
                guest: recording.header.guest_name.clone(),
                guest_digest: recording.header.guest_digest.clone(),
                created_unix_ms: recording.header.created_unix_ms,
                received_unix_ms: now_ms(),
            };
            // The data first: a recording is listed once its meta is there,
            // and then it is whole.
            self.put(&data, bytes.clone()).await?;
            self.put_meta(id, meta).await?;
            state.exists = true;
            state.size = bytes.len() as u64;
            state.complete = true;
        }
        Ok(Ack {
            id: id.to_owned(),
            acked: bytes.len() as u64,
            complete: true,
        })
    }

    /// Stores a frame of the stream `id` that starts at byte `offset`. A
    /// frame already stored is acknowledged again (its acknowledgement was
    /// lost); one that would leave a gap or overlap is refused with where
    /// the next frame must start.
    pub async fn append(
        &self,
        id: &str,
        offset: u64,
        script: &str,
        bytes: Bytes,
        max_bytes: u64,
    ) -> Result<Ack, StoreError> {
        let lock = self.lock(id);
        let mut state = lock.lock().await;
        self.load(id, &mut state).await?;
        let ack = |state: &StreamState| Ack {
            id: id.to_owned(),
            acked: state.size,
            complete: state.complete,
        };
        if state.exists
            && self
                .meta(id)
                .await?
                .is_some_and(|meta| meta.kind != Kind::Stream)
        {
            return Err(StoreError::Conflict {
                message: format!("{id} is a whole recording, not a stream"),
                acked: None,
            });
        }
        let end = offset.saturating_add(bytes.len() as u64);
        if offset < state.size && end <= state.size {
            return Ok(ack(&state));
        }
        if offset != state.size {
            return Err(StoreError::Conflict {
                message: format!(
                    "frame at byte {offset}, but {} bytes are stored: send from there",
                    state.size
                ),
                acked: Some(state.size),
            });
        }
        if state.complete {
            return Err(StoreError::Conflict {
                message: format!("{id} has ended; nothing follows its end chunk"),
                acked: Some(state.size),
            });
        }
        if bytes.is_empty() {
            return Ok(ack(&state));
        }
        if end > max_bytes {
            return Err(too_large(max_bytes));
        }
        let checking = bytes.clone();
        let check =
            tokio::task::spawn_blocking(move || rewind_format::check_frame(&checking, offset))
                .await
                .context("checking a frame")?
                .map_err(|err| StoreError::Malformed(format!("bad frame: {err}")))?;
        if let Some(header) = &check.header {
            let meta = Meta {
                kind: Kind::Stream,
                script: script.to_owned(),
                guest: header.guest_name.clone(),
                guest_digest: header.guest_digest.clone(),
                created_unix_ms: header.created_unix_ms,
                received_unix_ms: now_ms(),
            };
            self.put_meta(id, meta).await?;
        }
        self.put(&self.part(id, offset), bytes).await?;
        state.exists = true;
        state.size = end;
        if check.ended {
            self.put(&self.path(id, "complete"), Bytes::from(end.to_string()))
                .await?;
            state.complete = true;
        }
        Ok(ack(&state))
    }

    /// Reads what is stored of `id` into `state`, once per collector run.
    async fn load(&self, id: &str, state: &mut StreamState) -> Result<()> {
        if state.loaded {
            return Ok(());
        }
        let (size, complete, exists) = self.scan(id).await?;
        *state = StreamState {
            loaded: true,
            exists,
            size,
            complete,
        };
        Ok(())
    }

    /// A recording's stored size, whether it is complete, and whether it
    /// exists at all, from its objects.
    async fn scan(&self, id: &str) -> Result<(u64, bool, bool)> {
        let prefix = self.recordings().clone().join(id);
        let objects: Vec<_> = self
            .objects
            .list(Some(&prefix))
            .try_collect()
            .await
            .with_context(|| format!("listing {id}"))?;
        let mut parts = Vec::new();
        let (mut data, mut complete, mut meta) = (None, false, false);
        for object in &objects {
            let mut names = object.location.parts().skip(prefix.parts().count());
            match (
                names.next().as_ref().map(|part| part.as_ref()),
                names.next(),
            ) {
                (Some("data.rwd"), None) => data = Some(object.size),
                (Some("complete"), None) => complete = true,
                (Some("meta.json"), None) => meta = true,
                (Some("parts"), Some(name)) => {
                    if let Ok(offset) = name.as_ref().parse::<u64>() {
                        parts.push((offset, object.size));
                    }
                }
                _ => {}
            }
        }
        if let Some(size) = data {
            return Ok((size, meta, meta));
        }
        parts.sort_unstable();
        let mut size = 0;
        for (offset, len) in parts {
            if offset != size {
                break;
            }
            size += len;
        }
        Ok((size, complete, meta || size > 0))
    }

    async fn meta(&self, id: &str) -> Result<Option<Meta>> {
        if let Some(meta) = self.metas_cache().get(id) {
            return Ok(Some(meta.clone()));
        }
        let meta = match self.objects.get(&self.path(id, "meta.json")).await {
            Ok(found) => found.bytes().await.context("reading a recording's meta")?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let meta: Meta = serde_json::from_slice(&meta).context("a recording's meta is damaged")?;
        self.metas_cache().insert(id.to_owned(), meta.clone());
        Ok(Some(meta))
    }

    fn metas_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Meta>> {
        self.metas.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn put_meta(&self, id: &str, meta: Meta) -> Result<()> {
        let json = serde_json::to_vec(&meta)?;
        self.put(&self.path(id, "meta.json"), Bytes::from(json))
            .await?;
        self.metas_cache().insert(id.to_owned(), meta);
        Ok(())
    }

    async fn put(&self, path: &Path, bytes: Bytes) -> Result<()> {
        let options = PutOptions {
            mode: PutMode::Overwrite,
            ..Default::default()
        };
        self.objects
            .put_opts(path, PutPayload::from_bytes(bytes), options)
            .await
            .with_context(|| format!("writing {path} into {}", self.describe))?;
        Ok(())
    }

    /// What is known of `id`, or `None` when nothing is stored under it.
    pub async fn info(&self, id: &str) -> Result<Option<RecordingInfo>> {
        let Some(meta) = self.meta(id).await? else {
            return Ok(None);
        };
        let (size, complete) = {
            let lock = self.lock(id);
            let mut state = lock.lock().await;
            // A fresh look at the objects: another collector may share the
            // store.
            state.loaded = false;
            self.load(id, &mut state).await?;
            (state.size, state.complete)
        };
        Ok(Some(RecordingInfo {
            id: id.to_owned(),
            kind: meta.kind,
            script: meta.script,
            guest: meta.guest,
            guest_digest: meta.guest_digest,
            created_unix_ms: meta.created_unix_ms,
            received_unix_ms: meta.received_unix_ms,
            size,
            complete,
        }))
    }

    /// Every recording, newest first.
    pub async fn list(&self) -> Result<Vec<RecordingInfo>> {
        let listing = self
            .objects
            .list_with_delimiter(Some(&self.recordings()))
            .await
            .context("listing recordings")?;
        let mut infos = Vec::new();
        for prefix in listing.common_prefixes {
            let Some(id) = prefix.filename() else {
                continue;
            };
            if let Some(info) = self.info(id).await? {
                infos.push(info);
            }
        }
        infos.sort_by(|a, b| (b.created_unix_ms, &b.id).cmp(&(a.created_unix_ms, &a.id)));
        Ok(infos)
    }

    /// The stored bytes of `id`, as a stream of pieces, with what is known
    /// of it; `None` when nothing is stored under it.
    pub async fn read(
        &self,
        id: &str,
    ) -> Result<
        Option<(
            RecordingInfo,
            futures::stream::BoxStream<'static, Result<Bytes>>,
        )>,
    > {
        let Some(info) = self.info(id).await? else {
            return Ok(None);
        };
        let objects = self.objects.clone();
        let pieces: Vec<Path> = if info.kind == Kind::Stream {
            let mut parts = Vec::new();
            let mut offset = 0;
            // The parts were listed by `info`; their names follow from
            // their offsets, which follow from their sizes.
            let prefix = self.path(id, "parts");
            let mut listed: Vec<_> = self
                .objects
                .list(Some(&prefix))
                .try_collect::<Vec<_>>()
                .await
                .context("listing a stream's parts")?
                .into_iter()
                .filter_map(|object| {
                    let offset = object.location.filename()?.parse::<u64>().ok()?;
                    Some((offset, object.size, object.location))
                })
                .collect();
            listed.sort_unstable_by_key(|(offset, ..)| *offset);
            for (at, len, path) in listed {
                if at != offset || offset >= info.size {
                    break;
                }
                offset += len;
                parts.push(path);
            }
            parts
        } else {
            vec![self.path(id, "data.rwd")]
        };
        let stream = futures::stream::iter(pieces)
            .then(move |path| {
                let objects = objects.clone();
                async move {
                    let found = objects.get(&path).await?;
                    found.bytes().await
                }
            })
            .map_err(anyhow::Error::from)
            .boxed();
        Ok(Some((info, stream)))
    }
}

/// One line for a store's error: S3's own code and message when it sent
/// them (`NoSuchBucket: The specified bucket does not exist`), else the
/// innermost cause's first line.
pub(crate) fn short_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = err;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let text = innermost.to_string();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find('<')? + start;
        Some(text[start..end].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}

fn too_large(max_bytes: u64) -> StoreError {
    StoreError::TooLarge(format!(
        "the recording would pass this collector's limit of {max_bytes} bytes"
    ))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
