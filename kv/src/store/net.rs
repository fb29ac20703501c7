//! The front end: accept clients, parse their frames, send the answers.
//!
//! Each connection owns an inbox (bytes received, not yet a whole frame) and
//! an outbox (encoded responses not yet handed to `send`); at most one recv
//! and one send are in flight per connection. Every op's tag is the
//! connection's id (index and generation), so a callback arriving after the
//! connection closed — with `Canceled`, or late — is recognised and ignored.

use twinio::{AcceptDone, AddressFamily, Buffer, Fd, Io, RecvDone, SendDone, SocketOptions};

use super::{Pending, State, Store, log, reads};
use crate::protocol::{self, Decoded, ErrorCode, Request, Response};
use crate::record::Mutation;

/// Bytes asked of one recv: a few largest frames.
const RECV_SIZE: usize = 16 * 1024;

/// A connection's identity: a reused index plus a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnectionId {
    index: u32,
    generation: u32,
}

impl ConnectionId {
    fn tag(self) -> u64 {
        u64::from(self.index) | u64::from(self.generation) << 32
    }

    fn from_tag(tag: u64) -> ConnectionId {
        ConnectionId { index: tag as u32, generation: (tag >> 32) as u32 }
    }
}

#[derive(Debug, Default)]
struct Connection {
    generation: u32,
    /// `None` while the slot is free.
    socket: Option<Fd>,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    sending: bool,
}

/// The open connections, in a slab of reused slots.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    slots: Vec<Connection>,
}

impl Connections {
    fn open(&mut self, socket: Fd) -> ConnectionId {
        let index = match self.slots.iter().position(|slot| slot.socket.is_none()) {
            Some(index) => index,
            None => {
                self.slots.push(Connection::default());
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        slot.socket = Some(socket);
        slot.inbox.clear();
        slot.outbox.clear();
        slot.sending = false;
        ConnectionId { index: index as u32, generation: slot.generation }
    }

    fn get(&mut self, id: ConnectionId) -> Option<&mut Connection> {
        self.slots
            .get_mut(id.index as usize)
            .filter(|slot| slot.socket.is_some() && slot.generation == id.generation)
    }

    /// Open connections.
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.socket.is_some()).count()
    }
}

/// Recovery is done: listen and start serving.
pub(super) fn listen<I: Io>(store: &mut Store, io: &mut I)
where
    I::Context: AsMut<Store>,
{
    let family =
        if store.config.listen.is_ipv4() { AddressFamily::Ipv4 } else { AddressFamily::Ipv6 };
    let listener = match io.open_socket(family, SocketOptions::default()) {
        Ok(listener) => listener,
        Err(_) => return store.fail("cannot open the listening socket"),
    };
    store.listener = Some(listener);
    match io.listen(listener, store.config.listen, 64) {
        Ok(address) => store.address = Some(address),
        Err(_) => return store.fail("cannot listen"),
    }
    store.state = State::Serving;
    let (records, keys) = (store.head, store.index.len());
    store.note(io, || format!("serving: {records} records in the log, {keys} live keys"));
    if io.accept(listener, 0, on_accept::<I>).is_err() {
        return store.fail("no operation slot for accept");
    }
    log::pump(store, io);
}

fn on_accept<I: Io>(ctx: &mut I::Context, io: &mut I, done: AcceptDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    if store.state != State::Serving {
        if let Ok(socket) = done.result {
            let _ = io.close(socket, 0, |_, _, _| {});
        }
        return;
    }
    if let Ok(socket) = done.result {
        let id = store.connections.open(socket);
        receive(store, io, id, Buffer::new(RECV_SIZE).expect("recv buffer"));
    }
    // Accept errors (an aborted handshake, a descriptor limit) concern one
    // connection, not the store: keep accepting.
    let listener = store.listener.expect("serving means listening");
    if io.accept(listener, 0, on_accept::<I>).is_err() {
        store.fail("no operation slot for accept");
    }
}

fn receive<I: Io>(store: &mut Store, io: &mut I, id: ConnectionId, buffer: Buffer)
where
    I::Context: AsMut<Store>,
{
    let Some(socket) = store.connections.get(id).and_then(|c| c.socket) else { return };
    if io.recv(socket, buffer, .., id.tag(), on_recv::<I>).is_err() {
        close(store, io, id);
    }
}

