//! The `filestat` and `fdstat` values reported for embedded inodes and fds.
//!
//! - `dev` is 1 for every embedded inode (wasmtime-wasi reports 1 for every host file too);
//! - `ino` is the image inode number plus one (stable: inode numbering depends only on the tree);
//! - `nlink` is 1;
//! - `size` is the file length, the link target length, or [`DIR_SIZE`] for a directory (what ext4,
//!   xfs and overlayfs report for a small directory; the host value depends on its filesystem);
//! - `atim`, `mtim` and `ctim` are all the stored modification time.

use wasivfs_image::{Image, Kind};

use crate::fdtable::{Open, OpenKind};
use crate::wasi::{filetype, rights, Errno, Fdstat, Filestat, ENOENT};

/// The `dev` of every embedded inode.
pub const DEV: u64 = 1;

/// The size reported for every embedded directory: one filesystem block, as most Linux hosts show.
pub const DIR_SIZE: u64 = 4096;

/// The preview 1 file type of an image inode kind.
pub fn filetype_of(kind: Kind) -> u8 {
    match kind {
        Kind::Directory => filetype::DIRECTORY,
        Kind::File => filetype::REGULAR_FILE,
        Kind::Symlink => filetype::SYMBOLIC_LINK,
    }
}

/// The stable inode number reported for image inode `ino`.
pub fn ino_of(ino: u32) -> u64 {
    ino as u64 + 1
}

/// `filestat` of image inode `ino`.
pub fn filestat(img: &Image<'_>, ino: u32) -> Result<Filestat, Errno> {
    let node = img.inode(ino).ok_or(ENOENT)?;
    Ok(Filestat {
        dev: DEV,
        ino: ino_of(ino),
        filetype: filetype_of(node.kind),
        nlink: 1,
        size: if node.kind == Kind::Directory {
            DIR_SIZE
        } else {
            node.size()
        },
        atim: node.mtime_ns,
        mtim: node.mtime_ns,
        ctim: node.mtime_ns,
    })
}

/// Rights of a preopened directory, as wasmtime-wasi hard-codes them.
pub const PREOPEN_RIGHTS_BASE: u64 = rights::PATH_CREATE_DIRECTORY
    | rights::PATH_CREATE_FILE
    | rights::PATH_LINK_SOURCE
    | rights::PATH_LINK_TARGET
    | rights::PATH_OPEN
    | rights::FD_READDIR
    | rights::PATH_READLINK
    | rights::PATH_RENAME_SOURCE
    | rights::PATH_RENAME_TARGET
    | rights::PATH_SYMLINK
    | rights::PATH_REMOVE_DIRECTORY
    | rights::PATH_UNLINK_FILE
    | rights::PATH_FILESTAT_GET
    | rights::PATH_FILESTAT_SET_TIMES
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_TIMES;

/// Inheriting rights of a preopened directory, as wasmtime-wasi hard-codes them.
pub const PREOPEN_RIGHTS_INHERITING: u64 = PREOPEN_RIGHTS_BASE
    | rights::FD_DATASYNC
    | rights::FD_READ
    | rights::FD_SEEK
    | rights::FD_FDSTAT_SET_FLAGS
    | rights::FD_SYNC
    | rights::FD_TELL
    | rights::FD_WRITE
    | rights::FD_ADVISE
    | rights::FD_ALLOCATE
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_SIZE
    | rights::FD_FILESTAT_SET_TIMES
    | rights::POLL_FD_READWRITE;

/// `fdstat` of an embedded fd, as wasmtime-wasi derives it from the open mode: every right, less
/// `FD_WRITE` unless open for writing, less `FD_READ` and `FD_READDIR` unless open for reading;
/// directories also lack the seek and set-size rights. Preopens report a fixed set.
pub fn fdstat(open: &Open) -> Fdstat {
    if open.preopen.is_some() {
        return Fdstat {
            filetype: filetype::DIRECTORY,
            flags: 0,
            rights_base: PREOPEN_RIGHTS_BASE,
            rights_inheriting: PREOPEN_RIGHTS_INHERITING,
        };
    }
    let mut r = rights::ALL;
    if !open.write {
        r &= !rights::FD_WRITE;
    }
    if !open.read {
        r &= !(rights::FD_READ | rights::FD_READDIR);
    }
    let (ft, flags) = match open.kind {
        OpenKind::Dir => {
            r &= !(rights::FD_SEEK | rights::FD_FILESTAT_SET_SIZE | rights::PATH_FILESTAT_SET_SIZE);
            (filetype::DIRECTORY, 0)
        }
        OpenKind::File => (filetype::REGULAR_FILE, open.flags),
    };
    Fdstat {
        filetype: ft,
        flags,
        rights_base: r,
        rights_inheriting: r,
    }
}
