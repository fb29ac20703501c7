//! An io_uring for file reads, writes and fsyncs (Linux), for the engine's
//! file driver (issue 14). Sockets stay on the readiness engine; the ring's
//! descriptor is registered with epoll, so one blocking `epoll_wait` wakes
//! for either.
//!
//! # How the engine drives it
//!
//! One pass: push every file operation the pass produced
//! ([`Ring::push_read`], [`Ring::push_write`], [`Ring::push_fsync`],
//! [`Ring::push_cancel`]; each fails with [`Full`] instead of blocking),
//! [`Ring::submit`] them a few at a time as they are pushed and the rest at
//! the end of the pass (none if nothing is queued: the chunk and why are
//! in `driver.rs`), wait in `epoll_wait` with the ring's [`Ring::fd`] registered
//! (it polls readable while completions are ready, edge- or
//! level-triggered), and [`Ring::reap`] every completion. With no socket to
//! wait for, [`Ring::submit_and_wait`] submits and waits in one syscall.
//! Nothing allocates after [`Ring::new`].
//!
//! Reap after *every* wait, whatever epoll reported. Measured (Linux 6.18,
//! strace and perf trace of the benchmark, 4 KiB reads and writes at depth
//! 1 and 32): when a completion wakes a thread blocked in `epoll_wait`, the
//! wait returns `EINTR` in 97–100% of the cases, not the ring's event —
//! the completion is posted by task work that runs on the way out of that
//! interrupted syscall. The engine's
//! epoll poller reports it as `EINTR`, and the engine reaps on that path
//! too; a reap that finds nothing costs two loads and no syscall.
//!
//! Every pushed operation yields exactly one completion, canceled ones
//! included (with `ECANCELED`, or their own result when too late to
//! cancel). The ring never holds more operations than its completion queue
//! can take ([`Ring::capacity`]), so no completion is ever dropped or held
//! back in the kernel's overflow list.
//!
//! # The contract the engine keeps (memory)
//!
//! The kernel reads a write's buffer and fills a read's buffer at some time
//! between the push and the completion, possibly from a kernel worker
//! thread. So a buffer handed to `push_read`/`push_write` must stay
//! allocated, at the same address, and untouched by user code until that
//! operation's completion has been reaped (or the ring dropped: dropping a
//! ring with operations in flight cancels them and waits for all of their
//! completions). A `Buffer` moved into an op slot and handed back in the
//! callback keeps that, as long as its bytes are on the heap (moving the
//! handle does not move them). The descriptor should stay open until the
//! completion: closing it after `submit` is memory-safe (the kernel holds
//! its own reference to the file from submission on: with no links or
//! drains, every entry is issued, its file looked up, during the submit),
//! but closing it between push and submit would let a reused number reach
//! another file.
//!
//! # What an fsync covers (durability)
//!
//! io_uring starts entries in submission order but runs them in parallel
//! and completes them in any order: an fsync is *not* ordered after writes
//! submitted before it, not even in the same batch, unless asked. (The
//! io_uring_enter(2) manual: a write followed by an fsync in the SQ "cannot
//! expect the fsync to apply to the write"; "the same is also true for
//! previously issued writes that have not completed prior to the fsync".)
//! An fsync, when it runs, writes back the file's dirty page-cache pages,
//! commits its metadata and flushes the device's volatile cache. Hence, for
//! writes to the same file:
//!
//! - **completed** (completion reaped) before the fsync was submitted:
//!   covered — durable once the fsync completes with success;
//! - **in flight** when the fsync was submitted: not covered. They may or
//!   may not be made durable by it, and a write whose completion arrives
//!   before the fsync's says nothing: the fsync's flush may have run first;
//! - **submitted after** it: not covered (they may happen to be).
//!
//! This is the guarantee the worker pool gives as well (a write and an
//! fsync on two workers race the same way) and the loop thread trivially
//! exceeds, so it can be every driver's: *an fsync covers the writes whose
//! callbacks ran before it was submitted*. Two kernel flags give more,
//! neither used here: `IOSQE_IO_LINK` on a write makes the next entry (the
//! fsync) start only after it completed, and a failed or short write
//! cancels the fsync (`ECANCELED`); `IOSQE_IO_DRAIN` on the fsync makes it
//! start after *every* earlier entry of the ring completed, and holds every
//! later entry until it completes — a barrier for all files at once.
//!
//! # Setup flags
//!
//! Every ring sets `SINGLE_ISSUER` (only the loop thread submits: the kernel
//! skips its submission locking) and `SUBMIT_ALL` (one bad entry does not
//! end a batch, so one `submit` always drains the queue); a kernel too old
//! for them (EINVAL) gets a plain ring. The task-run mode ([`TaskRun`])
//! decides when completions are posted:
//!
//! - `DEFER_TASKRUN` is out for an epoll-driven loop: its completions wait
//!   for an `io_uring_enter` and do not wake `epoll_wait` at all (tested
//!   here). It would fit only a loop that blocks in the ring, with the epoll
//!   descriptor polled *by* the ring — and measured that way, blocking in
//!   the ring, it was not faster than the epoll-driven ring on this machine.
//! - `COOP_TASKRUN` (the default) and the kernel's interrupt-driven default
//!   wake a blocked loop the same way; they differ only while the loop runs
//!   user code, where the default interrupts it with an IPI and cooperative
//!   waits for its next syscall (and [`Ring::reap`] enters once when the
//!   `TASKRUN` flag says work is pending). Their throughput and CPU per op
//!   were within the run-to-run noise of this shared machine. Cooperative
//!   is the default: it spares a busy loop the interrupts. (fio's io_uring
//!   engine sets `COOP_TASKRUN | SINGLE_ISSUER | DEFER_TASKRUN` and blocks
//!   in the ring: the benchmark's "defer, ring wait" side.)
//!
//! # Refusal
//!
//! [`Ring::new`] fails with the kernel's errno, so the engine can fall back
//! on `ENOSYS`, `EPERM` or `EACCES`. Setting [`REFUSE_ENV`] (or
//! [`RingOptions::refuse`]) makes it fail with `EPERM` without asking the
//! kernel, which is how tests and CI force the fallback.

mod driver;
#[allow(
    dead_code,
    reason = "the benchmark and the ring's own tests use the rest of its API (deferred task run)"
)]
mod ring;
#[cfg(test)]
mod tests;

pub(crate) use driver::{FileRing, RING_EVENT_KEY};
pub(crate) use ring::{Full, Ring, RingOptions};
#[cfg(test)]
pub(crate) use ring::{REFUSE_ENV, TaskRun, refusal_requested};
