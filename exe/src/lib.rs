//! `wasivfs exe`: makes a native executable that runs a WASI preview 1 module.
//!
//! The module is compiled ahead of time by Cranelift
//! ([`wasmtime::Engine::precompile_module`]); the result is appended, with a
//! checksummed trailer, to the *runner* (the `exe-runner/` crate: a small
//! binary with the wasmtime runtime and WASI but no compiler). At start-up
//! the runner maps the precompiled module from its own file and runs it.
//! See `docs/exe.md`.

mod build;
mod cli;
mod runner;
mod target;

// Shared verbatim with the runner so both sides agree byte for byte.
#[path = "../../exe-runner/src/dirs.rs"]
mod dirs;
#[path = "../../exe-runner/src/engine_config.rs"]
mod engine_config;
#[path = "../../exe-runner/src/trailer.rs"]
mod trailer;

pub use build::{build_executable, precompile, ExeOptions, ExeReport};
pub use cli::{run, ExeArgs};
pub use dirs::DIRS_ENV;
pub use runner::{find_runner, RUNNER_ENV, RUNNER_FILE_NAME};
