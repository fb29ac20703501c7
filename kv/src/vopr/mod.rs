//! The simulation runner: one seed is one whole run of the store under
//! `SimIO`, with clients, crashes, partitions and storage faults, checked
//! against a model. Same seed, same run.
//!
//! A run has two phases. With **faults** on (a swarm configuration drawn from
//! the seed), clients issue puts, gets and deletes over the simulated
//! network while the server process is crashed (power loss) and restarted
//! at random and the network is partitioned and healed. Then, in the
//! **liveness** phase, faults are turned off and every client must complete
//! a number of requests and read all its keys back within a virtual-time
//! budget. Every answer is checked as it arrives (see `checker.rs`).
//!
//! Storage corruption (bit-rot, latent sector errors, misdirected writes) is
//! confined to one of the two log copies, chosen per seed: the store keeps
//! two copies precisely so that one damaged copy loses nothing, and the
//! runner checks exactly that promise.

pub mod batch;
mod checker;
mod client;
mod report;
mod workload;
mod world;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use twinio::{DirectIo, FaultConfig, Io, NodeId, OpKind, Prng, SimEvent, SimEventKind, SimIO};

pub use checker::{Checker, Violation};
use client::Client;
pub use report::{Outcome, Reached, Report};
pub use workload::Workload;
pub use world::{Phase, World};

use crate::record::RECORD_SIZE;
use crate::store::{Bugs, COPY_NAMES, Config, State, Store, copy_places};
use crate::trace::Trace;

/// The most virtual time run between two looks of the runner at the world.
const MAX_STEP_NS: u64 = 10_000_000;
const SECOND: u64 = 1_000_000_000;
/// The time the liveness phase allows for every client to finish.
const LIVENESS_BUDGET_NS: u64 = 120 * SECOND;
const DATA_DIR: &str = "/kv";

/// What a batch of runs is set up with.
#[derive(Clone, Debug)]
pub struct Options {
    /// Planted bugs, to show the runner finds them.
    pub bugs: Bugs,
    /// Simulated clients.
    pub clients: usize,
    /// Keys each client owns.
    pub keys_per_client: u64,
    /// Mutations each client may issue while faults are on.
    pub mutations_per_client: u32,
    /// Records per log copy (each a 4096-byte sector).
    pub log_slots: u64,
    /// Requests of any kind each client may issue while faults are on
    /// (`None`: as many as the phase allows). Bounds a run's work when the
    /// simulated world is very fast (fuzzers).
    pub requests_per_client: Option<u64>,
    /// Requests each client must complete once faults are off.
    pub liveness_ops_per_client: u32,
    /// Use this fault configuration instead of drawing one (fuzzers).
    pub faults: Option<FaultConfig>,
    /// Crash the server exactly at these virtual times (ns after the start)
    /// instead of at random ones (fuzzers). A store that stops on an IO
    /// error is still restarted.
    pub crash_points: Option<Vec<u64>>,
    /// The length of the faults phase, instead of a random 10–40 s.
    pub faults_phase_ns: Option<u64>,
    /// Draw the workload from the seed (swarm testing: pipelining, shared
    /// keys, the mix, small logs that fill, crash bursts). Off: the fixed
    /// workload of `clients`, `keys_per_client`, `mutations_per_client`
    /// and `log_slots`, one request in flight per client, each on its own
    /// keys. On, `log_slots` bounds the drawn log size and
    /// `requests_per_client` still applies.
    pub swarm: bool,
    /// Keep the run's event log in the report.
    pub trace: bool,
    /// A correctness failure names the last IO on the log slot of the key
    /// involved: the seed is run once more with the twin's event log
    /// recording the store's reads and writes (the run is the same run).
    pub name_slot_io: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            bugs: Bugs::default(),
            clients: 4,
            keys_per_client: 24,
            mutations_per_client: 150,
            liveness_ops_per_client: 10,
            requests_per_client: None,
            log_slots: 4096,
            faults: None,
            crash_points: None,
            faults_phase_ns: None,
            swarm: true,
            trace: false,
            name_slot_io: true,
        }
    }
}

