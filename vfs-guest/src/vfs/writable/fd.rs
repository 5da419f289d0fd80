//! Descriptor calls on fds of the writable tree (`--tmpfs`, `--writable`), with the answers
//! wasmtime-wasi gives for a writable host directory.

use crate::dir::DirentSink;
use crate::fdtable::Open;
use crate::host::{AppMemory, Host};
use crate::mem;
use crate::memfs::{Data, NodeId};
use crate::stat::filetype_of;
use crate::vfs::Vfs;
use crate::wasi::{filetype, fstflags, Errno, EBADF, EINVAL, EIO};

/// Where a read or write goes: the fd's position, or an explicit offset.
#[derive(Clone, Copy)]
pub(crate) enum At {
    /// At the position of this guest fd, which moves on.
    Cur(u32),
    /// At this offset; the position stays.
    Offset(u64),
}

/// The checks a read or a write on writable fd `o` makes first: a file open that way (`allowed`),
/// else `EBADF`; then the application buffer `(buf, len)` in bounds.
fn w_io_checks<H: Host>(
    h: &mut H,
    o: &Open,
    allowed: bool,
    (buf, len): (u32, u32),
) -> Result<(), Errno> {
    if !allowed {
        return Err(EBADF);
    }
    o.file()?;
    mem::check(h, buf, len as u64)
}

/// One read or write of an iovec call on an embedded fd.
#[derive(Clone, Copy)]
pub(crate) struct Transfer<'o> {
    /// What it is open on.
    pub open: &'o Open,
    /// At the position or at an offset.
    pub at: At,
    /// The application buffer, `(address, length)`: the first non-empty iovec.
    pub iov: (u32, u32),
}

impl<'a> Vfs<'a> {
    /// The size of writable file `id`.
    pub(crate) fn w_size(&self, id: NodeId) -> Result<u64, Errno> {
        match &self.mem.node(id)?.data {
            Data::File(c) => Ok(c.len()),
            _ => Err(EBADF),
        }
    }

    /// Sets the times of node `id` as `fd_filestat_set_times` asks (flags already checked); its
    /// status change time becomes now.
    pub(crate) fn w_set_times<H: Host>(
        &mut self,
        h: &mut H,
        id: NodeId,
        atim: i64,
        mtim: i64,
        fst: i32,
    ) -> Result<(), Errno> {
        let t = self.now(h);
        let f = fst as u16;
        let n = self.mem.node_mut(id)?;
        if f & fstflags::ATIM != 0 {
            n.atim = atim as u64;
        } else if f & fstflags::ATIM_NOW != 0 {
            n.atim = t;
        }
        if f & fstflags::MTIM != 0 {
            n.mtim = mtim as u64;
        } else if f & fstflags::MTIM_NOW != 0 {
            n.mtim = t;
        }
        n.ctim = t;
        Ok(())
    }

    /// Marks node `id` as modified now (contents or entries).
    pub(crate) fn w_touch<H: Host>(&mut self, h: &mut H, id: NodeId) -> Result<(), Errno> {
        let t = self.now(h);
        let n = self.mem.node_mut(id)?;
        n.mtim = t;
        n.ctim = t;
        Ok(())
    }

    /// `fd_filestat_set_size` on a writable fd: a file open for writing only (`EINVAL` otherwise,
    /// as `ftruncate` answers).
    pub(crate) fn w_set_size<H: Host>(
        &mut self,
        h: &mut H,
        o: &Open,
        size: i64,
    ) -> Result<(), Errno> {
        o.file()?;
        if !o.write || size < 0 {
            return Err(EINVAL);
        }
        self.mem
            .set_len(h, self.image.as_ref(), o.inode, size as u64)?;
        self.w_touch(h, o.inode)
    }

    /// Reads up to `len` bytes of writable fd `o` at `pos` into application address `buf`;
    /// returns how many were read.
    pub(crate) fn w_read_at<H: Host>(
        &mut self,
        h: &mut H,
        o: &Open,
        pos: u64,
        (buf, len): (u32, u32),
    ) -> Result<u32, Errno> {
        w_io_checks(h, o, o.read, (buf, len))?;
        match &self.mem.node(o.inode)?.data {
            Data::File(c) => c.read(h, self.image.as_ref(), pos, buf, len),
            _ => Err(EBADF),
        }
    }

    /// Writes the bytes of `t.iov` to writable file `t.open` `at` the position or an offset; returns
    /// how many were written. In append mode every write goes to the end (even `fd_pwrite`, as on
    /// Linux); a write at the position moves it past the bytes written.
    pub(crate) fn w_write_at<H: Host>(&mut self, h: &mut H, t: Transfer<'_>) -> Result<u32, Errno> {
        let (o, (buf, len)) = (t.open, t.iov);
        w_io_checks(h, o, o.write, t.iov)?;
        let append = o.flags & crate::wasi::fdflags::APPEND != 0;
        let pos = if append {
            self.w_size(o.inode)?
        } else {
            match t.at {
                At::Cur(_) => o.pos,
                At::Offset(p) => p,
            }
        };
        if pos > i64::MAX as u64 {
            return Err(EINVAL);
        }
        let n = self
            .mem
            .write(h, self.image.as_ref(), o.inode, pos, buf, len)?;
        if n > 0 {
            self.w_touch(h, o.inode)?;
        }
        if let At::Cur(fd) = t.at {
            let new_pos = if append {
                self.w_size(o.inode)?
            } else {
                pos + n as u64
            };
            self.table.set_pos(fd, new_pos);
        }
        Ok(n)
    }

    /// `fd_readdir` on a writable directory, into `out`: `.` and `..` (cookies 1 and 2), then
    /// the entries in the order they were added, entry number `s` with cookie `s + 2`, so a cookie
    /// stays valid while entries are added and removed. Laid out as wasmtime-wasi does (see
    /// `crate::dir`).
    pub(crate) fn w_readdir<H: AppMemory>(
        &mut self,
        h: &mut H,
        o: &Open,
        out: &mut impl DirentSink,
        cookie: u64,
    ) -> Result<(), Errno> {
        let dir = o.dir()?.inode;
        self.mem.materialize(self.image.as_ref(), dir)?;
        let mem = &self.mem;
        let node = mem.node(dir)?;
        let Data::Dir {
            entries: Some(entries),
            ..
        } = &node.data
        else {
            return Err(EIO);
        };
        // Entry by entry, until `out` is full: a directory read one entry at a time costs one
        // entry a call, not the whole directory.
        for (next, name) in [(1u64, &b"."[..]), (2, &b".."[..])] {
            if next > cookie && !out.push(h, next, node.ino, filetype::DIRECTORY, name)? {
                return Ok(());
            }
        }
        for (seq, name, child) in entries.from_seq(cookie.saturating_sub(1).max(1)) {
            let n = mem.node(child)?;
            if !out.push(h, seq + 2, n.ino, filetype_of(n.kind()), name)? {
                break;
            }
        }
        Ok(())
    }

    /// Drops an fd's hold on its writable node (freed once it has no names left either).
    pub(crate) fn w_close(&mut self, o: &Open) {
        if let Ok(n) = self.mem.node_mut(o.inode) {
            n.opens = n.opens.saturating_sub(1);
        }
        self.mem.release(o.inode);
    }
}
