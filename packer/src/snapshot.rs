//! Pre-initializes the VFS module with its image, using Wizer on a plain synchronous wasmtime store.
//!
//! The VFS's `wasivfs_init` learns the length of the image (the tree's metadata; file contents
//! never enter the VFS memory, they become passive segments of the output, see
//! [`crate::content`]) through the `wasivfs_pack` imports defined here, reserves zeroed pages for
//! it and says where they start. Wizer then turns the memory into data segments: zero pages make
//! none, so the image itself never goes through Wizer (which would hold several copies of it);
//! `trampoline_gen::prepare_vfs` writes it there as one data segment.

use crate::error::{PackError, Result};
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use wasmtime::{Caller, Config, Engine, Instance, Linker, Module, OptLevel, Store};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// The VFS export Wizer runs.
pub const INIT_FUNC: &str = wasivfs_abi::INIT_EXPORT;
/// The import module of the pack-time functions.
const PACK_MODULE: &str = wasivfs_abi::PACK_IMPORTS;

/// A snapshotted VFS and where its image landed.
pub struct Snapshot {
    /// The Wizer output (before `trampoline_gen::prepare_vfs`): the VFS with its state, and
    /// zeroed pages reserved for the image.
    pub wasm: Vec<u8>,
    /// Address of the image in the VFS memory (0 for an empty image).
    pub image_addr: u32,
    /// Length of the image.
    pub image_len: u32,
}

/// Store data while `wasivfs_init` runs: where the VFS reserved the image, once it said so.
struct PackState {
    placed: Option<(u32, u32)>,
}

/// The VFS module instrumented by Wizer and compiled, ready to take an image: its memory size is
/// known before the layout (which it bounds) without parsing the module once more.
pub struct Prepared<'v> {
    wizer: Wizer,
    cx: wasmtime_wizer::ModuleContext<'v>,
    engine: Engine,
    module: Module,
    initial_pages: u64,
    /// Trouble with the compilation cache (the pack goes on): one line each for the user.
    pub cache_warnings: Vec<String>,
}

/// Instruments and compiles `vfs_wasm`, through the compilation cache in `cache` (a
/// `wasivfs_module_cache::ModuleCache` directory) if given. `input` names the module being
/// packed, for messages.
pub fn prepare<'v>(vfs_wasm: &'v [u8], input: &Path, cache: Option<&Path>) -> Result<Prepared<'v>> {
    let fail = |reason: String| PackError::Snapshot {
        input: input.to_path_buf(),
        reason,
    };
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_FUNC);
    let (cx, instrumented) = wizer
        .instrument(vfs_wasm)
        .map_err(|e| fail(format!("cannot instrument the VFS module: {e:#}")))?;

    let mut config = Config::new();
    // The VFS runs once, briefly: compile it as fast as possible.
    config.cranelift_opt_level(OptLevel::None);
    let engine = Engine::new(&config).map_err(|e| fail(format!("{e:#}")))?;
    let compile_err = |e: anyhow::Error| fail(format!("cannot compile the VFS module: {e:#}"));
    let (module, cache_warnings) = match cache {
        None => (
            Module::new(&engine, &instrumented).map_err(|e| compile_err(e.into()))?,
            Vec::new(),
        ),
        Some(dir) => {
            let (module, lookup) = wasivfs_module_cache::ModuleCache::new(dir)
                .load_bytes(&engine, &instrumented)
                .map_err(compile_err)?;
            let warnings = lookup.troubles().into_iter();
            (module, warnings.map(|t| format!("the VFS: {t}")).collect())
        }
    };
    let initial_pages = module
        .exports()
        .find_map(|e| match e.ty() {
            wasmtime::ExternType::Memory(m) if e.name() == "memory" => Some(m.minimum()),
            _ => None,
        })
        .ok_or_else(|| fail("the VFS module exports no memory".into()))?;
    Ok(Prepared {
        wizer,
        cx,
        engine,
        module,
        initial_pages,
        cache_warnings,
    })
}

impl Prepared<'_> {
    /// The VFS memory's initial size, in 64 KiB pages.
    pub fn initial_pages(&self) -> u64 {
        self.initial_pages
    }

    /// Runs `wasivfs_init` for an image of `image_len` bytes (the layout's metadata), for a
    /// module that had `layer` wasivfs layers before this one, and snapshots the result.
    pub fn snapshot(self, image_len: usize, layer: usize, input: &Path) -> Result<Snapshot> {
        snapshot(self, image_len, layer, input)
    }
}

