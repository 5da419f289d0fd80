//! The merge itself: lay out the merged index spaces, route intercepted imports through the VFS,
//! and emit the merged module while streaming the application (its items are copied as raw
//! bytes; only what names an intercepted import is re-encoded).

use std::borrow::Cow;
use std::io::Write;

use wasm_encoder::reencode::Reencode;
use wasm_encoder::{CodeSection, ElementSection, ExportSection, GlobalSection, TableSection};
use wasmparser::{DataKind, FromReader};

use crate::app::{reader, AppInfo, AppModule, AppSection, KnownSection};
use crate::bodies::rewrite_bodies;
use crate::encode::{code_items, items_of, leb, write_raw_section, ContentParts, Kind, Pieces};
use crate::error::{MergeError, Result};
use crate::generate::{self, Generated, Memories};
use crate::remap::{app_error, vfs_error, AppRewriter, Redirect, VfsRemap};
use crate::vfs::VfsModule;
use crate::{validate, wasi};

/// What a merge will do; the packer writes its `wasivfs` custom section from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergePlan {
    /// The application, as [`crate::check_app`] describes it.
    pub app: AppInfo,
    /// Index of the application memory (the one exported as `memory`).
    pub app_memory: u32,
    /// Index of the VFS memory in the merged module (holds this layer's image).
    pub vfs_memory: u32,
    /// Initial size of the VFS memory, in 64 KiB pages (0 if the VFS has no memory).
    pub vfs_memory_pages: u64,
    /// Data index of this layer's first content segment (passive, appended after the VFS's own
    /// data segments).
    pub first_content_segment: u32,
    /// Number of content segments.
    pub content_segments: u32,
    /// Preview 1 imports of the application that now go through the VFS, in import order.
    pub trampolines: Vec<String>,
    /// Preview 1 functions the VFS imports that the application does not (they answer `ENOSYS`).
    pub stubs: Vec<String>,
    /// Intrinsics generated for the VFS (`wasivfs_app.*` names).
    pub intrinsics: Vec<String>,
    /// Index of the first VFS function in the merged function index space.
    pub first_vfs_function: u32,
    /// Number of functions appended (VFS functions, intrinsics and stubs).
    pub appended_functions: u32,
    /// Number of application function bodies rewritten because they name an intercepted import.
    pub rewritten_bodies: usize,
}

/// How much of the merged module is validated before it is returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Validation {
    /// The whole module, every function body included.
    #[default]
    Full,
    /// The whole module except application function bodies copied byte for byte. Those are
    /// exactly as valid as they were in the input: every index they can name (types,
    /// functions, tables, memories, globals, segments, tags) is unchanged. Validating bodies is
    /// most of the cost of a merge of a large module; an invalid body in the input then goes
    /// unnoticed.
    Changed,
}

/// A planned merge of one VFS module into one application module.
///
/// [`Merger::new`] checks both inputs, lays out the merged module and rewrites the few
/// application bodies that call intercepted imports; [`Merger::emit`] writes the module.
pub struct Merger<'a> {
    app: AppModule<'a>,
    vfs: VfsModule<'a>,
    remap: VfsRemap,
    redirect: Redirect,
    generated: Vec<(u32, Generated)>,
    rewritten: Vec<(usize, Vec<u8>)>,
    plan: MergePlan,
}

/// Merges `vfs` (a prepared VFS module, see [`crate::prepare_vfs`]) into `app`.
///
/// `custom_section` receives the plan and returns the payload of the `wasivfs` custom section
/// appended at the end of the module. The output is validated before it is returned.
pub fn merge(
    app: &[u8],
    vfs: &[u8],
    custom_section: impl FnOnce(&MergePlan) -> Vec<u8>,
) -> Result<Vec<u8>> {
    let merger = Merger::new(app, vfs, 0)?;
    let payload = custom_section(merger.plan());
    let mut out = merger.emit(Validation::Full, None)?;
    append_layer_section(&mut out, &payload)?;
    Ok(out)
}

