//! The names and signatures the VFS guest ABI is built on: the preview 1 functions the VFS
//! intercepts, and the intrinsics over application memory that the merger generates.

use std::fmt;
use wasmparser::{FuncType, ValType};

pub use wasivfs_abi::{
    Intrinsic, Width, APP_INTRINSICS, CUSTOM_SECTION, EXPORT_PREFIX, INIT_EXPORT, PACK_IMPORTS,
    PREVIEW1,
};

/// Preview 1 `ENOSYS`, returned by generated stubs (as the `i32` they return).
pub const ENOSYS: i32 = wasivfs_abi::ENOSYS as i32;

/// An ABI signature, checked against the types the merger parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types, in order.
    pub params: &'static [wasivfs_abi::ValKind],
    /// Result types, in order.
    pub results: &'static [wasivfs_abi::ValKind],
}

impl From<wasivfs_abi::Signature> for Signature {
    fn from(s: wasivfs_abi::Signature) -> Self {
        Signature {
            params: s.params,
            results: s.results,
        }
    }
}

/// The wasmparser type of an ABI number type.
pub fn val_type(k: wasivfs_abi::ValKind) -> ValType {
    match k {
        wasivfs_abi::ValKind::I32 => ValType::I32,
        wasivfs_abi::ValKind::I64 => ValType::I64,
    }
}

impl Signature {
    /// Whether a parsed function type has exactly this signature.
    pub fn matches(&self, ty: &FuncType) -> bool {
        let same = |parsed: &[ValType], abi: &[wasivfs_abi::ValKind]| {
            parsed.len() == abi.len() && parsed.iter().zip(abi).all(|(p, a)| *p == val_type(*a))
        };
        same(ty.params(), self.params) && same(ty.results(), self.results)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<ValType> = self.params.iter().map(|k| val_type(*k)).collect();
        let results: Vec<ValType> = self.results.iter().map(|k| val_type(*k)).collect();
        write_signature(f, &params, &results)
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

/// The preview 1 signature of `name` if the VFS intercepts it.
pub fn intercepted(name: &str) -> Option<Signature> {
    wasivfs_abi::intercepted(name).map(Signature::from)
}

/// The signature of an intercepted import by its [`crate::InterceptedImport`] name: a preview 1
/// function (`fd_read`) or a WASI 0.2 one (`wasi:filesystem/types#[method]descriptor.stat`).
pub fn intercepted_import(name: &str) -> Option<Signature> {
    match name.split_once('#') {
        None => intercepted(name),
        Some((interface, function)) => {
            wasivfs_abi::p2_function(interface, function).map(|f| Signature::from(f.signature))
        }
    }
}

/// The intrinsic imported as `wasivfs_app.<name>`, with its signature.
pub fn intrinsic(name: &str) -> Option<(Intrinsic, Signature)> {
    wasivfs_abi::intrinsic(name).map(|(i, s)| (i, Signature::from(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_parsed_types() {
        let sig = intercepted("fd_seek").expect("fd_seek is intercepted");
        let ty = FuncType::new(
            [ValType::I32, ValType::I64, ValType::I32, ValType::I32],
            [ValType::I32],
        );
        assert!(sig.matches(&ty));
        assert!(!sig.matches(&FuncType::new([ValType::I32], [ValType::I32])));
        assert!(intercepted("proc_exit").is_none());
    }

    #[test]
    fn signatures_display() {
        let s = intercepted("fd_seek").map(|s| s.to_string());
        assert_eq!(s.as_deref(), Some("(i32, i64, i32, i32) -> (i32)"));
    }
}
