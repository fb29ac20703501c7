//! Start-up: open the log copies, replay the log, repair one-sided damage.
//!
//! Slot by slot, both copies are read. A copy is good for slot `s` when its
//! sector decodes (magic, checksum, slot number) and its parent is the
//! checksum of the record replayed at `s - 1`. The first good copy is
//! replayed into the index; a bad copy beside a good one is queued for
//! repair. The log ends at the first slot where neither copy is good: what
//! lies beyond was never acknowledged (acknowledgement needs both copies
//! fsynced, and a crash cannot undo an fsync), or was left by an earlier run
//! and no longer chains.
//!
//! Every record carries its run's epoch (see `record.rs`). Recovery reads
//! on `MAX_BATCH - 1` slots past the end, for epochs only: a crashed run's
//! unsynced records lie in its last batch, which began at or before the
//! end found now. The new run's epoch is one above the highest epoch read
//! anywhere, so none of its records can equal one a crashed run left, and
//! what that run left past the end never chains to the new history. Where
//! both copies hold a different record that chains (one copy lost the
//! later run's write and still holds what an earlier run left), the higher
//! epoch is the log.
//!
//! A short read or write is resumed where it stopped; a sector that does
//! not decode is read again (`sector.rs`) before the copy is judged bad
//! there, since a misdirected read heals on a retry.

use twinio::{
    Buffer, DirectIo, FilePurpose, FsyncDone, FsyncMode, Io, OpenError, ReadDone, WriteDone,
};

use super::log::MAX_BATCH;
use super::sector::{self, Progress};
use super::{Entry, State, Store, net};
use crate::record::{self, Mutation, RECORD_SIZE};

/// The two log copies' names.
pub const COPY_NAMES: [&str; 2] = ["log.a", "log.b"];

/// A copy's sector for the slot being read: its record, or why it holds
/// none.
type Sector = Result<(record::Record, Buffer), &'static str>;

#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// The slot being read.
    slot: u64,
    /// Each copy's sector for `slot` and its record, once read, or why it
    /// holds none.
    copies: [Option<Sector>; 2],
    /// Once the log's end is found: the slot where reading on past it, for
    /// epochs only, stops.
    peek_end: Option<u64>,
    /// The highest epoch of any record read, chained or not.
    max_epoch: u64,
    /// The repair being written: (slot, copy).
    repairing: Option<(u64, usize)>,
    /// (slot, copy to rewrite, good sector).
    repairs: Vec<(u64, usize, Buffer)>,
    fsyncs_pending: usize,
}

/// Opens both copies (formatting missing ones) and reads slot 0.
pub(super) fn start<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    store.state = State::Recovering;
    store.recovery = Recovery::default();
    let slots = store.config.slots;
    store.note(io, || format!("recovery: opening log.a and log.b ({slots} slots each)"));
    let dir = match io.open_dir(&store.config.dir) {
        Ok(dir) => dir,
        Err(error) => {
            let path = store.config.dir.clone();
            return store.fail_opening("cannot open the data directory", &path, error);
        }
    };
    for (copy, name) in COPY_NAMES.iter().enumerate() {
        match open_copy(io, dir, copy, store.config.file_size(), store.config.direct_io) {
            Ok(fd) => store.files[copy] = Some(fd),
            Err(error) => {
                let why = match error {
                    OpenError::Locked => "the log is locked by another process",
                    OpenError::SizeMismatch => "a log copy has the wrong size",
                    _ => "cannot open a log copy",
                };
                let path = store.config.dir.join(name);
                return store.fail_opening(why, &path, error);
            }
        }
    }
    // The directory descriptor is only needed to open the copies.
    let _ = io.close(dir, 0, |_, _, _| {});
    read_slot(store, io);
}

/// How many places a copy may take before the store gives up: the first,
/// then `retry-1/…` to `retry-7/…`.
const PLACES: usize = 8;

/// Every place copy `copy` (0: `log.a`, 1: `log.b`) may be kept at,
/// relative to the data directory, in the order the store tries them.
pub fn copy_places(copy: usize) -> impl Iterator<Item = std::path::PathBuf> {
    let name = COPY_NAMES[copy];
    (0..PLACES).map(move |place| match place {
        0 => std::path::PathBuf::from(name),
        n => std::path::Path::new(&format!("retry-{n}")).join(name),
    })
}

