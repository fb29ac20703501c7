//! The kqueue poller (Apple, FreeBSD, NetBSD, OpenBSD, DragonFly).
//!
//! Each descriptor gets an `EVFILT_READ` and an `EVFILT_WRITE` knote with
//! `EV_CLEAR` (edge-triggered), once for its lifetime, as on epoll. The
//! changes are queued and ride in the next `kevent` wait, so registering
//! costs no syscall of its own. A failed change comes back as an `EV_ERROR`
//! entry and is reported as a `PollEvent` with `error` set.
//!
//! User events are `EVFILT_USER` knotes on the same kqueue; any thread
//! triggers one with `NOTE_TRIGGER`, which is why the kqueue descriptor is
//! shared (`Arc`) with the trigger handles.
//!
//! A knote's ident is an index into the poller's table of user events, and
//! an index is handed out again only once no handle to its previous event
//! is left: a late trigger from a stale handle can then only reach its own,
//! deleted knote (`ENOENT`), never an event that reused the ident. The
//! engine's key (which may be wider than `usize`) is kept in the table, not
//! in the knote.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use static_assertions::{assert_fields, assert_impl_all, const_assert};

use super::{EVENTS_PER_WAIT, PollEvent, Token};
use crate::error::{Errno, EventError};

/// The most changes queued before they are submitted on their own. The wait
/// passes an event list of `EVENTS_PER_WAIT` entries, and kevent(2) reports
/// a failed change there only if there is room (else it fails the whole
/// call), so the queue must never outgrow the event list.
const CHANGES_MAX: usize = EVENTS_PER_WAIT;
const_assert!(CHANGES_MAX <= EVENTS_PER_WAIT && CHANGES_MAX >= 2);

// Layout facts the code relies on. A descriptor rides in `ident` as a `u32`
// and is read back from it, so `ident` (a `uintptr_t`) must hold 32 bits.
const_assert!(size_of::<usize>() >= size_of::<u32>());
// The fields `kevent` writes and `normalise` reads (`udata` stays zeroed).
const _: () = {
    use libc::kevent as KEvent;
    assert_fields!(KEvent: ident, filter, flags, fflags, data, udata);
};
// List lengths are passed as an `int`.
const_assert!(EVENTS_PER_WAIT <= i32::MAX as usize);
// Trigger handles are used from any thread.
assert_impl_all!(TriggerTarget: Send, Sync);

// The field types of `struct kevent` differ on NetBSD.
#[cfg(target_os = "netbsd")]
type Filter = u32;
#[cfg(target_os = "netbsd")]
type Flags = u32;
#[cfg(not(target_os = "netbsd"))]
type Filter = i16;
#[cfg(not(target_os = "netbsd"))]
type Flags = u16;

const NS_PER_S: u64 = 1_000_000_000;

pub(crate) struct Poller {
    kq: Arc<OwnedFd>,
    /// Registrations waiting for the next `kevent` call.
    changes: Vec<libc::kevent>,
    /// The kernel's output buffer, `EVENTS_PER_WAIT` entries; only read
    /// right after the call that filled it.
    raw: Box<[libc::kevent]>,
    /// The events of the last wait, normalised, read by `event(i)`.
    ready: Vec<PollEvent>,
    /// Reports the kernel returned outside a wait (when a full change queue
    /// was submitted early); the next wait reports them first.
    carried: Vec<PollEvent>,
    /// User events by knote ident (see the module docs).
    users: Vec<UserSlot>,
}

/// One ident of the user-event table.
struct UserSlot {
    /// Shared with the engine's `TriggerTarget` and every handle cloned from
    /// it; the poller is the only owner once they are all dropped.
    knote: Arc<Knote>,
    /// Added to the kqueue and not yet deleted.
    open: bool,
}

