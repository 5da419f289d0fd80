//! The wasivfs virtual filesystem: the code that runs inside a packed module.
//!
//! It owns the guest-visible fd table, serves the embedded image's files and directories read-only
//! (answering exactly what wasmtime-wasi's preview 1 would answer for the same tree preopened with
//! read-only permissions), and falls through to the host's `wasi_snapshot_preview1` functions for
//! every other fd. See `docs/design.md` ("VFS guest ABI").
//!
//! On the host the crate is an ordinary library whose logic is tested natively against a mock
//! [`host::Host`]; on `wasm32` it is the `no_std` cdylib the packer embeds.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

extern crate alloc;

mod dir;
mod exports;
pub mod fdtable;
mod file;
pub mod host;
#[cfg(target_arch = "wasm32")]
mod init;
mod layer;
mod mem;
pub mod memfs;
// On the host only the native tests call the front-end (the exports are wasm32 only).
#[cfg(feature = "p2")]
#[cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, unused_imports, unused_macros)
)]
mod p2;
mod poll;
pub mod resolve;
mod stat;
mod vfs;
pub mod wasi;

pub use vfs::Vfs;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(test)]
mod tests;
