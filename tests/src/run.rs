//! The oracle (host-mapped, read-only), packing, and the differential comparison.

use crate::packer::{PackParams, Writable};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasivfs_module_cache::{RunOptions, RunOutcome, Stdio};

/// The shared wasmtime engine (multi-memory on), created once per test process.
pub fn engine() -> &'static wasmtime::Engine {
    static ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| match wasivfs_module_cache::engine() {
        Ok(e) => e,
        Err(e) => panic!("cannot create the wasm engine: {e:#}"),
    })
}

/// One guest run: the module, its argv (argv\[0\] included) and host directories
/// `(host, guest)` to preopen.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// The guest's argv, argv\[0\] included.
    pub args: Vec<String>,
    /// Host directories to preopen read-only, `(host, guest)`.
    pub dirs: Vec<(PathBuf, String)>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
}

impl Run {
    /// A run with argv `args` and no directories.
    pub fn args<S: AsRef<str>>(args: &[S]) -> Run {
        Run {
            args: args.iter().map(|s| s.as_ref().to_string()).collect(),
            ..Run::default()
        }
    }

    /// Adds a host directory preopened at `guest`.
    pub fn dir(mut self, host: &Path, guest: &str) -> Run {
        self.dirs.push((host.to_path_buf(), guest.to_string()));
        self
    }
}

/// Runs `module` (binary wasm) with captured stdio and read-only host directories.
pub fn execute(module: &[u8], run: &Run) -> Result<RunOutcome> {
    run_captured(module, run, true)
}

/// [`execute`] with the host directories read-write (the oracle of the writable-mount tests).
pub fn execute_writable(module: &[u8], run: &Run) -> Result<RunOutcome> {
    run_captured(module, run, false)
}

fn run_captured(module: &[u8], run: &Run, read_only: bool) -> Result<RunOutcome> {
    let opts = RunOptions {
        args: run.args.clone(),
        env: run.env.clone(),
        dirs: run.dirs.clone(),
        read_only,
        stdio: Stdio::Capture { stdin: Vec::new() },
    };
    wasivfs_module_cache::run_bytes(engine(), module, &opts)
}

/// One `--mapdir GUEST::HOST` for [`pack`].
#[derive(Clone, Debug)]
pub struct Map {
    /// The absolute guest path.
    pub guest: String,
    /// The host directory.
    pub host: PathBuf,
}

/// Shorthand for a [`Map`].
pub fn map(guest: &str, host: &Path) -> Map {
    Map {
        guest: guest.to_string(),
        host: host.to_path_buf(),
    }
}

/// Packs `mounts` into `module` in-process with the packer library; returns the packed bytes.
pub fn pack(module: &[u8], mounts: &[Map]) -> Result<Vec<u8>> {
    pack_params(module, mounts, &PackParams::default())
}

/// [`pack`] with contents in passive segments of `segment_len` bytes (`None`: the default).
pub fn pack_with(module: &[u8], mounts: &[Map], segment_len: Option<u32>) -> Result<Vec<u8>> {
    pack_in(module, mounts, segment_len, PackParams::default().memory)
}

/// [`pack_with`] in the given `--memory` mode.
pub fn pack_in(
    module: &[u8],
    mounts: &[Map],
    segment_len: Option<u32>,
    memory: wasivfs_packer::MemoryMode,
) -> Result<Vec<u8>> {
    let p = PackParams {
        segment_len,
        memory,
        ..PackParams::default()
    };
    pack_params(module, mounts, &p)
}

/// [`pack`] with writable mounts (`--writable`, `--tmpfs`, `--tmpfs-size`).
pub fn pack_writable(module: &[u8], mounts: &[Map], w: &Writable) -> Result<Vec<u8>> {
    let p = PackParams {
        writable: w.clone(),
        ..PackParams::default()
    };
    pack_params(module, mounts, &p)
}

/// Packs `module` (bytes) with `p`: the one path every in-process test pack takes.
pub fn pack_params(module: &[u8], mounts: &[Map], p: &PackParams) -> Result<Vec<u8>> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let input = dir.path().join("input.wasm");
    std::fs::write(&input, module).context("writing the input module")?;
    crate::packer::pack_file(&input, mounts, p)
}

