//! A WASI command that depends on every kind of input Rewind records, so
//! that a re-execution that fed it anything else would print something
//! else.
//!
//! `testapp FILE`: prints the wall clock, a monotonic interval, random
//! bytes, `$GREETING`, FILE's length and first line, and each line of
//! stdin; exits with the number of stdin lines that say `fail`.
//!
//! `testapp --every-input DIR` calls every WASI function whose answer
//! comes from outside the guest instead (see `probe.rs`).

use std::io::BufRead as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[cfg(target_os = "wasi")]
mod probe;

fn main() {
    #[cfg(target_os = "wasi")]
    if std::env::args().nth(1).as_deref() == Some("--every-input") {
        let dir = std::env::args().nth(2).unwrap_or_else(|| "/probe".into());
        probe::main(&dir);
        return;
    }
    let started = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or(0);
    println!("wall clock: {now}");
    let random = random_bytes(8);
    println!("random: {}", hex(&random));
    match std::env::var("GREETING") {
        Ok(greeting) => println!("greeting: {greeting}"),
        Err(_) => println!("greeting: (none)"),
    }
    let path = std::env::args().nth(1).unwrap_or_else(|| "data.txt".into());
    match std::fs::read_to_string(&path) {
        Ok(text) => println!(
            "{path}: {} bytes, first line {:?}",
            text.len(),
            text.lines().next().unwrap_or("")
        ),
        Err(err) => println!("{path}: {err}"),
    }
    let mut failures = 0;
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.unwrap_or_default();
        if line.trim() == "fail" {
            failures += 1;
        }
        println!("stdin {n}: {line}");
    }
    println!("elapsed: {} ns", started.elapsed().as_nanos());
    std::process::exit(failures);
}

#[cfg(target_os = "wasi")]
fn random_bytes(len: u64) -> Vec<u8> {
    wasip2::random::random::get_random_bytes(len)
}

#[cfg(not(target_os = "wasi"))]
fn random_bytes(len: u64) -> Vec<u8> {
    vec![0; len as usize]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
