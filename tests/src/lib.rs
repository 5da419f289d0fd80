//! Helpers for the wasivfs end-to-end and differential tests.
//!
//! The *oracle* is wasmtime-wasi preview 1 with a host directory preopened read-only at the guest
//! path; the *subject* is the same program packed with that directory and run with no host
//! directory. A differential test runs a fixture both ways and requires identical stdout, stderr
//! and exit code.
//!
//! - [`fixtures`]: the compiled guest programs (built by this crate's build script).
//! - [`trees`]: test trees generated into temporary directories (nothing is committed).
//! - [`run`]: the oracle, packing, and the differential comparison.
//! - [`cli`]: locating and running the real `wasivfs` binary.
//! - [`artifacts`]: the downloaded real-world modules (CPython, MicroPython, Ruby).
//! - [`interp`]: the interpreter apps, import/export lists, and the CRuby reactor harness.
//! - [`gentree`], [`genops`], [`opdiff`]: the generated differential tests (random trees, random
//!   preview 1 call sequences, their comparison).
//! - [`mutate`], [`limited`]: the untrusted-input tests (a mutator of packed modules, commands run
//!   with a time limit).
//! - [`testsuite`]: the prebuilt WASI preview 1 test suite kept beside the repository.
//! - [`runtimes`], [`browser`], [`ruby_cli`], [`process`]: outside runtimes (the `wasmtime` CLI,
//!   Node, Bun, Deno, headless browsers) running packed modules, with time limits.
//! - [`compat`]: the runtime table of `docs/compatibility.md`, checked against the test run.
//! - [`skip`]: the one policy for a requirement unavailable here (skip outside CI, fail in it).

#![deny(missing_docs)]

pub mod artifacts;
pub mod browser;
pub mod cli;
pub mod compat;
pub mod component;
pub mod fixtures;
pub mod genops;
pub mod gentree;
pub mod interp;
pub mod limited;
pub mod mutate;
pub mod opdiff;
pub mod packer;
pub mod process;
pub mod ruby_cli;
pub mod run;
pub mod runtimes;
pub mod skip;
pub mod suites;
pub mod testsuite;
pub mod trees;
