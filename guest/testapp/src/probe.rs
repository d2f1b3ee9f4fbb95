//! `testapp --every-input DIR`: calls every function of the WASI
//! interfaces whose answers come from outside the guest (the filesystem,
//! randomness, clocks), in a directory DIR it may write, and prints each
//! call as `INTERFACE FUNCTION: RESULT`. A recording of it that re-executes
//! to the same output proves each call was logged and answered from the
//! log; the tests also check that it calls every such function the other
//! guests import.
//!
//! Most calls go through `wasip2` (WASI 0.2.12); a few go through Rust's
//! standard library, which imports WASI 0.2.0, so both versions of the
//! interfaces are exercised.

use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::filesystem::preopens;
use wasip2::filesystem::types::{
    self as fs, Advice, Descriptor, DescriptorFlags, NewTimestamp, OpenFlags, PathFlags,
};
use wasip2::io::streams::StreamError;
use wasip2::random::{insecure, insecure_seed, random};

const TYPES: &str = "wasi:filesystem/types";

fn show(interface: &str, function: &str, result: impl std::fmt::Debug) {
    println!("{interface} {function}: {result:?}");
}

fn method(name: &str, result: impl std::fmt::Debug) {
    show(TYPES, &format!("[method]descriptor.{name}"), result);
}

/// An `Ok` descriptor's outcome without its handle number.
fn opened<T>(result: &Result<T, fs::ErrorCode>) -> Result<&str, fs::ErrorCode> {
    result.as_ref().map(|_| "opened").map_err(|code| *code)
}

pub fn main(dir_path: &str) {
    clocks();
    randomness();
    let dirs = preopens::get_directories();
    let names: Vec<&String> = dirs.iter().map(|(_, name)| name).collect();
    show("wasi:filesystem/preopens", "get-directories", names);
    let Some((dir, _)) = dirs.iter().find(|(_, name)| name == dir_path) else {
        println!("{dir_path} is not granted");
        std::process::exit(2);
    };
    filesystem(dir);
    standard_library(dir_path);
}

fn clocks() {
    let wall = wall_clock::now();
    show(
        "wasi:clocks/wall-clock",
        "now",
        (wall.seconds, wall.nanoseconds),
    );
    show(
        "wasi:clocks/wall-clock",
        "resolution",
        wall_clock::resolution(),
    );
    let start = monotonic_clock::now();
    show("wasi:clocks/monotonic-clock", "now", start > 0);
    show(
        "wasi:clocks/monotonic-clock",
        "resolution",
        monotonic_clock::resolution(),
    );
    monotonic_clock::subscribe_instant(monotonic_clock::now() + 1_000_000).block();
    show("wasi:clocks/monotonic-clock", "subscribe-instant", "ready");
    monotonic_clock::subscribe_duration(1_000_000).block();
    show("wasi:clocks/monotonic-clock", "subscribe-duration", "ready");
}

fn randomness() {
    show(
        "wasi:random/random",
        "get-random-bytes",
        random::get_random_bytes(8),
    );
    show(
        "wasi:random/random",
        "get-random-u64",
        random::get_random_u64(),
    );
    show(
        "wasi:random/insecure",
        "get-insecure-random-bytes",
        insecure::get_insecure_random_bytes(8),
    );
    show(
        "wasi:random/insecure",
        "get-insecure-random-u64",
        insecure::get_insecure_random_u64(),
    );
    show(
        "wasi:random/insecure-seed",
        "insecure-seed",
        insecure_seed::insecure_seed(),
    );
}

