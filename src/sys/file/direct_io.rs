//! Bypassing the page cache: `O_DIRECT` on Linux and FreeBSD, `F_NOCACHE`
//! on Apple.
//!
//! Direct IO is switched on after the open, with `fcntl`, rather than by
//! passing `O_DIRECT` to `open`: on Linux an `O_CREAT` open with `O_DIRECT`
//! on a file system that refuses it creates the file and only then fails,
//! leaving it behind. `F_SETFL` runs the same support check as `open`
//! (`FMODE_CAN_ODIRECT`, fs/fcntl.c) and fails with `EINVAL`.

use crate::error::{Errno, OpenError};
use crate::options::DirectIo;
use crate::sys::retry_eintr;

/// Clears `O_NONBLOCK` (data files are opened with it so that a FIFO
/// planted at the path cannot block the open) and applies `mode`. Returns
/// whether direct IO is on.
pub(super) fn configure(fd: i32, mode: DirectIo) -> Result<bool, OpenError> {
    // SAFETY: F_GETFL takes no argument; a stale descriptor fails with EBADF.
    let flags =
        retry_eintr(|| unsafe { libc::fcntl(fd, libc::F_GETFL) }).map_err(OpenError::from_errno)?;
    set_flags(fd, flags & !libc::O_NONBLOCK)?;
    if mode == DirectIo::Disabled {
        return Ok(false);
    }
    match enable(fd, flags & !libc::O_NONBLOCK) {
        Ok(()) => Ok(true),
        Err(errno) if unsupported(errno) => match mode {
            DirectIo::Required => Err(OpenError::DirectIoUnsupported),
            _ => Ok(false),
        },
        Err(errno) => Err(OpenError::from_errno(errno)),
    }
}

fn set_flags(fd: i32, flags: libc::c_int) -> Result<(), OpenError> {
    // SAFETY: F_SETFL takes an integer argument; no memory is passed.
    retry_eintr(|| unsafe { libc::fcntl(fd, libc::F_SETFL, flags) })
        .map(drop)
        .map_err(OpenError::from_errno)
}

/// FreeBSD treats `O_DIRECT` as a hint: a file system without direct IO
/// (ZFS before OpenZFS 2.3) accepts it and caches anyway, so there is no
/// refusal to detect (see `docs/durability.md`).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn enable(fd: i32, flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: F_SETFL takes an integer argument; no memory is passed.
    retry_eintr(|| unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_DIRECT) }).map(drop)
}

#[cfg(target_vendor = "apple")]
fn enable(fd: i32, _flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: F_NOCACHE takes an integer argument; no memory is passed.
    retry_eintr(|| unsafe { libc::fcntl(fd, libc::F_NOCACHE, 1) }).map(drop)
}

/// Systems with neither primitive: direct IO is unsupported.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_vendor = "apple"
)))]
fn enable(_fd: i32, _flags: libc::c_int) -> Result<(), Errno> {
    Err(Errno::EINVAL)
}

/// How a file system says it cannot do direct IO.
fn unsupported(errno: Errno) -> bool {
    [Errno::EINVAL, Errno::ENOTSUP, Errno::EOPNOTSUPP, Errno::ENOTTY].contains(&errno)
}
