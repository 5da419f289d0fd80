//! Components made from the preview 1 fixtures: a core module wrapped with the
//! `wasi_snapshot_preview1` command adapter, as `wasm-tools component new --adapt` makes them.

use anyhow::{Context, Result};

/// The adapter's name as a component import module.
const ADAPTER_NAME: &str = "wasi_snapshot_preview1";

/// `module` (a preview 1 command) as a WASI 0.2 command component, built with wasmtime's
/// command adapter of the same release as the embedded wasmtime.
pub fn from_preview1(module: &[u8]) -> Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .context("reading the core module")?
        .adapter(
            ADAPTER_NAME,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .context("reading the adapter")?
        .validate(true)
        .encode()
        .context("encoding the component")
}

/// [`from_preview1`] that panics naming `what` (test set-up).
pub fn wrap(module: &[u8], what: &str) -> Vec<u8> {
    from_preview1(module).unwrap_or_else(|e| panic!("{what}: cannot make a component: {e:#}"))
}
