//! The twin's event log: every submit and completion, every injected
//! storage fault, every crash and restart, as they happen, for a caller
//! that wants to explain a run (`SimIO::set_event_log`). Off by default;
//! it changes nothing about the run (not its draws, not its trace hash).

use std::fmt;

use super::config::CrashPolicy;
use super::node::NodeId;
use crate::error::Errno;
use crate::fd::Fd;

/// Which operation an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// `accept`
    Accept,
    /// `connect`
    Connect,
    /// `recv`
    Recv,
    /// `send`
    Send,
    /// `read`
    Read,
    /// `write`
    Write,
    /// `fsync`
    Fsync,
    /// `close`
    Close,
    /// `timeout`
    Timeout,
    /// `event_listen`
    EventListen,
}

impl OpKind {
    /// From the core's kind number (`Op::kind`).
    pub(crate) fn from_code(code: u64) -> OpKind {
        match code {
            1 => OpKind::Accept,
            2 => OpKind::Connect,
            3 => OpKind::Recv,
            4 => OpKind::Send,
            5 => OpKind::Read,
            6 => OpKind::Write,
            7 => OpKind::Fsync,
            8 => OpKind::Close,
            9 => OpKind::Timeout,
            _ => OpKind::EventListen,
        }
    }
}

/// A storage fault the twin injected (see `StorageFaults`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum StorageFault {
    /// A sector became unreadable (`EIO` until rewritten).
    LatentSectorError,
    /// One bit of a sector flipped.
    BitRot,
    /// A burst of bits of a sector flipped.
    MultiBitRot,
    /// A whole sector became garbage.
    SectorGarbage,
    /// A read moved fewer bytes than asked.
    ShortRead,
    /// A read returned another sector's data.
    MisdirectedRead,
    /// A read returned an older version of a sector.
    StaleRead,
    /// A write failed with `ENOSPC`.
    NoSpace,
    /// A write failed with `EIO`, part of it landed.
    WriteIoError,
    /// A write moved fewer bytes than asked.
    ShortWrite,
    /// A write landed only a prefix of its sectors.
    TornWrite,
    /// A write landed at another place.
    MisdirectedWrite,
    /// Writeback of the file failed later (the next fsync reports it).
    WritebackError,
    /// An fsync failed with `EIO`.
    FsyncError,
    /// An fsync failed with `ENOSPC` or `EDQUOT`.
    FsyncNoSpace,
}

const ALL_FAULTS: [StorageFault; 15] = [
    StorageFault::LatentSectorError,
    StorageFault::BitRot,
    StorageFault::MultiBitRot,
    StorageFault::SectorGarbage,
    StorageFault::ShortRead,
    StorageFault::MisdirectedRead,
    StorageFault::StaleRead,
    StorageFault::NoSpace,
    StorageFault::WriteIoError,
    StorageFault::ShortWrite,
    StorageFault::TornWrite,
    StorageFault::MisdirectedWrite,
    StorageFault::WritebackError,
    StorageFault::FsyncError,
    StorageFault::FsyncNoSpace,
];

/// A set of storage faults (those one operation drew).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StorageFaultSet(u32);

impl StorageFaultSet {
    pub(crate) fn insert(&mut self, fault: StorageFault) {
        self.0 |= 1 << fault as u8;
    }

    /// No fault fired.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The faults in the set, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = StorageFault> + '_ {
        ALL_FAULTS.into_iter().filter(|&fault| self.0 & (1 << fault as u8) != 0)
    }
}

/// One thing that happened on `node`, when `node`'s clock read `at_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimEvent {
    /// `node`'s clock (`SimIO::node_now_ns`), as the node's own log would
    /// stamp it; true time when the clock faults are off. Events come in
    /// the order they happened, whatever their nodes' clocks say.
    pub at_ns: u64,
    /// The node it happened on (for a completion: the node that submitted).
    pub node: NodeId,
    /// What happened.
    pub kind: SimEventKind,
}

/// What a [`SimEvent`] says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimEventKind {
    /// An operation was accepted.
    Submit {
        /// Which operation.
        op: OpKind,
        /// Its descriptor, if it has one.
        fd: Option<Fd>,
        /// File offset (0 for operations without one).
        offset: u64,
        /// Bytes it asks to move (0 for operations without a buffer).
        len: usize,
        /// The caller's tag.
        tag: u64,
    },
    /// An operation's callback is about to run with `result` (errno-level;
    /// the callback gets it typed).
    Complete {
        /// Which operation.
        op: OpKind,
        /// Its descriptor, if it has one.
        fd: Option<Fd>,
        /// Bytes moved (or the accepted descriptor's number), or the errno.
        result: Result<usize, Errno>,
        /// The caller's tag.
        tag: u64,
    },
    /// Storage faults the twin drew for one operation on `fd`.
    StorageFaults {
        /// The operation's descriptor.
        fd: Fd,
        /// Its file offset.
        offset: u64,
        /// What fired.
        faults: StorageFaultSet,
    },
    /// The node lost power.
    Crash {
        /// What the crash did to unsynced data.
        policy: CrashPolicy,
    },
    /// The node came back.
    Restart,
    /// The node was paused (it runs nothing meanwhile; its clock goes on).
    Pause {
        /// For how long, in true time.
        ns: u64,
    },
}

impl fmt::Display for SimEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.at_ns as f64 / 1e6;
        write!(f, "{ms:.3} ms {}: {}", self.node, self.kind)
    }
}

impl fmt::Display for SimEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fd = |fd: Option<Fd>| fd.map_or(String::new(), |fd| format!(" fd {fd}"));
        match *self {
            SimEventKind::Submit { op, fd: on, offset, len, tag } => {
                write!(f, "submit {op:?}{} @{offset}+{len} tag {tag}", fd(on))
            }
            SimEventKind::Complete { op, fd: on, result, tag } => {
                write!(f, "complete {op:?}{} {result:?} tag {tag}", fd(on))
            }
            SimEventKind::StorageFaults { fd, offset, faults } => {
                write!(f, "fault fd {fd} @{offset}:")?;
                for fault in faults.iter() {
                    write!(f, " {fault:?}")?;
                }
                Ok(())
            }
            SimEventKind::Crash { policy } => write!(f, "crash ({policy})"),
            SimEventKind::Restart => f.write_str("restart"),
            SimEventKind::Pause { ns } => write!(f, "pause for {:.3} ms", ns as f64 / 1e6),
        }
    }
}

/// Where the events go.
pub type EventLog = Box<dyn FnMut(&SimEvent)>;
