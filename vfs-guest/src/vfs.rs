//! The VFS core: one method per intercepted preview 1 function, generic over [`Host`].
//!
//! Each method takes the raw preview 1 arguments and returns an errno. Host fds are forwarded with
//! their host number; embedded fds are served from the image; numbers not in the table are `EBADF`.

// The methods mirror the preview 1 signatures, some of which take many arguments.
#![allow(clippy::too_many_arguments)]

use alloc::vec::Vec;
use wasivfs_image::{Image, Kind};

use crate::abi::{
    fdflags, fstflags, lookupflags, oflags, rights, Errno, EBADF, EILSEQ, EINVAL, ELOOP,
    ENAMETOOLONG, ENOTDIR, ENOTSOCK, ENOTSUP, EPERM, PRESTAT_SIZE, SUCCESS,
};
use crate::fdtable::{FdTable, Open, OpenKind, Slot};
use crate::host::Host;
use crate::{dir, file, mem, path, stat};

/// Highest valid `advice` value.
const ADVICE_MAX: i32 = 5;
/// Highest valid `whence` value.
const WHENCE_MAX: i32 = 2;
/// All valid `fdflags` bits.
const FDFLAGS_ALL: i32 = 0x1f;
/// All valid `fstflags` bits.
const FSTFLAGS_ALL: i32 = 0xf;
/// All valid `oflags` bits.
const OFLAGS_ALL: i32 = 0xf;

/// Where an fd leads.
enum Target {
    Host(i32),
    Embedded(Open),
}

fn ret(r: Result<(), Errno>) -> i32 {
    match r {
        Ok(()) => SUCCESS as i32,
        Err(e) => e as i32,
    }
}

fn host_result(r: i32) -> Result<(), Errno> {
    if r == 0 {
        Ok(())
    } else {
        Err(r as Errno)
    }
}

/// Reads a path argument: bounds-checked, and UTF-8 (`EILSEQ` otherwise) like wasmtime-wasi.
fn read_path<H: Host>(h: &mut H, ptr: i32, len: i32) -> Result<Vec<u8>, Errno> {
    let bytes = mem::read_bytes(h, ptr as u32, len as u32)?;
    if core::str::from_utf8(&bytes).is_err() {
        return Err(EILSEQ);
    }
    Ok(bytes)
}

/// Checks a `fstflags` value the way wasmtime-wasi does before anything else.
fn check_fstflags(flags: i32) -> Result<(), Errno> {
    if flags & !FSTFLAGS_ALL != 0 {
        return Err(EINVAL);
    }
    let f = flags as u16;
    if (f & fstflags::ATIM != 0 && f & fstflags::ATIM_NOW != 0)
        || (f & fstflags::MTIM != 0 && f & fstflags::MTIM_NOW != 0)
    {
        return Err(EINVAL);
    }
    Ok(())
}

/// The virtual filesystem: the image and the fd table.
pub struct Vfs<'a> {
    pub(crate) image: Option<Image<'a>>,
    pub(crate) table: FdTable,
    started: bool,
}

impl<'a> Vfs<'a> {
    /// A VFS over `image` (`None`: no embedded mounts). Nothing happens until the first call.
    pub fn new(image: Option<Image<'a>>) -> Self {
        Vfs {
            image,
            table: FdTable::new(),
            started: false,
        }
    }

    /// The fd table (for inspection).
    pub fn table(&self) -> &FdTable {
        &self.table
    }

