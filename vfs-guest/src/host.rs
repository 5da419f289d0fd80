//! What the VFS needs from its surroundings: the real preview 1 functions (to fall through) and the
//! intrinsics over the application's memory.
//!
//! On wasm32, [`WasmHost`] calls the imports `wasi_snapshot_preview1.*` and `wasivfs_app.*`. Native
//! tests implement [`Host`] with a mock over an in-memory application memory.

/// Size of one wasm page in bytes.
pub const PAGE: u64 = wasivfs_abi::PAGE_SIZE;

/// Declares the intercepted preview 1 functions once: the [`Wasi`] trait, the wasm32 imports and
/// their forwarding implementation, and (through `$extra`) anything else generated from the list.
macro_rules! wasi_functions {
    (module = $module:literal; export_prefix = $prefix:literal;
     $( fn $name:ident ( $($arg:ident : $ty:ty),* ); )*) => {
        /// The host's preview 1 functions for every name in the intercept list, with their raw
        /// signatures (pointers are application addresses; the return value is an errno).
        pub trait Wasi {
            $(
                #[allow(missing_docs, clippy::too_many_arguments)]
                fn $name(&mut self, $($arg: $ty),*) -> i32;
            )*
        }

        #[cfg(target_arch = "wasm32")]
        mod raw {
            #[link(wasm_import_module = $module)]
            extern "C" {
                $( pub fn $name($($arg: $ty),*) -> i32; )*
            }
        }

        #[cfg(target_arch = "wasm32")]
        impl Wasi for WasmHost {
            $(
                #[allow(clippy::too_many_arguments)]
                fn $name(&mut self, $($arg: $ty),*) -> i32 {
                    // SAFETY: the import has exactly the preview 1 signature; it only touches the
                    // application's memory, never ours.
                    unsafe { raw::$name($($arg),*) }
                }
            )*
        }

        /// Implements [`Wasi`] for a type by sending every call to its
        /// `fn call(&mut self, name: &'static str, args: &[i64]) -> i32`.
        #[cfg(test)]
        macro_rules! impl_wasi_by_dispatch {
            ($t:ty) => {
                impl $crate::host::Wasi for $t {
                    $(
                        fn $name(&mut self, $($arg: $ty),*) -> i32 {
                            self.call(stringify!($name), &[$($arg as i64),*])
                        }
                    )*
                }
            };
        }
        #[cfg(test)]
        pub(crate) use impl_wasi_by_dispatch;

        /// One export `wasivfs_<name>` per intercepted function, with exactly its preview 1
        /// signature, each running the [`crate::Vfs`] method of the same name.
        #[cfg(target_arch = "wasm32")]
        pub mod exports {
            $(
                #[export_name = concat!($prefix, stringify!($name))]
                #[allow(clippy::too_many_arguments)]
                extern "C" fn $name($($arg: $ty),*) -> i32 {
                    crate::exports::dispatch(|vfs, host| vfs.$name(host, $($arg),*))
                }
            )*
        }
    };
}

wasivfs_abi::for_each_intercepted!(wasi_functions);

/// The application's linear memory, reached through the merger's intrinsics. Callers check bounds
/// against [`AppMemory::app_len`] first: the intrinsics trap when out of bounds.
pub trait AppMemory {
    /// The application memory's current size in bytes.
    fn app_len(&mut self) -> u64;
    /// Copies `dst.len()` bytes from application address `src` into `dst`.
    fn copy_in(&mut self, dst: &mut [u8], src: u32);
    /// Copies `src` to application address `dst`.
    fn copy_out(&mut self, dst: u32, src: &[u8]);
    /// Copies `len` bytes of content segment `segment` (0 = this image's first), starting at
    /// `offset` within it, to application address `dst` (a `memory.init`). The caller checked the
    /// application range; the segment range comes from the image.
    fn copy_content(&mut self, dst: u32, segment: u32, offset: u32, len: u32);
    /// Loads a little-endian u32.
    fn load_u32(&mut self, addr: u32) -> u32;
    /// Loads a little-endian u64.
    fn load_u64(&mut self, addr: u32) -> u64;
    /// Stores a little-endian u32.
    fn store_u32(&mut self, addr: u32, v: u32);
    /// Stores a little-endian u64.
    fn store_u64(&mut self, addr: u32, v: u64);
    /// The application's `cabi_realloc(old, old_size, align, new_size)`: a new or resized block
    /// of application memory (traps if the application exports no `cabi_realloc`).
    fn realloc(&mut self, old: u32, old_size: u32, align: u32, new_size: u32) -> u32;
}

