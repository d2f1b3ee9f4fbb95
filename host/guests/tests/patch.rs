//! The guest's patches of `rustpython-vm`, `rustpython-compiler`,
//! `rustpython-common`, `rustpython-stdlib` and `rustpython-pylib` still
//! apply to the crates' crates.io source, exactly, and do what they say.

#[path = "../patch.rs"]
#[allow(dead_code)]
mod patch;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn find(krate: &str) -> patch::Patch {
    *patch::PATCHES
        .iter()
        .find(|patch| patch.krate == krate)
        .unwrap_or_else(|| panic!("no patch of {krate}"))
}

fn patch_text(patch: patch::Patch) -> String {
    std::fs::read_to_string(repo().join("guest/patches").join(patch.file)).unwrap()
}

fn pristine(scratch: &Path, patch: patch::Patch) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    patch::pristine_source(Path::new(&cargo), scratch, patch).unwrap()
}

#[test]
fn the_vm_patch_applies_to_the_crates_io_source() {
    let vm = find("rustpython-vm");
    let scratch = tempfile::tempdir().unwrap();
    let source = pristine(&scratch.path().join("fetch"), vm);
    let dest = scratch.path().join("patched");
    patch::apply(&source, &patch_text(vm), &dest).unwrap();

    let read = |file: &str| std::fs::read_to_string(dest.join(file)).unwrap();
    // What the guest's tracer and position rely on is there.
    let callable = read("src/protocol/callable.rs");
    for api in [
        "pub fn set_native_tracer(",
        "pub fn position()",
        "pub fn set_position_hook(",
    ] {
        assert!(callable.contains(api), "{api} missing");
    }
    assert!(read("src/builtins/code.rs").contains("pub fn line_at("));
    assert!(read("src/frame.rs").contains("crate::protocol::tick_position(vm, true)?;"));
    // The pristine source is untouched.
    assert!(
        !std::fs::read_to_string(source.join("src/protocol/callable.rs"))
            .unwrap()
            .contains("set_native_tracer")
    );
}

#[test]
fn a_patch_that_no_longer_matches_fails_naming_the_file() {
    let vm = find("rustpython-vm");
    let scratch = tempfile::tempdir().unwrap();
    let source = pristine(&scratch.path().join("fetch"), vm);
    // A patch written for a frame loop that is not this one.
    let text = patch_text(vm);
    let stale = text.replace(
        "Access the lazily-allocated cold data",
        "Access the cold data",
    );
    assert_ne!(stale, text);
    let err = patch::apply(&source, &stale, &scratch.path().join("out")).unwrap_err();
    assert!(err.contains("src/frame.rs"), "{err}");
}

#[test]
fn the_compiler_patch_applies_to_the_crates_io_source() {
    let compiler = find("rustpython-compiler");
    let scratch = tempfile::tempdir().unwrap();
    let source = pristine(&scratch.path().join("fetch"), compiler);
    let dest = scratch.path().join("patched");
    patch::apply(&source, &patch_text(compiler), &dest).unwrap();
    // The comprehension check of a keyword argument skips comments.
    let lib = std::fs::read_to_string(dest.join("src/lib.rs")).unwrap();
    let check = &lib[lib.find("fn unparenthesized_comprehension").unwrap()..];
    let check = &check[..check.find("\n}\n").unwrap()];
    assert!(check.contains("b'#' =>"), "{check}");
}

#[test]
fn the_library_patch_applies_to_the_crates_io_source() {
    let pylib = find("rustpython-pylib");
    let scratch = tempfile::tempdir().unwrap();
    let source = pristine(&scratch.path().join("fetch"), pylib);
    let dest = scratch.path().join("patched");
    patch::apply(&source, &patch_text(pylib), &dest).unwrap();
    let read = |file: &str| std::fs::read_to_string(dest.join(file)).unwrap();
    assert!(read("Lib/argparse.py").contains("', '.join(map(str, action.choices))"));
    assert!(read("Lib/textwrap.py").contains("        if self.break_long_words:\n"));
    assert!(read("Lib/_pycodecs.py").contains("and len(res) == 2"));
    // The rest of the library is copied whole: the guest freezes it all.
    assert!(dest.join("Lib/json/decoder.py").is_file());
}

#[test]
fn the_common_patch_applies_to_the_crates_io_source() {
    let common = find("rustpython-common");
    let scratch = tempfile::tempdir().unwrap();
    let source = pristine(&scratch.path().join("fetch"), common);
    let dest = scratch.path().join("patched");
    patch::apply(&source, &patch_text(common), &dest).unwrap();
    let read = |file: &str| std::fs::read_to_string(dest.join(file)).unwrap();
    let zlib = read("src/compression/zlib.rs");
    assert!(zlib.contains("while decompressing data: {detail}"));
    // Deflate runs on C zlib, with CPython's output windows.
    assert!(zlib.contains("libz_sys::deflateInit2_("));
    assert!(zlib.contains("const OUTPUT_WINDOWS"));
    assert!(read("Cargo.toml").contains("[dependencies.libz-sys]"));
    assert!(!read("Cargo.toml").contains("libz-rs-sys"));
    assert!(read("src/encodings.rs").contains("s.is_compatible_with(StrKind::Ascii)"));
    assert!(read("src/encodings/wide.rs").contains("if !c.is_ascii() {"));
}

#[test]
fn every_patched_crate_is_named_by_the_guest_workspace() {
    let manifest = std::fs::read_to_string(repo().join("guest/Cargo.toml")).unwrap();
    for patch in patch::PATCHES {
        let line = format!(
            "{} = {{ path = \"../target/rewind-patched/{}-{}\" }}",
            patch.krate, patch.krate, patch.version
        );
        assert!(manifest.contains(&line), "guest/Cargo.toml lacks {line}");
    }
}

#[test]
fn the_stdlib_patch_builds_sqlite3_on_wasi() {
    let stdlib = find("rustpython-stdlib");
    let scratch = tempfile::tempdir().unwrap();
    let source = pristine(&scratch.path().join("fetch"), stdlib);
    let dest = scratch.path().join("patched");
    patch::apply(&source, &patch_text(stdlib), &dest).unwrap();

    // `_sqlite3` and its dependency are left out of wasm32 builds, but not
    // of WASI ones.
    let wasi =
        r#"not(any(target_os = "android", all(target_arch = "wasm32", not(target_os = "wasi"))))"#;
    let lib = std::fs::read_to_string(dest.join("src/lib.rs")).unwrap();
    assert_eq!(
        lib.matches(wasi).count(),
        2,
        "the module and its registration"
    );
    let manifest = std::fs::read_to_string(dest.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!(
        "[target.'cfg({wasi})'.dependencies.libsqlite3-sys]"
    )));
}
