//! What the cache holds: compiled modules and compiled components, behind one trait so that
//! both go through the same lookups, checks and stores.

use std::fs::File;
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

/// What the cache holds: compiled modules and compiled components. An entry is keyed on the
/// bytes compiled, which tell the two apart (their headers differ).
pub(crate) trait Artifact: Sized {
    /// "module" or "component", for messages.
    const WHAT: &'static str;
    /// What the input's header must say.
    const KIND: wasivfs_abi::BinaryKind;
    /// Compiles `bytes` for `engine`, to run now.
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self>;
    /// Compiles `bytes` for `engine`, to store.
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>>;
    /// Maps the artifact stored in `file` (at `path`).
    ///
    /// # Safety
    /// `file` holds an artifact wasmtime made for this kind, and it is never written in place.
    unsafe fn map(engine: &Engine, file: File, path: &Path) -> wasmtime::Result<Self>;
    /// Loads an artifact held in memory.
    ///
    /// # Safety
    /// `bytes` is an artifact wasmtime made for this kind.
    unsafe fn from_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self>;
}

impl Artifact for Module {
    const WHAT: &'static str = "module";
    const KIND: wasivfs_abi::BinaryKind = wasivfs_abi::BinaryKind::CoreModule;
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        Module::new(engine, bytes)
    }
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        engine.precompile_module(bytes)
    }
    unsafe fn map(engine: &Engine, file: File, _: &Path) -> wasmtime::Result<Self> {
        // SAFETY: the caller's promise.
        unsafe { Module::deserialize_open_file(engine, file) }
    }
    unsafe fn from_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        // SAFETY: the caller's promise.
        unsafe { Module::deserialize(engine, bytes) }
    }
}

impl Artifact for Component {
    const WHAT: &'static str = "component";
    const KIND: wasivfs_abi::BinaryKind = wasivfs_abi::BinaryKind::Component;
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        Component::new(engine, bytes)
    }
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        engine.precompile_component(bytes)
    }
    unsafe fn map(engine: &Engine, file: File, path: &Path) -> wasmtime::Result<Self> {
        // wasmtime maps a component by path, not by open file: the path names the file just
        // checked, since entries are replaced by rename, never rewritten (a rename in between
        // puts another sound artifact for the same bytes there).
        drop(file);
        // SAFETY: the caller's promise.
        unsafe { Component::deserialize_file(engine, path) }
    }
    unsafe fn from_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        // SAFETY: the caller's promise.
        unsafe { Component::deserialize(engine, bytes) }
    }
}
