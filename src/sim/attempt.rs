//! Attempting an operation against the simulated world: the network, the
//! storage (with its latency and faults) and the descriptor table.

use super::SimIO;
use super::events::{SimEventKind, StorageFaultSet};
use super::fds::FdKind;
use super::network::SocketKey;
use super::node::NodeId;
use super::storage::{Access, Chaos, IoKind};
use crate::buffer::SECTOR_SIZE;
use crate::engine::check_within_data_file;
use crate::engine::op::{Attempt, Op, Place, Span};
use crate::error::Errno;
use crate::fd::Fd;
use crate::options::{AddressFamily, SocketOptions};

/// Where an operation of the twin waits outside the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// A network operation that would block, parked on the socket in this
    /// slot of the network until it changes.
    Parked { socket: u32 },
}

/// What the twin keeps per operation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SlotData {
    /// The node that submitted it (its callback runs as that node).
    pub node: NodeId,
    /// The file a storage operation was issued against (resolved from its
    /// descriptor at issue, as the kernel holds the open file).
    pub file: u32,
    /// A storage operation whose latency has passed: it runs now.
    pub due: bool,
    /// It waits in the deadline heap for its paused node, not for a
    /// latency (`SimIO::hold`).
    pub held: bool,
    /// An fsync's ticket, drawn when it was submitted (0: not on a data
    /// file then): which writes it covers.
    pub ticket: u32,
}

