//! The kernel readiness pollers behind the real IO.
//!
//! Both pollers expose the same small interface, so the engine in
//! `real/mod.rs` is written once:
//!
//! - `Poller::new()`;
//! - `register(fd)`: watch `fd` for read and write readiness, edge-triggered,
//!   once for the descriptor's lifetime (epoll: one `epoll_ctl`; kqueue: an
//!   `EV_ADD | EV_CLEAR` change that rides in the next `kevent` wait). A
//!   registration error either returns at once (epoll) or surfaces later as
//!   a `PollEvent` whose `error` is set (kqueue's `EV_ERROR`);
//! - `forget(fd)`: the engine is about to close `fd`; drop anything queued
//!   for it;
//! - `wait(timeout_ns)`: submit queued changes and wait at most `timeout_ns`
//!   (0 polls); the events are then read with `event(i)`;
//! - user events: `open_user_event(key)` / `close_user_event(key)`, with a
//!   thread-safe `TriggerTarget` to trigger them.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use epoll::{Poller, TriggerTarget};

#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
mod kqueue;
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
pub(crate) use kqueue::{Poller, TriggerTarget};

use crate::error::Errno;

/// What a readiness event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A registered descriptor.
    Fd(i32),
    /// A user event, by the key given to `open_user_event`.
    User(u64),
}

/// One readiness report, normalised across pollers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PollEvent {
    pub token: Token,
    /// Data, end of stream, or a pending connection may be read.
    pub readable: bool,
    /// Data may be sent, or a connect finished.
    pub writable: bool,
    /// Reading will never block again (end of stream or an error: epoll
    /// `EPOLLRDHUP` / `EPOLLHUP` / `EPOLLERR`, kqueue `EV_EOF` on the read
    /// filter), and no further edge will say so. Sticky for the descriptor.
    pub read_closed: bool,
    /// Likewise for sending (epoll `EPOLLHUP` / `EPOLLERR`, kqueue `EV_EOF`
    /// on the write filter).
    pub write_closed: bool,
    /// The registration itself failed (kqueue `EV_ERROR`): the descriptor is
    /// not watched and its waiters must fail with this errno.
    pub error: Option<Errno>,
}

/// The timeout of a wait that only an event ends: no timer is armed for it.
pub(crate) const UNBOUNDED: u64 = super::options::UNBOUNDED_WAIT;

/// The most events one wait returns; more are picked up by the next wait.
pub(crate) const EVENTS_PER_WAIT: usize = 256;

/// Encodes a user-event token so it can never collide with a descriptor
/// (epoll only; kqueue tells them apart by filter).
#[cfg(any(target_os = "linux", target_os = "android"))]
const USER_TOKEN_BIT: u64 = 1 << 63;
