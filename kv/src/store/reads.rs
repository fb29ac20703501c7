//! The read path: a get reads its key's record from disk and serves it only
//! if it is exactly the record the index remembers.
//!
//! Copy A is read first; if the sector is unreadable or is not the expected
//! record (bit-rot, a misdirected or lost write), copy B is tried, then
//! each again, up to `READ_ATTEMPTS` reads of each (a misdirected or stale
//! read heals on a retry); only then does the client get `Corrupt`. A
//! short read is resumed, never taken for damage. The value is never
//! served from a sector whose checksum does not match — unless the planted
//! `skip_checksum` bug is on, which is what the simulation must then catch.

use twinio::{Buffer, Io, ReadDone};

use super::net::{self, ConnectionId};
use super::sector::{self, Progress};
use super::{Entry, Store};
use crate::protocol::{ErrorCode, Response};
use crate::record::{self, Mutation};

/// A get waiting for its sector.
#[derive(Debug)]
pub(crate) struct Read {
    connection: ConnectionId,
    id: u64,
    key: Vec<u8>,
    entry: Entry,
    /// Reads of the sector that came back wrong so far, over both copies.
    tries: u32,
}

/// Gets in flight, in a slab indexed by the low half of the op's tag.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    slots: Vec<Option<Read>>,
}

impl Reads {
    fn insert(&mut self, read: Read) -> usize {
        match self.slots.iter().position(Option::is_none) {
            Some(index) => {
                self.slots[index] = Some(read);
                index
            }
            None => {
                self.slots.push(Some(read));
                self.slots.len() - 1
            }
        }
    }
}

pub(super) fn get<I: Io>(
    store: &mut Store,
    io: &mut I,
    connection: ConnectionId,
    id: u64,
    key: Vec<u8>,
) where
    I::Context: AsMut<Store>,
{
    if store.config.bugs.dirty_read
        && let Some(pending) = super::log::pending_value(store, &key)
    {
        let response = match pending {
            Some(value) => Response::Value { id, value },
            None => Response::NotFound { id },
        };
        return net::respond(store, io, connection, response);
    }
    let Some(&entry) = store.index.get(&key) else {
        return net::respond(store, io, connection, Response::NotFound { id });
    };
    let index = store.reads.insert(Read { connection, id, key, entry, tries: 0 });
    let buffer = store.spares.take();
    read_copy(store, io, index, 0, buffer, 0);
}

/// Reads `buffer[filled..]` of the get's sector from `copy`.
fn read_copy<I: Io>(
    store: &mut Store,
    io: &mut I,
    index: usize,
    copy: usize,
    buffer: Buffer,
    filled: usize,
) where
    I::Context: AsMut<Store>,
{
    let read = store.reads.slots[index].as_ref().expect("a read in flight");
    let fd = store.files[copy].expect("serving means the log is open");
    let tag = index as u64 | (copy as u64) << 32 | (filled as u64) << 40;
    if !sector::read_from(io, fd, read.entry.slot, buffer, filled, tag, on_read::<I>) {
        let read = store.reads.slots[index].take().expect("a read in flight");
        let response = Response::Error { id: read.id, code: ErrorCode::Unavailable };
        net::respond(store, io, read.connection, response);
    }
}

fn on_read<I: Io>(ctx: &mut I::Context, io: &mut I, done: ReadDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    let index = (done.tag & 0xFFFF_FFFF) as usize;
    let copy = (done.tag >> 32 & 0xFF) as usize;
    let filled = (done.tag >> 40) as usize;
    let Some(read) = store.reads.slots.get(index).and_then(Option::as_ref) else { return };
    let (value, buffer) = match sector::progress(done, filled) {
        // A short read is not damage: read the rest.
        Progress::Partial(buffer, filled) => {
            return read_copy(store, io, index, copy, buffer, filled);
        }
        Progress::Complete(sector) if store.config.bugs.skip_checksum => {
            (value_unchecked(&sector), sector)
        }
        Progress::Complete(sector) => (verified_value(&sector, read), sector),
        Progress::Failed(buffer) => (None, buffer),
    };
    if value.is_none() {
        // Copy A, then copy B, then both again: a misdirected or stale read
        // heals on a second try, damage does not.
        let read = store.reads.slots[index].as_mut().expect("checked above");
        read.tries += 1;
        if read.tries < 2 * sector::READ_ATTEMPTS {
            return read_copy(store, io, index, 1 - copy, buffer, 0);
        }
    }
    store.spares.give(buffer);
    let read = store.reads.slots[index].take().expect("checked above");
    let response = match value {
        Some(value) => Response::Value { id: read.id, value },
        None => Response::Error { id: read.id, code: ErrorCode::Corrupt },
    };
    net::respond(store, io, read.connection, response);
}

/// The value, if `sector` is exactly the record the index expects.
fn verified_value(sector: &[u8], read: &Read) -> Option<Vec<u8>> {
    if record::checksum_of(sector) != read.entry.checksum {
        return None;
    }
    match record::decode(sector, read.entry.slot).ok()?.mutation {
        Mutation::Put { key, value } if key == read.key => Some(value),
        _ => None,
    }
}

/// The planted bug: trust the lengths in the header, check nothing else.
fn value_unchecked(sector: &[u8]) -> Option<Vec<u8>> {
    let (key_len, value_len) = record::lengths_unchecked(sector);
    let start = record::HEADER_SIZE + key_len;
    sector.get(start..start + value_len).map(<[u8]>::to_vec)
}
