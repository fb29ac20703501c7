//! What the twin supplies to the engine core: virtual time, waits that
//! jump it, parked network operations retried when their socket changes, the
//! trace, and the node each callback runs as.

use super::SimIO;
use super::attempt::{SlotData, Wait};
use super::events::{OpKind, SimEventKind};
use super::fds::FdKind;
use super::network::readiness::Interest;
use super::node::NodeId;
use super::trace::Record;
use crate::engine::op::{Attempt, Op};
use crate::engine::{Backend, Core, Withdrawn};
use crate::error::{CancelError, Errno, EventError, RunError, SubmitError};
use crate::fd::Fd;

/// What a dead node's process-level calls fail with: "no such process".
pub(crate) const DEAD: Errno = Errno::ESRCH;

impl<C> Backend for SimIO<C> {
    type Wait = Wait;
    type SlotData = SlotData;
    type EventData = NodeId;
    /// The node that was current before the callback.
    type Scope = NodeId;

    #[inline(always)]
    fn core(&self) -> &Core<Self> {
        &self.core
    }

    #[inline(always)]
    fn core_mut(&mut self) -> &mut Core<Self> {
        &mut self.core
    }

    #[inline]
    fn clock_ns(&self) -> u64 {
        self.clock.now()
    }

    /// What the current node's clock reads.
    #[inline]
    fn local_clock_ns(&self) -> u64 {
        self.now_ns()
    }

    /// On the clock of the operation's node (a run's: the current node's).
    #[inline]
    fn deadline_after(&self, owner: Option<&SlotData>, ns: u64) -> u64 {
        self.deadline_for(owner.map_or(self.current, |data| data.node), ns)
    }

    #[inline]
    fn held_until(&mut self, index: u32) -> Option<u64> {
        self.hold(index)
    }

    fn admit(&self) -> Result<SlotData, SubmitError> {
        if !self.is_alive(self.current) {
            return Err(SubmitError::Closed);
        }
        Ok(SlotData { node: self.current, file: 0, due: false, held: false, ticket: 0 })
    }

    fn submitted(&mut self, index: u32) {
        let slot = &self.core.slots[index as usize];
        let fields = [
            self.clock.now(),
            slot.op.kind(),
            slot.op.tag(),
            u64::from(slot.data.node.0),
            u64::from(index),
        ];
        self.trace.record(Record::Submit, fields);
        if self.event_log.is_some() {
            let (op, node) = (&slot.op, slot.data.node);
            let (offset, len) = match op {
                Op::Read { span, offset, .. } | Op::Write { span, offset, .. } => {
                    (*offset, span.len())
                }
                Op::Recv { span, .. } | Op::Send { span, .. } => (0, span.len()),
                _ => (0, 0),
            };
            let kind = SimEventKind::Submit {
                op: OpKind::from_code(op.kind()),
                fd: op.fd().map(Fd::from_raw),
                offset,
                len,
                tag: op.tag(),
            };
            self.log(node, kind);
        }
        self.fsync_submitted(index);
    }

    fn deadline_passed(data: &mut SlotData) {
        // A pause's end is not a latency's: a held storage operation that
        // was not issued yet is issued now.
        if data.held {
            data.held = false;
        } else {
            data.due = true;
        }
    }

    fn attempt(&mut self, index: u32) -> Attempt {
        self.attempt_op(index)
    }

    fn unlink_waiting(&mut self, index: u32, wait: Wait) -> Result<Withdrawn, CancelError> {
        match wait {
            Wait::Parked { socket } => self.parking.remove(&mut self.core.links, index, socket),
        }
        Ok(Withdrawn::Now)
    }

    fn waits_on_world(&self) -> bool {
        !self.parking.is_empty() || self.core.events.armed > 0
    }

    fn next_world_event(&self) -> Option<u64> {
        // With nothing in flight the network is not waited for: time stays
        // put, as the real IO does not wait then.
        if self.core.in_flight() == 0 { None } else { self.network.next_arrival() }
    }

    /// A wait jumps virtual time (the core bounds it by the next deadline,
    /// the next arrival and the run's deadline); then what arrived is
    /// delivered and the operations parked on what changed are retried.
    fn poll(&mut self, timeout_ns: u64) -> Result<(), RunError> {
        if timeout_ns > 0 {
            self.clock.advance_to(self.clock.now().saturating_add(timeout_ns));
        }
        self.wake_parked();
        Ok(())
    }

    /// Callbacks ran: what they did (a read that reopened a window, a send
    /// that arrives at once under a zero delay) may let parked operations
    /// run.
    fn after_progress(&mut self) -> bool {
        self.wake_parked()
    }

    fn stalled(&self) -> bool {
        let core = &self.core;
        core.completed.is_empty()
            && core.timers.is_empty()
            && !core.budget_exhausted
            && self.network.next_arrival().is_none()
    }

    fn enter_callback(&mut self, index: u32, result: &Result<usize, Errno>) -> NodeId {
        let slot = &self.core.slots[index as usize];
        let (data, op) = (slot.data, &slot.op);
        let code = match *result {
            Ok(n) => n as u64,
            Err(errno) => (1 << 32) | errno as u64,
        };
        let fields = [self.clock.now(), op.kind(), op.tag(), code, u64::from(data.node.0)];
        self.trace.record(Record::Complete, fields);
        if self.event_log.is_some() {
            let kind = SimEventKind::Complete {
                op: OpKind::from_code(op.kind()),
                fd: op.fd().map(Fd::from_raw),
                result: *result,
                tag: op.tag(),
            };
            self.log(data.node, kind);
        }
        std::mem::replace(&mut self.current, data.node)
    }

    fn leave_callback(&mut self, previous: NodeId) {
        self.current = previous;
    }

    fn open_event_data(&mut self, _key: u64) -> Result<NodeId, EventError> {
        if !self.is_alive(self.current) {
            return Err(EventError::Unexpected(DEAD));
        }
        Ok(self.current)
    }

    /// Events belong to a node: another node's are not this one's to use.
    fn event_visible(&self, node: &NodeId) -> bool {
        *node == self.current
    }

    fn close_event_data(&mut self, _node: NodeId) {}
}

impl<C> SimIO<C> {
    /// Delivers what has arrived by now and moves the operations parked on
    /// the sockets that changed back to `completed`, to be tried again.
    /// False if none was.
    fn wake_parked(&mut self) -> bool {
        self.network.advance(self.clock.now());
        let woke = self.parking.wake(&mut self.core, &mut self.network);
        if cfg!(debug_assertions) {
            self.check_parked();
        }
        woke
    }

    /// Panics if an operation still parked could run: no event woke it, a
    /// bug of the twin's readiness (`network/readiness.rs`).
    fn check_parked(&self) {
        self.parking.for_each(&self.core.links, |index, socket| {
            let slot = &self.core.slots[index as usize];
            let (fd, interest) = match slot.op {
                Op::Accept { fd, .. } => (fd, Interest::Accept),
                Op::Connect { fd, .. } => (fd, Interest::Connect),
                Op::Recv { fd, .. } => (fd, Interest::Recv),
                Op::Send { fd, .. } => (fd, Interest::Send),
                _ => unreachable!("only network operations park"),
            };
            let Some(FdKind::Socket { key, .. }) =
                self.fds.get(slot.data.node, fd).map(|e| &e.kind)
            else {
                panic!("twin bug: an operation parked on a closed descriptor {fd}")
            };
            assert!(
                key.slot() == socket && self.network.would_block(*key, interest),
                "twin bug: a {interest:?} parked on socket slot {socket} could run, \
                 but no event woke it"
            );
        });
    }
}
