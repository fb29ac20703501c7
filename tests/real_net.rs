//! Real-IO network tests beyond the ones for both backends (`net.rs`):
//! many concurrent loopback connections on one loop, and sends the kernel
//! really does cut short.

use std::net::SocketAddr;

use twinio::*;

/// Connections open at once, each doing `ROUNDS` echo round trips.
const CONNECTIONS: usize = 128;
const ROUNDS: u32 = 10;

/// Client-side state of one connection; its index is its ops' tag.
struct Client {
    socket: Fd,
    round: u32,
    /// The message of this round, as sent.
    message: Vec<u8>,
    sent: usize,
    echoed: usize,
}

/// Server-side state of one accepted socket; its index is its ops' tag.
struct Server {
    socket: Fd,
    /// Bytes of the chunk being echoed, and how many are sent.
    len: usize,
    sent: usize,
}

#[derive(Default)]
struct Net {
    listener: Option<Fd>,
    clients: Vec<Client>,
    servers: Vec<Server>,
    clients_done: usize,
    servers_done: usize,
    failure: Option<String>,
}

impl Net {
    fn fail(&mut self, why: String) {
        self.failure.get_or_insert(why);
    }
}

/// The message of round `round` of connection `index`: distinct lengths and
/// bytes, so a misrouted echo is caught.
fn message(index: usize, round: u32) -> Vec<u8> {
    let len = 1 + (index * 131 + round as usize * 977) % 6000;
    (0..len).map(|i| (index * 7 + round as usize * 13 + i) as u8).collect()
}

fn buffer(len: usize) -> Buffer {
    Buffer::new(len).expect("small buffer")
}

fn accepted(net: &mut Net, io: &mut IO<Net>, done: AcceptDone) {
    let socket = match done.result {
        Ok(socket) => socket,
        Err(error) => return net.fail(format!("accept: {error}")),
    };
    let index = net.servers.len();
    net.servers.push(Server { socket, len: 0, sent: 0 });
    if let Err(error) = io.recv(socket, buffer(4096), .., index as u64, server_received) {
        return net.fail(format!("server recv: {error}"));
    }
    if net.servers.len() < CONNECTIONS {
        let listener = net.listener.expect("listening");
        if let Err(error) = io.accept(listener, 0, accepted) {
            net.fail(format!("accept: {error}"));
        }
    }
}

fn server_received(net: &mut Net, io: &mut IO<Net>, done: RecvDone) {
    let index = done.tag as usize;
    match done.result {
        Ok(0) => {
            // The client closed after its last round.
            let socket = net.servers[index].socket;
            if let Err(error) = io.close(socket, index as u64, server_closed) {
                net.fail(format!("server close: {error}"));
            }
        }
        Ok(n) => {
            let server = &mut net.servers[index];
            server.len = n;
            server.sent = 0;
            let socket = server.socket;
            if let Err(error) = io.send(socket, done.buffer, 0..n, done.tag, server_sent) {
                net.fail(format!("server send: {error}"));
            }
        }
        Err(error) => net.fail(format!("server recv: {error}")),
    }
}

fn server_sent(net: &mut Net, io: &mut IO<Net>, done: SendDone) {
    let server = &mut net.servers[done.tag as usize];
    match done.result {
        Ok(n) => server.sent += n,
        Err(error) => return net.fail(format!("server send: {error}")),
    }
    let (socket, sent, len) = (server.socket, server.sent, server.len);
    let result = if sent < len {
        io.send(socket, done.buffer, sent..len, done.tag, server_sent).map(drop)
    } else {
        io.recv(socket, done.buffer, .., done.tag, server_received).map(drop)
    };
    if let Err(error) = result {
        net.fail(format!("server resubmit: {error}"));
    }
}

fn server_closed(net: &mut Net, _: &mut IO<Net>, done: CloseDone) {
    match done.result {
        Ok(()) => net.servers_done += 1,
        Err(error) => net.fail(format!("server close: {error}")),
    }
}

/// Starts round `client.round`: sends its message and posts the echo's recv.
fn start_round(net: &mut Net, io: &mut IO<Net>, index: usize) {
    let client = &mut net.clients[index];
    client.message = message(index, client.round);
    client.sent = 0;
    client.echoed = 0;
    let socket = client.socket;
    let out = Buffer::from_slice(&client.message).expect("buffer");
    if let Err(error) = io.send(socket, out, .., index as u64, client_sent) {
        return net.fail(format!("client send: {error}"));
    }
    if let Err(error) = io.recv(socket, buffer(4096), .., index as u64, client_received) {
        net.fail(format!("client recv: {error}"));
    }
}

