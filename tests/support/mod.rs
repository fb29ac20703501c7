//! Shared support for the integration tests: the two backends behind one
//! [`Backend`] trait, and [`both_backends!`], the one macro that runs a
//! scenario on each of them. See `tests/README.md` for where a test goes.
//!
//! A scenario is a function generic over the backend:
//!
//! ```ignore
//! mod support;
//! use support::typed::*;
//! use support::{Backend, both_backends};
//!
//! fn a_zero_timeout_fires<B: Backend<Ctx>>() {
//!     let _g = B::shared();
//!     let mut io = B::io(8);
//!     let mut ctx = Ctx::default();
//!     io.timeout(0, 1, on_timeout).unwrap();
//!     assert_eq!(wait(&mut io, &mut ctx, 1).done_timeout(), Ok(()));
//! }
//!
//! both_backends!(a_zero_timeout_fires);
//! ```
//!
//! `both_backends!` expands to `real::a_zero_timeout_fires` (on `IO`) and
//! `sim::a_zero_timeout_fires` (on `SimIO`, faults off).
//!
//! Two context styles come with it: [`typed`] logs every completion as a
//! typed value with the pass it ran in (assert on the results); [`scripted`]
//! logs printed results and lets a test script what a callback does (cancel,
//! re-enter the loop, stop, submit), for interleaving tests and for
//! comparing the two backends line by line.

#![allow(dead_code)] // Each test binary uses part of the support.

pub mod scripted;
pub mod typed;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

use twinio::{FaultConfig, FileDriver, IO, Io, IoOptions, SimIO};

/// What a backend provides to a scenario whose callbacks use context `C`.
pub trait Backend<C> {
    /// `"real"` or `"sim"`.
    const NAME: &'static str;
    /// Whether time moves only when the loop waits for the next deadline
    /// (the twin): elapsed times are then exact, not just bounds.
    const VIRTUAL_TIME: bool;
    /// The IO under test.
    type Io: Io<Context = C>;
    /// A directory data files may be created in, alive as long as the value.
    type Dir: Deref<Target = Path> + AsRef<Path>;

    /// A fresh IO with `entries` operation slots (the real one on the file
    /// driver [`real_options`] picks).
    fn io(entries: u32) -> Self::Io;
    /// A fresh IO whose file operations complete in the pass that attempts
    /// them, as the twin's do: for tests that compare the order of
    /// callbacks across backends (the real one on the loop thread).
    fn io_in_pass_order(entries: u32) -> Self::Io {
        Self::io(entries)
    }
    /// A fresh, empty directory for data files; `name` says what it is for.
    fn dir(name: &str) -> Self::Dir;
    /// Creates an empty subdirectory (the twin's exist implicitly).
    fn mkdir(path: &Path);
    /// Timeouts armed and neither expired nor canceled. (The twin counts
    /// everything waiting on its clock, which is the same while only
    /// timeouts are in flight.)
    fn timeouts_armed(io: &Self::Io) -> usize;
    /// Taken by every test that opens descriptors.
    fn shared() -> Guard;
    /// Taken by a test that uses a descriptor number after closing it: no
    /// other test of the process may be handed that number meanwhile.
    fn exclusive() -> Guard;
}

