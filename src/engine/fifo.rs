//! FIFOs of operation slots singly linked through the slots themselves
//! (each slot's `next`; a slot is in one such list at most): the core's
//! `completed`, the real IO's operations parked on a descriptor, and the
//! stack of free slots ([`FreeStack`]). A
//! push or a pop touches the slot the engine is about to read or write
//! anyway, with the same bounds check, instead of a separate link array
//! (profiled: ~15 instructions per round trip of a pop or push). The order
//! is the only thing either backend sees of them.
//!
//! Removal from the middle walks from the front: it only happens for a
//! timeout reset after it expired and before its callback, for the twin's
//! crash, and for a cancel of an operation parked on a descriptor, each
//! over the few operations queued in one pass or parked on one descriptor.
//!
//! **In range.** Every index an IO's lists hold (its `completed`, its
//! descriptors' lists, its free stack) is below the length of that IO's
//! `Core::slots`, a boxed slice whose length never changes after
//! `Core::new`: the free stack starts as `0..len`, and an index is pushed
//! only through a checked access to its slot or right after it was taken
//! from one of these lists (nothing assigns `Core::slots` after `new`).
//! The lists are used with no other slots. The unsafe functions below, and
//! the engine's hot path (take a slot, queue, pop, complete, wake), index
//! the slots unchecked on that ground: one index travels through several
//! steps with a syscall or a callback between them, after which the
//! compiler checked it again (profiled: ~54 instructions per round trip).

use super::Backend;
use super::op::Slot;
use crate::list::NONE;

/// The link of slot `index`: what follows it in whichever list holds it.
///
/// # Safety
///
/// `index` is below `slots.len()` (see "In range").
#[inline(always)]
unsafe fn link_of<B: Backend>(slots: &[Slot<B>], index: u32) -> u32 {
    debug_assert!((index as usize) < slots.len());
    // SAFETY: in range, by the caller's contract.
    unsafe { slots.get_unchecked(index as usize) }.next
}

/// `tail` means something only while `head` is not `NONE`: emptiness is
/// told by `head` alone, so a pop that empties the FIFO leaves `tail`
/// stale instead of resetting it (profiled: ~3 instructions a pop).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fifo {
    head: u32,
    tail: u32,
}

impl Fifo {
    pub(crate) const fn new() -> Fifo {
        Fifo { head: NONE, tail: NONE }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NONE
    }

    /// Queues `index`, which must not be queued already.
    #[inline]
    pub(crate) fn push_back<B: Backend>(&mut self, slots: &mut [Slot<B>], index: u32) {
        slots[index as usize].next = NONE;
        if self.head == NONE {
            self.head = index;
        } else {
            slots[self.tail as usize].next = index;
        }
        self.tail = index;
    }

    /// [`Fifo::push_back`] without bounds checks.
    ///
    /// # Safety
    ///
    /// `index`, and every index queued here, is below `slots.len()`.
    #[inline(always)]
    pub(crate) unsafe fn push_back_in_range<B: Backend>(
        &mut self,
        slots: &mut [Slot<B>],
        index: u32,
    ) {
        debug_assert!((index as usize) < slots.len());
        // SAFETY: in range, by the caller's contract.
        unsafe { slots.get_unchecked_mut(index as usize) }.next = NONE;
        if self.head == NONE {
            self.head = index;
        } else {
            debug_assert!((self.tail as usize) < slots.len());
            // SAFETY: the tail is queued, so in range (the contract).
            unsafe { slots.get_unchecked_mut(self.tail as usize) }.next = index;
        }
        self.tail = index;
    }

    /// # Safety
    ///
    /// Every index queued here is below `slots.len()` (see "In range").
    #[inline]
    pub(crate) unsafe fn pop_front<B: Backend>(&mut self, slots: &[Slot<B>]) -> Option<u32> {
        let index = self.head;
        if index == NONE {
            return None;
        }
        // SAFETY: the head is queued, so in range (the contract).
        self.head = unsafe { link_of(slots, index) };
        Some(index)
    }

    /// Unlinks `index`, which must be queued. O(queued).
    pub(crate) fn remove<B: Backend>(&mut self, slots: &mut [Slot<B>], index: u32) {
        let next = slots[index as usize].next;
        if self.head == index {
            self.head = next;
            return;
        }
        let mut at = self.head;
        while at != NONE {
            if slots[at as usize].next == index {
                slots[at as usize].next = next;
                if next == NONE {
                    self.tail = at;
                }
                return;
            }
            at = slots[at as usize].next;
        }
        debug_assert!(false, "removed an index that was not queued");
    }

    /// Moves every index of `other` to the back of this FIFO, in order.
    #[inline]
    pub(crate) fn append<B: Backend>(&mut self, slots: &mut [Slot<B>], other: &mut Fifo) {
        if other.head == NONE {
            return;
        }
        if self.head == NONE {
            self.head = other.head;
        } else {
            slots[self.tail as usize].next = other.head;
        }
        self.tail = other.tail;
        *other = Fifo::new();
    }

