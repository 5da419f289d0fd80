//! The native stub of `wasivfs exe`.
//!
//! An executable made by `wasivfs exe` is this binary with a precompiled WASI
//! preview 1 module or WASI 0.2 command component (and a few baked options) appended; see the
//! `trailer` module of `wasivfs-exe-format`. At start-up the runner maps that program straight
//! from its own file, checks it, and runs it on the wasmtime runtime, which contains no
//! compiler.
//!
//! Exit status: the guest's own code when it exits; 134 when it traps (as
//! wasmtime's command line does); 125 when the runner itself cannot start the
//! program (damaged or incompatible payload, bad `WASIVFS_DIRS`, a granted
//! directory that cannot be opened, non-UTF-8 arguments or environment).

#[cfg(unix)]
mod code_memory;
mod payload;
mod wasi;

use std::process::ExitCode;

/// Exit status when the runner itself fails before or while starting the guest.
const EXIT_RUNNER_ERROR: u8 = 125;

fn main() -> ExitCode {
    match wasi::run() {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {}: {message}", payload::self_path().display());
            ExitCode::from(EXIT_RUNNER_ERROR)
        }
    }
}
