//! Function bodies for the single-memory lowering: rewriting the memory instructions of one body,
//! and the generated `grow` helper of each region.
//!
//! Every memory of the input becomes a *region* of memory 0 (see [`crate::lower_memories`]).
//! In a body, `memory.size m` becomes `global.get pages[m]`, `memory.grow m` a call of the
//! region's grow helper, and an access to a memory `m > 0` an access to memory 0 at
//! `address + base[m]`. Accesses to memory 0 (the application's) are left as they are.

use wasm_encoder::reencode::{Error as ReencodeError, Reencode};
use wasm_encoder::{Encode, Instruction, ValType};
use wasmparser::{BinaryReader, FunctionBody, MemArgTarget as Target, Operator};

use crate::encode::leb;
use crate::error::{MergeError, Result};

/// Where each region's bookkeeping lives in the lowered module.
#[derive(Clone, Debug)]
pub(crate) struct Regions {
    /// Global holding the current size in pages of region `m`, per input memory index.
    pub pages: Vec<u32>,
    /// Global holding the byte address in memory 0 where region `m` starts (`None` for region 0,
    /// which starts at 0).
    pub base: Vec<Option<u32>>,
    /// Function index of the grow helper of region `m`.
    pub grow: Vec<u32>,
    /// Declared maximum of region `m`, in pages (65536 when the memory declares none).
    pub max: Vec<u64>,
}

impl Regions {
    fn base_of(&self, memory: u32) -> Result<Option<u32>> {
        self.base
            .get(memory as usize)
            .copied()
            .ok_or_else(|| MergeError::Malformed(format!("memory {memory} does not exist")))
    }
}

/// How a memory access uses the stack: the address alone on top (a load), or the address
/// under a stored value of the given type.
enum Shape {
    Load,
    Store(ValType),
}

/// The shape and immediate of a plain load or store; `None` for every other operator.
fn access(op: &Operator) -> Option<(Shape, wasmparser::MemArg)> {
    use Operator as O;
    use Shape::{Load, Store};
    Some(match *op {
        O::I32Load { memarg }
        | O::I64Load { memarg }
        | O::F32Load { memarg }
        | O::F64Load { memarg }
        | O::I32Load8S { memarg }
        | O::I32Load8U { memarg }
        | O::I32Load16S { memarg }
        | O::I32Load16U { memarg }
        | O::I64Load8S { memarg }
        | O::I64Load8U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Load16U { memarg }
        | O::I64Load32S { memarg }
        | O::I64Load32U { memarg }
        | O::V128Load { memarg }
        | O::V128Load8x8S { memarg }
        | O::V128Load8x8U { memarg }
        | O::V128Load16x4S { memarg }
        | O::V128Load16x4U { memarg }
        | O::V128Load32x2S { memarg }
        | O::V128Load32x2U { memarg }
        | O::V128Load8Splat { memarg }
        | O::V128Load16Splat { memarg }
        | O::V128Load32Splat { memarg }
        | O::V128Load64Splat { memarg }
        | O::V128Load32Zero { memarg }
        | O::V128Load64Zero { memarg } => (Load, memarg),
        O::I32Store { memarg } | O::I32Store8 { memarg } | O::I32Store16 { memarg } => {
            (Store(ValType::I32), memarg)
        }
        O::I64Store { memarg }
        | O::I64Store8 { memarg }
        | O::I64Store16 { memarg }
        | O::I64Store32 { memarg } => (Store(ValType::I64), memarg),
        O::F32Store { memarg } => (Store(ValType::F32), memarg),
        O::F64Store { memarg } => (Store(ValType::F64), memarg),
        O::V128Store { memarg } => (Store(ValType::V128), memarg),
        _ => return None,
    })
}

/// Records every memory index an operator names (through wasm-encoder's reencoder, which
/// visits the memory immediates of all operators, including those not handled here).
#[derive(Default)]
struct Probe {
    lowered: Option<u32>,
}

impl Reencode for Probe {
    type Error = std::convert::Infallible;

    fn memory_index(&mut self, memory: u32) -> std::result::Result<u32, ReencodeError> {
        if memory != 0 {
            self.lowered = Some(memory);
        }
        Ok(memory)
    }
}

