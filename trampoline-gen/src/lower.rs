//! Single-memory output: folds every memory of a module into memory 0.
//!
//! Memory 0 (the application's, exported as `memory`) keeps its index, its data addresses and
//! its contents; each further memory `m` becomes a *region* of memory 0 placed after the
//! regions below it, starting at the byte held in a mutable global `base[m]`. A global
//! `pages[m]` holds each region's size. Memory instructions are rewritten (see
//! [`crate::lower_body`]): `memory.size m` reads `pages[m]`, `memory.grow m` calls a generated
//! helper that grows memory 0 and moves the regions above `m` up, and an access to memory
//! `m > 0` accesses memory 0 at `address + base[m]`. Only bodies that contain such an
//! instruction are re-encoded; all others are copied as bytes. Active data segments of memory
//! `m > 0` move to memory 0 at `base[m] + offset`.
//!
//! The transformation preserves the behaviour of every execution that does not trap: the
//! application sees only its own pages (so its allocator, whatever it is, never hands out a
//! byte of another region), and a region's growth never changes the addresses the
//! application uses.

use std::io::Write;

use rayon::prelude::*;
use wasm_encoder::{
    ConstExpr, Encode, GlobalSection, GlobalType, MemoryType, TypeSection, ValType,
};
use wasmparser::{DataKind, ExternalKind, Operator};

use crate::app::{reader, AppModule, AppSection, KnownSection};
use crate::encode::{code_items, items_of, leb, write_raw_section, Kind, Pieces};
use crate::error::{MergeError, Result};
use crate::lower_body::{grow_helper, lower_body, may_resize_memory, Regions};
use crate::merge::Content;
use crate::{validate, wasi};

const PAGE: u64 = wasivfs_abi::PAGE_SIZE;
/// Most pages a 32-bit memory can have (4 GiB).
pub(crate) const MAX_PAGES: u64 = (1 << 32) / PAGE;

/// Rewrites the payload of a `wasivfs` custom section for the lowered module: receives the
/// payload and the byte address in memory 0 where each former memory now starts (index = old
/// memory index; entry 0 is 0).
pub type SectionRewrite<'a> =
    &'a mut dyn FnMut(&[u8], &[u64]) -> std::result::Result<Vec<u8>, String>;

/// What [`lower_memories`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lowering {
    /// Byte address in memory 0 where each former memory starts (index = old memory index).
    pub bases: Vec<u64>,
    /// Number of function bodies re-encoded (they used `memory.size`, `memory.grow` or a
    /// memory other than 0).
    pub rewritten_bodies: usize,
    /// Their positions in the code section, ascending (the lowering appends its helpers' bodies
    /// after all others, so a position means the same body before and after).
    pub rewritten_positions: Vec<usize>,
}

/// Folds every memory of `module` into memory 0 (see the module documentation). A module with
/// a single memory is returned unchanged. `section` rewrites each `wasivfs` custom section.
/// The output is validated before it is returned.
///
/// Refused with [`MergeError::Lowering`]: a memory other than 0 that is exported, memories whose
/// initial sizes add up to more than 4 GiB, an instruction naming a memory other than 0 that is
/// not a load, store, `memory.size`/`grow`/`copy`/`fill`/`init` (atomics, lane accesses), an
/// active data segment of another memory whose offset is not a constant.
pub fn lower_memories(module: &[u8], section: SectionRewrite<'_>) -> Result<(Vec<u8>, Lowering)> {
    let mut out = Vec::with_capacity(module.len() + crate::merge::RECORD_RESERVE);
    let (lowering, rewritten) = lower(module, section, None, 0, &mut out)?;
    if lowering.bases.len() > 1 {
        // Bodies copied as bytes are as valid as in the input: every index they can name still
        // means the same thing (memory 0 and all other index spaces only grew at the end).
        let bodies = rewritten.len();
        validate::validate(&out, |i| i < bodies && !rewritten[i])
            .map_err(MergeError::InvalidOutput)?;
    }
    Ok((out, lowering))
}

/// [`lower_memories`] writing to `out`, with `content` (if any) appended to the data section as
/// passive segments: `module` is then [`crate::Merger::emit_without_content`]'s output, and
/// `out` receives, byte for byte, what lowering the module merged with its contents would
/// give, without that module ever being held. Not validated: the caller validates what it wrote
/// (see [`crate::validate_module`]).
///
/// The first `memory0_bodies` bodies of the code section must name no memory other than 0
/// ([`crate::Merger::memory0_bodies`] says how many of a merged module's do): they are only
/// scanned for `memory.size` and `memory.grow`, not parsed, which is most of the lowering's
/// time on a large application. The output is the same whatever the number.
pub fn lower_memories_to(
    module: &[u8],
    section: SectionRewrite<'_>,
    content: Option<Content<'_>>,
    memory0_bodies: usize,
    out: &mut dyn Write,
) -> Result<Lowering> {
    lower(module, section, content, memory0_bodies, out).map(|(l, _)| l)
}

