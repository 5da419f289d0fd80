//! The npm packages: `wasivfs` (the launcher, the JavaScript API and its types) and one package
//! per platform holding the binary, which npm picks through `optionalDependencies` and the
//! packages' `os`/`cpu` fields.

use anyhow::{Context, Result};
use serde_json::json;

use crate::archive::{self, Entry};
use crate::project::Project;
use crate::targets::DistTarget;
use crate::wheel::README;

/// The JavaScript sources of the `wasivfs` package, relative to the workspace root.
const JS_SOURCES: &str = "packaging/npm/wasivfs";
/// Its files, relative to [`JS_SOURCES`] (and to the package).
const JS_FILES: &[&str] = &["bin/wasivfs.js", "lib/index.js", "lib/index.d.ts"];

/// The tarball's file name, as `npm pack` names it (`@scope/name` becomes `scope-name`).
pub fn file_name(package: &str, version: &str) -> String {
    format!(
        "{}-{version}.tgz",
        package.trim_start_matches('@').replace('/', "-")
    )
}

fn manifest(value: serde_json::Value) -> Result<Entry> {
    let mut text = serde_json::to_string_pretty(&value).context("package.json")?;
    text.push('\n');
    Ok(Entry::file("package/package.json", text))
}

fn readme(project: &Project) -> Result<Entry> {
    let path = project.root.join(README);
    let data = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Entry::file("package/README.md", data))
}

/// The `wasivfs` package, which depends on the platform packages of `targets`.
pub fn main_package(project: &Project, targets: &[DistTarget], epoch: u64) -> Result<Vec<u8>> {
    let v = &project.version;
    let optional: serde_json::Map<String, serde_json::Value> = targets
        .iter()
        .map(|t| (t.npm_package(), json!(v)))
        .collect();
    let mut entries = vec![manifest(json!({
        "name": "wasivfs",
        "version": v,
        "description": project.description,
        "license": project.license,
        "type": "module",
        "bin": { "wasivfs": "bin/wasivfs.js" },
        "main": "./lib/index.js",
        "types": "./lib/index.d.ts",
        "exports": {
            ".": { "types": "./lib/index.d.ts", "default": "./lib/index.js" },
            "./package.json": "./package.json"
        },
        "files": ["bin", "lib"],
        "engines": { "node": ">=18" },
        "optionalDependencies": optional,
    }))?];
    entries.push(readme(project)?);
    for rel in JS_FILES {
        let path = project.root.join(JS_SOURCES).join(rel);
        let data =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let entry = format!("package/{rel}");
        entries.push(if rel.starts_with("bin/") {
            Entry::executable(entry, data)
        } else {
            Entry::file(entry, data)
        });
    }
    archive::tar_gz(&entries, epoch)
}

/// The platform package of `target`, around `binary`.
pub fn platform_package(
    project: &Project,
    target: &DistTarget,
    binary: &[u8],
    epoch: u64,
) -> Result<Vec<u8>> {
    let entries = vec![
        manifest(json!({
            "name": target.npm_package(),
            "version": project.version,
            "description": format!("The wasivfs binary for {} ({}).", target.npm_package().trim_start_matches("@wasivfs/"), target.triple),
            "license": project.license,
            "os": [target.npm_os],
            "cpu": [target.npm_cpu],
            "files": ["bin"],
            "preferUnplugged": true,
        }))?,
        readme(project)?,
        Entry::executable(format!("package/bin/{}", target.binary_name()), binary),
    ];
    archive::tar_gz(&entries, epoch)
}
