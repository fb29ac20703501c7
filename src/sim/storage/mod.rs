//! Simulated storage: per node, a namespace of data files keyed by path.
//!
//! A file's key is the path given to `open_dir` joined with the relative
//! path given to `open_data_file` (`.` components dropped), so
//! `open_dir("a")` with `"b/c"` and `open_dir("a/b")` with `"c"` name the
//! same file, as on a real file system. Directories exist implicitly: any directory path opens, and
//! a path is a directory if a file lies under it. Files survive crashes and
//! restarts of their node (with what the durability model keeps).
//!
//! | file | concern |
//! |---|---|
//! | `sectors.rs` | one file's sector layout: contiguous base, overlay of unsynced versions |
//! | `file.rs` | one file: lock, errseq, sync outcomes |
//! | `ops.rs` | read, write, fsync and their faults |
//! | `crash.rs` | what a power loss leaves of each unsynced sector |
//! | `open.rs` | `open_data_file`'s faults, and what a failed format leaves |
//! | `device.rs` | latency, stalls, the per-node device queue |
//! | `in_flight.rs` | writes in flight at a crash |
//! | `fill.rs` | never-written bytes, garbage |

mod crash;
mod device;
mod file;
mod fill;
mod in_flight;
mod open;
mod ops;
mod pool;
mod sectors;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub(crate) use device::IoKind;
pub(crate) use file::SimFile;
pub(crate) use ops::Chaos;

use crate::sim::node::NodeId;
use fill::Fill;

/// Index of a file in [`Storage::files`]; files are never removed.
pub(crate) type FileId = u32;

/// What a path names on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    File(FileId),
    Directory,
    Missing,
    /// A proper ancestor of the path is a file.
    UnderFile,
}

/// Who runs a storage operation: the node and the descriptor it used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Access {
    pub node: NodeId,
    pub fd: i32,
}

/// An open descriptor of a data file, as the storage tracks it.
struct Handle {
    direct: bool,
    /// The file's errseq when this descriptor last saw (or sampled) it.
    seen: u32,
}

#[derive(Default)]
pub(crate) struct Storage {
    files: Vec<SimFile>,
    index: BTreeMap<(NodeId, PathBuf), FileId>,
    /// Paths marked exempt from corruption faults (files may not exist yet).
    exempt: Vec<(NodeId, PathBuf)>,
    /// By (node, descriptor number).
    handles: BTreeMap<(NodeId, i32), Handle>,
    /// What failed formats left behind, until their node crashes.
    ghosts: Vec<open::Ghost>,
    devices: Vec<device::Device>,
}

/// Joins and normalises a directory path and a path under it.
pub(crate) fn key(dir: &Path, relative: &Path) -> PathBuf {
    dir.join(relative)
        .components()
        .filter(|component| !matches!(component, Component::CurDir))
        .collect()
}

impl Storage {
    pub(crate) fn lookup(&self, node: NodeId, path: &Path) -> Lookup {
        for ancestor in path.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                break;
            }
            if self.index.contains_key(&(node, ancestor.to_path_buf())) {
                return Lookup::UnderFile;
            }
        }
        let start = (node, path.to_path_buf());
        let mut after = self.index.range(start..);
        match after.next() {
            Some(((n, p), &id)) if *n == node && p == path => Lookup::File(id),
            Some(((n, p), _)) if *n == node && p.starts_with(path) => Lookup::Directory,
            _ => Lookup::Missing,
        }
    }

    /// A new, empty file at `path`: durable as it is (the create,
    /// preallocation and syncs all succeeded).
    fn create(&mut self, node: NodeId, path: PathBuf, size: u64, fill: Fill) -> FileId {
        let id = self.files.len() as FileId;
        let mut file = SimFile::new(size, fill);
        file.exempt = self.is_exempt(node, &path);
        self.files.push(file);
        self.index.insert((node, path), id);
        id
    }

    pub(crate) fn file(&mut self, id: FileId) -> &mut SimFile {
        &mut self.files[id as usize]
    }

    /// The files of `node`, in path order.
    fn node_files(&self, node: NodeId) -> impl Iterator<Item = FileId> + '_ {
        self.index
            .range((node, PathBuf::new())..)
            .take_while(move |((n, _), _)| *n == node)
            .map(|(_, &id)| id)
    }

    fn is_exempt(&self, node: NodeId, path: &Path) -> bool {
        self.exempt.iter().any(|(n, p)| *n == node && path.ends_with(p))
    }

    /// Marks (or unmarks) the files at `path` on `node`, existing or
    /// created later, as exempt from corruption faults. `path` matches a
    /// file whose key ends with it (component-wise).
    pub(crate) fn set_exempt(&mut self, node: NodeId, path: &Path, exempt: bool) {
        let path = key(Path::new(""), path);
        self.exempt.retain(|(n, p)| !(*n == node && *p == path));
        if exempt {
            self.exempt.push((node, path));
        }
        for ((n, p), &id) in &self.index {
            if *n == node {
                let flag = self.exempt.iter().any(|(en, ep)| en == n && p.ends_with(ep));
                self.files[id as usize].exempt = flag;
            }
        }
    }

    /// Records a descriptor `fd` of `node` opened on file `id` (with direct
    /// IO or not); it samples the file's errseq now. A number reused after
    /// a close replaces the old record.
    pub(crate) fn opened(&mut self, node: NodeId, fd: i32, id: FileId, direct: bool) {
        let file = &self.files[id as usize];
        let seen = if file.unseen { file.errseq.wrapping_sub(1) } else { file.errseq };
        self.handles.insert((node, fd), Handle { direct, seen });
    }

    fn handle_mut(&mut self, access: Access) -> Option<&mut Handle> {
        self.handles.get_mut(&(access.node, access.fd))
    }
}

/// True if the descriptor of `access` was opened with direct IO.
fn is_direct(handles: &BTreeMap<(NodeId, i32), Handle>, access: Access) -> bool {
    handles.get(&(access.node, access.fd)).is_some_and(|h| h.direct)
}