/// Opens copy `copy`, formatting it if it is missing.
///
/// A copy of the wrong size was never fully formatted: a crash cut its
/// `Format` (or a failed `Format` could not make its removal durable), so
/// it never held a record (a record is acknowledged only once both copies
/// were formatted and synced, and a formatted file never changes size).
/// The store cannot remove it (the `Io` has no unlink), so it leaves it
/// and uses the next place, `retry-N/<name>`, in order: every start finds
/// the same place again.
fn open_copy<I: Io>(
    io: &mut I,
    dir: twinio::Fd,
    copy: usize,
    size: u64,
    direct_io: DirectIo,
) -> Result<twinio::Fd, OpenError> {
    let mut last = OpenError::SizeMismatch;
    for path in copy_places(copy) {
        match io.open_data_file(dir, &path, size, FilePurpose::Open, direct_io) {
            Err(OpenError::NotFound) => {
                return io.open_data_file(dir, &path, size, FilePurpose::Format, direct_io);
            }
            Err(OpenError::SizeMismatch) => last = OpenError::SizeMismatch,
            other => return other,
        }
    }
    Err(last)
}

fn read_slot<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    for copy in 0..2 {
        let buffer = store.spares.take();
        read_copy(store, io, copy, buffer, 0, 0);
    }
}

/// Reads `buffer[filled..]` of the current slot from `copy`, attempt
/// `attempt` (the tag carries all three).
fn read_copy<I: Io>(
    store: &mut Store,
    io: &mut I,
    copy: usize,
    buffer: Buffer,
    filled: usize,
    attempt: u32,
) where
    I::Context: AsMut<Store>,
{
    let fd = store.files[copy].expect("opened before recovery reads");
    let tag = copy as u64 | u64::from(attempt) << 8 | (filled as u64) << 16;
    let slot = store.recovery.slot;
    if !sector::read_from(io, fd, slot, buffer, filled, tag, on_read::<I>) {
        store.fail("no operation slot for a recovery read");
    }
}

fn on_read<I: Io>(ctx: &mut I::Context, io: &mut I, done: ReadDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    if store.state != State::Recovering {
        return;
    }
    let (copy, attempt, filled) =
        ((done.tag & 0xFF) as usize, (done.tag >> 8 & 0xFF) as u32, (done.tag >> 16) as usize);
    let slot = store.recovery.slot;
    let (sector, unused): (Sector, _) = match sector::progress(done, filled) {
        // A short read is not damage: read the rest.
        Progress::Partial(buffer, filled) => {
            return read_copy(store, io, copy, buffer, filled, attempt);
        }
        Progress::Complete(buffer) => match record::decode(&buffer, slot) {
            Ok(record) => (Ok((record, buffer)), None),
            Err(_) => (Err("not a record of this slot"), Some(buffer)),
        },
        Progress::Failed(buffer) => (Err("unreadable"), Some(buffer)),
    };
    if let Some(buffer) = unused {
        if attempt + 1 < sector::READ_ATTEMPTS {
            // Perhaps a misdirected read, or a transient error: read again.
            return read_copy(store, io, copy, buffer, 0, attempt + 1);
        }
        store.spares.give(buffer);
    }
    store.recovery.copies[copy] = Some(sector);
    if store.recovery.copies.iter().all(Option::is_some) {
        match store.recovery.peek_end {
            Some(_) => peek(store, io),
            None => decide(store, io),
        }
    }
}

/// Both copies of the current slot are in: replay, repair or stop.
fn decide<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    let slot = store.recovery.slot;
    let copies = std::mem::take(&mut store.recovery.copies);
    let mut good: Option<(usize, record::Record, Buffer)> = None;
    let mut bad = Vec::new();
    let mut verdicts = [""; 2];
    for (copy, sector) in copies.into_iter().enumerate() {
        let decoded = sector.expect("both copies are in").and_then(|(record, sector)| {
            let max = &mut store.recovery.max_epoch;
            *max = (*max).max(record.epoch);
            if record.parent != store.head_checksum || record.lsn != slot + 1 {
                Err("does not chain")
            } else {
                Ok((record, sector))
            }
        });
        good = match (decoded, good.take()) {
            (Ok((record, sector)), None) => Some((copy, record, sector)),
            (Ok((record, sector)), Some(first)) => {
                if record::checksum_of(&sector) == record::checksum_of(&first.2) {
                    store.spares.give(sector);
                    Some(first)
                } else {
                    // Two records chain here: one was left by a run whose
                    // write here was lost in one copy, and a later run (a
                    // higher epoch) wrote the other after judging the log
                    // to end here. The later run's record is the log.
                    let (newer, older) = if record.epoch > first.1.epoch {
                        ((copy, record, sector), first)
                    } else {
                        (first, (copy, record, sector))
                    };
                    verdicts[older.0] = "an older run's record (the other copy is newer)";
                    bad.push(older.0);
                    store.spares.give(older.2);
                    Some(newer)
                }
            }
            (Err(why), first) => {
                verdicts[copy] = why;
                bad.push(copy);
                first
            }
        };
    }
    let Some((chosen, record, sector)) = good else {
        // Neither copy continues the chain: the log ends here.
        store.head = slot;
        let [a, b] = verdicts;
        store.note(io, || format!("recovery: the log ends at slot {slot} (log.a {a}, log.b {b})"));
        return peek_from(store, io, slot + 1);
    };
    if !bad.is_empty() {
        let why = verdicts[1 - chosen];
        let (name, other) = (COPY_NAMES[chosen], COPY_NAMES[1 - chosen]);
        store.note(io, || format!("recovery: slot {slot}: chose {name}; {other} {why}, to repair"));
    }
    let checksum = record::checksum_of(&sector);
    match record.mutation {
        Mutation::Put { key, .. } => {
            store.index.insert(key, Entry { slot, checksum });
        }
        Mutation::Delete { .. } if store.config.bugs.stale_after_restart => {}
        Mutation::Delete { key } => {
            store.index.remove(&key);
        }
    }
    for copy in bad {
        store.recovery.repairs.push((slot, copy, sector.clone()));
    }
    store.spares.give(sector);
    store.head_checksum = checksum;
    store.recovery.slot = slot + 1;
    // The planted `last_slot` bug stops one slot early on a full log.
    let slots = store.config.slots;
    let end = if store.config.bugs.last_slot && slots > 1 { slots - 1 } else { slots };
    if store.recovery.slot == end {
        store.head = store.recovery.slot;
        store.note(io, || format!("recovery: the log is full: {end} of {slots} slots replayed"));
        return replayed(store, io);
    }
    read_slot(store, io);
}