    /// Lazy start: maps fds 0–2 and the host's preopens to themselves, then adds one preopen per
    /// embedded mount, in order.
    pub fn start<H: Host>(&mut self, h: &mut H) {
        if self.started {
            return;
        }
        self.started = true;
        for fd in 0..3 {
            let _ = self.table.push(Slot::Host(fd));
        }
        // Borrow application memory at address 0 for the host's prestat answer.
        if h.app_len() >= PRESTAT_SIZE as u64 {
            let mut saved = [0u8; PRESTAT_SIZE as usize];
            h.copy_in(&mut saved, 0);
            let mut fd = 3u32;
            loop {
                let r = h.fd_prestat_get(fd as i32, 0);
                if r != SUCCESS as i32 {
                    // EBADF ends the list; ENOSYS (a stub: the application never asked for
                    // preopens) or anything else means there are no more.
                    break;
                }
                if self.table.push(Slot::Host(fd)).is_err() {
                    break;
                }
                fd += 1;
            }
            h.copy_out(0, &saved);
        }
        if let Some(img) = self.image {
            for i in 0..img.mount_count() {
                if let Some(m) = img.mount(i) {
                    let _ = self.table.push(Slot::Embedded(Open {
                        inode: m.root,
                        root: m.root,
                        kind: OpenKind::Dir,
                        preopen: Some(i),
                        pos: 0,
                        flags: 0,
                    }));
                }
            }
        }
    }

    fn target<H: Host>(&mut self, h: &mut H, fd: i32) -> Result<Target, Errno> {
        self.start(h);
        match self.table.get(fd as u32) {
            None => Err(EBADF),
            Some(Slot::Host(n)) => Ok(Target::Host(*n as i32)),
            Some(Slot::Embedded(o)) => Ok(Target::Embedded(*o)),
        }
    }

