//! The path calls (`path_*`).

use wasivfs_image::{Image, Kind};

use crate::fdtable::{Open, OpenKind, Tree};
use crate::host::Host;
use crate::vfs::fd::check_fstflags;
use crate::vfs::writable::paths::DirPath;
use crate::vfs::{check_bits, check_fdflags, check_rights, read_path, Target, Vfs};
use crate::wasi::{
    fdflags, lookupflags, oflags, rights, Errno, Filestat, EBADF, EINVAL, EISDIR, ELOOP, ENOTDIR,
    ENOTSUP, EPERM, EXDEV,
};
use crate::{mem, resolve, stat};

/// All valid `oflags` bits.
const OFLAGS_ALL: u64 = 0xf;

/// Whether a checked `lookupflags` value asks to follow a final symlink.
fn follows(flags: i32) -> bool {
    flags as u32 & lookupflags::SYMLINK_FOLLOW != 0
}

/// Checks a `lookupflags` value.
fn check_lookup(flags: i32) -> Result<(), Errno> {
    check_bits(flags as u32 as u64, lookupflags::SYMLINK_FOLLOW as u64)
}

/// A write-type path call on an embedded directory: the paths are read (and checked) first,
/// then the read-only preopen refuses.
fn refuse_path_write<H: Host>(h: &mut H, o: &Open, paths: &[(i32, i32)]) -> Result<(), Errno> {
    o.dir()?;
    for (p, l) in paths {
        read_path(h, *p, *l)?;
    }
    Err(EPERM)
}

/// What an embedded fd does in a path call that writes: on a writable mount, `write` with the
/// directory and the path; on a read-only one, refused as a read-only directory refuses it.
fn path_write<'a, H: Host>(
    (path, path_len): (i32, i32),
    write: impl FnOnce(&mut Vfs<'a>, &mut H, &Open, &[u8]) -> Result<(), Errno>,
) -> impl FnOnce(&mut Vfs<'a>, &mut H, Open) -> Result<(), Errno> {
    move |vfs, h, o| match mem_dir(&o)? {
        Some(d) => {
            let p = read_path(h, path, path_len)?;
            write(vfs, h, &d, &p)
        }
        None => refuse_path_write(h, &o, &[(path, path_len)]),
    }
}

/// Two-directory write calls with an embedded side: both must be directories, then `EPERM`
/// when a read-only mount is involved, `EXDEV` between a writable mount and the host.
fn two_dirs<H: Host>(h: &mut H, a: &Target, b: &Target, paths: &[(i32, i32)]) -> Result<(), Errno> {
    let mut read_only = false;
    for t in [a, b] {
        if let Target::Embedded(o) = t {
            o.dir()?;
            read_only |= o.tree == Tree::Image;
        }
    }
    for (p, l) in paths {
        read_path(h, *p, *l)?;
    }
    Err(if read_only { EPERM } else { EXDEV })
}

