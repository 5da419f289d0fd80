//! Pre-initializes the VFS module with its image, using Wizer on a plain synchronous wasmtime store.
//!
//! The VFS's `wasivfs_init` pulls the image through the `wasivfs_pack` imports defined here:
//! the layout's metadata first, then each distinct file content read straight from its host file
//! into guest memory. Wizer then turns the memory into data segments.

use crate::error::{PackError, Result};
use crate::progress::{Event, NoProgress, Progress};
use crate::walk::{Roots, Source};
use std::future::Future;
use std::io::Read;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use wasivfs_image::builder::Layout;
use wasmtime::{Caller, Config, Engine, Extern, Instance, Linker, Module, OptLevel, Store};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// The VFS export Wizer runs.
pub const INIT_FUNC: &str = "wasivfs_init";
/// The import module of the pack-time functions.
const PACK_MODULE: &str = "wasivfs_pack";

/// A snapshotted VFS and where its image landed.
pub struct Snapshot {
    /// The Wizer output (before `trampoline_gen::prepare_vfs`): the VFS with its own state, but
    /// with the image pages left out (see [`snapshot_with`]).
    pub wasm: Vec<u8>,
    /// Address of the image in the VFS memory.
    pub image_addr: u32,
    /// Length of the image.
    pub image_len: u32,
    /// The image again, from the start, for the data segment the merger writes.
    pub image: ImageSource,
}

/// Streams the image bytes (metadata, then file contents read from the host) into a buffer.
pub struct ImageSource {
    stream: ImageStream,
}

impl ImageSource {
    /// Fills `out` with the next `out.len()` bytes of the image.
    pub fn read(&mut self, out: &mut [u8]) -> Result<()> {
        self.stream.read(out)
    }
}

/// The image as a stream of byte pieces: the metadata, then each blob (zero-filled gaps never
/// occur: blobs follow each other).
struct ImageStream {
    layout: Layout<Source>,
    walked: Roots,
    /// Bytes of the image already delivered.
    pos: u64,
    /// The blob currently being read and its open file.
    current: Option<(usize, cap_std::fs::File)>,
    /// Told how far the stream got.
    progress: Arc<dyn Progress>,
}

impl ImageStream {
    /// Fills `out` with the next `out.len()` bytes of the image.
    fn read(&mut self, out: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < out.len() {
            let meta_len = self.layout.metadata.len() as u64;
            if self.pos < meta_len {
                let start = self.pos as usize;
                let n = (meta_len as usize - start).min(out.len() - done);
                out[done..done + n].copy_from_slice(&self.layout.metadata[start..start + n]);
                done += n;
                self.pos += n as u64;
                continue;
            }
            if self.pos >= self.layout.total_len {
                return Err(PackError::Options {
                    what: "image".into(),
                    reason: "the VFS read past the end of the image".into(),
                });
            }
            // Blobs are contiguous from the end of the metadata, so find the one holding `pos`.
            let index = self
                .layout
                .blobs
                .partition_point(|b| b.offset + b.len <= self.pos);
            let blob = &self.layout.blobs[index.min(self.layout.blobs.len().saturating_sub(1))];
            if self.current.as_ref().map(|c| c.0) != Some(index) {
                let file = self.walked.open(&blob.source)?;
                self.current = Some((index, file));
            }
            let within = self.pos - blob.offset;
            let n = ((blob.len - within) as usize).min(out.len() - done);
            let path = self.walked.host_path(&blob.source);
            if let Some((_, file)) = self.current.as_mut() {
                read_exact_or_changed(file, &mut out[done..done + n], &path)?;
            }
            done += n;
            self.pos += n as u64;
            if self.pos == blob.offset + blob.len {
                // The file must end exactly where it ended during the walk.
                if let Some((_, mut file)) = self.current.take() {
                    let mut probe = [0u8; 1];
                    match file.read(&mut probe) {
                        Ok(0) => {}
                        Ok(_) => return Err(changed(&path)),
                        Err(e) => return Err(PackError::io(&path, e)),
                    }
                }
            }
        }
        self.progress.event(Event::Snapshot {
            done: self.pos,
            total: self.layout.total_len,
        });
        Ok(())
    }
}

fn changed(path: &Path) -> PackError {
    PackError::entry(path, "the file changed size while it was being packed")
}

fn read_exact_or_changed(file: &mut cap_std::fs::File, out: &mut [u8], path: &Path) -> Result<()> {
    file.read_exact(out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            changed(path)
        } else {
            PackError::io(path, e)
        }
    })
}

/// Store data while `wasivfs_init` runs.
struct PackState {
    stream: ImageStream,
    placed: Option<(u32, u32)>,
    error: Option<PackError>,
}

/// Runs `wasivfs_init` of `vfs_wasm` with the image described by `layout` and snapshots the result.
/// `input` names the module being packed, for messages.
pub fn snapshot(
    vfs_wasm: &[u8],
    layout: Layout<Source>,
    roots: Roots,
    input: &Path,
) -> Result<Snapshot> {
    snapshot_with(vfs_wasm, layout, roots, input, Arc::new(NoProgress))
}

