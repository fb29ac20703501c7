//! Simulated nodes: the processes that share one simulated network and clock.

/// Names one simulated node (process). Sockets belong to a node, partitions
/// cut the network between two nodes, and a crash takes a node's sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);
