//! The VFS side: [`prepare_vfs`] (the walrus cleanup pass after Wizer) and parsing the prepared
//! VFS module for the merger.

use wasmparser::{
    DataSectionReader, ElementSectionReader, Encoding, ExternalKind, FuncType, FunctionBody,
    GlobalSectionReader, MemoryType, Parser, Payload, TableSectionReader, TypeRef,
    TypeSectionReader,
};

use crate::encode::leb;
use crate::error::{MergeError, Result};
use crate::wasi;

/// Cleans up a Wizer-snapshotted VFS module so that it can be merged.
///
/// Drops every export except the `wasivfs_*` functions (the `memory` export and the
/// `wasivfs_init` entry point go too), lets walrus's garbage collector remove what is now
/// unreachable (the init code and the `wasivfs_pack.*` imports; the memory is kept), and emits
/// the module.
/// Fails if a `wasivfs_pack` import is still used.
///
/// `image`, if given, becomes one more active data segment of the VFS memory, after Wizer's:
/// the VFS reserved zeroed pages for it at pack time, so the snapshot does not hold it. It must
/// lie within the memory's initial size.
///
/// The data section (the snapshot: the image and the VFS's own statics, possibly hundreds of MB)
/// never goes through walrus: walrus sees the module without it, and the raw section is spliced
/// back in after the code section. This is sound because the VFS never names a data segment from
/// code (no `memory.init`/`data.drop`; walrus would reject the stripped module if it did) and its
/// one memory keeps index 0.
pub fn prepare_vfs(wizer_output: &[u8], image: Option<PlacedImage<'_>>) -> Result<Vec<u8>> {
    let split = split_data_section(wizer_output)?;
    let mut module = walrus::Module::from_buffer(&split.without_data)
        .map_err(|e| MergeError::Vfs(format!("cannot parse the snapshotted VFS: {e:#}")))?;
    // Memory exports are dropped only after the GC so that the memory survives it even if no
    // code or data segment refers to it.
    let exports_where = |module: &walrus::Module, pred: &dyn Fn(&walrus::Export) -> bool| {
        module
            .exports
            .iter()
            .filter(|e| pred(e))
            .map(|e| e.id())
            .collect::<Vec<walrus::ExportId>>()
    };
    let is_memory = |e: &walrus::Export| matches!(e.item, walrus::ExportItem::Memory(_));
    let keep = |e: &walrus::Export| {
        matches!(e.item, walrus::ExportItem::Function(_))
            && e.name.starts_with(wasi::EXPORT_PREFIX)
            && e.name != wasi::INIT_EXPORT
    };
    for id in exports_where(&module, &|e| !keep(e) && !is_memory(e)) {
        module.exports.delete(id);
    }
    walrus::passes::gc::run(&mut module);
    for id in exports_where(&module, &is_memory) {
        module.exports.delete(id);
    }
    if let Some(import) = module
        .imports
        .iter()
        .find(|i| i.module == wasi::PACK_IMPORTS)
    {
        return Err(MergeError::Vfs(format!(
            "`{}.{}` is still used after removing the init code",
            import.module, import.name
        )));
    }
    let code = module.emit_wasm();
    let data = split.data.map(|range| &wizer_output[range]);
    match image {
        Some(image) => {
            image.check_fits(&module)?;
            let (head, items, segment) = data_section_with(data, &image)?;
            splice_after_code(&code, &[&head, items, &segment, image.bytes])
        }
        None => match data {
            Some(data) => splice_after_code(&code, &[data]),
            None => Ok(code),
        },
    }
}

/// The image (the tree's metadata) and where the VFS reserved room for it in its memory.
#[derive(Clone, Copy, Debug)]
pub struct PlacedImage<'a> {
    /// Address of the reserved pages in the VFS memory.
    pub addr: u32,
    /// The image.
    pub bytes: &'a [u8],
}

impl PlacedImage<'_> {
    /// Fails unless the image lies within the initial size of the VFS's memory.
    fn check_fits(&self, module: &walrus::Module) -> Result<()> {
        let pages = module.memories.iter().next().map_or(0, |m| m.initial);
        let end = u64::from(self.addr) + self.bytes.len() as u64;
        if end > pages * wasivfs_abi::PAGE_SIZE {
            return Err(vfs_err(format!(
                "the image ({} bytes at {:#x}) does not fit in the VFS memory's {pages} pages",
                self.bytes.len(),
                self.addr
            )));
        }
        Ok(())
    }
}

