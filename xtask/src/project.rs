//! What every artifact says about wasivfs (version, description, license), read once from the
//! workspace's manifests, and the timestamp artifacts carry.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The facts of the `wasivfs` package that the artifacts repeat.
#[derive(Debug, Clone)]
pub struct Project {
    /// The workspace root.
    pub root: PathBuf,
    /// The version of every crate and artifact.
    pub version: String,
    /// The one-line description.
    pub description: String,
    /// The SPDX license expression.
    pub license: String,
    /// The workspace packages that may be published (not `publish = false`).
    pub publishable: Vec<String>,
}

impl Project {
    /// Reads the workspace with `cargo metadata`, refusing versions that disagree.
    pub fn load(root: &Path) -> Result<Project> {
        let out = Command::new(cargo())
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--manifest-path",
            ])
            .arg(root.join("Cargo.toml"))
            .output()
            .context("cannot run cargo metadata")?;
        if !out.status.success() {
            bail!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let meta: Value = serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
        let packages = meta["packages"].as_array().context("no packages")?;
        let cli = packages
            .iter()
            .find(|p| p["name"] == "wasivfs")
            .context("no `wasivfs` package in the workspace")?;
        let field = |name: &str| -> Result<String> {
            cli[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("the wasivfs package has no {name}"))
        };
        let version = field("version")?;
        let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
        let mut publishable = Vec::new();
        for p in packages {
            let name = p["name"].as_str().unwrap_or("?");
            if p["version"].as_str() != Some(&version) {
                bail!("{name} has version {}, not {version}", p["version"]);
            }
            for dep in p["dependencies"].as_array().into_iter().flatten() {
                let dep_name = dep["name"].as_str().unwrap_or("?");
                let req = dep["req"].as_str().unwrap_or("");
                // A path dev-dependency without a version is dropped from the package: fine.
                let dropped = dep["kind"] == "dev" && req == "*";
                if names.contains(&dep_name) && req != format!("^{version}") && !dropped {
                    bail!("{name} requires {dep_name} {req}, not {version}");
                }
            }
            if p["publish"].as_array().is_none_or(|a| !a.is_empty()) {
                publishable.push(name.to_string());
            }
        }
        publishable.sort();
        Ok(Project {
            root: root.to_path_buf(),
            version,
            description: field("description")?,
            license: field("license")?,
            publishable,
        })
    }
}

/// The cargo running this task (`$CARGO`), else `cargo`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The timestamp every archive entry gets: `SOURCE_DATE_EPOCH`, else the time of the commit
/// checked out.
pub fn source_date_epoch(root: &Path) -> Result<u64> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        return v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v} is not a number of seconds"));
    }
    let out = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(root)
        .output()
        .context("cannot run git (set SOURCE_DATE_EPOCH instead)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().with_context(|| {
        format!(
            "no commit time from git ({}); set SOURCE_DATE_EPOCH",
            text.trim()
        )
    })
}

/// (year, month, day, hour, minute, second) in UTC of `secs` since 1970.
pub fn civil_time(secs: u64) -> (u32, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a proleptic Gregorian date, counting eras of 400 years from
    // 0000-03-01 so that leap days fall at the end of each year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year as u32,
        month as u32,
        day as u32,
        (rem / 3_600) as u32,
        (rem % 3_600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::civil_time;

    #[test]
    fn civil_time_of_known_instants() {
        assert_eq!(civil_time(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_time(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil_time(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(civil_time(4_102_444_799), (2099, 12, 31, 23, 59, 59));
    }
}
