//! One function per intercepted WASI 0.2 import (the list in
//! `wasivfs_abi::for_each_p2_intercepted!`), with its lowered signature: a host handle goes to
//! the host's function unchanged, one of ours is served by the core. The descriptor calls are
//! here; the path calls are in `paths`, the streams and pollables in `streams`, the program's
//! arguments and variables in `environment`.

use alloc::vec::Vec;

use super::paths::both;
use crate::dir::DirentSink;
use crate::fdtable::{Open, OpenKind, Slot, Tree};
use crate::host::AppMemory;
use crate::mem;
use crate::p2::abi::{
    alloc_bytes, descriptor_type, must, pair, put, put_handle, put_hash, put_unit, stat_record,
    Payload,
};
use crate::p2::{unknown_handle, OutState, Resource};
use crate::vfs::{At, Transfer};
use crate::wasi::{
    fdflags, Errno, Filestat, EBADF, EINVAL, EISDIR, ENOTCAPABLE, ENOTDIR, EOVERFLOW,
};
use crate::Vfs;

pub(crate) use super::environment::{get_arguments, get_environment};
pub(crate) use super::output::{
    drop_error, drop_output_stream, error_to_debug_string, filesystem_error_code,
    output_stream_blocking_flush, output_stream_blocking_splice,
    output_stream_blocking_write_and_flush, output_stream_blocking_write_zeroes_and_flush,
    output_stream_check_write, output_stream_flush, output_stream_splice, output_stream_subscribe,
    output_stream_write, output_stream_write_zeroes,
};
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

/// Most bytes one read hands back, as wasmtime's host caps a read of a file.
pub(crate) const MAX_READ: u64 = 64 * 1024;
/// Bytes of the scratch block before the buffers (results the core writes: counts, an iovec).
pub(crate) const HEAD: u32 = 64;

/// The preview 1 `filestat` of core fd `fd`.
pub(crate) fn filestat(vfs: &Vfs<'_>, fd: u32) -> Result<Filestat, Errno> {
    vfs.filestat_of(&vfs.open_at_fd(fd)?)
}

/// `get-directories`: the host's preopens (unless the program record hides them), then one
/// descriptor per embedded mount, in order.
pub(crate) fn get_directories<H: super::host::P2Host>(vfs: &mut Vfs<'_>, h: &mut H, ret: i32) {
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
    let mounts: Vec<(u32, Open)> = vfs
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
        must(mem::write_bytes(h, at, &handle.to_le_bytes()));
        must(mem::write_bytes(h, at + 4, &pair(ptr, n)));
        at += 12;
    }
    must(mem::write_bytes(h, ret as u32, &pair(new, total)));
}

/// A descriptor that can be read from: a directory is `is-directory` (as the host answers), a
/// file not open for reading `bad-descriptor`.
fn readable_file(o: &Open) -> Result<(), Errno> {
    match (o.kind, o.read) {
        (OpenKind::Dir, _) => Err(EISDIR),
        (OpenKind::File, false) => Err(EBADF),
        (OpenKind::File, true) => Ok(()),
    }
}

/// `sync` (or with `data`, `sync-data`) of descriptor `fd` (one of ours): a file's is the core's
/// (preview 1 syncs files only); a directory's succeeds, as wasmtime's 0.2 host syncs directory
/// descriptors too.
fn sync<H: super::host::P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: i32,
    data: bool,
) -> Result<(), Errno> {
    let core = vfs.descriptor_fd(fd);
    if vfs.open_at_fd(core)?.kind == OpenKind::Dir {
        return Ok(());
    }
    let core = core as i32;
    Errno::check(if data {
        vfs.fd_datasync(h, core)
    } else {
        vfs.fd_sync(h, core)
    })
}

