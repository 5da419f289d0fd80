//! The WASI 0.2 front-end: serves a native component's `wasi:filesystem`, `wasi:io/streams` and
//! `wasi:io/poll` imports for embedded files, over the same core as preview 1.
//!
//! A 0.2 resource is an `i32` handle in the component instance's table, which wasmtime fills from
//! 1 upwards and caps below 2^28. The handles this front-end hands out (descriptors, directory
//! streams, input and output streams of embedded files, their pollables and stream errors) have
//! bit 31 set and this layer's number in bits 28 to 30, and every imported function that takes
//! one of these types is intercepted: a handle with this layer's tag is served here, any other
//! (the host's, or another layer's, which the next layer out serves) goes on unchanged, so they
//! are never confused.
//!
//! Each call is served by the core's code for the preview 1 call of the same meaning (an
//! embedded descriptor is an fd of the core's table, not visible to the application, which has
//! no preview 1 imports). The calls a walk makes on every file use the functions those preview 1
//! calls are built on, which take and return Rust values; the others call the preview 1 methods
//! with their arguments and results in a scratch block the front-end allocates once with the
//! application's `cabi_realloc`. The errno the core decides becomes the `error-code` wasmtime's
//! 0.2 host answers ([`abi::error_code`]).

/// Defines front-end functions whose first argument is a handle: a host handle goes to the
/// host's function of the same name with the same arguments, one of ours runs the body (with
/// the VFS, the host and every argument in scope under the names given).
macro_rules! served {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($vfs:ident, $h:ident, $handle:ident $(, $arg:ident: $ty:ty)*)
            $(-> $ret:ty)? $body:block
    )*) => {
        $(
            $(#[$attr])*
            #[allow(clippy::too_many_arguments)]
            pub(crate) fn $name<H: $crate::p2::host::P2Host>(
                $vfs: &mut $crate::Vfs<'_>,
                $h: &mut H,
                $handle: i32,
                $($arg: $ty),*
            ) $(-> $ret)? {
                if !$vfs.p2.is_ours($handle) {
                    return $h.$name($handle $(, $arg)*);
                }
                $body
            }
        )*
    };
}

pub(crate) mod abi;
mod environment;
pub(crate) mod front;
pub mod host;
mod output;
mod paths;
mod streams;

use alloc::vec::Vec;

use crate::fdtable::{Open, Slot, Tree};
use wasivfs_abi::{P2_HANDLE_BIT, P2_LAYER_SHIFT};

use crate::host::AppMemory;
use crate::p2::front::MAX_READ;
use crate::wasi::{Errno, EBADF, ENOMEM};
use crate::Vfs;

/// The bits of a handle that say whose it is: the host's (none set), or a layer's front-end's.
const TAG_MASK: u32 = 0xf << P2_LAYER_SHIFT;
/// The bits of a front-end handle that index its slots.
const INDEX_MASK: u32 = !TAG_MASK;

/// The tag of a layer's handles: bit 31 and the layer's number.
fn tag_of(layer: u32) -> u32 {
    P2_HANDLE_BIT | layer << P2_LAYER_SHIFT
}
/// Size of the scratch block in application memory.
pub(crate) const SCRATCH_LEN: u32 = 4096 + 64;

/// What a front-end handle stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// A `descriptor`: an fd of the core's table.
    Descriptor(u32),
    /// A `directory-entry-stream` over the directory at this fd, at a preview 1 cookie.
    Entries { fd: u32, cookie: u64 },
    /// An `input-stream` of an embedded file, at this offset: the file is held as an fd holds
    /// it ([`Vfs::hold`]), with no fd of the core's table.
    Input { open: Open, offset: u64 },
    /// An `output-stream` of the file at this fd: at an offset, or appending (`at` is `None`).
    Output {
        fd: u32,
        at: Option<u64>,
        state: OutState,
    },
    /// A `pollable` of the stream `parent` (one of ours). It is always ready (embedded files
    /// never block); becoming ready settles the last write of an output stream.
    Pollable { parent: i32 },
    /// A stream `error`: why a write to an embedded file failed.
    Error(Errno),
}

/// Where an output stream of an embedded file is, as wasmtime's file output stream goes: a
/// `write` is done at once but, as the host's runs in the background, only settles (its error
/// showing, the stream ready for the next) once the stream's pollable is ready or a blocking
/// call waits for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutState {
    /// Ready for a write.
    Ready,
    /// A write was done and has not settled: with the error it met, if any.
    Pending(Option<Errno>),
    /// The last write failed; the next call reports it and closes the stream.
    Failed(Errno),
    /// Closed (after a reported failure).
    Closed,
}

/// The front-end's handles and scratch block.
pub struct Handles {
    slots: Vec<Option<Resource>>,
    scratch: Option<u32>,
    bounce: Option<u32>,
    /// The tag of this layer's handles.
    tag: u32,
}