fn on_recv<I: Io>(ctx: &mut I::Context, io: &mut I, done: RecvDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    let id = ConnectionId::from_tag(done.tag);
    let Some(connection) = store.connections.get(id) else { return };
    let n = match done.result {
        Ok(n) if n > 0 => n,
        // End of stream or an error: this client is gone.
        _ => return close(store, io, id),
    };
    connection.inbox.extend_from_slice(&done.buffer[..n]);
    loop {
        let Some(connection) = store.connections.get(id) else { return };
        match protocol::decode_request(&connection.inbox) {
            Ok(Decoded::Frame(request, used)) => {
                connection.inbox.drain(..used);
                handle(store, io, id, request);
                if store.config.bugs.one_frame_per_recv {
                    break; // the planted bug: the rest waits for more bytes
                }
            }
            Ok(Decoded::Incomplete) => break,
            Err(_) => return close(store, io, id),
        }
    }
    receive(store, io, id, done.buffer);
}

fn handle<I: Io>(store: &mut Store, io: &mut I, connection: ConnectionId, request: Request)
where
    I::Context: AsMut<Store>,
{
    let id = request.id();
    if store.state != State::Serving {
        // Only a store that stopped on an error gets here (it listens only
        // once recovered). Like a process on its way out, it drops its
        // clients rather than answering: they reconnect to the next one.
        return close(store, io, connection);
    }
    let fits = match &request {
        Request::Put { key, value, .. } => {
            Mutation::Put { key: key.clone(), value: value.clone() }.fits()
        }
        Request::Get { key, .. } | Request::Delete { key, .. } => {
            key.len() <= crate::record::MAX_KEY
        }
    };
    if !fits {
        return respond(store, io, connection, Response::Error { id, code: ErrorCode::BadRequest });
    }
    match request {
        Request::Get { id, key } => reads::get(store, io, connection, id, key),
        mutation => {
            store.queued.push_back(Pending { connection, request: mutation });
            log::pump(store, io);
        }
    }
}

/// Queues `response` for `connection` (dropped if it has closed).
pub(super) fn respond<I: Io>(
    store: &mut Store,
    io: &mut I,
    connection: ConnectionId,
    response: Response,
) where
    I::Context: AsMut<Store>,
{
    let Some(slot) = store.connections.get(connection) else { return };
    if protocol::encode_response(&response, &mut slot.outbox).is_err() {
        // Only a value longer than a frame, which no record can hold: a
        // client must not hang waiting for it, so drop the connection.
        return close(store, io, connection);
    }
    if !slot.sending {
        send_outbox(store, io, connection);
    }
}

fn send_outbox<I: Io>(store: &mut Store, io: &mut I, id: ConnectionId)
where
    I::Context: AsMut<Store>,
{
    let Some(slot) = store.connections.get(id) else { return };
    if slot.outbox.is_empty() {
        slot.sending = false;
        return;
    }
    let buffer = Buffer::from_slice(&slot.outbox).expect("outbox fits a buffer");
    slot.outbox.clear();
    slot.sending = true;
    let socket = slot.socket.expect("open");
    if io.send(socket, buffer, .., id.tag(), on_sent::<I>).is_err() {
        close(store, io, id);
    }
}

fn on_sent<I: Io>(ctx: &mut I::Context, io: &mut I, done: SendDone)
where
    I::Context: AsMut<Store>,
{
    let store = ctx.as_mut();
    let id = ConnectionId::from_tag(done.tag);
    let Some(slot) = store.connections.get(id) else { return };
    match done.result {
        Ok(n) if n < done.buffer.len() && !store.config.bugs.short_send => {
            // A short send: put the unsent tail back in front of the outbox.
            let mut rest = done.buffer[n..].to_vec();
            rest.extend_from_slice(&slot.outbox);
            slot.outbox = rest;
            send_outbox(store, io, id);
        }
        Ok(_) => send_outbox(store, io, id),
        Err(_) => close(store, io, id),
    }
}

/// Closes a connection; its in-flight ops complete with `Canceled` and are
/// ignored (their tag's generation is stale).
pub(super) fn close<I: Io>(store: &mut Store, io: &mut I, id: ConnectionId)
where
    I::Context: AsMut<Store>,
{
    let Some(slot) = store.connections.get(id) else { return };
    let socket = slot.socket.take().expect("open");
    slot.generation = slot.generation.wrapping_add(1);
    slot.inbox = Vec::new();
    slot.outbox = Vec::new();
    let _ = io.close(socket, 0, |_, _, _| {});
}
