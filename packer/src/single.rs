//! Single-memory output: what the `wasivfs` records say after every VFS memory became a region
//! of the application's memory (`wasivfs_trampoline_gen::lower_memories`).

use wasivfs_trampoline_gen::{Lowering, MergeError};

use crate::info::{LayerInfo, MemoryMode};

/// The byte of memory 0 where the former memory `vfs_memory` starts after `lowering`.
pub(crate) fn region_base(lowering: &Lowering, vfs_memory: u32) -> Result<u64, MergeError> {
    lowering
        .bases
        .get(vfs_memory as usize)
        .copied()
        .ok_or_else(|| {
            MergeError::Lowering(format!(
                "the lowered module has no region for memory {vfs_memory}"
            ))
        })
}

/// The record `payload` of an earlier layer rewritten for the lowered module. A layer already in
/// memory 0 (packed single-memory before) keeps its addresses: region 0 does not move.
pub(crate) fn rewrite_section(payload: &[u8], bases: &[u64]) -> Result<Vec<u8>, String> {
    let mut info = LayerInfo::from_json(payload)
        .map_err(|e| format!("a `wasivfs` section of the module cannot be read: {e}"))?;
    if info.vfs_memory != 0 {
        let base = bases
            .get(info.vfs_memory as usize)
            .copied()
            .ok_or_else(|| {
                format!(
                    "a `wasivfs` section names memory {}, which the module does not have",
                    info.vfs_memory
                )
            })?;
        info.vfs_base = info.vfs_base.saturating_add(base);
        info.vfs_memory = 0;
        info.memory = MemoryMode::Single;
    }
    Ok(info.to_json())
}
