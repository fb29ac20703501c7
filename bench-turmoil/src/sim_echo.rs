//! The echo workloads on `SimIO`: a server node and a client node, one
//! `SimIO`, every operation a callback that submits the next (the way code
//! on twinio is written).

use std::net::SocketAddr;

use twinio::{
    AcceptDone, AddressFamily, Buffer, ConnectDone, FaultConfig, Fd, Io, RecvDone, SendDone, SimIO,
    SocketOptions,
};

use crate::measure::{Sample, Stopwatch};
use crate::workload::{Echo, JITTER, LATENCY, MESSAGE, check_echo, fill_message};

type Sim = SimIO<Ctx>;

/// One connection: the client's socket and the server's.
#[derive(Debug)]
struct Conn {
    client: Fd,
    server: Option<Fd>,
    round: u32,
    /// Client: bytes of the current message echoed back so far.
    echoed: usize,
    /// Client: bytes of the current message sent so far.
    sent: usize,
    /// Client: the message buffer, when no send holds it.
    message: Option<Buffer>,
    /// Server: bytes received in the chunk being echoed, and sent of it.
    chunk: usize,
    chunk_sent: usize,
}

#[derive(Debug)]
struct Ctx {
    listener: Fd,
    conns: Vec<Conn>,
    /// Server sockets accepted so far. The n-th accepted one keeps its
    /// state in `conns[n]`, whichever client it serves: the server only
    /// echoes, so the pairing does not matter.
    accepted: usize,
    rounds: u32,
    done: usize,
    failure: Option<String>,
}

fn fail(ctx: &mut Ctx, why: String) {
    ctx.failure.get_or_insert(why);
}

fn buffer() -> Buffer {
    Buffer::new(MESSAGE).expect("a 64-byte buffer")
}

/// Tags: the connection index, with the high bit set on the server side.
const SERVER: u64 = 1 << 63;

fn accepted(ctx: &mut Ctx, io: &mut Sim, done: AcceptDone) {
    let socket = match done.result {
        Ok(socket) => socket,
        Err(error) => return fail(ctx, format!("accept: {error}")),
    };
    let index = ctx.accepted;
    ctx.accepted += 1;
    ctx.conns[index].server = Some(socket);
    if let Err(error) = io.recv(socket, buffer(), .., SERVER | index as u64, server_received) {
        return fail(ctx, format!("server recv: {error}"));
    }
    if ctx.accepted < ctx.conns.len()
        && let Err(error) = io.accept(ctx.listener, 0, accepted)
    {
        fail(ctx, format!("accept: {error}"));
    }
}

fn server_received(ctx: &mut Ctx, io: &mut Sim, done: RecvDone) {
    let conn = &mut ctx.conns[(done.tag & !SERVER) as usize];
    let n = match done.result {
        Ok(0) => return, // the client closed
        Ok(n) => n,
        Err(error) => return fail(ctx, format!("server recv: {error}")),
    };
    conn.chunk = n;
    conn.chunk_sent = 0;
    let socket = conn.server.expect("accepted");
    if let Err(error) = io.send(socket, done.buffer, ..n, done.tag, server_sent) {
        fail(ctx, format!("server send: {error}"));
    }
}

fn server_sent(ctx: &mut Ctx, io: &mut Sim, done: SendDone) {
    let conn = &mut ctx.conns[(done.tag & !SERVER) as usize];
    match done.result {
        Ok(n) => conn.chunk_sent += n,
        Err(error) => return fail(ctx, format!("server send: {error}")),
    }
    let socket = conn.server.expect("accepted");
    let result = if conn.chunk_sent < conn.chunk {
        io.send(socket, done.buffer, conn.chunk_sent..conn.chunk, done.tag, server_sent)
    } else {
        io.recv(socket, done.buffer, .., done.tag, server_received)
    };
    if let Err(error) = result {
        fail(ctx, format!("server: {error}"));
    }
}

fn connected(ctx: &mut Ctx, io: &mut Sim, done: ConnectDone) {
    if let Err(error) = done.result {
        return fail(ctx, format!("connect: {error}"));
    }
    if let Err(error) = io.recv(done.socket, buffer(), .., done.tag, client_received) {
        return fail(ctx, format!("client recv: {error}"));
    }
    send_message(ctx, io, done.tag as usize);
}

fn send_message(ctx: &mut Ctx, io: &mut Sim, index: usize) {
    let conn = &mut ctx.conns[index];
    let Some(mut message) = conn.message.take() else {
        return fail(ctx, format!("connection {index}: echo complete before its send"));
    };
    fill_message(&mut message, index, conn.round);
    conn.sent = 0;
    conn.echoed = 0;
    if let Err(error) = io.send(conn.client, message, .., index as u64, client_sent) {
        fail(ctx, format!("client send: {error}"));
    }
}

