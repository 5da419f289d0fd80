//! The wasmtime settings shared by the precompiler (`wasivfs exe`) and the runner.
//!
//! Both sides call [`apply`], so the engine that compiles the module and the
//! engine that loads it agree on every setting that wasmtime checks when deserializing. The
//! runner is built without wasmtime's `gc`, `threads` and
//! `component-model-async` cargo features, so the matching proposals are
//! turned off explicitly here: the compiler then refuses a module that needs
//! them instead of producing an artifact the runner cannot load.

use wasmtime::{Config, WasmFeatures};

/// Applies the shared settings to `config`.
pub fn apply(config: &mut Config) {
    // The packed module's VFS lives in a second linear memory.
    config.wasm_multi_memory(true);
    // Not built into the runner.
    config.wasm_features(
        WasmFeatures::GC
            | WasmFeatures::GC_TYPES
            | WasmFeatures::EXCEPTIONS
            | WasmFeatures::LEGACY_EXCEPTIONS
            | WasmFeatures::THREADS
            | WasmFeatures::SHARED_EVERYTHING_THREADS
            | WasmFeatures::STACK_SWITCHING
            | WasmFeatures::CM_ASYNC,
        false,
    );
    config.concurrency_support(false);
}
