//! `SimIO`, the deterministic simulated twin of [`crate::IO`].
//!
//! Everything under this module is single-threaded and driven by one seed:
//! no wall clock, no OS randomness, no `HashMap` iteration order. The loop
//! mirrors the real one (a ready FIFO drained each pass, timers in a heap,
//! operations that would block parked and retried), with virtual time that
//! jumps straight to the next due event. `docs/simulation.md` describes the
//! model and every fault.

mod attempt;
mod backend;
pub(crate) mod clock;
pub mod config;
pub mod events;
mod fds;
// Some inspection methods of the network serve only its own tests.
#[allow(dead_code)]
pub mod network;
pub mod node;
mod parking;
pub mod prng;
mod resources;
mod storage;
mod trace;

use std::fmt;
use std::path::Path;

use clock::{NodeClock, VirtualClock};
use config::{CrashPolicy, FaultConfig};
use fds::FdTable;
use network::Network;
use node::NodeId;
use parking::Parking;
use prng::Prng;
use storage::Storage;
use trace::{Record, Trace};

use crate::engine::op::Place;
use crate::engine::{Core, control, impl_io};
use crate::real::DEFAULT_MAX_WAIT_NS;

/// The most operation slots [`SimIO::new`] reserves.
const MAX_ENTRIES: u32 = 1 << 20;

/// Why a node-control call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeError {
    /// The id names no node of this simulation.
    UnknownNode,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown simulated node")
    }
}

impl std::error::Error for NodeError {}

impl<C> crate::clock::Clock for SimIO<C> {
    fn now_ns(&self) -> u64 {
        SimIO::now_ns(self)
    }
}

impl<C> fmt::Debug for SimIO<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimIO")
            .field("seed", &self.seed)
            .field("true_now_ns", &self.clock.now())
            .field("in_flight", &self.core.in_flight())
            .field("nodes", &self.nodes.len())
            .field("current_node", &self.current)
            .field("trace_hash", &self.trace.hash())
            .field("event_log", &self.event_log.is_some())
            .finish_non_exhaustive()
    }
}

/// One generator per subsystem, all forked from the master seed, so a
/// draw added in one subsystem does not shift the others.
pub(crate) struct Streams {
    pub storage: Prng,
    pub latency: Prng,
    pub crash: Prng,
    pub network: Prng,
    pub clock: Prng,
}

/// The deterministic simulated twin of [`crate::IO`]: the same [`crate::Io`]
/// trait over virtual time, simulated storage with faults and simulated
/// nodes, all driven by one seed.
///
/// Two runs with the same seed, the same [`FaultConfig`] and the same
/// submitted operations produce identical results and an identical
/// [`SimIO::trace_hash`]. `SimIO` is single-threaded: it has no
/// cross-thread event trigger (use [`crate::Io::event_trigger`] from the
/// loop).
///
/// Callbacks run as the node that submitted their operation: during a
/// callback [`SimIO::current_node`] is that node (and [`SimIO::now_ns`]
/// reads its clock, which [`ClockFaults`](crate::ClockFaults) may make
/// drift, start from an offset, or jump over a pause), and the previous
/// current node is restored when the callback returns.
///
/// A write that was never synced, and a crash: what survives is what the
/// crash policy allows, and a run replays exactly from its seed.
///
/// ```
/// use std::path::Path;
/// use twinio::*;
///
/// fn on_write(written: &mut bool, _: &mut SimIO<bool>, done: WriteDone) {
///     *written = done.result == Ok(4096);
/// }
///
/// fn run(seed: u64) -> Result<(bool, u64), Box<dyn std::error::Error>> {
///     let mut sim: SimIO<bool> = SimIO::new(seed, 16, FaultConfig::none());
///     let dir = sim.open_dir(Path::new("/db"))?;
///     let file = sim.open_data_file(dir, Path::new("data"), 1 << 20, FilePurpose::Format, DirectIo::Disabled)?;
///     sim.write(file, Buffer::from_slice(&[1; 4096])?, .., 0, 0, on_write)?;
///     let mut written = false;
///     sim.run_until_done(&mut written)?;
///     // No fsync: power loss drops the write (the default crash policy).
///     sim.crash_node(NodeId::FIRST)?;
///     sim.restart_node(NodeId::FIRST)?;
///     let dir = sim.open_dir(Path::new("/db"))?;
///     let file = sim.open_data_file(dir, Path::new("data"), 1 << 20, FilePurpose::Open, DirectIo::Disabled)?;
///     fn on_read(first: &mut bool, _: &mut SimIO<bool>, done: ReadDone) {
///         *first = done.buffer[0] == 1;
///     }
///     sim.read(file, Buffer::new(4096)?, .., 0, 0, on_read)?;
///     let mut survived = false;
///     sim.run_until_done(&mut survived)?;
///     assert!(written);
///     Ok((survived, sim.trace_hash()))
/// }
///
/// let (survived, hash) = run(7)?;
/// assert!(!survived, "an unsynced write does not survive power loss");
/// assert_eq!(run(7)?.1, hash, "same seed, same run");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SimIO<C> {
    core: Core<SimIO<C>>,
    seed: u64,
    faults: FaultConfig,
    clock: VirtualClock,
    /// Network operations that would block, each retried when its socket
    /// changes.
    parking: Parking,
    fds: FdTable,
    storage: Storage,
    network: Network,
    nodes: Vec<bool>,
    /// Each node's clock and pauses, by node index.
    clocks: Vec<NodeClock>,
    current: NodeId,
    streams: Streams,
    trace: Trace,
    /// Where events go, if a caller asked for them (`set_event_log`).
    event_log: Option<events::EventLog>,
}

