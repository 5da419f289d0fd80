//! The crates as crates.io would serve them, and the binaries built from them: `cargo package`,
//! a directory registry holding those `.crate` files beside every dependency (vendored), and
//! `cargo install` from that registry alone, offline. A binary built this way proves that the
//! packaged sources are complete, the exe runner's and the VFS guest's included.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::project::{cargo, Project};
use crate::targets::DistTarget;

/// The release profile of the distributed binaries, on top of `[profile.release]`. Chosen from
/// measurements (docs/benchmarks.md, "Binary size"): stripping is most of the gain.
pub const DIST_PROFILE: &[&str] = &["profile.release.strip=true"];

/// What every path of the work directory is mapped to inside the binaries.
const REMAPPED_WORK: &str = "/wasivfs-dist";

/// A cargo command with the outer cargo's settings removed (this task runs under `cargo run`).
fn clean_cargo() -> Command {
    let mut cmd = Command::new(cargo());
    for var in wasivfs_nested_cargo::OUTER_BUILD_VARIABLES {
        cmd.env_remove(var);
    }
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// `cargo package --workspace` into `work/package`; returns the `.crate` files of the publishable
/// packages.
pub fn package(project: &Project, work: &Path) -> Result<Vec<PathBuf>> {
    let target_dir = work.join("package");
    let mut cmd = clean_cargo();
    cmd.args([
        "package",
        "--workspace",
        "--no-verify",
        "--allow-dirty",
        "--quiet",
    ])
    .arg("--manifest-path")
    .arg(project.root.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(&target_dir);
    run(cmd, "cargo package --workspace")?;
    Ok(project
        .publishable
        .iter()
        .map(|name| {
            target_dir
                .join("package")
                .join(format!("{name}-{}.crate", project.version))
        })
        .collect())
}

/// A cargo home whose only registry is a directory holding `crates` and every dependency of the
/// workspace and of the exe runner; returns its path (use it as `CARGO_HOME`).
pub fn registry(project: &Project, work: &Path, crates: &[PathBuf]) -> Result<PathBuf> {
    let home = work.join("home");
    let vendor = home.join("registry-dir");
    let runner = wasivfs_exe::runner::write_sources(&work.join("runner-tree"))?;
    // Vendoring copies ~500 MB: done again only when a lock file changed.
    let mut locks = Vec::new();
    for lock in [
        project.root.join("Cargo.lock"),
        runner.with_file_name("Cargo.lock"),
    ] {
        locks.extend(
            std::fs::read(&lock).with_context(|| format!("cannot read {}", lock.display()))?,
        );
    }
    let stamp_path = home.join("registry-dir.locks");
    let stamp = hex(&Sha256::digest(&locks));
    if std::fs::read_to_string(&stamp_path).ok().as_deref() != Some(stamp.as_str()) {
        if vendor.exists() {
            std::fs::remove_dir_all(&vendor)
                .with_context(|| format!("cannot remove {}", vendor.display()))?;
        }
        let mut cmd = clean_cargo();
        cmd.args(["vendor", "--versioned-dirs", "--locked", "--quiet"])
            .arg("--manifest-path")
            .arg(project.root.join("Cargo.toml"))
            .arg("--sync")
            .arg(&runner)
            .arg(&vendor)
            .stdout(std::process::Stdio::null());
        run(cmd, "cargo vendor")?;
        std::fs::write(&stamp_path, &stamp)
            .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    }
    for krate in crates {
        if add_crate(&vendor, krate)? {
            forget_builds(&work.join("build"), krate, &project.version)?;
        }
    }
    let config = format!(
        "[source.crates-io]\nreplace-with = \"wasivfs-dist\"\n\n\
         [source.wasivfs-dist]\ndirectory = {:?}\n\n[net]\noffline = true\n",
        vendor
            .to_str()
            .context("the work directory's path is not UTF-8")?
    );
    std::fs::write(home.join("config.toml"), config).context("cannot write the cargo config")?;
    Ok(home)
}

/// Removes what the work directory's builds made of the crate packaged as `krate`. Cargo takes a
/// registry crate of a given version for unchanging, so after its contents changed (same version,
/// new sources) it would reuse the old build: without its fingerprints, it and every crate that
/// depends on it are built again.
fn forget_builds(build: &Path, krate: &Path, version: &str) -> Result<()> {
    let stem = krate
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let Some(name) = stem.strip_suffix(&format!("-{version}")) else {
        bail!("{}: not named <crate>-{version}.crate", krate.display());
    };
    let Ok(entries) = std::fs::read_dir(build) else {
        return Ok(()); // Nothing built yet.
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if entry.file_name() != ".fingerprint" {
            forget_builds_in(&path, name)?;
            forget_builds(&path, krate, version)?;
        }
    }
    Ok(())
}

/// Removes the fingerprints of package `name` (`<name>-<hash>`) from `dir/.fingerprint`.
fn forget_builds_in(dir: &Path, name: &str) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir.join(".fingerprint")) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.rsplit_once('-').is_some_and(|(n, _)| n == name) {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Unpacks a `.crate` file into the directory registry, with the checksums cargo checks; says
/// whether it was new or changed.
fn add_crate(vendor: &Path, krate: &Path) -> Result<bool> {
    let bytes = std::fs::read(krate).with_context(|| format!("cannot read {}", krate.display()))?;
    let stem = krate
        .file_stem()
        .and_then(|s| s.to_str())
        .context("a .crate file name is not UTF-8")?;
    let package = hex(&Sha256::digest(&bytes));
    let dir = vendor.join(stem);
    let checksum_path = dir.join(".cargo-checksum.json");
    let present = std::fs::read(&checksum_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    if present.is_some_and(|v| v["package"] == package.as_str()) {
        return Ok(false); // Unchanged: left as it is, so that nothing built from it is rebuilt.
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let mut files = serde_json::Map::new();
    let mut archive = tar::Archive::new(GzDecoder::new(bytes.as_slice()));
    for entry in archive.entries().context("reading a .crate")? {
        let mut entry = entry.with_context(|| format!("reading {}", krate.display()))?;
        let path = entry.path()?.into_owned();
        let rel = path
            .strip_prefix(stem)
            .with_context(|| {
                format!(
                    "{}: entry {} outside {stem}/",
                    krate.display(),
                    path.display()
                )
            })?
            .to_path_buf();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)?;
        let dest = dir.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&dest, &data).with_context(|| format!("cannot write {}", dest.display()))?;
        let key = rel
            .to_str()
            .context("a packaged file name is not UTF-8")?
            .replace('\\', "/");
        files.insert(key, hex(&Sha256::digest(&data)).into());
    }
    let checksum = serde_json::json!({ "files": files, "package": package });
    std::fs::write(&checksum_path, serde_json::to_vec(&checksum)?)
        .with_context(|| format!("cannot write {}", checksum_path.display()))?;
    Ok(true)
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The variable through which `wasivfs-exe`'s build script takes a runner built elsewhere.
const BUILTIN_RUNNER_ENV: &str = "WASIVFS_BUILTIN_RUNNER";

/// The runner for `target`, as `wasivfs exe --target` gets it: from wasivfs's runner cache
/// (`$WASIVFS_CACHE/runners`, else the user's cache directory), built there first from the runner
/// sources this task was built with if it is not there yet. Those are the sources the packaged
/// `wasivfs-exe` carries, and runner builds are independent of where they run (see
/// docs/distribution.md), so it is the runner the package's own build script would make, and a
/// machine builds it once for `cargo xtask dist` and `wasivfs exe` alike. Written to
/// `work/runners/<triple>/` (rewritten only when it changed, so cargo does not rebuild for
/// nothing); returns that path.
fn runner(work: &Path, target: &wasivfs_exe::Target) -> Result<PathBuf> {
    let built = wasivfs_exe::runner::runner_for(target, None, true)
        .with_context(|| format!("cannot get the runner for {}", target.triple))?;
    let path = work
        .join("runners")
        .join(target.triple)
        .join(target.runner_file_name());
    wasivfs_nested_cargo::write_if_changed(&path, &built.bytes)
        .map_err(|e| anyhow::anyhow!("cannot write the runner: {e}"))?;
    Ok(path)
}

/// Checks that `binary` (built from the packaged crates by [`install`]; `bytes` are its contents)
/// carries the runner sources this task was built with, by their key: then the runner of
/// [`runner`], built from those sources, is the one its packaged `wasivfs-exe` would have built,
/// and the sources it embeds for other targets are complete (they built that runner).
pub fn check_runner_sources(binary: &Path, bytes: &[u8]) -> Result<()> {
    let key = wasivfs_exe::runner::sources_key().as_bytes();
    if !bytes.windows(key.len()).any(|w| w == key) {
        bail!(
            "{}: its exe runner sources (from the packaged crates) differ from the workspace's \
             (key {}); a file of the runner's tree is missing from a package or changed by packaging",
            binary.display(),
            wasivfs_exe::runner::sources_key()
        );
    }
    Ok(())
}

/// `cargo install wasivfs` for `target` from the registry in `home`, offline and locked, with
/// [`DIST_PROFILE`] and every path of `work` remapped, and the runner of [`runner`] built in;
/// returns the binary (to be checked with [`check_runner_sources`]).
pub fn install(
    project: &Project,
    work: &Path,
    home: &Path,
    target: &DistTarget,
) -> Result<PathBuf> {
    let root = work.join("install").join(target.triple);
    let exe_target = wasivfs_exe::Target::parse(target.triple)?;
    let env = wasivfs_exe::prepare_toolchain(&exe_target, work).map_err(anyhow::Error::new)?;
    let runner = runner(work, &exe_target)?;
    let mut cmd = clean_cargo();
    cmd.args([
        "install",
        "wasivfs",
        "--locked",
        "--force",
        "--target",
        target.triple,
    ])
    .arg("--version")
    .arg(format!("={}", project.version))
    .arg("--root")
    .arg(&root)
    .arg("--target-dir")
    .arg(work.join("build"))
    .env("CARGO_HOME", home)
    .current_dir(work);
    for setting in DIST_PROFILE {
        cmd.arg("--config").arg(setting);
    }
    let work_str = work
        .to_str()
        .context("the work directory's path is not UTF-8")?;
    cmd.arg("--config").arg(format!(
        "build.rustflags=[\"--remap-path-prefix={work_str}={REMAPPED_WORK}\"]"
    ));
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    cmd.env(BUILTIN_RUNNER_ENV, &runner);
    run(
        cmd,
        &format!("cargo install wasivfs --target {}", target.triple),
    )?;
    Ok(root.join("bin").join(target.binary_name()))
}
