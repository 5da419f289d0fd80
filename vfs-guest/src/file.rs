//! Reading embedded files: `fd_read`, `fd_pread`, `fd_seek`, `fd_tell`. File bytes go to the
//! application straight from the module's passive content segments, with one
//! [`AppMemory::copy_content`] (a `memory.init`) per segment the requested range touches.

use wasivfs_image::Image;

use crate::fdtable::{Open, OpenKind};
use crate::host::AppMemory;
use crate::mem;
use crate::wasi::{whence, Errno, EINVAL, EIO};

/// The first non-empty `(buf, len)` of an iovec array, or `(0, 0)` if all are empty (preview 1
/// implementations read into that one buffer only).
pub fn first_non_empty<H: AppMemory>(
    h: &mut H,
    iovs: u32,
    count: u32,
) -> Result<(u32, u32), Errno> {
    let list = mem::read_iovecs(h, iovs, count)?;
    Ok(list
        .into_iter()
        .find(|(_, len)| *len != 0)
        .unwrap_or((0, 0)))
}

/// The most bytes the oracle's `fd_pread` asks the host for at once (wasmtime-wasi reads through
/// a stream with a 64 KiB buffer); its `fd_read` asks for the whole buffer.
pub const PREAD_MAX: u32 = 64 * 1024;

/// `EINVAL` where the host refuses a read: wasmtime reads host files with `pread`, and the kernel
/// refuses a range whose end (`pos` plus the `count` bytes asked for) does not fit a signed 64-bit
/// offset, however short the file. Other kinds of open pass (the read itself answers `EBADF`).
pub fn check_range(open: &Open, pos: u64, count: u32) -> Result<(), Errno> {
    if open.kind != OpenKind::File {
        return Ok(());
    }
    match pos.checked_add(u64::from(count)) {
        Some(end) if end <= i64::MAX as u64 => Ok(()),
        _ => Err(EINVAL),
    }
}

/// Copies up to `len` bytes of file `open` from offset `pos` to application address `buf` (as
/// [`crate::Vfs::w_read_at`] does in the writable tree).
/// Returns how many bytes were copied.
pub fn read_at<H: AppMemory>(
    h: &mut H,
    img: &Image<'_>,
    open: &Open,
    pos: u64,
    (buf, len): (u32, u32),
) -> Result<u32, Errno> {
    open.file()?;
    mem::check(h, buf, len as u64)?;
    let (off, size) = img.file_range(open.inode).ok_or(EIO)?;
    let start = u32::try_from(pos).unwrap_or(u32::MAX).min(size);
    let n = (size - start).min(len);
    let mut dst = buf;
    for piece in img.pieces(off + start, n) {
        h.copy_content(dst, piece.segment, piece.offset, piece.len);
        dst += piece.len;
    }
    Ok(n)
}

/// The position `fd_seek` moves file `open` to, for the image and the writable trees alike;
/// `size` is asked only for `whence::END`.
pub fn seek_position(
    open: &Open,
    offset: i64,
    wh: u8,
    size: impl FnOnce() -> Result<u64, Errno>,
) -> Result<u64, Errno> {
    open.file()?;
    match wh {
        whence::SET if offset >= 0 => Ok(offset as u64),
        whence::CUR => open.pos.checked_add_signed(offset).ok_or(EINVAL),
        whence::END => size()?.checked_add_signed(offset).ok_or(EINVAL),
        _ => Err(EINVAL),
    }
}
