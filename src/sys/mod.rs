//! Thin, safe wrappers over the system calls the real IO makes. Each returns
//! `Result<_, Errno>` with `EINTR` already retried where a retry is correct;
//! mapping to an operation's typed error is the caller's job.

pub(crate) mod file;
pub(crate) mod socket;

use crate::error::Errno;

/// The calling thread's `errno`, read in place: this is on the path of every
/// try-first read that finds nothing (profiled: through nix's wrapper it
/// cost a call per `EAGAIN`).
#[inline(always)]
fn last_errno() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `__errno_location` returns a valid pointer to the calling
    // thread's errno, readable for as long as the thread lives.
    let raw = unsafe { *libc::__errno_location() };
    #[cfg(any(target_vendor = "apple", target_os = "freebsd", target_os = "dragonfly"))]
    // SAFETY: `__error` returns a valid pointer to the calling thread's
    // errno, readable for as long as the thread lives.
    let raw = unsafe { *libc::__error() };
    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    // SAFETY: `__errno` returns a valid pointer to the calling thread's
    // errno, readable for as long as the thread lives.
    let raw = unsafe { *libc::__errno() };
    raw
}

/// Runs `f` until it returns something other than `-1`/`EINTR`.
#[inline]
pub(crate) fn retry_eintr<T: Copy + PartialEq + From<i8>>(
    mut f: impl FnMut() -> T,
) -> Result<T, Errno> {
    loop {
        let rc = f();
        if rc != T::from(-1) {
            return Ok(rc);
        }
        if let Some(errno) = failure(last_errno()) {
            return Err(errno);
        }
    }
}

/// What a call that failed with `raw` reports; `None` for `EINTR`, which
/// is tried again. Every retrying syscall wrapper decides through here.
#[inline(always)]
pub(crate) fn failure(raw: i32) -> Option<Errno> {
    match raw {
        // The common failure on a non-blocking socket (every try-first
        // read that finds nothing): no trip through the errno table.
        libc::EAGAIN => Some(Errno::EAGAIN),
        libc::EINTR => None,
        raw => Some(Errno::from_raw(raw)),
    }
}

/// Closes `fd`. `EINTR` is not retried: on Linux and the BSDs the descriptor
/// is already released (a retry could close a reused number), so it counts
/// as success.
pub(crate) fn close(fd: i32) -> Result<(), Errno> {
    // SAFETY: closing an arbitrary integer is memory-safe; the caller owns
    // the descriptor through the IO that handed it out.
    let rc = unsafe { libc::close(fd) };
    if rc == 0 {
        return Ok(());
    }
    match Errno::last() {
        Errno::EINTR => Ok(()),
        errno => Err(errno),
    }
}

/// Whether `fd` names an open descriptor of this process.
pub(crate) fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD reads the descriptor's flags; any integer is allowed.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Sets `O_NONBLOCK` on `fd`, keeping its other status flags.
pub(crate) fn set_nonblocking(fd: i32) -> Result<(), Errno> {
    // SAFETY: F_GETFL reads the status flags; any integer is allowed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(Errno::last());
    }
    // SAFETY: F_SETFL with the flags just read plus O_NONBLOCK.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}