/// The lowering; also returns which bodies were re-encoded (by position in the code section).
/// The first `memory0_bodies` bodies name no memory other than 0 (see [`lower_memories_to`]).
fn lower(
    module: &[u8],
    section: SectionRewrite<'_>,
    content: Option<Content<'_>>,
    memory0_bodies: usize,
    out: &mut dyn Write,
) -> Result<(Lowering, Vec<bool>)> {
    let m = AppModule::scan(module)?;
    if m.memory_export != 0 {
        return Err(MergeError::Lowering(format!(
            "the exported `memory` is memory {}; it must be memory 0",
            m.memory_export
        )));
    }
    let memories = &m.info.memories;
    if let Some((module, name)) = memories.iter().find_map(|mem| mem.imported.as_ref()) {
        return Err(MergeError::Lowering(format!(
            "the module imports its memory (`{module}.{name}`), which cannot take the VFS's region"
        )));
    }
    let n = memories.len();
    let mut bases = Vec::with_capacity(n);
    let mut total = 0u64;
    for mem in memories {
        bases.push(total * PAGE);
        total += mem.initial_pages;
    }
    if total > MAX_PAGES {
        return Err(MergeError::Lowering(format!(
            "the memories' initial sizes add up to {total} pages, more than 4 GiB"
        )));
    }
    if n <= 1 {
        if content.is_some() {
            return Err(MergeError::Lowering(
                "file contents to append, but the module has no memory to fold".into(),
            ));
        }
        crate::encode::write_all(out, module)?;
        let lowering = Lowering {
            bases,
            rewritten_bodies: 0,
            rewritten_positions: Vec::new(),
        };
        return Ok((lowering, Vec::new()));
    }
    check_exports(&m)?;

    let global_base = m.global_count;
    let func_base = m.func_count();
    let helper_type = m.type_count();
    let regions = Regions {
        pages: (0..n as u32).map(|k| global_base + k).collect(),
        base: (0..n as u32)
            .map(|k| (k > 0).then(|| global_base + n as u32 + k - 1))
            .collect(),
        grow: (0..n as u32).map(|k| func_base + k).collect(),
        max: memories
            .iter()
            .map(|mem| mem.maximum_pages.unwrap_or(MAX_PAGES))
            .collect(),
    };

    // Parameter counts of the defined functions, for the scratch locals' indices.
    let params = defined_params(&m)?;
    let rewritten: Vec<(usize, Vec<u8>)> = m
        .bodies
        .par_iter()
        .enumerate()
        .with_min_len(64)
        .filter_map(|(i, range)| {
            let body = &module[range.clone()];
            if i < memory0_bodies && !may_resize_memory(body) {
                return None;
            }
            let p = params.get(i).copied().unwrap_or(0);
            match lower_body(body, range.start, p, &regions) {
                Ok(Some(body)) => Some(Ok((i, body))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })
        .collect::<Result<_>>()?;

    Writer {
        m: &m,
        bases: &bases,
        regions: &regions,
        helper_type,
        rewritten: &rewritten,
        content: std::cell::RefCell::new(content),
    }
    .write(section, out)?;

    let mut changed = vec![false; m.bodies.len()];
    for (i, _) in &rewritten {
        changed[*i] = true;
    }
    let lowering = Lowering {
        bases,
        rewritten_bodies: rewritten.len(),
        rewritten_positions: rewritten.iter().map(|(i, _)| *i).collect(),
    };
    Ok((lowering, changed))
}

fn check_exports(m: &AppModule<'_>) -> Result<()> {
    for s in &m.sections {
        let AppSection::Known(k) = s else { continue };
        if k.kind != Kind::Export {
            continue;
        }
        for e in reader::<wasmparser::Export>(m.bytes, &k.content)? {
            let e = e.map_err(MergeError::malformed)?;
            if e.kind == ExternalKind::Memory && e.index != 0 {
                return Err(MergeError::Lowering(format!(
                    "memory {} is exported as `{}`; only memory 0 can stay visible",
                    e.index, e.name
                )));
            }
        }
    }
    Ok(())
}

fn defined_params(m: &AppModule<'_>) -> Result<Vec<u32>> {
    let mut params = Vec::with_capacity(m.bodies.len());
    for s in &m.sections {
        let AppSection::Known(k) = s else { continue };
        if k.kind != Kind::Function {
            continue;
        }
        for ty in reader::<u32>(m.bytes, &k.content)? {
            let ty = ty.map_err(MergeError::malformed)?;
            let p = m
                .types
                .get(ty as usize)
                .and_then(|t| t.as_ref())
                .map_or(0, |f| f.params().len() as u32);
            params.push(p);
        }
    }
    Ok(params)
}

struct Writer<'w, 'a, 'f> {
    m: &'w AppModule<'a>,
    bases: &'w [u64],
    regions: &'w Regions,
    helper_type: u32,
    rewritten: &'w [(usize, Vec<u8>)],
    /// Content segments still to append to the data section.
    content: std::cell::RefCell<Option<Content<'f>>>,
}

/// Sections the lowering adds to; written even if the input has none.
const EXTENDED: [Kind; 5] = [
    Kind::Type,
    Kind::Function,
    Kind::Memory,
    Kind::Global,
    Kind::Code,
];

impl Writer<'_, '_, '_> {
    /// Whether the lowering writes a section of `kind` even if the input has none.
    fn extends(&self, kind: Kind) -> bool {
        EXTENDED.contains(&kind) || (kind == Kind::Data && self.content.borrow().is_some())
    }

    fn write(&self, section: SectionRewrite<'_>, out: &mut dyn Write) -> Result<()> {
        let bytes = self.m.bytes;
        crate::encode::write_all(out, &bytes[..8])?;
        let mut next = 0;
        for s in &self.m.sections {
            match s {
                AppSection::Custom(range) => {
                    let content = &bytes[range.clone()];
                    let mut r = wasmparser::BinaryReader::new(content, 0);
                    let name = r.read_string().map_err(MergeError::malformed)?;
                    if name == wasi::CUSTOM_SECTION {
                        let payload = &content[r.original_position() as usize..];
                        let new = section(payload, self.bases).map_err(MergeError::Lowering)?;
                        let mut c = Vec::with_capacity(new.len() + 16);
                        name.encode(&mut c);
                        c.extend_from_slice(&new);
                        write_raw_section(0, &c, out)
                    } else {
                        write_raw_section(0, content, out)
                    }?;
                }
                AppSection::Known(k) => {
                    let pos = Kind::ALL.iter().position(|x| *x == k.kind).unwrap_or(0);
                    for kind in &Kind::ALL[next.min(pos)..pos] {
                        if self.extends(*kind) {
                            self.section(*kind, None, out)?;
                        }
                    }
                    self.section(k.kind, Some(k), out)?;
                    next = pos + 1;
                }
            }
        }
        for kind in &Kind::ALL[next..] {
            if self.extends(*kind) {
                self.section(*kind, None, out)?;
            }
        }
        Ok(())
    }

    fn section<'s>(
        &'s self,
        kind: Kind,
        k: Option<&KnownSection>,
        out: &mut dyn Write,
    ) -> Result<()> {
        let bytes = self.m.bytes;
        let n = self.bases.len() as u32;
        let mut p: Pieces<'s> = Pieces::default();
        if let Some(k) = k {
            if !matches!(kind, Kind::Memory | Kind::Code | Kind::Data) {
                if kind == Kind::DataCount {
                    return self.data_count(&bytes[k.content.clone()], out);
                }
                if kind == Kind::Start {
                    return write_raw_section(kind.id(), &bytes[k.content.clone()], out);
                }
                p.push(k.count, &bytes[k.items.clone()]);
            }
        }
        match kind {
            Kind::Type => {
                let mut sec = TypeSection::new();
                sec.ty().function([ValType::I32], [ValType::I32]);
                p.push(1, items_of(&sec));
            }
            Kind::Function => {
                let mut b = Vec::new();
                for _ in 0..n {
                    leb(self.helper_type, &mut b);
                }
                p.push(n, b);
            }
            Kind::Memory => {
                let memories = &self.m.info.memories;
                let min: u64 = memories.iter().map(|m| m.initial_pages).sum();
                let max = memories
                    .iter()
                    .map(|m| m.maximum_pages)
                    .sum::<Option<u64>>()
                    .map(|s| s.min(MAX_PAGES));
                let mut sec = wasm_encoder::MemorySection::new();
                sec.memory(MemoryType {
                    minimum: min,
                    maximum: max,
                    memory64: false,
                    shared: false,
                    page_size_log2: None,
                });
                p.push(1, items_of(&sec));
            }
            Kind::Global => {
                let mut sec = GlobalSection::new();
                let ty = GlobalType {
                    val_type: ValType::I32,
                    mutable: true,
                    shared: false,
                };
                for m in &self.m.info.memories {
                    sec.global(ty, &ConstExpr::i32_const(m.initial_pages as i32));
                }
                for base in &self.bases[1..] {
                    sec.global(ty, &ConstExpr::i32_const(*base as u32 as i32));
                }
                p.push(sec.len(), items_of(&sec));
            }
            Kind::Code => {
                if let Some(k) = k {
                    code_items(self.m.bytes, k, &self.m.bodies, self.rewritten, &mut p);
                }
                for i in 0..n as usize {
                    let body = grow_helper(i, self.regions);
                    let mut size = Vec::new();
                    leb(body.len() as u32, &mut size);
                    p.push(1, size);
                    p.extend(body);
                }
            }
            Kind::Data => {
                if let Some(k) = k {
                    self.data(k, &mut p)?;
                }
                let content = self.content.borrow_mut().take();
                if let Some(c) = content {
                    c.parts::<'s>().push_segments(&mut p);
                }
            }
            _ => {}
        }
        if k.is_some() || p.count > 0 {
            p.write(kind.id(), out)?;
        }
        Ok(())
    }

    /// The data count section, counting the content segments still to append.
    fn data_count(&self, content: &[u8], out: &mut dyn Write) -> Result<()> {
        let appended = self
            .content
            .borrow()
            .as_ref()
            .map_or(0, |c| c.segment_lens.len() as u32);
        if appended == 0 {
            return write_raw_section(Kind::DataCount.id(), content, out);
        }
        let count = crate::encode::read_leb(content)
            .map(|(n, _)| n)
            .ok_or_else(|| MergeError::Malformed("bad data count section".into()))?;
        let mut new = Vec::new();
        leb(count + appended, &mut new);
        write_raw_section(Kind::DataCount.id(), &new, out)
    }

    /// Data items: active segments of memory `m > 0` move to memory 0 at `base[m] + offset`;
    /// everything else is copied.
    fn data<'p>(&'p self, k: &KnownSection, p: &mut Pieces<'p>) -> Result<()> {
        let bytes = self.m.bytes;
        let items = reader::<wasmparser::Data>(bytes, &k.content)?
            .into_iter_with_offsets()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(MergeError::malformed)?;
        let app_end = self.bases.get(1).copied().unwrap_or(u64::MAX);
        let mut pos = k.items.start;
        let mut run = 0u32;
        for (i, (start, datum)) in items.iter().enumerate() {
            let start = *start as usize;
            let end = items.get(i + 1).map_or(k.items.end, |(s, _)| *s as usize);
            let DataKind::Active {
                memory_index,
                offset_expr,
            } = &datum.kind
            else {
                run += 1;
                continue;
            };
            let offset = const_offset(offset_expr);
            if *memory_index == 0 {
                // A segment past the application's pages would have failed instantiation;
                // now it would land in another region.
                if let Some(o) = offset {
                    if o + datum.data.len() as u64 > app_end {
                        return Err(MergeError::Lowering(format!(
                            "data segment {i} of memory 0 ends past its initial size"
                        )));
                    }
                }
                run += 1;
                continue;
            }
            let base = self
                .bases
                .get(*memory_index as usize)
                .copied()
                .ok_or_else(|| {
                    MergeError::Malformed(format!("data segment {i}: no memory {memory_index}"))
                })?;
            let offset = offset.ok_or_else(|| {
                MergeError::Lowering(format!(
                    "data segment {i} of memory {memory_index} has a non-constant offset"
                ))
            })?;
            p.push(run, &bytes[pos..start]);
            run = 0;
            let mut head = vec![0];
            ConstExpr::i32_const((base + offset) as u32 as i32).encode(&mut head);
            leb(datum.data.len() as u32, &mut head);
            p.push(1, head);
            p.extend(datum.data);
            pos = end;
        }
        p.push(run, &bytes[pos..k.items.end]);
        Ok(())
    }
}

/// The offset of an active segment if it is a constant.
fn const_offset(expr: &wasmparser::ConstExpr<'_>) -> Option<u64> {
    let mut ops = expr.get_operators_reader();
    match ops.read().ok()? {
        Operator::I32Const { value } => Some(u64::from(value as u32)),
        _ => None,
    }
}
