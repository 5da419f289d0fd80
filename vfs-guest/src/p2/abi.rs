//! The canonical-ABI shapes the 0.2 front-end writes into application memory, and the one
//! mapping from the core's preview 1 errno to `wasi:filesystem`'s `error-code`.
//!
//! wasmtime-wasi serves preview 1 on top of its 0.2 host and maps each `error-code` to exactly
//! one errno ([`ERROR_CODES`] is that mapping read backwards), so the core's errno decisions,
//! which match wasmtime's preview 1, give the `error-code` its 0.2 host answers.

use crate::host::AppMemory;
use crate::mem;
use crate::wasi::{filetype, Errno, Filestat};

/// `error-code` cases by errno: (preview 1 errno, index of the case in `wasi:filesystem/types`,
/// its name).
const ERROR_CODES: [(u16, u8, &str); 37] = [
    (2, 0, "access"),
    (6, 1, "would-block"),
    (7, 2, "already"),
    (8, 3, "bad-descriptor"),
    (10, 4, "busy"),
    (16, 5, "deadlock"),
    (19, 6, "quota"),
    (20, 7, "exist"),
    (22, 8, "file-too-large"),
    (25, 9, "illegal-byte-sequence"),
    (26, 10, "in-progress"),
    (27, 11, "interrupted"),
    (28, 12, "invalid"),
    (29, 13, "io"),
    (31, 14, "is-directory"),
    (32, 15, "loop"),
    (34, 16, "too-many-links"),
    (35, 17, "message-size"),
    (37, 18, "name-too-long"),
    (43, 19, "no-device"),
    (44, 20, "no-entry"),
    (46, 21, "no-lock"),
    (48, 22, "insufficient-memory"),
    (51, 23, "insufficient-space"),
    (54, 24, "not-directory"),
    (55, 25, "not-empty"),
    (56, 26, "not-recoverable"),
    (58, 27, "unsupported"),
    (59, 28, "no-tty"),
    (60, 29, "no-such-device"),
    (61, 30, "overflow"),
    (63, 31, "not-permitted"),
    (64, 32, "pipe"),
    (69, 33, "read-only"),
    (70, 34, "invalid-seek"),
    (74, 35, "text-file-busy"),
    (75, 36, "cross-device"),
];

/// `error-code.not-permitted`: what a preview 1 errno with no 0.2 case (`ENOTCAPABLE`) becomes,
/// as wasmtime's 0.2 host answers a missing permission.
const NOT_PERMITTED: u8 = 31;
/// `error-code.unsupported`.
const UNSUPPORTED: u8 = 27;

/// The `error-code` case of an errno.
pub(crate) fn error_code(e: Errno) -> u8 {
    let raw = e.code() as u16;
    if raw == crate::wasi::ENOTCAPABLE.code() as u16 {
        return NOT_PERMITTED;
    }
    ERROR_CODES
        .iter()
        .find(|(errno, ..)| *errno == raw)
        .map_or(UNSUPPORTED, |(_, code, _)| *code)
}

/// The name of an `error-code` case (`not-permitted`).
pub(crate) fn error_code_name(code: u8) -> &'static str {
    ERROR_CODES
        .get(code as usize)
        .map_or("unsupported", |c| c.2)
}

/// A `stream-error`: the stream is closed, or its last operation failed with this `error`
/// handle (one of ours, or the host's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// `closed`.
    Closed,
    /// `last-operation-failed`.
    Failed(i32),
}

/// Writes `result<T, stream-error>` at `ret` with `T`'s payload at offset `at` (4 or 8).
pub(crate) fn put_stream<H: AppMemory>(
    h: &mut H,
    ret: i32,
    at: u32,
    r: Result<&[u8], StreamError>,
) {
    let ret = ret as u32;
    let (tag, payload) = match r {
        Ok(bytes) => (0, bytes.to_vec()),
        Err(StreamError::Failed(e)) => (1, [[0, 0, 0, 0], e.to_le_bytes()].concat()),
        Err(StreamError::Closed) => (1, [1].to_vec()),
    };
    must(mem::write_bytes(h, ret, &[tag]));
    must(mem::write_bytes(h, ret + at, &payload));
}

/// Reads the `result<T, stream-error>` a host call wrote at `ret` (`T`'s payload at `at`):
/// `Ok(())` to read the payload, or the error.
pub(crate) fn load_stream<H: AppMemory>(h: &mut H, ret: u32, at: u32) -> Result<(), StreamError> {
    if must(mem::read_bytes(h, ret, 1))[0] == 0 {
        return Ok(());
    }
    match must(mem::read_bytes(h, ret + at, 1))[0] {
        0 => Err(StreamError::Failed(
            must(mem::load_u32(h, ret + at + 4)) as i32
        )),
        _ => Err(StreamError::Closed),
    }
}

/// A `descriptor-type` from a preview 1 filetype.
pub(crate) fn descriptor_type(ft: u8) -> u8 {
    match ft {
        1 => 1,                       // block-device
        2 => 2,                       // character-device
        filetype::DIRECTORY => 3,     // directory
        filetype::SYMBOLIC_LINK => 5, // symbolic-link
        filetype::REGULAR_FILE => 6,  // regular-file
        5 | 6 => 7,                   // socket
        _ => 0,                       // unknown
    }
}

/// The `descriptor-stat` record: type, link count, size and the three timestamps (each `some`,
/// as wasmtime's host reports them on every platform it supports). Its 96 bytes end with 4 of
/// padding, which are left out: the host's lowering writes no padding, and a caller's return
/// area may end where the last field does.
pub(crate) fn stat_record(st: &Filestat) -> [u8; 92] {
    let mut r = [0u8; 92];
    r[0] = descriptor_type(st.filetype);
    r[8..16].copy_from_slice(&st.nlink.to_le_bytes());
    r[16..24].copy_from_slice(&st.size.to_le_bytes());
    for (i, ns) in [st.atim, st.mtim, st.ctim].into_iter().enumerate() {
        let at = 24 + 24 * i;
        r[at] = 1;
        r[at + 8..at + 16].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        r[at + 16..at + 20].copy_from_slice(&((ns % 1_000_000_000) as u32).to_le_bytes());
    }
    r
}