fn filesystem(dir: &Descriptor) {
    let follow = PathFlags::SYMLINK_FOLLOW;
    method("create-directory-at", dir.create_directory_at("sub"));
    let rw = DescriptorFlags::READ | DescriptorFlags::WRITE;
    let file = dir.open_at(follow, "sub/file.txt", OpenFlags::CREATE, rw);
    method("open-at", opened(&file));
    let Ok(file) = file else {
        std::process::exit(3);
    };
    method("write", file.write(b"hello\n", 0));
    method("sync-data", file.sync_data());
    method("sync", file.sync());
    method("advise", file.advise(0, 6, Advice::Sequential));
    method("get-flags", file.get_flags());
    method("get-type", file.get_type());
    method("set-size", file.set_size(6));
    method(
        "set-times",
        file.set_times(NewTimestamp::NoChange, NewTimestamp::Now),
    );
    method("stat", file.stat().map(|stat| stat.size));
    method("read", file.read(100, 0));
    method("metadata-hash", file.metadata_hash().is_ok());
    method("is-same-object", file.is_same_object(&file));

    let written = file
        .write_via_stream(6)
        .map(|out| out.blocking_write_and_flush(b"more\n").is_ok());
    method("write-via-stream", written);
    let appended = file
        .append_via_stream()
        .map(|out| out.blocking_write_and_flush(b"end\n").is_ok());
    method("append-via-stream", appended);
    let read = file.read_via_stream(0).map(|input| {
        let mut text = Vec::new();
        while let Ok(chunk) = input.blocking_read(4) {
            text.extend(chunk);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    method("read-via-stream", read);

    // A file open for writing only reads nothing: its stream fails, and the
    // failure has a filesystem error code.
    let write_only = dir.open_at(
        follow,
        "sub/file.txt",
        OpenFlags::empty(),
        DescriptorFlags::WRITE,
    );
    if let Ok(write_only) = &write_only
        && let Ok(input) = write_only.read_via_stream(0)
    {
        match input.blocking_read(4) {
            Err(StreamError::LastOperationFailed(err)) => show(
                TYPES,
                "filesystem-error-code",
                fs::filesystem_error_code(&err),
            ),
            other => println!("a write-only file read: {other:?}"),
        }
    }

    method(
        "stat-at",
        dir.stat_at(follow, "sub/file.txt").map(|stat| stat.size),
    );
    method(
        "metadata-hash-at",
        dir.metadata_hash_at(follow, "sub/file.txt").is_ok(),
    );
    method(
        "set-times-at",
        dir.set_times_at(
            follow,
            "sub/file.txt",
            NewTimestamp::Now,
            NewTimestamp::NoChange,
        ),
    );
    method(
        "link-at",
        dir.link_at(PathFlags::empty(), "sub/file.txt", dir, "sub/hard.txt"),
    );
    method("symlink-at", dir.symlink_at("file.txt", "sub/soft"));
    method("readlink-at", dir.readlink_at("sub/soft"));
    method(
        "rename-at",
        dir.rename_at("sub/hard.txt", dir, "sub/renamed.txt"),
    );

    let sub = dir.open_at(follow, "sub", OpenFlags::DIRECTORY, DescriptorFlags::READ);
    if let Ok(sub) = &sub {
        let entries = sub.read_directory();
        method("read-directory", opened(&entries));
        if let Ok(entries) = entries {
            let mut names = Vec::new();
            while let Ok(Some(entry)) = entries.read_directory_entry() {
                names.push(entry.name);
            }
            names.sort();
            show(
                TYPES,
                "[method]directory-entry-stream.read-directory-entry",
                names,
            );
        }
    }
    for name in ["sub/renamed.txt", "sub/soft", "sub/file.txt"] {
        method("unlink-file-at", dir.unlink_file_at(name));
    }
    method("remove-directory-at", dir.remove_directory_at("sub"));
    method(
        "open-at",
        opened(&dir.open_at(follow, "missing", OpenFlags::empty(), DescriptorFlags::READ)),
    );
}

/// Rust's standard library, through WASI 0.2.0.
fn standard_library(dir: &str) {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_nanos());
    println!("std SystemTime::now: {since_epoch:?}");
    let start = std::time::Instant::now();
    println!("std Instant::elapsed: {:?}", start.elapsed());
    let path = format!("{dir}/std.txt");
    println!(
        "std fs::write: {:?}",
        std::fs::write(&path, "std\n").is_ok()
    );
    println!(
        "std fs::read_to_string: {:?}",
        std::fs::read_to_string(&path)
    );
    println!(
        "std fs::metadata: {:?}",
        std::fs::metadata(&path).map(|meta| meta.len())
    );
    let names: Result<Vec<String>, _> = std::fs::read_dir(dir).map(|entries| {
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    });
    println!("std fs::read_dir: {names:?}");
    println!(
        "std fs::remove_file: {:?}",
        std::fs::remove_file(&path).is_ok()
    );
}
