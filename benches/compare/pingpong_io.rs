//! TCP ping-pong through `IO`: every client and every server side of the
//! loopback connections on one loop, chained by callbacks.
//!
//! A client sends a message, receives the whole echo and sends again; the
//! server side echoes what it receives. Each side owns one buffer, allocated
//! at set-up and passed through its operations, so a round trip allocates
//! nothing.

use twinio::{AcceptDone, AddressFamily, Buffer, ConnectDone, Fd, IO, Io, RecvDone, SendDone};
use twinio::{SocketOptions, SubmitError};

/// Tags at or above this are server sides; below, clients.
const SERVER: u64 = 1 << 32;

struct Side {
    socket: Fd,
    /// Parked here between repetitions; in flight otherwise.
    buffer: Option<Buffer>,
    /// Bytes of the current message sent (or received) so far.
    progress: usize,
    /// Server: bytes received and being echoed back. Unused by clients.
    pending: usize,
    round: u32,
}

struct Ctx {
    listener: Fd,
    size: usize,
    clients: Vec<Side>,
    servers: Vec<Side>,
    connected: usize,
    target: u32,
    finished: usize,
    failure: Option<String>,
}

pub struct PingPongIo {
    io: IO<Ctx>,
    ctx: Ctx,
}

fn fail(ctx: &mut Ctx, why: String) {
    ctx.failure.get_or_insert(why);
}

fn accepted(ctx: &mut Ctx, io: &mut IO<Ctx>, done: AcceptDone) {
    let socket = match done.result {
        Ok(socket) => socket,
        Err(error) => return fail(ctx, format!("accept: {error}")),
    };
    let tag = SERVER + ctx.servers.len() as u64;
    let buffer = Buffer::new(ctx.size).expect("buffer");
    ctx.servers.push(Side { socket, buffer: None, progress: 0, pending: 0, round: 0 });
    // The server side always has a recv in flight, across repetitions.
    if let Err(error) = io.recv(socket, buffer, .., tag, server_received) {
        return fail(ctx, format!("server recv: {error}"));
    }
    if ctx.servers.len() < ctx.clients.len()
        && let Err(error) = io.accept(ctx.listener, 0, accepted)
    {
        fail(ctx, format!("accept: {error}"));
    }
}

fn connected(ctx: &mut Ctx, _io: &mut IO<Ctx>, done: ConnectDone) {
    match done.result {
        Ok(()) => ctx.connected += 1,
        Err(error) => fail(ctx, format!("connect: {error}")),
    }
}

fn server_received(ctx: &mut Ctx, io: &mut IO<Ctx>, done: RecvDone) {
    let side = &mut ctx.servers[(done.tag - SERVER) as usize];
    let n = match done.result {
        Ok(0) => return, // the client closed
        Ok(n) => n,
        Err(error) => return fail(ctx, format!("server recv: {error}")),
    };
    side.pending = n;
    side.progress = 0;
    if let Err(error) = io.send(side.socket, done.buffer, ..n, done.tag, server_sent) {
        fail(ctx, format!("server send: {error}"));
    }
}

fn server_sent(ctx: &mut Ctx, io: &mut IO<Ctx>, done: SendDone) {
    let side = &mut ctx.servers[(done.tag - SERVER) as usize];
    match done.result {
        Ok(n) => side.progress += n,
        Err(error) => return fail(ctx, format!("server send: {error}")),
    }
    let result = if side.progress < side.pending {
        io.send(side.socket, done.buffer, side.progress..side.pending, done.tag, server_sent)
    } else {
        io.recv(side.socket, done.buffer, .., done.tag, server_received)
    };
    if let Err(error) = result {
        fail(ctx, format!("server: {error}"));
    }
}

fn client_send(ctx: &mut Ctx, io: &mut IO<Ctx>, index: usize, buffer: Buffer) {
    let side = &mut ctx.clients[index];
    side.progress = 0;
    if let Err(error) = io.send(side.socket, buffer, .., index as u64, client_sent) {
        fail(ctx, format!("client send: {error}"));
    }
}

