//! The writable tree behind `--tmpfs` and `--writable` mounts: in-memory nodes over the image.
//!
//! A writable mount is a tree of [`Node`]s in the VFS memory. Its directories are built lazily
//! from the image (the *lower* layer): a directory lists its packed entries only when it is first
//! looked into, so a mount nobody writes to costs one node. Files start out naming their packed
//! content ([`Content::Lower`]) and are copied into memory on their first change (copy-up); a
//! deletion just removes the entry, so no whiteouts are needed. A tmpfs is the same thing over an
//! empty packed directory. Nothing is ever written back: the image stays as packed.
//!
//! Entries of a directory keep the order they were added in, each with a sequence number that
//! never changes, so `fd_readdir` cookies stay valid while entries come and go (packed entries
//! come first, in name order).
//!
//! Every allocation that grows with the program's data is fallible: file contents use
//! `try_reserve`, and node or entry creation first checks that the allocator still has room
//! ([`headroom`]), so a full mount answers `ENOSPC` and exhausted memory `ENOMEM` instead of
//! trapping.

mod content;
mod tree;

pub use content::Content;
pub use tree::View;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use wasivfs_image::{Image, Kind};

use crate::stat::{DEV, DIR_SIZE};
use crate::wasi::{filetype, Errno, Filestat, EBADF, ENOMEM, ENOSPC};

/// A node handle (an index into the node table).
pub type NodeId = u32;

/// Bytes kept allocatable before any metadata change (see [`headroom`]).
const HEADROOM: usize = 64 * 1024;

/// Fails with `ENOMEM` unless the allocator can still hand out `HEADROOM` plus `extra` bytes, so
/// that the small infallible allocations of a metadata change cannot run out of memory.
pub fn headroom(extra: usize) -> Result<(), Errno> {
    let mut probe: Vec<u8> = Vec::new();
    probe
        .try_reserve_exact(HEADROOM.saturating_add(extra))
        .map_err(|_| ENOMEM)
}

/// A directory's entries, in the order they were added.
#[derive(Debug, Default)]
pub struct Entries {
    by_name: BTreeMap<Vec<u8>, (u64, NodeId)>,
    by_seq: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
}

impl Entries {
    /// The node named `name`.
    pub fn get(&self, name: &[u8]) -> Option<NodeId> {
        self.by_name.get(name).map(|(_, n)| *n)
    }

    /// Adds (or replaces) `name`.
    pub fn insert(&mut self, name: &[u8], node: NodeId) {
        if let Some((_, n)) = self.by_name.get_mut(name) {
            *n = node;
            return;
        }
        self.next_seq += 1;
        self.by_name.insert(name.to_vec(), (self.next_seq, node));
        self.by_seq.insert(self.next_seq, name.to_vec());
    }

    /// Removes `name`; returns the node it named.
    pub fn remove(&mut self, name: &[u8]) -> Option<NodeId> {
        let (seq, node) = self.by_name.remove(name)?;
        self.by_seq.remove(&seq);
        Some(node)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Entries with a sequence number of at least `seq`, in order: `(seq, name, node)`.
    pub fn from_seq(&self, seq: u64) -> impl Iterator<Item = (u64, &[u8], NodeId)> + '_ {
        self.by_seq.range(seq..).filter_map(|(s, name)| {
            self.by_name
                .get(name)
                .map(|(_, n)| (*s, name.as_slice(), *n))
        })
    }

    /// Every node named, in order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.by_name.values().map(|(_, n)| *n)
    }
}

/// What a node is.
#[derive(Debug)]
pub enum Data {
    /// A directory; `entries` is `None` until it is first looked into, when the entries of
    /// `lower` (its packed directory, if any) are copied in.
    Dir {
        /// The entries, once built.
        entries: Option<Entries>,
        /// The packed directory it started as.
        lower: Option<u32>,
    },
    /// A regular file.
    File(Content),
    /// A symbolic link and its target.
    Symlink(Vec<u8>),
}

/// One node of a writable tree.
#[derive(Debug)]
pub struct Node {
    /// What it is.
    pub data: Data,
    /// The directory containing it (directories only; a mount root is its own parent).
    pub parent: NodeId,
    /// The inode number reported.
    pub ino: u64,
    /// Names it has (0: unlinked; directories have at most 1).
    pub links: u32,
    /// Open fds on it.
    pub opens: u32,
    /// Index of the mount (in the image) it belongs to.
    pub mount: u32,
    /// Access time (ns).
    pub atim: u64,
    /// Modification time (ns).
    pub mtim: u64,
    /// Status change time (ns).
    pub ctim: u64,
}

impl Node {
    /// A node with one name in `parent`, no open fds, in mount `mount`, all three times `time`.
    pub fn new(data: Data, parent: NodeId, ino: u64, mount: u32, time: u64) -> Node {
        Node {
            data,
            parent,
            ino,
            links: 1,
            opens: 0,
            mount,
            atim: time,
            mtim: time,
            ctim: time,
        }
    }

