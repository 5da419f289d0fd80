//! The WASI 0.2 functions the VFS intercepts in a native component's core module, with their
//! canonical-ABI lowered core signatures (one source of truth for the VFS guest, which exports
//! and imports them, and for the merger, which checks and routes them).
//!
//! A core module of a component imports each one from the module named after its interface and
//! version (`wasi:filesystem/types@0.2.3`), under its WIT name (`[method]descriptor.stat`). The
//! signatures did not change within 0.2, so any `0.2.x` matches. The VFS imports the host's
//! function from the interface's unversioned name (the merger routes it to the application's
//! import of any version) and exports its own as [`P2_EXPORT_PREFIX`]` + interface + "#" + name`.
//!
//! Every function that takes a handle the VFS can hand out (a descriptor, a directory-entry
//! stream, an input or output stream, a pollable or a stream error of an embedded file) is here,
//! so that a VFS handle never reaches the host; so are the two functions of
//! `wasi:cli/environment` that baked arguments and variables change.

use crate::Signature;

/// Calls `$callback!` with the prefix of the VFS exports that serve them and every intercepted
/// WASI 0.2 function as `"interface" "wit-name" fn ident(arg: type, ...) [-> type];` items
/// (lowered core types; a trailing `ret` is the canonical ABI's return-area pointer).
#[macro_export]
macro_rules! for_each_p2_intercepted {
    ($callback:ident) => {
        $callback! {
            export_prefix = "wasivfs_p2:";
            "wasi:filesystem/preopens" "get-directories"
                fn get_directories(ret: i32);
            "wasi:filesystem/types" "[method]descriptor.read-via-stream"
                fn descriptor_read_via_stream(fd: i32, offset: i64, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.write-via-stream"
                fn descriptor_write_via_stream(fd: i32, offset: i64, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.append-via-stream"
                fn descriptor_append_via_stream(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.advise"
                fn descriptor_advise(fd: i32, offset: i64, len: i64, advice: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.sync-data"
                fn descriptor_sync_data(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.get-flags"
                fn descriptor_get_flags(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.get-type"
                fn descriptor_get_type(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.set-size"
                fn descriptor_set_size(fd: i32, size: i64, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.set-times"
                fn descriptor_set_times(fd: i32, atag: i32, asec: i64, ansec: i32, mtag: i32, msec: i64, mnsec: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.read"
                fn descriptor_read(fd: i32, len: i64, offset: i64, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.write"
                fn descriptor_write(fd: i32, buf: i32, buf_len: i32, offset: i64, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.read-directory"
                fn descriptor_read_directory(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.sync"
                fn descriptor_sync(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.create-directory-at"
                fn descriptor_create_directory_at(fd: i32, path: i32, path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.stat"
                fn descriptor_stat(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.stat-at"
                fn descriptor_stat_at(fd: i32, flags: i32, path: i32, path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.set-times-at"
                fn descriptor_set_times_at(fd: i32, flags: i32, path: i32, path_len: i32, atag: i32, asec: i64, ansec: i32, mtag: i32, msec: i64, mnsec: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.link-at"
                fn descriptor_link_at(fd: i32, flags: i32, path: i32, path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.open-at"
                fn descriptor_open_at(fd: i32, flags: i32, path: i32, path_len: i32, oflags: i32, dflags: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.readlink-at"
                fn descriptor_readlink_at(fd: i32, path: i32, path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.remove-directory-at"
                fn descriptor_remove_directory_at(fd: i32, path: i32, path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.rename-at"
                fn descriptor_rename_at(fd: i32, path: i32, path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.symlink-at"
                fn descriptor_symlink_at(fd: i32, old_path: i32, old_path_len: i32, new_path: i32, new_path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.unlink-file-at"
                fn descriptor_unlink_file_at(fd: i32, path: i32, path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.is-same-object"
                fn descriptor_is_same_object(fd: i32, other: i32) -> i32;
            "wasi:filesystem/types" "[method]descriptor.metadata-hash"
                fn descriptor_metadata_hash(fd: i32, ret: i32);
            "wasi:filesystem/types" "[method]descriptor.metadata-hash-at"
                fn descriptor_metadata_hash_at(fd: i32, flags: i32, path: i32, path_len: i32, ret: i32);
            "wasi:filesystem/types" "[method]directory-entry-stream.read-directory-entry"
                fn directory_entry_stream_read_directory_entry(stream: i32, ret: i32);
            "wasi:filesystem/types" "[resource-drop]descriptor"
                fn drop_descriptor(fd: i32);
            "wasi:filesystem/types" "[resource-drop]directory-entry-stream"
                fn drop_directory_entry_stream(stream: i32);
            "wasi:io/streams" "[method]input-stream.read"
                fn input_stream_read(stream: i32, len: i64, ret: i32);
            "wasi:io/streams" "[method]input-stream.blocking-read"
                fn input_stream_blocking_read(stream: i32, len: i64, ret: i32);
            "wasi:io/streams" "[method]input-stream.skip"
                fn input_stream_skip(stream: i32, len: i64, ret: i32);
            "wasi:io/streams" "[method]input-stream.blocking-skip"
                fn input_stream_blocking_skip(stream: i32, len: i64, ret: i32);
            "wasi:io/streams" "[method]input-stream.subscribe"
                fn input_stream_subscribe(stream: i32) -> i32;
            "wasi:io/streams" "[resource-drop]input-stream"
                fn drop_input_stream(stream: i32);
            "wasi:io/streams" "[method]output-stream.check-write"
                fn output_stream_check_write(stream: i32, ret: i32);
            "wasi:io/streams" "[method]output-stream.write"
                fn output_stream_write(stream: i32, buf: i32, buf_len: i32, ret: i32);
            "wasi:io/streams" "[method]output-stream.blocking-write-and-flush"
                fn output_stream_blocking_write_and_flush(stream: i32, buf: i32, buf_len: i32, ret: i32);
            "wasi:io/streams" "[method]output-stream.flush"
                fn output_stream_flush(stream: i32, ret: i32);
            "wasi:io/streams" "[method]output-stream.blocking-flush"
                fn output_stream_blocking_flush(stream: i32, ret: i32);
            "wasi:io/streams" "[method]output-stream.subscribe"
                fn output_stream_subscribe(stream: i32) -> i32;
            "wasi:io/streams" "[method]output-stream.write-zeroes"
                fn output_stream_write_zeroes(stream: i32, len: i64, ret: i32);
            "wasi:io/streams" "[method]output-stream.blocking-write-zeroes-and-flush"
                fn output_stream_blocking_write_zeroes_and_flush(stream: i32, len: i64, ret: i32);
            "wasi:io/streams" "[method]output-stream.splice"
                fn output_stream_splice(stream: i32, src: i32, len: i64, ret: i32);
            "wasi:io/streams" "[method]output-stream.blocking-splice"
                fn output_stream_blocking_splice(stream: i32, src: i32, len: i64, ret: i32);
            "wasi:io/streams" "[resource-drop]output-stream"
                fn drop_output_stream(stream: i32);
            "wasi:io/error" "[method]error.to-debug-string"
                fn error_to_debug_string(error: i32, ret: i32);
            "wasi:io/error" "[resource-drop]error"
                fn drop_error(error: i32);
            "wasi:filesystem/types" "filesystem-error-code"
                fn filesystem_error_code(error: i32, ret: i32);
            "wasi:io/poll" "[method]pollable.ready"
                fn pollable_ready(pollable: i32) -> i32;
            "wasi:io/poll" "[method]pollable.block"
                fn pollable_block(pollable: i32);
            "wasi:io/poll" "poll"
                fn poll(list: i32, len: i32, ret: i32);
            "wasi:io/poll" "[resource-drop]pollable"
                fn drop_pollable(pollable: i32);
            "wasi:cli/environment" "get-environment"
                fn get_environment(ret: i32);
            "wasi:cli/environment" "get-arguments"
                fn get_arguments(ret: i32);
        }
    };
}

/// Bit 31: set in every handle a layer's 0.2 front-end hands out. Hosts keep their handles below
/// 2^28 (wasmtime caps its handle table there), so bits 28 to 31 are free for the VFS.
pub const P2_HANDLE_BIT: u32 = 1 << 31;
/// Where the layer's number sits in a front-end handle (bits 28 to 30): each layer of a component
/// packed more than once serves only its own handles and passes the others on.
pub const P2_LAYER_SHIFT: u32 = 28;
/// How many layers of one native component can hand out handles (bits 28 to 30).
pub const P2_MAX_LAYERS: u32 = 8;

/// One intercepted WASI 0.2 function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P2Function {
    /// Its interface, without version (`wasi:filesystem/types`).
    pub interface: &'static str,
    /// Its WIT name, the core import's field (`[method]descriptor.stat`).
    pub name: &'static str,
    /// Its lowered core signature.
    pub signature: Signature,
}

macro_rules! p2_table {
    (export_prefix = $prefix:literal;
     $( $iface:literal $wit:literal fn $id:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// Prefix of the VFS exports that serve intercepted WASI 0.2 functions.
        pub const P2_EXPORT_PREFIX: &str = $prefix;
        /// Every intercepted WASI 0.2 function.
        pub const P2_INTERCEPTED: &[P2Function] = &[
            $( P2Function {
                interface: $iface,
                name: $wit,
                signature: Signature {
                    params: &[$( $crate::__val_kind!($ty) ),*],
                    results: &[$( $crate::__val_kind!($ret) )?],
                },
            }, )*
        ];
    };
}
for_each_p2_intercepted!(p2_table);

/// The interface of a versioned core import module name, if it is a WASI 0.2 one:
/// `wasi:filesystem/types@0.2.3` gives `wasi:filesystem/types`; `@0.3.0`, an unversioned or a
/// non-WASI name give `None`.
pub fn p2_interface(module: &str) -> Option<&str> {
    let (interface, version) = module.split_once('@')?;
    let minor = version.strip_prefix("0.2.")?;
    let patch = minor.split(['-', '+']).next()?;
    (interface.starts_with("wasi:")
        && !patch.is_empty()
        && patch.bytes().all(|b| b.is_ascii_digit()))
    .then_some(interface)
}

/// The intercepted function `name` of the unversioned `interface` (`wasi:filesystem/types`),
/// if any.
pub fn p2_function(interface: &str, name: &str) -> Option<&'static P2Function> {
    P2_INTERCEPTED
        .iter()
        .find(|f| f.interface == interface && f.name == name)
}

/// The intercepted function a core import (`module`, `name`) names, if any: [`p2_function`] of
/// the module's interface, any `0.2.x`.
pub fn p2_intercepted(module: &str, name: &str) -> Option<&'static P2Function> {
    p2_function(p2_interface(module)?, name)
}

impl P2Function {
    /// The name of the VFS export that serves this function, in pieces to concatenate:
    /// [`P2_EXPORT_PREFIX`], the interface, `#`, the WIT name.
    pub fn export_name_parts(&self) -> [&'static str; 4] {
        [P2_EXPORT_PREFIX, self.interface, "#", self.name]
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::prelude::v1::*;

    #[test]
    fn versions_of_0_2_match_and_others_do_not() {
        assert_eq!(
            p2_interface("wasi:filesystem/types@0.2.0"),
            Some("wasi:filesystem/types")
        );
        assert_eq!(p2_interface("wasi:io/poll@0.2.6"), Some("wasi:io/poll"));
        assert_eq!(
            p2_interface("wasi:io/poll@0.2.0-rc-2023-11-10"),
            Some("wasi:io/poll")
        );
        assert_eq!(p2_interface("wasi:io/poll@0.3.0"), None);
        assert_eq!(p2_interface("wasi:io/poll"), None);
        assert_eq!(p2_interface("env@0.2.1"), None);
        let f = p2_intercepted("wasi:filesystem/types@0.2.3", "[method]descriptor.stat");
        assert_eq!(f.map(|f| f.signature.params.len()), Some(2));
        assert!(p2_intercepted("wasi:filesystem/types@0.2.3", "[method]descriptor.nope").is_none());
    }

    #[test]
    fn names_are_unique_and_signatures_fit_the_flat_limit() {
        for (i, f) in P2_INTERCEPTED.iter().enumerate() {
            assert!(f.signature.params.len() <= 16 + 1, "{}", f.name);
            assert!(f.signature.results.len() <= 1, "{}", f.name);
            assert!(P2_INTERCEPTED[i + 1..]
                .iter()
                .all(|g| (g.interface, g.name) != (f.interface, f.name)));
        }
        let stat = P2_INTERCEPTED
            .iter()
            .find(|f| f.name == "[method]descriptor.stat");
        assert_eq!(
            stat.map(|f| f.export_name_parts().concat()).as_deref(),
            Some("wasivfs_p2:wasi:filesystem/types#[method]descriptor.stat")
        );
    }
}
