//! The on-disk cache of compiled guest components.
//!
//! Compiling the Python guest (32 MB of wasm) takes Cranelift 12–20 s; loading
//! its compiled form from disk takes milliseconds. So the first run compiles
//! and stores the result, and every later run memory-maps it.
//!
//! An entry is keyed by the guest's digest, the wasmtime version and the
//! engine's compatibility hash, so a new guest build, a wasmtime upgrade or a
//! changed engine setting each miss the cache rather than load stale code.
//! Because loading compiled code is trusting it, an entry is never taken on
//! its name alone: a checksum file written after the code records its length
//! and xxh3-128 hash, and an entry whose code does not match is compiled
//! again. Hashing 64 MB costs more than the rest of start-up, so the checksum
//! file also records the code file's identity when it was last verified
//! (device, inode, size, modification and change times): while that is
//! unchanged the file has not been written since, and the hash is skipped.
//! Any write to the file (even one that restores its times, which moves the
//! change time) makes the next run hash it in full. Both files are written to
//! a temporary name and renamed into place, and a lock file keeps concurrent
//! runs from compiling the same guest twice.

use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::source::ComponentSource;

/// What the cache is doing, for progress messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEvent {
    /// No cached entry: compiling (the slow path).
    Compiling,
    /// A cached entry failed its check and is being compiled again.
    Recompiling,
    /// The cache directory cannot be written; compiling in memory, every run.
    Uncached,
}

/// Compiled components on disk.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

/// The checksum file beside each compiled entry.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Check {
    guest_digest: String,
    wasmtime: String,
    len: u64,
    xxh3_128: String,
    /// The code file's identity when its hash last matched.
    #[serde(default)]
    verified: Option<FileStamp>,
}

/// What changes whenever a file is written, replaced or truncated.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    fn of(metadata: &fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt as _;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        FileStamp {
            dev: metadata.dev(),
            ino: metadata.ino(),
            len: metadata.len(),
            mtime_ns: ns(metadata.mtime(), metadata.mtime_nsec()),
            ctime_ns: ns(metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

impl ComponentCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> ComponentCache {
        ComponentCache { dir: dir.into() }
    }

    /// `$REWIND_CACHE_DIR`, else `$XDG_CACHE_HOME/rewind`, else
    /// `$HOME/.cache/rewind`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("REWIND_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("rewind")))
            .or_else(|| var("HOME").map(|d| d.join(".cache").join("rewind")))
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The compiled form of `source`, from the cache when a valid entry
    /// exists, compiled (and stored) otherwise. `progress` hears about the
    /// slow paths before they start.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        source: &ComponentSource,
        progress: &mut dyn FnMut(CacheEvent),
    ) -> Result<Component> {
        let stem = format!("{}-{}", source.name(), entry_key(engine, source));
        let code_path = self.dir.join(format!("{stem}.cwasm"));
        let check_path = self.dir.join(format!("{stem}.check"));

        let lock = match self.lock(&stem) {
            Ok(lock) => lock,
            Err(err) => {
                tracing::warn!("cache unavailable: {err:#}");
                progress(CacheEvent::Uncached);
                return compile(engine, source);
            }
        };

        let expected = Check {
            guest_digest: source.digest().to_owned(),
            wasmtime: wasmtime_version().to_owned(),
            len: 0,
            xxh3_128: String::new(),
            verified: None,
        };
        let existed = code_path.exists() || check_path.exists();
        if existed {
            match verify(&self.dir, &code_path, &check_path, &expected) {
                Ok(()) => {
                    // SAFETY: the file was written by `store` below from
                    // `Engine::precompile_component` output of an engine with
                    // this configuration (the key says so), and its checksum
                    // matches what was written, so it is that output.
                    let loaded = unsafe { Component::deserialize_file(engine, &code_path) };
                    match loaded {
                        Ok(component) => return Ok(component),
                        Err(err) => tracing::warn!("cached guest does not load: {err:#}"),
                    }
                }
                Err(err) => tracing::warn!("cached guest rejected: {err:#}"),
            }
        }

        progress(if existed {
            CacheEvent::Recompiling
        } else {
            CacheEvent::Compiling
        });
        let code = compile_for_cache(engine, source)?;
        if let Err(err) = store(&self.dir, &code_path, &check_path, &code, expected) {
            tracing::warn!("cannot store compiled guest: {err:#}");
        }
        drop(lock);
        self.prune(source.name(), &stem);
        load_fresh(engine, &code)
    }

    /// How many entries of one guest to keep: each is tens of megabytes, and
    /// every new build of the guest (or of wasmtime) makes another.
    const KEEP_PER_GUEST: usize = 3;

    /// Removes all but the most recently used entries of guest `name`; `keep`
    /// (the entry just written) always stays. An entry's lock file is
    /// rewritten on every use, so its modification time is its last use.
    fn prune(&self, name: &str, keep: &str) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{name}-");
        let mut stems: Vec<(std::time::SystemTime, String)> = entries
            .flatten()
            .filter_map(|entry| {
                let file_name = entry.file_name().into_string().ok()?;
                let stem = file_name.strip_suffix(".lock")?;
                let rest = stem.strip_prefix(&prefix)?;
                // Only `{name}-{key}`: another guest's name may extend ours.
                if rest.contains('-') || stem == keep {
                    return None;
                }
                let used = entry.metadata().and_then(|m| m.modified()).ok()?;
                Some((used, stem.to_owned()))
            })
            .collect();
        stems.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        for (_, stem) in stems.into_iter().skip(Self::KEEP_PER_GUEST - 1) {
            // Under the entry's lock, so that a run using it is not pulled
            // from under; an entry in use elsewhere is skipped.
            let Ok(lock) = File::options()
                .write(true)
                .open(self.dir.join(format!("{stem}.lock")))
            else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue;
            }
            for ext in ["cwasm", "check", "lock"] {
                let _ = fs::remove_file(self.dir.join(format!("{stem}.{ext}")));
            }
            tracing::debug!("pruned cache entry {stem}");
        }
    }

    fn lock(&self, stem: &str) -> Result<File> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(format!("{stem}.lock"));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
    }
}

