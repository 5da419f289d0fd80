//! wasivfs benchmarks. Prints medians and ratios; asserts nothing.
//!
//! Run with `cargo run --release -p wasivfs-e2e --bin wasivfs-bench [-- --runs N]`.
//!
//! 1. Pack CPython 3.12 (`python-3.12.0.wasm`, found under `WASIVFS_TEST_ARTIFACTS` or
//!    `$WASIVFS_CACHE`/`~/.cache/wasivfs`) with a one-file app: wall time and peak RSS of the
//!    `wasivfs pack` process.
//! 2. Pack a generated 6,000-file / 140 MB tree into the small C probe, with the default single
//!    memory and with `--memory multi`: wall time, peak RSS, output size.
//! 3. In the guest, open, read and close every file of that tree: packed versus host-mapped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wasivfs_e2e::run::{engine, map, pack};
use wasivfs_e2e::{artifacts, fixtures, trees};
use wasivfs_runtime::{RunOptions, Stdio};

/// Wall time and peak resident set size of one child process.
struct Measured {
    wall: Duration,
    max_rss_kib: i64,
}

/// Runs `cmd` to completion and measures it with `wait4` (the child's own peak RSS).
fn measure(cmd: &mut Command) -> Result<Measured, String> {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; the pointers are valid for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if r != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("child failed (status {status})"));
    }
    Ok(Measured {
        wall,
        max_rss_kib: usage.ru_maxrss,
    })
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The release `wasivfs` binary next to this one.
fn wasivfs_bin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.with_file_name("wasivfs");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found; build it first: cargo build --release -p wasivfs",
            bin.display()
        ))
    }
}

fn find_python() -> Option<PathBuf> {
    if let Some(p) = artifacts::find(artifacts::PYTHON) {
        return Some(p);
    }
    let cache = std::env::var_os("WASIVFS_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/wasivfs")))?;
    let p = cache.join(artifacts::PYTHON);
    p.is_file().then_some(p)
}

/// How the VFS gets its memory: `--memory` of `wasivfs pack`, or `None` for the default.
type MemoryFlag = Option<&'static str>;

/// Packs `input` with the host directory `tree` at `guest` `runs` times through the CLI; prints
/// the median wall time and peak RSS, or why it could not.
fn bench_pack(
    label: &str,
    bin: &Path,
    input: &Path,
    (guest, tree): (&str, &Path),
    memory: MemoryFlag,
    runs: usize,
) {
    let mapdir = format!("{guest}::{}", tree.display());
    if let Err(e) = try_bench_pack(label, bin, input, &mapdir, memory, runs) {
        eprintln!("error: {label}: {e}");
    }
}

fn try_bench_pack(
    label: &str,
    bin: &Path,
    input: &Path,
    mapdir: &str,
    memory: MemoryFlag,
    runs: usize,
) -> Result<(), String> {
    let out_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = out_dir.path().join("packed.wasm");
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let mut pack = Command::new(bin);
        pack.arg("pack")
            .arg(input)
            .arg("--mapdir")
            .arg(mapdir)
            .arg("-o")
            .arg(&out)
            .arg("--quiet");
        if let Some(mode) = memory {
            pack.args(["--memory", mode]);
        }
        let m = measure(&mut pack)?;
        walls.push(m.wall);
        rss.push(m.max_rss_kib);
    }
    let in_size = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let out_size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "{label}: median wall {} | median peak RSS {} | input {} -> output {} ({runs} runs)",
        secs(median(walls)),
        mib(median(rss) as u64 * 1024),
        mib(in_size),
        mib(out_size),
    );
    Ok(())
}

