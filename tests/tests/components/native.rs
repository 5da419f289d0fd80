//! Native WASI 0.2 components (the Rust probe built for `wasm32-wasip2`): the `std::fs` suite,
//! the raw `wasi:filesystem` calls, on read-only and writable mounts and a tmpfs, and their rows
//! in `docs/compatibility.md`.

use super::*;

/// The Rust `std::fs` probe as a native WASI 0.2 component, packed: the same as with the tree
/// preopened by wasmtime-wasi, on the embedded wasmtime (the runtimes are in the rows below).
#[test]
fn native_rust_std_probe() {
    let out = check(
        rust_guest_native(),
        "rust-guest",
        suites::RUST_OPS,
        false,
        "native component rust-guest",
    );
    assert!(out.contains("kind=NotFound"), "{out}");
    assert!(out.contains("\"link_dir\" symlink"), "{out}");
}

/// The arguments the native probe's whole command line is baked with in its compatibility row
/// (after `--argv0 rust-guest`, with `--env-inherit none`, `--host-dirs deny` and one variable).
const NATIVE_BAKED: &[&str] = &[
    "/src",
    "cat",
    "hello.txt",
    "ls",
    ".",
    "raw_readdir",
    "sub",
    "context",
    "open",
    "/src/sub/b.txt",
];

/// The cells of a runtime's native components row: the Rust probe built for `wasm32-wasip2`,
/// packed with the standard tree at `/src`, running the `std::fs` suite, then the raw
/// `wasi:filesystem` calls, then with its whole command line and one variable baked in and
/// nothing passed by the runtime. Each is compared with the same component run by wasmtime-wasi's
/// 0.2 host with the tree preopened read-only and everything passed explicitly.
fn native_row(
    scratch: &std::path::Path,
    run: &dyn Fn(&std::path::Path, &[&str]) -> wasivfs_e2e::runtimes::GuestRun,
) -> Vec<String> {
    use wasivfs_e2e::packer::PackParams;
    use wasivfs_e2e::run::pack_params;
    use wasivfs_e2e::{compat, runtimes};
    use wasivfs_packer::{EnvInherit, HostDirs, ProgramConfig};
    let t = trees::standard().unwrap();
    let mut scrub = vec![format!("{}/", scratch.display())];
    scrub.extend(runtimes::dir().map(|d| format!("{}/", d.display())));
    let mut baked = ProgramConfig {
        argv0: Some("rust-guest".into()),
        args: NATIVE_BAKED.iter().map(|a| a.to_string()).collect(),
        env_inherit: EnvInherit::None,
        host_dirs: HostDirs::Deny,
        ..ProgramConfig::default()
    };
    baked.set_env("GREETING", "grüße");
    let std_argv = suites::argv("rust-guest", "/src", suites::RUST_OPS);
    let raw_argv = suites::argv("rust-guest", "/src", suites::RUST_RAW_OPS);
    let baked_argv: Vec<&str> = std::iter::once("rust-guest")
        .chain(NATIVE_BAKED.iter().copied())
        .collect();
    // (cell, oracle argv, baked program, runtime argv, on a writable mount)
    let cases = [
        (
            "std",
            &std_argv,
            ProgramConfig::default(),
            &std_argv[..],
            false,
        ),
        (
            "raw",
            &raw_argv,
            ProgramConfig::default(),
            &raw_argv[..],
            false,
        ),
        ("baked", &baked_argv, baked, &["rust-guest"][..], false),
        (
            "writable",
            &raw_argv,
            ProgramConfig::default(),
            &raw_argv[..],
            true,
        ),
    ];
    let mut cells = Vec::new();
    for (name, oracle_argv, program, runtime_argv, writable) in cases {
        // A writable mount's oracle writes to a copy of the tree, read-write.
        let copy = tempfile::tempdir().unwrap();
        wasivfs_e2e::run::copy_tree(t.path(), copy.path()).unwrap();
        let mut oracle_run = Run::args(oracle_argv);
        oracle_run.env = program.env.clone();
        let oracle = if writable {
            execute_writable(rust_guest_native(), &oracle_run.dir(copy.path(), "/src"))
        } else {
            execute(rust_guest_native(), &oracle_run.dir(t.path(), "/src"))
        };
        let oracle = oracle.unwrap();
        assert_eq!(oracle.exit_code, 0, "{name}: {}", stdout(&oracle));
        let mounts = [map("/src", t.path())];
        let params = PackParams {
            program,
            writable: if writable {
                Writable::all(&mounts)
            } else {
                Writable::default()
            },
            ..PackParams::default()
        };
        let packed = pack_params(rust_guest_native(), &mounts, &params).unwrap();
        let path = scratch.join(format!("rust-guest-{name}.wasm"));
        std::fs::write(&path, packed).unwrap();
        let got = run(&path, runtime_argv);
        let lines = oracle.stdout.iter().filter(|&&b| b == b'\n').count();
        cells.push(compat::cell(
            &got,
            &oracle.stdout,
            0,
            &format!(" ({lines} lines)"),
            &scrub,
        ));
    }
    cells
}

