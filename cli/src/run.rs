//! `wasivfs run`.

use crate::{args, one_line};
use anyhow::{anyhow, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use wasivfs_runtime::{engine, load_for_run, run_command, RunOptions, Stdio};

const RUN_HELP: &str = "\
Examples:
  wasivfs run packed.wasm
      runs a packed module; its embedded directories need no --dir
  wasivfs run app.wasm --dir ./src::/src --env LANG=C -- /src/main.py --verbose
      maps ./src at /src, sets LANG, passes `/src/main.py --verbose` as arguments

The module's exit code becomes wasivfs's exit code; a trap exits with 134.
Compiled code is cached, uncompressed, in ~/.cache/wasivfs/modules (or $WASIVFS_CACHE_DIR),
so the second run of a large module starts fast; --no-cache compiles every time and neither
reads nor writes the cache. Deleting that directory clears it.";

/// Run a WASI preview 1 command module (packed or not) on the embedded wasmtime.
#[derive(Args, Debug)]
#[command(after_help = RUN_HELP)]
pub struct RunArgs {
    /// The module to run, e.g. packed.wasm. It is the guest's argv[0].
    pub module: PathBuf,

    /// Preopen host directory HOST at guest path GUEST, e.g. --dir ./data::/data; without `::`
    /// the guest path is the host path (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = args::dir)]
    pub dir: Vec<(PathBuf, String)>,

    /// Set a guest environment variable, e.g. --env LANG=C; a bare NAME copies this process's
    /// value (repeatable).
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = args::env)]
    pub env: Vec<(String, Option<String>)>,

    /// Compile the module every time instead of using the compilation cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Arguments passed to the guest after argv[0], e.g. -- input.txt --flag.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// Runs `run`.
pub fn main(a: RunArgs) -> Result<ExitCode> {
    let name = a.module.display().to_string();
    let argv0 = a
        .module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    let mut guest_args = vec![argv0];
    guest_args.extend(a.args);
    let env = a
        .env
        .into_iter()
        .filter_map(|(k, v)| match v {
            Some(v) => Some((k, v)),
            None => std::env::var(&k).ok().map(|v| (k, v)),
        })
        .collect();
    let opts = RunOptions {
        args: guest_args,
        env,
        dirs: a.dir,
        read_only: false,
        stdio: Stdio::Inherit,
    };
    let engine = engine()?;
    let module = load_for_run(&engine, &a.module, !a.no_cache)
        .map_err(|e| anyhow!("{name}: {}", one_line(&format!("{e:#}"))))?;
    let outcome = run_command(&engine, &module, &opts)
        .map_err(|e| anyhow!("{name}: {}", one_line(&format!("{e:#}"))))?;
    if let Some(trap) = outcome.trap {
        eprintln!("error: {name}: {}", one_line(&trap));
    }
    // Exit codes are a byte on Unix.
    Ok(ExitCode::from(outcome.exit_code as u8))
}
