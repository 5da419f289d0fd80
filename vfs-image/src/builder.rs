//! Lays a tree out into image bytes, deterministically.
//!
//! Nodes may be added in any order; [`ImageBuilder::finish`] numbers inodes breadth-first with every
//! directory's children in byte order of their names, so the result depends only on the tree, never on
//! the order the host listed it in. File contents are not held here: each file carries a caller-chosen
//! `source` (a path, say) and a content digest, identical contents are stored once, and the returned
//! [`Layout`] says which byte range of the content region each distinct content fills.

use crate::{Kind, DIRENT_LEN, HEADER_LEN, INODE_LEN, MAGIC, MOUNT_LEN, VERSION};
use std::collections::{HashMap, VecDeque};

/// Why a tree cannot be laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// Two mounts with the same guest path.
    DuplicateMount(String),
    /// A guest mount path that is not absolute and normalized.
    BadMountPath(String),
    /// Two entries with the same name in one directory.
    DuplicateName(String),
    /// A name that is empty, `.`, `..` or contains `/` or NUL.
    BadName(String),
    /// `parent` does not name a directory added to this builder.
    NotADirectory(u32),
    /// The metadata (tree, names, link targets) would be larger than [`Limits::metadata`].
    TooLarge {
        /// The size the metadata would have had.
        total: u64,
        /// The limit.
        limit: u64,
    },
    /// The distinct file contents would be larger than [`Limits::content`].
    ContentTooLarge {
        /// Bytes of distinct contents.
        total: u64,
        /// The limit.
        limit: u64,
    },
    /// [`Limits::segment_len`] is 0.
    ZeroSegmentLength,
}

/// Bounds a layout must respect (the packer derives them from the module limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest metadata (header, tables, strings), which must fit the VFS memory.
    pub metadata: u64,
    /// Largest content region (at most `u32::MAX`: offsets are 32-bit).
    pub content: u64,
    /// Bytes per content segment.
    pub segment_len: u32,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::DuplicateMount(p) => write!(f, "guest path {p} is mapped twice"),
            BuildError::BadMountPath(p) => {
                write!(f, "guest path {p:?} must be absolute and normalized (like /src)")
            }
            BuildError::DuplicateName(n) => write!(f, "duplicate entry name {n:?}"),
            BuildError::BadName(n) => write!(f, "invalid entry name {n:?}"),
            BuildError::NotADirectory(i) => write!(f, "node {i} is not a directory"),
            BuildError::TooLarge { total, limit } => write!(
                f,
                "too large: the tree's metadata would be {total} bytes, the VFS memory can hold {limit}"
            ),
            BuildError::ContentTooLarge { total, limit } => write!(
                f,
                "too large for a module: the file contents are {total} bytes, a module's data section can hold {limit} next to this module's own"
            ),
            BuildError::ZeroSegmentLength => f.write_str("the content segment length is 0"),
        }
    }
}

impl std::error::Error for BuildError {}

/// A node handle returned by the `add_*` methods (not the final inode number).
pub type NodeId = u32;

enum Node<S> {
    Dir {
        mtime_ns: u64,
        children: Vec<(String, NodeId)>,
    },
    File {
        mtime_ns: u64,
        blob: usize,
        _source: std::marker::PhantomData<S>,
    },
    Symlink {
        mtime_ns: u64,
        target: String,
    },
}

/// One distinct file content and where its bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob<S> {
    /// Offset of these bytes within the content region.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Where to read them (the first file seen with this content).
    pub source: S,
}

/// How a mount may be written (see [`ImageBuilder::set_mount_options`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// [`crate::MOUNT_WRITABLE`] and [`crate::MOUNT_TMPFS`] bits (0: read-only).
    pub flags: u32,
    /// Most bytes the mount may hold in memory at run time (writable mounts).
    pub size_limit: u64,
}

/// Collects a tree, then lays it out.
pub struct ImageBuilder<S> {
    mounts: Vec<(String, NodeId)>,
    mount_options: HashMap<NodeId, MountOptions>,
    nodes: Vec<Node<S>>,
    blobs: Vec<(u64, S)>,
    by_digest: HashMap<([u8; 32], u64), usize>,
    config: Vec<u8>,
}

