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
        let op = ops.read().map_err(MergeError::malformed)?;
        match classify(&op)? {
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
        if let Kind::Keep = classify(&op)? {
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

fn classify(op: &Operator) -> Result<Kind> {
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

/// The body of the grow helper of region `k` of `n` regions: `(param $delta i32) (result i32)`.
///
/// Fails (returns -1, changing nothing) when the region would exceed its declared maximum or
/// memory 0 cannot grow; otherwise grows memory 0, moves every region above `k` up by the new
/// pages (a `memory.copy`, which has `memmove` semantics), zeroes the pages region `k` gained,
/// and returns the region's old size.
pub(crate) fn grow_helper(k: usize, regions: &Regions) -> Vec<u8> {
    const DELTA: u32 = 0;
    const OLD: u32 = 1;
    const END: u32 = 2;
    const SRC: u32 = 3;
    const LEN: u32 = 4;
    let mut f = wasm_encoder::Function::new([(4, ValType::I32)]);
    let pages = regions.pages[k];
    let max = regions.max[k].min(65536) as i64 as i32;
    f.instruction(&Instruction::GlobalGet(pages))
        .instruction(&Instruction::LocalSet(OLD))
        // delta > max - old (unsigned): too much.
        .instruction(&Instruction::LocalGet(DELTA))
        .instruction(&Instruction::I32Const(max))
        .instruction(&Instruction::LocalGet(OLD))
        .instruction(&Instruction::I32Sub)
        .instruction(&Instruction::I32GtU)
        .instruction(&Instruction::If(wasm_encoder::BlockType::Empty))
        .instruction(&Instruction::I32Const(-1))
        .instruction(&Instruction::Return)
        .instruction(&Instruction::End)
        // The physical end of memory 0 before growing (only used if the growth succeeds, so
        // memory 0 was below 4 GiB).
        .instruction(&Instruction::MemorySize(0))
        .instruction(&Instruction::I32Const(16))
        .instruction(&Instruction::I32Shl)
        .instruction(&Instruction::LocalSet(END))
        .instruction(&Instruction::LocalGet(DELTA))
        .instruction(&Instruction::MemoryGrow(0))
        .instruction(&Instruction::I32Const(-1))
        .instruction(&Instruction::I32Eq)
        .instruction(&Instruction::If(wasm_encoder::BlockType::Empty))
        .instruction(&Instruction::I32Const(-1))
        .instruction(&Instruction::Return)
        .instruction(&Instruction::End);
    let above: Vec<u32> = regions.base[k + 1..].iter().flatten().copied().collect();
    if let Some(first_above) = above.first() {
        // src = start of the next region; len = end - src; move [src, end) up by delta pages.
        f.instruction(&Instruction::GlobalGet(*first_above))
            .instruction(&Instruction::LocalSet(SRC))
            .instruction(&Instruction::LocalGet(END))
            .instruction(&Instruction::LocalGet(SRC))
            .instruction(&Instruction::I32Sub)
            .instruction(&Instruction::LocalSet(LEN))
            .instruction(&Instruction::LocalGet(SRC))
            .instruction(&Instruction::LocalGet(DELTA))
            .instruction(&Instruction::I32Const(16))
            .instruction(&Instruction::I32Shl)
            .instruction(&Instruction::I32Add)
            .instruction(&Instruction::LocalGet(SRC))
            .instruction(&Instruction::LocalGet(LEN))
            .instruction(&Instruction::MemoryCopy {
                dst_mem: 0,
                src_mem: 0,
            })
            // Zero what the move left behind in the pages region k gained: min(len, delta bytes).
            .instruction(&Instruction::LocalGet(SRC))
            .instruction(&Instruction::I32Const(0))
            .instruction(&Instruction::LocalGet(LEN))
            .instruction(&Instruction::LocalGet(DELTA))
            .instruction(&Instruction::I32Const(16))
            .instruction(&Instruction::I32Shl)
            .instruction(&Instruction::LocalGet(LEN))
            .instruction(&Instruction::LocalGet(DELTA))
            .instruction(&Instruction::I32Const(16))
            .instruction(&Instruction::I32Shl)
            .instruction(&Instruction::I32LtU)
            .instruction(&Instruction::Select)
            .instruction(&Instruction::MemoryFill(0));
        for g in &above {
            f.instruction(&Instruction::GlobalGet(*g))
                .instruction(&Instruction::LocalGet(DELTA))
                .instruction(&Instruction::I32Const(16))
                .instruction(&Instruction::I32Shl)
                .instruction(&Instruction::I32Add)
                .instruction(&Instruction::GlobalSet(*g));
        }
    }
    f.instruction(&Instruction::LocalGet(OLD))
        .instruction(&Instruction::LocalGet(DELTA))
        .instruction(&Instruction::I32Add)
        .instruction(&Instruction::GlobalSet(pages))
        .instruction(&Instruction::LocalGet(OLD))
        .instruction(&Instruction::End);
    f.into_raw_body()
}
