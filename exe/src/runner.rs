//! Locating the runner binary that executables are made from.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// Environment variable naming the runner binary explicitly.
pub const RUNNER_ENV: &str = "WASIVFS_EXE_RUNNER";

/// File name of the runner looked up next to the current executable.
pub const RUNNER_FILE_NAME: &str = "wasivfs-exe-runner";

/// Finds the runner: `explicit` if given, else `$WASIVFS_EXE_RUNNER`, else
/// `wasivfs-exe-runner` in the directory of the current executable.
pub fn find_runner(explicit: Option<&PathBuf>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.clone());
    }
    if let Some(path) = std::env::var_os(RUNNER_ENV) {
        if !path.is_empty() {
            return Ok(PathBuf::from(path));
        }
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let candidate = dir.join(RUNNER_FILE_NAME);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "cannot find the executable runner `{RUNNER_FILE_NAME}`: build it with \
         `cargo build --release --manifest-path exe-runner/Cargo.toml` and put it next to \
         wasivfs, or name it with {RUNNER_ENV}=PATH or --runner PATH"
    )
}