/// The core fd of descriptor `fd` (one of ours) if it may be written to, as wasmtime's 0.2 host
/// decides before it writes: a directory is `bad-descriptor`, a file of a read-only mount
/// `not-permitted`. (A file of a writable mount not open for writing fails at the write, with
/// `bad-descriptor`, as the system call does on the host.)
fn writable_file(vfs: &Vfs<'_>, fd: i32) -> Result<u32, Errno> {
    let core = vfs.descriptor_fd(fd);
    let o = vfs.open_at_fd(core)?;
    match (o.kind, o.tree) {
        (OpenKind::Dir, _) => Err(EBADF),
        (OpenKind::File, Tree::Image) => Err(ENOTCAPABLE),
        (OpenKind::File, Tree::Mem) => Ok(core),
    }
}

/// A new output stream on descriptor `fd` (one of ours), at `at` or appending.
fn output_stream(vfs: &mut Vfs<'_>, fd: i32, at: Option<u64>) -> Result<i32, Errno> {
    let core = writable_file(vfs, fd)?;
    let fd = vfs.dup_fd(core)?;
    let state = OutState::Ready;
    Ok(vfs.p2.insert(Resource::Output { fd, at, state }))
}

/// Reads at most `len` bytes at `offset` of the embedded file `open` into a new application
/// block: (pointer, bytes read).
pub(crate) fn read_block<H: super::host::P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    open: &Open,
    len: u64,
    offset: u64,
) -> Result<(u32, u32), Errno> {
    let want = len.min(MAX_READ) as u32;
    let buf = h.realloc(0, 0, 1, want);
    Ok((buf, read_into(vfs, h, open, (buf, want), offset)?))
}

/// Reads at most `len` bytes at `offset` of the embedded file `open` into the application block
/// `(buf, len)`: bytes read.
pub(crate) fn read_into<H: super::host::P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    open: &Open,
    block: (u32, u32),
    offset: u64,
) -> Result<u32, Errno> {
    one_block(vfs, h, open, block, offset, Vfs::read_embedded)
}

/// Writes the application block `(buf, len)` at `offset` of core fd `fd`: bytes written.
pub(crate) fn write_from<H: super::host::P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: u32,
    block: (u32, u32),
    offset: u64,
) -> Result<u32, Errno> {
    let open = vfs.open_at_fd(fd)?;
    one_block(vfs, h, &open, block, offset, Vfs::write_embedded)
}

/// What the core's `fd_pread` or `fd_pwrite` does with one iovec, the application block
/// `(buf, len)`, on the embedded file `open` at `offset` (`op`, the core's read or write of an
/// embedded fd, without the iovec's and the count's trips through application memory): the
/// count.
fn one_block<'a, H: super::host::P2Host>(
    vfs: &mut Vfs<'a>,
    h: &mut H,
    open: &Open,
    iov: (u32, u32),
    offset: u64,
    op: fn(&mut Vfs<'a>, &mut H, Transfer<'_>) -> Result<u32, Errno>,
) -> Result<u32, Errno> {
    let at = At::Offset(offset);
    // An empty block is no buffer at all, as the core's iovec calls skip empty iovecs (an empty
    // list's pointer need not be in memory).
    let iov = if iov.1 == 0 { (0, 0) } else { iov };
    op(vfs, h, Transfer { open, at, iov })
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
            .ok_or(EOVERFLOW),
        _ => Err(EINVAL),
    }
}

/// Both `new-timestamp`s of a `set-times` call, each as (case, seconds, nanoseconds), as preview
/// 1 (atim, mtim, fst_flags).
pub(crate) fn times(a: (i32, i64, i32), m: (i32, i64, i32)) -> Result<(i64, i64, i32), Errno> {
    use crate::wasi::fstflags::{ATIM, ATIM_NOW, MTIM, MTIM_NOW};
    let (af, a) = new_timestamp(a.0, a.1, a.2, ATIM, ATIM_NOW)?;
    let (mf, m) = new_timestamp(m.0, m.1, m.2, MTIM, MTIM_NOW)?;
    Ok((a, m, (af | mf) as i32))
}

