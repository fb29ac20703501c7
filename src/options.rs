//! Plain option types shared by the real IO and its simulated twin.

/// The address family of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl AddressFamily {
    /// The family of `address`.
    pub fn of(address: &std::net::SocketAddr) -> AddressFamily {
        match address {
            std::net::SocketAddr::V4(_) => AddressFamily::Ipv4,
            std::net::SocketAddr::V6(_) => AddressFamily::Ipv6,
        }
    }
}

/// Options applied when a stream socket is opened (and, for a listener, to
/// every socket it accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketOptions {
    /// Disable Nagle's algorithm (`TCP_NODELAY`), on every platform.
    pub nodelay: bool,
    /// `SO_RCVBUF` in bytes, or the system default.
    pub recv_buffer_size: Option<u32>,
    /// `SO_SNDBUF` in bytes, or the system default.
    pub send_buffer_size: Option<u32>,
}

impl Default for SocketOptions {
    fn default() -> SocketOptions {
        SocketOptions { nodelay: true, recv_buffer_size: None, send_buffer_size: None }
    }
}

/// Which half of a connection to shut down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// No more receives.
    Read,
    /// No more sends (the peer sees end of stream).
    Write,
    /// Both.
    Both,
}

/// How durable an `fsync` must make a file. The policy fails closed: a
/// mode is never quietly served by a weaker primitive; where the platform
/// lacks one, a stronger one stands in. See `docs/durability.md` for what
/// each mode guarantees and costs on each platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FsyncMode {
    /// Data and metadata on stable storage, through the drive's cache:
    /// `F_FULLFSYNC` on Apple (failing with
    /// [`crate::FsyncError::FullSyncUnsupported`] if the file system refuses
    /// it, having done nothing weaker), `fsync(2)` on Linux and the BSDs.
    Full,
    /// Data, and the metadata needed to read it back (size, block map), on
    /// stable storage; timestamps may lag. `fdatasync(2)` on Linux. FreeBSD's
    /// `fdatasync` does not promise the metadata, and Apple has no
    /// documented one, so there this is `Full`.
    Data,
    /// Ordering only: data synced before the barrier reaches the medium
    /// before IO issued after it, with no promise of durability when it
    /// returns. `F_BARRIERFSYNC` on Apple (`Full` where the file system
    /// refuses it); elsewhere no such primitive exists and this is `Full`.
    Barrier,
    /// `Full` where the file system supports it, otherwise plain `fsync(2)`
    /// (which on Apple does not flush the drive cache). The one explicit
    /// opt-in to weaker durability.
    FullOrPlain,
}

/// Why a data file is being opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilePurpose {
    /// Create the file (it must not exist), preallocate `size` bytes, sync.
    Format,
    /// Open an existing file read-write, verify its size, take the lock.
    Open,
    /// Open an existing file read-only, tolerating another holder's lock.
    Inspect,
}

/// Whether a data file bypasses the page cache (`O_DIRECT` / `F_NOCACHE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirectIo {
    /// Fail with [`crate::OpenError::DirectIoUnsupported`] if the file
    /// system does not support direct IO.
    Required,
    /// Use direct IO where supported, buffered IO otherwise.
    Optional,
    /// Always use buffered IO.
    Disabled,
}