impl Poller {
    pub(crate) fn new() -> Result<Poller, Errno> {
        // SAFETY: plain syscall without arguments; the result is checked.
        let fd = unsafe { libc::kqueue() };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: `fd` is a fresh descriptor owned by nobody else.
        let kq = unsafe { OwnedFd::from_raw_fd(fd) };
        // Close-on-exec, like every descriptor the IO opens (macOS has no
        // `kqueue1`, so this takes a second call, once per IO).
        // SAFETY: `fd` is open and owned by `kq`; F_SETFD takes an int flag.
        if unsafe { libc::fcntl(kq.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(Errno::last());
        }
        let blank = kevent(0, 0, 0, 0);
        Ok(Poller {
            kq: Arc::new(kq),
            changes: Vec::with_capacity(CHANGES_MAX),
            raw: vec![blank; EVENTS_PER_WAIT].into_boxed_slice(),
            ready: Vec::with_capacity(EVENTS_PER_WAIT),
            carried: Vec::new(),
            users: Vec::new(),
        })
    }

    /// The kqueue descriptor: the IO refuses it to every operation.
    pub(crate) fn raw_fd(&self) -> i32 {
        self.kq.as_raw_fd()
    }

    /// Queues read and write knotes for `fd`. Fails only if a full queue
    /// had to be submitted and the kqueue itself refused the call; the
    /// queued changes are then kept for the next wait.
    pub(crate) fn register(&mut self, fd: i32) -> Result<(), Errno> {
        if self.changes.len() + 2 > CHANGES_MAX {
            self.submit_changes()?;
        }
        let ident = fd as u32 as usize;
        let flags = libc::EV_ADD | libc::EV_CLEAR;
        self.changes.push(kevent(ident, libc::EVFILT_READ, flags, 0));
        self.changes.push(kevent(ident, libc::EVFILT_WRITE, flags, 0));
        Ok(())
    }

    /// Stops watching `fd`, which stays open (handed back to its caller):
    /// its knotes are deleted with the next `kevent` call.
    pub(crate) fn deregister(&mut self, fd: i32) {
        self.forget(fd);
        if self.changes.len() + 2 > CHANGES_MAX && self.submit_changes().is_err() {
            return; // The kqueue refused the call: the knotes die with the descriptor.
        }
        let ident = fd as u32 as usize;
        self.changes.push(kevent(ident, libc::EVFILT_READ, libc::EV_DELETE, 0));
        self.changes.push(kevent(ident, libc::EVFILT_WRITE, libc::EV_DELETE, 0));
    }

    /// Drops what is queued for `fd`, which is about to be closed: a change
    /// would fail with `EBADF` or, worse, watch a reused number. The kernel
    /// removes the knotes themselves on close.
    pub(crate) fn forget(&mut self, fd: i32) {
        let ident = fd as u32 as usize;
        self.changes.retain(|change| !(change.ident == ident && is_fd_filter(change.filter)));
        self.carried.retain(|event| event.token != Token::Fd(fd));
    }

    /// Submits the queued changes now, without waiting and without taking
    /// pending events: `EV_RECEIPT` makes the kernel answer every change
    /// with an `EV_ERROR` entry (data 0 on success) instead of scanning.
    /// Failures are carried to the next wait; so is any real event, should
    /// a kernel ignore `EV_RECEIPT`.
    fn submit_changes(&mut self) -> Result<(), Errno> {
        for change in &mut self.changes {
            change.flags |= libc::EV_RECEIPT;
        }
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        let result = loop {
            // SAFETY: the change list is `changes.len()` initialised entries
            // and the event list `raw.len()` writable ones, distinct buffers;
            // `zero` outlives the call.
            let rc = unsafe {
                libc::kevent(
                    self.kq.as_raw_fd(),
                    self.changes.as_ptr(),
                    self.changes.len() as _,
                    self.raw.as_mut_ptr(),
                    self.raw.len() as _,
                    &zero,
                )
            };
            if rc >= 0 {
                break Ok(rc as usize);
            }
            match Errno::last() {
                // Re-adding a knote that exists is harmless.
                Errno::EINTR => continue,
                errno => break Err(errno),
            }
        };
        match result {
            Ok(n) => {
                self.changes.clear();
                for raw in &self.raw[..n] {
                    if let Some(event) = normalise(raw, &self.users) {
                        self.carried.push(event);
                    }
                }
                Ok(())
            }
            Err(errno) => {
                // Kept for the wait, which must not ask for receipts.
                for change in &mut self.changes {
                    change.flags &= !libc::EV_RECEIPT;
                }
                Err(errno)
            }
        }
    }

    /// Submits the queued changes and waits up to `timeout_ns` (0 polls);
    /// returns the number of events. A wait with carried reports only polls.
    pub(crate) fn wait(&mut self, timeout_ns: u64) -> Result<usize, Errno> {
        self.ready.clear();
        self.ready.append(&mut self.carried);
        let timeout_ns = if self.ready.is_empty() { timeout_ns } else { 0 };
        // Capped at `i32::MAX` s so it fits a 32-bit `time_t` and every
        // kernel accepts it; the engine never waits that long anyway.
        let ts = libc::timespec {
            tv_sec: (timeout_ns / NS_PER_S).min(i32::MAX as u64) as _,
            tv_nsec: (timeout_ns % NS_PER_S) as _,
        };
        // No timespec, no timer: the kernel waits until an event.
        let ts: *const libc::timespec =
            if timeout_ns == super::UNBOUNDED { std::ptr::null() } else { &ts };
        debug_assert!(self.changes.len() <= self.raw.len());
        // SAFETY: the change list is `changes.len()` initialised entries and
        // the event list `raw.len()` writable ones, distinct buffers; `ts` is
        // null (wait forever) or points to a timespec that outlives the call. The event list is at least as long as the change
        // list, so every failed change has room to be reported.
        let rc = unsafe {
            libc::kevent(
                self.kq.as_raw_fd(),
                self.changes.as_ptr(),
                self.changes.len() as _,
                self.raw.as_mut_ptr(),
                self.raw.len() as _,
                ts,
            )
        };
        if rc < 0 {
            // Changes are kept: the kernel applies them before it sleeps, so
            // an interrupted call has applied them and re-adding is harmless;
            // a failed call may not have. Interrupted with nothing carried:
            // `EINTR`, as epoll reports it, so the engine waits again.
            return match Errno::last() {
                Errno::EINTR if self.ready.is_empty() => Err(Errno::EINTR),
                Errno::EINTR => Ok(self.ready.len()),
                errno => {
                    self.carried.append(&mut self.ready);
                    Err(errno)
                }
            };
        }
        self.changes.clear();
        for raw in &self.raw[..rc as usize] {
            if let Some(event) = normalise(raw, &self.users) {
                self.ready.push(event);
            }
        }
        Ok(self.ready.len())
    }

    pub(crate) fn event(&self, index: usize) -> PollEvent {
        debug_assert!(index < self.ready.len());
        self.ready[index]
    }

    /// Adds an `EVFILT_USER` knote for `key`, applied at once so that a
    /// trigger from another thread finds it. Allocates only when every ident
    /// is open or still held by a handle.
    pub(crate) fn open_user_event(&mut self, key: u64) -> Result<TriggerTarget, EventError> {
        let free = self.users.iter_mut().position(|slot| {
            // `get_mut` succeeds only when no handle shares the knote.
            !slot.open && Arc::get_mut(&mut slot.knote).is_some()
        });
        let ident = match free {
            Some(ident) => {
                let knote = Arc::get_mut(&mut self.users[ident].knote).expect("checked unshared");
                knote.key = key;
                ident
            }
            None => {
                let ident = self.users.len();
                self.users.try_reserve(1).map_err(|_| EventError::from_errno(Errno::ENOMEM))?;
                let knote = Arc::new(Knote { kq: Arc::clone(&self.kq), ident, key });
                self.users.push(UserSlot { knote, open: false });
                ident
            }
        };
        let target = TriggerTarget { knote: Arc::clone(&self.users[ident].knote) };
        target.apply(libc::EV_ADD | libc::EV_CLEAR, 0).map_err(EventError::from_errno)?;
        self.users[ident].open = true;
        Ok(target)
    }

    /// Deletes the knote; later triggers get `ENOENT` (`Closed`). The ident
    /// is free again once the last handle to `target` is dropped.
    pub(crate) fn close_user_event(&mut self, target: &TriggerTarget) {
        // ENOENT means it is already gone: nothing to undo.
        let _ = target.apply(libc::EV_DELETE, 0);
        if let Some(slot) = self.users.get_mut(target.knote.ident) {
            slot.open = false;
        }
    }

    /// `EV_CLEAR` reset the event when the kernel reported it: nothing to
    /// take, and every report stands for at least one trigger.
    pub(crate) fn consume_user_event(&mut self, _target: &TriggerTarget) -> bool {
        true
    }
}

/// What a thread needs to trigger a user event: its knote.
#[derive(Debug)]
pub(crate) struct TriggerTarget {
    knote: Arc<Knote>,
}

/// An `EVFILT_USER` knote: the kqueue it lives in, its ident there, and the
/// engine's key for it (read by the loop thread only, when it reports).
#[derive(Debug)]
struct Knote {
    kq: Arc<OwnedFd>,
    ident: usize,
    key: u64,
}

impl TriggerTarget {
    /// A knote has no descriptor of its own.
    pub(crate) fn raw_fd(&self) -> Option<i32> {
        None
    }

