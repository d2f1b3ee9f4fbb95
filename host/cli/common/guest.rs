//! The guests `rewind` runs: one of the two Python guests built into this
//! binary, or a component file; compiled once for this machine and loaded
//! from the cache after that; and, for a recording, the guest that made it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rewind_runtime::{
    CacheEvent, CompileError, Component, ComponentCache, ComponentSource, DirGrant, RecordingFile,
    Runtime,
};

use super::status::{UsageError, io_message};

/// Which Python runs a script (`--python`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Python {
    /// RustPython, Rewind's own VM, instrumented from inside: a native
    /// tracer and a fine-grained position for windows of events.
    #[default]
    Rustpython,
    /// CPython 3.14 (componentize-py): faster, and the whole standard
    /// library as python3 has it.
    Cpython,
}

impl Python {
    /// The guest's component, built into this binary.
    fn guest(self) -> rewind_guests::Guest {
        match self {
            Python::Rustpython => rewind_guests::PYTHON,
            Python::Cpython => rewind_guests::CPYTHON,
        }
    }

    /// The built-in guest named `name`, as a recording names it.
    fn named(name: &str) -> Option<Python> {
        [Python::Rustpython, Python::Cpython]
            .into_iter()
            .find(|python| python.guest().name == name)
    }

    /// The guest as a component to run.
    pub fn source(self) -> ComponentSource {
        let guest = self.guest();
        ComponentSource::with_digest(guest.name, guest.wasm, guest.digest)
    }

    /// How many times slower than the run a traced re-execution may be, at
    /// worst, when it is more than re-execution's bound assumes (ten): the
    /// CPython guest's tracer is Python code, up to about 400x
    /// (docs/benchmarks.md). Recorded with the run, so that re-execution's
    /// derived time bound allows for it.
    pub fn tracing_slowdown(self) -> Option<u32> {
        match self {
            Python::Rustpython => None,
            Python::Cpython => Some(500),
        }
    }

    /// Adds to the program's `grants` what the guest needs besides: the
    /// CPython guest's standard library, read-only at `/python`, unpacked
    /// into the cache on first use. A grant of the program's there is a
    /// usage error.
    pub fn add_grants(self, grants: &mut Vec<DirGrant>) -> Result<()> {
        if self == Python::Rustpython {
            return Ok(());
        }
        let stdlib = CPYTHON_STDLIB_PATH;
        if let Some(grant) = grants
            .iter()
            .find(|grant| grant.guest == stdlib || grant.guest.starts_with(&format!("{stdlib}/")))
        {
            return Err(UsageError(format!(
                "{} is granted at {}, where the CPython guest has its standard library; \
                 grant it somewhere else (HOST_DIR::GUEST_DIR)",
                grant.host.display(),
                grant.guest
            ))
            .into());
        }
        grants.push(DirGrant {
            host: cpython_stdlib()?,
            guest: stdlib.to_owned(),
            writable: false,
        });
        Ok(())
    }
}

/// `--python`, shared by the commands that start a Python guest.
#[derive(Debug, Clone, clap::Args)]
pub struct PythonArg {
    /// Which Python runs the program: `rustpython` (Rewind's own VM, with
    /// the native tracer and the cheapest recordings to read back) or
    /// `cpython` (CPython 3.14: faster, the whole standard library; see
    /// docs/cpython.md). Recordings name theirs, and re-execute with it.
    #[arg(
        long,
        value_name = "PYTHON",
        value_enum,
        env = "REWIND_PYTHON",
        default_value_t = Python::default(),
        hide_env_values = true
    )]
    pub python: Python,
}

/// Where the CPython guest finds its standard library.
const CPYTHON_STDLIB_PATH: &str = "/python";

/// How messages name a guest.
pub fn describe(source: &ComponentSource) -> String {
    match Python::named(source.name()) {
        Some(Python::Rustpython) => "the Python guest".to_owned(),
        Some(Python::Cpython) => "the CPython guest".to_owned(),
        None => format!("{}.wasm", source.name()),
    }
}

/// The CPython guest's standard library, unpacked once into the cache
/// directory (under its digest) and read from there after that; into the
/// system's temporary directory when the cache cannot be written.
fn cpython_stdlib() -> Result<PathBuf> {
    let archive = rewind_guests::CPYTHON_STDLIB;
    let hex = archive.digest.trim_start_matches("sha256:");
    let name = format!("cpython-stdlib-{}", &hex[..16]);
    let cache = ComponentCache::default_dir();
    if let Some(dir) = cache.as_ref().map(|cache| cache.join(&name))
        && dir.join(UNPACKED).exists()
    {
        return Ok(dir);
    }
    let fallback = std::env::temp_dir().join(format!("rewind-{name}"));
    if fallback.join(UNPACKED).exists() {
        return Ok(fallback);
    }
    eprintln!("rewind: unpacking the CPython guest's standard library (first run only)...");
    let first = match &cache {
        Some(cache) => unpack_into(cache, &name, archive),
        None => Err(anyhow::anyhow!("no cache directory")),
    };
    first.or_else(|err| {
        tracing::debug!("unpacking into the cache failed: {err:#}");
        unpack_into(&std::env::temp_dir(), &format!("rewind-{name}"), archive)
    })
}

