//! A table of names (of functions, files, locals, classes), numbered in
//! the order they are first met: what packed events refer to a name by.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Names by id, and ids by name. `S` is the hasher: a tracer in the guest
/// takes a fast one ([`NameHasher`](super::NameHasher)); the host, which
/// takes names from guests, the standard one.
#[derive(Debug, Clone)]
pub struct NameTable<S = std::hash::RandomState> {
    texts: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32, S>,
}

impl<S: Default> Default for NameTable<S> {
    fn default() -> Self {
        NameTable {
            texts: Vec::new(),
            ids: HashMap::default(),
        }
    }
}

impl<S: BuildHasher> NameTable<S> {
    /// The id of `text`, and whether it is new (numbered now, after every
    /// name before it).
    #[inline]
    pub fn intern(&mut self, text: &str) -> (u32, bool) {
        if let Some(id) = self.ids.get(text) {
            return (*id, false);
        }
        let id = self.texts.len() as u32;
        let text: Arc<str> = text.into();
        self.texts.push(text.clone());
        self.ids.insert(text, id);
        (id, true)
    }

    /// The id of `text`, numbered now if it is new.
    pub fn id(&mut self, text: &str) -> u32 {
        self.intern(text).0
    }
}

impl<S> NameTable<S> {
    /// The text of name `id`.
    pub fn text(&self, id: u32) -> Option<&str> {
        self.texts.get(id as usize).map(|text| &**text)
    }

    /// Every name, by id.
    pub fn texts(&self) -> &[Arc<str>] {
        &self.texts
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}
