//! Descriptors and ids a caller cannot misuse: the IO's own descriptors
//! are refused to every operation, ids of another IO never act, and the
//! API edges (addresses, bounded runs, adopting and handing back
//! descriptors, `Debug`) answer with typed results on both backends.

mod support;

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use support::scripted::*;
use support::{Backend, both_backends, exclusive};
use twinio::*;

/// Descriptors of this process whose `/proc/self/fd` link names `kind`
/// (`anon_inode:[eventpoll]`, `anon_inode:[eventfd]`).
fn fds_of_kind(kind: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let entry = entry.expect("entry");
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        if target.to_string_lossy() == kind
            && let Ok(fd) = entry.file_name().to_string_lossy().parse()
        {
            found.push(fd);
        }
    }
    found.sort_unstable();
    found
}

/// The descriptors `open` created, of `kind`.
fn new_fds_of_kind(kind: &str, open: impl FnOnce()) -> Vec<i32> {
    let before = fds_of_kind(kind);
    open();
    fds_of_kind(kind).into_iter().filter(|fd| !before.contains(fd)).collect()
}

/// Every operation on `fd`, each answered (or refused) without touching it.
fn every_op_is_refused(io: &mut IO<Ctx>, ctx: &mut Ctx, fd: Fd) {
    // EBADF, as each operation's error type names it.
    let expected = |tag| match tag {
        5 => "Err(NotOpenForReading)",
        6 => "Err(NotOpenForWriting)",
        _ => "Err(BadFileDescriptor)",
    };
    io.accept(fd, 1, on_accept).unwrap();
    io.connect(fd, "127.0.0.1:9".parse().unwrap(), 2, on_connect).unwrap();
    io.recv(fd, buf(8), .., 3, on_recv).unwrap();
    io.send(fd, Buffer::from_slice(&[1; 8]).unwrap(), .., 4, on_send).unwrap();
    io.read(fd, buf(8), .., 0, 5, on_read).unwrap();
    io.write(fd, Buffer::from_slice(&[1; 8]).unwrap(), .., 0, 6, on_write).unwrap();
    io.fsync(fd, FsyncMode::Full, 7, on_fsync).unwrap();
    io.close(fd, 8, on_close).unwrap();
    io.run_until_done(ctx).unwrap();
    for tag in 1..=8 {
        assert_eq!(
            ctx.get(tag),
            Some(expected(tag)),
            "op {tag} on an IO-owned fd {fd}: {:?}",
            ctx.log
        );
    }
    ctx.log.clear();
    assert_eq!(io.listen(fd, loopback(), 1), Err(ListenError::BadFileDescriptor));
    assert_eq!(io.shutdown(fd, Shutdown::Both), Err(ShutdownError::BadFileDescriptor));
    assert_eq!(io.local_address(fd), Err(AddressError::BadFileDescriptor));
    assert_eq!(io.peer_address(fd), Err(AddressError::BadFileDescriptor));
    let opened = io.open_data_file(fd, "x".as_ref(), 4096, FilePurpose::Format, DirectIo::Disabled);
    assert_eq!(opened, Err(OpenError::BadFileDescriptor));
    assert_eq!(io.hand_back(fd).err(), Some(HandOffError::BadFileDescriptor));
}

/// The misuse of the issue, step by step: a double close whose number an
/// eventfd took in between must not close the eventfd, so a trigger from
/// another thread can never write into the data file that would get it.
#[test]
fn double_close_cannot_reach_an_eventfd_or_a_data_file() {
    let _g = exclusive();
    let dir_path = support::temp_dir("double-close");
    let mut io: IO<Ctx> = IO::with_options(support::real_options(16)).unwrap();
    let mut ctx = Ctx::default();
    let s = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    assert_eq!(close(&mut io, &mut ctx, s), "Ok(())");
    let mut event = None;
    let eventfds = new_fds_of_kind("anon_inode:[eventfd]", || event = Some(io.open_event()));
    let event = event.unwrap().unwrap();
    assert_eq!(eventfds, [s.raw()], "the eventfd reused the socket's number");
    let handle = io.event_trigger_handle(event).unwrap();
    assert_eq!(close(&mut io, &mut ctx, s), "Err(BadFileDescriptor)", "the second close");
    let dir = io.open_dir(dir_path.path()).unwrap();
    let file =
        io.open_data_file(dir, "data".as_ref(), 4096, FilePurpose::Format, DirectIo::Disabled);
    let file = file.unwrap();
    assert_ne!(file, s, "the eventfd still holds the number");
    handle.trigger().unwrap();
    io.read(file, buf(4096), .., 0, 9, on_read).unwrap();
    io.event_listen(event, 10, on_event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(9), Some("Ok(4096)"));
    assert!(ctx.buffers.iter().all(|b| b.iter().all(|&byte| byte == 0)), "the file was written");
    assert_eq!(ctx.get(10), Some("Ok(())"), "the trigger reached its event");
    io.close_event(event).unwrap();
    drop(handle);
}

