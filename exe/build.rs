//! Builds the runner (`runner/`) for the target wasivfs itself is built for and embeds it,
//! together with the runner's sources, into `wasivfs-exe`. So `wasivfs exe` works from a lone
//! binary (`cargo install --path cli`, `cargo build --release`), and a runner for another target
//! can be built later from the embedded sources (see `src/runner.rs`).
//!
//! The runner's build tree is the runner (from `runner/` here) with its two path dependencies
//! inside it (`exe-format/`, `wasi-run/`, from their own crates: `DEP_<LINKS>_ROOT`), so it is
//! complete in a packaged `wasivfs-exe` as in the workspace. It is built by a nested `cargo build
//! --release --locked` on the tree's `Cargo.toml`, which has its own workspace and lock file, so
//! its wasmtime (runtime only, no Cranelift) never shares features with the workspace's. Its
//! target directory is `exe-runner/` inside this build's target directory (one release build
//! serves the debug and release profiles), with the tree in `exe-runner/tree/`.
//!
//! `WASIVFS_BUILTIN_RUNNER=PATH` embeds a runner built elsewhere instead (packagers whose builds
//! cannot run cargo inside cargo); it must be built from the same sources for the same target.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The runner's own files, in this crate (`runner/`), and their names in the runner's build
/// tree, whose root is the runner. Its manifest is not called `Cargo.toml` here: cargo leaves a
/// directory holding one out of the package, and the runner's sources must travel in
/// `wasivfs-exe`'s.
const RUNNER_FILES: &[(&str, &str)] = &[
    ("Cargo.toml.in", "Cargo.toml"),
    ("Cargo.lock", "Cargo.lock"),
];

/// The runner's path dependencies: (`links` key, directory in the build tree, which the runner's
/// manifest names as `<directory>`). Inside the tree's root, they are members of the runner's
/// workspace, so cargo names them by their relative paths and a build does not depend on where
/// the tree is. Their sources come from the dependencies themselves.
const RUNNER_DEPENDENCIES: &[(&str, &str)] = &[
    ("wasivfs-exe-format", "exe-format"),
    ("wasivfs-wasi-run", "wasi-run"),
];

/// The `.rs` files directly in `dir`, sorted.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut rs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    rs.sort();
    Ok(rs)
}

/// The files a build of the runner needs: (path on this machine, path in the build tree).
fn runner_sources(manifest_dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let runner = manifest_dir.join("runner");
    let mut files: Vec<(PathBuf, String)> = RUNNER_FILES
        .iter()
        .map(|(from, to)| (runner.join(from), (*to).to_string()))
        .collect();
    let mut crates = vec![(runner, String::new())];
    for (links, dir) in RUNNER_DEPENDENCIES {
        let root = wasivfs_nested_cargo::dependency_root(links)?;
        // In a packaged crate, `Cargo.toml` is cargo's rewrite of the manifest and
        // `Cargo.toml.orig` the one written here: the tree takes the latter, so it is the same,
        // byte for byte and so under the same key, in the workspace and in the packages.
        let manifest = if wasivfs_nested_cargo::is_packaged(&root) {
            root.join("Cargo.toml.orig")
        } else {
            root.join("Cargo.toml")
        };
        files.push((manifest, format!("{dir}/Cargo.toml")));
        if root.join("build.rs").is_file() {
            files.push((root.join("build.rs"), format!("{dir}/build.rs")));
        }
        crates.push((root, (*dir).to_string()));
    }
    for (root, dir) in crates {
        for rs in rust_files(&root.join("src"))? {
            let name = rs
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or("non-UTF-8 file name in the runner's sources")?
                .to_string();
            let rel = if dir.is_empty() {
                format!("src/{name}")
            } else {
                format!("{dir}/src/{name}")
            };
            files.push((rs, rel));
        }
        println!("cargo:rerun-if-changed={}", root.join("src").display());
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
    let target = env::var("TARGET").map_err(|_| "no TARGET")?;

    // The embedded sources, and a key naming them.
    let files = runner_sources(&manifest)?;
    let mut key = 0xcbf2_9ce4_8422_2325u64;
    let mut table =
        String::from("/// The runner's sources: (path in the runner's build tree, contents).\n");
    table.push_str("pub const RUNNER_SOURCES: &[(&str, &[u8])] = &[\n");
    let mut contents = Vec::new();
    for (path, rel) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        fnv1a(&mut key, rel.as_bytes());
        fnv1a(&mut key, &[0]);
        fnv1a(&mut key, &bytes);
        let _ = writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
        contents.push((rel.as_str(), bytes));
    }
    table.push_str("];\n");
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
        None => build_runner(&contents, &target, &out)?,
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

/// Writes the runner's build tree (`tree/` in the runner's target directory; files whose contents
/// did not change are left alone, so an unchanged tree stays fresh) and builds it.
fn build_runner(files: &[(&str, Vec<u8>)], target: &str, out: &Path) -> Result<PathBuf, String> {
    let cargo = wasivfs_nested_cargo::cargo();
    let target_dir = runner_target_dir(out);
    let tree = target_dir.join("tree");
    for (rel, bytes) in files {
        wasivfs_nested_cargo::write_if_changed(&tree.join(rel), bytes)?;
    }
    let manifest = tree.join("Cargo.toml");
    let mut cmd = wasivfs_nested_cargo::release_build(&cargo, &manifest, target, &target_dir, &[]);
    cmd.arg("--locked");
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`cargo build --release --manifest-path {}` failed ({}):\n{log}",
            manifest.display(),
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