fn connected(net: &mut Net, io: &mut IO<Net>, done: ConnectDone) {
    match done.result {
        Ok(()) => start_round(net, io, done.tag as usize),
        Err(error) => net.fail(format!("connect: {error}")),
    }
}

fn client_sent(net: &mut Net, io: &mut IO<Net>, done: SendDone) {
    let client = &mut net.clients[done.tag as usize];
    match done.result {
        Ok(n) => client.sent += n,
        Err(error) => return net.fail(format!("client send: {error}")),
    }
    if client.sent < client.message.len() {
        let (socket, range) = (client.socket, client.sent..client.message.len());
        if let Err(error) = io.send(socket, done.buffer, range, done.tag, client_sent) {
            net.fail(format!("client send: {error}"));
        }
    }
}

fn client_received(net: &mut Net, io: &mut IO<Net>, done: RecvDone) {
    let index = done.tag as usize;
    let client = &mut net.clients[index];
    let n = match done.result {
        Ok(0) => return net.fail(format!("client {index}: end of stream mid-round")),
        Ok(n) => n,
        Err(error) => return net.fail(format!("client recv: {error}")),
    };
    let at = client.echoed;
    if at + n > client.message.len() || done.buffer[..n] != client.message[at..at + n] {
        let round = client.round;
        return net.fail(format!("client {index} round {round}: wrong echo at {at}"));
    }
    client.echoed += n;
    let socket = client.socket;
    if client.echoed < client.message.len() {
        if let Err(error) = io.recv(socket, done.buffer, .., done.tag, client_received) {
            net.fail(format!("client recv: {error}"));
        }
        return;
    }
    client.round += 1;
    if client.round < ROUNDS {
        start_round(net, io, index);
    } else if let Err(error) = io.close(socket, done.tag, client_closed) {
        net.fail(format!("client close: {error}"));
    }
}

fn client_closed(net: &mut Net, _: &mut IO<Net>, done: CloseDone) {
    match done.result {
        Ok(()) => net.clients_done += 1,
        Err(error) => net.fail(format!("client close: {error}")),
    }
}

#[test]
fn concurrent_connections_each_doing_round_trips() {
    let mut io: IO<Net> = IO::init(4 * CONNECTIONS as u32 + 8).unwrap();
    let mut net = Net::default();
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let address = io.listen(listener, any, CONNECTIONS as u32).unwrap();
    net.listener = Some(listener);
    io.accept(listener, 0, accepted).unwrap();
    for index in 0..CONNECTIONS {
        let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        net.clients.push(Client { socket, round: 0, message: Vec::new(), sent: 0, echoed: 0 });
        io.connect(socket, address, index as u64, connected).unwrap();
    }
    // Bounded in passes, not time: every pass runs at least one callback.
    for _ in 0..1_000_000 {
        if net.failure.is_some() || net.servers_done == CONNECTIONS {
            break;
        }
        io.run_once(&mut net).unwrap();
    }
    assert_eq!(net.failure, None);
    assert_eq!(net.clients_done, CONNECTIONS);
    assert_eq!(net.servers_done, CONNECTIONS);
    assert!(net.clients.iter().all(|c| c.round == ROUNDS));
    assert_eq!(io.in_flight(), 0);
    // The listener's close is counted with the clients'.
    io.close(listener, 0, client_closed).unwrap();
    io.run_until_done(&mut net).unwrap();
    assert_eq!((net.failure, net.clients_done), (None, CONNECTIONS + 1));
}

#[derive(Default)]
struct Pair {
    accepted: Option<Fd>,
    connected: bool,
    sent: Option<(Buffer, Result<usize, SendError>)>,
}

/// Socket buffers small enough for a 1 MiB send to fill them.
const SMALL_BUFFERS: SocketOptions =
    SocketOptions { nodelay: true, recv_buffer_size: Some(4096), send_buffer_size: Some(4096) };

