//! Typed errors, one enum per operation.
//!
//! Each operation's enum names the errno values that operation can really
//! return (as TigerBeetle's `ReadError`, `AcceptError`, …), so callers match
//! on meaning rather than on numbers. Every enum also has `Canceled` (the
//! operation was withdrawn before it completed) and `Unexpected(Errno)` (an
//! errno outside the documented set, carried verbatim rather than hidden).
//! All of them implement [`std::error::Error`] and convert into
//! [`std::io::Error`] with the matching [`std::io::ErrorKind`].

use std::fmt;
use std::io;

pub use nix::errno::Errno;

/// Yields the first errno of a list as `Some`, or `None` for an empty list.
macro_rules! first_errno {
    () => {
        None
    };
    ($first:ident $(, $rest:ident)*) => {
        Some(Errno::$first)
    };
}

/// Defines an operation's error enum with its errno mapping.
///
/// `Variant = [E1, E2] => "message"` maps each listed errno to `Variant`; a
/// variant with an empty list is produced by this crate's own checks.
macro_rules! op_error {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = [$($errno:ident),*] => $message:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// The operation was withdrawn before it completed: its
            /// descriptor was closed through the IO, or it was canceled.
            Canceled,
            /// An errno outside this operation's documented set.
            Unexpected(Errno),
        }

        impl $name {
            /// Maps an errno to this operation's error.
            pub fn from_errno(errno: Errno) -> $name {
                $( $( if errno == Errno::$errno { return $name::$variant; } )* )*
                if errno == Errno::ECANCELED {
                    return $name::Canceled;
                }
                $name::Unexpected(errno)
            }

            /// The errno this error stands for, if it came from one.
            pub fn errno(&self) -> Option<Errno> {
                match self {
                    $( $name::$variant => first_errno!($($errno),*), )*
                    $name::Canceled => Some(Errno::ECANCELED),
                    $name::Unexpected(errno) => Some(*errno),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( $name::$variant => f.write_str($message), )*
                    $name::Canceled => f.write_str("operation canceled"),
                    $name::Unexpected(errno) => write!(f, "unexpected error: {}", errno.desc()),
                }
            }
        }

        impl std::error::Error for $name {}

        impl From<$name> for io::Error {
            fn from(error: $name) -> io::Error {
                let kind = match error.errno() {
                    Some(errno) => io::Error::from_raw_os_error(errno as i32).kind(),
                    None => io::ErrorKind::InvalidInput,
                };
                io::Error::new(kind, error)
            }
        }
    };
}

op_error! {
    /// Why an `accept` failed.
    pub enum AcceptError {
        /// A connection was aborted while it waited in the backlog.
        ConnectionAborted = [ECONNABORTED] => "connection aborted",
        /// The process has no descriptor left (`EMFILE`).
        ProcessFdQuotaExceeded = [EMFILE] => "process descriptor limit reached",
        /// The system has no descriptor left (`ENFILE`).
        SystemFdQuotaExceeded = [ENFILE] => "system descriptor limit reached",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS, ENOMEM] => "out of system resources",
        /// The descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor is not a socket.
        NotASocket = [ENOTSOCK] => "not a socket",
        /// The socket is not listening.
        SocketNotListening = [EINVAL] => "socket is not listening",
        /// The socket type does not accept connections.
        OperationNotSupported = [EOPNOTSUPP] => "operation not supported on socket",
        /// A protocol error on the pending connection.
        ProtocolFailure = [EPROTO] => "protocol error",
        /// A firewall rule forbids the connection.
        PermissionDenied = [EPERM] => "permission denied",
    }
}

op_error! {
    /// Why a `connect` failed.
    pub enum ConnectError {
        /// Nothing listens at the address.
        ConnectionRefused = [ECONNREFUSED] => "connection refused",
        /// The peer reset the connection during the handshake.
        ConnectionResetByPeer = [ECONNRESET] => "connection reset by peer",
        /// The handshake timed out.
        ConnectionTimedOut = [ETIMEDOUT] => "connection timed out",
        /// No route to the network.
        NetworkUnreachable = [ENETUNREACH, EHOSTUNREACH] => "network unreachable",
        /// The local address is in use.
        AddressInUse = [EADDRINUSE] => "address in use",
        /// No local address or port is available.
        AddressNotAvailable = [EADDRNOTAVAIL] => "address not available",
        /// The address family does not match the socket.
        AddressFamilyNotSupported = [EAFNOSUPPORT] => "address family not supported",
        /// A firewall rule or broadcast restriction forbids the connection.
        PermissionDenied = [EACCES, EPERM] => "permission denied",
        /// The socket is already connected.
        AlreadyConnected = [EISCONN] => "socket already connected",
        /// A connect on this socket is already in progress.
        AlreadyInProgress = [EALREADY] => "connect already in progress",
        /// The descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor is not a socket.
        NotASocket = [ENOTSOCK] => "not a socket",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS, ENOMEM] => "out of system resources",
    }
}

