//! The compiled guest is cached, checked, and rebuilt when it is bad.

use crate::{Scripts, rewind};

fn hello(cache: &std::path::Path) -> crate::Run {
    crate::run(
        rewind()
            .env("REWIND_CACHE_DIR", cache)
            .args(["run", "-c", "print('hi')"]),
    )
}

fn cached_code(cache: &std::path::Path) -> std::path::PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.pop().unwrap()
}

#[test]
fn first_run_compiles_and_says_so_then_the_cache_is_used() {
    let scripts = Scripts::new();
    let cache = scripts.path("cache");

    let first = hello(&cache);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(first.stdout, "hi\n");
    assert!(
        first
            .stderr
            .contains(&format!("compiling {}", crate::guest_described())),
        "{}",
        first.stderr
    );

    let second = hello(&cache);
    assert_eq!(second.code, Some(0), "{second:?}");
    assert_eq!(second.stdout, "hi\n");
    assert_eq!(
        second.stderr, "",
        "a warm run compiles nothing and says nothing"
    );

    // A corrupted entry (one flipped byte in the middle) is not trusted.
    let code = cached_code(&cache);
    let mut bytes = std::fs::read(&code).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&code, &bytes).unwrap();
    let third = hello(&cache);
    assert_eq!(third.code, Some(0), "{third:?}");
    assert_eq!(third.stdout, "hi\n");
    assert!(
        third.stderr.contains("compiling it again"),
        "{}",
        third.stderr
    );

    // A truncated entry likewise.
    let code = cached_code(&cache);
    let len = std::fs::metadata(&code).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&code)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let fourth = hello(&cache);
    assert_eq!(fourth.code, Some(0), "{fourth:?}");
    assert!(
        fourth.stderr.contains("compiling it again"),
        "{}",
        fourth.stderr
    );

    let fifth = hello(&cache);
    assert_eq!(fifth.stderr, "", "the rebuilt entry is used");
}

#[test]
fn an_unwritable_cache_still_runs() {
    let scripts = Scripts::new();
    let blocker = scripts.write("not-a-dir", "a file where the cache directory should be");
    let run = hello(&blocker.join("cache"));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hi\n");
    assert!(run.stderr.contains("not writable"), "{}", run.stderr);
}
