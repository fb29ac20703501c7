//! The [`Io`] trait for the twin: typed submits, simulated directories and
//! data files, sockets and user events, with the real IO's errors for the
//! same bad inputs.

use std::net::SocketAddr;
use std::ops::RangeBounds;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::SimIO;
use super::engine::check_fd;
use super::fds::FdKind;
use super::op::{Op, Place};
use super::storage::{self, Lookup};
use super::trace::Record;
use super::{SimEvent, node::NodeId};
use crate::buffer::{Buffer, SECTOR_SIZE};
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::{
    CancelError, Errno, EventError, ListenError, OpenError, Rejected, RunError, ShutdownError,
    SocketError, SubmitError,
};
use crate::fd::{EventId, Fd, OpId};
use crate::io::{Callback, Io};
use crate::options::{AddressFamily, DirectIo, FilePurpose, FsyncMode, Shutdown, SocketOptions};

/// The largest data file the simulated file system holds (ext4's limit
/// with 4 KiB blocks); larger sizes are `FileTooBig`.
pub const MAX_FILE_SIZE: u64 = 1 << 44;

/// What a dead node's process-level calls fail with: "no such process".
const DEAD: Errno = Errno::ESRCH;

impl<C> SimIO<C> {
    fn alive_or(&self, errno: Errno) -> Result<NodeId, Errno> {
        if self.is_alive(self.current) { Ok(self.current) } else { Err(errno) }
    }

    fn open_fd(&mut self, node: NodeId, kind: FdKind) -> Result<Fd, OpenError> {
        self.fds.open(node, kind).map(Fd::from_raw).ok_or(OpenError::ProcessFdQuotaExceeded)
    }

    fn event_index(&self, event: EventId) -> Option<usize> {
        let slot = self.events.get(event.index as usize)?;
        (slot.open && slot.generation == event.generation && slot.node == self.current)
            .then_some(event.index as usize)
    }
}

/// Refuses empty and NUL-carrying paths and, for data files, what the real
/// IO refuses too (`crate::sys::file::data_file::check_path`), in its order:
/// absolute paths, `..` components and a trailing `/`.
fn check_path(path: &Path, relative: bool) -> Result<(), OpenError> {
    let bytes = path.as_os_str().as_bytes();
    if relative && path.has_root() {
        return Err(OpenError::AbsolutePath);
    }
    if bytes.is_empty() || bytes.contains(&0) {
        return Err(OpenError::InvalidPath);
    }
    if relative && (path.components().any(|c| c == Component::ParentDir) || bytes.ends_with(b"/")) {
        return Err(OpenError::InvalidPath);
    }
    Ok(())
}

/// The kernel's limits on a path string (with its NUL) and on one name in
/// it (Linux's `PATH_MAX` and `NAME_MAX`; the BSDs' are no larger).
const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;

/// `NameTooLong` for a path the kernel refuses before looking at it.
fn check_path_length(path: &Path) -> Result<(), OpenError> {
    if path.as_os_str().len() >= PATH_MAX {
        return Err(OpenError::NameTooLong);
    }
    Ok(())
}

/// `NameTooLong` for a name the kernel refuses while walking the path.
fn check_name_lengths(path: &Path) -> Result<(), OpenError> {
    if path.components().any(|c| c.as_os_str().len() > NAME_MAX) {
        return Err(OpenError::NameTooLong);
    }
    Ok(())
}

