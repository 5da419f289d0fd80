//! Compiles the guest fixtures in `fixtures/` to wasm and exports their paths to the tests as
//! `WASIVFS_FIXTURE_<NAME>` compile-time environment variables.
//!
//! - C fixtures (`fixtures/c/*.c`) are built with clang-14 against wasi-libc.
//! - The Rust fixtures (`fixtures/rust-guest`, `fixtures/ops-guest`, `fixtures/exe-guest`) are built with the current cargo
//!   for `wasm32-wasip1` (and the `std::fs` probe also for `wasm32-wasip2`, a native WASI 0.2
//!   component), each in its own target directory under `OUT_DIR` so it never waits on the
//!   outer build's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const APT_HINT: &str =
    "install it with: apt-get install -y clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32";

fn main() {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let fixtures = manifest.join("..").join("fixtures");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    if let Err(msg) = build_c(&fixtures.join("c"), &out)
        .and_then(|()| build_rust(&fixtures.join("rust-guest"), &out, P1))
        .and_then(|()| build_rust(&fixtures.join("rust-guest"), &out, P2))
        .and_then(|()| build_rust(&fixtures.join("ops-guest"), &out, P1))
        .and_then(|()| build_rust(&fixtures.join("exe-guest"), &out, P1))
    {
        // A build script reports failure by panicking; keep the message first and readable.
        panic!("\n\nerror: could not build the wasivfs test fixtures: {msg}\n\n");
    }
}

fn build_c(dir: &Path, out: &Path) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-env-changed=WASIVFS_CLANG");
    let clang = env::var("WASIVFS_CLANG").unwrap_or_else(|_| "clang-14".to_string());
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    for src in sources {
        println!("cargo:rerun-if-changed={}", src.display());
        let stem = src
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: file name is not UTF-8", src.display()))?
            .to_string();
        let wasm = out.join(format!("{stem}.wasm"));
        let status = Command::new(&clang)
            .args([
                "--target=wasm32-wasi",
                "--sysroot=/usr",
                "-O2",
                "-Wall",
                "-o",
            ])
            .arg(&wasm)
            .arg(&src)
            .status()
            .map_err(|e| format!("cannot run {clang} ({e}); {APT_HINT}"))?;
        if !status.success() {
            return Err(format!(
                "{clang} failed on {} ({status}); if wasi-libc or the wasm32 runtime library is missing, {APT_HINT}",
                src.display()
            ));
        }
        println!(
            "cargo:rustc-env=WASIVFS_FIXTURE_{}={}",
            stem.to_uppercase().replace('-', "_"),
            wasm.display()
        );
    }
    Ok(())
}

/// WASI preview 1 modules; their variables have no suffix.
const P1: &str = "wasm32-wasip1";
/// WASI 0.2 components (`std` calls `wasi:filesystem` directly); variables end in `_P2`.
const P2: &str = "wasm32-wasip2";

fn build_rust(dir: &Path, out: &Path, target: &str) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", dir.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("Cargo.toml").display()
    );
    let cargo = wasivfs_nested_cargo::cargo();
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: fixture directory name is not UTF-8", dir.display()))?;
    let target_dir = out.join(format!("{name}-target"));
    let mut cmd = wasivfs_nested_cargo::release_build(
        &cargo,
        &dir.join("Cargo.toml"),
        target,
        &target_dir,
        &[],
    );
    cmd.arg("--quiet");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !status.success() {
        return Err(format!(
            "building {} for {target} failed ({status}); if the target is missing, run: rustup target add {target}",
            dir.display()
        ));
    }
    let release = target_dir.join(target).join("release");
    let suffix = if target == P2 { "_P2" } else { "" };
    let var = |name: &str| {
        format!(
            "WASIVFS_FIXTURE_{}{suffix}",
            name.to_uppercase().replace('-', "_")
        )
    };
    let bins = dir.join("src/bin");
    if bins.is_dir() {
        // A package of several programs (`src/bin/<bin>.rs`): `WASIVFS_FIXTURE_<DIRECTORY>_<BIN>`.
        let mut names: Vec<String> = std::fs::read_dir(&bins)
            .map_err(|e| format!("{}: {e}", bins.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
            .collect();
        names.sort();
        for bin in names {
            let wasm = release.join(format!("{bin}.wasm"));
            println!(
                "cargo:rustc-env={}={}",
                var(&format!("{name}_{bin}")),
                wasm.display()
            );
        }
    } else {
        // One program, the package `wasivfs-<directory>`: `WASIVFS_FIXTURE_<DIRECTORY>`.
        let wasm = release.join(format!("wasivfs-{name}.wasm"));
        println!("cargo:rustc-env={}={}", var(name), wasm.display());
    }
    Ok(())
}
