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
/// use twinio::{FileDriver, IO, IoOptions};
/// let options = IoOptions::new(256).max_wait_ns(50_000_000).file_workers(2);
/// let io: IO<()> = IO::with_options(options)?;
/// assert_eq!(io.entries(), 256);
/// assert_eq!(io.file_driver(), FileDriver::Workers(2));
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
    /// Where file reads, writes and fsyncs run ([`FileDriver::Auto`] by
    /// default).
    pub file_driver: FileDriver,
}

/// Where an IO runs its file reads, writes and fsyncs, chosen at init.
/// Sockets always stay on the readiness engine (epoll / kqueue).
///
/// Every driver gives the same semantics: exactly one callback per
/// operation, a `close` that waits for the file operations in flight on its
/// descriptor, and the same fsync guarantee (`docs/durability.md`): *an
/// fsync covers the writes whose callbacks ran before it was submitted*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileDriver {
    /// [`FileDriver::IoUring`] where the kernel grants a ring, else
    /// [`FileDriver::LoopThread`]. The fallback is the loop thread, not
    /// workers, so that `Auto` never starts threads the caller did not ask
    /// for, and gives on a refused Linux (seccomp, `io_uring_disabled`, an
    /// old kernel) what it gives on Apple and the BSDs, which have no ring.
    /// A caller who wants workers after a refusal forces `IoUring` and, on
    /// [`InitError::IoUring`], initialises again with `Workers(n)`.
    Auto,
    /// An io_uring (Linux 5.11 or later): many operations in flight,
    /// submitted a few per `io_uring_enter` as a pass produces them (and
    /// the rest at its end), completions reaped after every wait. Refused at init (`InitError::IoUring`) where there is
    /// none.
    IoUring,
    /// A pool of this many worker threads, each running one blocking
    /// syscall at a time. `Workers(0)` is `LoopThread`.
    Workers(u32),
    /// On the loop thread, one at a time, as `darwin.zig` does: a slow disk
    /// stalls the network for the length of each syscall.
    LoopThread,
}

impl IoOptions {
    /// `entries` slots, an unbounded wait, [`FileDriver::Auto`].
    pub fn new(entries: u32) -> IoOptions {
        IoOptions { entries, max_wait_ns: UNBOUNDED_WAIT, file_driver: FileDriver::Auto }
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

    /// Sets where file operations run.
    pub fn file_driver(mut self, driver: FileDriver) -> IoOptions {
        self.file_driver = driver;
        self
    }

    /// Shorthand for `file_driver(FileDriver::Workers(threads))` (0: the
    /// loop thread).
    pub fn file_workers(self, threads: u32) -> IoOptions {
        self.file_driver(FileDriver::Workers(threads))
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
    /// [`FileDriver::IoUring`] was asked for and the kernel refused a ring
    /// (`ENOSYS`: none, or older than 5.11; `EPERM`: seccomp or
    /// `kernel.io_uring_disabled`; on other systems always `ENOSYS`), or the
    /// ring's descriptor could not be watched by the poller.
    IoUring(Errno),
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
            InitError::IoUring(errno) => {
                write!(f, "the kernel refused an io_uring: {}", errno.desc())
            }
        }
    }
}

impl std::error::Error for InitError {}
