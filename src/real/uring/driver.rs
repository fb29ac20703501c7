//! The io_uring file driver: the engine's side of the [`Ring`].
//!
//! A file read, write or fsync on a descriptor the IO knows is pushed to
//! the ring with its slot index as `user_data`, and waits in
//! `Wait::Ring(fd)` (counted in the descriptor's `in_driver`, so a close
//! waits for it). A pass submits its entries [`SUBMIT_CHUNK`] at a time as
//! it pushes them, and what is left in one `io_uring_enter` at its end; a
//! cancel pushed between passes is submitted at once. The ring's descriptor is
//! registered with epoll, so the one blocking `epoll_wait` wakes for
//! sockets and files alike; the completion queue is reaped after every
//! wait, whatever epoll reported (a completion usually wakes the wait with
//! `EINTR`, not with the ring's event: see the module docs).

use super::{Ring, RingOptions};
use crate::engine::Withdrawn;
use crate::engine::op::{Attempt, Place};
use crate::error::{CancelError, Errno};
use crate::options::FsyncMode;
use crate::real::IO;
use crate::real::fds::{FdTable, Wait, driver_done};
use crate::real::poller::Poller;
use crate::real::pool::{self, Job, JobKind};

/// The user-event key the ring's descriptor is registered under: no user
/// event reaches it (index `u32::MAX` is never handed out), nor does the
/// pool's wake-up (generation 0).
pub(crate) const RING_EVENT_KEY: u64 = (1 << 32) | u32::MAX as u64;

/// The `user_data` of a cancel entry; slot indices stay below 2^31.
const CANCEL: u64 = u64::MAX;

/// A pass hands its entries to the kernel this many at a time as it pushes
/// them, not all in one `io_uring_enter` at its end. Measured (a virtio
/// disk that serves requests one after another and reports a batch's
/// completions together): a pass that reaps 32 completions and resubmits
/// all 32 at its end keeps the queue in lockstep — the device idles while
/// the loop wakes, reaps and resubmits, once per round of the whole queue
/// — and reached 0.84x–0.89x of fio at depths 8 and 32 (fio submits each
/// op on its own, and made as slow as the engine when told to batch
/// them, `iodepth_batch_submit=32`); chunks of 1, 2 or 4 all reached
/// fio's rate (0.94x–1.20x), 4 with the least CPU (~0.5 µs per op more
/// than one submit per pass, against ~1.5 µs for one per op).
pub(crate) const SUBMIT_CHUNK: usize = 4;

/// The largest submission queue asked for. Its completion queue holds
/// twice as many, so an IO with at most this many slots can never find the
/// ring full: each slot has at most one operation and one cancel in it.
const MAX_ENTRIES: u32 = 4096;

/// The engine's ring.
pub(crate) struct FileRing(Ring);

// SAFETY: `Ring` is not `Send` because a ring built with `SINGLE_ISSUER`
// (or `DEFER_TASKRUN`) accepts submissions only from the thread that made
// it. This one is built with neither (`single_issuer: false`, cooperative
// task run), so the kernel accepts its submissions from any thread; the
// `IO` that owns it is used by one thread at a time (`&mut self`), and the
// buffers it points at are owned by that `IO`'s slots, which move with it.
unsafe impl Send for FileRing {}

impl FileRing {
    /// A ring for an IO of `entries` slots, its descriptor watched by
    /// `poller` and refused to every operation. Fails with the kernel's
    /// errno (or `EPERM` when `TWINIO_IO_URING_REFUSE` asks).
    pub(crate) fn open(
        entries: u32,
        poller: &mut Poller,
        fds: &mut FdTable,
    ) -> Result<FileRing, Errno> {
        let mut options = RingOptions::new(entries.clamp(1, MAX_ENTRIES).next_power_of_two());
        options.single_issuer = false;
        let ring = Ring::with_options(options)?;
        poller.register_user(ring.fd(), RING_EVENT_KEY)?;
        fds.set_owned(ring.fd(), true);
        Ok(FileRing(ring))
    }

    /// Operations (and cancels) pushed whose completion is not reaped.
    #[inline]
    pub(crate) fn in_flight(&self) -> u32 {
        self.0.in_flight()
    }
}

