//! Writable mounts: `--tmpfs` (an empty in-memory directory), `--writable` (a mapping made
//! copy-on-write in memory) and their byte limits (`--tmpfs-size`). Checked before anything is
//! read, recorded as mount flags in the image.

use wasivfs_image::builder::{ImageBuilder, MountOptions};
use wasivfs_image::{MOUNT_TMPFS, MOUNT_WRITABLE};

use crate::{normalize_guest_path, MountInfo, PackError, PackOptions, Result, DEFAULT_TMPFS_SIZE};

/// One mount of the output, in preopen order, with how it may be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedMount {
    /// Normalized guest path.
    pub guest: String,
    /// `--tmpfs` (no host directory behind it).
    pub tmpfs: bool,
    /// Writable (tmpfs or `--writable`).
    pub writable: bool,
    /// Byte limit of a writable mount.
    pub size_limit: u64,
}

/// Every mount of the output, mappings first, then tmpfs mounts.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The mounts, in preopen order.
    pub mounts: Vec<PlannedMount>,
}

impl Plan {
    /// The `mounts` of the `wasivfs` custom section.
    pub fn mount_infos(&self) -> Vec<MountInfo> {
        self.mounts
            .iter()
            .map(|m| MountInfo {
                guest: m.guest.clone(),
                writable: m.writable,
                tmpfs: m.tmpfs,
                size_limit: m.writable.then_some(m.size_limit),
            })
            .collect()
    }
}

fn option_error(what: String, reason: String) -> PackError {
    PackError::Options { what, reason }
}

/// Checks `--tmpfs`, `--writable` and `--tmpfs-size` against the mappings: every `--writable`
/// and every per-mount size must name a mount, a tmpfs must not take a mapped path or be given
/// twice, and a size must be at least one byte.
pub fn plan(opts: &PackOptions) -> Result<Plan> {
    let mut mounts: Vec<PlannedMount> = opts
        .mappings
        .iter()
        .map(|m| PlannedMount {
            guest: m.guest.clone(),
            tmpfs: false,
            writable: false,
            size_limit: 0,
        })
        .collect();
    for t in &opts.tmpfs {
        let guest = normalize_guest_path(t)?;
        if mounts.iter().any(|m| m.guest == guest) {
            return Err(option_error(
                format!("--tmpfs {t}"),
                format!("guest path {guest} is already a mount"),
            ));
        }
        mounts.push(PlannedMount {
            guest,
            tmpfs: true,
            writable: true,
            size_limit: 0,
        });
    }
    for w in &opts.writable {
        let guest = normalize_guest_path(w)?;
        match mounts.iter_mut().find(|m| m.guest == guest) {
            Some(m) => m.writable = true,
            None => {
                return Err(option_error(
                    format!("--writable {w}"),
                    format!("guest path {guest} names no --mapdir or --dir mount"),
                ))
            }
        }
    }
    let mut default = DEFAULT_TMPFS_SIZE;
    let mut sizes: Vec<(String, u64)> = Vec::new();
    for (guest, size) in &opts.tmpfs_sizes {
        let what = || match guest {
            Some(g) => format!("--tmpfs-size {g}={size}"),
            None => format!("--tmpfs-size {size}"),
        };
        if *size == 0 {
            return Err(option_error(
                what(),
                "the size must be at least 1 byte".into(),
            ));
        }
        match guest {
            None => default = *size,
            Some(g) => {
                let guest = normalize_guest_path(g)?;
                if !mounts.iter().any(|m| m.guest == guest && m.writable) {
                    return Err(option_error(
                        what(),
                        format!("guest path {guest} is not a --tmpfs or --writable mount"),
                    ));
                }
                sizes.push((guest, *size));
            }
        }
    }
    for m in mounts.iter_mut().filter(|m| m.writable) {
        m.size_limit = sizes
            .iter()
            .rev()
            .find(|(g, _)| *g == m.guest)
            .map_or(default, |(_, s)| *s);
    }
    Ok(Plan { mounts })
}

/// Adds the tmpfs mounts to the walked tree and records every mount's flags.
pub fn apply<S>(builder: &mut ImageBuilder<S>, plan: &Plan) -> Result<()> {
    for m in &plan.mounts {
        let layout_error = |source| PackError::Layout {
            what: format!("--tmpfs {}", m.guest),
            source,
        };
        let root = match builder.mount_root(&m.guest) {
            Some(root) => root,
            // The tmpfs root's times are set when the program starts.
            None if m.tmpfs => builder.add_mount(&m.guest, 0).map_err(layout_error)?,
            None => continue,
        };
        if m.writable {
            let flags = if m.tmpfs {
                MOUNT_TMPFS | MOUNT_WRITABLE
            } else {
                MOUNT_WRITABLE
            };
            builder
                .set_mount_options(
                    root,
                    MountOptions {
                        flags,
                        size_limit: m.size_limit,
                    },
                )
                .map_err(layout_error)?;
        }
    }
    Ok(())
}
