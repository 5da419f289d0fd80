//! Precompiling a module and assembling the executable.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wasmtime::{Config, Engine};

use crate::dirs::parse_grant;
use crate::engine_config;
use crate::runner::{availability, runner_for, Availability, RunnerOrigin};
use crate::target::{Os, Target};
use crate::trailer::{Footer, Options, FOOTER_LEN, MAGIC, PAYLOAD_ALIGN};

/// What to make.
#[derive(Debug, Clone, Default)]
pub struct ExeOptions {
    /// Where to write the executable (replaced atomically). For a Windows target, `.exe` is
    /// added when the name has no extension.
    pub output: PathBuf,
    /// Directories granted on every run, each `HOST::GUEST` (see `docs/exe.md`).
    pub dirs: Vec<OsString>,
    /// The runner binary to use instead of the built-in or cached one (it must be for the
    /// target).
    pub runner: Option<PathBuf>,
    /// The target triple. `None`: the target wasivfs was built for, with the module compiled
    /// for this machine's CPU. `Some`: that target, compiled for its architecture's baseline
    /// CPU, so that the executable runs on any machine of the target.
    pub target: Option<String>,
    /// Say on stderr when a runner is being built (which takes minutes).
    pub progress: bool,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExeReport {
    /// The executable's path (`ExeOptions::output`, plus `.exe` for Windows if it had no
    /// extension).
    pub output: PathBuf,
    /// The target triple.
    pub target: &'static str,
    /// Where the runner came from.
    pub runner: RunnerOrigin,
    /// Size of the runner part.
    pub runner_bytes: u64,
    /// Size of the precompiled module.
    pub payload_bytes: u64,
    /// Size of the whole executable.
    pub total_bytes: u64,
}

/// Compiles `module` (wasm bytes) with the settings the runner expects, for the target wasivfs
/// was built for and this machine's CPU.
pub fn precompile(module: &[u8]) -> Result<Vec<u8>> {
    precompile_for(module, None)
}

/// Compiles `module` (a core module, or a WASI 0.2 command component) with the settings the
/// runner expects: for `target` and the baseline CPU of its architecture, or, with `None`, for
/// this machine (CPU features detected). The runner tells the two kinds apart by the artifact.
pub fn precompile_for(module: &[u8], target: Option<&Target>) -> Result<Vec<u8>> {
    let kind = wasivfs_abi::BinaryKind::of(module);
    let component = kind == wasivfs_abi::BinaryKind::Component;
    if let (false, Some(problem)) = (component, kind.problem()) {
        bail!("{problem}; wasivfs exe takes a core module or a component");
    }
    let mut config = Config::new();
    engine_config::apply(&mut config);
    if let Some(t) = target {
        config
            .target(t.triple)
            .map_err(|e| anyhow::anyhow!("target {}: {e:#}", t.triple))?;
    }
    let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let failed = |what: &str, e: wasmtime::Error| {
        anyhow::anyhow!("cannot compile the {what}: {}", one_line(&format!("{e:#}")))
    };
    if !component {
        return engine
            .precompile_module(module)
            .map_err(|e| failed("module", e));
    }
    let compiled =
        wasmtime::component::Component::new(&engine, module).map_err(|e| failed("component", e))?;
    let ty = compiled.component_type();
    if !ty.exports(&engine).any(|(name, _)| is_cli_run(name)) {
        bail!(
            "the component exports no `wasi:cli/run` (0.2): only command components run as executables"
        );
    }
    compiled.serialize().map_err(|e| failed("component", e))
}

/// Whether an export name is `wasi:cli/run` of WASI 0.2 (any 0.2.x).
fn is_cli_run(name: &str) -> bool {
    name.strip_prefix("wasi:cli/run@0.2.").is_some()
}

/// The target of `opts`: `--target`, else the one wasivfs was built for.
fn target_of(opts: &ExeOptions) -> Result<Target> {
    match &opts.target {
        Some(triple) => Target::parse(triple),
        None => match Target::builtin() {
            Some(t) => Ok(t),
            None => bail!(
                "this wasivfs was built for {}, which wasivfs exe makes no executables for; \
                 choose one with --target (see --list-targets)",
                crate::runner::builtin_target()
            ),
        },
    }
}

/// The output path for `target`: `.exe` added for Windows when the name has no extension.
fn output_for(output: &Path, target: &Target) -> PathBuf {
    if target.os == Os::Windows && output.extension().is_none() {
        let mut name = output.as_os_str().to_os_string();
        name.push(".exe");
        PathBuf::from(name)
    } else {
        output.to_path_buf()
    }
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
    let target = target_of(opts)?;
    let output = output_for(&opts.output, &target);
    // Say what to install before compiling; compile before building a runner, so that a
    // module that cannot be compiled is refused first.
    if opts.runner.is_none() {
        if let Availability::Missing(m) = availability(&target) {
            return Err(m.into());
        }
    }
    let payload = precompile_for(module, opts.target.is_some().then_some(&target))?;

    let runner = runner_for(&target, opts.runner.as_deref(), opts.progress)?;
    let bytes = &runner.bytes[..];
    if bytes.len() >= FOOTER_LEN && bytes[bytes.len() - FOOTER_LEN..][..8] == MAGIC {
        let shown = match &runner.origin {
            RunnerOrigin::Explicit(p) | RunnerOrigin::Cached(p) | RunnerOrigin::Built(p) => {
                p.display().to_string()
            }
            RunnerOrigin::BuiltIn => "built in".to_string(),
        };
        bail!(
            "runner {shown} already carries a program (it is an output of wasivfs exe, not the runner)"
        );
    }

    let options = options.encode();
    let payload_offset = (bytes.len() as u64).next_multiple_of(PAYLOAD_ALIGN);
    let mut footer = Footer {
        payload_offset,
        payload_len: payload.len() as u64,
        options_offset: payload_offset + payload.len() as u64,
        options_len: options.len() as u64,
        checksum: 0,
    };
    footer.checksum = footer.compute_checksum(&payload, &options);
    let padding = vec![0u8; (payload_offset - bytes.len() as u64) as usize];

    write_atomically(
        &output,
        &[bytes, &padding, &payload, &options, &footer.encode()],
    )?;
    Ok(ExeReport {
        output,
        target: target.triple,
        runner_bytes: bytes.len() as u64,
        payload_bytes: payload.len() as u64,
        total_bytes: footer.options_offset + footer.options_len + FOOTER_LEN as u64,
        runner: runner.origin,
    })
}

/// Writes `parts` to `output` all or nothing, executable. Not flushed to disk before the rename,
/// like every output a user asks for (see `wasivfs_atomic_write`).
fn write_atomically(output: &Path, parts: &[&[u8]]) -> Result<()> {
    let opts = wasivfs_atomic_write::Options {
        mode: wasivfs_atomic_write::Mode::Executable,
        durable: false,
    };
    wasivfs_atomic_write::write_parts(output, parts, opts, &mut |_| {})
        .with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module that exits through WASI with code 7.
    fn exit7() -> Vec<u8> {
        wat::parse_str(
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (func (export "_start") (call $exit (i32.const 7))))"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn precompiles_for_every_target() {
        for target in Target::all() {
            let payload = precompile_for(&exit7(), Some(&target))
                .unwrap_or_else(|e| panic!("{}: {e:#}", target.triple));
            assert_eq!(&payload[..4], b"\x7fELF", "{}", target.triple);
        }
        assert!(precompile(&exit7()).is_ok());
    }

    #[test]
    fn windows_outputs_get_exe_only_without_an_extension() {
        let win = Target::parse("x86_64-pc-windows-gnu").unwrap_or_else(|e| panic!("{e}"));
        let musl = Target::parse("x86_64-unknown-linux-musl").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(output_for(Path::new("d/app"), &win), Path::new("d/app.exe"));
        assert_eq!(
            output_for(Path::new("d/app.bin"), &win),
            Path::new("d/app.bin")
        );
        assert_eq!(output_for(Path::new("d/app"), &musl), Path::new("d/app"));
    }
}