op_error! {
    /// Why a `recv` failed. End of stream is not an error: it is `Ok(0)`.
    pub enum RecvError {
        /// The peer reset the connection.
        ConnectionResetByPeer = [ECONNRESET] => "connection reset by peer",
        /// A connection attempt on this socket was refused.
        ConnectionRefused = [ECONNREFUSED] => "connection refused",
        /// The connection timed out.
        ConnectionTimedOut = [ETIMEDOUT] => "connection timed out",
        /// The socket is not connected.
        NotConnected = [ENOTCONN] => "socket not connected",
        /// The descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor is not a socket.
        NotASocket = [ENOTSOCK] => "not a socket",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS, ENOMEM] => "out of system resources",
    }
}

op_error! {
    /// Why a `send` failed. No `SIGPIPE` is ever raised: a closed peer is
    /// `BrokenPipe`.
    pub enum SendError {
        /// The connection is closed for writing (locally or by the peer).
        BrokenPipe = [EPIPE] => "broken pipe",
        /// The peer reset the connection.
        ConnectionResetByPeer = [ECONNRESET] => "connection reset by peer",
        /// The connection timed out.
        ConnectionTimedOut = [ETIMEDOUT] => "connection timed out",
        /// The socket is not connected.
        NotConnected = [ENOTCONN, EDESTADDRREQ] => "socket not connected",
        /// The descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor is not a socket.
        NotASocket = [ENOTSOCK] => "not a socket",
        /// The message is too large for the socket type.
        MessageTooBig = [EMSGSIZE] => "message too big",
        /// A firewall rule forbids the transfer.
        AccessDenied = [EACCES, EPERM] => "access denied",
        /// No route to the peer.
        NetworkUnreachable = [ENETUNREACH, EHOSTUNREACH, ENETDOWN] => "network unreachable",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS, ENOMEM] => "out of system resources",
    }
}

op_error! {
    /// Why a `read` at an offset failed. End of file is `Ok(0)`.
    pub enum ReadError {
        /// The buffer address, length or offset is not aligned as direct IO
        /// requires (`EINVAL` from the kernel).
        Alignment = [EINVAL] => "misaligned direct IO",
        /// The device reported an error.
        InputOutput = [EIO] => "input/output error",
        /// The descriptor is a directory.
        IsDirectory = [EISDIR] => "is a directory",
        /// The descriptor cannot seek (a pipe or a socket).
        Unseekable = [ESPIPE, ENXIO] => "descriptor is not seekable",
        /// The descriptor is not open, or not open for reading.
        NotOpenForReading = [EBADF] => "descriptor not open for reading",
        /// The descriptor is non-blocking and not ready (a pipe, say).
        WouldBlock = [EAGAIN] => "operation would block",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS, ENOMEM] => "out of system resources",
    }
}

op_error! {
    /// Why a `write` at an offset failed.
    pub enum WriteError {
        /// The buffer address, length or offset is not aligned as direct IO
        /// requires (`EINVAL` from the kernel).
        Alignment = [EINVAL] => "misaligned direct IO",
        /// The device reported an error.
        InputOutput = [EIO] => "input/output error",
        /// The file system is full.
        NoSpaceLeft = [ENOSPC] => "no space left on device",
        /// The user's disk quota is exhausted.
        DiskQuota = [EDQUOT] => "disk quota exceeded",
        /// The write would exceed the maximum file size.
        FileTooBig = [EFBIG] => "file too big",
        /// The descriptor cannot seek (a pipe or a socket).
        Unseekable = [ESPIPE, ENXIO] => "descriptor is not seekable",
        /// The descriptor is not open, or not open for writing.
        NotOpenForWriting = [EBADF] => "descriptor not open for writing",
        /// The write is not permitted (a sealed or immutable file).
        AccessDenied = [EACCES, EPERM] => "access denied",
        /// The descriptor is non-blocking and not ready (a pipe, say).
        WouldBlock = [EAGAIN] => "operation would block",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS, ENOMEM] => "out of system resources",
    }
}

