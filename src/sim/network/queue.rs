//! The segments in flight, by `(arrival, sequence)`. Two parts:
//! - a FIFO of entries queued in increasing key order, the common case
//!   (with a constant delay every segment arrives after those sent before
//!   it), popped from the front at O(1);
//! - a binary heap for the rest (jitter, reordering, released holds).
//!
//! The smaller front of the two is the next segment, so the order is that
//! of one priority queue. Entries are small (the key and a slot number)
//! over a slab holding the segments, so sifting moves 24 bytes, not a
//! whole segment (profiled: the heap's pop and push were a sixth of a
//! 64-connection echo). All are `Vec`s (or a `VecDeque`) that keep their
//! capacity, so steady traffic allocates nothing once the queue has reached
//! its working size (a `BTreeMap` allocates and frees nodes as it splits
//! and merges, whatever its past size).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// A priority queue with unique `(u64, u64)` keys, smallest first.
#[derive(Debug)]
pub(super) struct SegmentQueue<T> {
    /// Entries in increasing key order, each queued after every entry then
    /// in it.
    ordered: VecDeque<Entry>,
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
            ordered: VecDeque::with_capacity(RESERVED),
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
        let entry = Entry { key, slot };
        if self.ordered.back().is_none_or(|last| last.key < key) {
            self.ordered.push_back(entry);
        } else {
            self.heap.push(entry);
        }
    }

    /// The entry with the smallest key, and whether it is the heap's.
    #[inline]
    fn first(&self) -> Option<(&Entry, bool)> {
        match (self.ordered.front(), self.heap.peek()) {
            (Some(a), Some(b)) if b.key < a.key => Some((b, true)),
            (Some(a), _) => Some((a, false)),
            (None, b) => b.map(|b| (b, true)),
        }
    }

    /// The smallest key.
    pub(super) fn first_key(&self) -> Option<(u64, u64)> {
        self.first().map(|(entry, _)| entry.key)
    }

    /// Removes the entry with the smallest key. Inlined, so the segment
    /// moves once, into its caller (profiled: reloading it from the
    /// returned copy stalled the delivery loop).
    #[inline]
    pub(super) fn pop_first(&mut self) -> Option<((u64, u64), T)> {
        let (_, from_heap) = self.first()?;
        let entry = if from_heap { self.heap.pop()? } else { self.ordered.pop_front()? };
        let value = self.take(entry.slot);
        Some((entry.key, value))
    }

    /// Keeps only the entries whose value satisfies `keep` (in place: both
    /// parts keep their capacity and the FIFO its order).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let (values, free) = (&mut self.values, &mut self.free);
        let mut kept = |entry: &Entry| {
            let slot = entry.slot as usize;
            let kept = values[slot].as_ref().is_some_and(&mut keep);
            if !kept {
                values[slot] = None;
                free.push(entry.slot);
            }
            kept
        };
        self.ordered.retain(&mut kept);
        self.heap.retain(kept);
    }

    pub(super) fn len(&self) -> usize {
        self.ordered.len() + self.heap.len()
    }

    #[inline]
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

    proptest::proptest! {
        /// Mostly increasing keys (the FIFO's case) mixed with earlier ones
        /// (the heap's), pops and retains: always the order of a sorted map.
        #[test]
        fn agrees_with_a_sorted_map(
            steps in proptest::collection::vec((0u8..10, 0u64..50), 1..200),
        ) {
            let mut queue = SegmentQueue::default();
            let mut model = std::collections::BTreeMap::new();
            let (mut sequence, mut now) = (0u64, 0u64);
            for (action, delta) in steps {
                match action {
                    0..=5 => {
                        sequence += 1;
                        // Usually later than everything queued; sometimes not.
                        let at = if action == 5 { now + delta / 8 } else { now + 40 + delta };
                        queue.insert((at, sequence), sequence);
                        model.insert((at, sequence), sequence);
                        now += delta / 4;
                    }
                    6..=8 => {
                        let expected = model.pop_first();
                        proptest::prop_assert_eq!(queue.pop_first(), expected);
                    }
                    _ => {
                        queue.retain(|value| value % 3 != delta % 3);
                        model.retain(|_, value| *value % 3 != delta % 3);
                    }
                }
                proptest::prop_assert_eq!(queue.len(), model.len());
                proptest::prop_assert_eq!(queue.first_key(), model.keys().next().copied());
            }
            while let Some(expected) = model.pop_first() {
                proptest::prop_assert_eq!(queue.pop_first(), Some(expected));
            }
            proptest::prop_assert_eq!(queue.pop_first(), None);
        }
    }
}
