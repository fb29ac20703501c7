//! A simulated client: one connection, up to `depth` requests in flight
//! (pipelined: sent back to back, answered in any order), on its own keys
//! or on keys shared with the other clients.
//!
//! It connects, keeps its pipeline full (each request bounded by a request
//! timeout), reports every outcome to the checker as it arrives. Any
//! connection trouble makes the requests in flight indeterminate; the
//! client closes, backs off and reconnects. Every op's tag carries the client's
//! index and connection generation, so callbacks from an abandoned
//! connection are recognised and ignored.

use std::ops::Range;

use twinio::{
    AddressFamily, Buffer, CloseDone, ConnectDone, Fd, Io, OpId, RecvDone, SendDone, SocketOptions,
    TimeoutDone,
};

use super::checker::{ReadToken, WriteId};
use super::world::{Phase, World};
use crate::protocol::{self, Decoded, ErrorCode, Request, Response};

const REQUEST_TIMEOUT_NS: u64 = 5_000_000_000;
/// Pause time (of the server and the client nodes together) within a
/// request's timeout that excuses its silence.
const PAUSE_EXCUSE_NS: u64 = 1_000_000_000;
const BACKOFF_MIN_NS: u64 = 50_000_000;
const BACKOFF_MAX_NS: u64 = 500_000_000;
const RECV_SIZE: usize = 8 * 1024;
/// The longest value a client writes (well under a record's limit).
const MAX_VALUE_LEN: u64 = 300;

#[derive(Debug, Clone)]
enum Kind {
    Put { key: u64, value: Vec<u8> },
    Delete { key: u64 },
    Get { key: u64 },
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Put { key, value } => {
                let shown = String::from_utf8_lossy(&value[..value.len().min(24)]);
                write!(f, "put key {key} = {shown:?} ({} bytes)", value.len())
            }
            Kind::Delete { key } => write!(f, "delete key {key}"),
            Kind::Get { key } => write!(f, "get key {key}"),
        }
    }
}

/// An answer as the trace shows it.
fn show_response(response: &Response) -> String {
    match response {
        Response::Ok { .. } => "ok".into(),
        Response::Value { value, .. } => {
            let shown = String::from_utf8_lossy(&value[..value.len().min(24)]);
            format!("value {shown:?} ({} bytes)", value.len())
        }
        Response::NotFound { .. } => "not found".into(),
        Response::Error { code, .. } => format!("error {code:?}"),
    }
}

/// What the checker was told when the request was sent.
#[derive(Debug, Clone, Copy)]
enum Token {
    Write(WriteId),
    Read(ReadToken),
}

#[derive(Debug)]
struct Outstanding {
    id: u64,
    kind: Kind,
    token: Token,
    timer: Option<OpId>,
    /// Virtual time it was sent.
    sent_ns: u64,
    /// `World::paused_ns` when it was sent.
    paused_at_send: u64,
}

/// One client's state.
#[derive(Debug)]
pub struct Client {
    index: usize,
    keys: Range<u64>,
    generation: u32,
    socket: Option<Fd>,
    connected: bool,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    sending: bool,
    /// Requests in flight, at most `depth`.
    outstanding: Vec<Outstanding>,
    depth: usize,
    /// Waiting out a refusal (`Unavailable`, `Full`) before sending more.
    backing_off: bool,
    next_id: u64,
    /// Mutations it may still issue while faults are on.
    mutation_budget: u32,
    /// Requests of any kind it may still issue while faults are on.
    request_budget: u64,
    /// Requests answered since the liveness phase began.
    pub liveness_ops: u32,
    /// The next key to read back in the verify phase, once verifying.
    verify_cursor: Option<u64>,
    /// All its keys were read back and checked.
    pub verified: bool,
    /// Requests answered in total.
    pub answered: u64,
    /// The most requests in flight at once.
    pub max_in_flight: usize,
    /// Mutations answered `Full`.
    pub full_answers: u64,
}

impl Client {
    /// A client on `keys`, keeping up to `depth` requests in flight.
    pub fn new(
        index: usize,
        keys: Range<u64>,
        depth: usize,
        mutation_budget: u32,
        request_budget: u64,
    ) -> Client {
        Client {
            index,
            keys,
            generation: 0,
            socket: None,
            connected: false,
            inbox: Vec::new(),
            outbox: Vec::new(),
            sending: false,
            outstanding: Vec::new(),
            depth: depth.max(1),
            backing_off: false,
            next_id: 1,
            mutation_budget,
            request_budget,
            liveness_ops: 0,
            verify_cursor: None,
            verified: false,
            answered: 0,
            max_in_flight: 0,
            full_answers: 0,
        }
    }

    fn tag(&self) -> u64 {
        self.index as u64 | u64::from(self.generation) << 32
    }
}

