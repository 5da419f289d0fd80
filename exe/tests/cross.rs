//! `wasivfs exe --target`: executables for other targets, made by the installed `wasivfs`.
//!
//! For each target, the packed C probe and a packed CPython app become executables that are
//! copied alone into an empty directory and run there with an empty environment (natively for
//! x86_64 musl, under `qemu-aarch64` for aarch64 musl, under `wine` for Windows); their output
//! and exit status must equal those of `wasivfs run` on the same packed module.
//!
//! A target that this machine cannot build for, or an emulator that is missing, skips the test
//! with a `SKIPPED` line, except under `CI=true`, where it fails (`.ci/setup` installs them).

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::*;

const X86_64_MUSL: &str = "x86_64-unknown-linux-musl";
const AARCH64_MUSL: &str = "aarch64-unknown-linux-musl";
const WINDOWS: &str = "x86_64-pc-windows-gnu";

/// Says why a test cannot run here, through the suite's one skip policy (fails under CI, else
/// prints `SKIPPED`); returns false.
fn unavailable(test: &str, why: &str) -> bool {
    wasivfs_e2e::skip::unavailable::<()>(format!("{test}: {why}"));
    false
}

/// `wasivfs exe --list-targets`, parsed into (triple, status) pairs.
fn list_targets() -> Vec<(String, String)> {
    let out = wasivfs(&[OsStr::new("exe"), OsStr::new("--list-targets")])
        .output()
        .unwrap_or_else(|e| panic!("cannot run wasivfs: {e}"));
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(t, s)| (t.to_string(), s.trim().to_string()))
        })
        .collect()
}

/// Whether `wasivfs exe` can make executables for `triple` on this machine now.
fn target_ready(test: &str, triple: &str) -> bool {
    match list_targets().into_iter().find(|(t, _)| t == triple) {
        Some((_, status)) if status.starts_with("ready") => true,
        Some((_, status)) => unavailable(test, &format!("target {triple}: {status}")),
        None => unavailable(test, &format!("target {triple} is not listed")),
    }
}

/// How to start an executable for a target on this machine: the command before the
/// executable's path, empty when it runs natively.
fn launcher(test: &str, triple: &str) -> Option<Vec<PathBuf>> {
    let native = match std::env::consts::ARCH {
        "x86_64" => triple.starts_with("x86_64-") && triple.contains("linux"),
        "aarch64" => triple.starts_with("aarch64-") && triple.contains("linux"),
        _ => false,
    };
    if native {
        return Some(Vec::new());
    }
    let (program, package) = if triple.contains("windows") {
        ("wine", "wine")
    } else if triple.starts_with("aarch64-") {
        ("qemu-aarch64", "qemu-user")
    } else {
        ("qemu-x86_64", "qemu-user")
    };
    match which(program) {
        Some(p) => Some(vec![p]),
        None => wasivfs_e2e::skip::unavailable(format!(
            "{test}: {program} is not installed (apt-get install {package})"
        )),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The Wine prefix of the tests, set up once: created by `wineboot`, with a stand-in for
/// `bcryptprimitives.dll` in its system32, which Debian 12's Wine 8.0 lacks and every Rust
/// program for Windows needs (see `fixtures/wine/bcryptprimitives.c`).
fn wine_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = target_dir().join("exe-wine");
        std::fs::create_dir_all(&prefix).unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new("wineboot")
            .arg("--init")
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            .output()
            .unwrap_or_else(|e| panic!("cannot run wineboot: {e}"));
        assert!(out.status.success(), "wineboot: {}", stderr(&out));
        // wineboot returns before the prefix is written out; wait for Wine to finish.
        let _ = Command::new("wineserver")
            .arg("--wait")
            .env("WINEPREFIX", &prefix)
            .status();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wine");
        let dll = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
        let out = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-s", "-o"])
            .arg(&dll)
            .arg(fixture.join("bcryptprimitives.c"))
            .arg(fixture.join("bcryptprimitives.def"))
            .arg("-ladvapi32")
            .output()
            .unwrap_or_else(|e| panic!("cannot run x86_64-w64-mingw32-gcc: {e}"));
        assert!(
            out.status.success(),
            "bcryptprimitives.dll: {}",
            stderr(&out)
        );
        prefix
    })
}

