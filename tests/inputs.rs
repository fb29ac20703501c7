//! Refused inputs on both backends: zero-length and out-of-range buffers,
//! negative, closed and never-opened descriptors, submits beyond the
//! reserved slots (the buffer comes back), and the same typed error from
//! both backends for every bad input.

mod support;

use std::path::Path;

use support::typed::*;
use support::{Backend, both_backends};
use twinio::*;

fn zero_length_and_out_of_range_buffers_are_refused<B: Backend<Ctx>>() {
    let _g = B::shared();
    let tmp = B::dir("ranges");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let file = f.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    let (client, server) = connected(&mut f.io, &mut f.ctx);
    let io = &mut f.io;

    // Each case: (buffer length, range, expected refusal).
    type Range = (std::ops::Bound<usize>, std::ops::Bound<usize>);
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let cases: [(usize, Range, SubmitError); 5] = [
        (0, (Unbounded, Unbounded), SubmitError::EmptyRange),
        (8, (Included(3), Excluded(3)), SubmitError::EmptyRange),
        (8, (Included(4), Excluded(9)), SubmitError::RangeOutOfBounds),
        (8, (Included(6), Excluded(5)), SubmitError::RangeOutOfBounds),
        (8, (Excluded(usize::MAX), Unbounded), SubmitError::RangeOutOfBounds),
    ];
    for (len, range, error) in cases {
        let check = |rejected: Rejected<Buffer>, what: &str| {
            assert_eq!(rejected.error, error, "{what} {len} {range:?}");
            assert_eq!(rejected.returned.len(), len, "{what}: the buffer comes back");
        };
        let fill = || Buffer::from_slice(&pattern(7, len)).unwrap();
        check(io.recv(server, fill(), range, 1, on_recv).unwrap_err(), "recv");
        check(io.send(client, fill(), range, 1, on_send).unwrap_err(), "send");
        check(io.read(file, fill(), range, 0, 1, on_read).unwrap_err(), "read");
        check(io.write(file, fill(), range, 0, 1, on_write).unwrap_err(), "write");
    }
    // The returned buffer is the caller's, contents intact.
    let rejected = io.send(client, Buffer::from_slice(b"keep").unwrap(), 2..2, 1, on_send);
    assert_eq!(&rejected.unwrap_err().returned[..], b"keep");
    // File offsets past i64::MAX are refused.
    for offset in [u64::MAX, i64::MAX as u64] {
        let rejected = io.read(file, buffer(8), .., offset, 1, on_read).unwrap_err();
        assert_eq!(rejected.error, SubmitError::OffsetOverflow);
        let rejected = io.write(file, buffer(8), .., offset, 1, on_write).unwrap_err();
        assert_eq!(rejected.error, SubmitError::OffsetOverflow);
    }
    assert_eq!(io.in_flight(), 0, "nothing refused was queued");
    for _ in 0..3 {
        pass(io, &mut f.ctx);
    }
    assert!(f.ctx.log.is_empty(), "a refused submit ran a callback: {:?}", f.ctx.log);
    for fd in [client, server, file, f.dir] {
        f.close(fd).unwrap();
    }
}

fn negative_descriptor_is_refused_at_submit<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let address = loopback();
    for raw in [-1, i32::MIN] {
        let bad = Fd::from_raw(raw);
        let invalid = Err(SubmitError::InvalidFd);
        assert_eq!(io.accept(bad, 1, on_accept), invalid);
        assert_eq!(io.connect(bad, address, 1, on_connect), invalid);
        assert_eq!(io.close(bad, 1, on_close), invalid);
        assert_eq!(io.fsync(bad, FsyncMode::Full, 1, on_fsync), invalid);
        let rejected = io.recv(bad, buffer(8), .., 1, on_recv).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        let rejected = io.send(bad, buffer(8), .., 1, on_send).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        let rejected = io.read(bad, buffer(8), .., 0, 1, on_read).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        let rejected = io.write(bad, buffer(8), .., 0, 1, on_write).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        assert_eq!(io.listen(bad, address, 1), Err(ListenError::BadFileDescriptor));
        assert_eq!(io.shutdown(bad, Shutdown::Both), Err(ShutdownError::BadFileDescriptor));
        let result =
            io.open_data_file(bad, Path::new("x"), 4096, FilePurpose::Open, DirectIo::Disabled);
        assert_eq!(result, Err(OpenError::BadFileDescriptor));
    }
    assert_eq!(io.in_flight(), 0);
    pass(&mut io, &mut ctx);
    assert!(ctx.log.is_empty());
}

