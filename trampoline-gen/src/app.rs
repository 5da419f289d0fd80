//! One pass over the application module's sections: the checks of [`check_app`], and what the
//! merger needs to stream it (section ranges, index-space sizes, function body ranges).
//! Function bodies are located but not parsed here.

use std::ops::Range;

use wasmparser::{
    BinaryReader, Encoding, ExternalKind, FuncType, MemoryType, Parser, Payload, SectionLimited,
    TypeRef,
};

use crate::encode::Kind;
use crate::error::{MergeError, Result};
use crate::wasi;

/// What [`check_app`] found out about an application module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppInfo {
    /// Size of the module in bytes.
    pub size: usize,
    /// Size of the code section in bytes.
    pub code_size: usize,
    /// Size of the data section in bytes.
    pub data_size: usize,
    /// Total size of the custom sections in bytes (debug info, names, ...).
    pub custom_size: usize,
    /// Number of imported functions.
    pub imported_functions: u32,
    /// Number of functions defined by the module.
    pub defined_functions: u32,
    /// The module's memories, in index order.
    pub memories: Vec<MemoryInfo>,
    /// Index of the memory exported as `memory` (the one WASI pointers refer to).
    pub memory_export: u32,
    /// The intercepted `wasi_snapshot_preview1` imports, in import order.
    pub intercepted: Vec<InterceptedImport>,
    /// Every other function import, as `module.name`, in import order.
    pub other_imports: Vec<String>,
    /// Number of `wasivfs` custom sections: how many times the module was packed already.
    pub packed_layers: usize,
    /// Whether the module exports `_start` (a command).
    pub is_command: bool,
    /// Whether the module exports `_initialize` (a reactor).
    pub is_reactor: bool,
}

/// One memory of an application module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryInfo {
    /// Memory index.
    pub index: u32,
    /// Initial size in 64 KiB pages.
    pub initial_pages: u64,
    /// Maximum size in 64 KiB pages, if declared.
    pub maximum_pages: Option<u64>,
    /// The import's module and name, for a memory the module imports.
    pub imported: Option<(String, String)>,
}

/// A WASI import that the VFS intercepts: a `wasi_snapshot_preview1` function, or a WASI 0.2
/// function of a component's core module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterceptedImport {
    /// Its name: the preview 1 function name (`fd_write`), or the 0.2 interface and function
    /// (`wasi:filesystem/types#[method]descriptor.stat`).
    pub name: String,
    /// Its index in the function index space.
    pub function_index: u32,
}

impl InterceptedImport {
    /// The VFS export that serves it.
    pub fn export(&self) -> String {
        if self.name.contains('#') {
            format!("{}{}", wasivfs_abi::P2_EXPORT_PREFIX, self.name)
        } else {
            format!("{}{}", wasi::EXPORT_PREFIX, self.name)
        }
    }
}

/// Checks that `app` is a core module the merger can pack and describes it.
///
/// Fast: sections are walked once and function bodies are not parsed. Errors name the reason:
/// not wasm, truncated or malformed, a component, no memory, an imported, shared, 64-bit or
/// custom-page-size memory, no `memory` export, or an intercepted preview 1 import whose type
/// is not the preview 1 signature.
pub fn check_app(app: &[u8]) -> Result<AppInfo> {
    scan_app(app).map(|a| a.0.info)
}

/// An application module checked by [`scan_app`], ready for [`crate::Merger::from_scanned`]: the
/// pack pipeline checks the input before the (long) walk and merges it later without a second
/// scan.
pub struct ScannedApp<'a>(pub(crate) AppModule<'a>);

impl ScannedApp<'_> {
    /// What the scan found out.
    pub fn info(&self) -> &AppInfo {
        &self.0.info
    }
}

/// Checks `app` like [`check_app`] and keeps what the scan found for the merge.
pub fn scan_app(app: &[u8]) -> Result<ScannedApp<'_>> {
    AppModule::scan(app).map(ScannedApp)
}

