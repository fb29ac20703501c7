//! # twinio
//!
//! A single-threaded, callback-driven IO subsystem for the storage engine of
//! a database, in the style of TigerBeetle's `src/io/darwin.zig`, with a
//! deterministic simulated twin behind the same [`Io`] trait.
//!
//! - [`IO`] is the real thing: kqueue on Apple and the BSDs, epoll on Linux,
//!   one engine over both. Typed submits (accept, connect, recv, send, read
//!   and write at an offset, fsync, close, timeout, user events), typed
//!   errors, owned buffers, no allocation per operation.
//! - [`SimIO`] is its twin: seeded, deterministic, virtual time, simulated
//!   storage and network that inject the faults the kernel could.
//!
//! A component is written once, generic over `I: Io`, and runs on both.
//!
//! ```no_run
//! use twinio::{Buffer, Io, IO, RecvDone};
//!
//! struct Ctx { received: usize }
//!
//! fn on_recv<I: Io<Context = Ctx>>(ctx: &mut Ctx, _io: &mut I, done: RecvDone) {
//!     if let Ok(n) = done.result { ctx.received += n; }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut io: IO<Ctx> = IO::init(64)?;
//! # let socket = twinio::Fd::from_raw(0);
//! io.recv(socket, Buffer::new(4096)?, .., 0, on_recv)?;
//! let mut ctx = Ctx { received: 0 };
//! io.run_for_ns(&mut ctx, 1_000_000)?;
//! # Ok(()) }
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!("twinio supports Unix targets only (kqueue or epoll)");

mod buffer;
mod clock;
mod done;
mod error;
mod fd;
mod io;
mod list;
mod options;
mod real;
mod sim;
mod sys;
mod timer_heap;

pub use buffer::{Buffer, BufferError, SECTOR_SIZE};
pub use clock::{Clock, MonotonicClock};
pub use done::{
    AcceptDone, CloseDone, ConnectDone, EventDone, FsyncDone, ReadDone, RecvDone, SendDone,
    TimeoutDone, WriteDone,
};
pub use error::{
    AcceptError, CancelError, CloseError, ConnectError, Errno, EventError, FsyncError, ListenError,
    OpenError, ReadError, RecvError, Rejected, RunError, SendError, ShutdownError, SocketError,
    SubmitError, TimeoutError, WriteError,
};
pub use fd::{EventId, Fd, OpId};
pub use io::{Callback, Io};
pub use options::{AddressFamily, DirectIo, FilePurpose, FsyncMode, Shutdown, SocketOptions};
/// The README's example runs as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;

/// The simulation guide's example runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../docs/simulation.md")]
pub struct SimulationDoctest;

pub use real::{DEFAULT_MAX_WAIT_NS, EventTrigger, IO, InitError, IoOptions};
pub use sim::config::{CrashPolicy, FaultConfig, Latency, StorageFaults, Unwritten};
pub use sim::network::NetworkFaults;
pub use sim::node::NodeId;
pub use sim::prng::{Prng, Ratio};
pub use sim::{NodeError, SimIO};
