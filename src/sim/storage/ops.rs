//! Reads, writes and fsyncs against the simulated files, with the faults
//! each can suffer. Every draw comes from the storage stream handed in
//! (`Chaos`), and a fault whose rate is zero draws nothing, so turning a
//! fault on changes no other fault's draws before it fires.

use super::file::{clamp, shorten, span};
use super::sectors::SECTOR;
use super::{Access, FileId, Storage, is_direct};
use crate::buffer::SECTOR_SIZE;
use crate::error::Errno;
use crate::sim::config::StorageFaults;
use crate::sim::events::{StorageFault, StorageFaultSet};
use crate::sim::prng::{Prng, Ratio};

/// The randomness and configuration one storage operation may draw on.
pub(crate) struct Chaos<'a> {
    pub faults: &'a StorageFaults,
    pub prng: &'a mut Prng,
    /// The faults that fired during this operation (for the event log).
    pub fired: StorageFaultSet,
}

impl Chaos<'_> {
    /// A corruption fault: never on an exempt file.
    fn corrupt(&mut self, exempt: bool, ratio: Ratio, fault: StorageFault) -> bool {
        !exempt && self.chance(ratio, fault)
    }

    fn chance(&mut self, ratio: Ratio, fault: StorageFault) -> bool {
        let fired = self.prng.chance(ratio);
        if fired {
            self.fired.insert(fault);
        }
        fired
    }
}

impl Storage {
    /// Reads into `buffer` from `offset`: `Ok(0)` at or past the end, a
    /// short count when the file ends inside the range (or a fault says).
    pub(crate) fn read(
        &mut self,
        id: FileId,
        access: Access,
        buffer: &mut [u8],
        offset: u64,
        chaos: &mut Chaos<'_>,
    ) -> Result<usize, Errno> {
        let file = &mut self.files[id as usize];
        if offset >= file.size {
            return Ok(0);
        }
        let exempt = file.exempt;
        let mut len = clamp(buffer.len(), offset, file.size);
        let end = offset + len as u64;
        let faults = chaos.faults;
        if chaos.corrupt(exempt, faults.latent_sector_error, StorageFault::LatentSectorError) {
            let byte = chaos.prng.range_inclusive(offset, end - 1);
            file.sectors.set_bad(byte / SECTOR);
        }
        if chaos.corrupt(exempt, faults.bit_rot, StorageFault::BitRot) {
            let byte = chaos.prng.range_inclusive(offset, end - 1);
            let bit = chaos.prng.below(8) as u32;
            file.sectors.stored_mut(byte / SECTOR)[(byte % SECTOR) as usize] ^= 1 << bit;
        }
        if chaos.corrupt(exempt, faults.multi_bit_rot, StorageFault::MultiBitRot) {
            let sector = chaos.prng.range_inclusive(offset, end - 1) / SECTOR;
            let bits = chaos.prng.range_inclusive(2, 16);
            file.flip_bits(sector, bits, chaos.prng);
        }
        if chaos.corrupt(exempt, faults.sector_garbage, StorageFault::SectorGarbage) {
            let sector = chaos.prng.range_inclusive(offset, end - 1) / SECTOR;
            file.scramble(sector, chaos.prng);
        }
        if chaos.chance(faults.short_read, StorageFault::ShortRead) {
            len = shorten(len, is_direct(&self.handles, access), chaos.prng);
        }
        let (first, last) = span(offset, len);
        if file.sectors.any_bad(first, last) {
            return Err(Errno::EIO);
        }
        let buffer = &mut buffer[..len];
        file.sectors.read(buffer, offset);
        if chaos.corrupt(exempt, faults.misdirected_read, StorageFault::MisdirectedRead) {
            // One sector's worth of the buffer comes from another sector.
            let victim = chaos.prng.range_inclusive(first, last);
            let others = file.size / SECTOR - 1;
            let source = match chaos.prng.below(others) {
                s if s >= victim && others > 0 => s + 1,
                s => s,
            };
            let (from, to) = within(victim, offset, len);
            let source_at = source * SECTOR + (from as u64 + offset) % SECTOR;
            file.sectors.read(&mut buffer[from..to], source_at);
        }
        if chaos.corrupt(exempt, faults.stale_read, StorageFault::StaleRead) {
            // An older version of a sector rewritten since it was durable.
            let victim = chaos.prng.range_inclusive(first, last);
            if let Some(entry) = file.sectors.entry(victim).filter(|e| !e.orphan) {
                let older = entry.versions().last().copied().unwrap_or(entry.durable);
                let (from, to) = within(victim, offset, len);
                file.sectors.read_block(older, &mut buffer[from..to], offset + from as u64);
            }
        }
        Ok(len)
    }

