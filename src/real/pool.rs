//! An optional fixed pool of worker threads for file reads, writes and
//! fsyncs, so a slow disk does not stall the network loop.
//!
//! Zero allocation per operation: the job queue and the result list are
//! reserved at `init` with one place per operation slot, and each slot is in
//! the pool at most once. Workers hand results back through a user event of
//! the loop's poller, which the loop treats like any other readiness.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::poller::TriggerTarget;
use crate::error::Errno;
use crate::options::FsyncMode;
use crate::sys;

/// A pointer into a buffer owned by an operation slot that is parked in the
/// pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BufferPtr(pub *mut u8);

// SAFETY: the pointee is the heap allocation of a `Buffer` held by an
// operation slot whose place is `Pool`. While it is there the loop creates
// no reference to that buffer (cancel refuses, nothing else reaches it), and
// the allocation outlives the job: `Pool::shutdown` joins every worker
// before the slots (and their buffers) are dropped. So exactly one thread
// touches the bytes at a time, and the mutex hand-off orders the accesses.
unsafe impl Send for BufferPtr {}

#[derive(Clone, Copy, Debug)]
pub(crate) enum JobKind {
    Read { ptr: BufferPtr, len: usize, offset: u64 },
    Write { ptr: BufferPtr, len: usize, offset: u64 },
    Fsync { mode: FsyncMode },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub slot: u32,
    pub fd: i32,
    pub kind: JobKind,
}

struct State {
    jobs: VecDeque<Job>,
    done: Vec<(u32, Result<usize, Errno>)>,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    wake: TriggerTarget,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker never panics while holding the lock (it only moves plain
        // values in and out), so a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// The loop's side of the result hand-off, swapped with `State::done`.
    harvested: Vec<(u32, Result<usize, Errno>)>,
}

impl Pool {
    /// Starts `threads` workers for at most `capacity` jobs in flight.
    pub(crate) fn start(threads: u32, capacity: usize, wake: TriggerTarget) -> Result<Pool, Errno> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::with_capacity(capacity),
                done: Vec::with_capacity(capacity),
                shutdown: false,
            }),
            work: Condvar::new(),
            wake,
        });
        let mut pool =
            Pool { shared, workers: Vec::new(), harvested: Vec::with_capacity(capacity) };
        for index in 0..threads {
            let shared = Arc::clone(&pool.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("twinio-file-{index}"))
                .spawn(move || work(&shared));
            match spawned {
                Ok(handle) => pool.workers.push(handle),
                Err(error) => {
                    pool.shutdown();
                    return Err(error.raw_os_error().map_or(Errno::EAGAIN, Errno::from_raw));
                }
            }
        }
        Ok(pool)
    }

    /// The number of worker threads.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Queues a job. Never allocates: the queue has a place for every slot.
    pub(crate) fn submit(&mut self, job: Job) {
        let mut state = self.shared.lock();
        debug_assert!(state.jobs.len() < state.jobs.capacity());
        state.jobs.push_back(job);
        drop(state);
        self.shared.work.notify_one();
    }

    /// Takes every finished job's result, in completion order.
    pub(crate) fn harvest(&mut self) -> impl Iterator<Item = (u32, Result<usize, Errno>)> + '_ {
        self.harvested.clear();
        std::mem::swap(&mut self.shared.lock().done, &mut self.harvested);
        self.harvested.drain(..)
    }

    /// Stops the workers and waits for them: a job mid-syscall finishes, the
    /// queued ones are abandoned. Must run before the buffers are freed.
    pub(crate) fn shutdown(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        for worker in self.workers.drain(..) {
            // A worker that panicked has nothing left to clean up.
            let _ = worker.join();
        }
    }
}

fn work(shared: &Shared) {
    loop {
        let job = {
            let mut state = shared.lock();
            loop {
                if state.shutdown {
                    return;
                }
                if let Some(job) = state.jobs.pop_front() {
                    break job;
                }
                state = shared.work.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = run(job);
        shared.lock().done.push((job.slot, result));
        // The loop only needs one wake-up per batch; a failed trigger means
        // the loop is shutting down.
        let _ = shared.wake.trigger();
    }
}

/// Runs `job` on the calling thread (a worker; or the loop, for the IO's
/// only operation in a pass that may block, or when the io_uring has no
/// room).
pub(crate) fn run(job: Job) -> Result<usize, Errno> {
    match job.kind {
        JobKind::Read { ptr, len, offset } => {
            // SAFETY: `ptr` is valid for `len` bytes and used by this thread
            // alone until the result is handed back (see `BufferPtr`).
            let buffer = unsafe { std::slice::from_raw_parts_mut(ptr.0, len) };
            sys::file::pread(job.fd, buffer, offset)
        }
        JobKind::Write { ptr, len, offset } => {
            // SAFETY: as for reads; the bytes are only read here.
            let buffer = unsafe { std::slice::from_raw_parts(ptr.0, len) };
            sys::file::pwrite(job.fd, buffer, offset)
        }
        JobKind::Fsync { mode } => sys::file::fsync(job.fd, mode).map(|()| 0),
    }
}