    /// The image; only called for embedded fds, which exist only when there is one.
    fn img(&self) -> Result<Image<'a>, Errno> {
        self.image.ok_or(EBADF)
    }

    /// Gives a host-returned fd (written by the host at `fd_out`) a guest number.
    fn adopt_host_fd<H: Host>(&mut self, h: &mut H, fd_out: i32) -> Result<(), Errno> {
        let host_fd = mem::load_u32(h, fd_out as u32)?;
        match self.table.push(Slot::Host(host_fd)) {
            Ok(guest) => mem::store_u32(h, fd_out as u32, guest),
            Err(e) => {
                let _ = h.fd_close(host_fd as i32);
                Err(e)
            }
        }
    }

    /// Common shape of the calls that only need "is it a file" and then answer a fixed errno.
    fn embedded_file_only(open: &Open, answer: Result<(), Errno>) -> Result<(), Errno> {
        match open.kind {
            OpenKind::File => answer,
            OpenKind::Dir => Err(EBADF),
        }
    }

    // ---- fd calls ----

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
            return EINVAL as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_advise(n, offset, len, advice),
            Ok(Target::Embedded(o)) => Self::embedded_file_only(&o, Ok(())),
            Err(e) => Err(e),
        })
    }

    /// `fd_allocate`.
    pub fn fd_allocate<H: Host>(&mut self, h: &mut H, fd: i32, offset: i64, len: i64) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_allocate(n, offset, len),
            Ok(Target::Embedded(o)) => Self::embedded_file_only(&o, Err(ENOTSUP)),
            Err(e) => Err(e),
        })
    }

    /// `fd_close`.
    pub fn fd_close<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
        self.start(h);
        ret(self.close(h, fd as u32))
    }

    fn close<H: Host>(&mut self, h: &mut H, fd: u32) -> Result<(), Errno> {
        match self.table.remove(fd)? {
            Slot::Host(n) => host_result(h.fd_close(n as i32)),
            Slot::Embedded(_) => Ok(()),
        }
    }

    /// `fd_datasync`.
    pub fn fd_datasync<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_datasync(n),
            Ok(Target::Embedded(o)) => Self::embedded_file_only(&o, Ok(())),
            Err(e) => Err(e),
        })
    }

    /// `fd_fdstat_get`.
    pub fn fd_fdstat_get<H: Host>(&mut self, h: &mut H, fd: i32, buf: i32) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_fdstat_get(n, buf),
            Ok(Target::Embedded(o)) => mem::write_bytes(h, buf as u32, &stat::fdstat(&o).encode()),
            Err(e) => Err(e),
        })
    }

    /// `fd_fdstat_set_flags`.
    pub fn fd_fdstat_set_flags<H: Host>(&mut self, h: &mut H, fd: i32, flags: i32) -> i32 {
        if flags & !FDFLAGS_ALL != 0 {
            return EINVAL as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_fdstat_set_flags(n, flags),
            Ok(Target::Embedded(o)) if o.kind == OpenKind::File => {
                let f = flags as u16;
                if f & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
                    Err(EINVAL)
                } else {
                    if let Some(open) = self.table.embedded_mut(fd as u32) {
                        open.flags = f & (fdflags::APPEND | fdflags::NONBLOCK);
                    }
                    Ok(())
                }
            }
            Ok(Target::Embedded(_)) => Err(EBADF),
            Err(e) => Err(e),
        })
    }

    /// `fd_fdstat_set_rights`.
    pub fn fd_fdstat_set_rights<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        base: i64,
        inheriting: i64,
    ) -> i32 {
        if (base as u64) & !rights::ALL != 0 || (inheriting as u64) & !rights::ALL != 0 {
            return EINVAL as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_fdstat_set_rights(n, base, inheriting),
            Ok(Target::Embedded(_)) => Err(ENOTSUP),
            Err(e) => Err(e),
        })
    }

    /// `fd_filestat_get`.
    pub fn fd_filestat_get<H: Host>(&mut self, h: &mut H, fd: i32, buf: i32) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_filestat_get(n, buf),
            Ok(Target::Embedded(o)) => self
                .img()
                .and_then(|img| stat::filestat(&img, o.inode))
                .and_then(|st| mem::write_bytes(h, buf as u32, &st.encode())),
            Err(e) => Err(e),
        })
    }

    /// `fd_filestat_set_size`.
    pub fn fd_filestat_set_size<H: Host>(&mut self, h: &mut H, fd: i32, size: i64) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_filestat_set_size(n, size),
            Ok(Target::Embedded(o)) => Self::embedded_file_only(&o, Err(EPERM)),
            Err(e) => Err(e),
        })
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
            return e as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_filestat_set_times(n, atim, mtim, fst),
            Ok(Target::Embedded(_)) => Err(EPERM),
            Err(e) => Err(e),
        })
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
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_pread(n, iovs, iovs_len, offset, nread),
            Ok(Target::Embedded(o)) => (|| {
                let img = self.img()?;
                let (buf, len) = file::first_non_empty(h, iovs as u32, iovs_len as u32)?;
                file::check_range(&o, offset as u64, len.min(file::PREAD_MAX))?;
                let n = file::read_at(h, &img, &o, buf, len, offset as u64)?;
                mem::store_u32(h, nread as u32, n)
            })(),
            Err(e) => Err(e),
        })
    }

    /// `fd_prestat_get`.
    pub fn fd_prestat_get<H: Host>(&mut self, h: &mut H, fd: i32, buf: i32) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_prestat_get(n, buf),
            Ok(Target::Embedded(Open {
                preopen: Some(m), ..
            })) => (|| {
                let name = self.img()?.mount(m).ok_or(EBADF)?.path;
                let mut b = [0u8; PRESTAT_SIZE as usize];
                b[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
                mem::write_bytes(h, buf as u32, &b)
            })(),
            Ok(Target::Embedded(_)) => Err(EBADF),
            Err(e) => Err(e),
        })
    }

    /// `fd_prestat_dir_name`.
    pub fn fd_prestat_dir_name<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        path: i32,
        path_len: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_prestat_dir_name(n, path, path_len),
            Ok(Target::Embedded(Open {
                preopen: Some(m), ..
            })) => (|| {
                let name = self.img()?.mount(m).ok_or(EBADF)?.path;
                if name.len() > path_len as u32 as usize {
                    return Err(ENAMETOOLONG);
                }
                mem::write_bytes(h, path as u32, name)
            })(),
            Ok(Target::Embedded(_)) => Err(ENOTDIR),
            Err(e) => Err(e),
        })
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
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_pwrite(n, iovs, iovs_len, offset, nwritten),
            // Embedded files are open read-only: the write itself fails with EBADF.
            Ok(Target::Embedded(_)) => {
                file::first_non_empty(h, iovs as u32, iovs_len as u32).and(Err(EBADF))
            }
            Err(e) => Err(e),
        })
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
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_read(n, iovs, iovs_len, nread),
            Ok(Target::Embedded(o)) => (|| {
                let img = self.img()?;
                let (buf, len) = file::first_non_empty(h, iovs as u32, iovs_len as u32)?;
                file::check_range(&o, o.pos, len)?;
                let n = file::read_at(h, &img, &o, buf, len, o.pos)?;
                if let Some(open) = self.table.embedded_mut(fd as u32) {
                    open.pos = o.pos.saturating_add(n as u64);
                }
                mem::store_u32(h, nread as u32, n)
            })(),
            Err(e) => Err(e),
        })
    }

    /// `fd_readdir`.
    pub fn fd_readdir<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        buf: i32,
        buf_len: i32,
        cookie: i64,
        bufused: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_readdir(n, buf, buf_len, cookie, bufused),
            Ok(Target::Embedded(o)) => (|| {
                let img = self.img()?;
                let n = dir::readdir(h, &img, &o, buf as u32, buf_len as u32, cookie as u64)?;
                mem::store_u32(h, bufused as u32, n)
            })(),
            Err(e) => Err(e),
        })
    }

    /// `fd_renumber`: both numbers must be open; `to` is closed first, then `from` moves onto it.
    pub fn fd_renumber<H: Host>(&mut self, h: &mut H, from: i32, to: i32) -> i32 {
        self.start(h);
        let (from, to) = (from as u32, to as u32);
        if self.table.get(from).is_none() || self.table.get(to).is_none() {
            return EBADF as i32;
        }
        if from == to {
            return SUCCESS as i32;
        }
        if let Err(e) = self.close(h, to) {
            return e as i32;
        }
        ret(self.table.renumber(from, to))
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
            return EINVAL as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_seek(n, offset, whence, newoffset),
            Ok(Target::Embedded(o)) => (|| {
                let img = self.img()?;
                let pos = file::seek_target(&img, &o, offset, whence as u8)?;
                if let Some(open) = self.table.embedded_mut(fd as u32) {
                    open.pos = pos;
                }
                mem::store_u64(h, newoffset as u32, pos)
            })(),
            Err(e) => Err(e),
        })
    }

    /// `fd_sync`.
    pub fn fd_sync<H: Host>(&mut self, h: &mut H, fd: i32) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_sync(n),
            Ok(Target::Embedded(o)) => Self::embedded_file_only(&o, Ok(())),
            Err(e) => Err(e),
        })
    }

    /// `fd_tell`.
    pub fn fd_tell<H: Host>(&mut self, h: &mut H, fd: i32, offset: i32) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_tell(n, offset),
            Ok(Target::Embedded(o)) if o.kind == OpenKind::File => {
                mem::store_u64(h, offset as u32, o.pos)
            }
            Ok(Target::Embedded(_)) => Err(EBADF),
            Err(e) => Err(e),
        })
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
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.fd_write(n, iovs, iovs_len, nwritten),
            Ok(Target::Embedded(_)) => {
                file::first_non_empty(h, iovs as u32, iovs_len as u32).and(Err(EBADF))
            }
            Err(e) => Err(e),
        })
    }

    // ---- path calls ----

    /// The embedded directory `fd` is open on, for the path calls (a file is `EBADF`).
    fn embedded_dir(o: &Open) -> Result<Open, Errno> {
        match o.kind {
            OpenKind::Dir => Ok(*o),
            OpenKind::File => Err(EBADF),
        }
    }

    /// A write-type path call on an embedded directory: the path is read (and checked) first,
    /// then the read-only preopen refuses.
    fn refuse_path_write<H: Host>(h: &mut H, o: &Open, paths: &[(i32, i32)]) -> Result<(), Errno> {
        Self::embedded_dir(o)?;
        for (p, l) in paths {
            read_path(h, *p, *l)?;
        }
        Err(EPERM)
    }

    /// `path_create_directory`.
    pub fn path_create_directory<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        path: i32,
        path_len: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.path_create_directory(n, path, path_len),
            Ok(Target::Embedded(o)) => Self::refuse_path_write(h, &o, &[(path, path_len)]),
            Err(e) => Err(e),
        })
    }

    /// `path_filestat_get`.
    pub fn path_filestat_get<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        flags: i32,
        path: i32,
        path_len: i32,
        buf: i32,
    ) -> i32 {
        if flags as u32 & !lookupflags::SYMLINK_FOLLOW != 0 {
            return EINVAL as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.path_filestat_get(n, flags, path, path_len, buf),
            Ok(Target::Embedded(o)) => (|| {
                let d = Self::embedded_dir(&o)?;
                let p = read_path(h, path, path_len)?;
                let img = self.img()?;
                let follow = flags as u32 & lookupflags::SYMLINK_FOLLOW != 0;
                let ino = path::resolve(&img, d.inode, d.inode, &p, follow)?;
                let st = stat::filestat(&img, ino)?;
                mem::write_bytes(h, buf as u32, &st.encode())
            })(),
            Err(e) => Err(e),
        })
    }

    /// `path_filestat_set_times`.
    pub fn path_filestat_set_times<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        flags: i32,
        path: i32,
        path_len: i32,
        atim: i64,
        mtim: i64,
        fst: i32,
    ) -> i32 {
        if flags as u32 & !lookupflags::SYMLINK_FOLLOW != 0 {
            return EINVAL as i32;
        }
        if let Err(e) = check_fstflags(fst) {
            return e as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => {
                return h.path_filestat_set_times(n, flags, path, path_len, atim, mtim, fst)
            }
            Ok(Target::Embedded(o)) => Self::refuse_path_write(h, &o, &[(path, path_len)]),
            Err(e) => Err(e),
        })
    }

    /// `path_link`: refused with `EPERM` whenever an embedded directory is involved.
    pub fn path_link<H: Host>(
        &mut self,
        h: &mut H,
        old_fd: i32,
        old_flags: i32,
        old_path: i32,
        old_len: i32,
        new_fd: i32,
        new_path: i32,
        new_len: i32,
    ) -> i32 {
        if old_flags as u32 & !lookupflags::SYMLINK_FOLLOW != 0 {
            return EINVAL as i32;
        }
        let a = self.target(h, old_fd);
        let b = self.target(h, new_fd);
        ret(match (a, b) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(Target::Host(x)), Ok(Target::Host(y))) => {
                return h.path_link(x, old_flags, old_path, old_len, y, new_path, new_len)
            }
            (Ok(x), Ok(y)) => {
                Self::two_dirs(h, &x, &y, &[(old_path, old_len), (new_path, new_len)])
            }
        })
    }

    /// Two-directory write calls with an embedded side: both must be directories, then `EPERM`.
    fn two_dirs<H: Host>(
        h: &mut H,
        a: &Target,
        b: &Target,
        paths: &[(i32, i32)],
    ) -> Result<(), Errno> {
        for t in [a, b] {
            if let Target::Embedded(o) = t {
                Self::embedded_dir(o)?;
            }
        }
        for (p, l) in paths {
            read_path(h, *p, *l)?;
        }
        Err(EPERM)
    }

    /// `path_open`.
    pub fn path_open<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        dirflags: i32,
        path: i32,
        path_len: i32,
        oflags: i32,
        rights_base: i64,
        rights_inheriting: i64,
        fdflags: i32,
        fd_out: i32,
    ) -> i32 {
        if dirflags as u32 & !lookupflags::SYMLINK_FOLLOW != 0
            || oflags & !OFLAGS_ALL != 0
            || (rights_base as u64) & !rights::ALL != 0
            || (rights_inheriting as u64) & !rights::ALL != 0
            || fdflags & !FDFLAGS_ALL != 0
        {
            return EINVAL as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => {
                let r = h.path_open(
                    n,
                    dirflags,
                    path,
                    path_len,
                    oflags,
                    rights_base,
                    rights_inheriting,
                    fdflags,
                    fd_out,
                );
                if r != SUCCESS as i32 {
                    return r;
                }
                self.adopt_host_fd(h, fd_out)
            }
            Ok(Target::Embedded(o)) => (|| {
                let p = read_path(h, path, path_len)?;
                if o.kind != OpenKind::Dir {
                    return Err(ENOTDIR);
                }
                let img = self.img()?;
                let open = open_embedded(
                    &img,
                    &o,
                    &p,
                    dirflags as u32,
                    oflags as u16,
                    rights_base as u64,
                    fdflags as u16,
                )?;
                let guest = self.table.push(Slot::Embedded(open))?;
                if let Err(e) = mem::store_u32(h, fd_out as u32, guest) {
                    let _ = self.table.remove(guest);
                    return Err(e);
                }
                Ok(())
            })(),
            Err(e) => Err(e),
        })
    }

    /// `path_readlink`.
    pub fn path_readlink<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        path: i32,
        path_len: i32,
        buf: i32,
        buf_len: i32,
        bufused: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => {
                return h.path_readlink(n, path, path_len, buf, buf_len, bufused)
            }
            Ok(Target::Embedded(o)) => (|| {
                let d = Self::embedded_dir(&o)?;
                let p = read_path(h, path, path_len)?;
                let img = self.img()?;
                let ino = path::resolve(&img, d.inode, d.inode, &p, false)?;
                let target = img.symlink_target(ino).ok_or(EINVAL)?;
                let n = target.len().min(buf_len as u32 as usize);
                mem::write_bytes(h, buf as u32, &target[..n])?;
                mem::store_u32(h, bufused as u32, n as u32)
            })(),
            Err(e) => Err(e),
        })
    }

    /// `path_remove_directory`.
    pub fn path_remove_directory<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        path: i32,
        path_len: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.path_remove_directory(n, path, path_len),
            Ok(Target::Embedded(o)) => Self::refuse_path_write(h, &o, &[(path, path_len)]),
            Err(e) => Err(e),
        })
    }

    /// `path_rename`: refused with `EPERM` whenever an embedded directory is involved.
    pub fn path_rename<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        old_path: i32,
        old_len: i32,
        new_fd: i32,
        new_path: i32,
        new_len: i32,
    ) -> i32 {
        let a = self.target(h, fd);
        let b = self.target(h, new_fd);
        ret(match (a, b) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(Target::Host(x)), Ok(Target::Host(y))) => {
                return h.path_rename(x, old_path, old_len, y, new_path, new_len)
            }
            (Ok(x), Ok(y)) => {
                Self::two_dirs(h, &x, &y, &[(old_path, old_len), (new_path, new_len)])
            }
        })
    }

    /// `path_symlink`.
    pub fn path_symlink<H: Host>(
        &mut self,
        h: &mut H,
        old_path: i32,
        old_len: i32,
        fd: i32,
        new_path: i32,
        new_len: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.path_symlink(old_path, old_len, n, new_path, new_len),
            Ok(Target::Embedded(o)) => {
                Self::refuse_path_write(h, &o, &[(old_path, old_len), (new_path, new_len)])
            }
            Err(e) => Err(e),
        })
    }

    /// `path_unlink_file`.
    pub fn path_unlink_file<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        path: i32,
        path_len: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.path_unlink_file(n, path, path_len),
            Ok(Target::Embedded(o)) => Self::refuse_path_write(h, &o, &[(path, path_len)]),
            Err(e) => Err(e),
        })
    }

    // ---- poll and sockets ----

    /// `poll_oneoff`.
    pub fn poll_oneoff<H: Host>(
        &mut self,
        h: &mut H,
        subs: i32,
        events: i32,
        n: i32,
        nevents: i32,
    ) -> i32 {
        self.start(h);
        ret(self.poll(h, subs as u32, events as u32, n as u32, nevents as u32))
    }

    /// `sock_accept`.
    pub fn sock_accept<H: Host>(&mut self, h: &mut H, fd: i32, flags: i32, fd_out: i32) -> i32 {
        if flags & !FDFLAGS_ALL != 0 {
            return EINVAL as i32;
        }
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => {
                let r = h.sock_accept(n, flags, fd_out);
                if r != SUCCESS as i32 {
                    return r;
                }
                self.adopt_host_fd(h, fd_out)
            }
            Ok(Target::Embedded(_)) => Err(ENOTSOCK),
            Err(e) => Err(e),
        })
    }

    /// `sock_recv`.
    pub fn sock_recv<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        ri_data: i32,
        ri_len: i32,
        ri_flags: i32,
        ro_len: i32,
        ro_flags: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => {
                return h.sock_recv(n, ri_data, ri_len, ri_flags, ro_len, ro_flags)
            }
            Ok(Target::Embedded(_)) => Err(ENOTSOCK),
            Err(e) => Err(e),
        })
    }

    /// `sock_send`.
    pub fn sock_send<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        si_data: i32,
        si_len: i32,
        si_flags: i32,
        so_len: i32,
    ) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.sock_send(n, si_data, si_len, si_flags, so_len),
            Ok(Target::Embedded(_)) => Err(ENOTSOCK),
            Err(e) => Err(e),
        })
    }

    /// `sock_shutdown`.
    pub fn sock_shutdown<H: Host>(&mut self, h: &mut H, fd: i32, how: i32) -> i32 {
        ret(match self.target(h, fd) {
            Ok(Target::Host(n)) => return h.sock_shutdown(n, how),
            Ok(Target::Embedded(_)) => Err(ENOTSOCK),
            Err(e) => Err(e),
        })
    }
}

