//! Operation slots of the twin, reserved at construction: a submit takes a
//! free slot, its completion releases it. An [`crate::OpId`] carries the
//! slot's generation, so a stale id never reaches a newer operation.

use std::net::SocketAddr;

use super::SimIO;
use super::node::NodeId;
use crate::buffer::Buffer;
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::Errno;
use crate::fd::EventId;
use crate::io::Callback;

/// A buffer and the half-open byte range of it an operation works on.
pub(crate) struct Span {
    pub buffer: Buffer,
    pub start: usize,
    pub end: usize,
}

pub(crate) enum Op<C> {
    Free,
    Accept {
        fd: i32,
        tag: u64,
        callback: Callback<SimIO<C>, AcceptDone>,
    },
    Connect {
        fd: i32,
        address: SocketAddr,
        started: bool,
        tag: u64,
        callback: Callback<SimIO<C>, ConnectDone>,
    },
    Recv {
        fd: i32,
        span: Span,
        tag: u64,
        callback: Callback<SimIO<C>, RecvDone>,
    },
    Send {
        fd: i32,
        span: Span,
        tag: u64,
        callback: Callback<SimIO<C>, SendDone>,
    },
    Read {
        fd: i32,
        span: Span,
        offset: u64,
        tag: u64,
        callback: Callback<SimIO<C>, ReadDone>,
    },
    Write {
        fd: i32,
        span: Span,
        offset: u64,
        tag: u64,
        callback: Callback<SimIO<C>, WriteDone>,
    },
    Fsync {
        fd: i32,
        tag: u64,
        callback: Callback<SimIO<C>, FsyncDone>,
    },
    Close {
        fd: i32,
        waiters_canceled: bool,
        tag: u64,
        callback: Callback<SimIO<C>, CloseDone>,
    },
    Timeout {
        tag: u64,
        callback: Callback<SimIO<C>, TimeoutDone>,
    },
    EventListen {
        /// The event listened on: a canceled listener that a trigger had
        /// already fired hands that trigger back to it.
        event: EventId,
        tag: u64,
        callback: Callback<SimIO<C>, EventDone>,
    },
}

impl<C> Op<C> {
    /// A small number naming the kind, for the trace.
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

    /// The descriptor a network operation works on.
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
pub(crate) enum Place {
    Free,
    /// In the ready FIFO: it runs (or its callback does) when the FIFO drains.
    Ready,
    /// In the event queue until its time comes (a timeout, or a storage
    /// operation's latency).
    Queued,
    /// A network operation that would block, retried every pass.
    Parked,
    /// Armed as the listener of a user event.
    Listener(u32),
}

pub(crate) struct Slot<C> {
    pub generation: u32,
    pub place: Place,
    /// Complete with this errno instead of running (`ECANCELED` when withdrawn).
    pub forced: Option<Errno>,
    /// The node that submitted the operation (its callback runs as that node).
    pub node: NodeId,
    /// A storage operation whose latency has elapsed: it runs now.
    pub due: bool,
    /// The file a storage operation was issued against (resolved from its
    /// descriptor at issue, as the kernel holds the open file).
    pub file: u32,
    pub op: Op<C>,
}

impl<C> Slot<C> {
    pub(crate) fn new() -> Slot<C> {
        Slot {
            generation: 0,
            place: Place::Free,
            forced: None,
            node: NodeId::FIRST,
            due: false,
            file: 0,
            op: Op::Free,
        }
    }
}
