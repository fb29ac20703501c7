//! The twin's loop: submission, one pass of `flush`, and running an
//! operation against the simulated world.
//!
//! A pass: when waiting and nothing is ready, jump virtual time to the next
//! due event (timer, storage completion, network arrival, or the run's
//! deadline; with none of those but something in flight, the real IO's
//! bounded wait of one second); move due events to the ready FIFO; drain
//! it (operations submitted by callbacks run in the same pass); retry
//! parked network operations, in the order they parked, as long as
//! callbacks keep running.

use super::SimIO;
use super::fds::FdKind;
use super::network::SocketKey;
use super::op::{Op, Place, Span};
use super::storage::{Access, Chaos, IoKind};
use super::trace::Record;
use crate::buffer::{Buffer, SECTOR_SIZE, resolve_range};
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::{
    AcceptError, CloseError, ConnectError, Errno, EventError, FsyncError, ReadError, RecvError,
    Rejected, RunError, SendError, SubmitError, TimeoutError, WriteError,
};
use crate::fd::{Fd, OpId};
use crate::options::{AddressFamily, SocketOptions};
use crate::real::DEFAULT_MAX_WAIT_NS;

/// The most callbacks one pass runs, as in the real IO, so a chain of
/// operations that always complete at once cannot starve the rest.
const PASS_BUDGET: usize = 4096;

/// What running an operation produced.
enum Attempt {
    Done(Result<usize, Errno>),
    /// Would block: park until a later pass retries it.
    Park,
    /// Put somewhere to run again later (the event queue, or behind the
    /// operations a close cancels).
    Requeued,
}

impl<C> SimIO<C> {
    // ---- submission ----

    pub(crate) fn submit(&mut self, op: Op<C>) -> Result<OpId, (SubmitError, Op<C>)> {
        if !self.is_alive(self.current) {
            return Err((SubmitError::Closed, op));
        }
        let Some(index) = self.free.pop() else {
            return Err((SubmitError::NoFreeSlot, op));
        };
        let id = self.occupy(index, op);
        self.slots[index as usize].place = Place::Ready;
        self.ready.push_back(&mut self.links, index);
        Ok(id)
    }

    /// Fills free slot `index` (already taken off `free`) with `op`.
    pub(crate) fn occupy(&mut self, index: u32, op: Op<C>) -> OpId {
        let now = self.clock.now();
        let node = self.current;
        self.trace.record(
            Record::Submit,
            [now, op.kind(), op.tag(), u64::from(node.0), u64::from(index)],
        );
        let slot = &mut self.slots[index as usize];
        slot.op = op;
        slot.forced = None;
        slot.due = false;
        slot.node = node;
        OpId { slot: index, generation: slot.generation }
    }

    pub(crate) fn submit_plain(&mut self, op: Op<C>) -> Result<OpId, SubmitError> {
        self.submit(op).map_err(|(error, _)| error)
    }

    /// Validates a buffer range (and file offset) and submits the op `make`
    /// builds, handing the buffer back on refusal.
    pub(crate) fn submit_span(
        &mut self,
        fd: Fd,
        buffer: Buffer,
        range: impl std::ops::RangeBounds<usize>,
        offset: Option<u64>,
        make: impl FnOnce(i32, Span) -> Op<C>,
    ) -> Result<OpId, Rejected<Buffer>> {
        let (start, end) = match check_span(fd, &buffer, range, offset) {
            Ok(bounds) => bounds,
            Err(error) => return Err(Rejected { error, returned: buffer }),
        };
        let op = make(fd.raw(), Span { buffer, start, end });
        self.submit(op).map_err(|(error, op)| Rejected { error, returned: take_buffer(op) })
    }

    pub(crate) fn release(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.place = Place::Free;
        slot.forced = None;
        slot.due = false;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
    }

    // ---- the loop ----

    pub(crate) fn flush_guarded(
        &mut self,
        ctx: &mut C,
        wait: bool,
        deadline: Option<u64>,
    ) -> Result<(), RunError> {
        if self.in_flush {
            return Err(RunError::Reentrant);
        }
        self.in_flush = true;
        self.pass(ctx, wait, deadline);
        self.in_flush = false;
        Ok(())
    }

    fn pass(&mut self, ctx: &mut C, wait: bool, deadline: Option<u64>) {
        if wait && self.ready.is_empty() && !self.budget_exhausted {
            self.jump(deadline);
        }
        self.expire();
        let mut budget = PASS_BUDGET;
        self.network.advance(self.clock.now());
        self.requeue_parked();
        loop {
            let before = self.callbacks_run;
            self.drain(ctx, &mut budget);
            let progressed = self.callbacks_run != before;
            if budget == 0 || !progressed || self.parked.is_empty() {
                break;
            }
            // Callbacks ran: they may have unblocked parked operations (and
            // sent segments that arrive at once, under a zero delay).
            self.network.advance(self.clock.now());
            self.requeue_parked();
        }
        self.budget_exhausted = !self.ready.is_empty();
    }

