//! The one policy for a test whose requirement is unavailable on this machine.
//!
//! Outside CI a missing requirement (an interpreter download, a runtime, a cross toolchain, a
//! privilege) prints `SKIPPED: <reason>` on stderr and the test returns. Under `CI=true`, where
//! `.ci/setup` installs everything, the same call fails the test, so nothing passes vacuously.
//!
//! The one exception is [`never_shipped`]: an input that no machine of this project has (the WASI
//! test suite's prebuilt programs, which may not be committed or downloaded). It prints a line
//! that says the test did not run, in CI too.

use std::fmt::Display;

/// Whether we run under CI (`CI=true` or `CI=1`), where an unavailable requirement is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that a requirement is unavailable: panics under CI, else prints `SKIPPED: <reason>`.
/// Returns `None` so that callers can write `return skip::unavailable(..)` or `?` on it.
pub fn unavailable<T>(reason: impl Display) -> Option<T> {
    if in_ci() {
        panic!("unavailable under CI=true: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// Reports that a test cannot run on any machine of this project because an input is never
/// shipped: prints `SKIPPED (not run, not a pass): <reason>`, in CI too, and returns `None`.
pub fn never_shipped<T>(reason: impl Display) -> Option<T> {
    eprintln!("SKIPPED (not run, not a pass): {reason}");
    None
}
