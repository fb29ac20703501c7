//! How one file's sectors are stored: laid out for speed.
//!
//! Sector contents live in a **pool** (`pool.rs`): 4 KiB blocks in
//! contiguous segments, reused through a free list, so steady-state writes
//! allocate nothing. Each file maps a sector to the block reads see (its newest
//! version) through chunk tables of [`CHUNK_SECTORS`] entries; a sector
//! never written maps to no block and reads as the file's `Fill`. The
//! **overlay** keeps, for each sector changed since it was last durable,
//! the blocks a crash may still return: its durable copy and the
//! intermediate versions written since. Versions change owners rather
//! than bytes: a write copies its data once (into a fresh block; the old
//! block becomes a candidate), a successful fsync copies nothing (it frees
//! the candidates), and a crash picks a candidate block without copying
//! (unless it tears it).

use std::collections::BTreeMap;

use super::fill::Fill;
use super::pool::Pool;
use crate::buffer::SECTOR_SIZE;

pub(crate) const SECTOR: u64 = SECTOR_SIZE as u64;
/// Sectors per chunk table.
const CHUNK_SECTORS: usize = 64;
/// Intermediate versions an overlay entry keeps: a sector rewritten more
/// often between syncs forgets its oldest intermediates (the durable copy
/// and the newest are always kept).
pub(crate) const MAX_VERSIONS: usize = 6;
/// No block: the sector was never written (or no entry).
pub(crate) const NONE: u32 = u32::MAX;

struct Chunk {
    /// Per sector: the block reads see, or `NONE` (never written).
    block: [u32; CHUNK_SECTORS],
    /// Per sector: its overlay entry, or `NONE`.
    entry: [u32; CHUNK_SECTORS],
    /// Per sector: a latent sector error (reads fail until rewritten).
    bad: u64,
}

/// What a crash may fall back to for one sector.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub sector: u64,
    /// The durable copy's block (`NONE`: never written).
    pub durable: u32,
    /// Blocks of the versions written after `durable` and before the
    /// newest, oldest first.
    pub versions: [u32; MAX_VERSIONS],
    pub count: u8,
    /// Orphaned by a failed sync: the newest is readable but not dirty any
    /// more, so no later sync writes it and a crash falls back to `durable`.
    pub orphan: bool,
    /// The fsync ticket (see [`Sectors::ticket`]) current at the first
    /// write to this sector after that ticket was drawn, and the block
    /// reads saw just before that write (`NONE`: not kept): what an fsync
    /// with that ticket covers of this sector.
    pub snap_ticket: u32,
    pub snap: u32,
}

impl Entry {
    pub(crate) fn versions(&self) -> &[u32] {
        &self.versions[..self.count as usize]
    }
}

pub(crate) struct Sectors {
    chunks: BTreeMap<u64, Chunk>,
    entries: Vec<Entry>,
    free_entries: Vec<u32>,
    /// Entries in use, in the order they were opened.
    live: Vec<u32>,
    pool: Pool,
    pub fill: Fill,
    /// The ticket of the file's latest fsync submission (0: none yet). A
    /// write after a submission does not count for that fsync: the first
    /// one to a sector records what the sector held at the submission.
    pub ticket: u32,
}

fn split(index: u64) -> (u64, usize) {
    (index / CHUNK_SECTORS as u64, (index % CHUNK_SECTORS as u64) as usize)
}

fn chunk_in(chunks: &mut BTreeMap<u64, Chunk>, key: u64) -> &mut Chunk {
    chunks.entry(key).or_insert_with(|| Chunk {
        block: [NONE; CHUNK_SECTORS],
        entry: [NONE; CHUNK_SECTORS],
        bad: 0,
    })
}

/// A new overlay entry for `sector`, whose durable copy is `durable`.
fn open_entry(entries: &mut Vec<Entry>, free: &mut Vec<u32>, sector: u64, durable: u32) -> u32 {
    let entry = Entry {
        sector,
        durable,
        versions: [NONE; MAX_VERSIONS],
        count: 0,
        orphan: false,
        snap_ticket: 0,
        snap: NONE,
    };
    match free.pop() {
        Some(id) => {
            entries[id as usize] = entry;
            id
        }
        None => {
            entries.push(entry);
            entries.len() as u32 - 1
        }
    }
}

impl Sectors {
    pub(crate) fn new(fill: Fill) -> Sectors {
        Sectors {
            chunks: BTreeMap::new(),
            entries: Vec::new(),
            free_entries: Vec::new(),
            live: Vec::new(),
            pool: Pool::default(),
            fill,
            ticket: 0,
        }
    }