impl_io!(SimIO);

impl<C> SimIO<C> {
    /// A simulation driven by `seed`, with `entries` operation slots (the
    /// most operations in flight at once, as `IO::init`; clamped to
    /// `1..=2^20`) and the given faults. Node 0 exists and is
    /// current.
    pub fn new(seed: u64, entries: u32, faults: FaultConfig) -> SimIO<C> {
        let entries = entries.clamp(1, MAX_ENTRIES);
        let mut master = Prng::from_seed(seed);
        let streams = Streams {
            storage: master.fork(),
            latency: master.fork(),
            crash: master.fork(),
            network: master.fork(),
            // Forked last, so the older streams keep their draws.
            clock: master.fork(),
        };
        // The real IO's bounded wait, in virtual time, when nothing else
        // bounds a wait but something waits on the world.
        let core =
            Core::new(entries, DEFAULT_MAX_WAIT_NS).expect("2^20 operation slots fit in memory");
        let mut io = SimIO {
            core,
            seed,
            faults,
            clock: VirtualClock::new(),
            parking: Parking::new(entries as usize),
            fds: FdTable::default(),
            storage: Storage::default(),
            network: Network::new(),
            nodes: vec![true],
            clocks: Vec::new(),
            current: NodeId::FIRST,
            streams,
            trace: Trace::new(seed),
            event_log: None,
        };
        io.add_clock(NodeId::FIRST);
        io
    }

    /// The seed this simulation was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The fault configuration in force.
    pub fn faults(&self) -> &FaultConfig {
        &self.faults
    }

    /// Replaces the fault configuration (for example with
    /// [`FaultConfig::liveness`] to check that progress resumes). Applies
    /// to operations run from now on.
    pub fn set_faults(&mut self, faults: FaultConfig) {
        self.faults = faults;
        self.reschedule_pauses();
    }