fn client_of(world: &mut World, tag: u64) -> Option<&mut Client> {
    let client = world.clients.get_mut((tag & 0xFFFF_FFFF) as usize)?;
    (client.generation == (tag >> 32) as u32).then_some(client)
}

/// Opens a connection to the store (from the runner, or after a backoff).
pub fn connect<I: Io<Context = World>>(world: &mut World, io: &mut I, index: usize) {
    let address = world.store_address;
    let client = &mut world.clients[index];
    if client.socket.is_some() {
        return;
    }
    client.generation = client.generation.wrapping_add(1);
    client.inbox.clear();
    client.outbox.clear();
    client.sending = false;
    client.connected = false;
    client.backing_off = false;
    let socket = match io.open_socket(AddressFamily::Ipv4, SocketOptions::default()) {
        Ok(socket) => socket,
        Err(_) => return back_off(world, io, index),
    };
    client.socket = Some(socket);
    let tag = client.tag();
    if io.connect(socket, address, tag, on_connect::<I>).is_err() {
        disconnect(world, io, index);
    }
}

fn on_connect<I: Io<Context = World>>(world: &mut World, io: &mut I, done: ConnectDone) {
    let Some(client) = client_of(world, done.tag) else { return };
    let index = client.index;
    if done.result.is_err() {
        return disconnect(world, io, index);
    }
    client.connected = true;
    let socket = done.socket;
    let buffer = Buffer::new(RECV_SIZE).expect("recv buffer");
    if io.recv(socket, buffer, .., done.tag, on_recv::<I>).is_err() {
        return disconnect(world, io, index);
    }
    fill(world, io, index);
}

/// Keeps the pipeline full, as far as the phase asks.
fn fill<I: Io<Context = World>>(world: &mut World, io: &mut I, index: usize) {
    while next_request(world, io, index) {}
}

/// Sends the next request, if the phase asks for one; false if it did not.
fn next_request<I: Io<Context = World>>(world: &mut World, io: &mut I, index: usize) -> bool {
    let phase = world.phase;
    let client = &mut world.clients[index];
    // Reading keys back is one get at a time, after everything else.
    let depth = if client.verify_cursor.is_some() { 1 } else { client.depth };
    if client.outstanding.len() >= depth
        || !client.connected
        || client.verified
        || client.backing_off
        || client.socket.is_none()
    {
        return false;
    }
    if phase == Phase::Faults {
        if client.request_budget == 0 {
            return false; // idle until the liveness phase nudges it
        }
        client.request_budget -= 1;
    }
    let (get_percent, delete_percent) = (world.workload.get_percent, world.workload.delete_percent);
    let kind = match phase {
        Phase::Done => return false,
        Phase::Faults | Phase::Liveness if client.verify_cursor.is_none() => {
            let key = client.keys.start + world.prng.below(client.keys.end - client.keys.start);
            let roll = world.prng.below(100);
            if client.mutation_budget == 0 || roll < get_percent {
                Kind::Get { key }
            } else if roll >= get_percent + delete_percent {
                client.mutation_budget -= 1;
                let mut value = format!("c{}-r{}-", client.index, client.next_id).into_bytes();
                let padding = world.prng.below(MAX_VALUE_LEN) as usize;
                value.extend(
                    (0..padding).map(|i| b'a' + ((client.next_id as usize + i) % 26) as u8),
                );
                Kind::Put { key, value }
            } else {
                client.mutation_budget -= 1;
                Kind::Delete { key }
            }
        }
        Phase::Faults | Phase::Liveness => {
            let key = client.verify_cursor.expect("verifying");
            Kind::Get { key }
        }
    };
    let id = client.next_id;
    client.next_id += 1;
    let request = match &kind {
        Kind::Put { key, value } => {
            Request::Put { id, key: key.to_le_bytes().to_vec(), value: value.clone() }
        }
        Kind::Delete { key } => Request::Delete { id, key: key.to_le_bytes().to_vec() },
        Kind::Get { key } => Request::Get { id, key: key.to_le_bytes().to_vec() },
    };
    let now = io.now_ns();
    let token = match &kind {
        Kind::Put { key, value } => {
            Token::Write(world.checker.sent_write(*key, Some(value.clone()), index, id, now))
        }
        Kind::Delete { key } => Token::Write(world.checker.sent_write(*key, None, index, id, now)),
        Kind::Get { key } => Token::Read(world.checker.sent_read(*key, now)),
    };
    world.trace(now, || format!("client {index}: request {id}: {kind}"));
    let paused_at_send = world.paused_ns;
    let client = &mut world.clients[index];
    if let Err(error) = protocol::encode_request(&request, &mut client.outbox) {
        world.fail(format!("client {index}: cannot encode its request: {error:?}"));
        return false;
    }
    let timer_tag = index as u64 | id << 16;
    let timer = io.timeout(REQUEST_TIMEOUT_NS, timer_tag, on_request_timeout::<I>).ok();
    client.outstanding.push(Outstanding { id, kind, token, timer, sent_ns: now, paused_at_send });
    client.max_in_flight = client.max_in_flight.max(client.outstanding.len());
    if !client.sending {
        flush_outbox(world, io, index);
    }
    true
}

