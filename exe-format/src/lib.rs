//! What `wasivfs exe` (which writes executables) and the runner (which reads itself) agree on, in
//! one crate both depend on:
//!
//! - [`trailer`]: the layout of the payload, options and footer appended to the runner;
//! - [`dirs`]: the `HOST::GUEST` directory-grant syntax of `--dir` and `WASIVFS_DIRS`;
//! - [`engine_config`]: the wasmtime settings the module is compiled and loaded with.
#![deny(missing_docs)]

pub mod dirs;
pub mod engine_config;
pub mod trailer;
