//! Where the runner an executable is made from comes from.
//!
//! - `--runner PATH` ([`crate::ExeOptions::runner`]): that file, for the chosen target.
//! - The target wasivfs itself was built for: the runner built into wasivfs (its build script
//!   builds `runner/` and embeds it).
//! - Any other supported target: a runner built on first use with cargo, from the runner's
//!   sources embedded in wasivfs, and kept in the cache:
//!   `<cache>/runners/<version>-<sources hash>/<triple>/wasivfs-exe-runner[.exe]`, where
//!   `<cache>` is wasivfs's cache directory (`$WASIVFS_CACHE`, else `wasivfs` in the user's
//!   cache directory; see `wasivfs_module_cache::location`).
//!   The build's log stays next to it; its target directory is removed once it succeeds.

use std::borrow::Cow;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};

use crate::embedded::{BUILTIN_RUNNER, RUNNER_SOURCES, RUNNER_SOURCES_KEY};
use crate::target::Target;
use crate::toolchain::{self, Missing};

pub use wasivfs_module_cache::location::{cache_root, CACHE_ENV};

/// Where a runner came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerOrigin {
    /// Given with `--runner`.
    Explicit(PathBuf),
    /// Built into wasivfs.
    BuiltIn,
    /// Found in the cache.
    Cached(PathBuf),
    /// Built just now, and kept in the cache.
    Built(PathBuf),
}

/// A runner binary for a target.
#[derive(Debug, Clone)]
pub struct Runner {
    /// Its bytes.
    pub bytes: Cow<'static, [u8]>,
    /// Where it came from.
    pub origin: RunnerOrigin,
}

/// The runner built into this wasivfs (for [`builtin_target`]).
pub fn builtin_runner() -> &'static [u8] {
    BUILTIN_RUNNER
}

/// The target triple of [`builtin_runner`]: the one wasivfs itself was built for.
pub fn builtin_target() -> &'static str {
    crate::embedded::BUILTIN_TARGET
}

/// The directory of runners built from this wasivfs's embedded sources.
fn runners_dir() -> Result<PathBuf> {
    match wasivfs_module_cache::location::cache_subdir("runners") {
        Some(d) => Ok(d.join(RUNNER_SOURCES_KEY)),
        None => bail!("no cache directory for runners: set {CACHE_ENV} or HOME"),
    }
}

/// The key of the runner sources built into this wasivfs (`<version>-<hash of every file>`):
/// runners built from them are cached under it, and it is the same wherever the sources come
/// from (the workspace or the packaged crates).
pub fn sources_key() -> &'static str {
    RUNNER_SOURCES_KEY
}

/// Where the cached runner for `target` is (whether or not it exists yet).
pub fn cached_runner_path(target: &Target) -> Result<PathBuf> {
    Ok(runners_dir()?
        .join(target.triple)
        .join(target.runner_file_name()))
}

/// Whether `target` can be built for on this machine now, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// The built-in runner serves it.
    BuiltIn,
    /// Its runner is in the cache.
    Cached(PathBuf),
    /// Its runner can be built (on first use).
    Buildable,
    /// Its runner cannot be built: something is missing.
    Missing(Missing),
}

/// How `target`'s runner would be obtained right now.
pub fn availability(target: &Target) -> Availability {
    if target.is_builtin() {
        return Availability::BuiltIn;
    }
    let Ok(path) = cached_runner_path(target) else {
        return Availability::Missing(Missing {
            triple: target.triple,
            rust: false,
            commands: vec![format!(
                "export {CACHE_ENV}=DIR  # no HOME to cache runners in"
            )],
        });
    };
    if path.is_file() {
        return Availability::Cached(path);
    }
    match toolchain::prepare(target, &build_cwd()) {
        Ok(_) => Availability::Buildable,
        Err(m) => Availability::Missing(m),
    }
}

/// The directory cargo runs in: the cache when it exists (only the user's own cargo
/// configuration applies there), else the system's temporary directory.
fn build_cwd() -> PathBuf {
    match runners_dir() {
        Ok(d) if d.is_dir() => d,
        _ => std::env::temp_dir(),
    }
}