    fn visible(&self, index: u64) -> u32 {
        let (key, slot) = split(index);
        self.chunks.get(&key).map_or(NONE, |chunk| chunk.block[slot])
    }

    /// Copies bytes `offset..offset + out.len()` as reads see them.
    pub(crate) fn read(&self, out: &mut [u8], offset: u64) {
        let mut done = 0;
        while done < out.len() {
            let at = offset + done as u64;
            let within = (at % SECTOR) as usize;
            let n = (SECTOR_SIZE - within).min(out.len() - done);
            self.read_block(self.visible(at / SECTOR), &mut out[done..done + n], at);
            done += n;
        }
    }

    /// Copies the bytes of `block` (`NONE`: never written) that stand for
    /// `at..at + out.len()` (within one sector).
    pub(crate) fn read_block(&self, block: u32, out: &mut [u8], at: u64) {
        let within = (at % SECTOR) as usize;
        match block {
            NONE => self.fill.unwritten(out, at),
            block => out.copy_from_slice(&self.pool.block(block)[within..within + out.len()]),
        }
    }

    /// The block reads see of sector `index`, made real if never written
    /// (for the faults that change stored data in place).
    pub(crate) fn stored_mut(&mut self, index: u64) -> &mut [u8] {
        let (key, slot) = split(index);
        let chunk = chunk_in(&mut self.chunks, key);
        if chunk.block[slot] == NONE {
            let block = self.pool.take();
            self.fill.unwritten(self.pool.block_mut(block), index * SECTOR);
            chunk.block[slot] = block;
        }
        let block = chunk.block[slot];
        self.pool.block_mut(block)
    }

