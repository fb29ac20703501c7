//! Per-descriptor state of the real IO: readiness (registration is
//! edge-triggered, so the engine remembers what the kernel reported), the
//! operations parked on each descriptor, and which numbers the IO keeps for
//! itself.

use super::IO;
use crate::engine::Fifo;
use crate::engine::op::{Place, Slot};
use crate::error::Errno;
use crate::options::SocketOptions;

/// Where an operation of the real IO waits outside the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Parked on a descriptor until it is readable.
    Read(i32),
    /// Parked on a descriptor until it is writable.
    Write(i32),
    /// Running (or queued) on a file worker thread, on this descriptor.
    Pool(i32),
    /// In the io_uring (pushed, submitted or running), on this descriptor.
    #[cfg(target_os = "linux")]
    Ring(i32),
    /// A close waiting for the file driver's operations on its descriptor
    /// (worker threads or the io_uring).
    DriverClose(i32),
}

impl Wait {
    /// The descriptor the operation waits on.
    pub(crate) fn fd(self) -> i32 {
        match self {
            Wait::Read(fd) | Wait::Write(fd) | Wait::Pool(fd) | Wait::DriverClose(fd) => fd,
            #[cfg(target_os = "linux")]
            Wait::Ring(fd) => fd,
        }
    }
}

/// Which readiness an operation waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct FdState {
    pub registered: bool,
    pub readable: bool,
    pub writable: bool,
    /// The poller reported that reads (sends) never block again and no
    /// edge will come: a short read (send) must not mark the descriptor not
    /// ready then, or a reset that arrived with the data would be missed.
    pub read_closed: bool,
    pub write_closed: bool,
    pub readers: Fifo,
    pub writers: Fifo,
    /// Closes waiting for this descriptor's file-driver operations.
    pub closers: Fifo,
    /// Operations on this descriptor handed to the file driver (worker
    /// threads or the io_uring: one IO has one) whose result has not come
    /// back. A close waits for them: until then the kernel or a worker may
    /// still use the number.
    pub in_driver: u32,
    /// The IO's own descriptor (poller, an eventfd, a wake-up): every
    /// operation refuses it with `EBADF`.
    pub owned: bool,
    /// Options given at `open_socket`; a listener passes them to accepted sockets.
    pub options: SocketOptions,
    /// A data file's fixed size (0: not a data file, no limit).
    pub data_size: u64,
    /// A file or directory (opened by the IO, or adopted and found to be
    /// one): its reads, writes and fsyncs may go to the file driver. Any
    /// other descriptor's run on the loop thread, where `pread` on a socket
    /// fails with `ESPIPE` (an io_uring write would write to the socket).
    pub file: bool,
}

impl FdState {
    /// Links operation `index` on this (registered) descriptor's list for
    /// `direction` and marks it waiting there; the caller counts it in
    /// `pending`.
    #[inline(always)]
    pub(crate) fn link<C>(
        &mut self,
        slots: &mut [Slot<IO<C>>],
        index: u32,
        fd: i32,
        direction: Direction,
    ) {
        let (list, wait) = match direction {
            Direction::Read => (&mut self.readers, Wait::Read(fd)),
            Direction::Write => (&mut self.writers, Wait::Write(fd)),
        };
        list.push_back(slots, index);
        slots[index as usize].place = Place::Waiting(wait);
    }

    /// Not ready in `direction` until the poller says so, unless that
    /// side is closed (a closed side stays ready: the next call sees the
    /// end or the error at once).
    #[inline(always)]
    pub(crate) fn mark_not_ready(&mut self, direction: Direction) {
        match direction {
            Direction::Read => self.readable = self.read_closed,
            Direction::Write => self.writable = self.write_closed,
        }
    }

    const FRESH: FdState = FdState {
        registered: false,
        readable: true,
        writable: true,
        read_closed: false,
        write_closed: false,
        readers: Fifo::new(),
        writers: Fifo::new(),
        closers: Fifo::new(),
        in_driver: 0,
        owned: false,
        options: SocketOptions { nodelay: false, recv_buffer_size: None, send_buffer_size: None },
        data_size: 0,
        file: false,
    };
}

