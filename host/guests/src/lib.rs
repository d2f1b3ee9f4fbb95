//! The guest components Rewind ships, embedded in the binary.
//!
//! They are built from `guest/` for `wasm32-wasip2` by this crate's build
//! script, so `cargo build` needs no manual step. Each comes with its digest,
//! computed at build time: the compiled-component cache is keyed by it, and
//! hashing 32 MB on every start would cost more than the rest of start-up.

/// A guest component built into this binary.
#[derive(Debug, Clone, Copy)]
pub struct Guest {
    /// Short name, used in messages and cache file names.
    pub name: &'static str,
    /// The component's bytes.
    pub wasm: &'static [u8],
    /// `sha256:<hex>` of [`Guest::wasm`].
    pub digest: &'static str,
}

/// Files a guest needs at run time, as a zstd-compressed tar.
#[derive(Debug, Clone, Copy)]
pub struct Archive {
    /// The archive's bytes.
    pub tar_zst: &'static [u8],
    /// `sha256:<hex>` of [`Archive::tar_zst`].
    pub digest: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_guest_is_a_component() {
        // The component-model preamble: magic, then layer 1 and version 0xd.
        assert_eq!(&PYTHON.wasm[..8], b"\0asm\x0d\0\x01\0");
        assert!(PYTHON.digest.starts_with("sha256:"));
    }
}
