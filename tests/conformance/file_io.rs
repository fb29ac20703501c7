//! Reads and writes at every edge (end of file, past it, unaligned under
//! each `DirectIo`, zero length), every fsync mode, and file operations
//! on descriptors that are not data files.

use twinio::*;

use crate::harness::*;
use crate::ops::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(write_then_read_back),
        scenario!(read_never_written),
        scenario!(read_at_end),
        scenario!(read_past_end),
        scenario!(read_spanning_end),
        scenario!(write_at_end),
        scenario!(write_spanning_end),
        scenario!(write_far_past_end),
        scenario!(reopen_after_write_past_end),
        scenario!(zero_length_read_and_write),
        scenario!(offset_overflow),
        scenario!(range_out_of_bounds),
        scenario!(unaligned_offset_required),
        scenario!(unaligned_offset_optional),
        scenario!(unaligned_offset_disabled),
        scenario!(unaligned_length_required),
        scenario!(unaligned_length_disabled),
        scenario!(unaligned_address_required),
        scenario!(unaligned_address_disabled),
        scenario!(offset_512_required),
        scenario!(fsync_full),
        scenario!(fsync_data),
        scenario!(fsync_barrier),
        scenario!(fsync_full_or_plain),
        scenario!(fsync_directory),
        scenario!(fsync_socket),
        scenario!(fsync_bad_fd),
        scenario!(read_write_directory),
        scenario!(write_through_inspect),
        scenario!(read_write_socket),
        scenario!(read_write_closed),
        scenario!(reopen_keeps_data),
        scenario!(close_file_twice),
        scenario!(read_write_sub_range),
        scenario!(close_with_pending_write),
        scenario!(two_writes_same_sector_in_one_pass),
    ]
}

fn write_then_read_back<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    let mut data = Buffer::new(2 * SECTOR).unwrap();
    for (at, byte) in data.iter_mut().enumerate() {
        *byte = (at % 253) as u8;
    }
    write(io, &mut c, f, data, 0..2 * SECTOR, 0, 1);
    wait(io, &mut c, 1);
    write(io, &mut c, f, Buffer::from_slice(b"patch").unwrap(), 0..5, 4094, 2);
    wait(io, &mut c, 2);
    read(io, &mut c, f, Buffer::new(2 * SECTOR).unwrap(), 0..2 * SECTOR, 0, 3);
    wait(io, &mut c, 3);
    read(io, &mut c, f, Buffer::new(16).unwrap(), 0..16, 4090, 4);
    wait(io, &mut c, 4);
    finish(io, c, env, base)
}

fn read_never_written<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    read(io, &mut c, f, filled(SECTOR, 0xee), 0..SECTOR, SECTOR as u64, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn read_at_end<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    read(io, &mut c, f, Buffer::new(SECTOR).unwrap(), 0..SECTOR, SIZE, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn read_past_end<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    read(io, &mut c, f, Buffer::new(SECTOR).unwrap(), 0..SECTOR, SIZE * 16, 1);
    wait(io, &mut c, 1);
    read(io, &mut c, f, Buffer::new(8).unwrap(), 0..8, SIZE + 1, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn read_spanning_end<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    read(io, &mut c, f, Buffer::new(2 * SECTOR).unwrap(), 0..2 * SECTOR, SIZE - 100, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

/// A write at or past the end, then a reopen with the formatted size:
/// data files have a fixed size.
fn write_past<I: Io<Context = Ctx>>(io: &mut I, env: &Env, offset: u64, len: usize) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    write(io, &mut c, f, filled(len, b'p'), 0..len, offset, 1);
    wait(io, &mut c, 1);
    read(io, &mut c, f, Buffer::new(SECTOR).unwrap(), 0..SECTOR, SIZE, 2);
    wait(io, &mut c, 2);
    close(io, &mut c, f, 3);
    wait(io, &mut c, 3);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open);
    finish(io, c, env, base)
}

fn write_at_end<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    write_past(io, env, SIZE, SECTOR)
}

fn write_spanning_end<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    write_past(io, env, SIZE - SECTOR as u64, 2 * SECTOR)
}

