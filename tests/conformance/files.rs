//! File scenarios: every `open_data_file` purpose, size, path and lock
//! case; reads and writes at every edge and under each `DirectIo`; every
//! fsync mode; names and paths at the kernel's limits.

use std::path::{Path, PathBuf};

use twinio::*;

use crate::harness::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(format_close_open),
        scenario!(format_existing),
        scenario!(open_missing),
        scenario!(inspect_missing),
        scenario!(open_size_mismatch),
        scenario!(inspect_size_mismatch),
        scenario!(open_locked),
        scenario!(format_then_inspect),
        scenario!(inspect_twice_then_open),
        scenario!(open_after_owner_closed),
        scenario!(size_zero),
        scenario!(size_not_sector_multiple),
        scenario!(size_above_off_t),
        scenario!(size_one_pebibyte),
        scenario!(size_one_pebibyte_missing),
        scenario!(path_absolute),
        scenario!(path_empty),
        scenario!(path_nul),
        scenario!(path_dot_dot),
        scenario!(path_trailing_slash),
        scenario!(path_dot),
        scenario!(path_dot_components),
        scenario!(path_missing_subdirectory),
        scenario!(path_missing_subdirectory_open),
        scenario!(path_in_opened_subdirectory),
        scenario!(path_under_file),
        scenario!(path_is_directory),
        scenario!(name_255),
        scenario!(name_256),
        scenario!(path_4095),
        scenario!(path_4096),
        scenario!(open_dir_missing),
        scenario!(open_dir_on_file),
        scenario!(open_dir_name_256),
        scenario!(open_dir_empty),
        scenario!(dir_fd_is_a_file),
        scenario!(dir_fd_is_a_socket),
        scenario!(dir_fd_bad),
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
        scenario!(path_double_slash),
        scenario!(open_dir_dot_dot),
        scenario!(open_dir_trailing_slash_and_dots),
    ]
}

const SIZE: u64 = 8192;
const SECTOR: usize = SECTOR_SIZE;

fn dir<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).expect("the scenario's directory opens");
    (c, base, d)
}

fn format<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx, d: Fd, name: &str) -> Option<Fd> {
    open_file(io, c, d, Path::new(name), SIZE, FilePurpose::Format, DirectIo::Disabled)
}

fn formatted<I: Io<Context = Ctx>>(io: &mut I, env: &Env, direct: DirectIo) -> (Ctx, i32, Fd) {
    let (mut c, base, d) = dir(io, env);
    let f = open_file(io, &mut c, d, Path::new("data"), SIZE, FilePurpose::Format, direct);
    (c, base, f.expect("format"))
}

fn open_as<I: Io<Context = Ctx>>(
    io: &mut I,
    c: &mut Ctx,
    d: Fd,
    name: &str,
    size: u64,
    purpose: FilePurpose,
) -> Option<Fd> {
    open_file(io, c, d, Path::new(name), size, purpose, DirectIo::Disabled)
}

fn format_close_open<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    close(io, &mut c, f, 1);
    wait(io, &mut c, 1);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open);
    finish(io, c, env, base)
}

fn format_existing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    format(io, &mut c, d, "f");
    close(io, &mut c, f, 1);
    wait(io, &mut c, 1);
    format(io, &mut c, d, "f");
    finish(io, c, env, base)
}

fn open_missing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    open_as(io, &mut c, d, "missing", SIZE, FilePurpose::Open);
    finish(io, c, env, base)
}

fn inspect_missing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    open_as(io, &mut c, d, "missing", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn closed_file<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    close(io, &mut c, f, 1);
    wait(io, &mut c, 1);
    (c, base, d)
}

fn open_size_mismatch<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = closed_file(io, env);
    open_as(io, &mut c, d, "f", SIZE * 2, FilePurpose::Open);
    open_as(io, &mut c, d, "f", SIZE / 2, FilePurpose::Open);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open);
    finish(io, c, env, base)
}

fn inspect_size_mismatch<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = closed_file(io, env);
    open_as(io, &mut c, d, "f", SIZE * 2, FilePurpose::Inspect);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn open_locked<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "f").or_bad();
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open);
    // The lock is checked before the size.
    open_as(io, &mut c, d, "f", SIZE * 2, FilePurpose::Open);
    finish(io, c, env, base)
}

fn format_then_inspect<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    write(io, &mut c, f, filled(SECTOR, b'w'), 0..SECTOR, 0, 1);
    wait(io, &mut c, 1);
    let g = open_as(io, &mut c, d, "f", SIZE, FilePurpose::Inspect).or_bad();
    read(io, &mut c, g, Buffer::new(SECTOR).unwrap(), 0..SECTOR, 0, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn inspect_twice_then_open<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = closed_file(io, env);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Inspect);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Inspect);
    // Inspect takes no lock: Open still succeeds.
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open);
    finish(io, c, env, base)
}

fn open_after_owner_closed<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = closed_file(io, env);
    let f = open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open).or_bad();
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open);
    close(io, &mut c, f, 2);
    wait(io, &mut c, 2);
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Open);
    finish(io, c, env, base)
}

fn sizes<I: Io<Context = Ctx>>(io: &mut I, env: &Env, size: u64) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    for purpose in [FilePurpose::Format, FilePurpose::Open, FilePurpose::Inspect] {
        open_as(io, &mut c, d, "f", size, purpose);
    }
    finish(io, c, env, base)
}

fn size_zero<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    sizes(io, env, 0)
}

fn size_not_sector_multiple<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    sizes(io, env, SIZE + 512)
}

fn size_above_off_t<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    sizes(io, env, 1 << 63)
}

