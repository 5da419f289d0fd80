//! The names and signatures the VFS guest ABI is built on: the preview 1 functions the VFS
//! intercepts, and the intrinsics over application memory that the merger generates.

use std::fmt;
use wasmparser::{FuncType, ValType};

/// Module name of WASI preview 1 imports.
pub const PREVIEW1: &str = "wasi_snapshot_preview1";
/// Module name of the VFS's imports of generated intrinsics over application memory.
pub const APP_INTRINSICS: &str = "wasivfs_app";
/// Module name of the pack-time imports that must be gone before merging.
pub const PACK_IMPORTS: &str = "wasivfs_pack";
/// Prefix of the VFS exports that replace intercepted imports (`wasivfs_fd_write`, ...).
pub const EXPORT_PREFIX: &str = "wasivfs_";
/// The VFS export that initializes the image at pack time (not kept in the merged module).
pub const INIT_EXPORT: &str = "wasivfs_init";
/// Name of the custom section appended per pack.
pub const CUSTOM_SECTION: &str = "wasivfs";
/// Preview 1 `ENOSYS`, returned by generated stubs.
pub const ENOSYS: i32 = 52;

/// A function signature made of number types only (all the ABI needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types, in order.
    pub params: &'static [ValType],
    /// Result types, in order.
    pub results: &'static [ValType],
}

impl Signature {
    /// Whether a parsed function type has exactly this signature.
    pub fn matches(&self, ty: &FuncType) -> bool {
        ty.params() == self.params && ty.results() == self.results
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_signature(f, self.params, self.results)
    }
}

/// Formats a parsed function type the same way as [`Signature`].
pub(crate) fn describe(ty: &FuncType) -> String {
    struct Show<'a>(&'a FuncType);
    impl fmt::Display for Show<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_signature(f, self.0.params(), self.0.results())
        }
    }
    Show(ty).to_string()
}

fn write_signature(
    f: &mut fmt::Formatter<'_>,
    params: &[ValType],
    results: &[ValType],
) -> fmt::Result {
    let list = |tys: &[ValType]| {
        tys.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    write!(f, "({}) -> ({})", list(params), list(results))
}

const I: ValType = ValType::I32;
const L: ValType = ValType::I64;
const ERRNO: &[ValType] = &[I];

const fn errno(params: &'static [ValType]) -> Signature {
    Signature {
        params,
        results: ERRNO,
    }
}

/// Every preview 1 function the VFS intercepts (takes or returns an fd or a path), with its
/// signature as a core wasm import.
pub const INTERCEPTED: &[(&str, Signature)] = &[
    ("fd_advise", errno(&[I, L, L, I])),
    ("fd_allocate", errno(&[I, L, L])),
    ("fd_close", errno(&[I])),
    ("fd_datasync", errno(&[I])),
    ("fd_fdstat_get", errno(&[I, I])),
    ("fd_fdstat_set_flags", errno(&[I, I])),
    ("fd_fdstat_set_rights", errno(&[I, L, L])),
    ("fd_filestat_get", errno(&[I, I])),
    ("fd_filestat_set_size", errno(&[I, L])),
    ("fd_filestat_set_times", errno(&[I, L, L, I])),
    ("fd_pread", errno(&[I, I, I, L, I])),
    ("fd_prestat_get", errno(&[I, I])),
    ("fd_prestat_dir_name", errno(&[I, I, I])),
    ("fd_pwrite", errno(&[I, I, I, L, I])),
    ("fd_read", errno(&[I, I, I, I])),
    ("fd_readdir", errno(&[I, I, I, L, I])),
    ("fd_renumber", errno(&[I, I])),
    ("fd_seek", errno(&[I, L, I, I])),
    ("fd_sync", errno(&[I])),
    ("fd_tell", errno(&[I, I])),
    ("fd_write", errno(&[I, I, I, I])),
    ("path_create_directory", errno(&[I, I, I])),
    ("path_filestat_get", errno(&[I, I, I, I, I])),
    ("path_filestat_set_times", errno(&[I, I, I, I, L, L, I])),
    ("path_link", errno(&[I, I, I, I, I, I, I])),
    ("path_open", errno(&[I, I, I, I, I, L, L, I, I])),
    ("path_readlink", errno(&[I, I, I, I, I, I])),
    ("path_remove_directory", errno(&[I, I, I])),
    ("path_rename", errno(&[I, I, I, I, I, I])),
    ("path_symlink", errno(&[I, I, I, I, I])),
    ("path_unlink_file", errno(&[I, I, I])),
    ("poll_oneoff", errno(&[I, I, I, I])),
    ("sock_accept", errno(&[I, I, I])),
    ("sock_recv", errno(&[I, I, I, I, I, I])),
    ("sock_send", errno(&[I, I, I, I, I])),
    ("sock_shutdown", errno(&[I, I])),
];

/// The preview 1 signature of `name` if the VFS intercepts it.
pub fn intercepted(name: &str) -> Option<Signature> {
    INTERCEPTED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
}

/// Width of an unaligned access intrinsic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 1 byte.
    U8,
    /// 2 bytes.
    U16,
    /// 4 bytes.
    U32,
    /// 8 bytes.
    U64,
}

