//! `IO<C>`: the real, single-threaded, callback-driven IO.
//!
//! The engine core (`src/engine`) runs the loop, written once for the
//! kernel and the twin; this backend supplies what is the kernel's:
//!
//! - attempting an operation: its syscall, *tried first* without asking
//!   whether the descriptor is ready; on `EAGAIN` the op parks on its
//!   descriptor (`io_pending`) until the poller reports readiness;
//! - the poller (kqueue on Apple and the BSDs, epoll on Linux): descriptors
//!   registered once, edge-triggered, their readiness kept per descriptor,
//!   so an op on a descriptor known not to be ready parks without a syscall;
//! - user events over the poller, with a trigger handle for other threads;
//! - a file driver for file reads, writes and fsyncs, chosen at init
//!   ([`FileDriver`]): an io_uring on Linux (its descriptor watched by the
//!   same epoll, so one wait serves sockets and files), a pool of worker
//!   threads, or the loop thread.
//!
//! `docs/design.md` walks through the loop and its differences from
//! TigerBeetle's `darwin.zig`.

mod attempt;
mod backend;
mod debug;
mod event;
mod fds;
mod options;
pub(crate) mod poller;
mod pool;
#[cfg(target_os = "linux")]
mod uring;

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use event::EventShared;
pub use event::EventTrigger;
use fds::FdTable;
pub use options::{DEFAULT_MAX_WAIT_NS, FileDriver, InitError, IoOptions, UNBOUNDED_WAIT};
use poller::Poller;
use pool::Pool;

use crate::clock::MonotonicClock;
use crate::engine::{Core, impl_io};
use crate::error::{Errno, EventError, HandOffError};
use crate::fd::{EventId, Fd};

/// The real IO over kqueue (Apple, BSDs) or epoll (Linux). See [`crate::Io`]
/// for the operations and `docs/design.md` for how the loop runs.
///
/// A loopback round trip, callbacks chaining the next operation:
///
/// ```
/// use twinio::*;
///
/// #[derive(Default)]
/// struct Ctx { echoed: Vec<u8> }
///
/// fn on_accept(_: &mut Ctx, io: &mut IO<Ctx>, done: AcceptDone) {
///     let peer = done.result.expect("accept");
///     io.recv(peer, Buffer::new(4096).unwrap(), .., 0, on_recv).unwrap();
/// }
/// fn on_recv(ctx: &mut Ctx, _: &mut IO<Ctx>, done: RecvDone) {
///     let n = done.result.expect("recv");
///     ctx.echoed.extend_from_slice(&done.buffer[..n]);
/// }
/// fn on_connect(_: &mut Ctx, io: &mut IO<Ctx>, done: ConnectDone) {
///     done.result.expect("connect");
///     let hello = Buffer::from_slice(b"hello").unwrap();
///     io.send(done.socket, hello, .., 0, |_, _, sent: SendDone| assert_eq!(sent.result, Ok(5)))
///         .unwrap();
/// }
///
/// let mut io: IO<Ctx> = IO::init(16)?;
/// let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default())?;
/// let address = io.listen(listener, "127.0.0.1:0".parse()?, 16)?;
/// let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default())?;
/// io.accept(listener, 0, on_accept)?;
/// io.connect(client, address, 0, on_connect)?;
/// let mut ctx = Ctx::default();
/// io.run_until_done_within(&mut ctx, 5_000_000_000)?;
/// assert_eq!(ctx.echoed, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct IO<C> {
    core: Core<IO<C>>,
    poller: Poller,
    clock: MonotonicClock,
    fds: FdTable,
    /// Operations parked on descriptors (TigerBeetle's `io_pending`).
    pending: usize,
    /// The active file driver (never `Auto`).
    driver: FileDriver,
    /// The io_uring, when `driver` is `IoUring`. Dropped first (in `drop`):
    /// its drop waits until the kernel is done with the slots' buffers.
    #[cfg(target_os = "linux")]
    ring: Option<uring::FileRing>,
    pool: Option<Pool>,
    /// Jobs handed to the pool whose results have not come back.
    pool_outstanding: usize,
    /// Closed events whose eventfd a trigger handle still holds open.
    retired_events: Vec<Arc<EventShared>>,
}

impl_io!(IO);

impl<C> IO<C> {
    /// Creates an IO with `entries` operation slots (the most operations in
    /// flight at once). All memory the loop needs is reserved here.
    pub fn init(entries: u32) -> Result<IO<C>, InitError> {
        IO::with_options(IoOptions::new(entries))
    }

