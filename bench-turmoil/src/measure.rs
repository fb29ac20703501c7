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
    Duration::from_nanos(crate::cpu_time::thread_cpu_ns())
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