fn closed_descriptor_is_a_typed_error<B: Backend<Ctx>>() {
    // Exclusive: the closed number must not be handed to another test.
    let _g = B::exclusive();
    let tmp = B::dir("closed");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let file = f.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    f.close(file).unwrap();
    let (client, server) = connected(&mut f.io, &mut f.ctx);
    f.close(server).unwrap();
    let socket = f.io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    f.close(socket).unwrap();
    let (io, ctx) = (&mut f.io, &mut f.ctx);
    let address = loopback();
    for closed in [server, socket] {
        io.recv(closed, buffer(8), .., 1, on_recv).unwrap();
        assert_eq!(expect_done!(wait(io, ctx, 1), Recv, 2).1, Err(RecvError::BadFileDescriptor));
        io.send(closed, buffer(8), .., 2, on_send).unwrap();
        assert_eq!(expect_done!(wait(io, ctx, 2), Send, 2).1, Err(SendError::BadFileDescriptor));
        io.accept(closed, 3, on_accept).unwrap();
        assert_eq!(expect_done!(wait(io, ctx, 3), Accept), Err(AcceptError::BadFileDescriptor));
        io.connect(closed, address, 4, on_connect).unwrap();
        assert_eq!(
            expect_done!(wait(io, ctx, 4), Connect, 2).1,
            Err(ConnectError::BadFileDescriptor)
        );
        assert_eq!(close(io, ctx, closed), Err(CloseError::BadFileDescriptor));
        assert_eq!(io.shutdown(closed, Shutdown::Both), Err(ShutdownError::BadFileDescriptor));
        assert_eq!(io.listen(closed, address, 1), Err(ListenError::BadFileDescriptor));
    }
    io.read(file, buffer(8), .., 0, 5, on_read).unwrap();
    assert_eq!(expect_done!(wait(io, ctx, 5), Read, 2).1, Err(ReadError::NotOpenForReading));
    io.write(file, buffer(8), .., 0, 6, on_write).unwrap();
    assert_eq!(expect_done!(wait(io, ctx, 6), Write, 2).1, Err(WriteError::NotOpenForWriting));
    io.fsync(file, FsyncMode::Full, 7, on_fsync).unwrap();
    assert_eq!(expect_done!(wait(io, ctx, 7), Fsync), Err(FsyncError::BadFileDescriptor));
    assert_eq!(close(io, ctx, file), Err(CloseError::BadFileDescriptor));
    // The peer of the closed socket sees end of stream.
    assert_eq!(recv(io, ctx, client, 8).unwrap(), b"");
    f.close(client).unwrap();
    f.close(f.dir).unwrap();
    assert_eq!(f.io.in_flight(), 0);
}

