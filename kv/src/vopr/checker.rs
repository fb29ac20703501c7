//! The invariant: every answer is consistent with a linearization of the
//! history, key by key (each key is a register; keys are independent).
//!
//! Every value ever written is unique (it names its client and request),
//! so a read names the write it observed. Each write `w` is known by the
//! moment it was **sent**, and by the earliest moment its effect is known
//! to have happened, its **end**: when it was acknowledged, when a read
//! first returned it, or when its fate was **fixed** by a restart (a write
//! in flight at a crash either is in the log the next incarnation recovers
//! or is gone; once that incarnation serves, it can no longer appear). A
//! write with no end yet may take effect at any later time.
//!
//! A get sent at `s` must not return `w` if some write `f`, sent after
//! `w`'s end, was acknowledged or observed before `s`: `f` then took effect
//! after `w` and before the get. That covers a lost acknowledged write
//! (`w` older than an acknowledged `f`), a stale value reappearing after a
//! newer one was read, and a write in doubt resurrected after the restart
//! that fixed its fate and a newer acknowledged write. A get must not
//! return bytes never written to its key. A get that finds nothing
//! observed the initial state or some delete, so it is refused only when
//! some write took effect before it was sent (the initial state is gone)
//! and every delete of the key ended before such an `f`. Times are
//! compared in event order (a logical clock), which is the real-time order
//! of the simulation; virtual times are kept for messages.

use std::collections::BTreeMap;
use std::fmt;

/// The value of a key: `None` when absent.
pub type Value = Option<Vec<u8>>;

/// A write's index in the history.
pub type WriteId = usize;

/// An instant: the event's place in the history, and its virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct At {
    /// Event order.
    pub seq: u64,
    /// Virtual nanoseconds, for people.
    pub ns: u64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} ms", self.ns as f64 / 1e6)
    }
}

/// How a write's effect became known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Acknowledged(At),
    Observed(At),
    Fixed(At),
}

impl End {
    fn at(self) -> At {
        match self {
            End::Acknowledged(at) | End::Observed(at) | End::Fixed(at) => at,
        }
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Acknowledged(at) => write!(f, "acknowledged at {at}"),
            End::Observed(at) => write!(f, "first read at {at}"),
            End::Fixed(at) => {
                write!(f, "in doubt at a crash, its fate fixed by the restart at {at}")
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Write {
    key: u64,
    value: Value,
    client: usize,
    request: u64,
    sent: At,
    acknowledged: Option<At>,
    observed: Option<At>,
    fixed: Option<At>,
    /// Listed in `Checker::in_doubt`.
    in_doubt: bool,
}

impl Write {
    fn end(&self) -> Option<End> {
        [
            self.acknowledged.map(End::Acknowledged),
            self.observed.map(End::Observed),
            self.fixed.map(End::Fixed),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|end| end.at())
    }

    /// Acknowledged or observed: known to have taken effect.
    fn took_effect(&self) -> Option<End> {
        [self.acknowledged.map(End::Acknowledged), self.observed.map(End::Observed)]
            .into_iter()
            .flatten()
            .min_by_key(|end| end.at())
    }

    fn describe(&self) -> String {
        let what = match &self.value {
            Some(bytes) => format!("put {:?}", show(bytes)),
            None => "delete".to_string(),
        };
        format!("{what} (client {} request {}, sent at {})", self.client, self.request, self.sent)
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(24)]).into_owned()
}

#[derive(Debug, Default)]
struct KeyModel {
    /// Of the writes known to have taken effect, the one sent last.
    floor: Option<WriteId>,
    deletes: Vec<WriteId>,
    /// Every write of the key.
    writes: Vec<WriteId>,
}

/// A get in flight: what was known to have taken effect when it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadToken {
    key: u64,
    sent: At,
    floor: Option<WriteId>,
}

/// A broken invariant, naming the history that breaks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// The get returned a write that a later one had replaced before the
    /// get was sent.
    Stale {
        /// The key.
        key: u64,
        /// The get, and what it returned.
        read: String,
        /// The newer write, and how it was known to have taken effect.
        newer: String,
    },
    /// The get returned bytes never written to its key.
    NeverWritten {
        /// The key.
        key: u64,
        /// The get, and what it returned.
        read: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Stale { key, read, newer } => {
                write!(f, "stale read: key {key}: {read}; but {newer} before the get was sent")
            }
            Violation::NeverWritten { key, read } => {
                write!(f, "read returned data never written: key {key}: {read}")
            }
        }
    }
}

/// The history of every key.
#[derive(Debug, Default)]
pub struct Checker {
    writes: Vec<Write>,
    by_value: BTreeMap<Vec<u8>, WriteId>,
    keys: BTreeMap<u64, KeyModel>,
    /// Writes sent before the last crash whose fate is not known yet.
    in_doubt: Vec<WriteId>,
    seq: u64,
    /// Reads and acknowledgements checked.
    pub checks: u64,
    /// Reads that returned a write not (yet) acknowledged.
    pub unacknowledged_reads: u64,
    /// Gets sent while the key's latest write was in flight.
    pub racing_gets: u64,
}