/// The server process as the runner manages it.
struct Server {
    node: NodeId,
    config: Config,
    /// When a crashed server comes back.
    restart_at: Option<u64>,
    next_crash_at: u64,
    crashes: u32,
    /// Crashes that hit a store still recovering or repairing.
    crashes_in_recovery: u32,
    trace: Option<Trace>,
}

impl Server {
    fn note(&self, now: u64, what: impl FnOnce() -> String) {
        if let Some(trace) = &self.trace {
            trace.note(now, format_args!("runner: {}", what()));
        }
    }
}

/// Runs one seed to its end. A correctness failure that names a key is
/// explained by a second run of the same seed that records the store's
/// file IO, so the message says what last touched that key's log slot.
pub fn run_seed(seed: u64, options: &Options) -> Report {
    let mut report = run_once(seed, options, None);
    if options.name_slot_io
        && matches!(report.outcome, Outcome::Correctness(_))
        && report.failed_key.is_some()
    {
        let history = SlotHistory::default();
        let probed = run_once(seed, options, Some(history.clone()));
        debug_assert_eq!(probed.trace_hash, report.trace_hash, "the probe changed the run");
        if probed.trace_hash == report.trace_hash {
            report.outcome = probed.outcome;
        }
    }
    report
}

/// The last file IO at each offset of the store's node (only while
/// explaining a failure).
#[derive(Clone, Default)]
struct SlotHistory(Rc<RefCell<SlotHistoryInner>>);

#[derive(Default)]
struct SlotHistoryInner {
    /// The last few events per file offset.
    by_offset: BTreeMap<u64, VecDeque<String>>,
    /// The offsets of the reads and writes in flight, by descriptor and tag
    /// (the store reuses tags), oldest first.
    in_flight: BTreeMap<(i32, u64), VecDeque<u64>>,
}

impl SlotHistory {
    const KEPT: usize = 4;

    fn record(&self, store_node: NodeId, event: &SimEvent) {
        if event.node != store_node {
            return;
        }
        let mut inner = self.0.borrow_mut();
        let offset = match event.kind {
            SimEventKind::Submit { op: OpKind::Read | OpKind::Write, fd, offset, tag, .. } => {
                let key = (fd.map_or(-1, |fd| fd.raw()), tag);
                inner.in_flight.entry(key).or_default().push_back(offset);
                offset
            }
            SimEventKind::Complete { op: OpKind::Read | OpKind::Write, fd, tag, .. } => {
                let key = (fd.map_or(-1, |fd| fd.raw()), tag);
                match inner.in_flight.get_mut(&key).and_then(VecDeque::pop_front) {
                    Some(offset) => offset,
                    None => return,
                }
            }
            SimEventKind::StorageFaults { offset, .. } => offset,
            _ => return,
        };
        let line = format!("{:.3} ms {}", event.at_ns as f64 / 1e6, event.kind);
        let kept = inner.by_offset.entry(offset).or_default();
        if kept.len() == Self::KEPT {
            kept.pop_front();
        }
        kept.push_back(line);
    }

    fn describe(&self, slot: u64) -> String {
        let offset = slot * RECORD_SIZE as u64;
        let inner = self.0.borrow();
        match inner.by_offset.get(&offset) {
            Some(events) => {
                let events: Vec<&str> = events.iter().map(String::as_str).collect();
                format!("; last IO on log slot {slot} (offset {offset}): {}", events.join(" | "))
            }
            None => format!("; no IO on log slot {slot} (offset {offset}) in this run"),
        }
    }
}

