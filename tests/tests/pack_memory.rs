//! Packing holds neither the file contents nor a second copy of the module, and holds the tree's
//! metadata compactly: a tree of more than 1 GiB (sparse files, so the disk is not the limit) and
//! a tree of 100,000 small files are packed by the real binary in both memory modes, each pack's
//! peak RSS (the child's own, from `wait4`) must stay within 64 MiB plus the input module's size,
//! and the end of a file is read back in the guest exactly as the host-mapped oracle reads it.
//! The binary here is the test build, whose code is larger than a release build's: the benchmark
//! (`wasivfs-bench`, release) packs 200,000 files against the same goal, and keeps the times.

use std::path::{Path, PathBuf};
use std::process::Command;
use wasivfs_e2e::run::{engine, execute, Run};
use wasivfs_e2e::{cli, fixtures, process, trees};
use wasivfs_module_cache::{RunOptions, Stdio};

const FILES: usize = 120;
const BYTES: u64 = 1_100_000_000;
const SMALL_FILES: usize = 100_000;
/// The memory goal, on top of the input module's size.
const GOAL: u64 = 64 << 20;

/// The largest file of a tree listed in its `files.txt`: path relative to the tree, and size.
fn largest(tree: &Path) -> (String, u64) {
    std::fs::read_to_string(tree.join("files.txt"))
        .expect("files.txt")
        .lines()
        .map(|rel| {
            let len = std::fs::metadata(tree.join(rel)).expect("stat").len();
            (rel.to_string(), len)
        })
        .max_by_key(|(_, len)| *len)
        .expect("a file")
}

/// One test for both trees: Linux carries a process's peak RSS over `execve` into its child's
/// count, so every pack is spawned while this process is still small, before any module is
/// compiled here (a second test running beside this one could not promise that).
#[test]
fn large_and_many_file_trees_pack_within_the_memory_goal_and_read_back() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let probe = dir.path().join("fsops.wasm");
    std::fs::write(&probe, fixtures::fsops()).expect("write the probe");

    let large = trees::sparse_bulk(FILES, BYTES).expect("generate the large tree");
    let (large_rel, large_len) = largest(large.path());
    let large_out = pack_both_modes(&probe, large.path(), dir.path(), "large");
    let many = trees::small_files(SMALL_FILES, 100).expect("generate the tree of small files");
    let many_out = pack_both_modes(&probe, many.path(), dir.path(), "many");
    for (_, out) in &large_out {
        let size = std::fs::metadata(out).expect("the output").len();
        assert!(size > 1_000_000_000, "{}: {size} bytes", out.display());
    }

    reads_back(large.path(), &large_rel, large_len, large_out);
    // The last file in walk order, in the last directory.
    let many_rel = format!("d{:03}/f{:06}", (SMALL_FILES - 1) / 1000, SMALL_FILES - 1);
    reads_back(many.path(), &many_rel, 100, many_out);
}

/// Packs `tree` into `probe` through the binary in both memory modes, as `<dir>/<name>-<mode>.wasm`,
/// and checks each pack's peak RSS against the goal.
fn pack_both_modes(
    probe: &Path,
    tree: &Path,
    dir: &Path,
    name: &str,
) -> Vec<(&'static str, PathBuf)> {
    let limit = GOAL + std::fs::metadata(probe).expect("stat").len();
    let mut outputs = Vec::new();
    for memory in ["single", "multi"] {
        let out = dir.join(format!("{name}-{memory}.wasm"));
        let mapdir = format!("/data::{}", tree.display());
        let mut pack = Command::new(cli::wasivfs_bin());
        // A cache of this test's own, so that every pack after the first maps the compiled VFS
        // whatever the state of the user's cache (compiling it beside the walk costs memory).
        pack.env("WASIVFS_CACHE", dir.join("cache"));
        pack.arg("pack")
            .arg(probe)
            .args(["--mapdir", &mapdir, "--quiet", "--memory", memory, "-o"])
            .arg(&out);
        let m = process::measure(&mut pack).expect("wasivfs pack");
        let size = std::fs::metadata(&out).expect("the output").len();
        eprintln!(
            "{name}, --memory {memory}: packed in {:.2} s, peak RSS {} MiB, output {} MiB",
            m.wall.as_secs_f64(),
            m.max_rss >> 20,
            size >> 20
        );
        assert!(
            m.max_rss <= limit,
            "{name}, --memory {memory}: peak RSS {} MiB for a {} MiB output, over the goal of {} MiB",
            m.max_rss >> 20,
            size >> 20,
            limit >> 20
        );
        outputs.push((memory, out));
    }
    outputs
}

/// Reads the last 16 bytes of `rel` (of `len` bytes) in the guest from each output and from
/// the host-mapped `tree`, compares them, and removes the outputs.
fn reads_back(tree: &Path, rel: &str, len: u64, outputs: Vec<(&'static str, PathBuf)>) {
    let args = [
        "fsops".to_string(),
        "/data".into(),
        "pread".into(),
        rel.to_string(),
        (len - 16).to_string(),
        "16".into(),
    ];
    let host =
        execute(&fixtures::fsops(), &Run::args(&args).dir(tree, "/data")).expect("host-mapped run");
    assert_eq!(
        host.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&host.stderr)
    );
    let host = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(host.contains("n=16"), "{host}");
    for (memory, out) in outputs {
        // The packed module, mapped from its file rather than read into this process.
        let module = wasmtime::Module::from_file(engine(), &out).expect("compile the output");
        let opts = RunOptions {
            args: args.to_vec(),
            stdio: Stdio::Capture { stdin: Vec::new() },
            read_only: true,
            ..RunOptions::default()
        };
        let packed =
            wasivfs_module_cache::run_command(engine(), &module, &opts).expect("run the output");
        assert_eq!(packed.exit_code, 0, "--memory {memory}");
        assert_eq!(
            String::from_utf8_lossy(&packed.stdout),
            host,
            "--memory {memory}: the end of {rel} read in the guest"
        );
        drop(module);
        std::fs::remove_file(&out).expect("remove the output");
    }
}
