//! Rewind's patches of crates.io crates, applied at build time: each crate's
//! source as cargo downloaded it, copied out of cargo's registry, with its
//! patch applied, into a directory the guest workspace's `[patch.crates-io]`
//! points at. Nothing of the crates is in the repository but the patches.
//!
//! Shared by the build script, which prepares the directories, and by this
//! crate's tests, which check that every patch still applies.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A crate the guest patches: its name, its exact version, and the patch's
/// file name in `guest/patches/`.
#[derive(Clone, Copy, Debug)]
pub struct Patch {
    pub krate: &'static str,
    pub version: &'static str,
    pub file: &'static str,
}

/// Every crate the guest patches (`guest/patches/README.md` says why).
pub const PATCHES: &[Patch] = &[
    Patch {
        krate: "rustpython-vm",
        version: "0.6.0",
        file: "rustpython-vm-0.6.0.patch",
    },
    Patch {
        krate: "rustpython-compiler",
        version: "0.6.0",
        file: "rustpython-compiler-0.6.0.patch",
    },
    Patch {
        krate: "rustpython-stdlib",
        version: "0.6.0",
        file: "rustpython-stdlib-0.6.0.patch",
    },
    Patch {
        krate: "rustpython-common",
        version: "0.6.0",
        file: "rustpython-common-0.6.0.patch",
    },
    Patch {
        krate: "rustpython-pylib",
        version: "0.6.0",
        file: "rustpython-pylib-0.6.0.patch",
    },
];

impl Patch {
    /// Where the patched copy goes, from the repository's root: the guest
    /// workspace's `Cargo.toml` names this path.
    pub fn patched_dir(&self, repo: &Path) -> PathBuf {
        repo.join("target/rewind-patched")
            .join(format!("{}-{}", self.krate, self.version))
    }
}

/// The directory of the crate's pristine source in cargo's registry,
/// downloaded (and checked against the registry's checksum) by cargo
/// itself: `cargo metadata` on a throwaway package depending on it, in
/// `scratch`.
pub fn pristine_source(cargo: &Path, scratch: &Path, patch: Patch) -> Result<PathBuf, String> {
    let Patch {
        krate: name,
        version,
        ..
    } = patch;
    std::fs::create_dir_all(scratch)
        .map_err(|err| format!("creating {}: {err}", scratch.display()))?;
    let manifest = scratch.join("Cargo.toml");
    let text = format!(
        "[package]\nname = \"rewind-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\npath = \"lib.rs\"\n\n\
         [dependencies]\n{name} = {{ version = \"={version}\", default-features = false }}\n\n\
         [workspace]\n"
    );
    std::fs::write(&manifest, text)
        .map_err(|err| format!("writing {}: {err}", manifest.display()))?;
    std::fs::write(scratch.join("lib.rs"), "").map_err(|err| err.to_string())?;
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .map_err(|err| format!("running cargo metadata: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata could not fetch {name} {version}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|err| format!("reading cargo metadata's output: {err}"))?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == name && package["version"] == version)
        .ok_or_else(|| format!("cargo metadata does not list {name} {version}"))?;
    let manifest_path = package["manifest_path"]
        .as_str()
        .ok_or_else(|| format!("no manifest path for {name} {version}"))?;
    Ok(Path::new(manifest_path)
        .parent()
        .ok_or("a manifest path without a directory")?
        .to_owned())
}

/// Copies the crate's source from `pristine` into `dest` (replacing what is
/// there) and applies `patch`, a multi-file unified diff with paths like
/// `a/src/frame.rs`. The patch must apply exactly: no fuzz, no offsets
/// beyond what the hunks say.
pub fn apply(pristine: &Path, patch: &str, dest: &Path) -> Result<(), String> {
    let files = split(patch)?;
    let source = pristine.file_name().map_or_else(
        || pristine.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let staging = dest.with_extension("staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .map_err(|err| format!("clearing {}: {err}", staging.display()))?;
    }
    copy_dir(pristine, &staging)?;
    for (path, file_patch) in &files {
        let target = staging.join(path);
        let base = std::fs::read_to_string(&target)
            .map_err(|err| format!("reading {}: {err}", target.display()))?;
        let parsed = diffy::Patch::from_str(file_patch)
            .map_err(|err| format!("the patch of {path} does not parse: {err}"))?;
        let patched = diffy::apply(&base, &parsed).map_err(|err| {
            format!("the patch of {path} does not apply to {source}'s source: {err}")
        })?;
        // Sources may come out of the registry read-only.
        let mut permissions = std::fs::metadata(&target)
            .map_err(|err| err.to_string())?
            .permissions();
        #[expect(
            clippy::permissions_set_readonly_false,
            reason = "the copy is ours to patch"
        )]
        permissions.set_readonly(false);
        std::fs::set_permissions(&target, permissions).map_err(|err| err.to_string())?;
        std::fs::write(&target, patched)
            .map_err(|err| format!("writing {}: {err}", target.display()))?;
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest)
            .map_err(|err| format!("clearing {}: {err}", dest.display()))?;
    }
    std::fs::rename(&staging, dest).map_err(|err| format!("moving into {}: {err}", dest.display()))
}

/// The files a multi-file diff changes, each with its own diff (from its
/// `---` line), in order. Text before the first file is a description.
fn split(patch: &str) -> Result<Vec<(String, String)>, String> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in patch.split_inclusive('\n') {
        if line.starts_with("diff ") {
            files.extend(current.take());
            continue;
        }
        if let Some(path) = line.strip_prefix("--- a/")
            && current.is_none()
        {
            current = Some((path.trim_end().to_owned(), String::new()));
        }
        if let Some((_, text)) = &mut current {
            text.push_str(line);
        }
    }
    files.extend(current);
    if files.is_empty() {
        return Err("the patch changes no file".into());
    }
    Ok(files)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|err| format!("creating {}: {err}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|err| format!("reading {}: {err}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|err| err.to_string())?;
        let kind = entry.file_type().map_err(|err| err.to_string())?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if kind.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .map_err(|err| format!("copying {}: {err}", source.display()))?;
        }
    }
    Ok(())
}
