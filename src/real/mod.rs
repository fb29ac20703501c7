//! `IO<C>`: the real, single-threaded, callback-driven IO.
//!
//! The engine follows TigerBeetle's `darwin.zig`, written once over a small
//! readiness poller (kqueue on Apple and the BSDs, epoll on Linux):
//!
//! 1. A submit takes a reserved slot and appends the operation to
//!    `completed`: it is *tried first*, without asking the kernel whether it
//!    is ready.
//! 2. `flush` fires due timeouts (a heap), polls the kernel only when nothing
//!    is ready to run (waiting no longer than the nearest timeout), moves
//!    operations on descriptors the kernel reported ready back to
//!    `completed`, and drains `completed`: each operation runs its syscall;
//!    on `EAGAIN` it parks on its descriptor (`io_pending`), otherwise its
//!    callback runs. Work submitted by callbacks is drained in the same pass.
//! 3. Descriptors are registered once, edge-triggered, and the engine keeps
//!    their readiness: an operation on a descriptor known not to be ready
//!    parks without a syscall; a short read or write marks it not ready.
//!
//! `docs/design.md` walks through the loop and its differences from
//! `darwin.zig`.

mod control;
mod event;
mod op;
pub(crate) mod poller;
mod pool;
#[cfg(target_os = "linux")]
mod uring;

use std::net::SocketAddr;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use event::EventTrigger;
use event::{EventShared, EventSlot};
use op::{Op, Place, Slot, Span};
use poller::{PollEvent, Poller, Token};
use pool::{BufferPtr, Job, JobKind, Pool};

use crate::buffer::{Buffer, resolve_range};
use crate::clock::{Clock, MonotonicClock};
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::{
    AcceptError, CancelError, CloseError, ConnectError, Errno, EventError, FsyncError, ListenError,
    OpenError, ReadError, RecvError, Rejected, RunError, SendError, ShutdownError, SocketError,
    SubmitError, TimeoutError, WriteError,
};
use crate::fd::{EventId, Fd, OpId};
use crate::io::{Callback, Io};
use crate::list::{Link, List};
use crate::options::{AddressFamily, DirectIo, FilePurpose, FsyncMode, Shutdown, SocketOptions};
use crate::sys;
use crate::timer_heap::TimerHeap;

/// The most operations one pass drains, so that a chain of operations that
/// always complete at once (reads of a file, say) cannot starve timers and
/// network readiness. What is left runs in the next pass, which then polls
/// without waiting.
const DRAIN_BUDGET: usize = 4096;

/// How long a waiting `flush` blocks when no timeout bounds it: it never
/// waits forever.
pub const DEFAULT_MAX_WAIT_NS: u64 = 1_000_000_000;

/// Construction options for [`IO`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoOptions {
    /// Operation slots reserved up front: the most operations in flight at once.
    pub entries: u32,
    /// The longest a waiting `flush` blocks when no timeout is armed.
    pub max_wait_ns: u64,
    /// Worker threads for file reads, writes and fsyncs. Zero (the default)
    /// runs them on the loop thread, as `darwin.zig` does.
    pub file_workers: u32,
}

impl IoOptions {
    /// `entries` slots and the default maximum wait.
    pub fn new(entries: u32) -> IoOptions {
        IoOptions { entries, max_wait_ns: DEFAULT_MAX_WAIT_NS, file_workers: 0 }
    }
}

/// Why [`IO::init`] failed.
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

/// Per-descriptor readiness, kept because registration is edge-triggered.
#[derive(Clone, Copy, Debug)]
struct FdState {
    registered: bool,
    readable: bool,
    writable: bool,
    readers: List,
    writers: List,
    /// Closes waiting for this descriptor's worker-thread operations.
    closers: List,
    /// Operations on this descriptor queued or running on worker threads.
    in_pool: u32,
    /// Options given at `open_socket`; a listener passes them to accepted sockets.
    options: SocketOptions,
}

impl FdState {
    const FRESH: FdState = FdState {
        registered: false,
        readable: true,
        writable: true,
        readers: List::new(),
        writers: List::new(),
        closers: List::new(),
        in_pool: 0,
        options: SocketOptions { nodelay: false, recv_buffer_size: None, send_buffer_size: None },
    };
}

/// Which readiness an operation waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Read,
    Write,
}