/// A known section of the application.
#[derive(Clone, Debug)]
pub(crate) struct KnownSection {
    pub kind: Kind,
    /// The section content (after id and size).
    pub content: Range<usize>,
    /// Where the items start (after the count), for sections that have a count.
    pub items: Range<usize>,
    /// Item count (0 for sections without one).
    pub count: u32,
}

/// A section of the application, in file order.
#[derive(Clone, Debug)]
pub(crate) enum AppSection {
    Known(KnownSection),
    /// A custom section's content (name and data).
    Custom(Range<usize>),
}

/// A WASI function import of the application: preview 1, or WASI 0.2.
#[derive(Clone, Debug)]
pub(crate) struct WasiImport<'a> {
    /// `wasi_snapshot_preview1`, or a 0.2 interface without its version
    /// (`wasi:filesystem/types`), as the VFS imports it.
    pub interface: &'a str,
    pub name: &'a str,
    pub func: u32,
    pub ty: u32,
}

/// The scanned application.
pub(crate) struct AppModule<'a> {
    pub bytes: &'a [u8],
    pub sections: Vec<AppSection>,
    /// Function types by type index (`None` for other composite types).
    pub types: Vec<Option<FuncType>>,
    pub func_imports: u32,
    pub table_count: u32,
    pub memory_count: u32,
    pub global_count: u32,
    pub elem_count: u32,
    pub data_count: u32,
    pub has_data_count: bool,
    pub start: Option<u32>,
    /// Function body ranges (after the size prefix), in code section order.
    pub bodies: Vec<Range<usize>>,
    /// Every preview 1 and WASI 0.2 function import (first one per name wins in lookups).
    pub wasi_imports: Vec<WasiImport<'a>>,
    /// The function exported as `cabi_realloc`, if any.
    pub realloc: Option<u32>,
    /// Index of the memory exported as `memory`.
    pub memory_export: u32,
    pub info: AppInfo,
}

impl<'a> AppModule<'a> {
    /// Total number of types.
    pub(crate) fn type_count(&self) -> u32 {
        self.types.len() as u32
    }

    /// Total number of functions (imported and defined).
    pub(crate) fn func_count(&self) -> u32 {
        self.func_imports + self.info.defined_functions
    }