/// Appends a `wasivfs` custom section holding `payload` (a layer's record) to `module`.
///
/// The packer calls it last, once every pass over the merged module has run, so the record is
/// built once with its final values; passes such as [`crate::lower_memories`] rewrite only the
/// records of earlier layers.
pub fn append_layer_section(module: &mut dyn Write, payload: &[u8]) -> Result<()> {
    let mut custom = Vec::with_capacity(payload.len() + 16);
    wasi::CUSTOM_SECTION.encode_name(&mut custom);
    custom.extend_from_slice(payload);
    write_raw_section(0, &custom, module)
}

/// Bytes of spare capacity the merged module is allocated with, so that appending the layer's
/// record (a few KiB of JSON) does not reallocate a module of hundreds of MiB.
pub(crate) const RECORD_RESERVE: usize = 64 << 10;

/// A layer's file contents: passive data segments appended after the VFS's own data segments,
/// whose bytes are produced while the output is written (the packer streams them from the host
/// files, so they are never held twice).
pub struct Content<'f> {
    /// Length of each segment, in order; as many as announced to [`Merger::new`].
    pub segment_lens: Vec<u32>,
    /// Writes the next bytes of the content region into the buffer it is given; called once per
    /// segment, in order.
    pub fill: crate::encode::Fill<'f>,
}

impl<'f> Content<'f> {
    /// The content as the writers take it: one fill shared by all its segments.
    pub(crate) fn parts<'s>(self) -> ContentParts<'s>
    where
        'f: 's,
    {
        ContentParts {
            segment_lens: self.segment_lens,
            fill: std::rc::Rc::new(std::cell::RefCell::new(
                self.fill as crate::encode::Fill<'s>,
            )),
        }
    }
}

impl<'a> Merger<'a> {
    /// Checks both modules and plans the merge of a layer whose contents fill
    /// `content_segments` passive segments (0 for none).
    pub fn new(app: &'a [u8], vfs: &'a [u8], content_segments: u32) -> Result<Self> {
        Self::from_scanned(crate::scan_app(app)?, vfs, content_segments)
    }

