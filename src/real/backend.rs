//! What the kernel backend supplies to the engine core: the poll and its
//! dispatch, the worker pool's results, user events over the poller, and
//! the operations it serves synchronously.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::IO;
use super::event::EventShared;
use super::fds::{Direction, Wait, driver_done, wake_list};
use super::poller::{PollEvent, Token};
use crate::clock::Clock;
use crate::engine::op::Attempt;
use crate::engine::{Backend, Core, Side, Withdrawn, events};
use crate::error::{
    AddressError, CancelError, Errno, EventError, ListenError, OpenError, RunError, ShutdownError,
    SocketError, SubmitError,
};
use crate::fd::Fd;
use crate::options::{AddressFamily, DirectIo, FilePurpose, Shutdown, SocketOptions};
use crate::sys;

/// The user-event key of the pool's wake-up: event indices never reach it
/// (the core never hands out index `u32::MAX`).
pub(crate) const POOL_EVENT_KEY: u64 = u32::MAX as u64;

impl<C> Backend for IO<C> {
    type Wait = Wait;
    type SlotData = ();
    type EventData = Arc<EventShared>;
    type Scope = ();

    #[inline(always)]
    fn core(&self) -> &Core<Self> {
        &self.core
    }

    #[inline(always)]
    fn core_mut(&mut self) -> &mut Core<Self> {
        &mut self.core
    }

    #[inline]
    fn clock_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    #[inline(always)]
    fn admit(&self) -> Result<(), SubmitError> {
        Ok(())
    }

    #[inline(always)]
    fn attempt(&mut self, index: u32) -> Attempt {
        self.attempt_op(index)
    }

    fn unlink_waiting(&mut self, index: u32, wait: Wait) -> Result<Withdrawn, CancelError> {
        match wait {
            // Inside a syscall on a worker thread: it completes with its result.
            Wait::Pool(_) => Err(CancelError::Running),
            // The kernel is asked; the op completes `Canceled` or with its result.
            #[cfg(target_os = "linux")]
            Wait::Ring(_) => self.ring_cancel(index),
            _ => {
                self.unpark(index, wait);
                Ok(Withdrawn::Now)
            }
        }
    }

    #[inline]
    fn waits_on_world(&self) -> bool {
        self.pending > 0
            || self.core.events.armed > 0
            || self.pool_outstanding > 0
            || self.ring_in_flight() > 0
    }

    #[inline]
    fn poll(&mut self, timeout_ns: u64) -> Result<(), RunError> {
        // Nothing can become ready and nothing to sleep for: skip the syscall.
        if timeout_ns == 0 && !self.waits_on_world() {
            return Ok(());
        }
        // Nothing waits in the io_uring's queue here: a pass submits what
        // it pushed at its end, a cancel outside a pass at once.
        match self.poller.wait(timeout_ns) {
            Ok(ready) => self.dispatch_ready(ready),
            Err(Errno::EINTR) => return self.interrupted_wait(timeout_ns),
            Err(errno) => return Err(RunError::Poller(errno)),
        }
        self.reap_ring();
        Ok(())
    }

    /// What the pass pushed to the io_uring and did not submit yet (its
    /// last, partial chunk) goes in one `io_uring_enter`.
    #[cfg(target_os = "linux")]
    #[inline]
    fn end_pass(&mut self) {
        self.ring_submit();
    }

    #[inline(always)]
    fn enter_callback(&mut self, _: u32, _: &Result<usize, Errno>) {}

    #[inline(always)]
    fn leave_callback(&mut self, _: ()) {}

    #[inline]
    fn accepted(&mut self, listener: i32, accepted: i32) {
        let options = self.fds.get(listener).map_or(SocketOptions::default(), |s| s.options);
        self.fds.adopt(accepted, options);
    }

    fn open_event_data(&mut self, key: u64) -> Result<Arc<EventShared>, EventError> {
        self.sweep_retired_events();
        let target = self.poller.open_user_event(key)?;
        if let Some(fd) = target.raw_fd() {
            self.fds.set_owned(fd, true);
        }
        Ok(Arc::new(EventShared { target, closed: AtomicBool::new(false) }))
    }

