//! QA: bad inputs get the same typed error from `IO` and `SimIO`, never a
//! panic. Each backend answers the same list of probes; the test compares
//! the answers line by line.

mod qa;

use std::path::Path;

use qa::*;
use twinio::*;

/// The answers of one backend, one line per probe.
struct Probe<'a, I: Backend> {
    io: &'a mut I,
    ctx: Ctx,
    lines: Vec<String>,
    next_tag: u64,
}

impl<I: Backend> Probe<'_, I> {
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

fn probe<I: Backend>(dir: &Path) -> Vec<String> {
    let mut io = I::make(64);
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
    let f =
        p.io.open_data_file(d, Path::new("data"), size, FilePurpose::Format, DirectIo::Disabled);
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
    let inspect =
        p.io.open_data_file(d, Path::new("data"), size, FilePurpose::Inspect, DirectIo::Disabled);
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

/// open_data_file and open_dir arguments.
fn probe_open<I: Backend>(dir: &Path) -> Vec<String> {
    let mut io = I::make(16);
    let mut lines = Vec::new();
    let d = io.open_dir(dir).unwrap();
    I::mkdir(&dir.join("sub"));
    let fmt = FilePurpose::Format;
    let off = DirectIo::Disabled;
    let mut open = |io: &mut I, label: &str, dir: Fd, path: &str, size: u64, purpose| {
        let r = io.open_data_file(dir, Path::new(path), size, purpose, off);
        lines.push(format!("{label}: {:?}", r.map(drop)));
        r.ok()
    };
    let held = open(&mut io, "format sub/f", d, "sub/f", 4096, fmt);
    open(&mut io, "absolute path", d, "/etc/passwd", 4096, fmt);
    open(&mut io, "empty path", d, "", 4096, fmt);
    open(&mut io, "path with NUL", d, "a\0b", 4096, fmt);
    open(&mut io, "size 0", d, "x", 0, fmt);
    open(&mut io, "size 4095", d, "x", 4095, fmt);
    open(&mut io, "size 4097", d, "x", 4097, fmt);
    open(&mut io, "size u64::MAX", d, "x", u64::MAX, fmt);
    open(&mut io, "size u64::MAX rounded", d, "x", !4095, fmt);
    open(&mut io, "dir fd -1", Fd::from_raw(-1), "x", 4096, fmt);
    open(&mut io, "dir fd -100 (AT_FDCWD)", Fd::from_raw(-100), "x", 4096, fmt);
    open(&mut io, "dir fd never opened", Fd::from_raw(100_000), "x", 4096, fmt);
    if let Some(f) = held {
        open(&mut io, "dir fd is a data file", f, "x", 4096, fmt);
    }
    let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    open(&mut io, "dir fd is a socket", socket, "x", 4096, fmt);
    open(&mut io, "format a directory", d, "sub", 4096, fmt);
    open(&mut io, "open a directory", d, "sub", 4096, FilePurpose::Open);
    open(&mut io, "inspect a directory", d, "sub", 4096, FilePurpose::Inspect);
    open(&mut io, "format .", d, ".", 4096, fmt);
    open(&mut io, "open .", d, ".", 4096, FilePurpose::Open);
    open(&mut io, "open missing", d, "missing", 4096, FilePurpose::Open);
    open(&mut io, "inspect missing", d, "missing", 4096, FilePurpose::Inspect);
    open(&mut io, "format existing", d, "sub/f", 4096, fmt);
    open(&mut io, "second open: locked", d, "sub/f", 4096, FilePurpose::Open);
    open(&mut io, "open wrong size", d, "sub/f", 8192, FilePurpose::Open);
    let inspect = open(&mut io, "inspect while locked", d, "sub/f", 4096, FilePurpose::Inspect);
    open(&mut io, "same file via ./sub/f: locked", d, "./sub/f", 4096, FilePurpose::Open);
    open(&mut io, "under a file", d, "sub/f/x", 4096, fmt);
    open(&mut io, "inspect wrong size", d, "sub/f", 8192, FilePurpose::Inspect);
    open(&mut io, "inspect sub/./f", d, "sub/./f", 4096, FilePurpose::Inspect);
    open(&mut io, "inspect sub/f/", d, "sub/f/", 4096, FilePurpose::Inspect);
    open(&mut io, "inspect sub/../sub/f", d, "sub/../sub/f", 4096, FilePurpose::Inspect);
    open(&mut io, "format ..", d, "..", 4096, fmt);
    open(&mut io, "open ..", d, "..", 4096, FilePurpose::Open);
    open(&mut io, "format sub/..", d, "sub/..", 4096, fmt);
    open(&mut io, "format ././", d, "././", 4096, fmt);
    open(&mut io, "inspect ./.", d, "./.", 4096, FilePurpose::Inspect);
    open(&mut io, "absolute with NUL", d, "/a\0", 4096, fmt);
    open(&mut io, "format y/", d, "y/", 4096, fmt);
    open(&mut io, "format sub/", d, "sub/", 4096, fmt);
    open(&mut io, "open_dir empty", d, "", 4096, fmt);
    // The directory itself, with no file under it yet (the twin created a
    // file at the directory's own path here).
    I::mkdir(&dir.join("fresh"));
    let fresh = io.open_dir(&dir.join("fresh")).unwrap();
    open(&mut io, "format . in an empty dir", fresh, ".", 4096, fmt);
    open(&mut io, "open . in an empty dir", fresh, ".", 4096, FilePurpose::Open);
    let reopened = io.open_dir(&dir.join("fresh"));
    lines.push(format!("open_dir after: {:?}", reopened.map(drop)));
    let reopened = reopened.ok();
    let r = io.open_dir(Path::new(""));
    lines.push(format!("open_dir empty: {:?}", r.map(drop)));
    let r = io.open_dir(&dir.join("sub/f"));
    lines.push(format!("open_dir of a data file: {:?}", r.map(drop)));
    let mut ctx = Ctx::default();
    for fd in [held, inspect, Some(socket), Some(d), Some(fresh), reopened].into_iter().flatten() {
        lines.push(format!("close: {}", close(&mut io, &mut ctx, fd)));
    }
    assert_eq!(io.in_flight(), 0);
    lines
}

fn compare(real: Vec<String>, sim: Vec<String>) {
    if std::env::var_os("QA_PRINT").is_some() {
        println!("{}", real.join("\n"));
    }
    let differ: Vec<String> = real
        .iter()
        .zip(&sim)
        .filter(|(r, s)| r != s)
        .map(|(r, s)| format!("real {r}\n   sim {s}"))
        .collect();
    assert!(differ.is_empty(), "{} differences:\n{}", differ.len(), differ.join("\n"));
    assert_eq!(real.len(), sim.len(), "real {real:#?}\nsim {sim:#?}");
}

#[test]
fn bad_inputs_same_typed_error_on_both_backends() {
    let _g = serial();
    let real = probe::<IO<Ctx>>(&<IO<Ctx> as Backend>::dir("inputs"));
    let sim = probe::<SimIO<Ctx>>(&<SimIO<Ctx> as Backend>::dir("inputs"));
    compare(real, sim);
}

#[test]
fn open_arguments_same_typed_error_on_both_backends() {
    let _g = serial();
    let real = probe_open::<IO<Ctx>>(&<IO<Ctx> as Backend>::dir("open"));
    let sim = probe_open::<SimIO<Ctx>>(&<SimIO<Ctx> as Backend>::dir("open"));
    compare(real, sim);
}
