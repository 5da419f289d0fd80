//! Runs WASI preview 1 command modules on the embedded wasmtime.
//!
//! This is the engine behind `wasivfs run` and the oracle of the differential tests: the same
//! function runs a module with host directories mapped in (what a packed module must imitate) or a
//! packed module with none. Output can go to the terminal or be captured. [`cache`] keeps
//! compiled modules between runs of `wasivfs run`.

#![deny(missing_docs)]

pub mod cache;

use anyhow::{anyhow, Result};
pub use cache::{load_for_run, Lookup, Miss, ModuleCache};
use std::path::PathBuf;
use wasmtime::{Config, Engine, Linker, Module, Store, Strategy};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// The exit code reported for a module that trapped (what wasmtime's own CLI uses on Unix:
/// 128 + SIGABRT).
pub const TRAP_EXIT_CODE: i32 = 134;

/// A wasmtime engine with Cranelift and multi-memory on (packed modules have two memories).
pub fn engine() -> Result<Engine> {
    Engine::new(&base_config()).map_err(|e| anyhow!(e).context("cannot configure the wasm engine"))
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.strategy(Strategy::Cranelift);
    config.wasm_multi_memory(true);
    config
}

/// Where the guest's standard streams go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Stdio {
    /// Use this process's stdin, stdout and stderr.
    #[default]
    Inherit,
    /// Feed `stdin` as the guest's input and collect its output into [`RunOutcome`].
    Capture {
        /// Bytes the guest reads from fd 0.
        stdin: Vec<u8>,
    },
}

/// How to run a command module.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The guest's argv, including argv\[0\].
    pub args: Vec<String>,
    /// The guest's environment, in order.
    pub env: Vec<(String, String)>,
    /// Host directories to preopen: `(host path, guest path)`, in order.
    pub dirs: Vec<(PathBuf, String)>,
    /// Map every directory read-only (the differential tests' oracle).
    pub read_only: bool,
    /// Terminal or captured standard streams.
    pub stdio: Stdio,
}

/// What a run ended with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// `proc_exit` code, 0 when `_start` returned, [`TRAP_EXIT_CODE`] on a trap.
    pub exit_code: i32,
    /// Captured stdout (empty when inherited).
    pub stdout: Vec<u8>,
    /// Captured stderr (empty when inherited).
    pub stderr: Vec<u8>,
    /// The trap message if the guest trapped.
    pub trap: Option<String>,
}

/// Compiles `bytes` (binary or text wasm) into a module for [`run_command`].
pub fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module> {
    Module::new(engine, bytes).map_err(|e| anyhow!(e).context("cannot compile the module"))
}

/// Compiles and runs a command module given as bytes.
pub fn run_bytes(engine: &Engine, bytes: &[u8], opts: &RunOptions) -> Result<RunOutcome> {
    let module = compile(engine, bytes)?;
    run_command(engine, &module, opts)
}

/// Captured stdout is limited to this many bytes per stream.
const CAPTURE_LIMIT: usize = 1 << 30;

