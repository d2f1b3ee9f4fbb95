//! The compatibility corpus (`tests/corpus`): everyday programs and CPython's
//! own test modules, each compared with what CPython prints and how it exits.

#[path = "../corpus/harness.rs"]
mod harness;

use std::path::Path;

use harness::{CPython, Harness};

/// The share of the corpus that must give CPython's output: what is reached
/// today (see docs/benchmarks.md), so that a regression fails the test.
/// Raise it as the guest gets closer to CPython; never lower it below a
/// measured figure.
const MIN_PASS_RATE: f64 = 0.69;

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
    };
    let outcomes = harness.run_all(&entries);
    let (passed, rate) = harness::pass_rate(&outcomes);
    let mut failed = Vec::new();
    for outcome in outcomes.iter().filter(|o| !o.passed()) {
        eprintln!(
            "FAIL {}: {}\n{}",
            outcome.name,
            outcome.reason(),
            outcome.diff()
        );
        failed.push(outcome.name.as_str());
    }
    eprintln!(
        "corpus: {passed} of {} pass ({:.1}%), median time {:.2}x CPython",
        outcomes.len(),
        rate * 100.0,
        harness::median_ratio(&outcomes)
    );
    assert_eq!(outcomes.len(), entries.len());
    assert!(
        rate >= MIN_PASS_RATE,
        "pass rate {:.1}% is below {:.1}%; failed: {failed:?}",
        rate * 100.0,
        MIN_PASS_RATE * 100.0
    );
}
