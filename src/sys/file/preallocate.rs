//! Reserving a data file's blocks when it is formatted, so that a write
//! into the file never fails for lack of space and the blocks are as
//! contiguous as the file system allows.
//!
//! Where the file system cannot preallocate, the fallback writes the last
//! sector: the file then has its full size (sparse), and `ENOSPC` may still
//! surface on a later write. `docs/durability.md` lists which is which.

use crate::buffer::SECTOR_SIZE;
use crate::error::Errno;
use crate::sys::retry_eintr;

/// Gives the freshly created, empty file at `fd` `size` bytes (a non-zero
/// multiple of [`SECTOR_SIZE`] that fits an `off_t`), allocated where the
/// file system supports it.
pub(super) fn preallocate(fd: i32, size: u64) -> Result<(), Errno> {
    let len = libc::off_t::try_from(size).map_err(|_| Errno::EFBIG)?;
    match allocate(fd, len) {
        Ok(()) => {}
        Err(errno) if unsupported(errno) => write_last_sector(fd, size)?,
        Err(errno) => return Err(errno),
    }
    // Apple's F_PREALLOCATE reserves blocks without changing the size; on
    // the other systems this is a no-op that confirms it.
    // SAFETY: ftruncate on a descriptor we own; touches no memory of ours.
    retry_eintr(|| unsafe { libc::ftruncate(fd, len) }).map(drop)
}

/// How a file system says it cannot preallocate.
fn unsupported(errno: Errno) -> bool {
    // EOPNOTSUPP and ENOTSUP are one value on Linux, two on Apple and FreeBSD.
    [Errno::EOPNOTSUPP, Errno::ENOTSUP, Errno::ENOSYS, Errno::EINVAL, Errno::ENODEV]
        .contains(&errno)
}

/// Linux `fallocate(2)` with mode 0: allocates and extends the size.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn allocate(fd: i32, len: libc::off_t) -> Result<(), Errno> {
    // SAFETY: fallocate on a descriptor we own; touches no memory of ours.
    retry_eintr(|| unsafe { libc::fallocate(fd, 0, 0, len) }).map(drop)
}

/// FreeBSD `posix_fallocate(2)`: returns the error number rather than
/// setting `errno`, and `EINVAL` where the file system (ZFS) cannot.
#[cfg(target_os = "freebsd")]
fn allocate(fd: i32, len: libc::off_t) -> Result<(), Errno> {
    loop {
        // SAFETY: posix_fallocate on a descriptor we own; no memory passed.
        match unsafe { libc::posix_fallocate(fd, 0, len) } {
            0 => return Ok(()),
            libc::EINTR => continue,
            error => return Err(Errno::from_raw(error)),
        }
    }
}

/// Apple `F_PREALLOCATE` (fcntl(2)): first one contiguous extent, then any
/// extents, all-or-nothing in both cases, counted from the physical end of
/// file (which is 0 for a fresh file).
#[cfg(target_vendor = "apple")]
fn allocate(fd: i32, len: libc::off_t) -> Result<(), Errno> {
    let attempt = |flags: libc::c_uint| {
        let mut store = libc::fstore_t {
            fst_flags: flags,
            fst_posmode: libc::F_PEOFPOSMODE,
            fst_offset: 0,
            fst_length: len,
            fst_bytesalloc: 0,
        };
        // SAFETY: F_PREALLOCATE reads and writes the `fstore_t` we pass,
        // which lives for the whole call.
        retry_eintr(|| unsafe { libc::fcntl(fd, libc::F_PREALLOCATE, &mut store) }).map(drop)
    };
    attempt(libc::F_ALLOCATECONTIG | libc::F_ALLOCATEALL).or_else(|_| attempt(libc::F_ALLOCATEALL))
}

/// Other systems: no preallocation primitive is wired; fall back.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_vendor = "apple"
)))]
fn allocate(_fd: i32, _len: libc::off_t) -> Result<(), Errno> {
    Err(Errno::ENOSYS)
}

/// Extends the file to `size` by writing zeros into its last sector, so
/// that at least that block is allocated and the size is right.
fn write_last_sector(fd: i32, size: u64) -> Result<(), Errno> {
    let zeros = [0u8; SECTOR_SIZE];
    let mut done = 0;
    while done < SECTOR_SIZE {
        let offset = size - SECTOR_SIZE as u64 + done as u64;
        match super::positioned::pwrite(fd, &zeros[done..], offset)? {
            0 => return Err(Errno::EIO),
            n => done += n,
        }
    }
    Ok(())
}
