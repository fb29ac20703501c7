//! Attempting an operation on the kernel: its syscall, tried first, with
//! the op left in its slot (so one that would block parks without moving
//! its buffer).

use super::IO;
use super::fds::{Direction, FdState, Wait};
use super::pool::{self, BufferPtr, Job, JobKind};
use crate::FileDriver;
use crate::engine::check_within_data_file;
use crate::engine::op::{Attempt, Op, Place, Span};
use crate::error::Errno;
use crate::options::SocketOptions;
use crate::sys;

impl<C> IO<C> {
    /// Runs the syscall of operation `index`. `Pending`: parked on its
    /// descriptor, handed to the file driver (the io_uring or a worker
    /// thread), or requeued (a close that
    /// first cancels the operations pending on its descriptor).
    #[inline]
    pub(crate) fn attempt_op(&mut self, index: u32) -> Attempt {
        let fds = &mut self.fds;
        let slot = &mut self.core.slots[index as usize];
        match &mut slot.op {
            Op::Free => unreachable!("a free slot is never queued"),
            Op::Timeout { .. } | Op::EventListen { .. } => Attempt::Done(Ok(0)),
            Op::Accept { fd, .. } => {
                let fd = *fd;
                if fds.known_not_ready(fd, Direction::Read) {
                    return self.block(index, fd, Direction::Read);
                }
                let options = fds.get(fd).map_or(SocketOptions::default(), |s| s.options);
                let result = sys::socket::accept(fd, &options).map(|fd| fd as usize);
                self.done_unless_eagain(index, fd, Direction::Read, result)
            }
            Op::Connect { fd, address, started, .. } => {
                let fd = *fd;
                if *started {
                    // The second attempt reads the outcome: connecting again
                    // would be EALREADY or EISCONN, depending on the system.
                    return Attempt::Done(sys::socket::take_error(fd).map(|()| 0));
                }
                *started = true;
                match sys::socket::connect(fd, address) {
                    Ok(true) => Attempt::Done(Ok(0)),
                    Ok(false) => {
                        if let Some(state) = fds.get_mut(fd) {
                            state.writable = false;
                        }
                        self.block(index, fd, Direction::Write)
                    }
                    Err(Errno::ENOTSOCK) => Attempt::Done(Err(self.not_a_socket(fd))),
                    Err(errno) => Attempt::Done(Err(errno)),
                }
            }
            Op::Recv { fd, span, .. } => {
                let fd = *fd;
                if let Some(state) = fds.get_mut(fd)
                    && state.registered
                {
                    let len = span.len();
                    let syscall = || sys::socket::recv(fd, span.bytes_mut());
                    if let Some(done) = transfer(state, Direction::Read, len, syscall) {
                        return done;
                    }
                    state.link(&mut self.core.slots, index, fd, Direction::Read);
                    self.pending += 1;
                    return Attempt::Pending;
                }
                // Not registered yet: nothing known about its readiness.
                let len = span.len();
                let result = sys::socket::recv(fd, span.bytes_mut());
                if let Ok(n) = result
                    && drained(Direction::Read, n, len)
                {
                    fds.mark_not_ready(fd, Direction::Read);
                }
                self.done_unless_eagain(index, fd, Direction::Read, result)
            }
            Op::Send { fd, span, .. } => {
                let fd = *fd;
                if let Some(state) = fds.get_mut(fd)
                    && state.registered
                {
                    let len = span.len();
                    let syscall = || sys::socket::send(fd, span.bytes());
                    if let Some(done) = transfer(state, Direction::Write, len, syscall) {
                        return done;
                    }
                    state.link(&mut self.core.slots, index, fd, Direction::Write);
                    self.pending += 1;
                    return Attempt::Pending;
                }
                // Not registered yet: nothing known about its readiness.
                let len = span.len();
                let result = sys::socket::send(fd, span.bytes());
                if let Ok(n) = result
                    && drained(Direction::Write, n, len)
                {
                    fds.mark_not_ready(fd, Direction::Write);
                }
                self.done_unless_eagain(index, fd, Direction::Write, result)
            }
            Op::Read { fd, span, offset, .. } => {
                let (fd, offset) = (*fd, *offset);
                if fds.owned(fd) {
                    return Attempt::Done(Err(Errno::EBADF));
                }
                if self.driver == FileDriver::LoopThread || !fds.is_file(fd) {
                    return Attempt::Done(sys::file::pread(fd, span.bytes_mut(), offset));
                }
                let kind = JobKind::Read { ptr: span_ptr(span), len: span.len(), offset };
                self.offload(index, fd, kind)
            }
            Op::Write { fd, span, offset, .. } => {
                let (fd, offset) = (*fd, *offset);
                if fds.owned(fd) {
                    return Attempt::Done(Err(Errno::EBADF));
                }
                if let Some(size) = fds.data_size(fd)
                    && let Err(errno) = check_within_data_file(offset, span.len(), size)
                {
                    return Attempt::Done(Err(errno));
                }
                if self.driver == FileDriver::LoopThread || !fds.is_file(fd) {
                    return Attempt::Done(sys::file::pwrite(fd, span.bytes(), offset));
                }
                // The worker only reads through this pointer.
                let kind = JobKind::Write { ptr: span_ptr(span), len: span.len(), offset };
                self.offload(index, fd, kind)
            }
            Op::Fsync { fd, mode, .. } => {
                let (fd, mode) = (*fd, *mode);
                if fds.owned(fd) {
                    return Attempt::Done(Err(Errno::EBADF));
                }
                if self.driver == FileDriver::LoopThread || !fds.is_file(fd) {
                    return Attempt::Done(sys::file::fsync(fd, mode).map(|()| 0));
                }
                self.offload(index, fd, JobKind::Fsync { mode })
            }
            Op::Close { fd, waiters_canceled, .. } => {
                let fd = *fd;
                let first = !std::mem::replace(waiters_canceled, true);
                self.attempt_close(index, fd, first)
            }
        }
    }

