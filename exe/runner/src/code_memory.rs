//! Makes the precompiled code executable in place, inside the file mapping.
//!
//! wasmtime does not change the protection of memory it does not own
//! (`Module::deserialize_raw`), so the runner supplies a
//! [`wasmtime::CustomCodeMemory`] that flips the text pages of the mapped
//! payload between read-only and read+execute with `mprotect`. The pages come
//! straight from the executable's file and are never written by this process,
//! so no instruction-cache maintenance is needed.

use std::sync::Arc;

use rustix::mm::{mprotect, MprotectFlags};
use wasmtime::CustomCodeMemory;

/// `mprotect`-based code publisher for memory mapped from the executable.
pub struct MappedCode {
    page_size: usize,
}

impl MappedCode {
    /// A publisher for the host's page size.
    pub fn new() -> Arc<MappedCode> {
        Arc::new(MappedCode {
            page_size: rustix::param::page_size(),
        })
    }

    fn protect(&self, ptr: *const u8, len: usize, flags: MprotectFlags) -> wasmtime::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: wasmtime hands us the page-aligned text range of the mapping
        // it was given through `deserialize_raw`; that mapping stays alive for
        // the whole process (see `payload::Payload`).
        unsafe { mprotect(ptr as *mut _, len, flags) }
            .map_err(|e| wasmtime::format_err!("cannot change code page protection: {e}"))
    }
}

impl CustomCodeMemory for MappedCode {
    fn required_alignment(&self) -> usize {
        self.page_size
    }

    fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        self.protect(ptr, len, MprotectFlags::READ | MprotectFlags::EXEC)
    }

    fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        self.protect(ptr, len, MprotectFlags::READ)
    }
}
