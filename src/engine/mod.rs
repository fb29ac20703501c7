//! The engine core: everything that must behave the same on the kernel and
//! in the twin, written once.
//!
//! It owns the operation slots (with their generations and the identity of
//! the IO that issued them), the `completed` FIFO, the deadline heap,
//! submit validation, completion dispatch (errno → typed `Done` →
//! callback), cancel and reset, the run loops and the user-event state
//! machine. A backend — [`crate::IO`] over the kernel, [`crate::SimIO`] over
//! the simulated world — supplies only what truly differs, through
//! [`Backend`]: how an operation is attempted, how the loop waits for the
//! world, what the clock is, and a few hooks.
//!
//! Errors stay errno-level (`Result<usize, Errno>`) everywhere inside, and
//! are typed in one place, [`run::complete`], just before the callback.

pub(crate) mod control;
pub(crate) mod events;
mod fifo;
mod io_impl;
pub(crate) mod op;
pub(crate) mod run;
pub(crate) mod submit;

use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) use events::Events;
pub(crate) use fifo::Fifo;
use fifo::FreeStack;
pub(crate) use io_impl::impl_io;
use op::{Attempt, Slot};
pub(crate) use submit::{check_fd, check_within_data_file};

use crate::error::{CancelError, EventError, RunError, SubmitError};
use crate::io::Io;
use crate::list::Link;
use crate::timer_heap::TimerHeap;

/// The most callbacks one pass runs, so that a chain of operations that
/// always complete at once (reads of a file, say) cannot starve timers and
/// network readiness. What is left runs in the next pass, which then polls
/// without waiting.
pub(crate) const PASS_BUDGET: usize = 4096;

/// What differs between the kernel and the twin. Everything else is the
/// core's. Implemented by `IO<C>` and `SimIO<C>`, which hold a [`Core`].
pub(crate) trait Backend: Io {
    /// Where an operation waits outside the core's own places.
    type Wait: Copy + Eq + std::fmt::Debug;
    /// What the backend keeps per operation.
    type SlotData: Copy + Default;
    /// What the backend keeps per open user event.
    type EventData;
    /// What `enter_callback` hands to `leave_callback`.
    type Scope;

    fn core(&self) -> &Core<Self>;
    fn core_mut(&mut self) -> &mut Core<Self>;

    /// The clock the deadlines are measured on.
    fn clock_ns(&self) -> u64;

    /// What `Io::now_ns` answers: the clock of whoever runs now (the
    /// twin's current node, whose clock may drift from `clock_ns`).
    #[inline(always)]
    fn local_clock_ns(&self) -> u64 {
        self.clock_ns()
    }

    /// The deadline, on `clock_ns`, of "`ns` from now" on the clock of the
    /// operation that keeps `owner` (`None`: of the caller, for a run's
    /// deadline). Never earlier than the local clock allows: the twin rounds
    /// up.
    #[inline(always)]
    fn deadline_after(&self, _owner: Option<&Self::SlotData>, ns: u64) -> u64 {
        self.clock_ns().saturating_add(ns)
    }

    /// Operation `index` may not run yet (the twin's node is paused): the
    /// deadline until which it waits in the heap. `None`: it runs now.
    #[inline(always)]
    fn held_until(&mut self, _index: u32) -> Option<u64> {
        None
    }

    /// Whether a submit may be accepted now, and the data its slot keeps.
    fn admit(&self) -> Result<Self::SlotData, SubmitError>;

    /// The deadline of the operation whose slot keeps `data` passed: it
    /// leaves the heap for `completed` (the twin's deferred storage
    /// operation then runs instead of being issued again).
    #[inline(always)]
    fn deadline_passed(_data: &mut Self::SlotData) {}

    /// An operation was just queued in slot `index`.
    #[inline]
    fn submitted(&mut self, _index: u32) {}

    /// Runs operation `index` (left in its slot) against the world.
    fn attempt(&mut self, index: u32) -> Attempt;

    /// Takes operation `index` out of the backend's place `wait`, for a
    /// cancel (or a crash). `Err` leaves it where it is;
    /// [`Withdrawn::Requested`] leaves it there too, to be completed by the
    /// world (the kernel was asked to cancel it).
    fn unlink_waiting(&mut self, index: u32, wait: Self::Wait) -> Result<Withdrawn, CancelError>;

    /// Something in flight can only be completed by the world (a
    /// descriptor's readiness, a worker thread, a trigger).
    fn waits_on_world(&self) -> bool;

    /// When the world next changes by itself (the twin's next network
    /// arrival); `None` for the kernel, which says so by waking the wait.
    #[inline]
    fn next_world_event(&self) -> Option<u64> {
        None
    }

    /// Waits for the world at most `timeout_ns` (0: only looks) and moves
    /// the operations it made ready to `completed`.
    fn poll(&mut self, timeout_ns: u64) -> Result<(), RunError>;

