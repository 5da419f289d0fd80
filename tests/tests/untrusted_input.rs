//! Untrusted input: `inspect`, `ls`, `cat` and `unpack` read modules a user hands them, and `pack`
//! reads any input module. Each is run (the real binary, with a time limit) on real packed modules
//! mutated by `wasivfs_e2e::mutate`: it must never panic or hang, must exit 0 or 1, and when it
//! fails it must write nothing (no stdout, no output file or directory) and say why on stderr.
//!
//! A proptest-driven mutator under stable `cargo test` rather than cargo-fuzz: cargo-fuzz needs a
//! nightly toolchain and a sanitizer build of every dependency (wasmtime included), which CI would
//! have to install and compile on top of the normal build; this runs on what is already built, with
//! a fixed seed and case count: `WASIVFS_FUZZ_CASES` (default 40 for the readers, half that for
//! `pack`) and `WASIVFS_FUZZ_SEED` change them. A failure prints the seed and the shrunk list of
//! edits; keep it as an explicit test below (as `hostile_section_values` keeps hand-picked ones).

use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use wasivfs_e2e::artifacts::env_number;
use wasivfs_e2e::cli::wasivfs_bin;
use wasivfs_e2e::limited::output_within;
use wasivfs_e2e::mutate::{self, Mutation, Pos};
use wasivfs_e2e::{fixtures, trees};

const DEFAULT_CASES: u64 = 40;
const DEFAULT_SEED: u64 = 0xf022_0013;
/// Generous: a reader takes milliseconds on these small modules, a pack about a second.
const LIMIT: Duration = Duration::from_secs(60);

/// A small tree with every kind of entry the readers handle.
fn tree() -> &'static trees::Tree {
    static TREE: OnceLock<trees::Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let t = trees::Tree::empty().expect("temporary directory");
        t.file("hello.txt", b"hello, world\n")
            .and_then(|t| t.file("empty", b""))
            .and_then(|t| t.file("data.bin", &trees::pattern(5, 70_000)))
            .and_then(|t| t.file("dir/nested/deep.txt", b"deep\n"))
            .and_then(|t| t.file("café.txt", "crème\n".as_bytes()))
            .and_then(|t| t.symlink("hello.txt", "link"))
            .and_then(|t| t.symlink("dir", "dirlink"))
            .and_then(|t| t.symlink("missing", "dangling"))
            .expect("writing the tree");
        t
    })
}

/// Packs `tree()` at `guest` into `module` with every stored time fixed, so the bytes (and so the
/// positions the mutations hit) are the same on every run.
fn pack_fixed(module: &[u8], guest: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("in.wasm");
    std::fs::write(&input, module).expect("writing the input");
    let opts = wasivfs_packer::PackOptions {
        input,
        mappings: vec![wasivfs_packer::Mapping {
            guest: guest.to_string(),
            host: tree().path().to_path_buf(),
        }],
        mtime: Some(1_600_000_000),
        ..Default::default()
    };
    match wasivfs_packer::pack_to_bytes(&opts) {
        Ok((bytes, _)) => bytes,
        Err(e) => panic!("packing the base module: {e}"),
    }
}

/// The base modules: packed once, and packed twice (two layers).
fn bases() -> &'static [Vec<u8>; 2] {
    static BASES: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    BASES.get_or_init(|| {
        let once = pack_fixed(&fixtures::wat(fixtures::TINY_WAT), "/s");
        let twice = pack_fixed(&once, "/two");
        [once, twice]
    })
}

/// Reader runs that succeeded and that ran, for the summary line: a mutator whose modules were
/// all rejected at the door would test little.
static RUNS: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

fn count(ok: bool) {
    use std::sync::atomic::Ordering::Relaxed;
    RUNS[1].fetch_add(1, Relaxed);
    if ok {
        RUNS[0].fetch_add(1, Relaxed);
    }
}

/// What every reader invocation must satisfy; `Err` says what went wrong.
fn check(what: &str, out: &std::process::Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if stderr.contains("panicked") || !matches!(code, Some(0 | 1)) {
        return Err(format!(
            "{what}: exit status {:?}, stderr:\n{stderr}",
            out.status
        ));
    }
    if code == Some(1) {
        if !out.stdout.is_empty() {
            return Err(format!(
                "{what}: failed but wrote {} bytes to stdout; stderr: {stderr}",
                out.stdout.len()
            ));
        }
        if !stderr.starts_with("error: ") || stderr.trim_end().lines().count() != 1 {
            return Err(format!(
                "{what}: failed without a one-line error: {stderr:?}"
            ));
        }
    }
    Ok(())
}

