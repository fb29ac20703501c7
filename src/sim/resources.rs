//! What the twin serves synchronously, with the real IO's errors for the
//! same bad inputs: simulated sockets, directories and data files, and the
//! address look-ups.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::SimIO;
use super::backend::DEAD;
use super::fds::FdKind;
use super::node::NodeId;
use super::storage::{self, Lookup};
use super::trace::Record;
use crate::buffer::SECTOR_SIZE;
use crate::engine::Side;
use crate::error::{AddressError, Errno, ListenError, OpenError, ShutdownError, SocketError};
use crate::fd::Fd;
use crate::options::{AddressFamily, DirectIo, FilePurpose, Shutdown, SocketOptions};

/// The largest data file the simulated file system holds (ext4's limit
/// with 4 KiB blocks); larger sizes are `FileTooBig`.
pub const MAX_FILE_SIZE: u64 = 1 << 44;

impl<C> SimIO<C> {
    fn alive_or(&self, errno: Errno) -> Result<NodeId, Errno> {
        if self.is_alive(self.current) { Ok(self.current) } else { Err(errno) }
    }

    fn open_fd(&mut self, node: NodeId, kind: FdKind) -> Result<Fd, OpenError> {
        self.fds.open(node, kind).map(Fd::from_raw).ok_or(OpenError::ProcessFdQuotaExceeded)
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

impl<C> SimIO<C> {
    /// A simulated stream socket of the current node. Socket options are
    /// kept (and passed to accepted sockets) but change nothing in the
    /// simulated network.
    pub(crate) fn do_open_socket(
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
    pub(crate) fn do_listen(
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

    pub(crate) fn do_shutdown(&mut self, socket: Fd, how: Shutdown) -> Result<(), ShutdownError> {
        let node = self.alive_or(DEAD).map_err(ShutdownError::Unexpected)?;
        match self.fds.get(node, socket.raw()).map(|e| &e.kind) {
            None => Err(ShutdownError::BadFileDescriptor),
            Some(&FdKind::Socket { key, .. }) => self.network.shutdown(key, how),
            Some(_) => Err(ShutdownError::NotASocket),
        }
    }

    /// Any path opens: simulated directories exist implicitly. A path that
    /// names a data file (or lies under one) is `NotADirectory`.
    pub(crate) fn do_open_dir(&mut self, path: &Path) -> Result<Fd, OpenError> {
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
    pub(crate) fn do_open_data_file(
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
                let faults = &self.faults.storage;
                let prng = &mut self.streams.storage;
                let id = self
                    .storage
                    .format(node, path, size, faults, prng)
                    .map_err(OpenError::from_errno)?;
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
                    storage::Storage::sync_at_open(&self.faults.storage, &mut self.streams.storage)
                        .map_err(OpenError::from_errno)?;
                    self.storage.file(id).locked = true;
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
        self.storage.opened(node, fd.raw(), file, direct);
        let now = self.clock.now();
        self.trace.record(
            Record::Open,
            [now, u64::from(node.0), u64::from(file), fd.raw() as u64, purpose as u64],
        );
        Ok(fd)
    }

    /// A socket's address in the simulated network; one not bound yet has
    /// its family's unspecified address, port 0, as `getsockname` gives.
    pub(crate) fn do_address(&self, socket: Fd, side: Side) -> Result<SocketAddr, AddressError> {
        let node = self.alive_or(DEAD).map_err(AddressError::Unexpected)?;
        let (key, family) = match self.fds.get(node, socket.raw()).map(|e| &e.kind) {
            None => return Err(AddressError::BadFileDescriptor),
            Some(&FdKind::Socket { key, family, .. }) => (key, family),
            Some(_) => return Err(AddressError::NotASocket),
        };
        match side {
            Side::Local => Ok(self.network.local_address(key).unwrap_or_else(|| {
                let ip = match family {
                    AddressFamily::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    AddressFamily::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                };
                SocketAddr::new(ip, 0)
            })),
            Side::Peer => self.network.peer_address(key).ok_or(AddressError::NotConnected),
        }
    }
}
