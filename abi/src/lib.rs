//! The VFS guest ABI, written once.
//!
//! A packed module is an application, a VFS module and code the merger generates between them. They
//! agree on the names, signatures and numbers in this crate and nowhere else:
//!
//! - the preview 1 functions the VFS intercepts ([`INTERCEPTED`], [`for_each_intercepted!`]);
//! - the intrinsics over the application's memory the merger generates ([`INTRINSICS`],
//!   [`for_each_intrinsic!`]);
//! - the pack-time imports the VFS's init function uses ([`PACK_FUNCTIONS`],
//!   [`for_each_pack_function!`]);
//! - module, export and section names, the page size and the `ENOSYS` value.
//!
//! Rust needs some of these as literal tokens (`#[link(wasm_import_module = "...")]`), so each list
//! is a macro that hands the module name and the functions to a macro of the caller's; the constants
//! below are generated from the same macros. Adding a preview 1 function to the intercept list is a
//! one-line edit of [`for_each_intercepted!`] (plus the VFS method that serves it).
#![no_std]
#![deny(missing_docs)]

mod p2;
pub use p2::{
    p2_function, p2_intercepted, p2_interface, P2Function, P2_EXPORT_PREFIX, P2_HANDLE_BIT,
    P2_INTERCEPTED, P2_LAYER_SHIFT, P2_MAX_LAYERS,
};

/// Version of the ABI between the VFS module and the merger (recorded in the `wasivfs` section).
pub const ABI_VERSION: u32 = 5;

/// Size of one wasm page in bytes.
pub const PAGE_SIZE: u64 = 65536;

/// Preview 1 `ENOSYS` (function not supported): what generated stubs return.
pub const ENOSYS: u16 = 52;

/// Name of the custom section each pack appends (JSON describing the layer).
pub const CUSTOM_SECTION: &str = "wasivfs";

/// A core wasm number type, as far as the ABI needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValKind {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

/// A function signature made of number types only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types, in order.
    pub params: &'static [ValKind],
    /// Result types, in order.
    pub results: &'static [ValKind],
}

/// One function of an import module of the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// The import (and, prefixed with [`EXPORT_PREFIX`], export) name.
    pub name: &'static str,
    /// Its core wasm signature.
    pub signature: Signature,
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

/// What a `wasivfs_app.*` intrinsic does, for the merger that generates its body.
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
    /// `read_content(app_dst, segment, offset, len)`: `memory.init` of the layer's content segment
    /// number `segment` (0 = its first) into application memory.
    ReadContent,
    /// `realloc(app_old, old_size, align, new_size) -> app_ptr`: the application's exported
    /// `cabi_realloc` (the allocator the canonical ABI uses for the lists and strings a WASI 0.2
    /// import returns); traps if the application exports none.
    Realloc,
}

/// Calls `$callback!` with the preview 1 module name, the export prefix, and every preview 1
/// function the VFS intercepts (each takes or returns an fd or a path, or reads the arguments or
/// the environment, which a packed module may bake in), as `fn name(arg: type, ...);` items
/// returning an errno (`i32`).
#[macro_export]
macro_rules! for_each_intercepted {
    ($callback:ident) => {
        $callback! {
            module = "wasi_snapshot_preview1";
            export_prefix = "wasivfs_";
            fn fd_advise(fd: i32, offset: i64, len: i64, advice: i32);
            fn fd_allocate(fd: i32, offset: i64, len: i64);
            fn fd_close(fd: i32);
            fn fd_datasync(fd: i32);
            fn fd_fdstat_get(fd: i32, buf: i32);
            fn fd_fdstat_set_flags(fd: i32, flags: i32);
            fn fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64);
            fn fd_filestat_get(fd: i32, buf: i32);
            fn fd_filestat_set_size(fd: i32, size: i64);
            fn fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, fst_flags: i32);
            fn fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread: i32);
            fn fd_prestat_get(fd: i32, buf: i32);
            fn fd_prestat_dir_name(fd: i32, path: i32, path_len: i32);
            fn fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten: i32);
            fn fd_read(fd: i32, iovs: i32, iovs_len: i32, nread: i32);
            fn fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, bufused: i32);
            fn fd_renumber(fd: i32, to: i32);
            fn fd_seek(fd: i32, offset: i64, whence: i32, newoffset: i32);
            fn fd_sync(fd: i32);
            fn fd_tell(fd: i32, offset: i32);
            fn fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten: i32);
            fn path_create_directory(fd: i32, path: i32, path_len: i32);
            fn path_filestat_get(fd: i32, flags: i32, path: i32, path_len: i32, buf: i32);
            fn path_filestat_set_times(fd: i32, flags: i32, path: i32, path_len: i32, atim: i64, mtim: i64, fst_flags: i32);
            fn path_link(old_fd: i32, old_flags: i32, old_path: i32, old_path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32);
            fn path_open(fd: i32, dirflags: i32, path: i32, path_len: i32, oflags: i32, rights_base: i64, rights_inheriting: i64, fdflags: i32, fd_out: i32);
            fn path_readlink(fd: i32, path: i32, path_len: i32, buf: i32, buf_len: i32, bufused: i32);
            fn path_remove_directory(fd: i32, path: i32, path_len: i32);
            fn path_rename(fd: i32, old_path: i32, old_path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32);
            fn path_symlink(old_path: i32, old_path_len: i32, fd: i32, new_path: i32, new_path_len: i32);
            fn path_unlink_file(fd: i32, path: i32, path_len: i32);
            fn poll_oneoff(in_: i32, out: i32, nsubscriptions: i32, nevents: i32);
            fn sock_accept(fd: i32, flags: i32, fd_out: i32);
            fn sock_recv(fd: i32, ri_data: i32, ri_data_len: i32, ri_flags: i32, ro_datalen: i32, ro_flags: i32);
            fn sock_send(fd: i32, si_data: i32, si_data_len: i32, si_flags: i32, so_datalen: i32);
            fn sock_shutdown(fd: i32, how: i32);
            fn args_sizes_get(argc: i32, argv_buf_size: i32);
            fn args_get(argv: i32, argv_buf: i32);
            fn environ_sizes_get(count: i32, buf_size: i32);
            fn environ_get(environ: i32, environ_buf: i32);
        }
    };
}

