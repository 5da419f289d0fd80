//! The host's WASI 0.2 functions the front-end falls through to, and (on wasm32) the
//! `wasivfs_p2:*` exports that serve the application's imports of them, all generated from the
//! one list in `wasivfs_abi::for_each_p2_intercepted!`.

/// Declares the [`P2`] trait, its wasm32 imports and implementation, and the exports.
macro_rules! p2_functions {
    (export_prefix = $prefix:literal;
     $( $iface:literal $wit:literal fn $id:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// The host's WASI 0.2 functions for every name in the intercept list, with their lowered
        /// core signatures (pointers are application addresses).
        pub trait P2 {
            $(
                #[allow(missing_docs, clippy::too_many_arguments)]
                fn $id(&mut self, $($arg: $ty),*) $(-> $ret)?;
            )*
        }

        #[cfg(target_arch = "wasm32")]
        mod raw {
            $(
                #[link(wasm_import_module = $iface)]
                extern "C" {
                    #[link_name = $wit]
                    pub fn $id($($arg: $ty),*) $(-> $ret)?;
                }
            )*
        }

        #[cfg(target_arch = "wasm32")]
        impl P2 for crate::host::WasmHost {
            $(
                #[allow(clippy::too_many_arguments)]
                fn $id(&mut self, $($arg: $ty),*) $(-> $ret)? {
                    // SAFETY: the import has exactly the lowered signature; it only touches the
                    // application's memory, never ours.
                    unsafe { raw::$id($($arg),*) }
                }
            )*
        }

        /// One export per intercepted function, with exactly its lowered signature, each running
        /// the front-end function of the same name.
        #[cfg(target_arch = "wasm32")]
        pub mod exports {
            $(
                #[export_name = concat!($prefix, $iface, "#", $wit)]
                #[allow(clippy::too_many_arguments)]
                extern "C" fn $id($($arg: $ty),*) $(-> $ret)? {
                    crate::exports::dispatch(|vfs, host| {
                        crate::p2::front::$id(vfs, host, $($arg),*)
                    })
                }
            )*
        }

        /// Implements [`P2`] for a type by sending every call to its
        /// `fn call_p2(&mut self, name: &'static str, args: &[i64]) -> i32`.
        #[cfg(test)]
        macro_rules! impl_p2_by_dispatch {
            ($t:ty) => {
                impl $crate::p2::host::P2 for $t {
                    $(
                        #[allow(clippy::too_many_arguments, unused_variables)]
                        fn $id(&mut self, $($arg: $ty),*) $(-> $ret)? {
                            $crate::p2::host::FromI32::from_i32(
                                self.call_p2($wit, &[$($arg as i64),*]),
                            )
                        }
                    )*
                }
            };
        }
        #[cfg(test)]
        pub(crate) use impl_p2_by_dispatch;
    };
}

wasivfs_abi::for_each_p2_intercepted!(p2_functions);

/// Everything the 0.2 front-end needs: the VFS core's host and the host's 0.2 functions.
pub trait P2Host: crate::host::Host + P2 {}
impl<T: crate::host::Host + P2> P2Host for T {}

/// The result of a mocked host call: an `i32`, or nothing.
#[cfg(test)]
pub(crate) trait FromI32 {
    fn from_i32(v: i32) -> Self;
}
#[cfg(test)]
impl FromI32 for i32 {
    fn from_i32(v: i32) -> Self {
        v
    }
}
#[cfg(test)]
impl FromI32 for () {
    fn from_i32(_: i32) -> Self {}
}