/// The real IO over kqueue (Apple, BSDs) or epoll (Linux). See [`Io`] for
/// the operations and `docs/design.md` for how the loop runs.
pub struct IO<C> {
    poller: Poller,
    clock: MonotonicClock,
    slots: Vec<Slot<C>>,
    links: Vec<Link>,
    free: Vec<u32>,
    completed: List,
    timers: TimerHeap,
    fds: Vec<FdState>,
    events: Vec<EventSlot>,
    free_events: Vec<u32>,
    /// Operations parked on descriptors (TigerBeetle's `io_pending`).
    pending: usize,
    armed_listeners: usize,
    in_flush: bool,
    /// `stop()` was called: the current `run_*` returns after this pass.
    stop_requested: bool,
    /// Callbacks run so far (`run_once` waits for this to move).
    callbacks_run: u64,
    pool: Option<Pool>,
    /// Jobs handed to the pool whose results have not come back.
    pool_outstanding: usize,
    /// The last drain stopped at its budget: poll without waiting first.
    budget_exhausted: bool,
    max_wait_ns: u64,
}

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
        let entries = options.entries as usize;
        // Reserved fallibly: a count the memory cannot hold is an error, not
        // an abort (the slot table alone is about 100 bytes per entry).
        let mut slots = Vec::new();
        slots.try_reserve_exact(entries).map_err(|_| InitError::OutOfMemory)?;
        slots.extend((0..entries).map(|_| Slot::new()));
        let mut poller = Poller::new().map_err(InitError::Poller)?;
        let pool = match options.file_workers {
            0 => None,
            threads => {
                let wake = poller
                    .open_user_event(POOL_EVENT_KEY)
                    .map_err(|error| InitError::Workers(error.errno().unwrap_or(Errno::ENOMEM)))?;
                Some(Pool::start(threads, entries, wake).map_err(InitError::Workers)?)
            }
        };
        Ok(IO {
            poller,
            clock: MonotonicClock::new(),
            slots,
            links: vec![Link::UNLINKED; entries],
            free: (0..options.entries).rev().collect(),
            completed: List::new(),
            timers: TimerHeap::with_capacity(entries),
            fds: Vec::new(),
            events: Vec::new(),
            free_events: Vec::new(),
            pending: 0,
            armed_listeners: 0,
            in_flush: false,
            stop_requested: false,
            callbacks_run: 0,
            pool,
            pool_outstanding: 0,
            budget_exhausted: false,
            max_wait_ns: options.max_wait_ns,
        })
    }

    /// The number of operation slots reserved at `init`.
    pub fn entries(&self) -> usize {
        self.slots.len()
    }

    /// Timeouts armed and not yet expired.
    pub fn timeouts_armed(&self) -> usize {
        self.timers.len()
    }

    /// Operations in flight (submitted, callback not yet run).
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// A handle that triggers `event` from any thread.
    pub fn event_trigger_handle(&self, event: EventId) -> Result<EventTrigger, EventError> {
        let slot = self.event_slot(event).ok_or(EventError::UnknownEvent)?;
        let shared = slot.shared.as_ref().ok_or(EventError::UnknownEvent)?;
        Ok(EventTrigger { shared: Arc::clone(shared) })
    }

    // ---- submission ----

    /// Queues `op` in free slot `index`, just taken off the free list: the
    /// operation is built in place, and a free slot's `forced` and `result`
    /// are already clear (`release` clears them).
    ///
    /// Always inlined (profiled): out of line, the op was built on the
    /// caller's stack and copied into the slot, behind a full prologue.
    #[inline(always)]
    fn queue(&mut self, index: u32, op: Op<C>) -> OpId {
        let slot = &mut self.slots[index as usize];
        debug_assert!(matches!(slot.op, Op::Free) && slot.place == Place::Free);
        debug_assert!(slot.forced.is_none() && slot.result.is_none());
        // The free slot holds `Op::Free`, which owns nothing: forgetting it
        // skips the drop glue an assignment would branch through.
        std::mem::forget(std::mem::replace(&mut slot.op, op));
        slot.place = Place::Completed;
        let id = OpId { slot: index, generation: slot.generation };
        self.completed.push_back(&mut self.links, index);
        id
    }

    #[inline]
    fn submit_plain(&mut self, op: Op<C>) -> Result<OpId, SubmitError> {
        let Some(index) = self.free.pop() else {
            return Err(SubmitError::NoFreeSlot);
        };
        Ok(self.queue(index, op))
    }

    /// Validates a buffer range and submits the op `make` builds from it,
    /// handing the buffer back on refusal. Always inlined into `recv`,
    /// `send`, `read` and `write` (profiled: out of line, the call and the
    /// op's trip through the stack cost a fifth of a submit).
    #[inline(always)]
    fn submit_span(
        &mut self,
        fd: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        offset: Option<u64>,
        make: impl FnOnce(i32, Span) -> Op<C>,
    ) -> Result<OpId, Rejected<Buffer>> {
        let checked = check_span(fd, &buffer, range, offset);
        let (start, end) = match checked {
            Ok(bounds) => bounds,
            Err(error) => return Err(Rejected { error, returned: buffer }),
        };
        // The slot is taken before the op is built, so a refusal hands the
        // buffer back without building (and unpacking) an op.
        let Some(index) = self.free.pop() else {
            return Err(Rejected { error: SubmitError::NoFreeSlot, returned: buffer });
        };
        Ok(self.queue(index, make(fd.raw(), Span { buffer, start, end })))
    }

    /// Takes the operation out of slot `index` and frees the slot, in one
    /// borrow of it.
    #[inline]
    fn release(&mut self, index: u32) -> Op<C> {
        let slot = &mut self.slots[index as usize];
        let op = std::mem::replace(&mut slot.op, Op::Free);
        slot.place = Place::Free;
        slot.forced = None;
        slot.result = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        op
    }

    // ---- descriptors ----

    fn fd_state(&mut self, fd: i32) -> &mut FdState {
        let at = fd as usize;
        if at >= self.fds.len() {
            // Grows once per new highest descriptor, never per operation.
            self.fds.resize(at + 1, FdState::FRESH);
        }
        &mut self.fds[at]
    }

    /// Forgets what is known of a descriptor number the kernel just handed
    /// out: any earlier descriptor with this number is gone.
    fn adopt_fd(&mut self, fd: i32, options: SocketOptions) {
        let state = self.fd_state(fd);
        debug_assert!(state.readers.is_empty() && state.writers.is_empty());
        *state = FdState { options, ..FdState::FRESH };
    }

    /// Parks operation `index` on `fd` until it is ready in `direction`,
    /// registering the descriptor on first use. On a registration error the
    /// operation must complete with that errno instead.
    #[inline]
    fn park(&mut self, index: u32, fd: i32, direction: Direction) -> Result<(), Errno> {
        let state = match self.fds.get_mut(fd as usize) {
            Some(state) if state.registered => state,
            // Once per descriptor: kept out of line, off the per-op path.
            _ => return self.register_and_park(index, fd, direction),
        };
        let (list, place) = match direction {
            Direction::Read => (&mut state.readers, Place::WaitRead(fd)),
            Direction::Write => (&mut state.writers, Place::WaitWrite(fd)),
        };
        list.push_back(&mut self.links, index);
        self.slots[index as usize].place = place;
        self.pending += 1;
        Ok(())
    }

    #[cold]
    fn register_and_park(
        &mut self,
        index: u32,
        fd: i32,
        direction: Direction,
    ) -> Result<(), Errno> {
        if !self.fd_state(fd).registered {
            self.poller.register(fd)?;
            self.fd_state(fd).registered = true;
        }
        self.park(index, fd, direction)
    }

    /// Moves every operation parked on `fd` in `direction` to `completed`,
    /// optionally forcing their result.
    fn wake(&mut self, fd: i32, direction: Direction, forced: Option<Errno>) {
        let Some(state) = self.fds.get_mut(fd as usize) else { return };
        let list = match direction {
            Direction::Read => &mut state.readers,
            Direction::Write => &mut state.writers,
        };
        self.pending -=
            wake_list(list, &mut self.links, &mut self.slots, &mut self.completed, forced);
    }

    // ---- events ----

    fn event_slot(&self, event: EventId) -> Option<&EventSlot> {
        let slot = self.events.get(event.index as usize)?;
        (slot.generation == event.generation && slot.shared.is_some()).then_some(slot)
    }

    /// Gives a trigger back to `event` (if it is still open): to the
    /// listener armed since, or kept pending for the next one.
    fn return_trigger(&mut self, event: EventId) {
        if self.event_slot(event).is_some() {
            self.events[event.index as usize].fired = false;
            self.deliver_trigger(event.index);
        }
    }

    fn deliver_trigger(&mut self, index: u32) {
        let slot = &mut self.events[index as usize];
        match slot.listener.take() {
            Some(op) => {
                slot.fired = true;
                self.armed_listeners -= 1;
                self.slots[op as usize].place = Place::Completed;
                self.completed.push_back(&mut self.links, op);
            }
            // The fired listener's callback has not started: it will see
            // whatever this trigger announces.
            None if slot.fired => {}
            None => slot.pending = true,
        }
    }

    // ---- the loop ----

    fn flush_guarded(
        &mut self,
        ctx: &mut C,
        wait: bool,
        deadline: Option<u64>,
    ) -> Result<(), RunError> {
        if self.in_flush {
            return Err(RunError::Reentrant);
        }
        self.in_flush = true;
        let result = self.flush_pass(ctx, wait, deadline);
        self.in_flush = false;
        result
    }

    fn flush_pass(
        &mut self,
        ctx: &mut C,
        wait: bool,
        deadline: Option<u64>,
    ) -> Result<(), RunError> {
        // The clock is read only when a timer or a deadline needs it: a pass
        // of pure network IO skips the read and the empty heap (profiled: a
        // tenth of the engine's instructions per loopback round trip).
        let clocked = !self.timers.is_empty() || deadline.is_some();
        let now = if clocked { self.clock.now_ns() } else { 0 };
        if clocked {
            self.expire_timers(now);
        }
        if self.completed.is_empty() || self.budget_exhausted {
            let timeout = if wait && self.completed.is_empty() {
                self.wait_timeout(now, deadline)
            } else {
                0
            };
            let in_kernel = self.waits_in_kernel();
            // Nothing can become ready and nothing to sleep for: skip the syscall.
            if in_kernel || timeout > 0 {
                let ready = self.poller.wait(timeout).map_err(RunError::Poller)?;
                for i in 0..ready {
                    let event = self.poller.event(i);
                    self.dispatch(event);
                }
                if timeout > 0 && !self.timers.is_empty() {
                    self.expire_timers(self.clock.now_ns());
                }
            }
        }
        self.drain(ctx);
        Ok(())
    }

    /// How long the kernel wait may block: until the nearest timeout or the
    /// run's deadline; when neither exists, `max_wait_ns` if anything waits in
    /// the kernel, else not at all.
    fn wait_timeout(&self, now: u64, deadline: Option<u64>) -> u64 {
        let bound = match (self.timers.next_deadline(), deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match bound {
            Some(at) => at.saturating_sub(now),
            None if self.waits_in_kernel() => self.max_wait_ns,
            None => 0,
        }
    }

    /// Something can only be completed by the kernel (or a worker thread).
    fn waits_in_kernel(&self) -> bool {
        self.pending > 0 || self.armed_listeners > 0 || self.pool_outstanding > 0
    }

    pub(crate) fn clock_now(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Moves finished worker-thread operations to `completed`.
    fn harvest_pool(&mut self) {
        let Some(pool) = self.pool.as_mut() else { return };
        for (index, result) in pool.harvest() {
            let slot = &mut self.slots[index as usize];
            let Place::Pool(fd) = slot.place else { unreachable!("harvested slot not in pool") };
            slot.result = Some(result);
            slot.place = Place::Completed;
            self.completed.push_back(&mut self.links, index);
            self.pool_outstanding -= 1;
            let state = &mut self.fds[fd as usize];
            state.in_pool -= 1;
            if state.in_pool == 0 {
                // Closes that waited for these operations may run now.
                while let Some(close) = state.closers.pop_front(&mut self.links) {
                    self.pending -= 1;
                    self.slots[close as usize].place = Place::Completed;
                    self.completed.push_back(&mut self.links, close);
                }
            }
        }
    }

    fn expire_timers(&mut self, now: u64) {
        while let Some(index) = self.timers.pop_due(now) {
            self.slots[index as usize].place = Place::Completed;
            self.completed.push_back(&mut self.links, index);
        }
    }

    fn dispatch(&mut self, event: PollEvent) {
        match event.token {
            Token::Fd(fd) => {
                let Some(state) = self.fds.get_mut(fd as usize) else { return };
                if !state.registered {
                    return; // A stale report for a descriptor closed since.
                }
                if let Some(errno) = event.error {
                    state.registered = false;
                    self.wake(fd, Direction::Read, Some(errno));
                    self.wake(fd, Direction::Write, Some(errno));
                    return;
                }
                // One lookup of the descriptor's state serves both directions.
                let (links, slots, completed) =
                    (&mut self.links, &mut self.slots, &mut self.completed);
                let mut woken = 0;
                if event.readable {
                    state.readable = true;
                    woken += wake_list(&mut state.readers, links, slots, completed, None);
                }
                if event.writable {
                    state.writable = true;
                    woken += wake_list(&mut state.writers, links, slots, completed, None);
                }
                self.pending -= woken;
            }
            Token::User(POOL_EVENT_KEY) => {
                self.harvest_pool();
            }
            Token::User(key) => {
                let index = key as u32;
                let generation = (key >> 32) as u32;
                let Some(slot) = self.events.get(index as usize) else { return };
                if slot.generation != generation {
                    return;
                }
                let Some(shared) = slot.shared.as_ref() else { return };
                if self.poller.consume_user_event(&shared.target) {
                    self.deliver_trigger(index);
                }
            }
        }
    }

    fn drain(&mut self, ctx: &mut C) {
        let mut budget = DRAIN_BUDGET;
        while budget > 0 {
            let Some(index) = self.completed.pop_front(&mut self.links) else { break };
            budget -= 1;
            self.run(ctx, index);
        }
        self.budget_exhausted = !self.completed.is_empty();
    }

    /// Runs operation `index`, just taken off `completed`: its syscall, then
    /// either parks it or releases its slot and calls its callback.
    fn run(&mut self, ctx: &mut C, index: u32) {
        let slot = &mut self.slots[index as usize];
        // A worker's result wins over a forced errno; neither runs a syscall.
        // Either way the operation completes now, and `release` clears both.
        let result = if let Some(result) = slot.result {
            result
        } else if let Some(errno) = slot.forced {
            Err(errno)
        } else {
            match self.attempt(index) {
                Some(result) => result,
                None => return,
            }
        };
        self.complete(ctx, index, result);
    }

    /// Parks operation `index` on `fd` (it would block): `None`, or the
    /// registration's error as the operation's result.
    #[inline]
    fn block(&mut self, index: u32, fd: i32, direction: Direction) -> Option<Result<usize, Errno>> {
        match self.park(index, fd, direction) {
            Ok(()) => None,
            Err(errno) => Some(Err(errno)),
        }
    }

    /// Turns `EAGAIN` into a park (and records that the descriptor is not
    /// ready); any other result is the operation's.
    #[inline]
    fn done_unless_eagain(
        &mut self,
        index: u32,
        fd: i32,
        direction: Direction,
        result: Result<usize, Errno>,
    ) -> Option<Result<usize, Errno>> {
        match result {
            Err(Errno::EAGAIN) => {
                mark_not_ready(&mut self.fds, fd, direction);
                self.block(index, fd, direction)
            }
            other => Some(other),
        }
    }

    /// Runs the syscall of operation `index` with the operation left in its
    /// slot (so a blocked one parks without moving its buffer). `None`: the
    /// operation is parked on its descriptor, requeued (a close that first
    /// cancels the operations pending on its descriptor, or waits for its
    /// worker-thread operations) or handed to a file worker thread.
    fn attempt(&mut self, index: u32) -> Option<Result<usize, Errno>> {
        let fds = &mut self.fds;
        let slot = &mut self.slots[index as usize];
        match &mut slot.op {
            Op::Free => unreachable!("a free slot is never queued"),
            Op::Accept { fd, .. } => {
                let fd = *fd;
                if known_not_ready(fds, fd, Direction::Read) {
                    return self.block(index, fd, Direction::Read);
                }
                let options = fds.get(fd as usize).map_or(SocketOptions::default(), |s| s.options);
                let result = sys::socket::accept(fd, &options).map(|fd| fd as usize);
                self.done_unless_eagain(index, fd, Direction::Read, result)
            }
            Op::Connect { fd, address, started, .. } => {
                let fd = *fd;
                if *started {
                    // The second attempt reads the outcome: connecting again
                    // would be EALREADY or EISCONN, depending on the system.
                    return Some(sys::socket::take_error(fd).map(|()| 0));
                }
                *started = true;
                match sys::socket::connect(fd, address) {
                    Ok(true) => Some(Ok(0)),
                    Ok(false) => {
                        if let Some(state) = fds.get_mut(fd as usize) {
                            state.writable = false;
                        }
                        self.block(index, fd, Direction::Write)
                    }
                    Err(errno) => Some(Err(errno)),
                }
            }
            Op::Recv { fd, span, .. } => {
                let fd = *fd;
                if known_not_ready(fds, fd, Direction::Read) {
                    return self.block(index, fd, Direction::Read);
                }
                let len = span.len();
                let result = sys::socket::recv(fd, &mut span.buffer[span.start..span.end]);
                // A short, non-empty read drained the socket: the next recv
                // waits for an edge instead of trying (and failing) first.
                // End of stream (0) stays ready: it will be read again at once.
                if let Ok(n) = result
                    && n > 0
                    && n < len
                {
                    mark_not_ready(fds, fd, Direction::Read);
                }
                self.done_unless_eagain(index, fd, Direction::Read, result)
            }
            Op::Send { fd, span, .. } => {
                let fd = *fd;
                if known_not_ready(fds, fd, Direction::Write) {
                    return self.block(index, fd, Direction::Write);
                }
                let len = span.len();
                let result = sys::socket::send(fd, &span.buffer[span.start..span.end]);
                if let Ok(n) = result
                    && n < len
                {
                    mark_not_ready(fds, fd, Direction::Write);
                }
                self.done_unless_eagain(index, fd, Direction::Write, result)
            }
            Op::Read { fd, span, offset, .. } => {
                let Some(pool) = pool_for(&mut self.pool, fds, *fd) else {
                    let buffer = &mut span.buffer[span.start..span.end];
                    return Some(sys::file::pread(*fd, buffer, *offset));
                };
                let ptr = BufferPtr(span.buffer[span.start..].as_mut_ptr());
                let kind = JobKind::Read { ptr, len: span.len(), offset: *offset };
                let fd = *fd;
                offload(pool, fds, slot, index, fd, kind, &mut self.pool_outstanding);
                None
            }
            Op::Write { fd, span, offset, .. } => {
                let Some(pool) = pool_for(&mut self.pool, fds, *fd) else {
                    let buffer = &span.buffer[span.start..span.end];
                    return Some(sys::file::pwrite(*fd, buffer, *offset));
                };
                // The worker only reads through this pointer.
                let ptr = BufferPtr(span.buffer[span.start..].as_mut_ptr());
                let kind = JobKind::Write { ptr, len: span.len(), offset: *offset };
                let fd = *fd;
                offload(pool, fds, slot, index, fd, kind, &mut self.pool_outstanding);
                None
            }
            Op::Fsync { fd, mode, .. } => {
                let Some(pool) = pool_for(&mut self.pool, fds, *fd) else {
                    return Some(sys::file::fsync(*fd, *mode).map(|()| 0));
                };
                let kind = JobKind::Fsync { mode: *mode };
                let fd = *fd;
                offload(pool, fds, slot, index, fd, kind, &mut self.pool_outstanding);
                None
            }
            Op::Close { fd, waiters_canceled, .. } => {
                let fd = *fd;
                if fds.get(fd as usize).is_some_and(|s| s.in_pool > 0) {
                    // A worker may be inside a syscall on this descriptor:
                    // closing now could let it touch a reused number.
                    fds[fd as usize].closers.push_back(&mut self.links, index);
                    slot.place = Place::WaitPool(fd);
                    self.pending += 1;
                    return None;
                }
                if !std::mem::replace(waiters_canceled, true) {
                    // Pending operations on the descriptor complete first,
                    // with `Canceled`; the close runs after them. Pending
                    // means parked on it, or already queued behind this
                    // close: woken by readiness after it was queued (a pass
                    // that drains in parts polls in between) or submitted
                    // after it. None may run its syscall on the closed, and
                    // possibly reused, number.
                    let has_waiters = fds
                        .get(fd as usize)
                        .is_some_and(|s| !s.readers.is_empty() || !s.writers.is_empty());
                    let queued = self.cancel_queued_on(fd);
                    if has_waiters || queued {
                        self.wake(fd, Direction::Read, Some(Errno::ECANCELED));
                        self.wake(fd, Direction::Write, Some(Errno::ECANCELED));
                        self.slots[index as usize].place = Place::Completed;
                        self.completed.push_back(&mut self.links, index);
                        return None;
                    }
                }
                if let Some(state) = self.fds.get_mut(fd as usize) {
                    *state = FdState::FRESH;
                }
                self.poller.forget(fd);
                Some(sys::close(fd).map(|()| 0))
            }
            Op::Timeout { .. } | Op::EventListen { .. } => Some(Ok(0)),
        }
    }

    /// Forces `Canceled` on the network operations on `fd` waiting in
    /// `completed` (all behind the close being run) so they complete, without
    /// a syscall, before it. Returns whether there were any. O(queued), once
    /// per close.
    fn cancel_queued_on(&mut self, fd: i32) -> bool {
        let mut found = false;
        let mut at = self.completed.front();
        while let Some(index) = at {
            at = List::next(&self.links, index);
            let slot = &mut self.slots[index as usize];
            let on_fd = match &slot.op {
                Op::Accept { fd: on, .. }
                | Op::Connect { fd: on, .. }
                | Op::Recv { fd: on, .. }
                | Op::Send { fd: on, .. } => *on == fd,
                _ => false,
            };
            if on_fd {
                found = true;
                // An op already forced (canceled, or failed registration)
                // keeps its result; either way its syscall never runs.
                slot.forced.get_or_insert(Errno::ECANCELED);
            }
        }
        found
    }

    /// Releases slot `index` and calls its callback with `result`, converted
    /// to the operation's typed completion.
    fn complete(&mut self, ctx: &mut C, index: u32, result: Result<usize, Errno>) {
        let op = self.release(index);
        self.callbacks_run += 1;
        match op {
            Op::Free => unreachable!("a free slot is never queued"),
            Op::Accept { fd, tag, callback } => {
                let result = result.map_err(AcceptError::from_errno).map(|accepted| {
                    let accepted = accepted as i32;
                    let options =
                        self.fds.get(fd as usize).map_or(SocketOptions::default(), |s| s.options);
                    self.adopt_fd(accepted, options);
                    Fd::from_raw(accepted)
                });
                callback(ctx, self, AcceptDone { tag, result });
            }
            Op::Connect { fd, tag, callback, .. } => {
                let result = result.map(drop).map_err(ConnectError::from_errno);
                callback(ctx, self, ConnectDone { tag, socket: Fd::from_raw(fd), result });
            }
            Op::Recv { span, tag, callback, .. } => {
                let result = result.map_err(RecvError::from_errno);
                callback(ctx, self, RecvDone { tag, buffer: span.buffer, result });
            }
            Op::Send { span, tag, callback, .. } => {
                let result = result.map_err(SendError::from_errno);
                callback(ctx, self, SendDone { tag, buffer: span.buffer, result });
            }
            Op::Read { span, tag, callback, .. } => {
                let result = result.map_err(ReadError::from_errno);
                callback(ctx, self, ReadDone { tag, buffer: span.buffer, result });
            }
            Op::Write { span, tag, callback, .. } => {
                let result = result.map_err(WriteError::from_errno);
                callback(ctx, self, WriteDone { tag, buffer: span.buffer, result });
            }
            Op::Fsync { tag, callback, .. } => {
                let result = result.map(drop).map_err(FsyncError::from_errno);
                callback(ctx, self, FsyncDone { tag, result });
            }
            Op::Close { tag, callback, .. } => {
                let result = result.map(drop).map_err(CloseError::from_errno);
                callback(ctx, self, CloseDone { tag, result });
            }
            Op::Timeout { tag, callback } => {
                let result = result.map(drop).map_err(TimeoutError::from_errno);
                callback(ctx, self, TimeoutDone { tag, result });
            }
            Op::EventListen { event, tag, callback } => {
                // Delivered: triggers from now on are for the next listener.
                if result.is_ok() && self.event_slot(event).is_some() {
                    self.events[event.index as usize].fired = false;
                }
                let result = result.map(drop).map_err(EventError::from_errno);
                callback(ctx, self, EventDone { tag, result });
            }
        }
    }
}

/// The user-event key of the pool's wake-up: event indices never reach it
/// (`open_event` refuses index `u32::MAX`).
const POOL_EVENT_KEY: u64 = u32::MAX as u64;

/// The pool, if there is one and `fd` is a descriptor this IO has seen (a
/// file it opened has an entry). Any other number runs on the loop thread,
/// where the kernel answers it (`EBADF`, most likely): growing the table to
/// a number the caller made up could mean gigabytes.
fn pool_for<'a>(pool: &'a mut Option<Pool>, fds: &[FdState], fd: i32) -> Option<&'a mut Pool> {
    pool.as_mut().filter(|_| (fd as usize) < fds.len())
}