impl Checker {
    fn at(&mut self, ns: u64) -> At {
        self.seq += 1;
        At { seq: self.seq, ns }
    }

    /// A put (`Some`) or delete (`None`) of `key` is being sent.
    pub fn sent_write(
        &mut self,
        key: u64,
        value: Value,
        client: usize,
        request: u64,
        now: u64,
    ) -> WriteId {
        let sent = self.at(now);
        let id = self.writes.len();
        match &value {
            Some(bytes) => {
                self.by_value.insert(bytes.clone(), id);
            }
            None => self.keys.entry(key).or_default().deletes.push(id),
        }
        self.keys.entry(key).or_default().writes.push(id);
        let (acknowledged, observed, fixed) = (None, None, None);
        self.writes.push(Write {
            key,
            value,
            client,
            request,
            sent,
            acknowledged,
            observed,
            fixed,
            in_doubt: false,
        });
        id
    }

    /// The store acknowledged write `id`.
    pub fn acknowledged(&mut self, id: WriteId, now: u64) {
        self.checks += 1;
        let at = self.at(now);
        let write = &mut self.writes[id];
        write.acknowledged.get_or_insert(at);
        self.raise_floor(id);
    }

    fn raise_floor(&mut self, id: WriteId) {
        let key = self.writes[id].key;
        let sent = self.writes[id].sent;
        let model = self.keys.entry(key).or_default();
        if model.floor.is_none_or(|floor| self.writes[floor].sent < sent) {
            model.floor = Some(id);
        }
    }

    /// The server process crashed: every write sent so far whose effect is
    /// unknown is in doubt until the next incarnation serves.
    pub fn crashed(&mut self) {
        for (id, write) in self.writes.iter_mut().enumerate() {
            if write.end().is_none() && !write.in_doubt {
                write.in_doubt = true;
                self.in_doubt.push(id);
            }
        }
    }

    /// A restarted store serves: the fate of the writes in doubt is fixed.
    pub fn serving(&mut self, now: u64) {
        if self.in_doubt.is_empty() {
            return;
        }
        let at = self.at(now);
        for id in std::mem::take(&mut self.in_doubt) {
            let write = &mut self.writes[id];
            write.in_doubt = false;
            write.fixed.get_or_insert(at);
        }
    }

    /// A get of `key` is being sent.
    pub fn sent_read(&mut self, key: u64, now: u64) -> ReadToken {
        let sent = self.at(now);
        let latest = self.keys.get(&key).and_then(|model| model.writes.last());
        if latest.is_some_and(|&id| self.writes[id].end().is_none()) {
            self.racing_gets += 1;
        }
        ReadToken { key, sent, floor: self.keys.get(&key).and_then(|model| model.floor) }
    }

    /// The get of `token` returned `read`.
    pub fn read(&mut self, token: ReadToken, read: Value, now: u64) -> Result<(), Violation> {
        self.checks += 1;
        let at = self.at(now);
        let key = token.key;
        let get = format!("a get sent at {} and answered at {at}", token.sent);
        let floor = token.floor.map(|id| &self.writes[id]);
        // True if a write ending at `end` was replaced before the get.
        let replaced = |end: Option<End>| match (end, floor) {
            (Some(end), Some(floor)) => end.at() < floor.sent,
            _ => false,
        };
        let newer = |floor: &Write| {
            let how = floor.took_effect().expect("a floor took effect");
            format!("{} was {how}", floor.describe())
        };
        match read {
            Some(bytes) => {
                let Some(&id) = self.by_value.get(&bytes).filter(|&&id| self.writes[id].key == key)
                else {
                    let read = format!("{get} returned {:?} ({} bytes)", show(&bytes), bytes.len());
                    return Err(Violation::NeverWritten { key, read });
                };
                let write = &self.writes[id];
                if replaced(write.end()) {
                    let end = write.end().expect("replaced means ended");
                    let read = format!("{get} returned {}, {end}", write.describe());
                    let newer = newer(floor.expect("replaced means a floor"));
                    return Err(Violation::Stale { key, read, newer });
                }
                if write.acknowledged.is_none() {
                    self.unacknowledged_reads += 1;
                }
                self.writes[id].observed.get_or_insert(at);
                self.raise_floor(id);
                Ok(())
            }
            None => {
                let model = self.keys.get(&key);
                let deletes = model.map(|model| model.deletes.as_slice()).unwrap_or_default();
                // The initial state is gone once any write took effect.
                let possible =
                    floor.is_none() || deletes.iter().any(|&id| !replaced(self.writes[id].end()));
                if possible {
                    return Ok(());
                }
                let read = format!(
                    "{get} found nothing, yet every delete and the initial state were replaced"
                );
                let newer = newer(floor.expect("replaced means a floor"));
                Err(Violation::Stale { key, read, newer })
            }
        }
    }
}

#[cfg(test)]
mod tests;
