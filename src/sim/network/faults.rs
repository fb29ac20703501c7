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
    /// The chance, per crash, that it is a power-off: the node's sockets
    /// vanish without RST, its peers see silence, and connects to its
    /// listeners' addresses time out (`ETIMEDOUT`) instead of being refused.
    pub power_off_crash: Ratio,
    /// The retransmission timeout: a connection whose data has been held
    /// (by a partition, or by a powered-off peer) this long gives up with
    /// `ETIMEDOUT`, and a SYN held by a partition is retransmitted and
    /// times out as a dropped one does. 0: never (data waits out any cut).
    pub rto_ns: u64,
    /// The chance that a connect is answered by a router's ICMP host
    /// unreachable: the connect fails with `EHOSTUNREACH`.
    pub unreachable: Ratio,
    /// The chance, per `partition(a, b)`, that only one direction (drawn)
    /// is cut.
    pub one_way_partition: Ratio,
    /// Each direction of each node pair carries at most this many bytes per
    /// second: a data segment waits behind the earlier ones on its link.
    /// 0: unlimited.
    pub bandwidth_bytes_per_s: u64,
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
            power_off_crash: Ratio::ZERO,
            rto_ns: 0,
            unreachable: Ratio::ZERO,
            one_way_partition: Ratio::ZERO,
            bandwidth_bytes_per_s: 0,
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
            ..NetworkFaults::none()
        }
    }

    /// Draws the node and link faults (fault model v2). Called after every
    /// older draw of a swarm configuration, so a seed's older fields keep
    /// their values. Rates are per crash, per connect and per partition;
    /// the timeout is scaled down from Linux's ~15 minutes so a run of
    /// tens of virtual seconds sees it.
    pub fn swarm_v2(&mut self, prng: &mut Prng) {
        let half = Ratio::new(1, 2).unwrap_or(Ratio::ZERO);
        self.power_off_crash = maybe_ratio(prng, 1);
        self.rto_ns =
            if prng.chance(half) { prng.range_inclusive(200_000_000, 10_000_000_000) } else { 0 };
        self.unreachable = maybe_ratio(prng, 20);
        self.one_way_partition = maybe_ratio(prng, 1);
        self.bandwidth_bytes_per_s =
            if prng.chance(half) { prng.range_inclusive(1_000_000, 1_250_000_000) } else { 0 };
    }

    /// The fault part switched off, delays, bandwidth and the timeout kept
    /// (they are how the network behaves, not faults).
    pub fn liveness(&self) -> NetworkFaults {
        NetworkFaults {
            partial_send: Ratio::ZERO,
            partial_recv: Ratio::ZERO,
            reset: Ratio::ZERO,
            refuse: Ratio::ZERO,
            power_off_crash: Ratio::ZERO,
            unreachable: Ratio::ZERO,
            one_way_partition: Ratio::ZERO,
            ..*self
        }
    }

    /// How long `bytes` occupy a link, in nanoseconds (0 when unlimited).
    pub(super) fn transmit_ns(&self, bytes: usize) -> u64 {
        match self.bandwidth_bytes_per_s {
            0 => 0,
            rate => ((bytes as u128 * 1_000_000_000).div_ceil(u128::from(rate))) as u64,
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
            "delay={}ns+0..={}ns tail={}x0..={}ns partial_send={} partial_recv={} reset={} refuse={} \
             power_off_crash={} rto={}ns unreachable={} one_way_partition={} bandwidth={}B/s",
            self.delay_min_ns,
            self.delay_jitter_ns,
            self.delay_tail,
            self.delay_tail_ns,
            self.partial_send,
            self.partial_recv,
            self.reset,
            self.refuse,
            self.power_off_crash,
            self.rto_ns,
            self.unreachable,
            self.one_way_partition,
            self.bandwidth_bytes_per_s,
        )
    }
}