/// The table, indexed by descriptor number. It grows once per new highest
/// number the IO itself opened or adopted, never per operation and never
/// to a number a caller made up (that could mean gigabytes).
#[derive(Default)]
pub(crate) struct FdTable {
    states: Vec<FdState>,
}

impl FdTable {
    #[inline]
    pub(crate) fn get(&self, fd: i32) -> Option<&FdState> {
        self.states.get(fd as usize)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, fd: i32) -> Option<&mut FdState> {
        self.states.get_mut(fd as usize)
    }

    fn entry(&mut self, fd: i32) -> &mut FdState {
        let at = fd as usize;
        if at >= self.states.len() {
            self.states.resize(at + 1, FdState::FRESH);
        }
        &mut self.states[at]
    }

    /// Whether `fd` is a file or directory the IO opened or adopted: its
    /// file operations may leave the loop thread.
    #[inline]
    pub(crate) fn is_file(&self, fd: i32) -> bool {
        self.get(fd).is_some_and(|state| state.file)
    }

    /// `fd`, just opened or adopted, is a file or directory.
    pub(crate) fn mark_file(&mut self, fd: i32) {
        self.entry(fd).file = true;
    }

    /// Forgets what is known of a number the kernel just handed out: any
    /// earlier descriptor with this number is gone.
    pub(crate) fn adopt(&mut self, fd: i32, options: SocketOptions) {
        let state = self.entry(fd);
        debug_assert!(state.readers.is_empty() && state.writers.is_empty());
        *state = FdState { options, ..FdState::FRESH };
    }

    /// A data file of `size` bytes was just opened as `fd`.
    pub(crate) fn adopt_data_file(&mut self, fd: i32, size: u64) {
        self.adopt(fd, SocketOptions::default());
        let state = self.entry(fd);
        state.data_size = size;
        state.file = true;
    }

    /// The data-file size limit of `fd`, if it is a data file.
    #[inline]
    pub(crate) fn data_size(&self, fd: i32) -> Option<u64> {
        self.get(fd).map(|state| state.data_size).filter(|&size| size > 0)
    }

    /// The descriptor was closed: nothing is known of its number.
    pub(crate) fn reset(&mut self, fd: i32) {
        if let Some(state) = self.get_mut(fd) {
            *state = FdState::FRESH;
        }
    }

    /// Marks (or unmarks) one of the IO's own descriptors.
    pub(crate) fn set_owned(&mut self, fd: i32, owned: bool) {
        let state = self.entry(fd);
        *state = FdState { owned, ..FdState::FRESH };
    }

    /// One of the IO's own descriptors: no operation may touch it.
    #[inline]
    pub(crate) fn owned(&self, fd: i32) -> bool {
        self.get(fd).is_some_and(|state| state.owned)
    }

    #[inline]
    pub(crate) fn known_not_ready(&self, fd: i32, direction: Direction) -> bool {
        match self.get(fd) {
            Some(state) if state.registered => match direction {
                Direction::Read => !state.readable,
                Direction::Write => !state.writable,
            },
            _ => false,
        }
    }

    #[inline]
    pub(crate) fn mark_not_ready(&mut self, fd: i32, direction: Direction) {
        if let Some(state) = self.get_mut(fd) {
            state.mark_not_ready(direction);
        }
    }

    /// Some operation is parked on `fd`, in either direction.
    pub(crate) fn has_waiters(&self, fd: i32) -> bool {
        self.get(fd).is_some_and(|s| !s.readers.is_empty() || !s.writers.is_empty())
    }
}

impl<C> IO<C> {
    /// Parks operation `index` on `fd` until it is ready in `direction`,
    /// registering the descriptor on first use. On a registration error the
    /// operation must complete with that errno instead.
    #[inline(always)]
    pub(crate) fn park(&mut self, index: u32, fd: i32, direction: Direction) -> Result<(), Errno> {
        let state = match self.fds.get_mut(fd) {
            Some(state) if state.registered => state,
            // Once per descriptor: kept out of line, off the per-op path.
            _ => return self.register_and_park(index, fd, direction),
        };
        state.link(&mut self.core.slots, index, fd, direction);
        self.pending += 1;
        Ok(())
    }