/// Runs the `_start` export of `module` with WASI preview 1.
///
/// Imports other than `wasi_snapshot_preview1` are defined as traps, so a module with unused foreign
/// imports still runs. Errors are for what prevents the run (a missing directory, a module that is
/// not a command, a failed instantiation); a guest exit or trap is a [`RunOutcome`].
pub fn run_command(engine: &Engine, module: &Module, opts: &RunOptions) -> Result<RunOutcome> {
    let mut builder = WasiCtxBuilder::new();
    builder.args(&opts.args);
    for (k, v) in &opts.env {
        builder.env(k, v);
    }
    let perms = if opts.read_only {
        FsPerms::ReadOnly
    } else {
        FsPerms::ReadWrite
    };
    for (host, guest) in &opts.dirs {
        builder.preopened_dir(host, guest, perms).map_err(|e| {
            anyhow!(e).context(format!("{}: cannot open directory", host.display()))
        })?;
    }
    let pipes = match &opts.stdio {
        Stdio::Inherit => {
            builder.inherit_stdio();
            None
        }
        Stdio::Capture { stdin } => {
            let out = MemoryOutputPipe::new(CAPTURE_LIMIT);
            let err = MemoryOutputPipe::new(CAPTURE_LIMIT);
            builder.stdin(MemoryInputPipe::new(stdin.clone()));
            builder.stdout(out.clone());
            builder.stderr(err.clone());
            Some((out, err))
        }
    };
    let wasi = builder.build_p1();

    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    p1::add_to_linker_sync(&mut linker, |t| t).map_err(|e| anyhow!(e))?;
    linker
        .define_unknown_imports_as_traps(module)
        .map_err(|e| anyhow!(e))?;
    let mut store = Store::new(engine, wasi);
    let instance = linker
        .instantiate(&mut store, module)
        .map_err(|e| anyhow!(e).context("cannot instantiate the module"))?;
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|_| anyhow!("the module has no `_start` function: it is not a WASI command"))?;

    let mut outcome = RunOutcome::default();
    if let Err(e) = start.call(&mut store, ()) {
        match e.downcast_ref::<I32Exit>() {
            Some(exit) => outcome.exit_code = exit.0,
            None => {
                outcome.exit_code = TRAP_EXIT_CODE;
                outcome.trap = Some(format!("{:#}", anyhow!(e)));
            }
        }
    }
    drop(store);
    if let Some((out, err)) = pipes {
        outcome.stdout = out.contents().to_vec();
        outcome.stderr = err.contents().to_vec();
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(args: &[&str]) -> RunOptions {
        RunOptions {
            args: args.iter().map(|s| s.to_string()).collect(),
            stdio: Stdio::Capture { stdin: Vec::new() },
            ..RunOptions::default()
        }
    }

    const HELLO_EXIT: &str = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (import "somewhere_else" "unused" (func $u))
      (memory (export "memory") 1)
      (data (i32.const 16) "hi\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 3))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $exit (i32.const 7))))"#;

    #[test]
    fn captures_output_and_exit_code_with_foreign_imports() {
        let engine = engine().unwrap();
        let out = run_bytes(&engine, HELLO_EXIT.as_bytes(), &captured(&["x"])).unwrap();
        assert_eq!(out.exit_code, 7);
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"hi\n");
        assert_eq!(out.trap, None);
    }

    #[test]
    fn trap_is_an_outcome_and_missing_start_is_an_error() {
        let engine = engine().unwrap();
        let trap = "(module (func (export \"_start\") unreachable))";
        let out = run_bytes(&engine, trap.as_bytes(), &captured(&[])).unwrap();
        assert_eq!(out.exit_code, TRAP_EXIT_CODE);
        assert!(out.trap.unwrap().contains("unreachable"));
        let reactor = "(module (func (export \"_initialize\")))";
        let err = run_bytes(&engine, reactor.as_bytes(), &captured(&[])).unwrap_err();
        assert!(err.to_string().contains("_start"), "{err}");
    }

    #[test]
    fn missing_directory_names_it() {
        let engine = engine().unwrap();
        let mut opts = captured(&[]);
        opts.dirs
            .push(("/nonexistent-wasivfs-dir".into(), "/x".into()));
        let err = run_bytes(&engine, HELLO_EXIT.as_bytes(), &opts).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-wasivfs-dir"),
            "{err}"
        );
    }

    /// Opens `f.txt` in preopen fd 3 and writes it to stdout; exit 1/2 on errno.
    const CAT: &str = include_str!("../../fixtures/wat/cat.wat");

    #[test]
    fn reads_a_mapped_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), b"contents").unwrap();
        let engine = engine().unwrap();
        let mut opts = captured(&[]);
        opts.read_only = true;
        opts.dirs.push((dir.path().to_path_buf(), "/d".into()));
        let out = run_bytes(&engine, CAT.as_bytes(), &opts).unwrap();
        assert_eq!(
            (out.exit_code, out.stdout.as_slice()),
            (0, &b"contents"[..])
        );
        // Without the directory, path_open on fd 3 fails (EBADF).
        let out = run_bytes(&engine, CAT.as_bytes(), &captured(&[])).unwrap();
        assert_eq!(out.exit_code, 1);
    }
}
