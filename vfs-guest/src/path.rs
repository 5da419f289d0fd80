//! Path resolution inside an embedded mount, with the errors a host preopen gives (wasmtime-wasi
//! resolves beneath the directory descriptor the path is relative to; escaping it is "not
//! permitted"):
//!
//! - an empty path is `ENOENT`; an absolute path, or `..` above the directory the lookup is
//!   confined to (the callers pass the descriptor's own directory), is `EPERM`;
//! - a NUL byte is `EINVAL`; a component longer than 255 bytes or a path of 4096 bytes or more is
//!   `ENAMETOOLONG`;
//! - intermediate symlinks are always followed, the last one only when asked (or when a trailing
//!   slash follows it); more than 40 expansions is `ELOOP`;
//! - walking through a file, or a trailing slash after one, is `ENOTDIR`; a missing name is `ENOENT`.

use alloc::vec::Vec;
use wasivfs_image::{Image, Kind};

use crate::abi::{Errno, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EPERM};

/// Most symlinks expanded in one resolution (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINK_EXPANSIONS: u32 = 40;
/// Longest component (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Paths this long or longer are refused (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// Resolves `path` relative to directory `start`, never leaving the mount rooted at `root`. Returns
/// the inode it names; a final symlink is returned as itself unless `follow` is set.
pub fn resolve(
    img: &Image<'_>,
    root: u32,
    start: u32,
    path: &[u8],
    follow: bool,
) -> Result<u32, Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path.contains(&0) {
        return Err(EINVAL);
    }
    if path.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    // Components still to walk, last first (so symlink targets can be pushed in front).
    let mut pending: Vec<Component<'_>> = Vec::new();
    push_components(&mut pending, path)?;
    let mut dir = start;
    let mut expansions = 0u32;
    // The inode reached by the last component, if it was not a directory we walked into.
    while let Some(c) = pending.pop() {
        let is_last = pending.is_empty();
        match c {
            Component::Cur => {}
            Component::Parent => {
                if dir == root {
                    return Err(EPERM);
                }
                dir = img.inode(dir).ok_or(ENOENT)?.parent;
            }
            Component::Name { name, dir_required } => {
                if name.len() > NAME_MAX {
                    return Err(ENAMETOOLONG);
                }
                let ino = img.lookup(dir, name).ok_or(ENOENT)?;
                let node = img.inode(ino).ok_or(ENOENT)?;
                match node.kind {
                    Kind::Directory => dir = ino,
                    Kind::File => {
                        if !is_last || dir_required {
                            return Err(ENOTDIR);
                        }
                        return Ok(ino);
                    }
                    Kind::Symlink => {
                        if is_last && !follow && !dir_required {
                            return Ok(ino);
                        }
                        expansions += 1;
                        if expansions > MAX_SYMLINK_EXPANSIONS {
                            return Err(ELOOP);
                        }
                        let target = img.symlink_target(ino).ok_or(ENOENT)?;
                        if target.is_empty() {
                            return Err(ENOENT);
                        }
                        if target[0] == b'/' {
                            return Err(EPERM);
                        }
                        if dir_required {
                            // `link/`: whatever the link names must be a directory.
                            pending.push(Component::Cur);
                        }
                        push_components(&mut pending, target)?;
                    }
                }
            }
        }
    }
    Ok(dir)
}

#[derive(Clone, Copy, Debug)]
enum Component<'p> {
    Cur,
    Parent,
    /// A name; `dir_required` when a slash follows it.
    Name {
        name: &'p [u8],
        dir_required: bool,
    },
}

/// Pushes the components of a relative path onto `stack` so that they pop in path order.
fn push_components<'p>(stack: &mut Vec<Component<'p>>, path: &'p [u8]) -> Result<(), Errno> {
    if path.first() == Some(&b'/') {
        return Err(EPERM);
    }
    let start = stack.len();
    let mut parts = path.split(|b| *b == b'/').peekable();
    while let Some(part) = parts.next() {
        let followed_by_slash = parts.peek().is_some();
        let c = match part {
            b"" => continue,
            b"." => Component::Cur,
            b".." => Component::Parent,
            name => Component::Name {
                name,
                dir_required: followed_by_slash,
            },
        };
        stack.push(c);
    }
    stack[start..].reverse();
    Ok(())
}
