//! Simulated nodes: processes that share one virtual clock and one network.

use std::fmt;

/// One simulated process. Node 0 exists from the start; more come from
/// `SimIO::add_node`. Storage, descriptors and sockets belong to a node.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node every simulation starts with.
    pub const FIRST: NodeId = NodeId(0);

    /// The node's index (0 for the first node, in creation order).
    pub const fn index(self) -> u32 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}