/// The runner to make an executable for `target` from: `explicit` if given (checked against
/// the target), the built-in one for its own target, else the cached one, built first if
/// needed (saying so on stderr when `progress`).
pub fn runner_for(target: &Target, explicit: Option<&Path>, progress: bool) -> Result<Runner> {
    if let Some(path) = explicit {
        let bytes =
            fs::read(path).with_context(|| format!("cannot read runner {}", path.display()))?;
        target
            .check_runner(&bytes)
            .with_context(|| format!("runner {} is unusable", path.display()))?;
        return Ok(Runner {
            bytes: Cow::Owned(bytes),
            origin: RunnerOrigin::Explicit(path.to_path_buf()),
        });
    }
    if target.is_builtin() {
        return Ok(Runner {
            bytes: Cow::Borrowed(BUILTIN_RUNNER),
            origin: RunnerOrigin::BuiltIn,
        });
    }
    let path = cached_runner_path(target)?;
    if let Some(bytes) = read_cached(target, &path) {
        return Ok(Runner {
            bytes: Cow::Owned(bytes),
            origin: RunnerOrigin::Cached(path),
        });
    }
    build_runner(target, &path, progress)
}

/// The cached runner at `path`, if it is there and fit for `target`.
fn read_cached(target: &Target, path: &Path) -> Option<Vec<u8>> {
    let bytes = fs::read(path).ok()?;
    target.check_runner(&bytes).ok()?;
    Some(bytes)
}

/// Writes the runner's build tree (its sources and those of its path dependencies, as built into
/// this wasivfs) into `dir`, and returns the path of the runner's manifest there.
pub fn write_sources(dir: &Path) -> Result<PathBuf> {
    for (rel, contents) in RUNNER_SOURCES {
        let file = dir.join(rel);
        if let Some(parent) = file.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::write(&file, contents).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(dir.join("Cargo.toml"))
}

/// Builds the runner for `target` into the cache at `path`, one build per target at a time.
fn build_runner(target: &Target, path: &Path, progress: bool) -> Result<Runner> {
    let dir = runners_dir()?;
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let env = toolchain::prepare(target, &dir)?;

    // One build per target at a time; whoever waited finds the runner built.
    let lock_path = dir.join(format!("{}.lock", target.triple));
    let lock = File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    if let Some(bytes) = read_cached(target, path) {
        return Ok(Runner {
            bytes: Cow::Owned(bytes),
            origin: RunnerOrigin::Cached(path.to_path_buf()),
        });
    }

    let manifest = write_sources(&dir.join(format!("src-{}", target.triple)))?;
    let build_dir = dir.join(format!("build-{}", target.triple));
    let log_path = dir.join(format!("{}.log", target.triple));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    if progress {
        eprintln!(
            "wasivfs exe: building the runner for {} with cargo; this happens once and takes a \
             few minutes (log: {})",
            target.triple,
            log_path.display()
        );
    }
    let mut cmd = wasivfs_nested_cargo::release_build(
        &env.cargo.clone().into_os_string(),
        &manifest,
        target.triple,
        &build_dir,
        &[],
    );
    cmd.arg("--locked")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", env.cargo.display()))?;
    if !status.success() {
        let first_error = fs::read_to_string(&log_path)
            .ok()
            .and_then(|log| {
                log.lines()
                    .map(str::trim)
                    .find(|l| l.starts_with("error"))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("cargo exited with {status}"));
        bail!(
            "building the runner for {} failed: {first_error} (log: {})",
            target.triple,
            log_path.display()
        );
    }
    let built = build_dir
        .join(target.triple)
        .join("release")
        .join(target.runner_file_name());
    let bytes = fs::read(&built).with_context(|| format!("cannot read {}", built.display()))?;
    target
        .check_runner(&bytes)
        .with_context(|| format!("the runner built at {} is unusable", built.display()))?;
    let parent = path.parent().unwrap_or(&dir);
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    std::io::Write::write_all(&mut tmp, &bytes)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // The build directory is only needed again for other sources (another wasivfs version).
    let _ = fs::remove_dir_all(&build_dir);
    Ok(Runner {
        bytes: Cow::Owned(bytes),
        origin: RunnerOrigin::Built(path.to_path_buf()),
    })
}