/// Whether a body that names no memory other than 0 may contain `memory.size` or
/// `memory.grow`: the only instructions [`lower_body`] changes in such a body. Never misses one:
/// each is its opcode (0x3f, 0x40) followed by the memory index 0 as a LEB128, whose first byte
/// is 0x00 or, padded, 0x80. A byte scan, some twenty times faster than parsing the body.
pub(crate) fn may_resize_memory(body: &[u8]) -> bool {
    body.windows(2)
        .any(|w| matches!(w[0], 0x3f | 0x40) && matches!(w[1], 0x00 | 0x80))
}

/// Scratch locals a rewritten body needs, by type, in the order they are declared.
const SCRATCH: [ValType; 5] = [
    ValType::I32,
    ValType::I64,
    ValType::F32,
    ValType::F64,
    ValType::V128,
];
/// `memory.copy` needs three `i32` scratch locals; other types need one.
const I32_SCRATCH: u32 = 3;

/// Rewrites one body; `None` if it uses no memory instruction that changes. `params` is the
/// number of parameters of the function; `body` its bytes (locals and code, no size).
pub(crate) fn lower_body(
    body: &[u8],
    offset: usize,
    params: u32,
    regions: &Regions,
) -> Result<Option<Vec<u8>>> {
    let parsed = FunctionBody::new(BinaryReader::new(body, offset as u64));
    let at = |pos: u64| pos as usize - offset;
    // First pass: does anything change, and which scratch locals are needed?
    let mut needed = [false; 5];
    let mut changes = false;
    let mut ops = parsed
        .get_operators_reader()
        .map_err(MergeError::malformed)?;
    while !ops.eof() {
        let prefixed = is_prefixed(body, at(ops.original_position()));
        let op = ops.read().map_err(MergeError::malformed)?;
        match classify(&op, prefixed)? {
            Kind::Keep => {}
            Kind::Change(scratch) => {
                changes = true;
                if let Some(ty) = scratch {
                    needed[scratch_slot(ty)] = true;
                }
            }
        }
    }
    if !changes {
        return Ok(None);
    }

    // Locals: the original groups, then one group per scratch type needed.
    let mut locals = parsed.get_locals_reader().map_err(MergeError::malformed)?;
    let mut declared: u64 = u64::from(params);
    let mut groups = Vec::new();
    for _ in 0..locals.get_count() {
        let (n, ty) = locals.read().map_err(MergeError::malformed)?;
        declared += u64::from(n);
        groups.push((n, ty));
    }
    let code_start = at(locals.original_position());
    let mut scratch = [0u32; 5];
    let mut extra = Vec::new();
    let mut next =
        u32::try_from(declared).map_err(|_| MergeError::Malformed("too many locals".into()))?;
    for (i, ty) in SCRATCH.iter().enumerate() {
        if needed[i] {
            let n = if i == 0 { I32_SCRATCH } else { 1 };
            scratch[i] = next;
            next += n;
            extra.push((n, *ty));
        }
    }
    let mut out = Vec::with_capacity(body.len() + 64);
    leb(groups.len() as u32 + extra.len() as u32, &mut out);
    let groups_start = {
        let mut r = BinaryReader::new(body, 0);
        r.read_var_u32().map_err(MergeError::malformed)?;
        r.original_position() as usize
    };
    out.extend_from_slice(&body[groups_start..code_start]);
    for (n, ty) in &extra {
        leb(*n, &mut out);
        ty.encode(&mut out);
    }

    // Second pass: copy unchanged operators' bytes, emit replacements for the others.
    let mut ops = parsed
        .get_operators_reader()
        .map_err(MergeError::malformed)?;
    let mut copied = code_start;
    while !ops.eof() {
        let start = at(ops.original_position());
        let op = ops.read().map_err(MergeError::malformed)?;
        if let Kind::Keep = classify(&op, is_prefixed(body, start))? {
            continue;
        }
        out.extend_from_slice(&body[copied..start]);
        copied = at(ops.original_position());
        emit(&op, regions, &scratch, &mut out)?;
    }
    out.extend_from_slice(&body[copied..]);
    Ok(Some(out))
}

enum Kind {
    Keep,
    /// Changes; needs a scratch local of this type (an `i32` one stands for all three).
    Change(Option<ValType>),
}

fn scratch_slot(ty: ValType) -> usize {
    SCRATCH.iter().position(|t| *t == ty).unwrap_or(0)
}

