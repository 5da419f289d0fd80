//! Generated differential tests: random trees and random sequences of raw preview 1 calls, run by
//! `fixtures/ops-guest` host-mapped (the oracle) and packed; every result must agree after the
//! normalisation documented in `wasivfs_e2e::opdiff`.
//!
//! The number of generated cases is fixed and the seed too, so CI runs the same cases every time:
//! `WASIVFS_DIVERGENCE_CASES` (default 24) and `WASIVFS_DIVERGENCE_SEED` (default below) change
//! them, e.g. `WASIVFS_DIVERGENCE_CASES=500 WASIVFS_DIVERGENCE_SEED=$RANDOM cargo test -p
//! wasivfs-e2e --test divergence`. A failure prints the seed and the shrunk case in the text form
//! of `tests/divergence-cases/*.txt`; save it there and it runs as a regression test from then on.
//! `WASIVFS_DIVERGENCE_SHOW=1` prints every case and the oracle's output.

use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasivfs_e2e::artifacts::env_number;
use wasivfs_e2e::genops;
use wasivfs_e2e::gentree;
use wasivfs_e2e::opdiff::{run_case, run_case_mode, Case};

const DEFAULT_CASES: u32 = 24;
const DEFAULT_SEED: u64 = 0x5eed_d1ff_0013;

#[test]
fn generated_calls_agree() {
    generated_calls_agree_in(false);
}

/// The same generated calls with the tree writable: read-write host mapping against
/// `--writable` (the generated opens create and truncate files).
#[test]
fn generated_calls_agree_on_a_writable_tree() {
    generated_calls_agree_in(true);
}

fn generated_calls_agree_in(writable: bool) {
    let cases = env_number("WASIVFS_DIVERGENCE_CASES", DEFAULT_CASES.into()) as u32;
    let seed = env_number("WASIVFS_DIVERGENCE_SEED", DEFAULT_SEED);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        // Each shrink step packs a module: bound the search, the case found first is printed too.
        max_shrink_iters: 300,
        max_shrink_time: 240_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let ok_lines = AtomicUsize::new(0);
    let all_lines = AtomicUsize::new(0);
    let ok_kinds = std::sync::Mutex::new(std::collections::BTreeSet::<String>::new());
    let strategy = (gentree::tree_spec(), genops::ops());
    let result = runner.run(&strategy, |(tree, ops)| {
        let case = Case {
            ops: genops::encode(&tree, &ops),
            tree,
        };
        let outcome =
            run_case_mode(&case, writable).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
        if let Some(diff) = outcome.difference() {
            return Err(TestCaseError::fail(diff));
        }
        let text = outcome.oracle_text();
        if std::env::var_os("WASIVFS_DIVERGENCE_SHOW").is_some() {
            println!("{}{text}", case.to_text());
        }
        all_lines.fetch_add(text.lines().count(), Ordering::Relaxed);
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.get(2) == Some(&"ok") {
                ok_lines.fetch_add(1, Ordering::Relaxed);
                if let (Some(kind), Ok(mut kinds)) = (f.get(1), ok_kinds.lock()) {
                    kinds.insert(kind.to_string());
                }
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (tree, ops))) => {
            let case = Case {
                ops: genops::encode(&tree, &ops),
                tree,
            };
            panic!(
                "packed and host-mapped runs differ (seed {seed}, WASIVFS_DIVERGENCE_SEED={seed}).\n\
                 Minimal case (save it as tests/divergence-cases/NAME.txt):\n{}\n{reason}",
                case.to_text()
            );
        }
        Err(TestError::Abort(reason)) => panic!("seed {seed}: aborted: {reason}"),
    }
    // The comparison means something only if the calls do something: a generator whose calls all
    // failed would agree trivially. Errors are compared too, so a fifth is enough.
    let (ok, all) = (
        ok_lines.load(Ordering::Relaxed),
        all_lines.load(Ordering::Relaxed),
    );
    println!("{cases} cases, seed {seed}: {all} calls, {ok} succeeded");
    assert!(
        all > 0 && ok * 4 > all,
        "only {ok} of {all} generated calls succeeded"
    );
}