fn write_far_past_end<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    write_past(io, env, 1 << 30, SECTOR)
}

fn reopen_after_write_past_end<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    write(io, &mut c, f, filled(SECTOR, b'a'), 0..SECTOR, SIZE - 1, 1);
    wait(io, &mut c, 1);
    close(io, &mut c, f, 2);
    wait(io, &mut c, 2);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn zero_length_read_and_write<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    read(io, &mut c, f, Buffer::new(8).unwrap(), 4..4, 0, 1);
    write(io, &mut c, f, Buffer::new(8).unwrap(), 8..8, 0, 2);
    finish(io, c, env, base)
}

fn offset_overflow<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    read(io, &mut c, f, Buffer::new(8).unwrap(), 0..8, u64::MAX, 1);
    write(io, &mut c, f, Buffer::new(8).unwrap(), 0..8, i64::MAX as u64 - 3, 2);
    read(io, &mut c, f, Buffer::new(8).unwrap(), 0..8, i64::MAX as u64 - 8, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn range_out_of_bounds<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    read(io, &mut c, f, Buffer::new(8).unwrap(), 0..9, 0, 1);
    #[allow(clippy::reversed_empty_ranges)]
    write(io, &mut c, f, Buffer::new(8).unwrap(), 5..3, 0, 2);
    finish(io, c, env, base)
}

/// A read and a write at `offset` of `range` of a buffer of two sectors.
fn transfer<I: Io<Context = Ctx>>(
    io: &mut I,
    env: &Env,
    direct: DirectIo,
    range: std::ops::Range<usize>,
    offset: u64,
) -> Outcome {
    let (mut c, base, f) = formatted(io, env, direct);
    write(io, &mut c, f, filled(2 * SECTOR, b'u'), range.clone(), offset, 1);
    wait(io, &mut c, 1);
    read(io, &mut c, f, Buffer::new(2 * SECTOR).unwrap(), range, offset, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn unaligned_offset_required<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Required, 0..SECTOR, 1)
}

fn unaligned_offset_optional<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Optional, 0..SECTOR, 1)
}

fn unaligned_offset_disabled<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Disabled, 0..SECTOR, 1)
}

fn unaligned_length_required<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Required, 0..100, 0)
}

fn unaligned_length_disabled<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Disabled, 0..100, 0)
}

fn unaligned_address_required<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Required, 1..SECTOR + 1, 0)
}

fn unaligned_address_disabled<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Disabled, 1..SECTOR + 1, 0)
}

fn offset_512_required<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    transfer(io, env, DirectIo::Required, 0..512, 512)
}

fn fsync_mode<I: Io<Context = Ctx>>(io: &mut I, env: &Env, mode: FsyncMode) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    write(io, &mut c, f, filled(SECTOR, b'd'), 0..SECTOR, 0, 1);
    wait(io, &mut c, 1);
    fsync(io, &mut c, f, mode, 2);
    wait(io, &mut c, 2);
    fsync(io, &mut c, f, mode, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn fsync_full<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    fsync_mode(io, env, FsyncMode::Full)
}

fn fsync_data<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    fsync_mode(io, env, FsyncMode::Data)
}

fn fsync_barrier<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    fsync_mode(io, env, FsyncMode::Barrier)
}

fn fsync_full_or_plain<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    fsync_mode(io, env, FsyncMode::FullOrPlain)
}

