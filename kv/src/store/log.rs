//! The write path: group commit of queued mutations.
//!
//! One batch at a time: up to `MAX_BATCH` queued puts and deletes become
//! consecutive records (each chained to the one before), written to both
//! copies at the same offset, then both copies are fsynced, and only then
//! are the mutations applied to the index and acknowledged. A partial write
//! is resumed where it stopped; any error stops the store, because after a
//! failed write or fsync the durable state of the file is unknown.

use twinio::{Buffer, FsyncDone, FsyncMode, Io, WriteDone};

use super::{Entry, Pending, State, Store, net};
use crate::protocol::{ErrorCode, Request, Response};
use crate::record::{self, Mutation, RECORD_SIZE, Record};

/// The most mutations committed by one batch (one write per copy).
pub(super) const MAX_BATCH: usize = 16;

#[derive(Debug)]
pub(crate) struct Batch {
    /// Counted from 1 since start, for the trace.
    number: u64,
    first_slot: u64,
    /// The batch's requests, with their records' checksums, in slot order.
    entries: Vec<(Pending, u32)>,
    writes_pending: usize,
    fsyncs_pending: usize,
    /// Already acknowledged (only with the planted `ack_before_fsync` bug).
    acknowledged: bool,
}

fn mutation_of(request: &Request) -> Option<Mutation> {
    match request {
        Request::Put { key, value, .. } => {
            Some(Mutation::Put { key: key.clone(), value: value.clone() })
        }
        Request::Delete { key, .. } => Some(Mutation::Delete { key: key.clone() }),
        Request::Get { .. } => None,
    }
}

/// The planted `dirty_read` bug's lookup: the newest mutation of `key` not
/// yet durable (queued, or in the batch being written), if any: `Some(None)`
/// for a delete.
pub(super) fn pending_value(store: &Store, key: &[u8]) -> Option<Option<Vec<u8>>> {
    let in_batch = store.batch.iter().flat_map(|batch| batch.entries.iter().map(|(p, _)| p));
    let newest_first = in_batch.chain(store.queued.iter()).collect::<Vec<_>>().into_iter().rev();
    newest_first.map(|pending| &pending.request).find_map(|request| match request {
        Request::Put { key: k, value, .. } if k == key => Some(Some(value.clone())),
        Request::Delete { key: k, .. } if k == key => Some(None),
        _ => None,
    })
}

/// Starts the next batch if the store is serving, idle and has work.
pub(super) fn pump<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    if store.state != State::Serving || store.batch.is_some() || store.queued.is_empty() {
        return;
    }
    let room = store.config.slots - store.head;
    if room == 0 {
        let (refused, slots) = (store.queued.len(), store.config.slots);
        store.note(io, || format!("log full ({slots} slots): {refused} mutations answered Full"));
        while let Some(pending) = store.queued.pop_front() {
            let response = Response::Error { id: pending.request.id(), code: ErrorCode::Full };
            net::respond(store, io, pending.connection, response);
        }
        return;
    }
    let count = store.queued.len().min(MAX_BATCH).min(room as usize);
    let mut buffer = Buffer::new(count * RECORD_SIZE).expect("batch buffer");
    let mut parent = store.head_checksum;
    let mut entries = Vec::with_capacity(count);
    for (i, pending) in store.queued.drain(..count).enumerate() {
        let slot = store.head + i as u64;
        let mutation = mutation_of(&pending.request).expect("only mutations are queued");
        let record = Record { lsn: slot + 1, slot, parent, epoch: store.epoch, mutation };
        parent = record::encode(&record, &mut buffer[i * RECORD_SIZE..(i + 1) * RECORD_SIZE]);
        entries.push((pending, parent));
    }
    let first_slot = store.head;
    store.batches += 1;
    let number = store.batches;
    let last = first_slot + count as u64 - 1;
    store.note(io, || format!("batch {number}: slots {first_slot}..={last}, writing both copies"));
    store.batch = Some(Batch {
        number,
        first_slot,
        entries,
        writes_pending: 2,
        fsyncs_pending: 0,
        acknowledged: false,
    });
    let copy_b = buffer.clone();
    for (copy, buffer) in [buffer, copy_b].into_iter().enumerate() {
        write_from(store, io, copy, buffer, 0);
    }
}

