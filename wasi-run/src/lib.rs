//! Running a WASI preview 1 command module on wasmtime, one way for every caller: `wasivfs run`
//! (with Cranelift), the test oracle, and the runner inside executables made by `wasivfs exe`
//! (runtime only).
//!
//! Imports other than `wasi_snapshot_preview1` are defined as traps, so a module with unused
//! foreign imports still runs. A guest exit or trap is a [`RunOutcome`]; errors are for what
//! prevents the run (a directory that cannot be opened, a module that is not a command, a failed
//! instantiation).
#![deny(missing_docs)]

use std::path::PathBuf;
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

mod component;
pub use component::run_component;

/// The exit code reported for a module that trapped (what wasmtime's own CLI uses on Unix:
/// 128 + SIGABRT).
pub const TRAP_EXIT_CODE: i32 = 134;

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

/// Why a module could not be run at all.
#[derive(Debug)]
pub enum RunError {
    /// A directory to preopen cannot be opened.
    Directory {
        /// The host path.
        host: PathBuf,
        /// The guest path it was to appear at.
        guest: String,
        /// wasmtime's error.
        source: wasmtime::Error,
    },
    /// The module cannot be linked or instantiated.
    Instantiate(wasmtime::Error),
    /// The module exports no `_start` (a component: no `wasi:cli/run`).
    NotACommand,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Directory {
                host,
                guest,
                source,
            } => write!(
                f,
                "{}: cannot open directory (granted as {guest}): {source:#}",
                host.display()
            ),
            RunError::Instantiate(e) => write!(f, "cannot instantiate the module: {e:#}"),
            RunError::NotACommand => {
                f.write_str("the module has no `_start` function: it is not a WASI command")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// Captured output is limited to this many bytes per stream.
const CAPTURE_LIMIT: usize = 1 << 30;

/// The captured stdout and stderr pipes of a run, if captured.
type Pipes = Option<(MemoryOutputPipe, MemoryOutputPipe)>;

/// A WASI context builder set up from `opts` (args, env, directories, stdio), shared by the
/// preview 1 and the component runs.
fn wasi_builder(opts: &RunOptions) -> Result<(WasiCtxBuilder, Pipes), RunError> {
    let mut builder = WasiCtxBuilder::new();
    builder.args(&opts.args).allow_blocking_current_thread(true);
    for (k, v) in &opts.env {
        builder.env(k, v);
    }
    let perms = if opts.read_only {
        FsPerms::ReadOnly
    } else {
        FsPerms::ReadWrite
    };
    for (host, guest) in &opts.dirs {
        builder
            .preopened_dir(host, guest, perms)
            .map_err(|source| RunError::Directory {
                host: host.clone(),
                guest: guest.clone(),
                source,
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
    Ok((builder, pipes))
}

/// The outcome of a run that ended with `result` (an exit or a trap are outcomes), with the
/// captured output of `pipes`; call after the store is dropped.
fn outcome(result: wasmtime::Result<()>, pipes: Pipes) -> RunOutcome {
    let mut outcome = RunOutcome::default();
    if let Err(e) = result {
        match e.downcast_ref::<I32Exit>() {
            Some(exit) => outcome.exit_code = exit.0,
            None => {
                outcome.exit_code = TRAP_EXIT_CODE;
                outcome.trap = Some(format!("{e:#}"));
            }
        }
    }
    if let Some((out, err)) = pipes {
        outcome.stdout = out.contents().to_vec();
        outcome.stderr = err.contents().to_vec();
    }
    outcome
}

/// Runs the `_start` export of `module` with WASI preview 1.
pub fn run_command(
    engine: &Engine,
    module: &Module,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let (mut builder, pipes) = wasi_builder(opts)?;
    let wasi = builder.build_p1();

    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    p1::add_to_linker_sync(&mut linker, |t| t).map_err(RunError::Instantiate)?;
    linker
        .define_unknown_imports_as_traps(module)
        .map_err(RunError::Instantiate)?;
    let mut store = Store::new(engine, wasi);
    let instance = linker
        .instantiate(&mut store, module)
        .map_err(RunError::Instantiate)?;
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|_| RunError::NotACommand)?;

    let result = start.call(&mut store, ());
    drop(store);
    Ok(outcome(result, pipes))
}
