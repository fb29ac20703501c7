//! A loopback echo server and its clients, all on one `IO` loop.
//!
//! Each client sends a message, waits for the whole echo, checks every byte
//! and sends the next; the server echoes whatever it receives, resuming
//! partial sends. Prints round trips per second at the end.
//!
//! ```sh
//! cargo run --release --example echo -- [--clients N] [--messages M] [--size BYTES]
//! ```

use std::process::ExitCode;
use std::time::Instant;

use twinio::{
    AcceptDone, AddressFamily, Buffer, ConnectDone, Fd, IO, Io, RecvDone, SendDone, SocketOptions,
};

/// One side of one connection. The tag of every op is the connection's
/// index in `Ctx::conns`, so a callback finds its state directly.
struct Conn {
    socket: Fd,
    /// Client: round trips completed.
    round: u32,
    /// Bytes of the buffer in flight already sent.
    sent: usize,
    /// Server: length of the chunk being echoed. Client: bytes of the
    /// current message echoed back so far.
    pending: usize,
}

struct Ctx {
    listener: Fd,
    conns: Vec<Conn>,
    clients: usize,
    messages: u32,
    size: usize,
    accepted: usize,
    clients_done: usize,
    failure: Option<String>,
}

/// Byte `index` of message `round` of client `client`: distinct per client
/// and round, so a misrouted or stale echo is caught.
fn pattern(client: usize, round: u32, index: usize) -> u8 {
    (client as u32).wrapping_mul(31).wrapping_add(round).wrapping_add(index as u32) as u8
}

fn fail(ctx: &mut Ctx, why: String) {
    ctx.failure.get_or_insert(why);
}

fn new_buffer(size: usize) -> Buffer {
    Buffer::new(size).expect("the size was checked at start-up")
}

fn accepted(ctx: &mut Ctx, io: &mut IO<Ctx>, done: AcceptDone) {
    let socket = match done.result {
        Ok(socket) => socket,
        Err(error) => return fail(ctx, format!("accept: {error}")),
    };
    let index = ctx.conns.len();
    ctx.conns.push(Conn { socket, round: 0, sent: 0, pending: 0 });
    ctx.accepted += 1;
    if let Err(error) = io.recv(socket, new_buffer(ctx.size), .., index as u64, server_received) {
        return fail(ctx, format!("server recv: {error}"));
    }
    if ctx.accepted < ctx.clients
        && let Err(error) = io.accept(ctx.listener, 0, accepted)
    {
        fail(ctx, format!("accept: {error}"));
    }
}

fn server_received(ctx: &mut Ctx, io: &mut IO<Ctx>, done: RecvDone) {
    let index = done.tag as usize;
    let n = match done.result {
        Ok(0) => return, // the client closed: nothing more to echo
        Ok(n) => n,
        Err(error) => return fail(ctx, format!("server recv: {error}")),
    };
    let conn = &mut ctx.conns[index];
    conn.pending = n;
    conn.sent = 0;
    if let Err(error) = io.send(conn.socket, done.buffer, ..n, done.tag, server_sent) {
        fail(ctx, format!("server send: {error}"));
    }
}

fn server_sent(ctx: &mut Ctx, io: &mut IO<Ctx>, done: SendDone) {
    let conn = &mut ctx.conns[done.tag as usize];
    match done.result {
        Ok(n) => conn.sent += n,
        Err(error) => return fail(ctx, format!("server send: {error}")),
    }
    let socket = conn.socket;
    let result = if conn.sent < conn.pending {
        io.send(socket, done.buffer, conn.sent..conn.pending, done.tag, server_sent)
    } else {
        io.recv(socket, done.buffer, .., done.tag, server_received)
    };
    if let Err(error) = result {
        fail(ctx, format!("server: {error}"));
    }
}

fn connected(ctx: &mut Ctx, io: &mut IO<Ctx>, done: ConnectDone) {
    if let Err(error) = done.result {
        return fail(ctx, format!("connect: {error}"));
    }
    let index = done.tag as usize;
    if let Err(error) = io.recv(done.socket, new_buffer(ctx.size), .., done.tag, client_received) {
        return fail(ctx, format!("client recv: {error}"));
    }
    send_message(ctx, io, index);
}

