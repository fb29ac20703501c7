//! The exclusive data-file lock.
//!
//! `flock(2)` locks belong to the open file description, not the process:
//! a second open of the same file in the same process conflicts too, and
//! the kernel drops the lock when the last descriptor closes, including on
//! a crash or `SIGKILL`. (POSIX `fcntl` locks would be per process and
//! silently released by closing *any* descriptor of the file.)

use crate::error::{Errno, OpenError};
use crate::sys::retry_eintr;

/// Takes the exclusive lock on `fd` without waiting.
pub(super) fn lock_exclusive(fd: i32) -> Result<(), OpenError> {
    // SAFETY: flock on a descriptor we own; touches no memory of ours.
    match retry_eintr(|| unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(()),
        // EWOULDBLOCK is EAGAIN on every supported system.
        Err(Errno::EWOULDBLOCK) => Err(OpenError::Locked),
        Err(errno) => Err(OpenError::from_errno(errno)),
    }
}
