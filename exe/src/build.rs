//! Precompiling a module and assembling the executable.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wasmtime::{Config, Engine};

use crate::dirs::parse_grant;
use crate::trailer::{Footer, Options, FOOTER_LEN, MAGIC, PAYLOAD_ALIGN};
use crate::{engine_config, runner, target};

/// What to make.
#[derive(Debug, Clone, Default)]
pub struct ExeOptions {
    /// Where to write the executable (replaced atomically).
    pub output: PathBuf,
    /// Directories granted on every run, each `HOST::GUEST` (see `docs/exe.md`).
    pub dirs: Vec<OsString>,
    /// The runner binary; `None` looks it up with [`crate::find_runner`].
    pub runner: Option<PathBuf>,
}

/// Sizes of what was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExeReport {
    /// Size of the runner part.
    pub runner_bytes: u64,
    /// Size of the precompiled module.
    pub payload_bytes: u64,
    /// Size of the whole executable.
    pub total_bytes: u64,
}

/// Compiles `module` (wasm bytes) with the settings the runner expects.
pub fn precompile(module: &[u8]) -> Result<Vec<u8>> {
    if module.len() < 8 || module[0..4] != *b"\0asm" {
        bail!("not a WebAssembly binary module");
    }
    if module[4..8] != [1, 0, 0, 0] {
        bail!("a WebAssembly component or unknown version; wasivfs exe takes a core module");
    }
    let mut config = Config::new();
    engine_config::apply(&mut config);
    let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    engine
        .precompile_module(module)
        .map_err(|e| anyhow::anyhow!("cannot compile the module: {}", one_line(&format!("{e:#}"))))
}

/// Joins the lines of a multi-line message.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Precompiles `module` and writes a native executable to `opts.output`
/// that runs it (see the crate docs). The output is written to a temporary
/// file next to it, made executable, and renamed over `opts.output` only
/// when complete.
pub fn build_executable(module: &[u8], opts: &ExeOptions) -> Result<ExeReport> {
    let options = Options {
        dirs: opts
            .dirs
            .iter()
            .map(|d| parse_grant(d).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?,
    };
    let runner_path = runner::find_runner(opts.runner.as_ref())?;
    let runner = fs::read(&runner_path)
        .with_context(|| format!("cannot read runner {}", runner_path.display()))?;
    target::check_runner(&runner)
        .with_context(|| format!("runner {} is unusable", runner_path.display()))?;
    if runner.len() >= FOOTER_LEN && runner[runner.len() - FOOTER_LEN..][..8] == MAGIC {
        bail!(
            "runner {} already carries a program (it is an output of wasivfs exe, not the runner)",
            runner_path.display()
        );
    }

    let payload = precompile(module)?;
    let options = options.encode();
    let payload_offset = (runner.len() as u64).next_multiple_of(PAYLOAD_ALIGN);
    let mut footer = Footer {
        payload_offset,
        payload_len: payload.len() as u64,
        options_offset: payload_offset + payload.len() as u64,
        options_len: options.len() as u64,
        checksum: 0,
    };
    footer.checksum = footer.compute_checksum(&payload, &options);
    let padding = vec![0u8; (payload_offset - runner.len() as u64) as usize];

    write_atomically(
        &opts.output,
        &[&runner, &padding, &payload, &options, &footer.encode()],
    )?;
    Ok(ExeReport {
        runner_bytes: runner.len() as u64,
        payload_bytes: payload.len() as u64,
        total_bytes: footer.options_offset + footer.options_len + FOOTER_LEN as u64,
    })
}

/// Writes `parts` to a temporary file beside `output`, marks it executable and
/// renames it over `output`.
fn write_atomically(output: &Path, parts: &[&[u8]]) -> Result<()> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let shown = output.display();
    let mut tmp = tempfile::Builder::new()
        .prefix(".wasivfs-exe-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file next to {shown}"))?;
    for part in parts {
        tmp.write_all(part)
            .with_context(|| format!("cannot write {shown}"))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {shown}"))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {shown} executable"))?;
    tmp.persist(output)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {shown}"))?;
    Ok(())
}
