//! `fd_readdir` over an embedded directory, laid out byte for byte as wasmtime-wasi does: `.` and
//! `..` first (both carrying the directory's own inode number), then the entries in name order;
//! each entry's `d_next` is its position plus one, so a cookie is "how many entries to skip". A
//! buffer too small for the next entry is filled with that entry's truncated bytes.

use wasivfs_image::Image;

use crate::fdtable::{Open, Tree};
use crate::host::AppMemory;
use crate::mem;
use crate::stat::{filetype_of, ino_of};
use crate::vfs::{routed_calls, Vfs};
use crate::wasi::{encode_dirent, filetype, Errno, EIO};

routed_calls! {
    /// `fd_readdir`.
    fn fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, bufused: i32)
        => route(fd) |vfs, h, o| {
            let mut out = DirentBuf::new(buf as u32, buf_len as u32);
            vfs.readdir_embedded(h, &o, &mut out, cookie as u64)?;
            mem::store_u32(h, bufused as u32, out.used())
        };
}

impl Vfs<'_> {
    /// The entries of embedded directory `o` from `cookie` on, `.` and `..` first, given to `out`
    /// one by one until it wants no more: what `fd_readdir` writes, and what the 0.2 front-end's
    /// directory streams read.
    pub(crate) fn readdir_embedded<H: AppMemory>(
        &mut self,
        h: &mut H,
        o: &Open,
        out: &mut impl DirentSink,
        cookie: u64,
    ) -> Result<(), Errno> {
        match o.tree {
            Tree::Mem => self.w_readdir(h, o, out, cookie),
            Tree::Image => readdir(h, &self.img()?, o, out, cookie),
        }
    }
}

/// Where directory entries go, one at a time.
pub(crate) trait DirentSink {
    /// Takes one entry (`next` is its `d_next` cookie); `Ok(false)` once it wants no more.
    fn push<H: AppMemory>(
        &mut self,
        h: &mut H,
        next: u64,
        ino: u64,
        ft: u8,
        name: &[u8],
    ) -> Result<bool, Errno>;
}

/// An `fd_readdir` buffer filled entry by entry, laid out as wasmtime-wasi lays it out: each
/// entry's header then its name, the last one cut off where the buffer ends.
pub(crate) struct DirentBuf {
    at: u32,
    cap: u32,
    len: u32,
}

impl DirentBuf {
    /// The buffer `[buf, buf + len)` of application memory.
    pub(crate) fn new(buf: u32, len: u32) -> Self {
        DirentBuf {
            at: buf,
            cap: len,
            len,
        }
    }

    /// The bytes used so far (the whole buffer once it is full).
    pub(crate) fn used(&self) -> u32 {
        self.len - self.cap
    }
}

impl DirentSink for DirentBuf {
    /// Writes one entry; `Ok(false)` once the buffer is full.
    fn push<H: AppMemory>(
        &mut self,
        h: &mut H,
        next: u64,
        ino: u64,
        ft: u8,
        name: &[u8],
    ) -> Result<bool, Errno> {
        let header = encode_dirent(next, ino, name.len() as u32, ft);
        for part in [&header[..], name] {
            let n = self.cap.min(part.len() as u32);
            mem::write_bytes(h, self.at, &part[..n as usize])?;
            self.at += n;
            self.cap -= n;
            if self.cap == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Writes the entries of image directory `open` from `cookie` on into `out`.
fn readdir<H: AppMemory>(
    h: &mut H,
    img: &Image<'_>,
    open: &Open,
    out: &mut impl DirentSink,
    cookie: u64,
) -> Result<(), Errno> {
    let dir = open.dir()?.inode;
    let count = img.dir_len(dir) as u64 + 2;
    let mut index = cookie;
    while index < count {
        let (ino, ft, name): (u64, u8, &[u8]) = match index {
            0 => (ino_of(dir), filetype::DIRECTORY, b"."),
            1 => (ino_of(dir), filetype::DIRECTORY, b".."),
            i => {
                let e = img.dir_entry(dir, (i - 2) as u32).ok_or(EIO)?;
                let kind = img.inode(e.inode).ok_or(EIO)?.kind;
                (ino_of(e.inode), filetype_of(kind), e.name)
            }
        };
        if !out.push(h, index + 1, ino, ft, name)? {
            break;
        }
        index += 1;
    }
    Ok(())
}