impl Limits {
    /// The widest limits the format allows (32-bit offsets), with `segment_len`-byte segments.
    pub fn format_max(segment_len: u32) -> Limits {
        Limits {
            metadata: u32::MAX as u64,
            content: u32::MAX as u64,
            segment_len,
        }
    }

    /// `self` with the metadata and content bounds lowered to `metadata` and `content`.
    pub fn within(self, metadata: u64, content: u64) -> Limits {
        Limits {
            metadata: self.metadata.min(metadata),
            content: self.content.min(content),
            ..self
        }
    }
}

impl<S> Default for ImageBuilder<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// The laid-out image: metadata bytes plus the list of contents that make up the content region.
#[derive(Debug)]
pub struct Layout<S> {
    /// The image: header, tables and strings.
    pub metadata: Vec<u8>,
    /// Distinct file contents in content-region order; blob `i` starts where blob `i-1` ended, the
    /// first at 0.
    pub blobs: Vec<Blob<S>>,
    /// Length of the content region.
    pub content_len: u64,
    /// Bytes per content segment.
    pub segment_len: u32,
    /// Counts for reports.
    pub stats: Stats,
}

/// What an image holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Directories, mount roots included.
    pub dirs: u64,
    /// Regular files.
    pub files: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Sum of all file sizes.
    pub file_bytes: u64,
    /// Bytes of distinct contents actually stored.
    pub stored_bytes: u64,
}

fn check_name(name: &str) -> Result<(), BuildError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(BuildError::BadName(name.to_string()));
    }
    Ok(())
}