/// The raw data section `data` (id byte included; none if `None`) with `image` appended as an
/// active segment of memory 0, in pieces that are written one after the other: the section's
/// head (id, size and count), the items of `data`, and the head of the image's segment (the
/// image itself follows).
fn data_section_with<'d>(
    data: Option<&'d [u8]>,
    image: &PlacedImage<'_>,
) -> Result<(Vec<u8>, &'d [u8], Vec<u8>)> {
    let (count, items) = match data {
        Some(section) => {
            let mut r = wasmparser::BinaryReader::new(section, 0);
            r.read_u8().map_err(malformed)?;
            r.read_var_u32().map_err(malformed)?;
            let count = r.read_var_u32().map_err(malformed)?;
            (count, &section[r.original_position() as usize..])
        }
        None => (0, &[][..]),
    };
    let len =
        u32::try_from(image.bytes.len()).map_err(|_| vfs_err("the image is larger than 4 GiB"))?;
    let mut head = Vec::new();
    leb(count + 1, &mut head);
    let mut segment = vec![0u8]; // active, memory 0
    wasm_encoder::Encode::encode(
        &wasm_encoder::ConstExpr::i32_const(image.addr as i32),
        &mut segment,
    );
    leb(len, &mut segment);
    let size = head.len() + items.len() + segment.len() + image.bytes.len();
    let size = u32::try_from(size).map_err(|_| vfs_err("the VFS data section is over 4 GiB"))?;
    let mut section_head = vec![11u8];
    leb(size, &mut section_head);
    section_head.extend_from_slice(&head);
    Ok((section_head, items, segment))
}

/// A module's bytes without its data (and data count) section, and where that section was.
struct SplitModule {
    without_data: Vec<u8>,
    /// Byte range of the whole data section (id, size and contents) in the original.
    data: Option<std::ops::Range<usize>>,
}

/// Byte ranges of every section of `bytes`: `(id, start of the id byte, end of the contents)`.
fn section_ranges(bytes: &[u8]) -> Result<Vec<(u8, usize, usize)>> {
    let mut r = wasmparser::BinaryReader::new(bytes, 0);
    r.read_bytes(8).map_err(malformed)?;
    let mut out = Vec::new();
    while !r.eof() {
        let start = r.original_position() as usize;
        let id = r.read_u8().map_err(malformed)?;
        let size = r.read_var_u32().map_err(malformed)? as usize;
        r.read_bytes(size).map_err(malformed)?;
        out.push((id, start, r.original_position() as usize));
    }
    Ok(out)
}

fn split_data_section(bytes: &[u8]) -> Result<SplitModule> {
    let sections = section_ranges(bytes)?;
    let mut without_data = Vec::with_capacity(bytes.len().min(1 << 20));
    without_data.extend_from_slice(&bytes[..8]);
    let mut data = None;
    for (id, start, end) in sections {
        match id {
            11 => data = Some(start..end),
            // The data count only exists for `memory.init`/`data.drop`, which the VFS cannot use
            // once its data is gone from walrus's view.
            12 => {}
            _ => without_data.extend_from_slice(&bytes[start..end]),
        }
    }
    Ok(SplitModule { without_data, data })
}

/// Inserts the raw data section (id byte included), given as consecutive `pieces`, right after
/// the code section of `module` (or after the last non-custom section), where the binary format
/// wants it.
fn splice_after_code(module: &[u8], pieces: &[&[u8]]) -> Result<Vec<u8>> {
    let sections = section_ranges(module)?;
    if sections.iter().any(|(id, _, _)| *id == 11) {
        return Err(vfs_err(
            "walrus emitted a data section for the stripped VFS",
        ));
    }
    let at = sections
        .iter()
        .filter(|(id, _, _)| *id != 0)
        .map(|(_, _, end)| *end)
        .max()
        .unwrap_or(8);
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(module.len() + len);
    out.extend_from_slice(&module[..at]);
    for piece in pieces {
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(&module[at..]);
    Ok(out)
}

/// A function import of the VFS.
pub(crate) struct VfsImport<'a> {
    pub module: &'a str,
    pub name: &'a str,
    pub ty: u32,
}

/// The parsed (prepared) VFS module.
pub(crate) struct VfsModule<'a> {
    pub bytes: &'a [u8],
    pub types: Vec<Option<FuncType>>,
    pub type_section: Option<TypeSectionReader<'a>>,
    pub imports: Vec<VfsImport<'a>>,
    /// Type index of each defined function.
    pub functions: Vec<u32>,
    pub tables: Option<TableSectionReader<'a>>,
    pub table_count: u32,
    pub memory: Option<MemoryType>,
    pub globals: Option<GlobalSectionReader<'a>>,
    pub global_count: u32,
    /// Function exports: name and function index.
    pub exports: Vec<(&'a str, u32)>,
    pub elements: Option<ElementSectionReader<'a>>,
    pub elem_count: u32,
    pub has_data_count: bool,
    pub bodies: Vec<FunctionBody<'a>>,
    pub data: Option<DataSectionReader<'a>>,
    pub data_count: u32,
}

fn vfs_err(msg: impl Into<String>) -> MergeError {
    MergeError::Vfs(msg.into())
}

fn malformed(e: wasmparser::BinaryReaderError) -> MergeError {
    vfs_err(format!("invalid module: {e}"))
}

