//! The `wasi:io/streams` and `wasi:io/poll` functions of the 0.2 front-end: input streams of
//! embedded files, and their pollables, which are always ready.

use crate::mem;
use crate::p2::front::{alloc_bytes, must, read_block};
use crate::p2::host::P2Host;
use crate::p2::{is_ours, unknown_handle, Resource};
use crate::Vfs;

/// Writes `result<list<u8>, stream-error>` (`closed` for `None`).
fn put_stream_bytes<H: P2Host>(h: &mut H, ret: i32, r: Option<(u32, u32)>) {
    let ret = ret as u32;
    let mut b = [0u8; 12];
    match r {
        Some((ptr, n)) => {
            b[4..8].copy_from_slice(&ptr.to_le_bytes());
            b[8..12].copy_from_slice(&n.to_le_bytes());
        }
        None => {
            b[0] = 1;
            b[4] = 1; // closed
        }
    }
    must(mem::write_bytes(h, ret, &b));
}

/// `[method]input-stream.read` and `blocking-read` (embedded files never block): at most `len`
/// bytes from the stream's offset; `closed` at the end of the file.
fn input_read<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, stream: i32, len: i64, ret: i32) {
    let Resource::Input { fd, offset } = vfs.p2.get(stream) else {
        unknown_handle()
    };
    let size = vfs
        .open_at_fd(fd)
        .and_then(|o| vfs.file_size(&o))
        .unwrap_or(0);
    if len == 0 {
        let ptr = h.realloc(0, 0, 1, 0);
        return put_stream_bytes(h, ret, Some((ptr, 0)));
    }
    if offset >= size {
        return put_stream_bytes(h, ret, None);
    }
    match read_block(vfs, h, fd, (len as u64).min(size - offset), offset) {
        Ok((ptr, n)) if n > 0 => {
            vfs.p2.set(
                stream,
                Resource::Input {
                    fd,
                    offset: offset + u64::from(n),
                },
            );
            put_stream_bytes(h, ret, Some((ptr, n)));
        }
        _ => put_stream_bytes(h, ret, None),
    }
}

/// `[method]input-stream.read`.
pub(crate) fn input_stream_read<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    s: i32,
    len: i64,
    ret: i32,
) {
    if !is_ours(s) {
        return h.input_stream_read(s, len, ret);
    }
    input_read(vfs, h, s, len, ret);
}

/// `[method]input-stream.blocking-read`.
pub(crate) fn input_stream_blocking_read<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    s: i32,
    len: i64,
    ret: i32,
) {
    if !is_ours(s) {
        return h.input_stream_blocking_read(s, len, ret);
    }
    input_read(vfs, h, s, len, ret);
}

/// `[method]input-stream.skip` and `blocking-skip`: writes `result<u64, stream-error>`.
fn input_skip<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, stream: i32, len: i64, ret: i32) {
    let Resource::Input { fd, offset } = vfs.p2.get(stream) else {
        unknown_handle()
    };
    let size = vfs
        .open_at_fd(fd)
        .and_then(|o| vfs.file_size(&o))
        .unwrap_or(0);
    let mut b = [0u8; 16];
    if len != 0 && offset >= size {
        b[0] = 1;
        b[8] = 1; // closed
    } else {
        let n = (len as u64).min(size.saturating_sub(offset));
        vfs.p2.set(
            stream,
            Resource::Input {
                fd,
                offset: offset + n,
            },
        );
        b[8..16].copy_from_slice(&n.to_le_bytes());
    }
    must(mem::write_bytes(h, ret as u32, &b));
}

/// `[method]input-stream.skip`.
pub(crate) fn input_stream_skip<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    s: i32,
    len: i64,
    ret: i32,
) {
    if !is_ours(s) {
        return h.input_stream_skip(s, len, ret);
    }
    input_skip(vfs, h, s, len, ret);
}

/// `[method]input-stream.blocking-skip`.
pub(crate) fn input_stream_blocking_skip<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    s: i32,
    len: i64,
    ret: i32,
) {
    if !is_ours(s) {
        return h.input_stream_blocking_skip(s, len, ret);
    }
    input_skip(vfs, h, s, len, ret);
}

/// `[method]input-stream.subscribe`: a pollable that is always ready.
pub(crate) fn input_stream_subscribe<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, s: i32) -> i32 {
    if !is_ours(s) {
        return h.input_stream_subscribe(s);
    }
    vfs.p2.get(s);
    vfs.p2.insert(Resource::Pollable)
}

/// `[resource-drop]input-stream`.
pub(crate) fn drop_input_stream<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, s: i32) {
    if !is_ours(s) {
        return h.drop_input_stream(s);
    }
    if let Resource::Input { fd, .. } = vfs.p2.remove(s) {
        vfs.fd_close(h, fd as i32);
    } else {
        unknown_handle();
    }
}

/// Traps unless `p` is one of our pollables.
fn our_pollable(vfs: &Vfs<'_>, p: i32) {
    if vfs.p2.get(p) != Resource::Pollable {
        unknown_handle();
    }
}

/// `[method]pollable.ready`.
pub(crate) fn pollable_ready<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, p: i32) -> i32 {
    if !is_ours(p) {
        return h.pollable_ready(p);
    }
    our_pollable(vfs, p);
    1
}

/// `[method]pollable.block`.
pub(crate) fn pollable_block<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, p: i32) {
    if !is_ours(p) {
        return h.pollable_block(p);
    }
    our_pollable(vfs, p);
}

/// `poll`: with any of our pollables in the list, their indices at once (they are ready, and
/// `poll` promises only at least one ready entry; asking the host would block on its own);
/// otherwise the host's answer.
pub(crate) fn poll<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, list: i32, len: i32, ret: i32) {
    let handles = must(mem::read_bytes(
        h,
        list as u32,
        (len as u32).saturating_mul(4),
    ));
    let ready: alloc::vec::Vec<u8> = handles
        .chunks_exact(4)
        .enumerate()
        .filter(|(_, b)| is_ours(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .flat_map(|(i, b)| {
            our_pollable(vfs, i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            (i as u32).to_le_bytes()
        })
        .collect();
    if ready.is_empty() {
        return h.poll(list, len, ret);
    }
    let (ptr, n) = must(alloc_bytes(h, &ready, 4));
    must(mem::store_u32(h, ret as u32, ptr));
    must(mem::store_u32(h, ret as u32 + 4, n / 4));
}

/// `[resource-drop]pollable`.
pub(crate) fn drop_pollable<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, p: i32) {
    if !is_ours(p) {
        return h.drop_pollable(p);
    }
    if vfs.p2.remove(p) != Resource::Pollable {
        unknown_handle();
    }
}
