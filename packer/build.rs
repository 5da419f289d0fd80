//! Compiles the VFS guest (`vfs-guest`) to `wasm32-unknown-unknown` so the packer can embed it.
//!
//! The guest is built by a nested cargo with its own target directory (sharing the outer build's
//! would deadlock on its lock) and an environment cleaned of the outer build's flags. Its sources
//! come from the `wasivfs-vfs-guest` dependency (`DEP_WASIVFS_VFS_GUEST_ROOT`), so the packer
//! builds from a registry or a `.crate` file as it does from the workspace.

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
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    let guest = wasivfs_nested_cargo::dependency_root("wasivfs-vfs-guest")?;
    let abi = wasivfs_nested_cargo::dependency_root("wasivfs-abi")?;
    let image = wasivfs_nested_cargo::dependency_root("wasivfs-image")?;
    for root in [&guest, &abi, &image] {
        for p in ["src", "Cargo.toml"] {
            println!("cargo:rerun-if-changed={}", root.join(p).display());
        }
    }
    // Two builds of the guest: without its WASI 0.2 front-end (for core modules and components
    // built from preview 1 modules) and with it (for native WASI 0.2 components).
    let variants = [
        (
            "vfs.wasm",
            "WASIVFS_VFS_WASM",
            &["--no-default-features"][..],
        ),
        ("vfs-p2.wasm", "WASIVFS_VFS_P2_WASM", &[][..]),
    ];
    for (_, var, _) in &variants {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let mut manifest = None;
    for (file, var, args) in variants {
        let dest = out_dir.join(file);
        if let Ok(prebuilt) = std::env::var(var) {
            std::fs::copy(&prebuilt, &dest).map_err(|e| format!("{prebuilt}: {e}"))?;
            continue;
        }
        let manifest = match &manifest {
            Some(m) => m,
            None => {
                check_target_installed()?;
                manifest.insert(if wasivfs_nested_cargo::is_packaged(&guest) {
                    packaged_tree(&out_dir.join("vfs-guest-tree"), &guest, &abi, &image)?
                } else {
                    // A workspace member: built in place, with the workspace's lock file.
                    guest.join("Cargo.toml")
                })
            }
        };
        let target_dir = out_dir.join("vfs-target");
        let mut cmd = wasivfs_nested_cargo::release_build(
            &wasivfs_nested_cargo::cargo(),
            manifest,
            TARGET,
            &target_dir,
            &["-Clink-arg=-zstack-size=65536"],
        );
        cmd.args(args);
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run cargo to build the VFS guest: {e}"))?;
        if !status.success() {
            return Err(format!(
                "building the VFS guest (wasivfs-vfs-guest) for {TARGET} failed ({status}); see the output above"
            ));
        }
        let built = target_dir
            .join(TARGET)
            .join("release")
            .join("wasivfs_vfs_guest.wasm");
        copy(&built, &dest)?;
    }
    Ok(())
}

/// Packaged crates (a registry's, or `cargo package`'s verification): the guest and the two crates
/// it shares with the packer are copied side by side into a workspace of their own, which takes
/// them from there rather than from the registry (they may not be published yet).
fn packaged_tree(tree: &Path, guest: &Path, abi: &Path, image: &Path) -> Result<PathBuf, String> {
    for (from, dir) in [(guest, "vfs-guest"), (abi, "abi"), (image, "vfs-image")] {
        wasivfs_nested_cargo::sync_dir(from, &tree.join(dir))?;
    }
    let manifest =
        "[workspace]\nresolver = \"2\"\nmembers = [\"vfs-guest\", \"abi\", \"vfs-image\"]\n\n\
                    [patch.crates-io]\nwasivfs-abi = { path = \"abi\" }\n\
                    wasivfs-image = { path = \"vfs-image\" }\n";
    let root = tree.join("Cargo.toml");
    std::fs::write(&root, manifest).map_err(|e| format!("{}: {e}", root.display()))?;
    Ok(tree.join("vfs-guest").join("Cargo.toml"))
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
