//! The Linux poller: epoll, edge-triggered, each descriptor registered once,
//! and an eventfd per user event.
//!
//! On epoll every `epoll_ctl` is a syscall of its own, so rather than
//! re-arming a one-shot registration for every operation that would block
//! (what kqueue does for free inside its wait), each descriptor is added
//! once with `EPOLLET` and the engine keeps its readiness.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use static_assertions::{assert_eq_size, assert_fields, assert_impl_all, const_assert};

use super::{EVENTS_PER_WAIT, PollEvent, Token, USER_TOKEN_BIT};
use crate::error::{Errno, EventError};

// The kernel's `struct epoll_event` is packed on x86-64 and naturally
// aligned elsewhere; a libc that disagreed would have the kernel's array
// misread from the second event on.
#[cfg(target_arch = "x86_64")]
assert_eq_size!(libc::epoll_event, [u8; 12]);
#[cfg(not(target_arch = "x86_64"))]
assert_eq_size!(libc::epoll_event, [u8; 16]);
// The two fields written at registration and read back per event.
const _: () = {
    use libc::epoll_event;
    assert_fields!(epoll_event: events, u64);
};
// The event-list length is passed as an `int`.
const_assert!(EVENTS_PER_WAIT <= i32::MAX as usize);
// Trigger handles are used from any thread.
assert_impl_all!(TriggerTarget: Send, Sync);

pub(crate) struct Poller {
    epoll: OwnedFd,
    events: Box<[libc::epoll_event; EVENTS_PER_WAIT]>,
    ready: usize,
    /// A bounded wait tries `epoll_pwait2` (nanosecond timeouts, Linux
    /// 5.11) first; after an `ENOSYS` it falls back to millisecond
    /// `epoll_wait`. Unbounded and zero waits are always `epoll_wait`.
    has_pwait2: bool,
}

impl Poller {
    pub(crate) fn new() -> Result<Poller, Errno> {
        // SAFETY: plain syscall with a valid flag; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: `fd` is a fresh descriptor owned by nobody else.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        let empty = libc::epoll_event { events: 0, u64: 0 };
        let events = Box::new([empty; EVENTS_PER_WAIT]);
        Ok(Poller { epoll, events, ready: 0, has_pwait2: true })
    }

    /// The epoll descriptor: the IO refuses it to every operation.
    pub(crate) fn raw_fd(&self) -> i32 {
        self.epoll.as_raw_fd()
    }

