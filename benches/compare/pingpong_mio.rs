//! TCP ping-pong over a hand-written `mio` loop: the loop a careful engineer
//! writes without a framework. Edge-triggered (mio always is), non-blocking,
//! every socket registered once for both directions, each side a small state
//! machine driven until the kernel says `WouldBlock` (mio's rule for edge
//! triggering), one buffer per side allocated at set-up.
//!
//! The loop waits without a bound (`poll(.., None)`), as such a loop would.
//! `IO`'s design forbids that (a wait never lasts forever: it is bounded by
//! `max_wait_ns`), and a bounded wait costs the kernel clock reads even when
//! events are queued; built with `Some(bound)` the same loop shows that cost.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream as StdStream};

use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Sending,
    Receiving,
    /// A client that finished its rounds for this repetition.
    Idle,
}

struct Side {
    stream: TcpStream,
    buffer: Vec<u8>,
    state: State,
    /// Bytes of the current message sent (or received) so far.
    progress: usize,
    round: u32,
    client: bool,
}

pub struct PingPongMio {
    poll: Poll,
    events: Events,
    /// Token `2i` is client `i`, `2i + 1` its server side.
    sides: Vec<Side>,
    finished: usize,
    /// The most one poll blocks; `None` waits until an event.
    bound: Option<Duration>,
}

impl PingPongMio {
    /// Opens `conns` loopback connections (set up with blocking std sockets,
    /// then handed to mio non-blocking); every poll waits at most `bound`.
    pub fn new(size: usize, conns: usize, bound: Option<Duration>) -> std::io::Result<PingPongMio> {
        let poll = Poll::new()?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let mut sides = Vec::with_capacity(2 * conns);
        for index in 0..conns {
            let client = StdStream::connect(address)?;
            let (server, _) = listener.accept()?;
            for (offset, stream) in [client, server].into_iter().enumerate() {
                stream.set_nodelay(true)?;
                stream.set_nonblocking(true)?;
                let mut stream = TcpStream::from_std(stream);
                let token = Token(2 * index + offset);
                poll.registry().register(
                    &mut stream,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                let client = offset == 0;
                let state = if client { State::Idle } else { State::Receiving };
                sides.push(Side {
                    stream,
                    buffer: vec![0; size],
                    state,
                    progress: 0,
                    round: 0,
                    client,
                });
            }
        }
        Ok(PingPongMio { poll, events: Events::with_capacity(1024), sides, finished: 0, bound })
    }

    /// Runs `rounds` round trips on every connection.
    pub fn run(&mut self, rounds: u32) {
        self.finished = 0;
        let clients = self.sides.len() / 2;
        for index in 0..clients {
            let side = &mut self.sides[2 * index];
            side.round = 0;
            side.progress = 0;
            side.state = State::Sending;
            drive(&mut self.sides, 2 * index, rounds, &mut self.finished);
        }
        while self.finished < clients {
            self.poll.poll(&mut self.events, self.bound).expect("poll");
            for event in self.events.iter() {
                drive(&mut self.sides, event.token().0, rounds, &mut self.finished);
            }
        }
    }
}

/// Advances side `token` until the kernel would block (or it is idle).
fn drive(sides: &mut [Side], token: usize, target: u32, finished: &mut usize) {
    let side = &mut sides[token];
    let size = side.buffer.len();
    loop {
        match side.state {
            State::Idle => return,
            State::Sending => match side.stream.write(&side.buffer[side.progress..]) {
                Ok(n) => {
                    side.progress += n;
                    if side.progress == size {
                        side.progress = 0;
                        side.state = State::Receiving;
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => panic!("mio ping-pong: send: {error}"),
            },
            State::Receiving => match side.stream.read(&mut side.buffer[side.progress..]) {
                Ok(0) => panic!("mio ping-pong: peer closed early"),
                Ok(n) => {
                    side.progress += n;
                    if side.progress == size {
                        side.progress = 0;
                        side.state = State::Sending;
                        if side.client {
                            side.round += 1;
                            if side.round == target {
                                side.state = State::Idle;
                                *finished += 1;
                                return;
                            }
                        }
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => panic!("mio ping-pong: recv: {error}"),
            },
        }
    }
}