    #[cold]
    fn attempt_close(&mut self, index: u32, fd: i32, first: bool) -> Attempt {
        if self.fds.owned(fd) {
            // The poller, an eventfd or a wake-up: closing it would break
            // the IO (or let a trigger write into whatever reuses the number).
            return Attempt::Done(Err(Errno::EBADF));
        }
        if let Some(state) = self.fds.get_mut(fd)
            && state.in_driver > 0
        {
            // A worker may be inside a syscall on this descriptor, or an
            // io_uring entry not yet submitted may name it: closing now
            // could let either touch a reused number.
            state.closers.push_back(&mut self.core.slots, index);
            self.core.slots[index as usize].place = Place::Waiting(Wait::DriverClose(fd));
            self.pending += 1;
            return Attempt::Pending;
        }
        // Pending operations on the descriptor complete first, with
        // `Canceled`; the close runs after them. Pending means parked on
        // it, or already queued behind this close: woken by readiness after
        // it was queued (a pass that drains in parts polls in between) or
        // submitted after it. None may run its syscall on the closed, and
        // possibly reused, number.
        if first {
            let has_waiters = self.fds.has_waiters(fd);
            let queued = self.cancel_queued_on(fd);
            if has_waiters || queued {
                self.wake(fd, Direction::Read, Some(Errno::ECANCELED));
                self.wake(fd, Direction::Write, Some(Errno::ECANCELED));
                self.core.make_ready(index);
                return Attempt::Pending;
            }
        }
        self.fds.reset(fd);
        self.poller.forget(fd);
        Attempt::Done(sys::close(fd).map(|()| 0))
    }

    /// Gives network operations on `fd` waiting in `completed` (all behind
    /// the close being run) the outcome `Canceled`, so they complete,
    /// without a syscall, before it. Returns whether there were any.
    /// O(queued), once per close.
    fn cancel_queued_on(&mut self, fd: i32) -> bool {
        let mut found = false;
        let mut at = self.core.completed.front();
        while let Some(index) = at {
            // SAFETY: `index` is queued on `completed`, which is only used
            // with `core.slots` ("In range" in `engine/fifo.rs`).
            at = unsafe { crate::engine::Fifo::next(&self.core.slots, index) };
            let slot = &mut self.core.slots[index as usize];
            if slot.op.socket_fd() == Some(fd) {
                found = true;
                // An op that already has an outcome (canceled, or a failed
                // registration) keeps it; either way its syscall never runs.
                slot.outcome.get_or_insert(Err(Errno::ECANCELED));
            }
        }
        found
    }

    /// Parks operation `index` on `fd` (it would block), or completes it
    /// with the registration's error.
    #[inline(always)]
    fn block(&mut self, index: u32, fd: i32, direction: Direction) -> Attempt {
        match self.park(index, fd, direction) {
            Ok(()) => Attempt::Pending,
            Err(errno) => Attempt::Done(Err(errno)),
        }
    }

