//! What a run reports.

use std::fmt;

use twinio::FaultConfig;

use super::SECOND;
use super::workload::Workload;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every invariant held and every client finished.
    Passed,
    /// An invariant broke: acknowledged data lost, or never-written data
    /// served, or the store misbehaved on the wire.
    Correctness(String),
    /// With faults off, the system did not finish in time.
    Liveness(String),
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The fault configuration it drew.
    pub faults: FaultConfig,
    /// Which log copy corruption was confined to.
    pub damaged_copy: &'static str,
    /// What the clients did.
    pub workload: Workload,
    /// The event log (with `Options::trace`).
    pub trace: Vec<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The key a correctness failure is about, if it is about one.
    pub failed_key: Option<u64>,
    /// The simulator's trace hash: equal for equal runs.
    pub trace_hash: u64,
    /// Virtual time simulated: the twin's true time at the end (a node's
    /// clock may be offset by an hour under clock faults).
    pub virtual_ns: u64,
    /// Server crashes (power loss) and restarts.
    pub crashes: u32,
    /// Requests answered.
    pub answered: u64,
    /// Answers checked against the model.
    pub checks: u64,
    /// Which paths the run reached.
    pub reached: Reached,
}

/// Counts that show which paths a run reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reached {
    /// The most requests one client had in flight at once.
    pub max_in_flight: usize,
    /// Mutations answered `Full`: the log filled.
    pub full_answers: u64,
    /// Gets that returned a write not yet acknowledged.
    pub unacknowledged_reads: u64,
    /// Gets sent while the key's latest write was still in flight.
    pub racing_gets: u64,
    /// Crashes that hit a store still recovering or repairing.
    pub crashes_in_recovery: u32,
}

impl fmt::Display for Reached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in flight at most, {} answered Full, {} reads of unacknowledged writes, \
             {} gets racing a write, {} crashes during recovery",
            self.max_in_flight,
            self.full_answers,
            self.unacknowledged_reads,
            self.racing_gets,
            self.crashes_in_recovery
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match &self.outcome {
            Outcome::Passed => "passed".to_string(),
            Outcome::Correctness(why) => format!("CORRECTNESS FAILURE: {why}"),
            Outcome::Liveness(why) => format!("LIVENESS FAILURE: {why}"),
        };
        write!(
            f,
            "seed {}: {outcome}; {:.1} s virtual, {} crashes, {} answers, {} checks, \
             corruption on {}, trace {:016x}",
            self.seed,
            self.virtual_ns as f64 / SECOND as f64,
            self.crashes,
            self.answered,
            self.checks,
            self.damaged_copy,
            self.trace_hash
        )
    }
}
