//! wasivfs benchmarks. Prints tables of medians and ratios; asserts nothing.
//!
//! Run with `cargo run --release -p wasivfs-e2e --bin wasivfs-bench [-- --runs N] [--small]
//! [--front-ends]` after `cargo build --release -p wasivfs`.
//!
//! 1. Pack CPython 3.12 (`python-3.12.0.wasm`, found under `WASIVFS_TEST_ARTIFACTS` or
//!    `$WASIVFS_CACHE`/`~/.cache/wasivfs`) with a one-file app: wall time and peak RSS of the
//!    `wasivfs pack` process, both memory modes.
//! 2. Pack generated trees into the small C probe, both memory modes, against `cp -r` of the same
//!    tree in the same run: 6,000 files / 140 MB (real bytes), 1 GB and 4 GB (sparse files),
//!    200,000 files of 100 bytes, one 2 GB file (sparse). `cp -r` of a sparse tree is run with
//!    `--sparse=never`, so that it writes every byte as the pack does. `--small` stops after
//!    the 140 MB tree.
//! 3. In the guest, open, read and close every file of the 140 MB tree: packed versus
//!    host-mapped.
//! 4. The two front-ends (`bench/front_ends.rs`): the Rust `std::fs` probe built for preview 1
//!    and for WASI 0.2, each packed and host-mapped, walks and reads the same tree (with
//!    `std::fs`, and with the WASI calls alone), then its layout with every file empty, then
//!    lists a writable directory of 20,000 entries.
//!    `--front-ends` runs this part alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wasivfs_e2e::process::{measure, Measured};
use wasivfs_e2e::run::{engine, map, pack};
use wasivfs_e2e::{artifacts, fixtures, trees};
use wasivfs_module_cache::{RunOptions, Stdio};

#[path = "bench/front_ends.rs"]
mod front_ends;

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

/// The memory modes compared: `--memory` of `wasivfs pack`.
const MODES: [&str; 2] = ["single", "multi"];

/// The header of the packing table.
const TABLE_HEAD: &str = "| input | tree | memory | pack | `cp -r` | pack / `cp -r` | peak RSS | output |\n|---|---|---|---|---|---|---|---|";

/// Packs `tree` at `/data` into `input`, in both memory modes, `runs` times each, alternating with
/// a `cp -r` of the tree (`cp_args` added) when `cp_args` is given; prints one table row per mode.
fn bench_pack(
    (input_label, input): (&str, &Path),
    (label, tree): (&str, &Path),
    cp_args: Option<&[&str]>,
    bin: &Path,
    runs: usize,
) -> Result<(), String> {
    let out_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = out_dir.path().join("packed.wasm");
    let copy = out_dir.path().join("copy");
    let mapdir = format!("/data::{}", tree.display());
    let mut cp = Vec::new();
    let mut packs: Vec<Vec<Measured>> = vec![Vec::new(); MODES.len()];
    let mut sizes = [0u64; MODES.len()];
    for _ in 0..runs {
        if let Some(args) = cp_args {
            let mut c = Command::new("cp");
            c.arg("-r").args(args).arg(tree).arg(&copy);
            cp.push(measure(&mut c).map_err(|e| format!("{e:#}"))?.wall);
            std::fs::remove_dir_all(&copy).map_err(|e| e.to_string())?;
        }
        for (i, mode) in MODES.iter().enumerate() {
            let mut pack = Command::new(bin);
            pack.arg("pack")
                .arg(input)
                .args(["--mapdir", &mapdir, "--quiet", "--memory", mode, "-o"])
                .arg(&out);
            packs[i].push(measure(&mut pack).map_err(|e| format!("{e:#}"))?);
            sizes[i] = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&out).map_err(|e| e.to_string())?;
        }
    }
    let cp = (!cp.is_empty()).then(|| median(cp));
    for (i, mode) in MODES.iter().enumerate() {
        let wall = median(packs[i].iter().map(|m| m.wall).collect());
        let rss = median(packs[i].iter().map(|m| m.max_rss).collect());
        let (cp_time, ratio) = match cp {
            Some(c) => (
                secs(c),
                format!("{:.2}x", wall.as_secs_f64() / c.as_secs_f64()),
            ),
            None => ("".into(), "".into()),
        };
        println!(
            "| {input_label} | {label} | {mode} | {} | {cp_time} | {ratio} | {} | {} |",
            secs(wall),
            mib(rss),
            mib(sizes[i]),
        );
    }
    Ok(())
}