    /// The first index, if any.
    #[inline]
    pub(crate) fn front(&self) -> Option<u32> {
        (self.head != NONE).then_some(self.head)
    }

    /// The index queued after `index`, which must be queued.
    ///
    /// # Safety
    ///
    /// `index` is below `slots.len()` (it is queued: see "In range").
    #[inline]
    pub(crate) unsafe fn next<B: Backend>(slots: &[Slot<B>], index: u32) -> Option<u32> {
        // SAFETY: in range, by the caller's contract.
        let next = unsafe { link_of(slots, index) };
        (next != NONE).then_some(next)
    }
}

/// The free slots, last freed first taken (the order a `Vec` stack gave),
/// linked through the free slots' `next`: taking a slot reads the slot the
/// submit then fills, freeing one writes the slot the completion just
/// emptied.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FreeStack {
    head: u32,
    len: usize,
}

impl FreeStack {
    /// Every slot free, slot 0 on top.
    pub(crate) fn full<B: Backend>(slots: &mut [Slot<B>]) -> FreeStack {
        let mut stack = FreeStack { head: NONE, len: 0 };
        for index in (0..slots.len() as u32).rev() {
            stack.push(slots, index);
        }
        stack
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn push<B: Backend>(&mut self, slots: &mut [Slot<B>], index: u32) {
        // SAFETY: `slots[index]` is slot `index`, just bounds-checked.
        unsafe { self.push_slot(&mut slots[index as usize], index) }
    }

    /// `push` for a caller that holds the slot already.
    ///
    /// # Safety
    ///
    /// `slot` is slot `index` of the slots this stack is used with.
    #[inline(always)]
    pub(crate) unsafe fn push_slot<B: Backend>(&mut self, slot: &mut Slot<B>, index: u32) {
        slot.next = self.head;
        self.head = index;
        self.len += 1;
    }

    /// # Safety
    ///
    /// Every index on the stack is below `slots.len()` (see "In range").
    #[inline]
    pub(crate) unsafe fn pop<B: Backend>(&mut self, slots: &[Slot<B>]) -> Option<u32> {
        let index = self.head;
        if index == NONE {
            return None;
        }
        // SAFETY: on the stack, so in range (the contract).
        self.head = unsafe { link_of(slots, index) };
        self.len -= 1;
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimIO;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    type TestSlots = [Slot<SimIO<()>>];

    // The test's FIFO is only used with its own 16 slots, and every index
    // it pushes is below 16: what the unsafe functions ask.
    fn pop(fifo: &mut Fifo, slots: &TestSlots) -> Option<u32> {
        // SAFETY: see above.
        unsafe { fifo.pop_front(slots) }
    }

    fn next(slots: &TestSlots, index: u32) -> Option<u32> {
        // SAFETY: see above.
        unsafe { Fifo::next(slots, index) }
    }

    fn push_unchecked(fifo: &mut Fifo, slots: &mut TestSlots, index: u32) {
        assert!((index as usize) < slots.len());
        // SAFETY: see above; just checked.
        unsafe { fifo.push_back_in_range(slots, index) }
    }

    proptest! {
        /// The FIFO behaves as a VecDeque under push (checked or not), pop
        /// and removal.
        #[test]
        fn matches_a_deque(commands in proptest::collection::vec((0u8..4, 0u32..16), 0..200)) {
            let mut slots: Vec<Slot<SimIO<()>>> = (0..16).map(|_| Slot::new()).collect();
            let mut fifo = Fifo::new();
            let mut model: VecDeque<u32> = VecDeque::new();
            for (command, index) in commands {
                match command {
                    0 if !model.contains(&index) => {
                        fifo.push_back(&mut slots, index);
                        model.push_back(index);
                    }
                    1 => prop_assert_eq!(pop(&mut fifo, &slots), model.pop_front()),
                    2 if model.contains(&index) => {
                        fifo.remove(&mut slots, index);
                        model.retain(|&i| i != index);
                    }
                    3 if !model.contains(&index) => {
                        push_unchecked(&mut fifo, &mut slots, index);
                        model.push_back(index);
                    }
                    _ => {}
                }
                prop_assert_eq!(fifo.is_empty(), model.is_empty());
                let mut walked = Vec::new();
                let mut at = fifo.front();
                while let Some(index) = at {
                    walked.push(index);
                    at = next(&slots, index);
                }
                prop_assert_eq!(&walked, &model.iter().copied().collect::<Vec<_>>());
            }
            let mut drained = Vec::new();
            while let Some(index) = pop(&mut fifo, &slots) {
                drained.push(index);
            }
            prop_assert_eq!(drained, model.into_iter().collect::<Vec<_>>());
        }
    }
}
