//! Starting `cargo build` for another crate from inside a build: the VFS guest (packer's build
//! script), the test fixtures (the end-to-end tests' build script), and the exe runner (exe's
//! build script, and `wasivfs exe --target` at run time).
//!
//! The outer cargo passes settings meant for its own crate through the environment (flags,
//! wrappers, its target directory and target); the nested build must not inherit them, and it
//! must use a target directory of its own (sharing the outer one would wait forever on its
//! lock). [`release_build`] is the one place that knows which variables those are.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::path::Path;
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

/// The cargo of the outer build (`$CARGO`), else `cargo` from `PATH`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo build --release --target TARGET --manifest-path MANIFEST --target-dir TARGET_DIR`, run
/// by `cargo`, with the outer build's settings removed from its environment. Add arguments
/// (`--locked`, `--quiet`) and variables as needed.
pub fn release_build(
    cargo: &OsString,
    manifest: &Path,
    target: &str,
    target_dir: &Path,
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
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_settings_are_removed() {
        let cmd = release_build(
            &OsString::from("cargo"),
            Path::new("x/Cargo.toml"),
            "wasm32-wasip1",
            Path::new("t"),
        );
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for var in OUTER_BUILD_VARIABLES {
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
                "x/Cargo.toml",
                "--target-dir",
                "t"
            ]
        );
    }
}
