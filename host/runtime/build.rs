//! Records which wasmtime this crate is built against, for the compiled-guest
//! cache (its entries name the wasmtime that produced them).

fn main() {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    println!("cargo::rerun-if-changed={lock}");
    let version = std::fs::read_to_string(lock)
        .ok()
        .and_then(|lock| {
            const PACKAGE: &str = "\nname = \"wasmtime\"\nversion = \"";
            let start = lock.find(PACKAGE)? + PACKAGE.len();
            let len = lock[start..].find('"')?;
            Some(lock[start..start + len].to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=REWIND_WASMTIME_VERSION={version}");
}