/// Runs one seed; with `history`, the store's file IO is recorded and a
/// correctness failure on a key names the last IO on that key's slot.
fn run_once(seed: u64, options: &Options, history: Option<SlotHistory>) -> Report {
    let mut prng = Prng::from_seed(seed);
    let mut faults = FaultConfig::swarm(prng.next_u64());
    if let Some(chosen) = options.faults {
        faults = chosen;
    }
    // A real disk's fsync takes from a fraction of a millisecond to several
    // (F_FULLFSYNC more): comparable to the network's delays, so a crash
    // can land between a write and its fsync, where the bugs hide.
    let fsync_floor = prng.range_inclusive(SECOND / 5000, SECOND / 200);
    if options.faults.is_none() {
        faults.storage.fsync_latency.floor_ns += fsync_floor;
    }
    let mut workload_prng = prng.fork();
    let workload = if options.swarm {
        Workload::draw(&mut workload_prng, options)
    } else {
        Workload::fixed(options)
    };
    let mut io: SimIO<World> = SimIO::new(prng.next_u64(), 1024, faults);
    let client_node = io.current_node();
    let store_node = io.add_node();
    let damaged = prng.index(2);
    // Every place the undamaged copy may move to (a copy whose format a
    // crash cut is left behind for the next place), not just the first.
    for place in copy_places(1 - damaged) {
        io.set_fault_exempt(store_node, &PathBuf::from(DATA_DIR).join(place), true);
    }

    let store_address: SocketAddr = "10.0.0.1:3000".parse().expect("a valid address");
    let config = Config {
        dir: PathBuf::from(DATA_DIR),
        slots: workload.log_slots,
        direct_io: DirectIo::Optional,
        listen: store_address,
        bugs: options.bugs,
    };
    let clients = (0..workload.clients)
        .map(|i| {
            // Drawn workloads stop a few gets after their mutations, not at
            // the end of the phase: a deep pipeline of gets alone would
            // spend the run's time re-reading settled keys.
            let unbounded =
                if options.swarm { 4 * u64::from(workload.mutations_per_client) } else { u64::MAX };
            let requests = options.requests_per_client.unwrap_or(unbounded);
            Client::new(
                i,
                workload.keys_of(i),
                workload.depth,
                workload.mutations_per_client,
                requests,
            )
        })
        .collect();
    let trace = options.trace.then(Trace::default);
    let mut world = World::new(
        Store::new(config.clone()),
        clients,
        prng.fork(),
        store_address,
        options.liveness_ops_per_client,
        workload.clone(),
    );
    world.trace_log = trace.clone();
    if let Some(history) = &history {
        // Explaining a failure: the IO the store made, by file offset (the
        // full trace, if asked for, is not needed then).
        let history = history.clone();
        io.set_event_log(Some(Box::new(move |event| history.record(store_node, event))));
    }
    if let Some(trace) = &trace {
        world.store.set_trace(trace.clone());
        // The twin's own events (every submit and completion, injected
        // storage faults, crashes), interleaved with the store's and the
        // runner's lines in the order they happened.
        let sink = trace.clone();
        io.set_event_log(Some(Box::new(move |event| {
            sink.note(event.at_ns, format_args!("io {}: {}", event.node, event.kind))
        })));
        trace.note(io.now_ns(), format_args!("runner: workload: {workload}"));
        trace.note(
            io.now_ns(),
            format_args!("runner: corruption confined to {}", COPY_NAMES[damaged]),
        );
    }
    let crash_mean = prng.range_inclusive(2 * SECOND, 20 * SECOND);
    let mut server = Server {
        node: store_node,
        config,
        restart_at: None,
        next_crash_at: 0,
        crashes: 0,
        crashes_in_recovery: 0,
        trace: trace.clone(),
    };
    server.next_crash_at = io.now_ns() + prng.range_inclusive(SECOND, crash_mean);
    let start = io.now_ns();
    let faults_end = start
        + options.faults_phase_ns.unwrap_or_else(|| prng.range_inclusive(10 * SECOND, 40 * SECOND));
    // Planned crashes, latest first, so the next is at the end.
    let mut planned: Option<Vec<u64>> = options.crash_points.as_ref().map(|points| {
        let mut points: Vec<u64> = points.iter().map(|&at| start.saturating_add(at)).collect();
        points.sort_unstable_by(|a, b| b.cmp(a));
        points
    });
    let mut partitioned_until: Option<u64> = None;

    io.set_current_node(store_node).expect("the node exists");
    world.store.start(&mut io);
    io.set_current_node(client_node).expect("the node exists");
    for index in 0..world.clients.len() {
        client::connect(&mut world, &mut io, index);
    }

    let mut liveness_deadline = 0;
    let mut liveness_restarts = 0u32;
    let outcome = loop {
        // Steps of random length, so crashes land at any instant, not on a grid.
        let step = prng.range_inclusive(1_000, MAX_STEP_NS);
        if let Err(error) = io.run_for_ns(&mut world, step) {
            break Outcome::Correctness(format!("the simulated loop failed: {error}"));
        }
        world.paused_ns = [store_node, client_node]
            .iter()
            .map(|&node| io.paused_ns(node).expect("the node exists"))
            .sum();
        if let Some(why) = world.violation.take() {
            let slot_io = match (&history, world.failed_key) {
                (Some(history), Some(key)) => world.store.slot_of(&key.to_le_bytes()).map_or_else(
                    || format!("; key {key} has no live slot"),
                    |slot| history.describe(slot),
                ),
                _ => String::new(),
            };
            break Outcome::Correctness(format!("{why}{slot_io}"));
        }
        if let Some(why) = world.stall.take() {
            break Outcome::Liveness(why);
        }
        let now = io.now_ns();
        let alive = io.is_alive(store_node);
        if alive && world.store.state() == State::Serving {
            // The restarted store serves: writes in doubt at the last crash
            // are now in its log or gone for good.
            world.checker.serving(now);
        }
        match world.phase {
            Phase::Faults => {
                let failed = matches!(world.store.state(), State::Failed { .. });
                let crash_due = match &mut planned {
                    Some(points) => {
                        let due = points.last().is_some_and(|&at| now >= at);
                        while points.last().is_some_and(|&at| now >= at) {
                            points.pop();
                        }
                        due
                    }
                    None => now >= server.next_crash_at,
                };
                if alive && (failed || crash_due) {
                    // A store that stopped on an IO error exits; either way
                    // the process is gone and its unsynced writes with it.
                    crash(&mut io, &mut world, &mut server, failed);
                    server.restart_at = Some(now + prng.range_inclusive(SECOND / 10, 3 * SECOND));
                    server.next_crash_at = now + prng.range_inclusive(SECOND, crash_mean);
                } else if !alive && server.restart_at.is_some_and(|at| now >= at) {
                    restart(&mut io, &mut world, &mut server, client_node);
                    // A burst: crash again soon, while recovering or just
                    // after, where a second failure finds half-done work.
                    if let Some(burst) = workload.crash_burst_ns
                        && prng.below(2) == 0
                    {
                        server.next_crash_at = now + prng.range_inclusive(1_000, burst);
                    }
                }
                match partitioned_until {
                    Some(until) if now >= until => {
                        io.heal_all();
                        world.disturbed_ns = now;
                        world.partitioned = false;
                        partitioned_until = None;
                        server.note(now, || "network healed".into());
                    }
                    None if prng.below(1000) < 2 => {
                        io.partition(client_node, store_node);
                        world.disturbed_ns = now;
                        world.partitioned = true;
                        server.note(now, || "network partitioned: clients | server".into());
                        partitioned_until =
                            Some(now + prng.range_inclusive(SECOND / 10, 5 * SECOND));
                    }
                    _ => {}
                }
                if now >= faults_end {
                    io.set_faults(io.faults().liveness());
                    io.heal_all();
                    world.disturbed_ns = now;
                    world.partitioned = false;
                    if !io.is_alive(store_node) {
                        restart(&mut io, &mut world, &mut server, client_node);
                    }
                    world.phase = Phase::Liveness;
                    server.note(now, || "faults off: liveness phase".into());
                    liveness_deadline = now + LIVENESS_BUDGET_NS;
                    for index in 0..world.clients.len() {
                        client::nudge(&mut world, &mut io, index);
                    }
                }
            }
            Phase::Liveness => {
                if let State::Failed { why } = world.store.state() {
                    // An error injected before the switch may surface once
                    // more; a store that fails twice with faults off is stuck.
                    if liveness_restarts > 0 {
                        break Outcome::Liveness(format!(
                            "the store failed with faults off: {why}"
                        ));
                    }
                    liveness_restarts += 1;
                    crash(&mut io, &mut world, &mut server, true);
                    restart(&mut io, &mut world, &mut server, client_node);
                }
                if world.clients.iter().all(|client| client.verified) {
                    world.phase = Phase::Done;
                    break Outcome::Passed;
                }
                if now >= liveness_deadline {
                    break Outcome::Liveness(stuck(&world));
                }
            }
            Phase::Done => break Outcome::Passed,
        }
    };
    if let Some(trace) = &trace {
        trace.note(io.now_ns(), format_args!("runner: {outcome:?}"));
    }
    Report {
        seed,
        faults,
        damaged_copy: COPY_NAMES[damaged],
        workload,
        trace: trace.map(|trace| trace.take()).unwrap_or_default(),
        outcome,
        trace_hash: io.trace_hash(),
        failed_key: world.failed_key,
        virtual_ns: io.true_now_ns(),
        crashes: server.crashes,
        answered: world.clients.iter().map(|client| client.answered).sum(),
        checks: world.checker.checks,
        reached: Reached {
            max_in_flight: world
                .clients
                .iter()
                .map(|client| client.max_in_flight)
                .max()
                .unwrap_or(0),
            full_answers: world.clients.iter().map(|client| client.full_answers).sum(),
            unacknowledged_reads: world.checker.unacknowledged_reads,
            racing_gets: world.checker.racing_gets,
            crashes_in_recovery: server.crashes_in_recovery,
        },
    }
}

