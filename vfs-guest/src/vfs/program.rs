//! The program's arguments and environment: the host's, with what the image's program record
//! bakes in (see `docs/design.md`, "Baked arguments and environment").
//!
//! Without a record (or one that leaves a list alone) the call goes straight to the host. With
//! one, the list is composed once, on first use, and kept: the host's list is read through
//! application memory at address 0 (its bytes saved and put back, as for the prestat scan).

use alloc::vec::Vec;
use wasivfs_image::config::{Config, Inherit};

use crate::host::Host;
use crate::mem;
use crate::vfs::Vfs;
use crate::wasi::{Errno, ENOMEM, ENOSYS, SUCCESS};

/// A list of strings as preview 1 hands it out: each string followed by a NUL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StringList {
    count: u32,
    bytes: Vec<u8>,
}

impl StringList {
    /// Adds a string (without a NUL in it).
    pub(crate) fn push(&mut self, s: &[u8]) {
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        self.count += 1;
    }

    /// The strings, without their NULs.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let n = self.count as usize;
        self.bytes.split(|b| *b == 0).take(n)
    }

    /// Writes the count and the buffer size (the `*_sizes_get` answer).
    fn sizes<H: Host>(&self, h: &mut H, count_ptr: i32, size_ptr: i32) -> Result<(), Errno> {
        mem::store_u32(h, count_ptr as u32, self.count)?;
        mem::store_u32(h, size_ptr as u32, self.bytes.len() as u32)
    }

    /// Writes the strings at `buf` and a pointer to each at `ptrs` (the `*_get` answer).
    fn write<H: Host>(&self, h: &mut H, ptrs: i32, buf: i32) -> Result<(), Errno> {
        let (ptrs, buf) = (ptrs as u32, buf as u32);
        mem::check(h, ptrs, self.count as u64 * 4)?;
        mem::write_bytes(h, buf, &self.bytes)?;
        let mut at = buf;
        for (i, s) in self.iter().enumerate() {
            mem::store_u32(h, ptrs + 4 * i as u32, at)?;
            at += s.len() as u32 + 1;
        }
        Ok(())
    }
}

/// Which of the two lists.
#[derive(Clone, Copy)]
pub(crate) enum Which {
    Args,
    Environ,
}

/// The host's preview 1 answer for one list. A stub (`ENOSYS`: the application does not import
/// the function) is an empty list.
fn host_list<H: Host>(h: &mut H, which: Which) -> Result<StringList, Errno> {
    let sizes = |h: &mut H, a, b| match which {
        Which::Args => h.args_sizes_get(a, b),
        Which::Environ => h.environ_sizes_get(a, b),
    };
    if h.app_len() < 8 {
        return Err(ENOMEM);
    }
    let mut saved = [0u8; 8];
    h.copy_in(&mut saved, 0);
    let r = sizes(h, 0, 4);
    let (count, size) = (h.load_u32(0), h.load_u32(4));
    h.copy_out(0, &saved);
    if r == ENOSYS.code() {
        return Ok(StringList::default());
    }
    Errno::check(r)?;
    let ptrs = count as u64 * 4;
    let need = ptrs + size as u64;
    if need > h.app_len() {
        return Err(ENOMEM);
    }
    let mut saved = alloc::vec![0u8; need as usize];
    h.copy_in(&mut saved, 0);
    let r = match which {
        Which::Args => h.args_get(0, ptrs as i32),
        Which::Environ => h.environ_get(0, ptrs as i32),
    };
    let mut list = StringList::default();
    if r == SUCCESS {
        let mut buf = alloc::vec![0u8; size as usize];
        h.copy_in(&mut buf, ptrs as u32);
        for i in 0..count {
            let start = (h.load_u32(4 * i) as u64).saturating_sub(ptrs) as usize;
            let s = buf.get(start..).unwrap_or(&[]);
            let end = s.iter().position(|b| *b == 0).unwrap_or(s.len());
            list.push(&s[..end]);
        }
    }
    h.copy_out(0, &saved);
    if r != ENOSYS.code() {
        Errno::check(r)?;
    }
    Ok(list)
}

/// The name and the value of a `NAME=VALUE` entry (split at the first `=`; no `=`: an empty
/// value).
pub(crate) fn split_entry(entry: &[u8]) -> (&[u8], &[u8]) {
    match entry.iter().position(|b| *b == b'=') {
        Some(eq) => (&entry[..eq], &entry[eq + 1..]),
        None => (entry, &[]),
    }
}