fn flush_outbox<I: Io<Context = World>>(world: &mut World, io: &mut I, index: usize) {
    let client = &mut world.clients[index];
    let Some(socket) = client.socket else { return };
    if client.outbox.is_empty() {
        client.sending = false;
        return;
    }
    let buffer = Buffer::from_slice(&client.outbox).expect("a request fits a buffer");
    client.outbox.clear();
    client.sending = true;
    let tag = client.tag();
    if io.send(socket, buffer, .., tag, on_sent::<I>).is_err() {
        disconnect(world, io, index);
    }
}

fn on_sent<I: Io<Context = World>>(world: &mut World, io: &mut I, done: SendDone) {
    let Some(client) = client_of(world, done.tag) else { return };
    let index = client.index;
    match done.result {
        Ok(n) if n < done.buffer.len() => {
            let mut rest = done.buffer[n..].to_vec();
            rest.extend_from_slice(&client.outbox);
            client.outbox = rest;
            flush_outbox(world, io, index);
        }
        Ok(_) => flush_outbox(world, io, index),
        Err(_) => disconnect(world, io, index),
    }
}

fn on_recv<I: Io<Context = World>>(world: &mut World, io: &mut I, done: RecvDone) {
    let Some(client) = client_of(world, done.tag) else { return };
    let index = client.index;
    let n = match done.result {
        Ok(n) if n > 0 => n,
        _ => return disconnect(world, io, index),
    };
    client.inbox.extend_from_slice(&done.buffer[..n]);
    loop {
        let client = &mut world.clients[index];
        match protocol::decode_response(&client.inbox) {
            Ok(Decoded::Frame(response, used)) => {
                client.inbox.drain(..used);
                answered(world, io, index, response);
            }
            Ok(Decoded::Incomplete) => break,
            Err(error) => {
                world.fail(format!("client {index}: the store sent a bad frame: {error:?}"));
                return disconnect(world, io, index);
            }
        }
        if world.clients[index].socket.is_none() {
            return;
        }
    }
    let Some(socket) = world.clients[index].socket else { return };
    if io.recv(socket, done.buffer, .., done.tag, on_recv::<I>).is_err() {
        disconnect(world, io, index);
    }
}

/// Checks an answer against the model, then refills the pipeline.
fn answered<I: Io<Context = World>>(
    world: &mut World,
    io: &mut I,
    index: usize,
    response: Response,
) {
    let client = &mut world.clients[index];
    let id = match &response {
        Response::Ok { id }
        | Response::Value { id, .. }
        | Response::NotFound { id }
        | Response::Error { id, .. } => *id,
    };
    let Some(position) = client.outstanding.iter().position(|o| o.id == id) else {
        return world.fail(format!("client {index}: an answer to request {id}, not in flight"));
    };
    let outstanding = client.outstanding.remove(position);
    if let Some(timer) = outstanding.timer {
        let _ = io.cancel(timer);
    }
    client.answered += 1;
    if world.phase == Phase::Liveness {
        client.liveness_ops += 1;
    }
    let now = io.now_ns();
    world.trace(now, || {
        format!("client {index}: request {id} answered: {}", show_response(&response))
    });
    let response_code = match &response {
        Response::Error { code, .. } => Some(*code),
        _ => None,
    };
    let checked = match (&outstanding.kind, outstanding.token, response) {
        (Kind::Put { .. } | Kind::Delete { .. }, Token::Write(write), Response::Ok { .. }) => {
            world.checker.acknowledged(write, now);
            Ok(())
        }
        (Kind::Get { .. }, Token::Read(token), Response::Value { value, .. }) => {
            world.checker.read(token, Some(value), now).map_err(|v| v.to_string())
        }
        (Kind::Get { .. }, Token::Read(token), Response::NotFound { .. }) => {
            world.checker.read(token, None, now).map_err(|v| v.to_string())
        }
        (Kind::Get { key }, _, Response::Error { code: ErrorCode::Corrupt, .. }) => Err(format!(
            "key {key}: the store reports both log copies corrupt, but one is never damaged"
        )),
        // Not serving, or a failed batch: a mutation is in doubt. The log
        // is full: nothing was written.
        (_, _, Response::Error { code: ErrorCode::Unavailable | ErrorCode::Full, .. }) => Ok(()),
        (kind, _, other) => Err(format!("client {index}: {kind} answered with {other:?}")),
    };
    if let Err(why) = checked {
        if let Kind::Get { key } = outstanding.kind {
            world.failed_key.get_or_insert(key);
        }
        return world.fail(why);
    }
    let refused = matches!(response_code, Some(ErrorCode::Unavailable | ErrorCode::Full));
    let client = &mut world.clients[index];
    client.full_answers += u64::from(response_code == Some(ErrorCode::Full));
    if let (Kind::Get { key }, Some(cursor)) = (&outstanding.kind, client.verify_cursor)
        && *key == cursor
    {
        client.verify_cursor = Some(cursor + 1);
        if cursor + 1 == client.keys.end {
            client.verified = true;
        }
    }
    if world.phase == Phase::Liveness
        && client.verify_cursor.is_none()
        && client.liveness_ops >= world.liveness_ops_per_client
    {
        client.verify_cursor = Some(client.keys.start);
    }
    if refused && !client.backing_off {
        // The store is busy failing or full: retry later, not in a loop
        // that would spin at one instant of virtual time.
        client.backing_off = true;
        let delay = world.prng.range_inclusive(BACKOFF_MIN_NS, BACKOFF_MAX_NS);
        let tag = world.clients[index].tag();
        let _ = io.timeout(delay, tag, on_retry::<I>);
        return;
    }
    fill(world, io, index);
}

