//! Reading one log sector as a real engine must: a short read is not
//! damage, and a sector that reads back wrong is read again before the
//! copy is judged bad there.
//!
//! A read may return fewer bytes than asked for (a signal, a device error
//! part way, whole sectors under direct IO): the rest is read from where
//! it stopped. A read may also return another sector's data (a misdirected
//! read) or an older version; the stored data is unharmed, so a second
//! read can tell such a transient fault from damage. Recovery and gets
//! both read through here, each with its own idea of "wrong".

use twinio::{Buffer, Fd, Io, ReadDone};

use crate::record::RECORD_SIZE;

/// Reads of one sector before a copy is called bad there: the first and
/// two more.
pub(super) const READ_ATTEMPTS: u32 = 3;

/// What a completed read means for the sector being assembled.
pub(super) enum Progress {
    /// More bytes are needed: read on into the buffer from this many.
    Partial(Buffer, usize),
    /// The sector is whole.
    Complete(Buffer),
    /// The read failed (an IO error, or nothing at all came back); the
    /// buffer comes back for reuse.
    Failed(Buffer),
}

/// Where a read that had `filled` bytes of the sector before it leaves it.
pub(super) fn progress(done: ReadDone, filled: usize) -> Progress {
    match done.result {
        Ok(0) | Err(_) => Progress::Failed(done.buffer),
        Ok(n) if filled + n < RECORD_SIZE => Progress::Partial(done.buffer, filled + n),
        Ok(_) => Progress::Complete(done.buffer),
    }
}

/// Reads `buffer[filled..]` from sector `slot` of `fd`; false if the IO
/// had no operation slot.
pub(super) fn read_from<I: Io>(
    io: &mut I,
    fd: Fd,
    slot: u64,
    buffer: Buffer,
    filled: usize,
    tag: u64,
    callback: fn(&mut I::Context, &mut I, ReadDone),
) -> bool {
    let offset = slot * RECORD_SIZE as u64 + filled as u64;
    io.read(fd, buffer, filled.., offset, tag, callback).is_ok()
}

/// Sector buffers kept for reuse, so a warm store's reads allocate none
/// (profiled: allocating and zeroing a buffer per sector read was an
/// eighth of a simulation run, most of it in recovery scans).
#[derive(Debug, Default)]
pub(super) struct Spares(Vec<Buffer>);

/// Enough for every read a store keeps in flight at once in steady state.
const SPARES: usize = 16;

impl Spares {
    /// A sector's buffer: a spare, or a fresh one. Its bytes are whatever
    /// the last use left; reads overwrite what they return.
    pub(super) fn take(&mut self) -> Buffer {
        self.0.pop().unwrap_or_else(|| Buffer::new(RECORD_SIZE).expect("one sector"))
    }

    /// Keeps `buffer` for a later `take` (one of another size is dropped).
    pub(super) fn give(&mut self, buffer: Buffer) {
        if buffer.len() == RECORD_SIZE && self.0.len() < SPARES {
            self.0.push(buffer);
        }
    }
}
