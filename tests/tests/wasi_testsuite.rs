//! The WASI preview 1 test suite (`shared/wasi-testsuite`, see `wasivfs_e2e::testsuite`), run on
//! the embedded wasmtime as it is (the oracle) and packed by wasivfs with no mount at all, so every
//! fd and path call goes through the VFS and falls through to the host. Both must pass every test.
//!
//! Packing with no mount keeps the host's descriptor numbers: several tests assume fd 3 is not
//! open, which a mount would break.
//!
//! The suite is found at `$WASIVFS_WASI_TESTSUITE`, else `<repo>/../shared/wasi-testsuite`. Missing,
//! the tests print `SKIPPED`, except with `CI=true`, where they fail. The programs are never shipped
//! with the specifications (they may not be committed), so a copy that has the specifications but
//! none of the `.wasm` programs cannot be run anywhere: the tests then print `SKIPPED (not run, not
//! a pass)`, in CI too, and their names start with `supplied_suite_` to say they need the programs
//! supplied by hand (see `docs/testing.md`).

use std::path::{Path, PathBuf};
use wasivfs_e2e::packer::Writable;
use wasivfs_e2e::run::{copy_tree, execute_writable, map, pack, pack_writable, Run};
use wasivfs_e2e::skip;
use wasivfs_e2e::testsuite::{self, SuiteTest};
use wasivfs_module_cache::RunOutcome;

/// The suite's tests, or `None` after printing why they are unavailable (a failure under CI).
fn suite() -> Option<Vec<SuiteTest>> {
    let dir = testsuite::location();
    match testsuite::tests(&dir) {
        Ok(t) => Some(t),
        Err(e) => {
            let reason = format!(
                "wasi-testsuite unavailable: {e} (set {} to its directory)",
                testsuite::ENV
            );
            if testsuite::programs_missing(&dir) {
                skip::never_shipped(reason)
            } else {
                skip::unavailable(reason)
            }
        }
    }
}

fn run(module: &[u8], t: &SuiteTest, root: Option<&Path>) -> RunOutcome {
    let mut args = vec![t.name.rsplit('/').next().unwrap_or(&t.name).to_string()];
    args.extend(t.args.iter().cloned());
    let mut run = Run::args(&args);
    run.env = t.env.clone();
    if let Some(r) = root {
        run = run.dir(r, "/");
    }
    execute_writable(module, &run).unwrap_or_else(|e| panic!("{}: cannot run: {e:#}", t.name))
}

/// The test's module.
fn module(t: &SuiteTest) -> Vec<u8> {
    std::fs::read(&t.wasm).unwrap_or_else(|e| panic!("{}: {e}", t.wasm.display()))
}

/// A fresh writable copy of the test's root directory in `scratch`, if it has one.
fn fresh_root(t: &SuiteTest, scratch: &Path) -> Option<PathBuf> {
    let r = t.root.as_ref()?;
    let copy = scratch.join("root");
    copy_tree(r, &copy).unwrap_or_else(|e| panic!("{}: copying {r:?}: {e}", t.name));
    Some(copy)
}

/// Runs `module` for `t` (its root at `/` if given) and checks the outcome against the test's
/// specification: `None` if it passed, else a failure line naming `t`, `how` it ran and why.
fn failure(module: &[u8], t: &SuiteTest, root: Option<&Path>, how: &str) -> Option<String> {
    let outcome = run(module, t, root);
    let why = t.check(&outcome)?;
    Some(format!(
        "{}{how}: {why}\n  stderr: {}",
        t.name,
        String::from_utf8_lossy(&outcome.stderr).trim_end()
    ))
}

/// Runs each test of the suite with (`with_root`) or without a root directory on the oracle and
/// packed, and requires them all to pass. `root` tests get a fresh writable copy of their root
/// for each run.
fn check_all(with_root: bool) {
    let Some(all) = suite() else { return };
    let tests: Vec<SuiteTest> = all
        .into_iter()
        .filter(|t| t.root.is_some() == with_root)
        .collect();
    let which = if with_root { "with" } else { "without" };
    assert!(!tests.is_empty(), "no test {which} a root directory");
    let mut failures = Vec::new();
    for t in &tests {
        let module = module(t);
        let packed = pack(&module, &[]).unwrap_or_else(|e| panic!("{}: packing: {e:#}", t.name));
        for (side, bytes) in [("host-mapped", &module), ("packed", &packed)] {
            let scratch = tempfile::tempdir().expect("temporary directory");
            let root = fresh_root(t, scratch.path());
            failures.extend(failure(bytes, t, root.as_deref(), &format!(" ({side})")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} wasi-testsuite runs failed:\n{}",
        failures.len(),
        tests.len() * 2,
        failures.join("\n")
    );
    println!(
        "{} wasi-testsuite tests {which} a root passed host-mapped and packed",
        tests.len()
    );
}

/// The requirement: every test without a root directory passes packed with no mount.
#[test]
fn supplied_suite_tests_without_root_pass_packed_with_no_mount() {
    check_all(false);
}

/// The file system tests too, with their root host-mapped read-write as `/` next to a packed module
/// with no mount: the VFS forwards every call on that host preopen.
#[test]
fn supplied_suite_tests_with_root_pass_through_the_vfs() {
    check_all(true);
}

/// The goal: the file system tests with their root *packed* at `/` and made writable
/// (`--writable /`), with no host directory at all, each on a fresh copy of its root; tests
/// without a root packed with no mount. Compared with the specification, as host-mapped.
#[test]
fn supplied_suite_every_test_passes_packed_with_a_writable_root() {
    let Some(all) = suite() else { return };
    let mut failures = Vec::new();
    for t in &all {
        let module = module(t);
        let scratch = tempfile::tempdir().expect("temporary directory");
        let packed = match fresh_root(t, scratch.path()) {
            None => pack(&module, &[]),
            Some(copy) => {
                let mounts = [map("/", &copy)];
                pack_writable(&module, &mounts, &Writable::all(&mounts))
            }
        }
        .unwrap_or_else(|e| panic!("{}: packing: {e:#}", t.name));
        failures.extend(failure(&packed, t, None, ""));
    }
    println!(
        "{} of {} wasi-testsuite tests passed packed (root packed at / with --writable /)",
        all.len() - failures.len(),
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} wasi-testsuite tests failed packed with a writable root:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
