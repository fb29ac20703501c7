//! Virtual time: a counter of nanoseconds that only the simulation moves.

/// Where virtual time starts: not zero, so that code subtracting a
/// duration from "now" at start-up does not underflow, and so that a bug
/// treating 0 as "no time" shows.
pub(crate) const START_NS: u64 = 1_000_000_000;

/// The simulation's clock. Never reads the wall clock; moves only when the
/// loop jumps to the next due event.
#[derive(Debug)]
pub(crate) struct VirtualClock {
    now: u64,
}

impl VirtualClock {
    pub(crate) fn new() -> VirtualClock {
        VirtualClock { now: START_NS }
    }

    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// Moves time forward to `at`; never backwards.
    pub(crate) fn advance_to(&mut self, at: u64) {
        self.now = self.now.max(at);
    }
}
