//! Packing for the differential tests, through the packer library in-process.

use crate::run::Map;
use anyhow::{anyhow, Result};
use std::path::Path;
use wasivfs_packer::{Mapping, PackOptions};

/// Packs `mounts` into the module at `input` and returns the packed module's bytes.
pub fn pack_file(input: &Path, mounts: &[Map]) -> Result<Vec<u8>> {
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
        ..PackOptions::default()
    };
    let (bytes, _info) = wasivfs_packer::pack_to_bytes(&opts).map_err(|e| anyhow!("{e}"))?;
    Ok(bytes)
}
