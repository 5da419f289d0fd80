//! `wasivfs pack`.

use crate::args;
use anyhow::Result;
use clap::{ArgMatches, Args};
use std::path::PathBuf;
use std::process::ExitCode;
use wasivfs_packer::{normalize_guest_path, pack, Mapping, PackOptions};

const PACK_HELP: &str = "\
Examples:
  wasivfs pack app.wasm --mapdir /src::./src -o packed.wasm
      embeds ./src as /src; then `wasmtime packed.wasm` sees /src without --dir
  wasivfs pack python.wasm --mapdir /usr::./usr --mapdir /app::./app -o py.wasm
  wasivfs pack app.wasm --dir ./data::/data --dir /etc/app -o packed.wasm
      --dir takes wasmtime's HOST::GUEST order; `--dir /etc/app` maps it to the same path

Mounts are embedded in the order given; guest `/` and nested guest paths (like /usr and
/usr/local/app) both work. Symlinks are kept; one that points outside its directory is an error.
SOURCE_DATE_EPOCH (seconds) clamps the stored modification times, for reproducible output.";

/// Embed host directories into a WASI preview 1 module.
#[derive(Args, Debug)]
#[command(after_help = PACK_HELP)]
pub struct PackArgs {
    /// The module to pack (a core wasm32-wasip1 module), e.g. app.wasm.
    pub input: PathBuf,

    /// Embed host directory HOST at guest path GUEST, e.g. --mapdir /src::./src (repeatable).
    #[arg(long = "mapdir", value_name = "GUEST::HOST", value_parser = args::mapdir)]
    pub mapdir: Vec<(String, PathBuf)>,

    /// Same as --mapdir in wasmtime's order, e.g. --dir ./src::/src; without `::` the guest path
    /// is the host path (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = args::dir)]
    pub dir: Vec<(PathBuf, String)>,

    /// Where to write the packed module, e.g. -o packed.wasm (replaced only on success).
    #[arg(short = 'o', long = "output", value_name = "OUTPUT.wasm")]
    pub output: PathBuf,

    /// Print nothing on success.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `pack`; `matches` gives the command-line positions so that `--mapdir` and `--dir`
/// mounts keep their relative order.
pub fn main(a: PackArgs, matches: Option<&ArgMatches>) -> Result<ExitCode> {
    let positions = |id: &str| -> Vec<usize> {
        matches
            .and_then(|m| m.indices_of(id))
            .map(|i| i.collect())
            .unwrap_or_default()
    };
    let mut ordered: Vec<(usize, String, PathBuf)> = Vec::new();
    let map_pos = positions("mapdir");
    for (i, (guest, host)) in a.mapdir.into_iter().enumerate() {
        ordered.push((map_pos.get(i).copied().unwrap_or(i), guest, host));
    }
    let dir_pos = positions("dir");
    for (i, (host, guest)) in a.dir.into_iter().enumerate() {
        ordered.push((dir_pos.get(i).copied().unwrap_or(usize::MAX), guest, host));
    }
    ordered.sort_by_key(|(pos, _, _)| *pos);
    let mut mappings = Vec::with_capacity(ordered.len());
    for (_, guest, host) in ordered {
        mappings.push(Mapping {
            guest: normalize_guest_path(&guest)?,
            host,
        });
    }
    let opts = PackOptions {
        input: a.input,
        output: a.output,
        mappings,
        source_date_epoch: PackOptions::source_date_epoch_from_env()?,
    };
    let report = pack(&opts)?;
    if !a.quiet {
        let i = &report.info;
        let mounts: Vec<&str> = i.mounts.iter().map(|m| m.guest.as_str()).collect();
        println!(
            "{}: {} files, {} dirs, {} symlinks ({} bytes, {} stored) at {}; {} bytes",
            opts.output.display(),
            i.files,
            i.dirs,
            i.symlinks,
            i.file_bytes,
            i.stored_bytes,
            if mounts.is_empty() {
                "(no mounts)".to_string()
            } else {
                mounts.join(" ")
            },
            report.output_size
        );
    }
    Ok(ExitCode::SUCCESS)
}
