//! Where wasivfs keeps what it caches between runs: one directory, one variable.
//!
//! `$WASIVFS_CACHE` if set and not empty, else `wasivfs` in the user's cache directory
//! (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, the local application
//! data folder on Windows). Inside it:
//!
//! - `modules/`: compiled modules of `wasivfs run` (see [`crate::cache`]);
//! - `runners/`: `wasivfs exe` runners built for other targets.

use std::path::PathBuf;

/// Environment variable naming the cache directory (used as is, created when first needed).
pub const CACHE_ENV: &str = "WASIVFS_CACHE";

/// The cache directory, or `None` when neither [`CACHE_ENV`] nor a user cache directory (a home
/// directory) is known.
pub fn cache_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("wasivfs"))
}

/// The subdirectory `name` of [`cache_root`].
pub fn cache_subdir(name: &str) -> Option<PathBuf> {
    cache_root().map(|root| root.join(name))
}