#[test]
fn the_pollers_descriptor_is_refused_to_every_op() {
    let _g = exclusive();
    let mut io = None;
    let epoll = new_fds_of_kind("anon_inode:[eventpoll]", || io = Some(IO::<Ctx>::init(16)));
    let mut io = io.unwrap().unwrap();
    assert_eq!(epoll.len(), 1);
    let mut ctx = Ctx::default();
    every_op_is_refused(&mut io, &mut ctx, Fd::from_raw(epoll[0]));
    // The loop still works and the drop does not abort.
    io.timeout(0, 11, on_timeout).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(11), Some("Ok(())"));
}

#[test]
fn event_and_worker_descriptors_are_refused_to_every_op() {
    let _g = exclusive();
    let mut io = None;
    let wake = new_fds_of_kind("anon_inode:[eventfd]", || {
        io = Some(IO::<Ctx>::with_options(IoOptions::new(32).file_workers(1)))
    });
    let mut io = io.unwrap().unwrap();
    assert_eq!(wake.len(), 1, "the pool's wake-up");
    let mut ctx = Ctx::default();
    every_op_is_refused(&mut io, &mut ctx, Fd::from_raw(wake[0]));
    let mut event = None;
    let eventfd = new_fds_of_kind("anon_inode:[eventfd]", || event = Some(io.open_event()));
    let event = event.unwrap().unwrap();
    every_op_is_refused(&mut io, &mut ctx, Fd::from_raw(eventfd[0]));
    // Closed but held open by a trigger handle: still the IO's.
    let handle = io.event_trigger_handle(event).unwrap();
    io.close_event(event).unwrap();
    every_op_is_refused(&mut io, &mut ctx, Fd::from_raw(eventfd[0]));
    assert_eq!(handle.trigger(), Err(EventError::Closed));
    drop(handle);
    // The last handle gone, the number is free again (the next event of
    // the IO sweeps it): a socket may get it, and then it is usable.
    let other = io.open_event().unwrap();
    io.close_event(other).unwrap();
    let s = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    assert_eq!(io.local_address(s).map(|a| a.port()), Ok(0));
    assert_eq!(close(&mut io, &mut ctx, s), "Ok(())");
}

fn foreign_ids_never_act<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut mine = B::io(8);
    let mut other = B::io(8);
    let mut ctx = Ctx::default();
    let my_timer = mine.timeout(1_000_000, 1, on_timeout).unwrap();
    let their_timer = other.timeout(1_000_000, 2, on_timeout).unwrap();
    assert_eq!(my_timer.slot(), their_timer.slot(), "same slot, different IOs");
    assert_ne!(my_timer, their_timer);
    assert_eq!(mine.cancel(their_timer), Err(CancelError::NotRunning));
    assert_eq!(mine.reset_timeout(their_timer, 5), Err(CancelError::NotRunning));
    let my_event = mine.open_event().unwrap();
    let their_event = other.open_event().unwrap();
    assert_ne!(my_event, their_event);
    assert_eq!(mine.event_trigger(their_event), Err(EventError::UnknownEvent));
    assert_eq!(mine.event_listen(their_event, 3, on_event).err(), Some(SubmitError::UnknownEvent));
    assert_eq!(mine.close_event(their_event), Err(EventError::UnknownEvent));
    mine.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(1), Some("Ok(())"), "my timer fired, not canceled");
    other.cancel(their_timer).unwrap();
    other.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(2), Some("Err(Canceled)"));
    mine.close_event(my_event).unwrap();
    other.close_event(their_event).unwrap();
}

fn addresses_are_typed<B: Backend<Ctx>>() {
    // Exclusive: it asks about a number after closing it.
    let _g = B::exclusive();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let unbound = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    assert_eq!(io.local_address(unbound), Ok("0.0.0.0:0".parse().unwrap()));
    assert_eq!(io.peer_address(unbound), Err(AddressError::NotConnected));
    let (l, address) = listener(&mut io);
    assert_eq!(io.local_address(l), Ok(address));
    assert_eq!(io.peer_address(l), Err(AddressError::NotConnected));
    let (client, server) = connected(&mut io, &mut ctx);
    let client_address = io.local_address(client).unwrap();
    assert_eq!(io.peer_address(server), Ok(client_address));
    assert_eq!(io.peer_address(client), io.local_address(server));
    let dir_path = B::dir("addresses");
    let dir = io.open_dir(&dir_path).unwrap();
    assert_eq!(io.local_address(dir), Err(AddressError::NotASocket));
    assert_eq!(io.local_address(Fd::from_raw(-1)), Err(AddressError::BadFileDescriptor));
    for fd in [unbound, l, client, server, dir] {
        close(&mut io, &mut ctx, fd);
    }
    assert_eq!(io.local_address(unbound), Err(AddressError::BadFileDescriptor));
}

