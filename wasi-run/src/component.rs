//! Running a WASI 0.2 command component (`wasi:cli/run`) on wasmtime-wasi's preview 2 host,
//! with the same options and outcome as a preview 1 command.

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::{outcome, wasi_builder, RunError, RunOptions, RunOutcome};

/// The store data of a component run: the WASI context and its resource table.
struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs the `wasi:cli/run` export of `component` with WASI 0.2. A `run` that returns an error
/// exits with code 1, as under `wasmtime run`. Every import must be a WASI 0.2 interface.
pub fn run_component(
    engine: &Engine,
    component: &Component,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let (mut builder, pipes) = wasi_builder(opts)?;
    let host = Host {
        wasi: builder.build(),
        table: ResourceTable::new(),
    };
    let mut linker: Linker<Host> = Linker::new(engine);
    // No `define_unknown_imports_as_traps` here: it defines imports it cannot find by exact
    // version (an adapter importing `wasi:io/error@0.2.12` from a 0.2.6 host) as traps with
    // resource types of their own, which then mismatch the WASI interfaces matched by semver.
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(RunError::Instantiate)?;
    let mut store = Store::new(engine, host);
    let instance = linker
        .instantiate(&mut store, component)
        .map_err(RunError::Instantiate)?;
    let command = Command::new(&mut store, &instance).map_err(|_| RunError::NotACommand)?;
    let result = command
        .wasi_cli_run()
        .call_run(&mut store)
        .and_then(|ran| ran.map_err(|()| wasmtime_wasi::I32Exit(1).into()));
    drop(store);
    Ok(outcome(result, pipes))
}
