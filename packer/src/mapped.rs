//! A read-only memory map of a file: the written output is validated through it, so that only
//! the pages the validator reads (headers and code, never the passive contents) are brought into
//! memory, and they are dropped with the map.

use std::fs::File;
use std::ptr::NonNull;

/// A private, read-only mapping of a whole file.
pub(crate) struct Mapped {
    ptr: Option<NonNull<u8>>,
    len: usize,
}

impl Mapped {
    /// Maps `file` as it is now. The file must not be truncated while mapped (it is the
    /// packer's own temporary file).
    pub(crate) fn new(file: &File) -> std::io::Result<Self> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("the file does not fit in the address space"))?;
        if len == 0 {
            return Ok(Mapped { ptr: None, len });
        }
        // SAFETY: a fresh mapping (no fixed address) of `len` bytes of a file open for reading;
        // nothing else in this process maps or truncates it while the map lives.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::PRIVATE,
                file,
                0,
            )
        }?;
        Ok(Mapped {
            ptr: NonNull::new(ptr.cast()),
            len,
        })
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self.ptr {
            // SAFETY: the mapping is `len` readable bytes and lives as long as `self`.
            Some(p) => unsafe { std::slice::from_raw_parts(p.as_ptr(), self.len) },
            None => &[],
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if let Some(p) = self.ptr {
            // SAFETY: unmaps exactly the mapping made in `new`; no slice of it outlives `self`.
            let _ = unsafe { rustix::mm::munmap(p.as_ptr().cast(), self.len) };
        }
    }
}