    /// The image kind of this node.
    pub fn kind(&self) -> Kind {
        match self.data {
            Data::Dir { .. } => Kind::Directory,
            Data::File(_) => Kind::File,
            Data::Symlink(_) => Kind::Symlink,
        }
    }

    /// Bytes this node holds in memory, charged to its mount.
    fn charge(&self) -> u64 {
        match &self.data {
            Data::File(c) => c.owned_len(),
            Data::Symlink(t) => t.len() as u64,
            Data::Dir { .. } => 0,
        }
    }
}

/// The space budget of one writable mount.
#[derive(Clone, Copy, Debug)]
pub struct MountState {
    /// Its root node.
    pub root: NodeId,
    /// Most bytes it may hold.
    pub limit: u64,
    /// Bytes it holds (file contents in memory, link targets).
    pub used: u64,
}

/// Every writable tree of the VFS.
#[derive(Debug, Default)]
pub struct MemFs {
    nodes: Vec<Option<Node>>,
    free: Vec<NodeId>,
    /// Next inode number for a new node.
    next_ino: u64,
    /// The writable mounts, by image mount index.
    pub mounts: BTreeMap<u32, MountState>,
}

impl MemFs {
    /// An empty set of trees; new nodes get inode numbers from `first_ino` on (above every
    /// packed inode's number).
    pub fn new(first_ino: u64) -> Self {
        MemFs {
            next_ino: first_ino,
            ..Self::default()
        }
    }

    /// Adds writable mount `index` over packed directory `lower`, holding at most `limit` bytes.
    pub fn add_mount(
        &mut self,
        index: u32,
        lower: u32,
        ino: u64,
        time: u64,
        limit: u64,
    ) -> Result<NodeId, Errno> {
        let root = self.alloc(Node::new(
            Data::Dir {
                entries: None,
                lower: Some(lower),
            },
            0,
            ino,
            index,
            time,
        ))?;
        self.node_mut(root)?.parent = root;
        self.mounts.insert(
            index,
            MountState {
                root,
                limit,
                used: 0,
            },
        );
        Ok(root)
    }

    /// A fresh inode number.
    pub fn new_ino(&mut self) -> u64 {
        self.next_ino += 1;
        self.next_ino
    }