/// The sides of a differential run.
pub struct Differential {
    /// The oracle's outcome (host directories mapped).
    pub oracle: RunOutcome,
    /// The packed module's outcome (default layout).
    pub packed: RunOutcome,
    /// The outcome of the same module packed with its contents split into tiny segments, so that
    /// reads cross segment boundaries.
    pub packed_split: RunOutcome,
    /// The outcome of the same module packed in the other `--memory` mode
    /// ([`crate::packer::other_memory_mode`]), default segments.
    pub packed_other_memory: RunOutcome,
}

impl Differential {
    /// The oracle's outcome and the three packed runs, in the order default, split segments,
    /// other memory mode.
    fn from_sides(oracle: RunOutcome, sides: Vec<RunOutcome>) -> Result<Differential> {
        let mut sides = sides.into_iter();
        let mut next = || sides.next().context("missing packed run");
        Ok(Differential {
            oracle,
            packed: next()?,
            packed_split: next()?,
            packed_other_memory: next()?,
        })
    }

    /// Panics with a readable diff unless stdout, stderr and exit code of both packed runs are
    /// identical to the oracle's.
    pub fn assert_same(&self, what: &str) {
        same(&self.oracle, &self.packed, what);
        same(
            &self.oracle,
            &self.packed_split,
            &format!("{what} (contents in small segments)"),
        );
        same(
            &self.oracle,
            &self.packed_other_memory,
            &format!(
                "{what} (--memory {})",
                crate::packer::other_memory_mode().as_str()
            ),
        );
    }
}

fn same(a: &RunOutcome, b: &RunOutcome, what: &str) {
    if a.stdout == b.stdout
        && a.stderr == b.stderr
        && a.exit_code == b.exit_code
        && a.trap == b.trap
    {
        return;
    }
    let mut msg = format!("{what}: packed run differs from the host-mapped oracle\n");
    if a.exit_code != b.exit_code || a.trap != b.trap {
        msg += &format!(
            "exit code: oracle {} packed {} (traps: oracle {:?}, packed {:?})\n",
            a.exit_code, b.exit_code, a.trap, b.trap
        );
    }
    if a.stdout != b.stdout {
        msg += &format!(
            "stdout (- oracle, + packed):\n{}",
            line_diff(&a.stdout, &b.stdout)
        );
    }
    if a.stderr != b.stderr {
        msg += &format!(
            "stderr (- oracle, + packed):\n{}",
            line_diff(&a.stderr, &b.stderr)
        );
    }
    panic!("{msg}");
}

/// Runs `module` against the host trees (oracle), then packs `packed_mounts` into it and runs it
/// again with only `host_mounts` left as host directories. `oracle_mounts` is what the oracle maps
/// (normally the union of both, in the guest's expected order).
pub fn differential(
    module: &[u8],
    args: &[&str],
    oracle_mounts: &[Map],
    packed_mounts: &[Map],
    host_mounts: &[Map],
) -> Result<Differential> {
    let mut oracle_run = Run::args(args);
    for m in oracle_mounts {
        oracle_run = oracle_run.dir(&m.host, &m.guest);
    }
    let oracle = execute(module, &oracle_run).context("oracle run")?;
    let mut packed_run = Run::args(args);
    for m in host_mounts {
        packed_run = packed_run.dir(&m.host, &m.guest);
    }
    packed_sides(
        module,
        packed_mounts,
        &Writable::default(),
        &packed_run,
        oracle,
    )
}

/// The packed sides of a differential run: `mounts` packed into `module` with `writable` three
/// ways (default; contents in tiny segments; the other `--memory` mode), each run with `run`.
fn packed_sides(
    module: &[u8],
    mounts: &[Map],
    writable: &Writable,
    run: &Run,
    oracle: RunOutcome,
) -> Result<Differential> {
    let base = PackParams {
        writable: writable.clone(),
        ..PackParams::default()
    };
    let split = PackParams {
        segment_len: Some(crate::packer::small_segment_len(mounts)),
        ..base.clone()
    };
    let other = PackParams {
        memory: crate::packer::other_memory_mode(),
        ..base.clone()
    };
    let mut sides = Vec::new();
    for (p, what) in [
        (&base, "default"),
        (&split, "split"),
        (&other, "other memory mode"),
    ] {
        let bytes = pack_params(module, mounts, p).with_context(|| format!("packing ({what})"))?;
        sides.push(execute(&bytes, run).with_context(|| format!("packed run ({what})"))?);
    }
    Differential::from_sides(oracle, sides)
}

