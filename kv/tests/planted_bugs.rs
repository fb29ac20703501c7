//! The twin has teeth: with a real bug planted in the store, the runner
//! finds it within a stated number of seeds; without it, those same seeds
//! pass. Seeds are fixed, so this test is deterministic.

use twinio_kv::store::Bugs;
use twinio_kv::vopr::{Options, Outcome, run_seed};

/// The budget each planted bug must be found within.
const SEEDS: u64 = 40;

/// The first seed (from 0) whose run breaks an invariant.
fn first_failure(options: &Options) -> Option<(u64, Outcome)> {
    (0..SEEDS).find_map(|seed| {
        let report = run_seed(seed, options);
        matches!(report.outcome, Outcome::Correctness(_)).then_some((seed, report.outcome))
    })
}

#[test]
fn acknowledging_before_fsync_is_caught() {
    let options =
        Options { bugs: Bugs { ack_before_fsync: true, ..Bugs::default() }, ..Options::default() };
    let found = first_failure(&options);
    assert!(found.is_some(), "ack-before-fsync survived {SEEDS} seeds");
    eprintln!("ack-before-fsync found: {found:?}");
}

#[test]
fn serving_without_checksum_is_caught() {
    let options =
        Options { bugs: Bugs { skip_checksum: true, ..Bugs::default() }, ..Options::default() };
    let found = first_failure(&options);
    assert!(found.is_some(), "skip-checksum survived {SEEDS} seeds");
    eprintln!("skip-checksum found: {found:?}");
}

#[test]
fn the_correct_store_passes_the_same_seeds() {
    for seed in 0..SEEDS / 4 {
        let report = run_seed(seed, &Options::default());
        assert_eq!(report.outcome, Outcome::Passed, "{report}");
    }
}

#[test]
fn a_seed_replays_identically() {
    let first = run_seed(7, &Options::default());
    let second = run_seed(7, &Options::default());
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(first.to_string(), second.to_string());
    let other = run_seed(8, &Options::default());
    assert_ne!(first.trace_hash, other.trace_hash);
}