/// The host's realtime clock: `wasi_snapshot_preview1.clock_time_get`, which the VFS does not
/// intercept but calls for the times of written files (its result lands in application memory).
pub trait Clock {
    /// `clock_time_get(id, precision, time_out)`, with `time_out` an application address.
    fn clock_time_get(&mut self, id: i32, precision: i64, time_out: i32) -> i32;
}

/// Everything the VFS core needs: the host's preview 1 functions, its clock and the application's
/// memory.
pub trait Host: Wasi + AppMemory + Clock {}
impl<T: Wasi + AppMemory + Clock> Host for T {}

/// The host's realtime clock in nanoseconds, read through application address 0 (its bytes are
/// saved and put back); `None` if the module cannot reach it (an application that does not import
/// `clock_time_get` leaves the VFS a stub answering `ENOSYS`).
pub fn clock<H: Host>(h: &mut H) -> Option<u64> {
    if h.app_len() < 8 {
        return None;
    }
    let mut saved = [0u8; 8];
    h.copy_in(&mut saved, 0);
    let t = (h.clock_time_get(0, 1, 0) == 0).then(|| h.load_u64(0));
    h.copy_out(0, &saved);
    t
}

#[cfg(target_arch = "wasm32")]
mod clock {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn clock_time_get(id: i32, precision: i64, time_out: i32) -> i32;
    }
}

#[cfg(target_arch = "wasm32")]
impl Clock for WasmHost {
    fn clock_time_get(&mut self, id: i32, precision: i64, time_out: i32) -> i32 {
        // SAFETY: the import has exactly the preview 1 signature; it writes the application's
        // memory, never ours.
        unsafe { clock::clock_time_get(id, precision, time_out) }
    }
}

/// The real surroundings inside a merged module.
#[cfg(target_arch = "wasm32")]
pub struct WasmHost;

/// Declares the `wasivfs_app` intrinsics as imports (only the ones called end up imported).
macro_rules! intrinsic_imports {
    (module = $module:literal;
     $( fn $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? => $kind:ident $(($w:ident))? ; )*) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(dead_code)] // declared in full; only the intrinsics called are imported
        mod app {
            #[link(wasm_import_module = $module)]
            extern "C" {
                $( pub fn $name($($arg: $ty),*) $(-> $ret)?; )*
            }
        }
    };
}
wasivfs_abi::for_each_intrinsic!(intrinsic_imports);

#[cfg(target_arch = "wasm32")]
impl AppMemory for WasmHost {
    fn app_len(&mut self) -> u64 {
        // SAFETY: a plain intrinsic call with no arguments.
        (unsafe { app::size() } as u32 as u64) * PAGE
    }
    fn copy_in(&mut self, dst: &mut [u8], src: u32) {
        // SAFETY: `dst` is a live slice of our own memory; the caller checked the app range.
        unsafe { app::copy_in(dst.as_mut_ptr() as i32, src as i32, dst.len() as i32) }
    }
    fn copy_out(&mut self, dst: u32, src: &[u8]) {
        // SAFETY: `src` is a live slice of our own memory; the caller checked the app range.
        unsafe { app::copy_out(dst as i32, src.as_ptr() as i32, src.len() as i32) }
    }
    fn copy_content(&mut self, dst: u32, segment: u32, offset: u32, len: u32) {
        // SAFETY: plain integers; the caller checked the app range and the image the segment one.
        unsafe { app::read_content(dst as i32, segment as i32, offset as i32, len as i32) }
    }
    fn load_u32(&mut self, addr: u32) -> u32 {
        // SAFETY: the caller checked the app range.
        unsafe { app::load_u32(addr as i32) as u32 }
    }
    fn load_u64(&mut self, addr: u32) -> u64 {
        // SAFETY: the caller checked the app range.
        unsafe { app::load_u64(addr as i32) as u64 }
    }
    fn store_u32(&mut self, addr: u32, v: u32) {
        // SAFETY: the caller checked the app range.
        unsafe { app::store_u32(addr as i32, v as i32) }
    }
    fn store_u64(&mut self, addr: u32, v: u64) {
        // SAFETY: the caller checked the app range.
        unsafe { app::store_u64(addr as i32, v as i64) }
    }
    fn realloc(&mut self, old: u32, old_size: u32, align: u32, new_size: u32) -> u32 {
        // SAFETY: plain integers; the application's allocator checks its own arguments.
        unsafe { app::realloc(old as i32, old_size as i32, align as i32, new_size as i32) as u32 }
    }
}