/// Hands a file operation on a descriptor with an entry in `fds` (see
/// [`pool_for`]) to the worker pool.
fn offload<C>(
    pool: &mut Pool,
    fds: &mut [FdState],
    slot: &mut Slot<C>,
    index: u32,
    fd: i32,
    kind: JobKind,
    outstanding: &mut usize,
) {
    fds[fd as usize].in_pool += 1;
    *outstanding += 1;
    slot.place = Place::Pool(fd);
    pool.submit(Job { slot: index, fd, kind });
}

/// Moves every operation in `list` (parked on a descriptor) to
/// `completed`, optionally forcing their result; returns how many moved.
#[inline]
fn wake_list<C>(
    list: &mut List,
    links: &mut [Link],
    slots: &mut [Slot<C>],
    completed: &mut List,
    forced: Option<Errno>,
) -> usize {
    let mut woken = 0;
    while let Some(index) = list.pop_front(links) {
        woken += 1;
        let slot = &mut slots[index as usize];
        slot.place = Place::Completed;
        if forced.is_some() {
            slot.forced = forced;
        }
        completed.push_back(links, index);
    }
    woken
}

fn known_not_ready(fds: &[FdState], fd: i32, direction: Direction) -> bool {
    match fds.get(fd as usize) {
        Some(state) if state.registered => match direction {
            Direction::Read => !state.readable,
            Direction::Write => !state.writable,
        },
        _ => false,
    }
}

