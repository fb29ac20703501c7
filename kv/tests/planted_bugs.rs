//! The twin has teeth: with a real bug planted in the store, the runner
//! finds it within a stated number of seeds; without it, the seeds before
//! pass. Seeds are fixed, so this test is deterministic.

use std::ops::ControlFlow;

use twinio_kv::store::Bugs;
use twinio_kv::vopr::batch::run_batch;
use twinio_kv::vopr::{Options, Outcome, run_seed};

/// The budget each planted bug must be found within.
const SEEDS: u64 = 400;

/// The lowest seed from `from` whose run fails with `bugs` planted, and how.
fn first_failure(from: u64, bugs: Bugs) -> Option<(u64, Outcome)> {
    let options = Options { bugs, ..Options::default() };
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut found = None;
    run_batch(from, SEEDS, jobs, &options, |run| {
        if !run.passed() {
            let outcome = run.result.map_or_else(Outcome::Correctness, |r| r.outcome);
            found = Some((run.seed, outcome));
        }
        ControlFlow::Continue(())
    });
    found
}

/// The kind of failure a bug must cause.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Correctness,
    Liveness,
    /// Either: a garbled stream is a protocol violation or a stall.
    Either,
}

/// The bug is found from two starting points, with the expected kind of
/// failure, and the correct store passes the seed that found it.
fn caught(bugs: Bugs, name: &str, expect: Expect) {
    for from in [0, 10_000] {
        let found = first_failure(from, bugs);
        let Some((seed, outcome)) = found else {
            panic!("{name} survived seeds {from}..{}", from + SEEDS);
        };
        eprintln!("{name} from {from}: seed {seed}: {outcome:?}");
        let kind_ok = match (&outcome, expect) {
            (Outcome::Passed, _) => false,
            (_, Expect::Either) => true,
            (Outcome::Liveness(_), expect) => matches!(expect, Expect::Liveness),
            (Outcome::Correctness(_), expect) => matches!(expect, Expect::Correctness),
        };
        assert!(kind_ok, "{name} at seed {seed}: {outcome:?}");
        let report = run_seed(seed, &Options::default());
        assert_eq!(report.outcome, Outcome::Passed, "the correct store fails: {report}");
    }
}

#[test]
fn acknowledging_before_fsync_is_caught() {
    caught(
        Bugs { ack_before_fsync: true, ..Bugs::default() },
        "ack-before-fsync",
        Expect::Correctness,
    );
}

#[test]
fn serving_without_checksum_is_caught() {
    caught(Bugs { skip_checksum: true, ..Bugs::default() }, "skip-checksum", Expect::Correctness);
}

/// Only pipelined clients can see it: one request per recv is all a
/// client with one request in flight ever sends.
#[test]
fn handling_one_frame_per_recv_is_caught() {
    caught(
        Bugs { one_frame_per_recv: true, ..Bugs::default() },
        "one-frame-per-recv",
        Expect::Liveness,
    );
}

/// Only a log that fills has a last slot to lose.
#[test]
fn losing_the_last_slot_of_a_full_log_is_caught() {
    caught(Bugs { last_slot: true, ..Bugs::default() }, "last-slot", Expect::Correctness);
}

#[test]
fn deletes_forgotten_by_recovery_are_caught() {
    caught(
        Bugs { stale_after_restart: true, ..Bugs::default() },
        "stale-after-restart",
        Expect::Correctness,
    );
}

/// Short sends happen only while faults are on; the stall is caught as
/// soon as nothing (crash, restart, partition) excuses it.
#[test]
fn dropping_the_tail_of_a_short_send_is_caught() {
    caught(Bugs { short_send: true, ..Bugs::default() }, "short-send", Expect::Either);
}

/// Only the concurrency checker sees it: the value read was never
/// acknowledged, so the old model let it (and its loss) pass.
#[test]
fn dirty_reads_of_mutations_not_yet_durable_are_caught() {
    caught(Bugs { dirty_read: true, ..Bugs::default() }, "dirty-read", Expect::Correctness);
}

#[test]
fn the_correct_store_passes_the_first_seeds() {
    for seed in 0..10 {
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

#[test]
fn a_trace_explains_the_run_and_does_not_change_it() {
    let plain = run_seed(3, &Options::default());
    let traced = run_seed(3, &Options { trace: true, ..Options::default() });
    assert_eq!(plain.trace_hash, traced.trace_hash, "tracing must not perturb the run");
    assert!(plain.trace.is_empty());
    let log = traced.trace.join("\n");
    for expected in
        ["runner: workload:", "store: recovery:", "store: serving:", "client 0: request 1:"]
    {
        assert!(log.contains(expected), "the trace lacks {expected:?}");
    }
    assert!(log.contains("store: batch 1: acknowledging"), "no batch in the trace");
}

/// A failure on a key names the last IO on that key's log slot (from a
/// second run of the seed with the twin's event log, which is the same
/// run: same trace hash).
#[test]
fn a_failure_names_the_last_io_on_the_slot_involved() {
    let bugs = Bugs { stale_after_restart: true, ..Bugs::default() };
    let options = Options { bugs, ..Options::default() };
    let report = run_seed(0, &options);
    let Outcome::Correctness(why) = &report.outcome else {
        panic!("seed 0 with stale-after-restart: {:?}", report.outcome);
    };
    assert!(why.contains("log slot"), "{why}");
    assert!(why.contains("Read fd") || why.contains("Write fd"), "{why}");
    let plain = run_seed(0, &Options { name_slot_io: false, ..options });
    assert_eq!(plain.trace_hash, report.trace_hash);
    assert!(!matches!(&plain.outcome, Outcome::Correctness(w) if w.contains("log slot")));
}
