//! Packing for the differential tests, through the packer library in-process.

use crate::run::Map;
use anyhow::Result;
use std::path::Path;

/// Packs `mounts` into the module at `input`, writing `output`.
pub fn pack_file(input: &Path, mounts: &[Map], output: &Path) -> Result<()> {
    let mut args: Vec<std::ffi::OsString> = vec!["pack".into(), input.into()];
    for m in mounts {
        let mut v = std::ffi::OsString::from(format!("{}::", m.guest));
        v.push(&m.host);
        args.push("--mapdir".into());
        args.push(v);
    }
    args.push("-o".into());
    args.push(output.into());
    let out = crate::cli::wasivfs(&args);
    if !out.status.success() {
        anyhow::bail!(
            "wasivfs pack failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
