//! Helpers for the real-interpreter tests: the apps in `fixtures/apps/`, a generated zip archive,
//! import/export lists read with wasmparser, and a harness that drives the CRuby reactor.
//!
//! CRuby (`@ruby/3.4-wasm-wasi`) is a *reactor*: it has no `_start`, only `_initialize` plus
//! functions in the early canonical ABI (`ruby-init`, `rb-eval-string-protect`, ...). Its
//! `rb-js-abi-host.*` imports (the JavaScript bridge) are defined as traps; its `canonical_abi.*`
//! resource imports get real definitions (handles are passed through unchanged).

use crate::trees::Tree;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use wasmparser::{FuncType, Payload, TypeRef};
use wasmtime::{Instance, Linker, Memory, Module, Store, TypedFunc};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// `fixtures/apps/<name>`: the committed source of one interpreter app.
pub fn app_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/apps")
        .join(name)
}

/// Copies the directory tree `src` into `dst` (created if missing). Files and directories only.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("{}: cannot create", dst.display()))?;
    let entries =
        std::fs::read_dir(src).with_context(|| format!("{}: cannot list", src.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list", src.display()))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry
            .file_type()
            .with_context(|| format!("{}: cannot stat", from.display()))?;
        if kind.is_dir() {
            copy_tree(&from, &to)?;
        } else {
            std::fs::copy(&from, &to)
                .with_context(|| format!("{}: cannot copy", from.display()))?;
        }
    }
    Ok(())
}

/// A fresh copy of `fixtures/apps/<name>` in a temporary tree.
pub fn app_tree(name: &str) -> Result<Tree> {
    let tree = Tree::empty().context("temporary directory")?;
    copy_tree(&app_source(name), tree.path())?;
    Ok(tree)
}

/// The members of the zip archive that the CPython app reads and imports from.
pub const BUNDLE_MEMBERS: &[(&str, &str)] = &[
    ("notes/readme.txt", "zipped notes\n"),
    ("zipped.py", "VALUE = 'imported from a zip'\n"),
];

/// The CPython app (`fixtures/apps/python`) plus its generated `bundle.zip` and a symbolic link
/// `numbers-link.json` to `greet/data/numbers.json`.
pub fn python_app() -> Result<Tree> {
    let tree = app_tree("python")?;
    let members: Vec<(&str, &[u8])> = BUNDLE_MEMBERS
        .iter()
        .map(|(n, c)| (*n, c.as_bytes()))
        .collect();
    std::fs::write(tree.join("bundle.zip"), stored_zip(&members)).context("writing bundle.zip")?;
    tree.symlink("greet/data/numbers.json", "numbers-link.json")
        .context("creating numbers-link.json")?;
    Ok(tree)
}

/// A zip archive of `members` (name, contents), stored uncompressed, timestamps fixed at
/// 1980-01-01 so the bytes depend only on the members.
pub fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    const DOS_DATE: u16 = 0x21; // 1980-01-01
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let (name_len, size) = (name.len() as u16, data.len() as u32);
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20u16, 0, 0, 0, DOS_DATE] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [20u16, 20, 0, 0, 0, DOS_DATE] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    // End of central directory.
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    let count = members.len() as u16;
    for v in [0u16, 0, count, count] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// One import of a module: `(module, name, type)`, the type printed from wasmparser.
pub type ImportEntry = (String, String, String);
/// One export of a module: `(name, kind, index)`.
pub type ExportEntry = (String, String, u32);

/// What a module says of itself before its code: function types, imports and exports, in order.
pub struct Interface {
    /// The type section's function types.
    pub types: Vec<FuncType>,
    /// The imports: `(module, name, type)`.
    pub imports: Vec<(String, String, TypeRef)>,
    /// The exports.
    pub exports: Vec<ExportEntry>,
}

