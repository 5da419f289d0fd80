//! Checked access to the application's memory: every range is checked against the memory's current
//! size first, and a range that does not fit is `EFAULT` instead of a trap.

use alloc::vec;
use alloc::vec::Vec;

use crate::host::AppMemory;
use crate::wasi::{Errno, EFAULT, IOVEC_SIZE};

/// Fails with `EFAULT` unless `[ptr, ptr + len)` lies inside the application's memory.
pub fn check<H: AppMemory>(h: &mut H, ptr: u32, len: u64) -> Result<(), Errno> {
    let end = (ptr as u64).checked_add(len).ok_or(EFAULT)?;
    if end <= h.app_len() {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

/// Copies `len` application bytes at `ptr` into a new buffer.
pub fn read_bytes<H: AppMemory>(h: &mut H, ptr: u32, len: u32) -> Result<Vec<u8>, Errno> {
    check(h, ptr, len as u64)?;
    let mut buf = vec![0u8; len as usize];
    h.copy_in(&mut buf, ptr);
    Ok(buf)
}

/// Copies `bytes` to application address `ptr`.
pub fn write_bytes<H: AppMemory>(h: &mut H, ptr: u32, bytes: &[u8]) -> Result<(), Errno> {
    check(h, ptr, bytes.len() as u64)?;
    if !bytes.is_empty() {
        h.copy_out(ptr, bytes);
    }
    Ok(())
}

/// Stores a u32 result.
pub fn store_u32<H: AppMemory>(h: &mut H, ptr: u32, v: u32) -> Result<(), Errno> {
    check(h, ptr, 4)?;
    h.store_u32(ptr, v);
    Ok(())
}

/// Stores a u64 result.
pub fn store_u64<H: AppMemory>(h: &mut H, ptr: u32, v: u64) -> Result<(), Errno> {
    check(h, ptr, 8)?;
    h.store_u64(ptr, v);
    Ok(())
}

/// Loads a u32.
pub fn load_u32<H: AppMemory>(h: &mut H, ptr: u32) -> Result<u32, Errno> {
    check(h, ptr, 4)?;
    Ok(h.load_u32(ptr))
}

/// Loads a u64.
#[cfg_attr(not(feature = "p2"), allow(dead_code))]
pub fn load_u64<H: AppMemory>(h: &mut H, ptr: u32) -> Result<u64, Errno> {
    check(h, ptr, 8)?;
    Ok(u64::from(h.load_u32(ptr)) | u64::from(h.load_u32(ptr + 4)) << 32)
}

/// Reads an `iovec` array: `(buf, len)` pairs.
pub fn read_iovecs<H: AppMemory>(
    h: &mut H,
    iovs: u32,
    count: u32,
) -> Result<Vec<(u32, u32)>, Errno> {
    check(h, iovs, count as u64 * IOVEC_SIZE as u64)?;
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let at = iovs + i * IOVEC_SIZE;
        out.push((h.load_u32(at), h.load_u32(at + 4)));
    }
    Ok(out)
}