fn mark_not_ready(fds: &mut [FdState], fd: i32, direction: Direction) {
    if let Some(state) = fds.get_mut(fd as usize) {
        match direction {
            Direction::Read => state.readable = false,
            Direction::Write => state.writable = false,
        }
    }
}

/// Checks a buffer range (and file offset) before anything is queued.
fn check_span(
    fd: Fd,
    buffer: &Buffer,
    range: impl RangeBounds<usize>,
    offset: Option<u64>,
) -> Result<(usize, usize), SubmitError> {
    if fd.raw() < 0 {
        return Err(SubmitError::InvalidFd);
    }
    let range = resolve_range(range, buffer.len()).ok_or(SubmitError::RangeOutOfBounds)?;
    if range.is_empty() {
        return Err(SubmitError::EmptyRange);
    }
    if let Some(offset) = offset {
        let end = offset.checked_add(range.len() as u64).ok_or(SubmitError::OffsetOverflow)?;
        if end > i64::MAX as u64 {
            return Err(SubmitError::OffsetOverflow);
        }
    }
    Ok((range.start, range.end))
}

fn check_fd(fd: Fd) -> Result<i32, SubmitError> {
    if fd.raw() < 0 { Err(SubmitError::InvalidFd) } else { Ok(fd.raw()) }
}