/// The name of a `NAME=VALUE` entry.
fn name_of(entry: &[u8]) -> &[u8] {
    split_entry(entry).0
}

/// `argv[0]` (baked, else the host's, else empty), the baked arguments, the host's others.
fn compose_args(host: StringList, cfg: &Config<'_>) -> StringList {
    let mut host = host.iter();
    let first = host.next();
    let mut out = StringList::default();
    out.push(cfg.argv0().or(first).unwrap_or(b""));
    for a in cfg.args() {
        out.push(a);
    }
    for a in host {
        out.push(a);
    }
    out
}

/// The host's variables that the inherit rule lets through, in the host's order, then each
/// baked variable the host did not pass (a host variable that is seen wins). `host` gives the
/// host's list; it is not asked when no variable is inherited.
fn compose_environ(
    cfg: &Config<'_>,
    host: impl FnOnce() -> Result<StringList, Errno>,
) -> Result<StringList, Errno> {
    let host = match cfg.inherit() {
        Inherit::None => StringList::default(),
        _ => host()?,
    };
    let mut out = StringList::default();
    for e in host.iter() {
        let seen = match cfg.inherit() {
            Inherit::All => true,
            Inherit::None => false,
            Inherit::List => cfg.inherit_names().any(|n| n == name_of(e)),
        };
        if seen {
            out.push(e);
        }
    }
    for e in cfg.env() {
        if !out.iter().any(|o| name_of(o) == name_of(e)) {
            out.push(e);
        }
    }
    Ok(out)
}

impl<'a> Vfs<'a> {
    /// The record, if it changes the list `which`.
    fn record_for(&self, which: Which) -> Option<Config<'a>> {
        let cfg = self.image?.config()?;
        match which {
            Which::Args => cfg.changes_args(),
            Which::Environ => cfg.changes_env(),
        }
        .then_some(cfg)
    }

    /// The composed list `which`, built on first use with the host's list that `host` reads
    /// (through either front-end); `None` when the host's answers stand.
    pub(crate) fn program_list_with<H>(
        &mut self,
        h: &mut H,
        which: Which,
        host: impl FnOnce(&mut H, Which) -> Result<StringList, Errno>,
    ) -> Option<Result<&StringList, Errno>> {
        let cfg = self.record_for(which)?;
        let slot = match which {
            Which::Args => &mut self.args,
            Which::Environ => &mut self.environ,
        };
        if slot.is_none() {
            let list = match which {
                Which::Args => host(h, which).map(|l| compose_args(l, &cfg)),
                Which::Environ => compose_environ(&cfg, || host(h, which)),
            };
            match list {
                Ok(l) => *slot = Some(l),
                Err(e) => return Some(Err(e)),
            }
        }
        slot.as_ref().map(Ok)
    }

    /// [`Self::program_list_with`] the host's preview 1 lists.
    fn program_list<H: Host>(
        &mut self,
        h: &mut H,
        which: Which,
    ) -> Option<Result<&StringList, Errno>> {
        self.program_list_with(h, which, host_list)
    }

    /// `args_sizes_get`.
    pub fn args_sizes_get<H: Host>(&mut self, h: &mut H, argc: i32, buf_size: i32) -> i32 {
        match self.program_list(h, Which::Args) {
            None => h.args_sizes_get(argc, buf_size),
            Some(l) => Errno::ret(l.and_then(|l| l.sizes(h, argc, buf_size))),
        }
    }

    /// `args_get`.
    pub fn args_get<H: Host>(&mut self, h: &mut H, argv: i32, argv_buf: i32) -> i32 {
        match self.program_list(h, Which::Args) {
            None => h.args_get(argv, argv_buf),
            Some(l) => Errno::ret(l.and_then(|l| l.write(h, argv, argv_buf))),
        }
    }

    /// `environ_sizes_get`.
    pub fn environ_sizes_get<H: Host>(&mut self, h: &mut H, count: i32, buf_size: i32) -> i32 {
        match self.program_list(h, Which::Environ) {
            None => h.environ_sizes_get(count, buf_size),
            Some(l) => Errno::ret(l.and_then(|l| l.sizes(h, count, buf_size))),
        }
    }

    /// `environ_get`.
    pub fn environ_get<H: Host>(&mut self, h: &mut H, environ: i32, buf: i32) -> i32 {
        match self.program_list(h, Which::Environ) {
            None => h.environ_get(environ, buf),
            Some(l) => Errno::ret(l.and_then(|l| l.write(h, environ, buf))),
        }
    }
}
