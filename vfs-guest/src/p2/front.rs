//! One function per intercepted WASI 0.2 import (the list in
//! `wasivfs_abi::for_each_p2_intercepted!`), with its lowered signature: a host handle goes to
//! the host's function unchanged, one of ours is served by the core.

use super::paths::both;
use crate::fdtable::{OpenKind, Slot};
use crate::mem;
use crate::p2::abi::{put_result, Filestat, Payload};
use crate::p2::host::P2Host;
use crate::p2::{is_ours, unknown_handle, Resource};
use crate::wasi::{fdflags, Errno, EBADF, EINVAL, EISDIR, ENOTDIR};
use crate::Vfs;
/// Most bytes one read hands back, as wasmtime's host caps a read of a file.
const MAX_READ: u64 = 64 * 1024;
/// Bytes of the scratch block before the buffers (results the core writes: counts, an iovec).
pub(crate) const HEAD: u32 = 64;

/// A store into the application's return area that cannot fail for a valid call: a return area
/// outside memory is the caller's bug, and the host would trap on it too.
pub(crate) fn must<T>(r: Result<T, Errno>) -> T {
    r.unwrap_or_else(|_| unknown_handle())
}

/// Writes `result<own<T>, error-code>`.
pub(crate) fn put_handle<H: P2Host>(h: &mut H, ret: i32, r: Result<i32, Errno>) {
    let bytes = r.map(|handle| handle.to_le_bytes());
    must(put_result(
        h,
        ret,
        Payload::At4,
        bytes.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// Writes `result<_, error-code>`.
pub(crate) fn put_unit<H: P2Host>(h: &mut H, ret: i32, r: Result<(), Errno>) {
    must(put_result(h, ret, Payload::At1, r.map(|()| &[][..])));
}

/// A new application block holding `bytes` (`cabi_realloc`), as a (pointer, length) pair.
pub(crate) fn alloc_bytes<H: P2Host>(
    h: &mut H,
    bytes: &[u8],
    align: u32,
) -> Result<(u32, u32), Errno> {
    let ptr = h.realloc(0, 0, align, bytes.len() as u32);
    mem::write_bytes(h, ptr, bytes)?;
    Ok((ptr, bytes.len() as u32))
}

/// The preview 1 `filestat` of core fd `fd`.
pub(crate) fn filestat<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: u32,
) -> Result<Filestat, Errno> {
    let s = vfs.scratch(h)?;
    Errno::check(vfs.fd_filestat_get(h, fd as i32, s as i32))?;
    Filestat::load(h, s)
}

/// `get-directories`: the host's preopens (unless the program record hides them), then one
/// descriptor per embedded mount, in order.
pub(crate) fn get_directories<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, ret: i32) {
    vfs.start(h);
    let deny = vfs
        .image
        .and_then(|i| i.config())
        .is_some_and(|c| c.host_dirs_deny());
    let (list, len) = if deny {
        (0, 0)
    } else {
        h.get_directories(ret);
        (
            must(mem::load_u32(h, ret as u32)),
            must(mem::load_u32(h, ret as u32 + 4)),
        )
    };
    let mounts: alloc::vec::Vec<(u32, crate::fdtable::Open)> = vfs
        .table
        .iter()
        .filter_map(|(fd, s)| match s {
            Slot::Embedded(o) if o.preopen.is_some() => Some((fd, *o)),
            _ => None,
        })
        .collect();
    let total = len + mounts.len() as u32;
    let new = h.realloc(list, len * 12, 4, total * 12);
    let mut at = new + len * 12;
    for (fd, o) in mounts {
        let name = must(vfs.preopen_name(&o)).unwrap_or(b"").to_vec();
        let dup = must(vfs.dup_fd(fd));
        let handle = vfs.p2.insert(Resource::Descriptor(dup));
        let (ptr, n) = must(alloc_bytes(h, &name, 1));
        let mut e = [0u8; 12];
        e[0..4].copy_from_slice(&handle.to_le_bytes());
        e[4..8].copy_from_slice(&ptr.to_le_bytes());
        e[8..12].copy_from_slice(&n.to_le_bytes());
        must(mem::write_bytes(h, at, &e));
        at += 12;
    }
    must(mem::store_u32(h, ret as u32, new));
    must(mem::store_u32(h, ret as u32 + 4, total));
}

/// A descriptor that can be read from: a directory is `is-directory` (as the host answers), a
/// file not open for reading `bad-descriptor`.
fn readable_file(o: &crate::fdtable::Open) -> Result<(), Errno> {
    match (o.kind, o.read) {
        (OpenKind::Dir, _) => Err(EISDIR),
        (OpenKind::File, false) => Err(EBADF),
        (OpenKind::File, true) => Ok(()),
    }
}

/// `[method]descriptor.read-via-stream`.
pub(crate) fn descriptor_read_via_stream<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    offset: i64,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_read_via_stream(fd, offset, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = vfs.open_at_fd(core).and_then(|o| {
        readable_file(&o)?;
        let dup = vfs.dup_fd(core)?;
        Ok(vfs.p2.insert(Resource::Input {
            fd: dup,
            offset: offset as u64,
        }))
    });
    put_handle(h, ret, r);
}

/// `[method]descriptor.write-via-stream`: embedded files are read-only here (packing a native
/// component with writable mounts is refused), and wasmtime answers `bad-descriptor` for a
/// descriptor without write permission.
pub(crate) fn descriptor_write_via_stream<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    offset: i64,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_write_via_stream(fd, offset, ret);
    }
    vfs.descriptor_fd(fd);
    put_handle(h, ret, Err(EBADF));
}

