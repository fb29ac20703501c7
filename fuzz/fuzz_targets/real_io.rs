//! Fuzzer-chosen operation sequences against the real `IO`: a file in a temp
//! dir, a connected stream pair, timers and user events, with the loop
//! driven by `tick`, `run_once`, `run_for_ns` and `stop`, and ops withdrawn
//! by `cancel`, `reset_timeout` and `close_event`. Checked against a model
//! after every step. Invariants: no panic on any input, every accepted op
//! gets exactly one callback, `in_flight` agrees with the model, file reads
//! see exactly what the model holds, stream bytes arrive in order and
//! unaltered, a listener fires only after a trigger and is canceled only
//! when withdrawn, `cancel`/`reset_timeout` answer as the op's state says,
//! no error outside the op's documented set, and no descriptor leaked.
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use twinio::*;

const FILE_SPAN: u64 = 64 * 1024;

#[derive(Arbitrary, Debug)]
enum Action {
    Write { offset: u16, len: u16, fill: u8 },
    Read { offset: u16, len: u16 },
    Fsync { mode: u8 },
    Send { len: u16, fill: u8 },
    Recv { len: u16 },
    PeerWrite { len: u8, fill: u8 },
    PeerRead,
    PeerShutdown,
    Timeout { micros: u8 },
    CancelLast,
    ResetLast { micros: u8 },
    Tick,
    RunOnce,
    RunFor { micros: u8 },
    Stop,
    OpenEvent,
    Listen { event: u8 },
    Trigger { event: u8 },
    CloseEvent { event: u8 },
    BadFd { negative: bool },
    EmptyRange,
}

#[derive(Default)]
struct Model {
    file: Vec<u8>,
    sent: Vec<u8>,
    peer_received: Vec<u8>,
    peer_sent: Vec<u8>,
    received: Vec<u8>,
    callbacks: Vec<u32>,
    /// Per accepted op: a timeout (the only kind `reset_timeout` accepts).
    is_timeout: Vec<bool>,
    /// Per accepted op: `cancel` or `close_event` withdrew it.
    withdrawn: Vec<bool>,
    events: Vec<ModelEvent>,
    peer_shut: bool,
    eof_seen: bool,
}

/// A user event as the model sees it.
struct ModelEvent {
    id: EventId,
    open: bool,
    /// The op listening on it, if armed.
    listener: Option<usize>,
    /// A trigger arrived with no listener armed: the next listen fires at once.
    pending: bool,
    /// Listener ops this event's triggers fired.
    fired: Vec<usize>,
}

impl Model {
    fn in_flight(&self) -> usize {
        self.callbacks.iter().filter(|&&count| count == 0).count()
    }

    fn timeouts_in_flight(&self) -> bool {
        self.callbacks.iter().zip(&self.is_timeout).any(|(&count, &timeout)| count == 0 && timeout)
    }
}

fn tag_done(model: &mut Model, tag: u64) {
    model.callbacks[(tag & 0xffff_ffff) as usize] += 1;
}

fn on_write(model: &mut Model, _: &mut IO<Model>, done: WriteDone) {
    tag_done(model, done.tag);
    let offset = (done.tag >> 32) as usize;
    let n = match done.result {
        Ok(n) => n,
        Err(WriteError::Canceled) => return,
        Err(error) => panic!("write to a regular file: {error:?}"),
    };
    let end = offset + n;
    if model.file.len() < end {
        model.file.resize(end, 0);
    }
    model.file[offset..end].copy_from_slice(&done.buffer[..n]);
}

fn on_read(model: &mut Model, _: &mut IO<Model>, done: ReadDone) {
    tag_done(model, done.tag);
    let offset = (done.tag >> 32) as usize;
    let n = match done.result {
        Ok(n) => n,
        Err(ReadError::Canceled) => return,
        Err(error) => panic!("read of a regular file: {error:?}"),
    };
    let expected = model.file.get(offset..).unwrap_or(&[]);
    let expected = &expected[..expected.len().min(done.buffer.len())];
    assert_eq!(&done.buffer[..n], expected, "read at {offset} disagrees with the model");
}

fn on_fsync(model: &mut Model, _: &mut IO<Model>, done: FsyncDone) {
    tag_done(model, done.tag);
    assert!(matches!(done.result, Ok(()) | Err(FsyncError::Canceled)), "{:?}", done.result);
}

