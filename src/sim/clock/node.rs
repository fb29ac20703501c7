//! One node's clock: a monotonic function of true time (an offset, and a
//! rate off by a drift), and the node's pauses.
//!
//! The clock reads `base_node + (t - base_true) * (10^6 + drift_ppm) / 10^6`
//! at true time `t`, rounded down, in integers. The rate changes only at a
//! restart, where the clock is re-based at its current reading, so it
//! never jumps and never goes backwards. A pause changes nothing about the
//! clock: the node only stops running while it lasts, so when it runs
//! again its clock has moved on by the whole pause.

use super::faults::ClockFaults;
use crate::sim::prng::Prng;

const MILLION: u128 = 1_000_000;

/// The furthest a clock's rate may be off, in ppm (10%): far beyond any
/// oscillator, and it keeps every rate positive.
pub(crate) const MAX_DRIFT_PPM: u32 = 100_000;

/// The largest offset (2^62 ns, 146 years): a clock so far ahead still has
/// centuries before its readings would saturate and bunch its deadlines.
pub(crate) const MAX_OFFSET_NS: u64 = 1 << 62;

/// A pause that began: its start and end, in true time.
pub(crate) type Began = (u64, u64);

#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeClock {
    /// True time and the node's reading where the current rate began.
    base_true: u64,
    base_node: u64,
    /// How far the rate is off: the clock moves `10^6 + drift_ppm` ns per
    /// `10^6` ns of true time.
    drift_ppm: i32,
    /// Nothing of the node runs before this true time: the end of the
    /// pause in force (or of one that is over).
    paused_until: u64,
    /// The next drawn pause, not begun yet: its start in true time
    /// (`u64::MAX`: none is coming) and its length.
    next_pause_at: u64,
    next_pause_ns: u64,
    /// Pauses begun so far, drawn or asked for.
    pauses: u64,
    /// True time paused so far, each stretch counted once, the pause in
    /// force with all of its length (also the part still to come).
    paused_total: u64,
}

impl NodeClock {
    /// A clock made at true time `now`: its offset and drift drawn (nothing
    /// is drawn for a bound of zero), its first pause scheduled.
    pub(crate) fn new(now: u64, faults: &ClockFaults, prng: &mut Prng) -> NodeClock {
        let bound = faults.offset_ns.min(MAX_OFFSET_NS);
        let offset = if bound > 0 { prng.range_inclusive(0, bound) } else { 0 };
        let mut clock = NodeClock {
            base_true: now,
            base_node: now.saturating_add(offset),
            drift_ppm: draw_drift(faults, prng),
            paused_until: 0,
            next_pause_at: u64::MAX,
            next_pause_ns: 0,
            pauses: 0,
            paused_total: 0,
        };
        clock.schedule_pause(now, faults, prng);
        clock
    }

    /// The rate error, in ppm.
    pub(crate) fn drift_ppm(&self) -> i32 {
        self.drift_ppm
    }

