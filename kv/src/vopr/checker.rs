//! The invariants, checked against a model of what clients were told.
//!
//! Every key is owned by one client, which has at most one request in
//! flight, so each key's history is sequential except for *indeterminate*
//! mutations: requests whose answer never came (connection reset, timeout,
//! crash). Those may take effect at any later time, or never, so a read may
//! return their value. A read must return either the key's last
//! acknowledged value or one of those; anything else is either an
//! acknowledged write that was lost, or data that was never written.
//! Every value ever written is unique (it names its client and sequence
//! number), so the two cases are told apart exactly.

use std::collections::{BTreeMap, BTreeSet};

/// The value of a key: `None` when absent.
pub type Value = Option<Vec<u8>>;

#[derive(Debug, Default)]
struct KeyModel {
    acknowledged: Value,
    /// Values of mutations that may or may not have happened.
    indeterminate: BTreeSet<Value>,
}

/// The model of every key, and every value ever written.
#[derive(Debug, Default)]
pub struct Checker {
    keys: BTreeMap<u64, KeyModel>,
    written: BTreeSet<Vec<u8>>,
    /// Reads and acknowledgements checked.
    pub checks: u64,
    /// Reads that returned an indeterminate (not the acknowledged) value.
    pub indeterminate_reads: u64,
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A read returned an older state than an acknowledged write.
    LostWrite {
        /// The key.
        key: u64,
        /// What the read returned.
        read: Value,
        /// What was last acknowledged.
        acknowledged: Value,
    },
    /// A read returned bytes no client ever wrote.
    NeverWritten {
        /// The key.
        key: u64,
        /// What the read returned.
        read: Vec<u8>,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |value: &Value| match value {
            None => "<absent>".to_string(),
            Some(bytes) => String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned(),
        };
        match self {
            Violation::LostWrite { key, read, acknowledged } => write!(
                f,
                "lost acknowledged write: key {key} read {:?}, last acknowledged {:?}",
                show(read),
                show(acknowledged)
            ),
            Violation::NeverWritten { key, read } => write!(
                f,
                "read returned data never written: key {key} read {:?} ({} bytes)",
                show(&Some(read.clone())),
                read.len()
            ),
        }
    }
}

impl Checker {
    /// A mutation is about to be sent: remember its value as written.
    pub fn issued(&mut self, value: &Value) {
        if let Some(bytes) = value {
            self.written.insert(bytes.clone());
        }
    }

    /// The store acknowledged a put (`Some`) or delete (`None`) of `key`.
    pub fn acknowledged(&mut self, key: u64, value: Value) {
        self.checks += 1;
        let model = self.keys.entry(key).or_default();
        model.indeterminate.remove(&value);
        model.acknowledged = value;
    }

    /// A mutation's outcome will never be known.
    pub fn indeterminate(&mut self, key: u64, value: Value) {
        self.keys.entry(key).or_default().indeterminate.insert(value);
    }

    /// A get of `key` returned `read`.
    pub fn read(&mut self, key: u64, read: Value) -> Result<(), Violation> {
        self.checks += 1;
        let model = self.keys.entry(key).or_default();
        if read == model.acknowledged {
            return Ok(());
        }
        if model.indeterminate.contains(&read) {
            self.indeterminate_reads += 1;
            return Ok(());
        }
        match read {
            Some(bytes) if !self.written.contains(&bytes) => {
                Err(Violation::NeverWritten { key, read: bytes })
            }
            read => {
                Err(Violation::LostWrite { key, read, acknowledged: model.acknowledged.clone() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        Some(text.as_bytes().to_vec())
    }

    #[test]
    fn acknowledged_values_must_be_read_back() {
        let mut checker = Checker::default();
        checker.issued(&v("a1"));
        checker.acknowledged(1, v("a1"));
        assert_eq!(checker.read(1, v("a1")), Ok(()));
        assert_eq!(
            checker.read(1, None),
            Err(Violation::LostWrite { key: 1, read: None, acknowledged: v("a1") })
        );
        checker.issued(&v("a2"));
        checker.acknowledged(1, v("a2"));
        assert!(matches!(checker.read(1, v("a1")), Err(Violation::LostWrite { .. })));
        assert!(matches!(checker.read(1, v("zz")), Err(Violation::NeverWritten { .. })));
        assert_eq!(checker.read(2, None), Ok(()), "a key never written is absent");
    }

    #[test]
    fn indeterminate_mutations_may_or_may_not_show() {
        let mut checker = Checker::default();
        checker.issued(&v("b1"));
        checker.acknowledged(7, v("b1"));
        checker.issued(&v("b2"));
        checker.indeterminate(7, v("b2"));
        checker.indeterminate(7, None);
        assert_eq!(checker.read(7, v("b1")), Ok(()));
        assert_eq!(checker.read(7, v("b2")), Ok(()));
        assert_eq!(checker.read(7, None), Ok(()));
        assert_eq!(checker.indeterminate_reads, 2);
    }
}