    /// Creates an IO with explicit options.
    pub fn with_options(options: IoOptions) -> Result<IO<C>, InitError> {
        if options.entries == 0 || options.entries > (1 << 31) {
            return Err(InitError::InvalidEntries);
        }
        let core = Core::new(options.entries, options.max_wait_ns).ok_or(InitError::OutOfMemory)?;
        let mut poller = Poller::new().map_err(InitError::Poller)?;
        let mut fds = FdTable::default();
        fds.set_owned(poller.raw_fd(), true);
        #[cfg(target_os = "linux")]
        let mut ring = None;
        let mut pool = None;
        let driver = match options.file_driver {
            FileDriver::Workers(0) | FileDriver::LoopThread => FileDriver::LoopThread,
            FileDriver::Workers(threads) => {
                let wake = poller
                    .open_user_event(backend::POOL_EVENT_KEY)
                    .map_err(|error| InitError::Workers(error.errno().unwrap_or(Errno::ENOMEM)))?;
                if let Some(fd) = wake.raw_fd() {
                    fds.set_owned(fd, true);
                }
                let entries = options.entries as usize;
                pool = Some(Pool::start(threads, entries, wake).map_err(InitError::Workers)?);
                FileDriver::Workers(threads)
            }
            #[cfg(target_os = "linux")]
            forced @ (FileDriver::Auto | FileDriver::IoUring) => {
                match uring::FileRing::open(options.entries, &mut poller, &mut fds) {
                    Ok(opened) => {
                        ring = Some(opened);
                        FileDriver::IoUring
                    }
                    Err(errno) if forced == FileDriver::IoUring => {
                        return Err(InitError::IoUring(errno));
                    }
                    Err(_) => FileDriver::LoopThread,
                }
            }
            #[cfg(not(target_os = "linux"))]
            FileDriver::Auto => FileDriver::LoopThread,
            #[cfg(not(target_os = "linux"))]
            FileDriver::IoUring => return Err(InitError::IoUring(Errno::ENOSYS)),
        };
        Ok(IO {
            core,
            poller,
            clock: MonotonicClock::new(),
            fds,
            pending: 0,
            driver,
            #[cfg(target_os = "linux")]
            ring,
            pool,
            pool_outstanding: 0,
            retired_events: Vec::new(),
        })
    }

    /// The number of operation slots reserved at `init`.
    pub fn entries(&self) -> usize {
        self.core.slots.len()
    }

    /// Timeouts armed and not yet expired.
    pub fn timeouts_armed(&self) -> usize {
        self.core.timers.len()
    }

    /// The number of file worker threads (0: file operations run on the
    /// io_uring or the loop thread).
    pub fn file_workers(&self) -> usize {
        self.pool.as_ref().map_or(0, Pool::threads)
    }

    /// The file driver in use: what [`FileDriver::Auto`] chose, or what was
    /// forced. Never `Auto`.
    pub fn file_driver(&self) -> FileDriver {
        self.driver
    }

    /// io_uring operations (and cancels) whose completion is not reaped.
    #[inline]
    fn ring_in_flight(&self) -> u32 {
        #[cfg(target_os = "linux")]
        if let Some(ring) = &self.ring {
            return ring.in_flight();
        }
        0
    }

    /// A handle that triggers `event` from any thread.
    pub fn event_trigger_handle(&self, event: EventId) -> Result<EventTrigger, EventError> {
        let at = crate::engine::events::lookup(self, event).ok_or(EventError::UnknownEvent)?;
        let shared = self.core.events.slots[at].data.as_ref().ok_or(EventError::UnknownEvent)?;
        Ok(EventTrigger { shared: Arc::clone(shared) })
    }

    /// Takes over a descriptor the caller opened (a std `TcpListener`, a
    /// file): from now on it is used and closed through this IO. It is
    /// made non-blocking, as every descriptor of the loop must be.
    pub fn adopt(&mut self, fd: OwnedFd) -> Result<Fd, HandOffError> {
        let raw = fd.into_raw_fd();
        if let Err(errno) = crate::sys::set_nonblocking(raw) {
            // SAFETY: `raw` came from an `OwnedFd` just now and nothing
            // else owns it: rebuilding the owner closes it exactly once.
            drop(unsafe { OwnedFd::from_raw_fd(raw) });
            return Err(HandOffError::from_errno(errno));
        }
        self.fds.adopt(raw, crate::options::SocketOptions::default());
        if crate::sys::file::is_positioned(raw) {
            self.fds.mark_file(raw);
        }
        Ok(Fd::from_raw(raw))
    }

    /// Hands descriptor `fd` back to the caller, who then owns (and
    /// closes) it. Refused for a descriptor with operations in flight
    /// ([`HandOffError::Busy`]), for the IO's own descriptors and for a
    /// number that is not open ([`HandOffError::BadFileDescriptor`]).
    pub fn hand_back(&mut self, fd: Fd) -> Result<OwnedFd, HandOffError> {
        let raw = fd.raw();
        if raw < 0 || self.fds.owned(raw) || !crate::sys::is_open(raw) {
            return Err(HandOffError::BadFileDescriptor);
        }
        let busy = self.core.slots.iter().any(|slot| slot.op.fd() == Some(raw));
        if busy {
            return Err(HandOffError::Busy);
        }
        if self.fds.get(raw).is_some_and(|state| state.registered) {
            self.poller.deregister(raw);
        }
        self.fds.reset(raw);
        // SAFETY: `raw` is open (checked above), not one of the IO's own
        // descriptors, and no operation will use it again: the IO gives up
        // every claim on it, so the new owner is its only owner.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }
}

impl<C> Drop for IO<C> {
    fn drop(&mut self) {
        // The kernel may still write into slot buffers: the ring's drop
        // cancels what is in flight and waits for every completion, before
        // the fields (the slots among them) are dropped.
        #[cfg(target_os = "linux")]
        drop(self.ring.take());
        // Workers may hold pointers into slot buffers: join them first.
        if let Some(pool) = self.pool.as_mut() {
            pool.shutdown();
        }
        // Late triggers from other threads must see `Closed`, not succeed silently.
        for slot in &self.core.events.slots {
            if let Some(shared) = &slot.data {
                shared.closed.store(true, Ordering::Release);
            }
        }
    }
}

// One cache line and a half at most: the slot table is walked on every drain.
static_assertions::const_assert!(std::mem::size_of::<crate::engine::op::Slot<IO<()>>>() <= 96);
