//! Opening directories and data files: argument checks, the open itself,
//! locking, preallocation, direct IO and the syncs that make a new or
//! reopened file durable.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::direct_io;
use super::fsync::fsync;
use super::lock::lock_exclusive;
use super::preallocate::preallocate;
use crate::buffer::SECTOR_SIZE;
use crate::error::{Errno, OpenError};
use crate::options::{DirectIo, FilePurpose, FsyncMode};
use crate::sys::retry_eintr;

/// Opens the directory at `path` (relative to the working directory, or
/// absolute) for use as the `dir` of [`open_data_file`], creating it and
/// any missing parent first: directories are implicit, as in the twin.
pub(crate) fn open_dir(path: &Path) -> Result<i32, OpenError> {
    let c_path = c_path(path)?;
    check_lengths(path)?;
    create_dirs(libc::AT_FDCWD, path)?;
    let path = c_path;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    retry_eintr(|| unsafe { libc::open(path.as_ptr(), flags) }).map_err(OpenError::from_errno)
}

/// Opens, or for [`FilePurpose::Format`] creates, the data file at
/// `relative_path` under the directory `dir`; see `Io::open_data_file`.
/// Every error path closes what it opened.
pub(crate) fn open_data_file(
    dir: i32,
    relative_path: &Path,
    size: u64,
    purpose: FilePurpose,
    direct_io: DirectIo,
) -> Result<i32, OpenError> {
    let path = check_path(relative_path)?;
    check_size(size)?;
    // A negative `dir` could be AT_FDCWD (-100 on Linux), which would resolve
    // the path against the working directory instead of failing.
    if dir < 0 {
        return Err(OpenError::BadFileDescriptor);
    }
    let file = match purpose {
        FilePurpose::Format => format(dir, &path, relative_path, size, direct_io)?,
        FilePurpose::Open | FilePurpose::Inspect => {
            open_existing(dir, &path, relative_path, size, purpose, direct_io)?
        }
    };
    Ok(file.into_raw_fd())
}

fn format(
    dir: i32,
    path: &CString,
    relative_path: &Path,
    size: u64,
    direct_io: DirectIo,
) -> Result<OwnedFd, OpenError> {
    // Directories are implicit: create the missing ones on the way, but
    // only once the whole path is known to fit the kernel's limits, so a
    // refused path leaves nothing behind.
    check_lengths(relative_path)?;
    if let Some(parent) = parent(relative_path) {
        create_dirs(dir, parent)?;
    }
    // O_EXCL also refuses a symbolic link or anything else at the path.
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    let file = open_at(dir, path, flags)?;
    // If someone opened the file between our create and our lock, it is
    // theirs now: fail without removing it.
    lock_exclusive(file.as_raw_fd())?;
    match finish_format(dir, &file, relative_path, size, direct_io) {
        Ok(()) => Ok(file),
        Err(error) => {
            // We created it and hold its lock: a half-formatted file would
            // only make the retry fail with AlreadyExists. Best effort.
            // SAFETY: `path` is NUL-terminated and outlives the call.
            unsafe { libc::unlinkat(dir, path.as_ptr(), 0) };
            Err(error)
        }
    }
}

fn finish_format(
    dir: i32,
    file: &OwnedFd,
    relative_path: &Path,
    size: u64,
    direct_io: DirectIo,
) -> Result<(), OpenError> {
    let fd = file.as_raw_fd();
    preallocate(fd, size).map_err(OpenError::from_errno)?;
    sync_file_and_parent(dir, fd, relative_path)?;
    if stat(fd)?.st_size as u64 != size {
        return Err(OpenError::SizeMismatch);
    }
    direct_io::configure(fd, direct_io).map(drop)
}

fn open_existing(
    dir: i32,
    path: &CString,
    relative_path: &Path,
    size: u64,
    purpose: FilePurpose,
    direct_io: DirectIo,
) -> Result<OwnedFd, OpenError> {
    // Look before opening: opening a device or FIFO can have side effects
    // (or block). O_NOFOLLOW and the fstat below close the race with a
    // path swapped in between.
    if !is_regular(&stat_at(dir, path)?) {
        return Err(OpenError::NotRegularFile);
    }
    let access = if purpose == FilePurpose::Inspect { libc::O_RDONLY } else { libc::O_RDWR };
    let flags = access | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = open_at(dir, path, flags)?;
    let fd = file.as_raw_fd();
    let status = stat(fd)?;
    if !is_regular(&status) {
        return Err(OpenError::NotRegularFile);
    }
    direct_io::configure(fd, direct_io)?;
    if purpose == FilePurpose::Open {
        lock_exclusive(fd)?;
    }
    if status.st_size as u64 != size {
        return Err(OpenError::SizeMismatch);
    }
    if purpose == FilePurpose::Open {
        // A previous process may have written without syncing before it
        // crashed: its data is still in the page cache and would be read
        // back as if it were durable. Sync before anything trusts it.
        // Inspect neither writes nor syncs: it must change nothing.
        sync_file_and_parent(dir, fd, relative_path)?;
    }
    Ok(file)
}

/// Refuses empty, absolute and NUL-carrying paths, and paths that cannot
/// name a file under `dir`: a `..` component (it may leave `dir`; the twin
/// has no such escape) or a trailing `/` (a directory; what each system
/// answers for it differs). Returns the C string.
fn check_path(path: &Path) -> Result<CString, OpenError> {
    if path.has_root() {
        return Err(OpenError::AbsolutePath);
    }
    let c_path = c_path(path)?;
    if path.components().any(|c| c == Component::ParentDir)
        || path.as_os_str().as_bytes().ends_with(b"/")
    {
        return Err(OpenError::InvalidPath);
    }
    Ok(c_path)
}

