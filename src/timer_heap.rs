//! An indexed binary min-heap of timers keyed by `(deadline, sequence)`.
//!
//! TigerBeetle scans every timeout on each tick (O(n)); this heap makes
//! arming, firing, removing and re-arming O(log n). Ties on the deadline fire
//! in submission order because the sequence number breaks them. Each slot
//! records its heap position so a timer can be removed or moved without a
//! search. Storage is reserved up front: no allocation after `with_capacity`.

use crate::list::NONE;

#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline: u64,
    sequence: u64,
    slot: u32,
}

impl Entry {
    fn key(&self) -> (u64, u64) {
        (self.deadline, self.sequence)
    }
}

#[derive(Debug)]
pub(crate) struct TimerHeap {
    heap: Vec<Entry>,
    /// `position[slot]` is the slot's index in `heap`, or `NONE`.
    position: Vec<u32>,
    next_sequence: u64,
}

impl TimerHeap {
    pub(crate) fn with_capacity(slots: usize) -> TimerHeap {
        TimerHeap { heap: Vec::with_capacity(slots), position: vec![NONE; slots], next_sequence: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub(crate) fn contains(&self, slot: u32) -> bool {
        self.position[slot as usize] != NONE
    }

    /// Arms `slot` (which must not be armed) to fire at `deadline`.
    pub(crate) fn push(&mut self, slot: u32, deadline: u64) {
        debug_assert!(!self.contains(slot));
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let at = self.heap.len();
        self.heap.push(Entry { deadline, sequence, slot });
        self.position[slot as usize] = at as u32;
        self.sift_up(at);
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.heap.first().map(|entry| entry.deadline)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<u32> {
        let first = *self.heap.first()?;
        if first.deadline > now {
            return None;
        }
        self.remove(first.slot);
        Some(first.slot)
    }

    /// Disarms `slot`; false if it was not armed.
    pub(crate) fn remove(&mut self, slot: u32) -> bool {
        let at = self.position[slot as usize];
        if at == NONE {
            return false;
        }
        let at = at as usize;
        let last = self.heap.len() - 1;
        self.swap(at, last);
        self.heap.pop();
        self.position[slot as usize] = NONE;
        if at < self.heap.len() {
            self.sift_down(at);
            self.sift_up(at);
        }
        true
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.position[self.heap[a].slot as usize] = a as u32;
        self.position[self.heap[b].slot as usize] = b as u32;
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if self.heap[at].key() >= self.heap[parent].key() {
                break;
            }
            self.swap(at, parent);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let left = 2 * at + 1;
            let right = left + 1;
            let mut smallest = at;
            if left < self.heap.len() && self.heap[left].key() < self.heap[smallest].key() {
                smallest = left;
            }
            if right < self.heap.len() && self.heap[right].key() < self.heap[smallest].key() {
                smallest = right;
            }
            if smallest == at {
                break;
            }
            self.swap(at, smallest);
            at = smallest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Timers fire in (deadline, submission) order, with removals honoured.
        #[test]
        fn fires_in_deadline_then_submission_order(
            deadlines in proptest::collection::vec(0u64..50, 1..64),
            removals in proptest::collection::vec(any::<prop::sample::Index>(), 0..16),
        ) {
            let mut heap = TimerHeap::with_capacity(deadlines.len());
            for (slot, &deadline) in deadlines.iter().enumerate() {
                heap.push(slot as u32, deadline);
            }
            let mut removed = vec![false; deadlines.len()];
            for index in removals {
                let slot = index.index(deadlines.len());
                prop_assert_eq!(heap.remove(slot as u32), !removed[slot]);
                removed[slot] = true;
            }
            let mut expected: Vec<(u64, usize)> = deadlines
                .iter()
                .enumerate()
                .filter(|(slot, _)| !removed[*slot])
                .map(|(slot, &deadline)| (deadline, slot))
                .collect();
            expected.sort();
            let mut fired = Vec::new();
            while let Some(slot) = heap.pop_due(u64::MAX) {
                fired.push((deadlines[slot as usize], slot as usize));
            }
            prop_assert_eq!(fired, expected);
            prop_assert!(heap.is_empty());
        }
    }

    #[test]
    fn pop_due_respects_now() {
        let mut heap = TimerHeap::with_capacity(2);
        heap.push(0, 10);
        heap.push(1, 5);
        assert_eq!(heap.pop_due(4), None);
        assert_eq!(heap.next_deadline(), Some(5));
        assert_eq!(heap.pop_due(10), Some(1));
        assert_eq!(heap.pop_due(10), Some(0));
        assert_eq!(heap.len(), 0);
    }
}