fn on_retry<I: Io<Context = World>>(world: &mut World, io: &mut I, done: TimeoutDone) {
    let Some(client) = client_of(world, done.tag) else { return };
    client.backing_off = false;
    let index = client.index;
    fill(world, io, index);
}

fn on_request_timeout<I: Io<Context = World>>(world: &mut World, io: &mut I, done: TimeoutDone) {
    if done.result.is_err() {
        return; // canceled: the answer came
    }
    let index = (done.tag & 0xFFFF) as usize;
    let id = done.tag >> 16;
    let Some(client) = world.clients.get(index) else { return };
    let Some(outstanding) = client.outstanding.iter().find(|o| o.id == id) else { return };
    let unsettled = world.partitioned
        || world.server_down
        || world.store.state() != crate::store::State::Serving;
    // Pauses of either node take from the time a correct store has to
    // answer; a second of them leaves it the slack it had without pauses.
    let paused = world.paused_ns.saturating_sub(outstanding.paused_at_send) >= PAUSE_EXCUSE_NS;
    if outstanding.sent_ns > world.disturbed_ns && !unsettled && !paused {
        // No crash, restart, partition or heal since it was sent, and none
        // in force: a correct store answers within the timeout whatever
        // the other faults (latencies, short sends and receives) do, so
        // silence is a stall, even though the reconnect that follows
        // would hide it.
        let why = format!(
            "client {index}: request {id} ({}), sent at {:.3} ms, unanswered after {} s \
             with no crash, restart or partition since",
            outstanding.kind,
            outstanding.sent_ns as f64 / 1e6,
            REQUEST_TIMEOUT_NS / 1_000_000_000
        );
        world.stall.get_or_insert(why);
    }
    disconnect(world, io, index);
}

/// Abandons the connection: the requests in flight become indeterminate
/// (the checker lets their writes take effect at any later time, or
/// never); reconnect after a backoff.
fn disconnect<I: Io<Context = World>>(world: &mut World, io: &mut I, index: usize) {
    let client = &mut world.clients[index];
    for outstanding in client.outstanding.drain(..) {
        if let Some(timer) = outstanding.timer {
            let _ = io.cancel(timer);
        }
    }
    world.trace(io.now_ns(), || {
        format!(
            "client {index}: connection closed (refused, reset or timed out); in flight: in doubt"
        )
    });
    let client = &mut world.clients[index];
    client.generation = client.generation.wrapping_add(1);
    client.connected = false;
    if let Some(socket) = client.socket.take() {
        let _ = io.close(socket, 0, on_closed::<I>);
    }
    back_off(world, io, index);
}

fn on_closed<I: Io<Context = World>>(_: &mut World, _: &mut I, _: CloseDone) {}

fn back_off<I: Io<Context = World>>(world: &mut World, io: &mut I, index: usize) {
    let delay = world.prng.range_inclusive(BACKOFF_MIN_NS, BACKOFF_MAX_NS);
    let tag = world.clients[index].tag();
    let _ = io.timeout(delay, tag, on_backoff::<I>);
}

fn on_backoff<I: Io<Context = World>>(world: &mut World, io: &mut I, done: TimeoutDone) {
    let Some(client) = client_of(world, done.tag) else { return };
    if client.socket.is_none() {
        let index = client.index;
        connect(world, io, index);
    }
}

/// Wakes an idle, connected client (after a phase change).
pub fn nudge<I: Io<Context = World>>(world: &mut World, io: &mut I, index: usize) {
    let client = &mut world.clients[index];
    if world.phase == Phase::Liveness && client.verify_cursor.is_none() {
        client.liveness_ops = 0;
    }
    fill(world, io, index);
}