/// Writes `buffer[done..]` of the current batch to `copy`.
fn write_from<I: Io>(store: &mut Store, io: &mut I, copy: usize, buffer: Buffer, done: usize)
where
    I::Context: AsMut<Store>,
{
    let batch = store.batch.as_ref().expect("a batch is in flight");
    let fd = store.files[copy].expect("opened");
    let offset = batch.first_slot * RECORD_SIZE as u64 + done as u64;
    let tag = copy as u64 | (done as u64) << 8;
    if io.write(fd, buffer, done.., offset, tag, on_written::<I>).is_err() {
        fail_batch(store, io, "no operation slot for a log write");
    }
}

fn on_written<I: Io>(ctx: &mut I::Context, io: &mut I, done: WriteDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    if store.batch.is_none() || store.state != State::Serving {
        return;
    }
    let copy = (done.tag & 0xFF) as usize;
    let written = (done.tag >> 8) as usize;
    match done.result {
        Ok(0) | Err(_) => return fail_batch(store, io, "log write failed"),
        Ok(n) if written + n < done.buffer.len() => {
            return write_from(store, io, copy, done.buffer, written + n);
        }
        Ok(_) => {}
    }
    let batch = store.batch.as_mut().expect("checked above");
    batch.writes_pending -= 1;
    if batch.writes_pending > 0 {
        return;
    }
    if store.config.bugs.ack_before_fsync {
        commit(store, io);
        if let Some(batch) = store.batch.as_mut() {
            batch.acknowledged = true;
        }
    }
    let batch = store.batch.as_mut().expect("still in flight");
    batch.fsyncs_pending = 2;
    for copy in 0..2 {
        let fd = store.files[copy].expect("opened");
        if io.fsync(fd, FsyncMode::Full, 0, on_synced::<I>).is_err() {
            return fail_batch(store, io, "no operation slot for a log fsync");
        }
    }
}

fn on_synced<I: Io>(ctx: &mut I::Context, io: &mut I, done: FsyncDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    if store.batch.is_none() || store.state != State::Serving {
        return;
    }
    if done.result.is_err() {
        return fail_batch(store, io, "log fsync failed");
    }
    let batch = store.batch.as_mut().expect("checked above");
    batch.fsyncs_pending -= 1;
    if batch.fsyncs_pending > 0 {
        return;
    }
    if !batch.acknowledged {
        commit(store, io);
    }
    store.batch = None;
    pump(store, io);
}

/// Applies the batch to the index and acknowledges its requests.
fn commit<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    let batch = store.batch.as_mut().expect("a batch is in flight");
    let first_slot = batch.first_slot;
    let entries = std::mem::take(&mut batch.entries);
    let (number, count) = (batch.number, entries.len());
    store.note(io, || format!("batch {number}: acknowledging {count} mutations"));
    for (i, (pending, checksum)) in entries.into_iter().enumerate() {
        let slot = first_slot + i as u64;
        match &pending.request {
            Request::Put { key, .. } => {
                store.index.insert(key.clone(), Entry { slot, checksum });
            }
            Request::Delete { key, .. } => {
                store.index.remove(key);
            }
            Request::Get { .. } => unreachable!("only mutations are batched"),
        }
        store.head = slot + 1;
        store.head_checksum = checksum;
        store.committed += 1;
        net::respond(store, io, pending.connection, Response::Ok { id: pending.request.id() });
    }
}

/// Stops the store and tells the batch's clients their writes are in doubt.
fn fail_batch<I: Io>(store: &mut Store, io: &mut I, why: &'static str)
where
    I::Context: AsMut<Store>,
{
    store.note(io, || format!("stopped: {why}; the batch's clients are told Unavailable"));
    store.fail(why);
    if let Some(batch) = store.batch.take() {
        for (pending, _) in batch.entries {
            let response =
                Response::Error { id: pending.request.id(), code: ErrorCode::Unavailable };
            net::respond(store, io, pending.connection, response);
        }
    }
}
