//! Lays a tree out into image bytes, deterministically.
//!
//! Nodes may be added in any order; [`ImageBuilder::finish`] numbers inodes breadth-first with every
//! directory's children in byte order of their names, so the result depends only on the tree, never on
//! the order the host listed it in. File contents are not held here: each file carries a caller-chosen
//! `source` (a path, say) and a content digest, identical contents are stored once, and the returned
//! [`Layout`] says which byte range of the content region each distinct content fills.

use crate::Kind;
use std::collections::HashMap;

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
    /// More than 2^32 entries, contents or directories.
    TooManyEntries,
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
            BuildError::TooManyEntries => f.write_str("too many entries: the format counts them in 32 bits"),
        }
    }
}

impl std::error::Error for BuildError {}

/// A node handle returned by the `add_*` methods (not the final inode number).
pub type NodeId = u32;

/// A node, 24 bytes whatever its kind: a tree of millions of entries is held compactly.
#[derive(Clone, Copy)]
struct Node {
    mtime_ns: u64,
    kind: Kind,
    /// Directory: its number in [`ImageBuilder::dirs`]. File: its content number. Symlink: the
    /// target's offset in [`ImageBuilder::names`].
    a: u32,
    /// Symlink: the target's length. Otherwise 0.
    b: u32,
}

/// A directory entry: the name (a span of [`ImageBuilder::names`]) and the node it names.
#[derive(Clone, Copy)]
struct Child {
    name_off: u32,
    name_len: u32,
    node: NodeId,
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
    nodes: Vec<Node>,
    /// The entries of each directory, by directory number, in the order they were added.
    dirs: Vec<Vec<Child>>,
    /// Every entry name and link target, back to back.
    names: Vec<u8>,
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

/// The bytes at `(off, len)` of a name table.
fn span(names: &[u8], off: u32, len: u32) -> &[u8] {
    &names[off as usize..(off + len) as usize]
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
            dirs: Vec::new(),
            names: Vec::new(),
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
        let id = self.push_dir(mtime_ns)?;
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
        self.check_entry(parent, name)?;
        let id = self.push_dir(mtime_ns)?;
        self.add_child(parent, name, id)
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
        self.check_entry(parent, name)?;
        let blob = u32::try_from(blob).map_err(|_| BuildError::TooManyEntries)?;
        let id = self.push(Node {
            mtime_ns,
            kind: Kind::File,
            a: blob,
            b: 0,
        })?;
        self.add_child(parent, name, id)
    }

    /// Gives back the spare capacity of the builder's tables (they grow by doubling while a
    /// tree is added), once the tree is complete.
    pub fn shrink_to_fit(&mut self) {
        self.nodes.shrink_to_fit();
        self.names.shrink_to_fit();
        self.blobs.shrink_to_fit();
        for children in &mut self.dirs {
            children.shrink_to_fit();
        }
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
            if node.kind == Kind::File {
                node.a = same[node.a as usize] as u32;
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
        self.check_entry(parent, name)?;
        let (off, len) = self.intern(target)?;
        let id = self.push(Node {
            mtime_ns,
            kind: Kind::Symlink,
            a: off,
            b: len,
        })?;
        self.add_child(parent, name, id)
    }

    /// Adds an empty directory node (not yet anyone's child).
    fn push_dir(&mut self, mtime_ns: u64) -> Result<NodeId, BuildError> {
        let dir = u32::try_from(self.dirs.len()).map_err(|_| BuildError::TooManyEntries)?;
        let id = self.push(Node {
            mtime_ns,
            kind: Kind::Directory,
            a: dir,
            b: 0,
        })?;
        self.dirs.push(Vec::new());
        Ok(id)
    }

    fn push(&mut self, n: Node) -> Result<NodeId, BuildError> {
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| BuildError::TooManyEntries)?;
        self.nodes.push(n);
        Ok(id)
    }

    /// Appends `s` to the names and returns its span.
    fn intern(&mut self, s: &str) -> Result<(u32, u32), BuildError> {
        let off = self.names.len();
        let end = off + s.len();
        if u32::try_from(end).is_err() {
            return Err(BuildError::TooLarge {
                total: end as u64,
                limit: u32::MAX as u64,
            });
        }
        self.names.extend_from_slice(s.as_bytes());
        Ok((off as u32, s.len() as u32))
    }

    /// The name or target at span `(off, len)` of the names.
    fn name(&self, off: u32, len: u32) -> &[u8] {
        span(&self.names, off, len)
    }

    /// Fails unless `name` is a valid entry name and `parent` a directory of this builder.
    fn check_entry(&self, parent: NodeId, name: &str) -> Result<(), BuildError> {
        check_name(name)?;
        match self.nodes.get(parent as usize) {
            Some(n) if n.kind == Kind::Directory => Ok(()),
            _ => Err(BuildError::NotADirectory(parent)),
        }
    }

    /// Makes node `id` the entry `name` of directory `parent` (both checked by the caller). Two
    /// entries of one name are found when [`ImageBuilder::finish`] sorts each directory.
    fn add_child(&mut self, parent: NodeId, name: &str, id: NodeId) -> Result<NodeId, BuildError> {
        let (name_off, name_len) = self.intern(name)?;
        let dir = self.nodes[parent as usize].a as usize;
        self.dirs[dir].push(Child {
            name_off,
            name_len,
            node: id,
        });
        Ok(id)
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

mod layout;
#[cfg(test)]
mod tests;
