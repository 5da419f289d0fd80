//! Pack-time initialisation (`wasivfs_init`, run once under Wizer) and the record of where the image
//! landed in this module's memory.

use core::sync::atomic::{AtomicU32, Ordering};

/// Address of the image in the VFS memory (0 = no image).
static IMAGE_ADDR: AtomicU32 = AtomicU32::new(0);
/// Length of the image in bytes.
static IMAGE_LEN: AtomicU32 = AtomicU32::new(0);
/// Where the image is, as `(address, length)`; `None` before `wasivfs_init` ran (or for an empty one).
pub fn image_location() -> Option<(u32, u32)> {
    let addr = IMAGE_ADDR.load(Ordering::Relaxed);
    let len = IMAGE_LEN.load(Ordering::Relaxed);
    (addr != 0 && len != 0).then_some((addr, len))
}

/// Declares the pack-time imports and the init export under the names the ABI gives them.
macro_rules! pack_functions {
    (module = $module:literal; init_export = $init:literal;
     $( fn $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {
        mod pack {
            #[link(wasm_import_module = $module)]
            extern "C" {
                $( pub fn $name($($arg: $ty),*) $(-> $ret)?; )*
            }
        }

        /// Wizer's init function: grows memory by `ceil(len / 65536)` pages for the image
        /// (metadata only: file contents stay in the module's passive segments) and tells the
        /// packer where those (64 KiB aligned) pages start. The pages stay zero under Wizer: the
        /// packer writes the image there as a data segment of its own, so that the image never
        /// goes through the snapshot.
        #[export_name = $init]
        extern "C" fn wasivfs_init() {
            init();
        }
    };
}
wasivfs_abi::for_each_pack_function!(pack_functions);

fn init() {
    // SAFETY: pack-time imports with the documented signatures.
    crate::layer::set(unsafe { pack::layer() } as u32);
    // SAFETY: as above.
    let len = unsafe { pack::image_len() } as u32;
    if len == 0 {
        return;
    }
    let pages = len.div_ceil(crate::host::PAGE as u32);
    let old = core::arch::wasm32::memory_grow(0, pages as usize);
    if old == usize::MAX {
        core::arch::wasm32::unreachable();
    }
    let addr = (old as u32) * crate::host::PAGE as u32;
    // SAFETY: a pack-time import with the documented signature.
    unsafe { pack::image_placed(addr as i32, len as i32) };
    IMAGE_ADDR.store(addr, Ordering::Relaxed);
    IMAGE_LEN.store(len, Ordering::Relaxed);
}

/// The image bytes placed by `wasivfs_init`.
pub fn image_bytes() -> Option<&'static [u8]> {
    let (addr, len) = image_location()?;
    // SAFETY: `wasivfs_init` reserved exactly this range, the packer's data segment fills it at
    // instantiation, and nothing writes to it afterwards.
    Some(unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) })
}