/// A run that can never finish on its own is bounded by a deadline, on
/// both backends.
fn runs_can_be_bounded<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    io.recv(server, buf(8), .., 1, on_recv).unwrap();
    let start = io.now_ns();
    assert_eq!(io.run_until_done_within(&mut ctx, 20_000_000), Err(RunError::DeadlinePassed));
    assert!(io.now_ns() - start >= 20_000_000);
    assert_eq!(io.run_once_within(&mut ctx, 1_000_000), Err(RunError::DeadlinePassed));
    assert_eq!(ctx.count(1), 0);
    io.send(client, Buffer::from_slice(b"hi").unwrap(), .., 2, on_send).unwrap();
    io.run_until_done_within(&mut ctx, 5_000_000_000).unwrap();
    assert_eq!(ctx.get(1), Some("Ok(2)"));
    close(&mut io, &mut ctx, client);
    close(&mut io, &mut ctx, server);
}

both_backends!(foreign_ids_never_act, addresses_are_typed, runs_can_be_bounded);

/// Only the twin can know a run is stuck: a recv nobody will answer.
#[test]
fn the_twin_reports_a_stalled_run() {
    let mut io: SimIO<Ctx> = SimIO::new(3, 16, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    io.recv(server, buf(8), .., 1, on_recv).unwrap();
    let event = io.open_event().unwrap();
    io.event_listen(event, 2, on_event).unwrap();
    assert_eq!(io.run_until_done(&mut ctx), Err(RunError::Stalled));
    assert_eq!(io.run_once(&mut ctx), Err(RunError::Stalled));
    assert_eq!(io.in_flight(), 2);
    // Something that can complete is enough for the run to go on.
    io.event_trigger(event).unwrap();
    assert_eq!(io.run_once(&mut ctx), Ok(()));
    io.close(client, 3, on_close).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(1), Some("Ok(0)"), "the peer's close ends the recv");
    close(&mut io, &mut ctx, server);
    io.close_event(event).unwrap();
}

#[test]
fn adopt_and_hand_back_descriptors() {
    let _g = exclusive();
    let mut io: IO<Ctx> = IO::with_options(support::real_options(16)).unwrap();
    let mut ctx = Ctx::default();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address: SocketAddr = std_listener.local_addr().unwrap();
    let listener = io.adopt(OwnedFd::from(std_listener)).unwrap();
    assert_eq!(io.local_address(listener), Ok(address));
    // Adopted listeners are non-blocking: an accept with nobody connecting
    // parks instead of blocking the loop.
    let pending = io.accept(listener, 1, on_accept).unwrap();
    assert_eq!(io.run_until_done_within(&mut ctx, 10_000_000), Err(RunError::DeadlinePassed));
    assert_eq!(io.hand_back(listener).err(), Some(HandOffError::Busy), "an accept is pending");
    let _client = std::net::TcpStream::connect(address).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(1), Some("Ok(())"));
    let _ = pending;
    let accepted = ctx.fds.pop().unwrap();
    let owned = io.hand_back(listener).unwrap();
    assert_eq!(owned.as_raw_fd(), listener.raw());
    let back = std::net::TcpListener::from(owned);
    assert_eq!(back.local_addr().unwrap(), address, "the caller owns a working listener again");
    assert_eq!(close(&mut io, &mut ctx, accepted), "Ok(())");
    assert_eq!(io.hand_back(Fd::from_raw(-1)).err(), Some(HandOffError::BadFileDescriptor));
    assert_eq!(io.hand_back(accepted).err(), Some(HandOffError::BadFileDescriptor), "closed");
    let file =
        std::fs::File::create(Path::new(env!("CARGO_TARGET_TMPDIR")).join("adopted")).unwrap();
    let file = io.adopt(OwnedFd::from(file)).unwrap();
    io.write(file, Buffer::from_slice(b"abc").unwrap(), .., 0, 2, on_write).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(2), Some("Ok(3)"));
    drop(io.hand_back(file).unwrap());
}

#[test]
fn both_backends_debug_print() {
    let _g = support::shared();
    let io: IO<Ctx> = IO::init(4).unwrap();
    let sim: SimIO<Ctx> = SimIO::new(1, 4, FaultConfig::none());
    assert!(format!("{io:?}").starts_with("IO"));
    assert!(format!("{sim:?}").starts_with("SimIO"));
}
