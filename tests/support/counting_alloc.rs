//! A counting global allocator for the zero-allocation tests: each thread
//! counts the allocations it makes (the harness's other threads, and the
//! other tests of a binary running in parallel, never disturb a thread's
//! count). A test binary that includes this file (`#[path]`) gets it as
//! its global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards to `System`, counting `alloc`, `alloc_zeroed` and `realloc`.
pub struct Counting;

thread_local! {
    /// Allocations this thread made.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the slot may be gone while the thread is exiting.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are this allocator's; the counting
// neither allocates nor unwinds (a const thread-local `Cell` of a plain
// integer needs no lazy initialisation or destructor registration).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations this thread has made so far.
#[allow(dead_code, reason = "each binary uses one of the two readings")]
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Allocations this thread makes while `f` runs.
#[allow(dead_code, reason = "each binary uses one of the two readings")]
pub fn allocations_during(f: impl FnOnce()) -> u64 {
    let start = allocations();
    f();
    allocations() - start
}
