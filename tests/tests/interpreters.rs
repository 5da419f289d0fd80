//! Real interpreters (downloaded by `.ci/run` into `WASIVFS_TEST_ARTIFACTS`): a one-directory app
//! packed into CPython and MicroPython behaves exactly as when the directory is host-mapped; CRuby
//! (a reactor that already carries wasi-vfs) still packs and initializes.

use wasivfs_e2e::artifacts;
use wasivfs_e2e::run::{differential_one, map, pack, stdout};
use wasivfs_e2e::trees::Tree;

const PY_APP: &str = r#"import os, sys
print("python", sys.version_info[:2])
print(sorted(os.listdir("/app")))
print(sorted(os.listdir("/app/pkg")))
with open("/app/data.txt", encoding="utf-8") as f:
    print(f.read().strip())
print("size", os.stat("/app/data.txt").st_size, os.path.isdir("/app/pkg"), os.path.islink("/app/link"))
sys.path.insert(0, "/app")
import pkg.mod
print(pkg.mod.answer())
for path, mode in [("/app/missing.txt", "r"), ("/app/new.txt", "w"), ("/app/pkg", "r")]:
    try:
        open(path, mode)
    except OSError as e:
        print(path, mode, "errno", e.errno)
with open("/app/link", "rb") as f:
    f.seek(5)
    print(f.read(4))
"#;

fn app_tree() -> Tree {
    let t = Tree::empty().unwrap();
    t.file("main.py", PY_APP.as_bytes())
        .unwrap()
        .file("data.txt", "some data ünïcode\n".as_bytes())
        .unwrap()
        .file("pkg/__init__.py", b"")
        .unwrap()
        .file("pkg/mod.py", b"def answer():\n    return 6 * 7\n")
        .unwrap()
        .symlink("data.txt", "link")
        .unwrap();
    t
}

#[test]
fn cpython_app() {
    let Some(path) = artifacts::require(artifacts::PYTHON) else { return };
    let module = std::fs::read(&path).unwrap();
    let t = app_tree();
    let d = differential_one(&module, &["python", "/app/main.py"], "/app", t.path()).unwrap();
    d.assert_same("CPython");
    let out = stdout(&d.packed);
    assert!(out.contains("\n42\n"), "{out}");
    assert!(out.contains("some data ünïcode"), "{out}");
}

#[test]
fn micropython_app() {
    let Some(path) = artifacts::require(artifacts::MICROPYTHON) else { return };
    let module = std::fs::read(&path).unwrap();
    let t = Tree::empty().unwrap();
    t.file(
        "main.py",
        b"import os\nprint(sorted(os.listdir('/app')))\nf = open('/app/data.txt')\nprint(f.read())\nf.close()\nprint(os.stat('/app/data.txt')[6])\ntry:\n    open('/app/nope')\nexcept OSError as e:\n    print('errno', e.args[0])\n",
    )
    .unwrap()
    .file("data.txt", b"micro data")
    .unwrap();
    let d = differential_one(&module, &["micropython", "/app/main.py"], "/app", t.path()).unwrap();
    d.assert_same("MicroPython");
    assert!(stdout(&d.packed).contains("micro data"), "{}", stdout(&d.packed));
}

/// Instantiates a reactor, calls `_initialize` then `ruby-show-version`, and returns stdout.
fn ruby_version(module: &[u8]) -> String {
    use wasmtime::{Linker, Module, Store};
    use wasmtime_wasi::p1::{self, WasiP1Ctx};
    use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
    let engine = wasivfs_e2e::run::engine();
    let module = Module::new(engine, module).unwrap();
    let out = MemoryOutputPipe::new(1 << 20);
    let ctx = wasmtime_wasi::WasiCtxBuilder::new()
        .args(&["ruby"])
        .stdout(out.clone())
        .build_p1();
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    p1::add_to_linker_sync(&mut linker, |t| t).unwrap();
    linker.define_unknown_imports_as_traps(&module).unwrap();
    let mut store = Store::new(engine, ctx);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    instance
        .get_typed_func::<(), ()>(&mut store, "_initialize")
        .unwrap()
        .call(&mut store, ())
        .unwrap();
    instance
        .get_typed_func::<(), ()>(&mut store, "ruby-show-version: func() -> ()")
        .unwrap()
        .call(&mut store, ())
        .unwrap();
    drop(store);
    String::from_utf8_lossy(&out.contents()).into_owned()
}

#[test]
fn cruby_reactor_packs_and_initializes() {
    let Some(path) = artifacts::require(artifacts::RUBY) else { return };
    let module = std::fs::read(&path).unwrap();
    let t = app_tree();
    let packed = pack(&module, &[map("/app", t.path())]).unwrap();
    let before = ruby_version(&module);
    let after = ruby_version(&packed);
    assert!(before.starts_with("ruby 3.4"), "{before}");
    assert_eq!(before, after);
}
