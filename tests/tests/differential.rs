//! Differential tests: each probe runs against a host-mapped tree (the oracle: wasmtime-wasi preview
//! 1, read-only) and against the same tree packed into the module with no host directory. stdout,
//! stderr and the exit code must be identical.

use std::path::Path;
use wasivfs_e2e::packer::Writable;
use wasivfs_e2e::run::pack_writable;
use wasivfs_e2e::run::{
    differential, differential_one, differential_writable, execute, map, pack, pack_in, pack_with,
    stdout, Differential, Map, Run,
};
use wasivfs_e2e::{fixtures, suites, trees};
use wasivfs_packer::MemoryMode;

/// Runs `program` (the fixture `module`) with `ops` over `host` mounted at `guest`, oracle and
/// packed: the outputs must be the same and the probe must succeed. Returns the packed stdout.
fn check(
    module: &[u8],
    program: &str,
    ops: &[&str],
    guest: &str,
    host: &Path,
    what: &str,
) -> String {
    let args = suites::argv(program, guest, ops);
    let d =
        differential_one(module, &args, guest, host).unwrap_or_else(|e| panic!("{what}: {e:#}"));
    d.assert_same(what);
    assert_eq!(
        d.oracle.exit_code,
        0,
        "{what}: the probe itself failed: {}",
        stdout(&d.oracle)
    );
    stdout(&d.packed)
}

/// [`check`] of the C probe `fsops` over `host` at `guest`.
fn check_fsops(guest: &str, host: &Path, ops: &[&str], what: &str) -> String {
    check(&fixtures::fsops(), "fsops", ops, guest, host, what)
}

/// The C probe `fsops` with `ops` (paths relative to `cwd`) over several `mounts`, all packed,
/// against the oracle that maps them all: the outputs must be the same.
fn same_over_mounts(cwd: &str, ops: &[&str], mounts: &[Map], what: &str) -> Differential {
    let args = suites::argv("fsops", cwd, ops);
    let d = differential(&fixtures::fsops(), &args, mounts, mounts, &[]).unwrap();
    d.assert_same(what);
    d
}

#[test]
fn c_reads_standard_tree() {
    let t = trees::standard().unwrap();
    let out = check_fsops("/src", t.path(), suites::FSOPS_READS, "fsops reads");
    // The comparison is only meaningful if the probe really read the tree.
    assert!(out.contains("size=13 fnv=e60e7ee648829675"), "{out}");
    assert!(out.contains("\"./sub/nested/deep/file.txt\" file"), "{out}");
}

#[test]
fn c_write_attempts_fail_alike() {
    let t = trees::standard().unwrap();
    let out = check_fsops("/src", t.path(), suites::FSOPS_WRITES, "fsops writes");
    assert!(out.contains("errno"), "{out}");
    // Nothing may have changed on the host either.
    assert!(!t.join("new.txt").exists() && t.join("hello.txt").exists());
}

#[test]
fn c_raw_readdir_with_tiny_buffers() {
    let t = trees::standard().unwrap();
    check_fsops("/src", t.path(), suites::FSOPS_RAWDIR, "fsops fd_readdir");
}

/// A malloc-heavy program grows its memory many times after the VFS was first used, with an
/// embedded file open across all growths; it reads the whole tree after every growth. In a
/// single-memory module each growth moves the VFS region up.
#[test]
fn c_reads_between_many_memory_growths() {
    let t = trees::standard().unwrap();
    let ops = ["data.bin", "40", "1024"];
    let out = check(
        &fixtures::growth(),
        "growth",
        &ops,
        "/src",
        t.path(),
        "growth",
    );
    let grew: u32 = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("memory grew ")?
                .strip_suffix(" times")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no growth count in: {out}"));
    assert!(grew >= 30, "the heap grew only {grew} times:\n{out}");
    assert!(out.contains("kept fd: 150000+150000 bytes"), "{out}");
}

#[test]
fn rust_std_probe() {
    let t = trees::standard().unwrap();
    let out = check(
        &fixtures::rust_guest(),
        "rust-guest",
        suites::RUST_OPS,
        "/src",
        t.path(),
        "rust-guest",
    );
    assert!(out.contains("kind=NotFound"), "{out}");
}

#[test]
fn big_file_and_wide_directory() {
    let t = trees::big().unwrap();
    let last = (trees::BIG_FILE_LEN - 100).to_string();
    #[rustfmt::skip]
    let ops = [
        "cat", "huge.bin",
        "pread", "huge.bin", &last, "200",
        "pread", "huge.bin", "33554430", "8",
        "stat", "huge.bin",
        "dirsum", "wide",
        "stat", "wide/entry-09999-xxxxxx",
        "cat", "wide/entry-04242-",
        "rawdir", "wide", "131072",
    ];
    let out = check_fsops("/big", t.path(), &ops, "big tree");
    assert!(
        out.contains(&format!("size={}", trees::BIG_FILE_LEN)),
        "big file size missing"
    );
    assert!(
        out.contains(&format!("entries={}", trees::WIDE_DIR_ENTRIES)),
        "wide dir count missing"
    );
}