/// Calls `$callback!` with the intrinsics module name and every `wasivfs_app.*` intrinsic the
/// merger can generate, as `fn name(arg: type, ...) [-> type] => Intrinsic;` items. Pointers named
/// `app_*` are application addresses, the others VFS addresses.
#[macro_export]
macro_rules! for_each_intrinsic {
    ($callback:ident) => {
        $callback! {
            module = "wasivfs_app";
            fn read_content(app_dst: i32, segment: i32, offset: i32, len: i32) => ReadContent;
            fn copy_in(dst: i32, app_src: i32, len: i32) => CopyIn;
            fn copy_out(app_dst: i32, src: i32, len: i32) => CopyOut;
            fn size() -> i32 => Size;
            fn load_u8(app_addr: i32) -> i32 => Load(U8);
            fn load_u16(app_addr: i32) -> i32 => Load(U16);
            fn load_u32(app_addr: i32) -> i32 => Load(U32);
            fn load_u64(app_addr: i32) -> i64 => Load(U64);
            fn store_u8(app_addr: i32, v: i32) => Store(U8);
            fn store_u16(app_addr: i32, v: i32) => Store(U16);
            fn store_u32(app_addr: i32, v: i32) => Store(U32);
            fn store_u64(app_addr: i32, v: i64) => Store(U64);
            fn realloc(app_old: i32, old_size: i32, align: i32, new_size: i32) -> i32 => Realloc;
        }
    };
}

/// Calls `$callback!` with the pack-time module name, the name of the VFS's init export, and the
/// functions the packer provides to the
/// VFS's init function under Wizer (none of them survives into the output).
#[macro_export]
macro_rules! for_each_pack_function {
    ($callback:ident) => {
        $callback! {
            module = "wasivfs_pack";
            init_export = "wasivfs_init";
            fn image_len() -> i32;
            fn image_placed(addr: i32, len: i32);
            fn layer() -> i32;
        }
    };
}

/// What a file's first eight bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    /// A core WebAssembly module (magic `\0asm`, version 1): what wasivfs packs and runs.
    CoreModule,
    /// A WebAssembly component (the component model's layer in the version field).
    Component,
    /// The wasm magic with a version this tool does not know.
    UnknownVersion,
    /// Not WebAssembly at all (or shorter than a header).
    NotWasm,
}

impl BinaryKind {
    /// Classifies a file by its header (`bytes` may be the whole file or just its start).
    pub fn of(bytes: &[u8]) -> BinaryKind {
        match bytes.get(..8) {
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => BinaryKind::CoreModule,
            Some([0, b'a', b's', b'm', _, _, 1, 0]) => BinaryKind::Component,
            Some([0, b'a', b's', b'm', ..]) => BinaryKind::UnknownVersion,
            _ if bytes.len() >= 4 && bytes.len() < 8 && bytes[..4] == *b"\0asm" => {
                BinaryKind::UnknownVersion
            }
            _ => BinaryKind::NotWasm,
        }
    }

