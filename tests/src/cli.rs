//! Locating and running the real `wasivfs` binary for command-line tests.
//!
//! The binary lives next to this test executable's `deps/` directory (the same Cargo profile).
//! It is built once per test process with `cargo build --workspace --bins --tests`: the same
//! selection of packages and targets as `cargo test --workspace`, so Cargo resolves the same
//! features and finds every dependency already built. (`cargo build -p wasivfs` alone resolves
//! features for that one package, which differ from the workspace's, and rebuilt some sixty
//! crates, wasmtime among them.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Path of the `wasivfs` binary, building it first if needed. Panics with the build's reason if
/// it cannot be built.
pub fn wasivfs_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match locate_and_build() {
        Ok(p) => p,
        Err(e) => panic!("cannot build the wasivfs binary: {e}"),
    })
    .clone()
}

fn locate_and_build() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .ok_or_else(|| format!("unexpected test executable location {}", exe.display()))?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("no target directory above {}", profile_dir.display()))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--workspace", "--bins", "--tests"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build --workspace --bins --tests failed ({status})"
        ));
    }
    let bin = profile_dir.join("wasivfs");
    if !bin.is_file() {
        return Err(format!("{} was not produced", bin.display()));
    }
    Ok(bin)
}

/// The variable that points wasivfs's cache (`wasivfs run`'s compiled modules) elsewhere.
const CACHE_ENV: &str = wasivfs_module_cache::location::CACHE_ENV;

/// Runs `wasivfs ARGS...` and returns its output.
pub fn wasivfs<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let bin = wasivfs_bin();
    let mut cmd = Command::new(&bin);
    // Keep `wasivfs run`'s compilation cache out of the user's own cache directory.
    if std::env::var_os(CACHE_ENV).is_none() {
        cmd.env(CACHE_ENV, std::env::temp_dir().join("wasivfs-e2e-cache"));
    }
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

/// A temporary directory for one command-line test, removed when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

impl Scratch {
    /// A new empty directory.
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` under the directory (not created).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `bytes` to `rel` and returns its path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    /// Creates the directory `rel` (and its parents) and returns its path.
    pub fn dir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    /// The C probe `fsops` written as `app.wasm`: a module to pack.
    pub fn app(&self) -> PathBuf {
        self.write("app.wasm", &crate::fixtures::fsops())
    }

    /// A directory `tree` holding one file, `a.txt` (`a\n`): a tree to pack.
    pub fn small_tree(&self) -> PathBuf {
        let p = self.dir("tree");
        self.write("tree/a.txt", b"a\n");
        p
    }
}
