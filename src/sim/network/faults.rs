//! What the simulated network does wrong, and how slowly it does it right.

use std::fmt;

use crate::sim::prng::{Prng, Ratio};

/// The simulated network's fault and latency configuration.
///
/// A segment's one-way delay is `delay_min_ns + uniform(0..=delay_jitter_ns)`,
/// plus, with probability `delay_tail`, a further `uniform(0..=delay_tail_ns)`:
/// a floor, a body and a long tail, all in integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkFaults {
    /// The floor of every one-way delay, in nanoseconds.
    pub delay_min_ns: u64,
    /// The uniform jitter above the floor, in nanoseconds.
    pub delay_jitter_ns: u64,
    /// The chance that a segment is slow (takes the tail).
    pub delay_tail: Ratio,
    /// The most a slow segment adds, in nanoseconds.
    pub delay_tail_ns: u64,
    /// The chance that a send accepts fewer bytes than it could.
    pub partial_send: Ratio,
    /// The chance that a receive returns fewer bytes than are available.
    pub partial_recv: Ratio,
    /// The chance, per send, that the connection is reset instead.
    pub reset: Ratio,
    /// The chance that a connect is refused although a listener exists.
    pub refuse: Ratio,
}

impl NetworkFaults {
    /// No faults, and a fixed 10 µs one-way delay (a fast LAN), so that
    /// ordering across connections still depends on time, not on chance.
    pub const fn none() -> NetworkFaults {
        NetworkFaults {
            delay_min_ns: 10_000,
            delay_jitter_ns: 0,
            delay_tail: Ratio::ZERO,
            delay_tail_ns: 0,
            partial_send: Ratio::ZERO,
            partial_recv: Ratio::ZERO,
            reset: Ratio::ZERO,
            refuse: Ratio::ZERO,
        }
    }

    /// A whole configuration drawn from `prng` (swarm testing: each fault
    /// is switched off in about half the runs, so runs differ in *which*
    /// faults they see, not only in how often).
    pub fn swarm(prng: &mut Prng) -> NetworkFaults {
        NetworkFaults {
            delay_min_ns: prng.range_inclusive(1_000, 500_000),
            delay_jitter_ns: prng.range_inclusive(0, 2_000_000),
            delay_tail: maybe_ratio(prng, 100),
            delay_tail_ns: prng.range_inclusive(0, 100_000_000),
            partial_send: maybe_ratio(prng, 2),
            partial_recv: maybe_ratio(prng, 2),
            reset: maybe_ratio(prng, 200),
            refuse: maybe_ratio(prng, 10),
        }
    }

    /// Draws one segment's one-way delay. Consumes no randomness when the
    /// configuration has no jitter and no tail.
    pub fn draw_delay(&self, prng: &mut Prng) -> u64 {
        let mut delay =
            self.delay_min_ns.saturating_add(prng.range_inclusive(0, self.delay_jitter_ns));
        if prng.chance(self.delay_tail) {
            delay = delay.saturating_add(prng.range_inclusive(0, self.delay_tail_ns));
        }
        delay
    }
}

impl Default for NetworkFaults {
    fn default() -> NetworkFaults {
        NetworkFaults::none()
    }
}

/// Zero half the time, otherwise a ratio between 1/1000 and `1/inverse_max`.
fn maybe_ratio(prng: &mut Prng, inverse_max: u32) -> Ratio {
    if prng.chance(Ratio::new(1, 2).unwrap_or(Ratio::ZERO)) {
        return Ratio::ZERO;
    }
    let numerator = prng.range_inclusive(1, u64::from(1_000 / inverse_max.max(1)));
    // `numerator <= 1000`, so the ratio is valid.
    Ratio::new(numerator as u32, 1_000).unwrap_or(Ratio::ZERO)
}

impl fmt::Display for NetworkFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delay={}ns+0..={}ns tail={}x0..={}ns partial_send={} partial_recv={} reset={} refuse={}",
            self.delay_min_ns,
            self.delay_jitter_ns,
            self.delay_tail,
            self.delay_tail_ns,
            self.partial_send,
            self.partial_recv,
            self.reset,
            self.refuse,
        )
    }
}
