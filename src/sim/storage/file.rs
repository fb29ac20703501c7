//! One simulated file: its sectors (see `sectors.rs`), its lock, and the
//! error sequence its descriptors' fsyncs report from.

use super::fill::{Fill, garbage};
use super::sectors::{Entry, NONE, SECTOR, Sectors, Verdict};
use crate::buffer::SECTOR_SIZE;
use crate::error::Errno;
use crate::sim::prng::{Prng, Ratio};

/// The most bytes one read or write moves, as Linux caps a transfer;
/// longer ranges complete as a partial transfer.
pub(crate) const MAX_TRANSFER: usize = 0x7fff_f000;

pub(crate) struct SimFile {
    pub size: u64,
    /// Held by an open, writable descriptor (`flock(LOCK_EX)`).
    pub locked: bool,
    pub exempt: bool,
    pub sectors: Sectors,
    /// Writeback errors recorded so far (Linux's errseq counter): a
    /// descriptor whose sample differs sees `error` on its next fsync.
    pub errseq: u32,
    pub error: Errno,
    /// No descriptor has reported the latest error yet: one opened now
    /// still sees it (Linux reports an unseen error to a new opener).
    pub unseen: bool,
}

impl SimFile {
    pub(crate) fn new(size: u64, fill: Fill) -> SimFile {
        SimFile {
            size,
            locked: false,
            exempt: false,
            sectors: Sectors::new(fill),
            errseq: 0,
            error: Errno::EIO,
            unseen: false,
        }
    }

    /// The fsync with `ticket` (0: covers every write) succeeded: what each
    /// dirty sector held when it was submitted is durable. A sector
    /// written since keeps its newer versions unsynced (docs/durability.md:
    /// an fsync covers the writes whose callbacks ran before it was
    /// submitted).
    pub(crate) fn synced(&mut self, ticket: u32) {
        self.sectors.settle(|_, entry| match covered(entry, ticket) {
            _ if entry.orphan => Verdict::Keep,
            Covered::All => Verdict::Forget,
            Covered::Up(block) => Verdict::Advance(block),
            Covered::Nothing => Verdict::Keep,
        });
    }

    /// A sync failed with `errno`: each dirty sector was made durable or
    /// not (one half each). Those that were not are orphaned (readable,
    /// no longer dirty) or, with `revert`, dropped from the cache so reads
    /// return their durable data. The error joins the file's errseq.
    /// Sectors written since the fsync with `ticket` was submitted are not
    /// its to fail (0: every sector is; a writeback error is not an fsync).
    pub(crate) fn sync_failed(
        &mut self,
        errno: Errno,
        revert: Ratio,
        prng: &mut Prng,
        ticket: u32,
    ) {
        let revert = prng.chance(revert);
        let half = Ratio::new(1, 2).expect("valid ratio");
        self.sectors.settle(|settle, entry| {
            if entry.orphan || !matches!(covered(entry, ticket), Covered::All) {
                Verdict::Keep
            } else if prng.chance(half) {
                Verdict::Forget
            } else if revert {
                settle.restore(entry.durable);
                Verdict::Forget
            } else {
                Verdict::Orphan
            }
        });
        self.errseq = self.errseq.wrapping_add(1);
        self.error = errno;
        self.unseen = true;
    }

    /// Flips a burst of `bits` consecutive bits of sector `index` in the
    /// stored data (media errors come in bursts).
    pub(crate) fn flip_bits(&mut self, index: u64, bits: u64, prng: &mut Prng) {
        let block = self.sectors.stored_mut(index);
        let first = prng.below(SECTOR_SIZE as u64 * 8 - bits + 1);
        for bit in first..first + bits {
            block[(bit / 8) as usize] ^= 1 << (bit % 8);
        }
    }

    /// Replaces sector `index`'s stored data with garbage.
    pub(crate) fn scramble(&mut self, index: u64, prng: &mut Prng) {
        garbage(self.sectors.stored_mut(index), prng);
    }
}

/// What an fsync with `ticket` covers of a dirty sector.
enum Covered {
    /// Everything: no write reached it since the fsync was submitted.
    All,
    /// The version it held at the submission, an intermediate one.
    Up(u32),
    /// Nothing newer than its durable copy (or that version is forgotten).
    Nothing,
}

fn covered(entry: &Entry, ticket: u32) -> Covered {
    if ticket == 0 || entry.snap_ticket < ticket {
        return Covered::All;
    }
    // `snap_ticket > ticket`: a later fsync's submission overwrote this
    // one's record, and the version kept is the later one's (more than
    // this fsync covers: the twin is lenient there, never harsher).
    if entry.snap == NONE || entry.snap == entry.durable {
        return Covered::Nothing;
    }
    if entry.versions().contains(&entry.snap) { Covered::Up(entry.snap) } else { Covered::Nothing }
}

/// A transfer of `len` bytes at `offset` (< `size`), clamped to the file
/// and to the largest transfer.
pub(crate) fn clamp(len: usize, offset: u64, size: u64) -> usize {
    let room = size - offset;
    len.min(MAX_TRANSFER).min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// A short count for a transfer of `len` bytes: whole sectors under direct
/// IO, any byte count otherwise; `len` itself when it cannot be shorter.
pub(crate) fn shorten(len: usize, direct: bool, prng: &mut Prng) -> usize {
    let unit = if direct { SECTOR_SIZE } else { 1 };
    let units = len / unit;
    if units < 2 {
        return len;
    }
    prng.range_inclusive(1, units as u64 - 1) as usize * unit
}

/// The sectors `first..=last` a byte range covers.
pub(crate) fn span(offset: u64, len: usize) -> (u64, u64) {
    (offset / SECTOR, (offset + len as u64 - 1) / SECTOR)
}