    /// The node's reading at true time `now`.
    #[inline]
    pub(crate) fn read(&self, now: u64) -> u64 {
        let elapsed = u128::from(now.saturating_sub(self.base_true));
        let ticks = match self.drift_ppm {
            0 => elapsed,
            drift => elapsed * rate(drift) / MILLION,
        };
        self.base_node.saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX))
    }

    /// The earliest true time, not before `now`, at which this clock has
    /// moved on `ns` from its reading at `now` (rounded up: a deadline is
    /// never reached early).
    #[inline]
    pub(crate) fn deadline(&self, now: u64, ns: u64) -> u64 {
        let ahead = u128::from(self.read(now).saturating_add(ns) - self.base_node);
        let elapsed = match self.drift_ppm {
            0 => ahead,
            drift => (ahead * MILLION).div_ceil(rate(drift)),
        };
        self.base_true.saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX)).max(now)
    }

    /// A new rate from true time `now` on (a restart: another process, and
    /// an oscillator that may have warmed or cooled), continuing from the
    /// current reading.
    pub(crate) fn redraw_drift(&mut self, now: u64, faults: &ClockFaults, prng: &mut Prng) {
        if faults.drift_ppm == 0 && self.drift_ppm == 0 {
            return;
        }
        self.base_node = self.read(now);
        self.base_true = now;
        self.drift_ppm = draw_drift(faults, prng);
    }

    /// True if the node may run at true time `now` with nothing to draw:
    /// no pause in force and none due to begin. The hot path.
    #[inline(always)]
    pub(crate) fn runs_at(&self, now: u64) -> bool {
        self.paused_until <= now && self.next_pause_at > now
    }

    /// Begins the drawn pause if its start has come (at most one, so a
    /// long idle stretch costs one draw), scheduling the next from its end
    /// (or from `now`, if later). Returns the pause that began.
    pub(crate) fn roll(
        &mut self,
        now: u64,
        faults: &ClockFaults,
        prng: &mut Prng,
    ) -> Option<Began> {
        if self.next_pause_at > now {
            return None;
        }
        let start = self.next_pause_at;
        let end = start.saturating_add(self.next_pause_ns);
        self.extend_pause(start, end);
        self.schedule_pause(self.paused_until.max(now), faults, prng);
        Some((start, end))
    }

    /// When the pause in force at `now` ends (after `roll`), if one is.
    #[inline]
    pub(crate) fn held_until(&self, now: u64) -> Option<u64> {
        (self.paused_until > now).then_some(self.paused_until)
    }

    /// Pauses the node from `now` for `ns` (or longer, if a pause in force
    /// lasts longer).
    pub(crate) fn pause(&mut self, now: u64, ns: u64) -> u64 {
        self.extend_pause(now, now.saturating_add(ns));
        self.paused_until
    }

    /// A pause from `start` to `end` begins (overlapping the one in force,
    /// if any, which it may lengthen).
    fn extend_pause(&mut self, start: u64, end: u64) {
        let added = end.saturating_sub(start.max(self.paused_until));
        self.paused_total = self.paused_total.saturating_add(added);
        self.paused_until = self.paused_until.max(end);
        self.pauses = self.pauses.saturating_add(1);
    }

    /// The process died at `now`: its pause ends with it (the restarted
    /// process is a new one). The drawn schedule goes on.
    pub(crate) fn end_pause(&mut self, now: u64) {
        self.paused_total = self.paused_total.saturating_sub(self.paused_until.saturating_sub(now));
        self.paused_until = self.paused_until.min(now);
    }

    /// The configuration changed at `now`: pauses stop, or begin to be
    /// scheduled, as it says.
    pub(crate) fn reschedule(&mut self, now: u64, faults: &ClockFaults, prng: &mut Prng) {
        if faults.pause_interval_ns == 0 {
            self.next_pause_at = u64::MAX;
        } else if self.next_pause_at == u64::MAX {
            self.schedule_pause(now, faults, prng);
        }
    }

    /// Pauses begun by true time `now`.
    pub(crate) fn pauses(&self, now: u64) -> u64 {
        self.pauses.saturating_add(u64::from(self.next_pause_at <= now))
    }

    /// True time the node has spent paused by true time `now`.
    pub(crate) fn paused_ns(&self, now: u64) -> u64 {
        let mut total = self.paused_total.saturating_sub(self.paused_until.saturating_sub(now));
        if self.next_pause_at <= now {
            // Begun, not rolled yet: the part up to now not already counted.
            let end = self.next_pause_at.saturating_add(self.next_pause_ns).min(now);
            let from = self.next_pause_at.max(self.paused_until.min(now));
            total = total.saturating_add(end.saturating_sub(from));
        }
        total
    }

    /// True if the node is paused at true time `now`.
    pub(crate) fn is_paused(&self, now: u64) -> bool {
        self.paused_until > now
            || (self.next_pause_at <= now
                && self.next_pause_at.saturating_add(self.next_pause_ns) > now)
    }

    /// Draws the next pause after `from`: a gap uniform in
    /// `1..=2 * pause_interval_ns` (so `pause_interval_ns` on average),
    /// a heavy-tailed length in `pause_min_ns..=pause_max_ns`.
    fn schedule_pause(&mut self, from: u64, faults: &ClockFaults, prng: &mut Prng) {
        if faults.pause_interval_ns == 0 {
            self.next_pause_at = u64::MAX;
            return;
        }
        let gap = prng.range_inclusive(1, faults.pause_interval_ns.saturating_mul(2));
        // Never `u64::MAX`, which means "none".
        self.next_pause_at = from.saturating_add(gap).min(u64::MAX - 1);
        self.next_pause_ns = prng.heavy_tailed(faults.pause_min_ns, faults.pause_max_ns);
    }
}