impl<C> Io for IO<C> {
    type Context = C;

    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    fn flush(&mut self, ctx: &mut C, wait: bool) -> Result<(), RunError> {
        self.flush_guarded(ctx, wait, None)
    }

    fn run_for_ns(&mut self, ctx: &mut C, ns: u64) -> Result<(), RunError> {
        if self.in_flush {
            return Err(RunError::Reentrant);
        }
        let deadline = self.clock.now_ns().saturating_add(ns);
        loop {
            self.flush_guarded(ctx, true, Some(deadline))?;
            if std::mem::take(&mut self.stop_requested) || self.clock.now_ns() >= deadline {
                return Ok(());
            }
        }
    }

    // Loop control lives in `control.rs` as inherent methods (callable
    // without the trait in scope); the trait forwards to them.
    fn run_once(&mut self, ctx: &mut C) -> Result<(), RunError> {
        IO::run_once(self, ctx)
    }

    fn run_until_done(&mut self, ctx: &mut C) -> Result<(), RunError> {
        IO::run_until_done(self, ctx)
    }

    fn stop(&mut self) {
        IO::stop(self)
    }

    fn in_flight(&self) -> usize {
        IO::in_flight(self)
    }

    fn cancel(&mut self, target: OpId) -> Result<(), CancelError> {
        IO::cancel(self, target)
    }