    fn close_event_data(&mut self, shared: Arc<EventShared>) {
        shared.closed.store(true, Ordering::Release);
        self.poller.close_user_event(&shared.target);
        // Trigger handles may keep the eventfd open: its number stays the
        // IO's (refused to every operation) until the last one is gone.
        self.retired_events.push(shared);
        self.sweep_retired_events();
    }
}

impl<C> IO<C> {
    /// Dispatches the `ready` events of the last wait.
    #[inline(always)]
    fn dispatch_ready(&mut self, ready: usize) {
        for i in 0..ready {
            let event = self.poller.event(i);
            self.dispatch(event);
        }
    }

    /// Reaps the io_uring, whatever epoll reported: a completion mostly
    /// wakes the wait with `EINTR`, posted on the way out, not with the
    /// ring's event. The check is inline: a pure network pass makes no
    /// call for the ring. How many completions it reaped.
    #[inline(always)]
    fn reap_ring(&mut self) -> usize {
        #[cfg(target_os = "linux")]
        if self.ring_in_flight() > 0 {
            return self.ring_reap();
        }
        0
    }

    /// A wait that ended with `EINTR`. Completions posted on the way out
    /// are reaped; with none, a waiting pass waits again, for what is left
    /// of its timeout, however often it is interrupted: an interruption is
    /// not an event, and the pass must not end before one or its deadline.
    /// Dropping an io_uring makes the kernel queue exit work to this thread
    /// that interrupts its next waits (any IO's) every few tens of
    /// microseconds until the ring has wound down: a loaded machine showed
    /// nine in a row within 300 µs. What is left is measured from the first
    /// interruption (the hot path reads no clock before it waits), so a
    /// wait overshoots its timeout by at most the time to that
    /// interruption. A signal does not end the pass either (see
    /// `Io::flush`). Out of line: the socket path never comes here.
    #[inline(never)]
    fn interrupted_wait(&mut self, timeout_ns: u64) -> Result<(), RunError> {
        if self.reap_ring() > 0 || timeout_ns == 0 {
            return Ok(());
        }
        let unbounded = timeout_ns == super::poller::UNBOUNDED;
        let until = self.clock_ns().saturating_add(timeout_ns);
        loop {
            let left = if unbounded { timeout_ns } else { until.saturating_sub(self.clock_ns()) };
            if left == 0 {
                return Ok(());
            }
            match self.poller.wait(left) {
                Ok(ready) => {
                    self.dispatch_ready(ready);
                    self.reap_ring();
                    return Ok(());
                }
                Err(Errno::EINTR) if self.reap_ring() > 0 => return Ok(()),
                Err(Errno::EINTR) => {}
                Err(errno) => return Err(RunError::Poller(errno)),
            }
        }
    }

    /// Drops closed events no trigger handle holds any more, closing their
    /// eventfds here, on the loop thread, so the table learns at once that
    /// the numbers are free.
    fn sweep_retired_events(&mut self) {
        let fds = &mut self.fds;
        self.retired_events.retain(|shared| {
            if Arc::strong_count(shared) > 1 {
                return true;
            }
            if let Some(fd) = shared.target.raw_fd() {
                fds.set_owned(fd, false);
            }
            false
        });
    }

    #[inline(always)]
    fn dispatch(&mut self, event: PollEvent) {
        match event.token {
            Token::Fd(fd) => self.dispatch_fd(fd, event),
            Token::User(POOL_EVENT_KEY) => self.harvest_pool(),
            // Reaped after every wait (`poll`), whatever was reported.
            #[cfg(target_os = "linux")]
            Token::User(super::uring::RING_EVENT_KEY) => {}
            Token::User(key) => {
                let Some((index, shared)) = self.core.events.by_key(key) else { return };
                if self.poller.consume_user_event(&shared.target) {
                    events::deliver(self, index);
                }
            }
        }
    }

