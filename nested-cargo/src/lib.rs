//! Starting `cargo build` for another crate from inside a build: the VFS guest (packer's build
//! script), the test fixtures (the end-to-end tests' build script), and the exe runner (exe's
//! build script, and `wasivfs exe --target` at run time).
//!
//! The outer cargo passes settings meant for its own crate through the environment (flags,
//! wrappers, its target directory and target); the nested build must not inherit them, and it
//! must use a target directory of its own (sharing the outer one would wait forever on its
//! lock). [`release_build`] is the one place that knows which variables those are.
//!
//! Nested builds are reproducible wherever they run: the paths of their sources (the directory
//! holding the built crate and its siblings, and cargo's home with the registry sources) and of
//! their target directory (where build scripts write code that crates include) are remapped to
//! fixed names, so no path of the build machine ends up in what they produce.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Variables an outer cargo (or the user, for the outer build) sets that must not reach a nested
/// build of another crate.
pub const OUTER_BUILD_VARIABLES: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_PRIMARY_PACKAGE",
];

/// Prefixes of variables that set the outer build's profiles (`CARGO_PROFILE_RELEASE_LTO`...):
/// nested builds keep the profiles their own manifests give them.
pub const OUTER_BUILD_PREFIXES: &[&str] = &["CARGO_PROFILE_"];

/// The cargo of the outer build (`$CARGO`), else `cargo` from `PATH`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Where [`release_build`] maps the directory that holds the built crate (and its siblings).
pub const REMAPPED_SOURCES: &str = "/wasivfs-src";
/// Where [`release_build`] maps cargo's home (`$CARGO_HOME`: the registry's sources).
pub const REMAPPED_CARGO_HOME: &str = "/cargo-home";
/// Where [`release_build`] maps the nested build's target directory (the files build scripts
/// generate and crates include).
pub const REMAPPED_TARGET_DIR: &str = "/wasivfs-target";

/// `cargo build --release --target TARGET --manifest-path MANIFEST --target-dir TARGET_DIR`, run
/// by `cargo`, with the outer build's settings removed from its environment, and `rustflags`
/// plus the path remapping (see the crate documentation) as its only compiler flags. Add
/// arguments (`--locked`, `--quiet`) and variables as needed.
pub fn release_build(
    cargo: &OsString,
    manifest: &Path,
    target: &str,
    target_dir: &Path,
    rustflags: &[&str],
) -> Command {
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", target])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir);
    for var in OUTER_BUILD_VARIABLES {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if OUTER_BUILD_PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&var);
        }
    }
    let mut flags: Vec<OsString> = rustflags.iter().map(OsString::from).collect();
    let sources = manifest.parent().and_then(Path::parent);
    let cargo_home = std::env::var_os("CARGO_HOME");
    for (from, to) in [
        (sources.map(|p| p.as_os_str().to_owned()), REMAPPED_SOURCES),
        (cargo_home, REMAPPED_CARGO_HOME),
        (Some(target_dir.as_os_str().to_owned()), REMAPPED_TARGET_DIR),
    ] {
        if let Some(from) = from.filter(|f| !f.is_empty()) {
            let mut flag = OsString::from("--remap-path-prefix=");
            flag.push(from);
            flag.push("=");
            flag.push(to);
            flags.push(flag);
        }
    }
    // The encoded form separates flags with 0x1f, so paths with spaces stay whole.
    let mut encoded = OsString::new();
    for (i, flag) in flags.iter().enumerate() {
        if i > 0 {
            encoded.push("\u{1f}");
        }
        encoded.push(flag);
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", encoded);
    cmd
}

/// The sources of the dependency whose `links` key is `links`, as its build script publishes them
/// (`cargo::metadata=root=DIR`, read here from `DEP_<LINKS>_ROOT`). Call from the build script of
/// a crate that depends on it directly.
pub fn dependency_root(links: &str) -> Result<PathBuf, String> {
    let var = format!("DEP_{}_ROOT", links.to_uppercase().replace('-', "_"));
    println!("cargo::rerun-if-env-changed={var}");
    std::env::var_os(&var)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{var} is not set: does {links} have its build script?"))
}

/// Whether `dir` holds a crate as `cargo package` writes it (from a registry, or being verified),
/// rather than a member of the wasivfs workspace: packaged manifests stand alone.
pub fn is_packaged(dir: &Path) -> bool {
    dir.join("Cargo.toml.orig").is_file()
}

/// Writes `bytes` to `path` (creating its directory) unless the file already holds them, so that
/// an unchanged file keeps its time and a nested build on it stays fresh.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Copies the crate directory `from` into `to` (except `target/`), rewriting only the files whose
/// contents differ, so that an unchanged tree stays fresh for the nested build.
pub fn sync_dir(from: &Path, to: &Path) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(to).map_err(|e| err(to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| err(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| err(from, e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| err(&src, e))?;
        if kind.is_dir() {
            if entry.file_name() != "target" {
                sync_dir(&src, &dst)?;
            }
        } else {
            let bytes = std::fs::read(&src).map_err(|e| err(&src, e))?;
            write_if_changed(&dst, &bytes)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_settings_are_removed() {
        let cmd = release_build(
            &OsString::from("cargo"),
            Path::new("/s/x/Cargo.toml"),
            "wasm32-wasip1",
            Path::new("t"),
            &["-Cfoo"],
        );
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(k, v)| v.is_none() && *k != "CARGO_ENCODED_RUSTFLAGS")
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        let flags = cmd
            .get_envs()
            .find(|(k, _)| *k == "CARGO_ENCODED_RUSTFLAGS")
            .and_then(|(_, v)| v)
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        let flags: Vec<&str> = flags.split('\u{1f}').collect();
        assert_eq!(flags[0], "-Cfoo");
        assert!(
            flags.contains(&"--remap-path-prefix=/s=/wasivfs-src"),
            "{flags:?}"
        );
        for var in OUTER_BUILD_VARIABLES {
            if *var == "CARGO_ENCODED_RUSTFLAGS" {
                continue;
            }
            assert!(removed.iter().any(|r| r == var), "{var}");
        }
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "build",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--manifest-path",
                "/s/x/Cargo.toml",
                "--target-dir",
                "t"
            ]
        );
    }
}
