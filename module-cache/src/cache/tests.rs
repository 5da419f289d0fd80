use super::*;
use crate::{engine, run_command, RunOptions, RunOutcome, Stdio};
use std::io::Write;
use std::time::Duration;

/// Prints `msg` and exits with `code`; a data segment and a second memory make the artifact
/// carry data the memory-image path maps from the file.
fn module_wat(msg: &str, code: i32) -> String {
    let len = msg.len() + 1;
    format!(
        r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (memory $img 4)
      (data (memory $img) (i32.const 65536) "image bytes")
      (data (i32.const 64) "{msg}\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const {len}))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $exit (i32.const {code}))))"#
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    cache: ModuleCache,
    module: PathBuf,
    engine: Engine,
}

impl Fixture {
    fn new(msg: &str, code: i32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("m.wasm");
        fs::write(&module, wat::parse_str(module_wat(msg, code)).unwrap()).unwrap();
        Fixture {
            cache: ModuleCache::new(dir.path().join("cache")),
            module,
            engine: engine().unwrap(),
            _dir: dir,
        }
    }

    fn load(&self) -> (RunOutcome, Lookup) {
        let (module, lookup) = self.cache.load(&self.engine, &self.module).unwrap();
        let opts = RunOptions {
            args: vec!["m.wasm".into()],
            stdio: Stdio::Capture { stdin: Vec::new() },
            ..RunOptions::default()
        };
        (run_command(&self.engine, &module, &opts).unwrap(), lookup)
    }

    fn artifact(&self) -> PathBuf {
        self.cache
            .artifact_path(&self.engine, &self.module)
            .unwrap()
    }

    /// Loads once more, expecting the output of `expected` from a fresh compilation whose store
    /// succeeded; returns why the stored entry was not used.
    fn recompiled(&self, expected: &RunOutcome) -> Miss {
        let (out, lookup) = self.load();
        assert_eq!(&out, expected);
        match lookup {
            Lookup::Compiled {
                reason,
                store_error: None,
            } => reason,
            other => panic!("{other:?}"),
        }
    }

    /// A fixture whose entry is stored and trusted by its stamp, with the output of its run.
    fn trusted(msg: &str, code: i32) -> (Fixture, RunOutcome) {
        let f = Fixture::new(msg, code);
        let (first, _) = f.load();
        f.settle(&first);
        (f, first)
    }

    /// Loads until the entry is a plain hit (the first loads after a write are checksummed in
    /// full, see `stamp::settled`), checking the output each time.
    fn settle(&self, expected: &RunOutcome) {
        let (out, lookup) = self.load();
        assert_eq!((&out, lookup), (expected, Lookup::Verified));
        // Past the racy window of the artifact's last write: this check records a settled stamp.
        std::thread::sleep(Duration::from_millis(2100));
        let (out, lookup) = self.load();
        assert_eq!((&out, lookup), (expected, Lookup::Verified));
        let (out, lookup) = self.load();
        assert_eq!((&out, lookup), (expected, Lookup::Hit));
    }
}

/// Overwrites the start of `path` with `bytes` in place, as a disk-level edit would (not a rename:
/// the inode stays).
fn write_in_place(path: &Path, bytes: &[u8]) {
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

fn identity(p: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(p).unwrap();
    (m.ino(), m.modified().unwrap())
}

fn compiled(reason: Miss) -> Lookup {
    Lookup::Compiled {
        reason,
        store_error: None,
    }
}

#[test]
fn second_load_uses_the_stored_artifact_then_trusts_it_by_stamp() {
    let f = Fixture::new("cached", 5);
    let (first, lookup) = f.load();
    assert_eq!(lookup, compiled(Miss::Absent));
    assert_eq!(
        (first.exit_code, first.stdout.as_slice()),
        (5, &b"cached\n"[..])
    );
    let artifact = f.artifact();
    let before = identity(&artifact);
    f.settle(&first);
    // The same file throughout: never rewritten.
    assert_eq!(identity(&artifact), before);
}

#[test]
fn truncated_artifact_is_recompiled() {
    let f = Fixture::new("truncated", 0);
    let (first, _) = f.load();
    let artifact = f.artifact();
    let len = fs::metadata(&artifact).unwrap().len();
    let file = fs::OpenOptions::new().write(true).open(&artifact).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let why = f.recompiled(&first);
    assert!(
        matches!(&why, Miss::Damaged(w) if w.contains("expected")),
        "{why:?}"
    );
    assert_eq!(fs::metadata(&artifact).unwrap().len(), len);
    assert_eq!(f.load(), (first, Lookup::Verified));
}

#[test]
fn corrupted_artifact_is_recompiled_even_after_it_was_trusted() {
    let (f, first) = Fixture::trusted("corrupted", 1);
    let artifact = f.artifact();
    let mut bytes = fs::read(&artifact).unwrap();
    // Deterministic noise over the middle: code and metadata alike.
    let mid = bytes.len() / 2;
    let mut x = 0x9e37_79b9_u32;
    for b in &mut bytes[mid - 512..mid + 512] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    write_in_place(&artifact, &bytes);
    assert_eq!(
        f.recompiled(&first),
        Miss::Damaged(format!("{}: checksum mismatch", artifact.display()))
    );
}

#[test]
fn damaged_or_missing_record_is_recompiled() {
    let f = Fixture::new("record", 2);
    let (first, _) = f.load();
    let sum = f.artifact().with_extension("sum");
    let mut text = fs::read(&sum).unwrap();
    text[20] ^= 0x04;
    fs::write(&sum, &text).unwrap();
    let why = f.recompiled(&first);
    assert!(
        matches!(&why, Miss::Damaged(w) if w.contains("record")),
        "{why:?}"
    );
    fs::remove_file(&sum).unwrap();
    assert_eq!(f.load(), (first, compiled(Miss::Absent)));
}

#[test]
fn entry_from_another_wasmtime_version_is_recompiled() {
    let f = Fixture::new("stale", 4);
    let (first, _) = f.load();
    let artifact = f.artifact();
    // What another wasmtime version would have written at this path, with an intact record.
    let mut config = crate::base_config();
    config
        .module_version(wasmtime::ModuleVersionStrategy::Custom(
            "0.0.1-other".into(),
        ))
        .unwrap();
    let other = Engine::new(&config).unwrap();
    let bytes = other
        .precompile_module(&fs::read(&f.module).unwrap())
        .unwrap();
    fs::remove_file(&artifact).unwrap();
    fs::write(&artifact, &bytes).unwrap();
    let meta = fs::metadata(&artifact).unwrap();
    write_artifact_record(
        &artifact.with_extension("sum"),
        &meta,
        now_ns(),
        &hash_bytes(&bytes),
        bytes.len() as u64,
    )
    .unwrap();
    let why = f.recompiled(&first);
    assert!(
        matches!(&why, Miss::Stale(w) if w.contains("0.0.1-other")),
        "{why:?}"
    );
    assert_eq!(f.load(), (first, Lookup::Verified));
}

#[test]
fn a_changed_module_file_is_never_served_the_old_code() {
    let (f, _) = Fixture::trusted("version one", 0);
    // Same length, same path, same inode: only the contents (and so ctime) differ.
    let before = fs::read(&f.module).unwrap();
    let after = wat::parse_str(module_wat("version two", 0)).unwrap();
    assert_eq!(before.len(), after.len());
    write_in_place(&f.module, &after);
    let (out, lookup) = f.load();
    assert_eq!(out.stdout, b"version two\n");
    assert_eq!(lookup, compiled(Miss::Absent));
}

#[test]
fn not_wasm_and_invalid_wasm_are_errors() {
    let f = Fixture::new("x", 0);
    fs::write(&f.module, b"hello").unwrap();
    let err = f.cache.load(&f.engine, &f.module).unwrap_err();
    assert!(err.to_string().contains("bad magic"), "{err}");
    fs::write(&f.module, b"\0asm\x01\0\0\0\x7f").unwrap();
    let err = f.cache.load(&f.engine, &f.module).unwrap_err();
    assert!(format!("{err:#}").contains("cannot compile"), "{err:#}");
    let err = f
        .cache
        .load(&f.engine, &f.module.with_extension("missing"))
        .unwrap_err();
    assert!(err.to_string().contains("No such file"), "{err}");
}

#[test]
fn unwritable_cache_still_runs() {
    let f = Fixture::new("no store", 0);
    // A file where the cache directory should be.
    let blocker = f.module.with_file_name("blocker");
    fs::write(&blocker, b"").unwrap();
    let cache = ModuleCache::new(&blocker);
    let (module, lookup) = cache.load(&f.engine, &f.module).unwrap();
    assert!(
        matches!(&lookup, Lookup::Compiled { reason: Miss::Absent, store_error: Some(e) } if e.contains("blocker")),
        "{lookup:?}"
    );
    let opts = RunOptions {
        stdio: Stdio::Capture { stdin: Vec::new() },
        ..RunOptions::default()
    };
    let out = run_command(&f.engine, &module, &opts).unwrap();
    assert_eq!(out.stdout, b"no store\n");
}

#[test]
fn cache_is_bounded() {
    let a = Fixture::new("module a", 0);
    let b_module = a.module.with_file_name("b.wasm");
    fs::write(
        &b_module,
        wat::parse_str(module_wat("module b", 0)).unwrap(),
    )
    .unwrap();
    a.load();
    let a_artifact = a.artifact();
    let one = fs::metadata(&a_artifact).unwrap().len();
    let bounded = a.cache.clone().with_max_bytes(one + one / 2);
    bounded.load(&a.engine, &b_module).unwrap();
    assert!(
        !a_artifact.exists(),
        "the older entry should have been evicted"
    );
    assert!(bounded
        .artifact_path(&a.engine, &b_module)
        .unwrap()
        .exists());
}
