//! The descriptor calls (`fd_*`) other than `fd_readdir` (see `crate::dir`).

use crate::fdtable::{Open, Slot, Tree};
use crate::host::Host;
use crate::vfs::writable::fd::{At, Transfer};
use crate::vfs::{check_bits, check_enum, check_fdflags, check_rights, Vfs};
use crate::wasi::{
    fdflags, fstflags, Errno, Filestat, EBADF, EINVAL, ENAMETOOLONG, ENOTDIR, ENOTSUP, EPERM,
    PRESTAT_SIZE, SUCCESS,
};
use crate::{file, mem, stat};

/// Highest valid `advice` value.
const ADVICE_MAX: i32 = 5;
/// Highest valid `whence` value.
const WHENCE_MAX: i32 = 2;
/// All valid `fstflags` bits.
const FSTFLAGS_ALL: i32 = 0xf;

/// Checks a `fstflags` value the way wasmtime-wasi does before anything else.
pub(crate) fn check_fstflags(flags: i32) -> Result<(), Errno> {
    check_bits(flags as u32 as u64, FSTFLAGS_ALL as u64)?;
    let f = flags as u16;
    if (f & fstflags::ATIM != 0 && f & fstflags::ATIM_NOW != 0)
        || (f & fstflags::MTIM != 0 && f & fstflags::MTIM_NOW != 0)
    {
        return Err(EINVAL);
    }
    Ok(())
}

routed_calls! {
    /// `fd_advise`.
    fn fd_advise(fd: i32, offset: i64, len: i64, advice: i32)
        check check_enum(advice, ADVICE_MAX)
        => route(fd) |_, _, o| o.file().map(drop);

    /// `fd_allocate`.
    fn fd_allocate(fd: i32, offset: i64, len: i64)
        => route(fd) |_, _, o| o.file().and(Err(ENOTSUP));

    /// `fd_datasync`: on an embedded file there is nothing to flush (the writable tree lives in
    /// memory); an embedded directory is `EBADF`, as on wasmtime-wasi.
    fn fd_datasync(fd: i32) => route(fd) |_, _, o| o.file().map(drop);

    /// `fd_fdstat_get`.
    fn fd_fdstat_get(fd: i32, buf: i32) => route(fd) |_, h, o| {
        mem::write_bytes(h, buf as u32, &stat::fdstat(&o).encode())
    };

    /// `fd_fdstat_set_flags`.
    fn fd_fdstat_set_flags(fd: i32, flags: i32)
        check check_fdflags(flags)
        => route(fd) |vfs, _, o| vfs.set_fdflags(fd, &o, flags);

    /// `fd_fdstat_set_rights`.
    fn fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64)
        check check_rights(base, inheriting)
        => route(fd) |_, _, _| Err(ENOTSUP);

    /// `fd_filestat_get`.
    fn fd_filestat_get(fd: i32, buf: i32) => route(fd) |vfs, h, o| {
        mem::write_bytes(h, buf as u32, &vfs.filestat_of(&o)?.encode())
    };

    /// `fd_filestat_set_size`.
    fn fd_filestat_set_size(fd: i32, size: i64) => route(fd) |vfs, h, o| match o.tree {
        Tree::Mem => vfs.w_set_size(h, &o, size),
        Tree::Image => o.file().and(Err(EPERM)),
    };

    /// `fd_filestat_set_times`.
    fn fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, fst: i32)
        check check_fstflags(fst)
        => route(fd) |vfs, h, o| match o.tree {
            Tree::Mem => vfs.w_set_times(h, o.inode, atim, mtim, fst),
            Tree::Image => Err(EPERM),
        };

    /// `fd_pread`.
    fn fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread: i32) => route(fd) {
        iovecs((iovs, iovs_len), (At::Offset(offset as u64), nread), Self::read_embedded)
    };

    /// `fd_prestat_get`.
    fn fd_prestat_get(fd: i32, buf: i32) => route(fd) |vfs, h, o| {
        let name = vfs.preopen_name(&o)?.ok_or(EBADF)?;
        let mut b = [0u8; PRESTAT_SIZE as usize];
        b[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
        mem::write_bytes(h, buf as u32, &b)
    };

    /// `fd_prestat_dir_name`.
    fn fd_prestat_dir_name(fd: i32, path: i32, path_len: i32) => route(fd) |vfs, h, o| {
        let name = vfs.preopen_name(&o)?.ok_or(ENOTDIR)?;
        if name.len() > path_len as u32 as usize {
            return Err(ENAMETOOLONG);
        }
        mem::write_bytes(h, path as u32, name)
    };

    /// `fd_pwrite`.
    fn fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten: i32) => route(fd) {
        iovecs((iovs, iovs_len), (At::Offset(offset as u64), nwritten), Self::write_embedded)
    };

    /// `fd_read`.
    fn fd_read(fd: i32, iovs: i32, iovs_len: i32, nread: i32)
        => route(fd) iovecs((iovs, iovs_len), (At::Cur(fd as u32), nread), Self::read_embedded);

    /// `fd_seek`.
    fn fd_seek(fd: i32, offset: i64, whence: i32, newoffset: i32)
        check check_enum(whence, WHENCE_MAX)
        => route(fd) |vfs, h, o| {
            let pos = file::seek_position(&o, offset, whence as u8, || vfs.file_size(&o))?;
            vfs.table.set_pos(fd as u32, pos);
            mem::store_u64(h, newoffset as u32, pos)
        };

    /// `fd_sync`: as `fd_datasync`.
    fn fd_sync(fd: i32) => route(fd) |_, _, o| o.file().map(drop);

    /// `fd_tell`.
    fn fd_tell(fd: i32, offset: i32) => route(fd) |_, h, o| {
        mem::store_u64(h, offset as u32, o.file()?.pos)
    };

    /// `fd_write`.
    fn fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten: i32)
        => route(fd) iovecs((iovs, iovs_len), (At::Cur(fd as u32), nwritten), Self::write_embedded);
}