/// `path_open` on an embedded directory `dir`, in wasmtime-wasi's order of checks: sync flags are
/// unsupported, `DIRECTORY` with create/exclusive/truncate is invalid, anything that would create or
/// write is not permitted on a read-only preopen, then the path is resolved (a final symlink without
/// `SYMLINK_FOLLOW` is `ELOOP`) and `DIRECTORY` on a non-directory is `ENOTDIR`.
fn open_embedded(
    img: &Image<'_>,
    dir: &Open,
    p: &[u8],
    dirflags: u32,
    of: u16,
    rights_base: u64,
    fdf: u16,
) -> Result<Open, Errno> {
    if fdf & (fdflags::SYNC | fdflags::DSYNC | fdflags::RSYNC) != 0 {
        return Err(ENOTSUP);
    }
    if of & oflags::DIRECTORY != 0 && of & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
        return Err(EINVAL);
    }
    if of & (oflags::CREAT | oflags::TRUNC) != 0 || rights_base & rights::FD_WRITE != 0 {
        return Err(EPERM);
    }
    let follow = dirflags & lookupflags::SYMLINK_FOLLOW != 0;
    // Like a host directory descriptor, each one is a capability of its own: no lookup from it
    // (`..`, a symlink's target) may leave it, even to a place still inside the mount.
    let ino = path::resolve(img, dir.inode, dir.inode, p, follow)?;
    let node = img.inode(ino).ok_or(EBADF)?;
    let kind = match node.kind {
        Kind::Directory => OpenKind::Dir,
        Kind::Symlink => return Err(ELOOP),
        Kind::File if of & oflags::DIRECTORY != 0 => return Err(ENOTDIR),
        Kind::File => OpenKind::File,
    };
    Ok(Open {
        inode: ino,
        root: dir.root,
        kind,
        preopen: None,
        pos: 0,
        flags: fdf & (fdflags::APPEND | fdflags::NONBLOCK),
    })
}
