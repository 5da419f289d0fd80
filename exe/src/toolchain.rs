//! What building a runner for another target needs on this machine, and the exact commands
//! that install what is missing.
//!
//! A runner is built with cargo from the sources embedded in wasivfs (see `runner.rs`). That
//! needs, besides cargo:
//!
//! - the Rust standard library for the target (`rustup target add TRIPLE`);
//! - a C compiler for the target, with its C library headers: wasmtime compiles a small C helper
//!   on Unix. Linux targets of the host's architecture use the host's `cc`; the other
//!   architecture uses Debian's cross compiler (`gcc-aarch64-linux-gnu` with
//!   `libc6-dev-arm64-cross`, or `gcc-x86-64-linux-gnu` with `libc6-dev-amd64-cross`), which
//!   also serves as the linker (Rust's musl targets carry their own C library, so the glibc
//!   headers are only read by that helper, which uses none of their functions);
//! - for Windows, MinGW-w64's `x86_64-w64-mingw32-gcc` (Debian: `gcc-mingw-w64-x86-64`), the
//!   linker Rust expects for `x86_64-pc-windows-gnu`.
//!
//! `CC_<triple>` and `CARGO_TARGET_<TRIPLE>_LINKER`, when set, are used as they are.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::target::{Arch, Os, Target};

/// What is missing to build a runner for a target, as what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The target.
    pub triple: &'static str,
    /// Rust itself (cargo) was not found.
    pub rust: bool,
    /// Commands that install the other missing pieces, in order.
    pub commands: Vec<String>,
}

impl Missing {
    /// What to do, as one phrase: "install Rust with rustup (...), then run `a` and `b`".
    pub fn steps(&self) -> String {
        let commands = self
            .commands
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        match (self.rust, commands.is_empty()) {
            (true, true) => "install Rust with rustup (cargo is not on PATH)".to_string(),
            (true, false) => {
                format!("install Rust with rustup (cargo is not on PATH), then run {commands}")
            }
            (false, _) => format!("run {commands}"),
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "to build the runner for {} on this machine, first {}",
            self.triple,
            self.steps()
        )
    }
}

impl std::error::Error for Missing {}

/// How to run cargo for a target: the program and the variables to set.
#[derive(Debug, Clone)]
pub struct BuildEnv {
    /// The cargo program.
    pub cargo: PathBuf,
    /// Variables to set for cargo (C compiler, linker).
    pub vars: Vec<(String, OsString)>,
}

/// Looks for everything a runner build for `target` needs, with `cwd` as the directory cargo
/// and rustc will run in (toolchain overrides are looked up from there).
pub fn prepare(target: &Target, cwd: &Path) -> Result<BuildEnv, Missing> {
    let mut commands = Vec::new();
    let cargo = cargo_program();
    if let Some(cargo) = &cargo {
        if !has_std(cargo, target, cwd) {
            commands.push(format!("rustup target add {}", target.triple));
        }
    }
    let mut vars = Vec::new();
    match c_toolchain(target) {
        Ok(found) => vars = found,
        Err(command) => commands.push(command),
    }
    match cargo {
        Some(cargo) if commands.is_empty() => Ok(BuildEnv { cargo, vars }),
        _ => Err(Missing {
            triple: target.triple,
            rust: cargo.is_none(),
            commands,
        }),
    }
}

/// The cargo to run: `$CARGO` when it names a file (as under `cargo run`), else `cargo` on PATH.
fn cargo_program() -> Option<PathBuf> {
    if let Some(c) = std::env::var_os("CARGO").filter(|c| !c.is_empty()) {
        let c = PathBuf::from(c);
        if c.is_file() {
            return Some(c);
        }
    }
    find_on_path(OsStr::new("cargo"))
}

/// The rustc that `cargo` will use: `$RUSTC`, else `rustc` beside cargo, else on PATH.
fn rustc_program(cargo: &Path) -> OsString {
    if let Some(r) = std::env::var_os("RUSTC").filter(|r| !r.is_empty()) {
        return r;
    }
    if let Some(beside) = cargo.parent().map(|d| d.join("rustc")) {
        if beside.is_file() {
            return beside.into_os_string();
        }
    }
    "rustc".into()
}

