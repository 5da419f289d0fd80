//! Running the CRuby reactor on the `wasmtime` CLI, which cannot call `ruby-init` (it takes a
//! `list<string>` in guest memory) by itself.
//!
//! The CLI's `--preload NAME=MODULE` instantiates a module (calling a reactor's `_initialize`) and
//! offers its exports as imports named `NAME`. So the reactor is preloaded as `ruby`, after two
//! small modules that stand in for ruby.wasm's JavaScript side: `canonical_abi` (resource handles
//! passed through unchanged, as in [`crate::interp::RubyVm`]) and `rb-js-abi-host` (the JavaScript
//! bridge, every function a trap: the app never calls into JavaScript). The main module is a
//! driver command that writes argv and the code to evaluate into Ruby's memory with
//! `cabi_realloc`, calls `ruby-init`, `ruby-init-loadpath` and `rb-eval-string-protect`, and exits
//! with Ruby's `state` (0: no exception).

use crate::interp::Interface;
use crate::process;
use crate::runtimes::{GuestRun, Runtime, RUN_LIMIT};
use anyhow::{anyhow, Context, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use wasmparser::{FuncType, TypeRef, ValType};

/// A string as a WAT string literal.
fn wat_string(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\{b:02x}");
        }
    }
    s.push('"');
    s
}

fn val(t: &ValType) -> Result<&'static str> {
    Ok(match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        other => return Err(anyhow!("unsupported value type {other:?}")),
    })
}

/// `(param ..) (result ..)` of a function type.
fn signature(ty: &FuncType) -> Result<String> {
    let mut s = String::new();
    for p in ty.params() {
        let _ = write!(s, " (param {})", val(p)?);
    }
    for r in ty.results() {
        let _ = write!(s, " (result {})", val(r)?);
    }
    Ok(s)
}

/// The function imports of `module` from import module `from`: `(name, type)`.
fn function_imports(module: &[u8], from: &str) -> Result<Vec<(String, FuncType)>> {
    let m = Interface::parse(module).context("the Ruby module")?;
    let mut out = Vec::new();
    for (module, name, ty) in &m.imports {
        if let (true, TypeRef::Func(i)) = (module == from, ty) {
            out.push((name.clone(), m.func_type(*i)?.clone()));
        }
    }
    Ok(out)
}

/// A stand-in for the import module `from` of `ruby`: one exported function per function that
/// `ruby` imports from it, with the import's name and type and the body `body` gives.
fn stand_in_wat(
    ruby: &[u8],
    from: &str,
    body: impl Fn(&str, &FuncType) -> Result<&'static str>,
) -> Result<String> {
    let mut wat = String::from("(module\n");
    for (name, ty) in function_imports(ruby, from)? {
        let _ = writeln!(
            wat,
            "  (func (export {}){} {})",
            wat_string(name.as_bytes()),
            signature(&ty)?,
            body(&name, &ty)?
        );
    }
    wat.push(')');
    Ok(wat)
}

/// The `rb-js-abi-host` stand-in: every imported function of that module, trapping.
pub fn js_bridge_wat(ruby: &[u8]) -> Result<String> {
    stand_in_wat(ruby, "rb-js-abi-host", |_, _| Ok("unreachable"))
}

/// The `canonical_abi` stand-in: `(i32) -> i32` functions return their argument, `(i32) -> ()`
/// ones do nothing.
pub fn canonical_abi_wat(ruby: &[u8]) -> Result<String> {
    stand_in_wat(ruby, "canonical_abi", |name, ty| {
        match (ty.params(), ty.results()) {
            ([ValType::I32], [ValType::I32]) => Ok("local.get 0"),
            ([ValType::I32], []) => Ok(""),
            _ => Err(anyhow!("canonical_abi.{name} has an unexpected type {ty}")),
        }
    })
}