fn submit_beyond_the_reserved_slots_returns_the_buffer<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(2);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    let event = io.open_event().unwrap();
    let a = io.timeout(10_000_000_000, 1, on_timeout).unwrap();
    io.recv(server, buffer(8), .., 2, on_recv).unwrap();
    assert_eq!(io.in_flight(), 2);

    let full = SubmitError::NoFreeSlot;
    let rejected = io.send(client, Buffer::from_slice(b"mine").unwrap(), .., 3, on_send);
    let rejected = rejected.unwrap_err();
    assert_eq!((rejected.error, &rejected.returned[..]), (full, &b"mine"[..]));
    let rejected = io.recv(client, Buffer::from_slice(b"also").unwrap(), .., 3, on_recv);
    let rejected = rejected.unwrap_err();
    assert_eq!((rejected.error, &rejected.returned[..]), (full, &b"also"[..]));
    assert_eq!(io.timeout(0, 3, on_timeout), Err(full));
    assert_eq!(io.accept(server, 3, on_accept), Err(full));
    assert_eq!(io.connect(client, loopback(), 3, on_connect), Err(full));
    assert_eq!(io.close(client, 3, on_close), Err(full));
    assert_eq!(io.fsync(client, FsyncMode::Full, 3, on_fsync), Err(full));
    assert_eq!(io.event_listen(event, 3, on_event), Err(full));
    assert_eq!(io.in_flight(), 2);

    // A slot freed is a slot usable again: the canceled timeout's slot
    // carries the send that wakes the recv.
    io.cancel(a).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 1), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(send(&mut io, &mut ctx, client, b"go"), Ok(2));
    let (buf, n) = expect_done!(wait(&mut io, &mut ctx, 2), Recv, 2);
    assert_eq!(&buf[..n.unwrap()], b"go");
    assert!(!ctx.has(3), "a refused submit ran a callback");
    io.close_event(event).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

both_backends!(
    zero_length_and_out_of_range_buffers_are_refused,
    negative_descriptor_is_refused_at_submit,
    closed_descriptor_is_a_typed_error,
    submit_beyond_the_reserved_slots_returns_the_buffer
);

/// Bad inputs get the same typed error from `IO` and `SimIO`, never a
/// panic: each backend answers the same list of probes, compared line by
/// line.
mod scripted {
    use std::path::Path;

    use super::support::scripted::*;
    use super::support::{Backend, Real, Sim, exclusive};
    use twinio::*;

