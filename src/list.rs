//! Intrusive doubly-linked FIFOs over operation slots, for the twin's
//! operations parked on a socket (the core's `completed` and the real IO's
//! descriptor lists are singly linked through the slots: `engine/fifo.rs`).
//!
//! The links live in one array indexed by slot, allocated at `init`, so
//! queueing and unlinking never allocate and removal from the middle (a
//! canceled op, a crashed node's operations) is O(1).

pub(crate) const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    prev: u32,
    next: u32,
}

impl Link {
    pub(crate) const UNLINKED: Link = Link { prev: NONE, next: NONE };
}

/// A FIFO of slot indices threaded through a shared `[Link]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct List {
    head: u32,
    tail: u32,
}

impl Default for List {
    fn default() -> List {
        List::new()
    }
}

impl List {
    pub(crate) const fn new() -> List {
        List { head: NONE, tail: NONE }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NONE
    }

    /// O(n): only the tests count.
    #[cfg(test)]
    pub(crate) fn len(&self, links: &[Link]) -> usize {
        let mut count = 0;
        let mut at = self.front();
        while let Some(index) = at {
            count += 1;
            at = List::next(links, index);
        }
        count
    }

    #[inline]
    pub(crate) fn push_back(&mut self, links: &mut [Link], index: u32) {
        links[index as usize] = Link { prev: self.tail, next: NONE };
        if self.tail == NONE {
            self.head = index;
        } else {
            links[self.tail as usize].next = index;
        }
        self.tail = index;
    }

    #[inline]
    pub(crate) fn pop_front(&mut self, links: &mut [Link]) -> Option<u32> {
        let index = self.head;
        if index == NONE {
            return None;
        }
        // The head has no predecessor: only its successor is relinked. The
        // popped link is left as it was: nothing reads the link of an
        // index outside a list, and the next push overwrites it.
        let next = links[index as usize].next;
        self.head = next;
        if next == NONE {
            self.tail = NONE;
        } else {
            links[next as usize].prev = NONE;
        }
        Some(index)
    }

    /// Unlinks `index`, which must be in this list.
    #[inline]
    pub(crate) fn remove(&mut self, links: &mut [Link], index: u32) {
        let Link { prev, next } = links[index as usize];
        if prev == NONE {
            self.head = next;
        } else {
            links[prev as usize].next = next;
        }
        if next == NONE {
            self.tail = prev;
        } else {
            links[next as usize].prev = prev;
        }
        links[index as usize] = Link::UNLINKED;
    }

    /// The first index, if any.
    #[inline]
    pub(crate) fn front(&self) -> Option<u32> {
        (self.head != NONE).then_some(self.head)
    }

    /// The index after `index`, which must be in a list threaded through `links`.
    #[inline]
    pub(crate) fn next(links: &[Link], index: u32) -> Option<u32> {
        let next = links[index as usize].next;
        (next != NONE).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    proptest! {
        /// The list behaves as a VecDeque under push, pop and removal.
        #[test]
        fn matches_a_deque(commands in proptest::collection::vec((0u8..3, 0u32..16), 0..200)) {
            let mut links = vec![Link::UNLINKED; 16];
            let mut list = List::new();
            let mut model: VecDeque<u32> = VecDeque::new();
            for (command, index) in commands {
                match command {
                    0 if !model.contains(&index) => {
                        list.push_back(&mut links, index);
                        model.push_back(index);
                    }
                    1 => prop_assert_eq!(list.pop_front(&mut links), model.pop_front()),
                    2 if model.contains(&index) => {
                        list.remove(&mut links, index);
                        model.retain(|&i| i != index);
                    }
                    _ => {}
                }
                prop_assert_eq!(list.len(&links), model.len());
                prop_assert_eq!(list.is_empty(), model.is_empty());
                let mut walked = Vec::new();
                let mut at = list.front();
                while let Some(index) = at {
                    walked.push(index);
                    at = List::next(&links, index);
                }
                prop_assert_eq!(&walked, &model.iter().copied().collect::<Vec<_>>());
            }
            let mut drained = Vec::new();
            while let Some(index) = list.pop_front(&mut links) {
                drained.push(index);
            }
            prop_assert_eq!(drained, model.into_iter().collect::<Vec<_>>());
        }
    }
}
