//! The source's own rules (ARCHITECTURE.md): inside the runtime and the
//! CLI, imports run one way — no module reaches, directly or through
//! others, back to itself — and no subcommand of the CLI imports another.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules of a crate: module path (`recorder::log`, `` for the root)
/// to its file, its text, and the names it re-exports from elsewhere.
struct Crate {
    modules: BTreeMap<String, Module>,
}

struct Module {
    file: PathBuf,
    text: String,
    /// `pub use a::b::{C, D}` and the like: name to the path it stands for.
    reexports: BTreeMap<String, Vec<String>>,
}

impl Crate {
    fn read(root_file: &Path) -> Crate {
        let mut modules = BTreeMap::new();
        let mut pending = vec![(String::new(), root_file.to_owned())];
        while let Some((path, file)) = pending.pop() {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|err| panic!("reading {}: {err}", file.display()));
            // Where this module's children live: beside `main.rs`, `lib.rs`
            // and `mod.rs`, in a folder named after any other file.
            let dir = match file.file_name().and_then(|name| name.to_str()) {
                Some("main.rs" | "lib.rs" | "mod.rs") => file.parent().unwrap().to_owned(),
                _ => file.with_extension(""),
            };
            for child in declared_modules(&text) {
                let child_path = match path.is_empty() {
                    true => child.clone(),
                    false => format!("{path}::{child}"),
                };
                let flat = dir.join(format!("{child}.rs"));
                let nested = dir.join(&child).join("mod.rs");
                let child_file = if flat.exists() { flat } else { nested };
                assert!(child_file.exists(), "no file for module {child_path}");
                pending.push((child_path, child_file));
            }
            let reexports = reexports(&text);
            modules.insert(
                path,
                Module {
                    file,
                    text,
                    reexports,
                },
            );
        }
        Crate { modules }
    }

    /// The module that `segments` (absolute, from the crate root) names or
    /// defines an item of, following re-exports.
    fn resolve(&self, segments: &[String], depth: usize) -> Option<String> {
        let mut module = String::new();
        for (n, segment) in segments.iter().enumerate() {
            let deeper = match module.is_empty() {
                true => segment.clone(),
                false => format!("{module}::{segment}"),
            };
            if self.modules.contains_key(&deeper) {
                module = deeper;
                continue;
            }
            // An item of `module`, perhaps one it re-exports.
            if depth < 8
                && let Some(target) = self.modules[&module].reexports.get(segment)
            {
                let mut absolute = self.absolute(&module, target)?;
                absolute.extend(segments[n + 1..].iter().cloned());
                return self.resolve(&absolute, depth + 1);
            }
            return Some(module);
        }
        Some(module)
    }

    /// `path`, written in module `from`, from the crate root.
    fn absolute(&self, from: &str, path: &[String]) -> Option<Vec<String>> {
        let mut base: Vec<String> = match from.is_empty() {
            true => Vec::new(),
            false => from.split("::").map(str::to_owned).collect(),
        };
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            // A child module, or an item of this one.
            Some(first) => {
                let child = match from.is_empty() {
                    true => first.to_owned(),
                    false => format!("{from}::{first}"),
                };
                if !self.modules.contains_key(&child) {
                    return None;
                }
            }
            None => return None,
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// Which modules each module uses, by `use` and by paths in its code.
    fn uses(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut graph = BTreeMap::new();
        for (name, module) in &self.modules {
            let mut used = BTreeSet::new();
            for path in paths(&module.text) {
                let Some(absolute) = self.absolute(name, &path) else {
                    continue;
                };
                if let Some(target) = self.resolve(&absolute, 0)
                    && target != *name
                    // A module owns its children: using one is not a cycle.
                    && !target.starts_with(&format!("{name}::"))
                    && !(name.is_empty())
                {
                    used.insert(target);
                }
            }
            graph.insert(name.clone(), used);
        }
        graph
    }
}

/// `mod x;` declarations (not inline modules, not `#[cfg(test)]` ones).
fn declared_modules(text: &str) -> Vec<String> {
    let mut modules = Vec::new();
    let mut test_only = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "#[cfg(test)]" {
            test_only = true;
            continue;
        }
        let declared = line
            .strip_prefix("pub ")
            .or_else(|| line.strip_prefix("pub(crate) "))
            .unwrap_or(line)
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'));
        if let Some(name) = declared
            && !test_only
        {
            modules.push(name.to_owned());
        }
        test_only = false;
    }
    modules
}

