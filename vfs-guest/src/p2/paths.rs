//! The path calls of the 0.2 front-end (`stat-at`, `open-at`, `readlink-at`, the calls that
//! create, remove, rename or link, `set-times-at`, `metadata-hash-at`): each is the core's
//! preview 1 path call of the same meaning, on the descriptor's core fd.

use crate::mem;
use crate::p2::abi::{
    alloc_bytes, pair, put, put_handle, put_hash, put_unit, stat_record, Payload,
};
use crate::p2::front::{times, HEAD};
use crate::p2::host::P2Host;
use crate::p2::{Resource, SCRATCH_LEN};
use crate::vfs::OpenRequest;
use crate::wasi::{fdflags, rights, Errno, Filestat, EXDEV};
use crate::Vfs;

/// The preview 1 `filestat` of `path` under core fd `fd` (`path_filestat_get` without its trip
/// through application memory).
fn filestat_at<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: u32,
    flags: i32,
    path: (i32, i32),
) -> Result<Filestat, Errno> {
    let d = vfs.open_at_fd(fd)?;
    vfs.filestat_at(h, &d, path, flags & 1 != 0)
}

/// The two descriptors of a two-path call: both ours (their core fds), both the host's
/// (`None`), or one of each, which cannot be one operation (`EXDEV`).
pub(crate) fn both(vfs: &Vfs<'_>, a: i32, b: i32) -> Result<Option<(i32, i32)>, Errno> {
    let ours = |h: i32| vfs.p2.is_ours(h).then(|| vfs.descriptor_fd(h) as i32);
    match (ours(a), ours(b)) {
        (None, None) => Ok(None),
        (Some(a), Some(b)) => Ok(Some((a, b))),
        _ => Err(EXDEV),
    }
}

/// Preview 1 rights and `fdflags` for 0.2 `descriptor-flags`: `read` and `write` are the read
/// and write rights (every other right is granted), the sync flags their `fdflags`.
fn open_rights(dflags: i32) -> (u64, u16) {
    let mut base = rights::ALL & !(rights::FD_READ | rights::FD_WRITE);
    for (bit, right) in [(1, rights::FD_READ), (2, rights::FD_WRITE)] {
        if dflags & bit != 0 {
            base |= right;
        }
    }
    let sync = [
        (4, fdflags::SYNC),
        (8, fdflags::DSYNC),
        (16, fdflags::RSYNC),
    ];
    let fdf = sync
        .iter()
        .filter(|(bit, _)| dflags & bit != 0)
        .fold(0, |f, (_, flag)| f | flag);
    (base, fdf)
}