fn memory_of(m: &wasmparser::MemArg) -> Option<u32> {
    match m.target {
        Target::Memory(i) => Some(i),
        Target::Array(_) => None,
    }
}

/// Whether the operator at `pos` has a prefixed opcode (0xFC bulk memory and others, 0xFD SIMD,
/// 0xFE atomics): the only ones besides plain loads, stores, `memory.size` and `memory.grow`
/// that can name a memory.
fn is_prefixed(body: &[u8], pos: usize) -> bool {
    matches!(body.get(pos), Some(0xfc..=0xfe))
}

/// What to do with an operator; `prefixed` as [`is_prefixed`] says (unprefixed operators other
/// than loads, stores, `memory.size` and `memory.grow` are not probed for memory indices).
fn classify(op: &Operator, prefixed: bool) -> Result<Kind> {
    Ok(match op {
        Operator::MemorySize { .. } | Operator::MemoryGrow { .. } => Kind::Change(None),
        Operator::MemoryCopy { dst_mem, src_mem } if *dst_mem != 0 || *src_mem != 0 => {
            Kind::Change(Some(ValType::I32))
        }
        Operator::MemoryCopy { .. } => Kind::Keep,
        Operator::MemoryFill { mem } | Operator::MemoryInit { mem, .. } => {
            if *mem == 0 {
                Kind::Keep
            } else {
                Kind::Change(Some(ValType::I32))
            }
        }
        _ => match access(op) {
            Some((shape, m)) => match memory_of(&m) {
                Some(0) | None => Kind::Keep,
                Some(_) => Kind::Change(match shape {
                    Shape::Load => None,
                    Shape::Store(ty) => Some(ty),
                }),
            },
            None if !prefixed => Kind::Keep,
            None => {
                let mut probe = Probe::default();
                // Operators the encoder cannot express cannot name a memory either.
                let _ = probe.instruction(op.clone());
                if let Some(m) = probe.lowered {
                    return Err(MergeError::Lowering(format!(
                        "an instruction ({op:?}) uses memory {m} in a way the single-memory lowering does not support (only loads, stores, memory.size, memory.grow, memory.copy, memory.fill and memory.init)"
                    )));
                }
                Kind::Keep
            }
        },
    })
}

fn put(ins: &Instruction, out: &mut Vec<u8>) {
    ins.encode(out);
}

/// Adds the base of `memory` to the address on top of the stack.
fn rebase(memory: u32, regions: &Regions, out: &mut Vec<u8>) -> Result<()> {
    if let Some(base) = regions.base_of(memory)? {
        put(&Instruction::GlobalGet(base), out);
        put(&Instruction::I32Add, out);
    }
    Ok(())
}

fn emit(op: &Operator, regions: &Regions, scratch: &[u32; 5], out: &mut Vec<u8>) -> Result<()> {
    let missing = |m: u32| MergeError::Malformed(format!("memory {m} does not exist"));
    let (b, c) = (scratch[0] + 1, scratch[0] + 2);
    match *op {
        Operator::MemorySize { mem } => {
            let g = *regions
                .pages
                .get(mem as usize)
                .ok_or_else(|| missing(mem))?;
            put(&Instruction::GlobalGet(g), out);
        }
        Operator::MemoryGrow { mem } => {
            let f = *regions.grow.get(mem as usize).ok_or_else(|| missing(mem))?;
            put(&Instruction::Call(f), out);
        }
        Operator::MemoryCopy { dst_mem, src_mem } => {
            put(&Instruction::LocalSet(c), out);
            rebase(src_mem, regions, out)?;
            put(&Instruction::LocalSet(b), out);
            rebase(dst_mem, regions, out)?;
            put(&Instruction::LocalGet(b), out);
            put(&Instruction::LocalGet(c), out);
            put(
                &Instruction::MemoryCopy {
                    dst_mem: 0,
                    src_mem: 0,
                },
                out,
            );
        }
        Operator::MemoryFill { mem } | Operator::MemoryInit { mem, .. } => {
            put(&Instruction::LocalSet(c), out);
            put(&Instruction::LocalSet(b), out);
            rebase(mem, regions, out)?;
            put(&Instruction::LocalGet(b), out);
            put(&Instruction::LocalGet(c), out);
            if let Operator::MemoryInit { data_index, .. } = *op {
                put(&Instruction::MemoryInit { mem: 0, data_index }, out);
            } else {
                put(&Instruction::MemoryFill(0), out);
            }
        }
        _ => {
            let Some((shape, m)) = access(op) else {
                return Err(MergeError::Lowering(format!("unexpected {op:?}")));
            };
            let memory = memory_of(&m).unwrap_or(0);
            // The operator with its immediate pointing at memory 0.
            let lowered = Retarget
                .instruction(op.clone())
                .map_err(|e| MergeError::Lowering(e.to_string()))?;
            match shape {
                Shape::Load => rebase(memory, regions, out)?,
                Shape::Store(ty) => {
                    let slot = scratch[scratch_slot(ty)];
                    put(&Instruction::LocalSet(slot), out);
                    rebase(memory, regions, out)?;
                    put(&Instruction::LocalGet(slot), out);
                }
            }
            put(&lowered, out);
        }
    }
    Ok(())
}