fn send_message(ctx: &mut Ctx, io: &mut IO<Ctx>, index: usize) {
    let conn = &mut ctx.conns[index];
    conn.sent = 0;
    conn.pending = 0;
    let mut message = new_buffer(ctx.size);
    for (i, byte) in message.iter_mut().enumerate() {
        *byte = pattern(index, conn.round, i);
    }
    if let Err(error) = io.send(conn.socket, message, .., index as u64, client_sent) {
        fail(ctx, format!("client send: {error}"));
    }
}

fn client_sent(ctx: &mut Ctx, io: &mut IO<Ctx>, done: SendDone) {
    let conn = &mut ctx.conns[done.tag as usize];
    match done.result {
        Ok(n) => conn.sent += n,
        Err(error) => return fail(ctx, format!("client send: {error}")),
    }
    if conn.sent < done.buffer.len()
        && let Err(error) = io.send(conn.socket, done.buffer, conn.sent.., done.tag, client_sent)
    {
        fail(ctx, format!("client send: {error}"));
    }
}

fn client_received(ctx: &mut Ctx, io: &mut IO<Ctx>, done: RecvDone) {
    let index = done.tag as usize;
    let n = match done.result {
        Ok(0) => return fail(ctx, format!("client {index}: server closed early")),
        Ok(n) => n,
        Err(error) => return fail(ctx, format!("client recv: {error}")),
    };
    let conn = &mut ctx.conns[index];
    for (i, &byte) in done.buffer[..n].iter().enumerate() {
        let at = conn.pending + i;
        if byte != pattern(index, conn.round, at) {
            let round = conn.round;
            return fail(ctx, format!("client {index} round {round}: wrong byte at {at}"));
        }
    }
    conn.pending += n;
    let socket = conn.socket;
    let message_done = conn.pending == ctx.size;
    if message_done {
        conn.round += 1;
        if conn.round == ctx.messages {
            ctx.clients_done += 1;
            return;
        }
    }
    // Receive at most the rest of this message: the next is not sent yet.
    let want = if message_done { ctx.size } else { ctx.size - conn.pending };
    if let Err(error) = io.recv(socket, done.buffer, ..want, done.tag, client_received) {
        return fail(ctx, format!("client recv: {error}"));
    }
    if message_done {
        send_message(ctx, io, index);
    }
}

fn parse_args() -> Result<(usize, u32, usize), String> {
    let (mut clients, mut messages, mut size) = (16usize, 2_000u32, 64usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("{flag}: not a number: {value}");
        match flag.as_str() {
            "--clients" => clients = value.parse().map_err(bad)?,
            "--messages" => messages = value.parse().map_err(bad)?,
            "--size" => size = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if clients == 0 || messages == 0 || size == 0 || clients > 1000 || size > 1 << 20 {
        return Err("need 1..=1000 clients, at least one message, 1..=1 MiB size".into());
    }
    Ok((clients, messages, size))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (clients, messages, size) = parse_args()?;
    // Per client: recv + send; per server side: recv or send; plus accept.
    let mut io: IO<Ctx> = IO::init(4 * clients as u32 + 4)?;
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default())?;
    let address = io.listen(listener, "127.0.0.1:0".parse()?, 128)?;
    let mut ctx = Ctx {
        listener,
        conns: Vec::with_capacity(2 * clients),
        clients,
        messages,
        size,
        accepted: 0,
        clients_done: 0,
        failure: None,
    };
    io.accept(listener, 0, accepted)?;
    for _ in 0..clients {
        let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default())?;
        let index = ctx.conns.len();
        ctx.conns.push(Conn { socket, round: 0, sent: 0, pending: 0 });
        io.connect(socket, address, index as u64, connected)?;
    }
    let start = Instant::now();
    while ctx.clients_done < clients && ctx.failure.is_none() {
        io.flush(&mut ctx, true)?;
    }
    let elapsed = start.elapsed();
    if let Some(why) = ctx.failure.take() {
        return Err(why.into());
    }
    let round_trips = clients as f64 * messages as f64;
    println!(
        "echo: {clients} clients x {messages} messages of {size} B verified in {:.3} s: \
         {:.0} round trips/s (file driver: {:?})",
        elapsed.as_secs_f64(),
        round_trips / elapsed.as_secs_f64(),
        io.file_driver()
    );
    // Shut down: close every socket, then let the loop deliver the closes.
    for conn in std::mem::take(&mut ctx.conns) {
        io.close(conn.socket, 0, |_, _, _| {})?;
    }
    io.close(listener, 0, |_, _, _| {})?;
    io.run_until_done(&mut ctx)?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo: {error}");
            ExitCode::FAILURE
        }
    }
}