/// A listener on loopback and a connection to it, every socket opened with
/// `options`: (listener, client, accepted).
fn connected_pair(io: &mut IO<Pair>, ctx: &mut Pair, options: SocketOptions) -> (Fd, Fd, Fd) {
    let listener = io.open_socket(AddressFamily::Ipv4, options).unwrap();
    let address = io.listen(listener, "127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, options).unwrap();
    io.accept(listener, 0, |ctx: &mut Pair, _: &mut IO<Pair>, done| {
        ctx.accepted = Some(done.result.unwrap())
    })
    .unwrap();
    io.connect(client, address, 0, |ctx: &mut Pair, _, done| {
        done.result.unwrap();
        ctx.connected = true;
    })
    .unwrap();
    io.run_until_done(ctx).unwrap();
    assert!(ctx.connected, "connected");
    (listener, client, ctx.accepted.expect("accepted"))
}

/// Closes every descriptor, each close succeeding, and checks nothing is
/// left in flight.
fn close_all(io: &mut IO<Pair>, ctx: &mut Pair, fds: &[Fd]) {
    for &fd in fds {
        io.close(fd, 0, |_, _, done| done.result.unwrap()).unwrap();
    }
    io.run_until_done(ctx).unwrap();
    assert_eq!(io.in_flight(), 0);
}

#[test]
fn the_kernel_cuts_a_large_send_short_and_it_is_reported() {
    let mut io: IO<Pair> = IO::init(8).unwrap();
    let mut ctx = Pair::default();
    let (listener, client, server) = connected_pair(&mut io, &mut ctx, SMALL_BUFFERS);
    // Nobody reads: a 1 MiB send cannot fit the socket buffers and must
    // complete with the count the kernel took, not block or fail.
    let len = 1 << 20;
    io.send(client, Buffer::new(len).unwrap(), .., 0, |ctx: &mut Pair, _, done| {
        ctx.sent = Some((done.buffer, done.result));
    })
    .unwrap();
    while ctx.sent.is_none() {
        io.run_once(&mut ctx).unwrap();
    }
    let (buffer, result) = ctx.sent.take().unwrap();
    assert_eq!(buffer.len(), len, "the buffer comes back whole");
    let n = result.unwrap();
    assert!(n > 0 && n < len, "sent {n} of {len}");
    // The rest, resubmitted, parks (the peer reads nothing) until canceled.
    let rest = io
        .send(client, buffer, n.., 1, |ctx: &mut Pair, _, done| {
            ctx.sent = Some((done.buffer, done.result));
        })
        .unwrap();
    io.tick(&mut ctx).unwrap();
    io.tick(&mut ctx).unwrap();
    assert!(ctx.sent.is_none(), "a send to a full socket completed: {:?}", ctx.sent);
    io.cancel(rest).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.sent.take().unwrap().1, Err(SendError::Canceled));
    close_all(&mut io, &mut ctx, &[client, server, listener]);
}

/// What the close race test records, in callback order.
#[derive(Default)]
struct Race {
    server: Option<Fd>,
    order: Vec<&'static str>,
    recv: Option<Result<usize, RecvError>>,
}

fn race_recv(ctx: &mut Race, _: &mut IO<Race>, done: RecvDone) {
    ctx.order.push("recv");
    ctx.recv = Some(done.result);
}

fn race_close(ctx: &mut Race, _: &mut IO<Race>, done: CloseDone) {
    ctx.order.push("close");
    done.result.expect("close");
}

/// The first of many zero timeouts closes the server socket.
fn race_timeout(ctx: &mut Race, io: &mut IO<Race>, done: TimeoutDone) {
    if done.tag == 0 {
        let server = ctx.server.expect("accepted");
        io.close(server, 0, race_close).expect("close");
    }
}

/// A close queued behind more work than one pass drains, while a recv
/// parked on its socket becomes ready: the recv must still complete before
/// the close, with `Canceled` (or the data), never run its syscall on the
/// closed (and possibly reused) descriptor number.
#[test]
fn a_close_queued_across_passes_still_completes_pending_ops_first() {
    const TIMEOUTS: u64 = 5000; // more than one pass drains
    let mut io: IO<Race> = IO::init(TIMEOUTS as u32 + 16).unwrap();
    let mut ctx = Race::default();
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let address = io.listen(listener, "127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let mut peer = std::net::TcpStream::connect(address).unwrap();
    io.accept(listener, 0, |ctx: &mut Race, _: &mut IO<Race>, done| {
        ctx.server = Some(done.result.unwrap());
    })
    .unwrap();
    io.run_until_done(&mut ctx).unwrap();
    let server = ctx.server.unwrap();
    io.recv(server, Buffer::new(16).unwrap(), .., 0, race_recv).unwrap();
    io.tick(&mut ctx).unwrap(); // parks: nothing to read yet
    assert!(ctx.order.is_empty());
    // The data is ready in the kernel before the loop runs again.
    std::io::Write::write_all(&mut peer, b"x").unwrap();
    for tag in 0..TIMEOUTS {
        io.timeout(0, tag, race_timeout).unwrap();
    }
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.order, ["recv", "close"], "the pending recv completes first");
    let recv = ctx.recv.unwrap();
    assert!(matches!(recv, Err(RecvError::Canceled) | Ok(1)), "recv: {recv:?}");
    io.close(listener, 0, race_close).unwrap();
    io.run_until_done(&mut ctx).unwrap();
}