/// Power loss on the server (or the exit of a store that stopped itself).
fn crash(io: &mut SimIO<World>, world: &mut World, server: &mut Server, stopped: bool) {
    if matches!(world.store.state(), State::Recovering | State::Repairing) {
        server.crashes_in_recovery += 1;
    }
    io.crash_node(server.node).expect("the node exists");
    world.disturbed_ns = io.now_ns();
    world.server_down = true;
    server.crashes += 1;
    world.checker.crashed();
    let why = if stopped { "the stopped store exits" } else { "power loss" };
    server.note(io.now_ns(), || {
        format!("server crashed ({why}): unsynced writes lost, kept or torn")
    });
}

/// Brings the server process back: a fresh store that recovers from disk.
fn restart(io: &mut SimIO<World>, world: &mut World, server: &mut Server, client_node: NodeId) {
    io.restart_node(server.node).expect("the node exists");
    world.disturbed_ns = io.now_ns();
    world.server_down = false;
    server.restart_at = None;
    server.note(io.now_ns(), || "server restarted".into());
    io.set_current_node(server.node).expect("the node exists");
    world.store = Store::new(server.config.clone());
    if let Some(trace) = &server.trace {
        world.store.set_trace(trace.clone());
    }
    world.store.start(io);
    io.set_current_node(client_node).expect("the node exists");
}

/// Why the liveness phase did not finish: who is stuck where.
fn stuck(world: &World) -> String {
    let waiting: Vec<String> = world
        .clients
        .iter()
        .enumerate()
        .filter(|(_, client)| !client.verified)
        .map(|(index, client)| format!("client {index} ({} liveness answers)", client.liveness_ops))
        .collect();
    format!(
        "no completion within {} s of virtual time with faults off: store {:?}, {} waiting: {}",
        LIVENESS_BUDGET_NS / SECOND,
        world.store.state(),
        waiting.len(),
        waiting.join(", ")
    )
}