/// The driver command: `ruby-init(args)`, `ruby-init-loadpath`, then evaluates `code` and exits
/// with Ruby's `state`.
pub fn driver_wat(args: &[&str], code: &str) -> String {
    let mut strings: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    strings.push(code.as_bytes());
    let mut wat = String::from(
        r#"(module
  (import "ruby" "memory" (memory 0))
  (import "ruby" "cabi_realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
  (import "ruby" "ruby-init: func(args: list<string>) -> ()" (func $init (param i32 i32)))
  (import "ruby" "ruby-init-loadpath: func() -> ()" (func $loadpath))
  (import "ruby" "rb-eval-string-protect: func(str: string) -> tuple<handle<rb-abi-value>, s32>"
    (func $eval (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (export "memory" (memory 0))
"#,
    );
    for (i, s) in strings.iter().enumerate() {
        // Each string NUL-terminated, as ruby-init's C side expects.
        let mut with_nul = s.to_vec();
        with_nul.push(0);
        let _ = writeln!(wat, "  (data $s{i} {})", wat_string(&with_nul));
    }
    // Each string goes to memory from cabi_realloc; argv's (ptr, len) pairs go into $list. The
    // code is the last string, so $p points at it when the loop is done.
    wat.push_str("  (func (export \"_start\") (local $list i32) (local $p i32)\n");
    let list_bytes = args.len() * 8;
    let _ = writeln!(
        wat,
        "    (local.set $list (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const {list_bytes})))"
    );
    for (i, s) in strings.iter().enumerate() {
        let len = s.len();
        let _ = writeln!(
            wat,
            "    (local.set $p (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const {})))\n    (memory.init $s{i} (local.get $p) (i32.const 0) (i32.const {}))",
            len + 1,
            len + 1
        );
        if i < args.len() {
            let _ = writeln!(
                wat,
                "    (i32.store offset={} (local.get $list) (local.get $p))\n    (i32.store offset={} (local.get $list) (i32.const {len}))",
                i * 8,
                i * 8 + 4
            );
        }
    }
    let _ = writeln!(
        wat,
        "    (call $init (local.get $list) (i32.const {}))\n    (call $loadpath)\n    (call $exit (i32.load offset=4 (call $eval (local.get $p) (i32.const {}))))))",
        args.len(),
        code.len()
    );
    wat
}

/// Runs `require entry` in the CRuby reactor `wasm` on the `wasmtime` CLI, with no host directory.
/// `scratch` receives the three helper modules.
pub fn run_ruby(wasm: &Path, entry: &str, scratch: &Path) -> Result<GuestRun> {
    let program = Runtime::WasmtimeCli
        .program()
        .context("the wasmtime CLI is not installed")?;
    let ruby = std::fs::read(wasm).with_context(|| format!("{}", wasm.display()))?;
    let code = format!(
        "begin; require {entry:?}; rescue Exception => e; $stderr.puts(e.full_message); raise; ensure; $stdout.flush; $stderr.flush; end"
    );
    let modules = [
        ("canonical_abi", canonical_abi_wat(&ruby)?),
        ("rb-js-abi-host", js_bridge_wat(&ruby)?),
        (
            "driver",
            driver_wat(&["ruby.wasm", "-EUTF-8", "-e_=0"], &code),
        ),
    ];
    let mut paths = Vec::new();
    for (name, wat) in &modules {
        let bytes = wat::parse_str(wat).map_err(|e| anyhow!("generated {name} module: {e}"))?;
        let path = scratch.join(format!("{name}.wasm"));
        std::fs::write(&path, bytes).with_context(|| format!("{}", path.display()))?;
        paths.push(path);
    }
    let mut cmd = Command::new(program);
    cmd.current_dir(scratch)
        .env("RUST_BACKTRACE", "0")
        .env("WASMTIME_BACKTRACE_DETAILS", "0")
        .arg("run")
        .arg("--preload")
        .arg(format!("canonical_abi={}", paths[0].display()))
        .arg("--preload")
        .arg(format!("rb-js-abi-host={}", paths[1].display()))
        .arg("--preload")
        .arg(format!("ruby={}", wasm.display()))
        .arg(&paths[2]);
    Ok(GuestRun::from_process(process::run(&mut cmd, RUN_LIMIT)?))
}