    fn cancel_all(&mut self) -> usize {
        IO::cancel_all(self)
    }

    fn reset_timeout(&mut self, target: OpId, ns: u64) -> Result<(), CancelError> {
        IO::reset_timeout(self, target, ns)
    }

    fn accept(
        &mut self,
        listener: Fd,
        tag: u64,
        callback: Callback<Self, AcceptDone>,
    ) -> Result<OpId, SubmitError> {
        let fd = check_fd(listener)?;
        self.submit_plain(Op::Accept { fd, tag, callback })
    }

    fn connect(
        &mut self,
        socket: Fd,
        address: SocketAddr,
        tag: u64,
        callback: Callback<Self, ConnectDone>,
    ) -> Result<OpId, SubmitError> {
        let fd = check_fd(socket)?;
        self.submit_plain(Op::Connect { fd, address, started: false, tag, callback })
    }

    fn recv(
        &mut self,
        socket: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        tag: u64,
        callback: Callback<Self, RecvDone>,
    ) -> Result<OpId, Rejected<Buffer>> {
        self.submit_span(socket, buffer, range, None, |fd, span| Op::Recv {
            fd,
            span,
            tag,
            callback,
        })
    }

    fn send(
        &mut self,
        socket: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        tag: u64,
        callback: Callback<Self, SendDone>,
    ) -> Result<OpId, Rejected<Buffer>> {
        self.submit_span(socket, buffer, range, None, |fd, span| Op::Send {
            fd,
            span,
            tag,
            callback,
        })
    }

