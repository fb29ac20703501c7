//! A blocking client for `kv-server` on the real network, used by
//! `kv-client` and the kernel tests. Requests may be pipelined: `send`
//! several, then `receive` their answers (matched by id by the caller).

pub mod load;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::protocol::{self, Decoded, ProtocolError, Request, Response};

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// Connecting, sending or receiving failed (the message names which).
    Io(&'static str, io::Error),
    /// The server closed the connection.
    Closed,
    /// The server sent bytes that are not a response, or the request
    /// cannot be encoded (a key over 255 bytes).
    Protocol(ProtocolError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(what, error) => write!(f, "{what}: {error}"),
            ClientError::Closed => f.write_str("the server closed the connection"),
            ClientError::Protocol(error) => write!(f, "protocol error: {error:?}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One connection to the server.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
}

impl Connection {
    /// Connects; every later receive gives up after `timeout`.
    pub fn open(address: SocketAddr, timeout: Duration) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect_timeout(&address, timeout)
            .map_err(|e| ClientError::Io("cannot connect", e))?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| ClientError::Io("set timeout", e))?;
        // Pipelined small frames must not wait for Nagle's timer.
        stream.set_nodelay(true).map_err(|e| ClientError::Io("set nodelay", e))?;
        Ok(Connection { stream, inbox: Vec::new(), outbox: Vec::new() })
    }

    /// Queues `request`; it goes out with the next [`Connection::flush`]
    /// or [`Connection::receive`].
    pub fn queue(&mut self, request: &Request) -> Result<(), ClientError> {
        protocol::encode_request(request, &mut self.outbox).map_err(ClientError::Protocol)
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> Result<(), ClientError> {
        self.stream.write_all(&self.outbox).map_err(|e| ClientError::Io("send failed", e))?;
        self.outbox.clear();
        Ok(())
    }

    /// Sends what is queued, then waits for the next response.
    pub fn receive(&mut self) -> Result<Response, ClientError> {
        if !self.outbox.is_empty() {
            self.flush()?;
        }
        loop {
            if let Decoded::Frame(response, used) =
                protocol::decode_response(&self.inbox).map_err(ClientError::Protocol)?
            {
                self.inbox.drain(..used);
                return Ok(response);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ClientError::Io("receive failed", e)),
            };
            self.inbox.extend_from_slice(&chunk[..n]);
        }
    }

    /// One request, one answer.
    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        self.queue(request)?;
        let response = self.receive()?;
        let id = match &response {
            Response::Ok { id }
            | Response::Value { id, .. }
            | Response::NotFound { id }
            | Response::Error { id, .. } => *id,
        };
        if id != request.id() {
            return Err(ClientError::Protocol(ProtocolError::BadPayload));
        }
        Ok(response)
    }
}
