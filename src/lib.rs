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
//! ```
//! use twinio::{FaultConfig, Io, IO, SimIO, TimeoutDone};
//!
//! #[derive(Default)]
//! struct Ctx { fired: Vec<u64> }
//!
//! fn on_timeout<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: TimeoutDone) {
//!     ctx.fired.push(done.tag);
//!     if done.tag < 3 {
//!         io.timeout(1_000_000, done.tag + 1, on_timeout).expect("a slot is free");
//!     }
//! }
//!
//! /// Three timeouts, each armed by the previous one's callback.
//! fn chain<I: Io<Context = Ctx>>(io: &mut I) -> Vec<u64> {
//!     let mut ctx = Ctx::default();
//!     io.timeout(1_000_000, 1, on_timeout).expect("a slot is free");
//!     io.run_until_done(&mut ctx).expect("the loop runs");
//!     ctx.fired
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut real: IO<Ctx> = IO::init(64)?;
//! let mut twin: SimIO<Ctx> = SimIO::new(42, 64, FaultConfig::none());
//! assert_eq!(chain(&mut real), [1, 2, 3]);
//! assert_eq!(chain(&mut twin), [1, 2, 3]); // in virtual time: no waiting
//! # Ok(()) }
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(unix))]
compile_error!("twinio supports Unix targets only (kqueue or epoll)");

mod buffer;
mod clock;
mod done;
mod engine;
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
    AcceptError, AddressError, CancelError, CloseError, ConnectError, Errno, EventError,
    FsyncError, HandOffError, ListenError, OpenError, ReadError, RecvError, Rejected, RunError,
    SendError, ShutdownError, SocketError, SubmitError, TimeoutError, WriteError,
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

pub use real::{
    DEFAULT_MAX_WAIT_NS, EventTrigger, FileDriver, IO, InitError, IoOptions, UNBOUNDED_WAIT,
};
pub use sim::clock::ClockFaults;
pub use sim::config::{CrashPolicy, FaultConfig, Latency, StorageFaults, Unwritten};
pub use sim::events::{EventLog, OpKind, SimEvent, SimEventKind, StorageFault, StorageFaultSet};
pub use sim::network::NetworkFaults;
pub use sim::node::NodeId;
pub use sim::prng::{Prng, Ratio};
pub use sim::{NodeError, SimIO};