served! {
    /// `[method]descriptor.stat-at`.
    fn descriptor_stat_at(vfs, h, fd, flags: i32, path: i32, path_len: i32, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = filestat_at(vfs, h, core, flags, (path, path_len)).map(|st| stat_record(&st));
        put(h, ret, Payload::At8, r);
    }

    /// `[method]descriptor.metadata-hash-at`.
    fn descriptor_metadata_hash_at(vfs, h, fd, flags: i32, path: i32, path_len: i32, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = filestat_at(vfs, h, core, flags, (path, path_len));
        put_hash(h, ret, r);
    }

    /// `[method]descriptor.set-times-at`.
    fn descriptor_set_times_at(
        vfs, h, fd, flags: i32, path: i32, path_len: i32,
        atag: i32, asec: i64, ansec: i32, mtag: i32, msec: i64, mnsec: i32, ret: i32
    ) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = times((atag, asec, ansec), (mtag, msec, mnsec)).and_then(|(a, m, f)| {
            Errno::check(vfs.path_filestat_set_times(h, core, flags & 1, path, path_len, a, m, f))
        });
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.open-at`: preview 1 `path_open` with the 0.2 flags as rights and
    /// `fdflags` (the open flags have the same bits in both).
    fn descriptor_open_at(
        vfs, h, fd, flags: i32, path: i32, path_len: i32, oflags: i32, dflags: i32, ret: i32
    ) {
        let core = vfs.descriptor_fd(fd);
        let (rights_base, fdflags) = open_rights(dflags);
        let req = OpenRequest {
            follow: flags & 1 != 0,
            oflags: (oflags & 0xf) as u16,
            rights_base,
            fdflags,
        };
        // The core's `path_open` without its trip through application memory.
        let r = vfs.open_at_fd(core).and_then(|o| {
            let new = vfs.open_at(h, &o, (path, path_len), req)?;
            Ok(vfs.p2.insert(Resource::Descriptor(new)))
        });
        put_handle(h, ret, r);
    }

    /// `[method]descriptor.readlink-at`.
    fn descriptor_readlink_at(vfs, h, fd, path: i32, path_len: i32, ret: i32) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = vfs.scratch(h).and_then(|s| {
            let (buf, cap) = ((s + HEAD) as i32, (SCRATCH_LEN - HEAD) as i32);
            Errno::check(vfs.path_readlink(h, core, path, path_len, buf, cap, s as i32))?;
            let used = mem::load_u32(h, s)?;
            let target = mem::read_bytes(h, buf as u32, used)?;
            let (ptr, n) = alloc_bytes(h, &target, 1)?;
            Ok(pair(ptr, n))
        });
        put(h, ret, Payload::At4, r);
    }

    /// `[method]descriptor.create-directory-at`.
    fn descriptor_create_directory_at(vfs, h, fd, path: i32, path_len: i32, ret: i32) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = Errno::check(vfs.path_create_directory(h, core, path, path_len));
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.remove-directory-at`.
    fn descriptor_remove_directory_at(vfs, h, fd, path: i32, path_len: i32, ret: i32) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = Errno::check(vfs.path_remove_directory(h, core, path, path_len));
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.unlink-file-at`.
    fn descriptor_unlink_file_at(vfs, h, fd, path: i32, path_len: i32, ret: i32) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = Errno::check(vfs.path_unlink_file(h, core, path, path_len));
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.symlink-at`.
    fn descriptor_symlink_at(
        vfs, h, fd, old_path: i32, old_len: i32, new_path: i32, new_len: i32, ret: i32
    ) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = Errno::check(vfs.path_symlink(h, old_path, old_len, core, new_path, new_len));
        put_unit(h, ret, r);
    }
}

/// A call on two descriptors: both the host's go to `host`; both ours to `ours`, with their core
/// fds, and its result is written as `result<_, error-code>` at `ret`; one of each cannot be one
/// operation (`cross-device`).
fn two<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    (a, b): (i32, i32),
    ret: i32,
    host: impl FnOnce(&mut H),
    ours: impl FnOnce(&mut Vfs<'_>, &mut H, i32, i32) -> Result<(), Errno>,
) {
    let r = match both(vfs, a, b) {
        Ok(None) => return host(h),
        Ok(Some((a, b))) => ours(vfs, h, a, b),
        Err(e) => Err(e),
    };
    put_unit(h, ret, r);
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
    new_len: i32,
    ret: i32,
) {
    let (old, new) = ((path, path_len), (new_path, new_len));
    two(
        vfs,
        h,
        (fd, new_fd),
        ret,
        |h| h.descriptor_link_at(fd, flags, old.0, old.1, new_fd, new.0, new.1, ret),
        |vfs, h, a, b| Errno::check(vfs.path_link(h, a, flags & 1, old.0, old.1, b, new.0, new.1)),
    );
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
    new_len: i32,
    ret: i32,
) {
    let (old, new) = ((path, path_len), (new_path, new_len));
    two(
        vfs,
        h,
        (fd, new_fd),
        ret,
        |h| h.descriptor_rename_at(fd, old.0, old.1, new_fd, new.0, new.1, ret),
        |vfs, h, a, b| Errno::check(vfs.path_rename(h, a, old.0, old.1, b, new.0, new.1)),
    );
}