/// The log ended at `from - 1`: reads on past it, for epochs only, as far
/// as a crashed run can have left records (its last batch, which began at
/// or before the end found now).
fn peek_from<I: Io>(store: &mut Store, io: &mut I, from: u64)
where
    I::Context: AsMut<Store>,
{
    let end = from - 1 + MAX_BATCH as u64;
    let until = *store.recovery.peek_end.get_or_insert(end.min(store.config.slots));
    store.recovery.slot = from;
    if from >= until {
        return replayed(store, io);
    }
    read_slot(store, io);
}

/// Both copies of a slot past the end are in: note their epochs.
fn peek<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    let slot = store.recovery.slot;
    let copies = std::mem::take(&mut store.recovery.copies);
    for (record, buffer) in copies.into_iter().flatten().flatten() {
        store.recovery.max_epoch = store.recovery.max_epoch.max(record.epoch);
        store.spares.give(buffer);
    }
    peek_from(store, io, slot + 1);
}

/// The log is replayed: this run's records take an epoch above every one
/// seen, then the repairs are written.
fn replayed<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    store.epoch = store.recovery.max_epoch + 1;
    let epoch = store.epoch;
    store.note(io, || format!("recovery: this run writes epoch {epoch}"));
    repair_next(store, io);
}

/// Rewrites damaged copies one at a time, then syncs both files.
fn repair_next<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    store.state = State::Repairing;
    let Some((slot, copy, sector)) = store.recovery.repairs.pop() else {
        return sync_repairs(store, io);
    };
    store.note(io, || format!("recovery: repairing slot {slot} of {}", COPY_NAMES[copy]));
    store.recovery.repairing = Some((slot, copy));
    write_repair(store, io, sector, 0);
}

/// Writes `sector[done..]` of the repair in progress.
fn write_repair<I: Io>(store: &mut Store, io: &mut I, sector: Buffer, done: usize)
where
    I::Context: AsMut<Store>,
{
    let (slot, copy) = store.recovery.repairing.expect("a repair in progress");
    let fd = store.files[copy].expect("opened");
    let offset = slot * RECORD_SIZE as u64 + done as u64;
    if io.write(fd, sector, done.., offset, done as u64, on_repaired::<I>).is_err() {
        store.fail("no operation slot for a repair");
    }
}

fn on_repaired<I: Io>(ctx: &mut I::Context, io: &mut I, done: WriteDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    let written = done.tag as usize;
    match done.result {
        Ok(0) | Err(_) => store.fail("repair write failed"),
        // A short write is resumed where it stopped.
        Ok(n) if written + n < RECORD_SIZE => write_repair(store, io, done.buffer, written + n),
        Ok(_) => repair_next(store, io),
    }
}

fn sync_repairs<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    store.recovery.fsyncs_pending = 2;
    for copy in 0..2 {
        let fd = store.files[copy].expect("opened");
        if io.fsync(fd, FsyncMode::Full, 0, on_repair_synced::<I>).is_err() {
            return store.fail("no operation slot for a repair fsync");
        }
    }
}

fn on_repair_synced<I: Io>(ctx: &mut I::Context, io: &mut I, done: FsyncDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    if done.result.is_err() {
        return store.fail("fsync after repair failed");
    }
    store.recovery.fsyncs_pending -= 1;
    if store.recovery.fsyncs_pending == 0 && store.state == State::Repairing {
        net::listen(store, io);
    }
}
