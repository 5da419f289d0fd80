//! `wasivfs pack`.

use crate::{args, progress, Verbosity};
use anyhow::Result;
use clap::{ArgMatches, Args};
use std::path::PathBuf;
use std::process::ExitCode;
use wasivfs_module_cache::ModuleCache;
use wasivfs_packer::{
    normalize_guest_path, pack_with, EnvInherit, ExcludeRules, HostDirs, Mapping, MemoryMode,
    PackOptions, ProgramConfig,
};

const PACK_HELP: &str = "\
Examples:
  wasivfs pack app.wasm --mapdir /src::./src -o packed.wasm
      embeds ./src as /src; then `wasmtime packed.wasm` sees /src without --dir
  wasivfs pack python.wasm --mapdir /usr::./usr --mapdir /app::./app -o py.wasm
  wasivfs pack app.wasm --dir ./data::/data --dir /etc/app -o packed.wasm
      --dir takes wasmtime's HOST::GUEST order; `--dir /etc/app` maps it to the same path
  wasivfs pack python.wasm --mapdir /app::./app --exclude __pycache__/ --exclude '*.pyc' \\
      --exclude '!keep.pyc' --exclude-from .packignore -o py.wasm
      gitignore-style patterns, matched relative to each mapped directory
  SOURCE_DATE_EPOCH=1700000000 wasivfs pack app.wasm --mapdir /src::./src -o packed.wasm
  wasivfs pack app.wasm --mapdir /src::./src --mtime 2024-01-01T00:00:00Z -o packed.wasm
  wasivfs pack app.wasm --mapdir /src::./src --memory multi -o packed.wasm
      the VFS in a memory of its own (needs a runtime with multi-memory); the default,
      --memory single, gives a module with one memory that runs on any WASI runtime
  wasivfs pack app.wasm --mapdir /data::./data --writable /data --tmpfs /tmp -o packed.wasm
      /data starts as packed and takes writes in memory; /tmp is an empty writable directory
  wasivfs pack python.wasm --mapdir /app::./app -o app.wasm -- /app/main.py
      bakes the entry point in: `wasmtime app.wasm --name x` runs /app/main.py --name x
  wasivfs pack app.wasm --mapdir /app::./app --env LANG=C.UTF-8 --env-inherit none \
      --host-dirs deny -o app.wasm
      the program sees LANG and nothing of the runtime's variables or directories

Mounts are embedded in the order given; guest `/` and nested guest paths (like /usr and
/usr/local/app) both work. Symlinks are kept as links (--follow-symlinks stores what they point
to); a link that points outside its directory is an error either way.

The output depends only on the input module, the mounts and the files' contents, names and
modification times: not on host paths, listing order, owners or the machine. SOURCE_DATE_EPOCH
(seconds) lowers every later modification time to it; --mtime sets them all.

