//! Builds the guest programs in `guest/` for `wasm32-wasip2`, in release, with
//! a nested cargo, and generates constants holding their bytes and digests.
//!
//! The nested cargo gets its own target directory (sharing the outer one
//! deadlocks on cargo's lock), runs in `guest/` so that `guest/.cargo` and
//! `guest/Cargo.lock` apply, and gets none of the outer build's RUSTFLAGS
//! (they are for the host). Every source file the guests were built from, as
//! listed in their dep-info files, is a `rerun-if-changed`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

#[path = "c_compiler.rs"]
mod c_compiler;
#[path = "cpython.rs"]
mod cpython;
#[path = "patch.rs"]
mod patch;

const TARGET: &str = "wasm32-wasip2";

/// (package, its directory relative to `guest/`, constant name, embedded): an
/// embedded guest's bytes are in the binary; a test guest's constant is the
/// path of its component file, for tests to run.
const GUESTS: &[(&str, &str, &str, bool)] = &[
    ("rewind-python", "python", "PYTHON", true),
    ("rewind-testapp", "testapp", "TESTAPP_WASM", false),
    (
        "rewind-example-guest",
        "../examples/rust-guest",
        "EXAMPLE_GUEST_WASM",
        false,
    ),
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let guest_dir = manifest_dir
        .join("../../guest")
        .canonicalize()
        .expect("guest/ exists");
    let out_dir = PathBuf::from(env("OUT_DIR"));

    check_target_installed();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    prepare_patched_crates(&guest_dir, &out_dir, Path::new(&cargo));

    // One guest build serves every profile and every `cargo check` of the
    // host: put it beside the outer target directory's profiles rather than
    // in this script's OUT_DIR (`target/<profile>/build/<pkg>/out`).
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|target| target.join("rewind-guests"))
        .unwrap_or_else(|| out_dir.join("guests"));

    let mut build = Command::new(&cargo);
    build
        .current_dir(&guest_dir)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_PROFILE_RELEASE_DEBUG")
        .env_remove("CARGO_PROFILE_RELEASE_LTO");
    for (package, ..) in GUESTS {
        build.args(["-p", package]);
    }
    let c_env =
        c_compiler::guest_env(TARGET, &out_dir.join("c-probe")).unwrap_or_else(|err| fail(&err));
    build.envs(c_env);
    let status = build
        .status()
        .expect("running the nested cargo for the guests");
    if !status.success() {
        fail("building the guests in guest/ failed (see the errors above)");
    }

    let artifacts = target_dir.join(TARGET).join("release");
    let mut generated = String::new();
    for (package, name, constant, embedded) in GUESTS {
        let wasm = artifacts.join(format!("{package}.wasm"));
        let bytes =
            std::fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        // Copy into OUT_DIR: the generated code must not point into a
        // directory the next guest build rewrites.
        let copy = out_dir.join(format!("{package}.wasm"));
        std::fs::write(&copy, &bytes).expect("copying the guest into OUT_DIR");
        if *embedded {
            writeln!(
                generated,
                "/// The `{package}` guest component.\n\
                 pub const {constant}: Guest = Guest {{ name: {name:?}, wasm: include_bytes!({copy:?}), digest: {digest:?} }};"
            )
            .unwrap();
        } else {
            writeln!(
                generated,
                "/// Where the `{package}` test guest's component file is.\n\
                 pub const {constant}: &str = {copy:?};"
            )
            .unwrap();
        }
        rerun_for_dep_info(&artifacts.join(format!("{package}.d")), &guest_dir);
        println!(
            "cargo::rerun-if-changed={}",
            guest_dir.join(name).join("Cargo.toml").display()
        );
    }
    let cpython = cpython::build(
        &guest_dir,
        &guest_dir.join("../wit"),
        &target_dir.join("cpython"),
    );
    let bytes = std::fs::read(&cpython.wasm).expect("reading the CPython guest");
    let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
    let stdlib_digest = format!(
        "sha256:{:x}",
        Sha256::digest(std::fs::read(&cpython.stdlib).expect("reading the standard library"))
    );
    writeln!(
        generated,
        "/// The CPython guest component (componentize-py).\n\
         pub const CPYTHON: Guest = Guest {{ name: \"cpython\", wasm: include_bytes!({:?}), digest: {digest:?} }};\n\
         /// The CPython guest's standard library, granted at `/python`.\n\
         pub const CPYTHON_STDLIB: Archive = Archive {{ tar_zst: include_bytes!({:?}), digest: {stdlib_digest:?} }};",
        cpython.wasm, cpython.stdlib
    )
    .unwrap();
    std::fs::write(out_dir.join("guests.rs"), generated).expect("writing guests.rs");

    for file in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        println!("cargo::rerun-if-changed={}", guest_dir.join(file).display());
    }
    // The guests read their WIT worlds from the top-level `wit/`.
    println!(
        "cargo::rerun-if-changed={}",
        guest_dir.join("../wit").display()
    );
    println!("cargo::rerun-if-changed=build.rs");
}

