//! Writing a file all or nothing, the one way every wasivfs output is written (packed modules,
//! executables, the run cache's artifacts and records).
//!
//! The bytes go to a temporary file in the target's directory, which is renamed over the target
//! only once complete: a reader sees the old file or the new one, never a part, and on any error
//! the target is untouched and no temporary file remains.
//!
//! Durability is a choice of the caller ([`Options::durable`]). Outputs a user asked for are not
//! flushed to disk before the rename, as compilers and linkers do not flush theirs: flushing a
//! 100+ MB module costs more than packing it, and a crash just means running the command again.
//! Files that something else later vouches for (a cache artifact whose checksum record is written
//! next) must be durable first, or a crash could leave a record describing a file of zeros.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The permissions the new file gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Those of the file it replaces, else `rw-r--r--`.
    LikeReplaced,
    /// `rwxr-xr-x`: an executable.
    Executable,
    /// `rw-------`: private to the user (a cache entry).
    Private,
}

/// How to write.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The new file's permissions.
    pub mode: Mode,
    /// Flush the data to disk before the rename.
    pub durable: bool,
}

/// Why a write failed; the target is untouched either way.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// No temporary file could be made in the target's directory (missing, read-only, full).
    #[error("cannot create a file in {}: {source}", dir.display())]
    Create {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing, flushing or renaming failed.
    #[error("{source}")]
    Write {
        /// The OS error.
        source: std::io::Error,
    },
}

/// Bytes written between two progress reports.
const CHUNK: usize = 4 << 20;

/// Prefix of the temporary files (they start with a dot, so listings hide them).
pub const TEMP_PREFIX: &str = ".wasivfs-";

/// Writes `bytes` to `path` all or nothing and returns the new file (open for writing).
pub fn write(path: &Path, bytes: &[u8], opts: Options) -> Result<File, WriteError> {
    write_parts(path, &[bytes], opts, &mut |_| {})
}

/// Writes the concatenation of `parts` to `path` all or nothing, calling `on_progress` with the
/// bytes written so far after each chunk, and returns the new file (open for writing).
pub fn write_parts(
    path: &Path,
    parts: &[&[u8]],
    opts: Options,
    on_progress: &mut dyn FnMut(u64),
) -> Result<File, WriteError> {
    let pending = create(path)?;
    let write = |e| WriteError::Write { source: e };
    let mut done = 0u64;
    for part in parts {
        for chunk in part.chunks(CHUNK) {
            pending.file().write_all(chunk).map_err(write)?;
            done += chunk.len() as u64;
            on_progress(done);
        }
    }
    pending.commit(opts)
}

/// A file being written all or nothing, for outputs produced piece by piece: a temporary file in
/// the target's directory, renamed over the target by [`Pending::commit`]. Dropped without a
/// commit (an error, a panic), it is removed and the target is untouched.
pub struct Pending {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

/// Starts writing `path`: creates the temporary file beside it.
pub fn create(path: &Path) -> Result<Pending, WriteError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| WriteError::Create {
            dir: dir.to_path_buf(),
            source: without_temp_path(e),
        })?;
    Ok(Pending {
        tmp,
        path: path.to_path_buf(),
    })
}

impl Pending {
    /// The temporary file, open for reading and writing (`&File` implements `Write`).
    pub fn file(&self) -> &File {
        self.tmp.as_file()
    }

    /// Flushes it to disk if `opts` says so, gives it its permissions and renames it over the
    /// target; returns the new file (open for writing).
    pub fn commit(self, opts: Options) -> Result<File, WriteError> {
        let write = |e| WriteError::Write { source: e };
        if opts.durable {
            self.tmp.as_file().sync_all().map_err(write)?;
        }
        set_mode(self.tmp.as_file(), &self.path, opts.mode).map_err(write)?;
        self.tmp.persist(&self.path).map_err(|e| write(e.error))
    }
}

/// The error without the " at path <temporary file>" tempfile appends: the user never asked for
/// that file and it no longer exists.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let msg = e.to_string();
    match msg.find(" at path ") {
        Some(end) => std::io::Error::new(e.kind(), msg[..end].to_string()),
        None => e,
    }
}

#[cfg(unix)]
fn set_mode(file: &File, path: &Path, mode: Mode) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let perms = match mode {
        Mode::LikeReplaced => match std::fs::metadata(path) {
            Ok(m) if m.is_file() => m.permissions(),
            _ => std::fs::Permissions::from_mode(0o644),
        },
        Mode::Executable => std::fs::Permissions::from_mode(0o755),
        Mode::Private => std::fs::Permissions::from_mode(0o600),
    };
    file.set_permissions(perms)
}

#[cfg(not(unix))]
fn set_mode(_: &File, _: &Path, _: Mode) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Options = Options {
        mode: Mode::LikeReplaced,
        durable: false,
    };

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect()
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.wasm");
        write(&out, b"first", PLAIN).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"first");
        let mut seen = Vec::new();
        write_parts(
            &out,
            &[b"sec", b"ond"],
            Options {
                mode: Mode::Executable,
                durable: true,
            },
            &mut |n| seen.push(n),
        )
        .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"second");
        assert_eq!(seen, [3, 6]);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("f");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        write(&out, b"x", PLAIN).unwrap();
        assert_eq!(mode(&out), 0o644);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&out, b"y", PLAIN).unwrap();
        assert_eq!(mode(&out), 0o640);
        let private = Options {
            mode: Mode::Private,
            durable: false,
        };
        write(&out, b"z", private).unwrap();
        assert_eq!(mode(&out), 0o600);
    }

    #[test]
    fn failure_leaves_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails.
        let out = dir.path().join("taken");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep"), b"x").unwrap();
        assert!(matches!(
            write(&out, b"data", PLAIN),
            Err(WriteError::Write { .. })
        ));
        assert_eq!(std::fs::read(out.join("keep")).unwrap(), b"x");
        assert!(leftovers(dir.path()).is_empty());
        // A missing directory names the directory, not the temporary file.
        let missing = dir.path().join("no/such/dir/out.wasm");
        let err = write(&missing, b"data", PLAIN).unwrap_err().to_string();
        assert!(
            err.contains("no/such/dir") && err.contains("No such file"),
            "{err}"
        );
        assert!(!err.contains(TEMP_PREFIX), "{err}");
    }

    #[test]
    fn pending_written_in_pieces_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.wasm");
        write(&out, b"old", PLAIN).unwrap();
        let pending = create(&out).unwrap();
        pending.file().write_all(b"ne").unwrap();
        pending.file().write_all(b"w").unwrap();
        // Until the commit the target is the old file; a dropped write leaves nothing.
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        drop(pending);
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty());
        let pending = create(&out).unwrap();
        pending.file().write_all(b"new").unwrap();
        pending.commit(PLAIN).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }
}