    /// [`Merger::new`] for an application already checked by [`crate::scan_app`].
    pub fn from_scanned(
        app: crate::ScannedApp<'a>,
        vfs: &'a [u8],
        content_segments: u32,
    ) -> Result<Self> {
        let app = app.0;
        let vfs = VfsModule::parse(vfs)?;

        let type_base = app.type_count();
        let first_vfs_function = app.func_count();
        let generated_base = first_vfs_function + vfs.functions.len() as u32;

        // VFS imports: preview 1 functions map to the application's imports or to stubs,
        // `wasivfs_app` functions to generated intrinsics.
        let mut funcs = Vec::with_capacity(vfs.imports.len() + vfs.functions.len());
        let mut generated = Vec::new();
        let (mut stubs, mut intrinsics) = (Vec::new(), Vec::new());
        for import in &vfs.imports {
            let ty = vfs.func_type(import.ty)?;
            let next = generated_base + generated.len() as u32;
            if import.module == wasi::APP_INTRINSICS {
                let (intrinsic, sig) = wasi::intrinsic(import.name).ok_or_else(|| {
                    MergeError::Vfs(format!(
                        "imports unknown intrinsic `{}.{}`",
                        import.module, import.name
                    ))
                })?;
                if !sig.matches(ty) {
                    return Err(MergeError::Vfs(format!(
                        "imports `{}.{}` with type {}, expected {sig}",
                        import.module,
                        import.name,
                        wasi::describe(ty)
                    )));
                }
                funcs.push(next);
                generated.push((type_base + import.ty, Generated::Intrinsic(intrinsic)));
                intrinsics.push(import.name.to_string());
                continue;
            }
            if import.module != wasi::PREVIEW1 {
                // A WASI 0.2 function the VFS falls through to: the application's import of it
                // (any 0.2.x), or a trapping stub when the application has none (then the VFS
                // never calls it: it is only reached through the application's import).
                let f = wasivfs_abi::p2_function(import.module, import.name).ok_or_else(|| {
                    MergeError::Vfs(format!(
                        "imports unknown function `{}.{}`",
                        import.module, import.name
                    ))
                })?;
                let sig = wasi::Signature::from(f.signature);
                if !sig.matches(ty) {
                    return Err(MergeError::Vfs(format!(
                        "imports `{}.{}` with type {}, but WASI 0.2 lowers it to {sig}",
                        import.module,
                        import.name,
                        wasi::describe(ty)
                    )));
                }
                match app.wasi_import(import.module, import.name) {
                    Some(p) => funcs.push(p.func),
                    None => {
                        funcs.push(next);
                        generated.push((
                            type_base + import.ty,
                            Generated::Stub {
                                returns_errno: false,
                            },
                        ));
                    }
                }
                continue;
            }
            if let Some(sig) = wasi::intercepted(import.name) {
                if !sig.matches(ty) {
                    return Err(MergeError::Vfs(format!(
                        "imports `{}.{}` with type {}, but WASI preview 1 defines {sig}",
                        import.module,
                        import.name,
                        wasi::describe(ty)
                    )));
                }
            }
            match app.wasi_import(wasi::PREVIEW1, import.name) {
                Some(p) => {
                    let app_ty = app.types.get(p.ty as usize).cloned().flatten();
                    if app_ty.as_ref() != Some(ty) {
                        return Err(MergeError::Vfs(format!(
                            "imports `{}.{}` with type {}, but the application imports it with type {}",
                            import.module,
                            import.name,
                            wasi::describe(ty),
                            app_ty.map(|t| wasi::describe(&t)).unwrap_or_else(|| "?".into())
                        )));
                    }
                    funcs.push(p.func);
                }
                None => {
                    funcs.push(next);
                    let returns_errno = ty.results() == [wasmparser::ValType::I32];
                    generated.push((type_base + import.ty, Generated::Stub { returns_errno }));
                    stubs.push(import.name.to_string());
                }
            }
        }
        funcs.extend((0..vfs.functions.len() as u32).map(|i| first_vfs_function + i));

        let remap = VfsRemap {
            type_base,
            funcs,
            table_base: app.table_count,
            memory_base: app.memory_count,
            global_base: app.global_count,
            elem_base: app.elem_count,
            data_base: app.data_count,
        };

        // Intercepted application imports are routed to the VFS's `wasivfs_<name>` exports.
        let mut redirect = Redirect::default();
        let mut trampolines: Vec<String> = Vec::new();
        for ic in &app.info.intercepted {
            let export = ic.export();
            let func = vfs.export(&export).ok_or_else(|| {
                MergeError::Vfs(format!(
                    "does not export `{export}`, needed for the application's import of `{}`",
                    ic.name
                ))
            })?;
            let ty = vfs.func_type(vfs.type_of_function(func)?)?;
            let sig = wasi::intercepted_import(&ic.name).ok_or_else(|| {
                MergeError::Vfs(format!("`{}` is not an intercepted function", ic.name))
            })?;
            if !sig.matches(ty) {
                return Err(MergeError::Vfs(format!(
                    "exports `{export}` with type {}, but WASI defines {sig}",
                    wasi::describe(ty)
                )));
            }
            let target = remap.funcs.get(func as usize).copied().ok_or_else(|| {
                MergeError::Vfs(format!("export `{export}` names a missing function"))
            })?;
            redirect.insert(ic.function_index, target);
            if !trampolines.contains(&ic.name) {
                trampolines.push(ic.name.clone());
            }
        }

        let rewritten = rewrite_bodies(app.bytes, &app.bodies, &redirect)?;
        let plan = MergePlan {
            app: app.info.clone(),
            app_memory: app.memory_export,
            vfs_memory: remap.memory_base,
            vfs_memory_pages: vfs.memory.map_or(0, |m| m.initial),
            first_content_segment: remap.data_base + vfs.data_count,
            content_segments,
            trampolines,
            stubs,
            intrinsics,
            first_vfs_function,
            appended_functions: vfs.functions.len() as u32 + generated.len() as u32,
            rewritten_bodies: rewritten.len(),
        };
        Ok(Merger {
            app,
            vfs,
            remap,
            redirect,
            generated,
            rewritten,
            plan,
        })
    }

    /// The plan of this merge.
    pub fn plan(&self) -> &MergePlan {
        &self.plan
    }

    /// Body copies: the merged module's code section starts with the application's bodies, in
    /// order; the returned list says which of them the merge re-encodes (by position, ascending).
    /// Every other one of the first [`Merger::app_bodies`] bodies is the input's, byte for byte.
    pub fn rewritten_positions(&self) -> Vec<usize> {
        self.rewritten.iter().map(|(i, _)| *i).collect()
    }

