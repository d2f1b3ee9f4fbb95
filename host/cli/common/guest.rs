//! The guests `rewind` runs: the Python guest built into this binary, or a
//! component file; compiled once for this machine and loaded from the
//! cache after that; and, for a recording, the guest that made it.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use rewind_runtime::{
    CacheEvent, CompileError, Component, ComponentCache, ComponentSource, RecordingFile, Runtime,
};

use super::status::{UsageError, io_message};

/// The Python guest built into this binary.
pub fn python() -> ComponentSource {
    let guest = rewind_guests::PYTHON;
    ComponentSource::with_digest(guest.name, guest.wasm, guest.digest)
}

/// How messages name a guest.
pub fn describe(source: &ComponentSource) -> String {
    match source.name() {
        name if name == rewind_guests::PYTHON.name => "the Python guest".to_owned(),
        name => format!("{name}.wasm"),
    }
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
    let python = rewind_guests::PYTHON;
    if guest.is_none() && header.guest_name == python.name {
        if header.guest_digest != python.digest {
            anyhow::bail!(
                "{} was recorded by another build of the Python guest ({}; this rewind has {}): \
                 it cannot be re-executed here",
                file.path.display(),
                header.guest_digest,
                python.digest
            );
        }
        return Ok(self::python());
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
