//! Builds the CPython guest: CPython 3.14 for wasm32-wasi, made a component
//! of the `cpython` world (`wit/python.wit`) by componentize-py, with the
//! Python files of `guest/cpython/` and the `revdebug` modules the
//! RustPython guest has (`guest/python/src/*.py`).
//!
//! componentize-py is the release on PyPI (a wheel holding the tool, CPython
//! and its standard library), installed once by `python3 -m pip` beside the
//! guests' target directory and checked against its pinned digest. It
//! pre-initialises the component itself, running `_rewind_guest.py`'s top
//! level with the standard library mounted at `/python`; that code also
//! copies the standard library out (to the directory mounted at `/1`),
//! which this script packs as a zstd-compressed tar for the host to grant
//! read-only at `/python` at run time. A module the snapshot does not hold
//! is then imported from there, as python3 imports it.
//!
//! The result is kept under a digest of everything it is made from, so that
//! a build of the other guests does not make it again.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

use super::fail;

/// The componentize-py release used, and the digests of its wheels.
const COMPONENTIZE_PY: &str = "0.25.1";
const WHEELS: &[(&str, &str)] = &[(
    "componentize_py-0.25.1-cp39-abi3-manylinux_2_28_x86_64.whl",
    "8623cd8cab8453cb0cd8bf03f3c7103420d06f2f3d360186a280a70a1ca5e89f",
)];

/// The Python files of the guest: (source, path in the app directory).
fn app_files(guest_dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let cpython = guest_dir.join("cpython");
    let shared = guest_dir.join("python/src");
    vec![
        (cpython.join("_rewind_guest.py"), "_rewind_guest.py"),
        (cpython.join("_rewind.py"), "_rewind.py"),
        (cpython.join("_rewind_tracer.py"), "_rewind_tracer.py"),
        (shared.join("revdebug.py"), "revdebug/__init__.py"),
        (shared.join("registry.py"), "revdebug/registry.py"),
        (shared.join("serve.py"), "revdebug/serve.py"),
        (shared.join("platform.py"), "_rewind_platform.py"),
    ]
}

/// The built guest: its component and its standard library archive.
pub struct Built {
    pub wasm: PathBuf,
    pub stdlib: PathBuf,
}