fn snapshot(p: Prepared<'_>, total_len: usize, layer: usize, input: &Path) -> Result<Snapshot> {
    let fail = |reason: String| PackError::Snapshot {
        input: input.to_path_buf(),
        reason,
    };
    let Prepared {
        wizer,
        cx,
        engine,
        module,
        ..
    } = p;

    let image_len = u32::try_from(total_len)
        .map_err(|_| fail(format!("the image is {total_len} bytes, more than 4 GiB")))?;
    let mut store = Store::new(&engine, PackState { placed: None });
    let mut linker: Linker<PackState> = Linker::new(&engine);
    let layer = i32::try_from(layer).map_err(|_| fail(format!("{layer} layers")))?;
    define_pack_imports(&mut linker, image_len, layer).map_err(|e| fail(format!("{e:#}")))?;
    linker
        .define_unknown_imports_as_traps(&module)
        .map_err(|e| fail(format!("{e:#}")))?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| fail(format!("cannot instantiate the VFS module: {e:#}")))?;
    let init = instance
        .get_typed_func::<(), ()>(&mut store, INIT_FUNC)
        .map_err(|e| fail(format!("the VFS module has no usable `{INIT_FUNC}`: {e:#}")))?;
    if let Err(e) = init.call(&mut store, ()) {
        return Err(fail(format!("`{INIT_FUNC}` trapped: {e:#}")));
    }
    let placed = store.data().placed;
    let (image_addr, placed_len) = match placed {
        Some(p) => p,
        None if image_len == 0 => (0, 0),
        None => return Err(fail("the VFS did not report where the image goes".into())),
    };
    if placed_len != image_len {
        return Err(fail(format!(
            "the VFS reserved {placed_len} bytes, but the image has {image_len}"
        )));
    }

    let mut state = WizerState {
        store: &mut store,
        instance,
        missing: None,
    };
    let wasm = block_on(wizer.snapshot(&cx, &mut state)).map_err(|e| fail(format!("{e:#}")))?;
    if let Some(name) = state.missing {
        return Err(fail(format!("the instrumented VFS has no export `{name}`")));
    }
    Ok(Snapshot {
        wasm,
        image_addr,
        image_len,
    })
}

fn define_pack_imports(
    linker: &mut Linker<PackState>,
    image_len: u32,
    layer: i32,
) -> wasmtime::Result<()> {
    linker.func_wrap(PACK_MODULE, "image_len", move || image_len as i32)?;
    linker.func_wrap(PACK_MODULE, "layer", move || layer)?;
    linker.func_wrap(
        PACK_MODULE,
        "image_placed",
        |mut caller: Caller<'_, PackState>, addr: i32, len: i32| {
            caller.data_mut().placed = Some((addr as u32, len as u32));
        },
    )?;
    Ok(())
}

/// Wizer's view of the initialized instance.
struct WizerState<'s> {
    store: &'s mut Store<PackState>,
    instance: Instance,
    /// An export Wizer asked for that does not exist (reported after the snapshot).
    missing: Option<String>,
}

impl InstanceState for WizerState<'_> {
    fn global_get(&mut self, name: &str, _: ValType) -> impl Future<Output = SnapshotVal> + Send {
        let value = match self.instance.get_global(&mut *self.store, name) {
            Some(g) => match g.get(&mut *self.store) {
                wasmtime::Val::I32(x) => SnapshotVal::I32(x),
                wasmtime::Val::I64(x) => SnapshotVal::I64(x),
                wasmtime::Val::F32(x) => SnapshotVal::F32(x),
                wasmtime::Val::F64(x) => SnapshotVal::F64(x),
                wasmtime::Val::V128(x) => SnapshotVal::V128(x.as_u128()),
                _ => {
                    self.missing = Some(format!("{name} (unsupported global type)"));
                    SnapshotVal::I32(0)
                }
            },
            None => {
                self.missing = Some(name.to_string());
                SnapshotVal::I32(0)
            }
        };
        std::future::ready(value)
    }

    fn memory_contents(
        &mut self,
        name: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) -> impl Future<Output = ()> + Send {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(m) => contents(m.data(&*self.store)),
            None => {
                self.missing = Some(name.to_string());
                contents(&[]);
            }
        }
        std::future::ready(())
    }
}

/// Drives a future that never actually waits (Wizer's snapshot over an in-memory instance).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
