//! The ring itself: setup, pushing file operations, submitting them,
//! reaping. See the module docs (`mod.rs`) for the contract.
//!
//! This file depends on nothing else of the crate (only `std`, `libc`, the
//! `io-uring` crate and `nix`'s `Errno`), so the benchmark and the
//! allocation test can compile it on its own.

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use io_uring::squeue::Entry;
use io_uring::types::{CancelBuilder, Fd, FsyncFlags, SubmitArgs, Timespec};
use io_uring::{IoUring, opcode};
use nix::errno::Errno;

/// The environment variable that makes [`Ring::new`] fail with `EPERM`, as a
/// seccomp profile or `kernel.io_uring_disabled=2` would, so tests and CI can
/// force the fallback. Any value other than empty or `0` refuses.
pub const REFUSE_ENV: &str = "TWINIO_IO_URING_REFUSE";

/// When the kernel runs the task work that posts a completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskRun {
    /// The kernel's default: an inter-processor interrupt makes the task run
    /// it at once, whatever the task is doing.
    Interrupt,
    /// `IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG`: no interrupt; it runs at
    /// the task's next transition into the kernel (any syscall, a wake-up
    /// from a blocking wait such as `epoll_wait`).
    Cooperative,
    /// `IORING_SETUP_DEFER_TASKRUN | TASKRUN_FLAG` (Linux 6.1): it runs only
    /// inside an `io_uring_enter` with `GETEVENTS`. [`Ring::reap`] sees the
    /// pending work (the `TASKRUN` flag) and enters once to post it. But a
    /// thread blocked in `epoll_wait` is *not* woken (measured on 6.18): fit
    /// only for a loop that blocks in [`Ring::submit_and_wait`].
    Deferred,
}

/// How to build a [`Ring`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingOptions {
    /// Submission queue entries (the kernel rounds up to a power of two).
    /// The completion queue has twice as many, and that many operations at
    /// most may be in flight.
    pub entries: u32,
    /// See [`TaskRun`]. Every mode but `Interrupt` also sets `SUBMIT_ALL`
    /// (one bad entry does not stop a batch).
    pub task_run: TaskRun,
    /// `SINGLE_ISSUER`: only the thread that created the ring may submit
    /// (the kernel skips its submission locking; any other thread's
    /// submit fails with `EEXIST`). `Deferred` sets it whatever this says
    /// (the kernel requires it). The engine's ring leaves it off, so an
    /// `IO` stays movable to another thread.
    pub single_issuer: bool,
    /// Fail with `EPERM` without asking the kernel.
    pub refuse: bool,
}

impl RingOptions {
    /// The defaults: cooperative task run (see the module docs for why),
    /// refusal taken from [`REFUSE_ENV`].
    pub fn new(entries: u32) -> RingOptions {
        RingOptions {
            entries,
            task_run: TaskRun::Cooperative,
            single_issuer: true,
            refuse: refusal_requested(std::env::var_os(REFUSE_ENV).as_deref()),
        }
    }
}

