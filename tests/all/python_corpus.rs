//! The compatibility corpus (`tests/corpus`): everyday programs and CPython's
//! own test modules, each compared with what CPython prints and how it exits.

#[path = "../corpus/harness.rs"]
mod harness;

use std::path::Path;

use harness::{CPython, Harness};

/// The share of the corpus that must give CPython's output, so that a
/// regression fails the test: over all entries, a listed version
/// difference counting as a failure. Raise it as a guest gets closer to
/// CPython; never lower it below a measured figure.
///
/// The RustPython guest is compared with the machine's python3 (3.11) and,
/// where that differs, with CPython 3.14's WASI build (the CPython guest):
/// 79 of 82 today (96.3%, docs/benchmarks.md); the bar is the goal,
/// 95%, which allows one entry less. The CPython guest is that build, so
/// it is compared with python3 alone: its 3.14 messages, numerics and
/// removed APIs differ from 3.11's in more places (`docs/cpython.md`).
fn min_pass_rate() -> f64 {
    match crate::guest() {
        crate::Guest::RustPython => 0.95,
        crate::Guest::CPython => 0.69,
    }
}

#[test]
fn corpus_gives_cpythons_output() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let entries = harness::load(&corpus).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let rewind = crate::rewind;
    let harness = Harness {
        corpus,
        cpython: CPython::find().unwrap(),
        rewind: &rewind,
        scratch: scratch.path().to_owned(),
        jobs: 2,
        wasi_reference: crate::guest() == crate::Guest::RustPython,
    };
    let outcomes = harness.run_all(&entries);
    let (_, rate) = harness::pass_rate(&outcomes);
    let mut failed = Vec::new();
    for outcome in outcomes.iter().filter(|o| !o.passed()) {
        let verdict = match &outcome.version_difference {
            Some(why) => format!("DIFFERS BY VERSION ({why})"),
            None => "FAIL".to_owned(),
        };
        eprintln!(
            "{verdict} {}: {}\n{}",
            outcome.name,
            outcome.reason(),
            outcome.diff()
        );
        failed.push(outcome.name.as_str());
    }
    for outcome in outcomes.iter().filter(|o| o.as_wasi()) {
        eprintln!("as CPython 3.14's WASI build prints: {}", outcome.name);
    }
    for outcome in outcomes.iter().filter(|o| o.as_python3()) {
        if outcome.version_difference.is_some() {
            eprintln!(
                "note: {} passes: take it off version-differences.txt",
                outcome.name
            );
        }
    }
    eprintln!(
        "corpus: {}; median time {:.2}x CPython",
        harness::summary(&outcomes),
        harness::median_ratio(&outcomes)
    );
    assert_eq!(outcomes.len(), entries.len());
    assert!(
        rate >= min_pass_rate(),
        "pass rate {:.1}% is below {:.1}%; failed: {failed:?}",
        rate * 100.0,
        min_pass_rate() * 100.0
    );
}
