//! The loop: one pass of `flush`, the drain of `completed`, completion
//! dispatch, and the run modes built on passes.
//!
//! A pass: expire due deadlines; if nothing is ready (or the last drain
//! stopped at its budget), let the backend poll the world — waiting, when
//! asked to, no longer than the nearest deadline; then drain `completed`:
//! each operation is attempted with the op left in its slot; one that
//! completes has its slot released and its callback run. Operations that
//! callbacks submit run in the same drain.

use super::Backend;
use super::events;
use super::op::{Attempt, Op, Place, Slot};
use super::{Core, PASS_BUDGET};
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::{
    AcceptError, CloseError, ConnectError, Errno, EventError, FsyncError, ReadError, RecvError,
    RunError, SendError, TimeoutError, WriteError,
};
use crate::fd::Fd;

/// One pass, refusing re-entrance from a callback.
pub(crate) fn flush<B: Backend>(
    io: &mut B,
    ctx: &mut B::Context,
    wait: bool,
    deadline: Option<u64>,
) -> Result<(), RunError> {
    let core = io.core_mut();
    if core.in_flush {
        return Err(RunError::Reentrant);
    }
    core.in_flush = true;
    core.pass_may_block = wait;
    let result = pass(io, ctx, wait, deadline);
    io.core_mut().in_flush = false;
    result
}

fn pass<B: Backend>(
    io: &mut B,
    ctx: &mut B::Context,
    wait: bool,
    deadline: Option<u64>,
) -> Result<(), RunError> {
    // The clock is read only when something needs it: a pass of pure
    // network IO on the kernel skips the read and the empty heap
    // (profiled: a tenth of the engine's instructions per round trip).
    let world_at = io.next_world_event();
    let clocked = !io.core().timers.is_empty() || deadline.is_some() || world_at.is_some();
    let now = if clocked { io.clock_ns() } else { 0 };
    if clocked {
        expire(io.core_mut(), now);
    }
    let core = io.core();
    if core.completed.is_empty() || core.budget_exhausted {
        let timeout = if wait && core.completed.is_empty() {
            wait_timeout(io, now, deadline, world_at)
        } else {
            0
        };
        io.poll(timeout)?;
        if timeout > 0 && !io.core().timers.is_empty() {
            let now = io.clock_ns();
            expire(io.core_mut(), now);
        }
    }
    drain(io, ctx);
    io.end_pass();
    Ok(())
}

/// How long a wait may block: until the nearest deadline, world event or
/// the run's own deadline; when there is none, `max_wait_ns` if something
/// waits on the world, else not at all (nothing could wake it).
#[inline]
fn wait_timeout<B: Backend>(io: &B, now: u64, deadline: Option<u64>, world: Option<u64>) -> u64 {
    let core = io.core();
    let bound = earliest(earliest(core.timers.next_deadline(), world), deadline);
    match bound {
        Some(at) => at.saturating_sub(now),
        None if io.waits_on_world() => core.max_wait_ns,
        None => 0,
    }
}

