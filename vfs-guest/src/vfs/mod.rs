//! The VFS core: one method per intercepted preview 1 function, generic over [`Host`], split by
//! concern: [`fd`] (descriptor calls), [`paths`] (path calls), `crate::dir` (directory listing)
//! and `crate::poll` (poll and sockets).
//!
//! Each method takes the raw preview 1 arguments and returns an errno. Every call that names an
//! fd goes through one routing helper, [`Vfs::route`]: host fds are forwarded with their host
//! number, embedded fds are served here, numbers not in the table are `EBADF`.

use alloc::vec::Vec;
use wasivfs_image::Image;

use crate::fdtable::{FdTable, Open, OpenKind, Slot, Tree};
use crate::host::{self, Host};
use crate::mem;
use crate::memfs::{MemFs, View};
use crate::wasi::{rights, Errno, EBADF, EILSEQ, EINVAL, EIO, PRESTAT_SIZE, SUCCESS};

/// Generates the preview 1 methods that route their fd (or fds) with one of the routing helpers
/// ([`Vfs::route`], [`Vfs::route_new_fd`], and `route_two_paths` for the two-directory calls).
/// Each entry is the call's signature as preview 1 has it, an optional `check` of its arguments
/// made before anything else (its error is the call's answer), and its routing rule,
/// `rule(fds; extra arguments) embedded`, which becomes `self.rule(h, fds, host, extra arguments,
/// embedded)`: `host` calls the host's function of the same name with the same arguments, each
/// routed fd replaced by its host number; `embedded` serves an embedded fd.
macro_rules! routed_calls {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($($arg:ident: $ty:ty),*)
            $(check $check:expr)?
            => $rule:ident($($fd:ident),+ $(; $($extra:expr),+)?) $embedded:expr;
    )*) => {
        impl $crate::vfs::Vfs<'_> {
            $(
                $(#[$attr])*
                // The methods mirror the preview 1 signatures, some of which are long.
                #[allow(clippy::too_many_arguments)]
                pub fn $name<H: $crate::host::Host>(&mut self, h: &mut H, $($arg: $ty),*) -> i32 {
                    $(if let Err(e) = $check {
                        return e.code();
                    })?
                    // Shadowing the guest numbers: the routed fds are the host's numbers here.
                    let host = |_: &mut Self, h: &mut H, $($fd: i32),+| h.$name($($arg),*);
                    self.$rule(h, $($fd,)+ host, $($($extra,)+)? $embedded)
                }
            )*
        }
    };
}
pub(crate) use routed_calls;

mod fd;
mod paths;
#[cfg(feature = "p2")]
pub(crate) use paths::OpenRequest;
#[cfg(feature = "p2")]
pub(crate) use writable::fd::{At, Transfer};
pub mod program;
mod writable;

/// All valid `fdflags` bits.
pub(crate) const FDFLAGS_ALL: i32 = 0x1f;

/// Where an fd leads.
pub(crate) enum Target {
    /// A host fd, by its host number.
    Host(i32),
    /// An embedded file or directory.
    Embedded(Open),
}

/// Reads a path argument: bounds-checked, and UTF-8 (`EILSEQ` otherwise) like wasmtime-wasi.
pub(crate) fn read_path<H: Host>(h: &mut H, ptr: i32, len: i32) -> Result<Vec<u8>, Errno> {
    let bytes = mem::read_bytes(h, ptr as u32, len as u32)?;
    if core::str::from_utf8(&bytes).is_err() {
        return Err(EILSEQ);
    }
    Ok(bytes)
}

/// `EINVAL` for any bit of `value` outside `all` (the flag checks wasmtime's bindings make before
/// the call proper).
pub(crate) fn check_bits(value: u64, all: u64) -> Result<(), Errno> {
    if value & !all != 0 {
        Err(EINVAL)
    } else {
        Ok(())
    }
}

