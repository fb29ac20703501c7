//! What a power loss leaves of each unsynced sector.
//!
//! Per overlay entry (a sector changed since it was durable), the
//! candidates are, oldest first: the durable copy, the intermediate
//! versions, and the newest (the base). The crash policy picks one; under
//! `TearUnsynced` and `AnyVersion` a picked version newer than the durable
//! one may be torn against the candidate before it in 512-byte pieces (the
//! pieces that did not land optionally garbage). An orphan (a sector a
//! failed sync marked clean without writing) always falls back to its
//! durable copy.

use std::path::PathBuf;

use super::Storage;
use super::fill::garbage;
use super::sectors::{Entry, Settle, Verdict};
use crate::buffer::SECTOR_SIZE;
use crate::sim::config::{CrashPolicy, StorageFaults};
use crate::sim::node::NodeId;
use crate::sim::prng::{Prng, Ratio};

/// The unit a drive writes atomically at the least (a 512-byte logical
/// block, or an NVMe drive with AWUPF = 0).
const PIECE: usize = 512;
const PIECES: usize = SECTOR_SIZE / PIECE;

/// Which candidate of an entry: `0` is the durable copy, `1..=count` the
/// intermediates, `count + 1` the base.
type Candidate = usize;

impl Storage {
    /// Power loss on `node`: each of its files keeps what `policy` (one of
    /// the concrete ones) allows of its unsynced sectors, its errseq and
    /// locks are reset, its descriptors forgotten, and what failed formats
    /// left behind may come back. Returns a digest of what it chose, for
    /// the trace.
    pub(crate) fn crash(
        &mut self,
        node: NodeId,
        policy: CrashPolicy,
        faults: &StorageFaults,
        prng: &mut Prng,
    ) -> u64 {
        let mut digest = 0u64;
        let files = &mut self.files;
        let own = self.index.range((node, PathBuf::new())..).take_while(|((n, _), _)| *n == node);
        for (_, &id) in own {
            let file = &mut files[id as usize];
            file.sectors.settle(|settle, entry| {
                let (chosen, landed) = resolve(settle, entry, policy, faults, prng);
                let word =
                    entry.sector ^ (chosen as u64) << 48 ^ landed << 56 ^ u64::from(id) << 32;
                digest = (digest ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
                Verdict::Forget
            });
            file.locked = false;
            file.errseq = 0;
            file.unseen = false;
        }
        self.handles.retain(|&(n, _), _| n != node);
        if let Some(device) = self.devices.get_mut(node.0 as usize) {
            *device = Default::default();
        }
        self.revive_ghosts(node, prng);
        digest
    }
}

fn resolve(
    settle: &mut Settle<'_>,
    entry: &Entry,
    policy: CrashPolicy,
    faults: &StorageFaults,
    prng: &mut Prng,
) -> (Candidate, u64) {
    let newest = entry.count as usize + 1;
    let half = Ratio::new(1, 2).expect("valid ratio");
    let chosen: Candidate = match policy {
        _ if entry.orphan => 0,
        CrashPolicy::KeepUnsynced => newest,
        CrashPolicy::TearUnsynced => {
            if prng.chance(half) {
                newest
            } else {
                0
            }
        }
        CrashPolicy::AnyVersion => prng.below(newest as u64 + 1) as usize,
        CrashPolicy::LoseUnsynced | CrashPolicy::Any => 0,
    };
    let tearable = matches!(policy, CrashPolicy::TearUnsynced | CrashPolicy::AnyVersion);
    let torn = tearable && chosen > 0 && prng.chance(faults.crash_torn_sector);
    // The block of an older candidate (never asked for the newest).
    let block = |candidate: Candidate| match candidate {
        0 => entry.durable,
        c => entry.versions().get(c - 1).copied().unwrap_or(entry.durable),
    };
    if chosen != newest {
        settle.restore(block(chosen));
    }
    let mut landed = 0;
    if torn {
        // Pieces of the chosen version land (at least one, not all); the
        // others keep the version before it, or are garbage.
        landed = prng.range_inclusive(1, (1 << PIECES) - 2);
        let junk = prng.chance(faults.crash_torn_garbage);
        let before = block(chosen - 1);
        for piece in 0..PIECES {
            if landed & (1 << piece) != 0 {
                continue;
            }
            let range = piece * PIECE..(piece + 1) * PIECE;
            if junk {
                garbage(&mut settle.visible_mut()[range], prng);
            } else {
                settle.patch(before, range);
            }
        }
    }
    (chosen, landed)
}