/// Whether the Rust standard library for `target` is installed.
fn has_std(cargo: &Path, target: &Target, cwd: &Path) -> bool {
    let out = Command::new(rustc_program(cargo))
        .args(["--print", "target-libdir", "--target", target.triple])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else { return false };
    if !out.status.success() {
        return false;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false)
}

/// The variables naming a C compiler and linker for `target`, or the command that installs one.
fn c_toolchain(target: &Target) -> Result<Vec<(String, OsString)>, String> {
    let cc_var = format!("CC_{}", target.triple.replace('-', "_"));
    let linker_var = format!(
        "CARGO_TARGET_{}_LINKER",
        target.triple.replace('-', "_").to_uppercase()
    );
    let user_cc = std::env::var_os(&cc_var)
        .or_else(|| std::env::var_os(format!("CC_{}", target.triple)))
        .is_some_and(|v| !v.is_empty());
    let user_linker = std::env::var_os(&linker_var).is_some_and(|v| !v.is_empty());
    if user_cc && user_linker {
        return Ok(Vec::new());
    }

    let host = match std::env::consts::ARCH {
        "x86_64" => Some(Arch::X86_64),
        "aarch64" => Some(Arch::Aarch64),
        _ => None,
    };
    let (candidates, install): (Vec<&str>, &str) = match (target.os, target.arch) {
        (Os::Windows, _) => (
            vec!["x86_64-w64-mingw32-gcc"],
            "apt-get install gcc-mingw-w64-x86-64",
        ),
        (Os::Linux, arch) if Some(arch) == host => (vec!["cc", "gcc"], "apt-get install gcc"),
        (Os::Linux, Arch::Aarch64) => (
            vec!["aarch64-linux-gnu-gcc"],
            "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
        ),
        (Os::Linux, Arch::X86_64) => (
            vec!["x86_64-linux-gnu-gcc"],
            "apt-get install gcc-x86-64-linux-gnu libc6-dev-amd64-cross",
        ),
    };
    let found = candidates
        .iter()
        .filter_map(|c| find_on_path(OsStr::new(c)))
        .find(|c| compiles_with_stdlib(c))
        .ok_or_else(|| install.to_string())?;
    let mut vars = Vec::new();
    if !user_cc {
        vars.push((cc_var, found.clone().into_os_string()));
    }
    if !user_linker {
        vars.push((linker_var, found.into_os_string()));
    }
    Ok(vars)
}

/// Whether the C compiler `cc` finds the C library headers (wasmtime's helper includes
/// `<stdlib.h>`; a cross compiler installed without its libc headers does not).
fn compiles_with_stdlib(cc: &Path) -> bool {
    let child = Command::new(cc)
        .args(["-E", "-x", "c", "-o"])
        .arg(if cfg!(windows) { "NUL" } else { "/dev/null" })
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"#include <stdlib.h>\n");
    }
    child.wait().is_ok_and(|s| s.success())
}

/// The executable file `name` in one of the directories of `PATH` (or `name` itself when it
/// contains a directory).
pub fn find_on_path(name: &OsStr) -> Option<PathBuf> {
    let as_path = Path::new(name);
    if as_path.components().count() > 1 {
        return is_executable(as_path).then(|| as_path.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(windows)]
fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file())
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_reads_as_one_line_of_commands() {
        let mut m = Missing {
            triple: "aarch64-unknown-linux-musl",
            rust: false,
            commands: vec![
                "rustup target add aarch64-unknown-linux-musl".into(),
                "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross".into(),
            ],
        };
        assert_eq!(
            m.to_string(),
            "to build the runner for aarch64-unknown-linux-musl on this machine, first run \
             `rustup target add aarch64-unknown-linux-musl` and \
             `apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross`"
        );
        m.rust = true;
        m.commands.remove(0);
        assert_eq!(
            m.steps(),
            "install Rust with rustup (cargo is not on PATH), then run \
             `apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross`"
        );
        m.commands.clear();
        assert_eq!(m.steps(), "install Rust with rustup (cargo is not on PATH)");
    }

    #[test]
    fn finds_programs_on_path_only_when_executable() {
        assert!(find_on_path(OsStr::new("sh")).is_some());
        assert!(find_on_path(OsStr::new("no-such-program-wasivfs")).is_none());
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("prog");
        std::fs::write(&file, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(find_on_path(file.as_os_str()).is_none());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(find_on_path(file.as_os_str()), Some(file));
    }
}
