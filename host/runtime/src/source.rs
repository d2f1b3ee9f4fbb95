//! A guest component as Rewind knows it: its bytes, a short name, and the
//! digest that names it in caches and recordings.

use sha2::{Digest as _, Sha256};

/// A guest component to run: its bytes and a digest identifying them.
#[derive(Debug, Clone)]
pub struct ComponentSource {
    name: String,
    bytes: std::borrow::Cow<'static, [u8]>,
    digest: String,
}

impl ComponentSource {
    /// A component whose digest is already known (computed at build time for
    /// the guests Rewind ships, so that start-up need not hash 32 MB).
    pub fn with_digest(name: &str, bytes: &'static [u8], digest: &str) -> ComponentSource {
        ComponentSource {
            name: name.to_owned(),
            bytes: bytes.into(),
            digest: digest.to_owned(),
        }
    }

    /// A component from bytes, hashed now.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> ComponentSource {
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        ComponentSource {
            name: name.to_owned(),
            bytes: bytes.into(),
            digest,
        }
    }

    /// A short name for messages and cache file names.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `sha256:<hex>` of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The component's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}
