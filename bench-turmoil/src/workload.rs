//! What both sides run: the workload shapes, the bytes of every message and
//! block, and how a side checks them. Both simulators get their data from
//! here, so they do the same work and fail on the same wrong byte.

use std::time::Duration;

/// Every message of the echo workloads.
pub const MESSAGE: usize = 64;
/// One file write.
pub const BLOCK: usize = 4096;
/// The file the writes land in.
pub const FILE_SIZE: u64 = 64 << 20;
/// Blocks in the file.
pub const BLOCKS: u64 = FILE_SIZE / BLOCK as u64;
/// An fsync after every this many writes.
pub const FSYNC_EVERY: u64 = 16;
/// The one-way network latency of every echo workload, both sides.
pub const LATENCY: Duration = Duration::from_millis(1);
/// The width of the jitter above it (workload 3).
pub const JITTER: Duration = Duration::from_millis(1);

/// A TCP echo workload: `conns` connections, each `rounds` round trips of
/// one [`MESSAGE`], one message in flight per connection.
#[derive(Clone, Copy, Debug)]
pub struct Echo {
    pub conns: usize,
    pub rounds: u32,
    /// Latency `LATENCY + U(0..=JITTER)` instead of a fixed `LATENCY`.
    pub jitter: bool,
}

impl Echo {
    pub fn round_trips(&self) -> u64 {
        self.conns as u64 * u64::from(self.rounds)
    }
}

/// Message `round` of connection `conn`: distinct per connection and
/// round, so a misrouted, stale or reordered echo fails.
pub fn fill_message(message: &mut [u8], conn: usize, round: u32) {
    let word = (conn as u32).wrapping_mul(0x9e37_79b9) ^ round.wrapping_mul(0x85eb_ca6b);
    let base = (word >> 24) as u8 ^ word as u8;
    for (i, byte) in message.iter_mut().enumerate() {
        *byte = base ^ (i as u8).wrapping_mul(31);
    }
}

/// Checks `bytes`, which should be bytes `at..` of message `round` of
/// connection `conn`.
pub fn check_echo(bytes: &[u8], conn: usize, round: u32, at: usize) -> Result<(), String> {
    let mut expected = [0u8; MESSAGE];
    fill_message(&mut expected, conn, round);
    let Some(expected) = expected.get(at..at + bytes.len()) else {
        return Err(format!("connection {conn} round {round}: echo longer than the message"));
    };
    if bytes == expected {
        return Ok(());
    }
    let i = bytes.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(0);
    Err(format!("connection {conn} round {round}: wrong echo byte at {}", at + i))
}

/// The file workload: `writes` writes of one [`BLOCK`] at random block
/// offsets of a [`FILE_SIZE`] file, an fsync after every [`FSYNC_EVERY`].
#[derive(Clone, Copy, Debug)]
pub struct Files {
    pub writes: u64,
}

/// The block offsets of the file workload (xorshift64*: the same sequence
/// on both sides).
#[derive(Debug)]
pub struct Offsets(u64);

impl Offsets {
    pub fn new() -> Offsets {
        Offsets(0x9e37_79b9_7f4a_7c15)
    }

    /// The next block index.
    pub fn next_block(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 16) % BLOCKS
    }
}

/// What write number `write` (from 1) puts into block `block`: every
/// 8-byte word names the write, the block and its own position, so a lost,
/// misplaced or torn write is seen.
pub fn fill_block(bytes: &mut [u8], block: u64, write: u32) {
    let seed = (u64::from(write) << 32) ^ (block << 12);
    for (i, word) in bytes.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&(seed | i as u64).to_le_bytes());
    }
}

/// The newest write of every block, to check the file against at the end
/// (0: never written, so zeros).
#[derive(Debug)]
pub struct Shadow(Vec<u32>);

impl Shadow {
    pub fn new() -> Shadow {
        Shadow(vec![0; BLOCKS as usize])
    }

    pub fn record(&mut self, block: u64, write: u32) {
        self.0[block as usize] = write;
    }

    /// Checks block `block` of the file as read back.
    pub fn check(&self, block: u64, bytes: &[u8]) -> Result<(), String> {
        let write = self.0[block as usize];
        let mut expected = [0u8; BLOCK];
        if write != 0 {
            fill_block(&mut expected, block, write);
        }
        if bytes == expected {
            return Ok(());
        }
        match bytes.iter().zip(&expected).position(|(a, b)| a != b) {
            Some(at) => Err(format!("block {block} (write {write}): wrong byte at {at}")),
            None => Err(format!("block {block}: read back {} bytes", bytes.len())),
        }
    }
}
