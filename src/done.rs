//! Completions: what each operation hands its callback.
//!
//! Every completion carries the caller's `tag` and a typed `result`; those
//! of operations that owned a buffer hand it back whatever the outcome.

use crate::buffer::Buffer;
use crate::error::{
    AcceptError, CloseError, ConnectError, EventError, FsyncError, ReadError, RecvError, SendError,
    TimeoutError, WriteError,
};
use crate::fd::Fd;

/// Completion of `accept`: the connected socket (non-blocking, close-on-exec,
/// no `SIGPIPE`, with the listener's socket options applied).
#[derive(Debug)]
pub struct AcceptDone {
    /// The tag given at submit.
    pub tag: u64,
    /// The accepted socket.
    pub result: Result<Fd, AcceptError>,
}

/// Completion of `connect`.
#[derive(Debug)]
pub struct ConnectDone {
    /// The tag given at submit.
    pub tag: u64,
    /// The socket that connected (or failed to).
    pub socket: Fd,
    /// `Ok(())` once the connection is established.
    pub result: Result<(), ConnectError>,
}

/// Completion of `recv`: `Ok(0)` is end of stream.
#[derive(Debug)]
pub struct RecvDone {
    /// The tag given at submit.
    pub tag: u64,
    /// The buffer, with the received bytes at the start of the submitted range.
    pub buffer: Buffer,
    /// The number of bytes received.
    pub result: Result<usize, RecvError>,
}

/// Completion of `send`: a short count is a partial send; resubmit the rest.
#[derive(Debug)]
pub struct SendDone {
    /// The tag given at submit.
    pub tag: u64,
    /// The buffer, unchanged.
    pub buffer: Buffer,
    /// The number of bytes sent.
    pub result: Result<usize, SendError>,
}

/// Completion of `read` at an offset: `Ok(0)` is end of file; a short count
/// means the file ended inside the range.
#[derive(Debug)]
pub struct ReadDone {
    /// The tag given at submit.
    pub tag: u64,
    /// The buffer, with the bytes read at the start of the submitted range.
    pub buffer: Buffer,
    /// The number of bytes read.
    pub result: Result<usize, ReadError>,
}

/// Completion of `write` at an offset: a short count is a partial write.
#[derive(Debug)]
pub struct WriteDone {
    /// The tag given at submit.
    pub tag: u64,
    /// The buffer, unchanged.
    pub buffer: Buffer,
    /// The number of bytes written.
    pub result: Result<usize, WriteError>,
}

/// Completion of `fsync`.
#[derive(Debug)]
pub struct FsyncDone {
    /// The tag given at submit.
    pub tag: u64,
    /// `Ok(())` once the data is as durable as the mode promises.
    pub result: Result<(), FsyncError>,
}

/// Completion of `close`.
#[derive(Debug)]
pub struct CloseDone {
    /// The tag given at submit.
    pub tag: u64,
    /// `Ok(())` once the descriptor is closed.
    pub result: Result<(), CloseError>,
}

/// Completion of `timeout`.
#[derive(Debug)]
pub struct TimeoutDone {
    /// The tag given at submit.
    pub tag: u64,
    /// `Ok(())` when the deadline passed.
    pub result: Result<(), TimeoutError>,
}

/// Completion of `event_listen`: the event was triggered (one or more
/// triggers since the listener was armed coalesce into one completion).
#[derive(Debug)]
pub struct EventDone {
    /// The tag given at submit.
    pub tag: u64,
    /// `Ok(())` on a trigger; `Err(EventError::Canceled)` if the event was
    /// closed while the listener was armed.
    pub result: Result<(), EventError>,
}
