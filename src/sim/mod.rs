//! `SimIO`, the deterministic simulated twin of [`crate::IO`].
//!
//! Everything under this module is single-threaded and driven by one seed:
//! no wall clock, no OS randomness, no `HashMap` iteration order.

pub mod node;
pub mod prng;