/// The rate of a clock off by `drift` ppm, per million.
#[inline]
fn rate(drift: i32) -> u128 {
    (MILLION as i128 + i128::from(drift)) as u128
}

/// A drift uniform in `±drift_ppm` (capped at `MAX_DRIFT_PPM`).
fn draw_drift(faults: &ClockFaults, prng: &mut Prng) -> i32 {
    let bound = i64::from(faults.drift_ppm.min(MAX_DRIFT_PPM));
    if bound == 0 {
        return 0;
    }
    (prng.range_inclusive(0, 2 * bound as u64) as i64 - bound) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(drift_ppm: i32) -> NodeClock {
        NodeClock {
            base_true: 1_000,
            base_node: 5_000,
            drift_ppm,
            paused_until: 0,
            next_pause_at: u64::MAX,
            next_pause_ns: 0,
            pauses: 0,
            paused_total: 0,
        }
    }

    #[test]
    fn reads_offset_plus_drifted_elapsed_time() {
        assert_eq!(clock(0).read(1_000_001_000), 1_000_005_000);
        // 100 ppm fast: 1 s of true time is 1.0001 s.
        assert_eq!(clock(100).read(1_000_001_000), 1_000_105_000);
        assert_eq!(clock(-100).read(1_000_001_000), 999_905_000);
        // Rounded down: 7 ns at 1 ppm fast is still 7.
        assert_eq!(clock(1).read(1_007), 5_007);
    }

    #[test]
    fn a_deadline_is_the_first_true_time_the_clock_reaches_it() {
        for drift in [-100_000, -377, -1, 0, 1, 250, 99_999] {
            let clock = clock(drift);
            for (now, ns) in [(1_000, 0), (1_000, 1), (3_333, 999_999_937), (10_000, 7)] {
                let at = clock.deadline(now, ns);
                let target = clock.read(now) + ns;
                assert!(clock.read(at) >= target, "drift {drift}: late by none");
                assert!(at == now || clock.read(at - 1) < target, "drift {drift}: not early");
            }
        }
    }

    #[test]
    fn a_new_rate_continues_from_the_reading() {
        let faults = ClockFaults { drift_ppm: 500, ..ClockFaults::none() };
        let mut prng = Prng::from_seed(3);
        let mut clock = clock(200);
        let before = clock.read(2_000_000_000);
        clock.redraw_drift(2_000_000_000, &faults, &mut prng);
        assert_eq!(clock.read(2_000_000_000), before);
        assert!(clock.drift_ppm().unsigned_abs() <= 500);
    }

    #[test]
    fn a_drawn_pause_begins_holds_and_schedules_the_next() {
        let faults = ClockFaults {
            pause_interval_ns: 1_000,
            pause_min_ns: 50,
            pause_max_ns: 50,
            ..ClockFaults::none()
        };
        let mut prng = Prng::from_seed(9);
        let mut clock = NodeClock::new(0, &faults, &mut prng);
        let start = clock.next_pause_at;
        assert!((1..=2_000).contains(&start));
        assert!(clock.runs_at(start - 1) && !clock.runs_at(start));
        assert_eq!(clock.roll(start, &faults, &mut prng), Some((start, start + 50)));
        assert_eq!(clock.held_until(start + 10), Some(start + 50));
        assert_eq!(clock.pauses(start), 1);
        assert!(clock.next_pause_at > start + 50);
        assert_eq!(clock.held_until(start + 50), None);
        assert_eq!((clock.paused_ns(start + 10), clock.paused_ns(start + 80)), (10, 50));
        // An overlapping pause counts only what it adds; a crash cuts it.
        clock.reschedule(start, &ClockFaults::none(), &mut prng);
        clock.pause(start + 60, 100);
        assert_eq!(clock.paused_ns(start + 300), 150);
        clock.pause(start + 400, 100);
        clock.end_pause(start + 430);
        assert_eq!(clock.paused_ns(start + 500), 180);
    }
}