/// A differential run of a packed module whose layers bake arguments, variables and policies:
/// the oracle is `oracle_run` of `module` as it is (the mounts host-mapped, the composed
/// arguments and variables passed explicitly); the packed side packs `mounts` with `layers[0]`,
/// then each further layer (no mounts) onto the result, three ways (default; contents in tiny
/// segments; the other `--memory` mode), and runs each with `packed_run`.
pub fn differential_layers(
    module: &[u8],
    mounts: &[Map],
    layers: &[wasivfs_packer::ProgramConfig],
    oracle_run: &Run,
    packed_run: &Run,
) -> Result<Differential> {
    let oracle = execute(module, oracle_run).context("oracle run")?;
    let variants = [
        PackParams::default(),
        PackParams {
            segment_len: Some(crate::packer::small_segment_len(mounts)),
            ..PackParams::default()
        },
        PackParams {
            memory: crate::packer::other_memory_mode(),
            ..PackParams::default()
        },
    ];
    let mut sides = Vec::new();
    for base in variants {
        let mut bytes = module.to_vec();
        for (i, program) in layers.iter().enumerate() {
            let p = PackParams {
                program: program.clone(),
                ..base.clone()
            };
            let m = if i == 0 { mounts } else { &[] };
            bytes = pack_params(&bytes, m, &p).with_context(|| format!("packing layer {i}"))?;
        }
        sides.push(execute(&bytes, packed_run).context("packed run")?);
    }
    Differential::from_sides(oracle, sides)
}

/// Copies the tree at `from` into `to` (created): files, directories and symlinks, writable by
/// the owner whatever the source's modes (a writable mount's oracle, or a test suite's root that
/// its tests write into).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ty = e.file_type()?;
        if ty.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

/// Writes through a writable mount: the oracle host-maps a fresh read-write copy of `host` at
/// `guest`; the packed side packs `host` with `--writable guest` (once with default segments,
/// once with tiny ones) and runs with no host directory. `host` itself is never written.
pub fn differential_writable(
    module: &[u8],
    args: &[&str],
    guest: &str,
    host: &Path,
) -> Result<Differential> {
    let scratch = tempfile::tempdir().context("temporary directory")?;
    let copy = scratch.path().join("tree");
    copy_tree(host, &copy).context("copying the tree for the oracle")?;
    let run = Run::args(args).dir(&copy, guest);
    let oracle = execute_writable(module, &run).context("oracle run")?;
    let m = [map(guest, host)];
    packed_sides(module, &m, &Writable::all(&m), &Run::args(args), oracle)
}

/// The common case: one tree at `guest`, oracle-mapped vs packed with no host directory.
pub fn differential_one(
    module: &[u8],
    args: &[&str],
    guest: &str,
    host: &Path,
) -> Result<Differential> {
    let m = [map(guest, host)];
    differential(module, args, &m, &m, &[])
}

/// A compact line diff: common prefix and suffix elided, the differing middle shown.
pub fn line_diff(a: &[u8], b: &[u8]) -> String {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    let al: Vec<&str> = a.lines().collect();
    let bl: Vec<&str> = b.lines().collect();
    let pre = al.iter().zip(&bl).take_while(|(x, y)| x == y).count();
    let suf = al[pre..]
        .iter()
        .rev()
        .zip(bl[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = String::new();
    let ctx_start = pre.saturating_sub(3);
    for l in &al[ctx_start..pre] {
        out += &format!("  {l}\n");
    }
    for l in &al[pre..al.len() - suf] {
        out += &format!("- {l}\n");
    }
    for l in &bl[pre..bl.len() - suf] {
        out += &format!("+ {l}\n");
    }
    for l in al[al.len() - suf..].iter().take(3) {
        out += &format!("  {l}\n");
    }
    out
}

/// Stdout as text (lossy), for assertions and messages.
pub fn stdout(o: &RunOutcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Panics naming the first of `needles` that `text` does not contain, and showing `text`.
pub fn assert_contains(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n:?} missing from:\n{text}");
    }
}