/// Builds the CPython guest into `work` (a directory shared by every
/// profile), or finds it there.
pub fn build(guest_dir: &Path, wit_dir: &Path, work: &Path) -> Built {
    let files = app_files(guest_dir);
    let mut wit_files = Vec::new();
    collect_files(wit_dir, &mut wit_files);
    wit_files.sort();

    let mut inputs = Sha256::new();
    inputs.update(COMPONENTIZE_PY.as_bytes());
    for (source, name) in &files {
        println!("cargo::rerun-if-changed={}", source.display());
        let bytes = std::fs::read(source)
            .unwrap_or_else(|err| fail(&format!("reading {}: {err}", source.display())));
        inputs.update(name.as_bytes());
        inputs.update((bytes.len() as u64).to_le_bytes());
        inputs.update(&bytes);
    }
    for file in &wit_files {
        let bytes = std::fs::read(file)
            .unwrap_or_else(|err| fail(&format!("reading {}: {err}", file.display())));
        inputs.update(
            file.strip_prefix(wit_dir)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        inputs.update((bytes.len() as u64).to_le_bytes());
        inputs.update(&bytes);
    }
    let key = format!("{:x}", inputs.finalize());
    let done = work.join(&key[..16]);
    let built = Built {
        wasm: done.join("cpython.wasm"),
        stdlib: done.join("stdlib.tar.zst"),
    };
    if built.wasm.exists() && built.stdlib.exists() {
        return built;
    }

    let python = build_python();
    let tool = install_componentize_py(&python, work);

    let staging = work.join("staging");
    let _ = std::fs::remove_dir_all(&staging);
    let app = staging.join("app");
    let export = staging.join("export");
    std::fs::create_dir_all(app.join("revdebug")).unwrap();
    std::fs::create_dir_all(export.join("stdlib")).unwrap();
    for (source, name) in &files {
        std::fs::copy(source, app.join(name))
            .unwrap_or_else(|err| fail(&format!("copying {}: {err}", source.display())));
    }
    let wasm = staging.join("cpython.wasm");
    let status = Command::new(&python)
        .arg("-c")
        .arg("import sys; sys.argv[0] = 'componentize-py'; from componentize_py import script; script()")
        .arg("-d")
        .arg(wit_dir)
        .args(["-w", "cpython", "componentize", "_rewind_guest", "-p"])
        .arg(&app)
        .arg("-p")
        .arg(&export)
        .arg("-o")
        .arg(&wasm)
        .env("PYTHONPATH", &tool)
        .env_remove("PYTHONHOME")
        .status()
        .unwrap_or_else(|err| fail(&format!("running {}: {err}", python.display())));
    if !status.success() {
        fail("componentize-py could not build the CPython guest (see the errors above)");
    }
    let stdlib = export.join("stdlib/python");
    if !stdlib.join("os.py").exists() {
        fail("componentize-py's pre-initialisation did not hand over the standard library");
    }
    let archive = staging.join("stdlib.tar.zst");
    pack(&stdlib, &archive);

    std::fs::create_dir_all(&done).unwrap();
    std::fs::rename(&archive, &built.stdlib).unwrap();
    std::fs::rename(&wasm, &built.wasm).unwrap();
    let _ = std::fs::remove_dir_all(&staging);
    // Earlier builds are not needed again: only this one is embedded.
    for entry in std::fs::read_dir(work).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path != done && name.len() == 16 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    built
}

/// The Python that runs componentize-py: REWIND_BUILD_PYTHON, else python3.
fn build_python() -> PathBuf {
    println!("cargo::rerun-if-env-changed=REWIND_BUILD_PYTHON");
    let python = std::env::var_os("REWIND_BUILD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&python)
        .args(["-c", "import sys; sys.exit(sys.version_info < (3, 9))"])
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        fail(&format!(
            "the CPython guest is built with componentize-py, which needs Python 3.9 or newer \
             with pip: `{}` is missing or older (install python3 and python3-pip, or set \
             REWIND_BUILD_PYTHON)",
            python.display()
        ));
    }
    python
}

/// Installs componentize-py's wheel into `work`, once; returns the
/// directory to put on PYTHONPATH.
fn install_componentize_py(python: &Path, work: &Path) -> PathBuf {
    let target = work.join(format!("componentize-py-{COMPONENTIZE_PY}"));
    if target.join("componentize_py").exists() {
        return target;
    }
    let download = work.join("wheels");
    let _ = std::fs::remove_dir_all(&download);
    let status = Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .arg("--dest")
        .arg(&download)
        .arg(format!("componentize-py=={COMPONENTIZE_PY}"))
        .status()
        .unwrap_or_else(|err| fail(&format!("running pip: {err}")));
    if !status.success() {
        fail(&format!(
            "pip could not download componentize-py {COMPONENTIZE_PY} (see above); \
             the CPython guest is built with it"
        ));
    }
    let wheel = std::fs::read_dir(&download)
        .ok()
        .and_then(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        })
        .unwrap_or_else(|| fail("pip downloaded no componentize-py wheel"));
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let digest = format!("{:x}", Sha256::digest(std::fs::read(&wheel).unwrap()));
    match WHEELS.iter().find(|(wheel, _)| *wheel == name) {
        Some((_, want)) if *want == digest => {}
        Some((_, want)) => fail(&format!(
            "{name} has digest {digest}, not the pinned {want}: refusing to build with it"
        )),
        None => println!(
            "cargo::warning=no pinned digest for {name} (sha256 {digest}); using it unchecked"
        ),
    }
    let partial = work.join("componentize-py.partial");
    let _ = std::fs::remove_dir_all(&partial);
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&partial)
        .arg(&wheel)
        .status()
        .unwrap_or_else(|err| fail(&format!("running pip: {err}")));
    if !status.success() {
        fail("pip could not install componentize-py's wheel (see above)");
    }
    std::fs::rename(&partial, &target).unwrap();
    let _ = std::fs::remove_dir_all(&download);
    target
}

/// Packs `dir` as a tar (sorted, with fixed times and owners, so that the
/// same files give the same bytes) compressed with zstd.
fn pack(dir: &Path, archive: &Path) {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files.sort();
    let out = std::fs::File::create(archive).unwrap();
    let encoder = zstd::Encoder::new(out, 9).unwrap();
    let mut tar = tar::Builder::new(encoder);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        let name = file.strip_prefix(dir).unwrap();
        tar.append_data(&mut header, name, bytes.as_slice())
            .unwrap_or_else(|err| fail(&format!("packing {}: {err}", file.display())));
    }
    tar.into_inner().unwrap().finish().unwrap();
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}