impl Interface {
    /// Reads the type, import and export sections of the module `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Interface> {
        let mut m = Interface {
            types: Vec::new(),
            imports: Vec::new(),
            exports: Vec::new(),
        };
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            match payload.context("parsing the module")? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        m.types.push(ty.context("type section")?);
                    }
                }
                Payload::ImportSection(reader) => {
                    for imp in reader.into_imports() {
                        let imp = imp.context("import section")?;
                        m.imports
                            .push((imp.module.to_string(), imp.name.to_string(), imp.ty));
                    }
                }
                Payload::ExportSection(reader) => {
                    for exp in reader {
                        let exp = exp.context("export section")?;
                        let kind = format!("{:?}", exp.kind);
                        m.exports.push((exp.name.to_string(), kind, exp.index));
                    }
                }
                // The sections wanted all come before the code.
                Payload::CodeSectionStart { .. } => break,
                _ => {}
            }
        }
        Ok(m)
    }

    /// The function type at `index` of the type section.
    pub fn func_type(&self, index: u32) -> Result<&FuncType> {
        self.types
            .get(index as usize)
            .ok_or_else(|| anyhow!("import type {index} out of range"))
    }
}

/// The imports (with their function signatures resolved) and exports of a module, in order.
pub fn imports_and_exports(bytes: &[u8]) -> Result<(Vec<ImportEntry>, Vec<ExportEntry>)> {
    let m = Interface::parse(bytes)?;
    let mut imports = Vec::new();
    for (module, name, ty) in &m.imports {
        let ty = match ty {
            TypeRef::Func(i) => format!("{:?}", m.func_type(*i)?),
            other => format!("{other:?}"),
        };
        imports.push((module.clone(), name.clone(), ty));
    }
    Ok((imports, m.exports))
}

/// Turns a wasmtime error into an error of this crate with `what` as context.
fn wt(e: wasmtime::Error, what: impl std::fmt::Display + Send + Sync + 'static) -> anyhow::Error {
    anyhow!(e).context(what)
}