    pub(crate) fn register(&mut self, fd: i32) -> Result<(), Errno> {
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: fd as u32 as u64,
        };
        self.ctl(libc::EPOLL_CTL_ADD, fd, &mut event)
    }

    /// Watches `fd` (the io_uring's) for readability, edge-triggered, its
    /// events reported as user event `key`.
    pub(crate) fn register_user(&mut self, fd: i32, key: u64) -> Result<(), Errno> {
        let events = (libc::EPOLLIN | libc::EPOLLET) as u32;
        let mut event = libc::epoll_event { events, u64: key | USER_TOKEN_BIT };
        self.ctl(libc::EPOLL_CTL_ADD, fd, &mut event)
    }

    /// Stops watching `fd`, which stays open (handed back to its caller).
    pub(crate) fn deregister(&mut self, fd: i32) {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // An error means it was not registered: nothing to undo.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, &mut event);
    }

    /// Nothing is queued on epoll; the kernel drops the registration when
    /// the descriptor is closed.
    pub(crate) fn forget(&mut self, _fd: i32) {}

    fn ctl(&self, op: i32, fd: i32, event: &mut libc::epoll_event) -> Result<(), Errno> {
        // SAFETY: `self.epoll` is an open epoll descriptor and `event` is a
        // valid, exclusive `epoll_event` for the duration of the call.
        let rc = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, event) };
        if rc < 0 { Err(Errno::last()) } else { Ok(()) }
    }

    /// Waits up to `timeout_ns` (0 polls; [`super::UNBOUNDED`] waits until
    /// an event) and returns the number of events. A wait a signal or
    /// io_uring task work interrupted fails with `EINTR` (no events), so
    /// the caller tells it from a timeout without a flag to keep.
    #[inline(always)]
    pub(crate) fn wait(&mut self, timeout_ns: u64) -> Result<usize, Errno> {
        let rc = match timeout_ns {
            // Exact in milliseconds: plain `epoll_wait`, the kernel's
            // shorter path (no timespec to copy, no sigmask to set and
            // restore). -1 waits without a timer.
            super::UNBOUNDED => self.epoll_wait(-1),
            0 => self.epoll_wait(0),
            // Out of line (profiled: inlined, the compiler computed the
            // timespec and the rounded milliseconds on every wait, bounded
            // or not, ~25 instructions).
            _ => self.wait_bounded(timeout_ns),
        };
        if rc < 0 {
            self.ready = 0;
            return Err(Errno::last());
        }
        self.ready = rc as usize;
        Ok(self.ready)
    }

    #[inline(always)]
    fn epoll_wait(&mut self, ms: i32) -> i32 {
        // SAFETY: the events array is valid for EVENTS_PER_WAIT entries.
        unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                EVENTS_PER_WAIT as i32,
                ms,
            )
        }
    }

    /// A wait of at most `timeout_ns` (neither 0 nor unbounded):
    /// `epoll_pwait2`, or after its `ENOSYS` `epoll_wait` rounded up to
    /// whole milliseconds (waking early would spin until the deadline).
    /// The syscall's return value, errno set when negative.
    #[inline(never)]
    fn wait_bounded(&mut self, timeout_ns: u64) -> i32 {
        if self.has_pwait2 {
            let ts = libc::timespec {
                tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
            };
            // SAFETY: the events array is valid for EVENTS_PER_WAIT
            // entries; `ts` points to a timespec that outlives the call; a
            // null sigmask is allowed.
            let rc = unsafe {
                libc::epoll_pwait2(
                    self.epoll.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    EVENTS_PER_WAIT as i32,
                    &ts,
                    std::ptr::null(),
                )
            };
            if rc >= 0 || Errno::last() != Errno::ENOSYS {
                return rc;
            }
            self.has_pwait2 = false;
        }
        self.epoll_wait(timeout_ns.div_ceil(1_000_000).min(i32::MAX as u64) as i32)
    }

    #[inline]
    pub(crate) fn event(&self, index: usize) -> PollEvent {
        debug_assert!(index < self.ready);
        let event = self.events[index];
        let flags = event.events as i32;
        let data = event.u64;
        let broken = libc::EPOLLERR | libc::EPOLLHUP;
        let token = if data & USER_TOKEN_BIT != 0 {
            Token::User(data & !USER_TOKEN_BIT)
        } else {
            Token::Fd(data as u32 as i32)
        };
        // A hang-up or error wakes both directions so their ops see it.
        // Each flag one test of the mask (profiled: written as `broken ||
        // ...`, the compiler branched on the hang-up first).
        PollEvent {
            token,
            readable: flags & (broken | libc::EPOLLIN | libc::EPOLLRDHUP) != 0,
            writable: flags & (broken | libc::EPOLLOUT) != 0,
            read_closed: flags & (broken | libc::EPOLLRDHUP) != 0,
            write_closed: flags & broken != 0,
            error: None,
        }
    }

    /// Creates an eventfd for user event `key` and registers it.
    pub(crate) fn open_user_event(&mut self, key: u64) -> Result<TriggerTarget, EventError> {
        // SAFETY: plain syscall with valid flags; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(EventError::from_errno(Errno::last()));
        }
        // SAFETY: `fd` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: key | USER_TOKEN_BIT,
        };
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut event)
            .map_err(EventError::from_errno)?;
        Ok(TriggerTarget { fd })
    }

    /// Stops watching user event `key`. The eventfd itself is closed when
    /// the last trigger handle drops.
    pub(crate) fn close_user_event(&mut self, target: &TriggerTarget) {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // An error here means the eventfd was never registered; nothing to undo.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, target.fd.as_raw_fd(), &mut event);
    }

    /// Takes the triggers counted since the last call. False means the
    /// readiness report was stale: an earlier call already took its trigger.
    pub(crate) fn consume_user_event(&mut self, target: &TriggerTarget) -> bool {
        let mut value = 0u64;
        // SAFETY: reads at most 8 bytes into a valid `u64`. EAGAIN means the
        // counter is zero: nothing to take.
        let rc = unsafe { libc::read(target.fd.as_raw_fd(), (&raw mut value).cast(), 8) };
        rc == 8 && value > 0
    }
}

/// What a thread needs to trigger a user event: the eventfd.
#[derive(Debug)]
pub(crate) struct TriggerTarget {
    fd: OwnedFd,
}

impl TriggerTarget {
    /// The eventfd, which the IO refuses to every operation while it lives.
    pub(crate) fn raw_fd(&self) -> Option<i32> {
        Some(self.fd.as_raw_fd())
    }

    pub(crate) fn trigger(&self) -> Result<(), EventError> {
        let one = 1u64;
        loop {
            // SAFETY: writes 8 bytes from a valid `u64` to an owned eventfd.
            let rc = unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
            if rc == 8 {
                return Ok(());
            }
            match Errno::last() {
                Errno::EINTR => continue,
                // The counter is saturated: a trigger is already pending.
                Errno::EAGAIN => return Ok(()),
                errno => return Err(EventError::from_errno(errno)),
            }
        }
    }
}
