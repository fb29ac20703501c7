//! The `Io` trait: the one interface a storage engine is written against,
//! implemented by the real [`crate::IO`] and the simulated twin, `SimIO`.

use std::net::SocketAddr;
use std::ops::RangeBounds;
use std::path::Path;

use crate::buffer::Buffer;
use crate::done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
use crate::error::{
    AddressError, CancelError, EventError, ListenError, OpenError, Rejected, RunError,
    ShutdownError, SocketError, SubmitError,
};
use crate::fd::{EventId, Fd, OpId};
use crate::options::{AddressFamily, DirectIo, FilePurpose, FsyncMode, Shutdown, SocketOptions};

/// A completion callback: a plain function, given the application context,
/// the IO (to submit more work) and the operation's completion.
pub type Callback<I, D> = fn(&mut <I as Io>::Context, &mut I, D);

/// A single-threaded, callback-driven IO.
///
/// Submits never block and never allocate: they take one of the operation
/// slots reserved at construction, or are refused with
/// [`SubmitError::NoFreeSlot`]. Callbacks run only inside [`Io::flush`],
/// [`Io::tick`] and [`Io::run_for_ns`], exactly once per accepted submit,
/// and may submit more work. A refused submit runs no callback and hands its
/// buffer back in [`Rejected`].
///
/// A component is written once against `Io` and runs on the kernel and in
/// the twin. Here, a durable append: write a sector, then fsync, then
/// record that it is durable.
///
/// ```
/// use std::path::Path;
/// use twinio::*;
///
/// #[derive(Default)]
/// struct Log { durable: bool }
///
/// fn on_write<I: Io<Context = Log>>(_: &mut Log, io: &mut I, done: WriteDone) {
///     assert_eq!(done.result, Ok(4096));
///     let fd = Fd::from_raw(done.tag as i32);
///     io.fsync(fd, FsyncMode::Full, done.tag, on_fsync).expect("a slot is free");
/// }
/// fn on_fsync<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: FsyncDone) {
///     log.durable = done.result.is_ok();
/// }
///
/// fn append<I: Io<Context = Log>>(io: &mut I, dir: &Path) -> Result<bool, Box<dyn std::error::Error>> {
///     let dir = io.open_dir(dir)?;
///     let purpose = FilePurpose::Format;
///     let file = io.open_data_file(dir, Path::new("log"), 1 << 20, purpose, DirectIo::Optional)?;
///     let sector = Buffer::from_slice(&[7; 4096])?;
///     io.write(file, sector, .., 0, file.raw() as u64, on_write)?;
///     let mut log = Log::default();
///     io.run_until_done(&mut log)?;
///     Ok(log.durable)
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("twinio-io-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// assert!(append(&mut IO::init(8)?, &dir)?);
/// assert!(append(&mut SimIO::new(1, 8, FaultConfig::none()), Path::new("/data"))?);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
pub trait Io: Sized {
    /// The application state handed to every callback.
    type Context;

    /// Monotonic nanoseconds: the kernel's clock for the real IO, virtual
    /// time for the twin.
    fn now_ns(&self) -> u64;

    /// Runs one pass of the loop: fires due timeouts, polls readiness (when
    /// `wait` and nothing is ready to run, blocking until something is, but
    /// never past the nearest timeout and never when nothing is in flight)
    /// and runs every ready operation and callback, including work those
    /// callbacks submit. A pass that starts with work ready does not block:
    /// on the real IO, operations it hands to the kernel or a worker
    /// complete in a later pass (the only operation in flight excepted: a
    /// waiting pass runs that one on its thread). A signal does
    /// not end a waiting pass (the real IO waits again for what is left):
    /// to wake the loop from one, handle it on another thread (`sigwait`,
    /// `signalfd`) and trigger a user event from there.
    fn flush(&mut self, ctx: &mut Self::Context, wait: bool) -> Result<(), RunError>;

    /// One pass that never blocks.
    fn tick(&mut self, ctx: &mut Self::Context) -> Result<(), RunError> {
        self.flush(ctx, false)
    }

    /// Runs the loop until `ns` nanoseconds have passed on [`Io::now_ns`].
    fn run_for_ns(&mut self, ctx: &mut Self::Context, ns: u64) -> Result<(), RunError>;

    /// Runs waiting passes until at least one callback has run. Returns at
    /// once if nothing is in flight (nothing could ever run).
    fn run_once(&mut self, ctx: &mut Self::Context) -> Result<(), RunError>;

    /// Runs waiting passes until nothing is in flight (or [`Io::stop`]).
    ///
    /// The twin returns [`RunError::Stalled`] when nothing in flight can
    /// ever complete (a `recv` nobody will answer, say); the kernel cannot
    /// know that, so bound a real run with [`Io::run_until_done_within`].
    fn run_until_done(&mut self, ctx: &mut Self::Context) -> Result<(), RunError>;

    /// [`Io::run_once`], bounded: [`RunError::DeadlinePassed`] if no
    /// callback has run after `ns` nanoseconds on [`Io::now_ns`].
    fn run_once_within(&mut self, ctx: &mut Self::Context, ns: u64) -> Result<(), RunError>;

    /// [`Io::run_until_done`], bounded: [`RunError::DeadlinePassed`] if
    /// operations are still in flight after `ns` nanoseconds on
    /// [`Io::now_ns`].
    fn run_until_done_within(&mut self, ctx: &mut Self::Context, ns: u64) -> Result<(), RunError>;

    /// Asks the running (or next) `run_for_ns`, `run_once` or
    /// `run_until_done` to return after its current pass. Callable from a
    /// callback. A plain `flush` or `tick` ignores it.
    fn stop(&mut self);

    /// Operations accepted whose callback has not run yet.
    fn in_flight(&self) -> usize;

    /// Withdraws an operation that has not completed: its callback runs
    /// once, in the next pass, with its error type's `Canceled`. An
    /// operation whose callback ran (or is running) is
    /// [`CancelError::NotRunning`]; a second cancel is
    /// [`CancelError::AlreadyCanceled`].
    fn cancel(&mut self, target: OpId) -> Result<(), CancelError>;

    /// Cancels every operation in flight that can be withdrawn; returns how
    /// many were. Run the loop afterwards to deliver their callbacks.
    fn cancel_all(&mut self) -> usize;

    /// Moves a pending timeout to fire `ns` nanoseconds from now, without a
    /// callback for the old deadline.
    fn reset_timeout(&mut self, target: OpId, ns: u64) -> Result<(), CancelError>;

    /// Accepts one connection on a listening socket.
    fn accept(
        &mut self,
        listener: Fd,
        tag: u64,
        callback: Callback<Self, AcceptDone>,
    ) -> Result<OpId, SubmitError>;

    /// Connects a socket from [`Io::open_socket`] to `address`.
    fn connect(
        &mut self,
        socket: Fd,
        address: SocketAddr,
        tag: u64,
        callback: Callback<Self, ConnectDone>,
    ) -> Result<OpId, SubmitError>;

    /// Receives into `buffer[range]`; `Ok(0)` is end of stream.
    fn recv(
        &mut self,
        socket: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        tag: u64,
        callback: Callback<Self, RecvDone>,
    ) -> Result<OpId, Rejected<Buffer>>;

    /// Sends `buffer[range]`; may send fewer bytes (the count is in the result).
    fn send(
        &mut self,
        socket: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        tag: u64,
        callback: Callback<Self, SendDone>,
    ) -> Result<OpId, Rejected<Buffer>>;

    /// Reads `buffer[range]` from the file at `offset`; `Ok(0)` is end of file.
    fn read(
        &mut self,
        fd: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        offset: u64,
        tag: u64,
        callback: Callback<Self, ReadDone>,
    ) -> Result<OpId, Rejected<Buffer>>;

    /// Writes `buffer[range]` to the file at `offset`.
    fn write(
        &mut self,
        fd: Fd,
        buffer: Buffer,
        range: impl RangeBounds<usize>,
        offset: u64,
        tag: u64,
        callback: Callback<Self, WriteDone>,
    ) -> Result<OpId, Rejected<Buffer>>;

    /// Makes the file's written data durable as `mode` promises.
    fn fsync(
        &mut self,
        fd: Fd,
        mode: FsyncMode,
        tag: u64,
        callback: Callback<Self, FsyncDone>,
    ) -> Result<OpId, SubmitError>;

    /// Closes a descriptor. Network operations still pending on it complete
    /// first, with `Canceled`.
    fn close(
        &mut self,
        fd: Fd,
        tag: u64,
        callback: Callback<Self, CloseDone>,
    ) -> Result<OpId, SubmitError>;

    /// Fires after `ns` nanoseconds. Timeouts fire in deadline order, ties in
    /// submission order. A zero timeout is a yield: it fires in the next
    /// pass of the loop, after the IO that is ready now.
    fn timeout(
        &mut self,
        ns: u64,
        tag: u64,
        callback: Callback<Self, TimeoutDone>,
    ) -> Result<OpId, SubmitError>;

    /// Opens a non-blocking, close-on-exec stream socket that never raises
    /// `SIGPIPE`.
    fn open_socket(
        &mut self,
        family: AddressFamily,
        options: SocketOptions,
    ) -> Result<Fd, SocketError>;

    /// Binds (with `SO_REUSEADDR`) and listens; returns the bound address,
    /// with port 0 resolved to the port the system chose.
    fn listen(
        &mut self,
        socket: Fd,
        address: SocketAddr,
        backlog: u32,
    ) -> Result<SocketAddr, ListenError>;

    /// Shuts down one or both halves of a connection.
    fn shutdown(&mut self, socket: Fd, how: Shutdown) -> Result<(), ShutdownError>;

    /// The address a socket is bound to: after `listen`, or once a
    /// `connect` has started. A socket not bound yet answers the
    /// unspecified address of its family, port 0.
    fn local_address(&self, socket: Fd) -> Result<SocketAddr, AddressError>;

    /// The address of a connected socket's peer.
    fn peer_address(&self, socket: Fd) -> Result<SocketAddr, AddressError>;

    /// Opens a directory to create and open data files in, creating it
    /// and any missing parent first (directories are implicit, as in the
    /// twin). Paths of `PATH_MAX` bytes or more, and names longer than
    /// `NAME_MAX` (255), are [`OpenError::NameTooLong`].
    fn open_dir(&mut self, path: &Path) -> Result<Fd, OpenError>;

    /// Opens (or, for [`FilePurpose::Format`], creates and preallocates) a
    /// data file of `size` bytes under `dir`, locked for exclusive use.
    /// `Format` creates the missing directories on `relative_path`; `Open`
    /// and `Inspect` of a path under a missing one are
    /// [`OpenError::NotFound`].
    /// `relative_path` must stay under `dir`: an absolute path is
    /// [`OpenError::AbsolutePath`], a `..` component or a trailing `/`
    /// [`OpenError::InvalidPath`].
    fn open_data_file(
        &mut self,
        dir: Fd,
        relative_path: &Path,
        size: u64,
        purpose: FilePurpose,
        direct_io: DirectIo,
    ) -> Result<Fd, OpenError>;

    /// Creates a user event.
    fn open_event(&mut self) -> Result<EventId, EventError>;

    /// Arms a one-shot listener on `event`: its callback runs once, after the
    /// next trigger (or at once if a trigger arrived since the last
    /// listener's callback started). Triggers that arrive after a listener
    /// fired but before its callback starts coalesce into that completion.
    /// At most one listener per event.
    fn event_listen(
        &mut self,
        event: EventId,
        tag: u64,
        callback: Callback<Self, EventDone>,
    ) -> Result<OpId, SubmitError>;

    /// Triggers `event` from the loop thread. Triggers coalesce.
    fn event_trigger(&mut self, event: EventId) -> Result<(), EventError>;

    /// Closes `event`. An armed listener completes with
    /// [`EventError::Canceled`].
    fn close_event(&mut self, event: EventId) -> Result<(), EventError>;
}
