//! A batch of seeds over worker threads. Each seed is still one
//! single-threaded deterministic simulation; threads exist only here, in
//! the runner, and only to run several seeds at once. Results are handed
//! on in seed order, and the batch ends at the lowest failing seed, so what
//! a batch reports does not depend on the number of jobs.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Options, Outcome, Report, run_seed};

/// One seed's run, as the batch hands it on.
#[derive(Debug)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// The run's report, or the message of the panic that ended it.
    pub result: Result<Report, String>,
    /// Wall time the run took (the only non-deterministic field).
    pub wall: Duration,
}

impl SeedRun {
    /// True unless the run broke an invariant, stalled or panicked.
    pub fn passed(&self) -> bool {
        matches!(&self.result, Ok(report) if report.outcome == Outcome::Passed)
    }
}

/// Runs one seed, turning a panic into its message.
pub fn run_one(seed: u64, options: &Options) -> SeedRun {
    let start = Instant::now();
    let result =
        panic::catch_unwind(AssertUnwindSafe(|| run_seed(seed, options))).map_err(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into())
        });
    SeedRun { seed, result, wall: start.elapsed() }
}

/// Runs seeds `from..from + count` on `jobs` threads, handing each run to
/// `emit` in seed order. Stops after the lowest failing seed (which is
/// emitted), or when `emit` breaks. `from + count` must not overflow.
pub fn run_batch(
    from: u64,
    count: u64,
    jobs: usize,
    options: &Options,
    mut emit: impl FnMut(SeedRun) -> ControlFlow<()>,
) {
    // Offsets from `from`: the next to claim, and the first not to start
    // (lowered to just past a failure, or to 0 when `emit` breaks).
    let next = AtomicU64::new(0);
    let stop = AtomicU64::new(count);
    let (sender, receiver) = mpsc::channel::<SeedRun>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let sender = sender.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                loop {
                    // Claims are in seed order, so every seed below a
                    // failing one has been claimed and will be finished.
                    let offset = next.fetch_add(1, Ordering::SeqCst);
                    if offset >= stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let run = run_one(from + offset, options);
                    if !run.passed() {
                        stop.fetch_min(offset + 1, Ordering::SeqCst);
                    }
                    if sender.send(run).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        let mut waiting = BTreeMap::new();
        let mut expected = 0u64;
        let mut done = false;
        for run in receiver {
            if done {
                continue; // drain: the workers end once they see `stop`
            }
            waiting.insert(run.seed - from, run);
            while let Some(run) = waiting.remove(&expected) {
                expected += 1;
                let failed = !run.passed();
                if emit(run).is_break() {
                    stop.store(0, Ordering::SeqCst);
                    done = true;
                    break;
                }
                if failed {
                    done = true;
                    break;
                }
            }
        }
    });
}