impl Default for Handles {
    /// No handles yet, tagged with the layer the packer gave this VFS.
    fn default() -> Self {
        Handles {
            slots: Vec::new(),
            scratch: None,
            bounce: None,
            tag: tag_of(crate::layer::get()),
        }
    }
}

/// A handle the application passed that has bit 31 set but was never handed out (or was
/// dropped): a trap, as the host traps on a handle it does not know.
pub(crate) fn unknown_handle() -> ! {
    trap()
}

/// A call the host traps on (an unknown handle, a resource dropped while a pollable of it lives,
/// a write a stream does not allow): a trap here too.
pub(crate) fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("a WASI 0.2 call the host traps on");
}

impl Handles {
    /// Whether `handle` is one this layer's front-end handed out.
    pub(crate) fn is_ours(&self, handle: i32) -> bool {
        handle as u32 & TAG_MASK == self.tag
    }

    /// Tags the handles handed out from now on with `layer` (the native tests' layers).
    #[cfg(test)]
    pub(crate) fn set_layer(&mut self, layer: u32) {
        self.tag = tag_of(layer);
    }

    /// A new handle for `r`.
    pub(crate) fn insert(&mut self, r: Resource) -> i32 {
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(r);
                i
            }
            None => {
                self.slots.push(Some(r));
                self.slots.len() - 1
            }
        };
        (i as u32 | self.tag) as i32
    }

    /// What `handle` stands for; traps if it is not one of ours.
    pub(crate) fn get(&self, handle: i32) -> Resource {
        let i = (handle as u32 & INDEX_MASK) as usize;
        match self.slots.get(i) {
            Some(Some(r)) => *r,
            _ => unknown_handle(),
        }
    }

    /// Replaces what `handle` stands for.
    pub(crate) fn set(&mut self, handle: i32, r: Resource) {
        let i = (handle as u32 & INDEX_MASK) as usize;
        match self.slots.get_mut(i) {
            Some(slot @ Some(_)) => *slot = Some(r),
            _ => unknown_handle(),
        }
    }

    /// Forgets `handle`, returning what it stood for; traps if it is not one of ours, or if a
    /// pollable of it is still alive (the host refuses to drop a resource with children).
    pub(crate) fn remove(&mut self, handle: i32) -> Resource {
        let child = Some(Resource::Pollable { parent: handle });
        if self.slots.contains(&child) {
            trap();
        }
        let i = (handle as u32 & INDEX_MASK) as usize;
        match self.slots.get_mut(i).and_then(Option::take) {
            Some(r) => r,
            None => unknown_handle(),
        }
    }
}

impl Vfs<'_> {
    /// The scratch block (allocated with the application's `cabi_realloc` on first use).
    pub(crate) fn scratch<H: AppMemory>(&mut self, h: &mut H) -> Result<u32, Errno> {
        if let Some(s) = self.p2.scratch {
            return Ok(s);
        }
        let s = h.realloc(0, 0, 8, SCRATCH_LEN);
        if s == 0 {
            return Err(ENOMEM);
        }
        self.p2.scratch = Some(s);
        Ok(s)
    }

    /// The bounce block (allocated with the application's `cabi_realloc` on the first `splice`,
    /// [`MAX_READ`] bytes): where a `splice` puts the bytes it moves.
    pub(crate) fn bounce<H: AppMemory>(&mut self, h: &mut H) -> Result<u32, Errno> {
        if let Some(b) = self.p2.bounce {
            return Ok(b);
        }
        let b = h.realloc(0, 0, 8, MAX_READ as u32);
        if b == 0 {
            return Err(ENOMEM);
        }
        self.p2.bounce = Some(b);
        Ok(b)
    }

    /// The fd of descriptor `handle` (one of ours).
    pub(crate) fn descriptor_fd(&self, handle: i32) -> u32 {
        match self.p2.get(handle) {
            Resource::Descriptor(fd) => fd,
            _ => unknown_handle(),
        }
    }

    /// The open embedded file or directory at core fd `fd`.
    pub(crate) fn open_at_fd(&self, fd: u32) -> Result<Open, Errno> {
        match self.table.get(fd) {
            Some(Slot::Embedded(o)) => Ok(*o),
            _ => Err(EBADF),
        }
    }

    /// A second hold on what `o` is open on, at position 0 and not a preopen: a file of the
    /// writable tree stays alive (even once unlinked) until `Vfs::release` is called for it, as
    /// while an fd is open on it.
    pub(crate) fn hold(&mut self, mut o: Open) -> Open {
        o.preopen = None;
        o.pos = 0;
        if o.tree == Tree::Mem {
            if let Ok(n) = self.mem.node_mut(o.inode) {
                n.opens += 1;
            }
        }
        o
    }

    /// A second core fd on what `fd` is open on ([`Self::hold`]; for a stream or a descriptor
    /// that must outlive the one it came from).
    pub(crate) fn dup_fd(&mut self, fd: u32) -> Result<u32, Errno> {
        let o = self.open_at_fd(fd)?;
        let o = self.hold(o);
        self.push_open(o)
    }
}
