//! Runs the attached program as `wasivfs run` does: a module with WASI preview 1, a component
//! (`wasi:cli/run`) with WASI 0.2.

use wasivfs_wasi_run::{run_command, run_component, RunOptions, Stdio};
use wasivfs_exe_format::dirs::{host_path, parse_list, DIRS_ENV};
use wasivfs_exe_format::engine_config;
use wasivfs_exe_format::trailer::DirMapping;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module, Precompiled};

use crate::payload;

/// Loads the attached module and runs its `_start`, or the attached component and runs its
/// `wasi:cli/run`. Returns the exit status, or a one-line message when the program could not
/// be started.
pub fn run() -> Result<u8, String> {
    let payload = payload::load()?;

    let mut config = Config::new();
    engine_config::apply(&mut config);
    #[cfg(unix)]
    config.with_custom_code_memory(Some(crate::code_memory::MappedCode::new()));
    let engine = Engine::new(&config).map_err(|e| format!("cannot set up wasmtime: {e:#}"))?;
    let cannot_load = |e: wasmtime::Error| {
        format!(
            "the attached program cannot be loaded by this runner \
             (made by another wasivfs/wasmtime build or for another target?): {e:#}"
        )
    };
    let program = match Engine::detect_precompiled(&payload.code) {
        Some(Precompiled::Component) => {
            Program::Component(load_component(&engine, &payload).map_err(cannot_load)?)
        }
        _ => Program::Module(load_module(&engine, &payload).map_err(cannot_load)?),
    };

    let mut dirs = payload.options.dirs.clone();
    if let Some(list) = std::env::var_os(DIRS_ENV) {
        dirs.extend(parse_list(&list).map_err(|e| format!("{DIRS_ENV}: {e}"))?);
    }
    let opts = options(&dirs)?;
    let outcome = match &program {
        Program::Module(module) => run_command(&engine, module, &opts),
        Program::Component(component) => run_component(&engine, component, &opts),
    };
    let status = match outcome {
        // WASI exit codes are 0..=255 in practice; wrap like a Unix shell.
        Ok(outcome) => {
            if let Some(trap) = &outcome.trap {
                eprintln!("error: {trap}");
            }
            (outcome.exit_code & 0xff) as u8
        }
        Err(e) => return Err(e.to_string()),
    };
    drop(program);
    drop(payload);
    Ok(status)
}

/// The attached program, loaded.
enum Program {
    Module(Module),
    Component(Component),
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

/// Unix: as [`load_module`], for a component.
#[cfg(unix)]
fn load_component(engine: &Engine, payload: &payload::Payload) -> wasmtime::Result<Component> {
    let code = std::ptr::NonNull::from(&payload.code[..]);
    // SAFETY: as in `load_module`: the checksummed output of `Component::serialize` for this
    // runner's settings, checked by wasmtime before use, mapped for longer than it is used.
    unsafe { Component::deserialize_raw(engine, code) }
}

/// Elsewhere (Windows): as [`load_module`], for a component.
#[cfg(not(unix))]
fn load_component(engine: &Engine, payload: &payload::Payload) -> wasmtime::Result<Component> {
    // SAFETY: as above.
    unsafe { Component::deserialize(engine, &payload.code[..]) }
}

/// Elsewhere (Windows): wasmtime copies the code into memory it manages.
#[cfg(not(unix))]
fn load_module(engine: &Engine, payload: &payload::Payload) -> wasmtime::Result<Module> {
    // SAFETY: as above, the checksummed output of `Engine::precompile_module`,
    // checked by wasmtime for version and settings before use.
    unsafe { Module::deserialize(engine, &payload.code[..]) }
}

/// The run options: inherited stdio, arguments and environment (minus `WASIVFS_DIRS`, which is
/// addressed to the runner), and the granted directories, read-write.
fn options(dirs: &[DirMapping]) -> Result<RunOptions, String> {
    let mut opts = RunOptions {
        stdio: Stdio::Inherit,
        ..RunOptions::default()
    };
    for (i, arg) in std::env::args_os().enumerate() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {i} is not valid UTF-8: {}", a.to_string_lossy()))?;
        opts.args.push(arg);
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
        opts.env.push((key, value));
    }
    for d in dirs {
        opts.dirs.push((host_path(&d.host)?, d.guest.clone()));
    }
    Ok(opts)
}
