//! The simulated descriptor table.
//!
//! One table for the whole simulation, each descriptor owned by a node;
//! numbers start at 3 and the lowest free one is handed out, as POSIX
//! does, so a stale descriptor can alias a new one just as in production.
//! Using another node's descriptor is `EBADF`: nodes are separate processes.

use std::path::PathBuf;

use super::network::SocketKey;
use super::node::NodeId;
use super::storage::FileId;
use crate::options::{AddressFamily, SocketOptions};

/// The first descriptor number handed out (0-2 are stdio in a process).
const FIRST: i32 = 3;

/// The most descriptors one node may hold (`EMFILE` beyond).
pub(crate) const PER_NODE_LIMIT: usize = 1024;

#[derive(Clone, Debug)]
pub(crate) enum FdKind {
    Dir { path: PathBuf },
    File { file: FileId, writable: bool, direct: bool },
    Socket { key: SocketKey, family: AddressFamily, options: SocketOptions },
}

#[derive(Clone, Debug)]
pub(crate) struct FdEntry {
    pub node: NodeId,
    pub kind: FdKind,
}

#[derive(Default)]
pub(crate) struct FdTable {
    entries: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// The entry of `fd` if it is open and belongs to `node`.
    pub(crate) fn get(&self, node: NodeId, fd: i32) -> Option<&FdEntry> {
        let at = usize::try_from(fd.checked_sub(FIRST)?).ok()?;
        self.entries.get(at)?.as_ref().filter(|entry| entry.node == node)
    }

    /// Opens a descriptor for `node`, or `None` at the node's limit.
    pub(crate) fn open(&mut self, node: NodeId, kind: FdKind) -> Option<i32> {
        let held = self.entries.iter().flatten().filter(|e| e.node == node).count();
        if held >= PER_NODE_LIMIT {
            return None;
        }
        let entry = Some(FdEntry { node, kind });
        let at = match self.entries.iter().position(Option::is_none) {
            Some(at) => {
                self.entries[at] = entry;
                at
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        };
        Some(at as i32 + FIRST)
    }

    /// Closes `fd` of `node`, returning what it was.
    pub(crate) fn close(&mut self, node: NodeId, fd: i32) -> Option<FdEntry> {
        self.get(node, fd)?;
        self.entries[(fd - FIRST) as usize].take()
    }

    /// Closes every descriptor of `node` (a crash), returning them.
    pub(crate) fn close_node(&mut self, node: NodeId) -> Vec<(i32, FdEntry)> {
        let mut closed = Vec::new();
        for (at, slot) in self.entries.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|e| e.node == node)
                && let Some(entry) = slot.take()
            {
                closed.push((at as i32 + FIRST, entry));
            }
        }
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_number_and_ownership() {
        let mut table = FdTable::default();
        let dir = || FdKind::Dir { path: PathBuf::from("d") };
        let a = table.open(NodeId(0), dir()).unwrap();
        let b = table.open(NodeId(1), dir()).unwrap();
        assert_eq!((a, b), (3, 4));
        assert!(table.get(NodeId(0), b).is_none(), "another node's descriptor");
        assert!(table.close(NodeId(0), a).is_some());
        assert!(table.close(NodeId(0), a).is_none());
        assert_eq!(table.open(NodeId(0), dir()), Some(3));
        assert_eq!(table.close_node(NodeId(1)).len(), 1);
        assert!(table.get(NodeId(1), b).is_none());
        assert!(table.get(NodeId(0), -1).is_none() && table.get(NodeId(0), i32::MIN).is_none());
    }
}
