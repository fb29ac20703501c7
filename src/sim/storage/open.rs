//! `open_data_file`'s storage side: the faults of the kernel's sequence,
//! and what a failed `Format` leaves for a crash to bring back.
//!
//! The real IO formats with create (`O_CREAT | O_EXCL`), lock, preallocate
//! (`fallocate`), fsync the file, fsync its directory; on a failure it
//! unlinks the file (`src/sys/file/data_file.rs`). A successful format is
//! therefore durable when the call returns. A failed one is not undone
//! durably: the unlink (and the create) sit in the directory's cache, so a
//! crash may bring the file back: short (only part of the preallocation
//! happened before `ENOSPC`) or whole but never synced (`EIO` from a sync).
//! `Open` syncs the file and its directory too, which may fail with `EIO`.

use std::path::PathBuf;

use super::fill::Fill;
use super::sectors::SECTOR;
use super::{FileId, Lookup, Storage};
use crate::error::Errno;
use crate::sim::config::{StorageFaults, Unwritten};
use crate::sim::node::NodeId;
use crate::sim::prng::{Prng, Ratio};

/// A file a failed format removed, not durably.
pub(crate) struct Ghost {
    node: NodeId,
    path: PathBuf,
    /// The size it comes back with.
    size: u64,
    fill: Fill,
}

impl Storage {
    /// `Format` of a missing path: the new file, or the error the kernel's
    /// sequence failed with (the file then removed, not durably).
    pub(crate) fn format(
        &mut self,
        node: NodeId,
        path: PathBuf,
        size: u64,
        faults: &StorageFaults,
        prng: &mut Prng,
    ) -> Result<FileId, Errno> {
        let seed = match faults.unwritten {
            Unwritten::Garbage => prng.next_u64(),
            _ => 0,
        };
        let fill = Fill { mode: faults.unwritten, seed };
        if prng.chance(faults.open_error) {
            let half = Ratio::new(1, 2).expect("valid ratio");
            let (errno, left) = if prng.chance(half) {
                (Errno::ENOSPC, prng.below(size / SECTOR) * SECTOR)
            } else {
                (Errno::EIO, size)
            };
            self.ghosts.retain(|g| !(g.node == node && g.path == path));
            self.ghosts.push(Ghost { node, path, size: left, fill });
            return Err(errno);
        }
        self.ghosts.retain(|g| !(g.node == node && g.path == path));
        Ok(self.create(node, path, size, fill))
    }

    /// `Open` syncs the file and its directory before anything trusts
    /// them: that sync may fail.
    pub(crate) fn sync_at_open(faults: &StorageFaults, prng: &mut Prng) -> Result<(), Errno> {
        if prng.chance(faults.open_error) { Err(Errno::EIO) } else { Ok(()) }
    }

    /// At a crash of `node`: each file a failed format left behind comes
    /// back or stays gone (one half each), unless its path was taken since.
    pub(super) fn revive_ghosts(&mut self, node: NodeId, prng: &mut Prng) {
        let half = Ratio::new(1, 2).expect("valid ratio");
        let mut at = 0;
        while at < self.ghosts.len() {
            if self.ghosts[at].node != node {
                at += 1;
                continue;
            }
            let ghost = self.ghosts.swap_remove(at);
            if prng.chance(half) && self.lookup(node, &ghost.path) == Lookup::Missing {
                self.create(node, ghost.path, ghost.size, ghost.fill);
            }
        }
    }
}
