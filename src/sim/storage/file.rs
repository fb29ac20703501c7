//! One simulated file: sectors with a durable copy and a volatile cached
//! copy, and the faults a disk can inflict on them.
//!
//! The durability model: a write lands in the cache (the page cache and
//! the drive's write cache together); `fsync` moves the file's dirty
//! sectors to the durable copy; a crash keeps, loses or tears the dirty
//! ones as the crash policy says, and drops every other cached copy.
//! Sectors never written read as zeros and take no memory.

use std::collections::BTreeMap;

use crate::buffer::SECTOR_SIZE;
use crate::error::Errno;
use crate::sim::config::StorageFaults;
use crate::sim::prng::{Prng, Ratio};

/// The most bytes one read or write moves, as Linux caps a transfer;
/// longer ranges complete as a partial transfer.
pub(crate) const MAX_TRANSFER: usize = 0x7fff_f000;

const SECTOR: u64 = SECTOR_SIZE as u64;

type Block = [u8; SECTOR_SIZE];

#[derive(Default)]
struct Sector {
    /// What survives a crash; `None` is zeros.
    durable: Option<Box<Block>>,
    /// What reads see when present: newer than `durable`.
    cached: Option<Box<Block>>,
    /// `cached` is waiting for an fsync. A cached copy that is not dirty
    /// is an orphan of a failed fsync: readable, but never made durable.
    dirty: bool,
    /// A latent sector error: reads covering it fail until it is rewritten.
    bad: bool,
}

impl Sector {
    fn visible(&self) -> Option<&Block> {
        self.cached.as_deref().or(self.durable.as_deref())
    }
}

/// Spare sector blocks, so steady-state writes and syncs reuse memory.
#[derive(Default)]
pub(crate) struct Spare {
    blocks: Vec<Box<Block>>,
}

impl Spare {
    const KEEP: usize = 256;

    fn take(&mut self) -> Box<Block> {
        self.blocks.pop().unwrap_or_else(|| Box::new([0; SECTOR_SIZE]))
    }

    fn give(&mut self, block: Option<Box<Block>>) {
        if let Some(block) = block
            && self.blocks.len() < Self::KEEP
        {
            self.blocks.push(block);
        }
    }
}

/// The randomness and configuration one storage operation may draw on.
pub(crate) struct Chaos<'a> {
    pub faults: &'a StorageFaults,
    pub prng: &'a mut Prng,
    /// The file is spared the corruption faults.
    pub exempt: bool,
}

impl Chaos<'_> {
    fn corrupt(&mut self, ratio: Ratio) -> bool {
        !self.exempt && self.prng.chance(ratio)
    }
}

pub(crate) struct SimFile {
    pub size: u64,
    /// Held by an open, writable descriptor (`flock(LOCK_EX)`).
    pub locked: bool,
    pub exempt: bool,
    sectors: BTreeMap<u64, Sector>,
    /// Sectors whose cached copy is dirty (may hold duplicates and
    /// sectors synced since: checked on use).
    dirty: Vec<u64>,
    /// Sectors orphaned by a failed fsync (checked on use, as `dirty`).
    orphans: Vec<u64>,
}

impl SimFile {
    pub(crate) fn new(size: u64) -> SimFile {
        SimFile {
            size,
            locked: false,
            exempt: false,
            sectors: BTreeMap::new(),
            dirty: Vec::new(),
            orphans: Vec::new(),
        }
    }

    /// Reads into `buffer` from `offset`: `Ok(0)` at or past the end, a
    /// short count when the file ends inside the range.
    pub(crate) fn read(
        &mut self,
        buffer: &mut [u8],
        offset: u64,
        chaos: &mut Chaos<'_>,
        spare: &mut Spare,
    ) -> Result<usize, Errno> {
        if offset >= self.size {
            return Ok(0);
        }
        let len = clamp(buffer.len(), offset, self.size);
        let end = offset + len as u64;
        if chaos.corrupt(chaos.faults.latent_sector_error) {
            let byte = chaos.prng.range_inclusive(offset, end - 1);
            self.sectors.entry(byte / SECTOR).or_default().bad = true;
        }
        if chaos.corrupt(chaos.faults.bit_rot) {
            let byte = chaos.prng.range_inclusive(offset, end - 1);
            let bit = chaos.prng.below(8) as u32;
            self.flip(byte, bit, spare);
        }
        if self.sectors.range(offset / SECTOR..=(end - 1) / SECTOR).any(|(_, s)| s.bad) {
            return Err(Errno::EIO);
        }
        let buffer = &mut buffer[..len];
        // Copies what is stored and zeroes the gaps, touching each byte once.
        let mut filled = 0;
        for (&index, sector) in self.sectors.range(offset / SECTOR..=(end - 1) / SECTOR) {
            let Some(block) = sector.visible() else { continue };
            let (from, to) = overlap(index, offset, end);
            let at = (index * SECTOR + from as u64 - offset) as usize;
            buffer[filled..at].fill(0);
            buffer[at..at + (to - from)].copy_from_slice(&block[from..to]);
            filled = at + (to - from);
        }
        buffer[filled..].fill(0);
        Ok(len)
    }

