//! Compiles the VFS guest (`vfs-guest`) to `wasm32-unknown-unknown` so the packer can embed it.
//!
//! The guest is built by a nested cargo with its own target directory (sharing the outer build's
//! would deadlock on its lock) and an environment cleaned of the outer build's flags.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or("the packer crate has no parent directory")?
        .to_path_buf();
    for p in [
        "abi/src",
        "abi/Cargo.toml",
        "vfs-guest/src",
        "vfs-guest/Cargo.toml",
        "vfs-image/src",
        "vfs-image/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=WASIVFS_VFS_WASM");

    let dest = out_dir.join("vfs.wasm");
    // A prebuilt VFS (for builds without the wasm target) can be supplied explicitly.
    if let Ok(prebuilt) = std::env::var("WASIVFS_VFS_WASM") {
        std::fs::copy(&prebuilt, &dest).map_err(|e| format!("{prebuilt}: {e}"))?;
        return Ok(());
    }

    check_target_installed()?;
    let target_dir = out_dir.join("vfs-target");
    let mut cmd = wasivfs_nested_cargo::release_build(
        &wasivfs_nested_cargo::cargo(),
        &workspace.join("vfs-guest/Cargo.toml"),
        TARGET,
        &target_dir,
    );
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Clink-arg=-zstack-size=65536");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo to build the VFS guest: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the VFS guest (vfs-guest) for {TARGET} failed ({status}); see the output above"
        ));
    }
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join("wasivfs_vfs_guest.wasm");
    copy(&built, &dest)
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("cargo did not set {name}"))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", from.display()))
}

/// Fails with the fix spelled out when the standard library for the wasm target is missing.
fn check_target_installed() -> Result<(), String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new(&sysroot).join("lib/rustlib").join(TARGET);
    if !lib.is_dir() {
        return Err(format!(
            "the {TARGET} target is not installed, but the VFS guest must be compiled for it; \
             run: rustup target add {TARGET}"
        ));
    }
    Ok(())
}
