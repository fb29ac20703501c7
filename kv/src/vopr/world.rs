//! The simulation's context: the store of the current incarnation of the
//! server process, the clients, and the checker.

use std::net::SocketAddr;

use twinio::Prng;

use super::checker::Checker;
use super::client::Client;
use super::workload::Workload;
use crate::store::Store;
use crate::trace::Trace;

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Faults on: crashes, partitions, storage and network faults.
    Faults,
    /// Faults off: every client must make progress, then read its keys back.
    Liveness,
    /// Finished: no more requests.
    Done,
}

/// Everything a callback can reach.
#[derive(Debug)]
pub struct World {
    /// The server process's store (replaced at each restart).
    pub store: Store,
    /// The clients.
    pub clients: Vec<Client>,
    /// The model of what clients were told.
    pub checker: super::checker::Checker,
    /// The clients' choices.
    pub prng: Prng,
    /// Where the run is.
    pub phase: Phase,
    /// Where clients connect.
    pub store_address: SocketAddr,
    /// Requests each client must complete in the liveness phase before it
    /// reads its keys back.
    pub liveness_ops_per_client: u32,
    /// The first broken invariant.
    pub violation: Option<String>,
    /// The key that invariant is about, when it is about one.
    pub failed_key: Option<u64>,
    /// The first stall (a liveness failure): a request unanswered with
    /// nothing to excuse it.
    pub stall: Option<String>,
    /// The last crash, restart, partition, heal or phase change.
    pub disturbed_ns: u64,
    /// True time the server and client nodes have spent paused so far,
    /// together (updated by the runner after each step).
    pub paused_ns: u64,
    /// The network between clients and server is cut.
    pub partitioned: bool,
    /// The server process is crashed and not yet restarted.
    pub server_down: bool,
    /// What the clients do.
    pub workload: Workload,
    /// The event log, if asked for.
    pub trace_log: Option<Trace>,
}

impl World {
    /// A world before the first start of the server.
    pub fn new(
        store: Store,
        clients: Vec<Client>,
        prng: Prng,
        store_address: SocketAddr,
        liveness_ops_per_client: u32,
        workload: Workload,
    ) -> World {
        World {
            store,
            clients,
            checker: Checker::default(),
            prng,
            phase: Phase::Faults,
            store_address,
            liveness_ops_per_client,
            violation: None,
            failed_key: None,
            stall: None,
            disturbed_ns: 0,
            paused_ns: 0,
            partitioned: false,
            server_down: false,
            workload,
            trace_log: None,
        }
    }

    /// Notes an event in the trace, if tracing; `what` is formatted only then.
    pub fn trace(&self, now_ns: u64, what: impl FnOnce() -> String) {
        if let Some(trace) = &self.trace_log {
            trace.note(now_ns, what());
        }
    }

    /// Records a broken invariant (the first one wins).
    pub fn fail(&mut self, why: String) {
        self.violation.get_or_insert(why);
    }
}

impl AsMut<Store> for World {
    fn as_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}