fn client_sent(ctx: &mut Ctx, io: &mut Sim, done: SendDone) {
    let conn = &mut ctx.conns[done.tag as usize];
    match done.result {
        Ok(n) => conn.sent += n,
        Err(error) => return fail(ctx, format!("client send: {error}")),
    }
    if conn.sent < MESSAGE {
        if let Err(error) = io.send(conn.client, done.buffer, conn.sent.., done.tag, client_sent) {
            fail(ctx, format!("client send: {error}"));
        }
    } else {
        conn.message = Some(done.buffer);
    }
}

fn client_received(ctx: &mut Ctx, io: &mut Sim, done: RecvDone) {
    let index = done.tag as usize;
    let n = match done.result {
        Ok(0) => return fail(ctx, format!("connection {index}: server closed early")),
        Ok(n) => n,
        Err(error) => return fail(ctx, format!("client recv: {error}")),
    };
    let conn = &mut ctx.conns[index];
    if let Err(why) = check_echo(&done.buffer[..n], index, conn.round, conn.echoed) {
        return fail(ctx, why);
    }
    conn.echoed += n;
    let complete = conn.echoed == MESSAGE;
    if complete {
        conn.round += 1;
        if conn.round == ctx.rounds {
            ctx.done += 1;
            return;
        }
    }
    // At most the rest of this message: the next is not sent yet.
    let want = if complete { MESSAGE } else { MESSAGE - conn.echoed };
    let socket = conn.client;
    if let Err(error) = io.recv(socket, done.buffer, ..want, done.tag, client_received) {
        return fail(ctx, format!("client recv: {error}"));
    }
    if complete {
        send_message(ctx, io, index);
    }
}

/// The network of the workload: `FaultConfig::none()` with only the
/// latency set: 1 ms, or 1 ms + U(0..=1 ms) (both bounds in nanoseconds,
/// inclusive).
fn faults(echo: Echo) -> FaultConfig {
    let mut faults = FaultConfig::none();
    faults.network.delay_min_ns = LATENCY.as_nanos() as u64;
    faults.network.delay_jitter_ns = if echo.jitter { JITTER.as_nanos() as u64 } else { 0 };
    faults
}

/// A workload set up and ready to run.
pub struct SimEcho {
    io: Sim,
    ctx: Ctx,
}

impl SimEcho {
    pub fn new(echo: Echo, seed: u64) -> SimEcho {
        // Per connection: client recv + send, server recv or send; accept.
        let entries = 4 * echo.conns as u32 + 4;
        let mut io: Sim = SimIO::new(seed, entries, faults(echo));
        let address: SocketAddr = "10.0.0.1:7000".parse().expect("an address");
        // The server on the first node, the clients on a second one.
        let listener =
            io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).expect("socket");
        let address = io.listen(listener, address, echo.conns as u32).expect("listen");
        io.accept(listener, 0, accepted).expect("accept");
        let client_node = io.add_node();
        io.set_current_node(client_node).expect("the client node");
        let mut conns = Vec::with_capacity(echo.conns);
        for index in 0..echo.conns {
            let client =
                io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).expect("socket");
            io.connect(client, address, index as u64, connected).expect("connect");
            conns.push(Conn {
                client,
                server: None,
                round: 0,
                echoed: 0,
                sent: 0,
                message: Some(buffer()),
                chunk: 0,
                chunk_sent: 0,
            });
        }
        let ctx = Ctx { listener, conns, accepted: 0, rounds: echo.rounds, done: 0, failure: None };
        SimEcho { io, ctx }
    }

    /// Runs every round trip (connects included), each echo checked.
    /// Panics on a wrong byte or any error.
    pub fn run(mut self) -> Sample {
        let start_ns = self.io.now_ns();
        let watch = Stopwatch::start();
        while self.ctx.done < self.ctx.conns.len() && self.ctx.failure.is_none() {
            self.io.flush(&mut self.ctx, true).expect("SimIO flush");
        }
        let sample = watch.stop(std::time::Duration::from_nanos(self.io.now_ns() - start_ns));
        if let Some(why) = self.ctx.failure.take() {
            panic!("SimIO echo failed: {why}");
        }
        let wrong = self.ctx.conns.iter().filter(|c| c.round != self.ctx.rounds).count();
        assert_eq!(wrong, 0, "SimIO echo: connections short of their rounds");
        sample
    }
}
