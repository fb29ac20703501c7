//! The workload of one run, drawn from its seed (swarm testing: each seed
//! turns features on or off, so some runs are dominated by one behaviour
//! that a uniform mix would dilute).

use std::fmt;
use std::ops::Range;

use twinio::Prng;

use super::Options;

/// What the clients do in one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Simulated clients, one connection each.
    pub clients: usize,
    /// Requests each client keeps in flight on its connection.
    pub depth: usize,
    /// All clients work on the same keys (concurrent gets, puts and
    /// deletes of one key), instead of each on its own.
    pub shared_keys: bool,
    /// Keys in all (shared), or per client.
    pub keys: u64,
    /// Percent of gets and of deletes; the rest are puts.
    pub get_percent: u64,
    /// Percent of deletes.
    pub delete_percent: u64,
    /// Mutations each client may issue while faults are on.
    pub mutations_per_client: u32,
    /// Records per log copy: small ones fill, and the log answers `Full`.
    pub log_slots: u64,
    /// After a restart, crash again within this many ns (during recovery
    /// or just after), instead of after the usual seconds.
    pub crash_burst_ns: Option<u64>,
}

impl Workload {
    /// The workload `options` fixes, without drawing anything.
    pub fn fixed(options: &Options) -> Workload {
        Workload {
            clients: options.clients,
            depth: 1,
            shared_keys: false,
            keys: options.keys_per_client,
            get_percent: 35,
            delete_percent: 15,
            mutations_per_client: options.mutations_per_client,
            log_slots: options.log_slots.max(1),
            crash_burst_ns: None,
        }
    }

    /// Draws a workload; `options` bound what may be drawn (the log is
    /// never larger than `options.log_slots`).
    pub fn draw(prng: &mut Prng, options: &Options) -> Workload {
        let mut coin = |percent: u64| prng.below(100) < percent;
        let pipelined = coin(60);
        let shared_keys = coin(50);
        let small_log = coin(40);
        let bursts = coin(40);
        let clients = prng.range_inclusive(2, 6) as usize;
        let depth = if pipelined { prng.range_inclusive(2, 16) as usize } else { 1 };
        let keys =
            if shared_keys { prng.range_inclusive(1, 12) } else { prng.range_inclusive(2, 24) };
        let get_percent = prng.range_inclusive(15, 60);
        let delete_percent = prng.range_inclusive(0, 25);
        let mutations_per_client = prng.range_inclusive(60, 400) as u32;
        // Small enough that the clients' mutations overflow it, down to a
        // log of one slot, where the first and the last slot are one.
        let log_slots = if small_log {
            prng.range_inclusive(1, 400).min(options.log_slots.max(1))
        } else {
            options.log_slots.max(1)
        };
        let crash_burst_ns = bursts.then(|| prng.range_inclusive(1_000_000, 300_000_000));
        Workload {
            clients,
            depth,
            shared_keys,
            keys,
            get_percent,
            delete_percent,
            mutations_per_client,
            log_slots,
            crash_burst_ns,
        }
    }

    /// The keys client `index` works on.
    pub fn keys_of(&self, index: usize) -> Range<u64> {
        if self.shared_keys {
            0..self.keys
        } else {
            let first = index as u64 * self.keys;
            first..first + self.keys
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = if self.shared_keys {
            format!("{} keys shared", self.keys)
        } else {
            format!("{} keys each", self.keys)
        };
        let bursts = match self.crash_burst_ns {
            Some(ns) => format!("crash bursts within {:.0} ms of a restart", ns as f64 / 1e6),
            None => "no crash bursts".to_string(),
        };
        write!(
            f,
            "{} clients, depth {}, {keys}, get {}% delete {}% put {}%, {} mutations each, \
             {} log slots, {bursts}",
            self.clients,
            self.depth,
            self.get_percent,
            self.delete_percent,
            100 - self.get_percent.min(100) - self.delete_percent.min(100 - self.get_percent),
            self.mutations_per_client,
            self.log_slots,
        )
    }
}
