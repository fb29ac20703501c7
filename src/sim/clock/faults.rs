//! How far the nodes' clocks may be off, and how the nodes pause.

use std::fmt;

use crate::sim::prng::{Prng, Ratio};

/// The clock faults of a simulation (fault model v2): each node's clock
/// runs at its own rate from its own origin, and a node pauses now and
/// then (a garbage collection, a VM stall), running nothing while its
/// clock moves on. All off in [`ClockFaults::none`]; `docs/simulation.md`
/// says what real clocks and stalls behave this way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClockFaults {
    /// Each node's clock runs fast or slow by a drift drawn uniformly in
    /// `±drift_ppm` parts per million (at most 100 000), when the node is
    /// added and again at each restart. 0: every clock keeps true time.
    pub drift_ppm: u32,
    /// Each node's clock starts ahead of true time by up to this much
    /// (at most 2^62 ns), drawn when the node is added. 0: every clock
    /// starts together.
    pub offset_ns: u64,
    /// The mean time between the starts of two pauses of a node (the gap
    /// is uniform in `1..=2 * pause_interval_ns`, measured from the end of
    /// the previous pause). 0: nodes never pause.
    pub pause_interval_ns: u64,
    /// The shortest pause.
    pub pause_min_ns: u64,
    /// The longest pause: lengths are heavy-tailed between the two
    /// (`pause_min_ns` doubled while a fair coin says so).
    pub pause_max_ns: u64,
}

impl ClockFaults {
    /// Every clock keeps true time from the same origin; no node pauses.
    pub const fn none() -> ClockFaults {
        ClockFaults {
            drift_ppm: 0,
            offset_ns: 0,
            pause_interval_ns: 0,
            pause_min_ns: 0,
            pause_max_ns: 0,
        }
    }

    /// A configuration drawn from `prng`, each fault on for about half the
    /// seeds. The drift bound reaches 2 000 ppm, four times NTP's 500 ppm
    /// limit, so a run of virtual seconds sees the clocks part; pauses
    /// come every 1–30 s on average and last 1 ms up to 4 s.
    pub fn swarm(prng: &mut Prng) -> ClockFaults {
        let half = Ratio::new(1, 2).unwrap_or(Ratio::ZERO);
        let drift_ppm = if prng.chance(half) { prng.range_inclusive(1, 2_000) as u32 } else { 0 };
        let offset_ns = if prng.chance(half) { prng.range_inclusive(1, 3_600 * SECOND) } else { 0 };
        let pause_interval_ns =
            if prng.chance(half) { prng.range_inclusive(SECOND, 30 * SECOND) } else { 0 };
        ClockFaults {
            drift_ppm,
            offset_ns,
            pause_interval_ns,
            pause_min_ns: prng.range_inclusive(1_000_000, 50_000_000),
            pause_max_ns: prng.range_inclusive(100_000_000, 4 * SECOND),
        }
    }
}

const SECOND: u64 = 1_000_000_000;

impl fmt::Display for ClockFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drift=±{}ppm offset=0..={}ns pause_interval={}ns (0: never) pause={}..={}ns (doubling)",
            self.drift_ppm,
            self.offset_ns,
            self.pause_interval_ns,
            self.pause_min_ns,
            self.pause_max_ns,
        )
    }
}