#[test]
fn mount_at_guest_root() {
    let t = trees::standard().unwrap();
    #[rustfmt::skip]
    let ops = [
        "ls", ".",
        "cat", "hello.txt",
        "stat", "..",
        "ls", "..",
        "cat", "/sub/a.txt",
        "tree", ".",
        "rawdir", ".", "48",
        "cat", "/../hello.txt",
    ];
    check_fsops("/", t.path(), &ops, "guest /");
}

#[test]
fn nested_guest_paths() {
    // /usr has its own local/app directory; /usr/local/app is a separate mount that must win for
    // paths under it (the longest preopen prefix), while /usr/local still lists the outer tree.
    let outer = trees::Tree::empty().unwrap();
    outer
        .file("bin/tool", b"outer tool\n")
        .unwrap()
        .file("local/other.txt", b"outer other\n")
        .unwrap()
        .file("local/app/shadowed.txt", b"outer shadowed\n")
        .unwrap();
    let inner = trees::standard().unwrap();
    #[rustfmt::skip]
    let ops = [
        "ls", "/usr",
        "ls", "/usr/local",
        "cat", "/usr/bin/tool",
        "cat", "/usr/local/other.txt",
        "ls", "/usr/local/app",
        "cat", "/usr/local/app/hello.txt",
        "cat", "/usr/local/app/shadowed.txt",
        "tree", "/usr/local/app",
        "stat", "/usr/local/app/..",
    ];
    let mounts = [
        map("/usr", outer.path()),
        map("/usr/local/app", inner.path()),
    ];
    let d = same_over_mounts("/usr", &ops, &mounts, "nested mounts");
    assert!(
        stdout(&d.packed).contains("outer other"),
        "{}",
        stdout(&d.packed)
    );
}

#[test]
fn packed_and_host_mapped_in_one_run() {
    let packed_tree = trees::standard().unwrap();
    let host_tree = trees::Tree::empty().unwrap();
    host_tree
        .file("from-host.txt", b"I live on the host\n")
        .unwrap()
        .file("dir/x", b"x\n")
        .unwrap();
    #[rustfmt::skip]
    let ops = [
        "ls", "/src",
        "cat", "/src/hello.txt",
        "ls", "/host",
        "cat", "/host/from-host.txt",
        "tree", "/host",
        "stat", "/host/missing",
        "cat", "/src/link_dir/b.txt",
        "rawdir", "/host", "40",
        "creat", "/host/new.txt",
    ];
    let packed = [map("/src", packed_tree.path())];
    let host = [map("/host", host_tree.path())];
    let both = [
        map("/src", packed_tree.path()),
        map("/host", host_tree.path()),
    ];
    let d = differential(
        &fixtures::fsops(),
        &suites::argv("fsops", "/", &ops),
        &both,
        &packed,
        &host,
    )
    .unwrap();
    d.assert_same("packed /src + host /host");
    let out = stdout(&d.packed);
    assert!(
        out.contains("I live on the host") || out.contains("size=19"),
        "{out}"
    );
}

#[test]
fn several_packed_mounts_in_either_order() {
    let a = trees::standard().unwrap();
    let b = trees::Tree::empty().unwrap();
    b.file("only-in-b.txt", b"bee tree\n").unwrap();
    #[rustfmt::skip]
    let ops = [
        "ls", "/a",
        "ls", "/b",
        "cat", "/b/only-in-b.txt",
        "cat", "/a/sub/b.txt",
        "stat", "/c",
    ];
    for mounts in [
        vec![map("/a", a.path()), map("/b", b.path())],
        vec![map("/b", b.path()), map("/a", a.path())],
    ] {
        let order: Vec<_> = mounts.iter().map(|m| &m.guest).collect();
        same_over_mounts("/", &ops, &mounts, &format!("mounts {order:?}"));
    }
}

