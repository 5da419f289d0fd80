//! `wasivfs ls`, `cat`, `unpack` and `inspect`: reading a packed module back, without a runtime.

use crate::Verbosity;
use anyhow::{anyhow, Result};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wasivfs_inspect::{render_list, render_summary, Packed};

/// Reads `path` and its pack layers; every error names the file.
fn open(path: &Path) -> Result<(Vec<u8>, Packed)> {
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| anyhow!("{name}: {e}"))?;
    let kind = wasivfs_abi::BinaryKind::of(&bytes);
    if let Some(problem) = kind
        .problem()
        .filter(|_| kind != wasivfs_abi::BinaryKind::Component)
    {
        return Err(anyhow!("{name}: {problem}, so not packed by wasivfs"));
    }
    let packed = Packed::read(&bytes).map_err(|e| anyhow!("{name}: {e}"))?;
    Ok((bytes, packed))
}

const LS_HELP: &str = "\
Examples:
  wasivfs ls packed.wasm                 the embedded mounts
  wasivfs ls packed.wasm /src -l         /src's entries with type, size, time and link targets
  wasivfs ls packed.wasm /src -R         everything below /src
  wasivfs ls packed.wasm -lR --json      every entry, as JSON

In long format the first column is d (directory), - (file) or l (symlink); times are UTC.";

/// List the files embedded in a packed module.
#[derive(Args, Debug)]
#[command(after_help = LS_HELP)]
pub struct LsArgs {
    /// The packed module, e.g. packed.wasm.
    pub module: PathBuf,
    /// Guest path to list, e.g. /src (default: the mounts). A directory lists its entries.
    pub path: Option<String>,
    /// Long format: type, size, modification time, symlink target.
    #[arg(short, long)]
    pub long: bool,
    /// List subdirectories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Print a JSON array of entries (path, kind, size, mtime_ns, target) instead.
    #[arg(long)]
    pub json: bool,
}

/// Runs `ls`.
pub fn ls(a: LsArgs) -> Result<ExitCode> {
    let (_, packed) = open(&a.module)?;
    let name = a.module.display();
    let items = packed
        .list(a.path.as_deref(), a.recursive)
        .map_err(|e| anyhow!("{name}: {e}"))?;
    let text = if a.json {
        let mut s = serde_json::to_string_pretty(&items).map_err(|e| anyhow!("{name}: {e}"))?;
        s.push('\n');
        s
    } else {
        render_list(&items, a.long)
    };
    write_stdout(text.as_bytes())
}

const CAT_HELP: &str = "\
Examples:
  wasivfs cat packed.wasm /src/main.py
  wasivfs cat packed.wasm /data/blob.bin > blob.bin

Symlinks are followed inside the embedded tree; the bytes are written unchanged.";

/// Print an embedded file's bytes on stdout.
#[derive(Args, Debug)]
#[command(after_help = CAT_HELP)]
pub struct CatArgs {
    /// The packed module, e.g. packed.wasm.
    pub module: PathBuf,
    /// Guest path of the file, e.g. /src/main.py.
    pub path: String,
}

/// Runs `cat`.
pub fn cat(a: CatArgs) -> Result<ExitCode> {
    let (_, packed) = open(&a.module)?;
    let data = packed
        .cat(&a.path)
        .map_err(|e| anyhow!("{}: {e}", a.module.display()))?;
    write_stdout(data)
}

const UNPACK_HELP: &str = "\
Examples:
  wasivfs unpack packed.wasm -o extracted
      guest /src becomes extracted/src, guest / becomes extracted itself

Files, directories and symlinks are recreated with their stored modification times, so packing
the extracted tree again with the same mounts gives the same module:
  wasivfs pack app.wasm --mapdir /src::extracted/src -o again.wasm";

/// Extract the embedded files of a packed module into a directory.
#[derive(Args, Debug)]
#[command(after_help = UNPACK_HELP)]
pub struct UnpackArgs {
    /// The packed module, e.g. packed.wasm.
    pub module: PathBuf,
    /// Directory to extract into; created if missing, must be empty if it exists.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
}

/// Runs `unpack`; `-q` prints nothing on success.
pub fn unpack(a: UnpackArgs, v: Verbosity) -> Result<ExitCode> {
    let (_, packed) = open(&a.module)?;
    let out = &a.output;
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(anyhow!(
                    "{}: exists and is not empty; unpack into a new or empty directory",
                    out.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow!("{}: {e}", out.display())),
    }
    let count = packed.unpack(out).map_err(|e| anyhow!("{e}"))?;
    if !v.quiet {
        println!("{}: {count} entries extracted", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

const INSPECT_HELP: &str = "\
Examples:
  wasivfs inspect packed.wasm
  wasivfs inspect packed.wasm --json | jq '.layers[0].trampolines'

Shows, per pack layer: the tool that packed it, the input module's size and sha256, the mounts,
file/directory/symlink counts, bytes before and after de-duplication, where the image lies, and
which WASI imports now go through the embedded filesystem.";

/// Describe a packed module: mounts, counts, input module, trampolines, memories.
#[derive(Args, Debug)]
#[command(after_help = INSPECT_HELP)]
pub struct InspectArgs {
    /// The packed module, e.g. packed.wasm.
    pub module: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `inspect`.
pub fn inspect(a: InspectArgs) -> Result<ExitCode> {
    let (bytes, packed) = open(&a.module)?;
    let summary = packed.summary(&bytes);
    let text = if a.json {
        let mut s = serde_json::to_string_pretty(&summary)
            .map_err(|e| anyhow!("{}: {e}", a.module.display()))?;
        s.push('\n');
        s
    } else {
        render_summary(&summary)
    };
    write_stdout(text.as_bytes())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow!("stdout: {e}")),
    }
}
