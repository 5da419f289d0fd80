//! The WASI 0.2 front-end: serves a native component's `wasi:filesystem`, `wasi:io/streams` and
//! `wasi:io/poll` imports for embedded files, over the same core as preview 1.
//!
//! A 0.2 resource is an `i32` handle in the component instance's table, which wasmtime fills from
//! 1 upwards and caps below 2^28. The handles this front-end hands out (descriptors, directory
//! streams and input streams of embedded files, and their pollables) have bit 31 set, and every
//! imported function that takes one of these types is intercepted: a handle with bit 31 set is
//! served here, any other goes to the host unchanged, so the two are never confused.
//!
//! Each call is served by the core's preview 1 method of the same meaning (an embedded
//! descriptor is an fd of the core's table, not visible to the application, which has no
//! preview 1 imports), with the arguments and results the core takes in application memory
//! placed in a scratch block the front-end allocates once with the application's `cabi_realloc`.
//! The errno the core decides becomes the `error-code` wasmtime's 0.2 host answers
//! ([`abi::error_code`]).

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
                if !$crate::p2::is_ours($handle) {
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
mod paths;
mod streams;

use alloc::vec::Vec;

use crate::fdtable::{Open, Slot, Tree};
use crate::host::AppMemory;
use crate::wasi::{Errno, EBADF, ENOMEM};
use crate::Vfs;

/// Bit 31: set in every handle the front-end hands out.
pub(crate) const VFS_BIT: u32 = 1 << 31;
/// Size of the scratch block in application memory.
pub(crate) const SCRATCH_LEN: u32 = 4096 + 64;

/// What a front-end handle stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// A `descriptor`: an fd of the core's table.
    Descriptor(u32),
    /// A `directory-entry-stream` over the directory at this fd, at a preview 1 cookie.
    Entries { fd: u32, cookie: u64 },
    /// An `input-stream` of the file at this fd, at this offset.
    Input { fd: u32, offset: u64 },
    /// A `pollable` (always ready: embedded files never block).
    Pollable,
}

/// The front-end's handles and scratch block.
#[derive(Default)]
pub struct Handles {
    slots: Vec<Option<Resource>>,
    scratch: Option<u32>,
}

/// Whether a handle is one the front-end handed out.
pub(crate) fn is_ours(handle: i32) -> bool {
    handle as u32 & VFS_BIT != 0
}

/// A handle the application passed that has bit 31 set but was never handed out (or was
/// dropped): a trap, as the host traps on a handle it does not know.
pub(crate) fn unknown_handle() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("unknown WASI 0.2 handle");
}

impl Handles {
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
        (i as u32 | VFS_BIT) as i32
    }

    /// What `handle` stands for; traps if it is not one of ours.
    pub(crate) fn get(&self, handle: i32) -> Resource {
        let i = (handle as u32 & !VFS_BIT) as usize;
        match self.slots.get(i) {
            Some(Some(r)) => *r,
            _ => unknown_handle(),
        }
    }

    /// Replaces what `handle` stands for.
    pub(crate) fn set(&mut self, handle: i32, r: Resource) {
        let i = (handle as u32 & !VFS_BIT) as usize;
        match self.slots.get_mut(i) {
            Some(slot @ Some(_)) => *slot = Some(r),
            _ => unknown_handle(),
        }
    }

    /// Forgets `handle`, returning what it stood for; traps if it is not one of ours.
    pub(crate) fn remove(&mut self, handle: i32) -> Resource {
        let i = (handle as u32 & !VFS_BIT) as usize;
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

    /// A second core fd on what `fd` is open on, at position 0 and not a preopen (for a stream
    /// or a descriptor that must outlive the one it came from).
    pub(crate) fn dup_fd(&mut self, fd: u32) -> Result<u32, Errno> {
        let mut o = self.open_at_fd(fd)?;
        o.preopen = None;
        o.pos = 0;
        if o.tree == Tree::Mem {
            if let Ok(n) = self.mem.node_mut(o.inode) {
                n.opens += 1;
            }
        }
        self.table.push(Slot::Embedded(o))
    }
}
