//! Sector contents: 4 KiB blocks in 64 KiB segments, reused through a free
//! list, so steady-state writes allocate nothing.
//!
//! A dropped pool's segments are kept, per thread, for the next simulation
//! to take (up to [`SPARE_LIMIT`] bytes): a process that runs simulation
//! after simulation (a runner going through seeds, a benchmark's
//! repetitions) then writes into memory it already has, instead of
//! faulting every page in again (profiled: first-touch page faults were a
//! third of a random-write workload's time). Which bytes a reused segment
//! holds is never seen: a block is written whole before it is read.

use std::cell::RefCell;

use super::fill::Fill;
use super::sectors::{NONE, SECTOR};
use crate::buffer::SECTOR_SIZE;

/// Blocks per pool segment.
const SEGMENT_BLOCKS: usize = 16;
const SEGMENT_BYTES: usize = SEGMENT_BLOCKS * SECTOR_SIZE;
/// The most segment memory a thread keeps for later simulations.
const SPARE_LIMIT: usize = 256 << 20;

/// Sector blocks in segments, with a free list.
#[derive(Default)]
pub(super) struct Pool {
    segments: Vec<Box<[u8]>>,
    free: Vec<u32>,
}

/// Which segment holds `block`, and where in it.
#[inline]
fn place(block: u32) -> (usize, std::ops::Range<usize>) {
    let at = (block as usize % SEGMENT_BLOCKS) * SECTOR_SIZE;
    (block as usize / SEGMENT_BLOCKS, at..at + SECTOR_SIZE)
}

impl Pool {
    /// A free block. What it holds is unspecified (zeros, or a finished
    /// simulation's data): every caller overwrites the whole block before
    /// anything reads it.
    pub(super) fn take(&mut self) -> u32 {
        if let Some(block) = self.free.pop() {
            return block;
        }
        let first = (self.segments.len() * SEGMENT_BLOCKS) as u32;
        self.segments.push(spare_segment());
        // Hand out the new segment lowest block first.
        self.free.extend((first + 1..first + SEGMENT_BLOCKS as u32).rev());
        first
    }

    pub(super) fn give(&mut self, block: u32) {
        if block != NONE {
            self.free.push(block);
        }
    }

    pub(super) fn block(&self, block: u32) -> &[u8] {
        let (segment, bytes) = place(block);
        &self.segments[segment][bytes]
    }

    pub(super) fn block_mut(&mut self, block: u32) -> &mut [u8] {
        let (segment, bytes) = place(block);
        &mut self.segments[segment][bytes]
    }

    /// Copies block `from` (`NONE`: never written, at sector `sector`) into
    /// block `to`, bytes `range` only.
    pub(super) fn copy(
        &mut self,
        from: u32,
        to: u32,
        range: std::ops::Range<usize>,
        sector: u64,
        fill: &Fill,
    ) {
        if from == NONE {
            let at = sector * SECTOR + range.start as u64;
            fill.unwritten(&mut self.block_mut(to)[range], at);
            return;
        }
        let (f, t) = (from as usize, to as usize);
        let (fs, ts) = (f / SEGMENT_BLOCKS, t / SEGMENT_BLOCKS);
        let (fo, to_) = ((f % SEGMENT_BLOCKS) * SECTOR_SIZE, (t % SEGMENT_BLOCKS) * SECTOR_SIZE);
        let (src, dst) = (fo + range.start..fo + range.end, to_ + range.start..to_ + range.end);
        if fs == ts {
            self.segments[fs].copy_within(src, dst.start);
        } else {
            let (low, high) = self.segments.split_at_mut(fs.max(ts));
            let (a, b) = (&mut low[fs.min(ts)], &mut high[0]);
            let (from_seg, to_seg) = if fs < ts { (&**a, &mut **b) } else { (&**b, &mut **a) };
            to_seg[dst].copy_from_slice(&from_seg[src]);
        }
    }
}

thread_local! {
    /// Segments of dropped pools, for the next pool of this thread.
    static SPARES: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A segment: a spare one if the thread has one, else a fresh (zeroed)
/// allocation.
fn spare_segment() -> Box<[u8]> {
    SPARES
        .try_with(|spares| spares.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0; SEGMENT_BYTES].into_boxed_slice())
}

impl Drop for Pool {
    fn drop(&mut self) {
        let segments = std::mem::take(&mut self.segments);
        // Fails only while the thread exits: the segments are freed then.
        let _ = SPARES.try_with(|spares| {
            let mut spares = spares.borrow_mut();
            let room = (SPARE_LIMIT / SEGMENT_BYTES).saturating_sub(spares.len());
            spares.extend(segments.into_iter().take(room));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::Unwritten;
    use crate::sim::storage::sectors::Sectors;

    #[test]
    fn a_dropped_pools_segments_serve_the_next_pool() {
        let mut first = Pool::default();
        let block = first.take();
        let address = first.block(block).as_ptr();
        drop(first);
        let mut second = Pool::default();
        let block = second.take();
        assert_eq!(second.block(block).as_ptr(), address, "the spare segment was not reused");
    }

    #[test]
    fn what_a_reused_segment_held_is_never_read() {
        let zeros = Fill { mode: Unwritten::Zeros, seed: 0 };
        let mut first = Sectors::new(zeros);
        for sector in 0..64 {
            first.write(&[0xAB; SECTOR_SIZE], sector * SECTOR);
        }
        drop(first);
        let mut second = Sectors::new(zeros);
        // Partial writes into fresh blocks: the rest of each sector reads
        // as the fill, not as the previous simulation's bytes.
        second.write(&[7; 100], 10);
        second.write(&[9; 1], SECTOR + SECTOR - 1);
        let mut out = vec![0xFF; 2 * SECTOR_SIZE];
        second.read(&mut out, 0);
        let mut expected = vec![0; 2 * SECTOR_SIZE];
        expected[10..110].fill(7);
        expected[2 * SECTOR_SIZE - 1] = 9;
        assert_eq!(out, expected);
    }
}
