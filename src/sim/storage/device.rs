//! When a storage operation completes: its latency draw, plus the node's
//! device model (a FIFO queue with a service time from IOPS and bandwidth
//! limits) and heavy-tailed stalls that hold up everything queued behind
//! them.

use super::Storage;
use crate::sim::config::StorageFaults;
use crate::sim::node::NodeId;
use crate::sim::prng::Prng;

/// The kind of a storage operation, for its latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IoKind {
    Read,
    Write,
    Fsync,
}

/// A node's device: busy until the operations queued on it are served.
#[derive(Clone, Copy, Default)]
pub(crate) struct Device {
    busy_until: u64,
}

const NS_PER_SECOND: u128 = 1_000_000_000;

impl Storage {
    /// The virtual time at which an operation of `kind` moving `bytes`,
    /// issued by `node` at `now`, completes. With no device limits and no
    /// stalls configured this is `now` plus the kind's latency draw, with
    /// exactly the draws the latency alone makes.
    pub(crate) fn ready_at(
        &mut self,
        node: NodeId,
        kind: IoKind,
        bytes: usize,
        now: u64,
        faults: &StorageFaults,
        prng: &mut Prng,
    ) -> u64 {
        let latency = match kind {
            IoKind::Read => faults.read_latency,
            IoKind::Write => faults.write_latency,
            IoKind::Fsync => faults.fsync_latency,
        };
        let ns = latency.draw(prng);
        if faults.iops == 0 && faults.bandwidth == 0 && faults.stall.is_zero() {
            return now.saturating_add(ns);
        }
        let at = node.0 as usize;
        if self.devices.len() <= at {
            self.devices.resize(at + 1, Device::default());
        }
        let device = &mut self.devices[at];
        let mut start = now.max(device.busy_until);
        if prng.chance(faults.stall) {
            start = start.saturating_add(stall_ns(faults, prng));
        }
        device.busy_until = start.saturating_add(service_ns(faults, bytes));
        device.busy_until.saturating_add(ns)
    }
}

/// The time the device is busy with one operation moving `bytes`.
fn service_ns(faults: &StorageFaults, bytes: usize) -> u64 {
    let mut ns: u128 = 0;
    if faults.iops > 0 {
        ns += NS_PER_SECOND / u128::from(faults.iops);
    }
    if faults.bandwidth > 0 {
        ns += bytes as u128 * NS_PER_SECOND / u128::from(faults.bandwidth);
    }
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// A heavy-tailed stall (`Prng::heavy_tailed`), so second-long stalls
/// happen.
fn stall_ns(faults: &StorageFaults, prng: &mut Prng) -> u64 {
    prng.heavy_tailed(faults.stall_min_ns, faults.stall_max_ns)
}