fn fsync_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    fsync(io, &mut c, d, FsyncMode::Full, 1);
    wait(io, &mut c, 1);
    fsync(io, &mut c, d, FsyncMode::Data, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn fsync_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    fsync(io, &mut c, s, FsyncMode::Full, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn fsync_bad_fd<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    fsync(io, &mut c, Fd::from_raw(100_000), FsyncMode::Full, 1);
    wait(io, &mut c, 1);
    fsync(io, &mut c, Fd::from_raw(-1), FsyncMode::Full, 2);
    finish(io, c, env, base)
}

fn read_write_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    read(io, &mut c, d, Buffer::new(SECTOR).unwrap(), 0..SECTOR, 0, 1);
    wait(io, &mut c, 1);
    write(io, &mut c, d, Buffer::new(SECTOR).unwrap(), 0..SECTOR, 0, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn write_through_inspect<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = closed_file(io, env);
    let g = open_as(io, &mut c, d, "f", SIZE, FilePurpose::Inspect).or_bad();
    write(io, &mut c, g, filled(SECTOR, b'i'), 0..SECTOR, 0, 2);
    wait(io, &mut c, 2);
    read(io, &mut c, g, Buffer::new(SECTOR).unwrap(), 0..SECTOR, 0, 3);
    wait(io, &mut c, 3);
    fsync(io, &mut c, g, FsyncMode::Full, 4);
    wait(io, &mut c, 4);
    finish(io, c, env, base)
}

fn read_write_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    read(io, &mut c, s, Buffer::new(8).unwrap(), 0..8, 0, 1);
    wait(io, &mut c, 1);
    write(io, &mut c, s, Buffer::new(8).unwrap(), 0..8, 0, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn read_write_closed<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let f = Fd::from_raw(100_000);
    read(io, &mut c, f, Buffer::new(8).unwrap(), 0..8, 0, 1);
    wait(io, &mut c, 1);
    write(io, &mut c, f, Buffer::new(8).unwrap(), 0..8, 0, 2);
    wait(io, &mut c, 2);
    read(io, &mut c, Fd::from_raw(-1), Buffer::new(8).unwrap(), 0..8, 0, 3);
    finish(io, c, env, base)
}

fn reopen_keeps_data<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    write(io, &mut c, f, filled(SECTOR, b'k'), 0..SECTOR, SECTOR as u64, 1);
    wait(io, &mut c, 1);
    fsync(io, &mut c, f, FsyncMode::Full, 2);
    wait(io, &mut c, 2);
    close(io, &mut c, f, 3);
    wait(io, &mut c, 3);
    let g = open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open).or_bad();
    read(io, &mut c, g, Buffer::new(2 * SECTOR).unwrap(), 0..2 * SECTOR, 0, 4);
    wait(io, &mut c, 4);
    finish(io, c, env, base)
}

fn close_file_twice<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    close(io, &mut c, f, 1);
    wait(io, &mut c, 1);
    close(io, &mut c, f, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn read_write_sub_range<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    write(io, &mut c, f, Buffer::from_slice(b"..abcdef..").unwrap(), 2..8, 10, 1);
    wait(io, &mut c, 1);
    let result = io.read(f, filled(12, b'-'), 3..11, 8, 2, |ctx: &mut Ctx, _, done| {
        ctx.note(format!("t2 read {:?} buffer {:?}", done.result, &done.buffer[..]));
        ctx.note_seen(2);
    });
    c.remember(2, result.map_err(|r| r.error));
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

/// A close submitted behind a write and an fsync on the same file: file
/// operations are not withdrawn by a close; order and results.
fn close_with_pending_write<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    write(io, &mut c, f, filled(SECTOR, b'c'), 0..SECTOR, 0, 1);
    fsync(io, &mut c, f, FsyncMode::Full, 2);
    close(io, &mut c, f, 3);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn two_writes_same_sector_in_one_pass<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = formatted(io, env, DirectIo::Disabled);
    write(io, &mut c, f, filled(SECTOR, b'1'), 0..SECTOR, 0, 1);
    write(io, &mut c, f, filled(16, b'2'), 0..16, 8, 2);
    drain(io, &mut c);
    read(io, &mut c, f, Buffer::new(32).unwrap(), 0..32, 0, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}
