//! Single-memory output: what the `wasivfs` sections say after every VFS memory became a region
//! of the application's memory (`wasivfs_trampoline_gen::lower_memories`).

use crate::info::{LayerInfo, MemoryMode};

/// Records in `info` that its VFS memory now starts at byte `bases[vfs_memory]` of memory 0.
/// A layer already in memory 0 (packed single-memory before) keeps its addresses: region 0
/// does not move.
pub(crate) fn relocate(info: &mut LayerInfo, bases: &[u64]) {
    if info.vfs_memory == 0 {
        return;
    }
    let base = bases.get(info.vfs_memory as usize).copied().unwrap_or(0);
    info.vfs_base = info.vfs_base.saturating_add(base);
    info.vfs_memory = 0;
    info.memory = MemoryMode::Single;
}

/// The `wasivfs` section payload `payload` rewritten for the lowered module.
pub(crate) fn rewrite_section(payload: &[u8], bases: &[u64]) -> Result<Vec<u8>, String> {
    let mut info = LayerInfo::from_json(payload)
        .map_err(|e| format!("a `wasivfs` section of the module cannot be read: {e}"))?;
    relocate(&mut info, bases);
    Ok(info.to_json())
}
