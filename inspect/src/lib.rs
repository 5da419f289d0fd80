//! Reads a module packed by wasivfs back, without a runtime and without disassembling it.
//!
//! A packed module carries one `wasivfs` custom section per pack (see `docs/image-format.md`); each
//! names the memory and address range holding that layer's image, which is rebuilt from the module's
//! active data segments and read with [`wasivfs_image::Image`], and the passive data segments that
//! hold its file contents. On top of that this crate resolves guest paths
//! and implements `ls`, `cat`, `unpack` and `inspect`.

use std::path::PathBuf;

use serde::Serialize;
use wasivfs_image::section::{LayerInfo, MIN_SECTION_FORMAT, SECTION_FORMAT};
use wasivfs_image::{Image, Kind};

mod list;
mod render;
mod resolve;
mod staging;
mod unpack;

pub use list::ListItem;
pub use render::{format_time, render_list, render_summary};

/// Why a module cannot be read back, or a request cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The module has no `wasivfs` section.
    #[error("not packed by wasivfs (no `wasivfs` custom section)")]
    NotPacked,
    /// A `wasivfs` section is not valid JSON of the known schema.
    #[error("pack layer {layer}: unreadable `wasivfs` section: {reason}")]
    BadSection {
        /// Layer index (0 = first pack).
        layer: usize,
        /// What is wrong.
        reason: String,
    },
    /// The image of a layer cannot be rebuilt or parsed.
    #[error("pack layer {layer}: corrupt embedded image: {reason}")]
    BadImage {
        /// Layer index.
        layer: usize,
        /// What is wrong.
        reason: String,
    },
    /// No embedded entry at this guest path.
    #[error("{0}: no such embedded file or directory")]
    NotFound(String),
    /// `cat` on a directory.
    #[error("{0}: is a directory")]
    IsADirectory(String),
    /// A symlink chain that does not end.
    #[error("{0}: too many levels of symbolic links")]
    Loop(String),
    /// `..` above a mount root, or an absolute symlink target: the program would get `EPERM`.
    #[error("{0}: leaves its mount (`..` above the mount root or an absolute link target)")]
    Escapes(String),
    /// A path that walks through a file.
    #[error("{0}: not a directory")]
    NotADirectory(String),
    /// Writing the extracted tree failed.
    #[error("{path}: {source}")]
    Io {
        /// The host path being written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// One pack layer: what its section says, its image bytes and its content region.
pub struct Layer {
    /// The decoded `wasivfs` section.
    pub info: LayerInfo,
    image: Vec<u8>,
    content: Vec<u8>,
}

impl Layer {
    /// The layer's image.
    pub fn image(&self) -> Image<'_> {
        // Checked in `Packed::read`.
        Image::parse(&self.image).unwrap_or_else(|_| unreachable!("image validated on read"))
    }

    /// The contents of file `ino` (`None` if it is not a file, or its range is outside the
    /// content region).
    pub fn file_bytes(&self, ino: u32) -> Option<&[u8]> {
        let (off, len) = self.image().file_range(ino)?;
        self.content.get(off as usize..off as usize + len as usize)
    }
}

/// Reads only the `format` key, so that a section of another format gets a clear message instead
/// of a schema error.
#[derive(serde::Deserialize)]
struct FormatOnly {
    format: u32,
}

/// A packed module, read back.
pub struct Packed {
    layers: Vec<Layer>,
}

/// A resolved embedded entry.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// Which layer it is in.
    pub layer: usize,
    /// Its inode in that layer's image.
    pub inode: u32,
    image: Image<'a>,
}

/// The summary `inspect` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Size of the packed module in bytes.
    pub module_size: u64,
    /// Memories the module defines or imports (in a component: its main core module).
    pub memories: u32,
    /// Each pack layer, first pack first.
    pub layers: Vec<LayerInfo>,
}

impl<'a> Entry<'a> {
    /// What it is.
    pub fn kind(&self) -> Kind {
        self.image
            .inode(self.inode)
            .map(|i| i.kind)
            .unwrap_or(Kind::File)
    }
}