/// `NameTooLong` for a path longer than `PATH_MAX` (with its NUL) or with
/// a name longer than `NAME_MAX`: what the kernel would answer, found
/// before anything is created.
fn check_lengths(path: &Path) -> Result<(), OpenError> {
    const NAME_MAX: usize = 255;
    let too_long = path.as_os_str().len() >= libc::PATH_MAX as usize
        || path.components().any(|c| c.as_os_str().len() > NAME_MAX);
    if too_long { Err(OpenError::NameTooLong) } else { Ok(()) }
}

/// Creates each missing directory along `path` (relative to `dir`, which
/// may be `AT_FDCWD`), syncing the parent of each one it creates so the new
/// entry is durable. A component that exists, whatever it is, is left for
/// the open that follows to judge (`ENOTDIR` for a file).
fn create_dirs(dir: i32, path: &Path) -> Result<(), OpenError> {
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        if !matches!(component, Component::Normal(_)) {
            continue;
        }
        let c_prefix = c_path(&prefix)?;
        // SAFETY: `c_prefix` is NUL-terminated and outlives the call.
        match retry_eintr(|| unsafe { libc::mkdirat(dir, c_prefix.as_ptr(), 0o777) }) {
            Ok(_) => {}
            Err(Errno::EEXIST) => continue,
            Err(errno) => return Err(OpenError::from_errno(errno)),
        }
        let parent = match prefix.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => c_path(parent)?,
            _ => c_path(Path::new("."))?,
        };
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let parent = open_at(dir, &parent, flags)?;
        sync(parent.as_raw_fd())?;
    }
    Ok(())
}

fn c_path(path: &Path) -> Result<CString, OpenError> {
    if path.as_os_str().is_empty() {
        return Err(OpenError::InvalidPath);
    }
    CString::new(path.as_os_str().as_bytes()).map_err(|_| OpenError::InvalidPath)
}

fn check_size(size: u64) -> Result<(), OpenError> {
    if size == 0 || !size.is_multiple_of(SECTOR_SIZE as u64) {
        return Err(OpenError::SizeNotSectorMultiple);
    }
    if libc::off_t::try_from(size).is_err() {
        return Err(OpenError::FileTooBig);
    }
    Ok(())
}

fn open_at(dir: i32, path: &CString, flags: libc::c_int) -> Result<OwnedFd, OpenError> {
    let mode: libc::c_uint = 0o666;
    // SAFETY: `path` is NUL-terminated and outlives the call; the mode is
    // passed as the variadic `unsigned int` openat expects.
    let fd = retry_eintr(|| unsafe { libc::openat(dir, path.as_ptr(), flags, mode) }).map_err(
        |errno| match errno {
            // FreeBSD reports a symbolic link refused by O_NOFOLLOW as EMLINK.
            Errno::EMLINK => OpenError::SymbolicLinkLoop,
            errno => OpenError::from_errno(errno),
        },
    )?;
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn stat(fd: i32) -> Result<libc::stat, OpenError> {
    let mut status = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` into the buffer we pass.
    retry_eintr(|| unsafe { libc::fstat(fd, status.as_mut_ptr()) })
        .map_err(OpenError::from_errno)?;
    // SAFETY: fstat succeeded, so the struct is initialised.
    Ok(unsafe { status.assume_init() })
}

fn stat_at(dir: i32, path: &CString) -> Result<libc::stat, OpenError> {
    let mut status = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `path` is NUL-terminated; fstatat writes a whole `stat`.
    retry_eintr(|| unsafe {
        libc::fstatat(dir, path.as_ptr(), status.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW)
    })
    .map_err(OpenError::from_errno)?;
    // SAFETY: fstatat succeeded, so the struct is initialised.
    Ok(unsafe { status.assume_init() })
}

/// Whether `fd` is a regular file, a block device or a directory: a
/// descriptor positioned IO applies to (not a socket, pipe or terminal).
pub(crate) fn is_positioned(fd: i32) -> bool {
    stat(fd).is_ok_and(|status| {
        matches!(status.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFBLK | libc::S_IFDIR)
    })
}

fn is_regular(status: &libc::stat) -> bool {
    status.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// Makes the file's data and size, and its directory entry, durable: a
/// file's `fsync` does not cover the entry that names it.
fn sync_file_and_parent(dir: i32, fd: i32, relative_path: &Path) -> Result<(), OpenError> {
    sync(fd)?;
    match parent(relative_path) {
        None => sync(dir),
        Some(parent) => {
            let parent = c_path(parent)?;
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
            let parent = open_at(dir, &parent, flags)?;
            sync(parent.as_raw_fd())
        }
    }
}

/// The directory part of a relative path, if it names one other than `dir`.
fn parent(path: &Path) -> Option<&Path> {
    let parent = path.parent()?;
    let is_dir_itself = parent.components().all(|c| matches!(c, Component::CurDir));
    (!is_dir_itself).then_some(parent)
}

fn sync(fd: i32) -> Result<(), OpenError> {
    fsync(fd, FsyncMode::Full).map_err(|errno| match errno {
        Errno::ENOTSUP => OpenError::FullSyncUnsupported,
        errno => OpenError::from_errno(errno),
    })
}