/// [`snapshot`], reporting how much of the image has been streamed to `progress`.
pub fn snapshot_with(
    vfs_wasm: &[u8],
    layout: Layout<Source>,
    roots: Roots,
    input: &Path,
    progress: Arc<dyn Progress>,
) -> Result<Snapshot> {
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
    let module = Module::new(&engine, &instrumented)
        .map_err(|e| fail(format!("cannot compile the VFS module: {e:#}")))?;

    let total_len = layout.total_len;
    let image_len = u32::try_from(total_len)
        .map_err(|_| fail(format!("the image is {total_len} bytes, more than 4 GiB")))?;
    let state = PackState {
        stream: ImageStream {
            layout,
            walked: roots,
            pos: 0,
            current: None,
            progress,
        },
        placed: None,
        error: None,
    };
    let mut store = Store::new(&engine, state);
    let mut linker: Linker<PackState> = Linker::new(&engine);
    define_pack_imports(&mut linker, image_len).map_err(|e| fail(format!("{e:#}")))?;
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
        return Err(match store.data_mut().error.take() {
            Some(err) => err,
            None => fail(format!("`{INIT_FUNC}` trapped: {e:#}")),
        });
    }
    if let Some(err) = store.data_mut().error.take() {
        return Err(err);
    }
    if store.data().stream.pos != total_len {
        return Err(fail(format!(
            "the VFS read {} of the {total_len} image bytes",
            store.data().stream.pos
        )));
    }
    let placed = store.data().placed;
    let (image_addr, placed_len) = match placed {
        Some(p) => p,
        None if image_len == 0 => (0, 0),
        None => return Err(fail("the VFS did not report where the image landed".into())),
    };
    if placed_len != image_len {
        return Err(fail(format!(
            "the VFS placed {placed_len} bytes, but the image has {image_len}"
        )));
    }

    // The image goes into the output as one data segment that the merger fills straight from the
    // host files. Wizer's rewrite would hold it three times over (its segment copies, the encoded
    // data section and the module), so blank it here and let Wizer snapshot the VFS's own state:
    // its statics, heap and globals, and the memory size that covers the image.
    if let Some(memory) = instance.get_memory(&mut store, "memory") {
        let data = memory.data_mut(&mut store);
        let start = image_addr as usize;
        if let Some(image) = data.get_mut(start..start + image_len as usize) {
            blank(image);
        }
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
    let mut stream = store.into_data().stream;
    stream.pos = 0;
    stream.current = None;
    // The second pass is part of writing the output, not of the snapshot's progress.
    stream.progress = Arc::new(NoProgress);
    Ok(Snapshot {
        wasm,
        image_addr,
        image_len,
        image: ImageSource { stream },
    })
}

fn define_pack_imports(linker: &mut Linker<PackState>, image_len: u32) -> wasmtime::Result<()> {
    linker.func_wrap(PACK_MODULE, "image_len", move || image_len as i32)?;
    linker.func_wrap(
        PACK_MODULE,
        "image_read",
        |mut caller: Caller<'_, PackState>, dst: i32, len: i32| -> wasmtime::Result<()> {
            let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                wasmtime::bail!("the VFS exports no memory");
            };
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let (dst, len) = (dst as u32 as usize, len as u32 as usize);
            let Some(out) = dst.checked_add(len).and_then(|end| data.get_mut(dst..end)) else {
                wasmtime::bail!("image_read out of bounds");
            };
            if let Err(e) = state.stream.read(out) {
                state.error = Some(e);
                wasmtime::bail!("reading the image failed");
            }
            Ok(())
        },
    )?;
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

/// Sets `data` to zeros, returning whole pages to the OS instead of writing them where possible.
fn blank(data: &mut [u8]) {
    const PAGE: usize = 4096;
    let start = data.as_ptr() as usize;
    let head = (start.next_multiple_of(PAGE) - start).min(data.len());
    let body = (data.len() - head) / PAGE * PAGE;
    if body > 0 && release_pages(&mut data[head..head + body]) {
        data[..head].fill(0);
        data[head + body..].fill(0);
    } else {
        data.fill(0);
    }
}

/// Drops the physical pages behind the page-aligned `data`, so they read back as zeros. Returns
/// whether that happened.
#[cfg(target_os = "linux")]
fn release_pages(data: &mut [u8]) -> bool {
    // SAFETY: the range is `data`, borrowed mutably for the whole call, so no other reference
    // observes it. It lies in pages the VFS grew at init time, which wasmtime backs with a
    // private anonymous mapping: `MADV_DONTNEED` makes them read back as zeros, and every byte
    // stays initialized.
    unsafe {
        rustix::mm::madvise(
            data.as_mut_ptr().cast(),
            data.len(),
            rustix::mm::Advice::LinuxDontNeed,
        )
    }
    .is_ok()
}

#[cfg(not(target_os = "linux"))]
fn release_pages(_data: &mut [u8]) -> bool {
    false
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