    /// A hash of everything that happened so far: every submit, every
    /// completion with its result and virtual time, every crash and
    /// restart. Equal seeds and equal inputs give equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    /// Sends every event of the run from now on to `log` (`None` stops):
    /// each submit and completion, each injected storage fault, each crash
    /// and restart, each pause, in the order they happen, each stamped with
    /// its node's clock. It changes nothing about the run: not a draw, not
    /// the trace hash. The box is made once, here; no event allocates.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use twinio::{FaultConfig, Io, SimIO};
    ///
    /// let lines = Rc::new(RefCell::new(Vec::new()));
    /// let mut sim: SimIO<()> = SimIO::new(1, 8, FaultConfig::none());
    /// let sink = Rc::clone(&lines);
    /// sim.set_event_log(Some(Box::new(move |event| sink.borrow_mut().push(event.to_string()))));
    /// sim.timeout(1_000, 7, |_, _, _| {}).unwrap();
    /// sim.run_until_done(&mut ()).unwrap();
    /// assert_eq!(lines.borrow().len(), 2, "{:?}", lines.borrow()); // submit, complete
    /// assert!(lines.borrow()[1].contains("complete Timeout Ok(0) tag 7"));
    /// ```
    pub fn set_event_log(&mut self, log: Option<events::EventLog>) {
        self.event_log = log;
    }

    /// Hands `kind` to the event log, if there is one.
    #[inline]
    pub(crate) fn log(&mut self, node: NodeId, kind: events::SimEventKind) {
        if let Some(log) = self.event_log.as_mut() {
            // Stamped as the node's own log would be: with its clock.
            let at_ns = self.clocks[node.0 as usize].read(self.clock.now());
            log(&events::SimEvent { at_ns, node, kind });
        }
    }

    /// The number of operation slots.
    pub fn entries(&self) -> usize {
        self.core.slots.len()
    }

    /// Timeouts, storage operations waiting out their latency, and
    /// operations held for a paused node.
    pub fn queued(&self) -> usize {
        self.core.timers.len()
    }

    // ---- nodes ----

    /// Adds a node (a simulated process, alive, with no descriptors and no
    /// files) and returns its id. The current node does not change.
    pub fn add_node(&mut self) -> NodeId {
        self.nodes.push(true);
        let node = NodeId(self.nodes.len() as u32 - 1);
        self.add_clock(node);
        node
    }

    /// The node that operations, descriptors and events submitted now
    /// belong to.
    pub fn current_node(&self) -> NodeId {
        self.current
    }

    /// Makes `node` current: what is submitted or opened afterwards belongs
    /// to it. A crashed node may be made current (its submits are refused
    /// until it restarts).
    pub fn set_current_node(&mut self, node: NodeId) -> Result<(), NodeError> {
        self.node_index(node)?;
        self.current = node;
        Ok(())
    }

    /// True if `node` exists and is not crashed.
    pub fn is_alive(&self, node: NodeId) -> bool {
        self.nodes.get(node.0 as usize).copied().unwrap_or(false)
    }

    /// Power loss on `node`. Its pending operations are dropped **without
    /// callbacks** (the process died; nobody is left to call back), their
    /// buffers freed; its descriptors and user events become invalid
    /// (their numbers may be handed out again); its files keep what the
    /// crash policy of the [`FaultConfig`] allows of their unsynced data,
    /// and their locks are released; its sockets vanish without FIN, so
    /// their peers see a reset, unless the crash is drawn a power-off
    /// (`NetworkFaults::power_off_crash`): then they see silence, and
    /// connects to its addresses time out. Crashing a crashed node does
    /// nothing.
    /// Callable from a callback.
    pub fn crash_node(&mut self, node: NodeId) -> Result<(), NodeError> {
        let at = self.node_index(node)?;
        if !self.nodes[at] {
            return Ok(());
        }
        self.nodes[at] = false;
        let policy = match self.faults.crash {
            CrashPolicy::Any => match self.streams.crash.below(3) {
                0 => CrashPolicy::LoseUnsynced,
                1 => CrashPolicy::KeepUnsynced,
                _ => CrashPolicy::TearUnsynced,
            },
            policy => policy,
        };
        self.stage_in_flight_writes(node, policy);
        self.drop_node_ops(node);
        self.crash_clock(node);
        self.fds.close_node(node);
        let events = &mut self.core.events;
        for index in 0..events.slots.len() {
            if events.slots[index].data == Some(node) {
                events.close_silently(index);
            }
        }
        let power_off = self.streams.network.chance(self.faults.network.power_off_crash);
        self.network.crash_node(node, power_off);
        let outcome =
            self.storage.crash(node, policy, &self.faults.storage, &mut self.streams.crash);
        let policy_code = policy as u64;
        let words = [self.clock.now(), u64::from(node.0), policy_code, outcome, power_off as u64];
        self.trace.record(Record::Crash, words);
        self.log(node, events::SimEventKind::Crash { policy });
        Ok(())
    }