    /// Moves virtual time to the next moment something can happen. With
    /// nothing in flight and no deadline, time stays put, as the real IO
    /// does not wait then.
    fn jump(&mut self, deadline: Option<u64>) {
        let now = self.clock.now();
        let idle = self.slots.len() == self.free.len();
        let arrival = if idle { None } else { self.network.next_arrival() };
        let next = [self.queue.next_deadline(), arrival, deadline].into_iter().flatten().min();
        match next {
            Some(at) => self.clock.advance_to(at),
            None if self.waits_on_world() => {
                self.clock.advance_to(now.saturating_add(DEFAULT_MAX_WAIT_NS))
            }
            None => {}
        }
    }

    /// Something in flight can only be completed by the outside world (the
    /// network, or a trigger).
    fn waits_on_world(&self) -> bool {
        !self.parked.is_empty() || self.armed_listeners > 0
    }

    fn expire(&mut self) {
        let now = self.clock.now();
        while let Some(index) = self.queue.pop_due(now) {
            let slot = &mut self.slots[index as usize];
            slot.place = Place::Ready;
            slot.due = true;
            self.ready.push_back(&mut self.links, index);
        }
    }

    /// Parked operations go back to the ready FIFO, in the order they
    /// parked, to be tried again.
    fn requeue_parked(&mut self) {
        while let Some(index) = self.parked.pop_front(&mut self.links) {
            self.slots[index as usize].place = Place::Ready;
            self.ready.push_back(&mut self.links, index);
        }
    }

    fn drain(&mut self, ctx: &mut C, budget: &mut usize) {
        // Operations that park during this drain wait for the next retry,
        // so a drain always ends.
        while *budget > 0 {
            let Some(index) = self.ready.pop_front(&mut self.links) else { break };
            let slot = &self.slots[index as usize];
            let attempt = match slot.forced {
                Some(errno) => Attempt::Done(Err(errno)),
                None => self.attempt(index),
            };
            match attempt {
                Attempt::Done(result) => {
                    *budget -= 1;
                    self.complete(ctx, index, result);
                }
                Attempt::Park => {
                    self.slots[index as usize].place = Place::Parked;
                    self.parked.push_back(&mut self.links, index);
                }
                Attempt::Requeued => {}
            }
        }
    }

    /// Runs operation `index` against the simulated world.
    fn attempt(&mut self, index: u32) -> Attempt {
        let node = self.slots[index as usize].node;
        let slot = &self.slots[index as usize];
        match &slot.op {
            Op::Free => unreachable!("a free slot is never queued"),
            Op::Timeout { .. } | Op::EventListen { .. } => Attempt::Done(Ok(0)),
            Op::Read { .. } | Op::Write { .. } | Op::Fsync { .. } => {
                if slot.due {
                    Attempt::Done(self.execute_storage(index))
                } else {
                    self.issue_storage(index)
                }
            }
            Op::Close { fd, .. } => self.attempt_close(index, node, *fd),
            Op::Accept { fd, .. }
            | Op::Connect { fd, .. }
            | Op::Recv { fd, .. }
            | Op::Send { fd, .. } => match self.fds.get(node, *fd).map(|e| &e.kind) {
                None => Attempt::Done(Err(Errno::EBADF)),
                Some(&FdKind::Socket { key, family, options }) => {
                    self.attempt_network(index, key, family, options)
                }
                Some(_) => Attempt::Done(Err(Errno::ENOTSOCK)),
            },
        }
    }