    /// The application's import of `name` from `interface` (`wasi_snapshot_preview1`, or a
    /// 0.2 interface without version, which matches any `0.2.x`).
    pub(crate) fn wasi_import(&self, interface: &str, name: &str) -> Option<&WasiImport<'a>> {
        self.wasi_imports
            .iter()
            .find(|p| p.interface == interface && p.name == name)
    }

    /// Scans and checks `bytes`.
    pub(crate) fn scan(bytes: &'a [u8]) -> Result<Self> {
        match wasivfs_abi::BinaryKind::of(bytes) {
            wasivfs_abi::BinaryKind::NotWasm => return Err(MergeError::NotWasm),
            wasivfs_abi::BinaryKind::Component => return Err(MergeError::Component),
            // An unknown version is reported by the parser, with its number.
            wasivfs_abi::BinaryKind::CoreModule | wasivfs_abi::BinaryKind::UnknownVersion => {}
        }
        let mut m = AppModule {
            bytes,
            sections: Vec::new(),
            types: Vec::new(),
            func_imports: 0,
            table_count: 0,
            memory_count: 0,
            global_count: 0,
            elem_count: 0,
            data_count: 0,
            has_data_count: false,
            start: None,
            bodies: Vec::new(),
            wasi_imports: Vec::new(),
            realloc: None,
            memory_export: 0,
            info: AppInfo {
                size: bytes.len(),
                code_size: 0,
                data_size: 0,
                custom_size: 0,
                imported_functions: 0,
                defined_functions: 0,
                memories: Vec::new(),
                memory_export: 0,
                intercepted: Vec::new(),
                other_imports: Vec::new(),
                packed_layers: 0,
                is_command: false,
                is_reactor: false,
            },
        };
        let mut memory_export = None;
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(MergeError::malformed)?;
            match payload {
                Payload::Version { encoding, .. } => {
                    if encoding != Encoding::Module {
                        return Err(MergeError::Component);
                    }
                }
                Payload::TypeSection(r) => {
                    m.known(Kind::Type, &r);
                    for group in r {
                        let group = group.map_err(MergeError::malformed)?;
                        for sub in group.types() {
                            m.types.push(match &sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(f.clone()),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(r) => {
                    m.known(Kind::Import, &r);
                    for import in r.into_imports() {
                        let import = import.map_err(MergeError::malformed)?;
                        m.import(import)?;
                    }
                }
                Payload::FunctionSection(r) => {
                    m.known(Kind::Function, &r);
                    m.info.defined_functions = r.count();
                }
                Payload::TableSection(r) => {
                    m.known(Kind::Table, &r);
                    m.table_count += r.count();
                }
                Payload::MemorySection(r) => {
                    m.known(Kind::Memory, &r);
                    for mem in r {
                        let mem = mem.map_err(MergeError::malformed)?;
                        m.memory(mem, None)?;
                    }
                }
                Payload::TagSection(r) => m.known(Kind::Tag, &r),
                Payload::GlobalSection(r) => {
                    m.known(Kind::Global, &r);
                    m.global_count += r.count();
                }
                Payload::ExportSection(r) => {
                    m.known(Kind::Export, &r);
                    for export in r {
                        let e = export.map_err(MergeError::malformed)?;
                        match (e.kind, e.name) {
                            (ExternalKind::Memory, "memory") => memory_export = Some(e.index),
                            (ExternalKind::Func, "_start") => m.info.is_command = true,
                            (ExternalKind::Func, "_initialize") => m.info.is_reactor = true,
                            (ExternalKind::Func, "cabi_realloc") => m.realloc = Some(e.index),
                            _ => {}
                        }
                    }
                }
                Payload::StartSection { func, range } => {
                    m.start = Some(func);
                    m.push_plain(Kind::Start, to_usize(range));
                }
                Payload::ElementSection(r) => {
                    m.known(Kind::Element, &r);
                    m.elem_count = r.count();
                }
                Payload::DataCountSection { count, range } => {
                    m.has_data_count = true;
                    m.push_plain(Kind::DataCount, to_usize(range));
                    let _ = count;
                }
                Payload::DataSection(r) => {
                    m.known(Kind::Data, &r);
                    m.data_count = r.count();
                    m.info.data_size = r.range().end as usize - r.range().start as usize;
                }
                Payload::CodeSectionStart {
                    count,
                    unchecked_range,
                    size,
                } => {
                    let range = to_usize(unchecked_range);
                    if range.end > bytes.len() {
                        return Err(MergeError::Malformed(
                            "code section extends past the end of the file".into(),
                        ));
                    }
                    let items_start = range.end - size as usize;
                    m.sections.push(AppSection::Known(KnownSection {
                        kind: Kind::Code,
                        content: range.clone(),
                        items: items_start..range.end,
                        count,
                    }));
                    m.info.code_size = range.len();
                    m.bodies.reserve(count as usize);
                }
                Payload::CodeSectionEntry(body) => m.bodies.push(to_usize(body.range())),
                Payload::CustomSection(r) => {
                    if r.name() == wasi::CUSTOM_SECTION {
                        m.info.packed_layers += 1;
                    }
                    let range = to_usize(r.range());
                    m.info.custom_size += range.len();
                    m.sections.push(AppSection::Custom(range));
                }
                Payload::UnknownSection { id, .. } => {
                    return Err(MergeError::Malformed(format!("unknown section id {id}")));
                }
                Payload::End(_) => {}
                _ => {
                    return Err(MergeError::Malformed(
                        "unexpected section for a core module".into(),
                    ));
                }
            }
        }
        if m.memory_count == 0 {
            return Err(MergeError::NoMemory);
        }
        // WASI pointers refer to the exported `memory`, or to the one memory a module imports.
        let imported_only = m.info.memories.len() == 1 && m.info.memories[0].imported.is_some();
        m.memory_export = memory_export
            .or(imported_only.then_some(0))
            .ok_or(MergeError::NoMemoryExport)?;
        m.info.memory_export = m.memory_export;
        if m.bodies.len() as u32 != m.info.defined_functions {
            return Err(MergeError::Malformed(format!(
                "function and code section counts differ ({} and {})",
                m.info.defined_functions,
                m.bodies.len()
            )));
        }
        m.info.imported_functions = m.func_imports;
        Ok(m)
    }

    fn known<T>(&mut self, kind: Kind, r: &SectionLimited<'a, T>) {
        let content = to_usize(r.range());
        let items = r.original_position() as usize..content.end;
        self.sections.push(AppSection::Known(KnownSection {
            kind,
            content,
            items,
            count: r.count(),
        }));
    }

    fn push_plain(&mut self, kind: Kind, content: Range<usize>) {
        self.sections.push(AppSection::Known(KnownSection {
            kind,
            items: content.clone(),
            content,
            count: 0,
        }));
    }

    fn import(&mut self, import: wasmparser::Import<'a>) -> Result<()> {
        match import.ty {
            TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                let func = self.func_imports;
                self.func_imports += 1;
                let interface = if import.module == wasi::PREVIEW1 {
                    Some(import.module)
                } else {
                    wasivfs_abi::p2_interface(import.module)
                };
                if let Some(interface) = interface {
                    self.wasi_imports.push(WasiImport {
                        interface,
                        name: import.name,
                        func,
                        ty,
                    });
                    let intercepted = if interface == wasi::PREVIEW1 {
                        wasi::intercepted(import.name).map(|sig| (import.name.to_string(), sig))
                    } else {
                        wasivfs_abi::p2_intercepted(import.module, import.name)
                            .map(|f| (format!("{}#{}", f.interface, f.name), f.signature.into()))
                    };
                    if let Some((name, sig)) = intercepted {
                        let found = self.types.get(ty as usize).cloned().flatten();
                        match found {
                            Some(ft) if sig.matches(&ft) => {}
                            other => {
                                return Err(MergeError::ImportSignature {
                                    name,
                                    expected: sig.to_string(),
                                    found: other.map(|ft| wasi::describe(&ft)).unwrap_or_else(
                                        || format!("type {ty} (not a function type)"),
                                    ),
                                });
                            }
                        }
                        self.info.intercepted.push(InterceptedImport {
                            name,
                            function_index: func,
                        });
                        return Ok(());
                    }
                }
                self.info
                    .other_imports
                    .push(format!("{}.{}", import.module, import.name));
            }
            TypeRef::Memory(mem) => {
                // Recorded, not refused: a core module of a dynamically linked component shares
                // the memory it imports; the packer refuses it for a module on its own.
                let import = (import.module.to_string(), import.name.to_string());
                self.memory(mem, Some(import))?;
            }
            TypeRef::Table(_) => self.table_count += 1,
            TypeRef::Global(_) => self.global_count += 1,
            TypeRef::Tag(_) => {}
        }
        Ok(())
    }

    fn memory(&mut self, mem: MemoryType, imported: Option<(String, String)>) -> Result<()> {
        let index = self.memory_count;
        self.memory_count += 1;
        if mem.shared {
            return Err(MergeError::SharedMemory { index });
        }
        if mem.memory64 {
            return Err(MergeError::Memory64 { index });
        }
        if mem.page_size_log2.is_some_and(|p| p != 16) {
            return Err(MergeError::CustomPageSize { index });
        }
        self.info.memories.push(MemoryInfo {
            index,
            initial_pages: mem.initial,
            maximum_pages: mem.maximum,
            imported,
        });
        Ok(())
    }
}

/// A byte range of the input as `usize`.
pub(crate) fn to_usize(r: Range<u64>) -> Range<usize> {
    r.start as usize..r.end as usize
}

/// A section reader over `bytes[range]` (content including the count).
pub(crate) fn reader<'a, T>(
    bytes: &'a [u8],
    range: &Range<usize>,
) -> Result<SectionLimited<'a, T>> {
    SectionLimited::new(BinaryReader::new(&bytes[range.clone()], range.start as u64))
        .map_err(MergeError::malformed)
}
