//! Resource exhaustion and extreme values, on both backends: every
//! submit refused with `NoFreeSlot` (buffers handed back) when the slots
//! are full, then the loop carries on; no leak of descriptors or slots;
//! no overflow at the end of time.

mod support;

use std::path::Path;

use support::scripted::*;
use support::{Backend, both_backends, exclusive};
use twinio::*;

/// All slots taken: every kind of submit is refused with `NoFreeSlot`, the
/// buffer comes back untouched, nothing is queued, and once the slots free
/// up everything works again.
fn every_submit_refused_when_full<B: Backend<Ctx>>() {
    let _g = exclusive();
    const ENTRIES: u32 = 4;
    let mut io = B::io(ENTRIES);
    let mut ctx = Ctx::default();
    let dir = B::dir("full");
    let d = io.open_dir(&dir).unwrap();
    let f = io
        .open_data_file(d, Path::new("f"), 4096, FilePurpose::Format, DirectIo::Disabled)
        .unwrap();
    let (client, server) = connected(&mut io, &mut ctx);
    let (l, address) = listener(&mut io);
    let event = io.open_event().unwrap();
    let ids: Vec<OpId> =
        (0..ENTRIES as u64).map(|t| io.timeout(LONG, t, on_timeout).unwrap()).collect();
    assert_eq!(io.in_flight(), ENTRIES as usize);

    let full = Buffer::from_slice(b"keep me").unwrap();
    let check = |r: Result<OpId, Rejected<Buffer>>| {
        let rejected = r.expect_err("refused");
        assert_eq!(rejected.error, SubmitError::NoFreeSlot);
        assert_eq!(&rejected.returned[..], b"keep me");
        rejected.returned
    };
    let b = check(io.recv(server, full, .., 100, on_recv));
    let b = check(io.send(client, b, .., 100, on_send));
    let b = check(io.read(f, b, .., 0, 100, on_read));
    let b = check(io.write(f, b, .., 0, 100, on_write));
    drop(b);
    let e = SubmitError::NoFreeSlot;
    assert_eq!(io.accept(l, 100, on_accept).map(drop), Err(e));
    assert_eq!(io.connect(client, address, 100, on_connect).map(drop), Err(e));
    assert_eq!(io.fsync(f, FsyncMode::Full, 100, on_fsync).map(drop), Err(e));
    assert_eq!(io.close(f, 100, on_close).map(drop), Err(e));
    assert_eq!(io.timeout(0, 100, on_timeout).map(drop), Err(e));
    assert_eq!(io.event_listen(event, 100, on_event).map(drop), Err(e));
    // Refused submits queued nothing: no callback for tag 100, ever.
    io.tick(&mut ctx).unwrap();
    assert_eq!(io.in_flight(), ENTRIES as usize);

    // Free one slot: the event has no listener left behind by the refusal.
    io.cancel(ids[0]).unwrap();
    io.run_once(&mut ctx).unwrap();
    io.event_listen(event, 101, on_event).unwrap();
    io.event_trigger(event).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 101), "Ok(())");
    // The file is still open (the refused close did nothing).
    io.write(f, Buffer::from_slice(b"x").unwrap(), .., 0, 102, on_write).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 102), "Ok(1)");
    assert_eq!(io.cancel_all(), ENTRIES as usize - 1);
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.count(100), 0, "{:?}", ctx.log);
    assert_eq!(io.in_flight(), 0);
    // Every slot is usable again, many times over.
    for round in 0..3u64 {
        for t in 0..ENTRIES as u64 {
            io.timeout(0, 1_000 + round * 10 + t, on_timeout).unwrap();
        }
        assert_eq!(io.timeout(0, 0, on_timeout).map(drop), Err(e));
        io.run_until_done(&mut ctx).unwrap();
    }
    assert_eq!(ctx.log.iter().filter(|e| e.tag >= 1_000).count(), 12);
    for fd in [client, server, l, f, d] {
        assert_eq!(close(&mut io, &mut ctx, fd), "Ok(())");
    }
    io.close_event(event).unwrap();
}

const LONG: u64 = 10_000_000_000;

/// A callback that fills the slots its own completion freed: the
/// completion's slot is free while its callback runs.
fn callback_can_reuse_its_own_slot<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(1);
    let mut ctx = Ctx::default();
    io.timeout(0, 1, on_timeout).unwrap();
    ctx.on(1, Action::Submit(2));
    ctx.on(2, Action::Submit(3));
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.outcomes, ["submit Ok(())", "submit Ok(())"]);
    assert_eq!(ctx.tags(), [1, 2, 3]);
}