The VFS, compiled once for the pack-time snapshot, is kept in the compilation cache that
`wasivfs run` uses (~/.cache/wasivfs/modules, $WASIVFS_CACHE/modules), which also remembers the
input modules found valid; --no-cache compiles and validates every time.";

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

    /// Leave out entries matching this gitignore-style pattern, relative to each mapped directory,
    /// e.g. --exclude '*.pyc', --exclude __pycache__/, --exclude /build, --exclude '!keep.pyc'
    /// (repeatable; applied after --exclude-from files, the last match wins).
    #[arg(long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Read exclude patterns from FILE, one per line; blank lines and `#` comments are ignored
    /// (repeatable).
    #[arg(long = "exclude-from", value_name = "FILE")]
    pub exclude_from: Vec<PathBuf>,

    /// Store what symlinks point to (file or directory contents) instead of the links.
    #[arg(long)]
    pub follow_symlinks: bool,

    /// An empty, writable, in-memory directory at guest path GUEST, e.g. --tmpfs /tmp
    /// (repeatable). Nothing written there outlives the instance.
    #[arg(long = "tmpfs", value_name = "GUEST")]
    pub tmpfs: Vec<String>,

    /// Make the --mapdir/--dir mount at GUEST writable, copy-on-write: the packed files are
    /// the starting point, changes live in memory for the life of the instance (repeatable).
    #[arg(long = "writable", value_name = "GUEST")]
    pub writable: Vec<String>,

    /// Most bytes a --tmpfs or --writable mount may hold in memory (beyond it writes fail with
    /// ENOSPC): BYTES for every such mount, GUEST=BYTES for one; suffixes K, M, G
    /// (default 64M; repeatable).
    #[arg(long = "tmpfs-size", value_name = "[GUEST=]BYTES", value_parser = args::tmpfs_size)]
    pub tmpfs_size: Vec<(Option<String>, u64)>,

    /// Set every stored modification time, as seconds since 1970 or RFC 3339 UTC
    /// (e.g. 1700000000 or 2024-01-01T00:00:00Z). Overrides SOURCE_DATE_EPOCH.
    #[arg(long, value_name = "SECONDS|RFC3339", value_parser = args::mtime)]
    pub mtime: Option<u64>,

    /// `single`: the output has one memory, the application's, with the VFS in a region above
    /// the application's pages (runs where multi-memory is missing: Node 20, Safari, wazero,
    /// wasm3, WAMR, older Wasmer and WasmEdge). `multi`: the VFS keeps a memory of its own
    /// (isolated from the application's bugs; needs multi-memory).
    #[arg(long, value_name = "single|multi", value_parser = args::memory,
          default_value = wasivfs_packer::DEFAULT_MEMORY_MODE.as_str())]
    pub memory: MemoryMode,

    /// An argument the program always receives right after argv[0], before the runtime's
    /// (repeatable; these come before the ones after `--`).
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub arg: Vec<String>,

    /// What the program sees as argv[0] (default: what the runtime passes).
    #[arg(long = "argv0", value_name = "NAME", allow_hyphen_values = true)]
    pub argv0: Option<String>,

    /// A variable the program always sees (repeatable; the last one of a name wins). A variable
    /// of the same name that the runtime passes, and --env-inherit lets through, wins over it.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = args::baked_env)]
    pub env: Vec<(String, String)>,

    /// Which of the runtime's variables the program sees: all, none, or a comma-separated list
    /// of names.
    #[arg(long = "env-inherit", value_name = "all|none|NAME[,NAME...]",
          value_parser = args::env_inherit, default_value = "all")]
    pub env_inherit: EnvInherit,

    /// `deny` hides every directory the runtime preopens (wasmtime --dir, exe --dir), so the
    /// program sees exactly the embedded mounts; `allow` keeps them next to the embedded ones.
    #[arg(long = "host-dirs", value_name = "allow|deny", value_parser = args::host_dirs,
          default_value = "allow")]
    pub host_dirs: HostDirs,

    /// Compile the VFS for the pack-time snapshot, and validate the input, every time instead of
    /// using the compilation cache (the output is the same either way).
    #[arg(long)]
    pub no_cache: bool,

    /// Arguments the program always receives right after argv[0] (and after any --arg),
    /// before whatever the runtime passes: `wasivfs pack py.wasm ... -o app.wasm -- /app/main.py`.
    #[arg(last = true, value_name = "ARG")]
    pub args: Vec<String>,
}

/// Runs `pack`; `matches` gives the command-line positions so that `--mapdir` and `--dir`
/// mounts keep their relative order. `-q` prints nothing; `-v` adds each stage's time and the
/// walk's counts on stderr.
pub fn main(a: PackArgs, matches: Option<&ArgMatches>, v: Verbosity) -> Result<ExitCode> {
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
    let mut excludes = ExcludeRules::new();
    for file in &a.exclude_from {
        excludes.add_file(file)?;
    }
    for pattern in &a.exclude {
        excludes.add_pattern(pattern)?;
    }
    let mut program = ProgramConfig {
        argv0: a.argv0,
        args: a.arg.into_iter().chain(a.args).collect(),
        env: Vec::new(),
        env_inherit: a.env_inherit,
        host_dirs: a.host_dirs,
    };
    for (name, value) in &a.env {
        program.set_env(name, value);
    }
    let opts = PackOptions {
        input: a.input,
        output: a.output,
        mappings,
        source_date_epoch: PackOptions::source_date_epoch_from_env()?,
        mtime: a.mtime,
        follow_symlinks: a.follow_symlinks,
        excludes,
        segment_len: None,
        memory: a.memory,
        tmpfs: a.tmpfs,
        writable: a.writable,
        tmpfs_sizes: a.tmpfs_size,
        program,
        compile_cache: if a.no_cache {
            None
        } else {
            ModuleCache::from_env().ok().map(|c| c.dir().to_path_buf())
        },
    };
    let report = pack_with(&opts, progress::for_stderr(v.quiet))?;
    if !v.quiet {
        for w in &report.warnings {
            eprintln!("warning: {}: {w}", opts.output.display());
        }
    }
    if v.verbose {
        for (stage, elapsed) in &report.timings {
            eprintln!(
                "{:>9}: {:>9.1} ms",
                stage.name(),
                elapsed.as_secs_f64() * 1000.0
            );
        }
        let w = &report.walk;
        eprintln!(
            "walked {} files ({} bytes), excluded {} entries; image {} bytes in memory {} \
             ({}, VFS at byte {:#x}; {} pages at start); contents {} bytes in {} passive segments; \
             {} imports rerouted through the VFS",
            w.files,
            w.bytes,
            w.excluded,
            report.info.image_len,
            report.info.vfs_memory,
            report.info.memory,
            report.info.vfs_base,
            report.info.vfs_memory_pages,
            report.info.content.len,
            report.info.content.segments,
            report.info.trampolines.len()
        );
    }
    if !v.quiet {
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