/// Whether `p` is an absolute guest path with no empty, `.` or `..` components (`/` itself is fine).
pub fn is_normalized_guest_path(p: &str) -> bool {
    if p == "/" {
        return true;
    }
    p.starts_with('/')
        && !p.ends_with('/')
        && p[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'))
}

impl<S> ImageBuilder<S> {
    /// An empty builder.
    pub fn new() -> Self {
        ImageBuilder {
            mounts: Vec::new(),
            mount_options: HashMap::new(),
            nodes: Vec::new(),
            blobs: Vec::new(),
            by_digest: HashMap::new(),
            config: Vec::new(),
        }
    }

    /// Bakes `config` into the image as its program record (none if it is empty). The caller
    /// validated it ([`crate::config::ProgramConfig::validate`]).
    pub fn set_config(&mut self, config: &crate::config::ProgramConfig) {
        self.config = config.encode();
    }

    /// Adds a mount at absolute guest path `guest` and returns its root directory.
    pub fn add_mount(&mut self, guest: &str, mtime_ns: u64) -> Result<NodeId, BuildError> {
        if !is_normalized_guest_path(guest) {
            return Err(BuildError::BadMountPath(guest.to_string()));
        }
        if self.mounts.iter().any(|(p, _)| p == guest) {
            return Err(BuildError::DuplicateMount(guest.to_string()));
        }
        let id = self.push(Node::Dir {
            mtime_ns,
            children: Vec::new(),
        });
        self.mounts.push((guest.to_string(), id));
        Ok(id)
    }

    /// The root of the mount at guest path `guest`, if there is one.
    pub fn mount_root(&self, guest: &str) -> Option<NodeId> {
        self.mounts
            .iter()
            .find(|(p, _)| p == guest)
            .map(|(_, r)| *r)
    }

    /// Sets how the mount whose root is `root` may be written.
    pub fn set_mount_options(
        &mut self,
        root: NodeId,
        options: MountOptions,
    ) -> Result<(), BuildError> {
        if !self.mounts.iter().any(|(_, r)| *r == root) {
            return Err(BuildError::NotADirectory(root));
        }
        self.mount_options.insert(root, options);
        Ok(())
    }

    /// Adds a directory named `name` inside `parent`.
    pub fn add_dir(
        &mut self,
        parent: NodeId,
        name: &str,
        mtime_ns: u64,
    ) -> Result<NodeId, BuildError> {
        self.add_child(
            parent,
            name,
            Node::Dir {
                mtime_ns,
                children: Vec::new(),
            },
        )
    }

    /// Adds a file of `len` bytes whose contents hash to `digest`; `source` says where to read them.
    /// A file whose `(digest, len)` was seen before shares the earlier file's stored bytes.
    pub fn add_file(
        &mut self,
        parent: NodeId,
        name: &str,
        mtime_ns: u64,
        len: u64,
        digest: [u8; 32],
        source: S,
    ) -> Result<NodeId, BuildError> {
        let blob = match self.by_digest.get(&(digest, len)) {
            Some(&b) => b,
            None => {
                self.blobs.push((len, source));
                self.by_digest.insert((digest, len), self.blobs.len() - 1);
                self.blobs.len() - 1
            }
        };
        self.add_file_node(parent, name, mtime_ns, blob)
    }

    /// Adds a file of `len` bytes whose contents are not hashed: it gets stored bytes of its own
    /// (content number [`ImageBuilder::contents`]`.len()` before the call) until
    /// [`ImageBuilder::share_contents`] says they are another file's. The walk uses it so that
    /// only files whose size is not unique need hashing.
    pub fn add_file_unhashed(
        &mut self,
        parent: NodeId,
        name: &str,
        mtime_ns: u64,
        len: u64,
        source: S,
    ) -> Result<NodeId, BuildError> {
        self.blobs.push((len, source));
        let blob = self.blobs.len() - 1;
        self.add_file_node(parent, name, mtime_ns, blob)
    }

    /// Adds the file node `name` under `parent`, its bytes being stored contents `blob`.
    fn add_file_node(
        &mut self,
        parent: NodeId,
        name: &str,
        mtime_ns: u64,
        blob: usize,
    ) -> Result<NodeId, BuildError> {
        self.add_child(
            parent,
            name,
            Node::File {
                mtime_ns,
                blob,
                _source: std::marker::PhantomData,
            },
        )
    }

    /// The contents added so far, by number, in the order they were added: length and source.
    pub fn contents(&self) -> &[(u64, S)] {
        &self.blobs
    }

    /// For each `(dup, keep)`, makes the files holding content number `dup` hold content `keep`
    /// instead (found identical after the walk), so the layout stores it once. A `keep` must not
    /// itself be a `dup`; numbers out of range are ignored.
    pub fn share_contents(&mut self, pairs: &[(usize, usize)]) {
        let mut same: Vec<usize> = (0..self.blobs.len()).collect();
        for (dup, keep) in pairs {
            if let (Some(slot), true) = (same.get_mut(*dup), *keep < self.blobs.len()) {
                *slot = *keep;
            }
        }
        for node in &mut self.nodes {
            if let Node::File { blob, .. } = node {
                *blob = same[*blob];
            }
        }
    }

    /// Adds a symbolic link whose target is `target`, stored verbatim.
    pub fn add_symlink(
        &mut self,
        parent: NodeId,
        name: &str,
        target: &str,
        mtime_ns: u64,
    ) -> Result<NodeId, BuildError> {
        self.add_child(
            parent,
            name,
            Node::Symlink {
                mtime_ns,
                target: target.to_string(),
            },
        )
    }

    fn push(&mut self, n: Node<S>) -> NodeId {
        self.nodes.push(n);
        (self.nodes.len() - 1) as NodeId
    }

    fn add_child(&mut self, parent: NodeId, name: &str, n: Node<S>) -> Result<NodeId, BuildError> {
        check_name(name)?;
        match self.nodes.get(parent as usize) {
            Some(Node::Dir { children, .. }) => {
                if children.iter().any(|(c, _)| c == name) {
                    return Err(BuildError::DuplicateName(name.to_string()));
                }
            }
            _ => return Err(BuildError::NotADirectory(parent)),
        }
        let id = self.push(n);
        if let Some(Node::Dir { children, .. }) = self.nodes.get_mut(parent as usize) {
            children.push((name.to_string(), id));
        }
        Ok(id)
    }

    /// Lays the tree out within `limits`.
    pub fn finish(mut self, limits: Limits) -> Result<Layout<S>, BuildError> {
        if limits.segment_len == 0 {
            return Err(BuildError::ZeroSegmentLength);
        }
        for n in &mut self.nodes {
            if let Node::Dir { children, .. } = n {
                children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
        }
        // Breadth-first numbering: node id -> inode number, and the dirent runs.
        let mut ino_of = vec![u32::MAX; self.nodes.len()];
        let mut order: Vec<NodeId> = Vec::with_capacity(self.nodes.len());
        let mut parent_of: Vec<u32> = Vec::with_capacity(self.nodes.len());
        let mut dir_run: HashMap<NodeId, (u32, u32)> = HashMap::new();
        let mut dirents: Vec<(String, NodeId)> = Vec::new();
        let mut queue = VecDeque::new();
        for (_, root) in &self.mounts {
            let ino = order.len() as u32;
            ino_of[*root as usize] = ino;
            order.push(*root);
            parent_of.push(ino);
            queue.push_back(*root);
        }
        while let Some(dir) = queue.pop_front() {
            let dir_ino = ino_of[dir as usize];
            let Node::Dir { children, .. } = &self.nodes[dir as usize] else {
                continue;
            };
            dir_run.insert(dir, (dirents.len() as u32, children.len() as u32));
            for (name, child) in children {
                let ino = order.len() as u32;
                ino_of[*child as usize] = ino;
                order.push(*child);
                parent_of.push(dir_ino);
                dirents.push((name.clone(), *child));
                if matches!(self.nodes[*child as usize], Node::Dir { .. }) {
                    queue.push_back(*child);
                }
            }
        }

        // Strings, blobs in first-use order.
        let mut strings: Vec<u8> = Vec::new();
        let mut put = |s: &str| -> (u32, u32) {
            let off = strings.len() as u32;
            strings.extend_from_slice(s.as_bytes());
            (off, s.len() as u32)
        };
        let mount_options = &self.mount_options;
        let mounts: Vec<(u32, u32, u32, MountOptions)> = self
            .mounts
            .iter()
            .map(|(p, root)| {
                let (o, l) = put(p);
                let opts = mount_options.get(root).copied().unwrap_or_default();
                (o, l, ino_of[*root as usize], opts)
            })
            .collect();
        let dirent_recs: Vec<(u32, u32, u32)> = dirents
            .iter()
            .map(|(name, node)| {
                let (o, l) = put(name);
                (o, l, ino_of[*node as usize])
            })
            .collect();
        let mut blob_pos: Vec<Option<u64>> = vec![None; self.blobs.len()];
        let mut blob_order: Vec<usize> = Vec::new();
        let mut data_len: u64 = 0;
        let mut stats = Stats::default();
        let mut inode_recs: Vec<(Kind, u64, u64, u32, u64)> = Vec::with_capacity(order.len());
        for (i, node) in order.iter().enumerate() {
            let rec = match &self.nodes[*node as usize] {
                Node::Dir { mtime_ns, .. } => {
                    stats.dirs += 1;
                    let (first, count) = dir_run.get(node).copied().unwrap_or((0, 0));
                    (Kind::Directory, first as u64, count as u64, *mtime_ns)
                }
                Node::File { mtime_ns, blob, .. } => {
                    let len = self.blobs[*blob].0;
                    stats.files += 1;
                    stats.file_bytes += len;
                    let off = match blob_pos[*blob] {
                        Some(o) => o,
                        None => {
                            let o = data_len;
                            blob_pos[*blob] = Some(o);
                            blob_order.push(*blob);
                            data_len += len;
                            o
                        }
                    };
                    (Kind::File, off, len, *mtime_ns)
                }
                Node::Symlink { mtime_ns, target } => {
                    stats.symlinks += 1;
                    let (o, l) = put(target);
                    (Kind::Symlink, o as u64, l as u64, *mtime_ns)
                }
            };
            inode_recs.push((rec.0, rec.1, rec.2, parent_of[i], rec.3));
        }
        stats.stored_bytes = data_len;

        let mounts_off = HEADER_LEN as u64;
        let inodes_off = mounts_off + (mounts.len() * MOUNT_LEN) as u64;
        let dirents_off = inodes_off + (inode_recs.len() * INODE_LEN) as u64;
        let strings_off = dirents_off + (dirent_recs.len() * DIRENT_LEN) as u64;
        let config_off = strings_off + strings.len() as u64;
        let total = config_off + self.config.len() as u64;
        let limit = limits.metadata.min(u32::MAX as u64);
        if total > limit {
            return Err(BuildError::TooLarge { total, limit });
        }
        let content_limit = limits.content.min(u32::MAX as u64);
        if data_len > content_limit {
            return Err(BuildError::ContentTooLarge {
                total: data_len,
                limit: content_limit,
            });
        }
        // Everything below fits in u32 because total and data_len do.
        let mut m: Vec<u8> = Vec::with_capacity(total as usize);
        m.extend_from_slice(&MAGIC);
        for v in [
            VERSION,
            HEADER_LEN as u32,
            total as u32,
            mounts.len() as u32,
            mounts_off as u32,
            inode_recs.len() as u32,
            inodes_off as u32,
            dirent_recs.len() as u32,
            dirents_off as u32,
            strings_off as u32,
            strings.len() as u32,
            limits.segment_len,
            data_len as u32,
            if self.config.is_empty() {
                0
            } else {
                config_off as u32
            },
        ] {
            m.extend_from_slice(&v.to_le_bytes());
        }
        debug_assert_eq!(m.len(), HEADER_LEN);
        for (o, l, root, opts) in &mounts {
            for v in [*o, *l, *root, opts.flags] {
                m.extend_from_slice(&v.to_le_bytes());
            }
            m.extend_from_slice(&opts.size_limit.to_le_bytes());
        }
        for (kind, a, b, parent, mtime) in &inode_recs {
            m.extend_from_slice(&[*kind as u8, 0, 0, 0]);
            m.extend_from_slice(&(*a as u32).to_le_bytes());
            m.extend_from_slice(&(*b as u32).to_le_bytes());
            m.extend_from_slice(&parent.to_le_bytes());
            m.extend_from_slice(&mtime.to_le_bytes());
            m.extend_from_slice(&0u64.to_le_bytes());
        }
        for (o, l, ino) in &dirent_recs {
            for v in [*o, *l, *ino] {
                m.extend_from_slice(&v.to_le_bytes());
            }
        }
        m.extend_from_slice(&strings);
        m.extend_from_slice(&self.config);

        let mut slots: Vec<Option<(u64, S)>> = self.blobs.into_iter().map(Some).collect();
        let mut blobs = Vec::with_capacity(blob_order.len());
        let mut at = 0u64;
        for b in blob_order {
            if let Some((len, source)) = slots[b].take() {
                blobs.push(Blob {
                    offset: at,
                    len,
                    source,
                });
                at += len;
            }
        }
        Ok(Layout {
            metadata: m,
            blobs,
            content_len: data_len,
            segment_len: limits.segment_len,
            stats,
        })
    }
}

impl<S> Layout<S> {
    /// Assembles the content region in memory, asking `read` for each blob's bytes. Meant for
    /// tests and small trees; the packer streams instead.
    pub fn content_bytes<E>(
        &self,
        mut read: impl FnMut(&S, &mut [u8]) -> Result<(), E>,
    ) -> Result<Vec<u8>, E> {
        let mut out = vec![0u8; self.content_len as usize];
        for b in &self.blobs {
            let start = b.offset as usize;
            read(&b.source, &mut out[start..start + b.len as usize])?;
        }
        Ok(out)
    }

    /// Length of each content segment, in order (all `segment_len` but the last).
    pub fn segment_lens(&self) -> Vec<u32> {
        let count = crate::segment_count(self.content_len as u32, self.segment_len);
        (0..count as u64)
            .map(|i| {
                let start = i * self.segment_len as u64;
                (self.content_len - start).min(self.segment_len as u64) as u32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