fn compile(engine: &Engine, source: &ComponentSource) -> Result<Component> {
    load_fresh(engine, &compile_for_cache(engine, source)?)
}

/// Loads what [`compile_for_cache`] just produced.
fn load_fresh(engine: &Engine, code: &[u8]) -> Result<Component> {
    // SAFETY: `code` is `precompile_component` output of this very engine,
    // produced in this process a moment ago.
    unsafe { Component::deserialize(engine, code) }
        .map_err(anyhow::Error::from)
        .context("loading the freshly compiled guest")
}

/// The guest, pre-initialised when it offers to be, compiled by `engine`.
fn compile_for_cache(engine: &Engine, source: &ComponentSource) -> Result<Vec<u8>> {
    let snapshot;
    let wasm = if crate::preinit::wants_preinit(source.bytes()) {
        snapshot = crate::preinit::preinitialize(source.bytes())?;
        &snapshot[..]
    } else {
        source.bytes()
    };
    engine
        .precompile_component(wasm)
        .map_err(anyhow::Error::from)
        .context(CompileError(source.name().to_owned()))
}

/// wasmtime refused to compile a guest (the context of its reason): the
/// component's bytes are at fault, they do not parse or validate, not the
/// host.
#[derive(Debug, thiserror::Error)]
#[error("compiling guest `{0}`")]
pub struct CompileError(String);

fn wasmtime_version() -> &'static str {
    // The runtime crate is built against exactly one wasmtime; its version is
    // part of every key, so an upgrade never loads another version's code.
    env!("REWIND_WASMTIME_VERSION")
}

/// A hex key naming everything that makes compiled code valid for this
/// process: the guest, the wasmtime version and the engine's settings.
fn entry_key(engine: &Engine, source: &ComponentSource) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut key = Sha256::new();
    key.update(source.digest().as_bytes());
    key.update(b"\0");
    key.update(wasmtime_version().as_bytes());
    key.update(b"\0");
    key.update(engine_hash.finish().to_le_bytes());
    let key = format!("{:x}", key.finalize());
    key[..24].to_owned()
}

fn checksum(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// Checks the code file against its checksum file: in full, unless the file
/// is provably unchanged since it last passed.
fn verify(dir: &Path, code_path: &Path, check_path: &Path, expected: &Check) -> Result<()> {
    let check = fs::read(check_path).context("reading the checksum file")?;
    let mut check: Check = serde_json::from_slice(&check).context("parsing the checksum file")?;
    if check.guest_digest != expected.guest_digest || check.wasmtime != expected.wasmtime {
        bail!("entry is for another guest or wasmtime");
    }
    let file = File::open(code_path).context("opening the compiled guest")?;
    let stamp = FileStamp::of(&file.metadata()?);
    if stamp.len != check.len {
        bail!(
            "compiled guest is {} bytes, expected {}",
            stamp.len,
            check.len
        );
    }
    if check.verified == Some(stamp) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    // SAFETY: the map is read-only and dropped before returning; a concurrent
    // writer would have to bypass the lock we hold.
    let map = unsafe { memmap2::Mmap::map(&file) }.context("mapping the compiled guest")?;
    if checksum(&map) != check.xxh3_128 {
        bail!("compiled guest does not match its checksum");
    }
    tracing::debug!("compiled guest hashed in {:?}", started.elapsed());
    check.verified = Some(stamp);
    if let Err(err) = write_atomically(dir, check_path, &serde_json::to_vec_pretty(&check)?) {
        tracing::debug!("cannot record the verification: {err:#}");
    }
    Ok(())
}

fn store(
    dir: &Path,
    code_path: &Path,
    check_path: &Path,
    code: &[u8],
    mut check: Check,
) -> Result<()> {
    check.len = code.len() as u64;
    check.xxh3_128 = checksum(code);
    // The checksum goes last: an entry interrupted half-way has code without
    // a matching checksum and is compiled again.
    let _ = fs::remove_file(check_path);
    write_atomically(dir, code_path, code)?;
    // Stamped after the rename, which itself moves the change time.
    check.verified = Some(FileStamp::of(&fs::metadata(code_path)?));
    write_atomically(dir, check_path, &serde_json::to_vec_pretty(&check)?)?;
    Ok(())
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}
