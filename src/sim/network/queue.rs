//! The segments in flight, by `(arrival, sequence)`: a binary heap of small
//! entries (the key and a slot number) over a slab holding the segments,
//! so sifting moves 24 bytes, not a whole segment (profiled: the heap's
//! pop was a tenth of a 64-connection echo). Both are `Vec`s that keep
//! their capacity, so steady traffic allocates nothing once the queue has
//! reached its working size (a `BTreeMap` allocates and frees nodes as it
//! splits and merges, whatever its past size).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A priority queue with unique `(u64, u64)` keys, smallest first.
#[derive(Debug)]
pub(super) struct SegmentQueue<T> {
    heap: BinaryHeap<Entry>,
    /// The queued values, by slot; `None` is a free slot.
    values: Vec<Option<T>>,
    /// Free slots, reused last-in first-out (deterministic).
    free: Vec<u32>,
}

#[derive(Debug)]
struct Entry {
    key: (u64, u64),
    slot: u32,
}

// Ordered by key alone, reversed: `BinaryHeap` is a max-heap.
impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> Ordering {
        other.key.cmp(&self.key)
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key == other.key
    }
}

impl Eq for Entry {}

/// Room reserved up front, so a busy simulation reaches its working size
/// during set-up rather than under load; beyond it the queue grows
/// geometrically and keeps what it grew to.
const RESERVED: usize = 1024;

impl<T> Default for SegmentQueue<T> {
    fn default() -> SegmentQueue<T> {
        SegmentQueue {
            heap: BinaryHeap::with_capacity(RESERVED),
            values: Vec::with_capacity(RESERVED),
            free: Vec::with_capacity(RESERVED),
        }
    }
}

impl<T> SegmentQueue<T> {
    /// Queues `value` under `key`, which no queued entry has.
    pub(super) fn insert(&mut self, key: (u64, u64), value: T) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.values[slot as usize] = Some(value);
                slot
            }
            None => {
                self.values.push(Some(value));
                (self.values.len() - 1) as u32
            }
        };
        self.heap.push(Entry { key, slot });
    }

    /// The smallest key.
    pub(super) fn first_key(&self) -> Option<(u64, u64)> {
        self.heap.peek().map(|entry| entry.key)
    }

    /// Removes the entry with the smallest key.
    pub(super) fn pop_first(&mut self) -> Option<((u64, u64), T)> {
        let entry = self.heap.pop()?;
        let value = self.take(entry.slot);
        Some((entry.key, value))
    }

    /// Keeps only the entries whose value satisfies `keep` (in place: the
    /// heap keeps its capacity).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let (values, free) = (&mut self.values, &mut self.free);
        self.heap.retain(|entry| {
            let slot = entry.slot as usize;
            let kept = values[slot].as_ref().is_some_and(&mut keep);
            if !kept {
                values[slot] = None;
                free.push(entry.slot);
            }
            kept
        });
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }

    fn take(&mut self, slot: u32) -> T {
        self.free.push(slot);
        self.values[slot as usize].take().expect("a queued entry's slot holds its value")
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

    #[test]
    fn retain_frees_slots_for_reuse_and_keeps_order() {
        let mut queue = SegmentQueue::default();
        for n in 0..10u64 {
            queue.insert((10 - n, n), n);
        }
        queue.retain(|value| value % 3 == 0);
        assert_eq!(queue.len(), 4);
        for n in 10..16u64 {
            queue.insert((n, n), n);
        }
        // Six inserts after six removals reuse the freed slots.
        assert_eq!(queue.values.len(), 10);
        let mut values = Vec::new();
        while let Some((_, value)) = queue.pop_first() {
            values.push(value);
        }
        assert_eq!(values, [9, 6, 3, 0, 10, 11, 12, 13, 14, 15]);
    }
}