/// The paths a module's `use` declarations name, each import separately,
/// and the `crate::`, `super::` and `self::` paths in its code.
fn paths(text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .map(|line| match line.trim_start().starts_with("//") {
            true => "",
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Tests may reach anywhere.
    let code = match code.find("#[cfg(test)]\nmod tests") {
        Some(at) => &code[..at],
        None => &code,
    };
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        paths.extend(expand(&rest[..end]).into_iter().map(|(path, _)| path));
    }
    for prefix in ["crate::", "super::", "self::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            let tail = &rest[at..];
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = tail
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(split(&path));
        }
    }
    paths
}

/// `a::b::{c, d::e as f}` as `[a, b, c]` and `[a, b, d, e]`, each with the
/// name it is known by (`c`, `f`).
fn expand(tree: &str) -> Vec<(Vec<String>, String)> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let (path, alias) = match tree.split_once(" as ") {
            Some((path, alias)) => (path.trim(), Some(alias.trim())),
            None => (tree, None),
        };
        let path = split(path);
        let name = alias
            .map(str::to_owned)
            .or_else(|| path.last().cloned())
            .unwrap_or_default();
        return vec![(path, name)];
    };
    let prefix = split(&tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (n, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..n]);
                start = n + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let mut paths = Vec::new();
    for part in parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        for (path, name) in expand(part) {
            let mut full = prefix.clone();
            full.extend(path.into_iter().filter(|segment| segment != "self"));
            let name = match name.as_str() {
                "self" => full.last().cloned().unwrap_or_default(),
                _ => name,
            };
            paths.push((full, name));
        }
    }
    paths
}

fn split(path: &str) -> Vec<String> {
    path.split("::")
        .map(str::trim)
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What `pub use` and `pub(crate) use` lines make a module's own names.
fn reexports(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut names = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(tree) = line
            .strip_prefix("pub use ")
            .or_else(|| line.strip_prefix("pub(crate) use "))
            .or_else(|| line.strip_prefix("pub(super) use "))
        else {
            continue;
        };
        for (path, name) in expand(tree.trim_end_matches(';')) {
            names.insert(name, path);
        }
    }
    names
}

/// A circle in `graph`, if it has one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|seen| seen == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn source(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_runtime_and_the_cli_import_one_way() {
    for root in ["host/runtime/src/lib.rs", "host/cli/main.rs"] {
        let krate = Crate::read(&source(root));
        assert!(krate.modules.len() > 5, "{root}: too few modules found");
        let graph = krate.uses();
        if let Some(circle) = circle(&graph) {
            let files: Vec<String> = circle
                .iter()
                .map(|module| krate.modules[module].file.display().to_string())
                .collect();
            panic!("{root}: modules import each other in a circle: {files:?}");
        }
    }
}

#[test]
fn no_subcommand_imports_another() {
    let krate = Crate::read(&source("host/cli/main.rs"));
    let graph = krate.uses();
    let top = |module: &str| module.split("::").next().unwrap_or(module).to_owned();
    for (module, used) in &graph {
        for target in used {
            let (from, to) = (top(module), top(target));
            assert!(
                from == to || to == "common",
                "{} (subcommand {from}) uses {target} (subcommand {to}): share it through common/",
                krate.modules[module].file.display()
            );
        }
    }
}

#[test]
fn the_import_check_sees_a_circle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(circle(&graph).unwrap(), ["a", "b", "c", "a"]);
    graph.insert("c".to_owned(), BTreeSet::new());
    assert_eq!(circle(&graph), None);
    let expanded: Vec<(Vec<String>, String)> =
        expand("crate::recorder::{self, ctx::RecorderView as _, ThreadRecorder}");
    let expected = [
        (vec!["crate", "recorder"], "recorder"),
        (vec!["crate", "recorder", "ctx", "RecorderView"], "_"),
        (
            vec!["crate", "recorder", "ThreadRecorder"],
            "ThreadRecorder",
        ),
    ];
    assert_eq!(expanded.len(), expected.len());
    for ((path, name), (want_path, want_name)) in expanded.iter().zip(expected) {
        assert_eq!(path, &want_path);
        assert_eq!(name, want_name);
    }
}
