//! Writes in flight when their node crashes.
//!
//! A write the twin has issued but not completed (its latency has not
//! elapsed) has reached the kernel and possibly the drive. Under
//! `CrashPolicy::AnyVersion` it becomes the newest candidate version of
//! each sector it covers just before the crash resolves them, so each of
//! its sectors may land, not land, or land torn.

use crate::engine::op::{Op, Place};
use crate::sim::SimIO;
use crate::sim::config::CrashPolicy;
use crate::sim::node::NodeId;

impl<C> SimIO<C> {
    /// Hands `node`'s in-flight writes to the storage, in slot order,
    /// before its operations are dropped.
    pub(crate) fn stage_in_flight_writes(&mut self, node: NodeId, policy: CrashPolicy) {
        if policy != CrashPolicy::AnyVersion {
            return;
        }
        for slot in &self.core.slots {
            // Issued: waiting out its latency, or due and about to run.
            let issued =
                slot.place == Place::Timer || (slot.place == Place::Completed && slot.data.due);
            if slot.data.node != node || !issued {
                continue;
            }
            if let Op::Write { span, offset, .. } = &slot.op {
                let file = self.storage.file(slot.data.file);
                if *offset < file.size {
                    let len = super::file::clamp(span.len(), *offset, file.size);
                    let data = &span.bytes()[..len];
                    file.sectors.write(data, *offset);
                }
            }
        }
    }
}
