//! Files: positioned reads and writes, the durability policy, and data
//! files (open, lock, preallocate, direct IO). One concern per module;
//! `docs/durability.md` says what each primitive guarantees per platform.

mod data_file;
mod direct_io;
mod fsync;
mod lock;
mod positioned;
mod preallocate;

pub(crate) use data_file::{is_positioned, open_data_file, open_dir};
pub(crate) use fsync::fsync;
pub(crate) use positioned::{pread, pwrite};