/// A `wasivfs_app.*` intrinsic over the application memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intrinsic {
    /// `copy_in(dst, app_src, len)`: application memory → VFS memory.
    CopyIn,
    /// `copy_out(app_dst, src, len)`: VFS memory → application memory.
    CopyOut,
    /// `size() -> pages` of the application memory.
    Size,
    /// `load_uN(app_addr) -> value`, unaligned.
    Load(Width),
    /// `store_uN(app_addr, value)`, unaligned.
    Store(Width),
    /// `read_content(app_dst, segment, offset, len)`: `memory.init` of the layer's content
    /// segment number `segment` (0 = its first) into application memory.
    ReadContent,
}

/// Every intrinsic with its import name and signature.
pub const INTRINSICS: &[(&str, Intrinsic, Signature)] = &[
    (
        "read_content",
        Intrinsic::ReadContent,
        Signature {
            params: &[I, I, I, I],
            results: &[],
        },
    ),
    (
        "copy_in",
        Intrinsic::CopyIn,
        Signature {
            params: &[I, I, I],
            results: &[],
        },
    ),
    (
        "copy_out",
        Intrinsic::CopyOut,
        Signature {
            params: &[I, I, I],
            results: &[],
        },
    ),
    (
        "size",
        Intrinsic::Size,
        Signature {
            params: &[],
            results: &[I],
        },
    ),
    (
        "load_u8",
        Intrinsic::Load(Width::U8),
        Signature {
            params: &[I],
            results: &[I],
        },
    ),
    (
        "load_u16",
        Intrinsic::Load(Width::U16),
        Signature {
            params: &[I],
            results: &[I],
        },
    ),
    (
        "load_u32",
        Intrinsic::Load(Width::U32),
        Signature {
            params: &[I],
            results: &[I],
        },
    ),
    (
        "load_u64",
        Intrinsic::Load(Width::U64),
        Signature {
            params: &[I],
            results: &[L],
        },
    ),
    (
        "store_u8",
        Intrinsic::Store(Width::U8),
        Signature {
            params: &[I, I],
            results: &[],
        },
    ),
    (
        "store_u16",
        Intrinsic::Store(Width::U16),
        Signature {
            params: &[I, I],
            results: &[],
        },
    ),
    (
        "store_u32",
        Intrinsic::Store(Width::U32),
        Signature {
            params: &[I, I],
            results: &[],
        },
    ),
    (
        "store_u64",
        Intrinsic::Store(Width::U64),
        Signature {
            params: &[I, L],
            results: &[],
        },
    ),
];

/// The intrinsic imported as `wasivfs_app.<name>`, with its signature.
pub fn intrinsic(name: &str) -> Option<(Intrinsic, Signature)> {
    INTRINSICS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, i, s)| (*i, *s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intercept_list_has_no_duplicates_and_returns_errno() {
        let mut names: Vec<_> = INTERCEPTED.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), INTERCEPTED.len());
        assert_eq!(INTERCEPTED.len(), 36);
        assert!(INTERCEPTED.iter().all(|(_, s)| s.results == [I]));
        assert!(intercepted("proc_exit").is_none());
        assert_eq!(intercepted("fd_seek").map(|s| s.params.len()), Some(4));
    }

    #[test]
    fn signatures_display() {
        let s = intercepted("fd_seek").map(|s| s.to_string());
        assert_eq!(s.as_deref(), Some("(i32, i64, i32, i32) -> (i32)"));
    }
}