/// `[method]descriptor.append-via-stream` (see `write-via-stream`).
pub(crate) fn descriptor_append_via_stream<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_append_via_stream(fd, ret);
    }
    vfs.descriptor_fd(fd);
    put_handle(h, ret, Err(EBADF));
}

/// `[method]descriptor.advise`.
pub(crate) fn descriptor_advise<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    offset: i64,
    len: i64,
    advice: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_advise(fd, offset, len, advice, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.fd_advise(h, core, offset, len, advice));
    put_unit(h, ret, r);
}

/// `[method]descriptor.sync-data`.
pub(crate) fn descriptor_sync_data<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, fd: i32, ret: i32) {
    if !is_ours(fd) {
        return h.descriptor_sync_data(fd, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.fd_datasync(h, core));
    put_unit(h, ret, r);
}

/// `[method]descriptor.sync`.
pub(crate) fn descriptor_sync<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, fd: i32, ret: i32) {
    if !is_ours(fd) {
        return h.descriptor_sync(fd, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.fd_sync(h, core));
    put_unit(h, ret, r);
}

/// `[method]descriptor.get-flags`: `read` for what is open for reading, `write` for writing,
/// and the sync flags from the fd's flags.
pub(crate) fn descriptor_get_flags<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, fd: i32, ret: i32) {
    if !is_ours(fd) {
        return h.descriptor_get_flags(fd, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = vfs.open_at_fd(core).map(|o| {
        let mut f = 0u8;
        if o.read {
            f |= 1;
        }
        if o.write {
            f |= 2;
        }
        if o.flags & fdflags::SYNC != 0 {
            f |= 4;
        }
        if o.flags & fdflags::DSYNC != 0 {
            f |= 8;
        }
        if o.flags & fdflags::RSYNC != 0 {
            f |= 16;
        }
        [f]
    });
    must(put_result(
        h,
        ret,
        Payload::At1,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.get-type`.
pub(crate) fn descriptor_get_type<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, fd: i32, ret: i32) {
    if !is_ours(fd) {
        return h.descriptor_get_type(fd, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = filestat(vfs, h, core).map(|st| [crate::p2::abi::descriptor_type(st.filetype)]);
    must(put_result(
        h,
        ret,
        Payload::At1,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.set-size`.
pub(crate) fn descriptor_set_size<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    size: i64,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_set_size(fd, size, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = Errno::check(vfs.fd_filestat_set_size(h, core, size));
    put_unit(h, ret, r);
}

/// A `new-timestamp` (case, seconds, nanoseconds) as preview 1 `fst_flags` bits (`set` for a
/// timestamp, `now` for now) and nanoseconds.
fn new_timestamp(tag: i32, sec: i64, nsec: i32, set: u16, now: u16) -> Result<(u16, i64), Errno> {
    match tag {
        0 => Ok((0, 0)),
        1 => Ok((now, 0)),
        2 => (sec as u64)
            .checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(nsec as u32 as u64))
            .map(|ns| (set, ns as i64))
            .ok_or(crate::wasi::EOVERFLOW),
        _ => Err(EINVAL),
    }
}

/// Both `new-timestamp`s of a `set-times` call as preview 1 (atim, mtim, fst_flags).
#[allow(clippy::too_many_arguments)]
pub(crate) fn times(
    atag: i32,
    asec: i64,
    ansec: i32,
    mtag: i32,
    msec: i64,
    mnsec: i32,
) -> Result<(i64, i64, i32), Errno> {
    use crate::wasi::fstflags::{ATIM, ATIM_NOW, MTIM, MTIM_NOW};
    let (af, a) = new_timestamp(atag, asec, ansec, ATIM, ATIM_NOW)?;
    let (mf, m) = new_timestamp(mtag, msec, mnsec, MTIM, MTIM_NOW)?;
    Ok((a, m, (af | mf) as i32))
}

/// `[method]descriptor.set-times`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn descriptor_set_times<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    atag: i32,
    asec: i64,
    ansec: i32,
    mtag: i32,
    msec: i64,
    mnsec: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_set_times(fd, atag, asec, ansec, mtag, msec, mnsec, ret);
    }
    let core = vfs.descriptor_fd(fd) as i32;
    let r = times(atag, asec, ansec, mtag, msec, mnsec)
        .and_then(|(a, m, f)| Errno::check(vfs.fd_filestat_set_times(h, core, a, m, f)));
    put_unit(h, ret, r);
}

/// Reads at most `len` bytes at `offset` of core fd `fd` into a new application block:
/// (pointer, bytes read).
pub(crate) fn read_block<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: u32,
    len: u64,
    offset: u64,
) -> Result<(u32, u32), Errno> {
    let want = len.min(MAX_READ) as u32;
    let s = vfs.scratch(h)?;
    let buf = h.realloc(0, 0, 1, want);
    let mut iov = [0u8; 8];
    iov[..4].copy_from_slice(&buf.to_le_bytes());
    iov[4..].copy_from_slice(&want.to_le_bytes());
    mem::write_bytes(h, s + 8, &iov)?;
    Errno::check(vfs.fd_pread(h, fd as i32, (s + 8) as i32, 1, offset as i64, s as i32))?;
    Ok((buf, mem::load_u32(h, s)?))
}

/// `[method]descriptor.read`: the bytes and whether the end of the file was reached (a read
/// that returns nothing for a non-empty request, as wasmtime says).
pub(crate) fn descriptor_read<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    len: i64,
    offset: i64,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_read(fd, len, offset, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = vfs.open_at_fd(core).and_then(|o| {
        readable_file(&o)?;
        let (ptr, n) = read_block(vfs, h, core, len as u64, offset as u64)?;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&ptr.to_le_bytes());
        b[4..8].copy_from_slice(&n.to_le_bytes());
        b[8] = u8::from(n == 0 && len != 0);
        Ok(b)
    });
    must(put_result(
        h,
        ret,
        Payload::At4,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.write`: see `write-via-stream`.
pub(crate) fn descriptor_write<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    buf: i32,
    buf_len: i32,
    offset: i64,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_write(fd, buf, buf_len, offset, ret);
    }
    vfs.descriptor_fd(fd);
    must(put_result(h, ret, Payload::At8, Err(EBADF)));
}

/// `[method]descriptor.read-directory`.
pub(crate) fn descriptor_read_directory<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    ret: i32,
) {
    if !is_ours(fd) {
        return h.descriptor_read_directory(fd, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = vfs.open_at_fd(core).and_then(|o| {
        if o.kind != OpenKind::Dir {
            return Err(ENOTDIR);
        }
        let dup = vfs.dup_fd(core)?;
        Ok(vfs.p2.insert(Resource::Entries { fd: dup, cookie: 0 }))
    });
    put_handle(h, ret, r);
}

/// `[method]directory-entry-stream.read-directory-entry`: the next entry other than `.` and
/// `..`, or none at the end.
pub(crate) fn directory_entry_stream_read_directory_entry<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    stream: i32,
    ret: i32,
) {
    if !is_ours(stream) {
        return h.directory_entry_stream_read_directory_entry(stream, ret);
    }
    let Resource::Entries { fd, mut cookie } = vfs.p2.get(stream) else {
        unknown_handle()
    };
    let r = (|| -> Result<[u8; 16], Errno> {
        let s = vfs.scratch(h)?;
        loop {
            let buf = s + HEAD;
            let cap = super::SCRATCH_LEN - HEAD;
            Errno::check(vfs.fd_readdir(
                h,
                fd as i32,
                buf as i32,
                cap as i32,
                cookie as i64,
                s as i32,
            ))?;
            let used = mem::load_u32(h, s)?;
            if used < 24 {
                return Ok([0; 16]);
            }
            let head = mem::read_bytes(h, buf, 24)?;
            let next = u64::from_le_bytes(head[0..8].try_into().map_err(|_| EINVAL)?);
            let namlen = u32::from_le_bytes(head[16..20].try_into().map_err(|_| EINVAL)?);
            let ty = head[20];
            cookie = next;
            vfs.p2.set(stream, Resource::Entries { fd, cookie });
            let name = mem::read_bytes(h, buf + 24, namlen)?;
            if name == b"." || name == b".." {
                continue;
            }
            let (ptr, n) = alloc_bytes(h, &name, 1)?;
            let mut b = [0u8; 16];
            b[0] = 1; // some
            b[4] = crate::p2::abi::descriptor_type(ty);
            b[8..12].copy_from_slice(&ptr.to_le_bytes());
            b[12..16].copy_from_slice(&n.to_le_bytes());
            return Ok(b);
        }
    })();
    must(put_result(
        h,
        ret,
        Payload::At4,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.stat`.
pub(crate) fn descriptor_stat<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, fd: i32, ret: i32) {
    if !is_ours(fd) {
        return h.descriptor_stat(fd, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = filestat(vfs, h, core).map(|st| st.descriptor_stat());
    must(put_result(
        h,
        ret,
        Payload::At8,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.is-same-object`: one of ours and one of the host's never are.
pub(crate) fn descriptor_is_same_object<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    other: i32,
) -> i32 {
    match both(vfs, fd, other) {
        Ok(None) => h.descriptor_is_same_object(fd, other),
        Ok(Some((a, b))) => {
            let same = filestat(vfs, h, a as u32)
                .and_then(|x| filestat(vfs, h, b as u32).map(|y| (x.dev, x.ino) == (y.dev, y.ino)));
            i32::from(same.unwrap_or(false))
        }
        Err(_) => 0,
    }
}

/// Writes `result<metadata-hash-value, error-code>`.
pub(crate) fn put_hash<H: P2Host>(h: &mut H, ret: i32, r: Result<Filestat, Errno>) {
    let r = r.map(|st| {
        let (lower, upper) = st.metadata_hash();
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&lower.to_le_bytes());
        b[8..].copy_from_slice(&upper.to_le_bytes());
        b
    });
    must(put_result(
        h,
        ret,
        Payload::At8,
        r.as_ref().map(|b| &b[..]).map_err(|e| *e),
    ));
}

/// `[method]descriptor.metadata-hash`.
pub(crate) fn descriptor_metadata_hash<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, fd: i32, ret: i32) {
    if !is_ours(fd) {
        return h.descriptor_metadata_hash(fd, ret);
    }
    let core = vfs.descriptor_fd(fd);
    let r = filestat(vfs, h, core);
    put_hash(h, ret, r);
}

/// `[resource-drop]descriptor`.
pub(crate) fn drop_descriptor<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, fd: i32) {
    if !is_ours(fd) {
        return h.drop_descriptor(fd);
    }
    if let Resource::Descriptor(core) = vfs.p2.remove(fd) {
        vfs.fd_close(h, core as i32);
    } else {
        unknown_handle();
    }
}

/// `[resource-drop]directory-entry-stream`.
pub(crate) fn drop_directory_entry_stream<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, stream: i32) {
    if !is_ours(stream) {
        return h.drop_directory_entry_stream(stream);
    }
    if let Resource::Entries { fd, .. } = vfs.p2.remove(stream) {
        vfs.fd_close(h, fd as i32);
    } else {
        unknown_handle();
    }
}

pub(crate) use super::paths::{
    descriptor_create_directory_at, descriptor_link_at, descriptor_metadata_hash_at,
    descriptor_open_at, descriptor_readlink_at, descriptor_remove_directory_at,
    descriptor_rename_at, descriptor_set_times_at, descriptor_stat_at, descriptor_symlink_at,
    descriptor_unlink_file_at,
};
pub(crate) use super::streams::{
    drop_input_stream, drop_pollable, input_stream_blocking_read, input_stream_blocking_skip,
    input_stream_read, input_stream_skip, input_stream_subscribe, poll, pollable_block,
    pollable_ready,
};