routed_calls! {
    /// `path_create_directory`.
    fn path_create_directory(fd: i32, path: i32, path_len: i32)
        => route(fd) path_write((path, path_len), Self::w_mkdir);

    /// `path_filestat_get`.
    fn path_filestat_get(fd: i32, flags: i32, path: i32, path_len: i32, buf: i32)
        check check_lookup(flags)
        => route(fd) |vfs, h, o| {
            let st = vfs.filestat_at(h, &o, (path, path_len), follows(flags))?;
            mem::write_bytes(h, buf as u32, &st.encode())
        };

    /// `path_filestat_set_times`.
    fn path_filestat_set_times(
        fd: i32, flags: i32, path: i32, path_len: i32, atim: i64, mtim: i64, fst: i32
    )
        check check_lookup(flags).and_then(|()| check_fstflags(fst))
        => route(fd) path_write((path, path_len), |vfs, h, d, p| {
            let id = vfs.w_resolve(d, p, follows(flags))?;
            vfs.w_set_times(h, id, atim, mtim, fst)
        });

    /// `path_link`: refused with `EPERM` whenever an embedded directory is involved.
    fn path_link(
        old_fd: i32, old_flags: i32, old_path: i32, old_len: i32,
        new_fd: i32, new_path: i32, new_len: i32
    )
        check check_lookup(old_flags)
        => route_two_paths(old_fd, new_fd; [(old_path, old_len), (new_path, new_len)])
            |vfs, h, old, new| {
                if follows(old_flags) {
                    return Err(EINVAL);
                }
                vfs.w_link(h, old, new)
            };

    /// `path_open`.
    fn path_open(
        fd: i32, dirflags: i32, path: i32, path_len: i32, oflags: i32,
        rights_base: i64, rights_inheriting: i64, fdflags: i32, fd_out: i32
    )
        check check_lookup(dirflags)
            .and_then(|()| check_bits(oflags as u32 as u64, OFLAGS_ALL))
            .and_then(|()| check_rights(rights_base, rights_inheriting))
            .and_then(|()| check_fdflags(fdflags))
        => route_new_fd(fd; fd_out) |vfs, h, o| {
            let req = OpenRequest {
                follow: follows(dirflags),
                oflags: oflags as u16,
                rights_base: rights_base as u64,
                fdflags: fdflags as u16,
            };
            vfs.open_at_into(h, &o, (path, path_len), req, fd_out)
        };

    /// `path_readlink`.
    fn path_readlink(fd: i32, path: i32, path_len: i32, buf: i32, buf_len: i32, bufused: i32)
        => route(fd) |vfs, h, o| {
            let d = o.dir()?;
            let p = read_path(h, path, path_len)?;
            vfs.readlink_at(h, d, &p, (buf, buf_len), bufused)
        };

    /// `path_remove_directory`.
    fn path_remove_directory(fd: i32, path: i32, path_len: i32)
        => route(fd) path_write((path, path_len), Self::w_rmdir);

    /// `path_rename`: refused with `EPERM` whenever an embedded directory is involved.
    fn path_rename(
        fd: i32, old_path: i32, old_len: i32, new_fd: i32, new_path: i32, new_len: i32
    )
        => route_two_paths(fd, new_fd; [(old_path, old_len), (new_path, new_len)])
            Self::w_rename;

    /// `path_symlink`.
    fn path_symlink(old_path: i32, old_len: i32, fd: i32, new_path: i32, new_len: i32)
        => route(fd) |vfs, h, o| match mem_dir(&o)? {
            Some(d) => {
                let target = read_path(h, old_path, old_len)?;
                let p = read_path(h, new_path, new_len)?;
                vfs.w_symlink(h, &d, &target, &p)
            }
            None => refuse_path_write(h, &o, &[(old_path, old_len), (new_path, new_len)]),
        };

    /// `path_unlink_file`.
    fn path_unlink_file(fd: i32, path: i32, path_len: i32)
        => route(fd) path_write((path, path_len), Self::w_unlink);
}

impl<'a> Vfs<'a> {
    /// The calls that name a path under each of two directories (`path_link`, `path_rename`):
    /// both on the host go to `host`; both writable, `write` gets both directories and paths;
    /// otherwise as [`two_dirs`] says.
    fn route_two_paths<H: Host>(
        &mut self,
        h: &mut H,
        fd_a: i32,
        fd_b: i32,
        host: impl FnOnce(&mut Self, &mut H, i32, i32) -> i32,
        [old, new]: [(i32, i32); 2],
        write: impl FnOnce(&mut Self, &mut H, DirPath<'_>, DirPath<'_>) -> Result<(), Errno>,
    ) -> i32 {
        let a = self.target(h, fd_a);
        let b = self.target(h, fd_b);
        let (x, y) = match (a, b) {
            (Err(e), _) | (_, Err(e)) => return e.code(),
            (Ok(Target::Host(x)), Ok(Target::Host(y))) => return host(self, h, x, y),
            (Ok(x), Ok(y)) => (x, y),
        };
        let embedded = |vfs: &mut Self, h: &mut H| match both_mem(&x, &y)? {
            Some((a, b)) => {
                let old_p = read_path(h, old.0, old.1)?;
                let new_p = read_path(h, new.0, new.1)?;
                write(vfs, h, (&a, &old_p), (&b, &new_p))
            }
            None => two_dirs(h, &x, &y, &[old, new]),
        };
        Errno::ret(embedded(self, h))
    }

