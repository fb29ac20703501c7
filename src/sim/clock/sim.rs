//! The nodes' clocks as `SimIO` runs them: what a node reads, where its
//! timers' deadlines fall in true time, and its pauses.

use super::NodeClock;
use crate::sim::events::SimEventKind;
use crate::sim::node::NodeId;
use crate::sim::trace::Record;
use crate::sim::{NodeError, SimIO};

impl<C> SimIO<C> {
    /// The current node's clock, in nanoseconds (also [`crate::Io::now_ns`]
    /// and [`crate::Clock::now_ns`]): during a callback the clock of the
    /// node it runs as, outside callbacks that of the node made current
    /// last. It never goes backwards. With [`ClockFaults::none`](super::ClockFaults::none)
    /// every node's clock is the simulation's true time
    /// ([`SimIO::true_now_ns`]), which starts at one second and moves only
    /// when the loop waits.
    pub fn now_ns(&self) -> u64 {
        self.clocks[self.current.0 as usize].read(self.clock.now())
    }

    /// `node`'s clock now.
    pub fn node_now_ns(&self, node: NodeId) -> Result<u64, NodeError> {
        let at = self.node_index(node)?;
        Ok(self.clocks[at].read(self.clock.now()))
    }

    /// The simulation's true time: what the trace, deadlines, the network
    /// and storage latencies are measured in, and what the nodes' clocks
    /// are read off.
    pub fn true_now_ns(&self) -> u64 {
        self.clock.now()
    }

    /// How far `node`'s clock runs fast (positive) or slow, in parts per
    /// million, as drawn when it was added or last restarted.
    pub fn clock_drift_ppm(&self, node: NodeId) -> Result<i32, NodeError> {
        Ok(self.clocks[self.node_index(node)?].drift_ppm())
    }

    /// Pauses `node` from now for `ns` of true time (a process stopped by
    /// `SIGSTOP`, a VM stalled): none of its callbacks run and none of its
    /// operations start until the pause is over; what is due meanwhile
    /// runs right after it. Its clock goes on, so afterwards it reads
    /// `ns` (and its drift) later. The kernel goes on too: segments to
    /// the node's sockets arrive. A pause in force that lasts longer is
    /// kept. Callable from a callback.
    pub fn pause_node(&mut self, node: NodeId, ns: u64) -> Result<(), NodeError> {
        let at = self.node_index(node)?;
        let now = self.clock.now();
        let until = self.clocks[at].pause(now, ns);
        self.record_pause(node, now, until);
        Ok(())
    }

    /// How many pauses of `node` (drawn or asked for) have begun so far:
    /// a harness that counts on a node answering in time can tell when
    /// it was not running.
    pub fn pauses(&self, node: NodeId) -> Result<u64, NodeError> {
        Ok(self.clocks[self.node_index(node)?].pauses(self.clock.now()))
    }

    /// How long `node` has been paused so far, in true time: a harness can
    /// tell how much of an interval the node did not run.
    pub fn paused_ns(&self, node: NodeId) -> Result<u64, NodeError> {
        Ok(self.clocks[self.node_index(node)?].paused_ns(self.clock.now()))
    }

    /// True if `node` exists and is paused now.
    pub fn is_paused(&self, node: NodeId) -> bool {
        let now = self.clock.now();
        self.clocks.get(node.0 as usize).is_some_and(|clock| clock.is_paused(now))
    }

    /// The true time at which `node`'s clock has moved on `ns` from now:
    /// what a timer of `node` (or a run's deadline, for the current node)
    /// is keyed by in the core's deadline heap.
    #[inline]
    pub(crate) fn deadline_for(&self, node: NodeId, ns: u64) -> u64 {
        self.clocks[node.0 as usize].deadline(self.clock.now(), ns)
    }

    /// Until when the operation in slot `index` must wait because its node
    /// is paused (`None`: it runs now). Marks the slot, so that its trip
    /// through the deadline heap is not taken for a storage latency.
    #[inline]
    pub(crate) fn hold(&mut self, index: u32) -> Option<u64> {
        let node = self.core.slots[index as usize].data.node;
        let now = self.clock.now();
        if self.clocks[node.0 as usize].runs_at(now) {
            return None;
        }
        self.roll_pause(node);
        let until = self.clocks[node.0 as usize].held_until(now)?;
        self.core.slots[index as usize].data.held = true;
        Some(until)
    }

    /// Begins `node`'s drawn pause if its time has come.
    fn roll_pause(&mut self, node: NodeId) {
        let now = self.clock.now();
        let clock = &mut self.clocks[node.0 as usize];
        if let Some((start, end)) = clock.roll(now, &self.faults.clock, &mut self.streams.clock) {
            self.record_pause(node, start, end);
        }
    }

    fn record_pause(&mut self, node: NodeId, start: u64, end: u64) {
        self.trace.record(Record::Pause, [start, u64::from(node.0), end, 0, 0]);
        self.log(node, SimEventKind::Pause { ns: end.saturating_sub(start) });
    }

    /// A clock for a node added now, drawn from the clock stream.
    pub(crate) fn add_clock(&mut self, node: NodeId) {
        let now = self.clock.now();
        let clock = NodeClock::new(now, &self.faults.clock, &mut self.streams.clock);
        self.clocks.push(clock);
        self.record_clock(node);
    }

    /// `node` crashed (or restarts): its pause ends with its process.
    pub(crate) fn crash_clock(&mut self, node: NodeId) {
        self.roll_pause(node);
        self.clocks[node.0 as usize].end_pause(self.clock.now());
    }

    /// `node` restarted: its clock goes on at a newly drawn rate, and the
    /// new process runs at once (a pause begun while it was down is over).
    pub(crate) fn restart_clock(&mut self, node: NodeId) {
        self.crash_clock(node);
        let now = self.clock.now();
        let (faults, prng) = (&self.faults.clock, &mut self.streams.clock);
        self.clocks[node.0 as usize].redraw_drift(now, faults, prng);
        self.record_clock(node);
    }

    /// The configuration changed: pauses stop or begin to be drawn.
    pub(crate) fn reschedule_pauses(&mut self) {
        let now = self.clock.now();
        for clock in &mut self.clocks {
            clock.reschedule(now, &self.faults.clock, &mut self.streams.clock);
        }
    }

    /// Folds `node`'s clock (reading and drift) into the trace, when clocks
    /// can differ at all (so a run without clock faults keeps its hash).
    fn record_clock(&mut self, node: NodeId) {
        let faults = &self.faults.clock;
        let clock = &self.clocks[node.0 as usize];
        if faults.drift_ppm == 0 && faults.offset_ns == 0 && clock.drift_ppm() == 0 {
            return;
        }
        let now = self.clock.now();
        let fields =
            [now, u64::from(node.0), clock.read(now), i64::from(clock.drift_ppm()) as u64, 0];
        self.trace.record(Record::Clock, fields);
    }
}
