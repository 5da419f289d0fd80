//! Atomic output of the packed module (see [`wasivfs_atomic_write`]): a temporary file next to the
//! target replaces it only once complete, with the permissions of the file it replaces.

use crate::error::{PackError, Result};
use std::path::Path;
use wasivfs_atomic_write::{Mode, Options, WriteError};

/// Not flushed to disk before the rename (see the crate's documentation for why).
const OUTPUT: Options = Options {
    mode: Mode::LikeReplaced,
    durable: false,
};

/// Writes `bytes` to `path` atomically, calling `on_progress` with the bytes written so far.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    on_progress: &mut dyn FnMut(u64),
) -> Result<()> {
    wasivfs_atomic_write::write_parts(path, &[bytes], OUTPUT, on_progress)
        .map(drop)
        .map_err(|e| match e {
            WriteError::Create { .. } => PackError::entry(path, e.to_string()),
            WriteError::Write { source } => PackError::io(path, source),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("taken");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep"), b"x").unwrap();
        let err = write_atomic_with(&out, b"data", &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("taken"), "{err}");
        let missing = dir.path().join("no/such/dir/out.wasm");
        let err = write_atomic_with(&missing, b"data", &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("out.wasm") && err.contains("No such file"),
            "{err}"
        );
        assert!(!err.contains(".wasivfs-"), "{err}");
    }
}