fn size_one_pebibyte<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    open_as(io, &mut c, d, "f", 1 << 50, FilePurpose::Format);
    finish(io, c, env, base)
}

fn size_one_pebibyte_missing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    open_as(io, &mut c, d, "missing", 1 << 50, FilePurpose::Open);
    open_as(io, &mut c, d, "missing", 1 << 50, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn bad_path<I: Io<Context = Ctx>>(io: &mut I, env: &Env, path: &Path) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    for purpose in [FilePurpose::Format, FilePurpose::Open, FilePurpose::Inspect] {
        open_file(io, &mut c, d, path, SIZE, purpose, DirectIo::Disabled);
    }
    finish(io, c, env, base)
}

fn path_absolute<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, Path::new("/etc/passwd"))
}

fn path_empty<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, Path::new(""))
}

fn path_nul<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, Path::new("a\0b"))
}

fn path_dot_dot<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, Path::new("sub/../f"))
}

fn path_trailing_slash<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, Path::new("f/"))
}

fn path_dot<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, Path::new("."))
}

fn path_dot_components<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "./f");
    open_as(io, &mut c, d, "f", SIZE, FilePurpose::Inspect);
    open_as(io, &mut c, d, "./././f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn path_missing_subdirectory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "sub/deeper/f");
    open_as(io, &mut c, d, "sub/deeper/f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn path_missing_subdirectory_open<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    open_as(io, &mut c, d, "nowhere/f", SIZE, FilePurpose::Open);
    open_as(io, &mut c, d, "nowhere/f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn path_in_opened_subdirectory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let sub = open_dir(io, &mut c, &env.dir.join("sub")).or_bad();
    let f = format(io, &mut c, sub, "f").or_bad();
    write(io, &mut c, f, filled(SECTOR, b's'), 0..SECTOR, 0, 1);
    wait(io, &mut c, 1);
    // The same file, named from the parent.
    let g = open_as(io, &mut c, d, "sub/f", SIZE, FilePurpose::Inspect).or_bad();
    read(io, &mut c, g, Buffer::new(SECTOR).unwrap(), 0..SECTOR, 0, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn path_under_file<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "f").or_bad();
    format(io, &mut c, d, "f/g");
    open_as(io, &mut c, d, "f/g", SIZE, FilePurpose::Open);
    open_dir(io, &mut c, &env.dir.join("f"));
    open_dir(io, &mut c, &env.dir.join("f/g"));
    finish(io, c, env, base)
}

fn path_is_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "sub/f").or_bad();
    for purpose in [FilePurpose::Format, FilePurpose::Open, FilePurpose::Inspect] {
        open_as(io, &mut c, d, "sub", SIZE, purpose);
    }
    finish(io, c, env, base)
}

fn name_of(len: usize) -> String {
    "n".repeat(len)
}

fn name_255<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, &name_of(255));
    open_as(io, &mut c, d, &name_of(255), SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn name_256<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, Path::new(&name_of(256)))
}

fn path_of(len: usize) -> PathBuf {
    long_path(len, 255)
}

fn path_4095<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let path = path_of(4095);
    open_file(io, &mut c, d, &path, SIZE, FilePurpose::Format, DirectIo::Disabled);
    open_file(io, &mut c, d, &path, SIZE, FilePurpose::Inspect, DirectIo::Disabled);
    finish(io, c, env, base)
}

fn path_4096<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    bad_path(io, env, &path_of(4096))
}

fn open_dir_missing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _) = dir(io, env);
    let sub = open_dir(io, &mut c, &env.dir.join("a/b")).unwrap_or(Fd::from_raw(-1));
    format(io, &mut c, sub, "f");
    finish(io, c, env, base)
}

fn open_dir_on_file<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "f").or_bad();
    open_dir(io, &mut c, &env.dir.join("f"));
    finish(io, c, env, base)
}

fn open_dir_name_256<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _) = dir(io, env);
    open_dir(io, &mut c, &env.dir.join(name_of(256)));
    open_dir(io, &mut c, &env.dir.join(name_of(255)));
    finish(io, c, env, base)
}

fn open_dir_empty<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    open_dir(io, &mut c, Path::new(""));
    open_dir(io, &mut c, Path::new("a\0b"));
    finish(io, c, env, base)
}

fn dir_fd_is_a_file<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    format(io, &mut c, f, "g");
    finish(io, c, env, base)
}

fn dir_fd_is_a_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    format(io, &mut c, s, "g");
    finish(io, c, env, base)
}

fn dir_fd_bad<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    format(io, &mut c, Fd::from_raw(100_000), "g");
    format(io, &mut c, Fd::from_raw(-1), "g");
    finish(io, c, env, base)
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

fn path_double_slash<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "sub//f");
    open_as(io, &mut c, d, "sub/f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

/// `x/../y` names `y`: a file formatted through one is found through the
/// other.
fn open_dir_dot_dot<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _) = dir(io, env);
    let a = open_dir(io, &mut c, &env.dir.join("x/../y")).or_bad();
    format(io, &mut c, a, "f");
    let b = open_dir(io, &mut c, &env.dir.join("y")).or_bad();
    open_as(io, &mut c, b, "f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}

fn open_dir_trailing_slash_and_dots<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, d) = dir(io, env);
    format(io, &mut c, d, "f");
    let a = open_dir(io, &mut c, &env.dir.join("./")).or_bad();
    open_as(io, &mut c, a, "f", SIZE, FilePurpose::Inspect);
    let mut slashed = env.dir.clone().into_os_string();
    slashed.push("/");
    let b = open_dir(io, &mut c, Path::new(&slashed)).or_bad();
    open_as(io, &mut c, b, "f", SIZE, FilePurpose::Inspect);
    finish(io, c, env, base)
}
