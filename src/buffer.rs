//! An owned, sector-aligned byte buffer.
//!
//! In-flight operations own their buffer and hand it back in their
//! completion, so no raw pointer into caller memory is ever held by the
//! kernel-facing code. The allocation is aligned to [`SECTOR_SIZE`] so the
//! same buffer serves `O_DIRECT` / `F_NOCACHE` IO.

use std::alloc::{self, Layout};
use std::fmt;
use std::ops::{Bound, Deref, DerefMut, Range, RangeBounds};
use std::ptr::NonNull;

/// The sector size this crate aligns to and requires of data-file sizes.
pub const SECTOR_SIZE: usize = 4096;

/// The largest buffer [`Buffer::new`] accepts: half the address space, so
/// that `len` fits an `isize` as slices require.
const MAX_LEN: usize = isize::MAX as usize - SECTOR_SIZE;

/// Why a [`Buffer`] could not be allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// The requested length does not fit in the address space.
    TooLarge,
    /// The allocator returned no memory.
    OutOfMemory,
}

impl fmt::Display for BufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferError::TooLarge => f.write_str("buffer length too large"),
            BufferError::OutOfMemory => f.write_str("out of memory allocating buffer"),
        }
    }
}

impl std::error::Error for BufferError {}

/// A fixed-length, [`SECTOR_SIZE`]-aligned heap buffer: zeroed by
/// [`Buffer::new`], a copy of its source from [`Buffer::from_slice`].
///
/// It never grows: allocate buffers once (at start-up) and pass them through
/// operations, which return them in their completion.
pub struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `Buffer` uniquely owns its allocation (no aliasing handle exists),
// exactly like `Vec<u8>`, so moving it to or sharing `&Buffer` with another
// thread is sound.
unsafe impl Send for Buffer {}
// SAFETY: see `Send`; `&Buffer` only allows reads.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Allocates `len` zeroed bytes aligned to [`SECTOR_SIZE`].
    pub fn new(len: usize) -> Result<Buffer, BufferError> {
        if len == 0 {
            // A dangling pointer aligned to the sector is valid for a zero-length slice.
            let ptr = NonNull::new(SECTOR_SIZE as *mut u8).expect("SECTOR_SIZE is non-zero");
            return Ok(Buffer { ptr, len });
        }
        if len > MAX_LEN {
            return Err(BufferError::TooLarge);
        }
        let layout = Self::layout(len);
        // SAFETY: `layout` has a non-zero size (len > 0 checked above).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(BufferError::OutOfMemory)?;
        Ok(Buffer { ptr, len })
    }

    /// Allocates a buffer holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Result<Buffer, BufferError> {
        let len = bytes.len();
        if len == 0 || len > MAX_LEN {
            return Buffer::new(len);
        }
        // Not zeroed first: every byte is written by the copy (profiled:
        // zeroing then copying was most of a clone's cost).
        let layout = Self::layout(len);
        // SAFETY: `layout` has a non-zero size (len > 0 checked above).
        let raw = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(raw).ok_or(BufferError::OutOfMemory)?;
        // SAFETY: `ptr` is a fresh allocation of `len` bytes, so it is valid
        // for writes of `len` bytes and cannot overlap `bytes`; after the
        // copy all `len` bytes are initialised, as `Buffer` requires.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), len) };
        Ok(Buffer { ptr, len })
    }

    fn layout(len: usize) -> Layout {
        Layout::from_size_align(len, SECTOR_SIZE).expect("len <= MAX_LEN was checked")
    }

    /// The number of bytes in the buffer.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length buffer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Resolves `range` against this buffer, or `None` when it is out of
    /// bounds or reversed.
    pub fn check_range(&self, range: impl RangeBounds<usize>) -> Option<Range<usize>> {
        resolve_range(range, self.len)
    }
}

/// Resolves a `RangeBounds` against a length, refusing overflow, reversed
/// and out-of-bounds ranges instead of panicking.
pub(crate) fn resolve_range(range: impl RangeBounds<usize>, len: usize) -> Option<Range<usize>> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.checked_add(1)?,
        Bound::Excluded(&e) => e,
        Bound::Unbounded => len,
    };
    (start <= end && end <= len).then_some(start..end)
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` initialised bytes (zeroed at
        // allocation, or dangling and aligned with len == 0), owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: allocated in `new` or `from_slice` with exactly this layout
            // and not freed since.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
        }
    }
}

impl Clone for Buffer {
    fn clone(&self) -> Buffer {
        Buffer::from_slice(self)
            .unwrap_or_else(|_| alloc::handle_alloc_error(Self::layout(self.len)))
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer").field("len", &self.len).finish()
    }
}

impl PartialEq for Buffer {
    fn eq(&self, other: &Buffer) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Buffer {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_zeroed() {
        for len in [0, 1, 4095, 4096, 65536] {
            let buffer = Buffer::new(len).unwrap();
            assert_eq!(buffer.len(), len);
            assert_eq!(buffer.as_ptr() as usize % SECTOR_SIZE, 0);
            assert!(buffer.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn from_slice_and_clone_copy_every_byte_aligned() {
        for len in [0, 1, 7, 4095, 4096, 4097, 65536] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let buffer = Buffer::from_slice(&bytes).unwrap();
            assert_eq!(&buffer[..], &bytes[..]);
            assert_eq!(buffer.as_ptr() as usize % SECTOR_SIZE, 0);
            let copy = buffer.clone();
            assert_eq!(&copy[..], &bytes[..]);
            assert_eq!(copy.as_ptr() as usize % SECTOR_SIZE, 0);
        }
    }

    #[test]
    fn too_large_is_an_error() {
        assert_eq!(Buffer::new(usize::MAX).unwrap_err(), BufferError::TooLarge);
    }

    #[test]
    fn ranges_are_checked() {
        let buffer = Buffer::new(10).unwrap();
        assert_eq!(buffer.check_range(..), Some(0..10));
        assert_eq!(buffer.check_range(2..=4), Some(2..5));
        assert_eq!(buffer.check_range(5..11), None);
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 6..5;
        assert_eq!(buffer.check_range(reversed), None);
        assert_eq!(buffer.check_range(..=usize::MAX), None);
        assert_eq!(buffer.check_range((Bound::Excluded(usize::MAX), Bound::Unbounded)), None);
    }
}
