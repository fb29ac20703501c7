//! The store on the real kernel survives SIGKILL: every put acknowledged
//! before the kill is read back, with its value, after a restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use twinio_kv::protocol::{self, Decoded, Request, Response};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
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

/// Starts the server and waits until it announces its address. The wait is
/// bounded so a broken server fails the test instead of hanging it.
fn start_server(dir: &Path) -> (Child, String) {
    let port_file = dir.join("port");
    let _ = std::fs::remove_file(&port_file);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .args(["--dir", data.to_str().unwrap(), "--port-file", port_file.to_str().unwrap()])
        .args(["--slots", "4096"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn kv-server");
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(address) = std::fs::read_to_string(&port_file) {
            return (child, address);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("kv-server exited before serving: {status}");
        }
        assert!(Instant::now() < give_up, "kv-server did not start within 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (bounded) until no one holds the log copies' locks. On the
/// io_uring file driver, operations in flight when the server was killed
/// (an fsync, say) hold their file, and so its `flock`, until the kernel
/// finishes them, after the process has been reaped.
fn wait_for_log_locks(data: &Path) {
    let give_up = Instant::now() + Duration::from_secs(30);
    for name in ["log.a", "log.b"] {
        let Ok(file) = std::fs::File::open(data.join(name)) else { continue };
        while file.try_lock().is_err() {
            assert!(Instant::now() < give_up, "{name} still locked 30 s after the kill");
            std::thread::sleep(Duration::from_millis(5));
        }
        file.unlock().unwrap();
    }
}

struct Client {
    stream: TcpStream,
    inbox: Vec<u8>,
}

impl Client {
    fn connect(address: &str) -> Client {
        let stream = TcpStream::connect(address).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Client { stream, inbox: Vec::new() }
    }

    fn send(&mut self, request: &Request) {
        let mut frame = Vec::new();
        protocol::encode_request(request, &mut frame).expect("a request that fits a frame");
        self.stream.write_all(&frame).expect("send");
    }

    fn receive(&mut self) -> Response {
        loop {
            if let Decoded::Frame(response, used) =
                protocol::decode_response(&self.inbox).expect("a valid response")
            {
                self.inbox.drain(..used);
                return response;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("recv");
            assert!(n > 0, "the server closed the connection");
            self.inbox.extend_from_slice(&chunk[..n]);
        }
    }
}

fn value_of(round: u64, key: u64) -> Vec<u8> {
    format!("round {round} key {key} ").repeat(1 + (key % 7) as usize).into_bytes()
}

#[test]
fn acknowledged_puts_survive_sigkill() {
    let dir = TempDir::new("kill");
    // key -> value of its last acknowledged put.
    let mut acknowledged = std::collections::BTreeMap::new();
    for round in 0..3u64 {
        let (mut server, address) = start_server(&dir.0);
        let mut client = Client::connect(&address);
        // Everything acknowledged in earlier rounds is there.
        for (key, value) in &acknowledged {
            let key: &u64 = key;
            client.send(&Request::Get { id: *key, key: key.to_le_bytes().to_vec() });
            match client.receive() {
                Response::Value { id, value: got } => {
                    assert_eq!(id, *key);
                    assert_eq!(&got, value, "round {round}: key {key} has the wrong value");
                }
                other => panic!("round {round}: key {key} lost after SIGKILL: {other:?}"),
            }
        }
        // Pipelined puts, 16 in flight; keys overlap rounds so values change.
        let keys: Vec<u64> = (round * 50..round * 50 + 150).collect();
        for window in keys.chunks(16) {
            for &key in window {
                let value = value_of(round, key);
                client.send(&Request::Put { id: key, key: key.to_le_bytes().to_vec(), value });
            }
            for _ in window {
                match client.receive() {
                    Response::Ok { id } => {
                        acknowledged.insert(id, value_of(round, id));
                    }
                    other => panic!("put failed: {other:?}"),
                }
            }
        }
        // Some puts in flight at the kill: they may or may not survive.
        for key in 10_000..10_020u64 {
            client.send(&Request::Put { id: key, key: key.to_le_bytes().to_vec(), value: vec![1] });
        }
        server.kill().expect("SIGKILL");
        server.wait().unwrap();
        wait_for_log_locks(&dir.0.join("data"));
    }
    let (mut server, address) = start_server(&dir.0);
    let mut client = Client::connect(&address);
    for (key, value) in &acknowledged {
        client.send(&Request::Get { id: *key, key: key.to_le_bytes().to_vec() });
        assert_eq!(client.receive(), Response::Value { id: *key, value: value.clone() });
    }
    assert_eq!(acknowledged.len(), 250);
    server.kill().unwrap();
    server.wait().unwrap();
}
