//! The load generator: connections each keep a pipeline of requests in
//! flight, drawn from a get/put/delete mix over a key space; every answer's
//! latency (from the moment its request was queued) is recorded.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use twinio::Prng;

use super::{ClientError, Connection};
use crate::protocol::{ErrorCode, Request, Response};

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server.
    pub address: SocketAddr,
    /// Connections, one thread each.
    pub connections: usize,
    /// Requests in flight per connection.
    pub depth: usize,
    /// Percent gets, puts and deletes (summing to 100).
    pub mix: [u32; 3],
    /// Keys drawn from (`load-0` … `load-(keys-1)`).
    pub keys: u64,
    /// Bytes of each put's value.
    pub value_size: usize,
    /// Requests in all.
    pub requests: u64,
    /// Seed of the draws.
    pub seed: u64,
    /// How long to wait for any one answer.
    pub timeout: Duration,
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Every answer's latency in nanoseconds, sorted.
    pub latencies_ns: Vec<u64>,
    /// Answers by kind: "ok", "value", "not found", "error Full", …
    pub answers: BTreeMap<String, u64>,
}

impl LoadReport {
    /// The latency at quantile `q` (0..=1), nearest rank.
    pub fn percentile(&self, q: f64) -> Duration {
        if self.latencies_ns.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies_ns.len() as f64).ceil() as usize;
        Duration::from_nanos(self.latencies_ns[rank.clamp(1, self.latencies_ns.len()) - 1])
    }

    /// Answers per second.
    pub fn throughput(&self) -> f64 {
        self.latencies_ns.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |q: f64| self.percentile(q).as_secs_f64() * 1e6;
        writeln!(
            f,
            "{} requests in {:.2} s: {:.0} requests/s",
            self.latencies_ns.len(),
            self.elapsed.as_secs_f64(),
            self.throughput()
        )?;
        writeln!(
            f,
            "latency us: p50 {:.0}, p90 {:.0}, p99 {:.0}, p99.9 {:.0}, max {:.0}",
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
            us(1.0)
        )?;
        let answers: Vec<String> = self.answers.iter().map(|(k, n)| format!("{k} {n}")).collect();
        write!(f, "answers: {}", answers.join(", "))
    }
}

fn answer_kind(response: &Response) -> String {
    match response {
        Response::Ok { .. } => "ok".into(),
        Response::Value { .. } => "value".into(),
        Response::NotFound { .. } => "not found".into(),
        Response::Error { code, .. } => format!("error {}", error_name(*code)),
    }
}

/// A refusal's name as people read it.
pub fn error_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Full => "Full (the log is full)",
        ErrorCode::Corrupt => "Corrupt (both copies of the record are damaged)",
        ErrorCode::Unavailable => "Unavailable (the store is not serving)",
        ErrorCode::BadRequest => "BadRequest (key or value too long)",
    }
}

/// Runs the load; fails on the first connection that fails.
pub fn run(config: &LoadConfig) -> Result<LoadReport, ClientError> {
    let remaining = AtomicU64::new(config.requests);
    let start = Instant::now();
    let results: Vec<Result<LoadReport, ClientError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..config.connections)
            .map(|index| {
                let remaining = &remaining;
                scope.spawn(move || connection(config, index as u64, remaining))
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a load thread panicked")).collect()
    });
    let mut report = LoadReport { elapsed: start.elapsed(), ..LoadReport::default() };
    for result in results {
        let part = result?;
        report.latencies_ns.extend(part.latencies_ns);
        for (kind, n) in part.answers {
            *report.answers.entry(kind).or_default() += n;
        }
    }
    report.latencies_ns.sort_unstable();
    Ok(report)
}

/// One connection's share: keeps `depth` requests in flight until the
/// shared budget is spent, then drains.
fn connection(
    config: &LoadConfig,
    index: u64,
    remaining: &AtomicU64,
) -> Result<LoadReport, ClientError> {
    let mut conn = Connection::open(config.address, config.timeout)?;
    let mut prng = Prng::from_seed(config.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let value = vec![b'v'; config.value_size];
    let mut report = LoadReport::default();
    // Send times of requests in flight, by id (ids are sequential).
    let mut in_flight: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut next_id = 0u64;
    loop {
        while in_flight.len() < config.depth.max(1)
            && remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        {
            let key = format!("load-{}", prng.below(config.keys.max(1))).into_bytes();
            let roll = prng.below(100) as u32;
            let id = next_id;
            next_id += 1;
            let request = if roll < config.mix[0] {
                Request::Get { id, key }
            } else if roll < config.mix[0] + config.mix[1] {
                Request::Put { id, key, value: value.clone() }
            } else {
                Request::Delete { id, key }
            };
            conn.queue(&request)?;
            in_flight.insert(id, Instant::now());
        }
        if in_flight.is_empty() {
            return Ok(report);
        }
        let response = conn.receive()?;
        let id = match &response {
            Response::Ok { id }
            | Response::Value { id, .. }
            | Response::NotFound { id }
            | Response::Error { id, .. } => *id,
        };
        let sent = in_flight
            .remove(&id)
            .ok_or(ClientError::Protocol(crate::protocol::ProtocolError::BadPayload))?;
        report.latencies_ns.push(sent.elapsed().as_nanos() as u64);
        *report.answers.entry(answer_kind(&response)).or_default() += 1;
    }
}
