//! The `wasivfs` custom section: one JSON object per pack layer that says where that layer's image
//! (metadata) and file contents lie and what went into it. Written by the packer, read by `ls`, `cat`, `unpack` and `inspect`.

use crate::config::ProgramConfig;
use serde::{Deserialize, Serialize};

/// Name of the custom section.
pub const SECTION_NAME: &str = wasivfs_abi::CUSTOM_SECTION;
/// Version of the section's JSON schema.
pub const SECTION_FORMAT: u32 = 3;
/// The oldest section format still read (format 2: every mount read-only).
pub const MIN_SECTION_FORMAT: u32 = 2;

/// What the packer records about the module it was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// Lowercase hex SHA-256 of the input module's bytes.
    pub sha256: String,
    /// Input module size in bytes.
    pub size: u64,
}

/// One mount of a layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInfo {
    /// Absolute guest path.
    pub guest: String,
    /// Writable (copy-on-write over the packed files, in memory). Absent: read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub writable: bool,
    /// A tmpfs: an empty writable directory with no host directory behind it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tmpfs: bool,
    /// Most bytes a writable mount holds in memory at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where a layer's file contents are: passive data segments `first_segment ..
/// first_segment + segments` (module data indices), each `segment_len` bytes but the last.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentInfo {
    /// Data index of the first content segment.
    pub first_segment: u32,
    /// Number of content segments.
    pub segments: u32,
    /// Bytes per segment (the last one may be shorter).
    pub segment_len: u32,
    /// Total content bytes.
    pub len: u64,
}

/// Where a layer's VFS memory lives in the packed module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryMode {
    /// A memory of its own, `vfs_memory` (the module uses multi-memory).
    #[default]
    Multi,
    /// A region of memory 0 (the application's) starting at byte `vfs_base`; the module has one
    /// memory.
    Single,
}

impl MemoryMode {
    /// `single` or `multi`, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryMode::Multi => "multi",
            MemoryMode::Single => "single",
        }
    }
}

impl std::fmt::Display for MemoryMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The payload of one `wasivfs` custom section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Schema version, [`SECTION_FORMAT`].
    pub format: u32,
    /// The tool that wrote it, e.g. `wasivfs 0.1.0`.
    pub tool: String,
    /// VFS guest ABI version.
    pub vfs_abi: u32,
    /// Index of the memory that holds the image (the VFS memory; 0 in a single-memory module).
    pub vfs_memory: u32,
    /// Initial size of the VFS memory (or region), in 64 KiB pages.
    pub vfs_memory_pages: u64,
    /// Whether the VFS has a memory of its own or a region of memory 0 (absent in sections
    /// written before single-memory output existed: `multi`).
    #[serde(default)]
    pub memory: MemoryMode,
    /// Byte address in memory `vfs_memory` where the VFS's addresses start: 0 for a memory of
    /// its own, the region's initial address in a single-memory module.
    #[serde(default)]
    pub vfs_base: u64,
    /// Address of the image (metadata only), counted from `vfs_base`.
    pub image_addr: u32,
    /// Length of the image in bytes.
    pub image_len: u32,
    /// Where the file contents are.
    pub content: ContentInfo,
    /// The module that was packed.
    pub input: InputInfo,
    /// Mounts, in `--mapdir` order.
    pub mounts: Vec<MountInfo>,
    /// Regular files.
    pub files: u64,
    /// Directories, mount roots included.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Sum of file sizes.
    pub file_bytes: u64,
    /// Bytes of distinct contents stored.
    pub stored_bytes: u64,
    /// Preview 1 imports of the input now routed through the VFS.
    pub trampolines: Vec<String>,
    /// Preview 1 functions the VFS uses that the input did not import (they answer ENOSYS).
    pub stubs: Vec<String>,
    /// What the layer bakes into the program (`--arg`, `--argv0`, `--env`, `--env-inherit`,
    /// `--host-dirs`); absent when nothing is.
    #[serde(default, skip_serializing_if = "ProgramConfig::is_empty")]
    pub program: ProgramConfig,
}

impl LayerInfo {
    /// The section payload: compact JSON with keys in declaration order (deterministic).
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a section payload.
    pub fn from_json(bytes: &[u8]) -> Result<LayerInfo, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
