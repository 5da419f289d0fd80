//! The descriptor calls (`fd_*`) other than `fd_readdir` (see `crate::dir`).

use crate::abi::{
    fdflags, fstflags, rights, Errno, EBADF, EINVAL, ENAMETOOLONG, ENOTDIR, ENOTSUP, EPERM,
    PRESTAT_SIZE, SUCCESS,
};
use crate::fdtable::{Open, OpenKind, Slot, Tree};
use crate::host::Host;
use crate::vfs::wfd::At;
use crate::vfs::{check_bits, Vfs, FDFLAGS_ALL};
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

/// The embedded file an fd is open on (a directory is `EBADF`).
pub(crate) fn embedded_file(open: &Open) -> Result<&Open, Errno> {
    match open.kind {
        OpenKind::File => Ok(open),
        OpenKind::Dir => Err(EBADF),
    }
}

impl Vfs<'_> {
    /// `fd_advise`.
    pub fn fd_advise<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        offset: i64,
        len: i64,
        advice: i32,
    ) -> i32 {
        if !(0..=ADVICE_MAX).contains(&advice) {
            return EINVAL.code();
        }
        self.route(
            h,
            fd,
            |_, h, n| h.fd_advise(n, offset, len, advice),
            |_, _, o| embedded_file(&o).map(drop),
        )
    }

    /// `fd_allocate`.
    pub fn fd_allocate<H: Host>(&mut self, h: &mut H, fd: i32, offset: i64, len: i64) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_allocate(n, offset, len),
            |_, _, o| embedded_file(&o).and(Err(ENOTSUP)),
        )
    }

    /// `fd_close`.
    pub fn fd_close<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
        self.start(h);
        Errno::ret(self.close(h, fd as u32))
    }

    fn close<H: Host>(&mut self, h: &mut H, fd: u32) -> Result<(), Errno> {
        match self.table.remove(fd)? {
            Slot::Host(n) => Errno::check(h.fd_close(n as i32)),
            Slot::Embedded(o) => {
                if o.tree == Tree::Mem {
                    self.w_close(&o);
                }
                Ok(())
            }
        }
    }

    /// `fd_datasync`.
    pub fn fd_datasync<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_datasync(n),
            |_, _, o| embedded_file(&o).map(drop),
        )
    }

    /// `fd_fdstat_get`.
    pub fn fd_fdstat_get<H: Host>(&mut self, h: &mut H, fd: i32, buf: i32) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_fdstat_get(n, buf),
            |_, h, o| mem::write_bytes(h, buf as u32, &stat::fdstat(&o).encode()),
        )
    }

    /// `fd_fdstat_set_flags`.
    pub fn fd_fdstat_set_flags<H: Host>(&mut self, h: &mut H, fd: i32, flags: i32) -> i32 {
        if let Err(e) = check_bits(flags as u32 as u64, FDFLAGS_ALL as u64) {
            return e.code();
        }
        self.route(
            h,
            fd,
            |_, h, n| h.fd_fdstat_set_flags(n, flags),
            |vfs, _, o| {
                embedded_file(&o)?;
                let f = flags as u16;
                if f & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
                    return Err(EINVAL);
                }
                if let Some(open) = vfs.table.embedded_mut(fd as u32) {
                    open.flags = f & (fdflags::APPEND | fdflags::NONBLOCK);
                }
                Ok(())
            },
        )
    }

    /// `fd_fdstat_set_rights`.
    pub fn fd_fdstat_set_rights<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        base: i64,
        inheriting: i64,
    ) -> i32 {
        if let Err(e) = check_bits(base as u64, rights::ALL)
            .and_then(|()| check_bits(inheriting as u64, rights::ALL))
        {
            return e.code();
        }
        self.route(
            h,
            fd,
            |_, h, n| h.fd_fdstat_set_rights(n, base, inheriting),
            |_, _, _| Err(ENOTSUP),
        )
    }

    /// `fd_filestat_get`.
    pub fn fd_filestat_get<H: Host>(&mut self, h: &mut H, fd: i32, buf: i32) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_filestat_get(n, buf),
            |vfs, h, o| {
                if o.tree == Tree::Mem {
                    return vfs.w_filestat(h, o.inode, buf);
                }
                let st = stat::filestat(&vfs.img()?, o.inode)?;
                mem::write_bytes(h, buf as u32, &st.encode())
            },
        )
    }

    /// `fd_filestat_set_size`.
    pub fn fd_filestat_set_size<H: Host>(&mut self, h: &mut H, fd: i32, size: i64) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_filestat_set_size(n, size),
            |vfs, h, o| match o.tree {
                Tree::Mem => vfs.w_set_size(h, &o, size),
                Tree::Image => embedded_file(&o).and(Err(EPERM)),
            },
        )
    }

    /// `fd_filestat_set_times`.
    pub fn fd_filestat_set_times<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        atim: i64,
        mtim: i64,
        fst: i32,
    ) -> i32 {
        if let Err(e) = check_fstflags(fst) {
            return e.code();
        }
        self.route(
            h,
            fd,
            |_, h, n| h.fd_filestat_set_times(n, atim, mtim, fst),
            |vfs, h, o| match o.tree {
                Tree::Mem => vfs.w_set_times(h, o.inode, atim, mtim, fst),
                Tree::Image => Err(EPERM),
            },
        )
    }

    /// `fd_pread`.
    pub fn fd_pread<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        iovs: i32,
        iovs_len: i32,
        offset: i64,
        nread: i32,
    ) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_pread(n, iovs, iovs_len, offset, nread),
            |vfs, h, o| {
                if o.tree == Tree::Mem {
                    let at = At::Offset(offset as u64);
                    return vfs.w_read(h, fd, &o, iovs, iovs_len, at, nread);
                }
                let img = vfs.img()?;
                let (buf, len) = file::first_non_empty(h, iovs as u32, iovs_len as u32)?;
                file::check_range(&o, offset as u64, len.min(file::PREAD_MAX))?;
                let n = file::read_at(h, &img, &o, buf, len, offset as u64)?;
                mem::store_u32(h, nread as u32, n)
            },
        )
    }

    /// The name of the mount `o` is the preopen of (`None`: not a preopen).
    fn preopen_name(&self, o: &Open) -> Result<Option<&[u8]>, Errno> {
        match o.preopen {
            None => Ok(None),
            Some(m) => Ok(Some(self.img()?.mount(m).ok_or(EBADF)?.path)),
        }
    }

    /// `fd_prestat_get`.
    pub fn fd_prestat_get<H: Host>(&mut self, h: &mut H, fd: i32, buf: i32) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_prestat_get(n, buf),
            |vfs, h, o| {
                let name = vfs.preopen_name(&o)?.ok_or(EBADF)?;
                let mut b = [0u8; PRESTAT_SIZE as usize];
                b[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
                mem::write_bytes(h, buf as u32, &b)
            },
        )
    }

    /// `fd_prestat_dir_name`.
    pub fn fd_prestat_dir_name<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        path: i32,
        path_len: i32,
    ) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_prestat_dir_name(n, path, path_len),
            |vfs, h, o| {
                let name = vfs.preopen_name(&o)?.ok_or(ENOTDIR)?;
                if name.len() > path_len as u32 as usize {
                    return Err(ENAMETOOLONG);
                }
                mem::write_bytes(h, path as u32, name)
            },
        )
    }

    /// `fd_pwrite`.
    pub fn fd_pwrite<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        iovs: i32,
        iovs_len: i32,
        offset: i64,
        nwritten: i32,
    ) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_pwrite(n, iovs, iovs_len, offset, nwritten),
            |vfs, h, o| match o.tree {
                Tree::Mem => {
                    let at = At::Offset(offset as u64);
                    vfs.w_write(h, fd, &o, iovs, iovs_len, at, nwritten)
                }
                // Packed files are open read-only: the write itself fails with EBADF.
                Tree::Image => {
                    file::first_non_empty(h, iovs as u32, iovs_len as u32).and(Err(EBADF))
                }
            },
        )
    }

    /// `fd_read`.
    pub fn fd_read<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        iovs: i32,
        iovs_len: i32,
        nread: i32,
    ) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_read(n, iovs, iovs_len, nread),
            |vfs, h, o| {
                if o.tree == Tree::Mem {
                    return vfs.w_read(h, fd, &o, iovs, iovs_len, At::Cur, nread);
                }
                let img = vfs.img()?;
                let (buf, len) = file::first_non_empty(h, iovs as u32, iovs_len as u32)?;
                file::check_range(&o, o.pos, len)?;
                let n = file::read_at(h, &img, &o, buf, len, o.pos)?;
                if let Some(open) = vfs.table.embedded_mut(fd as u32) {
                    open.pos = o.pos.saturating_add(n as u64);
                }
                mem::store_u32(h, nread as u32, n)
            },
        )
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

    /// `fd_seek`.
    pub fn fd_seek<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        offset: i64,
        whence: i32,
        newoffset: i32,
    ) -> i32 {
        if !(0..=WHENCE_MAX).contains(&whence) {
            return EINVAL.code();
        }
        self.route(
            h,
            fd,
            |_, h, n| h.fd_seek(n, offset, whence, newoffset),
            |vfs, h, o| {
                if o.tree == Tree::Mem {
                    return vfs.w_seek(h, fd, &o, offset, whence as u8, newoffset);
                }
                let pos = file::seek_target(&vfs.img()?, &o, offset, whence as u8)?;
                if let Some(open) = vfs.table.embedded_mut(fd as u32) {
                    open.pos = pos;
                }
                mem::store_u64(h, newoffset as u32, pos)
            },
        )
    }

    /// `fd_sync`.
    pub fn fd_sync<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_sync(n),
            |_, _, o| embedded_file(&o).map(drop),
        )
    }

    /// `fd_tell`.
    pub fn fd_tell<H: Host>(&mut self, h: &mut H, fd: i32, offset: i32) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_tell(n, offset),
            |_, h, o| mem::store_u64(h, offset as u32, embedded_file(&o)?.pos),
        )
    }

    /// `fd_write`.
    pub fn fd_write<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        iovs: i32,
        iovs_len: i32,
        nwritten: i32,
    ) -> i32 {
        self.route(
            h,
            fd,
            |_, h, n| h.fd_write(n, iovs, iovs_len, nwritten),
            |vfs, h, o| match o.tree {
                Tree::Mem => vfs.w_write(h, fd, &o, iovs, iovs_len, At::Cur, nwritten),
                Tree::Image => {
                    file::first_non_empty(h, iovs as u32, iovs_len as u32).and(Err(EBADF))
                }
            },
        )
    }
}