    /// Tries a network operation on socket `key`: `None` from the network
    /// (would block) parks it until a later retry.
    fn attempt_network(
        &mut self,
        index: u32,
        key: SocketKey,
        family: AddressFamily,
        options: SocketOptions,
    ) -> Attempt {
        let now = self.clock.now();
        let prng = &mut self.streams.network;
        let faults = &self.faults.network;
        let slot = &mut self.slots[index as usize];
        let polled = match &mut slot.op {
            Op::Accept { .. } => match self.network.poll_accept(key) {
                None => None,
                Some(Err(error)) => Some(Err(errno_of(error.errno()))),
                Some(Ok(accepted)) => {
                    let kind = FdKind::Socket { key: accepted, family, options };
                    Some(match self.fds.open(slot.node, kind) {
                        Some(fd) => Ok(fd as usize),
                        None => {
                            let _ = self.network.close(accepted);
                            Err(Errno::EMFILE)
                        }
                    })
                }
            },
            Op::Connect { address, started, .. } => {
                if !*started {
                    *started = true;
                    if AddressFamily::of(address) != family {
                        return Attempt::Done(Err(Errno::EAFNOSUPPORT));
                    }
                    if let Err(error) = self.network.connect(key, *address, now, prng, faults) {
                        return Attempt::Done(Err(errno_of(error.errno())));
                    }
                }
                self.network
                    .poll_connect(key)
                    .map(|result| result.map(|()| 0).map_err(|e| errno_of(e.errno())))
            }
            Op::Recv { span, .. } => {
                let buffer = &mut span.buffer[span.start..span.end];
                self.network
                    .poll_recv(key, buffer, prng, faults)
                    .map(|result| result.map_err(|e| errno_of(e.errno())))
            }
            Op::Send { span, .. } => {
                let data = &span.buffer[span.start..span.end];
                self.network
                    .poll_send(key, data, now, prng, faults)
                    .map(|result| result.map_err(|e| errno_of(e.errno())))
            }
            _ => unreachable!("not a network operation"),
        };
        match polled {
            None => Attempt::Park,
            Some(result) => Attempt::Done(result),
        }
    }

    /// First run of a storage operation: checks its descriptor and
    /// arguments as the kernel would, then either runs it now (no latency)
    /// or queues it for when its latency has passed.
    fn issue_storage(&mut self, index: u32) -> Attempt {
        let slot = &self.slots[index as usize];
        let (fd, span, writing) = match &slot.op {
            Op::Read { fd, span, offset, .. } => (*fd, Some((span, *offset)), false),
            Op::Write { fd, span, offset, .. } => (*fd, Some((span, *offset)), true),
            Op::Fsync { fd, .. } => (*fd, None, false),
            _ => unreachable!("not a storage operation"),
        };
        let Some(entry) = self.fds.get(slot.node, fd) else {
            return Attempt::Done(Err(Errno::EBADF));
        };
        let file = match (&entry.kind, span, writing) {
            (FdKind::File { file, writable, direct }, Some((span, offset)), _) => {
                if writing && !writable {
                    return Attempt::Done(Err(Errno::EBADF));
                }
                if *direct && misaligned(span, offset) {
                    return Attempt::Done(Err(Errno::EINVAL));
                }
                *file
            }
            (FdKind::File { file, .. }, None, _) => *file,
            (FdKind::Dir { .. }, Some(_), false) => return Attempt::Done(Err(Errno::EISDIR)),
            (FdKind::Dir { .. }, Some(_), true) => return Attempt::Done(Err(Errno::EBADF)),
            (FdKind::Dir { .. }, None, _) => return Attempt::Done(Ok(0)),
            (FdKind::Socket { .. }, Some(_), _) => return Attempt::Done(Err(Errno::ESPIPE)),
            (FdKind::Socket { .. }, None, _) => return Attempt::Done(Err(Errno::EINVAL)),
        };
        let (kind, bytes) = match &slot.op {
            Op::Read { span, .. } => (IoKind::Read, span.end - span.start),
            Op::Write { span, .. } => (IoKind::Write, span.end - span.start),
            _ => (IoKind::Fsync, 0),
        };
        let now = self.clock.now();
        let faults = &self.faults.storage;
        let at =
            self.storage.ready_at(slot.node, kind, bytes, now, faults, &mut self.streams.latency);
        self.slots[index as usize].file = file;
        if at == now {
            return Attempt::Done(self.execute_storage(index));
        }
        self.slots[index as usize].place = Place::Queued;
        self.queue.push(index, at);
        Attempt::Requeued
    }

    /// Applies a storage operation to its file, drawing its faults.
    fn execute_storage(&mut self, index: u32) -> Result<usize, Errno> {
        let slot = &mut self.slots[index as usize];
        slot.due = false;
        let file = slot.file;
        let mut chaos = Chaos { faults: &self.faults.storage, prng: &mut self.streams.storage };
        let storage = &mut self.storage;
        let access = |fd: &i32| Access { node: slot.node, fd: *fd };
        match &mut slot.op {
            Op::Read { fd, span, offset, .. } => {
                let buffer = &mut span.buffer[span.start..span.end];
                storage.read(file, access(fd), buffer, *offset, &mut chaos)
            }
            Op::Write { fd, span, offset, .. } => {
                let data = &span.buffer[span.start..span.end];
                storage.write(file, access(fd), data, *offset, &mut chaos)
            }
            Op::Fsync { fd, .. } => storage.fsync(file, access(fd), &mut chaos).map(|()| 0),
            _ => unreachable!("not a storage operation"),
        }
    }

