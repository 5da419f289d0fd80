//! The `wasi:io/streams` and `wasi:io/poll` functions of the 0.2 front-end: input streams of
//! embedded files, and the pollables of every stream, which are always ready (the output streams
//! are in `output`).

use alloc::vec::Vec;

use crate::fdtable::Open;
use crate::mem;
use crate::p2::abi::{alloc_bytes, must, pair, put_stream, StreamError};
use crate::p2::front::{read_block, read_into};
use crate::p2::host::P2Host;
use crate::p2::output::settle;
use crate::p2::{unknown_handle, Resource};
use crate::Vfs;

/// The input stream `stream` (one of ours): its file, offset and the file's size.
fn input(vfs: &Vfs<'_>, stream: i32) -> (Open, u64, u64) {
    let Resource::Input { open, offset } = vfs.p2.get(stream) else {
        unknown_handle()
    };
    let size = vfs.file_size(&open).unwrap_or(0);
    (open, offset, size)
}

/// `[method]input-stream.read` and `blocking-read` (embedded files never block): at most `len`
/// bytes from the stream's offset; `closed` at the end of the file. Writes
/// `result<list<u8>, stream-error>`.
fn input_read<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, stream: i32, len: i64, ret: i32) {
    let (open, offset, size) = input(vfs, stream);
    if len == 0 {
        let ptr = h.realloc(0, 0, 1, 0);
        return put_stream(h, ret, 4, Ok(&pair(ptr, 0)));
    }
    if offset >= size {
        return put_stream(h, ret, 4, Err(StreamError::Closed));
    }
    match read_block(vfs, h, &open, (len as u64).min(size - offset), offset) {
        Ok((ptr, n)) if n > 0 => {
            let offset = offset + u64::from(n);
            vfs.p2.set(stream, Resource::Input { open, offset });
            put_stream(h, ret, 4, Ok(&pair(ptr, n)));
        }
        _ => put_stream(h, ret, 4, Err(StreamError::Closed)),
    }
}

/// Reads at most `len` bytes of our input stream `stream` into the application block at `buf`
/// (for `splice`): bytes read, or `closed` at the end of the file.
pub(crate) fn input_read_into<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    stream: i32,
    (buf, len): (u32, u32),
) -> Result<u32, StreamError> {
    let (open, offset, size) = input(vfs, stream);
    if len == 0 {
        return Ok(0);
    }
    if offset >= size {
        return Err(StreamError::Closed);
    }
    let want = (u64::from(len)).min(size - offset) as u32;
    match read_into(vfs, h, &open, (buf, want), offset) {
        Ok(n) if n > 0 => {
            let offset = offset + u64::from(n);
            vfs.p2.set(stream, Resource::Input { open, offset });
            Ok(n)
        }
        _ => Err(StreamError::Closed),
    }
}

/// `[method]input-stream.skip` and `blocking-skip`: writes `result<u64, stream-error>`.
fn input_skip<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, stream: i32, len: i64, ret: i32) {
    let (open, offset, size) = input(vfs, stream);
    if len != 0 && offset >= size {
        return put_stream(h, ret, 8, Err(StreamError::Closed));
    }
    let n = (len as u64).min(size.saturating_sub(offset));
    let offset = offset + n;
    vfs.p2.set(stream, Resource::Input { open, offset });
    put_stream(h, ret, 8, Ok(&n.to_le_bytes()));
}

/// Makes our pollable `p` ready (they always are): the output stream it watches settles its
/// last write. Traps unless `p` is one of our pollables.
fn ready(vfs: &mut Vfs<'_>, p: i32) {
    match vfs.p2.get(p) {
        Resource::Pollable { parent } => settle(vfs, parent),
        _ => unknown_handle(),
    }
}

served! {
    /// `[method]input-stream.read`.
    fn input_stream_read(vfs, h, s, len: i64, ret: i32) {
        input_read(vfs, h, s, len, ret);
    }

    /// `[method]input-stream.blocking-read`.
    fn input_stream_blocking_read(vfs, h, s, len: i64, ret: i32) {
        input_read(vfs, h, s, len, ret);
    }

    /// `[method]input-stream.skip`.
    fn input_stream_skip(vfs, h, s, len: i64, ret: i32) {
        input_skip(vfs, h, s, len, ret);
    }

    /// `[method]input-stream.blocking-skip`.
    fn input_stream_blocking_skip(vfs, h, s, len: i64, ret: i32) {
        input_skip(vfs, h, s, len, ret);
    }

    /// `[method]input-stream.subscribe`: a pollable that is always ready.
    fn input_stream_subscribe(vfs, h, s) -> i32 {
        input(vfs, s);
        vfs.p2.insert(Resource::Pollable { parent: s })
    }

    /// `[resource-drop]input-stream`.
    fn drop_input_stream(vfs, h, s) {
        match vfs.p2.remove(s) {
            Resource::Input { open, .. } => vfs.release(&open),
            _ => unknown_handle(),
        }
    }

    /// `[method]pollable.ready`.
    fn pollable_ready(vfs, h, p) -> i32 {
        ready(vfs, p);
        1
    }

    /// `[method]pollable.block`.
    fn pollable_block(vfs, h, p) {
        ready(vfs, p);
    }

    /// `[resource-drop]pollable`.
    fn drop_pollable(vfs, h, p) {
        if !matches!(vfs.p2.remove(p), Resource::Pollable { .. }) {
            unknown_handle();
        }
    }
}

/// `poll`: with any of our pollables in the list, at once (they are always ready) their indices
/// and those of the host's pollables that are ready now (`ready` never blocks), as a host reports
/// every ready entry; otherwise the host's answer.
pub(crate) fn poll<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, list: i32, len: i32, ret: i32) {
    let bytes = (len as u32).saturating_mul(4);
    let handles = must(mem::read_bytes(h, list as u32, bytes));
    let handles: Vec<i32> = handles
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let mut any_ours = false;
    for &p in &handles {
        if vfs.p2.is_ours(p) {
            ready(vfs, p);
            any_ours = true;
        }
    }
    if !any_ours {
        return h.poll(list, len, ret);
    }
    let mut ready = Vec::new();
    for (i, &p) in handles.iter().enumerate() {
        if vfs.p2.is_ours(p) || h.pollable_ready(p) != 0 {
            ready.extend_from_slice(&(i as u32).to_le_bytes());
        }
    }
    let (ptr, n) = must(alloc_bytes(h, &ready, 4));
    must(mem::write_bytes(h, ret as u32, &pair(ptr, n / 4)));
}
