//! Which wasivfs layer this VFS is: how many layers the module had before it was packed once
//! more (0 for the first, whose VFS is the innermost). The packer says so at pack time
//! (`wasivfs_init`); the WASI 0.2 front-end tags its handles with it, so that the handles of two
//! layers of the same component are never confused.

use core::sync::atomic::{AtomicU32, Ordering};

static LAYER: AtomicU32 = AtomicU32::new(0);

/// This VFS's layer.
#[cfg_attr(not(feature = "p2"), allow(dead_code))]
pub(crate) fn get() -> u32 {
    LAYER.load(Ordering::Relaxed)
}

/// Sets this VFS's layer (`wasivfs_init`).
#[cfg(target_arch = "wasm32")]
pub(crate) fn set(layer: u32) {
    LAYER.store(layer, Ordering::Relaxed);
}