/// Resolves `..` components as the kernel's walk does; the simulated file
/// system has no symbolic links, so the lexical parent is the parent. `..`
/// at the root stays there; a relative path keeps its leading `..`s.
fn resolve_parents(path: &Path) -> PathBuf {
    let mut resolved = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => match resolved.components().next_back() {
                Some(Component::Normal(_)) => {
                    resolved.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => resolved.push(".."),
            },
            Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    resolved
}

fn check_size(size: u64) -> Result<(), OpenError> {
    if size == 0 || !size.is_multiple_of(SECTOR_SIZE as u64) {
        return Err(OpenError::SizeNotSectorMultiple);
    }
    if size > MAX_FILE_SIZE {
        return Err(OpenError::FileTooBig);
    }
    Ok(())
}

impl<C> Io for SimIO<C> {
    type Context = C;

    fn now_ns(&self) -> u64 {
        SimIO::now_ns(self)
    }

    fn flush(&mut self, ctx: &mut C, wait: bool) -> Result<(), RunError> {
        self.flush_guarded(ctx, wait, None)
    }

    fn run_for_ns(&mut self, ctx: &mut C, ns: u64) -> Result<(), RunError> {
        SimIO::run_for_ns(self, ctx, ns)
    }

    fn run_once(&mut self, ctx: &mut C) -> Result<(), RunError> {
        SimIO::run_once(self, ctx)
    }

    fn run_until_done(&mut self, ctx: &mut C) -> Result<(), RunError> {
        SimIO::run_until_done(self, ctx)
    }

    fn stop(&mut self) {
        SimIO::stop(self)
    }

    fn in_flight(&self) -> usize {
        SimIO::in_flight(self)
    }

    fn cancel(&mut self, target: OpId) -> Result<(), CancelError> {
        SimIO::cancel(self, target)
    }

    fn cancel_all(&mut self) -> usize {
        SimIO::cancel_all(self)
    }

    fn reset_timeout(&mut self, target: OpId, ns: u64) -> Result<(), CancelError> {
        SimIO::reset_timeout(self, target, ns)
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

    /// Every mode is a full flush of the file's dirty sectors in the twin.
    fn fsync(
        &mut self,
        fd: Fd,
        _mode: FsyncMode,
        tag: u64,
        callback: Callback<Self, FsyncDone>,
    ) -> Result<OpId, SubmitError> {
        let fd = check_fd(fd)?;
        self.submit_plain(Op::Fsync { fd, tag, callback })
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
        if !self.is_alive(self.current) {
            return Err(SubmitError::Closed);
        }
        let Some(index) = self.free.pop() else {
            return Err(SubmitError::NoFreeSlot);
        };
        let id = self.occupy(index, Op::Timeout { tag, callback });
        // A zero timeout is due now but only expires at the start of the
        // next pass: a yield, as in the real IO.
        let deadline = self.clock.now().saturating_add(ns);
        self.slots[index as usize].place = Place::Queued;
        self.queue.push(index, deadline);
        Ok(id)
    }

    /// A simulated stream socket of the current node. Socket options are
    /// kept (and passed to accepted sockets) but change nothing in the
    /// simulated network.
    fn open_socket(
        &mut self,
        family: AddressFamily,
        options: SocketOptions,
    ) -> Result<Fd, SocketError> {
        let node = self.alive_or(DEAD).map_err(SocketError::Unexpected)?;
        let key = self.network.open(node);
        match self.fds.open(node, FdKind::Socket { key, family, options }) {
            Some(fd) => Ok(Fd::from_raw(fd)),
            None => {
                let _ = self.network.close(key);
                Err(SocketError::ProcessFdQuotaExceeded)
            }
        }
    }

    /// Binds and listens on a simulated address (any address, shared by
    /// all nodes: give each node its own IP or port). Port 0 takes a
    /// deterministic ephemeral port.
    fn listen(
        &mut self,
        socket: Fd,
        address: SocketAddr,
        backlog: u32,
    ) -> Result<SocketAddr, ListenError> {
        let node = self.alive_or(DEAD).map_err(ListenError::Unexpected)?;
        match self.fds.get(node, socket.raw()).map(|e| &e.kind) {
            None => Err(ListenError::BadFileDescriptor),
            Some(&FdKind::Socket { key, family, .. }) => {
                if AddressFamily::of(&address) != family {
                    return Err(ListenError::AddressFamilyMismatch);
                }
                self.network.listen(key, address, backlog)
            }
            Some(_) => Err(ListenError::NotASocket),
        }
    }

    fn shutdown(&mut self, socket: Fd, how: Shutdown) -> Result<(), ShutdownError> {
        let node = self.alive_or(DEAD).map_err(ShutdownError::Unexpected)?;
        match self.fds.get(node, socket.raw()).map(|e| &e.kind) {
            None => Err(ShutdownError::BadFileDescriptor),
            Some(&FdKind::Socket { key, .. }) => self.network.shutdown(key, how),
            Some(_) => Err(ShutdownError::NotASocket),
        }
    }

    /// Any path opens: simulated directories exist implicitly. A path that
    /// names a data file (or lies under one) is `NotADirectory`.
    fn open_dir(&mut self, path: &Path) -> Result<Fd, OpenError> {
        let node = self.alive_or(DEAD).map_err(OpenError::Unexpected)?;
        check_path(path, false)?;
        check_path_length(path)?;
        check_name_lengths(path)?;
        let path = storage::key(&resolve_parents(path), Path::new(""));
        match self.storage.lookup(node, &path) {
            Lookup::File(_) | Lookup::UnderFile => Err(OpenError::NotADirectory),
            Lookup::Directory | Lookup::Missing => self.open_fd(node, FdKind::Dir { path }),
        }
    }

    /// Direct IO is always supported by the simulated file system; on a
    /// descriptor opened with it (`Required` or `Optional`), reads and
    /// writes need the offset, length and buffer address aligned to 4096.
    fn open_data_file(
        &mut self,
        dir: Fd,
        relative_path: &Path,
        size: u64,
        purpose: FilePurpose,
        direct_io: DirectIo,
    ) -> Result<Fd, OpenError> {
        let node = self.alive_or(DEAD).map_err(OpenError::Unexpected)?;
        check_path(relative_path, true)?;
        check_size(size)?;
        check_path_length(relative_path)?;
        let dir_path = match self.fds.get(node, dir.raw()).map(|e| &e.kind) {
            None => return Err(OpenError::BadFileDescriptor),
            Some(FdKind::Dir { path }) => path.clone(),
            Some(_) => return Err(OpenError::NotADirectory),
        };
        check_name_lengths(relative_path)?;
        let path = storage::key(&dir_path, relative_path);
        let direct = direct_io != DirectIo::Disabled;
        // "." (or "./.") names the directory itself, which is one even when
        // no file lies under it yet.
        let found =
            if path == dir_path { Lookup::Directory } else { self.storage.lookup(node, &path) };
        let file = match (purpose, found) {
            (_, Lookup::UnderFile) => return Err(OpenError::NotADirectory),
            (FilePurpose::Format, Lookup::Missing) => {
                let id = self.storage.create(node, path, size);
                self.storage.file(id).locked = true;
                id
            }
            (FilePurpose::Format, _) => return Err(OpenError::AlreadyExists),
            (_, Lookup::Missing) => return Err(OpenError::NotFound),
            (_, Lookup::Directory) => return Err(OpenError::NotRegularFile),
            (_, Lookup::File(id)) => {
                let file = self.storage.file(id);
                if purpose == FilePurpose::Open && file.locked {
                    return Err(OpenError::Locked);
                }
                if file.size != size {
                    return Err(OpenError::SizeMismatch);
                }
                if purpose == FilePurpose::Open {
                    file.locked = true;
                }
                id
            }
        };
        let writable = purpose != FilePurpose::Inspect;
        let opened = self.open_fd(node, FdKind::File { file, writable, direct });
        if opened.is_err() && writable {
            self.storage.file(file).locked = false;
        }
        let fd = opened?;
        let now = self.clock.now();
        self.trace.record(
            Record::Open,
            [now, u64::from(node.0), u64::from(file), fd.raw() as u64, purpose as u64],
        );
        Ok(fd)
    }

    fn open_event(&mut self) -> Result<EventId, EventError> {
        let node = self.alive_or(DEAD).map_err(EventError::Unexpected)?;
        let index = match self.events.iter().position(|e| !e.open) {
            Some(index) => index,
            None => {
                self.events.push(SimEvent {
                    generation: 0,
                    open: false,
                    node,
                    listener: None,
                    pending: false,
                    fired: false,
                });
                self.events.len() - 1
            }
        };
        let index = u32::try_from(index).map_err(|_| EventError::SystemResources)?;
        let event = &mut self.events[index as usize];
        event.open = true;
        event.node = node;
        event.listener = None;
        event.pending = false;
        event.fired = false;
        Ok(EventId { index, generation: event.generation })
    }

    fn event_listen(
        &mut self,
        event: EventId,
        tag: u64,
        callback: Callback<Self, EventDone>,
    ) -> Result<OpId, SubmitError> {
        if !self.is_alive(self.current) {
            return Err(SubmitError::Closed);
        }
        let at = self.event_index(event).ok_or(SubmitError::UnknownEvent)?;
        if self.events[at].listener.is_some() {
            return Err(SubmitError::AlreadyListening);
        }
        let Some(index) = self.free.pop() else {
            return Err(SubmitError::NoFreeSlot);
        };
        let id = self.occupy(index, Op::EventListen { event, tag, callback });
        let slot_event = &mut self.events[at];
        if std::mem::take(&mut slot_event.pending) {
            slot_event.fired = true;
            // A trigger arrived since the last delivery: fire now.
            self.slots[index as usize].place = Place::Ready;
            self.ready.push_back(&mut self.links, index);
        } else {
            slot_event.listener = Some(index);
            self.slots[index as usize].place = Place::Listener(at as u32);
            self.armed_listeners += 1;
        }
        Ok(id)
    }

    fn event_trigger(&mut self, event: EventId) -> Result<(), EventError> {
        let at = self.event_index(event).ok_or(EventError::UnknownEvent)?;
        self.deliver_trigger(at);
        Ok(())
    }

    fn close_event(&mut self, event: EventId) -> Result<(), EventError> {
        let at = self.event_index(event).ok_or(EventError::UnknownEvent)?;
        let slot_event = &mut self.events[at];
        slot_event.open = false;
        slot_event.generation = slot_event.generation.wrapping_add(1);
        slot_event.pending = false;
        slot_event.fired = false;
        if let Some(index) = slot_event.listener.take() {
            self.armed_listeners -= 1;
            let slot = &mut self.slots[index as usize];
            slot.forced = Some(Errno::ECANCELED);
            slot.place = Place::Ready;
            self.ready.push_back(&mut self.links, index);
        }
        Ok(())
    }
}
