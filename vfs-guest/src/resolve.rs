//! Path resolution inside a mount, with the errors a host preopen gives (wasmtime-wasi resolves
//! beneath the directory descriptor the path is relative to; escaping it is "not permitted"):
//!
//! - an empty path is `ENOENT`; an absolute path, or `..` above the directory the lookup is
//!   confined to (the callers pass the descriptor's own directory), is `EPERM`;
//! - a NUL byte is `EINVAL`; a component longer than 255 bytes or a path of 4096 bytes or more is
//!   `ENAMETOOLONG`;
//! - intermediate symlinks are always followed, the last one only when asked (or when a trailing
//!   slash follows it); more than 40 expansions is `ELOOP`;
//! - walking through a file, or a trailing slash after one, is `ENOTDIR`; a missing name is `ENOENT`.
//!
//! The resolver is generic over [`Lookup`], so the same code walks the read-only image and the
//! writable in-memory trees.

use alloc::vec::Vec;
use wasivfs_image::{Image, Kind};

use crate::wasi::{Errno, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EPERM};

/// Most symlinks expanded in one resolution (Linux's `MAXSYMLINKS`), the limit the packer's
/// escape check uses too.
pub const MAX_SYMLINK_EXPANSIONS: u32 = wasivfs_image::MAX_SYMLINK_HOPS;
/// Longest component (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Paths this long or longer are refused (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// What the resolver needs from a tree: children by name, node kinds, parents and link targets.
pub trait Lookup {
    /// A node handle.
    type Node: Copy + PartialEq;
    /// What `node` is (`None`: a dangling handle).
    fn kind(&self, node: Self::Node) -> Option<Kind>;
    /// The directory containing directory `dir` (a root is its own parent).
    fn parent(&self, dir: Self::Node) -> Option<Self::Node>;
    /// The entry `name` of directory `dir`. Takes `&mut self` so that a tree may build a
    /// directory's listing on first use; such a tree answers `ENOMEM` when it cannot.
    fn child(&mut self, dir: Self::Node, name: &[u8]) -> Result<Option<Self::Node>, Errno>;
    /// Appends the target of symlink `node` to `out`; `false` if `node` is not a symlink.
    fn link_target(&self, node: Self::Node, out: &mut Vec<u8>) -> bool;
}

impl Lookup for Image<'_> {
    type Node = u32;
    fn kind(&self, node: u32) -> Option<Kind> {
        self.inode(node).map(|i| i.kind)
    }
    fn parent(&self, dir: u32) -> Option<u32> {
        self.inode(dir).map(|i| i.parent)
    }
    fn child(&mut self, dir: u32, name: &[u8]) -> Result<Option<u32>, Errno> {
        Ok(self.lookup(dir, name))
    }
    fn link_target(&self, node: u32, out: &mut Vec<u8>) -> bool {
        match self.symlink_target(node) {
            Some(t) => {
                out.extend_from_slice(t);
                true
            }
            None => false,
        }
    }
}

/// Resolves `path` relative to directory `start`, never leaving the directory `root`. Returns the
/// node it names; a final symlink is returned as itself unless `follow` is set.
pub fn resolve<T: Lookup>(
    t: &mut T,
    root: T::Node,
    start: T::Node,
    path: &[u8],
    follow: bool,
) -> Result<T::Node, Errno> {
    match walk(t, root, start, path, follow, false)? {
        Walked::Node(n) => Ok(n),
        // `walk` stops early only when asked to.
        Walked::Missing { .. } => Err(ENOENT),
    }
}

/// Where a path leads when its last component may not exist yet (the create-type calls).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Walked<N> {
    /// The path names an existing node (a final symlink followed only when asked).
    Node(N),
    /// Everything but the last component exists; the last one, `name`, is missing from `dir`.
    /// `dir_required` is set when a slash followed the name (or a link that pointed there).
    Missing {
        /// The directory that would contain it.
        dir: N,
        /// The missing name.
        name: Vec<u8>,
        /// A trailing slash followed it.
        dir_required: bool,
    },
}

/// The last component of `path` as written, ignoring trailing slashes: `(name, trailing slash)`.
/// `None` for a path without a name (empty, or only slashes).
pub fn last_component(path: &[u8]) -> Option<(&[u8], bool)> {
    let trimmed_len = path.iter().rposition(|b| *b != b'/')? + 1;
    let trimmed = &path[..trimmed_len];
    let start = trimmed
        .iter()
        .rposition(|b| *b == b'/')
        .map_or(0, |i| i + 1);
    Some((&trimmed[start..], trimmed_len < path.len()))
}

