//! Any bytes: reading returns a recording or an error naming what is wrong,
//! and never panics, loops or allocates without bound.
//!
//! Random bytes rarely get past the magic and the chunk checksums, so the
//! input is read three ways: as it is; behind a valid preamble; and as a list
//! of (kind, length, payload) chunks framed with correct checksums, which
//! takes the fuzzer straight into the payload decoders.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rewind_format::{MAGIC, Recording, VERSION};

fn preamble() -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes
}

/// What one input may decode into here: the reader's own limit
/// (`MAX_DECODED`) is more than a fuzzer's memory.
const DECODED: u64 = 256 << 20;

fn check(bytes: &[u8]) {
    if let Ok(recording) = Recording::read_within(bytes, DECODED) {
        if let Some(cut) = &recording.cut {
            assert!(cut.offset <= bytes.len() as u64, "cut beyond the input");
        }
    }
    // Checking reads as far as reading does, and keeps nothing.
    if let Ok(checked) = Recording::check(bytes) {
        assert!(checked.threads.is_empty() && checked.crashes.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);

    let mut framed = preamble();
    framed.extend_from_slice(data);
    check(&framed);

    let mut chunked = preamble();
    let mut rest = data;
    while let [kind, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(len);
        let mut head = vec![*kind];
        head.extend_from_slice(&(len as u32).to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(payload);
        chunked.extend_from_slice(&head);
        chunked.extend_from_slice(payload);
        chunked.extend_from_slice(&crc.finalize().to_le_bytes());
        rest = next;
    }
    check(&chunked);
});