/// Re-encodes an operator with every memory index replaced by 0.
struct Retarget;

impl Reencode for Retarget {
    type Error = std::convert::Infallible;

    fn memory_index(&mut self, _memory: u32) -> std::result::Result<u32, ReencodeError> {
        Ok(0)
    }
}

/// The body of the grow helper of region `k`: `(param $delta i32) (result i32)`, the
/// semantics of `memory.grow` for that region.
///
/// Fails (returns -1, changing nothing) when the region would pass its declared maximum or
/// memory 0 cannot grow. A region below the top one has a *capacity*: the pages up to the next
/// region's base. A growth within it only counts the pages (they are zero: never handed out).
/// Past it, memory 0 grows by what is missing plus an eighth of the region's size as headroom
/// (or, should that fail, by exactly what is missing), everything above the region moves up
/// (one `memory.copy`, which has `memmove` semantics), and the bytes the move left behind in the
/// region's new pages are zeroed. The headroom makes the moves logarithmic in the number of
/// growths of a program that grows a page at a time.
pub(crate) fn grow_helper(k: usize, regions: &Regions) -> Vec<u8> {
    use Instruction as I;
    const DELTA: u32 = 0;
    const OLD: u32 = 1;
    const NEED: u32 = 2;
    const GOT: u32 = 3;
    const END: u32 = 4;
    const SRC: u32 = 5;
    const LEN: u32 = 6;
    let mut f = wasm_encoder::Function::new([(6, ValType::I32)]);
    let pages = regions.pages[k];
    let max = regions.max[k].min(crate::lower::MAX_PAGES) as i64 as i32;
    let fail = |f: &mut wasm_encoder::Function| {
        f.instruction(&I::If(wasm_encoder::BlockType::Empty))
            .instruction(&I::I32Const(-1))
            .instruction(&I::Return)
            .instruction(&I::End);
    };
    f.instruction(&I::GlobalGet(pages))
        .instruction(&I::LocalSet(OLD))
        // delta > max - old (unsigned): past the maximum.
        .instruction(&I::LocalGet(DELTA))
        .instruction(&I::I32Const(max))
        .instruction(&I::LocalGet(OLD))
        .instruction(&I::I32Sub)
        .instruction(&I::I32GtU);
    fail(&mut f);
    let above: Vec<u32> = regions.base[k + 1..].iter().flatten().copied().collect();
    match above.first() {
        None => {
            // The top region: grow memory 0 by exactly delta; nothing moves.
            f.instruction(&I::LocalGet(DELTA))
                .instruction(&I::MemoryGrow(0))
                .instruction(&I::I32Const(-1))
                .instruction(&I::I32Eq);
            fail(&mut f);
        }
        Some(&next) => {
            // need = old + delta - capacity, capacity = (base[k+1] - base[k]) / 64 KiB.
            f.instruction(&I::LocalGet(OLD))
                .instruction(&I::LocalGet(DELTA))
                .instruction(&I::I32Add)
                .instruction(&I::GlobalGet(next));
            if let Some(Some(own)) = regions.base.get(k) {
                f.instruction(&I::GlobalGet(*own)).instruction(&I::I32Sub);
            }
            f.instruction(&I::I32Const(16))
                .instruction(&I::I32ShrU)
                .instruction(&I::I32Sub)
                .instruction(&I::LocalTee(NEED))
                .instruction(&I::I32Const(0))
                .instruction(&I::I32GtS)
                .instruction(&I::If(wasm_encoder::BlockType::Empty))
                // The physical end before growing (used only once a growth succeeded, so
                // memory 0 was below 4 GiB).
                .instruction(&I::MemorySize(0))
                .instruction(&I::I32Const(16))
                .instruction(&I::I32Shl)
                .instruction(&I::LocalSet(END))
                // got = need + old / 8; on failure got = need; on failure again, -1.
                .instruction(&I::LocalGet(NEED))
                .instruction(&I::LocalGet(OLD))
                .instruction(&I::I32Const(3))
                .instruction(&I::I32ShrU)
                .instruction(&I::I32Add)
                .instruction(&I::LocalTee(GOT))
                .instruction(&I::MemoryGrow(0))
                .instruction(&I::I32Const(-1))
                .instruction(&I::I32Eq)
                .instruction(&I::If(wasm_encoder::BlockType::Empty))
                .instruction(&I::LocalGet(NEED))
                .instruction(&I::LocalTee(GOT))
                .instruction(&I::MemoryGrow(0))
                .instruction(&I::I32Const(-1))
                .instruction(&I::I32Eq);
            fail(&mut f);
            f.instruction(&I::End)
                // got becomes bytes; src = base[k+1]; len = end - src.
                .instruction(&I::LocalGet(GOT))
                .instruction(&I::I32Const(16))
                .instruction(&I::I32Shl)
                .instruction(&I::LocalSet(GOT))
                .instruction(&I::GlobalGet(next))
                .instruction(&I::LocalSet(SRC))
                .instruction(&I::LocalGet(END))
                .instruction(&I::LocalGet(SRC))
                .instruction(&I::I32Sub)
                .instruction(&I::LocalSet(LEN))
                // Move [src, end) up by got bytes.
                .instruction(&I::LocalGet(SRC))
                .instruction(&I::LocalGet(GOT))
                .instruction(&I::I32Add)
                .instruction(&I::LocalGet(SRC))
                .instruction(&I::LocalGet(LEN))
                .instruction(&I::MemoryCopy {
                    dst_mem: 0,
                    src_mem: 0,
                })
                // Zero what the move left behind: min(len, got) bytes at src.
                .instruction(&I::LocalGet(SRC))
                .instruction(&I::I32Const(0))
                .instruction(&I::LocalGet(LEN))
                .instruction(&I::LocalGet(GOT))
                .instruction(&I::LocalGet(LEN))
                .instruction(&I::LocalGet(GOT))
                .instruction(&I::I32LtU)
                .instruction(&I::Select)
                .instruction(&I::MemoryFill(0));
            for g in &above {
                f.instruction(&I::GlobalGet(*g))
                    .instruction(&I::LocalGet(GOT))
                    .instruction(&I::I32Add)
                    .instruction(&I::GlobalSet(*g));
            }
            f.instruction(&I::End);
        }
    }
    f.instruction(&I::LocalGet(OLD))
        .instruction(&I::LocalGet(DELTA))
        .instruction(&I::I32Add)
        .instruction(&I::GlobalSet(pages))
        .instruction(&I::LocalGet(OLD))
        .instruction(&I::End);
    f.into_raw_body()
}

#[cfg(test)]
mod tests {
    use super::may_resize_memory;

    #[test]
    fn resize_scan_sees_minimal_and_padded_indices() {
        // memory.size 0 and memory.grow 0, minimal and padded (0x80 0x00).
        assert!(may_resize_memory(&[0x00, 0x3f, 0x00, 0x0b]));
        assert!(may_resize_memory(&[0x00, 0x40, 0x00, 0x0b]));
        assert!(may_resize_memory(&[0x00, 0x3f, 0x80, 0x00, 0x0b]));
        assert!(may_resize_memory(&[0x00, 0x40, 0x80, 0x80, 0x00, 0x0b]));
        // `i32.load offset=0x3f` is 0x28 0x02 0x3f: no index follows, nothing to change.
        assert!(!may_resize_memory(&[
            0x00, 0x20, 0x00, 0x28, 0x02, 0x3f, 0x1a, 0x0b
        ]));
        assert!(!may_resize_memory(&[]));
    }
}
