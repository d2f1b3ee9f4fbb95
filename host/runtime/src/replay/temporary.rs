//! The materialized events' temporary file, while a re-execution writes
//! them: `.NAME.PID.materializing` beside the recording, renamed into place
//! only when complete. A failed materialization removes it (dropping it
//! does); an interrupted one removes it in [`remove_all`], which the
//! process's signal handler calls; one killed outright leaves it behind,
//! and the next materialization in that directory sweeps it
//! ([`sweep_stale`]): its process is gone.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use tempfile::NamedTempFile;

/// The temporary files of materializations under way in this process.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

const SUFFIX: &str = ".materializing";

/// A temporary file for the events of `recording`, in `dir`.
pub(crate) struct Temporary {
    file: Option<NamedTempFile>,
}

impl Temporary {
    pub(crate) fn new(dir: &Path, recording: &Path) -> anyhow::Result<Temporary> {
        sweep_stale(dir);
        let name = recording
            .file_name()
            .map_or_else(|| "recording".into(), |name| name.to_string_lossy());
        let file = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(&format!(".{}{SUFFIX}", std::process::id()))
            .tempfile_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        lock().push(file.path().to_owned());
        Ok(Temporary { file: Some(file) })
    }

    pub(crate) fn reopen(&self) -> std::io::Result<std::fs::File> {
        self.file().reopen()
    }

    /// Renames the file into place at `to`.
    pub(crate) fn persist(mut self, to: &Path) -> anyhow::Result<()> {
        let file = self.file.take().context("the temporary file is gone")?;
        let path = file.path().to_owned();
        let result = file.persist(to);
        forget(&path);
        result.with_context(|| format!("cannot write {}", to.display()))?;
        Ok(())
    }

    fn file(&self) -> &NamedTempFile {
        self.file.as_ref().expect("present until persisted")
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            forget(file.path());
            // Dropping the file removes it.
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(path: &Path) {
    lock().retain(|live| live != path);
}

/// Removes the temporary files of every materialization under way: for a
/// signal handler, just before the process exits. Returns how many.
pub fn remove_all() -> usize {
    let live = std::mem::take(&mut *lock());
    live.iter()
        .filter(|path| std::fs::remove_file(path).is_ok())
        .count()
}

/// Removes the temporary files in `dir` that a materialization killed
/// outright left behind: those whose process no longer runs. Where that
/// cannot be known, those more than a day old.
fn sweep_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = stale_pid(name) else { continue };
        if pid == std::process::id() || running(pid, &entry) {
            continue;
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

/// The process id in a temporary file's name, `.NAME.RANDOM.PID.materializing`.
fn stale_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(SUFFIX)?;
    let (_, pid) = rest.rsplit_once('.')?;
    pid.parse().ok()
}

#[cfg(target_os = "linux")]
fn running(pid: u32, _entry: &std::fs::DirEntry) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(not(target_os = "linux"))]
fn running(_pid: u32, entry: &std::fs::DirEntry) -> bool {
    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    entry
        .metadata()
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_none_or(|age| age < DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_s_file_is_swept_and_a_live_one_s_is_not() {
        let dir = tempfile::tempdir().unwrap();
        // No process has pid 0 in /proc; this process is live.
        let dead = dir.path().join(".a.rwd.x1y2z3.0.materializing");
        let live = dir.path().join(format!(
            ".a.rwd.x1y2z3.{}.materializing",
            std::process::id()
        ));
        let other = dir.path().join(".a.rwd.materializing.txt");
        for path in [&dead, &live, &other] {
            std::fs::write(path, "x").unwrap();
        }
        sweep_stale(dir.path());
        assert!(!dead.exists());
        assert!(live.exists());
        assert!(other.exists());
    }

    #[test]
    fn a_temporary_file_is_gone_after_remove_all_and_after_a_drop() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("run.rwd");
        let first = Temporary::new(dir.path(), &recording).unwrap();
        let path = first.file().path().to_owned();
        assert!(path.exists());
        assert_eq!(
            stale_pid(&path.file_name().unwrap().to_string_lossy()),
            Some(std::process::id())
        );
        drop(first);
        assert!(!path.exists());

        let second = Temporary::new(dir.path(), &recording).unwrap();
        let path = second.file().path().to_owned();
        assert!(remove_all() >= 1);
        assert!(!path.exists());
        drop(second);
    }
}