    /// Brings a crashed node back: a fresh process on the same storage,
    /// with no descriptors. Restarting a live node does nothing.
    pub fn restart_node(&mut self, node: NodeId) -> Result<(), NodeError> {
        let at = self.node_index(node)?;
        if !self.nodes[at] {
            self.nodes[at] = true;
            self.network.restart_node(node);
            self.restart_clock(node);
            self.trace.record(Record::Restart, [self.clock.now(), u64::from(node.0), 0, 0, 0]);
            self.log(node, events::SimEventKind::Restart);
        }
        Ok(())
    }

    /// Marks the data file at `path` on `node` as exempt (or not) from the
    /// corruption faults (the list is on [`StorageFaults`](config::StorageFaults)):
    /// no latent sector errors, rot or garbage, no misdirected or stale
    /// reads, no misdirected or torn writes, and no other file's
    /// misdirected write lands in it. `path` is the relative path given to
    /// `open_data_file`, or the directory's path joined with it; it
    /// matches every file of the node whose path ends with it, whether it
    /// exists yet or not. Errors (`ENOSPC`, `EIO`, fsync and open errors),
    /// short transfers, latencies and crashes still apply to an exempt file.
    pub fn set_fault_exempt(&mut self, node: NodeId, path: &Path, exempt: bool) {
        self.storage.set_exempt(node, path, exempt);
    }

    /// Cuts the simulated network between nodes `a` and `b` (both
    /// directions): segments between them are held until healed. Under
    /// `NetworkFaults::one_way_partition` only one direction, drawn, may
    /// be cut.
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        let network = &mut self.streams.network;
        if network.chance(self.faults.network.one_way_partition) {
            let (from, to) = if network.below(2) == 0 { (a, b) } else { (b, a) };
            self.network.partition_one_way(from, to);
        } else {
            self.network.partition(a, b);
        }
    }

    /// Cuts one direction: segments from `from` to `to` are held until
    /// healed; segments from `to` to `from` flow.
    pub fn partition_one_way(&mut self, from: NodeId, to: NodeId) {
        self.network.partition_one_way(from, to);
    }

    /// Marks the host at `ip` unreachable (or reachable again): a connect
    /// to any of its addresses fails with `ConnectError::NetworkUnreachable`
    /// (`EHOSTUNREACH`), as when a router answers with ICMP host
    /// unreachable, whatever listens there.
    pub fn set_unreachable(&mut self, ip: std::net::IpAddr, unreachable: bool) {
        self.network.set_unreachable(ip, unreachable);
    }

    /// Heals the cut between `a` and `b` (both directions); held segments
    /// are delivered in their original order.
    pub fn heal(&mut self, a: NodeId, b: NodeId) {
        self.network.heal(a, b);
    }

    /// Heals every partition.
    pub fn heal_all(&mut self) {
        self.network.heal_all();
    }

    /// True if the network between `a` and `b` is cut, in either direction.
    pub fn is_partitioned(&self, a: NodeId, b: NodeId) -> bool {
        self.network.is_partitioned(a, b)
    }

    fn node_index(&self, node: NodeId) -> Result<usize, NodeError> {
        let at = node.0 as usize;
        if at < self.nodes.len() { Ok(at) } else { Err(NodeError::UnknownNode) }
    }

    /// Drops every in-flight operation of `node` without its callback.
    fn drop_node_ops(&mut self, node: NodeId) {
        for index in 0..self.core.slots.len() as u32 {
            let slot = &self.core.slots[index as usize];
            if slot.place != Place::Free && slot.data.node == node {
                control::discard(self, index);
            }
        }
    }
}
