//! `cargo xtask dist [--host]`: builds every artifact of a wasivfs release into `dist/`.
//!
//! - `wasivfs-<version>-<target-triple>[.exe]`: static binaries (musl Linux, MinGW Windows);
//! - `wasivfs-<version>-py3-none-<platforms>.whl`: Python wheels around them;
//! - `wasivfs-<version>.tgz` and `wasivfs-<os>-<cpu>-<version>.tgz`: the npm packages;
//! - `crates/*.crate`: the crates, as `cargo publish` would upload them;
//! - `SHA256SUMS` of all of the above.
//!
//! The binaries are built by `cargo install` from the packaged crates alone (a directory
//! registry, offline), with every path of the build remapped and every archive dated
//! `SOURCE_DATE_EPOCH` (default: the commit's time): two builds of one commit in one work
//! directory are identical (across directories, see docs/distribution.md).

mod archive;
mod crates;
mod npm;
mod project;
mod targets;
mod wheel;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};

use crate::project::Project;
use crate::targets::DistTarget;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "The wasivfs project's own tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the release artifacts (binaries, wheels, npm packages, crates) into a directory.
    Dist {
        /// Only this machine's platform (what CI builds): its binary, wheel and npm packages.
        #[arg(long)]
        host: bool,
        /// Where the artifacts go; replaced as a whole once everything is built.
        #[arg(long, default_value = "dist")]
        out: PathBuf,
        /// Where the build works (its cargo home, registry and target directory).
        #[arg(long)]
        work: Option<PathBuf>,
    },
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent directory")?;
    let Task::Dist { host, out, work } = cli.task;
    let targets: Vec<DistTarget> = if host {
        match DistTarget::host() {
            Some(t) => vec![t],
            None => bail!(
                "wasivfs ships no binary for this machine ({}-{})",
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
        }
    } else {
        targets::ALL.to_vec()
    };
    let out = absolute(&out)?;
    let work = absolute(&work.unwrap_or_else(|| root.join("target").join("dist-work")))?;
    dist(root, &targets, &out, &work)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p)
        .with_context(|| format!("{}: cannot make the path absolute", p.display()))
}

fn dist(root: &Path, targets: &[DistTarget], out: &Path, work: &Path) -> Result<()> {
    let project = Project::load(root)?;
    let epoch = project::source_date_epoch(root)?;
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    // One build at a time per work directory (the distribution test's and a developer's, say): a
    // second waits here, then finds everything built.
    let lock_path = work.join(".lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        eprintln!(
            "xtask dist: waiting for the other build in {}",
            work.display()
        );
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    }
    let staging = work.join("out");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot remove {}", staging.display()))?;
    }
    std::fs::create_dir_all(staging.join("crates"))?;

    eprintln!("xtask dist: packaging the crates");
    let crates = crates::package(&project, work)?;
    for krate in &crates {
        let name = krate
            .file_name()
            .context("a .crate path has no file name")?;
        copy(krate, &staging.join("crates").join(name))?;
    }
    eprintln!("xtask dist: a registry of the packaged crates and their dependencies");
    let home = crates::registry(&project, work, &crates)?;

    let v = &project.version;
    for target in targets {
        eprintln!(
            "xtask dist: building wasivfs for {} from the packaged crates",
            target.triple
        );
        let built = crates::install(&project, work, &home, target)?;
        let binary =
            std::fs::read(&built).with_context(|| format!("cannot read {}", built.display()))?;
        crates::check_runner_sources(&built, &binary)?;
        let name = format!("wasivfs-{v}-{}{}", target.triple, target.exe_suffix);
        write(&staging.join(name), &binary)?;
        set_executable(&staging.join(format!(
            "wasivfs-{v}-{}{}",
            target.triple, target.exe_suffix
        )))?;
        wheel::write(&staging, &project, target, &binary, epoch)?;
        let package = target.npm_package();
        write(
            &staging.join(npm::file_name(&package, v)),
            &npm::platform_package(&project, target, &binary, epoch)?,
        )?;
    }
    write(
        &staging.join(npm::file_name("wasivfs", v)),
        &npm::main_package(&project, targets::ALL, epoch)?,
    )?;
    let sums = sha256sums(&staging)?;
    write(&staging.join("SHA256SUMS"), sums.as_bytes())?;

    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot remove {}", out.display()))?;
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&staging, out)
        .or_else(|_| copy_dir(&staging, out))
        .with_context(|| format!("cannot move the artifacts to {}", out.display()))?;
    eprintln!("xtask dist: artifacts in {}:", out.display());
    for line in sums.lines() {
        let file = line.split_whitespace().last().unwrap_or_default();
        let size = std::fs::metadata(out.join(file))
            .map(|m| m.len())
            .unwrap_or(0);
        eprintln!("  {file:<90} {:>6.1} MB", size as f64 / 1e6);
    }
    Ok(())
}

/// `SHA256SUMS` in the format `sha256sum -c` reads: every file of `dir` and `dir/crates`.
fn sha256sums(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    for sub in ["", "crates"] {
        for entry in std::fs::read_dir(dir.join(sub))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let name = entry.file_name().into_string().map_err(|n| {
                    anyhow::anyhow!("artifact name {} is not UTF-8", n.to_string_lossy())
                })?;
                files.push(if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                });
            }
        }
    }
    files.sort();
    let mut out = String::new();
    for f in files {
        let bytes = std::fs::read(dir.join(&f))?;
        out.push_str(&format!("{}  {f}\n", crates::hex(&Sha256::digest(&bytes))));
    }
    Ok(out)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<()> {
    Ok(())
}