fn regression_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/divergence-cases"))
}

#[test]
fn regression_cases_agree() {
    let mut files: Vec<_> = std::fs::read_dir(regression_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", regression_dir().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression cases found");
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let case = Case::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let outcome = run_case(&case).unwrap_or_else(|e| panic!("{}: {e:#}", f.display()));
        if let Some(diff) = outcome.difference() {
            failures.push(format!("{}:\n{diff}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The guest really runs the calls: facts computed here from the tree, checked on the oracle.
#[test]
fn guest_reports_the_real_tree() {
    let case = Case::parse(
        "d sub\nf sub/a 5000 3\nl ln -> sub/a\n--\n\
         open 0 1 0 2 0 0 7375622f61\n\
         read 1 4096,4096\n\
         seek 1 -8 2\n\
         readdir 0 4096 0\n\
         readlink 0 64 6c6e\n\
         stat 0 0 6c6e\n\
         seek 1 5 1\n",
    )
    .unwrap();
    let outcome = run_case(&case).unwrap();
    let text = outcome.oracle_text();
    let data = wasivfs_e2e::trees::pattern(3, 5000);
    let fnv = |b: &[u8]| {
        b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
            (h ^ u64::from(*x)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    // One fd_read fills only the first iovec, as wasmtime does.
    let first = format!("n=4096 data={:016x}", fnv(&data[..4096]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}\n{:?}", outcome.oracle.trap);
    assert_eq!(lines[0], "0 open ok h=1", "{text}");
    assert!(
        lines[1].starts_with(&format!("1 read ok {first}")),
        "{text}"
    );
    assert_eq!(lines[2], "2 seek ok pos=4992", "{text}");
    // ".", "..", "ln", "sub" in name order, each cookie one past its position.
    assert!(lines[3].contains(":3:2e 2:"), "{text}");
    assert!(lines[3].contains("3:*:7:6c6e 4:*:3:737562"), "{text}");
    assert_eq!(lines[4], "4 readlink ok n=5 target=7375622f61", "{text}");
    assert!(lines[5].contains("type=7 nlink=1 size=5 "), "{text}");
    assert_eq!(lines[6], "6 seek ok pos=4997", "{text}");
    assert!(outcome.difference().is_none(), "{:?}", outcome.difference());
}

/// Control: the comparison notices a real difference (a file whose contents differ between the two
/// sides), so the generated test cannot pass on outputs it does not look at.
#[test]
fn control_difference_is_detected() {
    let case = Case::parse("f a 10 1\n--\nopen 0 0 0 2 0 0 61\nread 1 16\n").unwrap();
    let outcome = run_case(&case).unwrap();
    assert!(outcome.difference().is_none());
    let mut changed =
        run_case(&Case::parse("f a 10 2\n--\nopen 0 0 0 2 0 0 61\nread 1 16\n").unwrap()).unwrap();
    changed.oracle = outcome.oracle;
    assert!(
        changed.difference().is_some(),
        "a content difference went unnoticed"
    );
}

/// A documented difference: an invalid `whence` answers EINVAL packed, where wasmtime's bindings
/// trap before the call (so the generator only uses SET, CUR and END).
#[test]
fn invalid_whence_is_einval_where_wasmtime_traps() {
    let case =
        Case::parse("f a 10 1\n--\nopen 0 0 0 2 0 0 61\nseek 1 0 3\nseek 0 0 255\n").unwrap();
    let outcome = run_case(&case).unwrap();
    let trap = outcome.oracle.trap.as_deref().unwrap_or_default();
    assert!(trap.contains("Invalid enum value"), "oracle: {trap:?}");
    let packed = String::from_utf8_lossy(&outcome.packed.stdout).into_owned();
    assert_eq!(
        packed, "0 open ok h=1\n1 seek err=28\n2 seek err=28\n",
        "{:?}",
        outcome.packed.trap
    );
}
