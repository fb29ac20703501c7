//! How one file's sectors are stored: laid out for speed.
//!
//! The **base** holds what reads see (the newest version of every
//! sector), contiguously, in chunks of [`CHUNK_SECTORS`] sectors allocated
//! on first touch. The **overlay** holds, for each sector changed since it
//! was last made durable, what a crash may fall back to: the durable copy
//! and the intermediate versions written since. So a read is one copy out
//! of the base, a write one copy in (plus one of the replaced version when
//! a crash could still return it), a successful fsync copies nothing (it
//! forgets overlay entries), and memory is reused through free lists: in
//! steady state nothing is allocated.

use std::collections::BTreeMap;

use super::fill::Fill;
use crate::buffer::SECTOR_SIZE;

pub(crate) const SECTOR: u64 = SECTOR_SIZE as u64;
/// Sectors per base chunk (64 KiB).
const CHUNK_SECTORS: usize = 16;
const CHUNK_BYTES: usize = CHUNK_SECTORS * SECTOR_SIZE;
/// Intermediate versions an overlay entry keeps: a sector rewritten more
/// often between syncs forgets its oldest intermediates (the durable copy
/// and the newest are always kept).
pub(crate) const MAX_VERSIONS: usize = 6;
const NONE: u32 = u32::MAX;

struct Chunk {
    data: Box<[u8]>,
    /// Per sector: its overlay entry, or `NONE`.
    entry: [u32; CHUNK_SECTORS],
    /// Per sector: a latent sector error (reads fail until rewritten).
    bad: u16,
}

/// What a crash may fall back to for one sector.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub sector: u64,
    /// Pool slot of the durable copy.
    pub durable: u32,
    /// Pool slots of the versions written after `durable` and before the
    /// base's, oldest first.
    pub versions: [u32; MAX_VERSIONS],
    pub count: u8,
    /// Orphaned by a failed sync: the base is readable but not dirty any
    /// more, so no later sync writes it and a crash falls back to `durable`.
    pub orphan: bool,
}

impl Entry {
    pub(crate) fn versions(&self) -> &[u32] {
        &self.versions[..self.count as usize]
    }
}

/// The sector blocks of the overlay: one buffer, with a free list.
#[derive(Default)]
pub(crate) struct Pool {
    bytes: Vec<u8>,
    free: Vec<u32>,
}

impl Pool {
    fn take(&mut self) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        let slot = (self.bytes.len() / SECTOR_SIZE) as u32;
        self.bytes.resize(self.bytes.len() + SECTOR_SIZE, 0);
        slot
    }

    fn give(&mut self, slot: u32) {
        self.free.push(slot);
    }

    pub(crate) fn block(&self, slot: u32) -> &[u8] {
        let at = slot as usize * SECTOR_SIZE;
        &self.bytes[at..at + SECTOR_SIZE]
    }

    fn block_mut(&mut self, slot: u32) -> &mut [u8] {
        let at = slot as usize * SECTOR_SIZE;
        &mut self.bytes[at..at + SECTOR_SIZE]
    }
}

pub(crate) struct Sectors {
    chunks: BTreeMap<u64, Chunk>,
    pub overlay: Overlay,
    pub fill: Fill,
}

/// The overlay: entries for the sectors changed since they were durable.
#[derive(Default)]
pub(crate) struct Overlay {
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Entries in use, in the order they were opened.
    live: Vec<u32>,
    pub pool: Pool,
}

impl Overlay {
    /// A new entry for sector `index`, whose current (durable) content is
    /// `block`.
    fn open(&mut self, index: u64, block: &[u8]) -> u32 {
        let durable = self.pool.take();
        self.pool.block_mut(durable).copy_from_slice(block);
        let entry = Entry {
            sector: index,
            durable,
            versions: [NONE; MAX_VERSIONS],
            count: 0,
            orphan: false,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = entry;
                id
            }
            None => {
                self.entries.push(entry);
                self.entries.len() as u32 - 1
            }
        };
        self.live.push(id);
        id
    }

    /// Entry `id`'s sector is about to be rewritten: its current version
    /// `block` becomes a crash candidate, unless it is an orphan (whose base
    /// no crash can return: the sector becomes dirty again instead).
    fn push_version(&mut self, id: u32, block: &[u8]) {
        let e = &mut self.entries[id as usize];
        if e.orphan {
            e.orphan = false;
            return;
        }
        let slot = if e.count as usize == MAX_VERSIONS {
            let oldest = e.versions[0];
            e.versions.copy_within(1.., 0);
            e.count -= 1;
            oldest
        } else {
            self.pool.take()
        };
        let e = &mut self.entries[id as usize];
        e.versions[e.count as usize] = slot;
        e.count += 1;
        self.pool.block_mut(slot).copy_from_slice(block);
    }

    /// Releases entry `id`'s pool slots; `forget` frees the entry too.
    fn release(&mut self, id: u32, forget: bool) {
        let e = &mut self.entries[id as usize];
        let (durable, versions, count) = (e.durable, e.versions, e.count as usize);
        e.count = 0;
        for &slot in &versions[..count] {
            self.pool.give(slot);
        }
        if forget {
            self.pool.give(durable);
            self.free.push(id);
        } else {
            self.entries[id as usize].orphan = true;
        }
    }
}