impl<'a> VfsModule<'a> {
    /// Parses and checks the shape of the VFS guest ABI.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self> {
        if let Some(problem) = wasivfs_abi::BinaryKind::of(bytes).problem() {
            return Err(vfs_err(problem));
        }
        let mut m = VfsModule {
            bytes,
            types: Vec::new(),
            type_section: None,
            imports: Vec::new(),
            functions: Vec::new(),
            tables: None,
            table_count: 0,
            memory: None,
            globals: None,
            global_count: 0,
            exports: Vec::new(),
            elements: None,
            elem_count: 0,
            has_data_count: false,
            bodies: Vec::new(),
            data: None,
            data_count: 0,
        };
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(malformed)? {
                Payload::Version { encoding, .. } => {
                    if encoding != Encoding::Module {
                        return Err(vfs_err("is a component, not a core module"));
                    }
                }
                Payload::TypeSection(r) => {
                    for group in r.clone() {
                        for sub in group.map_err(malformed)?.types() {
                            m.types.push(match &sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(f.clone()),
                                _ => None,
                            });
                        }
                    }
                    m.type_section = Some(r);
                }
                Payload::ImportSection(r) => {
                    for import in r.into_imports() {
                        let import = import.map_err(malformed)?;
                        m.import(import)?;
                    }
                }
                Payload::FunctionSection(r) => {
                    for ty in r {
                        m.functions.push(ty.map_err(malformed)?);
                    }
                }
                Payload::TableSection(r) => {
                    m.table_count = r.count();
                    m.tables = Some(r);
                }
                Payload::MemorySection(r) => {
                    for mem in r {
                        let mem = mem.map_err(malformed)?;
                        if m.memory.replace(mem).is_some() {
                            return Err(vfs_err("has more than one memory"));
                        }
                        if mem.shared || mem.memory64 || mem.page_size_log2.is_some_and(|p| p != 16)
                        {
                            return Err(vfs_err(
                                "its memory must be a plain 32-bit unshared memory with 64 KiB pages",
                            ));
                        }
                    }
                }
                Payload::TagSection(_) => return Err(vfs_err("defines exception tags")),
                Payload::GlobalSection(r) => {
                    m.global_count = r.count();
                    m.globals = Some(r);
                }
                Payload::ExportSection(r) => {
                    for export in r {
                        let e = export.map_err(malformed)?;
                        if e.kind == ExternalKind::Func {
                            m.exports.push((e.name, e.index));
                        }
                    }
                }
                Payload::StartSection { .. } => {
                    return Err(vfs_err("has a start function"));
                }
                Payload::ElementSection(r) => {
                    m.elem_count = r.count();
                    m.elements = Some(r);
                }
                Payload::DataCountSection { .. } => m.has_data_count = true,
                Payload::DataSection(r) => {
                    m.data_count = r.count();
                    m.data = Some(r);
                }
                Payload::CodeSectionStart { count, .. } => m.bodies.reserve(count as usize),
                Payload::CodeSectionEntry(body) => m.bodies.push(body),
                Payload::CustomSection(_) | Payload::End(_) => {}
                _ => return Err(vfs_err("has a section a core module cannot have")),
            }
        }
        if m.memory.is_none() {
            return Err(vfs_err("has no memory of its own"));
        }
        if m.bodies.len() != m.functions.len() {
            return Err(vfs_err("function and code section counts differ"));
        }
        Ok(m)
    }

    fn import(&mut self, import: wasmparser::Import<'a>) -> Result<()> {
        let ty = match import.ty {
            TypeRef::Func(ty) | TypeRef::FuncExact(ty) => ty,
            _ => {
                return Err(vfs_err(format!(
                    "imports `{}.{}`, which is not a function (the VFS may import functions only)",
                    import.module, import.name
                )));
            }
        };
        match import.module {
            wasi::PREVIEW1 | wasi::APP_INTRINSICS => {}
            // The WASI 0.2 functions the 0.2 front-end falls through to (unversioned).
            m if wasivfs_abi::P2_INTERCEPTED.iter().any(|f| f.interface == m) => {}
            wasi::PACK_IMPORTS => {
                return Err(vfs_err(format!(
                    "still imports `{}.{}`; it must be prepared (init code removed) before merging",
                    import.module, import.name
                )));
            }
            other => {
                return Err(vfs_err(format!(
                    "imports `{other}.{}`; only `{}`, `{}` and WASI 0.2 imports are allowed",
                    import.name,
                    wasi::PREVIEW1,
                    wasi::APP_INTRINSICS
                )));
            }
        }
        self.imports.push(VfsImport {
            module: import.module,
            name: import.name,
            ty,
        });
        Ok(())
    }

    /// The function type at type index `ty`.
    pub(crate) fn func_type(&self, ty: u32) -> Result<&FuncType> {
        self.types
            .get(ty as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| vfs_err(format!("type {ty} is not a function type")))
    }

    /// The type index of function `func`.
    pub(crate) fn type_of_function(&self, func: u32) -> Result<u32> {
        let imports = self.imports.len();
        let f = func as usize;
        if f < imports {
            Ok(self.imports[f].ty)
        } else {
            self.functions
                .get(f - imports)
                .copied()
                .ok_or_else(|| vfs_err(format!("function {func} does not exist")))
        }
    }

    /// The function exported under `name`.
    pub(crate) fn export(&self, name: &str) -> Option<u32> {
        self.exports
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }
}
