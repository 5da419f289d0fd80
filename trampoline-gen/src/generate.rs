//! Bodies of the functions the merger generates: intrinsics over the application memory and
//! `ENOSYS` stubs for preview 1 functions the application does not import.

use wasm_encoder::{Function, Instruction, MemArg, ValType};

use crate::wasi::{Intrinsic, Width, ENOSYS};

/// A generated function.
#[derive(Clone, Debug)]
pub(crate) enum Generated {
    /// An intrinsic over the application memory.
    Intrinsic(Intrinsic),
    /// A stub returning `ENOSYS` (or trapping if it returns no single `i32`).
    Stub {
        /// Whether the stubbed function returns exactly one `i32`.
        returns_errno: bool,
    },
}

/// What the generated code works between: the two memories and this layer's content segments.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Memories {
    /// The application memory (exported as `memory`).
    pub app: u32,
    /// The VFS memory.
    pub vfs: u32,
    /// Data index of this layer's first content segment.
    pub first_content: u32,
    /// Number of content segments.
    pub content_segments: u32,
    /// The application's `cabi_realloc` export, if any.
    pub app_realloc: Option<u32>,
}

/// Byte alignment (`align` = 0): the VFS's pointers into application memory may be unaligned.
fn unaligned(memory: u32) -> MemArg {
    MemArg {
        offset: 0,
        align: 0,
        target: wasm_encoder::MemArgTarget::Memory(memory),
        ordering: None,
    }
}

/// The raw body (locals and code, no size prefix) of a generated function.
pub(crate) fn body(g: &Generated, mem: Memories) -> Vec<u8> {
    let mut f = Function::new::<[(u32, ValType); 0]>([]);
    let a = mem.app;
    match *g {
        Generated::Intrinsic(Intrinsic::CopyIn) => {
            f.instruction(&Instruction::LocalGet(0))
                .instruction(&Instruction::LocalGet(1))
                .instruction(&Instruction::LocalGet(2))
                .instruction(&Instruction::MemoryCopy {
                    dst_mem: mem.vfs,
                    src_mem: a,
                });
        }
        Generated::Intrinsic(Intrinsic::CopyOut) => {
            f.instruction(&Instruction::LocalGet(0))
                .instruction(&Instruction::LocalGet(1))
                .instruction(&Instruction::LocalGet(2))
                .instruction(&Instruction::MemoryCopy {
                    dst_mem: a,
                    src_mem: mem.vfs,
                });
        }
        Generated::Intrinsic(Intrinsic::ReadContent) => read_content(&mut f, mem),
        Generated::Intrinsic(Intrinsic::Size) => {
            f.instruction(&Instruction::MemorySize(a));
        }
        Generated::Intrinsic(Intrinsic::Load(w)) => {
            let m = unaligned(a);
            f.instruction(&Instruction::LocalGet(0));
            f.instruction(&match w {
                Width::U8 => Instruction::I32Load8U(m),
                Width::U16 => Instruction::I32Load16U(m),
                Width::U32 => Instruction::I32Load(m),
                Width::U64 => Instruction::I64Load(m),
            });
        }
        Generated::Intrinsic(Intrinsic::Store(w)) => {
            let m = unaligned(a);
            f.instruction(&Instruction::LocalGet(0))
                .instruction(&Instruction::LocalGet(1));
            f.instruction(&match w {
                Width::U8 => Instruction::I32Store8(m),
                Width::U16 => Instruction::I32Store16(m),
                Width::U32 => Instruction::I32Store(m),
                Width::U64 => Instruction::I64Store(m),
            });
        }
        Generated::Intrinsic(Intrinsic::Realloc) => match mem.app_realloc {
            Some(func) => {
                for i in 0..4 {
                    f.instruction(&Instruction::LocalGet(i));
                }
                f.instruction(&Instruction::Call(func));
            }
            None => {
                f.instruction(&Instruction::Unreachable);
            }
        },
        Generated::Stub { returns_errno } => {
            if returns_errno {
                f.instruction(&Instruction::I32Const(ENOSYS));
            } else {
                f.instruction(&Instruction::Unreachable);
            }
        }
    }
    f.instruction(&Instruction::End);
    f.into_raw_body()
}

/// `read_content(dst, segment, offset, len)`: a `br_table` on `segment` picks the `memory.init`
/// of that content segment (the data index is an immediate). An unknown segment traps.
///
/// Blocks `B_n` (outermost) to `B_0` nest; `br_table` label `k` leaves `B_k`, after whose `end`
/// stands the copy from segment `k`; the default label `n` leaves `B_n` and reaches the trap.
fn read_content(f: &mut Function, mem: Memories) {
    let n = mem.content_segments;
    for _ in 0..=n {
        f.instruction(&Instruction::Block(wasm_encoder::BlockType::Empty));
    }
    let targets: Vec<u32> = (0..n).collect();
    f.instruction(&Instruction::LocalGet(1))
        .instruction(&Instruction::BrTable(targets.into(), n))
        .instruction(&Instruction::End);
    for k in 0..n {
        f.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::LocalGet(2))
            .instruction(&Instruction::LocalGet(3))
            .instruction(&Instruction::MemoryInit {
                mem: mem.app,
                data_index: mem.first_content + k,
            })
            .instruction(&Instruction::Return)
            .instruction(&Instruction::End);
    }
    f.instruction(&Instruction::Unreachable);
}