/// An integer socket option, read with `getsockopt`.
fn socket_option(fd: Fd, level: i32, name: i32) -> i32 {
    let mut value: i32 = 0;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes; the result is checked.
    let rc = unsafe { libc::getsockopt(fd.raw(), level, name, (&raw mut value).cast(), &mut len) };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value
}

/// (non-blocking, close-on-exec) of a descriptor.
fn descriptor_flags(fd: Fd) -> (bool, bool) {
    // SAFETY: fcntl with query commands only reads the descriptor's flags.
    let (status, flags) =
        unsafe { (libc::fcntl(fd.raw(), libc::F_GETFL), libc::fcntl(fd.raw(), libc::F_GETFD)) };
    assert!(status >= 0 && flags >= 0, "fcntl: {}", std::io::Error::last_os_error());
    (status & libc::O_NONBLOCK != 0, flags & libc::FD_CLOEXEC != 0)
}

/// Sockets opened and accepted by the IO are non-blocking and close-on-exec
/// and carry the options asked for; an accepted socket gets its listener's.
#[test]
fn socket_options_are_applied_to_opened_and_accepted_sockets() {
    for nodelay in [true, false] {
        let options = SocketOptions {
            nodelay,
            recv_buffer_size: Some(64 << 10),
            send_buffer_size: Some(32 << 10),
        };
        let mut io: IO<Pair> = IO::init(8).unwrap();
        let mut ctx = Pair::default();
        let (listener, client, accepted) = connected_pair(&mut io, &mut ctx, options);
        for (what, fd) in [("listener", listener), ("client", client), ("accepted", accepted)] {
            assert_eq!(descriptor_flags(fd), (true, true), "{what}: non-blocking, cloexec");
            let rcvbuf = socket_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF);
            let sndbuf = socket_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF);
            // Linux doubles the value set (for its bookkeeping); others keep it.
            assert!(rcvbuf >= 64 << 10, "{what}: SO_RCVBUF {rcvbuf}");
            assert!(sndbuf >= 32 << 10, "{what}: SO_SNDBUF {sndbuf}");
        }
        for (what, fd) in [("client", client), ("accepted", accepted)] {
            let set = socket_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY) != 0;
            assert_eq!(set, nodelay, "{what}: TCP_NODELAY");
        }
        close_all(&mut io, &mut ctx, &[client, accepted, listener]);
    }
}

/// A send parked on a full socket is woken by the peer's reset with a typed
/// error (the peer closes with unread bytes), never a SIGPIPE or a hang.
#[test]
fn a_parked_send_is_woken_by_the_peers_reset() {
    // SAFETY: SIG_DFL installs no handler code; it makes a SIGPIPE (were
    // MSG_NOSIGNAL / SO_NOSIGPIPE missing) kill this test binary.
    assert_ne!(unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) }, libc::SIG_ERR);
    let mut io: IO<Pair> = IO::init(8).unwrap();
    let mut ctx = Pair::default();
    let (listener, client, server) = connected_pair(&mut io, &mut ctx, SMALL_BUFFERS);
    let on_sent = |ctx: &mut Pair, _: &mut IO<Pair>, done: SendDone| {
        ctx.sent = Some((done.buffer, done.result));
    };
    // Fill the socket until a send parks.
    let mut buffer = Buffer::new(1 << 20).unwrap();
    let mut offset = 0;
    loop {
        io.send(client, buffer, offset.., 0, on_sent).unwrap();
        io.tick(&mut ctx).unwrap();
        io.tick(&mut ctx).unwrap();
        let Some((returned, result)) = ctx.sent.take() else { break };
        offset += result.unwrap();
        assert!(offset < 1 << 20, "1 MiB fit in 4 KiB socket buffers");
        buffer = returned;
    }
    // The server closes with unread bytes: a reset.
    io.close(server, 0, |_, _, done| done.result.unwrap()).unwrap();
    while ctx.sent.is_none() {
        io.run_once(&mut ctx).unwrap();
    }
    let result = ctx.sent.take().unwrap().1;
    assert!(
        matches!(result, Err(SendError::ConnectionResetByPeer | SendError::BrokenPipe)),
        "{result:?}"
    );
    close_all(&mut io, &mut ctx, &[client, listener]);
}
