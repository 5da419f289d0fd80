//! Part 4 of the benchmarks: the VFS's two front-ends side by side. The Rust `std::fs` probe
//! built for preview 1 (a core module) and for WASI 0.2 (a native component), each packed and
//! host-mapped, on the embedded wasmtime:
//! - walks and reads the 140 MB tree, and the same layout with every file empty (what the calls
//!   alone cost), each with `std::fs` and with the WASI calls alone (the same operations on both
//!   front-ends: what one read of an embedded file costs through each);
//! - lists a writable directory of 20,000 entries.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wasivfs_e2e::packer::Writable;
use wasivfs_e2e::run::{engine, map, pack, pack_writable};
use wasivfs_e2e::{fixtures, trees};
use wasivfs_module_cache::{RunOptions, Stdio};
use wasmtime::component::Component;

use crate::{median, secs};

/// The files of the benchmarks' tree.
const FILES: usize = 6_000;
/// The entries of the writable directory listed.
const ENTRIES: usize = 20_000;

/// `--front-ends`: this part alone, over a new 140 MB tree.
pub fn alone(runs: usize) {
    match trees::bulk(FILES, 140_000_000) {
        Ok(tree) => all(&tree, runs),
        Err(e) => eprintln!("error: generate the bulk tree: {e}"),
    }
}

/// Every benchmark of this part, `tree` being the 140 MB tree.
pub fn all(tree: &trees::Tree, runs: usize) {
    if let Err(e) = walk(("the 140 MB tree", tree), runs) {
        eprintln!("error: front-end benchmark: {e}");
    }
    println!();
    let empty = trees::bulk_empty(FILES).map_err(|e| format!("generate the tree: {e}"));
    let r = empty.and_then(|t| walk(("its layout with empty files", &t), runs));
    if let Err(e) = r {
        eprintln!("error: front-end benchmark (empty files): {e}");
    }
    println!();
    // Three runs at most: the preview 1 host's listing takes seconds.
    if let Err(e) = listing(runs.min(3)) {
        eprintln!("error: front-end benchmark (writable directory): {e}");
    }
}