#[inline(always)]
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Moves every deadline that has passed to `completed`, in (deadline,
/// sequence) order.
fn expire<B: Backend>(core: &mut Core<B>, now: u64) {
    while let Some(index) = core.timers.pop_due(now) {
        core.make_ready(index);
        B::deadline_passed(&mut core.slots[index as usize].data);
    }
}

fn drain<B: Backend>(io: &mut B, ctx: &mut B::Context) {
    let mut budget = PASS_BUDGET;
    loop {
        let before = budget;
        while budget > 0 {
            let core = io.core_mut();
            // SAFETY: `completed` is only used with `core.slots` ("In
            // range" in `fifo.rs`). So `index` is in range of them, here
            // and in `complete` below: their length never changes.
            let Some(index) = (unsafe { core.completed.pop_front(&core.slots) }) else { break };
            // Its node is paused (the twin): neither run nor completed yet.
            if let Some(at) = io.held_until(index) {
                defer(io.core_mut(), index, at);
                continue;
            }
            // A known outcome wins; such an operation is never attempted.
            // It is cleared here, where it is read: an attempted op's is
            // `None` all along, and its completion writes nothing
            // (profiled: ~4 instructions per round trip, the code around
            // it laid out better by ~8 more).
            debug_assert!((index as usize) < io.core().slots.len());
            // SAFETY: `index` is in range (just popped, see above).
            let slot = unsafe { io.core_mut().slots.get_unchecked_mut(index as usize) };
            let result = match slot.outcome {
                Some(result) => {
                    slot.outcome = None;
                    result
                }
                None => match io.attempt(index) {
                    Attempt::Done(result) => result,
                    Attempt::Pending => continue,
                },
            };
            budget -= 1;
            // SAFETY: `index` is in range (just popped, see above), and its
            // outcome `None` (cleared above, or never set: an attempt does
            // not set its own op's).
            unsafe { complete(io, ctx, index, result) };
        }
        if budget == 0 || budget == before || !io.after_progress() {
            break;
        }
    }
    let core = io.core_mut();
    core.budget_exhausted = !core.completed.is_empty();
}

/// Puts operation `index` in the deadline heap until `at` (virtual or
/// monotonic ns): it is run again once that has passed.
#[cold]
pub(crate) fn defer<B: Backend>(core: &mut Core<B>, index: u32, at: u64) {
    core.slots[index as usize].place = Place::Timer;
    core.timers.push(index, at);
}

/// Frees slot `index`, handing back its operation.
#[inline]
pub(crate) fn release<B: Backend>(core: &mut Core<B>, index: u32) -> Op<B> {
    std::mem::replace(&mut free_slot(core, index).op, Op::Free)
}

/// Puts slot `index` back on the free stack, stale to its old id and
/// without an outcome, and returns it with its op still in it (the caller
/// takes the op out).
#[inline(always)]
fn free_slot<B: Backend>(core: &mut Core<B>, index: u32) -> &mut Slot<B> {
    core.slots[index as usize].outcome = None;
    // SAFETY: in range: the access above was checked.
    unsafe { free_slot_in_range(core, index) }
}

/// [`free_slot`] for a slot whose outcome is `None` already (the drain's),
/// without the bounds check.
///
/// # Safety
///
/// `index < core.slots.len()`.
#[inline(always)]
unsafe fn free_slot_in_range<B: Backend>(core: &mut Core<B>, index: u32) -> &mut Slot<B> {
    debug_assert!((index as usize) < core.slots.len());
    // SAFETY: in range, by the caller's contract.
    let slot = unsafe { core.slots.get_unchecked_mut(index as usize) };
    debug_assert!(slot.outcome.is_none());
    // SAFETY: `slot` is slot `index` of `core.slots`, the free stack's.
    unsafe { core.free.push_slot(slot, index) };
    slot.place = Place::Free;
    slot.generation = slot.generation.wrapping_add(1);
    slot
}

/// Releases slot `index` and calls its callback with `result`, typed: the
/// one place an errno becomes an operation's error.
///
/// The fields the callback needs are read from the slot in place and the
/// op left there is `Op::Free` (profiled: moving the whole op out, as
/// `release` does, copied its 64 bytes to the stack and back, ~16
/// instructions per completion).
///
/// # Safety
///
/// `index < io.core().slots.len()`; its slot's outcome is `None` (the
/// drain cleared a known one).
#[inline(always)]
unsafe fn complete<B: Backend>(
    io: &mut B,
    ctx: &mut B::Context,
    index: u32,
    result: Result<usize, Errno>,
) {
    // Told while the slot still holds the op: handing the backend a
    // reference to the op once moved out kept it in memory, copied twice
    // (profiled).
    let scope = io.enter_callback(index, &result);
    let core = io.core_mut();
    core.callbacks_run += 1;
    // SAFETY: in range, by the caller's contract.
    let op = &mut unsafe { free_slot_in_range(core, index) }.op;
    match op {
        Op::Free => unreachable!("a free slot is never queued"),
        &mut Op::Accept { fd, tag, callback } => {
            vacate(op);
            let result = result.map_err(AcceptError::from_errno).map(|accepted| {
                io.accepted(fd, accepted as i32);
                Fd::from_raw(accepted as i32)
            });
            callback(ctx, io, AcceptDone { tag, result });
        }
        &mut Op::Connect { fd, tag, callback, .. } => {
            vacate(op);
            let result = result.map(drop).map_err(ConnectError::from_errno);
            callback(ctx, io, ConnectDone { tag, socket: Fd::from_raw(fd), result });
        }
        Op::Recv { span, tag, callback, .. } => {
            // SAFETY: the op is overwritten right below, not dropped.
            let (tag, callback, buffer) = (*tag, *callback, unsafe { span.read_buffer() });
            vacate(op);
            let result = result.map_err(RecvError::from_errno);
            callback(ctx, io, RecvDone { tag, buffer, result });
        }
        Op::Send { span, tag, callback, .. } => {
            // SAFETY: the op is overwritten right below, not dropped.
            let (tag, callback, buffer) = (*tag, *callback, unsafe { span.read_buffer() });
            vacate(op);
            let result = result.map_err(SendError::from_errno);
            callback(ctx, io, SendDone { tag, buffer, result });
        }
        Op::Read { span, tag, callback, .. } => {
            // SAFETY: the op is overwritten right below, not dropped.
            let (tag, callback, buffer) = (*tag, *callback, unsafe { span.read_buffer() });
            vacate(op);
            let result = result.map_err(ReadError::from_errno);
            callback(ctx, io, ReadDone { tag, buffer, result });
        }
        Op::Write { span, tag, callback, .. } => {
            // SAFETY: the op is overwritten right below, not dropped.
            let (tag, callback, buffer) = (*tag, *callback, unsafe { span.read_buffer() });
            vacate(op);
            let result = result.map_err(WriteError::from_errno);
            callback(ctx, io, WriteDone { tag, buffer, result });
        }
        &mut Op::Fsync { tag, callback, .. } => {
            vacate(op);
            let result = result.map(drop).map_err(FsyncError::from_errno);
            callback(ctx, io, FsyncDone { tag, result });
        }
        &mut Op::Close { tag, callback, .. } => {
            vacate(op);
            let result = result.map(drop).map_err(CloseError::from_errno);
            callback(ctx, io, CloseDone { tag, result });
        }
        &mut Op::Timeout { tag, callback } => {
            vacate(op);
            let result = result.map(drop).map_err(TimeoutError::from_errno);
            callback(ctx, io, TimeoutDone { tag, result });
        }
        &mut Op::EventListen { event, tag, callback } => {
            vacate(op);
            if result.is_ok() {
                events::delivered(&mut io.core_mut().events, event);
            }
            let result = result.map(drop).map_err(EventError::from_errno);
            callback(ctx, io, EventDone { tag, result });
        }
    }
    io.leave_callback(scope);
}

/// Leaves `Op::Free` in a slot whose op owns nothing any more (its
/// buffer, if any, was read out): the old value is forgotten, never
/// dropped, so that buffer keeps exactly one owner.
#[inline(always)]
fn vacate<B: Backend>(op: &mut Op<B>) {
    std::mem::forget(std::mem::replace(op, Op::Free));
}

/// Runs waiting passes until `ns` nanoseconds have passed on the caller's
/// clock (the twin: the current node's) (or `stop`).
pub(crate) fn run_for_ns<B: Backend>(
    io: &mut B,
    ctx: &mut B::Context,
    ns: u64,
) -> Result<(), RunError> {
    if io.core().in_flush {
        return Err(RunError::Reentrant);
    }
    let deadline = io.deadline_after(None, ns);
    loop {
        flush(io, ctx, true, Some(deadline))?;
        if std::mem::take(&mut io.core_mut().stop_requested) || io.clock_ns() >= deadline {
            return Ok(());
        }
    }
}

/// What a run waits for.
#[derive(Clone, Copy)]
pub(crate) enum Until {
    /// At least one callback has run.
    OneCallback,
    /// Nothing is in flight.
    Done,
}

/// Runs waiting passes until `until` holds (or `stop`), at most until
/// `within_ns` has passed on the caller's clock when given.
pub(crate) fn run_until<B: Backend>(
    io: &mut B,
    ctx: &mut B::Context,
    until: Until,
    within_ns: Option<u64>,
) -> Result<(), RunError> {
    if io.core().in_flush {
        return Err(RunError::Reentrant);
    }
    let deadline = within_ns.map(|ns| io.deadline_after(None, ns));
    let start = io.core().callbacks_run;
    let holds = |core: &Core<B>| match until {
        Until::OneCallback => core.callbacks_run != start || core.in_flight() == 0,
        Until::Done => core.in_flight() == 0,
    };
    while !holds(io.core()) {
        match deadline {
            Some(at) if io.clock_ns() >= at => return Err(RunError::DeadlinePassed),
            // Bounded, a stalled twin runs to the deadline as the kernel
            // would: the same program gets the same answer from both.
            Some(_) => {}
            None if io.stalled() => return Err(RunError::Stalled),
            None => {}
        }
        flush(io, ctx, true, deadline)?;
        if std::mem::take(&mut io.core_mut().stop_requested) {
            break;
        }
    }
    Ok(())
}
