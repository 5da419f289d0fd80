//! The guest-visible fd table: each number is free, a host fd, or an embedded open file/directory.
//!
//! A new fd takes the lowest free number, as POSIX `open` does. (wasmtime-wasi 48 instead reuses the
//! most recently freed number first; the two agree whenever at most one number is free, which is the
//! common open/close pattern.)

use alloc::collections::BTreeMap;
use alloc::collections::BTreeSet;

use crate::wasi::{Errno, EBADF, EMFILE};

/// What an embedded fd is open on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// Which tree an embedded fd's node numbers belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// The read-only image: numbers are image inodes.
    Image,
    /// The writable in-memory tree (`--tmpfs`, `--writable`): numbers are its node ids.
    Mem,
}

/// An open embedded file or directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// The tree `inode` and `root` belong to.
    pub tree: Tree,
    /// The inode it is open on.
    pub inode: u32,
    /// The root inode of the mount it belongs to (`..` never climbs above it).
    pub root: u32,
    /// File or directory.
    pub kind: OpenKind,
    /// `Some(mount index)` for a preopened mount root.
    pub preopen: Option<u32>,
    /// Current file position.
    pub pos: u64,
    /// `fdflags` the application may observe (`APPEND`, `NONBLOCK`).
    pub flags: u16,
    /// Open for reading.
    pub read: bool,
    /// Open for writing (only ever on the writable tree).
    pub write: bool,
}

impl Open {
    /// `self` if it is open on a file (a directory is `EBADF`).
    pub fn file(&self) -> Result<&Open, Errno> {
        self.of_kind(OpenKind::File)
    }

    /// `self` if it is open on a directory (a file is `EBADF`).
    pub fn dir(&self) -> Result<&Open, Errno> {
        self.of_kind(OpenKind::Dir)
    }

    /// `self` if it is open on a `kind`, else `EBADF`.
    fn of_kind(&self, kind: OpenKind) -> Result<&Open, Errno> {
        if self.kind == kind {
            Ok(self)
        } else {
            Err(EBADF)
        }
    }
}

/// One used fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A host fd, by the host's own number.
    Host(u32),
    /// An embedded file or directory.
    Embedded(Open),
}

/// The fd table.
#[derive(Debug, Default)]
pub struct FdTable {
    used: BTreeMap<u32, Slot>,
    free: BTreeSet<u32>,
}

impl FdTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The slot of `fd`, if it is in use.
    pub fn get(&self, fd: u32) -> Option<&Slot> {
        self.used.get(&fd)
    }

    /// The slot of `fd` for changing, if it is in use.
    pub fn get_mut(&mut self, fd: u32) -> Option<&mut Slot> {
        self.used.get_mut(&fd)
    }

    /// Moves the position of embedded fd `fd` to `pos` (nothing for any other number).
    pub fn set_pos(&mut self, fd: u32, pos: u64) {
        if let Some(open) = self.embedded_mut(fd) {
            open.pos = pos;
        }
    }

    /// The embedded open file of `fd`, if `fd` is an embedded fd.
    pub fn embedded_mut(&mut self, fd: u32) -> Option<&mut Open> {
        match self.used.get_mut(&fd) {
            Some(Slot::Embedded(o)) => Some(o),
            _ => None,
        }
    }

    /// Puts `slot` under a new number: the lowest freed number, else one past the highest used.
    pub fn push(&mut self, slot: Slot) -> Result<u32, Errno> {
        let fd = match self.free.pop_first() {
            Some(fd) => fd,
            None => match self.used.last_key_value() {
                Some((&last, _)) => match last.checked_add(1) {
                    Some(fd) => fd,
                    None => (0..u32::MAX)
                        .rev()
                        .find(|fd| !self.used.contains_key(fd))
                        .ok_or(EMFILE)?,
                },
                None => 0,
            },
        };
        self.used.insert(fd, slot);
        Ok(fd)
    }

    /// Frees `fd` and returns what it held.
    pub fn remove(&mut self, fd: u32) -> Result<Slot, Errno> {
        let slot = self.used.remove(&fd).ok_or(EBADF)?;
        self.free.insert(fd);
        Ok(slot)
    }

    /// Moves `from` onto `to` (which the caller has already closed); `from` becomes free.
    pub fn renumber(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        let slot = self.used.remove(&from).ok_or(EBADF)?;
        self.free.insert(from);
        self.free.remove(&to);
        self.used.insert(to, slot);
        Ok(())
    }

    /// All used fds with their slots, in number order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Slot)> {
        self.used.iter().map(|(k, v)| (*k, v))
    }
}
