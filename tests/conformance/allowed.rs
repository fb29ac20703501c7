//! The allow-list: the only differences between `IO` and `SimIO` the suite
//! accepts. Each entry mirrors a row of the table of differences in
//! `docs/simulation.md` (same id, same status), which gives the reason.

/// Whether a difference is meant to stay, or waits for a fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A difference on purpose, with its reason.
    Allowed,
    /// A difference to be removed by work not yet done (the engine core).
    Pending,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Allowed => "allowed",
            Status::Pending => "pending",
        }
    }
}

pub struct Allowed {
    pub id: &'static str,
    pub status: Status,
    /// The scenarios whose outcomes may differ because of it.
    pub scenarios: &'static [&'static str],
    pub reason: &'static str,
}

pub const ALLOWED: &[Allowed] = &[
    Allowed {
        id: "D01",
        status: Status::Allowed,
        scenarios: &["connect_twice_in_one_pass"],
        reason: "loopback completes the handshake inside the first connect call; the twin's \
                 takes its network delay, so a second connect in the same pass finds it in progress",
    },
    Allowed {
        id: "D02",
        status: Status::Allowed,
        scenarios: &[
            "unaligned_offset_required",
            "unaligned_offset_optional",
            "unaligned_length_required",
            "unaligned_address_required",
            "offset_512_required",
        ],
        reason: "under direct IO the twin refuses anything not aligned to 4096; the kernel's \
                 rule depends on the file system and device, and is never stricter",
    },
    Allowed {
        id: "D03",
        status: Status::Allowed,
        scenarios: &["size_one_pebibyte_missing"],
        reason: "the twin checks a size above 16 TiB before the path; the kernel only where \
                 the file system refuses it",
    },
    Allowed {
        id: "D04",
        status: Status::Allowed,
        scenarios: &[],
        reason: "twin-only simplifications no scenario can observe on one machine: fsync \
                 modes, direct IO support, socket options, threads, entries, PATH_MAX",
    },
];

/// The entry that allows `scenario` to differ, if any.
pub fn lookup(scenario: &str) -> Option<&'static Allowed> {
    ALLOWED.iter().find(|entry| entry.scenarios.contains(&scenario))
}

/// The `(id, status)` pairs of the table of differences in the simulation
/// guide: its rows start with `` | `Dnn` | status | ``.
pub fn parse_doc_table(doc: &str) -> Vec<(String, String)> {
    doc.lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix('|')?.split('|').map(str::trim);
            let id = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            if !(id.starts_with('D') && id[1..].chars().all(|c| c.is_ascii_digit())) {
                return None;
            }
            Some((id.to_string(), cells.next()?.to_string()))
        })
        .collect()
}