served! {
    /// `[method]descriptor.read-via-stream`.
    fn descriptor_read_via_stream(vfs, h, fd, offset: i64, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = vfs.open_at_fd(core).and_then(|o| {
            readable_file(&o)?;
            let open = vfs.hold(o);
            let offset = offset as u64;
            Ok(vfs.p2.insert(Resource::Input { open, offset }))
        });
        put_handle(h, ret, r);
    }

    /// `[method]descriptor.write-via-stream`.
    fn descriptor_write_via_stream(vfs, h, fd, offset: i64, ret: i32) {
        let r = output_stream(vfs, fd, Some(offset as u64));
        put_handle(h, ret, r);
    }

    /// `[method]descriptor.append-via-stream`.
    fn descriptor_append_via_stream(vfs, h, fd, ret: i32) {
        let r = output_stream(vfs, fd, None);
        put_handle(h, ret, r);
    }

    /// `[method]descriptor.write`: all of `buf` at `offset`.
    fn descriptor_write(vfs, h, fd, buf: i32, buf_len: i32, offset: i64, ret: i32) {
        let r = writable_file(vfs, fd).and_then(|core| {
            let n = write_from(vfs, h, core, (buf as u32, buf_len as u32), offset as u64)?;
            Ok(u64::from(n).to_le_bytes())
        });
        put(h, ret, Payload::At8, r);
    }

    /// `[method]descriptor.advise`.
    fn descriptor_advise(vfs, h, fd, offset: i64, len: i64, advice: i32, ret: i32) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = Errno::check(vfs.fd_advise(h, core, offset, len, advice));
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.sync-data`.
    fn descriptor_sync_data(vfs, h, fd, ret: i32) {
        let r = sync(vfs, h, fd, true);
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.sync`.
    fn descriptor_sync(vfs, h, fd, ret: i32) {
        let r = sync(vfs, h, fd, false);
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.set-size`.
    fn descriptor_set_size(vfs, h, fd, size: i64, ret: i32) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = Errno::check(vfs.fd_filestat_set_size(h, core, size));
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.set-times`.
    fn descriptor_set_times(
        vfs, h, fd, atag: i32, asec: i64, ansec: i32, mtag: i32, msec: i64, mnsec: i32, ret: i32
    ) {
        let core = vfs.descriptor_fd(fd) as i32;
        let r = times((atag, asec, ansec), (mtag, msec, mnsec))
            .and_then(|(a, m, f)| Errno::check(vfs.fd_filestat_set_times(h, core, a, m, f)));
        put_unit(h, ret, r);
    }

    /// `[method]descriptor.get-flags`: `read` for what is open for reading, `write` for
    /// writing, and the sync flags from the fd's flags.
    fn descriptor_get_flags(vfs, h, fd, ret: i32) {
        let r = vfs.open_at_fd(vfs.descriptor_fd(fd)).map(|o| {
            let sync = [(fdflags::SYNC, 4), (fdflags::DSYNC, 8), (fdflags::RSYNC, 16)];
            let synced = sync.iter().filter(|(f, _)| o.flags & f != 0);
            [u8::from(o.read) | u8::from(o.write) << 1 | synced.map(|(_, b)| b).sum::<u8>()]
        });
        put(h, ret, Payload::At1, r);
    }

    /// `[method]descriptor.get-type`.
    fn descriptor_get_type(vfs, h, fd, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = filestat(vfs, core).map(|st| [descriptor_type(st.filetype)]);
        put(h, ret, Payload::At1, r);
    }

    /// `[method]descriptor.stat`.
    fn descriptor_stat(vfs, h, fd, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = filestat(vfs, core).map(|st| stat_record(&st));
        put(h, ret, Payload::At8, r);
    }

    /// `[method]descriptor.metadata-hash`.
    fn descriptor_metadata_hash(vfs, h, fd, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = filestat(vfs, core);
        put_hash(h, ret, r);
    }

    /// `[method]descriptor.read`: the bytes and whether the end of the file was reached (a read
    /// that returns nothing for a non-empty request, as wasmtime says).
    fn descriptor_read(vfs, h, fd, len: i64, offset: i64, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = vfs.open_at_fd(core).and_then(|o| {
            readable_file(&o)?;
            let (ptr, n) = read_block(vfs, h, &o, len as u64, offset as u64)?;
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&pair(ptr, n));
            b[8] = u8::from(n == 0 && len != 0);
            Ok(b)
        });
        put(h, ret, Payload::At4, r);
    }

    /// `[method]descriptor.read-directory`.
    fn descriptor_read_directory(vfs, h, fd, ret: i32) {
        let core = vfs.descriptor_fd(fd);
        let r = vfs.open_at_fd(core).and_then(|o| {
            if o.kind != OpenKind::Dir {
                return Err(ENOTDIR);
            }
            let fd = vfs.dup_fd(core)?;
            Ok(vfs.p2.insert(Resource::Entries { fd, cookie: 0 }))
        });
        put_handle(h, ret, r);
    }

    /// `[method]directory-entry-stream.read-directory-entry`: the next entry other than `.` and
    /// `..`, or none at the end.
    fn directory_entry_stream_read_directory_entry(vfs, h, stream, ret: i32) {
        let r = next_entry(vfs, h, stream);
        put(h, ret, Payload::At4, r);
    }

    /// `[method]descriptor.is-same-object`: one of ours and one of the host's never are.
    fn descriptor_is_same_object(vfs, h, fd, other: i32) -> i32 {
        let Ok(Some((a, b))) = both(vfs, fd, other) else {
            return 0;
        };
        let same = filestat(vfs, a as u32)
            .and_then(|x| filestat(vfs, b as u32).map(|y| (x.dev, x.ino) == (y.dev, y.ino)));
        i32::from(same.unwrap_or(false))
    }

    /// `[resource-drop]descriptor`.
    fn drop_descriptor(vfs, h, fd) {
        match vfs.p2.remove(fd) {
            Resource::Descriptor(core) => {
                vfs.fd_close(h, core as i32);
            }
            _ => unknown_handle(),
        }
    }

    /// `[resource-drop]directory-entry-stream`.
    fn drop_directory_entry_stream(vfs, h, stream) {
        match vfs.p2.remove(stream) {
            Resource::Entries { fd, .. } => {
                vfs.fd_close(h, fd as i32);
            }
            _ => unknown_handle(),
        }
    }
}

