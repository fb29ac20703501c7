//! `SimIO`, the deterministic simulated twin of [`crate::IO`].
//!
//! Everything under this module is single-threaded and driven by one seed:
//! no wall clock, no OS randomness, no `HashMap` iteration order.

pub mod node;
pub mod prng;
// The network is driven by `SimIO` (branch `sim`); until that lands here
// only the tests use it.
#[allow(dead_code)]
pub mod network;
