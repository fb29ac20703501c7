//! A kv-server process for the kernel tests, killed on every exit path.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("twinio-kv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running kv-server. Dropping it — at the end of a test, or while a
/// failed assertion unwinds — kills the process and reaps it, so no orphan
/// outlives the test holding its pipes open.
pub struct Server {
    child: Child,
    pub address: String,
    data: PathBuf,
}

impl Server {
    /// Starts the server on `dir/data` and waits until it announces its
    /// address. The wait is bounded so a broken server fails the test
    /// instead of hanging it.
    pub fn start(dir: &Path, slots: u64) -> Server {
        let port_file = dir.join("port");
        let _ = std::fs::remove_file(&port_file);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args(["--dir", data.to_str().unwrap(), "--port-file", port_file.to_str().unwrap()])
            .args(["--slots", &slots.to_string()])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn kv-server");
        // From here on the guard owns the child: any panic below kills it.
        let mut server = Server { child, address: String::new(), data };
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(address) = std::fs::read_to_string(&port_file) {
                server.address = address;
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("kv-server exited before serving: {status}");
            }
            assert!(Instant::now() < give_up, "kv-server did not start within 60 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, reap, and wait (bounded) until no one holds a lock on the
    /// data files: on the io_uring file driver, operations in flight at the
    /// kill (an fsync, say) hold their file, and so its `flock`, until the
    /// kernel finishes them, after the process was reaped.
    pub fn kill(mut self) {
        self.stop();
        wait_for_unlocked(&self.data, Instant::now() + Duration::from_secs(30));
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until every regular file under `dir` (and one level of
/// subdirectories: the store's `retry-N/`) can be locked.
fn wait_for_unlocked(dir: &Path, give_up: Instant) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            wait_for_unlocked(&path, give_up);
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else { continue };
        while file.try_lock().is_err() {
            assert!(Instant::now() < give_up, "{} still locked after the kill", path.display());
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = file.unlock();
    }
}
