//! The read path: a get reads its key's record from disk and serves it only
//! if it is exactly the record the index remembers.
//!
//! Copy A is read first; if the sector is unreadable or is not the expected
//! record (bit-rot, a misdirected or lost write), copy B is tried; if both
//! fail the client gets `Corrupt`. The value is never served from a sector
//! whose checksum does not match — unless the planted `skip_checksum` bug is
//! on, which is what the simulation must then catch.

use twinio::{Buffer, Io, ReadDone};

use super::net::{self, ConnectionId};
use super::{Entry, Store};
use crate::protocol::{ErrorCode, Response};
use crate::record::{self, Mutation, RECORD_SIZE};

/// A get waiting for its sector.
#[derive(Debug)]
pub(crate) struct Read {
    connection: ConnectionId,
    id: u64,
    key: Vec<u8>,
    entry: Entry,
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
    let index = store.reads.insert(Read { connection, id, key, entry });
    read_copy(store, io, index, 0);
}

fn read_copy<I: Io>(store: &mut Store, io: &mut I, index: usize, copy: usize)
where
    I::Context: AsMut<Store>,
{
    let read = store.reads.slots[index].as_ref().expect("a read in flight");
    let offset = read.entry.slot * RECORD_SIZE as u64;
    let fd = store.files[copy].expect("serving means the log is open");
    let buffer = Buffer::new(RECORD_SIZE).expect("one sector");
    let tag = index as u64 | (copy as u64) << 32;
    if io.read(fd, buffer, .., offset, tag, on_read::<I>).is_err() {
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
    let copy = (done.tag >> 32) as usize;
    let Some(read) = store.reads.slots.get(index).and_then(Option::as_ref) else { return };
    let value = match done.result {
        Ok(RECORD_SIZE) if store.config.bugs.skip_checksum => value_unchecked(&done.buffer),
        Ok(RECORD_SIZE) => verified_value(&done.buffer, read),
        _ => None,
    };
    if value.is_none() && copy == 0 {
        return read_copy(store, io, index, 1);
    }
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