/// Runs the probe's `readlist` over the bulk tree, packed and host-mapped.
fn bench_reads(tree: &trees::Tree, runs: usize) -> Result<(), String> {
    let probe = fixtures::fsops();
    let packed = pack(&probe, &[map("/data", tree.path())]).map_err(|e| format!("{e:#}"))?;
    let engine = engine();
    let plain = wasivfs_module_cache::compile(engine, &probe).map_err(|e| format!("{e:#}"))?;
    let packed = wasivfs_module_cache::compile(engine, &packed).map_err(|e| format!("{e:#}"))?;
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
        let out =
            wasivfs_module_cache::run_command(engine, module, o).map_err(|e| format!("{e:#}"))?;
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

/// A generated tree to pack: its label, how to make it, and the extra `cp` arguments.
struct Case {
    label: &'static str,
    make: fn() -> std::io::Result<trees::Tree>,
    cp: &'static [&'static str],
    /// Runs (at most): large trees are measured once.
    runs: usize,
}

const NEVER_SPARSE: &[&str] = &["--sparse=never"];

const LARGE: [Case; 4] = [
    Case {
        label: "1 GB, 1,000 sparse files",
        make: || trees::sparse_bulk(1_000, 1_000_000_000),
        cp: NEVER_SPARSE,
        runs: 1,
    },
    Case {
        label: "4 GB, 4,000 sparse files",
        make: || trees::sparse_bulk(4_000, 4_000_000_000),
        cp: NEVER_SPARSE,
        runs: 1,
    },
    Case {
        label: "200,000 files of 100 B",
        make: || trees::small_files(200_000, 100),
        cp: &[],
        runs: 1,
    },
    Case {
        label: "one 2 GB sparse file",
        make: || {
            let t = trees::Tree::empty()?;
            trees::write_sparse_file(&t.join("model.bin"), 1, 2_000_000_000)?;
            Ok(t)
        },
        cp: NEVER_SPARSE,
        runs: 1,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .skip_while(|a| *a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(5usize);
    let small = args.iter().any(|a| a == "--small");
    if args.iter().any(|a| a == "--front-ends") {
        return front_ends::alone(runs);
    }
    let bin = match wasivfs_bin() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let report = |what: &str, r: Result<(), String>| {
        if let Err(e) = r {
            eprintln!("error: {what}: {e}");
        }
    };
    println!("{TABLE_HEAD}");

    // 1. CPython with a one-file app.
    match find_python() {
        Some(python) => {
            let app = tempfile::tempdir().expect("temporary directory");
            std::fs::write(app.path().join("main.py"), "print('hello from /app')\n")
                .expect("write app");
            let input = ("CPython 3.12", python.as_path());
            let r = bench_pack(input, ("1 file", app.path()), None, &bin, runs);
            report("pack CPython", r);
        }
        None => {
            eprintln!("pack CPython: skipped (python-3.12.0.wasm not found; run bash .ci/setup)")
        }
    }

    // 2. Generated trees into the small C probe.
    let dir = tempfile::tempdir().expect("temporary directory");
    let probe = dir.path().join("fsops.wasm");
    std::fs::write(&probe, fixtures::fsops()).expect("write probe");
    let input = ("C probe", probe.as_path());
    let tree = trees::bulk(6_000, 140_000_000).expect("generate the bulk tree");
    let label = "6,000 files / 140 MB";
    report(
        label,
        bench_pack(input, (label, tree.path()), Some(&[]), &bin, runs.min(5)),
    );
    if !small {
        for case in &LARGE {
            let made = (case.make)().map_err(|e| format!("generate the tree: {e}"));
            let r = made.and_then(|t| {
                let runs = runs.min(case.runs);
                bench_pack(input, (case.label, t.path()), Some(case.cp), &bin, runs)
            });
            report(case.label, r);
        }
    }

    // 3. Reading every file in the guest.
    println!();
    if let Err(e) = bench_reads(&tree, runs.min(5)) {
        eprintln!("error: read benchmark: {e}");
    }

    // 4. The same walk through both front-ends.
    println!();
    front_ends::all(&tree, runs.min(5));
}
