//! Packing holds neither the file contents nor a second copy of the module: a tree of more than
//! 1 GiB (sparse files, so the disk is not the limit) is packed by the real binary in both memory
//! modes, its peak RSS (the child's own, from `wait4`) must stay within 64 MiB plus the input
//! module's size, and the end of the largest file is read back in the guest exactly as the
//! host-mapped oracle reads it. Times are the benchmark's business (`wasivfs-bench`), not this
//! test's.

use std::path::Path;
use std::process::Command;
use wasivfs_e2e::run::{engine, execute, Run};
use wasivfs_e2e::{cli, fixtures, process, trees};
use wasivfs_module_cache::{RunOptions, Stdio};

const FILES: usize = 120;
const BYTES: u64 = 1_100_000_000;
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

#[test]
fn a_gigabyte_tree_packs_within_the_memory_goal_and_reads_back() {
    let tree = trees::sparse_bulk(FILES, BYTES).expect("generate the tree");
    let (rel, len) = largest(tree.path());
    let dir = tempfile::tempdir().expect("temporary directory");
    let probe = dir.path().join("fsops.wasm");
    std::fs::write(&probe, fixtures::fsops()).expect("write the probe");
    let limit = GOAL + std::fs::metadata(&probe).expect("stat").len();
    // Both packs first: Linux carries a process's peak RSS over `execve` into its child's count,
    // so the packs are spawned while this process is still small (before any module is compiled
    // here).
    let mut outputs = Vec::new();
    for memory in ["single", "multi"] {
        let out = dir.path().join(format!("{memory}.wasm"));
        let mapdir = format!("/data::{}", tree.path().display());
        let mut pack = Command::new(cli::wasivfs_bin());
        pack.arg("pack")
            .arg(&probe)
            .args(["--mapdir", &mapdir, "--quiet", "--memory", memory, "-o"])
            .arg(&out);
        let m = process::measure(&mut pack).expect("wasivfs pack");
        eprintln!(
            "--memory {memory}: packed in {:.2} s, peak RSS {} MiB",
            m.wall.as_secs_f64(),
            m.max_rss >> 20
        );
        let size = std::fs::metadata(&out).expect("the output").len();
        assert!(
            size > 1_000_000_000,
            "--memory {memory}: output of {size} bytes"
        );
        assert!(
            m.max_rss <= limit,
            "--memory {memory}: peak RSS {} MiB for a {} MiB output, over the goal of {} MiB",
            m.max_rss >> 20,
            size >> 20,
            limit >> 20
        );
        outputs.push((memory, out));
    }

    let args = [
        "fsops".to_string(),
        "/data".into(),
        "pread".into(),
        rel.clone(),
        (len - 16).to_string(),
        "16".into(),
    ];
    let host = execute(
        &fixtures::fsops(),
        &Run::args(&args).dir(tree.path(), "/data"),
    )
    .expect("host-mapped run");
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