/// Many sockets, events and files opened and closed: the real backend ends
/// with the descriptors it started with; both end with no op in flight.
fn no_leak_after_churn<B: Backend<Ctx>>() {
    let _g = exclusive();
    let before = open_fds();
    {
        let mut io = B::io(64);
        let mut ctx = Ctx::default();
        let dir = B::dir("churn");
        let d = io.open_dir(&dir).unwrap();
        for round in 0..20u64 {
            let (client, server) = connected(&mut io, &mut ctx);
            // A pending recv and accept closed under their feet.
            let (l, _) = listener(&mut io);
            io.recv(server, buf(8), .., 1, on_recv).unwrap();
            io.accept(l, 2, on_accept).unwrap();
            io.tick(&mut ctx).unwrap();
            let name = format!("f{round}");
            let f = io
                .open_data_file(d, Path::new(&name), 4096, FilePurpose::Format, DirectIo::Disabled)
                .unwrap();
            // Refused opens must not leak what they opened.
            let again =
                io.open_data_file(d, Path::new(&name), 4096, FilePurpose::Open, DirectIo::Disabled);
            assert_eq!(again.map(drop), Err(OpenError::Locked));
            let wrong = io.open_data_file(
                d,
                Path::new(&name),
                8192,
                FilePurpose::Inspect,
                DirectIo::Disabled,
            );
            assert_eq!(wrong.map(drop), Err(OpenError::SizeMismatch));
            let e = io.open_event().unwrap();
            io.event_listen(e, 3, on_event).unwrap();
            io.close_event(e).unwrap();
            for fd in [client, server, l, f] {
                io.close(fd, 4, on_close).unwrap();
            }
            io.run_until_done(&mut ctx).unwrap();
            assert_eq!(ctx.count(4), 4, "{:?}", ctx.log);
            assert!(ctx.log.iter().all(|e| e.tag != 4 || e.what == "Ok(())"), "{:?}", ctx.log);
            assert_eq!(ctx.get(1), Some("Err(Canceled)"));
            assert_eq!(ctx.get(2), Some("Err(Canceled)"));
            assert_eq!(ctx.get(3), Some("Err(Canceled)"));
            ctx.log.clear();
        }
        close(&mut io, &mut ctx, d);
        assert_eq!(io.in_flight(), 0);
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// Virtual time run to its very end, then used: no overflow anywhere.
#[test]
fn sim_survives_the_end_of_time() {
    let _g = exclusive();
    let mut io: SimIO<Ctx> = SimIO::new(3, 64, FaultConfig::swarm(3));
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    io.timeout(u64::MAX, 1, on_timeout).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.now_ns(), u64::MAX);
    assert_eq!(ctx.get(1), Some("Ok(())"));
    io.run_for_ns(&mut ctx, u64::MAX).unwrap();
    io.timeout(5, 2, on_timeout).unwrap();
    io.send(client, Buffer::from_slice(b"late").unwrap(), .., 3, on_send).unwrap();
    io.recv(server, buf(8), .., 4, on_recv).unwrap();
    let dir = io.open_dir(Path::new("/end")).unwrap();
    let f = io
        .open_data_file(dir, Path::new("f"), 4096, FilePurpose::Format, DirectIo::Disabled)
        .unwrap();
    io.write(f, buf(4096), .., 0, 5, on_write).unwrap();
    io.fsync(f, FsyncMode::Full, 6, on_fsync).unwrap();
    io.read(f, buf(4096), .., 0, 7, on_read).unwrap();
    for _ in 0..100 {
        io.run_for_ns(&mut ctx, 1_000_000).unwrap();
    }
    assert_eq!(ctx.count(2), 1);
    let node = io.current_node();
    io.crash_node(node).unwrap();
    io.restart_node(node).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.in_flight(), 0);
}

/// The real IO with file workers: a file op on a huge descriptor number
/// fails with a typed error instead of growing a table to that size.
#[test]
fn file_workers_with_a_huge_descriptor_number() {
    let _g = exclusive();
    let mut options = IoOptions::new(8);
    options = options.file_workers(1);
    let mut io: IO<Ctx> = IO::with_options(options).unwrap();
    let mut ctx = Ctx::default();
    let huge = Fd::from_raw(i32::MAX - 1);
    io.read(huge, buf(8), .., 0, 1, on_read).unwrap();
    io.write(huge, buf(8), .., 0, 2, on_write).unwrap();
    io.fsync(huge, FsyncMode::Full, 3, on_fsync).unwrap();
    io.close(huge, 4, on_close).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(1), Some("Err(NotOpenForReading)"));
    assert_eq!(ctx.get(2), Some("Err(NotOpenForWriting)"));
    assert_eq!(ctx.get(3), Some("Err(BadFileDescriptor)"));
    assert_eq!(ctx.get(4), Some("Err(BadFileDescriptor)"));
}

both_backends!(
    every_submit_refused_when_full,
    callback_can_reuse_its_own_slot,
    no_leak_after_churn
);

/// Slot counts too large for memory are a typed error, never an abort.
#[test]
fn init_with_more_entries_than_memory_is_an_error() {
    let _g = exclusive();
    for entries in [0, 1 << 31, u32::MAX] {
        let result = IO::<Ctx>::init(entries).map(drop);
        assert!(result.is_err(), "{entries}: {result:?}");
    }
    // The twin clamps instead (documented): it never allocates more than
    // 2^20 slots.
    let sim: SimIO<Ctx> = SimIO::new(1, u32::MAX, FaultConfig::none());
    assert_eq!(sim.entries(), 1 << 20);
    assert_eq!(SimIO::<Ctx>::new(1, 0, FaultConfig::none()).entries(), 1);
}