    /// The `filestat` of the path at `path` (application memory; the last symlink followed if
    /// `follow`) under embedded fd `d`, checked in wasmtime-wasi's order: `d` not a directory,
    /// then the path. What `path_filestat_get` writes, and what the 0.2 front-end's `stat-at`
    /// and `metadata-hash-at` answer from.
    pub(crate) fn filestat_at<H: Host>(
        &mut self,
        h: &mut H,
        d: &Open,
        (path, path_len): (i32, i32),
        follow: bool,
    ) -> Result<Filestat, Errno> {
        let d = d.dir()?;
        let p = read_path(h, path, path_len)?;
        if d.tree == Tree::Mem {
            let id = self.w_resolve(d, &p, follow)?;
            return self.mem.filestat(self.image.as_ref(), id);
        }
        let mut img = self.img()?;
        let ino = resolve::resolve(&mut img, d.inode, d.inode, &p, follow)?;
        stat::filestat(&img, ino)
    }

    /// Opens the path at `path` (application memory) under embedded fd `d` as `req` asks, checked
    /// in wasmtime-wasi's order: the path, then `d` not a directory. The new fd's guest number:
    /// what `path_open` stores, and the 0.2 front-end's `open-at` hands out.
    pub(crate) fn open_at<H: Host>(
        &mut self,
        h: &mut H,
        d: &Open,
        (path, path_len): (i32, i32),
        req: OpenRequest,
    ) -> Result<u32, Errno> {
        let p = read_path(h, path, path_len)?;
        if d.kind != OpenKind::Dir {
            return Err(ENOTDIR);
        }
        let open = match d.tree {
            Tree::Mem => self.w_open(h, d, &p, req)?,
            Tree::Image => open_embedded(&mut self.img()?, d, &p, req)?,
        };
        self.push_open(open)
    }

    /// `path_open` of the path at `path` under embedded fd `d`: the new fd's guest number is
    /// stored at `fd_out` (or, if it cannot be, the fd is closed again).
    fn open_at_into<H: Host>(
        &mut self,
        h: &mut H,
        d: &Open,
        path: (i32, i32),
        req: OpenRequest,
        fd_out: i32,
    ) -> Result<(), Errno> {
        let guest = self.open_at(h, d, path, req)?;
        mem::store_u32(h, fd_out as u32, guest).inspect_err(|_| {
            let _ = self.close(h, guest);
        })
    }

    /// `path_readlink` of path `p` under embedded directory `d`: as much of the target as fits
    /// `buf`, its length at `bufused`.
    fn readlink_at<H: Host>(
        &mut self,
        h: &mut H,
        d: &Open,
        p: &[u8],
        (buf, buf_len): (i32, i32),
        bufused: i32,
    ) -> Result<(), Errno> {
        let owned;
        let target: &[u8] = if d.tree == Tree::Mem {
            owned = self.w_readlink(d, p)?;
            &owned
        } else {
            let mut img = self.img()?;
            let ino = resolve::resolve(&mut img, d.inode, d.inode, p, false)?;
            img.symlink_target(ino).ok_or(EINVAL)?
        };
        let n = target.len().min(buf_len as u32 as usize);
        mem::write_bytes(h, buf as u32, &target[..n])?;
        mem::store_u32(h, bufused as u32, n as u32)
    }
}

