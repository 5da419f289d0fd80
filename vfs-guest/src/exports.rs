//! The glue between the `wasivfs_<name>` exports (generated next to the imports in [`crate::host`])
//! and the one [`Vfs`] instance of the module.

#[cfg(target_arch = "wasm32")]
use crate::{host::WasmHost, Vfs};

#[cfg(target_arch = "wasm32")]
struct State(core::cell::UnsafeCell<Option<Vfs<'static>>>);

// SAFETY: wasm32 modules here are single-threaded (shared memories are refused at pack time).
#[cfg(target_arch = "wasm32")]
unsafe impl Sync for State {}

#[cfg(target_arch = "wasm32")]
static STATE: State = State(core::cell::UnsafeCell::new(None));

/// Runs `f` on the module's [`Vfs`], creating it (over the placed image) on first use.
#[cfg(target_arch = "wasm32")]
pub(crate) fn dispatch<R>(f: impl FnOnce(&mut Vfs<'static>, &mut WasmHost) -> R) -> R {
    // SAFETY: single-threaded, and no export re-enters another (the only application code the
    // VFS calls is `cabi_realloc`, an allocator that calls no WASI function), so this is the
    // only live reference.
    let state = unsafe { &mut *STATE.0.get() };
    let vfs = state.get_or_insert_with(|| {
        // A placed image that does not parse is a damaged module: trap rather than pretend
        // there are no embedded directories.
        let image = crate::init::image_bytes().map(|b| match wasivfs_image::Image::parse(b) {
            Ok(image) => image,
            Err(_) => core::arch::wasm32::unreachable(),
        });
        Vfs::new(image)
    });
    f(vfs, &mut WasmHost)
}
