//! The real IO's file driver (`FileDriver`): which one init chooses, and
//! the semantics every driver must give — exactly one callback per file
//! operation, a cancel of one in flight, a close that waits for the file
//! operations in flight on its descriptor.
//!
//! The behaviour tests run on the driver `TWINIO_FILE_DRIVER` names (see
//! `tests/support`); `.ci/run` runs this file once per driver, and once
//! with the io_uring refused (`TWINIO_IO_URING_REFUSE=1`).

mod support;

use std::path::Path;

use support::{Backend, Real, shared, temp_dir};
use twinio::*;

const SECTOR: usize = SECTOR_SIZE;
const OPS: usize = 16;

fn refusal_requested() -> bool {
    std::env::var_os("TWINIO_IO_URING_REFUSE").is_some_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn auto_is_the_io_uring_where_granted_else_the_loop_thread() {
    let forced = IO::<()>::with_options(IoOptions::new(8).file_driver(FileDriver::IoUring));
    let auto = IO::<()>::init(8).expect("init");
    if refusal_requested() {
        assert_eq!(forced.as_ref().err(), Some(&InitError::IoUring(Errno::EPERM)));
    }
    if !cfg!(target_os = "linux") {
        assert_eq!(forced.as_ref().err(), Some(&InitError::IoUring(Errno::ENOSYS)));
    }
    match forced {
        Ok(io) => {
            assert_eq!(io.file_driver(), FileDriver::IoUring);
            assert_eq!(auto.file_driver(), FileDriver::IoUring);
        }
        Err(InitError::IoUring(_)) => assert_eq!(auto.file_driver(), FileDriver::LoopThread),
        Err(other) => panic!("forcing the io_uring failed otherwise: {other}"),
    }
    let workers = IO::<()>::with_options(IoOptions::new(8).file_workers(3)).expect("init");
    assert_eq!((workers.file_driver(), workers.file_workers()), (FileDriver::Workers(3), 3));
    let none = IO::<()>::with_options(IoOptions::new(8).file_workers(0)).expect("init");
    assert_eq!(none.file_driver(), FileDriver::LoopThread);
    let looped =
        IO::<()>::with_options(IoOptions::new(8).file_driver(FileDriver::LoopThread)).unwrap();
    assert_eq!((looped.file_driver(), looped.file_workers()), (FileDriver::LoopThread, 0));
}

/// Completions by tag, in the order their callbacks ran.
#[derive(Default)]
struct Log {
    done: Vec<(u64, String)>,
    buffers: Vec<Buffer>,
}

fn on_write(log: &mut Log, _: &mut IO<Log>, done: WriteDone) {
    log.done.push((done.tag, format!("{:?}", done.result)));
    log.buffers.push(done.buffer);
}

fn on_read(log: &mut Log, _: &mut IO<Log>, done: ReadDone) {
    log.done.push((done.tag, format!("{:?}", done.result)));
    log.buffers.push(done.buffer);
}

fn on_fsync(log: &mut Log, _: &mut IO<Log>, done: FsyncDone) {
    log.done.push((done.tag, format!("{:?}", done.result)));
}

fn on_close(log: &mut Log, _: &mut IO<Log>, done: CloseDone) {
    log.done.push((done.tag, format!("{:?}", done.result)));
}

fn open(io: &mut IO<Log>, dir: &Path, purpose: FilePurpose) -> (Fd, Fd) {
    let dir = io.open_dir(dir).expect("open_dir");
    let size = (OPS * SECTOR) as u64;
    let file = io
        .open_data_file(dir, Path::new("data"), size, purpose, DirectIo::Disabled)
        .expect("open data file");
    (dir, file)
}

fn sector(byte: u8) -> Buffer {
    Buffer::from_slice(&[byte; SECTOR]).expect("buffer")
}

#[test]
fn close_waits_for_the_file_operations_in_flight() {
    let _g = shared();
    let tmp = temp_dir("driver-close");
    let mut io: IO<Log> = Real::io(64);
    let mut log = Log::default();
    let (dir, file) = open(&mut io, tmp.path(), FilePurpose::Format);
    // Submitted together: attempted in one drain, so on the io_uring or the
    // workers the close is attempted while every write is in flight.
    for i in 0..OPS {
        io.write(file, sector(i as u8 + 1), .., (i * SECTOR) as u64, i as u64, on_write).unwrap();
    }
    io.fsync(file, FsyncMode::Data, 100, on_fsync).unwrap();
    io.close(file, 200, on_close).unwrap();
    io.run_until_done_within(&mut log, 10_000_000_000).unwrap();

    assert_eq!(log.done.len(), OPS + 2, "one callback per operation: {:?}", log.done);
    assert_eq!(log.done.last(), Some(&(200, "Ok(())".to_string())), "the close ran last");
    let mut writes: Vec<_> = log.done.iter().filter(|(tag, _)| *tag < 100).cloned().collect();
    writes.sort();
    let expected: Vec<_> = (0..OPS).map(|i| (i as u64, format!("Ok({SECTOR})"))).collect();
    assert_eq!(writes, expected);
    assert!(log.done.contains(&(100, "Ok(())".to_string())), "{:?}", log.done);

    // Every write landed before the descriptor was closed.
    let (dir2, file) = open(&mut io, tmp.path(), FilePurpose::Open);
    for i in 0..OPS {
        io.read(file, sector(0), .., (i * SECTOR) as u64, 300 + i as u64, on_read).unwrap();
    }
    io.close(file, 400, on_close).unwrap();
    io.close(dir, 401, on_close).unwrap();
    io.close(dir2, 402, on_close).unwrap();
    log.buffers.clear();
    io.run_until_done_within(&mut log, 10_000_000_000).unwrap();
    let mut contents: Vec<u8> = log.buffers.iter().map(|b| b[0]).collect();
    contents.sort();
    assert_eq!(contents, (1..=OPS as u8).collect::<Vec<_>>());
}

#[test]
fn a_cancel_of_file_operations_in_flight_gives_one_callback_each() {
    let _g = shared();
    let tmp = temp_dir("driver-cancel");
    let mut io: IO<Log> = Real::io(64);
    let mut log = Log::default();
    let (dir, file) = open(&mut io, tmp.path(), FilePurpose::Format);
    let mut ids = Vec::new();
    for i in 0..OPS {
        let offset = (i * SECTOR) as u64;
        ids.push(io.read(file, sector(0), .., offset, i as u64, on_read).unwrap());
    }
    // One pass attempts them all: on the io_uring they are submitted, on
    // the workers queued, on the loop thread already complete.
    io.flush(&mut log, false).unwrap();
    let driver = io.file_driver();
    for &id in &ids {
        let first = io.cancel(id);
        let second = io.cancel(id);
        match driver {
            // In flight until the next poll reaps it: the kernel is asked,
            // and the op stays in flight, marked canceled.
            FileDriver::IoUring => {
                assert_eq!((first, second), (Ok(()), Err(CancelError::AlreadyCanceled)));
            }
            // Results are harvested only by the next poll: still on a worker.
            FileDriver::Workers(_) => assert_eq!(first, Err(CancelError::Running)),
            _ => assert_eq!(first, Err(CancelError::NotRunning)),
        }
    }
    io.close(file, 200, on_close).unwrap();
    io.close(dir, 201, on_close).unwrap();
    io.run_until_done_within(&mut log, 10_000_000_000).unwrap();
    for i in 0..OPS as u64 {
        let results: Vec<_> = log.done.iter().filter(|(tag, _)| *tag == i).collect();
        assert_eq!(results.len(), 1, "op {i}: {:?}", log.done);
        let result = &results[0].1;
        // A read of a formatted (zeroed) file: its bytes, or canceled.
        assert!(result == &format!("Ok({SECTOR})") || result == "Err(Canceled)", "{result}");
    }
    assert_eq!(log.done.len(), OPS + 2);
}

/// The IO's only operation, in a pass that may block, runs on the loop
/// thread (the thread would only wait for it): its callback runs in that
/// pass, whatever the driver. With a second operation in flight, or in a
/// pass that must not block, it goes to the driver (which, on the loop
/// thread's driver, runs it there too), and the pass that hands it over
/// cannot have run its callback.
#[test]
fn the_only_operation_of_a_waiting_pass_runs_on_the_loop_thread() {
    let _g = shared();
    let tmp = temp_dir("driver-sole");
    let mut io: IO<Log> = Real::io(64);
    let handed_over = io.file_driver() != FileDriver::LoopThread;
    let mut log = Log::default();
    let (dir, file) = open(&mut io, tmp.path(), FilePurpose::Format);

    io.write(file, sector(1), .., 0, 1, on_write).unwrap();
    io.flush(&mut log, true).unwrap();
    assert_eq!(log.done, [(1, format!("Ok({SECTOR})"))], "the only op ran in its pass");

    io.write(file, sector(2), .., SECTOR as u64, 2, on_write).unwrap();
    io.flush(&mut log, false).unwrap();
    assert_eq!(log.done.len(), if handed_over { 1 } else { 2 }, "{:?}", log.done);
    io.run_until_done_within(&mut log, 10_000_000_000).unwrap();

    io.write(file, sector(3), .., 2 * SECTOR as u64, 3, on_write).unwrap();
    io.read(file, sector(0), .., 0, 4, on_read).unwrap();
    io.flush(&mut log, true).unwrap();
    assert_eq!(log.done.len(), if handed_over { 2 } else { 4 }, "{:?}", log.done);
    io.run_until_done_within(&mut log, 10_000_000_000).unwrap();
    assert_eq!(log.done.len(), 4, "one callback each: {:?}", log.done);
    // Writes and reads log a buffer each, in callback order.
    let read = log.done.iter().position(|(tag, _)| *tag == 4).expect("the read's callback");
    assert_eq!(log.buffers[read][0], 1, "the read saw the first write");

    io.close(file, 5, on_close).unwrap();
    io.close(dir, 6, on_close).unwrap();
    io.run_until_done_within(&mut log, 10_000_000_000).unwrap();
}