/// An entry's filetype and its name, copied into a new application block (pointer, length).
type Entry = (u8, (u32, u32));

/// The first directory entry the core gives: its `d_next` cookie and, unless it is `.` or
/// `..`, the entry.
#[derive(Default)]
struct FirstEntry(Option<(u64, Option<Entry>)>);

impl DirentSink for FirstEntry {
    fn push<H: AppMemory>(
        &mut self,
        h: &mut H,
        next: u64,
        _: u64,
        ft: u8,
        name: &[u8],
    ) -> Result<bool, Errno> {
        let entry = if name == b"." || name == b".." {
            None
        } else {
            Some((ft, alloc_bytes(h, name, 1)?))
        };
        self.0 = Some((next, entry));
        Ok(false)
    }
}

/// The payload of `option<directory-entry>` for the next entry of directory stream `stream`
/// other than `.` and `..` (the core's `fd_readdir` entries, taken one at a time).
fn next_entry<H: super::host::P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    stream: i32,
) -> Result<[u8; 16], Errno> {
    let Resource::Entries { fd, mut cookie } = vfs.p2.get(stream) else {
        unknown_handle()
    };
    let dir = vfs.open_at_fd(fd)?;
    loop {
        let mut first = FirstEntry::default();
        vfs.readdir_embedded(h, &dir, &mut first, cookie)?;
        let Some((next, entry)) = first.0 else {
            return Ok([0; 16]);
        };
        cookie = next;
        vfs.p2.set(stream, Resource::Entries { fd, cookie });
        let Some((ft, (ptr, n))) = entry else {
            continue;
        };
        let mut b = [0u8; 16];
        b[0] = 1; // some
        b[4] = descriptor_type(ft);
        b[8..16].copy_from_slice(&pair(ptr, n));
        return Ok(b);
    }
}
