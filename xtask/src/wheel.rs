//! The Python wheel: the static binary as the wheel's `wasivfs` script (pip puts it on PATH),
//! and the small `wasivfs` package for `python -m wasivfs`.

use std::path::Path;

use anyhow::{Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::archive::{self, Entry};
use crate::project::Project;
use crate::targets::DistTarget;

/// The Python sources of the wheel, relative to the workspace root.
const PYTHON_SOURCES: &str = "packaging/python/wasivfs";
/// The description shown by PyPI and npm, relative to the workspace root.
pub const README: &str = "packaging/README.md";

/// The wheel's file name, as the wheel specification spells it.
pub fn file_name(project: &Project, target: &DistTarget) -> String {
    format!(
        "wasivfs-{}-py3-none-{}.whl",
        project.version,
        target.wheel_platforms.join(".")
    )
}

/// The wheel for `target`, around `binary`.
pub fn build(project: &Project, target: &DistTarget, binary: &[u8], epoch: u64) -> Result<Vec<u8>> {
    let v = &project.version;
    let dist_info = format!("wasivfs-{v}.dist-info");
    let mut entries = Vec::new();
    for name in ["__init__.py", "__main__.py"] {
        let path = project.root.join(PYTHON_SOURCES).join(name);
        let data =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        entries.push(Entry::file(format!("wasivfs/{name}"), data));
    }
    entries.push(Entry::executable(
        format!("wasivfs-{v}.data/scripts/{}", target.binary_name()),
        binary,
    ));
    entries.push(Entry::file(
        format!("{dist_info}/METADATA"),
        metadata(project)?,
    ));
    let tags: String = target
        .wheel_platforms
        .iter()
        .map(|p| format!("Tag: py3-none-{p}\n"))
        .collect();
    entries.push(Entry::file(
        format!("{dist_info}/WHEEL"),
        format!(
            "Wheel-Version: 1.0\nGenerator: wasivfs xtask dist\nRoot-Is-Purelib: false\n{tags}"
        ),
    ));
    // RECORD: each file's hash in URL-safe base64 without padding, as the wheel format says.
    let mut record = String::new();
    for e in &entries {
        record.push_str(&format!(
            "{},sha256={},{}\n",
            e.path,
            URL_SAFE_NO_PAD.encode(Sha256::digest(&e.data)),
            e.data.len()
        ));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    entries.push(Entry::file(format!("{dist_info}/RECORD"), record));
    archive::zip(&entries, epoch)
}

/// The core metadata (version 2.1), with the README as the long description.
fn metadata(project: &Project) -> Result<String> {
    let readme_path = project.root.join(README);
    let readme = std::fs::read_to_string(&readme_path)
        .with_context(|| format!("cannot read {}", readme_path.display()))?;
    Ok(format!(
        "Metadata-Version: 2.1\nName: wasivfs\nVersion: {}\nSummary: {}\nLicense: {}\n\
         Requires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n{readme}",
        project.version, project.description, project.license
    ))
}

/// Writes the wheel for `target` into `dir`; returns its path.
pub fn write(
    dir: &Path,
    project: &Project,
    target: &DistTarget,
    binary: &[u8],
    epoch: u64,
) -> Result<std::path::PathBuf> {
    let path = dir.join(file_name(project, target));
    let bytes = build(project, target, binary, epoch)?;
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