    fn attempt_close(&mut self, index: u32, node: super::NodeId, fd: i32) -> Attempt {
        let Some(entry) = self.fds.get(node, fd) else {
            return Attempt::Done(Err(Errno::EBADF));
        };
        if matches!(entry.kind, FdKind::Socket { .. }) {
            let waiters_canceled = match &mut self.slots[index as usize].op {
                Op::Close { waiters_canceled, .. } => std::mem::replace(waiters_canceled, true),
                _ => unreachable!("not a close"),
            };
            if !waiters_canceled && self.cancel_waiters(node, fd) {
                // The canceled operations complete first; the close after them.
                self.slots[index as usize].place = Place::Ready;
                self.ready.push_back(&mut self.links, index);
                return Attempt::Requeued;
            }
        }
        match self.fds.close(node, fd).map(|entry| entry.kind) {
            Some(FdKind::File { file, writable: true, .. }) => {
                self.storage.file(file).locked = false
            }
            Some(FdKind::Socket { key, .. }) => {
                // The key was open (the table held it): closing cannot fail.
                let _ = self.network.close(key);
            }
            _ => {}
        }
        Attempt::Done(Ok(0))
    }

    /// Completes every network operation of `node` parked (or waiting to
    /// run) on `fd` with `Canceled`. Returns whether there was any.
    fn cancel_waiters(&mut self, node: super::NodeId, fd: i32) -> bool {
        let mut any = false;
        for index in 0..self.slots.len() as u32 {
            let slot = &mut self.slots[index as usize];
            if slot.node != node || slot.op.socket_fd() != Some(fd) || slot.forced.is_some() {
                continue;
            }
            match slot.place {
                Place::Parked => {
                    self.parked.remove(&mut self.links, index);
                    slot.place = Place::Ready;
                    self.ready.push_back(&mut self.links, index);
                }
                Place::Ready => {}
                _ => continue,
            }
            self.slots[index as usize].forced = Some(Errno::ECANCELED);
            any = true;
        }
        any
    }

    /// Releases slot `index` and calls its callback with `result`, as the
    /// node that submitted it.
    fn complete(&mut self, ctx: &mut C, index: u32, result: Result<usize, Errno>) {
        let node = self.slots[index as usize].node;
        let op = std::mem::replace(&mut self.slots[index as usize].op, Op::Free);
        self.release(index);
        self.callbacks_run += 1;
        let code = match result {
            Ok(n) => n as u64,
            Err(errno) => (1 << 32) | errno as u64,
        };
        let now = self.clock.now();
        self.trace.record(Record::Complete, [now, op.kind(), op.tag(), code, u64::from(node.0)]);
        let previous = std::mem::replace(&mut self.current, node);
        self.call(ctx, op, result);
        self.current = previous;
    }

    fn call(&mut self, ctx: &mut C, op: Op<C>, result: Result<usize, Errno>) {
        match op {
            Op::Free => unreachable!("a free slot is never queued"),
            Op::Accept { tag, callback, .. } => {
                let result = result.map(|fd| Fd::from_raw(fd as i32));
                let result = result.map_err(AcceptError::from_errno);
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
                if result.is_ok() {
                    self.listener_delivered(event);
                }
                let result = result.map(drop).map_err(EventError::from_errno);
                callback(ctx, self, EventDone { tag, result });
            }
        }
    }
}

/// The errno a network error stands for (every variant has one).
fn errno_of(errno: Option<Errno>) -> Errno {
    errno.unwrap_or(Errno::EINVAL)
}

/// Direct IO needs the offset, the length and the buffer address aligned
/// to the sector (the simulated device's logical block is 4096 bytes).
fn misaligned(span: &Span, offset: u64) -> bool {
    let sector = SECTOR_SIZE as u64;
    let address = span.buffer[span.start..].as_ptr() as u64;
    !offset.is_multiple_of(sector)
        || !((span.end - span.start) as u64).is_multiple_of(sector)
        || !address.is_multiple_of(sector)
}

/// The buffer of a refused buffer operation, to hand back.
fn take_buffer<C>(op: Op<C>) -> Buffer {
    match op {
        Op::Recv { span, .. }
        | Op::Send { span, .. }
        | Op::Read { span, .. }
        | Op::Write { span, .. } => span.buffer,
        _ => unreachable!("only buffer operations are submitted through submit_span"),
    }
}

/// Checks a buffer range (and file offset) before anything is queued,
/// exactly as the real IO does.
fn check_span(
    fd: Fd,
    buffer: &Buffer,
    range: impl std::ops::RangeBounds<usize>,
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

pub(crate) fn check_fd(fd: Fd) -> Result<i32, SubmitError> {
    if fd.raw() < 0 { Err(SubmitError::InvalidFd) } else { Ok(fd.raw()) }
}