/// Requires the native component table of `docs/compatibility.md` to hold the row `title` with
/// `cells` for `test`, and every cell to be a match.
fn check_native_row(test: &str, title: &str, cells: &[String]) {
    use wasivfs_e2e::compat;
    let line = compat::row(title, cells, test);
    if let Err(e) = compat::check_row_in(&compat::NATIVE_COMPONENTS, test, &line) {
        panic!("{e}");
    }
    for c in cells {
        assert!(compat::is_same(c), "{c}");
    }
}

/// The packed native component on the `wasmtime` CLI, with no `--dir`: its row.
#[test]
fn native_components_on_the_wasmtime_cli() {
    let test = "components::native::native_components_on_the_wasmtime_cli";
    native_row_on(test, wasmtime_cli());
}

/// The packed native component on Node 26 through jco (`jco transpile --multi-memory`,
/// `preview2-shim`, no variable, no preopened directory): its row.
#[test]
fn native_components_on_jco_and_node26() {
    let test = "components::native::native_components_on_jco_and_node26";
    native_row_on(test, jco_on_node26());
}

/// The native row of `runner` (if installed), checked against the table as `test`'s.
fn native_row_on(test: &str, runner: Option<(Runner, String)>) {
    let Some((run, runtime)) = runner else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let cells = native_row(scratch.path(), &*run);
    check_native_row(test, &format!("{runtime}, packed"), &cells);
}

/// The raw WASI 0.2 calls of the Rust probe (`suites::RUST_RAW_OPS`), packed against the tree
/// preopened read-only by wasmtime-wasi's 0.2 host: the same entries, flags, types, error codes,
/// stream ends and `poll` answers.
#[test]
fn native_raw_filesystem_calls() {
    let ops = [suites::RUST_RAW_OPS, suites::RUST_RAW_STDIN_OPS].concat();
    let what = "native component raw calls";
    let out = check(rust_guest_native(), "rust-guest", &ops, false, what);
    assert_contains(
        &out,
        &[
            "entry \"link_dir\" symbolic-link",
            "again: end",
            "-> \"../hello.txt\"",
            "hash-at equal=true",
            "stream at end: 0 bytes",
            "ready: [1, 1, 1] poll: [0, 1, 2]",
        ],
    );
}

/// A packed native component packed again: both layers' trees are seen, each layer serves its
/// own handles (descriptors, streams and pollables in one `poll`), and a host directory given at
/// run time still works, as with the three directories preopened by the host.
#[test]
fn packing_a_packed_native_component_again() {
    let (a, b, h) = (
        trees::standard().unwrap(),
        trees::standard().unwrap(),
        trees::standard().unwrap(),
    );
    let once = pack(rust_guest_native(), &[map("/a", a.path())]).unwrap();
    let twice = pack(&once, &[map("/b", b.path())]).unwrap();
    #[rustfmt::skip]
    let ops = [
        "cat", "/a/hello.txt",
        "cat", "/b/sub/a.txt",
        "cat", "/h/hello.txt",
        "ls", "/b",
        "tree", "/b/sub",
        "raw_readdir", "sub",
        "raw_poll", "hello.txt",
        "raw_eof", "data.bin",
        "context",
    ];
    for root in ["/a", "/b"] {
        let args = suites::argv("rust-guest", root, &ops);
        let packed = execute(&twice, &Run::args(&args).dir(h.path(), "/h")).unwrap();
        // The outer layer's mounts come after the host's, the inner layer's after those.
        let run = Run::args(&args)
            .dir(h.path(), "/h")
            .dir(b.path(), "/b")
            .dir(a.path(), "/a");
        let oracle = execute(rust_guest_native(), &run).unwrap();
        let what = format!("twice-packed native component, raw calls on {root}");
        assert_eq!(stdout(&packed), stdout(&oracle), "{what}");
        assert_eq!(packed.exit_code, 0, "{}", stdout(&packed));
        assert_contains(&stdout(&packed), &["ready: [1, 1, 1] poll: [0, 1, 2]"]);
    }
}