    pub(crate) fn trigger(&self) -> Result<(), EventError> {
        self.apply(0, libc::NOTE_TRIGGER).map_err(|errno| match errno {
            Errno::ENOENT => EventError::Closed,
            errno => EventError::from_errno(errno),
        })
    }

    /// Applies one change to this event's knote immediately.
    fn apply(&self, flags: Flags, fflags: u32) -> Result<(), Errno> {
        let knote = &*self.knote;
        let change = kevent(knote.ident, libc::EVFILT_USER, flags, fflags);
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        loop {
            // SAFETY: one initialised change and an empty event list, so a
            // failure is returned as -1/errno; `change` and `zero` outlive
            // the call.
            let rc = unsafe {
                libc::kevent(knote.kq.as_raw_fd(), &change, 1, std::ptr::null_mut(), 0, &zero)
            };
            if rc >= 0 {
                return Ok(());
            }
            match Errno::last() {
                // Each of these changes is idempotent, so a retry is safe.
                Errno::EINTR => continue,
                errno => return Err(errno),
            }
        }
    }
}

fn kevent(ident: usize, filter: Filter, flags: Flags, fflags: u32) -> libc::kevent {
    // SAFETY: `struct kevent` is integers, an optional pointer and (on
    // FreeBSD) an integer array; all-zero is a valid value of each, and
    // `udata` stays null: nothing is looked up through it.
    let mut event: libc::kevent = unsafe { std::mem::zeroed() };
    event.ident = ident;
    event.filter = filter;
    event.flags = flags;
    event.fflags = fflags;
    event
}

fn is_fd_filter(filter: Filter) -> bool {
    filter == libc::EVFILT_READ || filter == libc::EVFILT_WRITE
}

/// Turns one entry of the kernel's event list into a report, or `None` for
/// a receipt (`EV_ERROR` with data 0) or anything this poller never asked for.
/// `users` maps a user event's ident to the engine's key.
fn normalise(raw: &libc::kevent, users: &[UserSlot]) -> Option<PollEvent> {
    let quiet = PollEvent { token: Token::Fd(raw.ident as u32 as i32), ..NONE };
    if raw.flags & libc::EV_ERROR != 0 {
        // User-event changes are applied at once, never queued, so only a
        // descriptor's change can fail here.
        if raw.data == 0 || !is_fd_filter(raw.filter) {
            return None;
        }
        return Some(PollEvent { error: Some(Errno::from_raw(raw.data as i32)), ..quiet });
    }
    // The op's own syscall returns the end or the error; EV_EOF also says
    // no later edge will come for that direction.
    match raw.filter {
        libc::EVFILT_READ => {
            let read_closed = raw.flags & libc::EV_EOF != 0;
            Some(PollEvent { readable: true, read_closed, ..quiet })
        }
        libc::EVFILT_WRITE => {
            let write_closed = raw.flags & libc::EV_EOF != 0;
            Some(PollEvent { writable: true, write_closed, ..quiet })
        }
        libc::EVFILT_USER => {
            // A deleted knote reports nothing, so an open ident's key is
            // the event's own.
            let slot = users.get(raw.ident).filter(|slot| slot.open)?;
            Some(PollEvent { token: Token::User(slot.knote.key), readable: true, ..NONE })
        }
        _ => None,
    }
}

const NONE: PollEvent = PollEvent {
    token: Token::Fd(-1),
    readable: false,
    writable: false,
    read_closed: false,
    write_closed: false,
    error: None,
};

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    use super::*;

