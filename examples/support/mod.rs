//! What the benchmark examples share: reading a numeric flag and taking a
//! median. Not an example itself (a directory without `main.rs`); each
//! benchmark example includes it with `mod support;`.

#![allow(dead_code)] // Each example uses part of it.

/// The number after `name` on the command line, or `default`.
pub fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// The median of `values` (sorts them).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
