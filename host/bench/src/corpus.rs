//! `--corpus`: the compatibility corpus of `tests/corpus`, each entry run
//! under CPython and under `rewind run` one at a time, reported as the pass
//! rate, the median time ratio, and a table of every entry.
//!
//! The harness is the one the `python_corpus` integration test runs, so the
//! figures here and the test's verdict are the same measurement.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, anyhow};

#[path = "../../../tests/corpus/harness.rs"]
mod harness;

/// Runs the corpus entries whose name contains one of `only` (all when
/// empty) on each Python guest, and prints the reports as Markdown.
pub fn measure(root: &Path, rewind: &Path, scratch: &Path, only: &[String]) -> Result<()> {
    for python in ["rustpython", "cpython"] {
        println!("\n### The {python} guest (`REWIND_PYTHON={python}`)\n");
        measure_guest(root, rewind, scratch, only, python)?;
    }
    Ok(())
}

fn measure_guest(
    root: &Path,
    rewind: &Path,
    scratch: &Path,
    only: &[String],
    python: &str,
) -> Result<()> {
    let corpus = root.join("tests/corpus");
    let mut entries = harness::load(&corpus).map_err(|e| anyhow!(e))?;
    entries.retain(|entry| only.is_empty() || only.iter().any(|o| entry.name.contains(o.as_str())));
    let recordings = scratch.join("corpus-recordings");
    let make = || {
        let mut command = Command::new(rewind);
        // Recordings of the entries that exit non-zero are not wanted here.
        command
            .env("REWIND_OUT", &recordings)
            .env("REWIND_PYTHON", python);
        command
    };
    let harness = harness::Harness {
        corpus,
        cpython: harness::CPython::find().map_err(|e| anyhow!(e))?,
        rewind: &make,
        scratch: scratch.join("corpus"),
        // One at a time: the times are compared.
        jobs: 1,
        wasi_reference: python == "rustpython",
    };
    eprintln!(
        "running the corpus on the {python} guest: {} entries",
        entries.len()
    );
    let outcomes = harness.run_all(&entries);
    println!("| entry | result | CPython s | rewind s | rewind / CPython |");
    println!("|---|---|---|---|---|");
    for outcome in &outcomes {
        let result = if outcome.as_python3() {
            "pass".to_owned()
        } else if outcome.as_wasi() {
            "pass (as CPython 3.14's WASI build)".to_owned()
        } else if outcome.differs_by_version() {
            format!(
                "differs by version: {}",
                outcome.reason().replace('|', "\\|")
            )
        } else {
            format!("FAIL: {}", outcome.reason().replace('|', "\\|"))
        };
        println!(
            "| {} | {result} | {:.3} | {:.3} | {:.2}x |",
            outcome.name,
            outcome.cpython.elapsed.as_secs_f64(),
            outcome.rewind.elapsed.as_secs_f64(),
            outcome.ratio()
        );
    }
    for outcome in outcomes.iter().filter(|o| !o.passed()) {
        eprintln!("{}: {}\n{}", outcome.name, outcome.reason(), outcome.diff());
    }
    let passing: Vec<_> = outcomes.iter().filter(|o| o.passed()).cloned().collect();
    println!();
    println!(
        "**{}**; median rewind / CPython **{:.2}x** over all entries, {:.2}x over the passing ones.",
        harness::summary(&outcomes),
        harness::median_ratio(&outcomes),
        harness::median_ratio(&passing)
    );
    let _ = std::fs::remove_dir_all(&recordings);
    Ok(())
}
