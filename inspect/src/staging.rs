//! Writing a directory tree all or nothing: it is built in a fresh staging directory beside the
//! destination and renamed into place only when complete, so a failure (a corrupt image found
//! half-way, a full disk) leaves no partial output behind.

use std::path::{Path, PathBuf};

use crate::InspectError;

/// Runs `build` on a fresh staging directory, then renames it to `dest` (which must not exist,
/// or be an empty directory, which it replaces). On any error the staging directory is removed.
/// `dest`'s missing parent directories are created first.
pub fn staged<T>(
    dest: &Path,
    build: impl FnOnce(&Path) -> Result<T, InspectError>,
) -> Result<T, InspectError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InspectError::Io { path, source }
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let stage = fresh_dir(&parent, dest).map_err(io(&parent))?;
    let result = build(&stage).and_then(|value| {
        if std::fs::rename(&stage, dest).is_err() {
            // `dest` is an existing empty directory that cannot be replaced (`.`, a mount
            // point): move the entries into it instead; only the finished tree is moved.
            move_entries(&stage, dest).map_err(io(dest))?;
            let _ = std::fs::remove_dir(&stage);
        }
        Ok(value)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&stage);
    }
    result
}

fn move_entries(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        std::fs::rename(e.path(), to.join(e.file_name()))?;
    }
    Ok(())
}

/// Creates a new directory in `parent` named after `dest`, trying numbered names until one is free.
fn fresh_dir(parent: &Path, dest: &Path) -> std::io::Result<PathBuf> {
    let stem = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut n = 0u32;
    loop {
        let candidate = parent.join(format!(".{stem}.unpack-{}-{n}", std::process::id()));
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_leaves_nothing_and_success_renames() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let err = staged(&dest, |stage| {
            std::fs::write(stage.join("partial"), b"x").unwrap();
            Err::<(), _>(InspectError::NotPacked)
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        staged(&dest, |stage| {
            std::fs::write(stage.join("f"), b"x").map_err(|source| InspectError::Io {
                path: stage.to_path_buf(),
                source,
            })
        })
        .unwrap();
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