impl<C> SimIO<C> {
    /// Runs operation `index` against the simulated world.
    pub(crate) fn attempt_op(&mut self, index: u32) -> Attempt {
        let slot = &self.core.slots[index as usize];
        let node = slot.data.node;
        match &slot.op {
            Op::Free => unreachable!("a free slot is never queued"),
            Op::Timeout { .. } | Op::EventListen { .. } => Attempt::Done(Ok(0)),
            Op::Read { .. } | Op::Write { .. } | Op::Fsync { .. } => {
                if slot.data.due {
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
        let slot = &mut self.core.slots[index as usize];
        let polled = match &mut slot.op {
            Op::Accept { .. } => match self.network.poll_accept(key) {
                None => None,
                Some(Err(errno)) => Some(Err(errno)),
                Some(Ok(accepted)) => {
                    let kind = FdKind::Socket { key: accepted, family, options };
                    Some(match self.fds.open(slot.data.node, kind) {
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
                    if let Err(errno) = self.network.connect(key, *address, now, prng, faults) {
                        return Attempt::Done(Err(errno));
                    }
                }
                self.network.poll_connect(key).map(|result| result.map(|()| 0))
            }
            Op::Recv { span, .. } => self.network.poll_recv(key, span.bytes_mut(), prng, faults),

            Op::Send { span, .. } => self.network.poll_send(key, span.bytes(), now, prng, faults),

            _ => unreachable!("not a network operation"),
        };
        match polled {
            None => {
                let socket = key.slot();
                self.core.slots[index as usize].place = Place::Waiting(Wait::Parked { socket });
                self.parking.park(&mut self.core, index, socket);
                Attempt::Pending
            }
            Some(result) => Attempt::Done(result),
        }
    }

    /// First run of a storage operation: checks its descriptor and
    /// arguments as the kernel would, then either runs it now (no latency)
    /// or defers it until its latency has passed.
    fn issue_storage(&mut self, index: u32) -> Attempt {
        let slot = &self.core.slots[index as usize];
        let (fd, span, writing) = match &slot.op {
            Op::Read { fd, span, offset, .. } => (*fd, Some((span, *offset)), false),
            Op::Write { fd, span, offset, .. } => (*fd, Some((span, *offset)), true),
            Op::Fsync { fd, .. } => (*fd, None, false),
            _ => unreachable!("not a storage operation"),
        };
        let Some(entry) = self.fds.get(slot.data.node, fd) else {
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
        if let Op::Write { span, offset, .. } = &slot.op
            && let Err(errno) =
                check_within_data_file(*offset, span.len(), self.storage.file(file).size)
        {
            return Attempt::Done(Err(errno));
        }
        let (kind, bytes) = match &slot.op {
            Op::Read { span, .. } => (IoKind::Read, span.len()),
            Op::Write { span, .. } => (IoKind::Write, span.len()),
            _ => (IoKind::Fsync, 0),
        };
        let node = slot.data.node;
        let now = self.clock.now();
        let faults = &self.faults.storage;
        let at = self.storage.ready_at(node, kind, bytes, now, faults, &mut self.streams.latency);
        self.core.slots[index as usize].data.file = file;
        if at == now {
            return Attempt::Done(self.execute_storage(index));
        }
        crate::engine::run::defer(&mut self.core, index, at);
        Attempt::Pending
    }

    /// Applies a storage operation to its file, drawing its faults.
    fn execute_storage(&mut self, index: u32) -> Result<usize, Errno> {
        let slot = &mut self.core.slots[index as usize];
        let file = slot.data.file;
        let node = slot.data.node;
        let mut chaos = Chaos {
            faults: &self.faults.storage,
            prng: &mut self.streams.storage,
            fired: StorageFaultSet::default(),
        };
        let storage = &mut self.storage;
        let access = |fd: &i32| Access { node, fd: *fd };
        let (result, fd, offset) = match &mut slot.op {
            Op::Read { fd, span, offset, .. } => (
                storage.read(file, access(fd), span.bytes_mut(), *offset, &mut chaos),
                *fd,
                *offset,
            ),
            Op::Write { fd, span, offset, .. } => {
                (storage.write(file, access(fd), span.bytes(), *offset, &mut chaos), *fd, *offset)
            }
            Op::Fsync { fd, .. } => {
                let ticket = slot.data.ticket;
                (storage.fsync(file, access(fd), ticket, &mut chaos).map(|()| 0), *fd, 0)
            }
            _ => unreachable!("not a storage operation"),
        };
        if !chaos.fired.is_empty() {
            let faults = chaos.fired;
            self.log(node, SimEventKind::StorageFaults { fd: Fd::from_raw(fd), offset, faults });
        }
        result
    }

    /// An fsync was submitted in slot `index`: it draws its file's ticket
    /// now, so the writes whose callbacks run after this point are not its
    /// to cover, whenever it is issued.
    pub(crate) fn fsync_submitted(&mut self, index: u32) {
        let slot = &self.core.slots[index as usize];
        let Op::Fsync { fd, .. } = slot.op else { return };
        if let Some(FdKind::File { file, .. }) = self.fds.get(slot.data.node, fd).map(|e| &e.kind) {
            let ticket = self.storage.submit_fsync(*file);
            self.core.slots[index as usize].data.ticket = ticket;
        }
    }

    fn attempt_close(&mut self, index: u32, node: NodeId, fd: i32) -> Attempt {
        let Some(entry) = self.fds.get(node, fd) else {
            return Attempt::Done(Err(Errno::EBADF));
        };
        if matches!(entry.kind, FdKind::Socket { .. }) {
            let waiters_canceled = match &mut self.core.slots[index as usize].op {
                Op::Close { waiters_canceled, .. } => std::mem::replace(waiters_canceled, true),
                _ => unreachable!("not a close"),
            };
            if !waiters_canceled && self.cancel_waiters(node, fd) {
                // The canceled operations complete first; the close after them.
                self.core.make_ready(index);
                return Attempt::Pending;
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

    /// Gives every network operation of `node` parked (or waiting to run)
    /// on `fd` the outcome `Canceled`. Returns whether there was any.
    fn cancel_waiters(&mut self, node: NodeId, fd: i32) -> bool {
        let mut any = false;
        for index in 0..self.core.slots.len() as u32 {
            let slot = &self.core.slots[index as usize];
            if slot.data.node != node || slot.op.socket_fd() != Some(fd) || slot.outcome.is_some() {
                continue;
            }
            match slot.place {
                Place::Waiting(Wait::Parked { socket }) => {
                    self.parking.remove(&mut self.core.links, index, socket);
                    self.core.make_ready(index);
                }
                Place::Completed => {}
                _ => continue,
            }
            self.core.slots[index as usize].outcome = Some(Err(Errno::ECANCELED));
            any = true;
        }
        any
    }
}

/// Direct IO needs the offset, the length and the buffer address aligned
/// to the sector (the simulated device's logical block is 4096 bytes).
fn misaligned(span: &Span, offset: u64) -> bool {
    let sector = SECTOR_SIZE as u64;
    let address = span.bytes().as_ptr() as u64;
    !offset.is_multiple_of(sector)
        || !(span.len() as u64).is_multiple_of(sector)
        || !address.is_multiple_of(sector)
}