    /// Writes `data` at `offset` into the cache. Data files do not grow: a
    /// write running past the end is short, one starting at or past it is
    /// `EFBIG` (as with a file size limit).
    pub(crate) fn write(
        &mut self,
        data: &[u8],
        offset: u64,
        chaos: &mut Chaos<'_>,
        spare: &mut Spare,
    ) -> Result<usize, Errno> {
        if offset >= self.size {
            return Err(Errno::EFBIG);
        }
        if chaos.prng.chance(chaos.faults.no_space) {
            return Err(Errno::ENOSPC);
        }
        let len = clamp(data.len(), offset, self.size);
        let mut landed = len;
        let mut target = offset;
        if chaos.corrupt(chaos.faults.torn_write) {
            // A strict prefix of the sectors lands: the write is really torn.
            let first = offset / SECTOR;
            let last = (offset + len as u64 - 1) / SECTOR;
            let keep = chaos.prng.below(last - first + 1);
            let cut = ((first + keep) * SECTOR).max(offset);
            landed = (cut - offset) as usize;
        }
        if chaos.corrupt(chaos.faults.misdirected_write) {
            let within = offset % SECTOR;
            let span = (within + len as u64).div_ceil(SECTOR);
            let sectors = self.size / SECTOR;
            let base = chaos.prng.below(sectors - span + 1);
            target = base * SECTOR + within;
        }
        self.put(target, &data[..landed], spare);
        Ok(len)
    }

    /// Makes the dirty sectors durable, or, on an injected failure, some of
    /// them (each with probability one half) and orphans the rest.
    pub(crate) fn fsync(&mut self, chaos: &mut Chaos<'_>, spare: &mut Spare) -> Result<(), Errno> {
        let fail = chaos.prng.chance(chaos.faults.fsync_error);
        let half = Ratio::new(1, 2).expect("valid ratio");
        // Indexed, then cleared: the list keeps its capacity for the next writes.
        for at in 0..self.dirty.len() {
            let index = self.dirty[at];
            let Some(sector) = self.sectors.get_mut(&index) else { continue };
            if !sector.dirty {
                continue;
            }
            sector.dirty = false;
            if fail && !chaos.prng.chance(half) {
                self.orphans.push(index);
            } else {
                let old = std::mem::replace(&mut sector.durable, sector.cached.take());
                spare.give(old);
            }
        }
        self.dirty.clear();
        if fail { Err(Errno::EIO) } else { Ok(()) }
    }

    /// Power loss: each dirty sector reaches the disk if `keep` says so;
    /// every other cached copy is lost.
    pub(crate) fn crash(&mut self, mut keep: impl FnMut() -> bool, spare: &mut Spare) {
        let dirty = std::mem::take(&mut self.dirty);
        let orphans = std::mem::take(&mut self.orphans);
        for (index, was_dirty) in
            dirty.into_iter().map(|i| (i, true)).chain(orphans.into_iter().map(|i| (i, false)))
        {
            let Some(sector) = self.sectors.get_mut(&index) else { continue };
            if sector.cached.is_none() {
                continue;
            }
            if was_dirty && sector.dirty && keep() {
                let old = std::mem::replace(&mut sector.durable, sector.cached.take());
                spare.give(old);
            } else {
                spare.give(sector.cached.take());
            }
            sector.dirty = false;
        }
        self.locked = false;
    }

    /// Copies `data` into the cache at `offset` (already clamped to the file).
    fn put(&mut self, offset: u64, data: &[u8], spare: &mut Spare) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        for index in offset / SECTOR..=(end - 1) / SECTOR {
            let sector = self.sectors.entry(index).or_default();
            let (from, to) = overlap(index, offset, end);
            let block = cached_mut(sector, spare, to - from == SECTOR_SIZE);
            let at = (index * SECTOR + from as u64 - offset) as usize;
            block[from..to].copy_from_slice(&data[at..at + (to - from)]);
            sector.bad = false;
            if !sector.dirty {
                sector.dirty = true;
                self.dirty.push(index);
            }
        }
    }

    /// Flips one bit of the stored data at byte `byte`: in the copy reads
    /// see, so the rot is what every later read (and retry) returns.
    fn flip(&mut self, byte: u64, bit: u32, spare: &mut Spare) {
        let sector = self.sectors.entry(byte / SECTOR).or_default();
        let block = match (&mut sector.cached, &mut sector.durable) {
            (Some(cached), _) => cached,
            (None, Some(durable)) => durable,
            (None, durable @ None) => durable.insert(zeroed(spare)),
        };
        block[(byte % SECTOR) as usize] ^= 1 << bit;
    }
}

/// The sector's cached copy, created from what reads see if absent (left
/// as is when the caller overwrites all of it).
fn cached_mut<'a>(sector: &'a mut Sector, spare: &mut Spare, whole: bool) -> &'a mut Block {
    if sector.cached.is_none() {
        let mut block = spare.take();
        match &sector.durable {
            _ if whole => {}
            Some(durable) => block.copy_from_slice(&durable[..]),
            None => block.fill(0),
        }
        sector.cached = Some(block);
    }
    sector.cached.as_mut().expect("just filled")
}

fn zeroed(spare: &mut Spare) -> Box<Block> {
    let mut block = spare.take();
    block.fill(0);
    block
}

/// The byte range `from..to` within sector `index` that `offset..end` covers.
fn overlap(index: u64, offset: u64, end: u64) -> (usize, usize) {
    let start = index * SECTOR;
    let from = offset.max(start) - start;
    let to = end.min(start + SECTOR) - start;
    (from as usize, to as usize)
}

/// A transfer of `len` bytes at `offset` (< `size`), clamped to the file
/// and to the largest transfer.
fn clamp(len: usize, offset: u64, size: u64) -> usize {
    let room = size - offset;
    len.min(MAX_TRANSFER).min(usize::try_from(room).unwrap_or(usize::MAX))
}
