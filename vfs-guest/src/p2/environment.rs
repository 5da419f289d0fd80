//! `wasi:cli/environment`'s `get-arguments` and `get-environment`: the host's answers, or, when
//! the image's program record changes them, the lists the core composes (the same composition as
//! preview 1's `args_get` and `environ_get`, from the host's 0.2 lists).

use alloc::vec::Vec;

use crate::mem;
use crate::p2::abi::{alloc_bytes, must, pair};
use crate::p2::host::P2Host;
use crate::vfs::program::{split_entry, StringList, Which};
use crate::wasi::Errno;
use crate::Vfs;

/// Bytes of one element of the host's list: a `string` (pointer, length), or for the
/// environment a `tuple<string, string>`.
fn element_len(which: Which) -> u32 {
    match which {
        Which::Args => 8,
        Which::Environ => 16,
    }
}

/// The `string` whose (pointer, length) pair is at `at` in application memory.
fn load_string<H: P2Host>(h: &mut H, at: u32) -> Result<Vec<u8>, Errno> {
    let (ptr, len) = (mem::load_u32(h, at)?, mem::load_u32(h, at + 4)?);
    mem::read_bytes(h, ptr, len)
}

/// The host's 0.2 list `which`, with each variable as `NAME=VALUE` (the core's form). The host
/// allocates it in application memory, where it stays: it is read once per run.
fn host_list<H: P2Host>(h: &mut H, which: Which) -> Result<StringList, Errno> {
    let ret = h.realloc(0, 0, 4, 8);
    match which {
        Which::Args => h.get_arguments(ret as i32),
        Which::Environ => h.get_environment(ret as i32),
    }
    let (ptr, n) = (mem::load_u32(h, ret)?, mem::load_u32(h, ret + 4)?);
    let mut list = StringList::default();
    for i in 0..n {
        let at = ptr + i * element_len(which);
        let mut s = load_string(h, at)?;
        if let Which::Environ = which {
            s.push(b'=');
            s.extend_from_slice(&load_string(h, at + 8)?);
        }
        list.push(&s);
    }
    Ok(list)
}

/// Writes `list` as the 0.2 list `which` (a new block in application memory) at `ret`.
fn put_list<H: P2Host>(h: &mut H, list: &StringList, which: Which, ret: i32) -> Result<(), Errno> {
    let mut elements = Vec::new();
    let mut put_string = |h: &mut H, s: &[u8]| -> Result<(), Errno> {
        let (p, n) = alloc_bytes(h, s, 1)?;
        elements.extend_from_slice(&pair(p, n));
        Ok(())
    };
    for s in list.iter() {
        match which {
            Which::Args => put_string(h, s)?,
            Which::Environ => {
                let (name, value) = split_entry(s);
                put_string(h, name)?;
                put_string(h, value)?;
            }
        }
    }
    let (ptr, bytes) = alloc_bytes(h, &elements, 4)?;
    mem::write_bytes(h, ret as u32, &pair(ptr, bytes / element_len(which)))
}

/// `get-arguments` or `get-environment`.
fn serve<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, which: Which, ret: i32) {
    match vfs.program_list_with(h, which, host_list) {
        None => match which {
            Which::Args => h.get_arguments(ret),
            Which::Environ => h.get_environment(ret),
        },
        Some(list) => {
            let list = must(list).clone();
            must(put_list(h, &list, which, ret));
        }
    }
}

/// `get-arguments`.
pub(crate) fn get_arguments<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, ret: i32) {
    serve(vfs, h, Which::Args, ret);
}

/// `get-environment`.
pub(crate) fn get_environment<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, ret: i32) {
    serve(vfs, h, Which::Environ, ret);
}
