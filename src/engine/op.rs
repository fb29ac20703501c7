//! The operation slot, shared by both backends: one in-flight operation,
//! its callback, where it waits, and the result it may already have.

use std::net::SocketAddr;

use super::Backend;
use crate::buffer::Buffer;
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::Errno;
use crate::fd::EventId;
use crate::io::Callback;
use crate::options::FsyncMode;

/// A buffer and the half-open byte range of it an operation works on.
///
/// `start <= end <= buffer.len()` always holds: the fields are private,
/// [`Span::new`] checks the range, every method keeps it, and a
/// [`Buffer`]'s length never changes. So the bytes are sliced without
/// bounds checks (profiled: ~5 instructions per attempt).
pub(crate) struct Span {
    buffer: Buffer,
    start: usize,
    end: usize,
}

impl Span {
    /// `None` unless `start <= end <= buffer.len()`.
    #[inline(always)]
    pub(crate) fn new(buffer: Buffer, start: usize, end: usize) -> Option<Span> {
        (start <= end && end <= buffer.len()).then_some(Span { buffer, start, end })
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `start <= end <= buffer.len()` (the type's invariant).
        unsafe { self.buffer.get_unchecked(self.start..self.end) }
    }

    #[inline]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `start <= end <= buffer.len()` (the type's invariant).
        unsafe { self.buffer.get_unchecked_mut(self.start..self.end) }
    }

    /// A bitwise copy of the buffer, for an op about to be forgotten.
    ///
    /// # Safety
    ///
    /// The op holding this span must be overwritten without being dropped
    /// (see `run::vacate`) before anything else can read or drop the span:
    /// the copy returned is then the buffer's only owner.
    #[inline(always)]
    pub(crate) unsafe fn read_buffer(&self) -> Buffer {
        // SAFETY: a valid, initialised `Buffer`; the caller keeps the
        // original from being used or dropped again.
        unsafe { std::ptr::read(&self.buffer) }
    }
}

/// One operation, as submitted. Adding an operation means a variant here,
/// its submit in `submit.rs` and its completion in `run.rs`.
pub(crate) enum Op<B: Backend> {
    Free,
    Accept {
        fd: i32,
        tag: u64,
        callback: Callback<B, AcceptDone>,
    },
    Connect {
        fd: i32,
        address: SocketAddr,
        /// The connect was issued; a later attempt only reads its outcome.
        started: bool,
        tag: u64,
        callback: Callback<B, ConnectDone>,
    },
    Recv {
        fd: i32,
        span: Span,
        tag: u64,
        callback: Callback<B, RecvDone>,
    },
    Send {
        fd: i32,
        span: Span,
        tag: u64,
        callback: Callback<B, SendDone>,
    },
    Read {
        fd: i32,
        span: Span,
        offset: u64,
        tag: u64,
        callback: Callback<B, ReadDone>,
    },
    Write {
        fd: i32,
        span: Span,
        offset: u64,
        tag: u64,
        callback: Callback<B, WriteDone>,
    },
    Fsync {
        fd: i32,
        mode: FsyncMode,
        tag: u64,
        callback: Callback<B, FsyncDone>,
    },
    Close {
        fd: i32,
        /// The operations pending on `fd` were already canceled ahead of it.
        waiters_canceled: bool,
        tag: u64,
        callback: Callback<B, CloseDone>,
    },
    Timeout {
        tag: u64,
        callback: Callback<B, TimeoutDone>,
    },
    EventListen {
        /// The event listened on: a canceled listener that a trigger had
        /// already fired hands that trigger back to it.
        event: EventId,
        tag: u64,
        callback: Callback<B, EventDone>,
    },
}

impl<B: Backend> Op<B> {
    /// A small number naming the kind (for the twin's trace).
    pub(crate) fn kind(&self) -> u64 {
        match self {
            Op::Free => 0,
            Op::Accept { .. } => 1,
            Op::Connect { .. } => 2,
            Op::Recv { .. } => 3,
            Op::Send { .. } => 4,
            Op::Read { .. } => 5,
            Op::Write { .. } => 6,
            Op::Fsync { .. } => 7,
            Op::Close { .. } => 8,
            Op::Timeout { .. } => 9,
            Op::EventListen { .. } => 10,
        }
    }

    pub(crate) fn tag(&self) -> u64 {
        match self {
            Op::Free => 0,
            Op::Accept { tag, .. }
            | Op::Connect { tag, .. }
            | Op::Recv { tag, .. }
            | Op::Send { tag, .. }
            | Op::Read { tag, .. }
            | Op::Write { tag, .. }
            | Op::Fsync { tag, .. }
            | Op::Close { tag, .. }
            | Op::Timeout { tag, .. }
            | Op::EventListen { tag, .. } => *tag,
        }
    }

    /// The descriptor the operation works on, if any.
    pub(crate) fn fd(&self) -> Option<i32> {
        match self {
            Op::Accept { fd, .. }
            | Op::Connect { fd, .. }
            | Op::Recv { fd, .. }
            | Op::Send { fd, .. }
            | Op::Read { fd, .. }
            | Op::Write { fd, .. }
            | Op::Fsync { fd, .. }
            | Op::Close { fd, .. } => Some(*fd),
            Op::Free | Op::Timeout { .. } | Op::EventListen { .. } => None,
        }
    }

    /// The descriptor a network operation works on: the operations a close
    /// of that descriptor cancels ahead of itself.
    #[inline]
    pub(crate) fn socket_fd(&self) -> Option<i32> {
        match self {
            Op::Accept { fd, .. }
            | Op::Connect { fd, .. }
            | Op::Recv { fd, .. }
            | Op::Send { fd, .. } => Some(*fd),
            _ => None,
        }
    }
}

/// Where an operation is while it is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place<W> {
    Free,
    /// In the `completed` FIFO: it is attempted (or its result delivered)
    /// when the FIFO drains.
    Completed,
    /// In the deadline heap: a timeout, or (in the twin) a storage
    /// operation waiting out its latency.
    Timer,
    /// Armed as the listener of a user event (by index).
    Listener(u32),
    /// Waiting where the backend put it: on a descriptor's readiness, on a
    /// worker thread, in the simulated world.
    Waiting(W),
}

pub(crate) struct Slot<B: Backend> {
    pub generation: u32,
    pub place: Place<B::Wait>,
    /// The operation's result is already known: it completes with it
    /// instead of being attempted (`ECANCELED` when withdrawn, a worker
    /// thread's result, a failed registration).
    pub outcome: Option<Result<usize, Errno>>,
    /// What the backend keeps per operation (the twin: its node).
    pub data: B::SlotData,
    pub op: Op<B>,
    /// The slot after this one in `completed` (see `fifo.rs`).
    pub next: u32,
}

impl<B: Backend> Slot<B> {
    pub(crate) fn new() -> Slot<B> {
        Slot {
            generation: 0,
            place: Place::Free,
            outcome: None,
            data: B::SlotData::default(),
            op: Op::Free,
            next: crate::list::NONE,
        }
    }

    /// Withdrawn and not yet delivered.
    #[inline]
    pub(crate) fn canceled(&self) -> bool {
        self.outcome == Some(Err(Errno::ECANCELED))
    }
}

/// What attempting an operation produced. Two variants, so the drain
/// tells them apart with one compare (profiled: a third, `Defer`, made it
/// decode the niche on every attempt); a backend defers an operation with
/// [`super::run::defer`] and answers `Pending`.
pub(crate) enum Attempt {
    /// It completed with this result: its callback runs now.
    Done(Result<usize, Errno>),
    /// The backend put it somewhere to wait (and set its place), or
    /// deferred it.
    Pending,
}
