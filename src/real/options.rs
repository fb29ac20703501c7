//! Construction options and errors of the real IO.

use crate::error::Errno;

/// A bounded wait for those who want one (`IoOptions::max_wait_ns`): one
/// second. It is also the twin's wait, in virtual time, when nothing else
/// bounds it.
pub const DEFAULT_MAX_WAIT_NS: u64 = 1_000_000_000;

/// The default `max_wait_ns`: with no timeout armed, a waiting pass blocks
/// until an event, arming no timer (as mio and `darwin.zig` do). Measured
/// on the 1-connection ping-pong, it costs 3% less CPU than a 1 s bound
/// (docs/benchmarks.md); a run is bounded with `run_once_within` /
/// `run_until_done_within` or a timeout.
pub const UNBOUNDED_WAIT: u64 = u64::MAX;

/// Construction options for [`crate::IO`], built from [`IoOptions::new`]
/// and its setters (fields may be added, so it is not built literally).
///
/// ```
/// use twinio::{IO, IoOptions};
/// let options = IoOptions::new(256).max_wait_ns(50_000_000).file_workers(2);
/// let io: IO<()> = IO::with_options(options)?;
/// assert_eq!(io.entries(), 256);
/// # Ok::<(), twinio::InitError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoOptions {
    /// Operation slots reserved up front: the most operations in flight at once.
    pub entries: u32,
    /// The longest a waiting `flush` blocks when no timeout is armed
    /// ([`UNBOUNDED_WAIT`], the default: until an event).
    pub max_wait_ns: u64,
    /// Worker threads for file reads, writes and fsyncs. Zero (the default)
    /// runs them on the loop thread, as `darwin.zig` does.
    pub file_workers: u32,
}

impl IoOptions {
    /// `entries` slots, an unbounded wait, no file workers.
    pub fn new(entries: u32) -> IoOptions {
        IoOptions { entries, max_wait_ns: UNBOUNDED_WAIT, file_workers: 0 }
    }

    /// Sets the number of operation slots.
    pub fn entries(mut self, entries: u32) -> IoOptions {
        self.entries = entries;
        self
    }

    /// Sets the longest a waiting `flush` blocks when no timeout is armed.
    /// [`UNBOUNDED_WAIT`] lets it block until an event, arming no timer
    /// (as mio and `darwin.zig` do); a `flush(true)` with nothing in flight
    /// still returns at once, and `run_once_within` / `run_until_done_within`
    /// still bound a run.
    pub fn max_wait_ns(mut self, ns: u64) -> IoOptions {
        self.max_wait_ns = ns;
        self
    }

    /// Sets the number of file worker threads (0: the loop thread).
    pub fn file_workers(mut self, threads: u32) -> IoOptions {
        self.file_workers = threads;
        self
    }
}

/// Why [`crate::IO::init`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// `entries` is zero, or too large to index.
    InvalidEntries,
    /// The kernel poller could not be created.
    Poller(Errno),
    /// A file worker thread (or its wake-up event) could not be created.
    Workers(Errno),
    /// The memory for `entries` operation slots could not be reserved.
    OutOfMemory,
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::InvalidEntries => f.write_str("entries must be between 1 and 2^31"),
            InitError::Poller(errno) => write!(f, "creating the poller failed: {}", errno.desc()),
            InitError::Workers(errno) => {
                write!(f, "starting the file workers failed: {}", errno.desc())
            }
            InitError::OutOfMemory => f.write_str("not enough memory for the operation slots"),
        }
    }
}

impl std::error::Error for InitError {}
