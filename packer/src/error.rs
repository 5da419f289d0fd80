//! The error type of the pack pipeline: every error names the file it is about and the reason.

use std::path::PathBuf;

/// Why a pack failed. Displays as one line: `<file>: <reason>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// An I/O error on a host file or directory.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A host tree entry that cannot be packed (special file, escaping symlink, bad name, ...).
    #[error("{}: {reason}", path.display())]
    Entry {
        /// The entry.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The input module cannot be packed, or merging failed.
    #[error("{}: {source}", path.display())]
    Module {
        /// The input module.
        path: PathBuf,
        /// The underlying error.
        source: wasivfs_trampoline_gen::MergeError,
    },
    /// The tree cannot be laid out as an image (too large, duplicate mount, ...).
    #[error("{}: {source}", what)]
    Layout {
        /// The mapping or tree concerned (e.g. `--mapdir /src`).
        what: String,
        /// The underlying error.
        source: wasivfs_image::builder::BuildError,
    },
    /// Pre-initializing the VFS failed.
    #[error("{}: cannot snapshot the VFS: {reason}", input.display())]
    Snapshot {
        /// The input module being packed.
        input: PathBuf,
        /// Why.
        reason: String,
    },
    /// The pack options are inconsistent.
    #[error("{what}: {reason}")]
    Options {
        /// The option concerned.
        what: String,
        /// Why.
        reason: String,
    },
}

impl PackError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PackError::Io {
            path: path.into(),
            source,
        }
    }

    /// An unpackable entry at `path`.
    pub fn entry(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        PackError::Entry {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = PackError> = std::result::Result<T, E>;
