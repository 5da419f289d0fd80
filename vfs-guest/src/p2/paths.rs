//! The path calls of the 0.2 front-end (`stat-at`, `open-at`, `readlink-at`, the calls that
//! create, remove, rename or link, `set-times-at`, `metadata-hash-at`): each is the core's
//! preview 1 path call of the same meaning, on the descriptor's core fd.

use crate::mem;
use crate::p2::abi::{put_result, Filestat, Payload};
use crate::p2::front::{alloc_bytes, must, put_handle, put_hash, put_unit, times, HEAD};
use crate::p2::host::P2Host;
use crate::p2::{is_ours, Resource};
use crate::wasi::{fdflags, rights, Errno, EXDEV};
use crate::Vfs;

/// The preview 1 `filestat` of `path` under core fd `fd`.
pub(crate) fn filestat_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: u32,
    flags: i32,
    path: (i32, i32),
) -> Result<Filestat, Errno> {
    let s = vfs.scratch(h)?;
    Errno::check(vfs.path_filestat_get(h, fd as i32, flags & 1, path.0, path.1, s as i32))?;
    Filestat::load(h, s)
}

/// `[method]descriptor.stat-at`.
pub(crate) fn descriptor_stat_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_stat_at(fd, flags, path, path_len, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = filestat_at(vfs, h, core, flags, (path, path_len)).map(|st| st.descriptor_stat());
    must(put_result(
        h,
        ret,
        Payload::At8,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.set-times-at`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn descriptor_set_times_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    atag: i32,
    asec: i64,
    ansec: i32,
    mtag: i32,
    msec: i64,
    mnsec: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_set_times_at(
            fd, flags, path, path_len, atag, asec, ansec, mtag, msec, mnsec, ret,
        );
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = times(atag, asec, ansec, mtag, msec, mnsec).and_then(|(a, m, f)| {
        Errno::check(vfs.path_filestat_set_times(h, core, flags & 1, path, path_len, a, m, f))
    });
    put_unit(h, ret, r);
}

/// The two descriptors of a two-path call: both ours (their core fds), both the host's
/// (`None`), or one of each, which cannot be one operation (`EXDEV`).
pub(crate) fn both(vfs: &Vfs<'_>, a: i32, b: i32) -> Result<Option<(i32, i32)>, Errno> {
    match (is_ours(a), is_ours(b)) {
        (false, false) => Ok(None),
        (true, true) => Ok(Some((
            vfs.descriptor_fd(a) as i32,
            vfs.descriptor_fd(b) as i32,
        ))),
        (true, false) => {
            vfs.descriptor_fd(a);
            Err(EXDEV)
        }
        (false, true) => {
            vfs.descriptor_fd(b);
            Err(EXDEV)
        }
    }
}

/// `[method]descriptor.link-at`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn descriptor_link_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    new_fd: i32,
    new_path: i32,
    new_path_len: i32,
    ret: i32,
) {
    let r = match both(vfs, fd, new_fd) {
        Ok(None) => {
            return h.descriptor_link_at(
                fd,
                flags,
                path,
                path_len,
                new_fd,
                new_path,
                new_path_len,
                ret,
            )
        }
        Ok(Some((a, b))) => {
            Errno::check(vfs.path_link(h, a, flags & 1, path, path_len, b, new_path, new_path_len))
        }
        Err(e) => Err(e),
    };
    put_unit(h, ret, r);
}

/// `[method]descriptor.open-at`: preview 1 `path_open` with the 0.2 flags as rights and
/// `fdflags` (the open flags have the same bits in both).
#[allow(clippy::too_many_arguments)]
pub(crate) fn descriptor_open_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    oflags: i32,
    dflags: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_open_at(fd, flags, path, path_len, oflags, dflags, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let mut rights_base = rights::ALL & !(rights::FD_READ | rights::FD_WRITE);
    if dflags & 1 != 0 {
        rights_base |= rights::FD_READ;
    }
    if dflags & 2 != 0 {
        rights_base |= rights::FD_WRITE;
    }
    let mut fdf = 0u16;
    if dflags & 4 != 0 {
        fdf |= fdflags::SYNC;
    }
    if dflags & 8 != 0 {
        fdf |= fdflags::DSYNC;
    }
    if dflags & 16 != 0 {
        fdf |= fdflags::RSYNC;
    }
    let r = vfs.scratch(h).and_then(|s| {
        Errno::check(vfs.path_open(
            h,
            core,
            flags & 1,
            path,
            path_len,
            oflags & 0xf,
            rights_base as i64,
            rights_base as i64,
            i32::from(fdf),
            s as i32,
        ))?;
        let new = mem::load_u32(h, s)?;
        Ok(vfs.p2.insert(Resource::Descriptor(new)))
    });
    put_handle(h, ret, r);
}

/// `[method]descriptor.readlink-at`.
pub(crate) fn descriptor_readlink_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    path: i32,
    path_len: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_readlink_at(fd, path, path_len, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = vfs.scratch(h).and_then(|s| {
        let buf = s + HEAD;
        let cap = super::SCRATCH_LEN - HEAD;
        Errno::check(vfs.path_readlink(h, core, path, path_len, buf as i32, cap as i32, s as i32))?;
        let used = mem::load_u32(h, s)?;
        let target = mem::read_bytes(h, buf, used)?;
        let (ptr, n) = alloc_bytes(h, &target, 1)?;
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&ptr.to_le_bytes());
        b[4..].copy_from_slice(&n.to_le_bytes());
        Ok(b)
    });
    must(put_result(
        h,
        ret,
        Payload::At4,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.create-directory-at`.
pub(crate) fn descriptor_create_directory_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    path: i32,
    path_len: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_create_directory_at(fd, path, path_len, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.path_create_directory(h, core, path, path_len));
    put_unit(h, ret, r);
}

/// `[method]descriptor.remove-directory-at`.
pub(crate) fn descriptor_remove_directory_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    path: i32,
    path_len: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_remove_directory_at(fd, path, path_len, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.path_remove_directory(h, core, path, path_len));
    put_unit(h, ret, r);
}

/// `[method]descriptor.unlink-file-at`.
pub(crate) fn descriptor_unlink_file_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    path: i32,
    path_len: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_unlink_file_at(fd, path, path_len, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.path_unlink_file(h, core, path, path_len));
    put_unit(h, ret, r);
}

/// `[method]descriptor.rename-at`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn descriptor_rename_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    path: i32,
    path_len: i32,
    new_fd: i32,
    new_path: i32,
    new_path_len: i32,
    ret: i32,
) {
    let r = match both(vfs, fd, new_fd) {
        Ok(None) => {
            return h.descriptor_rename_at(fd, path, path_len, new_fd, new_path, new_path_len, ret)
        }
        Ok(Some((a, b))) => {
            Errno::check(vfs.path_rename(h, a, path, path_len, b, new_path, new_path_len))
        }
        Err(e) => Err(e),
    };
    put_unit(h, ret, r);
}

/// `[method]descriptor.symlink-at`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn descriptor_symlink_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    old_path: i32,
    old_path_len: i32,
    new_path: i32,
    new_path_len: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_symlink_at(fd, old_path, old_path_len, new_path, new_path_len, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.path_symlink(h, old_path, old_path_len, core, new_path, new_path_len));
    put_unit(h, ret, r);
}

/// `[method]descriptor.metadata-hash-at`.
pub(crate) fn descriptor_metadata_hash_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_metadata_hash_at(fd, flags, path, path_len, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = filestat_at(vfs, h, core, flags, (path, path_len));
    put_hash(h, ret, r);
}
