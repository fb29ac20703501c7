//! `--jobs` changes how fast a batch runs, never what it reports: the same
//! seeds in the same order, the same verdicts and trace hashes, and the
//! same (lowest) failing seed.

use std::ops::ControlFlow;

use twinio_kv::store::Bugs;
use twinio_kv::vopr::Options;
use twinio_kv::vopr::batch::run_batch;

/// (seed, passed, trace hash) of every run the batch reports.
fn reported(from: u64, count: u64, jobs: usize, options: &Options) -> Vec<(u64, bool, u64)> {
    let mut runs = Vec::new();
    run_batch(from, count, jobs, options, |run| {
        let hash = run.result.as_ref().map_or(0, |report| report.trace_hash);
        runs.push((run.seed, run.passed(), hash));
        ControlFlow::Continue(())
    });
    runs
}

#[test]
fn a_passing_batch_reports_the_same_on_any_number_of_jobs() {
    let options = Options::default();
    let one = reported(0, 12, 1, &options);
    assert_eq!(one.len(), 12);
    assert!(one.iter().all(|&(_, passed, _)| passed), "{one:?}");
    assert_eq!(reported(0, 12, 2, &options), one);
    assert_eq!(reported(0, 12, 5, &options), one);
}

#[test]
fn a_failing_batch_stops_at_the_lowest_failing_seed_on_any_number_of_jobs() {
    let options =
        Options { bugs: Bugs { ack_before_fsync: true, ..Bugs::default() }, ..Options::default() };
    let one = reported(200, 60, 1, &options);
    let &(first_failure, passed, _) = one.last().expect("some seeds ran");
    assert!(!passed, "ack-before-fsync survived seeds 200..260: {one:?}");
    assert!(one[..one.len() - 1].iter().all(|&(_, passed, _)| passed));
    assert!(first_failure > 200, "the test needs passing seeds before the failure");
    for jobs in [2, 4] {
        assert_eq!(reported(200, 60, jobs, &options), one, "{jobs} jobs");
    }
}

#[test]
fn a_batch_stops_when_its_reader_does() {
    let mut seen = 0;
    run_batch(0, 50, 3, &Options::default(), |_| {
        seen += 1;
        if seen == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    assert_eq!(seen, 2);
}
