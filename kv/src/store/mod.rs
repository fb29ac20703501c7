//! The store: a replicated write-ahead log on two data files, an in-memory
//! index, and a TCP front end, written once against `I: Io`.
//!
//! - Every mutation is a one-sector record (see `record.rs`) appended to the
//!   log. The log has two copies, `log.a` and `log.b`, written in parallel:
//!   a record damaged in one copy (bit-rot, a latent sector error, a
//!   misdirected or torn write) is read from the other and repaired.
//! - A put or delete is acknowledged only after its record is written to
//!   both copies and both are fsynced.
//! - Recovery (`recovery.rs`) replays the log from slot 0 along the chain of
//!   parent checksums, stops at the first slot where no copy holds the next
//!   record, repairs one-sided damage, and only then serves.
//! - A get reads the key's record from disk and checks it against the
//!   checksum the index remembers, so corruption is detected, never served.
//! - Any write or fsync error stops the store (`State::Failed`): after a
//!   failed fsync nothing about the file's contents can be trusted, so the
//!   process must restart and recover.

mod log;
mod net;
mod reads;
mod recovery;
mod sector;

pub use recovery::{COPY_NAMES, copy_places};

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;

use twinio::{DirectIo, Fd, Io, OpenError, SECTOR_SIZE};

use crate::protocol::Request;
use crate::record::RECORD_SIZE;
use crate::trace::Trace;

/// Bugs that can be planted on purpose, to show the simulation finds them.
/// All off in any real use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bugs {
    /// Acknowledge a write as soon as it is written, before the fsyncs.
    pub ack_before_fsync: bool,
    /// Serve a get's value without checking the record's checksum.
    pub skip_checksum: bool,
    /// Handle only the first frame of each recv; pipelined requests behind
    /// it wait for the next bytes to arrive.
    pub one_frame_per_recv: bool,
    /// Recovery stops one slot short of a full log: the last slot's record
    /// (an off-by-one at the end of the log) is not replayed.
    pub last_slot: bool,
    /// Recovery replays puts but not deletes: a deleted key's old value
    /// comes back after a restart.
    pub stale_after_restart: bool,
    /// Treat a short send as complete: the unsent tail of the answers is
    /// dropped, and the client waits for the rest of a frame.
    pub short_send: bool,
    /// Serve a get from a mutation still queued or being written: a value
    /// that a crash can still take back (a dirty read).
    pub dirty_read: bool,
}

/// How a store is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The directory holding `log.a` and `log.b`.
    pub dir: PathBuf,
    /// Records per log copy (each is one sector).
    pub slots: u64,
    /// Whether the log bypasses the page cache.
    pub direct_io: DirectIo,
    /// Where to listen for clients.
    pub listen: SocketAddr,
    /// Planted bugs (tests only).
    pub bugs: Bugs,
}

impl Config {
    /// The size of each log copy in bytes.
    pub fn file_size(&self) -> u64 {
        self.slots * RECORD_SIZE as u64
    }
}

/// Where the store is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Opening files and replaying the log.
    Recovering,
    /// Rewriting one-sided damage found by recovery.
    Repairing,
    /// Accepting requests.
    Serving,
    /// Stopped after an error it cannot recover from in place; `why` says
    /// what. The process must restart (and recover).
    Failed {
        /// What went wrong.
        why: &'static str,
    },
}

/// What the index knows of a live key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    slot: u64,
    /// The record's checksum: a get serves only this exact record.
    checksum: u32,
}

/// A request from a connection, remembered until it is answered.
#[derive(Debug)]
pub(crate) struct Pending {
    connection: net::ConnectionId,
    request: Request,
}

/// The key-value store. Its callbacks reach it through
/// `I::Context: AsMut<Store>`, so the same code runs with any context that
/// holds one (the server binary's, or the simulation's world).
#[derive(Debug)]
pub struct Store {
    config: Config,
    state: State,
    /// `log.a` and `log.b`, once open.
    files: [Option<Fd>; 2],
    listener: Option<Fd>,
    address: Option<SocketAddr>,
    index: BTreeMap<Vec<u8>, Entry>,
    /// The next free slot, and the checksum of the record before it.
    head: u64,
    head_checksum: u32,
    /// This run's epoch, written in each of its records (set by recovery).
    epoch: u64,
    /// Mutations waiting for the next batch.
    queued: VecDeque<Pending>,
    batch: Option<log::Batch>,
    recovery: recovery::Recovery,
    connections: net::Connections,
    reads: reads::Reads,
    /// Sector buffers for reads to reuse.
    spares: sector::Spares,
    /// Acknowledged mutations since start, for reporting.
    committed: u64,
    /// The path and system error behind a failure to open, for people.
    failure_detail: Option<String>,
    /// Batches written since start.
    batches: u64,
    /// Where the store's decisions are logged, if anywhere.
    trace: Option<Trace>,
}

impl AsMut<Store> for Store {
    fn as_mut(&mut self) -> &mut Store {
        self
    }
}

impl Store {
    /// A store that has not started yet.
    pub fn new(config: Config) -> Store {
        assert!(config.slots > 0, "a log needs at least one slot");
        assert_eq!(RECORD_SIZE, SECTOR_SIZE);
        Store {
            config,
            state: State::Recovering,
            files: [None, None],
            listener: None,
            address: None,
            index: BTreeMap::new(),
            head: 0,
            head_checksum: 0,
            epoch: 0,
            queued: VecDeque::new(),
            batch: None,
            recovery: recovery::Recovery::default(),
            connections: net::Connections::default(),
            reads: reads::Reads::default(),
            spares: sector::Spares::default(),
            committed: 0,
            failure_detail: None,
            batches: 0,
            trace: None,
        }
    }

    /// Opens (or formats) the log and starts recovery; the store listens
    /// once recovery is done. Runs on `io`'s loop from here on.
    pub fn start<I: Io>(&mut self, io: &mut I)
    where
        I::Context: AsMut<Store>,
    {
        recovery::start(self, io);
    }

    /// Logs the store's decisions (recovery, repairs, batches) to `trace`.
    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = Some(trace);
    }

    /// Notes a decision, if tracing; `what` is formatted only then.
    fn note<I: Io>(&self, io: &I, what: impl FnOnce() -> String) {
        if let Some(trace) = &self.trace {
            trace.note(io.now_ns(), format_args!("store: {}", what()));
        }
    }

    /// Where the store is in its life.
    pub fn state(&self) -> State {
        self.state
    }

    /// The address it listens on, once serving.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }

    /// Mutations acknowledged since start.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Records in the log.
    pub fn log_len(&self) -> u64 {
        self.head
    }

    /// Open client connections.
    pub fn connections(&self) -> usize {
        self.connections.len()
    }

    /// Live keys.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no key is live.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The log slot that holds `key`'s live record, if the index has one.
    pub fn slot_of(&self, key: &[u8]) -> Option<u64> {
        self.index.get(key).map(|entry| entry.slot)
    }

    /// What a failure to open was about: the path and the system error.
    pub fn failure_detail(&self) -> Option<&str> {
        self.failure_detail.as_deref()
    }

    /// Stops the store because a file could not be opened.
    fn fail_opening(&mut self, why: &'static str, path: &std::path::Path, error: OpenError) {
        let errno = error.errno().map(|errno| format!(" ({errno:?})")).unwrap_or_default();
        self.failure_detail = Some(format!("{}: {error}{errno}", path.display()));
        self.fail(why);
    }

    /// Stops the store for good: no more requests are served.
    fn fail(&mut self, why: &'static str) {
        if !matches!(self.state, State::Failed { .. }) {
            self.state = State::Failed { why };
        }
    }
}
