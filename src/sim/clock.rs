//! Time: the simulation's one true virtual time, and each node's own clock
//! read off it (`node.rs`: drift, offset and pauses; `faults.rs`: their
//! configuration; `sim.rs`: what `SimIO` does with them).

mod faults;
mod node;
mod sim;

pub use faults::ClockFaults;
pub(crate) use node::NodeClock;

/// Where virtual time starts: not zero, so that code subtracting a
/// duration from "now" at start-up does not underflow, and so that a bug
/// treating 0 as "no time" shows.
pub(crate) const START_NS: u64 = 1_000_000_000;

/// The simulation's true time. Never reads the wall clock; moves only when
/// the loop jumps to the next due event. Deadlines, the network and the
/// trace are measured on it; nodes read their own clocks off it.
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
