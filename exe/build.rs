//! Builds the runner (`exe-runner/`) for the target wasivfs itself is built for and embeds it,
//! together with the runner's sources, into `wasivfs-exe`. So `wasivfs exe` works from a lone
//! binary (`cargo install --path cli`, `cargo build --release`), and a runner for another target
//! can be built later from the embedded sources (see `src/runner.rs`).
//!
//! The runner is built by a nested `cargo build --release --locked` on `exe-runner/Cargo.toml`,
//! which has its own workspace and lock file, so its wasmtime (runtime only, no Cranelift) never
//! shares features with the workspace's. Its target directory is `exe-runner/` inside this
//! build's target directory (one release build serves the debug and release profiles).
//!
//! `WASIVFS_BUILTIN_RUNNER=PATH` embeds a runner built elsewhere instead (packagers whose builds
//! cannot run cargo inside cargo); it must be built from the same sources for the same target.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The crates a build of the runner needs, as directories of the repository: the runner and its
/// path dependencies (which the runner's manifest names as `../<directory>`).
const RUNNER_CRATES: &[&str] = &["exe-runner", "exe-format", "command"];

/// Files that a build of the runner needs, relative to the repository root.
fn runner_sources(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = vec![PathBuf::from("exe-runner/Cargo.lock")];
    for krate in RUNNER_CRATES {
        files.push(Path::new(krate).join("Cargo.toml"));
        let src = root.join(krate).join("src");
        let mut rs: Vec<PathBuf> = std::fs::read_dir(&src)
            .map_err(|e| format!("{}: {e}", src.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .filter_map(|p| p.file_name().map(|n| Path::new(krate).join("src").join(n)))
            .collect();
        rs.sort();
        files.extend(rs);
    }
    Ok(files)
}

/// 64-bit FNV-1a: a cache key for the runner sources, not a security measure.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn main() {
    if let Err(msg) = run() {
        panic!("\n\nerror: cannot build the wasivfs exe runner: {msg}\n\n");
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("no CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("no OUT_DIR")?);
    let root = manifest.parent().ok_or("no parent directory")?;
    let runner_dir = root.join("exe-runner");
    let target = env::var("TARGET").map_err(|_| "no TARGET")?;

    // The embedded sources, and a key naming them.
    let files = runner_sources(root)?;
    let mut key = 0xcbf2_9ce4_8422_2325u64;
    let mut table = String::from(
        "/// The runner's sources: (path relative to the repository root, contents).\n",
    );
    table.push_str("pub const RUNNER_SOURCES: &[(&str, &[u8])] = &[\n");
    for rel in &files {
        let path = root.join(rel);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let rel = rel
            .to_str()
            .ok_or("non-UTF-8 file name in the runner's sources")?;
        fnv1a(&mut key, rel.as_bytes());
        fnv1a(&mut key, &[0]);
        fnv1a(&mut key, &bytes);
        let _ = writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    table.push_str("];\n");
    for krate in RUNNER_CRATES {
        println!(
            "cargo:rerun-if-changed={}",
            root.join(krate).join("src").display()
        );
    }
    let _ = writeln!(
        table,
        "/// Names the sources above: runners built from them are cached under this key.\n\
         pub const RUNNER_SOURCES_KEY: &str = \"{}-{key:016x}\";",
        env::var("CARGO_PKG_VERSION").unwrap_or_default()
    );

    // The built-in runner.
    println!("cargo:rerun-if-env-changed=WASIVFS_BUILTIN_RUNNER");
    let runner = match env::var_os("WASIVFS_BUILTIN_RUNNER").filter(|p| !p.is_empty()) {
        Some(prebuilt) => PathBuf::from(prebuilt),
        None => build_runner(&runner_dir, &target, &out)?,
    };
    if !runner.is_file() {
        return Err(format!("{} was not produced", runner.display()));
    }
    println!("cargo:rerun-if-changed={}", runner.display());
    let _ = writeln!(
        table,
        "/// The runner built for the target this crate was built for.\n\
         pub const BUILTIN_RUNNER: &[u8] = include_bytes!({:?});\n\
         /// The target of [`BUILTIN_RUNNER`].\n\
         pub const BUILTIN_TARGET: &str = {target:?};",
        runner.display().to_string()
    );
    std::fs::write(out.join("embedded_runner.rs"), table)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(())
}

/// The target directory of the runner's nested build: `exe-runner/` beside the profile
/// directories of this build (`OUT_DIR` is `<target-dir>[/<triple>]/<profile>/build/<pkg>/out`),
/// else inside `OUT_DIR`.
fn runner_target_dir(out: &Path) -> PathBuf {
    let mut up = out.ancestors();
    let build = up.nth(2);
    match (build, up.nth(1)) {
        (Some(b), Some(root)) if b.file_name().is_some_and(|n| n == "build") => {
            root.join("exe-runner")
        }
        _ => out.join("exe-runner"),
    }
}

fn build_runner(runner_dir: &Path, target: &str, out: &Path) -> Result<PathBuf, String> {
    let cargo = wasivfs_nested_cargo::cargo();
    let target_dir = runner_target_dir(out);
    let mut cmd = wasivfs_nested_cargo::release_build(
        &cargo,
        &runner_dir.join("Cargo.toml"),
        target,
        &target_dir,
    );
    cmd.arg("--locked");
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`cargo build --release --manifest-path {}` failed ({}):\n{log}",
            runner_dir.join("Cargo.toml").display(),
            output.status
        ));
    }
    let exe = if target.contains("windows") {
        "wasivfs-exe-runner.exe"
    } else {
        "wasivfs-exe-runner"
    };
    Ok(target_dir.join(target).join("release").join(exe))
}
