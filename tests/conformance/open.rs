//! Data-file and directory opens: every purpose, size, path and lock
//! case, and names and paths at the kernel's limits.

use std::path::{Path, PathBuf};

use twinio::*;

use crate::harness::*;
use crate::ops::*;

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
        scenario!(path_double_slash),
        scenario!(open_dir_dot_dot),
        scenario!(open_dir_trailing_slash_and_dots),
    ]
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