/// Expands to one `#[test]` per scenario and backend: `real::$name` runs
/// `$name::<Real>()`, `sim::$name` runs `$name::<Sim>()`. Use it once per
/// module.
#[allow(unused_macros)]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod real {
            $( #[test] fn $name() { super::$name::<$crate::support::Real>(); } )*
        }
        mod sim {
            $( #[test] fn $name() { super::$name::<$crate::support::Sim>(); } )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both_backends;

/// The environment variable that forces the real IO's file driver in the
/// tests: `uring`, `workers` (two threads) or `loop`; unset or empty, the
/// default (`Auto`). Read here only: `.ci/run` runs the behaviour suites
/// once per driver with it.
pub const FILE_DRIVER_ENV: &str = "TWINIO_FILE_DRIVER";

/// The options of every real IO the tests make with `entries` slots: the
/// file driver [`FILE_DRIVER_ENV`] names.
pub fn real_options(entries: u32) -> IoOptions {
    let driver = match std::env::var(FILE_DRIVER_ENV).as_deref() {
        Err(_) | Ok("") => FileDriver::Auto,
        Ok("uring") => FileDriver::IoUring,
        Ok("workers") => FileDriver::Workers(2),
        Ok("loop") => FileDriver::LoopThread,
        Ok(other) => panic!("{FILE_DRIVER_ENV}={other}: expected uring, workers or loop"),
    };
    IoOptions::new(entries).file_driver(driver)
}

/// A real IO on the loop thread ([`Backend::io_in_pass_order`]).
pub fn real_io_in_pass_order<C>(entries: u32) -> IO<C> {
    sigpipe_default();
    let options = real_options(entries).file_driver(FileDriver::LoopThread);
    IO::with_options(options).expect("IO::init")
}

fn sigpipe_default() {
    static SIGPIPE_DEFAULT: Once = Once::new();
    SIGPIPE_DEFAULT.call_once(|| {
        // SAFETY: `signal` with `SIG_DFL` installs no handler code; it
        // only changes the process's disposition for SIGPIPE.
        let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        assert_ne!(previous, libc::SIG_ERR);
    });
}

/// The real `IO`. `SIGPIPE` is restored to its default action before the
/// first IO is made, so a send that raised it would kill the test process
/// instead of passing unseen (the Rust runtime ignores the signal).
pub struct Real;

/// The twin, `SimIO`, with faults off: it must pass what the real `IO` does.
pub struct Sim;

/// The seed of every `Sim` IO; with faults off the outcome must not depend
/// on it.
pub const SIM_SEED: u64 = 0x5eed;

/// Held for the whole of a test (see [`Backend::shared`]).
pub struct Guard {
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _exclusive: Option<RwLockWriteGuard<'static, ()>>,
}

/// Tests that reuse a closed descriptor number take this exclusively.
static DESCRIPTORS: RwLock<()> = RwLock::new(());

/// The real backend's [`Backend::shared`], for a test that is not generic
/// over the backend (one that runs both and compares them, say).
pub fn shared() -> Guard {
    let guard = DESCRIPTORS.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    Guard { _shared: Some(guard), _exclusive: None }
}

/// The real backend's [`Backend::exclusive`], likewise.
pub fn exclusive() -> Guard {
    let guard = DESCRIPTORS.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    Guard { _shared: None, _exclusive: Some(guard) }
}

/// A fresh directory under the target directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory under `CARGO_TARGET_TMPDIR` (on the disk of the
/// checkout, unlike `/tmp`, which may be a tmpfs), unique in the process.
pub fn temp_dir(name: &str) -> TempDir {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("test-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).expect("create test directory");
    TempDir(path)
}

impl<C> Backend<C> for Real {
    const NAME: &'static str = "real";
    const VIRTUAL_TIME: bool = false;
    type Io = IO<C>;
    type Dir = TempDir;

    fn io(entries: u32) -> IO<C> {
        sigpipe_default();
        IO::with_options(real_options(entries)).expect("IO::init")
    }

    fn io_in_pass_order(entries: u32) -> IO<C> {
        real_io_in_pass_order(entries)
    }

    fn dir(name: &str) -> TempDir {
        temp_dir(name)
    }

    fn mkdir(path: &Path) {
        std::fs::create_dir_all(path).expect("create directory");
    }

    fn timeouts_armed(io: &IO<C>) -> usize {
        io.timeouts_armed()
    }

    fn shared() -> Guard {
        shared()
    }

    fn exclusive() -> Guard {
        exclusive()
    }
}

impl<C> Backend<C> for Sim {
    const NAME: &'static str = "sim";
    const VIRTUAL_TIME: bool = true;
    type Io = SimIO<C>;
    type Dir = PathBuf;

    fn io(entries: u32) -> SimIO<C> {
        SimIO::new(SIM_SEED, entries, FaultConfig::none())
    }

    /// Simulated directories exist implicitly; each IO has its own storage.
    fn dir(name: &str) -> PathBuf {
        PathBuf::from("/sim").join(name)
    }

    fn mkdir(_: &Path) {}

    fn timeouts_armed(io: &SimIO<C>) -> usize {
        io.queued()
    }

    /// Descriptor numbers are per simulation: tests cannot disturb each other.
    fn shared() -> Guard {
        Guard { _shared: None, _exclusive: None }
    }

    fn exclusive() -> Guard {
        Guard { _shared: None, _exclusive: None }
    }
}
