//! Reproducible output, through the real `wasivfs` binary: the packed bytes depend only on the input
//! module and the files' names, contents and (clamped or fixed) modification times — not on host
//! paths, creation or listing order, permissions, or the number of threads. Also: identical contents
//! are stored once, and `unpack` followed by `pack` gives the same module back.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};
use wasivfs_e2e::cli::{wasivfs_bin, Scratch};
use wasivfs_e2e::trees::pattern;

/// `SOURCE_DATE_EPOCH` used by the tests: 2020-09-13, well before any file the tests create.
const EPOCH: u64 = 1_600_000_000;

/// The tree every test packs, as (relative path, contents); `None` contents make a directory.
/// Links are added separately.
fn entries() -> Vec<(&'static str, Option<Vec<u8>>)> {
    vec![
        ("main.py", Some(b"print('hello')\n".to_vec())),
        ("empty", Some(Vec::new())),
        ("data.bin", Some(pattern(3, 200_000))),
        ("pkg", None),
        ("pkg/__init__.py", Some(Vec::new())),
        ("pkg/mod.py", Some(b"x = 1\n".to_vec())),
        ("pkg/copy.bin", Some(pattern(3, 200_000))),
        ("emptydir", None),
        ("deep/er/still/file.txt", Some(b"deep\n".to_vec())),
        ("caf\u{e9}.txt", Some("cr\u{e8}me\n".as_bytes().to_vec())),
    ]
}

const LINKS: [(&str, &str); 3] = [
    ("main.py", "link"),
    ("../main.py", "pkg/up"),
    ("deep/er", "dirlink"),
];

