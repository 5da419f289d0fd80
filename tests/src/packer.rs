//! Packing for the differential tests, through the packer library in-process.

use crate::run::Map;
use anyhow::{anyhow, Result};
use std::path::Path;
use wasivfs_packer::{Mapping, MemoryMode, PackOptions, ProgramConfig};

/// Writable mounts for [`PackParams`]: `--writable`, `--tmpfs` and `--tmpfs-size`.
#[derive(Clone, Debug, Default)]
pub struct Writable {
    /// Guest paths of mounts made writable.
    pub writable: Vec<String>,
    /// Guest paths of tmpfs mounts.
    pub tmpfs: Vec<String>,
    /// The byte limit of every writable mount (`None`: the default).
    pub size: Option<u64>,
}

impl Writable {
    /// Every mount of `mounts` writable.
    pub fn all(mounts: &[Map]) -> Writable {
        Writable {
            writable: mounts.iter().map(|m| m.guest.clone()).collect(),
            ..Writable::default()
        }
    }
}

/// The pack options the tests vary; the default is what `wasivfs pack` does without flags.
#[derive(Clone, Debug)]
pub struct PackParams {
    /// Bytes per content segment (`None`: the default length).
    pub segment_len: Option<u32>,
    /// The `--memory` mode.
    pub memory: MemoryMode,
    /// Writable and tmpfs mounts.
    pub writable: Writable,
    /// Baked arguments, variables and policies.
    pub program: ProgramConfig,
}

impl Default for PackParams {
    fn default() -> Self {
        PackParams {
            segment_len: None,
            memory: wasivfs_packer::DEFAULT_MEMORY_MODE,
            writable: Writable::default(),
            program: ProgramConfig::default(),
        }
    }
}

/// Packs `mounts` into the module at `input` with `p`, through the packer library in-process,
/// and returns the packed module's bytes. Every test pack goes through here.
pub fn pack_file(input: &Path, mounts: &[Map], p: &PackParams) -> Result<Vec<u8>> {
    let mut mappings = Vec::new();
    for m in mounts {
        mappings.push(Mapping {
            guest: wasivfs_packer::normalize_guest_path(&m.guest).map_err(|e| anyhow!("{e}"))?,
            host: m.host.clone(),
        });
    }
    let opts = PackOptions {
        input: input.to_path_buf(),
        mappings,
        segment_len: p.segment_len,
        memory: p.memory,
        writable: p.writable.writable.clone(),
        tmpfs: p.writable.tmpfs.clone(),
        tmpfs_sizes: p.writable.size.map(|s| (None, s)).into_iter().collect(),
        program: p.program.clone(),
        ..PackOptions::default()
    };
    let (bytes, _info) = wasivfs_packer::pack_to_bytes(&opts).map_err(|e| anyhow!("{e}"))?;
    Ok(bytes)
}

/// The `--memory` mode that is not the default: the differential tests run both.
pub fn other_memory_mode() -> MemoryMode {
    match wasivfs_packer::DEFAULT_MEMORY_MODE {
        MemoryMode::Single => MemoryMode::Multi,
        MemoryMode::Multi => MemoryMode::Single,
    }
}

/// A content segment length small enough that the files of `mounts` straddle many segment
/// boundaries, yet large enough to stay well under the runtimes' limit of 100,000 data segments:
/// odd, at least 7 bytes, and about 1/20,000 of the bytes of all files.
pub fn small_segment_len(mounts: &[Map]) -> u32 {
    fn bytes(dir: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => bytes(&e.path()),
                Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
                _ => 0,
            })
            .sum()
    }
    let total: u64 = mounts.iter().map(|m| bytes(&m.host)).sum();
    let len = (total / 20_000 + 1).max(7) | 1;
    u32::try_from(len).unwrap_or(u32::MAX)
}
