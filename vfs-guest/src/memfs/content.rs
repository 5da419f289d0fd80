//! File contents of the writable tree: packed bytes until the first change, then a buffer in the
//! VFS memory.

use alloc::vec::Vec;
use wasivfs_image::Image;

use super::{Data, MemFs, NodeId};
use crate::host::AppMemory;
use crate::wasi::{Errno, EBADF, EFBIG, EIO, EISDIR, ENOMEM, ENOSPC};

/// Largest piece of application memory borrowed at once for a copy-up.
const COPY_CHUNK: u64 = 64 * 1024;

/// A file's bytes.
#[derive(Debug)]
pub enum Content {
    /// Still the packed bytes: `len` bytes at `off` in the content region.
    Lower {
        /// Offset in the content region.
        off: u32,
        /// Length.
        len: u32,
    },
    /// Bytes in memory (copied up, or written).
    Owned(Vec<u8>),
}

impl Content {
    /// The file size.
    pub fn len(&self) -> u64 {
        match self {
            Content::Lower { len, .. } => *len as u64,
            Content::Owned(v) => v.len() as u64,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held in memory.
    pub fn owned_len(&self) -> u64 {
        match self {
            Content::Lower { .. } => 0,
            Content::Owned(v) => v.len() as u64,
        }
    }

    /// Copies up to `len` bytes from offset `pos` to application address `buf` (checked by the
    /// caller); returns how many.
    pub fn read<H: AppMemory>(
        &self,
        h: &mut H,
        img: Option<&Image<'_>>,
        pos: u64,
        buf: u32,
        len: u32,
    ) -> Result<u32, Errno> {
        let size = self.len();
        let start = pos.min(size);
        let n = (size - start).min(len as u64) as u32;
        if n == 0 {
            return Ok(0);
        }
        match self {
            Content::Owned(v) => h.copy_out(buf, &v[start as usize..start as usize + n as usize]),
            Content::Lower { off, .. } => {
                let img = img.ok_or(EIO)?;
                let mut dst = buf;
                for piece in img.pieces(off + start as u32, n) {
                    h.copy_content(dst, piece.segment, piece.offset, piece.len);
                    dst += piece.len;
                }
            }
        }
        Ok(n)
    }
}

/// Reads `len` packed bytes at `off` into a new buffer. `memory.init` only writes into the
/// application's memory, so each chunk goes through application address 0: its bytes are saved,
/// the chunk is placed there and copied in, and the bytes are put back (single-threaded: nobody
/// sees them).
fn copy_up<H: AppMemory>(h: &mut H, img: &Image<'_>, off: u32, len: u32) -> Result<Vec<u8>, Errno> {
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(len as usize).map_err(|_| ENOMEM)?;
    if len == 0 {
        return Ok(v);
    }
    let chunk = h.app_len().min(COPY_CHUNK) as u32;
    if chunk == 0 {
        return Err(EIO);
    }
    let mut saved: Vec<u8> = Vec::new();
    saved
        .try_reserve_exact(chunk as usize)
        .map_err(|_| ENOMEM)?;
    saved.resize(chunk as usize, 0);
    h.copy_in(&mut saved, 0);
    let mut done = 0u32;
    while done < len {
        let n = chunk.min(len - done);
        let mut at = 0u32;
        for piece in img.pieces(off + done, n) {
            h.copy_content(at, piece.segment, piece.offset, piece.len);
            at += piece.len;
        }
        let start = v.len();
        v.resize(start + n as usize, 0);
        h.copy_in(&mut v[start..], 0);
        done += n;
    }
    h.copy_out(0, &saved);
    Ok(v)
}

impl MemFs {
    /// Makes file `id`'s bytes its own (copy-up), charging them to its mount.
    pub fn own<H: AppMemory>(
        &mut self,
        h: &mut H,
        img: Option<&Image<'_>>,
        id: NodeId,
    ) -> Result<(), Errno> {
        let node = self.node(id)?;
        let (off, len, mount) = match &node.data {
            Data::File(Content::Lower { off, len }) => (*off, *len, node.mount),
            Data::File(Content::Owned(_)) => return Ok(()),
            Data::Dir { .. } => return Err(EISDIR),
            Data::Symlink(_) => return Err(EBADF),
        };
        self.charge(mount, len as u64)?;
        let bytes = match img.ok_or(EIO).and_then(|img| copy_up(h, img, off, len)) {
            Ok(b) => b,
            Err(e) => {
                self.uncharge(mount, len as u64);
                return Err(e);
            }
        };
        self.node_mut(id)?.data = Data::File(Content::Owned(bytes));
        Ok(())
    }

    /// Writes `len` application bytes at `buf` (checked by the caller) at offset `pos` of file
    /// `id`; the gap past the end, if any, reads as zeros. Writes what fits in the mount's budget:
    /// returns the bytes written, `ENOSPC` if none fit.
    pub fn write<H: AppMemory>(
        &mut self,
        h: &mut H,
        img: Option<&Image<'_>>,
        id: NodeId,
        pos: u64,
        buf: u32,
        len: u32,
    ) -> Result<u32, Errno> {
        if len == 0 {
            return Ok(0);
        }
        self.own(h, img, id)?;
        let node = self.node(id)?;
        let mount = node.mount;
        let cur = match &node.data {
            Data::File(c) => c.len(),
            _ => return Err(EBADF),
        };
        let end = pos.checked_add(len as u64).ok_or(EFBIG)?;
        let room = self.room(mount);
        let end = if end > cur && end - cur > room {
            cur.saturating_add(room)
        } else {
            end
        };
        if end <= pos {
            return Err(ENOSPC);
        }
        let n = (end - pos) as u32;
        let new_len = usize::try_from(end.max(cur)).map_err(|_| ENOSPC)?;
        let grow = new_len as u64 - cur;
        self.charge(mount, grow)?;
        let Data::File(Content::Owned(v)) = &mut self.node_mut(id)?.data else {
            return Err(EBADF);
        };
        if v.try_reserve(new_len - v.len()).is_err() {
            self.uncharge(mount, grow);
            return Err(ENOMEM);
        }
        v.resize(new_len, 0);
        h.copy_in(&mut v[pos as usize..pos as usize + n as usize], buf);
        Ok(n)
    }

    /// Sets file `id`'s size: cut, or extended with zeros (`ENOSPC` past the mount's budget).
    pub fn set_len<H: AppMemory>(
        &mut self,
        h: &mut H,
        img: Option<&Image<'_>>,
        id: NodeId,
        size: u64,
    ) -> Result<(), Errno> {
        let node = self.node(id)?;
        let mount = node.mount;
        match &node.data {
            Data::File(c) if c.len() == size && matches!(c, Content::Owned(_)) => return Ok(()),
            Data::File(Content::Lower { .. }) if size == 0 => {
                self.node_mut(id)?.data = Data::File(Content::Owned(Vec::new()));
                return Ok(());
            }
            Data::File(_) => {}
            _ => return Err(EBADF),
        }
        self.own(h, img, id)?;
        let Data::File(Content::Owned(v)) = &self.node(id)?.data else {
            return Err(EBADF);
        };
        let cur = v.len() as u64;
        let new_len = usize::try_from(size).map_err(|_| ENOSPC)?;
        if size > cur {
            self.charge(mount, size - cur)?;
        }
        let Data::File(Content::Owned(v)) = &mut self.node_mut(id)?.data else {
            return Err(EBADF);
        };
        if size > cur && v.try_reserve(new_len - v.len()).is_err() {
            self.uncharge(mount, size - cur);
            return Err(ENOMEM);
        }
        v.resize(new_len, 0);
        if size < cur {
            v.shrink_to(new_len.max(64));
            self.uncharge(mount, cur - size);
        }
        Ok(())
    }
}
