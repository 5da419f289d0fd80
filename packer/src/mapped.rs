//! A read-only memory map of a file: the written output is validated through it, so that only
//! the pages the validator reads (headers and code, never the passive contents) are brought into
//! memory, and they are dropped with the map.

use std::fs::File;

/// A private, read-only mapping of a whole file.
pub(crate) struct Mapped(memmap2::Mmap);

impl Mapped {
    /// Maps `file` as it is now. The file must not be truncated while mapped (it is the
    /// packer's own temporary file).
    pub(crate) fn new(file: &File) -> std::io::Result<Self> {
        // SAFETY: the file is the packer's own temporary file: nothing truncates or rewrites it
        // while the map lives.
        let map = unsafe { memmap2::MmapOptions::new().map_copy_read_only(file) }?;
        Ok(Mapped(map))
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}