    /// The answers of one backend, one line per probe.
    struct Probe<'a, I: Io<Context = Ctx>> {
        io: &'a mut I,
        ctx: Ctx,
        lines: Vec<String>,
        next_tag: u64,
    }

    impl<I: Io<Context = Ctx>> Probe<'_, I> {
        fn line(&mut self, label: &str, outcome: impl std::fmt::Debug) {
            self.lines.push(format!("{label}: {outcome:?}"));
        }

        /// A refused buffer submit: the error, and the buffer handed back whole.
        fn refused(&mut self, label: &str, submitted: Result<OpId, Rejected<Buffer>>, len: usize) {
            match submitted {
                Ok(_) => {
                    let tag = self.next_tag - 1;
                    let what = wait(self.io, &mut self.ctx, tag);
                    self.line(label, format!("accepted, completed {what}"));
                }
                Err(Rejected { error, returned }) => {
                    assert_eq!(returned.len(), len, "{label}: the buffer comes back whole");
                    self.line(label, error);
                }
            }
        }

        fn tag(&mut self) -> u64 {
            self.next_tag += 1;
            self.next_tag - 1
        }

        /// Runs an accepted submit to its completion and records it.
        fn completes(&mut self, label: &str, submitted: Result<OpId, impl std::fmt::Debug>) {
            let tag = self.next_tag - 1;
            match submitted {
                Ok(_) => {
                    let what = wait(self.io, &mut self.ctx, tag);
                    self.line(label, what);
                }
                Err(error) => self.line(label, format!("refused {error:?}")),
            }
        }
    }

    fn probe<B: Backend<Ctx>>() -> Vec<String> {
        let dir = B::dir("inputs");
        let dir: &Path = &dir;
        let mut io = B::io(64);
        let mut p = Probe { io: &mut io, ctx: Ctx::default(), lines: Vec::new(), next_tag: 1 };

        // ---- refused at submit ----
        let neg = Fd::from_raw(-1);
        let t = p.tag();
        let r = p.io.recv(neg, buf(8), .., t, on_recv);
        p.refused("recv fd -1", r, 8);
        let t = p.tag();
        let r = p.io.send(Fd::from_raw(i32::MIN), buf(8), .., t, on_send);
        p.refused("send fd MIN", r, 8);
        let t = p.tag();
        let r = p.io.read(neg, buf(8), .., 0, t, on_read);
        p.refused("read fd -1", r, 8);
        let t = p.tag();
        let r = p.io.write(neg, buf(8), .., 0, t, on_write);
        p.refused("write fd -1", r, 8);
        let r = p.io.accept(neg, 0, on_accept).map(drop);
        p.line("accept fd -1", r);
        let r = p.io.connect(neg, loopback(), 0, on_connect).map(drop);
        p.line("connect fd -1", r);
        let r = p.io.fsync(neg, FsyncMode::Full, 0, on_fsync).map(drop);
        p.line("fsync fd -1", r);
        let r = p.io.close(neg, 0, on_close).map(drop);
        p.line("close fd -1", r);
        let r = p.io.listen(neg, loopback(), 1);
        p.line("listen fd -1", r);
        let r = p.io.shutdown(neg, Shutdown::Both);
        p.line("shutdown fd -1", r);
        for (label, range) in [("empty buffer ..", 0..0), ("3..3", 3..3), ("0..9 of 8", 0..9)] {
            let len = if label.starts_with("empty") { 0 } else { 8 };
            let t = p.tag();
            let r = p.io.recv(Fd::from_raw(3), buf(len), range.clone(), t, on_recv);
            p.refused(&format!("recv {label}"), r, len);
            let t = p.tag();
            let r = p.io.write(Fd::from_raw(3), buf(len), range, 0, t, on_write);
            p.refused(&format!("write {label}"), r, len);
        }
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 5..2;
        let t = p.tag();
        let r = p.io.send(Fd::from_raw(3), buf(8), reversed, t, on_send);
        p.refused("send reversed range", r, 8);
        let t = p.tag();
        let r = p.io.read(Fd::from_raw(3), buf(8), ..=usize::MAX, 0, t, on_read);
        p.refused("read ..=usize::MAX", r, 8);
        for offset in [u64::MAX, i64::MAX as u64, i64::MAX as u64 - 8] {
            let t = p.tag();
            let r = p.io.read(Fd::from_raw(3), buf(8), .., offset, t, on_read);
            if offset == i64::MAX as u64 - 8 {
                // In range: refused only later, by the descriptor (closed or not a file).
                assert!(r.is_ok(), "offset {offset}: {r:?}");
                wait(p.io, &mut p.ctx, t);
                continue;
            }
            p.refused(&format!("read at offset {offset}"), r, 8);
            let t = p.tag();
            let r = p.io.write(Fd::from_raw(3), buf(8), .., offset, t, on_write);
            p.refused(&format!("write at offset {offset}"), r, 8);
        }

        // ---- descriptors of the wrong kind, closed or stale ----
        let d = p.io.open_dir(dir).expect("open_dir");
        let size = 4 * 4096;
        let f = p.io.open_data_file(
            d,
            Path::new("data"),
            size,
            FilePurpose::Format,
            DirectIo::Disabled,
        );
        let f = f.expect("format");
        let fresh = p.io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        let (l, address) = listener(p.io);
        let closed = p.io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        close(p.io, &mut p.ctx, closed);
        for (name, fd) in [("data file", f), ("dir", d), ("closed fd", closed)] {
            let t = p.tag();
            let r = p.io.recv(fd, buf(8), .., t, on_recv);
            p.completes(&format!("recv on {name}"), r);
            let t = p.tag();
            let r = p.io.send(fd, buf(8), .., t, on_send);
            p.completes(&format!("send on {name}"), r);
            let t = p.tag();
            let r = p.io.accept(fd, t, on_accept);
            p.completes(&format!("accept on {name}"), r);
            let t = p.tag();
            let r = p.io.connect(fd, address, t, on_connect);
            p.completes(&format!("connect on {name}"), r);
            let r = p.io.listen(fd, loopback(), 1);
            p.line(&format!("listen on {name}"), r);
            let r = p.io.shutdown(fd, Shutdown::Both);
            p.line(&format!("shutdown on {name}"), r);
        }
        for (name, fd) in [("socket", fresh), ("listener", l), ("dir", d), ("closed fd", closed)] {
            let t = p.tag();
            let r = p.io.read(fd, buf(8), .., 0, t, on_read);
            p.completes(&format!("read on {name}"), r);
            let t = p.tag();
            let r = p.io.write(fd, buf(8), .., 0, t, on_write);
            p.completes(&format!("write on {name}"), r);
            let t = p.tag();
            let r = p.io.fsync(fd, FsyncMode::Full, t, on_fsync);
            p.completes(&format!("fsync on {name}"), r);
        }
        // A socket that never connected, and a listener.
        let t = p.tag();
        let r = p.io.accept(fresh, t, on_accept);
        p.completes("accept on an idle socket", r);
        let t = p.tag();
        let r = p.io.recv(fresh, buf(8), .., t, on_recv);
        p.completes("recv on an idle socket", r);
        let r = p.io.shutdown(fresh, Shutdown::Write);
        p.line("shutdown an idle socket", r);
        let t = p.tag();
        let r = p.io.recv(l, buf(8), .., t, on_recv);
        p.completes("recv on a listener", r);
        let r = p.io.listen(l, loopback(), 1);
        p.line("listen twice", r);
        let r = p.io.listen(fresh, "[::1]:0".parse().unwrap(), 1);
        p.line("listen v6 on v4", r);
        let t = p.tag();
        let r = p.io.connect(fresh, "[::1]:1".parse().unwrap(), t, on_connect);
        p.completes("connect v4 socket to v6", r);

        // ---- files: offsets, EOF, read-only ----
        let t = p.tag();
        let r = p.io.read(f, buf(8), .., size, t, on_read);
        p.completes("read at EOF", r);
        let t = p.tag();
        let r = p.io.read(f, buf(8), .., size - 3, t, on_read);
        p.completes("read straddling EOF", r);
        let t = p.tag();
        let r = p.io.read(f, buf(8), .., i64::MAX as u64 - 8, t, on_read);
        p.completes("read far past EOF", r);
        let inspect = p.io.open_data_file(
            d,
            Path::new("data"),
            size,
            FilePurpose::Inspect,
            DirectIo::Disabled,
        );
        p.line("inspect while locked", inspect.map(drop));
        if let Ok(inspect) = inspect {
            let t = p.tag();
            let r = p.io.write(inspect, buf(8), .., 0, t, on_write);
            p.completes("write on an inspect fd", r);
            let t = p.tag();
            let r = p.io.fsync(inspect, FsyncMode::Full, t, on_fsync);
            p.completes("fsync on an inspect fd", r);
            close(p.io, &mut p.ctx, inspect);
        }

        // ---- double close ----
        let t = p.tag();
        let r = p.io.close(closed, t, on_close);
        p.completes("close a closed fd", r);

        // ---- user events ----
        let e = p.io.open_event().unwrap();
        let t = p.tag();
        let first = p.io.event_listen(e, t, on_event).map(drop);
        p.line("event listen", first);
        let r = p.io.event_listen(e, 0, on_event).map(drop);
        p.line("event listen twice", r);
        let r = p.io.close_event(e);
        p.line("close event", r);
        wait(p.io, &mut p.ctx, t);
        let r = p.io.event_listen(e, 0, on_event).map(drop);
        p.line("listen on closed event", r);
        let r = p.io.event_trigger(e);
        p.line("trigger closed event", r);
        let r = p.io.close_event(e);
        p.line("close closed event", r);
        let reused = p.io.open_event().unwrap();
        let r = p.io.event_trigger(e);
        p.line("stale id, index reused: trigger", r);
        let r = p.io.event_trigger(reused);
        p.line("fresh id still works", r);
        p.io.close_event(reused).unwrap();

        for fd in [f, d, fresh, l] {
            let what = close(p.io, &mut p.ctx, fd);
            p.line("close", what);
        }
        let stray: Vec<_> = p.ctx.log.iter().filter(|e| e.tag >= 900_000).collect();
        assert!(stray.is_empty(), "{stray:?}");
        assert_eq!(p.io.in_flight(), 0);
        p.lines
    }

    #[test]
    fn bad_inputs_same_typed_error_on_both_backends() {
        let _g = exclusive();
        let real = probe::<Real>();
        let sim = probe::<Sim>();
        compare_lines(real, sim);
    }
}