    #[inline(always)]
    fn dispatch_fd(&mut self, fd: i32, event: PollEvent) {
        let Some(state) = self.fds.get_mut(fd) else { return };
        if !state.registered {
            return; // A stale report for a descriptor closed since.
        }
        if let Some(errno) = event.error {
            state.registered = false;
            self.wake(fd, Direction::Read, Some(errno));
            self.wake(fd, Direction::Write, Some(errno));
            return;
        }
        // One lookup of the descriptor's state serves both directions.
        let mut woken = 0;
        state.read_closed |= event.read_closed;
        state.write_closed |= event.write_closed;
        if event.readable {
            state.readable = true;
            woken += wake_list(&mut state.readers, &mut self.core, None);
        }
        if event.writable {
            state.writable = true;
            woken += wake_list(&mut state.writers, &mut self.core, None);
        }
        self.pending -= woken;
    }

    /// Moves finished worker-thread operations to `completed`, with their
    /// results; closes that waited for them may run now.
    fn harvest_pool(&mut self) {
        let Some(pool) = self.pool.as_mut() else { return };
        for (index, result) in pool.harvest() {
            self.pool_outstanding -= 1;
            self.pending -= driver_done(&mut self.core, &mut self.fds, index, result);
        }
    }

    /// `EBADF` for the IO's own descriptors, before any syscall sees them.
    fn usable(&self, fd: Fd) -> bool {
        fd.raw() >= 0 && !self.fds.owned(fd.raw())
    }

    pub(crate) fn do_open_socket(
        &mut self,
        family: AddressFamily,
        options: SocketOptions,
    ) -> Result<Fd, SocketError> {
        let fd = sys::socket::open(family, &options).map_err(SocketError::from_errno)?;
        self.fds.adopt(fd, options);
        Ok(Fd::from_raw(fd))
    }

    pub(crate) fn do_listen(
        &mut self,
        socket: Fd,
        address: SocketAddr,
        backlog: u32,
    ) -> Result<SocketAddr, ListenError> {
        if !self.usable(socket) {
            return Err(ListenError::BadFileDescriptor);
        }
        sys::socket::listen(socket.raw(), &address, backlog).map_err(ListenError::from_errno)
    }

    pub(crate) fn do_shutdown(&mut self, socket: Fd, how: Shutdown) -> Result<(), ShutdownError> {
        if !self.usable(socket) {
            return Err(ShutdownError::BadFileDescriptor);
        }
        sys::socket::shutdown(socket.raw(), how).map_err(ShutdownError::from_errno)
    }

    pub(crate) fn do_address(&self, socket: Fd, side: Side) -> Result<SocketAddr, AddressError> {
        if !self.usable(socket) {
            return Err(AddressError::BadFileDescriptor);
        }
        let address = match side {
            Side::Local => sys::socket::local_address(socket.raw()),
            Side::Peer => sys::socket::peer_address(socket.raw()),
        };
        address.map_err(AddressError::from_errno)
    }

    pub(crate) fn do_open_dir(&mut self, path: &Path) -> Result<Fd, OpenError> {
        let fd = sys::file::open_dir(path)?;
        self.fds.adopt(fd, SocketOptions::default());
        self.fds.mark_file(fd);
        Ok(Fd::from_raw(fd))
    }

    pub(crate) fn do_open_data_file(
        &mut self,
        dir: Fd,
        relative_path: &Path,
        size: u64,
        purpose: FilePurpose,
        direct_io: DirectIo,
    ) -> Result<Fd, OpenError> {
        if dir.raw() >= 0 && self.fds.owned(dir.raw()) {
            return Err(OpenError::BadFileDescriptor);
        }
        let fd = sys::file::open_data_file(dir.raw(), relative_path, size, purpose, direct_io)?;
        self.fds.adopt_data_file(fd, size);
        Ok(Fd::from_raw(fd))
    }
}
