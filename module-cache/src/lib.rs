//! Runs WASI preview 1 command modules, and WASI 0.2 command components, on the embedded
//! wasmtime.
//!
//! This is the engine behind `wasivfs run` and the oracle of the differential tests: the same
//! function runs a module with host directories mapped in (what a packed module must imitate) or a
//! packed module with none. Output can go to the terminal or be captured. [`cache`] keeps
//! compiled modules between runs of `wasivfs run`.

#![deny(missing_docs)]

pub mod cache;
pub mod location;

use anyhow::{anyhow, Result};
pub use cache::{load_component_for_run, load_for_run, Lookup, Miss, ModuleCache};
use wasivfs_abi::BinaryKind;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module, Strategy};

pub use wasivfs_wasi_run::{
    run_command, run_component, RunError, RunOptions, RunOutcome, Stdio, TRAP_EXIT_CODE,
};

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

/// Compiles `bytes` (binary or text wasm) into a module for [`run_command`].
pub fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module> {
    Module::new(engine, bytes).map_err(|e| anyhow!(e).context("cannot compile the module"))
}

/// Compiles and runs a command given as bytes: a preview 1 command module, or a WASI 0.2
/// command component.
pub fn run_bytes(engine: &Engine, bytes: &[u8], opts: &RunOptions) -> Result<RunOutcome> {
    if BinaryKind::of(bytes) == BinaryKind::Component {
        let component = Component::new(engine, bytes)
            .map_err(|e| anyhow!(e).context("cannot compile the component"))?;
        return Ok(run_component(engine, &component, opts)?);
    }
    let module = compile(engine, bytes)?;
    Ok(run_command(engine, &module, opts)?)
}

/// Whether the file at `path` starts with a component's header (then [`load_component_for_run`] loads
/// it; anything else goes to [`load_for_run`]).
pub fn is_component_file(path: &std::path::Path) -> Result<bool> {
    use std::io::Read;
    let mut header = Vec::with_capacity(8);
    std::fs::File::open(path)?
        .take(8)
        .read_to_end(&mut header)?;
    Ok(BinaryKind::of(&header) == BinaryKind::Component)
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

    /// The binary of a module written as text (wasivfs's wasmtime parses binaries only).
    fn bin(text: &str) -> Vec<u8> {
        wat::parse_str(text).unwrap()
    }

    #[test]
    fn captures_output_and_exit_code_with_foreign_imports() {
        let engine = engine().unwrap();
        let out = run_bytes(&engine, &bin(HELLO_EXIT), &captured(&["x"])).unwrap();
        assert_eq!(out.exit_code, 7);
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"hi\n");
        assert_eq!(out.trap, None);
    }

    #[test]
    fn trap_is_an_outcome_and_missing_start_is_an_error() {
        let engine = engine().unwrap();
        let trap = "(module (func (export \"_start\") unreachable))";
        let out = run_bytes(&engine, &bin(trap), &captured(&[])).unwrap();
        assert_eq!(out.exit_code, TRAP_EXIT_CODE);
        assert!(out.trap.unwrap().contains("unreachable"));
        let reactor = "(module (func (export \"_initialize\")))";
        let err = run_bytes(&engine, &bin(reactor), &captured(&[])).unwrap_err();
        assert!(err.to_string().contains("_start"), "{err}");
    }

    #[test]
    fn missing_directory_names_it() {
        let engine = engine().unwrap();
        let mut opts = captured(&[]);
        opts.dirs
            .push(("/nonexistent-wasivfs-dir".into(), "/x".into()));
        let err = run_bytes(&engine, &bin(HELLO_EXIT), &opts).unwrap_err();
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
        let out = run_bytes(&engine, &bin(CAT), &opts).unwrap();
        assert_eq!(
            (out.exit_code, out.stdout.as_slice()),
            (0, &b"contents"[..])
        );
        // Without the directory, path_open on fd 3 fails (EBADF).
        let out = run_bytes(&engine, &bin(CAT), &captured(&[])).unwrap();
        assert_eq!(out.exit_code, 1);
    }
}