/// Runs the probe's `readlist` over the bulk tree, packed and host-mapped.
fn bench_reads(tree: &trees::Tree, runs: usize) -> Result<(), String> {
    let probe = fixtures::fsops();
    let packed = pack(&probe, &[map("/data", tree.path())]).map_err(|e| format!("{e:#}"))?;
    let engine = engine();
    let plain = wasivfs_runtime::compile(engine, &probe).map_err(|e| format!("{e:#}"))?;
    let packed = wasivfs_runtime::compile(engine, &packed).map_err(|e| format!("{e:#}"))?;
    let opts = |ops: &[&str], dirs: Vec<(PathBuf, String)>| RunOptions {
        args: std::iter::once("fsops")
            .chain(std::iter::once("/data"))
            .chain(ops.iter().copied())
            .map(String::from)
            .collect(),
        dirs,
        read_only: true,
        stdio: Stdio::Capture { stdin: Vec::new() },
        ..RunOptions::default()
    };
    let host = vec![(tree.path().to_path_buf(), "/data".to_string())];
    let time = |module: &wasmtime::Module, o: &RunOptions| -> Result<(Duration, String), String> {
        let start = Instant::now();
        let out = wasivfs_runtime::run_command(engine, module, o).map_err(|e| format!("{e:#}"))?;
        let wall = start.elapsed();
        if out.exit_code != 0 {
            return Err(format!("probe exited {}", out.exit_code));
        }
        Ok((wall, String::from_utf8_lossy(&out.stdout).into_owned()))
    };
    let mut host_t = Vec::new();
    let mut packed_t = Vec::new();
    let mut host_base = Vec::new();
    let mut packed_base = Vec::new();
    let mut outputs = (String::new(), String::new());
    for _ in 0..runs {
        let (t, o) = time(&plain, &opts(&["readlist", "files.txt"], host.clone()))?;
        host_t.push(t);
        outputs.0 = o;
        let (t, o) = time(&packed, &opts(&["readlist", "files.txt"], Vec::new()))?;
        packed_t.push(t);
        outputs.1 = o;
        host_base.push(time(&plain, &opts(&[], host.clone()))?.0);
        packed_base.push(time(&packed, &opts(&[], Vec::new()))?.0);
    }
    if outputs.0 != outputs.1 {
        return Err(format!(
            "packed and host-mapped reads differ:\n{}\n{}",
            outputs.0, outputs.1
        ));
    }
    let (h, p) = (median(host_t), median(packed_t));
    let (hb, pb) = (median(host_base), median(packed_base));
    let (hn, pn) = (h.saturating_sub(hb), p.saturating_sub(pb));
    println!(
        "read every file in the guest ({}):",
        outputs.0.lines().last().unwrap_or("").trim()
    );
    println!(
        "  host-mapped: {} total, {} without instantiation | packed: {} total, {} without instantiation",
        secs(h),
        secs(hn),
        secs(p),
        secs(pn)
    );
    println!(
        "  packed/host ratio: {:.3} total, {:.3} reads only (lower is better for packed)",
        p.as_secs_f64() / h.as_secs_f64(),
        pn.as_secs_f64() / hn.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn main() {
    let runs = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(5usize);
    let bin = match wasivfs_bin() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };

    // 1. CPython with a one-file app.
    match find_python() {
        Some(python) => {
            let app = tempfile::tempdir().expect("temporary directory");
            std::fs::write(app.path().join("main.py"), "print('hello from /app')\n")
                .expect("write app");
            let label = "pack CPython 3.12 + 1-file app";
            bench_pack(label, &bin, &python, ("/app", app.path()), None, runs);
        }
        None => {
            println!("pack CPython: skipped (python-3.12.0.wasm not found; run bash .ci/setup)")
        }
    }

    // 2. A 6,000-file / 140 MB tree into the small C probe.
    let started = Instant::now();
    let tree = trees::bulk(6_000, 140_000_000).expect("generate the bulk tree");
    println!(
        "(generated 6,000-file / 140 MB tree in {})",
        secs(started.elapsed())
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let probe = dir.path().join("fsops.wasm");
    std::fs::write(&probe, fixtures::fsops()).expect("write probe");
    for (label, memory) in [
        ("pack 6,000 files / 140 MB (default: one memory)", None),
        ("pack 6,000 files / 140 MB (--memory multi)", Some("multi")),
    ] {
        let tree = ("/data", tree.path());
        bench_pack(label, &bin, &probe, tree, memory, runs.min(3));
    }

    // 3. Reading every file in the guest.
    if let Err(e) = bench_reads(&tree, runs.min(5)) {
        eprintln!("error: read benchmark: {e}");
    }
}