    #[cold]
    fn register_and_park(
        &mut self,
        index: u32,
        fd: i32,
        direction: Direction,
    ) -> Result<(), Errno> {
        if !self.fds.entry(fd).registered {
            self.poller.register(fd)?;
            self.fds.entry(fd).registered = true;
        }
        self.park(index, fd, direction)
    }

    /// Moves every operation parked on `fd` in `direction` to `completed`,
    /// with `outcome` as their result if given.
    pub(crate) fn wake(&mut self, fd: i32, direction: Direction, outcome: Option<Errno>) {
        let Some(state) = self.fds.get_mut(fd) else { return };
        let list = match direction {
            Direction::Read => &mut state.readers,
            Direction::Write => &mut state.writers,
        };
        self.pending -= wake_list(list, &mut self.core, outcome);
    }

    /// Unlinks operation `index` from descriptor `fd`'s list for `wait`.
    pub(crate) fn unpark(&mut self, index: u32, wait: Wait) {
        let fd = wait.fd();
        let state = self.fds.get_mut(fd).expect("a parked op's descriptor has an entry");
        let list = match wait {
            Wait::Read(_) => &mut state.readers,
            Wait::Write(_) => &mut state.writers,
            Wait::DriverClose(_) => &mut state.closers,
            Wait::Pool(_) => unreachable!("a worker-thread op is not in a list"),
            #[cfg(target_os = "linux")]
            Wait::Ring(_) => unreachable!("an io_uring op is not in a list"),
        };
        list.remove(&mut self.core.slots, index);
        self.pending -= 1;
    }
}

/// Moves every operation in `list` to `completed`, in order, with
/// `outcome` as their result if given; returns how many moved. The list is
/// walked once to mark its operations and then spliced on as a whole.
#[inline]
pub(crate) fn wake_list<C>(
    list: &mut Fifo,
    core: &mut crate::engine::Core<IO<C>>,
    outcome: Option<Errno>,
) -> usize {
    let mut woken = 0;
    let slots = &mut core.slots[..];
    let mut at = list.front();
    while let Some(index) = at {
        woken += 1;
        debug_assert!((index as usize) < slots.len());
        // SAFETY: `index` is queued on a descriptor's list, which is only
        // used with `core.slots` ("In range" in `engine/fifo.rs`).
        let slot = unsafe { slots.get_unchecked_mut(index as usize) };
        slot.place = Place::Completed;
        if let Some(errno) = outcome {
            slot.outcome = Some(Err(errno));
        }
        // SAFETY: as above.
        at = unsafe { Fifo::next(slots, index) };
    }
    core.completed.append(slots, list);
    woken
}

/// File-driver operation `index` (on a worker thread or in the io_uring)
/// finished with `result`: it moves to `completed`, and once its
/// descriptor has no other driver operation left, the closes waiting for
/// them do too. Returns how many closes moved (they were counted pending).
#[inline]
pub(crate) fn driver_done<C>(
    core: &mut crate::engine::Core<IO<C>>,
    fds: &mut FdTable,
    index: u32,
    result: Result<usize, Errno>,
) -> usize {
    let slot = &mut core.slots[index as usize];
    let fd = match slot.place {
        Place::Waiting(Wait::Pool(fd)) => fd,
        #[cfg(target_os = "linux")]
        Place::Waiting(Wait::Ring(fd)) => fd,
        place => unreachable!("a finished file-driver op was {place:?}"),
    };
    // A cancel asked of the kernel marked it `Canceled`; what the kernel
    // answered (canceled, or its own result) is what it gets.
    slot.outcome = Some(result);
    core.make_ready(index);
    let state = fds.get_mut(fd).expect("a file-driver op's descriptor has an entry");
    state.in_driver -= 1;
    if state.in_driver == 0 { wake_list(&mut state.closers, core, None) } else { 0 }
}