    fn read(
        &mut self,
        fd: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        offset: u64,
        tag: u64,
        callback: Callback<Self, ReadDone>,
    ) -> Result<OpId, Rejected<Buffer>> {
        self.submit_span(fd, buffer, range, Some(offset), |fd, span| Op::Read {
            fd,
            span,
            offset,
            tag,
            callback,
        })
    }

    fn write(
        &mut self,
        fd: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        offset: u64,
        tag: u64,
        callback: Callback<Self, WriteDone>,
    ) -> Result<OpId, Rejected<Buffer>> {
        self.submit_span(fd, buffer, range, Some(offset), |fd, span| Op::Write {
            fd,
            span,
            offset,
            tag,
            callback,
        })
    }

    fn fsync(
        &mut self,
        fd: Fd,
        mode: FsyncMode,
        tag: u64,
        callback: Callback<Self, FsyncDone>,
    ) -> Result<OpId, SubmitError> {
        let fd = check_fd(fd)?;
        self.submit_plain(Op::Fsync { fd, mode, tag, callback })
    }

    fn close(
        &mut self,
        fd: Fd,
        tag: u64,
        callback: Callback<Self, CloseDone>,
    ) -> Result<OpId, SubmitError> {
        let fd = check_fd(fd)?;
        self.submit_plain(Op::Close { fd, waiters_canceled: false, tag, callback })
    }

    fn timeout(
        &mut self,
        ns: u64,
        tag: u64,
        callback: Callback<Self, TimeoutDone>,
    ) -> Result<OpId, SubmitError> {
        let Some(index) = self.free.pop() else {
            return Err(SubmitError::NoFreeSlot);
        };
        let deadline = self.clock.now_ns().saturating_add(ns);
        let slot = &mut self.slots[index as usize];
        slot.op = Op::Timeout { tag, callback };
        slot.forced = None;
        slot.place = Place::Timer;
        let id = OpId { slot: index, generation: slot.generation };
        // A zero timeout is due now, but only expires at the start of the
        // next pass: a yield, like TigerBeetle's `next_tick`.
        self.timers.push(index, deadline);
        Ok(id)
    }

