//! Network operations that would block, parked on their socket until the
//! network touches it (`network/readiness.rs`).
//!
//! Waking retries only the operations of touched sockets, so a pass costs
//! O(events) however many operations wait. Woken operations are retried in
//! the order they first parked, the order a twin that retried every parked
//! operation on every pass would run them in: callback order does not
//! depend on which sockets happened to be looked at.
//!
//! Debug builds check after every wake that each operation still parked
//! would block (`SimIO::check_parked`): a lost wakeup is a bug of the twin,
//! and every debug test run looks for it.

use super::network::Network;
use crate::engine::{Backend, Core};
use crate::list::{Link, List};

/// Where each parked operation waits, and in which order they parked.
pub(crate) struct Parking {
    /// Parked operations by socket slot, each list in parking order.
    on_socket: Vec<List>,
    /// Per operation slot: what its current parking is.
    parked: Vec<Parked>,
    count: usize,
    next_order: u64,
    /// Scratch, kept between passes so waking allocates nothing.
    touched: Vec<u32>,
    woken: Vec<(u64, u32)>,
}

#[derive(Clone, Copy, Default)]
struct Parked {
    /// The slot's generation when it first parked: a new operation in the
    /// slot draws a new order.
    generation: u32,
    /// When it first parked (0: never).
    order: u64,
}

impl Parking {
    pub(crate) fn new(entries: usize) -> Parking {
        Parking {
            on_socket: Vec::new(),
            parked: vec![Parked::default(); entries],
            count: 0,
            next_order: 0,
            touched: Vec::new(),
            woken: Vec::with_capacity(entries),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Parks operation `index` on `socket`. A retried operation keeps the
    /// order of its first park.
    pub(crate) fn park<B: Backend>(&mut self, core: &mut Core<B>, index: u32, socket: u32) {
        let generation = core.slots[index as usize].generation;
        let parked = &mut self.parked[index as usize];
        if parked.order == 0 || parked.generation != generation {
            self.next_order += 1;
            *parked = Parked { generation, order: self.next_order };
        }
        let at = socket as usize;
        if at >= self.on_socket.len() {
            self.on_socket.resize(at + 1, List::new());
        }
        self.on_socket[at].push_back(&mut core.links, index);
        self.count += 1;
    }

    /// Unparks operation `index` (canceled, or its node crashed).
    pub(crate) fn remove(&mut self, links: &mut [Link], index: u32, socket: u32) {
        self.on_socket[socket as usize].remove(links, index);
        self.count -= 1;
    }

    /// Calls `f` with every parked operation and its socket slot.
    pub(crate) fn for_each(&self, links: &[Link], mut f: impl FnMut(u32, u32)) {
        for (socket, list) in self.on_socket.iter().enumerate() {
            let mut at = list.front();
            while let Some(index) = at {
                f(index, socket as u32);
                at = List::next(links, index);
            }
        }
    }

    /// Moves the operations parked on the sockets the network touched to
    /// `completed`, in the order they first parked. False if there was none.
    pub(crate) fn wake<B: Backend>(&mut self, core: &mut Core<B>, network: &mut Network) -> bool {
        self.touched.clear();
        network.take_touched(&mut self.touched);
        for at in 0..self.touched.len() {
            let socket = self.touched[at] as usize;
            self.take_socket(&mut core.links, socket);
        }
        if self.woken.is_empty() {
            return false;
        }
        self.woken.sort_unstable();
        for &(_, index) in &self.woken {
            core.make_ready(index);
        }
        self.woken.clear();
        true
    }

    fn take_socket(&mut self, links: &mut [Link], socket: usize) {
        let Some(list) = self.on_socket.get_mut(socket) else { return };
        while let Some(index) = list.pop_front(links) {
            self.woken.push((self.parked[index as usize].order, index));
            self.count -= 1;
        }
    }
}