    /// The pass is over (its drain ran): hand the world what the pass
    /// queued for it (the kernel's io_uring submissions).
    #[inline]
    fn end_pass(&mut self) {}

    /// Callbacks ran in this drain: moves what they may have unblocked to
    /// `completed` (the twin retries its parked operations). Returns
    /// whether anything moved.
    #[inline]
    fn after_progress(&mut self) -> bool {
        false
    }

    /// Nothing in flight can ever complete: no deadline, no world event
    /// ahead, nothing ready. Only the twin can know.
    #[inline]
    fn stalled(&self) -> bool {
        false
    }

    /// Just before the callback of the operation in slot `index` runs with
    /// `result`; the slot still holds the operation and its data.
    fn enter_callback(
        &mut self,
        index: u32,
        result: &Result<usize, crate::error::Errno>,
    ) -> Self::Scope;

    /// Just after that callback returned.
    fn leave_callback(&mut self, scope: Self::Scope);

    /// `accept` on `listener` produced descriptor `accepted`.
    #[inline]
    fn accepted(&mut self, _listener: i32, _accepted: i32) {}

    /// Creates what backs user event `key` (index and generation).
    fn open_event_data(&mut self, key: u64) -> Result<Self::EventData, EventError>;

    /// Whether the caller may use an event backed by `data` now.
    #[inline]
    fn event_visible(&self, _data: &Self::EventData) -> bool {
        true
    }

    /// The event backed by `data` was closed.
    fn close_event_data(&mut self, data: Self::EventData);
}

/// What taking an operation out of where it waits did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Withdrawn {
    /// It is out: the core completes it with `Canceled`.
    Now,
    /// The world was asked to withdraw it (an io_uring cancel): it stays in
    /// flight and completes once, `Canceled` or with its own result.
    Requested,
}

/// Which address of a socket `Io::local_address` / `Io::peer_address` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Local,
    Peer,
}

/// Hands out the identity each IO stamps on its ids, so an id of another IO
/// is refused rather than acting on this one.
static NEXT_IO: AtomicU32 = AtomicU32::new(1);

/// The state the core owns, held by each backend.
pub(crate) struct Core<B: Backend> {
    /// This IO's identity, stamped on every `OpId` and `EventId`.
    pub id: u32,
    /// A boxed slice, whose length never changes once made: an index
    /// checked against it once stays in range (see "In range" in
    /// `fifo.rs`).
    pub slots: Box<[Slot<B>]>,
    pub links: Vec<Link>,
    pub free: FreeStack,
    /// Operations to run now: fresh submits, ops the world made ready,
    /// expired deadlines.
    pub completed: Fifo,
    /// Timeouts (and the twin's deferred storage operations), by
    /// (deadline, sequence).
    pub timers: TimerHeap,
    pub events: Events<B::EventData>,
    pub in_flush: bool,
    /// `stop()` was called: the current `run_*` returns after this pass.
    pub stop_requested: bool,
    /// Callbacks run so far (`run_once` waits for this to move).
    pub callbacks_run: u64,
    /// The last drain stopped at its budget: poll without waiting first.
    pub budget_exhausted: bool,
    /// The current pass was asked to wait (`flush(true)`, the run modes):
    /// its caller is willing to block until something completes, so the
    /// real IO runs the only operation in flight on its own thread.
    pub pass_may_block: bool,
    /// The longest a waiting pass blocks when nothing else bounds it.
    pub max_wait_ns: u64,
}

impl<B: Backend> Core<B> {
    /// Reserves `entries` slots (fallibly: a count memory cannot hold is
    /// `None`, not an abort).
    pub(crate) fn new(entries: u32, max_wait_ns: u64) -> Option<Core<B>> {
        let count = entries as usize;
        let mut slots = Vec::new();
        slots.try_reserve_exact(count).ok()?;
        slots.extend((0..count).map(|_| Slot::new()));
        // The capacity is exact: the allocation is kept as it is.
        let mut slots = slots.into_boxed_slice();
        let free = FreeStack::full(&mut slots);
        let mut links = Vec::new();
        links.try_reserve_exact(count).ok()?;
        links.resize(count, Link::UNLINKED);
        Some(Core {
            id: NEXT_IO.fetch_add(1, Ordering::Relaxed),
            slots,
            links,
            free,
            completed: Fifo::new(),
            timers: TimerHeap::with_capacity(count),
            events: Events::new(),
            in_flush: false,
            stop_requested: false,
            callbacks_run: 0,
            budget_exhausted: false,
            pass_may_block: false,
            max_wait_ns,
        })
    }

    /// Operations accepted whose callback has not run yet.
    #[inline]
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Moves operation `index` to the back of `completed`.
    #[inline]
    pub(crate) fn make_ready(&mut self, index: u32) {
        // One slice, so both accesses share one bounds check.
        let slots = &mut self.slots[..];
        slots[index as usize].place = op::Place::Completed;
        self.completed.push_back(slots, index);
    }
}