    /// Why a file of this kind is not a core module, as a phrase for one-line errors; `None` for
    /// a core module.
    pub fn problem(self) -> Option<&'static str> {
        match self {
            BinaryKind::CoreModule => None,
            BinaryKind::Component => Some(
                "a WebAssembly component, not a core module (preview 1 programs are core modules)",
            ),
            BinaryKind::UnknownVersion => Some("an unknown WebAssembly binary version"),
            BinaryKind::NotWasm => Some("not a WebAssembly module (bad magic bytes)"),
        }
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __val_kind {
    (i32) => {
        $crate::ValKind::I32
    };
    (i64) => {
        $crate::ValKind::I64
    };
}

/// A [`Function`] from its name and the kinds (`i32`, `i64`) of its parameters and results.
macro_rules! function {
    ($name:ident ($($ty:ident),*) -> ($($ret:ident)?)) => {
        Function {
            name: stringify!($name),
            signature: Signature {
                params: &[$( __val_kind!($ty) ),*],
                results: &[$( __val_kind!($ret) )?],
            },
        }
    };
}

macro_rules! intercepted_table {
    (module = $module:literal; export_prefix = $prefix:literal;
     $( fn $name:ident ( $($arg:ident : $ty:ident),* ); )*) => {
        /// Module name of WASI preview 1 imports.
        pub const PREVIEW1: &str = $module;
        /// Every preview 1 function the VFS intercepts, with its core wasm signature.
        pub const INTERCEPTED: &[Function] = &[
            $( function!($name ($($ty),*) -> (i32)), )*
        ];
        /// Prefix of the VFS exports that serve intercepted functions (`wasivfs_fd_read`, ...).
        pub const EXPORT_PREFIX: &str = $prefix;
    };
}
for_each_intercepted!(intercepted_table);

macro_rules! intrinsic_table {
    (module = $module:literal;
     $( fn $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? => $kind:ident $(($w:ident))? ; )*) => {
        /// Module name of the VFS's imports of intrinsics over the application's memory.
        pub const APP_INTRINSICS: &str = $module;
        /// Every intrinsic the merger can generate, with what it does and its signature.
        pub const INTRINSICS: &[(Function, Intrinsic)] = &[
            $( (
                function!($name ($($ty),*) -> ($($ret)?)),
                Intrinsic::$kind $((Width::$w))?,
            ), )*
        ];
    };
}
for_each_intrinsic!(intrinsic_table);

macro_rules! pack_table {
    (module = $module:literal; init_export = $init:literal;
     $( fn $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// Module name of the pack-time imports (they must be gone before merging).
        pub const PACK_IMPORTS: &str = $module;
        /// The VFS export run once by Wizer at pack time to place the image; gone from the output.
        pub const INIT_EXPORT: &str = $init;
        /// The pack-time functions, with their signatures.
        pub const PACK_FUNCTIONS: &[Function] = &[
            $( function!($name ($($ty),*) -> ($($ret)?)), )*
        ];
    };
}
for_each_pack_function!(pack_table);

/// The signature of `name` if the VFS intercepts it.
pub fn intercepted(name: &str) -> Option<Signature> {
    INTERCEPTED
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.signature)
}

/// The intrinsic imported as `wasivfs_app.<name>`, with its signature.
pub fn intrinsic(name: &str) -> Option<(Intrinsic, Signature)> {
    INTRINSICS
        .iter()
        .find(|(f, _)| f.name == name)
        .map(|(f, i)| (*i, f.signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intercept_list_is_unique_and_returns_errno() {
        for (i, f) in INTERCEPTED.iter().enumerate() {
            assert!(
                INTERCEPTED[..i].iter().all(|g| g.name != f.name),
                "{}",
                f.name
            );
            assert_eq!(f.signature.results, [ValKind::I32]);
        }
        assert_eq!(INTERCEPTED.len(), 40);
        assert!(intercepted("proc_exit").is_none());
        assert_eq!(intercepted("fd_seek").map(|s| s.params.len()), Some(4));
        assert_eq!(
            intercepted("fd_pread").map(|s| s.params),
            Some(
                &[
                    ValKind::I32,
                    ValKind::I32,
                    ValKind::I32,
                    ValKind::I64,
                    ValKind::I32
                ][..]
            )
        );
    }

    #[test]
    fn intrinsics_and_pack_functions() {
        assert_eq!(INTRINSICS.len(), 13);
        assert_eq!(
            intrinsic("load_u64").map(|(i, s)| (i, s.results)),
            Some((Intrinsic::Load(Width::U64), &[ValKind::I64][..]))
        );
        assert_eq!(intrinsic("size").map(|(_, s)| s.params.len()), Some(0));
        assert_eq!(PACK_FUNCTIONS.len(), 3);
        assert_eq!(APP_INTRINSICS, "wasivfs_app");
        assert_eq!(PACK_IMPORTS, "wasivfs_pack");
        assert_eq!(PREVIEW1, "wasi_snapshot_preview1");
    }

    #[test]
    fn binary_kinds() {
        assert_eq!(
            BinaryKind::of(b"\0asm\x01\0\0\0rest"),
            BinaryKind::CoreModule
        );
        assert_eq!(BinaryKind::of(b"\0asm\x0d\0\x01\0"), BinaryKind::Component);
        assert_eq!(
            BinaryKind::of(b"\0asm\x02\0\0\0"),
            BinaryKind::UnknownVersion
        );
        assert_eq!(BinaryKind::of(b"\0asm\x01"), BinaryKind::UnknownVersion);
        assert_eq!(
            BinaryKind::of(b"\x7fELF\x02\x01\x01\0"),
            BinaryKind::NotWasm
        );
        assert_eq!(BinaryKind::of(b""), BinaryKind::NotWasm);
        assert!(BinaryKind::CoreModule.problem().is_none());
        assert!(BinaryKind::NotWasm.problem().is_some());
    }

    #[test]
    fn init_export_carries_the_prefix() {
        assert!(INIT_EXPORT.starts_with(EXPORT_PREFIX));
    }
}