op_error! {
    /// Why an `fsync` failed.
    ///
    /// After an `fsync` error, what reached the disk is unknown: on Linux the
    /// dirty pages may already have been dropped, so a storage engine must
    /// treat the file as suspect (see `docs/durability.md`).
    pub enum FsyncError {
        /// The device reported an error while flushing.
        InputOutput = [EIO] => "input/output error",
        /// The file system ran out of space while flushing.
        NoSpaceLeft = [ENOSPC] => "no space left on device",
        /// The user's disk quota was exhausted while flushing.
        DiskQuota = [EDQUOT] => "disk quota exceeded",
        /// The descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor does not support synchronisation (a socket or pipe).
        NotSupported = [EINVAL, EROFS] => "descriptor does not support fsync",
        /// The requested durability is unavailable on this file system (for
        /// example `F_FULLFSYNC` refused on Apple) and the mode does not
        /// allow a weaker sync. Fails closed: nothing weaker was done.
        FullSyncUnsupported = [ENOTSUP] => "full sync unsupported by the file system",
    }
}

op_error! {
    /// Why a `close` failed. The descriptor is released in every case
    /// except `BadFileDescriptor`; never retry a close.
    pub enum CloseError {
        /// The descriptor was not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// A deferred write failed (network file systems).
        InputOutput = [EIO] => "input/output error",
        /// A deferred write ran out of space (network file systems).
        NoSpaceLeft = [ENOSPC] => "no space left on device",
        /// A deferred write exceeded the disk quota.
        DiskQuota = [EDQUOT] => "disk quota exceeded",
    }
}

op_error! {
    /// Why a `timeout` did not fire. Only withdrawal can stop a timer.
    pub enum TimeoutError {}
}

op_error! {
    /// Why a user-event operation failed.
    pub enum EventError {
        /// The event id does not name an open event of this IO.
        UnknownEvent = [] => "unknown event",
        /// The event already has an armed listener.
        AlreadyListening = [] => "event already has a listener",
        /// The event was closed.
        Closed = [] => "event closed",
        /// The process has no descriptor left (`EMFILE`).
        ProcessFdQuotaExceeded = [EMFILE] => "process descriptor limit reached",
        /// The system has no descriptor left (`ENFILE`).
        SystemFdQuotaExceeded = [ENFILE] => "system descriptor limit reached",
        /// Kernel memory is exhausted.
        SystemResources = [ENOMEM, ENOBUFS] => "out of system resources",
    }
}

op_error! {
    /// Why `open_socket` failed.
    pub enum SocketError {
        /// The address family is not supported by this system.
        AddressFamilyNotSupported = [EAFNOSUPPORT] => "address family not supported",
        /// The protocol is not supported.
        ProtocolNotSupported = [EPROTONOSUPPORT] => "protocol not supported",
        /// The process has no descriptor left (`EMFILE`).
        ProcessFdQuotaExceeded = [EMFILE] => "process descriptor limit reached",
        /// The system has no descriptor left (`ENFILE`).
        SystemFdQuotaExceeded = [ENFILE] => "system descriptor limit reached",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS, ENOMEM] => "out of system resources",
        /// Creating this socket is not permitted.
        PermissionDenied = [EACCES, EPERM] => "permission denied",
    }
}

op_error! {
    /// Why `listen` (bind + listen) failed.
    pub enum ListenError {
        /// The address is in use.
        AddressInUse = [EADDRINUSE] => "address in use",
        /// The address is not local to this machine.
        AddressNotAvailable = [EADDRNOTAVAIL] => "address not available",
        /// Binding to the address is not permitted (a privileged port).
        PermissionDenied = [EACCES, EPERM] => "permission denied",
        /// The socket is already bound or listening.
        AlreadyBound = [EINVAL] => "socket already bound",
        /// The address family does not match the socket.
        AddressFamilyMismatch = [EAFNOSUPPORT] => "address family does not match socket",
        /// The socket type cannot listen.
        OperationNotSupported = [EOPNOTSUPP] => "operation not supported on socket",
        /// The descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor is not a socket.
        NotASocket = [ENOTSOCK] => "not a socket",
    }
}

op_error! {
    /// Why `shutdown` failed.
    pub enum ShutdownError {
        /// The socket is not connected.
        NotConnected = [ENOTCONN] => "socket not connected",
        /// The descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor is not a socket.
        NotASocket = [ENOTSOCK] => "not a socket",
    }
}