/// The four programs over one tree mounted at `/data`: each probe host-mapped and packed.
struct Programs {
    /// Name, whether packed (else the tree is host-mapped), program.
    cases: [(&'static str, bool, Program); 4],
    host: Vec<(PathBuf, String)>,
}

enum Program {
    Module(wasmtime::Module),
    Component(Component),
}

impl Programs {
    /// Packs `tree` into both probes with `pack_it` and compiles the four programs.
    fn new(
        tree: &trees::Tree,
        pack_it: impl Fn(&[u8]) -> anyhow::Result<Vec<u8>>,
    ) -> Result<Programs, String> {
        let err = |e: anyhow::Error| format!("{e:#}");
        let engine = engine();
        let module = |b: &[u8]| wasivfs_module_cache::compile(engine, b).map_err(err);
        let component = |b: &[u8]| Component::new(engine, b).map_err(|e| format!("{e:#}"));
        let (p1, p2) = (fixtures::rust_guest(), fixtures::rust_guest_p2());
        let (p1_packed, p2_packed) = (pack_it(&p1).map_err(err)?, pack_it(&p2).map_err(err)?);
        Ok(Programs {
            cases: [
                (
                    "preview 1, host-mapped",
                    false,
                    Program::Module(module(&p1)?),
                ),
                (
                    "preview 1, packed",
                    true,
                    Program::Module(module(&p1_packed)?),
                ),
                (
                    "WASI 0.2, host-mapped",
                    false,
                    Program::Component(component(&p2)?),
                ),
                (
                    "WASI 0.2, packed",
                    true,
                    Program::Component(component(&p2_packed)?),
                ),
            ],
            host: vec![(tree.path().to_path_buf(), "/data".to_string())],
        })
    }

    /// Runs program `i` with `op .` (the tree host-mapped for a host-mapped one): its wall time
    /// and output.
    fn run(&self, i: usize, op: &str) -> Result<(Duration, String), String> {
        let (name, packed, program) = &self.cases[i];
        let dirs = if *packed {
            Vec::new()
        } else {
            self.host.clone()
        };
        let o = RunOptions {
            args: ["rust-guest", "/data", op, "."].map(String::from).to_vec(),
            dirs,
            read_only: true,
            stdio: Stdio::Capture { stdin: Vec::new() },
            ..RunOptions::default()
        };
        let engine = engine();
        let start = Instant::now();
        let out = match program {
            Program::Module(m) => wasivfs_module_cache::run_command(engine, m, &o),
            Program::Component(c) => wasivfs_module_cache::run_component(engine, c, &o),
        }
        .map_err(|e| format!("{e:#}"))?;
        let wall = start.elapsed();
        if out.exit_code != 0 {
            return Err(format!("{name}: probe exited {}", out.exit_code));
        }
        Ok((wall, String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// Runs every `op` on each program `runs` times, the runs interleaving the four programs
    /// (so that a slower or faster moment of the machine falls on all four alike), and requires
    /// each op's output to be the same on all four: the medians, per program and op.
    fn medians(
        &self,
        ops: &[&str],
        runs: usize,
    ) -> Result<(Vec<Vec<Duration>>, Vec<String>), String> {
        let mut samples = vec![vec![Vec::new(); ops.len()]; self.cases.len()];
        let mut outputs: Vec<Option<String>> = vec![None; ops.len()];
        for _ in 0..runs {
            for (i, times) in samples.iter_mut().enumerate() {
                for (j, op) in ops.iter().enumerate() {
                    let (t, out) = self.run(i, op)?;
                    match &outputs[j] {
                        None => outputs[j] = Some(out),
                        Some(f) if *f != out => {
                            return Err(format!("{}: {op} output differs", self.cases[i].0));
                        }
                        Some(_) => {}
                    }
                    times[j].push(t);
                }
            }
        }
        let medians = samples
            .into_iter()
            .map(|per_op| per_op.into_iter().map(median).collect())
            .collect();
        Ok((
            medians,
            outputs.into_iter().map(Option::unwrap_or_default).collect(),
        ))
    }
}

/// Prints `what` of the four programs as ratios: packed/host-mapped for each probe, and packed
/// WASI 0.2 / packed preview 1.
fn ratios(what: &str, v: [f64; 4]) {
    let r = |a: usize, b: usize| v[a] / v[b].max(1e-9);
    println!(
        "  {what}, packed/host: preview 1 {:.3}, WASI 0.2 {:.3}; packed WASI 0.2 / packed preview 1: {:.3}",
        r(1, 0),
        r(3, 2),
        r(3, 1)
    );
}

/// Walks the tree and reads every file three ways: with `std::fs` (the probe's `tree_digest`,
/// which prints one line for the whole walk), the same walk printing a line per entry (`tree`:
/// on WASI 0.2 each line is three calls to the host's stdout stream, on preview 1 one
/// `fd_write`), and with the WASI calls alone (`direct_digest`: per file `open`, `stat`, one
/// read, close, the same on both front-ends, none of what wasi-libc adds). Each program also
/// runs one `stat` of the root, its start-up; a walk less that, over the files, is the cost of
/// one file (its directory entry, open, reads and close).
fn walk((label, tree): (&str, &trees::Tree), runs: usize) -> Result<(), String> {
    let programs = Programs::new(tree, |b| pack(b, &[map("/data", tree.path())]))?;
    let (m, out) = programs.medians(&["tree_digest", "tree", "stat", "direct_digest"], runs)?;
    let files = out[1].lines().filter(|l| l.ends_with(" file")).count();
    let per_file = |t: &[Duration], op: usize| {
        t[op].saturating_sub(t[2]).as_secs_f64() * 1e6 / files.max(1) as f64
    };
    println!(
        "walk and read every file of {label} with the Rust probe, the same output in all four ({files} files):"
    );
    for ((name, ..), t) in programs.cases.iter().zip(&m) {
        println!(
            "  {name}: std::fs {} ({:.2} µs a file; printing a line per entry {}), WASI calls alone {} ({:.2} µs a file); start-up {:.2} ms",
            secs(t[0]),
            per_file(t, 0),
            secs(t[1]),
            secs(t[3]),
            per_file(t, 3),
            t[2].as_secs_f64() * 1e3,
        );
    }
    let of = |f: &dyn Fn(&[Duration]) -> f64| [0, 1, 2, 3].map(|i| f(&m[i]));
    ratios("std::fs walk", of(&|t| t[0].as_secs_f64()));
    ratios("std::fs, a file", of(&|t| per_file(t, 0)));
    ratios(
        "std::fs walk printing its lines",
        of(&|t| t[1].as_secs_f64()),
    );
    ratios("WASI calls alone, walk", of(&|t| t[3].as_secs_f64()));
    ratios("WASI calls alone, a file", of(&|t| per_file(t, 3)));
    Ok(())
}

/// Lists (`ls`) a directory of 20,000 empty files packed `--writable`, against the same
/// directory host-mapped.
fn listing(runs: usize) -> Result<(), String> {
    let tree = trees::Tree::empty().map_err(|e| e.to_string())?;
    for i in 0..ENTRIES {
        std::fs::write(tree.join(format!("f{i:05}")), b"").map_err(|e| e.to_string())?;
    }
    let mounts = [map("/data", tree.path())];
    let programs = Programs::new(&tree, |b| {
        pack_writable(b, &mounts, &Writable::all(&mounts))
    })?;
    let (m, _) = programs.medians(&["ls"], runs)?;
    println!("list a writable directory of {ENTRIES} entries with the Rust probe, the same output in all four:");
    for ((name, ..), t) in programs.cases.iter().zip(&m) {
        println!("  {name}: {}", secs(t[0]));
    }
    ratios("listing", [0, 1, 2, 3].map(|i| m[i][0].as_secs_f64()));
    Ok(())
}