    /// How many bodies the application defines (the first ones of the merged code section).
    pub fn app_bodies(&self) -> usize {
        self.app.bodies.len()
    }

    /// How many of the merged code section's first bodies name no memory other than 0: the
    /// application's, when it has at most one memory (its bodies are copied, at most with call
    /// targets changed, and its memory stays memory 0); none otherwise. For
    /// [`crate::lower_memories_to`].
    pub fn memory0_bodies(&self) -> usize {
        if self.app.info.memories.len() <= 1 {
            self.app.bodies.len()
        } else {
            0
        }
    }

    /// Writes the merged module, with `content` (if any) as this layer's passive content
    /// segments, and validates as much of it as `validation` says. The layer's `wasivfs` record
    /// is not written: [`append_layer_section`] adds it once its values are final.
    pub fn emit(&self, validation: Validation, content: Option<Content<'_>>) -> Result<Vec<u8>> {
        let content_len: usize = content
            .as_ref()
            .map_or(0, |c| c.segment_lens.iter().map(|l| *l as usize + 8).sum());
        let extra = self.vfs.bytes.len() + content_len + RECORD_RESERVE;
        let mut out = Vec::with_capacity(self.app.bytes.len() + extra);
        self.emit_to(content, &mut out)?;
        let copied = self.app.bodies.len();
        let mut changed = vec![false; copied];
        for (i, _) in &self.rewritten {
            changed[*i] = true;
        }
        let skip = |i: usize| validation == Validation::Changed && i < copied && !changed[i];
        validate::validate(&out, skip).map_err(|e| self.invalid(e))?;
        Ok(out)
    }

    /// Writes the merged module to `out`, with `content` (if any) as this layer's passive content
    /// segments, without validating it: the caller validates what it wrote (see
    /// [`crate::validate_module`]). A failing write is [`MergeError::Write`].
    pub fn emit_to(&self, content: Option<Content<'_>>, out: &mut dyn Write) -> Result<()> {
        let announced = self.plan.content_segments as usize;
        let given = content.as_ref().map_or(0, |c| c.segment_lens.len());
        if given != announced {
            return Err(MergeError::Malformed(format!(
                "{given} content segments given, {announced} planned"
            )));
        }
        self.write_module(content.map(Content::parts), out)
    }