/// Whether a value of [`REFUSE_ENV`] asks for refusal.
pub fn refusal_requested(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// The submission queue is full, or as many operations are in flight as the
/// completion queue holds: submit and reap, then push again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// An io_uring for file reads, writes and fsyncs, driven by one thread.
///
/// Not `Send`: with `SINGLE_ISSUER` the kernel accepts submissions (and,
/// deferred, waits) only from the thread that created the ring.
pub struct Ring {
    ring: IoUring,
    /// Operations pushed (submitted or not) whose completion is not reaped.
    /// Never above `capacity`, so the completion queue cannot overflow and
    /// every operation yields exactly one completion the engine sees.
    in_flight: u32,
    capacity: u32,
    _not_send: PhantomData<*const ()>,
}

impl Ring {
    /// A ring with the default options ([`RingOptions::new`]).
    pub fn new(entries: u32) -> Result<Ring, Errno> {
        Ring::with_options(RingOptions::new(entries))
    }

    /// A ring built as `options` say. Fails with the kernel's errno:
    /// `ENOSYS` (no io_uring), `EPERM` (seccomp, `io_uring_disabled`, or
    /// `options.refuse`), `EACCES`, `EINVAL` (bad `entries`), `ENOMEM`;
    /// and with `ENOSYS` on a kernel older than 5.11 (no `EXT_ARG`, which
    /// the bounded wait needs).
    pub fn with_options(options: RingOptions) -> Result<Ring, Errno> {
        if options.refuse {
            return Err(Errno::EPERM);
        }
        let ring = match build(options.entries, options.task_run, options.single_issuer) {
            // A kernel older than a flag says EINVAL: retry with none.
            Err(Errno::EINVAL) if options.task_run != TaskRun::Interrupt => {
                build(options.entries, TaskRun::Interrupt, false)?
            }
            other => other?,
        };
        if !ring.params().is_feature_ext_arg() {
            return Err(Errno::ENOSYS);
        }
        let capacity = ring.params().cq_entries();
        Ok(Ring { ring, in_flight: 0, capacity, _not_send: PhantomData })
    }

    /// The ring's descriptor. Registered with epoll (level- or
    /// edge-triggered, `EPOLLIN`), it polls readable while completions wait
    /// to be reaped, so one `epoll_wait` serves sockets and files.
    pub fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// Operations pushed whose completion has not been reaped yet.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The most operations in flight at once (the completion queue's size).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Entries pushed but not yet handed to the kernel.
    pub fn queued(&mut self) -> usize {
        self.ring.submission().len()
    }

    /// Queues a read of `len` bytes at `offset` of `fd` into `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for writes, and stay allocated and
    /// unused by anything else (not read, written, moved or freed) until
    /// this operation's completion has been reaped or the ring dropped.
    pub unsafe fn push_read(
        &mut self,
        fd: RawFd,
        ptr: *mut u8,
        len: u32,
        offset: u64,
        user_data: u64,
    ) -> Result<(), Full> {
        let entry = opcode::Read::new(Fd(fd), ptr, len).offset(offset).build();
        self.push(entry.user_data(user_data))
    }

    /// Queues a write of `len` bytes from `ptr` at `offset` of `fd`.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for reads, and stay allocated and
    /// unwritten until this operation's completion has been reaped or the
    /// ring dropped.
    pub unsafe fn push_write(
        &mut self,
        fd: RawFd,
        ptr: *const u8,
        len: u32,
        offset: u64,
        user_data: u64,
    ) -> Result<(), Full> {
        let entry = opcode::Write::new(Fd(fd), ptr, len).offset(offset).build();
        self.push(entry.user_data(user_data))
    }

    /// Queues an `fsync` (`fdatasync` if `datasync`) of `fd`. What it
    /// covers is stated in the module docs: writes in flight are not
    /// ordered before it.
    pub fn push_fsync(&mut self, fd: RawFd, datasync: bool, user_data: u64) -> Result<(), Full> {
        let flags = if datasync { FsyncFlags::DATASYNC } else { FsyncFlags::empty() };
        let entry = opcode::Fsync::new(Fd(fd)).flags(flags).build();
        self.push(entry.user_data(user_data))
    }

    /// Queues a cancel of the operation pushed with `target` as its
    /// `user_data`. The target still completes exactly once: `ECANCELED`,
    /// or its own result if it was past the point of cancelling. The cancel
    /// completes too, under `user_data`: `Ok(0)` (found and canceled: an
    /// op waiting for readiness, such as a pipe read, or queued in a kernel
    /// worker), `Err(ENOENT)` (not found: already completed, or a file
    /// read or write already issued to the device, which cannot be
    /// withdrawn and completes with its result — measured: a direct read
    /// canceled in its own batch), `Err(EALREADY)` (running in a worker; it
    /// may still complete normally).
    pub fn push_cancel(&mut self, target: u64, user_data: u64) -> Result<(), Full> {
        let entry = opcode::AsyncCancel::new(target).build();
        self.push(entry.user_data(user_data))
    }

    fn push(&mut self, entry: Entry) -> Result<(), Full> {
        if self.in_flight >= self.capacity {
            return Err(Full);
        }
        // SAFETY: `push` copies the 64-byte entry into the mapped SQ; what
        // the kernel will later dereference through it (the buffer of a
        // read or write) is covered by the `# Safety` contract of the
        // `push_*` method that built it; fsync and cancel carry no pointer.
        unsafe { self.ring.submission().push(&entry) }.map_err(|_| Full)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Hands every queued entry to the kernel in one `io_uring_enter`,
    /// without waiting. Returns how many were submitted. No syscall when
    /// nothing is queued.
    pub fn submit(&mut self) -> Result<usize, Errno> {
        if self.queued() == 0 {
            return Ok(0);
        }
        retry_eintr(|| self.ring.submit().map_err(to_errno))
    }

    /// [`Ring::submit`]s once `chunk` or more entries are queued; returns
    /// how many it submitted (0 with fewer queued: no syscall). Called
    /// after each push, it hands a batch over `chunk` entries at a time.
    pub fn submit_chunk(&mut self, chunk: usize) -> Result<usize, Errno> {
        if self.queued() < chunk {
            return Ok(0);
        }
        self.submit()
    }

    /// Hands every queued entry to the kernel and waits, in the same
    /// `io_uring_enter`, until at least `min_complete` completions are
    /// ready or `timeout` passes (`None`: no bound). A timeout or a signal
    /// is not an error: reap what is there. `min_complete` is capped at the
    /// operations in flight, so it never waits for completions that cannot
    /// come.
    pub fn submit_and_wait(
        &mut self,
        min_complete: u32,
        timeout: Option<Duration>,
    ) -> Result<usize, Errno> {
        let want = min_complete.min(self.in_flight) as usize;
        let submitter = self.ring.submitter();
        let result = match timeout {
            None => submitter.submit_and_wait(want),
            Some(timeout) => {
                let ts = Timespec::from(timeout);
                submitter.submit_with_args(want, &SubmitArgs::new().timespec(&ts))
            }
        };
        match result.map_err(to_errno) {
            Err(Errno::ETIME | Errno::EINTR) => Ok(0),
            other => other,
        }
    }

    /// Calls `f(user_data, result)` for every completion ready, in the order
    /// the kernel posted them; returns how many. A result is the byte count
    /// of a read or write (`0` for fsync and a successful cancel) or the
    /// operation's errno. With [`TaskRun::Deferred`], first enters the
    /// kernel (once) if work is pending, to post it.
    pub fn reap(&mut self, mut f: impl FnMut(u64, Result<usize, Errno>)) -> usize {
        if self.ring.submission().taskrun() {
            // A failure here (EINTR, say) only delays the work to the next
            // pass: the fd stays readable while it is pending.
            // SAFETY: no submissions (`to_submit` 0) and no argument
            // pointer; `GETEVENTS` with `min_complete` 0 only runs pending
            // task work, which posts completions into the mapped CQ.
            let _ = unsafe {
                self.ring.submitter().enter::<libc::sigset_t>(
                    0,
                    0,
                    io_uring::EnterFlags::GETEVENTS.bits(),
                    None,
                )
            };
        }
        let mut reaped = 0;
        for cqe in self.ring.completion() {
            let res = cqe.result();
            let result = if res >= 0 { Ok(res as usize) } else { Err(Errno::from_raw(-res)) };
            reaped += 1;
            self.in_flight -= 1;
            f(cqe.user_data(), result);
        }
        reaped
    }
}

impl Drop for Ring {
    /// Closing a ring does not wait for its operations: the kernel could
    /// still write into a read's buffer after the caller freed it. So a drop
    /// with operations in flight submits what is queued, cancels everything
    /// and waits for every completion, discarding them.
    fn drop(&mut self) {
        let _ = self.submit();
        if self.in_flight < self.capacity {
            let entry = opcode::AsyncCancel2::new(CancelBuilder::any()).build();
            // SAFETY: a cancel carries no pointer the kernel dereferences.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                self.in_flight += 1;
            }
        }
        while self.in_flight > 0 {
            let waited = self.submit_and_wait(1, None);
            self.reap(|_, _| {});
            if waited.is_err() {
                // Cannot wait (ENOMEM, say): spin on the queue rather than
                // release memory the kernel may still write.
                std::thread::yield_now();
            }
        }
    }
}

fn build(entries: u32, task_run: TaskRun, single_issuer: bool) -> Result<IoUring, Errno> {
    let mut builder = IoUring::builder();
    if single_issuer && task_run != TaskRun::Interrupt {
        builder.setup_single_issuer();
    }
    match task_run {
        TaskRun::Interrupt => {}
        TaskRun::Cooperative => {
            builder.setup_submit_all().setup_coop_taskrun().setup_taskrun_flag();
        }
        TaskRun::Deferred => {
            builder
                .setup_single_issuer()
                .setup_submit_all()
                .setup_defer_taskrun()
                .setup_taskrun_flag();
        }
    }
    builder.build(entries).map_err(to_errno)
}

fn to_errno(error: std::io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

fn retry_eintr(mut f: impl FnMut() -> Result<usize, Errno>) -> Result<usize, Errno> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}