    /// Turns `EAGAIN` into a park (and records that the descriptor is not
    /// ready); any other result is the operation's.
    #[inline(always)]
    fn done_unless_eagain(
        &mut self,
        index: u32,
        fd: i32,
        direction: Direction,
        result: Result<usize, Errno>,
    ) -> Attempt {
        match result {
            Err(Errno::EAGAIN) => {
                self.fds.mark_not_ready(fd, direction);
                self.block(index, fd, direction)
            }
            Err(Errno::ENOTSOCK) => Attempt::Done(Err(self.not_a_socket(fd))),
            other => Attempt::Done(other),
        }
    }

    /// A socket operation on one of the IO's own descriptors (poller,
    /// eventfd) fails in the kernel with `ENOTSOCK`, touching nothing; it is
    /// answered `EBADF`, as every operation on them is. Checked here, on
    /// the error path, so the hot path pays nothing for it.
    #[cold]
    fn not_a_socket(&self, fd: i32) -> Errno {
        if self.fds.owned(fd) { Errno::EBADF } else { Errno::ENOTSOCK }
    }

    /// Hands a file operation on a file or directory the IO opened or
    /// adopted to the file driver: the io_uring or the worker pool. (Any
    /// other number runs on the loop thread, where the kernel answers it:
    /// `EBADF`, or `ESPIPE` for a socket.)
    ///
    /// Except the IO's only operation, in a pass that may block: the thread
    /// has nothing to do but wait for it, so it runs here, as `pread(2)` or
    /// `pwrite(2)` in a blocking loop would. That delays nothing (a socket
    /// op, timeout, event listener or other file op in flight would make it
    /// not the only one) and saves the hand-over: an io_uring write on ext4
    /// completes through a kernel workqueue, one more thread wake-up per op
    /// than a `pwrite`; a worker costs two. A pass that must not block
    /// (`flush(false)`) always hands it over.
    fn offload(&mut self, index: u32, fd: i32, kind: JobKind) -> Attempt {
        if self.core.pass_may_block && self.core.in_flight() == 1 {
            return Attempt::Done(pool::run(Job { slot: index, fd, kind }));
        }
        #[cfg(target_os = "linux")]
        if self.ring.is_some() {
            return self.ring_offload(index, fd, kind);
        }
        let pool = self.pool.as_mut().expect("offload is only called with a driver");
        self.fds.get_mut(fd).expect("a file has an entry").in_driver += 1;
        self.pool_outstanding += 1;
        self.core.slots[index as usize].place = Place::Waiting(Wait::Pool(fd));
        pool.submit(Job { slot: index, fd, kind });
        Attempt::Pending
    }
}

/// Where a worker thread reads or writes the span's bytes.
fn span_ptr(span: &mut Span) -> BufferPtr {
    BufferPtr(span.bytes_mut().as_mut_ptr())
}

/// A recv or send on a socket the poller watches: one look-up of the
/// descriptor's state serves the readiness test, the not-ready mark and
/// the park. Runs `syscall` unless the descriptor is known not to be ready
/// in `direction`; a transfer that [`drained`] it or `EAGAIN` marks it not
/// ready, as the first attempt's path does. `None`: the operation parks
/// (the caller links it on `state`).
#[inline(always)]
fn transfer(
    state: &mut FdState,
    direction: Direction,
    len: usize,
    syscall: impl FnOnce() -> Result<usize, Errno>,
) -> Option<Attempt> {
    let ready = match direction {
        Direction::Read => state.readable,
        Direction::Write => state.writable,
    };
    if !ready {
        return None;
    }
    // The closed flag is read after the syscall (profiled: read before,
    // it was kept on the stack across the call).
    match syscall() {
        Ok(n) => {
            if drained(direction, n, len) {
                state.mark_not_ready(direction);
            }
            Some(Attempt::Done(Ok(n)))
        }
        Err(Errno::EAGAIN) => {
            state.mark_not_ready(direction);
            None
        }
        Err(Errno::ENOTSOCK) if state.owned => Some(Attempt::Done(Err(Errno::EBADF))),
        Err(errno) => Some(Attempt::Done(Err(errno))),
    }
}

/// Whether a transfer of `n` of `len` bytes left the socket not ready in
/// `direction`: a short send filled the buffer; a short, non-empty recv
/// drained it, so the next one waits for an edge instead of trying (and
/// failing) first. End of stream (a recv of 0) stays ready: it is read
/// again at once.
#[inline(always)]
fn drained(direction: Direction, n: usize, len: usize) -> bool {
    n < len && (n > 0 || direction == Direction::Write)
}