fn client_sent(ctx: &mut Ctx, io: &mut IO<Ctx>, done: SendDone) {
    let size = ctx.size;
    let side = &mut ctx.clients[done.tag as usize];
    match done.result {
        Ok(n) => side.progress += n,
        Err(error) => return fail(ctx, format!("client send: {error}")),
    }
    let result = if side.progress < size {
        io.send(side.socket, done.buffer, side.progress.., done.tag, client_sent)
    } else {
        side.progress = 0;
        io.recv(side.socket, done.buffer, .., done.tag, client_received)
    };
    if let Err(error) = result {
        fail(ctx, format!("client: {error}"));
    }
}

fn client_received(ctx: &mut Ctx, io: &mut IO<Ctx>, done: RecvDone) {
    let size = ctx.size;
    let index = done.tag as usize;
    let side = &mut ctx.clients[index];
    match done.result {
        Ok(0) => return fail(ctx, "server closed early".into()),
        Ok(n) => side.progress += n,
        Err(error) => return fail(ctx, format!("client recv: {error}")),
    }
    if side.progress < size {
        if let Err(error) =
            io.recv(side.socket, done.buffer, side.progress.., done.tag, client_received)
        {
            fail(ctx, format!("client recv: {error}"));
        }
        return;
    }
    side.round += 1;
    if side.round == ctx.target {
        side.buffer = Some(done.buffer);
        ctx.finished += 1;
        return;
    }
    client_send(ctx, io, index, done.buffer);
}

impl PingPongIo {
    /// Opens `conns` loopback connections, every one on this loop.
    pub fn new(size: usize, conns: usize) -> Result<PingPongIo, Box<dyn std::error::Error>> {
        // Per connection: the client's op, the server side's op and, at the end, two closes.
        let mut io: IO<Ctx> = IO::init(4 * conns as u32 + 8)?;
        let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default())?;
        let address = io.listen(listener, "127.0.0.1:0".parse()?, 1024)?;
        let mut ctx = Ctx {
            listener,
            size,
            clients: Vec::with_capacity(conns),
            servers: Vec::with_capacity(conns),
            connected: 0,
            target: 0,
            finished: 0,
            failure: None,
        };
        io.accept(listener, 0, accepted)?;
        for index in 0..conns {
            let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default())?;
            let buffer = Some(Buffer::new(size)?);
            ctx.clients.push(Side { socket, buffer, progress: 0, pending: 0, round: 0 });
            io.connect(socket, address, index as u64, connected)?;
        }
        while (ctx.connected < conns || ctx.servers.len() < conns) && ctx.failure.is_none() {
            io.flush(&mut ctx, true)?;
        }
        match ctx.failure.take() {
            Some(why) => Err(why.into()),
            None => Ok(PingPongIo { io, ctx }),
        }
    }

    /// Runs `rounds` round trips on every connection.
    pub fn run(&mut self, rounds: u32) {
        let (io, ctx) = (&mut self.io, &mut self.ctx);
        ctx.target = rounds;
        ctx.finished = 0;
        for index in 0..ctx.clients.len() {
            ctx.clients[index].round = 0;
            let buffer = ctx.clients[index].buffer.take().expect("client idle between runs");
            client_send(ctx, io, index, buffer);
        }
        while ctx.finished < ctx.clients.len() && ctx.failure.is_none() {
            io.flush(ctx, true).expect("flush");
        }
        if let Some(why) = &ctx.failure {
            panic!("twinio ping-pong: {why}");
        }
    }
}

impl Drop for PingPongIo {
    fn drop(&mut self) {
        let (io, ctx) = (&mut self.io, &mut self.ctx);
        let sockets = ctx.clients.iter().chain(&ctx.servers).map(|side| side.socket);
        for socket in sockets.chain([ctx.listener]).collect::<Vec<_>>() {
            let _: Result<_, SubmitError> = io.close(socket, 0, |_, _, _| {});
        }
        let _ = io.run_until_done(ctx);
    }
}