/// Eight layers is the most: all eight are seen, and a ninth is refused in one line.
#[test]
fn a_native_component_is_packed_at_most_eight_times() {
    let t = trees::standard().unwrap();
    let mut packed = rust_guest_native().to_vec();
    for i in 0..8 {
        packed = pack(&packed, &[map(&format!("/l{i}"), t.path())]).unwrap();
    }
    let args = suites::argv(
        "rust-guest",
        "/l0",
        &["cat", "/l0/hello.txt", "cat", "/l7/empty"],
    );
    let out = execute(&packed, &Run::args(&args)).unwrap();
    assert_contains(&stdout(&out), &["size=13", "size=0"]);
    let err = pack(&packed, &[map("/l8", t.path())]).expect_err("a ninth layer");
    let line = format!("{err:#}");
    assert!(line.contains("at most 8 times"), "{line}");
}

/// The `std::fs` suite of the native component on a writable mount (`--writable`), against the
/// same tree preopened read-write by wasmtime-wasi's 0.2 host.
#[test]
fn native_rust_std_probe_on_a_writable_mount() {
    let what = "native component rust-guest (writable)";
    let out = check(
        rust_guest_native(),
        "rust-guest",
        suites::RUST_OPS,
        true,
        what,
    );
    assert!(out.contains("kind=NotFound"), "{out}");
}

/// The raw WASI 0.2 calls on a writable mount: output streams, `descriptor.write` and `splice`
/// write, and a stream open on a descriptor for reading only fails as the host's does.
#[test]
fn native_raw_filesystem_calls_on_a_writable_mount() {
    let what = "native component raw calls (writable)";
    let ops = [suites::RUST_RAW_OPS, suites::RUST_RAW_STDIN_OPS].concat();
    let out = check(rust_guest_native(), "rust-guest", &ops, true, what);
    assert_contains(
        &out,
        &[
            "check-write after write: ok 0",
            "read-only stream write: ok",
            "then check-write: last-operation-failed (error bad-descriptor, debug text given)",
            "then check-write: closed",
            "splice: 21 bytes\n  blocking-splice: 299979 bytes, then closed",
            "to stdout: ok 6",
            "raw_stdin from-stdin.txt\n  splice: 0 bytes, then closed\n  blocking-splice: closed",
        ],
    );
}

/// A `--tmpfs` of a native component against an empty writable host directory, through `std`
/// and through the raw calls.
#[test]
fn native_tmpfs_behaves_like_an_empty_writable_host_directory() {
    #[rustfmt::skip]
    let ops = [
        "create", "a.txt",
        "mkdir", "d",
        "rename", "a.txt", "d/a.txt",
        "tree", ".",
        "cat", "d/a.txt",
        "raw_write", "d/w.txt",
        "raw_readdir", "d",
    ];
    let out = tmpfs_vs_empty(rust_guest_native(), "rust-guest", &ops);
    assert_contains(&out, &["create ok", "entry \"w.txt\" regular-file"]);
}

/// A write stream on a full tmpfs (`--tmpfs-size`): the write is taken, then fails once it
/// settles with `insufficient-space`, reported once, and the stream is closed.
#[test]
fn a_native_write_stream_on_a_full_tmpfs_fails_with_insufficient_space() {
    let w = Writable {
        tmpfs: vec!["/tmp".into()],
        size: Some(8),
        ..Writable::default()
    };
    let packed = pack_writable(rust_guest_native(), &[], &w).unwrap();
    let args = suites::argv("rust-guest", "/tmp", &["raw_write", "w.txt"]);
    let out = execute(&packed, &Run::args(&args)).unwrap();
    let text = stdout(&out);
    assert_eq!(out.exit_code, 0, "{text}");
    assert_contains(
        &text,
        &[
            "  write: ok\n  check-write after write: ok 0\n",
            "check-write: last-operation-failed (error insufficient-space, debug text given)",
            "write-zeroes 3: closed",
            "blocking-write-and-flush: closed",
        ],
    );
}