    /// Waits (bounded) until `wanted` matches an event; true if one did.
    fn wait_for(poller: &mut Poller, wanted: impl Fn(&PollEvent) -> bool) -> bool {
        for _ in 0..20 {
            let n = poller.wait(NS_PER_S).unwrap();
            if (0..n).any(|i| wanted(&poller.event(i))) {
                return true;
            }
        }
        false
    }

    fn drain(poller: &mut Poller) -> Vec<PollEvent> {
        let n = poller.wait(0).unwrap();
        (0..n).map(|i| poller.event(i)).collect()
    }

    #[test]
    fn socketpair_reports_writable_then_readable() {
        let mut poller = Poller::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
        poller.register(fa).unwrap();
        poller.register(fb).unwrap();
        let first = drain(&mut poller);
        assert!(first.iter().any(|e| e.token == Token::Fd(fa) && e.writable));
        assert!(!first.iter().any(|e| e.token == Token::Fd(fb) && e.readable));
        assert!(first.iter().all(|e| e.error.is_none()));

        a.write_all(b"x").unwrap();
        assert!(wait_for(&mut poller, |e| e.token == Token::Fd(fb) && e.readable));
        // Edge-triggered: nothing new arrived, so no second read report.
        assert!(!drain(&mut poller).iter().any(|e| e.token == Token::Fd(fb) && e.readable));

        drop(a);
        // The peer's close is an EOF, reported as readable.
        assert!(wait_for(&mut poller, |e| e.token == Token::Fd(fb) && e.readable));
    }