/// The writable directory an fd is open on, if it is one (a writable file is `EBADF`).
fn mem_dir(o: &Open) -> Result<Option<Open>, Errno> {
    match o.tree {
        Tree::Mem => o.dir().map(|d| Some(*d)),
        Tree::Image => Ok(None),
    }
}

/// Both fds of a two-directory call, when both are writable directories.
fn both_mem(a: &Target, b: &Target) -> Result<Option<(Open, Open)>, Errno> {
    match (a, b) {
        (Target::Embedded(x), Target::Embedded(y)) => match (mem_dir(x)?, mem_dir(y)?) {
            (Some(x), Some(y)) => Ok(Some((x, y))),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The flags of a `path_open` call, checked against their valid bits.
#[derive(Clone, Copy)]
pub(crate) struct OpenRequest {
    /// Whether a final symlink is followed (`SYMLINK_FOLLOW` of the call's `lookupflags`).
    pub follow: bool,
    /// `oflags`.
    pub oflags: u16,
    /// The rights asked for.
    pub rights_base: u64,
    /// `fdflags` of the new fd.
    pub fdflags: u16,
}

/// The `path_open` checks every embedded directory makes first, read-only or writable, in
/// wasmtime-wasi's order: sync flags are unsupported, `DIRECTORY` with create, exclusive or
/// truncate is invalid.
pub(crate) fn check_open_flags(req: &OpenRequest) -> Result<(), Errno> {
    let (of, fdf) = (req.oflags, req.fdflags);
    if fdf & (fdflags::SYNC | fdflags::DSYNC | fdflags::RSYNC) != 0 {
        return Err(ENOTSUP);
    }
    if of & oflags::DIRECTORY != 0 && of & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// What an existing node of `kind` opens as, by the rules every tree shares (the path was
/// resolved with or without `SYMLINK_FOLLOW` as asked): a symlink left unfollowed is `ELOOP`, a
/// directory opened to write (`write`) is `EISDIR`, a file under `DIRECTORY` is `ENOTDIR`.
pub(crate) fn open_kind(kind: Kind, of: u16, write: bool) -> Result<OpenKind, Errno> {
    match kind {
        Kind::Symlink => Err(ELOOP),
        Kind::Directory if write => Err(EISDIR),
        Kind::Directory => Ok(OpenKind::Dir),
        Kind::File if of & oflags::DIRECTORY != 0 => Err(ENOTDIR),
        Kind::File => Ok(OpenKind::File),
    }
}

/// `path_open` on an embedded directory `dir`, in wasmtime-wasi's order of checks: sync flags are
/// unsupported, `DIRECTORY` with create/exclusive/truncate is invalid, anything that would create or
/// write is not permitted on a read-only preopen, then the path is resolved (a final symlink without
/// `SYMLINK_FOLLOW` is `ELOOP`) and `DIRECTORY` on a non-directory is `ENOTDIR`.
fn open_embedded(
    img: &mut Image<'_>,
    dir: &Open,
    p: &[u8],
    req: OpenRequest,
) -> Result<Open, Errno> {
    check_open_flags(&req)?;
    let (of, fdf, rights_base) = (req.oflags, req.fdflags, req.rights_base);
    if of & (oflags::CREAT | oflags::TRUNC) != 0 || rights_base & rights::FD_WRITE != 0 {
        return Err(EPERM);
    }
    // Like a host directory descriptor, each one is a capability of its own: no lookup from it
    // (`..`, a symlink's target) may leave it, even to a place still inside the mount.
    let ino = resolve::resolve(img, dir.inode, dir.inode, p, req.follow)?;
    let node = img.inode(ino).ok_or(EBADF)?;
    let kind = open_kind(node.kind, of, false)?;
    Ok(Open {
        tree: Tree::Image,
        inode: ino,
        root: dir.root,
        kind,
        preopen: None,
        pos: 0,
        flags: fdf & (fdflags::APPEND | fdflags::NONBLOCK),
        read: true,
        write: false,
    })
}