/// The directory of the componentize-py app (`fixtures/apps/componentize-py`).
fn python_app_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps/componentize-py")
}

/// Builds the componentize-py app into a component with componentize-py (PyPI wheel, unpacked by
/// `.ci/setup`), in `work`: its bytes, or `None` when the wheel is not there (outside CI).
fn build_python_component(work: &std::path::Path) -> Option<Vec<u8>> {
    let so = wasivfs_e2e::artifacts::require("componentize_py.abi3.so")?;
    let wheel = so.parent().and_then(std::path::Path::parent)?;
    let app = python_app_dir();
    std::fs::copy(app.join("app.py"), work.join("app.py")).unwrap();
    wasivfs_e2e::run::copy_tree(&app.join("wit"), &work.join("wit")).unwrap();
    // The wheel's console script, run from the unpacked wheel.
    let script = "import sys; from componentize_py import script; \
                  sys.argv[0] = 'componentize-py'; sys.exit(script())";
    let out = std::process::Command::new("python3")
        .env("PYTHONPATH", wheel)
        .current_dir(work)
        .args([
            "-c",
            script,
            "-d",
            "wit",
            "-w",
            "app",
            "componentize",
            "app",
        ])
        .args(["-o", "app.wasm"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "componentize-py failed: {err}");
    Some(std::fs::read(work.join("app.wasm")).unwrap())
}

/// A real Python component: componentize-py links CPython, its C library and
/// `fixtures/apps/componentize-py/app.py` into one dynamically linked WASI 0.2 component (the
/// VFS goes into its C library). Packed with its `data/` at `/data`, writable, it runs with no
/// host directory on the embedded wasmtime and on the `wasmtime` CLI exactly as it runs with a
/// copy of `data/` preopened read-write (reads, a walk, a missing file, writes, an append, a
/// rename), and `data/` itself is left as it was.
#[test]
fn a_componentize_py_app_packed_with_its_data() {
    use wasivfs_e2e::runtimes::{self, Runtime};
    let work = tempfile::tempdir().unwrap();
    let Some(component) = build_python_component(work.path()) else {
        return;
    };
    let data = python_app_dir().join("data");
    let copy = tempfile::tempdir().unwrap();
    wasivfs_e2e::run::copy_tree(&data, copy.path()).unwrap();
    let run = Run::args(&["app"]);
    let oracle = execute_writable(&component, &run.clone().dir(copy.path(), "/data")).unwrap();
    let text = stdout(&oracle);
    assert_eq!(oracle.exit_code, 0, "{text}");
    assert_contains(
        &text,
        &["greeting: hello from an embedded file", "missing: 44"],
    );
    let mounts = [map("/data", &data)];
    let packed = pack_writable(&component, &mounts, &Writable::all(&mounts)).unwrap();
    let got = execute(&packed, &run).unwrap();
    assert_eq!(stdout(&got), text, "packed, on the embedded wasmtime");
    assert_eq!(got.exit_code, 0);
    let rt = Runtime::WasmtimeCli;
    if rt.require().is_some() {
        let path = work.path().join("packed.wasm");
        std::fs::write(&path, &packed).unwrap();
        let cli = runtimes::run_command(rt, &path, &["app"]).unwrap();
        let err = String::from_utf8_lossy(&cli.stderr);
        assert_eq!(
            String::from_utf8_lossy(&cli.stdout),
            text,
            "on the wasmtime CLI: {err}"
        );
        assert_eq!(cli.exit, Some(0), "{err}");
    }
    let mut left: Vec<_> = walkdir_names(&data);
    left.sort();
    assert_eq!(left, ["config.json", "notes", "notes/first.txt"]);
    let first = std::fs::read_to_string(data.join("notes/first.txt")).unwrap();
    assert_eq!(first, "first note\n");
}

/// The paths under `dir`, relative to it.
fn walkdir_names(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}
