//! The differential tests on writable mounts (`--writable`, `--tmpfs`): the oracle maps a fresh
//! read-write copy of the tree, the packed side starts from the packed files.

use super::*;
use wasivfs_e2e::run::{assert_contains, execute_writable};

/// Runs suite `ops` of `program` (`module`) with `/src` a writable mount of a fresh standard
/// tree, host-mapped and packed, and checks both agree: the tree and the runs.
fn on_writable_standard(
    module: &[u8],
    program: &str,
    ops: &[&str],
    what: &str,
) -> (trees::Tree, wasivfs_e2e::run::Differential) {
    let t = trees::standard().unwrap();
    let args = suites::argv(program, "/src", ops);
    let d = differential_writable(module, &args, "/src", t.path())
        .unwrap_or_else(|e| panic!("{what}: {e:#}"));
    d.assert_same(what);
    (t, d)
}

/// Writes on a writable mount (`--writable`) against a writable host-mapped copy: the same
/// output, and the packed tree on the host untouched.
#[test]
fn c_write_sequence_on_a_writable_mount() {
    let ops = suites::FSOPS_WRITE_SEQUENCE;
    let (t, d) = on_writable_standard(&fixtures::fsops(), "fsops", ops, "fsops write sequence");
    let out = stdout(&d.packed);
    assert!(out.contains("created=300"), "{out}");
    assert!(out.contains("written=200000"), "{out}");
    assert!(t.join("hello.txt").exists() && !t.join("new.txt").exists());
}

/// The read-only probes still see the same thing through a writable mount nobody writes to.
#[test]
fn c_reads_through_a_writable_mount() {
    let ops = suites::FSOPS_READS;
    on_writable_standard(&fixtures::fsops(), "fsops", ops, "fsops reads (writable)");
}

/// The Rust `std::fs` probe (creates, removes, renames) on a writable mount.
#[test]
fn rust_std_probe_on_a_writable_mount() {
    let guest = fixtures::rust_guest();
    on_writable_standard(
        &guest,
        "rust-guest",
        suites::RUST_OPS,
        "rust-guest (writable)",
    );
}

/// Operations on a tmpfs, against an empty writable host directory.
#[rustfmt::skip]
const TMPFS_OPS: &[&str] = &[
    "ls", ".",
    "write", "a.txt", "alpha",
    "mkdir", "d",
    "write", "d/b.txt", "beta",
    "fill", "d/big.bin", "100000",
    "rename", "a.txt", "d/a.txt",
    "ls", ".",
    "tree", ".",
    "unlink", "d/big.bin",
    "rmdir", "d",
    "symlink", "d/a.txt", "l",
    "cat", "l",
    "ls", "d",
];

#[test]
fn tmpfs_behaves_like_an_empty_writable_host_directory() {
    let empty = tempfile::tempdir().unwrap();
    let module = fixtures::fsops();
    let args = suites::argv("fsops", "/tmp", TMPFS_OPS);
    let oracle = execute_writable(&module, &Run::args(&args).dir(empty.path(), "/tmp")).unwrap();
    let w = Writable {
        tmpfs: vec!["/tmp".into()],
        ..Writable::default()
    };
    let packed = pack_writable(&module, &[], &w).unwrap();
    let out = execute(&packed, &Run::args(&args)).unwrap();
    assert_eq!(
        stdout(&out),
        stdout(&oracle),
        "tmpfs vs empty host directory"
    );
    assert_eq!(out.exit_code, 0);
    assert!(stdout(&out).contains("head=\"alpha\""), "{}", stdout(&out));
}

/// Filling a tmpfs past `--tmpfs-size` answers ENOSPC (after a short write of what fits), and
/// the program carries on: freeing space makes room again.
#[test]
fn a_full_tmpfs_answers_enospc_and_the_program_continues() {
    let module = fixtures::fsops();
    let w = Writable {
        tmpfs: vec!["/tmp".into()],
        size: Some(100_000),
        ..Writable::default()
    };
    let packed = pack_writable(&module, &[], &w).unwrap();
    #[rustfmt::skip]
    let args = suites::argv("fsops", "/tmp", &[
        "fill", "big.bin", "300000",
        "stat", "big.bin",
        "write", "more.txt", "does not fit",
        "unlink", "big.bin",
        "write", "more.txt", "fits again",
        "cat", "more.txt",
        "truncate", "more.txt", "200000",
        "stat", "more.txt",
    ]);
    let out = execute(&packed, &Run::args(&args)).unwrap();
    let text = stdout(&out);
    assert_eq!(out.exit_code, 0, "{text}");
    assert_contains(
        &text,
        &[
            "write: errno 51 ENOSPC\n  written=100000",
            "type=file size=100000",
            "head=\"fits again\"",
            "truncate: errno 51 ENOSPC",
            "type=file size=10\n",
        ],
    );
}

/// Renames between two writable mounts, against two read-write host directories; and `EXDEV`
/// from a writable mount to a host directory given at run time.
#[test]
fn renames_between_two_writable_mounts_and_exdev_to_the_host() {
    let a = trees::standard().unwrap();
    let b = trees::standard().unwrap();
    #[rustfmt::skip]
    let ops = [
        "rename", "/a/hello.txt", "/b/from-a.txt",
        "rename", "/a/sub", "/b/sub-from-a",
        "rename", "/b/data.bin", "/a/data-from-b.bin",
        "rename", "/a/emptydir", "/b/sub",
        "link", "/a/empty", "/b/hard",
        "cat", "/b/from-a.txt",
        "tree", "/a",
        "tree", "/b",
    ];
    let args = suites::argv("fsops", "/a", &ops);
    let module = fixtures::fsops();
    let scratch = tempfile::tempdir().unwrap();
    let (ca, cb) = (scratch.path().join("a"), scratch.path().join("b"));
    wasivfs_e2e::run::copy_tree(a.path(), &ca).unwrap();
    wasivfs_e2e::run::copy_tree(b.path(), &cb).unwrap();
    let run = Run::args(&args).dir(&ca, "/a").dir(&cb, "/b");
    let oracle = execute_writable(&module, &run).unwrap();
    let mounts = [map("/a", a.path()), map("/b", b.path())];
    let packed = pack_writable(&module, &mounts, &Writable::all(&mounts)).unwrap();
    let out = execute(&packed, &Run::args(&args)).unwrap();
    assert_eq!(stdout(&out), stdout(&oracle), "two writable mounts");
    assert!(stdout(&out).contains("./sub-from-a/nested/deep/file.txt"));

    // A host directory next to a writable mount: renames across answer EXDEV.
    let host = trees::standard().unwrap();
    let one = [map("/a", a.path())];
    let packed = pack_writable(&module, &one, &Writable::all(&one)).unwrap();
    #[rustfmt::skip]
    let args = suites::argv("fsops", "/a", &[
        "rename", "/a/hello.txt", "/h/x.txt",
        "rename", "/h/hello.txt", "/a/x.txt",
    ]);
    let out = execute(&packed, &Run::args(&args).dir(host.path(), "/h")).unwrap();
    assert_eq!(
        stdout(&out).matches("rename: errno 75 EXDEV").count(),
        2,
        "{}",
        stdout(&out)
    );
    assert!(host.join("hello.txt").exists());
}