/// The chunk holding `key`, allocated (and filled as never written) on
/// first touch.
fn chunk_in<'a>(chunks: &'a mut BTreeMap<u64, Chunk>, fill: &Fill, key: u64) -> &'a mut Chunk {
    chunks.entry(key).or_insert_with(|| {
        let mut data = vec![0; CHUNK_BYTES].into_boxed_slice();
        fill.unwritten(&mut data, key * CHUNK_BYTES as u64);
        Chunk { data, entry: [NONE; CHUNK_SECTORS], bad: 0 }
    })
}

fn split(index: u64) -> (u64, usize) {
    (index / CHUNK_SECTORS as u64, (index % CHUNK_SECTORS as u64) as usize)
}

impl Sectors {
    pub(crate) fn new(fill: Fill) -> Sectors {
        Sectors { chunks: BTreeMap::new(), overlay: Overlay::default(), fill }
    }

    /// Copies bytes `offset..offset + out.len()` as reads see them.
    pub(crate) fn read(&self, out: &mut [u8], offset: u64) {
        let mut done = 0;
        while done < out.len() {
            let at = offset + done as u64;
            let key = at / CHUNK_BYTES as u64;
            let within = (at % CHUNK_BYTES as u64) as usize;
            let n = (CHUNK_BYTES - within).min(out.len() - done);
            let piece = &mut out[done..done + n];
            match self.chunks.get(&key) {
                Some(c) => piece.copy_from_slice(&c.data[within..within + n]),
                None => self.fill.unwritten(piece, at),
            }
            done += n;
        }
    }

    /// The base copy of sector `index`, allocating its chunk.
    pub(crate) fn base_mut(&mut self, index: u64) -> &mut [u8] {
        let (key, slot) = split(index);
        let chunk = chunk_in(&mut self.chunks, &self.fill, key);
        &mut chunk.data[slot * SECTOR_SIZE..(slot + 1) * SECTOR_SIZE]
    }

    /// Writes `data` at `offset` into the base, first saving what a crash
    /// may still return of each sector it changes.
    pub(crate) fn write(&mut self, data: &[u8], offset: u64) {
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let index = at / SECTOR;
            let within = (at % SECTOR) as usize;
            let n = (SECTOR_SIZE - within).min(data.len() - done);
            let (key, slot) = split(index);
            let chunk = chunk_in(&mut self.chunks, &self.fill, key);
            let block = &mut chunk.data[slot * SECTOR_SIZE..(slot + 1) * SECTOR_SIZE];
            match chunk.entry[slot] {
                NONE => chunk.entry[slot] = self.overlay.open(index, block),
                id => self.overlay.push_version(id, block),
            }
            chunk.bad &= !(1 << slot);
            block[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
    }

    /// The overlay entry of sector `index`, if it has one.
    pub(crate) fn entry(&self, index: u64) -> Option<&Entry> {
        let (key, slot) = split(index);
        let id = self.chunks.get(&key)?.entry[slot];
        (id != NONE).then(|| &self.overlay.entries[id as usize])
    }

    /// Settles every live entry, oldest first: `decide` says what becomes
    /// of it (and may rewrite the base through [`Settle`]).
    pub(crate) fn settle(&mut self, mut decide: impl FnMut(&mut Settle<'_>, &Entry) -> Verdict) {
        let mut kept = 0;
        for at in 0..self.overlay.live.len() {
            let id = self.overlay.live[at];
            let entry = self.overlay.entries[id as usize];
            match decide(&mut Settle { sectors: self }, &entry) {
                Verdict::Keep => {}
                Verdict::Orphan => self.overlay.release(id, false),
                Verdict::Forget => {
                    self.overlay.release(id, true);
                    let (key, slot) = split(entry.sector);
                    chunk_in(&mut self.chunks, &self.fill, key).entry[slot] = NONE;
                    continue;
                }
            }
            self.overlay.live[kept] = id;
            kept += 1;
        }
        self.overlay.live.truncate(kept);
    }

    /// Marks sector `index` bad (a latent sector error).
    pub(crate) fn set_bad(&mut self, index: u64) {
        let (key, slot) = split(index);
        chunk_in(&mut self.chunks, &self.fill, key).bad |= 1 << slot;
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
    /// The base stays readable but is no longer dirty.
    Orphan,
    /// The base is what the sector now durably holds: forget the entry.
    Forget,
}

/// Access to the base and the pool while entries are settled.
pub(crate) struct Settle<'a> {
    sectors: &'a mut Sectors,
}

impl Settle<'_> {
    /// The base of `sector` and the pool, to rewrite the base from pool
    /// blocks.
    pub(crate) fn base_and_pool(&mut self, sector: u64) -> (&mut [u8], &Pool, &Fill) {
        let s = &mut *self.sectors;
        let (key, slot) = split(sector);
        let chunk = chunk_in(&mut s.chunks, &s.fill, key);
        (&mut chunk.data[slot * SECTOR_SIZE..(slot + 1) * SECTOR_SIZE], &s.overlay.pool, &s.fill)
    }
}