/// Runs every reader on `module`; `Err` describes the first violation.
fn check_readers(module: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("m.wasm");
    std::fs::write(&path, module).map_err(|e| e.to_string())?;
    let m = path.to_string_lossy().into_owned();
    let runs: &[&[&str]] = &[
        &["inspect", &m],
        &["inspect", &m, "--json"],
        &["ls", &m, "-lR"],
        &["ls", &m, "/s", "-R", "--json"],
        &["cat", &m, "/s/data.bin"],
        &["cat", &m, "/s/link"],
        &["cat", &m, "/s/dirlink/nested/deep.txt"],
    ];
    for args in runs {
        let out = output_within(Command::new(wasivfs_bin()).args(*args), LIMIT)?;
        check(&args.join(" "), &out)?;
        count(out.status.success());
    }
    let dest = dir.path().join("out");
    let out = output_within(
        Command::new(wasivfs_bin())
            .args(["unpack", &m, "-q", "-o"])
            .arg(&dest),
        LIMIT,
    )?;
    check("unpack", &out)?;
    if out.status.code() == Some(1) && dest.exists() {
        return Err(format!(
            "unpack failed ({}) but left {}",
            String::from_utf8_lossy(&out.stderr).trim_end(),
            describe(&dest)
        ));
    }
    Ok(())
}

fn describe(p: &Path) -> String {
    let n = walk_count(p);
    format!("the output directory behind, with {n} entries")
}

