//! Atomic output: bytes go to a temporary file next to the target, which replaces the target only
//! once it is complete. On any failure the target is untouched and no temporary file remains.

use crate::error::{PackError, Result};
use std::io::Write;
use std::path::Path;

/// Bytes written between two progress reports.
const CHUNK: usize = 4 << 20;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, bytes, &mut |_| {})
}

/// [`write_atomic`], calling `on_progress` with the bytes written so far after each chunk.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    on_progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".wasivfs-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            PackError::entry(
                path,
                format!(
                    "cannot create a file in {}: {}",
                    dir.display(),
                    plain_io_message(&e)
                ),
            )
        })?;
    let mut done = 0u64;
    for chunk in bytes.chunks(CHUNK) {
        tmp.write_all(chunk).map_err(|e| PackError::io(path, e))?;
        done += chunk.len() as u64;
        on_progress(done);
    }
    // No fsync: the rename below already guarantees that no reader ever sees a partial file, and
    // flushing a 100+ MB output to disk would cost more than the rest of the pack.
    set_permissions(tmp.as_file(), path)?;
    tmp.persist(path)
        .map_err(|e| PackError::io(path, e.error))?;
    Ok(())
}

/// An I/O error's message without the path tempfile appends to it.
fn plain_io_message(e: &std::io::Error) -> String {
    let msg = e.to_string();
    match msg.find(" at path ") {
        Some(end) => msg[..end].to_string(),
        None => msg,
    }
}

/// Gives the new file the permissions of the file it replaces, or `rw-r--r--`.
#[cfg(unix)]
fn set_permissions(file: &std::fs::File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let perms = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.permissions(),
        _ => std::fs::Permissions::from_mode(0o644),
    };
    file.set_permissions(perms)
        .map_err(|e| PackError::io(path, e))
}

#[cfg(not(unix))]
fn set_permissions(_: &std::fs::File, _: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".wasivfs-"))
            .collect()
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.wasm");
        write_atomic(&out, b"first").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"first");
        write_atomic(&out, b"second").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn failure_leaves_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails.
        let out = dir.path().join("taken");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep"), b"x").unwrap();
        let err = write_atomic(&out, b"data").unwrap_err();
        assert!(err.to_string().contains("taken"), "{err}");
        assert_eq!(std::fs::read(out.join("keep")).unwrap(), b"x");
        assert!(leftovers(dir.path()).is_empty());
        // A missing directory is an error naming the output.
        let missing = dir.path().join("no/such/dir/out.wasm");
        let err = write_atomic(&missing, b"data").unwrap_err().to_string();
        assert!(
            err.contains("out.wasm") && err.contains("No such file"),
            "{err}"
        );
        assert!(!err.contains(".wasivfs-"), "{err}");
    }
}
