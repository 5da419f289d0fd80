//! Runs the attached module with WASI preview 1, as `wasivfs run` does.

use wasmtime::{Config, Engine, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::dirs::{host_path, parse_list, DIRS_ENV};
use crate::trailer::DirMapping;
use crate::{engine_config, payload};

/// Exit status reported when the guest traps (wasmtime's convention: 128 + SIGABRT).
const EXIT_TRAP: u8 = 134;

/// Loads the attached module and runs its `_start`. Returns the exit status,
/// or a one-line message when the program could not be started.
pub fn run() -> Result<u8, String> {
    let payload = payload::load()?;

    let mut config = Config::new();
    engine_config::apply(&mut config);
    #[cfg(unix)]
    config.with_custom_code_memory(Some(crate::code_memory::MappedCode::new()));
    let engine = Engine::new(&config).map_err(|e| format!("cannot set up wasmtime: {e:#}"))?;
    let module = load_module(&engine, &payload).map_err(|e| {
        format!(
            "the attached program cannot be loaded by this runner \
             (made by another wasivfs/wasmtime build or for another target?): {e:#}"
        )
    })?;

    let mut dirs = payload.options.dirs.clone();
    if let Some(list) = std::env::var_os(DIRS_ENV) {
        dirs.extend(parse_list(&list).map_err(|e| format!("{DIRS_ENV}: {e}"))?);
    }
    let wasi = build_ctx(&dirs)?;

    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |cx| cx).map_err(|e| format!("{e:#}"))?;
    linker
        .define_unknown_imports_as_traps(&module)
        .map_err(|e| format!("{e:#}"))?;
    let mut store = Store::new(&engine, wasi);
    let result = linker
        .instantiate(&mut store, &module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
        .and_then(|start| start.call(&mut store, ()));
    let status = match result {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            // WASI exit codes are 0..=255 in practice; wrap like a Unix shell.
            Some(I32Exit(code)) => (*code & 0xff) as u8,
            None => {
                eprintln!("error: {e:?}");
                EXIT_TRAP
            }
        },
    };
    drop(store);
    drop(module);
    drop(payload);
    Ok(status)
}

/// Unix: runs the code in place, in the file mapping (see `code_memory.rs`).
#[cfg(unix)]
fn load_module(engine: &Engine, payload: &payload::Payload) -> wasmtime::Result<Module> {
    let code = std::ptr::NonNull::from(&payload.code[..]);
    // SAFETY: `code` is exactly the output of `Engine::precompile_module`
    // written by `wasivfs exe` (its checksum was just verified), wasmtime's
    // own version and settings check runs before anything is used, and the
    // mapping outlives the module: `payload` lives until `run` returns and the
    // module, store and instance are dropped before it.
    unsafe { Module::deserialize_raw(engine, code) }
}

/// Elsewhere (Windows): wasmtime copies the code into memory it manages.
#[cfg(not(unix))]
fn load_module(engine: &Engine, payload: &payload::Payload) -> wasmtime::Result<Module> {
    // SAFETY: as above, the checksummed output of `Engine::precompile_module`,
    // checked by wasmtime for version and settings before use.
    unsafe { Module::deserialize(engine, &payload.code[..]) }
}

/// Builds the WASI context: inherited stdio, arguments and environment (minus
/// `WASIVFS_DIRS`, which is addressed to the runner), and the granted dirs.
fn build_ctx(dirs: &[DirMapping]) -> Result<WasiP1Ctx, String> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdio().allow_blocking_current_thread(true);
    for (i, arg) in std::env::args_os().enumerate() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {i} is not valid UTF-8: {}", a.to_string_lossy()))?;
        b.arg(arg);
    }
    for (key, value) in std::env::vars_os() {
        if key == DIRS_ENV {
            continue;
        }
        let key = key.into_string().map_err(|k| {
            format!(
                "environment variable name is not valid UTF-8: {}",
                k.to_string_lossy()
            )
        })?;
        let value = value
            .into_string()
            .map_err(|_| format!("environment variable {key} is not valid UTF-8"))?;
        b.env(&key, &value);
    }
    for d in dirs {
        let host = host_path(&d.host)?;
        b.preopened_dir(&host, &d.guest, FsPerms::ReadWrite)
            .map_err(|e| {
                format!(
                    "cannot open directory {} (granted as {}): {e:#}",
                    host.display(),
                    d.guest
                )
            })?;
    }
    Ok(b.build_p1())
}
