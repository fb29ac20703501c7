//! Cancellation and timer reset.
//!
//! The rules that keep "exactly one callback per operation" true:
//! - a canceled operation is not completed on the spot; it gets the outcome
//!   `ECANCELED` and moves to `completed`, so its callback runs once, in
//!   the next drain, like every other callback;
//! - an operation already on `completed` (a fresh submit, or one the world
//!   made ready in this very pass) is only marked: the mark wins over its
//!   attempt, which then never runs;
//! - an id whose slot was released (callback run or running), or that
//!   another IO issued, is `NotRunning`.

use super::op::{Op, Place};
use super::{Backend, Withdrawn, events};
use crate::error::{CancelError, Errno};
use crate::fd::OpId;

/// The slot index of `target` if it is one of this IO's operations in flight.
fn live_slot<B: Backend>(io: &B, target: OpId) -> Result<u32, CancelError> {
    let core = io.core();
    if target.io != core.id {
        return Err(CancelError::NotRunning);
    }
    let slot = core.slots.get(target.slot as usize).ok_or(CancelError::NotRunning)?;
    if slot.generation != target.generation || slot.place == Place::Free {
        return Err(CancelError::NotRunning);
    }
    Ok(target.slot)
}

pub(crate) fn cancel<B: Backend>(io: &mut B, target: OpId) -> Result<(), CancelError> {
    let index = live_slot(io, target)?;
    let slot = &io.core().slots[index as usize];
    if slot.canceled() {
        return Err(CancelError::AlreadyCanceled);
    }
    // A listener already on `completed` was fired by a trigger that nobody
    // will see once it completes as canceled: hand it back.
    let fired = match (&slot.op, slot.place) {
        // (In the heap, it was fired and is held for its paused node.)
        (Op::EventListen { event, .. }, Place::Completed | Place::Timer) => Some(*event),
        _ => None,
    };
    // One already on `completed` keeps its place; the outcome wins there.
    // One the world was asked to withdraw keeps its place; the world
    // completes it, and the outcome marks it canceled until then.
    if slot.place != Place::Completed && unlink(io, index)? == Withdrawn::Now {
        io.core_mut().make_ready(index);
    }
    let core = io.core_mut();
    core.slots[index as usize].outcome = Some(Err(Errno::ECANCELED));
    if let Some(event) = fired {
        events::return_trigger(io, event);
    }
    Ok(())
}

/// Cancels every operation in flight that can be withdrawn; returns how
/// many were.
pub(crate) fn cancel_all<B: Backend>(io: &mut B) -> usize {
    let mut canceled = 0;
    for index in 0..io.core().slots.len() as u32 {
        let slot = &io.core().slots[index as usize];
        if slot.place == Place::Free || slot.canceled() {
            continue;
        }
        let target = OpId { slot: index, generation: slot.generation, io: io.core().id };
        if cancel(io, target).is_ok() {
            canceled += 1;
        }
    }
    canceled
}

/// Takes operation `index` out of wherever it waits. One on `completed` is
/// taken out too (the caller queues it again, at the back, or drops it).
fn unlink<B: Backend>(io: &mut B, index: u32) -> Result<Withdrawn, CancelError> {
    let place = io.core().slots[index as usize].place;
    match place {
        Place::Free => return Err(CancelError::NotRunning),
        Place::Waiting(wait) => {
            if io.unlink_waiting(index, wait)? == Withdrawn::Requested {
                return Ok(Withdrawn::Requested);
            }
        }
        Place::Completed => {
            let core = io.core_mut();
            core.completed.remove(&mut core.slots, index);
        }
        Place::Timer => {
            io.core_mut().timers.remove(index);
        }
        Place::Listener(event) => {
            let events = &mut io.core_mut().events;
            events.slots[event as usize].listener = None;
            events.armed -= 1;
        }
    }
    Ok(Withdrawn::Now)
}

/// Drops operation `index` without its callback (its process died, in the
/// twin). Its buffer is freed.
pub(crate) fn discard<B: Backend>(io: &mut B, index: u32) {
    if unlink(io, index) == Ok(Withdrawn::Now) {
        super::run::release(io.core_mut(), index);
    }
}

/// Moves a pending timeout to fire `ns` from now, without a callback for
/// the old deadline. A timeout that expired but whose callback has not run
/// is re-armed too. Among timers with the same deadline, a reset one fires
/// after those armed before the reset.
pub(crate) fn reset_timeout<B: Backend>(
    io: &mut B,
    target: OpId,
    ns: u64,
) -> Result<(), CancelError> {
    let index = live_slot(io, target)?;
    let slot = &io.core().slots[index as usize];
    if !matches!(slot.op, Op::Timeout { .. }) {
        return Err(CancelError::NotATimeout);
    }
    if slot.canceled() {
        return Err(CancelError::AlreadyCanceled);
    }
    unlink(io, index)?;
    let deadline = io.deadline_after(Some(&io.core().slots[index as usize].data), ns);
    let core = io.core_mut();
    core.slots[index as usize].place = Place::Timer;
    core.timers.push(index, deadline);
    Ok(())
}