fn on_send(model: &mut Model, _: &mut IO<Model>, done: SendDone) {
    tag_done(model, done.tag);
    match done.result {
        Ok(n) => model.sent.extend_from_slice(&done.buffer[..n]),
        Err(SendError::Canceled) => {}
        Err(error) => panic!("send: {error:?}"),
    }
}

fn on_recv(model: &mut Model, _: &mut IO<Model>, done: RecvDone) {
    tag_done(model, done.tag);
    match done.result {
        Ok(0) => {
            assert!(model.peer_shut, "end of stream before the peer shut down");
            model.eof_seen = true;
        }
        Ok(n) => {
            assert!(!model.eof_seen, "data after end of stream");
            model.received.extend_from_slice(&done.buffer[..n]);
            assert!(model.peer_sent.starts_with(&model.received), "stream bytes altered");
        }
        Err(RecvError::Canceled) => {}
        Err(error) => panic!("recv: {error:?}"),
    }
}

fn on_timeout(model: &mut Model, _: &mut IO<Model>, done: TimeoutDone) {
    tag_done(model, done.tag);
    assert!(matches!(done.result, Ok(()) | Err(TimeoutError::Canceled)));
}

fn on_event(model: &mut Model, _: &mut IO<Model>, done: EventDone) {
    tag_done(model, done.tag);
    let op = (done.tag & 0xffff_ffff) as usize;
    let event = &model.events[(done.tag >> 32) as usize];
    match done.result {
        Ok(()) => assert!(event.fired.contains(&op), "listener {op} fired without a trigger"),
        Err(EventError::Canceled) => assert!(model.withdrawn[op], "listener {op} canceled unasked"),
        Err(error) => panic!("event listener: {error:?}"),
    }
}

