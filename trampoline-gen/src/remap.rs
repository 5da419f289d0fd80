//! Index remapping with wasm-encoder's `Reencode`: redirecting intercepted imports in the
//! application, and shifting every index of the VFS into the merged index spaces.

use wasm_encoder::reencode::{Error as ReencodeError, Reencode};

use crate::error::MergeError;

/// Maps the application's intercepted import indices to the VFS functions replacing them.
/// Every other function index maps to itself.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redirect {
    /// Indexed by function index; only import indices can be present.
    targets: Vec<Option<u32>>,
}

impl Redirect {
    /// Routes calls of `from` to `to`.
    pub(crate) fn insert(&mut self, from: u32, to: u32) {
        let i = from as usize;
        if self.targets.len() <= i {
            self.targets.resize(i + 1, None);
        }
        self.targets[i] = Some(to);
    }

    /// The replacement of function `f`, if it is redirected.
    #[inline]
    pub(crate) fn get(&self, f: u32) -> Option<u32> {
        self.targets.get(f as usize).copied().flatten()
    }

    /// Whether nothing is redirected.
    pub(crate) fn is_empty(&self) -> bool {
        self.targets.iter().all(Option::is_none)
    }
}

/// Reencoder for application items: redirects intercepted imports and records whether it did.
pub(crate) struct AppRewriter<'r> {
    redirect: &'r Redirect,
    /// Whether a redirected index was met.
    pub hit: bool,
}

impl<'r> AppRewriter<'r> {
    pub(crate) fn new(redirect: &'r Redirect) -> Self {
        AppRewriter {
            redirect,
            hit: false,
        }
    }
}

impl Reencode for AppRewriter<'_> {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<Self::Error>> {
        Ok(match self.redirect.get(func) {
            Some(to) => {
                self.hit = true;
                to
            }
            None => func,
        })
    }
}

/// Where the VFS's index spaces start in the merged module.
#[derive(Clone, Debug)]
pub(crate) struct VfsRemap {
    pub type_base: u32,
    /// Merged function index of every VFS function (imports first).
    pub funcs: Vec<u32>,
    pub table_base: u32,
    pub memory_base: u32,
    pub global_base: u32,
    pub elem_base: u32,
    pub data_base: u32,
}

impl Reencode for VfsRemap {
    type Error = String;

    fn type_index(&mut self, ty: u32) -> Result<u32, ReencodeError<String>> {
        Ok(self.type_base + ty)
    }

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<String>> {
        self.funcs
            .get(func as usize)
            .copied()
            .ok_or_else(|| ReencodeError::UserError(format!("function index {func} out of range")))
    }

    fn table_index(&mut self, table: u32) -> Result<u32, ReencodeError<String>> {
        Ok(self.table_base + table)
    }

    fn memory_index(&mut self, memory: u32) -> Result<u32, ReencodeError<String>> {
        Ok(self.memory_base + memory)
    }

    fn global_index(&mut self, global: u32) -> Result<u32, ReencodeError<String>> {
        Ok(self.global_base + global)
    }

    fn element_index(&mut self, element: u32) -> Result<u32, ReencodeError<String>> {
        Ok(self.elem_base + element)
    }

    fn data_index(&mut self, data: u32) -> Result<u32, ReencodeError<String>> {
        Ok(self.data_base + data)
    }
}

/// Converts a reencoding error into a message.
pub(crate) fn reencode_message<E: std::fmt::Display>(e: ReencodeError<E>) -> String {
    match e {
        ReencodeError::ParseError(p) => p.to_string(),
        other => other.to_string(),
    }
}

/// A reencoding error met while rewriting the application.
pub(crate) fn app_error<E: std::fmt::Display>(e: ReencodeError<E>) -> MergeError {
    MergeError::Malformed(reencode_message(e))
}

/// A reencoding error met while relocating the VFS.
pub(crate) fn vfs_error<E: std::fmt::Display>(e: ReencodeError<E>) -> MergeError {
    MergeError::Vfs(reencode_message(e))
}