/// Unpacks `archive` as `parent/name`, whole or not at all.
fn unpack_into(parent: &Path, name: &str, archive: rewind_guests::Archive) -> Result<PathBuf> {
    let dir = parent.join(name);
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    unpack(archive.tar_zst, partial.path())
        .context("cannot unpack the CPython guest's standard library")?;
    std::fs::write(partial.path().join(UNPACKED), archive.digest)?;
    match std::fs::rename(partial.path(), &dir) {
        // Kept: it is the directory now.
        Ok(()) => drop(partial.keep()),
        // Another run unpacked it first: use that one.
        Err(_) if dir.join(UNPACKED).exists() => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot create {}", dir.display()));
        }
    }
    Ok(dir)
}

/// The file that says a standard library directory is whole.
const UNPACKED: &str = ".unpacked";

fn unpack(tar_zst: &[u8], into: &Path) -> Result<()> {
    let decoder = zstd::Decoder::new(tar_zst)?;
    let mut archive = tar::Archive::new(decoder);
    archive.set_preserve_mtime(false);
    archive.unpack(into)?;
    Ok(())
}

/// The compiled `source`, from the cache in `~/.cache/rewind` (or
/// REWIND_CACHE_DIR), compiled into it first when it is not there; a
/// compile long enough to notice is announced on stderr.
pub fn load(runtime: &Runtime, source: &ComponentSource) -> Result<Component> {
    let what = describe(source);
    let bytes = source.bytes();
    if bytes.starts_with(b"\0asm\x01\0\0\0") {
        return Err(UsageError(format!(
            "{what} is a core WebAssembly module; rewind runs components (wasm32-wasip2)"
        ))
        .into());
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(UsageError(format!("{what} is not a WebAssembly component")).into());
    }
    let dir = ComponentCache::default_dir()
        .context("no cache directory: set REWIND_CACHE_DIR or HOME")?;
    let cache = ComponentCache::new(dir);
    // Small components compile in an instant: only big ones are announced.
    let announce = bytes.len() > 1 << 20;
    let how_long = if bytes.len() > 8 << 20 {
        ", about 20 s"
    } else {
        ""
    };
    let mut progress = |event| match event {
        _ if !announce => {}
        CacheEvent::Compiling => {
            eprintln!("rewind: compiling {what} for this machine (first run only{how_long})...")
        }
        CacheEvent::Recompiling => {
            eprintln!("rewind: the cached {what} failed its check; compiling it again{how_long}...")
        }
        CacheEvent::Uncached => {
            eprintln!("rewind: the cache directory is not writable; compiling {what}{how_long}...")
        }
    };
    cache
        .load_or_compile(runtime.engine(), source, &mut progress)
        .map_err(|err| {
            // A component that does not compile is a bad input, as one that
            // is not a component at all.
            if err.is::<CompileError>() {
                UsageError(format!("{what} cannot be loaded: {err:#}")).into()
            } else {
                err.context(format!("{what} cannot be loaded"))
            }
        })
}

/// The guest a recording was made by: the Python guest built into this
/// binary, or a component file (`guest`, else where it was recorded),
/// checked against the recorded digest.
pub fn of_recording(file: &RecordingFile, guest: Option<&PathBuf>) -> Result<ComponentSource> {
    let header = &file.recording.header;
    if let (None, Some(python)) = (guest, Python::named(&header.guest_name)) {
        let source = python.source();
        if header.guest_digest != source.digest() {
            anyhow::bail!(
                "{} was recorded by another build of {} ({}; this rewind has {}): \
                 it cannot be re-executed here",
                file.path.display(),
                describe(&source),
                header.guest_digest,
                source.digest()
            );
        }
        return Ok(source);
    }
    let path = match guest {
        Some(path) => path.clone(),
        None => match file.setting("guest-path") {
            Some(path) => PathBuf::from(path),
            None => {
                return Err(UsageError(format!(
                    "{} was recorded by guest {:?}: give its component with --guest WASM",
                    file.path.display(),
                    header.guest_name
                ))
                .into());
            }
        },
    };
    let wasm = std::fs::read(&path).map_err(|err| {
        UsageError(format!(
            "cannot read the guest {}: {} (give it with --guest WASM)",
            path.display(),
            io_message(&err)
        ))
    })?;
    let source = ComponentSource::from_bytes(&header.guest_name, wasm);
    if source.digest() != header.guest_digest {
        anyhow::bail!(
            "{} is not the guest {} was recorded with ({} is {}, the recording needs {})",
            path.display(),
            file.path.display(),
            path.display(),
            source.digest(),
            header.guest_digest
        );
    }
    Ok(source)
}
