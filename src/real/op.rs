//! The operation slot: one in-flight operation, its callback and its place.

use std::net::SocketAddr;

use crate::buffer::Buffer;
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::Errno;
use crate::fd::EventId;
use crate::io::Callback;
use crate::options::FsyncMode;

use super::IO;

/// A buffer and the half-open byte range of it an operation works on.
pub(crate) struct Span {
    pub buffer: Buffer,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }
}

pub(crate) enum Op<C> {
    Free,
    Accept {
        fd: i32,
        tag: u64,
        callback: Callback<IO<C>, AcceptDone>,
    },
    Connect {
        fd: i32,
        address: SocketAddr,
        started: bool,
        tag: u64,
        callback: Callback<IO<C>, ConnectDone>,
    },
    Recv {
        fd: i32,
        span: Span,
        tag: u64,
        callback: Callback<IO<C>, RecvDone>,
    },
    Send {
        fd: i32,
        span: Span,
        tag: u64,
        callback: Callback<IO<C>, SendDone>,
    },
    Read {
        fd: i32,
        span: Span,
        offset: u64,
        tag: u64,
        callback: Callback<IO<C>, ReadDone>,
    },
    Write {
        fd: i32,
        span: Span,
        offset: u64,
        tag: u64,
        callback: Callback<IO<C>, WriteDone>,
    },
    Fsync {
        fd: i32,
        mode: FsyncMode,
        tag: u64,
        callback: Callback<IO<C>, FsyncDone>,
    },
    Close {
        fd: i32,
        waiters_canceled: bool,
        tag: u64,
        callback: Callback<IO<C>, CloseDone>,
    },
    Timeout {
        tag: u64,
        callback: Callback<IO<C>, TimeoutDone>,
    },
    EventListen {
        /// The event listened on: a canceled listener that a trigger had
        /// already fired hands that trigger back to it.
        event: EventId,
        tag: u64,
        callback: Callback<IO<C>, EventDone>,
    },
}

/// Where an operation is while it is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Free,
    /// In the `completed` FIFO: its syscall runs (or its result is delivered)
    /// when the FIFO drains.
    Completed,
    /// Parked on a descriptor until it is readable.
    WaitRead(i32),
    /// Parked on a descriptor until it is writable.
    WaitWrite(i32),
    /// Armed in the timer heap.
    Timer,
    /// Armed as the listener of a user event.
    Listener(u32),
    /// Running (or queued) on a file worker thread, on this descriptor.
    Pool(i32),
    /// A close waiting for the worker-thread operations on its descriptor.
    WaitPool(i32),
}

pub(crate) struct Slot<C> {
    pub generation: u32,
    pub place: Place,
    /// Set when the operation must complete with this errno instead of
    /// running its syscall (`ECANCELED` when withdrawn).
    pub forced: Option<Errno>,
    /// The result a worker thread produced, delivered on the next run.
    pub result: Option<Result<usize, Errno>>,
    pub op: Op<C>,
}

impl<C> Slot<C> {
    pub(crate) fn new() -> Slot<C> {
        Slot { generation: 0, place: Place::Free, forced: None, result: None, op: Op::Free }
    }
}

// One cache-line-and-a-half at most: the slot table is walked on every drain.
static_assertions::const_assert!(std::mem::size_of::<Slot<()>>() <= 96);
