//! Simulated storage: per node, a namespace of data files keyed by path.
//!
//! A file's key is the path given to `open_dir` joined with the relative
//! path given to `open_data_file` (`.` components dropped), so
//! `open_dir("a")` with `"b/c"` and `open_dir("a/b")` with `"c"` name the
//! same file, as on a real file system. Directories exist implicitly: any directory path opens, and
//! a path is a directory if a file lies under it. Files survive crashes and
//! restarts of their node (with what the durability model keeps).

mod file;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub(crate) use file::{Chaos, SimFile, Spare};

use crate::sim::node::NodeId;

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

#[derive(Default)]
pub(crate) struct Storage {
    files: Vec<SimFile>,
    index: BTreeMap<(NodeId, PathBuf), FileId>,
    /// Paths marked exempt from corruption faults (files may not exist yet).
    exempt: Vec<(NodeId, PathBuf)>,
    pub spare: Spare,
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

    pub(crate) fn create(&mut self, node: NodeId, path: PathBuf, size: u64) -> FileId {
        let id = self.files.len() as FileId;
        let mut file = SimFile::new(size);
        file.exempt = self.is_exempt(node, &path);
        self.files.push(file);
        self.index.insert((node, path), id);
        id
    }

    pub(crate) fn file(&mut self, id: FileId) -> &mut SimFile {
        &mut self.files[id as usize]
    }

    /// Splits the borrow: the file and the spare blocks.
    pub(crate) fn file_and_spare(&mut self, id: FileId) -> (&mut SimFile, &mut Spare) {
        (&mut self.files[id as usize], &mut self.spare)
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

    /// Power loss on `node`: each file keeps what `keep` decides of its
    /// unsynced sectors, and every lock is released.
    pub(crate) fn crash(&mut self, node: NodeId, mut keep: impl FnMut() -> bool) {
        let ids: Vec<FileId> =
            self.index.iter().filter(|((n, _), _)| *n == node).map(|(_, &id)| id).collect();
        for id in ids {
            let (file, spare) = self.file_and_spare(id);
            file.crash(&mut keep, spare);
        }
    }
}