/// The checks of a whole path, made before any lookup: empty is `ENOENT`, a NUL byte `EINVAL`,
/// [`PATH_MAX`] bytes or more `ENAMETOOLONG`.
pub(crate) fn check_path(path: &[u8]) -> Result<(), Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path.contains(&0) {
        return Err(EINVAL);
    }
    if path.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    Ok(())
}

/// Like [`resolve`], but a missing final component is reported as [`Walked::Missing`] instead
/// of `ENOENT` when `allow_missing` is set (a final symlink to a missing name counts as missing
/// only when `follow` is set; the caller decides what a dangling link means).
pub fn walk<T: Lookup>(
    t: &mut T,
    root: T::Node,
    start: T::Node,
    path: &[u8],
    follow: bool,
    allow_missing: bool,
) -> Result<Walked<T::Node>, Errno> {
    check_path(path)?;
    // Link targets read so far; a component names a byte range of one of them (0 is `path`).
    let mut sources: Vec<Vec<u8>> = Vec::new();
    // Components still to walk, last first (so symlink targets can be pushed in front).
    let mut pending: Vec<Component> = Vec::new();
    push_components(&mut pending, path, 0)?;
    let mut dir = start;
    let mut expansions = 0u32;
    while let Some(c) = pending.pop() {
        let is_last = pending.is_empty();
        match c {
            Component::Cur => {}
            Component::Parent => {
                if dir == root {
                    return Err(EPERM);
                }
                dir = t.parent(dir).ok_or(ENOENT)?;
            }
            Component::Name {
                source,
                start: s,
                end,
                dir_required,
            } => {
                let name: &[u8] = if source == 0 {
                    &path[s..end]
                } else {
                    &sources[source - 1][s..end]
                };
                if name.len() > NAME_MAX {
                    return Err(ENAMETOOLONG);
                }
                let Some(node) = t.child(dir, name)? else {
                    if is_last && allow_missing {
                        return Ok(Walked::Missing {
                            dir,
                            name: name.to_vec(),
                            dir_required,
                        });
                    }
                    return Err(ENOENT);
                };
                match t.kind(node).ok_or(ENOENT)? {
                    Kind::Directory => dir = node,
                    Kind::File => {
                        if !is_last || dir_required {
                            return Err(ENOTDIR);
                        }
                        return Ok(Walked::Node(node));
                    }
                    Kind::Symlink => {
                        if is_last && !follow && !dir_required {
                            return Ok(Walked::Node(node));
                        }
                        expansions += 1;
                        if expansions > MAX_SYMLINK_EXPANSIONS {
                            return Err(ELOOP);
                        }
                        let mut target = Vec::new();
                        if !t.link_target(node, &mut target) || target.is_empty() {
                            return Err(ENOENT);
                        }
                        if target[0] == b'/' {
                            return Err(EPERM);
                        }
                        if dir_required {
                            // `link/`: whatever the link names must be a directory.
                            pending.push(Component::Cur);
                        }
                        sources.push(target);
                        let index = sources.len();
                        push_components(&mut pending, &sources[index - 1], index)?;
                    }
                }
            }
        }
    }
    Ok(Walked::Node(dir))
}

#[derive(Clone, Copy, Debug)]
enum Component {
    Cur,
    Parent,
    /// A name: bytes `start..end` of source `source` (0: the path, `k`: the `k`th link target);
    /// `dir_required` when a slash follows it.
    Name {
        source: usize,
        start: usize,
        end: usize,
        dir_required: bool,
    },
}

/// Pushes the components of relative path `path` (source number `source`) onto `stack` so that
/// they pop in path order.
fn push_components(stack: &mut Vec<Component>, path: &[u8], source: usize) -> Result<(), Errno> {
    if path.first() == Some(&b'/') {
        return Err(EPERM);
    }
    let first = stack.len();
    let mut at = 0usize;
    let mut parts = path.split(|b| *b == b'/').peekable();
    while let Some(part) = parts.next() {
        let start = at;
        at += part.len() + 1;
        let followed_by_slash = parts.peek().is_some();
        let c = match part {
            b"" => continue,
            b"." => Component::Cur,
            b".." => Component::Parent,
            _ => Component::Name {
                source,
                start,
                end: start + part.len(),
                dir_required: followed_by_slash,
            },
        };
        stack.push(c);
    }
    stack[first..].reverse();
    Ok(())
}
