//! Submission: validation, taking a slot, queueing. Every submit of both
//! backends goes through here, so a bad argument gets the same answer from
//! the kernel and from the twin.

use std::ops::RangeBounds;

use super::Backend;
use super::op::{Op, Place, Span};
use crate::buffer::{Buffer, resolve_range};
use crate::done::TimeoutDone;
use crate::error::{Errno, Rejected, SubmitError};
use crate::fd::{Fd, OpId};
use crate::io::Callback;

/// A descriptor a submit may name: any non-negative number (the backend
/// answers one it does not know with `BadFileDescriptor`).
#[inline]
pub(crate) fn check_fd(fd: Fd) -> Result<i32, SubmitError> {
    if fd.raw() < 0 { Err(SubmitError::InvalidFd) } else { Ok(fd.raw()) }
}

/// Checks a buffer range (and file offset) before anything is queued.
#[inline]
pub(crate) fn check_span(
    fd: Fd,
    buffer: &Buffer,
    range: impl RangeBounds<usize>,
    offset: Option<u64>,
) -> Result<(usize, usize), SubmitError> {
    check_fd(fd)?;
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

/// A data file has the fixed size it was formatted with: a write that
/// would reach past it is refused whole (`EFBIG`, as with a file size
/// limit) and never grows the file, on both backends. Checked when the
/// write is attempted, against the size its descriptor was opened with.
#[inline]
pub(crate) fn check_within_data_file(offset: u64, len: usize, size: u64) -> Result<(), Errno> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Errno::EFBIG),
    }
}

/// A slot index just taken from the free stack by `take_slot`, the only
/// maker: below the length of the slots of the IO it was taken from (see
/// "In range" in `fifo.rs`), the IO the same submit then fills it in.
#[derive(Clone, Copy)]
struct Taken(u32);

/// Whether a submit may be accepted, and the free slot it takes.
#[inline(always)]
fn take_slot<B: Backend>(io: &mut B) -> Result<(Taken, B::SlotData), SubmitError> {
    let data = io.admit()?;
    let core = io.core_mut();
    // SAFETY: the free stack is only used with `core.slots` ("In range").
    let index = unsafe { core.free.pop(&core.slots) }.ok_or(SubmitError::NoFreeSlot)?;
    Ok((Taken(index), data))
}

/// Fills free slot `index` with `op`, at `place` (the caller links it
/// there).
///
/// Always inlined (profiled): out of line, the op was built on the
/// caller's stack and copied into the slot, behind a full prologue.
#[inline(always)]
fn occupy<B: Backend>(
    io: &mut B,
    Taken(index): Taken,
    data: B::SlotData,
    op: Op<B>,
    place: Place<B::Wait>,
) -> OpId {
    let core = io.core_mut();
    debug_assert!((index as usize) < core.slots.len());
    // SAFETY: a `Taken` is in range of this IO's slots.
    let slot = unsafe { core.slots.get_unchecked_mut(index as usize) };
    debug_assert!(matches!(slot.op, Op::Free) && slot.place == Place::Free);
    debug_assert!(slot.outcome.is_none());
    // The free slot holds `Op::Free`, which owns nothing: forgetting it
    // skips the drop glue an assignment would branch through.
    std::mem::forget(std::mem::replace(&mut slot.op, op));
    slot.data = data;
    slot.place = place;
    OpId { slot: index, generation: slot.generation, io: core.id }
}

/// Queues `op` on `completed`: it is tried first, when the FIFO drains.
#[inline(always)]
fn queue<B: Backend>(io: &mut B, taken: Taken, data: B::SlotData, op: Op<B>) -> OpId {
    let id = occupy(io, taken, data, op, Place::Completed);
    let core = io.core_mut();
    // SAFETY: a `Taken` is in range of this IO's slots, and so is every
    // index on `completed` ("In range").
    unsafe { core.completed.push_back_in_range(&mut core.slots, taken.0) };
    io.submitted(taken.0);
    id
}

/// Submits an operation that owns no buffer.
#[inline]
pub(crate) fn plain<B: Backend>(io: &mut B, op: Op<B>) -> Result<OpId, SubmitError> {
    let (taken, data) = take_slot(io)?;
    Ok(queue(io, taken, data, op))
}

/// Validates a buffer range and submits the op `make` builds from it,
/// handing the buffer back on refusal. Always inlined into `recv`, `send`,
/// `read` and `write` (profiled: out of line, the call and the op's trip
/// through the stack cost a fifth of a submit).
#[inline(always)]
pub(crate) fn span<B: Backend>(
    io: &mut B,
    fd: Fd,
    buffer: Buffer,
    range: impl RangeBounds<usize>,
    offset: Option<u64>,
    make: impl FnOnce(i32, Span) -> Op<B>,
) -> Result<OpId, Rejected<Buffer>> {
    let (start, end) = match check_span(fd, &buffer, range, offset) {
        Ok(bounds) => bounds,
        Err(error) => return Err(Rejected { error, returned: buffer }),
    };
    // The slot is taken before the op is built, so a refusal hands the
    // buffer back without building (and unpacking) an op.
    let (taken, data) = match take_slot(io) {
        Ok(taken) => taken,
        Err(error) => return Err(Rejected { error, returned: buffer }),
    };
    let span = Span::new(buffer, start, end).expect("check_span checked the range");
    Ok(queue(io, taken, data, make(fd.raw(), span)))
}

/// Arms a timeout `ns` from now. A zero timeout is due now, but only
/// expires at the start of the next pass: a yield, like TigerBeetle's
/// `next_tick`.
pub(crate) fn timeout<B: Backend>(
    io: &mut B,
    ns: u64,
    tag: u64,
    callback: Callback<B, TimeoutDone>,
) -> Result<OpId, SubmitError> {
    let (taken, data) = take_slot(io)?;
    let deadline = io.deadline_after(Some(&data), ns);
    let id = occupy(io, taken, data, Op::Timeout { tag, callback }, Place::Timer);
    io.core_mut().timers.push(taken.0, deadline);
    io.submitted(taken.0);
    Ok(id)
}

/// Takes a slot for a listener of a user event (see `events.rs`).
#[inline]
pub(crate) fn listener_slot<B: Backend>(io: &mut B, op: Op<B>) -> Result<(u32, OpId), SubmitError> {
    let (taken, data) = take_slot(io)?;
    // Placed by the caller: on `completed` or as the event's listener.
    let id = occupy(io, taken, data, op, Place::Completed);
    Ok((taken.0, id))
}