/// Copies `exe` alone into an empty directory and runs it there, through `launcher`, with an
/// empty environment. Under Wine the environment holds only what Wine needs (`WINEPREFIX`,
/// `WINEDEBUG`); Wine adds the Windows variables of its own.
fn run_alone(exe: &Path, launcher: &[PathBuf], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let name = exe
        .file_name()
        .unwrap_or_else(|| panic!("no file name in {}", exe.display()));
    let copy = dir.path().join(name);
    std::fs::copy(exe, &copy).unwrap_or_else(|e| panic!("cannot copy {}: {e}", exe.display()));
    let mut cmd = match launcher.first() {
        Some(l) => {
            let mut c = Command::new(l);
            c.arg(&copy);
            c
        }
        None => Command::new(&copy),
    };
    cmd.args(args).env_clear().current_dir(dir.path());
    if launcher
        .first()
        .is_some_and(|l| l.file_name().is_some_and(|n| n == "wine"))
    {
        cmd.env("WINEPREFIX", wine_prefix())
            .env("WINEDEBUG", "-all")
            .env("PATH", "/usr/bin:/bin");
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", copy.display()))
}

/// `wasivfs run MODULE -- ARGS` in an empty directory (no variables are passed to the guest).
fn wasivfs_run(module: &Path, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut argv: Vec<&OsStr> = vec![OsStr::new("run"), module.as_os_str(), OsStr::new("--")];
    argv.extend(args.iter().map(OsStr::new));
    wasivfs(&argv)
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run wasivfs run: {e}"))
}

/// The packed modules every target is tested with: (name, packed module, runs).
fn packed_apps(tmp: &Path) -> Vec<(&'static str, PathBuf, Vec<Vec<&'static str>>)> {
    let mut apps = Vec::new();

    let tree = tmp.join("tree");
    note_tree(&tree);
    let plain = tmp.join("probe-plain.wasm");
    std::fs::write(&plain, c_probe()).unwrap_or_else(|e| panic!("{e}"));
    let probe = tmp.join("probe-packed.wasm");
    std::fs::write(&probe, pack(&plain, &[("/src", &tree)])).unwrap_or_else(|e| panic!("{e}"));
    apps.push((
        "probe",
        probe,
        vec![
            vec![
                "--flag",
                "x y",
                "env",
                "HOME",
                "cat",
                "/src/sub/note.txt",
                "exit",
                "5",
            ],
            vec!["cat", "/src/missing"],
        ],
    ));

    if let Some(packed) = packed_python_app(tmp) {
        let py = tmp.join("py-packed.wasm");
        std::fs::write(&py, packed).unwrap_or_else(|e| panic!("{e}"));
        apps.push(("py", py, vec![vec!["/app/main.py", "--help", "x"]]));
    }
    apps
}

/// Makes each packed app into an executable for `triple`, checks its format with
/// `check_format`, runs it alone and compares with `wasivfs run`.
fn check_target(test: &str, triple: &str, check_format: impl Fn(&Path)) {
    if !target_ready(test, triple) {
        return;
    }
    let Some(launcher) = launcher(test, triple) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, module, runs) in packed_apps(tmp.path()) {
        let exe = make_exe_for(&read(&module), tmp.path(), name, &[], Some(triple));
        check_format(&exe);
        for args in runs {
            let expected = wasivfs_run(&module, &args);
            let got = run_alone(&exe, &launcher, &args);
            assert_eq!(
                (got.status.code(), stdout(&got)),
                (expected.status.code(), stdout(&expected)),
                "{triple} {name} {args:?}: stderr of the executable: {}",
                stderr(&got)
            );
            assert!(expected.status.code() != Some(0) || !stdout(&expected).is_empty());
        }
    }
}

/// A 64-bit ELF for `machine`, statically linked (no program interpreter).
fn assert_static_elf(exe: &Path, machine: u16) {
    let bytes = read(exe);
    assert_eq!(&bytes[..4], b"\x7fELF", "{}", exe.display());
    assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), machine);
    assert!(
        !wasivfs_exe::elf_interpreter(&bytes),
        "{} is dynamically linked",
        exe.display()
    );
}

#[test]
fn x86_64_musl_executables_are_static_and_run_alone() {
    check_target(
        "x86_64_musl_executables_are_static_and_run_alone",
        X86_64_MUSL,
        |exe| assert_static_elf(exe, 62),
    );
}

