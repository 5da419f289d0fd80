//! Components: finding the core module the VFS goes into (the *main* module: the one that
//! imports `wasi_snapshot_preview1` in a component made with the preview 1 adapter, or the one
//! that imports `wasi:filesystem` in a native WASI 0.2 component), and writing the component
//! again with only that module's bytes replaced.
//!
//! Every other section is copied as raw bytes, so the component's types, imports, exports and
//! instantiation wiring are exactly the input's; the packed main module keeps its imports and
//! exports, so the wiring stays valid.

use std::borrow::Cow;
use std::ops::Range;

use wasmparser::{
    BinaryReader, CanonicalFunction, CanonicalOption, ComponentImportSectionReader,
    ComponentTypeRef, Parser, Payload, Validator, WasmFeatures,
};

use crate::error::{MergeError, Result};
use crate::wasi;

/// Section id of a core module inside a component.
const CORE_MODULE_SECTION: u8 = 1;
/// Section id of the component's canonical functions.
const CANONICAL_SECTION: u8 = 8;
/// Section id of the component's imports.
const IMPORT_SECTION: u8 = 10;

/// What a component is, as far as packing it goes.
#[derive(Debug)]
pub enum ComponentKind {
    /// A component built from a preview 1 module with the adapter: its main module (the one core
    /// module that imports `wasi_snapshot_preview1`) is where the VFS goes.
    Preview1 {
        /// The main module's bytes within the component.
        main: Range<usize>,
    },
    /// A native WASI 0.2 component: no core module imports `wasi_snapshot_preview1`, and its
    /// main module (the one core module that imports `wasi:filesystem`) is where the VFS goes,
    /// with its 0.2 front-end.
    NativeFilesystem {
        /// The main module's bytes within the component.
        main: Range<usize>,
        /// The other core modules (by index among the component's top-level core modules) that
        /// import `wasi:filesystem` too, in a dynamically linked program: the VFS goes into its
        /// C library, and their own direct file calls reach the host.
        bypassing: Vec<usize>,
    },
    /// A component that reaches no file system at all (no `wasi:filesystem` import, no preview 1
    /// module).
    NoFilesystem,
}

/// Classifies the component `bytes`: validates it (every feature wasmparser knows, so that an
/// async component is named as such rather than as invalid) and refuses WASI 0.3 / async
/// components with [`MergeError::Async`].
pub fn classify_component(bytes: &[u8]) -> Result<ComponentKind> {
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .map_err(MergeError::malformed)?;
    let mut mains = Vec::new();
    // (index, bytes, whether it defines `cabi_realloc`) of each module importing the file system.
    let mut natives = Vec::new();
    let mut fs_import = None;
    let mut index = 0;
    for (id, range) in top_level_sections(bytes)? {
        let data = &bytes[range.clone()];
        match id {
            CORE_MODULE_SECTION => {
                let imports = core_imports(data)?;
                if imports.preview1 {
                    // Its 0.2 file calls would reach the host, past the embedded files.
                    if let Some(fs) = imports.filesystem {
                        return Err(MergeError::MixedComponent(fs));
                    }
                    mains.push(range);
                } else if imports.filesystem.is_some() {
                    natives.push((index, range, imports.exports_realloc));
                }
                index += 1;
            }
            IMPORT_SECTION => {
                let reader = ComponentImportSectionReader::new(BinaryReader::new(data, 0))
                    .map_err(MergeError::malformed)?;
                for import in reader {
                    let import = import.map_err(MergeError::malformed)?;
                    let name = import.name.full_name();
                    let name = name.as_ref();
                    if is_wasi_03(name) {
                        return Err(MergeError::Async(format!("it imports `{name}`")));
                    }
                    let is_fs = name.starts_with("wasi:filesystem/")
                        && matches!(import.ty, ComponentTypeRef::Instance(_));
                    if is_fs && fs_import.is_none() {
                        fs_import = Some(name.to_string());
                    }
                }
            }
            CANONICAL_SECTION => check_canonicals(data)?,
            _ => {}
        }
    }
    // The preview 1 adapter itself imports `wasi:filesystem`: a component with one preview 1
    // module is an adapted one, whatever else imports the file system.
    match (mains.len(), natives.len(), fs_import) {
        (1, _, _) => Ok(ComponentKind::Preview1 {
            main: mains.remove(0),
        }),
        (0, 1, _) => Ok(ComponentKind::NativeFilesystem {
            main: natives.remove(0).1,
            bypassing: Vec::new(),
        }),
        // The component passes `wasi:filesystem` to a nested component or instance: its own
        // core modules do not import it.
        (0, 0, Some(import)) => Err(MergeError::NativeComponent(import)),
        (0, 0, None) => Ok(ComponentKind::NoFilesystem),
        // A dynamically linked program (componentize-py's: libc, libpython, the bindings, each a
        // module sharing one memory): the VFS goes into the one module that defines and exports
        // `cabi_realloc` (its C library; the others import it), which the front-end allocates
        // results with.
        (0, n, _) => {
            let mut libc = natives.iter().filter(|(.., realloc)| *realloc);
            match (libc.next(), libc.next()) {
                (Some((i, main, _)), None) => Ok(ComponentKind::NativeFilesystem {
                    main: main.clone(),
                    bypassing: natives
                        .iter()
                        .map(|(j, ..)| *j)
                        .filter(|j| j != i)
                        .collect(),
                }),
                _ => Err(MergeError::LinkedNative(n)),
            }
        }
        (n, _, _) => Err(MergeError::LinkedComponent(n)),
    }
}

