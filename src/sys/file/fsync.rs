//! The durability policy: what each [`FsyncMode`] issues on each platform.
//!
//! It fails closed: a mode never silently becomes weaker than it promises.
//! A weaker primitive is used only under [`FsyncMode::FullOrPlain`], the
//! caller's explicit opt-in; a stronger one may stand in for a weaker one
//! (a barrier that the file system refuses becomes a full flush).

use crate::error::Errno;
use crate::options::FsyncMode;

/// Synchronises `fd` as `mode` promises. When the file system refuses the
/// flush the mode requires (Apple's `F_FULLFSYNC` on SMB, say), fails with
/// `ENOTSUP` having done nothing weaker.
pub(crate) fn fsync(fd: i32, mode: FsyncMode) -> Result<(), Errno> {
    imp::fsync(fd, mode)
}

#[cfg(target_vendor = "apple")]
mod imp {
    use crate::error::Errno;
    use crate::options::FsyncMode;
    use crate::sys::retry_eintr;

    /// `fsync(2)` on Apple only hands the data to the drive, whose cache
    /// may reorder or lose it on power loss; `F_FULLFSYNC` also flushes the
    /// drive cache (fcntl(2)). Apple has no documented `fdatasync`, so
    /// `Data` is `Full`.
    pub(super) fn fsync(fd: i32, mode: FsyncMode) -> Result<(), Errno> {
        match mode {
            FsyncMode::Full | FsyncMode::Data => full(fd),
            FsyncMode::Barrier => match fcntl_sync(fd, libc::F_BARRIERFSYNC) {
                // A full flush orders too: stronger, never weaker.
                Err(errno) if unsupported(errno) => full(fd),
                other => other,
            },
            FsyncMode::FullOrPlain => match full(fd) {
                Err(Errno::ENOTSUP) => {
                    // SAFETY: fsync on a descriptor number is memory-safe; a
                    // stale number fails with EBADF.
                    retry_eintr(|| unsafe { libc::fsync(fd) }).map(drop)
                }
                other => other,
            },
        }
    }

    fn full(fd: i32) -> Result<(), Errno> {
        fcntl_sync(fd, libc::F_FULLFSYNC)
            .map_err(|e| if unsupported(e) { Errno::ENOTSUP } else { e })
    }

    fn fcntl_sync(fd: i32, command: libc::c_int) -> Result<(), Errno> {
        // SAFETY: these fcntl commands take no argument and touch no memory
        // of ours; a stale descriptor fails with EBADF.
        retry_eintr(|| unsafe { libc::fcntl(fd, command) }).map(drop)
    }

    /// File systems without the command (SMB, some FUSE, older kernels for
    /// `F_BARRIERFSYNC`) answer `ENOTSUP`, `EINVAL` or `ENOTTY`.
    fn unsupported(errno: Errno) -> bool {
        matches!(errno, Errno::ENOTSUP | Errno::EINVAL | Errno::ENOTTY)
    }
}

#[cfg(not(target_vendor = "apple"))]
mod imp {
    use crate::error::Errno;
    use crate::options::FsyncMode;
    use crate::sys::retry_eintr;

    /// Linux and FreeBSD `fsync(2)` already reach stable storage (Linux:
    /// "includes writing through or flushing a disk cache"); there is no
    /// barrier-only primitive, so `Barrier` is a full `fsync`.
    pub(super) fn fsync(fd: i32, mode: FsyncMode) -> Result<(), Errno> {
        match mode {
            FsyncMode::Data if DATA_SYNC_KEEPS_ACCESS_METADATA => {
                // SAFETY: a syscall on a descriptor number; a stale one fails with EBADF.
                retry_eintr(|| unsafe { libc::fdatasync(fd) }).map(drop)
            }
            _ => {
                // SAFETY: as above.
                retry_eintr(|| unsafe { libc::fsync(fd) }).map(drop)
            }
        }
    }

    /// Whether `fdatasync(2)` keeps `Data`'s promise that the metadata
    /// needed to read the data back (size, block map) is synced too. Linux
    /// documents it; FreeBSD's page says its `fdatasync` "does not guarantee
    /// that file attributes or metadata necessary to access the file are
    /// committed", so there `Data` is a full `fsync`: stronger, never weaker.
    const DATA_SYNC_KEEPS_ACCESS_METADATA: bool =
        cfg!(any(target_os = "linux", target_os = "android"));
}