op_error! {
    /// Why `open_data_file` or `open_dir` failed.
    pub enum OpenError {
        /// The path is absolute; data files are opened relative to a
        /// directory descriptor.
        AbsolutePath = [] => "path must be relative to the directory",
        /// The path is empty or contains a NUL byte; or, for a data file,
        /// has a `..` component or ends in `/`.
        InvalidPath = [] => "invalid path",
        /// The size is zero or not a multiple of the sector size.
        SizeNotSectorMultiple = [] => "size is not a non-zero multiple of the sector size",
        /// The path exists but is not a regular file (or, for `open_dir`, not a directory).
        NotRegularFile = [] => "not a regular file",
        /// Another descriptor holds the file's exclusive lock.
        Locked = [EWOULDBLOCK] => "file is locked by another process",
        /// Direct IO was required and the file system does not support it.
        DirectIoUnsupported = [] => "direct IO unsupported by the file system",
        /// The file's size differs from the size asked for.
        SizeMismatch = [] => "file size does not match",
        /// Syncing the file or its directory needs a full flush
        /// (`F_FULLFSYNC` on Apple) that the file system refuses. Fails
        /// closed: the file is not handed out on a weaker promise.
        FullSyncUnsupported = [] => "full sync unsupported by the file system",
        /// The file or a directory on the path does not exist.
        NotFound = [ENOENT] => "file not found",
        /// `Format` found a file already there.
        AlreadyExists = [EEXIST] => "file already exists",
        /// Permission denied.
        PermissionDenied = [EACCES, EPERM] => "permission denied",
        /// The file system is full (preallocation failed).
        NoSpaceLeft = [ENOSPC] => "no space left on device",
        /// The user's disk quota is exhausted.
        DiskQuota = [EDQUOT] => "disk quota exceeded",
        /// The file system is read-only.
        ReadOnlyFileSystem = [EROFS] => "read-only file system",
        /// A component of the path is not a directory, or `dir` is not one.
        NotADirectory = [ENOTDIR] => "not a directory",
        /// The path is a directory.
        IsDirectory = [EISDIR] => "is a directory",
        /// The path names too many symbolic links, or a link was refused.
        SymbolicLinkLoop = [ELOOP] => "too many symbolic links",
        /// The path is too long.
        NameTooLong = [ENAMETOOLONG] => "path too long",
        /// The directory descriptor is not open.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The device reported an error.
        InputOutput = [EIO] => "input/output error",
        /// The process has no descriptor left (`EMFILE`).
        ProcessFdQuotaExceeded = [EMFILE] => "process descriptor limit reached",
        /// The system has no descriptor left (`ENFILE`).
        SystemFdQuotaExceeded = [ENFILE] => "system descriptor limit reached",
        /// The file is too large for this system.
        FileTooBig = [EFBIG, EOVERFLOW] => "file too big",
        /// Kernel memory is exhausted.
        SystemResources = [ENOMEM] => "out of system resources",
    }
}

op_error! {
    /// Why `local_address` or `peer_address` failed.
    pub enum AddressError {
        /// The descriptor is not open (or is one the IO keeps for itself).
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// The descriptor is not a socket.
        NotASocket = [ENOTSOCK] => "not a socket",
        /// `peer_address` on a socket with no peer.
        NotConnected = [ENOTCONN] => "socket not connected",
        /// Kernel memory or buffers are exhausted.
        SystemResources = [ENOBUFS] => "out of system resources",
    }
}

op_error! {
    /// Why `IO::adopt` or `IO::hand_back` refused a descriptor.
    pub enum HandOffError {
        /// Not an open descriptor, or one the IO keeps for itself.
        BadFileDescriptor = [EBADF] => "bad file descriptor",
        /// Operations on the descriptor are still in flight.
        Busy = [] => "operations in flight on the descriptor",
    }
}

