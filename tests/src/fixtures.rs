//! The guest programs compiled from `fixtures/` by the build script.

use std::path::Path;

/// `fixtures/c/fsops.c`: the C (wasi-libc) filesystem probe. See the file's header for operations.
pub const FSOPS: &str = env!("WASIVFS_FIXTURE_FSOPS");

/// `fixtures/c/growth.c`: reads a tree again after each of many heap growths.
pub const GROWTH: &str = env!("WASIVFS_FIXTURE_GROWTH");

/// `fixtures/rust-guest`: the Rust `std::fs` probe for `wasm32-wasip1`.
pub const RUST_GUEST: &str = env!("WASIVFS_FIXTURE_RUST_GUEST");

/// `fixtures/rust-guest` built for `wasm32-wasip2`: a native WASI 0.2 component whose `std`
/// calls `wasi:filesystem` directly.
pub const RUST_GUEST_P2: &str = env!("WASIVFS_FIXTURE_RUST_GUEST_P2");

/// `fixtures/ops-guest`: runs raw WASI preview 1 calls read from stdin (the generated tests).
pub const OPS_GUEST: &str = env!("WASIVFS_FIXTURE_OPS_GUEST");

/// `fixtures/c/probe.c`: a small C program that prints its arguments, environment and the files
/// it is asked to read (the `wasivfs exe` tests' probe).
pub const PROBE: &str = env!("WASIVFS_FIXTURE_PROBE");

/// `fixtures/c/context.c`: prints its arguments, environment and preopens (the baked-settings
/// tests' probe).
pub const CONTEXT: &str = env!("WASIVFS_FIXTURE_CONTEXT");

/// `fixtures/exe-guest/src/bin/hello.rs`: a Rust hello world.
pub const EXE_GUEST_HELLO: &str = env!("WASIVFS_FIXTURE_EXE_GUEST_HELLO");

/// `fixtures/exe-guest/src/bin/fib.rs`: a CPU-bound Rust program (recursive Fibonacci).
pub const EXE_GUEST_FIB: &str = env!("WASIVFS_FIXTURE_EXE_GUEST_FIB");

/// Reads a compiled fixture; panics with the path if the build script's output went missing.
pub fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(path)).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The C probe's bytes.
pub fn fsops() -> Vec<u8> {
    bytes(FSOPS)
}

/// The growth program's bytes.
pub fn growth() -> Vec<u8> {
    bytes(GROWTH)
}

/// The raw-call guest's bytes.
pub fn ops_guest() -> Vec<u8> {
    bytes(OPS_GUEST)
}

/// The Rust probe's bytes.
pub fn rust_guest() -> Vec<u8> {
    bytes(RUST_GUEST)
}

/// The Rust probe as a native WASI 0.2 component.
pub fn rust_guest_p2() -> Vec<u8> {
    bytes(RUST_GUEST_P2)
}

/// A module that imports only `fd_write` and `proc_exit`: prints `hello from a tiny module` and
/// exits with code 3. Packing it must still work (the VFS's other host calls become stubs).
pub const TINY_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "hello from a tiny module\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 25))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 3))))"#;

/// A module with no imports at all: `_start` returns at once.
pub const NO_IMPORTS_WAT: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "_start")))"#;

/// Compiles WebAssembly text to binary, panicking with the parser's message on a typo.
pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("bad test WAT: {e}"))
}
