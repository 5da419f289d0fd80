//! The command line's argument rules: `wasivfs run MODULE ARGS...` gives everything after the
//! module to the program (as `wasmtime run` does), `--` still works, options before the module
//! stay wasivfs's; `-q` and `-v` are accepted by every subcommand, before or after it.

use std::process::Output;
use wasivfs_e2e::cli::wasivfs;
use wasivfs_e2e::fixtures::wat;
use wasivfs_e2e::trees::Tree;

/// A command module that writes its argv to stdout, each argument followed by a NUL byte, and
/// then its environment the same way after one more NUL.
const ECHO_ARGS_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $esizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $eget (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "\00")
  (func $out (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (drop (call $sizes (i32.const 32) (i32.const 36)))
    (drop (call $get (i32.const 1024) (i32.const 4096)))
    (call $out (i32.const 4096) (i32.load (i32.const 36)))
    (call $out (i32.const 16) (i32.const 1))
    (drop (call $esizes (i32.const 32) (i32.const 36)))
    (drop (call $eget (i32.const 1024) (i32.const 65536)))
    (call $out (i32.const 65536) (i32.load (i32.const 36)))))"#;

struct Echo {
    dir: Tree,
}

impl Echo {
    fn new() -> Echo {
        let dir = Tree::empty().unwrap();
        dir.file("echo.wasm", &wat(ECHO_ARGS_WAT)).unwrap();
        Echo { dir }
    }

    fn path(&self) -> String {
        self.dir.join("echo.wasm").display().to_string()
    }

    /// Runs `wasivfs run BEFORE... MODULE AFTER...`; returns the guest's argv and environment.
    fn run(&self, before: &[&str], after: &[&str]) -> (Vec<String>, Vec<String>) {
        let module = self.path();
        let mut args = vec!["run"];
        args.extend_from_slice(before);
        args.push(&module);
        args.extend_from_slice(after);
        let out = wasivfs(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "wasivfs {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let (argv, env) = text.split_once("\0\0").unwrap_or((&text, ""));
        let split = |s: &str| -> Vec<String> {
            s.split('\0')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        (split(argv), split(env))
    }
}

fn argv(args: &[&str]) -> Vec<String> {
    std::iter::once("echo.wasm")
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect()
}

#[test]
fn run_passes_everything_after_the_module_to_the_program() {
    let e = Echo::new();
    assert_eq!(e.run(&[], &[]).0, argv(&[]));
    assert_eq!(e.run(&[], &["a", "b c"]).0, argv(&["a", "b c"]));
    // Options after the module, ours included, are the program's.
    let theirs = [
        "input.txt",
        "--dir",
        "x",
        "-q",
        "--no-cache",
        "--env",
        "A=1",
        "-v",
    ];
    let (args, env) = e.run(&[], &theirs);
    assert_eq!(args, argv(&theirs));
    assert!(env.is_empty(), "{env:?}");
    assert_eq!(e.run(&[], &["--help"]).0, argv(&["--help"]));
    assert_eq!(e.run(&[], &["--version"]).0, argv(&["--version"]));
}

#[test]
fn run_still_takes_a_double_dash() {
    let e = Echo::new();
    assert_eq!(e.run(&[], &["--", "a", "-q"]).0, argv(&["a", "-q"]));
    assert_eq!(e.run(&[], &["--"]).0, argv(&[]));
    // Only the first `--` is a separator.
    assert_eq!(e.run(&[], &["--", "--", "x"]).0, argv(&["--", "x"]));
    assert_eq!(e.run(&[], &["a", "--", "b"]).0, argv(&["a", "--", "b"]));
}

#[test]
fn run_options_before_the_module_stay_ours() {
    let e = Echo::new();
    let data = Tree::empty().unwrap();
    let dir = format!("{}::/data", data.path().display());
    let (args, env) = e.run(
        &["--env", "GREETING=hi", "--dir", &dir, "--no-cache", "-q"],
        &["--env", "X=1"],
    );
    assert_eq!(args, argv(&["--env", "X=1"]));
    assert_eq!(env, vec!["GREETING=hi".to_string()]);
    // -v before the module reports the times on stderr; the program's output is unchanged.
    let module = e.path();
    let out = wasivfs(["run", "-v", &module, "z"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.starts_with(b"echo.wasm\0z\0"),
        "{:?}",
        out.stdout
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compile:") && err.contains("run:"), "{err}");
}

fn one_line_error(out: &Output, code: i32, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    assert!(out.stdout.is_empty());
    err
}

#[test]
fn run_without_a_module_is_a_usage_error() {
    one_line_error(&wasivfs(["run"]), 2, &["MODULE"]);
    one_line_error(&wasivfs(["run", "--dir", "/tmp"]), 2, &["MODULE"]);
    one_line_error(
        &wasivfs(["run", "missing-module.wasm", "-q"]),
        1,
        &["missing-module.wasm"],
    );
}

#[test]
fn quiet_and_verbose_work_on_every_subcommand() {
    let w = Tree::empty().unwrap();
    let missing = w.join("missing.wasm").display().to_string();
    let out_path = w.join("out").display().to_string();
    // `exe` takes the global flags: the error is about the missing module, not the flag.
    for flag in ["-q", "-v", "--quiet", "--verbose"] {
        let err = one_line_error(
            &wasivfs(["exe", &missing, "-o", &out_path, flag]),
            1,
            &["missing.wasm"],
        );
        assert!(!err.contains("unexpected argument"), "{err}");
        let err = one_line_error(&wasivfs([flag, "exe", &missing, "-o", &out_path]), 1, &[]);
        assert!(err.contains("missing.wasm"), "{err}");
    }
    for sub in ["ls", "cat", "inspect", "unpack"] {
        let mut args = vec![sub, missing.as_str()];
        match sub {
            "unpack" => args.extend(["-o", &out_path]),
            "cat" => args.push("/src/a.txt"),
            _ => {}
        }
        for flag in ["-q", "-v"] {
            let mut with = args.clone();
            with.push(flag);
            one_line_error(&wasivfs(&with), 1, &["missing.wasm"]);
        }
    }
    // The two still exclude each other, wherever they are written.
    one_line_error(&wasivfs(["-q", "ls", &missing, "-v"]), 2, &["--quiet"]);
}

#[test]
fn pack_and_unpack_take_the_flags_before_or_after_the_subcommand() {
    let w = Tree::empty().unwrap();
    w.file("app.wasm", &wat(wasivfs_e2e::fixtures::TINY_WAT))
        .unwrap();
    w.file("src/a.txt", b"a").unwrap();
    let s = |p: &str| w.join(p).display().to_string();
    let mapdir = format!("/src::{}", s("src"));
    let app = s("app.wasm");
    for (i, layout) in [["-q", "pack"], ["pack", "-q"]].iter().enumerate() {
        let out = s(&format!("out{i}.wasm"));
        let mut args: Vec<&str> = layout.to_vec();
        args.extend([app.as_str(), "--mapdir", &mapdir, "-o", &out]);
        let o = wasivfs(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");
    }
    // -v prints the stage times; without -q the summary line is printed.
    let out = s("verbose.wasm");
    let o = wasivfs(["-v", "pack", &app, "--mapdir", &mapdir, "-o", &out]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("walked 1 files"));
    assert!(!o.stdout.is_empty());
    let dest = s("unpacked");
    let o = wasivfs(["-q", "unpack", &out, "-o", &dest]);
    assert!(o.status.success() && o.stdout.is_empty(), "{o:?}");
    assert_eq!(std::fs::read(w.join("unpacked/src/a.txt")).unwrap(), b"a");
}