    fn open_socket(
        &mut self,
        family: AddressFamily,
        options: SocketOptions,
    ) -> Result<Fd, SocketError> {
        let fd = sys::socket::open(family, &options).map_err(SocketError::from_errno)?;
        self.adopt_fd(fd, options);
        Ok(Fd::from_raw(fd))
    }

    fn listen(
        &mut self,
        socket: Fd,
        address: SocketAddr,
        backlog: u32,
    ) -> Result<SocketAddr, ListenError> {
        if socket.raw() < 0 {
            return Err(ListenError::BadFileDescriptor);
        }
        sys::socket::listen(socket.raw(), &address, backlog).map_err(ListenError::from_errno)
    }

    fn shutdown(&mut self, socket: Fd, how: Shutdown) -> Result<(), ShutdownError> {
        if socket.raw() < 0 {
            return Err(ShutdownError::BadFileDescriptor);
        }
        sys::socket::shutdown(socket.raw(), how).map_err(ShutdownError::from_errno)
    }

    fn open_dir(&mut self, path: &Path) -> Result<Fd, OpenError> {
        let fd = sys::file::open_dir(path)?;
        self.adopt_fd(fd, SocketOptions::default());
        Ok(Fd::from_raw(fd))
    }

    fn open_data_file(
        &mut self,
        dir: Fd,
        relative_path: &Path,
        size: u64,
        purpose: FilePurpose,
        direct_io: DirectIo,
    ) -> Result<Fd, OpenError> {
        let fd = sys::file::open_data_file(dir.raw(), relative_path, size, purpose, direct_io)?;
        self.adopt_fd(fd, SocketOptions::default());
        Ok(Fd::from_raw(fd))
    }

    fn open_event(&mut self) -> Result<EventId, EventError> {
        let index = match self.free_events.pop() {
            Some(index) => index,
            None => {
                let index =
                    u32::try_from(self.events.len()).map_err(|_| EventError::SystemResources)?;
                self.events.push(EventSlot {
                    generation: 0,
                    shared: None,
                    listener: None,
                    pending: false,
                    fired: false,
                });
                index
            }
        };
        let generation = self.events[index as usize].generation;
        match self.poller.open_user_event(EventSlot::key(index, generation)) {
            Ok(target) => {
                let slot = &mut self.events[index as usize];
                slot.shared =
                    Some(Arc::new(EventShared { target, closed: AtomicBool::new(false) }));
                slot.listener = None;
                slot.pending = false;
                slot.fired = false;
                Ok(EventId { index, generation })
            }
            Err(error) => {
                self.free_events.push(index);
                Err(error)
            }
        }
    }

    fn event_listen(
        &mut self,
        event: EventId,
        tag: u64,
        callback: Callback<Self, EventDone>,
    ) -> Result<OpId, SubmitError> {
        let slot = self.event_slot(event).ok_or(SubmitError::UnknownEvent)?;
        if slot.listener.is_some() {
            return Err(SubmitError::AlreadyListening);
        }
        let pending = slot.pending;
        let Some(index) = self.free.pop() else {
            return Err(SubmitError::NoFreeSlot);
        };
        let slot = &mut self.slots[index as usize];
        slot.op = Op::EventListen { event, tag, callback };
        slot.forced = None;
        let id = OpId { slot: index, generation: slot.generation };
        let event_slot = &mut self.events[event.index as usize];
        if pending {
            // A trigger arrived since the last delivery: fire now.
            event_slot.pending = false;
            event_slot.fired = true;
            self.slots[index as usize].place = Place::Completed;
            self.completed.push_back(&mut self.links, index);
        } else {
            event_slot.listener = Some(index);
            self.slots[index as usize].place = Place::Listener(event.index);
            self.armed_listeners += 1;
        }
        Ok(id)
    }

    fn event_trigger(&mut self, event: EventId) -> Result<(), EventError> {
        self.event_slot(event).ok_or(EventError::UnknownEvent)?;
        // On the loop thread no syscall is needed: deliver directly.
        self.deliver_trigger(event.index);
        Ok(())
    }

    fn close_event(&mut self, event: EventId) -> Result<(), EventError> {
        self.event_slot(event).ok_or(EventError::UnknownEvent)?;
        let slot = &mut self.events[event.index as usize];
        let shared = slot.shared.take().expect("event_slot checked it is open");
        shared.closed.store(true, Ordering::Release);
        self.poller.close_user_event(&shared.target);
        slot.generation = slot.generation.wrapping_add(1);
        slot.pending = false;
        slot.fired = false;
        if let Some(op) = slot.listener.take() {
            self.armed_listeners -= 1;
            let op_slot = &mut self.slots[op as usize];
            op_slot.forced = Some(Errno::ECANCELED);
            op_slot.place = Place::Completed;
            self.completed.push_back(&mut self.links, op);
        }
        self.free_events.push(event.index);
        Ok(())
    }
}

impl<C> Drop for IO<C> {
    fn drop(&mut self) {
        // Workers may hold pointers into slot buffers: join them first.
        if let Some(pool) = self.pool.as_mut() {
            pool.shutdown();
        }
        // Late triggers from other threads must see `Closed`, not succeed silently.
        for slot in &self.events {
            if let Some(shared) = &slot.shared {
                shared.closed.store(true, Ordering::Release);
            }
        }
    }
}