/// Why a submit was refused synchronously. Nothing was queued and no
/// callback will run for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubmitError {
    /// Every operation slot reserved at `init` is in use.
    NoFreeSlot,
    /// The buffer range is empty: a zero-length transfer is refused (a
    /// zero-length `recv` would be indistinguishable from end of stream).
    EmptyRange,
    /// The range lies outside the buffer, or is reversed.
    RangeOutOfBounds,
    /// The offset, plus the length, exceeds the largest file offset (`i64::MAX`).
    OffsetOverflow,
    /// The descriptor is negative.
    InvalidFd,
    /// The event id does not name an open event of this IO.
    UnknownEvent,
    /// The event already has an armed listener.
    AlreadyListening,
    /// The IO is shutting down or its poller failed.
    Closed,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubmitError::NoFreeSlot => "no free operation slot (raise `entries` at init)",
            SubmitError::EmptyRange => "zero-length buffer range",
            SubmitError::RangeOutOfBounds => "buffer range out of bounds",
            SubmitError::OffsetOverflow => "file offset overflows i64",
            SubmitError::InvalidFd => "negative file descriptor",
            SubmitError::UnknownEvent => "unknown event",
            SubmitError::AlreadyListening => "event already has a listener",
            SubmitError::Closed => "io is closed",
        })
    }
}

impl std::error::Error for SubmitError {}

impl From<SubmitError> for io::Error {
    fn from(error: SubmitError) -> io::Error {
        let kind = match error {
            SubmitError::NoFreeSlot => io::ErrorKind::OutOfMemory,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, error)
    }
}

/// A refused submit, handing back what the operation would have owned (its
/// buffer), so nothing is lost.
#[derive(Debug)]
pub struct Rejected<T> {
    /// Why the submit was refused.
    pub error: SubmitError,
    /// What the caller passed in, returned untouched.
    pub returned: T,
}

impl<T> fmt::Display for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T: fmt::Debug> std::error::Error for Rejected<T> {}

/// Why `flush`, `tick` or `run_for_ns` refused to run or stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// Called from inside a callback: the loop is not re-entrant.
    Reentrant,
    /// The kernel poller failed with an errno it should never return.
    Poller(Errno),
    /// `run_once` or `run_until_done` on the twin: nothing in flight can
    /// ever complete (no deadline, no world event ahead). The kernel
    /// cannot tell; its runs are bounded with the `_within` forms.
    Stalled,
    /// A bounded run (`run_once_within`, `run_until_done_within`) reached
    /// its deadline with its condition unmet.
    DeadlinePassed,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Reentrant => f.write_str("io loop entered from one of its own callbacks"),
            RunError::Poller(errno) => write!(f, "poller failed: {}", errno.desc()),
            RunError::Stalled => f.write_str("nothing in flight can ever complete"),
            RunError::DeadlinePassed => f.write_str("the run's deadline passed"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<RunError> for io::Error {
    fn from(error: RunError) -> io::Error {
        let kind = match error {
            RunError::Reentrant => io::ErrorKind::WouldBlock,
            RunError::Poller(errno) => io::Error::from_raw_os_error(errno as i32).kind(),
            RunError::Stalled => io::ErrorKind::Deadlock,
            RunError::DeadlinePassed => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_round_trips() {
        assert_eq!(RecvError::from_errno(Errno::ECONNRESET), RecvError::ConnectionResetByPeer);
        assert_eq!(RecvError::ConnectionResetByPeer.errno(), Some(Errno::ECONNRESET));
        assert_eq!(SendError::from_errno(Errno::EPIPE), SendError::BrokenPipe);
        assert_eq!(ReadError::from_errno(Errno::ECANCELED), ReadError::Canceled);
        assert_eq!(
            AcceptError::from_errno(Errno::ENOTDIR),
            AcceptError::Unexpected(Errno::ENOTDIR)
        );
        assert_eq!(OpenError::AbsolutePath.errno(), None);
    }

    #[test]
    fn converts_to_io_error_with_kind() {
        let error: io::Error = ConnectError::ConnectionRefused.into();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert!(error.to_string().contains("refused"));
        let error: io::Error = OpenError::AbsolutePath.into();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }
}

/// Why `cancel` or `reset_timeout` could not act on an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelError {
    /// The operation is not in flight: its callback already ran (or is
    /// running), or the id never named an operation of this IO.
    NotRunning,
    /// The operation was already canceled; its callback is still to run,
    /// once, with `Canceled`.
    AlreadyCanceled,
    /// The operation's syscall is running on a worker thread and cannot be
    /// withdrawn: it will complete with its real result.
    Running,
    /// `reset_timeout` was given an operation that is not a timeout.
    NotATimeout,
}

impl fmt::Display for CancelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CancelError::NotRunning => "operation not in flight",
            CancelError::AlreadyCanceled => "operation already canceled",
            CancelError::Running => "operation running on a worker thread",
            CancelError::NotATimeout => "operation is not a timeout",
        })
    }
}

impl std::error::Error for CancelError {}

impl From<CancelError> for io::Error {
    fn from(error: CancelError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, error)
    }
}