    #[test]
    fn user_event_triggered_from_another_thread() {
        let mut poller = Poller::new().unwrap();
        // High bits set, to check the key survives the round trip.
        let key = (7u64 << 32) | 3;
        let target = poller.open_user_event(key).unwrap();
        assert!(drain(&mut poller).is_empty());

        std::thread::scope(|s| {
            s.spawn(|| {
                target.trigger().unwrap();
                target.trigger().unwrap();
            });
        });
        assert!(wait_for(&mut poller, |e| e.token == Token::User(key)));
        assert!(poller.consume_user_event(&target));
        // EV_CLEAR: the two triggers coalesced into that one report.
        assert!(!drain(&mut poller).iter().any(|e| e.token == Token::User(key)));

        poller.close_user_event(&target);
        assert_eq!(target.trigger(), Err(EventError::Closed));
    }

    #[test]
    fn a_stale_handle_never_reaches_an_event_that_reused_its_ident() {
        let mut poller = Poller::new().unwrap();
        let stale = poller.open_user_event(1).unwrap();
        poller.close_user_event(&stale);
        // The stale handle still lives: the next event gets another ident.
        let fresh = poller.open_user_event(2).unwrap();
        assert_ne!(fresh.knote.ident, stale.knote.ident);
        assert_eq!(stale.trigger(), Err(EventError::Closed));
        assert!(drain(&mut poller).is_empty());
        fresh.trigger().unwrap();
        assert!(wait_for(&mut poller, |e| e.token == Token::User(2)));
        // Once the last handle is gone its ident is handed out again.
        let ident = stale.knote.ident;
        drop(stale);
        let reused = poller.open_user_event(3).unwrap();
        assert_eq!(reused.knote.ident, ident);
        reused.trigger().unwrap();
        assert!(wait_for(&mut poller, |e| e.token == Token::User(3)));
    }

    /// A number no test can have open, so the kernel must refuse it.
    fn bad_fd(k: i32) -> i32 {
        i32::MAX - k
    }

    #[test]
    fn registering_a_bad_descriptor_reports_ev_error() {
        let mut poller = Poller::new().unwrap();
        poller.register(bad_fd(0)).unwrap();
        let events = drain(&mut poller);
        assert!(!events.is_empty());
        for event in &events {
            assert_eq!(event.token, Token::Fd(bad_fd(0)));
            assert_eq!(event.error, Some(Errno::EBADF));
        }
    }

    #[test]
    fn full_change_queue_keeps_its_errors_for_the_wait() {
        let mut poller = Poller::new().unwrap();
        let count = CHANGES_MAX as i32 / 2 + 1;
        for k in 0..count {
            poller.register(bad_fd(k)).unwrap();
        }
        // The first CHANGES_MAX changes were submitted early; the last fd's
        // are still queued. One more is forgotten before it is submitted.
        poller.register(bad_fd(count)).unwrap();
        poller.forget(bad_fd(count));
        let mut seen = vec![false; count as usize];
        for event in drain(&mut poller) {
            assert_eq!(event.error, Some(Errno::EBADF));
            let Token::Fd(fd) = event.token else { panic!("unexpected {event:?}") };
            assert_ne!(fd, bad_fd(count), "a forgotten change was submitted");
            seen[(i32::MAX - fd) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