/// The component `bytes` with the core module at `main` (a range [`classify_component`] returned)
/// replaced by `module`; every other section is copied byte for byte.
pub fn replace_module(bytes: &[u8], main: &Range<usize>, module: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() - main.len() + module.len() + 8);
    out.extend_from_slice(&bytes[..8]);
    for (id, range) in top_level_sections(bytes)? {
        out.push(id);
        let data = if range == *main {
            module
        } else {
            &bytes[range]
        };
        leb128_u32(&mut out, data.len())?;
        out.extend_from_slice(data);
    }
    Ok(out)
}

/// The core module that holds the `wasivfs` layers of `bytes`: `bytes` itself for a core
/// module, the main module for a component built from a preview 1 module. A component without
/// one (or that does not parse) yields `None`.
pub fn packed_core(bytes: &[u8]) -> Option<Cow<'_, [u8]>> {
    if wasivfs_abi::BinaryKind::of(bytes) != wasivfs_abi::BinaryKind::Component {
        return Some(Cow::Borrowed(bytes));
    }
    let sections = top_level_sections(bytes).ok()?;
    let (mut preview1, mut native) = (Vec::new(), Vec::new());
    for (id, r) in sections {
        if id != CORE_MODULE_SECTION {
            continue;
        }
        match core_imports(&bytes[r.clone()]) {
            Ok(i) if i.preview1 => preview1.push(r),
            Ok(i) if i.filesystem.is_some() => native.push(r),
            _ => {}
        }
    }
    // As in [`classify_component`]: the adapter imports `wasi:filesystem` too.
    let main = match (preview1.len(), native.len()) {
        (1, _) => preview1.remove(0),
        (0, 1) => native.remove(0),
        _ => return None,
    };
    Some(Cow::Borrowed(&bytes[main]))
}

/// The top-level sections of a component: id and payload range, in order.
fn top_level_sections(bytes: &[u8]) -> Result<Vec<(u8, Range<usize>)>> {
    let mut reader = BinaryReader::new(bytes, 0);
    reader.read_bytes(8).map_err(MergeError::malformed)?;
    let mut sections = Vec::new();
    while !reader.eof() {
        let id = reader.read_u8().map_err(MergeError::malformed)?;
        let len = reader.read_var_u32().map_err(MergeError::malformed)? as usize;
        let start = reader.original_position() as usize;
        reader.read_bytes(len).map_err(MergeError::malformed)?;
        sections.push((id, start..start + len));
    }
    Ok(sections)
}

/// What a core module of a component imports, as far as classifying the component goes.
#[derive(Default)]
struct CoreImports {
    /// A `wasi_snapshot_preview1` function the VFS intercepts (the adapter's own functions, such
    /// as `reset_adapter_state`, do not count).
    preview1: bool,
    /// The first import from a `wasi:filesystem/...` interface (its core module name).
    filesystem: Option<String>,
    /// Whether it exports a function `cabi_realloc` that it defines (not one it imports).
    exports_realloc: bool,
}