    /// Writes `data` at `offset`: each sector it changes gets a fresh
    /// block, its old one kept as a crash candidate.
    pub(crate) fn write(&mut self, data: &[u8], offset: u64) {
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let index = at / SECTOR;
            let within = (at % SECTOR) as usize;
            let n = (SECTOR_SIZE - within).min(data.len() - done);
            let block = self.fresh_block(index, n < SECTOR_SIZE);
            self.pool.block_mut(block)[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
    }

    /// The block a write to sector `index` goes into, the sector's overlay
    /// updated: a new block (holding the old content if `partial`) whose
    /// predecessor becomes a candidate, or, for an orphan (whose newest no
    /// crash returns), the same block, the sector dirty again.
    fn fresh_block(&mut self, index: u64, partial: bool) -> u32 {
        let (key, slot) = split(index);
        let chunk = chunk_in(&mut self.chunks, key);
        chunk.bad &= !(1 << slot);
        let old = chunk.block[slot];
        let mut id = chunk.entry[slot];
        let ticket = self.ticket;
        if id != NONE && self.entries[id as usize].orphan {
            let e = &mut self.entries[id as usize];
            e.orphan = false;
            if e.snap_ticket != ticket {
                // An orphan's newest is not dirty: what a sync covers is
                // its durable copy.
                (e.snap_ticket, e.snap) = (ticket, e.durable);
            }
            return old;
        }
        let block = self.pool.take();
        chunk.block[slot] = block;
        if id == NONE {
            id = open_entry(&mut self.entries, &mut self.free_entries, index, old);
            self.live.push(id);
            chunk.entry[slot] = id;
        } else {
            let e = &mut self.entries[id as usize];
            if e.count as usize == MAX_VERSIONS {
                if e.snap == e.versions[0] {
                    e.snap = NONE; // Its block goes back to the pool.
                }
                self.pool.give(e.versions[0]);
                e.versions.copy_within(1.., 0);
                e.count -= 1;
            }
            e.versions[e.count as usize] = old;
            e.count += 1;
        }
        let e = &mut self.entries[id as usize];
        if e.snap_ticket != ticket {
            (e.snap_ticket, e.snap) = (ticket, old);
        }
        if partial {
            self.pool.copy(old, block, 0..SECTOR_SIZE, index, &self.fill);
        }
        block
    }

    /// The overlay entry of sector `index`, if it has one.
    pub(crate) fn entry(&self, index: u64) -> Option<&Entry> {
        let (key, slot) = split(index);
        let id = self.chunks.get(&key)?.entry[slot];
        (id != NONE).then(|| &self.entries[id as usize])
    }

    /// Settles every live entry, oldest first: `decide` says what becomes
    /// of it, after choosing through [`Settle`] which block reads see.
    pub(crate) fn settle(&mut self, mut decide: impl FnMut(&mut Settle<'_>, &Entry) -> Verdict) {
        let mut kept = 0;
        for at in 0..self.live.len() {
            let id = self.live[at];
            let entry = self.entries[id as usize];
            let (key, slot) = split(entry.sector);
            let chunk = chunk_in(&mut self.chunks, key);
            let newest = chunk.block[slot];
            let mut settle = Settle {
                chunk,
                slot,
                sector: entry.sector,
                pool: &mut self.pool,
                fill: &self.fill,
            };
            let verdict = decide(&mut settle, &entry);
            let visible = settle.chunk.block[slot];
            match verdict {
                Verdict::Keep => {}
                Verdict::Orphan => {
                    let e = &mut self.entries[id as usize];
                    e.orphan = true;
                    let count = std::mem::take(&mut e.count) as usize;
                    for &block in &e.versions[..count] {
                        self.pool.give(block);
                    }
                }
                Verdict::Advance(block) => {
                    let e = &mut self.entries[id as usize];
                    let count = e.count as usize;
                    let at = e.versions[..count].iter().position(|&v| v == block);
                    let at = at.expect("an advance names one of the entry's versions");
                    self.pool.give(e.durable);
                    for &older in &e.versions[..at] {
                        self.pool.give(older);
                    }
                    e.durable = block;
                    e.versions.copy_within(at + 1..count, 0);
                    e.count = (count - at - 1) as u8;
                }
                Verdict::Forget => {
                    settle.chunk.entry[slot] = NONE;
                    let candidates = entry.versions().iter().chain([&entry.durable, &newest]);
                    for &block in candidates {
                        if block != visible {
                            self.pool.give(block);
                        }
                    }
                    self.free_entries.push(id);
                    continue;
                }
            }
            self.live[kept] = id;
            kept += 1;
        }
        self.live.truncate(kept);
    }

    /// Marks sector `index` bad (a latent sector error).
    pub(crate) fn set_bad(&mut self, index: u64) {
        let (key, slot) = split(index);
        chunk_in(&mut self.chunks, key).bad |= 1 << slot;
    }

    /// True if a sector of `first..=last` is bad.
    pub(crate) fn any_bad(&self, first: u64, last: u64) -> bool {
        let (from, to) = (split(first).0, split(last).0);
        self.chunks.range(from..=to).any(|(&key, chunk)| {
            chunk.bad != 0
                && (0..CHUNK_SECTORS).any(|s| {
                    let index = key * CHUNK_SECTORS as u64 + s as u64;
                    chunk.bad & (1 << s) != 0 && (first..=last).contains(&index)
                })
        })
    }
}

/// What becomes of a live overlay entry when it is settled.
pub(crate) enum Verdict {
    /// Stays as it is.
    Keep,
    /// The newest stays readable but is no longer dirty.
    Orphan,
    /// What reads see now is what the sector durably holds: forget the
    /// entry and free every other candidate.
    Forget,
    /// Candidate `block` (one of the entry's intermediate versions) is now
    /// the durable copy; the versions written after it stay candidates.
    Advance(u32),
}

/// Changes to one sector while its entry is settled.
pub(crate) struct Settle<'a> {
    chunk: &'a mut Chunk,
    slot: usize,
    sector: u64,
    pool: &'a mut Pool,
    fill: &'a Fill,
}

impl Settle<'_> {
    /// Makes candidate `block` (`NONE`: never written) what reads see.
    pub(crate) fn restore(&mut self, block: u32) {
        self.chunk.block[self.slot] = block;
    }

    /// Copies bytes `range` of candidate `from` over what reads see (a
    /// tear). What reads see must be a block no other candidate shares.
    pub(crate) fn patch(&mut self, from: u32, range: std::ops::Range<usize>) {
        let to = self.visible();
        self.pool.copy(from, to, range, self.sector, self.fill);
    }

    /// The bytes reads see, to scramble in place.
    pub(crate) fn visible_mut(&mut self) -> &mut [u8] {
        let block = self.visible();
        self.pool.block_mut(block)
    }

    /// What reads see, made a real block if it was never written.
    fn visible(&mut self) -> u32 {
        if self.chunk.block[self.slot] == NONE {
            let block = self.pool.take();
            self.fill.unwritten(self.pool.block_mut(block), self.sector * SECTOR);
            self.chunk.block[self.slot] = block;
        }
        self.chunk.block[self.slot]
    }
}
