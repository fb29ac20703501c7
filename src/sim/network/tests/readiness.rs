//! Which sockets the network touches (`readiness.rs`): exactly those whose
//! waiting operations an event can let run, and `would_block` agreeing
//! with the poll functions.

use super::*;

/// A listener, `count` connected pairs through it, and the touch list
/// emptied.
fn pairs(h: &mut Harness, count: usize) -> (SocketKey, Vec<(SocketKey, SocketKey)>) {
    let (listener, bound) = h.listener(SERVER, "10.0.0.2:7000", 64);
    let clients: Vec<SocketKey> = (0..count).map(|_| h.connect(CLIENT, bound)).collect();
    h.settle();
    let pairs = clients
        .into_iter()
        .map(|client| {
            let server = h.net.poll_accept(listener).expect("queued").expect("ok");
            (client, server)
        })
        .collect();
    touched(h);
    (listener, pairs)
}

fn touched(h: &mut Harness) -> Vec<u32> {
    let mut into = Vec::new();
    h.net.take_touched(&mut into);
    into
}

#[test]
fn an_arrival_touches_only_the_socket_it_reaches() {
    let mut h = Harness::new(1, NetworkFaults::none());
    let (_, pairs) = pairs(&mut h, 8);
    let (client, server) = pairs[3];
    assert_eq!(h.send(client, b"hello"), Some(Ok(5)));
    assert_eq!(touched(&mut h), [], "sending touches nothing before the segment lands");
    assert!(h.net.would_block(server, Interest::Recv));
    h.settle();
    assert_eq!(touched(&mut h), [server.slot()]);
    assert!(!h.net.would_block(server, Interest::Recv));
    for &(other_client, other_server) in &pairs {
        if other_server != server {
            assert!(h.net.would_block(other_server, Interest::Recv));
            assert!(h.net.would_block(other_client, Interest::Recv));
        }
    }
    assert_eq!(touched(&mut h), [], "taken once");
}

#[test]
fn the_handshake_touches_the_listener_then_the_client() {
    let mut h = Harness::new(1, NetworkFaults::none());
    let (listener, bound) = h.listener(SERVER, "10.0.0.2:7000", 4);
    let client = h.connect(CLIENT, bound);
    assert!(h.net.would_block(listener, Interest::Accept));
    assert!(h.net.would_block(client, Interest::Connect));
    h.net.advance(10_000);
    assert_eq!(touched(&mut h), [listener.slot()], "the SYN joined the backlog");
    assert!(!h.net.would_block(listener, Interest::Accept));
    h.net.advance(20_000);
    assert_eq!(touched(&mut h), [client.slot()], "the SYN-ACK established the client");
    assert!(!h.net.would_block(client, Interest::Connect));
}

#[test]
fn a_read_touches_the_sender_only_when_its_window_was_full() {
    let mut h = Harness::new(1, NetworkFaults::none());
    let (_, pairs) = pairs(&mut h, 1);
    let (client, server) = pairs[0];
    let data = pattern(SEND_WINDOW);
    assert_eq!(h.send(client, &data), Some(Ok(SEND_WINDOW)));
    assert!(h.net.would_block(client, Interest::Send), "the window is full");
    assert_eq!(h.send(client, b"x"), None);
    h.settle();
    assert_eq!(touched(&mut h), [server.slot()]);
    let mut buf = [0u8; 100];
    assert_eq!(h.recv(server, &mut buf), Some(Ok(100)));
    assert_eq!(touched(&mut h), [client.slot()], "the window reopened");
    assert!(!h.net.would_block(client, Interest::Send));
    assert_eq!(h.recv(server, &mut buf), Some(Ok(100)));
    assert_eq!(touched(&mut h), [], "it was not full any more: nobody waits on it");
}

#[test]
fn fin_rst_and_a_local_shutdown_touch_the_socket_they_end() {
    let mut h = Harness::new(1, NetworkFaults::none());
    let (_, pairs) = pairs(&mut h, 2);
    let (client, server) = pairs[0];
    h.net.shutdown(client, Shutdown::Write).expect("shutdown");
    assert_eq!(touched(&mut h), [client.slot()], "its own send now fails at once");
    assert!(!h.net.would_block(client, Interest::Send));
    h.settle();
    assert_eq!(touched(&mut h), [server.slot()], "the FIN reached the server");
    assert!(!h.net.would_block(server, Interest::Recv), "end of stream");
    let (client, server) = pairs[1];
    h.net.close(server).expect("close");
    h.settle();
    assert_eq!(touched(&mut h), [client.slot()], "the FIN of a close");
    assert!(!h.net.would_block(client, Interest::Recv));
}

#[test]
fn the_reset_fault_touches_the_sender_itself() {
    let faults = NetworkFaults { reset: Ratio::ONE, ..NetworkFaults::none() };
    let mut h = Harness::new(1, faults);
    let (_, pairs) = pairs(&mut h, 1);
    let (client, _) = pairs[0];
    assert!(h.net.would_block(client, Interest::Recv));
    assert_eq!(h.send(client, b"x"), Some(Err(Errno::ECONNRESET)));
    assert_eq!(touched(&mut h), [client.slot()], "its waiting recv now ends");
    assert!(!h.net.would_block(client, Interest::Recv));
}

proptest! {
    /// Whatever a random exchange did, `would_block` says "blocks" exactly
    /// when the poll function answers "would block" (checked before each
    /// poll, which may then change the state).
    #[test]
    fn would_block_agrees_with_the_polls(steps in proptest::collection::vec((0u8..4, 0usize..3000), 1..60)) {
        let mut h = Harness::new(7, NetworkFaults::none());
        let (_, pairs) = pairs(&mut h, 1);
        let (client, server) = pairs[0];
        let data = pattern(SEND_WINDOW);
        let mut buf = vec![0u8; 3000];
        for (action, len) in steps {
            let len = len.max(1);
            match action {
                0 => {
                    let blocks = h.net.would_block(client, Interest::Send);
                    prop_assert_eq!(blocks, h.send(client, &data[..len]).is_none());
                }
                1 => {
                    let blocks = h.net.would_block(server, Interest::Recv);
                    prop_assert_eq!(blocks, h.recv(server, &mut buf[..len]).is_none());
                }
                2 => h.settle(),
                _ => {
                    let _ = h.net.shutdown(client, Shutdown::Write);
                }
            }
        }
    }
}