fn walk_count(p: &Path) -> usize {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    1 + if e.path().is_dir() {
                        walk_count(&e.path())
                    } else {
                        0
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Runs `pack` on `module` as its input; `Err` describes the violation.
fn check_pack(module: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = dir.path().join("in.wasm");
    std::fs::write(&input, module).map_err(|e| e.to_string())?;
    let output: PathBuf = dir.path().join("out.wasm");
    let mapping = format!("/p::{}", tree().path().display());
    let out = output_within(
        Command::new(wasivfs_bin())
            .arg("pack")
            .arg(&input)
            .args(["-q", "--mapdir", &mapping, "-o"])
            .arg(&output),
        LIMIT,
    )?;
    check("pack", &out)?;
    match out.status.code() {
        Some(1) if output.exists() => Err("pack failed but wrote its output".to_string()),
        Some(0) => {
            let bytes = std::fs::read(&output).map_err(|e| format!("pack succeeded: {e}"))?;
            let mut features = wasmparser::WasmFeatures::default();
            features.insert(wasmparser::WasmFeatures::MULTI_MEMORY);
            wasmparser::Validator::new_with_features(features)
                .validate_all(&bytes)
                .map(|_| ())
                .map_err(|e| format!("pack succeeded with an invalid module: {e}"))
        }
        _ => Ok(()),
    }
}

fn fuzz(
    name: &str,
    default_cases: u64,
    bases: &[Vec<u8>],
    check: impl Fn(&[u8]) -> Result<(), String>,
) {
    let cases = env_number("WASIVFS_FUZZ_CASES", default_cases) as u32;
    let seed = env_number("WASIVFS_FUZZ_SEED", DEFAULT_SEED);
    let mut runner = TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let strategy = (0..bases.len(), mutate::mutations());
    let result = runner.run(&strategy, |(base, edits)| {
        check(&mutate::apply(&bases[base], &edits)).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {
            use std::sync::atomic::Ordering::Relaxed;
            println!(
                "{name}: {cases} mutated modules, seed {seed}: no violation \
                 ({} of {} reader runs so far in this process succeeded)",
                RUNS[0].load(Relaxed),
                RUNS[1].load(Relaxed)
            )
        }
        Err(TestError::Fail(reason, (base, edits))) => panic!(
            "{name} (seed {seed}, WASIVFS_FUZZ_SEED={seed}): base module {base}, edits {edits:?}:\n{reason}"
        ),
        Err(TestError::Abort(reason)) => panic!("{name} (seed {seed}): aborted: {reason}"),
    }
}

#[test]
fn readers_survive_mutated_modules() {
    fuzz("readers", DEFAULT_CASES, bases(), check_readers);
}

#[test]
fn pack_survives_mutated_inputs() {
    let plain = fixtures::wat(fixtures::TINY_WAT);
    let inputs = [plain, bases()[0].clone()];
    fuzz("pack", DEFAULT_CASES / 2, &inputs, check_pack);
}

/// The unmutated modules pass every check, and the readers really read them (so the mutated runs
/// are not all rejected at the door).
#[test]
fn base_modules_read_back() {
    for (i, m) in bases().iter().enumerate() {
        check_readers(m).unwrap_or_else(|e| panic!("base {i}: {e}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.wasm");
    std::fs::write(&path, &bases()[1]).unwrap();
    let out = wasivfs_e2e::cli::wasivfs([
        "cat".as_ref(),
        path.as_os_str(),
        "/s/dirlink/nested/deep.txt".as_ref(),
    ]);
    assert_eq!(
        out.stdout,
        b"deep\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_pack(&bases()[0]).unwrap();
    // The mutator reaches the sections the readers parse.
    let regions = mutate::regions(&bases()[1]);
    assert!(regions.len() >= 5, "{regions:?}");
}

/// Hand-picked hostile values in the `wasivfs` section (the first layer's and the second's):
/// where the image is, how long, in which memory, in what format, the mount paths. Kept as fixed
/// cases beside the random ones; edits the mutator finds breaking a reader are added here.
#[test]
fn hostile_section_values() {
    use serde_json::json;
    let edits = [
        ("/image_len", json!(u32::MAX)),
        ("/image_len", json!(0)),
        ("/image_len", json!(1u64 << 40)),
        ("/image_addr", json!(u32::MAX - 63)),
        ("/image_addr", json!(-1)),
        ("/vfs_memory", json!(9)),
        ("/vfs_memory", json!(0)),
        ("/vfs_base", json!(u64::MAX)),
        ("/vfs_base", json!(u32::MAX)),
        ("/vfs_base", json!(-1)),
        ("/memory", json!("single")),
        ("/memory", json!("both")),
        ("/format", json!(2)),
        ("/mounts/0/guest", json!("/..")),
        ("/mounts/0/guest", json!("")),
        ("/mounts", json!([])),
        ("/input", json!(null)),
    ];
    let mut tried = 0;
    for (base, module) in bases().iter().enumerate() {
        for layer in 0..=base {
            for (pointer, value) in &edits {
                let Some(m) = mutate::set_json(module, layer, pointer, value.clone()) else {
                    continue;
                };
                tried += 1;
                check_readers(&m).unwrap_or_else(|e| {
                    panic!("base {base}, layer {layer}, {pointer} = {value}: {e}")
                });
            }
        }
    }
    assert!(
        tried >= 30,
        "only {tried} edits applied: the section's keys changed?"
    );
}

/// Found by `readers_survive_mutated_modules` (WASIVFS_FUZZ_CASES=200, WASIVFS_FUZZ_SEED=77): one
/// flipped bit made an entry name of the image contain `/`; `unpack` refused it half-way through
/// and left the output directory behind. It now builds the tree beside the output and renames it
/// into place only when complete.
#[test]
fn unpack_of_a_corrupt_image_leaves_nothing() {
    let found = mutate::apply(
        &bases()[0],
        &[Mutation::Flip {
            at: Pos {
                region: 11045243001299033731,
                offset: 5764689770683152936,
            },
            bit: 34,
        }],
    );
    check_readers(&found).unwrap_or_else(|e| panic!("the found case: {e}"));
    // The same failure made on purpose, independent of where the mutator's edit lands: a name
    // deep in the tree gets a `/`, so the extraction fails after writing other entries.
    for base in bases() {
        let at = base
            .windows(8)
            .position(|w| w == b"deep.txt")
            .expect("the name is in the image");
        let mut m = base.clone();
        m[at + 2] = b'/';
        check_readers(&m).unwrap_or_else(|e| panic!("deep.txt renamed de/p.txt: {e}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.wasm");
        std::fs::write(&path, &m).unwrap();
        let out = wasivfs_e2e::cli::wasivfs([
            "unpack".as_ref(),
            path.as_os_str(),
            "-o".as_ref(),
            dir.path().join("out").as_os_str(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the corrupt name was not noticed"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "unpack left output"
        );
    }
}