impl Packed {
    /// Reads every layer of `module`. Fails with [`InspectError::NotPacked`] on a module wasivfs did
    /// not pack.
    /// A component built from a preview 1 module is read through its main core module, the one
    /// the packer put the VFS in.
    pub fn read(module: &[u8]) -> Result<Packed, InspectError> {
        let core = wasivfs_trampoline_gen::packed_core(module).ok_or(InspectError::NotPacked)?;
        let module = &core[..];
        let sections = wasivfs_trampoline_gen::wasivfs_sections(module);
        if sections.is_empty() {
            return Err(InspectError::NotPacked);
        }
        let mut layers = Vec::new();
        for (i, s) in sections.iter().enumerate() {
            let bad = |reason: String| InspectError::BadSection { layer: i, reason };
            let format = serde_json::from_slice::<FormatOnly>(s)
                .map_err(|e| bad(e.to_string()))?
                .format;
            if format < MIN_SECTION_FORMAT {
                return Err(bad(format!(
                    "packed by an older wasivfs (format {format}; this one reads {SECTION_FORMAT}): pack the original module again"
                )));
            }
            if format > SECTION_FORMAT {
                return Err(bad(format!(
                    "packed by a newer wasivfs (format {format}; this one reads {SECTION_FORMAT})"
                )));
            }
            let info = LayerInfo::from_json(s).map_err(|e| bad(e.to_string()))?;
            let addr = info.vfs_base.checked_add(u64::from(info.image_addr));
            let addr =
                addr.and_then(|a| u32::try_from(a).ok())
                    .ok_or_else(|| InspectError::BadImage {
                        layer: i,
                        reason: format!(
                            "the image address {:#x} plus the VFS base {:#x} is past 4 GiB",
                            info.image_addr, info.vfs_base
                        ),
                    })?;
            let image = wasivfs_trampoline_gen::memory_region(
                module,
                info.vfs_memory,
                addr,
                info.image_len,
            )
            .map_err(|e| InspectError::BadImage {
                layer: i,
                reason: e.to_string(),
            })?;
            let parsed = Image::parse(&image).map_err(|e| InspectError::BadImage {
                layer: i,
                reason: e.to_string(),
            })?;
            let c = &info.content;
            let header = parsed.header();
            if u64::from(header.content_len) != c.len
                || header.segment_len != c.segment_len
                || parsed.segment_count() != c.segments
            {
                return Err(InspectError::BadImage {
                    layer: i,
                    reason: "the image and the `wasivfs` section disagree about the contents"
                        .into(),
                });
            }
            let content =
                wasivfs_trampoline_gen::passive_segments(module, c.first_segment, c.segments)
                    .map_err(|e| InspectError::BadImage {
                        layer: i,
                        reason: e.to_string(),
                    })?;
            if content.len() as u64 != c.len {
                return Err(InspectError::BadImage {
                    layer: i,
                    reason: format!(
                        "the content segments hold {} bytes, the image says {}",
                        content.len(),
                        c.len
                    ),
                });
            }
            layers.push(Layer {
                info,
                image,
                content,
            });
        }
        Ok(Packed { layers })
    }

    /// The layers, first pack first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The summary of the module for `inspect`.
    pub fn summary(&self, module: &[u8]) -> Summary {
        Summary {
            module_size: module.len() as u64,
            memories: wasivfs_trampoline_gen::packed_core(module)
                .map_or(0, |core| count_memories(&core)),
            layers: self.layers.iter().map(|l| l.info.clone()).collect(),
        }
    }

    /// Every mount as `(guest path, layer, root inode)`, first pack first.
    pub fn mounts(&self) -> Vec<(String, usize, u32)> {
        let mut out = Vec::new();
        for (li, l) in self.layers.iter().enumerate() {
            let img = l.image();
            for m in 0..img.mount_count() {
                if let Some(m) = img.mount(m) {
                    out.push((String::from_utf8_lossy(m.path).into_owned(), li, m.root));
                }
            }
        }
        out
    }
}

fn count_memories(module: &[u8]) -> u32 {
    let mut n = 0;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        match payload {
            Ok(wasmparser::Payload::ImportSection(r)) => {
                for imp in r.into_imports().flatten() {
                    if matches!(imp.ty, wasmparser::TypeRef::Memory(_)) {
                        n += 1;
                    }
                }
            }
            Ok(wasmparser::Payload::MemorySection(r)) => n += r.count(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    n
}
