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

use twinio::{
    Buffer, DirectIo, FilePurpose, FsyncDone, FsyncMode, Io, OpenError, ReadDone, WriteDone,
};

use super::{Entry, State, Store, net};
use crate::record::{self, Mutation, RECORD_SIZE};

/// The two log copies' names.
pub const COPY_NAMES: [&str; 2] = ["log.a", "log.b"];

#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// The slot being read.
    slot: u64,
    /// Each copy's sector for `slot`, once read (`None` in the option: the
    /// read failed or came back short).
    copies: [Option<Option<Buffer>>; 2],
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
    let offset = store.recovery.slot * RECORD_SIZE as u64;
    for copy in 0..2 {
        let fd = store.files[copy].expect("opened before recovery reads");
        let buffer = Buffer::new(RECORD_SIZE).expect("one sector");
        if io.read(fd, buffer, .., offset, copy as u64, on_read::<I>).is_err() {
            return store.fail("no operation slot for a recovery read");
        }
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
    let sector = match done.result {
        Ok(RECORD_SIZE) => Some(done.buffer),
        // A latent sector error, or a short read: this copy is bad here.
        Ok(_) | Err(_) => None,
    };
    store.recovery.copies[done.tag as usize] = Some(sector);
    if store.recovery.copies.iter().all(Option::is_some) {
        decide(store, io);
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
        let decoded = match sector.flatten() {
            None => Err("unreadable"),
            Some(sector) => match record::decode(&sector, slot) {
                Err(_) => Err("not a record of this slot"),
                Ok(record) if record.parent != store.head_checksum || record.lsn != slot + 1 => {
                    Err("does not chain")
                }
                Ok(record) => Ok((record, sector)),
            },
        };
        match (decoded, &good) {
            (Ok((record, sector)), None) => good = Some((copy, record, sector)),
            (Ok(_), Some(_)) => {}
            (Err(why), _) => {
                verdicts[copy] = why;
                bad.push(copy);
            }
        }
    }
    let Some((chosen, record, sector)) = good else {
        // Neither copy continues the chain: the log ends here.
        store.head = slot;
        let [a, b] = verdicts;
        store.note(io, || format!("recovery: the log ends at slot {slot} (log.a {a}, log.b {b})"));
        return repair_next(store, io);
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
    store.head_checksum = checksum;
    store.recovery.slot = slot + 1;
    // The planted `last_slot` bug stops one slot early on a full log.
    let slots = store.config.slots;
    let end = if store.config.bugs.last_slot && slots > 1 { slots - 1 } else { slots };
    if store.recovery.slot == end {
        store.head = store.recovery.slot;
        store.note(io, || format!("recovery: the log is full: {end} of {slots} slots replayed"));
        return repair_next(store, io);
    }
    read_slot(store, io);
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
    let fd = store.files[copy].expect("opened");
    let offset = slot * RECORD_SIZE as u64;
    store.note(io, || format!("recovery: repairing slot {slot} of {}", COPY_NAMES[copy]));
    if io.write(fd, sector, .., offset, 0, on_repaired::<I>).is_err() {
        store.fail("no operation slot for a repair");
    }
}

fn on_repaired<I: Io>(ctx: &mut I::Context, io: &mut I, done: WriteDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    match done.result {
        Ok(RECORD_SIZE) => repair_next(store, io),
        Ok(_) | Err(_) => store.fail("repair write failed"),
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
