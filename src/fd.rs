//! Handles: file descriptors, operation ids and user-event ids.
//!
//! All three are plain `Copy` values. An [`Fd`] is not an owner: the IO that
//! produced it closes it through [`crate::Io::close`], exactly like the raw
//! descriptors of TigerBeetle's IO. Using a stale handle is never undefined
//! behaviour; the kernel (or the simulator) answers with a typed
//! `BadFileDescriptor` error.

use std::fmt;

/// A file descriptor handed out by an IO: a real kernel descriptor for
/// [`crate::IO`], a simulated one for the twin, `SimIO`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fd(i32);

impl Fd {
    /// Wraps a raw descriptor number. Any value is accepted: a negative or
    /// closed descriptor makes the operation that uses it fail with a typed
    /// error, never a panic.
    pub const fn from_raw(raw: i32) -> Fd {
        Fd(raw)
    }

    /// The raw descriptor number.
    pub const fn raw(self) -> i32 {
        self.0
    }
}

impl fmt::Debug for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fd({})", self.0)
    }
}

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Identifies one submitted operation for as long as it is in flight.
///
/// The slot index is reused after completion; the generation makes an old
/// `OpId` distinguishable from a new operation in the same slot, and the
/// identity of the issuing IO makes another IO refuse it
/// ([`crate::CancelError::NotRunning`]) instead of acting on its own
/// operation in that slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OpId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
    pub(crate) io: u32,
}

impl OpId {
    /// The slot this operation occupies (stable while it is in flight).
    pub const fn slot(self) -> u32 {
        self.slot
    }
}

/// A user event: a wake-up that can be triggered from the loop thread, or,
/// for [`crate::IO`], from any thread through an [`crate::EventTrigger`].
///
/// Like an [`OpId`], it carries the identity of the IO that opened it:
/// another IO answers it with `UnknownEvent`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EventId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
    pub(crate) io: u32,
}