/// Makes the patched copy of each crate the guest workspace's
/// `[patch.crates-io]` names (see `patch.rs` and `guest/patches/README.md`),
/// unless the copy there was made from this very patch.
fn prepare_patched_crates(guest_dir: &Path, out_dir: &Path, cargo: &Path) {
    for patch in patch::PATCHES {
        prepare_patched_crate(guest_dir, out_dir, cargo, *patch);
    }
}

fn prepare_patched_crate(guest_dir: &Path, out_dir: &Path, cargo: &Path, patch: patch::Patch) {
    let patch_file = guest_dir.join("patches").join(patch.file);
    println!("cargo::rerun-if-changed={}", patch_file.display());
    let text = std::fs::read_to_string(&patch_file)
        .unwrap_or_else(|err| fail(&format!("reading {}: {err}", patch_file.display())));
    let repo = guest_dir.parent().expect("guest/ is in the repository");
    let dest = patch.patched_dir(repo);
    let stamp = dest.join(".rewind-patch");
    let want = format!(
        "{} {} {:x}\n",
        patch.krate,
        patch.version,
        Sha256::digest(text.as_bytes())
    );
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return;
    }
    let scratch = out_dir.join("fetch").join(patch.krate);
    let pristine = patch::pristine_source(cargo, &scratch, patch).unwrap_or_else(|err| fail(&err));
    patch::apply(&pristine, &text, &dest).unwrap_or_else(|err| {
        fail(&format!(
            "{err}; {} must be brought up to date with {} {}",
            patch_file.display(),
            patch.krate,
            patch.version
        ))
    });
    std::fs::write(&stamp, want)
        .unwrap_or_else(|err| fail(&format!("writing {}: {err}", stamp.display())));
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by cargo"))
}

fn fail(message: &str) -> ! {
    for line in message.lines() {
        println!("cargo::error={line}");
    }
    std::process::exit(1);
}

/// Fails with the `rustup` line to run when the wasm target is missing,
/// instead of letting the nested build fail on `core` not being found.
fn check_target_installed() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(Path::new(&env("CARGO_MANIFEST_DIR")).join("../../guest"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(sysroot) = sysroot
        && !sysroot.join("lib/rustlib").join(TARGET).exists()
    {
        fail(&format!(
            "the {TARGET} target is not installed; run `rustup target add wasm32-wasip1 {TARGET}`"
        ));
    }
}

/// `rerun-if-changed` for every file a guest was built from, except those in
/// cargo's registry (which never change in place).
fn rerun_for_dep_info(dep_info: &Path, guest_dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return;
    };
    // `target: dep dep dep`, with spaces in paths escaped as `\ `.
    let Some((_, deps)) = text.split_once(": ") else {
        return;
    };
    let deps = deps.replace("\\ ", "\u{0}");
    for dep in deps.split_whitespace() {
        let dep = PathBuf::from(dep.replace('\u{0}', " "));
        if dep.starts_with(guest_dir) {
            println!("cargo::rerun-if-changed={}", dep.display());
        }
    }
}
