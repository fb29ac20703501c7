//! The segments in flight, by `(arrival, sequence)`: a binary heap over a
//! `Vec`, which keeps its capacity, so steady traffic allocates nothing
//! once the queue has reached its working size (a `BTreeMap` allocates and
//! frees nodes as it splits and merges, whatever its past size).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A priority queue with unique `(u64, u64)` keys, smallest first.
#[derive(Debug)]
pub(super) struct SegmentQueue<T> {
    heap: BinaryHeap<Entry<T>>,
}

#[derive(Debug)]
struct Entry<T> {
    key: (u64, u64),
    value: T,
}

// Ordered by key alone, reversed: `BinaryHeap` is a max-heap.
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Entry<T>) -> Ordering {
        other.key.cmp(&self.key)
    }
}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Entry<T>) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Entry<T>) -> bool {
        self.key == other.key
    }
}

impl<T> Eq for Entry<T> {}

/// Room reserved up front, so a busy simulation reaches its working size
/// during set-up rather than under load; beyond it the queue grows
/// geometrically and keeps what it grew to.
const RESERVED: usize = 1024;

impl<T> Default for SegmentQueue<T> {
    fn default() -> SegmentQueue<T> {
        SegmentQueue { heap: BinaryHeap::with_capacity(RESERVED) }
    }
}

impl<T> SegmentQueue<T> {
    /// Queues `value` under `key`, which no queued entry has.
    pub(super) fn insert(&mut self, key: (u64, u64), value: T) {
        self.heap.push(Entry { key, value });
    }

    /// The smallest key.
    pub(super) fn first_key(&self) -> Option<(u64, u64)> {
        self.heap.peek().map(|entry| entry.key)
    }

    /// Removes the entry with the smallest key.
    pub(super) fn pop_first(&mut self) -> Option<((u64, u64), T)> {
        self.heap.pop().map(|entry| (entry.key, entry.value))
    }

    /// Keeps only the entries whose value satisfies `keep` (in place: the
    /// heap keeps its capacity).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.heap.retain(|entry| keep(&entry.value));
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::SegmentQueue;

    #[test]
    fn pops_in_key_order() {
        let mut queue = SegmentQueue::default();
        for key in [(5, 1), (1, 9), (3, 2), (1, 3), (9, 0)] {
            queue.insert(key, key.0 * 10 + key.1);
        }
        let mut keys = Vec::new();
        while let Some((key, value)) = queue.pop_first() {
            assert_eq!(value, key.0 * 10 + key.1);
            keys.push(key);
        }
        assert_eq!(keys, [(1, 3), (1, 9), (3, 2), (5, 1), (9, 0)]);
        assert_eq!(queue.first_key(), None);
    }
}