/// `EINVAL` for an enumeration value (`advice`, `whence`) outside `0..=max`.
pub(crate) fn check_enum(value: i32, max: i32) -> Result<(), Errno> {
    if (0..=max).contains(&value) {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// Checks an `fdflags` argument.
pub(crate) fn check_fdflags(flags: i32) -> Result<(), Errno> {
    check_bits(flags as u32 as u64, FDFLAGS_ALL as u64)
}

/// Checks a pair of `rights` arguments (base, then inheriting).
pub(crate) fn check_rights(base: i64, inheriting: i64) -> Result<(), Errno> {
    check_bits(base as u64, rights::ALL)?;
    check_bits(inheriting as u64, rights::ALL)
}

/// The virtual filesystem: the image, the writable trees and the fd table.
pub struct Vfs<'a> {
    pub(crate) image: Option<Image<'a>>,
    pub(crate) table: FdTable,
    pub(crate) mem: MemFs,
    /// The last time handed out by [`Vfs::now`] without a host clock (`None` until needed).
    last_time: Option<u64>,
    started: bool,
    /// The arguments and environment composed with the program record (on first use).
    args: Option<program::StringList>,
    environ: Option<program::StringList>,
    /// The WASI 0.2 front-end's handles.
    #[cfg(feature = "p2")]
    pub(crate) p2: crate::p2::Handles,
}

impl<'a> Vfs<'a> {
    /// A VFS over `image` (`None`: no embedded mounts). Nothing happens until the first call.
    pub fn new(image: Option<Image<'a>>) -> Self {
        let first_ino = image.map_or(0, |i| i.inode_count() as u64) + 1;
        Vfs {
            image,
            table: FdTable::new(),
            mem: MemFs::new(first_ino),
            last_time: None,
            started: false,
            args: None,
            environ: None,
            #[cfg(feature = "p2")]
            p2: crate::p2::Handles::default(),
        }
    }

    /// The fd table (for inspection).
    pub fn table(&self) -> &FdTable {
        &self.table
    }

    /// Lazy start: maps fds 0–2 and the host's preopens to themselves (unless the program
    /// record hides them, `--host-dirs deny`: their numbers then answer `EBADF`, as numbers the
    /// host never opened do), then adds one preopen per embedded mount, in order.
    pub fn start<H: Host>(&mut self, h: &mut H) {
        if self.started {
            return;
        }
        self.started = true;
        for fd in 0..3 {
            let _ = self.table.push(Slot::Host(fd));
        }
        let deny = self
            .image
            .and_then(|i| i.config())
            .is_some_and(|c| c.host_dirs_deny());
        // Borrow application memory at address 0 for the host's prestat answer.
        if !deny && h.app_len() >= PRESTAT_SIZE as u64 {
            let mut saved = [0u8; PRESTAT_SIZE as usize];
            h.copy_in(&mut saved, 0);
            let mut fd = 3u32;
            loop {
                let r = h.fd_prestat_get(fd as i32, 0);
                if r != SUCCESS {
                    // EBADF ends the list; ENOSYS (a stub: the application never asked for
                    // preopens) or anything else means there are no more.
                    break;
                }
                if self.table.push(Slot::Host(fd)).is_err() {
                    break;
                }
                fd += 1;
            }
            h.copy_out(0, &saved);
        }
        if let Some(img) = self.image {
            for i in 0..img.mount_count() {
                let Some(m) = img.mount(i) else {
                    continue;
                };
                let mut open = Open {
                    tree: Tree::Image,
                    inode: m.root,
                    root: m.root,
                    kind: OpenKind::Dir,
                    preopen: Some(i),
                    pos: 0,
                    flags: 0,
                    read: true,
                    write: false,
                };
                if m.writable() {
                    // A tmpfs is created now; a writable packed directory keeps its packed time.
                    let time = if m.tmpfs() {
                        self.now(h)
                    } else {
                        img.inode(m.root).map_or(0, |n| n.mtime_ns)
                    };
                    let ino = crate::stat::ino_of(m.root);
                    let Ok(root) = self.mem.add_mount(i, m.root, ino, time, m.size_limit) else {
                        continue;
                    };
                    open.tree = Tree::Mem;
                    open.inode = root;
                    open.root = root;
                    if let Ok(n) = self.mem.node_mut(root) {
                        n.opens += 1;
                    }
                }
                let _ = self.table.push(Slot::Embedded(open));
            }
        }
    }

    /// The time of a change: the host's realtime clock; without one (the application does not
    /// import `clock_time_get`), one nanosecond after the last time handed out, starting from the
    /// newest packed modification time, so that changes stay in order.
    pub(crate) fn now<H: Host>(&mut self, h: &mut H) -> u64 {
        if let Some(t) = host::clock(h) {
            return t;
        }
        let last = match self.last_time {
            Some(t) => t,
            None => self.image.map_or(0, |img| {
                (0..img.inode_count())
                    .filter_map(|i| img.inode(i))
                    .map(|n| n.mtime_ns)
                    .max()
                    .unwrap_or(0)
            }),
        };
        let t = last.saturating_add(1);
        self.last_time = Some(t);
        t
    }

    /// The writable trees with the image below them, for the path resolver.
    pub(crate) fn view(&mut self) -> View<'_, 'a> {
        View {
            fs: &mut self.mem,
            img: self.image,
        }
    }

    /// What `fd` leads to (`EBADF` for a number not in the table).
    pub(crate) fn target<H: Host>(&mut self, h: &mut H, fd: i32) -> Result<Target, Errno> {
        self.start(h);
        match self.table.get(fd as u32) {
            None => Err(EBADF),
            Some(Slot::Host(n)) => Ok(Target::Host(*n as i32)),
            Some(Slot::Embedded(o)) => Ok(Target::Embedded(*o)),
        }
    }

    /// The routing helper every one-fd call uses: decides host versus embedded once. A host fd
    /// goes to `host` with its host number (its return value is the call's); an embedded one to
    /// `embedded`; an unknown number is `EBADF`.
    pub(crate) fn route<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        host: impl FnOnce(&mut Self, &mut H, i32) -> i32,
        embedded: impl FnOnce(&mut Self, &mut H, Open) -> Result<(), Errno>,
    ) -> i32 {
        match self.target(h, fd) {
            Err(e) => e.code(),
            Ok(Target::Host(n)) => host(self, h, n),
            Ok(Target::Embedded(o)) => Errno::ret(embedded(self, h, o)),
        }
    }

    /// [`Self::route`] for a call whose host function returns a new fd at `fd_out`: on success
    /// the host's fd gets a guest number.
    pub(crate) fn route_new_fd<H: Host>(
        &mut self,
        h: &mut H,
        fd: i32,
        host: impl FnOnce(&mut Self, &mut H, i32) -> i32,
        fd_out: i32,
        embedded: impl FnOnce(&mut Self, &mut H, Open) -> Result<(), Errno>,
    ) -> i32 {
        let host = |vfs: &mut Self, h: &mut H, n| {
            let r = host(vfs, h, n);
            vfs.host_new_fd(h, r, fd_out)
        };
        self.route(h, fd, host, embedded)
    }

    /// The size of the file embedded fd `o` is open on, in whichever tree it lives.
    pub(crate) fn file_size(&self, o: &Open) -> Result<u64, Errno> {
        match o.tree {
            Tree::Mem => self.w_size(o.inode),
            Tree::Image => Ok(self.img()?.inode(o.inode).ok_or(EIO)?.size()),
        }
    }

    /// The image; only called for embedded fds, which exist only when there is one.
    pub(crate) fn img(&self) -> Result<Image<'a>, Errno> {
        self.image.ok_or(EBADF)
    }

    /// Gives a host-returned fd (written by the host at `fd_out`) a guest number.
    pub(crate) fn adopt_host_fd<H: Host>(&mut self, h: &mut H, fd_out: i32) -> Result<(), Errno> {
        let host_fd = mem::load_u32(h, fd_out as u32)?;
        match self.table.push(Slot::Host(host_fd)) {
            Ok(guest) => mem::store_u32(h, fd_out as u32, guest),
            Err(e) => {
                let _ = h.fd_close(host_fd as i32);
                Err(e)
            }
        }
    }

    /// A host call that returns a new fd at `fd_out`: on success the fd gets a guest number.
    pub(crate) fn host_new_fd<H: Host>(&mut self, h: &mut H, r: i32, fd_out: i32) -> i32 {
        if r != SUCCESS {
            return r;
        }
        Errno::ret(self.adopt_host_fd(h, fd_out))
    }
}
