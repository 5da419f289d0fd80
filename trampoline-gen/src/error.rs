//! The error type of every operation of this crate.

/// Why a module could not be checked, prepared, merged or read back.
///
/// Messages name the reason only; callers prefix the file they were working on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The bytes do not start with the WebAssembly magic number.
    #[error("not a WebAssembly module (bad magic bytes)")]
    NotWasm,
    /// The module is a component, not a core module.
    #[error(
        "this is a WebAssembly component, not a core module; only core WASI preview 1 modules can be packed"
    )]
    Component,
    /// A WASI 0.3 (component-model async) component; the reason says what gave it away.
    #[error("{0}: WASI 0.3 (async) components are not supported yet, only WASI 0.2 components built from preview 1 modules")]
    Async(String),
    /// A component that imports `wasi:filesystem` (this import) but none of whose own core
    /// modules does (it passes the interface to a nested component or instance).
    #[error("the component imports `{0}` but none of its own core modules does (it passes it on to a nested component): not supported yet")]
    NativeComponent(String),
    /// Something this version cannot pack yet, said in full.
    #[error("{0}")]
    Unsupported(String),
    /// A native WASI 0.2 component in which this many core modules import `wasi:filesystem`.
    #[error("{0} core modules of the component import `wasi:filesystem` (a dynamically linked program): not supported yet; only components whose one main module imports it can be packed")]
    LinkedNative(usize),
    /// A component whose main module imports preview 1 and also this `wasi:filesystem`
    /// interface directly (a `wasm32-wasip2` program that calls preview 1 as well): its 0.2 file
    /// calls would bypass the embedded files.
    #[error("the core module that imports `wasi_snapshot_preview1` also imports `{0}` directly: its WASI 0.2 file calls would bypass the embedded files; not supported yet (native WASI 0.2 file access)")]
    MixedComponent(String),
    /// A component in which this many core modules import preview 1 (a dynamically linked
    /// program, as componentize-py makes: libc, libpython and the application each a module).
    #[error("{0} core modules of the component import `wasi_snapshot_preview1` (a dynamically linked program, as componentize-py makes): not supported yet; only components whose one main module imports it (as the preview 1 adapter makes them) can be packed")]
    LinkedComponent(usize),
    /// The binary is truncated or malformed.
    #[error("invalid or truncated WebAssembly module: {0}")]
    Malformed(String),
    /// The module defines no linear memory.
    #[error("the module has no linear memory")]
    NoMemory,
    /// The module imports a memory.
    #[error("the module imports its memory (`{module}.{name}`); only modules that define their own memory can be packed")]
    ImportedMemory {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// A memory of the module is shared.
    #[error("memory {index} is shared; shared memories (threads) are not supported")]
    SharedMemory {
        /// Memory index.
        index: u32,
    },
    /// A memory of the module is 64-bit.
    #[error("memory {index} is 64-bit; only 32-bit memories are supported")]
    Memory64 {
        /// Memory index.
        index: u32,
    },
    /// A memory of the module uses a custom page size.
    #[error("memory {index} uses a custom page size; only 64 KiB pages are supported")]
    CustomPageSize {
        /// Memory index.
        index: u32,
    },
    /// The module exports no memory named `memory`.
    #[error("the module exports no memory named `memory` (WASI preview 1 requires one)")]
    NoMemoryExport,
    /// An intercepted preview 1 import has the wrong type.
    #[error("import `wasi_snapshot_preview1.{name}` has type {found}, but WASI preview 1 defines {expected}")]
    ImportSignature {
        /// The preview 1 function name.
        name: String,
        /// The preview 1 signature.
        expected: String,
        /// The signature found in the module.
        found: String,
    },
    /// The VFS module does not have the shape of the VFS guest ABI.
    #[error("VFS module: {0}")]
    Vfs(String),
    /// The input application turned out to be invalid when the merged output was validated.
    #[error("the input module does not validate: {0}")]
    InvalidInput(String),
    /// The merged module does not validate (a bug in the merger).
    #[error("the merged module does not validate (this is a bug in wasivfs): {0}")]
    InvalidOutput(String),
    /// A memory region could not be read back from a module.
    #[error("cannot read memory {memory}: {reason}")]
    Readback {
        /// Memory index.
        memory: u32,
        /// Why.
        reason: String,
    },
    /// The caller's [`crate::Fill`] failed while the file contents were written; its own error.
    #[error("{0}")]
    Content(crate::FillError),
    /// Writing the output failed: the writer's own error (a full disk, say).
    #[error("{0}")]
    Write(std::io::Error),
    /// The module cannot be turned into a single-memory module.
    #[error(
        "cannot make a single-memory module: {0} (`pack --memory multi` keeps the memories apart)"
    )]
    Lowering(String),
    /// A layer's content segments could not be read back from a module.
    #[error("cannot read the file contents: {0}")]
    ContentReadback(String),
}

impl MergeError {
    /// A malformed-module error from a wasmparser error.
    pub(crate) fn malformed(e: wasmparser::BinaryReaderError) -> Self {
        MergeError::Malformed(e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T, E = MergeError> = std::result::Result<T, E>;