    /// The merged module without this layer's content segments (its data count section does not
    /// count them either): the input of [`crate::lower_memories_to`], which appends them to the
    /// data section and the count while it writes the lowered module. Not a valid module by
    /// itself (the VFS's code names the missing segments), so not validated; about the size of
    /// the application plus the VFS, whatever the contents'.
    pub fn emit_without_content(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.app.bytes.len() + self.vfs.bytes.len());
        self.write_module(None, &mut out)?;
        Ok(out)
    }

    /// Tells an invalid input apart from a merger bug, once the output failed validation with
    /// `error`.
    pub fn invalid(&self, error: String) -> MergeError {
        match validate::validate(self.app.bytes, |_| false) {
            Err(input) => MergeError::InvalidInput(input),
            Ok(()) => MergeError::InvalidOutput(error),
        }
    }

    fn write_module<'s>(
        &'s self,
        mut content: Option<ContentParts<'s>>,
        out: &mut dyn Write,
    ) -> Result<()> {
        crate::encode::write_all(out, &self.app.bytes[..8])?;
        let mut next = 0;
        for section in &self.app.sections {
            match section {
                AppSection::Custom(range) => {
                    write_raw_section(0, &self.app.bytes[range.clone()], out)?;
                }
                AppSection::Known(known) => {
                    let pos = Kind::ALL.iter().position(|k| *k == known.kind).unwrap_or(0);
                    for kind in &Kind::ALL[next.min(pos)..pos] {
                        self.write_kind(*kind, None, &mut content, out)?;
                    }
                    self.write_kind(known.kind, Some(known), &mut content, out)?;
                    next = pos + 1;
                }
            }
        }
        for kind in &Kind::ALL[next..] {
            self.write_kind(*kind, None, &mut content, out)?;
        }
        Ok(())
    }

    /// Writes the merged section of `kind` (the application's, if any, plus appended items).
    fn write_kind<'s>(
        &'s self,
        kind: Kind,
        app: Option<&KnownSection>,
        content: &mut Option<ContentParts<'s>>,
        out: &mut dyn Write,
    ) -> Result<()> {
        let bytes = self.app.bytes;
        let raw = |s: &KnownSection| -> Cow<'a, [u8]> { Cow::Borrowed(&bytes[s.items.clone()]) };
        let mut p = Pieces::default();
        if let Some(s) = app {
            match kind {
                Kind::Table | Kind::Global | Kind::Export | Kind::Element => {
                    p = self.app_items(kind, s)?;
                }
                Kind::Code => p = self.app_code(s),
                Kind::Start => {
                    let f = self.app.start.unwrap_or(0);
                    let mut content = Vec::new();
                    leb(self.redirect.get(f).unwrap_or(f), &mut content);
                    return write_raw_section(kind.id(), &content, out);
                }
                Kind::DataCount => {}
                _ => p.push(s.count, raw(s)),
            }
        }
        if kind == Kind::DataCount {
            // `memory.init` needs a data count section: write one whenever content exists. It
            // counts the content segments written here (none without content: the lowering
            // adds those it appends).
            let written = content.as_ref().map_or(0, |c| c.segment_lens.len() as u32);
            if app.is_some() || self.vfs.has_data_count || self.plan.content_segments > 0 {
                let mut count = Vec::new();
                leb(
                    self.app.data_count + self.vfs.data_count + written,
                    &mut count,
                );
                write_raw_section(kind.id(), &count, out)?;
            }
            return Ok(());
        }
        self.append_vfs(kind, &mut p)?;
        if kind == Kind::Data {
            if let Some(c) = content.take() {
                c.push_segments(&mut p);
            }
        }
        if app.is_some() || p.count > 0 || p.byte_len() > 0 {
            p.write(kind.id(), out)?;
        }
        Ok(())
    }

    /// The application's items of a table, global, export or element section, re-encoding
    /// only the items that name an intercepted import.
    fn app_items(&self, kind: Kind, s: &KnownSection) -> Result<Pieces<'a>> {
        let bytes = self.app.bytes;
        let mut p = Pieces::default();
        if self.redirect.is_empty() {
            p.push(s.count, &bytes[s.items.clone()]);
            return Ok(p);
        }
        match kind {
            Kind::Table => self.items(s, &mut p, |rw, t: wasmparser::Table| {
                let mut sec = TableSection::new();
                rw.parse_table(&mut sec, t).map(|_| items_of(&sec))
            }),
            Kind::Global => self.items(s, &mut p, |rw, g: wasmparser::Global| {
                let mut sec = GlobalSection::new();
                rw.parse_global(&mut sec, g).map(|_| items_of(&sec))
            }),
            Kind::Export => self.items(s, &mut p, |rw, e: wasmparser::Export| {
                let mut sec = ExportSection::new();
                rw.parse_export(&mut sec, e).map(|_| items_of(&sec))
            }),
            _ => self.items(s, &mut p, |rw, e: wasmparser::Element| {
                let mut sec = ElementSection::new();
                rw.parse_element(&mut sec, e).map(|_| items_of(&sec))
            }),
        }?;
        Ok(p)
    }

    /// Copies each item of `s` raw unless `encode` (run with a redirecting reencoder) met an
    /// intercepted import, in which case the re-encoded item is used.
    fn items<T: FromReader<'a>>(
        &self,
        s: &KnownSection,
        p: &mut Pieces<'a>,
        encode: impl Fn(
            &mut AppRewriter<'_>,
            T,
        ) -> std::result::Result<
            Vec<u8>,
            wasm_encoder::reencode::Error<std::convert::Infallible>,
        >,
    ) -> Result<()> {
        let bytes = self.app.bytes;
        let items = reader::<T>(bytes, &s.content)?
            .into_iter_with_offsets()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(MergeError::malformed)?;
        let starts: Vec<usize> = items.iter().map(|(o, _)| *o as usize).collect();
        for (i, (_, item)) in items.into_iter().enumerate() {
            let start = starts[i];
            let end = starts.get(i + 1).copied().unwrap_or(s.items.end);
            let mut rw = AppRewriter::new(&self.redirect);
            let encoded = encode(&mut rw, item).map_err(app_error)?;
            if rw.hit {
                p.push(1, encoded);
            } else {
                p.push(1, &bytes[start..end]);
            }
        }
        Ok(())
    }

    /// The application's code section items: runs of untouched bodies are copied as one slice.
    fn app_code(&self, s: &KnownSection) -> Pieces<'_> {
        let mut p = Pieces::default();
        code_items(self.app.bytes, s, &self.app.bodies, &self.rewritten, &mut p);
        p
    }

    /// Appends the VFS's items (and generated functions) of `kind`.
    fn append_vfs<'p>(&'p self, kind: Kind, p: &mut Pieces<'p>) -> Result<()> {
        let vfs = &self.vfs;
        let mut remap = self.remap.clone();
        // A section the remap re-encodes item by item (indices shifted), if the VFS has one.
        macro_rules! reencode {
            ($field:ident, $section:ty, $parse:ident) => {
                if let Some(r) = &vfs.$field {
                    let mut sec = <$section>::new();
                    remap.$parse(&mut sec, r.clone()).map_err(vfs_error)?;
                    p.push(sec.len(), items_of(&sec));
                }
            };
        }
        match kind {
            Kind::Type => reencode!(type_section, wasm_encoder::TypeSection, parse_type_section),
            Kind::Function => {
                let mut b = Vec::new();
                for ty in &vfs.functions {
                    leb(remap.type_base + ty, &mut b);
                }
                for (ty, _) in &self.generated {
                    leb(*ty, &mut b);
                }
                p.push((vfs.functions.len() + self.generated.len()) as u32, b);
            }
            Kind::Table => reencode!(tables, TableSection, parse_table_section),
            Kind::Memory => {
                if let Some(m) = vfs.memory {
                    let mut sec = wasm_encoder::MemorySection::new();
                    sec.memory(remap.memory_type(m).map_err(vfs_error)?);
                    p.push(1, items_of(&sec));
                }
            }
            Kind::Global => reencode!(globals, GlobalSection, parse_global_section),
            Kind::Element => reencode!(elements, ElementSection, parse_element_section),
            Kind::Code => {
                let mut sec = CodeSection::new();
                for body in &vfs.bodies {
                    remap
                        .parse_function_body(&mut sec, body.clone())
                        .map_err(vfs_error)?;
                }
                let mems = Memories {
                    app: self.app.memory_export,
                    vfs: remap.memory_base,
                    first_content: self.plan.first_content_segment,
                    content_segments: self.plan.content_segments,
                    app_realloc: self.app.realloc,
                };
                for (_, g) in &self.generated {
                    sec.raw(&generate::body(g, mems));
                }
                p.push(sec.len(), items_of(&sec));
            }
            Kind::Data => {
                if let Some(r) = &vfs.data {
                    for datum in r.clone() {
                        let datum = datum.map_err(|e| MergeError::Vfs(e.to_string()))?;
                        let mut head = Vec::new();
                        match datum.kind {
                            DataKind::Active {
                                memory_index,
                                offset_expr,
                            } => {
                                // Always the explicit-memory encoding: the index is never 0.
                                head.push(2);
                                leb(
                                    remap.memory_index(memory_index).map_err(vfs_error)?,
                                    &mut head,
                                );
                                let expr = remap.const_expr(offset_expr).map_err(vfs_error)?;
                                wasm_encoder::Encode::encode(&expr, &mut head);
                            }
                            DataKind::Passive => head.push(1),
                        }
                        leb(datum.data.len() as u32, &mut head);
                        p.push(1, head);
                        p.extend(datum.data);
                    }
                }
            }
            Kind::Import | Kind::Tag | Kind::Export | Kind::Start | Kind::DataCount => {}
        }
        Ok(())
    }
}

/// Encoding of a name (LEB128 length, then UTF-8 bytes).
trait EncodeName {
    fn encode_name(&self, out: &mut Vec<u8>);
}

impl EncodeName for str {
    fn encode_name(&self, out: &mut Vec<u8>) {
        wasm_encoder::Encode::encode(self, out);
    }
}