/// The `metadata-hash-value` (lower, upper) wasmtime's host derives from the same object: its
/// preview 1 `ino` is the hash's `lower` half, and `upper` is `lower` mixed with a constant.
pub(crate) fn metadata_hash(st: &Filestat) -> (u64, u64) {
    let lower = st.ino;
    (lower, (lower ^ 4_614_256_656_552_045_848).rotate_left(1))
}

/// Where a `result<T, error-code>` puts its payload: after the case byte, at `T`'s alignment.
#[derive(Clone, Copy)]
pub(crate) enum Payload {
    /// 1-byte payloads (`descriptor-type`, `descriptor-flags`, nothing).
    At1 = 1,
    /// 4-byte aligned payloads (handles, strings, lists, options of records with strings).
    At4 = 4,
    /// 8-byte aligned payloads (`descriptor-stat`, `filesize`, `metadata-hash-value`).
    At8 = 8,
}

/// Writes `result<T, error-code>` at `ret`: `ok` gives the payload bytes of `T`.
pub(crate) fn put_result<H: AppMemory>(
    h: &mut H,
    ret: i32,
    at: Payload,
    r: Result<&[u8], Errno>,
) -> Result<(), Errno> {
    let ret = ret as u32;
    let off = at as u32;
    match r {
        Ok(payload) => {
            mem::write_bytes(h, ret, &[0])?;
            mem::write_bytes(h, ret + off, payload)
        }
        Err(e) => {
            mem::write_bytes(h, ret, &[1])?;
            mem::write_bytes(h, ret + off, &[error_code(e)])
        }
    }
}

/// A store into the application's return area that cannot fail for a valid call: a return area
/// outside memory is the caller's bug, and the host would trap on it too.
pub(crate) fn must<T>(r: Result<T, Errno>) -> T {
    r.unwrap_or_else(|_| super::trap())
}

/// Writes `result<T, error-code>` at `ret`, `T`'s bytes given, and traps if `ret` is not in
/// application memory.
pub(crate) fn put<H: AppMemory, B: AsRef<[u8]>>(
    h: &mut H,
    ret: i32,
    at: Payload,
    r: Result<B, Errno>,
) {
    must(put_result(
        h,
        ret,
        at,
        r.as_ref().map(AsRef::as_ref).map_err(|e| *e),
    ));
}

/// Writes `result<own<T>, error-code>`.
pub(crate) fn put_handle<H: AppMemory>(h: &mut H, ret: i32, r: Result<i32, Errno>) {
    put(h, ret, Payload::At4, r.map(i32::to_le_bytes));
}

/// Writes `result<_, error-code>`.
pub(crate) fn put_unit<H: AppMemory>(h: &mut H, ret: i32, r: Result<(), Errno>) {
    put(h, ret, Payload::At1, r.map(|()| []));
}

/// Writes `result<metadata-hash-value, error-code>`.
pub(crate) fn put_hash<H: AppMemory>(h: &mut H, ret: i32, r: Result<Filestat, Errno>) {
    let r = r.map(|st| {
        let (lower, upper) = metadata_hash(&st);
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&lower.to_le_bytes());
        b[8..].copy_from_slice(&upper.to_le_bytes());
        b
    });
    put(h, ret, Payload::At8, r);
}

/// A new application block holding `bytes` (`cabi_realloc`), as a (pointer, length) pair.
pub(crate) fn alloc_bytes<H: AppMemory>(
    h: &mut H,
    bytes: &[u8],
    align: u32,
) -> Result<(u32, u32), Errno> {
    let ptr = h.realloc(0, 0, align, bytes.len() as u32);
    mem::write_bytes(h, ptr, bytes)?;
    Ok((ptr, bytes.len() as u32))
}

/// A (pointer, length) pair as the 8 bytes of a `list` or `string`.
pub(crate) fn pair(ptr: u32, len: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&ptr.to_le_bytes());
    b[4..].copy_from_slice(&len.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_has_one_errno() {
        for (i, (errno, code, name)) in ERROR_CODES.iter().enumerate() {
            assert_eq!(*code as usize, i, "cases in order");
            assert_eq!(error_code_name(*code), *name);
            assert!(ERROR_CODES[i + 1..].iter().all(|(e, ..)| e != errno));
        }
        assert_eq!(error_code_name(NOT_PERMITTED), "not-permitted");
        assert_eq!(error_code(crate::wasi::ENOENT), 20);
        assert_eq!(error_code(crate::wasi::ENOTCAPABLE), NOT_PERMITTED);
        assert_eq!(error_code(crate::wasi::ENOSYS), UNSUPPORTED);
    }

    #[test]
    fn stat_record_layout() {
        let st = Filestat {
            dev: 1,
            ino: 2,
            filetype: filetype::REGULAR_FILE,
            nlink: 3,
            size: 4,
            atim: 5_000_000_006,
            mtim: 7,
            ctim: 8_000_000_000,
        };
        let r = stat_record(&st);
        assert_eq!(r[0], 6);
        assert_eq!(r[8], 3);
        assert_eq!(r[16], 4);
        assert_eq!((r[24], r[32], r[40]), (1, 5, 6));
        assert_eq!((r[48], r[56], r[64]), (1, 0, 7));
        assert_eq!((r[72], r[80], r[88]), (1, 8, 0));
    }
}