/// What the core module `module` imports (see [`CoreImports`]).
fn core_imports(module: &[u8]) -> Result<CoreImports> {
    let mut found = CoreImports::default();
    let mut imported_functions = 0;
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(MergeError::malformed)? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(MergeError::malformed)?;
                    if matches!(import.ty, wasmparser::TypeRef::Func(_)) {
                        imported_functions += 1;
                    }
                    if import.module == wasi::PREVIEW1 {
                        found.preview1 |= wasi::intercepted(import.name).is_some();
                    } else if import.module.starts_with("wasi:filesystem/")
                        && found.filesystem.is_none()
                    {
                        found.filesystem = Some(import.module.to_string());
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(MergeError::malformed)?;
                    found.exports_realloc |= export.name == "cabi_realloc"
                        && export.kind == wasmparser::ExternalKind::Func
                        && export.index >= imported_functions;
                }
            }
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok(found)
}

/// `wasi:<package>/<interface>@0.3.*`: a WASI 0.3 (async) interface.
fn is_wasi_03(name: &str) -> bool {
    name.starts_with("wasi:")
        && name
            .split_once('@')
            .is_some_and(|(_, version)| version.starts_with("0.3."))
}

/// Refuses the canonical built-ins and options of component-model async (and threads).
fn check_canonicals(data: &[u8]) -> Result<()> {
    let reader = wasmparser::ComponentCanonicalSectionReader::new(BinaryReader::new(data, 0))
        .map_err(MergeError::malformed)?;
    for func in reader {
        let func = func.map_err(MergeError::malformed)?;
        let options = match &func {
            CanonicalFunction::Lift { options, .. } | CanonicalFunction::Lower { options, .. } => {
                options
            }
            CanonicalFunction::ResourceNew { .. }
            | CanonicalFunction::ResourceDrop { .. }
            | CanonicalFunction::ResourceRep { .. } => continue,
            other => {
                let name = format!("{other:?}");
                let name = name.split([' ', '{', '(']).next().unwrap_or_default();
                return Err(MergeError::Async(format!(
                    "it uses the component-model built-in `{name}`"
                )));
            }
        };
        if options.iter().any(|o| matches!(o, CanonicalOption::Async)) {
            return Err(MergeError::Async(
                "it lifts or lowers a function `async`".to_string(),
            ));
        }
    }
    Ok(())
}

/// Appends `n` as an unsigned LEB128 section length.
fn leb128_u32(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let mut n = u32::try_from(n).map_err(|_| {
        MergeError::Malformed("a component section would be larger than 4 GiB".into())
    })?;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return Ok(());
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module importing `wasi:filesystem`; with `realloc`, defining and exporting
    /// `cabi_realloc`, else importing and re-exporting it (as a dynamic library does).
    fn fs_module(realloc: bool) -> String {
        let realloc = if realloc {
            r#"(func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)"#
        } else {
            r#"(import "env" "cabi_realloc" (func $r (param i32 i32 i32 i32) (result i32)))
               (export "cabi_realloc" (func $r))"#
        };
        format!(
            r#"(core module
                 (import "wasi:filesystem/types@0.2.0" "[resource-drop]descriptor" (func (param i32)))
                 {realloc})"#
        )
    }

    #[test]
    fn a_dynamically_linked_program_gets_the_vfs_in_its_c_library() {
        let (bindings, libc) = (fs_module(false), fs_module(true));
        let adapter_only =
            r#"(core module (import "wasi_snapshot_preview1" "reset_adapter_state" (func)))"#;
        let wat = format!("(component {adapter_only} {bindings} {libc})");
        let bytes = wat::parse_str(&wat).unwrap();
        match classify_component(&bytes).unwrap() {
            ComponentKind::NativeFilesystem { main, bypassing } => {
                assert_eq!(bypassing, [1], "the bindings module");
                let third = top_level_sections(&bytes).unwrap()[2].1.clone();
                assert_eq!(main, third, "the C library");
            }
            other => panic!("{other:?}"),
        }
        // Two that define `cabi_realloc`: which is the C library is not known.
        let wat = format!("(component {libc} {libc})");
        let err = classify_component(&wat::parse_str(&wat).unwrap()).unwrap_err();
        assert!(matches!(err, MergeError::LinkedNative(2)), "{err}");
    }
}