#[test]
fn aarch64_musl_executables_are_static_and_run_under_qemu() {
    check_target(
        "aarch64_musl_executables_are_static_and_run_under_qemu",
        AARCH64_MUSL,
        |exe| assert_static_elf(exe, 183),
    );
}

#[test]
fn windows_executables_run_under_wine() {
    check_target("windows_executables_run_under_wine", WINDOWS, |exe| {
        assert_eq!(&read(exe)[..2], b"MZ", "{}", exe.display());
        assert_eq!(exe.extension(), Some(OsStr::new("exe")));
    });
}

#[test]
fn list_targets_shows_every_target() {
    let listed = list_targets();
    let triples: Vec<&str> = listed.iter().map(|(t, _)| t.as_str()).collect();
    for t in [X86_64_MUSL, AARCH64_MUSL, WINDOWS] {
        assert!(triples.contains(&t), "{triples:?}");
    }
    let builtin = wasivfs_exe::builtin_target();
    assert_eq!(triples.first(), Some(&builtin));
    assert!(
        listed[0].1.starts_with("ready: runner built in"),
        "{listed:?}"
    );
    for (t, status) in &listed {
        assert!(
            status.starts_with("ready") || status.starts_with("missing: first "),
            "{t}: {status}"
        );
    }
}

#[test]
fn unsupported_target_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = tmp.path().join("probe.wasm");
    std::fs::write(&input, c_probe()).unwrap_or_else(|e| panic!("{e}"));
    let out_path = tmp.path().join("app");
    for (triple, expect) in [
        ("aarch64-apple-darwin", "Apple's SDK"),
        ("riscv64gc-unknown-linux-gnu", "supported: "),
    ] {
        let out = exe_for_target(&input, &out_path, triple)
            .output()
            .unwrap_or_else(|e| panic!("cannot run wasivfs: {e}"));
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("unsupported target `{triple}`")) && err.contains(expect),
            "{err}"
        );
        assert!(err.contains(X86_64_MUSL) && err.contains(WINDOWS), "{err}");
        assert!(!out_path.exists());
    }
}

/// With a PATH that has cargo but no C compiler, and a rustc that has no standard library for
/// any target, each target's error names exactly what to install, in one line.
#[test]
fn missing_toolchain_pieces_are_named_in_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let fake = |name: &str, script: &str| {
        let p = bin.join(name);
        std::fs::write(&p, script).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    };
    fake("cargo", "#!/bin/sh\nexit 1\n");
    fake("rustc", "#!/bin/sh\necho /nonexistent/lib\n");
    let input = tmp.path().join("probe.wasm");
    std::fs::write(&input, c_probe()).unwrap_or_else(|e| panic!("{e}"));
    let out_path = tmp.path().join("app");
    let host_gcc = "`apt-get install gcc`";
    let cases = [
        (X86_64_MUSL, "apt-get install gcc"),
        (
            AARCH64_MUSL,
            "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
        ),
        (WINDOWS, "apt-get install gcc-mingw-w64-x86-64"),
    ];
    for (triple, install) in cases {
        let out = exe_for_target(&input, &out_path, triple)
            .env("PATH", &bin)
            .env_remove("CARGO")
            .env_remove("RUSTC")
            .env_remove(format!("CC_{}", triple.replace('-', "_")))
            .env_remove(format!(
                "CARGO_TARGET_{}_LINKER",
                triple.replace('-', "_").to_uppercase()
            ))
            .env("WASIVFS_CACHE", tmp.path().join("cache"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run wasivfs: {e}"));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        let expected = format!(
            "to build the runner for {triple} on this machine, first run \
             `rustup target add {triple}` and `{install}`"
        );
        assert!(err.contains(&expected), "{err}\nexpected: {expected}");
        if triple != X86_64_MUSL {
            assert!(!err.contains(host_gcc), "{err}");
        }
        assert!(!out_path.exists());
    }

    // No cargo at all.
    std::fs::remove_file(bin.join("cargo")).unwrap_or_else(|e| panic!("{e}"));
    let out = exe_for_target(&input, &out_path, WINDOWS)
        .env("PATH", &bin)
        .env_remove("CARGO")
        .env("WASIVFS_CACHE", tmp.path().join("cache"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run wasivfs: {e}"));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("first install Rust with rustup (cargo is not on PATH), then run `"),
        "{err}"
    );
}