    /// Stores `node`; returns its id.
    pub fn alloc(&mut self, node: Node) -> Result<NodeId, Errno> {
        headroom(0)?;
        if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = Some(node);
            return Ok(id);
        }
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| ENOSPC)?;
        // The table grows by doubling: that one allocation may be far larger than the headroom.
        self.nodes.try_reserve(1).map_err(|_| ENOMEM)?;
        self.free
            .try_reserve(self.nodes.len() + 1 - self.free.len())
            .map_err(|_| ENOMEM)?;
        self.nodes.push(Some(node));
        Ok(id)
    }

    /// Node `id` (`EBADF` for a freed one: only fds keep ids).
    pub fn node(&self, id: NodeId) -> Result<&Node, Errno> {
        self.nodes
            .get(id as usize)
            .and_then(Option::as_ref)
            .ok_or(EBADF)
    }

    /// Node `id`, for changing.
    pub fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, Errno> {
        self.nodes
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or(EBADF)
    }

    /// Frees `id` once it has neither names nor open fds; its memory leaves its mount's budget.
    pub fn release(&mut self, id: NodeId) {
        let Some(Some(n)) = self.nodes.get(id as usize) else {
            return;
        };
        if n.links > 0 || n.opens > 0 {
            return;
        }
        let (mount, charge) = (n.mount, n.charge());
        self.uncharge(mount, charge);
        self.nodes[id as usize] = None;
        self.free.push(id);
    }

    /// Takes `bytes` out of mount `mount`'s budget: `ENOSPC` if they do not fit.
    pub fn charge(&mut self, mount: u32, bytes: u64) -> Result<(), Errno> {
        if bytes == 0 {
            return Ok(());
        }
        let m = self.mounts.get_mut(&mount).ok_or(EBADF)?;
        match m.used.checked_add(bytes) {
            Some(used) if used <= m.limit => {
                m.used = used;
                Ok(())
            }
            _ => Err(ENOSPC),
        }
    }

    /// Bytes mount `mount` may still take.
    pub fn room(&self, mount: u32) -> u64 {
        self.mounts
            .get(&mount)
            .map_or(0, |m| m.limit.saturating_sub(m.used))
    }

    /// Gives `bytes` back to mount `mount`'s budget.
    pub fn uncharge(&mut self, mount: u32, bytes: u64) {
        if let Some(m) = self.mounts.get_mut(&mount) {
            m.used = m.used.saturating_sub(bytes);
        }
    }

    /// Builds the entries of directory `dir` from its packed directory, if not done yet.
    pub fn materialize(&mut self, img: Option<&Image<'_>>, dir: NodeId) -> Result<(), Errno> {
        let node = self.node(dir)?;
        let (lower, mount) = match &node.data {
            Data::Dir {
                entries: None,
                lower,
            } => (*lower, node.mount),
            _ => return Ok(()),
        };
        let mut entries = Entries::default();
        if let (Some(img), Some(lower)) = (img, lower) {
            let count = img.dir_len(lower);
            headroom(count as usize * 160)?;
            for i in 0..count {
                let Some(e) = img.dir_entry(lower, i) else {
                    continue;
                };
                let Some(inode) = img.inode(e.inode) else {
                    continue;
                };
                let data = match inode.kind {
                    Kind::Directory => Data::Dir {
                        entries: None,
                        lower: Some(e.inode),
                    },
                    Kind::File => {
                        let (off, len) = img.file_range(e.inode).unwrap_or((0, 0));
                        Data::File(Content::Lower { off, len })
                    }
                    Kind::Symlink => {
                        Data::Symlink(img.symlink_target(e.inode).unwrap_or_default().to_vec())
                    }
                };
                let t = inode.mtime_ns;
                let ino = crate::stat::ino_of(e.inode);
                let id = self.alloc(Node::new(data, dir, ino, mount, t))?;
                entries.insert(e.name, id);
            }
        }
        if let Data::Dir { entries: slot, .. } = &mut self.node_mut(dir)?.data {
            *slot = Some(entries);
        }
        Ok(())
    }

    /// The entries of directory `dir` (built first if needed); `None` if it is not a directory.
    pub fn entries(
        &mut self,
        img: Option<&Image<'_>>,
        dir: NodeId,
    ) -> Result<Option<&mut Entries>, Errno> {
        self.materialize(img, dir)?;
        Ok(match &mut self.node_mut(dir)?.data {
            Data::Dir {
                entries: Some(e), ..
            } => Some(e),
            _ => None,
        })
    }

    /// Number of subdirectories of `dir`, for its link count.
    fn subdirs(&self, img: Option<&Image<'_>>, dir: &Node) -> u64 {
        match &dir.data {
            Data::Dir {
                entries: Some(e), ..
            } => e
                .nodes()
                .filter(|n| matches!(self.node(*n).map(Node::kind), Ok(Kind::Directory)))
                .count() as u64,
            Data::Dir {
                entries: None,
                lower: Some(lower),
            } => match img {
                Some(img) => (0..img.dir_len(*lower))
                    .filter_map(|i| img.dir_entry(*lower, i))
                    .filter(|e| img.inode(e.inode).map(|i| i.kind) == Some(Kind::Directory))
                    .count() as u64,
                None => 0,
            },
            _ => 0,
        }
    }

    /// The `filestat` of node `id`, as a host directory shows it: directories have one block and
    /// two links plus one per subdirectory.
    pub fn filestat(&self, img: Option<&Image<'_>>, id: NodeId) -> Result<Filestat, Errno> {
        let n = self.node(id)?;
        let (ft, size, nlink) = match &n.data {
            Data::Dir { .. } => (
                filetype::DIRECTORY,
                DIR_SIZE,
                if n.links == 0 {
                    0
                } else {
                    2 + self.subdirs(img, n)
                },
            ),
            Data::File(c) => (filetype::REGULAR_FILE, c.len(), n.links as u64),
            Data::Symlink(t) => (filetype::SYMBOLIC_LINK, t.len() as u64, n.links as u64),
        };
        Ok(Filestat {
            dev: DEV,
            ino: n.ino,
            filetype: ft,
            nlink,
            size,
            atim: n.atim,
            mtim: n.mtim,
            ctim: n.ctim,
        })
    }

    /// Moves node `id` and everything below it (as far as built) to mount `to`, with the bytes
    /// they hold: `ENOSPC` if `to` cannot take them (nothing is moved then).
    pub fn move_to_mount(&mut self, id: NodeId, to: u32) -> Result<(), Errno> {
        let mut stack = Vec::new();
        let mut all = Vec::new();
        let mut bytes = 0u64;
        stack.push(id);
        while let Some(n) = stack.pop() {
            let node = self.node(n)?;
            bytes = bytes.saturating_add(node.charge());
            if let Data::Dir {
                entries: Some(e), ..
            } = &node.data
            {
                stack.extend(e.nodes());
            }
            all.push((n, node.mount, node.charge()));
        }
        self.charge(to, bytes)?;
        for (n, from, charge) in all {
            self.uncharge(from, charge);
            self.node_mut(n)?.mount = to;
        }
        Ok(())
    }

    /// Whether `ancestor` is `node` or one of the directories above it.
    pub fn is_ancestor(&self, ancestor: NodeId, mut node: NodeId) -> bool {
        loop {
            if node == ancestor {
                return true;
            }
            match self.node(node) {
                Ok(n) if n.parent != node => node = n.parent,
                _ => return false,
            }
        }
    }
}