    /// Writes `data` at `offset` into the cache. Data files do not grow: a
    /// write running past the end is short, one starting at or past it is
    /// `EFBIG` (as with a file size limit).
    pub(crate) fn write(
        &mut self,
        id: FileId,
        access: Access,
        data: &[u8],
        offset: u64,
        chaos: &mut Chaos<'_>,
    ) -> Result<usize, Errno> {
        let faults = chaos.faults;
        let file = &mut self.files[id as usize];
        if offset >= file.size {
            return Err(Errno::EFBIG);
        }
        if chaos.chance(faults.no_space, StorageFault::NoSpace) {
            return Err(Errno::ENOSPC);
        }
        let exempt = file.exempt;
        let mut len = clamp(data.len(), offset, file.size);
        if chaos.chance(faults.write_io_error, StorageFault::WriteIoError) {
            // The device failed part way: a prefix of whole sectors landed.
            let (first, last) = span(offset, len);
            let cut = ((first + chaos.prng.below(last - first + 1)) * SECTOR).max(offset);
            file.sectors.write(&data[..(cut - offset) as usize], offset);
            return Err(Errno::EIO);
        }
        if chaos.chance(faults.short_write, StorageFault::ShortWrite) {
            len = shorten(len, is_direct(&self.handles, access), chaos.prng);
        }
        let mut landed = len;
        if chaos.corrupt(exempt, faults.torn_write, StorageFault::TornWrite) {
            // A strict prefix of the sectors lands: the write is really torn.
            let (first, last) = span(offset, len);
            let keep = chaos.prng.below(last - first + 1);
            let cut = ((first + keep) * SECTOR).max(offset);
            landed = (cut - offset) as usize;
        }
        let mut target = (id, offset);
        if chaos.corrupt(exempt, faults.misdirected_write, StorageFault::MisdirectedWrite) {
            target = self.misdirect(id, access, offset, len, chaos);
        }
        let file = &mut self.files[target.0 as usize];
        file.sectors.write(&data[..landed], target.1);
        if chaos.chance(faults.writeback_error, StorageFault::WritebackError) {
            let file = &mut self.files[id as usize];
            file.sync_failed(Errno::EIO, faults.fsync_revert, chaos.prng, 0);
        }
        Ok(len)
    }

    /// Where a misdirected write of `len` bytes meant for `offset` of file
    /// `id` lands: the same offset within a sector, another sector of the
    /// same file or of another non-exempt file of the node that has room.
    fn misdirect(
        &self,
        id: FileId,
        access: Access,
        offset: u64,
        len: usize,
        chaos: &mut Chaos<'_>,
    ) -> (FileId, u64) {
        let within = offset % SECTOR;
        let span = (within + len as u64).div_ceil(SECTOR);
        let mut target = id;
        if chaos.chance(chaos.faults.misdirected_write_other_file, StorageFault::MisdirectedWrite) {
            let fits = |other: FileId| {
                let file = &self.files[other as usize];
                other != id && !file.exempt && file.size / SECTOR >= span
            };
            let count = self.node_files(access.node).filter(|&f| fits(f)).count();
            if count > 0 {
                let pick = chaos.prng.index(count);
                let chosen = self.node_files(access.node).filter(|&f| fits(f)).nth(pick);
                target = chosen.unwrap_or(id);
            }
        }
        let sectors = self.files[target as usize].size / SECTOR;
        let base = chaos.prng.below(sectors - span + 1);
        (target, base * SECTOR + within)
    }

    /// Makes what file `id`'s dirty sectors held when the fsync with
    /// `ticket` was submitted durable ([`Storage::submit_fsync`]), or fails
    /// as configured; then reports the file's errseq error if this
    /// descriptor has not seen it yet.
    pub(crate) fn fsync(
        &mut self,
        id: FileId,
        access: Access,
        ticket: u32,
        chaos: &mut Chaos<'_>,
    ) -> Result<(), Errno> {
        let faults = chaos.faults;
        let failure = if chaos.chance(faults.fsync_error, StorageFault::FsyncError) {
            Some(Errno::EIO)
        } else if chaos.chance(faults.fsync_no_space, StorageFault::FsyncNoSpace) {
            let half = Ratio::new(1, 2).expect("valid ratio");
            Some(if chaos.prng.chance(half) { Errno::ENOSPC } else { Errno::EDQUOT })
        } else {
            None
        };
        let file = &mut self.files[id as usize];
        match failure {
            Some(errno) => file.sync_failed(errno, faults.fsync_revert, chaos.prng, ticket),
            None => file.synced(ticket),
        }
        let (errseq, error) = (file.errseq, file.error);
        match self.handle_mut(access) {
            Some(handle) if handle.seen != errseq => {
                handle.seen = errseq;
                self.files[id as usize].unseen = false;
                Err(error)
            }
            Some(_) => Ok(()),
            None => failure.map_or(Ok(()), Err),
        }
    }
}

impl Storage {
    /// An fsync of file `id` was submitted: the writes that complete from
    /// now on are not its to make durable. Returns its ticket (never 0).
    pub(crate) fn submit_fsync(&mut self, id: FileId) -> u32 {
        let sectors = &mut self.files[id as usize].sectors;
        sectors.ticket = sectors.ticket.checked_add(1).unwrap_or(1);
        sectors.ticket
    }
}

/// The part `from..to` of a transfer at `offset` of `len` bytes that lies
/// in sector `index` (which it covers).
fn within(index: u64, offset: u64, len: usize) -> (usize, usize) {
    let start = (index * SECTOR).max(offset);
    let end = ((index + 1) * SECTOR).min(offset + len as u64);
    ((start - offset) as usize, (end - offset) as usize)
}

const _: () = assert!(SECTOR as usize == SECTOR_SIZE);