/// A CRuby reactor instance with captured stdout and stderr.
pub struct RubyVm {
    store: Store<WasiP1Ctx>,
    instance: Instance,
    memory: Memory,
    realloc: TypedFunc<(i32, i32, i32, i32), i32>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

/// Captured output is limited to this many bytes per stream.
const CAPTURE_LIMIT: usize = 16 << 20;

impl RubyVm {
    /// Instantiates `module` with host directories `dirs` (`(host, guest)`, read-only) and calls
    /// its `_initialize`.
    pub fn instantiate(module: &Module, dirs: &[(PathBuf, String)]) -> Result<RubyVm> {
        let engine = module.engine();
        let stdout = MemoryOutputPipe::new(CAPTURE_LIMIT);
        let stderr = MemoryOutputPipe::new(CAPTURE_LIMIT);
        let mut builder = WasiCtxBuilder::new();
        builder.stdout(stdout.clone()).stderr(stderr.clone());
        for (host, guest) in dirs {
            builder
                .preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(|e| wt(e, format!("{}: cannot preopen", host.display())))?;
        }
        let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
        p1::add_to_linker_sync(&mut linker, |t| t).map_err(|e| wt(e, "linking WASI"))?;
        // Resource handles are plain numbers for a harness that never creates JS values.
        linker
            .func_wrap("canonical_abi", "resource_new_rb-abi-value", |h: i32| h)
            .map_err(|e| wt(e, "defining canonical_abi"))?;
        linker
            .func_wrap("canonical_abi", "resource_get_rb-abi-value", |h: i32| h)
            .map_err(|e| wt(e, "defining canonical_abi"))?;
        linker
            .func_wrap("canonical_abi", "resource_drop_js-abi-value", |_: i32| {})
            .map_err(|e| wt(e, "defining canonical_abi"))?;
        linker
            .define_unknown_imports_as_traps(module)
            .map_err(|e| wt(e, "defining the JS bridge as traps"))?;
        let mut store = Store::new(engine, builder.build_p1());
        let instance = linker
            .instantiate(&mut store, module)
            .map_err(|e| wt(e, "instantiating the Ruby reactor"))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| anyhow!("the module exports no `memory`"))?;
        let realloc = instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&mut store, "cabi_realloc")
            .map_err(|e| wt(e, "export cabi_realloc"))?;
        let mut vm = RubyVm {
            store,
            instance,
            memory,
            realloc,
            stdout,
            stderr,
        };
        vm.call0("_initialize")?;
        Ok(vm)
    }

    fn call0(&mut self, name: &str) -> Result<()> {
        self.instance
            .get_typed_func::<(), ()>(&mut self.store, name)
            .map_err(|e| wt(e, format!("export {name}")))?
            .call(&mut self.store, ())
            .map_err(|e| wt(e, format!("calling {name}")))
    }

    /// Copies `s` plus a trailing NUL into guest memory allocated with `cabi_realloc`; returns
    /// `(ptr, len)` with `len` not counting the NUL.
    fn put_string(&mut self, s: &str) -> Result<(i32, i32)> {
        let len = i32::try_from(s.len()).context("string too long")?;
        let ptr = self
            .realloc
            .call(&mut self.store, (0, 0, 1, len + 1))
            .map_err(|e| wt(e, "cabi_realloc"))?;
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.memory
            .write(&mut self.store, ptr as u32 as usize, &bytes)
            .context("writing a string into guest memory")?;
        Ok((ptr, len))
    }

    /// Calls `ruby-init` with `args` (argv, argv\[0\] included), then `ruby-init-loadpath`.
    pub fn init(&mut self, args: &[&str]) -> Result<()> {
        let mut pairs = Vec::new();
        for a in args {
            let (ptr, len) = self.put_string(a)?;
            pairs.extend_from_slice(&ptr.to_le_bytes());
            pairs.extend_from_slice(&len.to_le_bytes());
        }
        let list_len = i32::try_from(pairs.len()).context("too many arguments")?;
        let list = self
            .realloc
            .call(&mut self.store, (0, 0, 4, list_len))
            .map_err(|e| wt(e, "cabi_realloc"))?;
        self.memory
            .write(&mut self.store, list as u32 as usize, &pairs)
            .context("writing the argument list")?;
        self.instance
            .get_typed_func::<(i32, i32), ()>(
                &mut self.store,
                "ruby-init: func(args: list<string>) -> ()",
            )
            .map_err(|e| wt(e, "export ruby-init"))?
            .call(&mut self.store, (list, args.len() as i32))
            .map_err(|e| wt(e, "calling ruby-init"))?;
        self.call0("ruby-init-loadpath: func() -> ()")
    }

    /// Evaluates `code` with `rb-eval-string-protect`; returns Ruby's `state` (0: no exception).
    pub fn eval(&mut self, code: &str) -> Result<i32> {
        let (ptr, len) = self.put_string(code)?;
        let ret = self
            .instance
            .get_typed_func::<(i32, i32), i32>(
                &mut self.store,
                "rb-eval-string-protect: func(str: string) -> tuple<handle<rb-abi-value>, s32>",
            )
            .map_err(|e| wt(e, "export rb-eval-string-protect"))?
            .call(&mut self.store, (ptr, len))
            .map_err(|e| wt(e, "calling rb-eval-string-protect"))?;
        // The return area holds (handle: i32, state: s32).
        let mut state = [0u8; 4];
        self.memory
            .read(&self.store, ret as u32 as usize + 4, &mut state)
            .context("reading the result of rb-eval-string-protect")?;
        Ok(i32::from_le_bytes(state))
    }

    /// Everything the guest wrote to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    /// Everything the guest wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

/// Runs `require "<entry>"` in a fresh CRuby reactor over `module` with host directories `dirs`;
/// returns its stdout, or an error carrying stdout and stderr if Ruby raised.
pub fn ruby_require(module: &Module, dirs: &[(PathBuf, String)], entry: &str) -> Result<String> {
    let mut vm = RubyVm::instantiate(module, dirs)?;
    vm.init(&["ruby.wasm", "-EUTF-8", "-e_=0"])?;
    let code = format!(
        "begin; require {entry:?}; rescue Exception => e; $stderr.puts(e.full_message); $stderr.flush; raise; end"
    );
    let state = vm.eval(&code)?;
    if state != 0 {
        bail!(
            "require {entry:?} raised (state {state})\nstdout:\n{}\nstderr:\n{}",
            vm.stdout(),
            vm.stderr()
        );
    }
    Ok(vm.stdout())
}