#[test]
fn packing_twice_layers_both_trees() {
    let first = trees::standard().unwrap();
    let second = trees::Tree::empty().unwrap();
    second.file("layer2.txt", b"second layer\n").unwrap();
    let module = fixtures::fsops();
    let once = pack(&module, &[map("/one", first.path())]).unwrap();
    let twice = pack(&once, &[map("/two", second.path())]).unwrap();
    // Both layers' contents in small segments: each layer reads its own.
    let small = |m: &[_]| Some(wasivfs_e2e::packer::small_segment_len(m));
    let one = [map("/one", first.path())];
    let two = [map("/two", second.path())];
    let once_split = pack_with(&module, &one, small(&one)).unwrap();
    let twice_split = pack_with(&once_split, &two, small(&two)).unwrap();
    #[rustfmt::skip]
    let ops = [
        "ls", "/one",
        "cat", "/one/hello.txt",
        "ls", "/two",
        "cat", "/two/layer2.txt",
        "stat", "/three",
    ];
    let args = suites::argv("fsops", "/", &ops);
    let oracle = execute(
        &module,
        &Run::args(&args)
            .dir(first.path(), "/one")
            .dir(second.path(), "/two"),
    )
    .unwrap();
    let packed = execute(&twice, &Run::args(&args)).unwrap();
    let packed_split = execute(&twice_split, &Run::args(&args)).unwrap();
    // Every combination of memory modes for the two layers: a single-memory layer is lowered
    // again when the second layer is single-memory too.
    let mut others = Vec::new();
    for first_mode in [MemoryMode::Multi, MemoryMode::Single] {
        for second_mode in [MemoryMode::Multi, MemoryMode::Single] {
            let once = pack_in(&module, &one, None, first_mode).unwrap();
            let twice = pack_in(&once, &two, None, second_mode).unwrap();
            let out = execute(&twice, &Run::args(&args)).unwrap();
            others.push((format!("packed {first_mode}, then {second_mode}"), out));
        }
    }
    let other = wasivfs_e2e::packer::other_memory_mode();
    let pick = others
        .iter()
        .position(|(what, _)| *what == format!("packed {other}, then {other}"))
        .unwrap();
    let (_, packed_other_memory) = others.remove(pick);
    let d = Differential {
        oracle,
        packed,
        packed_split,
        packed_other_memory,
    };
    d.assert_same("packed twice");
    for (what, out) in others {
        Differential {
            oracle: d.oracle.clone(),
            packed: out.clone(),
            packed_split: out.clone(),
            packed_other_memory: out,
        }
        .assert_same(&what);
    }
}

#[test]
fn module_importing_only_fd_write_and_proc_exit() {
    let t = trees::standard().unwrap();
    let module = fixtures::wat(fixtures::TINY_WAT);
    let d = differential_one(&module, &["tiny"], "/src", t.path()).unwrap();
    d.assert_same("tiny module");
    assert_eq!(d.packed.exit_code, 3);
    assert_eq!(stdout(&d.packed), "hello from a tiny module\n");
}

#[test]
fn mtime_is_preserved() {
    let t = trees::standard().unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(t.join("hello.txt"))
        .and_then(|f| f.set_modified(when))
        .unwrap();
    let ops = ["mtime", "hello.txt", "mtime", "link_file"];
    let out = check_fsops("/src", t.path(), &ops, "mtime");
    assert!(out.contains("mtime=1600000000"), "{out}");
}

#[test]
fn dangling_and_looping_symlinks() {
    let t = trees::Tree::empty().unwrap();
    t.file("real.txt", b"real\n")
        .unwrap()
        .symlink("missing.txt", "dangling")
        .unwrap()
        .symlink("loop2", "loop1")
        .unwrap()
        .symlink("loop1", "loop2")
        .unwrap();
    let ops = [
        "lstat", "dangling", "stat", "dangling", "readlink", "dangling", "open", "dangling",
        "lstat", "loop1", "stat", "loop1", "open", "loop1", "ls", ".",
    ];
    check_fsops("/src", t.path(), &ops, "odd symlinks");
}

/// Control: the comparison notices a difference. Without its directory the unpacked probe must
/// print something else than the oracle, or every test above could pass on identical garbage.
#[test]
fn control_comparison_detects_a_missing_tree() {
    let t = trees::standard().unwrap();
    let args = ["fsops", "/src", "cat", "hello.txt", "ls", "."];
    let module = fixtures::fsops();
    let oracle = execute(&module, &Run::args(&args).dir(t.path(), "/src")).unwrap();
    let bare = execute(&module, &Run::args(&args)).unwrap();
    assert_ne!(oracle.stdout, bare.stdout);
    let split = execute(&module, &Run::args(&args)).unwrap();
    let other = execute(&module, &Run::args(&args)).unwrap();
    let d = Differential {
        oracle,
        packed: bare,
        packed_split: split,
        packed_other_memory: other,
    };
    let caught = std::panic::catch_unwind(|| d.assert_same("control"));
    assert!(caught.is_err(), "assert_same accepted different outputs");
}

#[path = "differential/writable.rs"]
mod writable;

#[path = "differential/program.rs"]
mod program;