/// What an embedded fd does in an iovec call: the first non-empty iovec goes to `op` (a read or
/// a write, `at` the position or an offset), and the count of bytes it moved is stored at `done`.
fn iovecs<'a, H: Host>(
    (iovs, iovs_len): (i32, i32),
    (at, done): (At, i32),
    op: fn(&mut Vfs<'a>, &mut H, Transfer<'_>) -> Result<u32, Errno>,
) -> impl FnOnce(&mut Vfs<'a>, &mut H, Open) -> Result<(), Errno> {
    move |vfs, h, o| {
        let iov = file::first_non_empty(h, iovs as u32, iovs_len as u32)?;
        let n = op(vfs, h, Transfer { open: &o, at, iov })?;
        mem::store_u32(h, done as u32, n)
    }
}

impl Vfs<'_> {
    /// `fd_close`.
    pub fn fd_close<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
        self.start(h);
        Errno::ret(self.close(h, fd as u32))
    }

    /// The `filestat` of what embedded fd `o` is open on: what `fd_filestat_get` writes, and
    /// what the 0.2 front-end's `stat` and `metadata-hash` answer from.
    pub(crate) fn filestat_of(&self, o: &Open) -> Result<Filestat, Errno> {
        match o.tree {
            Tree::Mem => self.mem.filestat(self.image.as_ref(), o.inode),
            Tree::Image => stat::filestat(&self.img()?, o.inode),
        }
    }

    /// Closes guest fd `fd`: the host's fd on the host, an embedded one here.
    pub(crate) fn close<H: Host>(&mut self, h: &mut H, fd: u32) -> Result<(), Errno> {
        match self.table.remove(fd)? {
            Slot::Host(n) => Errno::check(h.fd_close(n as i32)),
            Slot::Embedded(o) => {
                self.release(&o);
                Ok(())
            }
        }
    }

    /// Gives up what an open embedded file or directory holds: a writable node's open count
    /// (it is freed once it has no names left either), as closing its fd does.
    pub(crate) fn release(&mut self, o: &Open) {
        if o.tree == Tree::Mem {
            self.w_close(o);
        }
    }

    /// A new guest fd for `o`; if the table is full, `o` is released again.
    pub(crate) fn push_open(&mut self, o: Open) -> Result<u32, Errno> {
        let pushed = self.table.push(Slot::Embedded(o));
        if pushed.is_err() {
            self.release(&o);
        }
        pushed
    }

    /// `fd_fdstat_set_flags` on embedded fd `fd` (open as `o`): only a file's `APPEND` and
    /// `NONBLOCK` can be set; the sync flags are `EINVAL`.
    fn set_fdflags(&mut self, fd: i32, o: &Open, flags: i32) -> Result<(), Errno> {
        o.file()?;
        let f = flags as u16;
        if f & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
            return Err(EINVAL);
        }
        if let Some(open) = self.table.embedded_mut(fd as u32) {
            open.flags = f & (fdflags::APPEND | fdflags::NONBLOCK);
        }
        Ok(())
    }

    /// The name of the mount `o` is the preopen of (`None`: not a preopen).
    pub(crate) fn preopen_name(&self, o: &Open) -> Result<Option<&[u8]>, Errno> {
        match o.preopen {
            None => Ok(None),
            Some(m) => Ok(Some(self.img()?.mount(m).ok_or(EBADF)?.path)),
        }
    }

    /// `fd_renumber`: both numbers must be open; `to` is closed first, then `from` moves onto it.
    pub fn fd_renumber<H: Host>(&mut self, h: &mut H, from: i32, to: i32) -> i32 {
        self.start(h);
        let (from, to) = (from as u32, to as u32);
        if self.table.get(from).is_none() || self.table.get(to).is_none() {
            return EBADF.code();
        }
        if from == to {
            return SUCCESS;
        }
        if let Err(e) = self.close(h, to) {
            return e.code();
        }
        Errno::ret(self.table.renumber(from, to))
    }

    /// `fd_read`/`fd_pread` on an embedded fd, in either tree: a read at the position moves it.
    pub(crate) fn read_embedded<H: Host>(
        &mut self,
        h: &mut H,
        t: Transfer<'_>,
    ) -> Result<u32, Errno> {
        let (o, (_, len)) = (t.open, t.iov);
        let (pos, ask) = match t.at {
            At::Cur(_) => (o.pos, len),
            At::Offset(p) => (p, len.min(file::PREAD_MAX)),
        };
        file::check_range(o, pos, ask)?;
        let n = match o.tree {
            Tree::Mem => self.w_read_at(h, o, pos, t.iov)?,
            Tree::Image => file::read_at(h, &self.img()?, o, pos, t.iov)?,
        };
        if let At::Cur(fd) = t.at {
            self.table.set_pos(fd, pos.saturating_add(n as u64));
        }
        Ok(n)
    }

    /// `fd_write`/`fd_pwrite` on an embedded fd: packed files are open read-only, so there the
    /// write itself fails with `EBADF` (after the iovecs are read).
    pub(crate) fn write_embedded<H: Host>(
        &mut self,
        h: &mut H,
        t: Transfer<'_>,
    ) -> Result<u32, Errno> {
        match t.open.tree {
            Tree::Mem => self.w_write_at(h, t),
            Tree::Image => Err(EBADF),
        }
    }
}
