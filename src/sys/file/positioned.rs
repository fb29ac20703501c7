//! Positioned reads and writes (`pread` / `pwrite`).

use crate::error::Errno;
use crate::sys::retry_eintr;

/// The most bytes one `pread`/`pwrite` may move: Linux caps a transfer at
/// `0x7ffff000`; Apple and the BSDs reject lengths above `INT_MAX`. Longer
/// ranges are clamped and complete as a partial transfer.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const MAX_TRANSFER: usize = 0x7fff_f000;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const MAX_TRANSFER: usize = i32::MAX as usize;

/// Reads into `buffer` from `offset`; `Ok(0)` is end of file.
pub(crate) fn pread(fd: i32, buffer: &mut [u8], offset: u64) -> Result<usize, Errno> {
    let len = buffer.len().min(MAX_TRANSFER);
    let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `buffer` is valid and exclusively borrowed for `len` bytes.
    retry_eintr(|| unsafe { libc::pread(fd, buffer.as_mut_ptr().cast(), len, offset) })
        .map(|n| n as usize)
}

/// Writes `buffer` at `offset`; a short count is a partial write.
pub(crate) fn pwrite(fd: i32, buffer: &[u8], offset: u64) -> Result<usize, Errno> {
    let len = buffer.len().min(MAX_TRANSFER);
    let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `buffer` is valid for reads of `len` bytes.
    retry_eintr(|| unsafe { libc::pwrite(fd, buffer.as_ptr().cast(), len, offset) })
        .map(|n| n as usize)
}
