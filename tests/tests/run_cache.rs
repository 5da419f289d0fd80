//! The compilation cache of `wasivfs run`, through the real binary: a second run uses the stored
//! artifact, a truncated or corrupted artifact is recompiled with the guest none the wiser, and
//! `--no-cache` writes nothing. Every run points the cache at a temporary directory.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use wasivfs_e2e::cli::wasivfs_bin;
use wasivfs_e2e::fixtures;

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    /// A packed module (the C probe with `/src/a.txt` embedded) and an empty cache directory.
    fn packed() -> Case {
        Case::packed_from(&fixtures::fsops())
    }

    /// [`Case::packed`] from the module or component `input`.
    fn packed_from(input: &[u8]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("a.txt"), b"embedded\n").unwrap();
        fs::write(dir.path().join("app.wasm"), input).unwrap();
        let o = Command::new(wasivfs_bin())
            .arg("pack")
            .arg(dir.path().join("app.wasm"))
            .arg("--mapdir")
            .arg(format!("/src::{}", src.display()))
            .arg("-o")
            .arg(dir.path().join("packed.wasm"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Case { dir }
    }

    /// wasivfs's cache directory (`WASIVFS_CACHE`) for this case.
    fn cache_root(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// Where `wasivfs run` keeps compiled modules in it.
    fn cache(&self) -> PathBuf {
        self.cache_root().join("modules")
    }

    fn run(&self, extra: &[&str]) -> Output {
        Command::new(wasivfs_bin())
            .arg("run")
            .args(extra)
            .arg(self.dir.path().join("packed.wasm"))
            .args(["--", "/src", "cat", "a.txt"])
            .env("WASIVFS_CACHE", self.cache_root())
            .env("WASIVFS_CACHE_LOG", "1")
            .output()
            .unwrap()
    }

    /// Runs again with no flags and checks the guest saw what it saw in `first`; returns the
    /// run's stderr.
    fn run_again(&self, first: &Output) -> String {
        let again = self.run(&[]);
        assert_eq!(guest(&again), guest(first));
        stderr(&again)
    }

    /// The single stored artifact.
    fn artifact(&self) -> PathBuf {
        let found = cwasm_files(&self.cache());
        assert_eq!(found.len(), 1, "{found:?}");
        found.into_iter().next().unwrap()
    }
}

fn cwasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(cwasm_files(&p));
        } else if p.extension().is_some_and(|x| x == "cwasm") {
            out.push(p);
        }
    }
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the guest saw: its stdout and exit code.
fn guest(o: &Output) -> (String, Option<i32>) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code(),
    )
}

fn identity(p: &Path) -> (u64, i64, i64) {
    let m = fs::metadata(p).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

#[test]
fn second_run_uses_the_cached_artifact() {
    let c = Case::packed();
    let first = c.run(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(guest(&first).0.contains("embedded"), "{first:?}");
    let err = stderr(&first);
    assert!(err.contains("compiled (not in the cache)"), "{err}");
    let artifact = c.artifact();
    let before = identity(&artifact);

    // Just after the write the artifact is checksummed in full before it is used; once its
    // stamp has settled it is mapped as is.
    let err = c.run_again(&first);
    assert!(err.contains("wasivfs: cache verified"), "{err}");
    std::thread::sleep(Duration::from_millis(2100));
    c.run_again(&first);
    assert_eq!(c.run_again(&first), "wasivfs: cache hit\n");
    assert_eq!(identity(&artifact), before, "the artifact was rewritten");
}

/// Components are kept the same way.
#[test]
fn a_component_is_cached_too() {
    let component = wasivfs_e2e::component::wrap(&fixtures::fsops(), "the probe");
    let c = Case::packed_from(&component);
    let first = c.run(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(guest(&first).0.contains("embedded"), "{first:?}");
    let err = stderr(&first);
    assert!(err.contains("compiled (not in the cache)"), "{err}");
    c.artifact();
    let err = c.run_again(&first);
    assert!(err.contains("wasivfs: cache verified"), "{err}");
    let err = c.run(&["--no-cache"]);
    assert_eq!(guest(&err), guest(&first));
    assert!(
        stderr(&err).contains("compiled (--no-cache)"),
        "{}",
        stderr(&err)
    );
}

#[test]
fn truncated_artifact_is_recompiled_invisibly() {
    let c = Case::packed();
    let first = c.run(&[]);
    let artifact = c.artifact();
    let len = fs::metadata(&artifact).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&artifact)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let err = c.run_again(&first);
    assert!(
        err.contains("damaged compilation cache entry, recompiled") && err.contains(".cwasm"),
        "{err}"
    );
    assert_eq!(fs::metadata(&artifact).unwrap().len(), len);
    let err = c.run_again(&first);
    assert!(err.contains("cache verified"), "{err}");
}

#[test]
fn corrupted_artifact_is_recompiled_invisibly() {
    let c = Case::packed();
    let first = c.run(&[]);
    let artifact = c.artifact();
    let mut bytes = fs::read(&artifact).unwrap();
    // Random-looking bytes over the first half: ELF header, code and metadata alike.
    let mut x = 0x2545_f491_u32;
    let half = bytes.len() / 2;
    for b in &mut bytes[..half] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    fs::write(&artifact, &bytes).unwrap();
    let err = c.run_again(&first);
    assert!(err.contains("checksum mismatch"), "{err}");
}

#[test]
fn no_cache_reads_and_writes_nothing() {
    let c = Case::packed();
    let o = c.run(&["--no-cache"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(guest(&o).0.contains("embedded"));
    assert!(
        !c.cache().exists(),
        "--no-cache created {}",
        c.cache().display()
    );
    // With an entry present, --no-cache still compiles and leaves it alone.
    c.run(&[]);
    let artifact = c.artifact();
    let before = identity(&artifact);
    let err = stderr(&c.run(&["--no-cache"]));
    assert!(err.contains("compiled (--no-cache)"), "{err}");
    assert_eq!(identity(&artifact), before);
    assert_eq!(cwasm_files(&c.cache()).len(), 1);
}