fn on_bad_recv(model: &mut Model, _: &mut IO<Model>, done: RecvDone) {
    tag_done(model, done.tag);
    let expected = matches!(
        done.result,
        Err(RecvError::BadFileDescriptor | RecvError::NotASocket | RecvError::Canceled)
    );
    assert!(expected, "{:?}", done.result);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

fn drain_peer(peer: &mut UnixStream, model: &mut Model) {
    let mut chunk = [0u8; 4096];
    loop {
        match peer.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => model.peer_received.extend_from_slice(&chunk[..n]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(error) => panic!("peer read: {error}"),
        }
    }
    assert!(model.sent.starts_with(&model.peer_received), "peer saw bytes never sent");
}

fuzz_target!(|actions: Vec<Action>| {
    let fds_before = open_fds();
    let path = std::env::temp_dir().join(format!("twinio-fuzz-real-{}", std::process::id()));
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("temp file");
    let (ours, mut peer) = UnixStream::pair().expect("stream pair");
    ours.set_nonblocking(true).expect("non-blocking");
    peer.set_nonblocking(true).expect("non-blocking");
    let socket = Fd::from_raw(ours.into_raw_fd());
    let file_fd = Fd::from_raw(file.as_raw_fd());

    let mut io: IO<Model> = IO::init(32).expect("init");
    let mut model = Model::default();
    let mut last: Option<(OpId, usize)> = None;

    for action in actions.into_iter().take(256) {
        let tag = model.callbacks.len() as u64;
        let submitted = match action {
            Action::Write { offset, len, fill } => {
                let offset = u64::from(offset) % FILE_SPAN;
                let len = usize::from(len % 8192) + 1;
                let buffer = Buffer::from_slice(&vec![fill; len]).expect("buffer");
                io.write(file_fd, buffer, .., offset, tag | offset << 32, on_write)
                    .map_err(|r| r.error)
            }
            Action::Read { offset, len } => {
                let offset = u64::from(offset) % FILE_SPAN;
                let buffer = Buffer::new(usize::from(len % 8192) + 1).expect("buffer");
                io.read(file_fd, buffer, .., offset, tag | offset << 32, on_read)
                    .map_err(|r| r.error)
            }
            Action::Fsync { mode } => {
                let mode =
                    [FsyncMode::Full, FsyncMode::Data, FsyncMode::Barrier, FsyncMode::FullOrPlain]
                        [usize::from(mode % 4)];
                io.fsync(file_fd, mode, tag, on_fsync)
            }
            Action::Send { len, fill } => {
                let buffer =
                    Buffer::from_slice(&vec![fill; usize::from(len % 4096) + 1]).expect("buffer");
                io.send(socket, buffer, .., tag, on_send).map_err(|r| r.error)
            }
            Action::Recv { len } => {
                let buffer = Buffer::new(usize::from(len % 4096) + 1).expect("buffer");
                io.recv(socket, buffer, .., tag, on_recv).map_err(|r| r.error)
            }
            Action::PeerWrite { len, fill } if !model.peer_shut => {
                let bytes = vec![fill; usize::from(len) + 1];
                let written = peer.write(&bytes).unwrap_or(0);
                model.peer_sent.extend_from_slice(&bytes[..written]);
                Err(SubmitError::Closed)
            }
            Action::PeerRead => {
                drain_peer(&mut peer, &mut model);
                Err(SubmitError::Closed)
            }
            Action::PeerShutdown => {
                let _ = peer.shutdown(std::net::Shutdown::Write);
                model.peer_shut = true;
                Err(SubmitError::Closed)
            }
            Action::Timeout { micros } => {
                let result = io.timeout(u64::from(micros) * 1000, tag, on_timeout);
                if result.is_ok() {
                    model.is_timeout.push(true);
                }
                result
            }
            Action::CancelLast => {
                if let Some((id, op)) = last {
                    let running = model.callbacks[op] == 0;
                    match io.cancel(id) {
                        Ok(()) => {
                            assert!(running, "canceled op {op} whose callback ran");
                            model.withdrawn[op] = true;
                            for event in &mut model.events {
                                event.listener = event.listener.filter(|&l| l != op);
                            }
                        }
                        Err(CancelError::NotRunning) => assert!(!running, "op {op} is in flight"),
                        Err(CancelError::AlreadyCanceled) => assert!(model.withdrawn[op]),
                        Err(CancelError::Running) => assert!(running),
                        Err(error) => panic!("cancel: {error:?}"),
                    }
                }
                Err(SubmitError::Closed)
            }
            Action::ResetLast { micros } => {
                if let Some((id, op)) = last {
                    let result = io.reset_timeout(id, u64::from(micros) * 1000);
                    let live = model.callbacks[op] == 0 && !model.withdrawn[op];
                    match (model.is_timeout[op], live) {
                        (true, true) => assert_eq!(result, Ok(()), "reset of timeout {op}"),
                        _ => assert!(result.is_err(), "reset of op {op} accepted"),
                    }
                }
                Err(SubmitError::Closed)
            }
            Action::Tick => {
                io.tick(&mut model).expect("tick");
                Err(SubmitError::Closed)
            }
            // Waiting is bounded only while a (short) timeout is in flight.
            Action::RunOnce if model.timeouts_in_flight() => {
                io.run_once(&mut model).expect("run_once");
                Err(SubmitError::Closed)
            }
            Action::RunOnce => Err(SubmitError::Closed),
            Action::RunFor { micros } => {
                io.run_for_ns(&mut model, u64::from(micros) * 1000).expect("run_for_ns");
                Err(SubmitError::Closed)
            }
            Action::Stop => {
                io.stop();
                Err(SubmitError::Closed)
            }
            Action::OpenEvent if model.events.len() < 4 => {
                let id = io.open_event().expect("open_event");
                model.events.push(ModelEvent {
                    id,
                    open: true,
                    listener: None,
                    pending: false,
                    fired: Vec::new(),
                });
                Err(SubmitError::Closed)
            }
            Action::OpenEvent => Err(SubmitError::Closed),
            Action::Listen { event } if !model.events.is_empty() => {
                let index = usize::from(event) % model.events.len();
                let (id, open, armed) = {
                    let e = &model.events[index];
                    (e.id, e.open, e.listener.is_some())
                };
                let result = io.event_listen(id, tag | (index as u64) << 32, on_event);
                match (&result, open, armed) {
                    (Ok(_), true, false) => {
                        let e = &mut model.events[index];
                        if std::mem::take(&mut e.pending) {
                            e.fired.push(tag as usize);
                        } else {
                            e.listener = Some(tag as usize);
                        }
                    }
                    (Err(SubmitError::UnknownEvent), false, _) => {}
                    (Err(SubmitError::AlreadyListening), true, true) => {}
                    (Err(SubmitError::NoFreeSlot), true, false) => {}
                    _ => panic!("listen on {index} (open {open}, armed {armed}): {result:?}"),
                }
                // An expected refusal is checked above; it accepted no op.
                result.or(Err(SubmitError::Closed))
            }
            Action::Trigger { event } if !model.events.is_empty() => {
                let index = usize::from(event) % model.events.len();
                let e = &mut model.events[index];
                match (io.event_trigger(e.id), e.open) {
                    (Ok(()), true) => match e.listener.take() {
                        Some(op) => e.fired.push(op),
                        None => e.pending = true,
                    },
                    (Err(EventError::UnknownEvent), false) => {}
                    (result, open) => panic!("trigger of {index} (open {open}): {result:?}"),
                }
                Err(SubmitError::Closed)
            }
            Action::CloseEvent { event } if !model.events.is_empty() => {
                let index = usize::from(event) % model.events.len();
                let e = &mut model.events[index];
                match (io.close_event(e.id), e.open) {
                    (Ok(()), true) => {
                        e.open = false;
                        if let Some(op) = e.listener.take() {
                            model.withdrawn[op] = true;
                        }
                    }
                    (Err(EventError::UnknownEvent), false) => {}
                    (result, open) => panic!("close of event {index} (open {open}): {result:?}"),
                }
                Err(SubmitError::Closed)
            }
            Action::Listen { .. } | Action::Trigger { .. } | Action::CloseEvent { .. } => {
                Err(SubmitError::Closed)
            }
            Action::BadFd { negative } => {
                let fd = if negative { Fd::from_raw(-1) } else { Fd::from_raw(1_000_000) };
                let result = io.recv(fd, Buffer::new(8).expect("buffer"), .., tag, on_bad_recv);
                match (negative, result) {
                    (true, Err(rejected)) => {
                        assert_eq!(rejected.error, SubmitError::InvalidFd);
                        Err(SubmitError::Closed)
                    }
                    (false, result) => result.map_err(|r| r.error),
                    (true, Ok(_)) => panic!("a negative fd was accepted"),
                }
            }
            Action::EmptyRange => {
                let rejected = io
                    .send(socket, Buffer::new(8).expect("buffer"), 3..3, tag, on_send)
                    .expect_err("an empty range was accepted");
                assert_eq!(rejected.error, SubmitError::EmptyRange);
                assert_eq!(rejected.returned.len(), 8);
                Err(SubmitError::Closed)
            }
            Action::PeerWrite { .. } => Err(SubmitError::Closed),
        };
        match submitted {
            Ok(id) => {
                model.callbacks.push(0);
                model.is_timeout.resize(model.callbacks.len(), false);
                model.withdrawn.push(false);
                last = Some((id, tag as usize));
            }
            Err(SubmitError::Closed) => {}
            Err(SubmitError::NoFreeSlot) => {}
            Err(error) => panic!("refused: {error:?}"),
        }
        assert_eq!(io.in_flight(), model.in_flight(), "in-flight count disagrees");
    }

    // Wind down: let the peer drain, withdraw what waits, deliver everything.
    for _ in 0..4 {
        drain_peer(&mut peer, &mut model);
        io.tick(&mut model).expect("tick");
    }
    for op in 0..model.callbacks.len() {
        model.withdrawn[op] |= model.callbacks[op] == 0;
    }
    io.cancel_all();
    // A `Stop` left over from the op sequence ends one run early.
    for _ in 0..2 {
        io.run_until_done(&mut model).expect("run");
    }
    assert_eq!(io.in_flight(), 0);
    for (tag, &count) in model.callbacks.iter().enumerate() {
        assert_eq!(count, 1, "op {tag} got {count} callbacks");
    }
    io.close(socket, 0, |_, _, done| done.result.expect("close")).expect("close");
    io.run_until_done(&mut model).expect("run");
    for event in model.events.iter().filter(|event| event.open) {
        io.close_event(event.id).expect("close_event");
    }
    drop(io);
    drop(peer);
    drop(file);
    let _ = std::fs::remove_file(&path);
    assert_eq!(open_fds(), fds_before, "descriptor leaked");
});
