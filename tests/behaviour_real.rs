//! The behavioural suite (`tests/behaviour/mod.rs`) on the real `IO`.
//!
//! `SIGPIPE` is restored to its default action before any test runs, so a
//! send that raised it would kill this process instead of passing unseen
//! (the Rust runtime ignores the signal by default).

mod behaviour;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

use behaviour::{Backend, Ctx};
use twinio::IO;

struct Real;

/// Tests that reuse a closed descriptor number take this exclusively.
static DESCRIPTORS: RwLock<()> = RwLock::new(());

/// Holds one side of `DESCRIPTORS` for a test's duration.
struct Guard {
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _exclusive: Option<RwLockWriteGuard<'static, ()>>,
}

/// A fresh directory under the target directory, removed on drop.
struct TempDir(PathBuf);

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

impl Backend for Real {
    type Io = IO<Ctx>;
    type Dir = TempDir;
    type Guard = Guard;

    fn io(entries: u32) -> IO<Ctx> {
        static SIGPIPE_DEFAULT: Once = Once::new();
        SIGPIPE_DEFAULT.call_once(|| {
            // SAFETY: `signal` with `SIG_DFL` installs no handler code; it
            // only changes the process's disposition for SIGPIPE.
            let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            assert_ne!(previous, libc::SIG_ERR);
        });
        IO::init(entries).expect("IO::init")
    }

    fn dir(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("behaviour-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test directory");
        TempDir(path)
    }

    fn shared() -> Guard {
        let guard = DESCRIPTORS.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        Guard { _shared: Some(guard), _exclusive: None }
    }

    fn exclusive() -> Guard {
        let guard = DESCRIPTORS.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        Guard { _shared: None, _exclusive: Some(guard) }
    }
}

behaviour::suite!(Real);