/// Creates the tree at `root`, in the given entry order, giving every file, directory and link
/// the modification time `mtime(i)` for its index. `mode` is applied to files.
fn build_tree(root: &Path, order: &[usize], mtime: impl Fn(usize) -> SystemTime, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let all = entries();
    std::fs::create_dir_all(root).unwrap();
    for &i in order {
        let (rel, contents) = &all[i];
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match contents {
            Some(bytes) => {
                std::fs::write(&p, bytes).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            None => std::fs::create_dir_all(&p).unwrap(),
        }
    }
    for (target, rel) in LINKS {
        std::os::unix::fs::symlink(target, root.join(rel)).unwrap();
    }
    // Times last, deepest first, so creating entries does not change them again.
    let mut paths: Vec<PathBuf> = all.iter().map(|(rel, _)| root.join(rel)).collect();
    for d in ["deep/er/still", "deep/er", "deep"] {
        paths.push(root.join(d));
    }
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in paths.iter().enumerate() {
        let f = std::fs::File::open(p).unwrap();
        f.set_modified(mtime(i)).unwrap();
    }
}

/// Every index of [`entries`], in order.
fn in_order() -> Vec<usize> {
    (0..entries().len()).collect()
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Runs `wasivfs` with `args` and the extra environment `env`; panics with stderr on failure.
fn wasivfs_ok(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(wasivfs_bin());
    c.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "wasivfs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Packs `input` with `--mapdir GUEST::HOST` for each mount into `output`, plus `extra` flags.
fn pack(
    input: &Path,
    mounts: &[(&str, &Path)],
    output: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Vec<u8> {
    let mut args: Vec<std::ffi::OsString> = vec!["pack".into(), input.into()];
    for (guest, host) in mounts {
        args.push("--mapdir".into());
        args.push(format!("{guest}::{}", host.display()).into());
    }
    args.push("-o".into());
    args.push(output.into());
    args.push("-q".into());
    args.extend(extra.iter().map(Into::into));
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = wasivfs_ok(&refs, env);
    assert!(
        out.stdout.is_empty(),
        "-q printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::read(output).unwrap()
}

/// Runs `wasivfs ARGS` (UTF-8 arguments) and returns its output; panics on failure.
fn cli(args: &[&str]) -> Output {
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    wasivfs_ok(&refs, &[])
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_slice(&cli(args).stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn two_copies_of_a_tree_pack_to_identical_bytes() {
    let work = Scratch::new();
    // The same module under two names in two places.
    let input_a = work.app();
    work.dir("elsewhere");
    let input_b = work.write(
        "elsewhere/renamed-module.wasm",
        &std::fs::read(&input_a).unwrap(),
    );

    // Two copies: different checkout paths, creation order, mtimes (all after EPOCH) and modes.
    let forward = in_order();
    let n = forward.len();
    let shuffled: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % n).collect();
    assert_ne!(forward, shuffled);
    let tree_a = work.path("checkout-one/src");
    let tree_b = work.path("a/much/longer/checkout path/other-name");
    build_tree(&tree_a, &forward, |i| at(EPOCH + 1_000 + i as u64), 0o644);
    build_tree(
        &tree_b,
        &shuffled,
        |i| at(EPOCH + 9_999_999 - i as u64),
        0o600,
    );

    let epoch = EPOCH.to_string();
    let out_a = work.path("a.wasm");
    let out_b = work.path("b.wasm");
    // Each copy packed with its own module, output and number of threads.
    let [a, b] = [
        (&input_a, &tree_a, &out_a, "1"),
        (&input_b, &tree_b, &out_b, "4"),
    ]
    .map(|(input, tree, out, threads)| {
        let env = [
            ("SOURCE_DATE_EPOCH", epoch.as_str()),
            ("RAYON_NUM_THREADS", threads),
        ];
        pack(input, &[("/src", tree)], out, &[], &env)
    });
    assert!(a == b, "outputs differ ({} vs {} bytes)", a.len(), b.len());

    // Nothing of the host leaks: no host path, no module file name.
    for needle in [
        s(work.root()),
        "checkout-one",
        "other-name",
        "renamed-module",
        "app.wasm",
    ] {
        assert!(
            !a.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the output contains {needle:?}"
        );
    }

    // Every stored time is the epoch (all files were later).
    let listing = json_of(&["ls", s(&out_a), "/src", "-R", "--json"]);
    let items = listing.as_array().unwrap();
    assert_eq!(items.len(), 16, "{listing}");
    for it in items {
        assert_eq!(it["mtime_ns"], EPOCH * 1_000_000_000, "{it}");
    }
}

#[test]
fn times_are_kept_without_source_date_epoch_and_clamped_or_set_with_it() {
    let work = Scratch::new();
    let input = work.app();
    let (tree_a, tree_b) = (work.path("a"), work.path("b"));
    // Tree a: one old file (before the epoch), the rest after. Tree b: same, other later times.
    for (tree, later) in [(&tree_a, EPOCH + 5), (&tree_b, EPOCH + 77)] {
        build_tree(
            tree,
            &in_order(),
            |i| at(if i == 0 { 1_000 } else { later }),
            0o644,
        );
    }
    let out = work.path("o.wasm");
    // Packs `tree` at `/src` into `out`.
    let pack_src = |tree: &Path, extra: &[&str], env: &[(&str, &str)]| {
        pack(&input, &[("/src", tree)], &out, extra, env)
    };

    // Kept by default: the trees differ only in times, so the outputs differ.
    let a = pack_src(&tree_a, &[], &[]);
    let b = pack_src(&tree_b, &[], &[]);
    assert!(a != b, "modification times were not stored");

    // SOURCE_DATE_EPOCH lowers later times only.
    let epoch = EPOCH.to_string();
    let with_epoch = [("SOURCE_DATE_EPOCH", epoch.as_str())];
    let a = pack_src(&tree_a, &[], &with_epoch);
    let listing = json_of(&["ls", s(&out), "/src", "-R", "--json"]);
    let times: Vec<u64> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["mtime_ns"].as_u64().unwrap())
        .collect();
    assert!(times.contains(&1_000_000_000_000), "{times:?}");
    assert!(times
        .iter()
        .all(|t| *t == 1_000_000_000_000 || *t == EPOCH * 1_000_000_000));
    let b = pack_src(&tree_b, &[], &with_epoch);
    assert!(a == b, "SOURCE_DATE_EPOCH did not make the outputs equal");

    // --mtime sets every time, whatever SOURCE_DATE_EPOCH says.
    let fixed = ["--mtime", "2024-01-01T00:00:00Z"];
    let a = pack_src(&tree_a, &fixed, &with_epoch);
    let listing = json_of(&["ls", s(&out), "-R", "--json"]);
    for it in listing.as_array().unwrap() {
        assert_eq!(it["mtime_ns"], 1_704_067_200u64 * 1_000_000_000, "{it}");
    }
    let b = pack_src(&tree_b, &["--mtime", "1704067200"], &[]);
    assert!(a == b, "--mtime did not make the outputs equal");
}

#[test]
fn identical_contents_are_stored_once() {
    let work = Scratch::new();
    let input = work.app();
    let tree = work.path("t");
    std::fs::create_dir_all(tree.join("x/y")).unwrap();
    let blob = pattern(9, 10_000);
    for p in ["one.bin", "x/two.bin", "x/y/three.bin"] {
        std::fs::write(tree.join(p), &blob).unwrap();
    }
    std::fs::write(tree.join("other.bin"), pattern(10, 10_000)).unwrap();
    let out = work.path("o.wasm");
    pack(&input, &[("/data", &tree)], &out, &[], &[]);
    let summary = json_of(&["inspect", s(&out), "--json"]);
    let layer = &summary["layers"][0];
    assert_eq!(layer["files"], 4, "{summary}");
    assert_eq!(layer["file_bytes"], 40_000, "{summary}");
    assert_eq!(layer["stored_bytes"], 20_000, "{summary}");
    // Each copy still reads back whole.
    for p in ["/data/one.bin", "/data/x/two.bin", "/data/x/y/three.bin"] {
        assert!(cli(&["cat", s(&out), p]).stdout == blob, "{p}");
    }
}

#[test]
fn unpacking_and_packing_again_gives_the_same_module() {
    let work = Scratch::new();
    let input = work.app();
    // Real, sub-second times (no SOURCE_DATE_EPOCH): they must survive the round trip.
    let src = work.path("src-tree");
    build_tree(
        &src,
        &in_order(),
        |i| at(EPOCH) + Duration::from_nanos(123_456_789 * (i as u64 + 1)),
        0o644,
    );
    let data = work.path("data-tree");
    std::fs::create_dir_all(data.join("nested")).unwrap();
    std::fs::write(data.join("nested/blob"), pattern(4, 70_000)).unwrap();
    std::os::unix::fs::symlink("nested/blob", data.join("blob-link")).unwrap();

    let first = work.path("first.wasm");
    let a = pack(
        &input,
        &[("/src", &src), ("/opt/data", &data)],
        &first,
        &[],
        &[],
    );

    let extracted = work.path("extracted");
    cli(&["unpack", s(&first), "-o", s(&extracted), "-q"]);
    assert_eq!(
        std::fs::read(extracted.join("src/data.bin")).unwrap(),
        pattern(3, 200_000)
    );
    assert_eq!(
        std::fs::read_link(extracted.join("src/pkg/up")).unwrap(),
        Path::new("../main.py")
    );

    let second = work.path("second.wasm");
    let b = pack(
        &input,
        &[
            ("/src", &extracted.join("src")),
            ("/opt/data", &extracted.join("opt/data")),
        ],
        &second,
        &[],
        &[],
    );
    assert!(a == b, "repacking the extracted tree changed the module");
}