/// Pushes `job` with its slot index as `user_data`.
fn push(ring: &mut Ring, job: Job) -> Result<(), super::Full> {
    let user_data = u64::from(job.slot);
    // The pointer is into the heap bytes of the `Buffer` held by slot
    // `job.slot`, valid for `len` bytes. The slot's place is `Wait::Ring`
    // from now until this entry's completion is reaped, and while it is
    // there nothing touches those bytes: a cancel leaves the op in its
    // slot, `hand_back` refuses a busy descriptor, a close waits, and the
    // IO drops the ring (which waits for every completion) before its slots.
    match job.kind {
        JobKind::Read { ptr, len, offset } => {
            // SAFETY: see above; the kernel alone writes the bytes until then.
            unsafe { ring.push_read(job.fd, ptr.0, clamp(len), offset, user_data) }
        }
        JobKind::Write { ptr, len, offset } => {
            // SAFETY: see above; the kernel only reads the bytes.
            unsafe { ring.push_write(job.fd, ptr.0, clamp(len), offset, user_data) }
        }
        JobKind::Fsync { mode } => {
            ring.push_fsync(job.fd, matches!(mode, FsyncMode::Data), user_data)
        }
    }
}

/// An entry's length is 32 bits; a longer op is a short one, as the
/// kernel's own cap (just under 2 GiB) already makes it.
fn clamp(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl<C> IO<C> {
    /// Hands file operation `index` on `fd` to the ring. With no room even
    /// after submitting and reaping (only an IO of more than 4096 slots
    /// can get there), it runs on the loop thread instead.
    pub(crate) fn ring_offload(&mut self, index: u32, fd: i32, kind: JobKind) -> Attempt {
        let job = Job { slot: index, fd, kind };
        let ring = &mut self.ring.as_mut().expect("ring_offload is only called with a ring").0;
        if push(ring, job).is_err() {
            let _ = ring.submit();
            self.ring_reap();
            let ring = &mut self.ring.as_mut().expect("checked above").0;
            if push(ring, job).is_err() {
                return Attempt::Done(pool::run(job));
            }
        }
        let ring = &mut self.ring.as_mut().expect("checked above").0;
        // An error leaves the entries queued for the end of the pass.
        let _ = ring.submit_chunk(SUBMIT_CHUNK);
        self.fds.get_mut(fd).expect("a file has an entry").in_driver += 1;
        self.core.slots[index as usize].place = Place::Waiting(Wait::Ring(fd));
        Attempt::Pending
    }

    /// Hands every queued entry (the pass's last chunk) to the kernel in
    /// one `io_uring_enter` (no syscall when none is queued). Never waits.
    /// An error (`EAGAIN`, `EBUSY`: the kernel is short of memory or has
    /// too many completions pending) leaves the entries queued for the
    /// next pass.
    #[inline]
    pub(crate) fn ring_submit(&mut self) {
        // Nothing pushed: skip the ring entirely (profiled: a pure network
        // pass paid ~50 instructions for the ring's own emptiness check).
        if let Some(ring) = self.ring.as_mut().filter(|ring| ring.in_flight() > 0) {
            let _ = ring.0.submit();
        }
    }

    /// Moves every completed ring operation to `completed` with its result;
    /// closes that waited for them may run now. Returns how many entries
    /// completed. Costs two loads and no syscall when none did.
    #[inline]
    pub(crate) fn ring_reap(&mut self) -> usize {
        // Nothing in flight: nothing to reap, and no look at the ring.
        let Some(ring) = self.ring.as_mut().filter(|ring| ring.in_flight() > 0) else {
            return 0;
        };
        let (core, fds, pending) = (&mut self.core, &mut self.fds, &mut self.pending);
        ring.0.reap(|user_data, result| {
            if user_data != CANCEL {
                *pending -= driver_done(core, fds, user_data as u32, result);
            }
        })
    }

    /// Asks the kernel to cancel ring operation `index`. It stays in its
    /// slot and completes once, `Canceled` or (a read or write already at
    /// the device, an fsync already running) with its own result. Within a
    /// pass the cancel goes with the pass's batch; outside one (no end of
    /// pass will come before the wait) it is submitted at once, so the
    /// wait itself never has to look at the ring's queue.
    pub(crate) fn ring_cancel(&mut self, index: u32) -> Result<Withdrawn, CancelError> {
        let ring = &mut self.ring.as_mut().expect("a ring op implies a ring").0;
        let target = u64::from(index);
        if ring.push_cancel(target, CANCEL).is_err() {
            let _ = ring.submit();
            ring.push_cancel(target, CANCEL).map_err(|_| CancelError::Running)?;
        }
        if !self.core.in_flush {
            let _ = ring.submit();
        }
        Ok(Withdrawn::Requested)
    }
}
