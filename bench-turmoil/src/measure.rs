//! Timing one run: wall-clock time and this thread's CPU time (user +
//! system). Both simulators run entirely on the calling thread, so the CPU
//! time is theirs alone, and other processes on a shared machine inflate it
//! much less than the wall time.

use std::time::{Duration, Instant};

/// What one timed region cost, and how much virtual time it simulated.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    pub simulated: Duration,
}

/// A started measurement.
#[derive(Debug)]
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, exclusive timespec for the duration of the call,
    // which only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch { wall: Instant::now(), cpu: thread_cpu() }
    }

    /// The cost since `start`, for a run that simulated `simulated`.
    pub fn stop(self, simulated: Duration) -> Sample {
        Sample { wall: self.wall.elapsed(), cpu: thread_cpu() - self.cpu, simulated }
    }
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
