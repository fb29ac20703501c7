//! twinio-kv: a small key-value store written once against `twinio::Io`,
//! run on the real kernel by `kv-server` and under a seeded, fault-injecting
//! simulation by `vopr`.

pub mod cli;
pub mod client;
pub mod crc32c;
pub mod protocol;
pub mod record;
pub mod store;
pub mod trace;
pub mod vopr;
