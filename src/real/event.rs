//! User events of the real IO and the cross-thread trigger handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::poller::TriggerTarget;
use crate::error::EventError;

/// State shared between the loop and every [`EventTrigger`] of one event.
#[derive(Debug)]
pub(crate) struct EventShared {
    pub target: TriggerTarget,
    pub closed: AtomicBool,
}

/// A handle that triggers one user event from any thread.
///
/// It is `Send + Sync` and cheap to clone. Triggers coalesce: several before
/// the listener runs produce one completion. After the event is closed (or
/// its IO dropped), `trigger` returns [`EventError::Closed`]; the kernel
/// object lives until the last handle is dropped, so a late trigger can
/// never reach a reused descriptor.
#[derive(Clone, Debug)]
pub struct EventTrigger {
    pub(crate) shared: Arc<EventShared>,
}

impl EventTrigger {
    /// Triggers the event.
    pub fn trigger(&self) -> Result<(), EventError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(EventError::Closed);
        }
        self.shared.target.trigger()
    }
}
