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

/// The calls that flush an fd to storage: on an embedded file there is nothing to flush (the
/// writable tree lives in memory); an embedded directory is `EBADF`, as on wasmtime-wasi.
macro_rules! sync_calls {
    ($($name:ident),*) => {
        impl Vfs<'_> {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub fn $name<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
                    let host = |_: &mut Self, h: &mut H, n| h.$name(n);
                    self.route(h, fd, host, |_, _, o| embedded_file(&o).map(drop))
                }
            )*
        }
    };
}

sync_calls!(fd_datasync, fd_sync);

/// The calls that move bytes through iovecs, at the position or (with an `offset`) at an offset,
/// each with the method that serves an embedded fd.
macro_rules! io_calls {
    ($($name:ident($($offset:ident)?) => $embedded:ident,)*) => {
        impl Vfs<'_> {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub fn $name<H: Host>(
                    &mut self,
                    h: &mut H,
                    fd: i32,
                    iovs: i32,
                    iovs_len: i32,
                    $($offset: i64,)?
                    done: i32,
                ) -> i32 {
                    let at = At::of(None $(.or(Some($offset)))?);
                    self.route(
                        h,
                        fd,
                        |_, h, n| h.$name(n, iovs, iovs_len, $($offset,)? done),
                        |vfs, h, o| vfs.$embedded(h, (fd, &o), (iovs, iovs_len), at, done),
                    )
                }
            )*
        }
    };
}

io_calls! {
    fd_pread(offset) => read_embedded,
    fd_pwrite(offset) => write_embedded,
    fd_read() => read_embedded,
    fd_write() => write_embedded,
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
                let pos = file::seek_position(&o, offset, whence as u8, || vfs.file_size(&o))?;
                vfs.table.set_pos(fd as u32, pos);
                mem::store_u64(h, newoffset as u32, pos)
            },
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

    /// `fd_read`/`fd_pread` on embedded fd `fd` (open as `o`), in either tree: the first
    /// non-empty iovec is filled; a read at the position moves it.
    fn read_embedded<H: Host>(
        &mut self,
        h: &mut H,
        (fd, o): (i32, &Open),
        (iovs, iovs_len): (i32, i32),
        at: At,
        nread: i32,
    ) -> Result<(), Errno> {
        let (buf, len) = file::first_non_empty(h, iovs as u32, iovs_len as u32)?;
        let (pos, ask) = match at {
            At::Cur => (o.pos, len),
            At::Offset(p) => (p, len.min(file::PREAD_MAX)),
        };
        file::check_range(o, pos, ask)?;
        let n = match o.tree {
            Tree::Mem => self.w_read_at(h, o, pos, (buf, len))?,
            Tree::Image => file::read_at(h, &self.img()?, o, buf, len, pos)?,
        };
        if let At::Cur = at {
            self.table.set_pos(fd as u32, pos.saturating_add(n as u64));
        }
        mem::store_u32(h, nread as u32, n)
    }

    /// `fd_write`/`fd_pwrite` on embedded fd `fd` (open as `o`): packed files are open
    /// read-only, so there the write itself fails with `EBADF` (after the iovecs are read).
    fn write_embedded<H: Host>(
        &mut self,
        h: &mut H,
        (fd, o): (i32, &Open),
        (iovs, iovs_len): (i32, i32),
        at: At,
        nwritten: i32,
    ) -> Result<(), Errno> {
        let (buf, len) = file::first_non_empty(h, iovs as u32, iovs_len as u32)?;
        let n = match o.tree {
            Tree::Mem => self.w_write_at(h, (fd, o), at, (buf, len))?,
            Tree::Image => return Err(EBADF),
        };
        mem::store_u32(h, nwritten as u32, n)
    }
}
