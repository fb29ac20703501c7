//! The store on the real kernel survives SIGKILL: every put acknowledged
//! before the kill is read back, with its value, after a restart.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, TempDir};

use twinio_kv::protocol::{self, Decoded, Request, Response};

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
        let server = Server::start(&dir.0, 4096);
        let mut client = Client::connect(&server.address);
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
        server.kill();
    }
    let server = Server::start(&dir.0, 4096);
    let mut client = Client::connect(&server.address);
    for (key, value) in &acknowledged {
        client.send(&Request::Get { id: *key, key: key.to_le_bytes().to_vec() });
        assert_eq!(client.receive(), Response::Value { id: *key, value: value.clone() });
    }
    assert_eq!(acknowledged.len(), 250);
    server.kill();
}
