//! Shared helpers of the `wasivfs exe` tests: building the guest fixtures once, making
//! executables with the installed `wasivfs` binary, and running them in isolation.
//!
//! Executables are made as after `cargo install --path cli`: by a copy of the `wasivfs` binary
//! alone in an empty directory, with no runner beside it and no variable naming one. Runners
//! for other targets are built into a cache under the target directory (`exe-cache/`), shared
//! by the tests of one `cargo test` run and kept for the next.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The workspace target directory.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => root().join("target"),
    }
}

/// The `wasivfs` binary as installed: copied alone into a directory of its own (kept for the
/// test process), so that nothing beside it can serve as a runner.
pub fn installed_wasivfs() -> &'static Path {
    static BIN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bin = dir.path().join("wasivfs");
        std::fs::copy(wasivfs_e2e::cli::wasivfs_bin(), &bin)
            .unwrap_or_else(|e| panic!("cannot copy the wasivfs binary: {e}"));
        (dir, bin)
    })
    .1
}

/// The runner cache the tests use (`WASIVFS_CACHE` of the `wasivfs` they run).
pub fn exe_cache() -> PathBuf {
    target_dir().join("exe-cache")
}

/// A `wasivfs ARGS` command as a user runs it: the installed binary, with the runner cache of
/// the tests.
pub fn wasivfs(args: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = Command::new(installed_wasivfs());
    cmd.args(args).env("WASIVFS_CACHE", exe_cache());
    cmd
}

/// `wasivfs exe INPUT -o OUTPUT --target TRIPLE`, as [`wasivfs`] runs it.
pub fn exe_for_target(input: &Path, output: &Path, triple: &str) -> Command {
    use std::ffi::OsStr;
    wasivfs(&[
        OsStr::new("exe"),
        input.as_os_str(),
        OsStr::new("-o"),
        output.as_os_str(),
        OsStr::new("--target"),
        OsStr::new(triple),
    ])
}

/// Creates `tree/sub/note.txt` holding `embedded note\n`: the directory the packed tests embed.
pub fn note_tree(tree: &Path) {
    std::fs::create_dir_all(tree.join("sub")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(tree.join("sub/note.txt"), "embedded note\n").unwrap_or_else(|e| panic!("{e}"));
}

/// The runner built into wasivfs, written to a file of its own.
pub fn runner() -> &'static Path {
    static RUNNER: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &RUNNER
        .get_or_init(|| {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("wasivfs-exe-runner");
            std::fs::write(&path, wasivfs_exe::builtin_runner()).unwrap_or_else(|e| panic!("{e}"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{e}"));
            (dir, path)
        })
        .1
}

/// The C probe (`fixtures/c/probe.c`), built by the end-to-end tests' build script.
pub fn c_probe() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| wasivfs_e2e::fixtures::bytes(wasivfs_e2e::fixtures::PROBE))
}

/// The Rust programs of `fixtures/exe-guest` for wasm32-wasip1; `bin` is `hello` or `fib`.
pub fn rust_guest(bin: &str) -> Vec<u8> {
    use wasivfs_e2e::fixtures::{bytes, EXE_GUEST_FIB, EXE_GUEST_HELLO};
    match bin {
        "hello" => bytes(EXE_GUEST_HELLO),
        "fib" => bytes(EXE_GUEST_FIB),
        other => panic!("no exe-guest program {other:?}"),
    }
}

/// Reads a file or panics naming it.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Makes an executable for this machine from `module` with baked `dirs` into `dir/name`, with
/// the installed `wasivfs exe`.
pub fn make_exe(module: &[u8], dir: &Path, name: &str, dirs: &[&str]) -> PathBuf {
    make_exe_for(module, dir, name, dirs, None)
}

/// Like [`make_exe`], for `target` (`--target`) when given. Returns the executable's path
/// (with `.exe` for Windows).
pub fn make_exe_for(
    module: &[u8],
    dir: &Path,
    name: &str,
    dirs: &[&str],
    target: Option<&str>,
) -> PathBuf {
    let input = dir.join(format!("{name}.wasm"));
    std::fs::write(&input, module).unwrap_or_else(|e| panic!("{e}"));
    let output = dir.join(name);
    let mut args: Vec<OsString> = vec![
        "exe".into(),
        input.into(),
        "-o".into(),
        output.clone().into(),
    ];
    for d in dirs {
        args.push("--dir".into());
        args.push((*d).into());
    }
    if let Some(t) = target {
        args.push("--target".into());
        args.push(t.into());
    }
    let args: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
    let out = wasivfs(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run wasivfs: {e}"));
    assert!(
        out.status.success(),
        "wasivfs exe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if target.is_some_and(|t| t.contains("windows")) {
        dir.join(format!("{name}.exe"))
    } else {
        output
    }
}

/// Copies `exe` alone into a fresh empty directory and runs it there with a
/// clean environment plus `env`.
pub fn run_isolated(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let copy = dir.path().join("app");
    std::fs::copy(exe, &copy).unwrap_or_else(|e| panic!("cannot copy {}: {e}", exe.display()));
    let mut cmd = Command::new(&copy);
    cmd.args(args).env_clear().current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Another test thread may fork while our copy's descriptor is still open (it closes on exec
    // only): the kernel then refuses to run the file for a moment (ETXTBSY). Try again.
    let mut tries = 0;
    loop {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r.unwrap_or_else(|e| panic!("cannot run {}: {e}", copy.display())),
        }
    }
}

/// The process's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The process's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Packs `mappings` (`(guest, host)`) into the module at `input`, returning
/// the packed bytes.
pub fn pack(input: &Path, mappings: &[(&str, &Path)]) -> Vec<u8> {
    pack_program(input, mappings, wasivfs_packer::ProgramConfig::default())
}

/// [`pack`] with baked arguments, variables and policies.
pub fn pack_program(
    input: &Path,
    mappings: &[(&str, &Path)],
    program: wasivfs_packer::ProgramConfig,
) -> Vec<u8> {
    let opts = wasivfs_packer::PackOptions {
        program,
        input: input.to_path_buf(),
        output: PathBuf::new(),
        mappings: mappings
            .iter()
            .map(|(guest, host)| wasivfs_packer::Mapping {
                guest: (*guest).to_owned(),
                host: host.to_path_buf(),
            })
            .collect(),
        ..Default::default()
    };
    match wasivfs_packer::pack_to_bytes(&opts) {
        Ok((bytes, _)) => bytes,
        Err(e) => panic!("packing {} failed: {e}", input.display()),
    }
}

/// The downloaded interpreter `name` (see `wasivfs_e2e::artifacts`): `None`, after saying so,
/// when it is not available outside CI; under `CI=true` a missing artifact fails the test.
pub fn artifact(name: &str) -> Option<PathBuf> {
    wasivfs_e2e::artifacts::require(name)
}

/// CPython packed with a one-file app at `/app` (made under `dir`): `main.py` prints its
/// version, its arguments, the app directory's listing, `$GREETING` and two computed values,
/// then exits with 9. `None` when CPython is not available (see [`artifact`]).
pub fn packed_python_app(dir: &Path) -> Option<Vec<u8>> {
    packed_python_app_with(dir, wasivfs_packer::ProgramConfig::default()).map(|a| a.packed)
}

/// What [`packed_python_app_with`] made.
pub struct PythonApp {
    /// The packed module.
    pub packed: Vec<u8>,
    /// CPython itself, unpacked.
    pub python: Vec<u8>,
    /// The app directory (`/app` in the packed module).
    pub app: PathBuf,
}

/// [`packed_python_app`] with `program` baked in; also returns CPython itself and the app
/// directory, for an unpacked run of the same app.
pub fn packed_python_app_with(
    dir: &Path,
    program: wasivfs_packer::ProgramConfig,
) -> Option<PythonApp> {
    let python = artifact("python-3.12.0.wasm")?;
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap_or_else(|e| panic!("{}: {e}", app.display()));
    std::fs::write(
        app.join("main.py"),
        "import os, sys, json\n\
         print('py', sys.version_info[:2], sys.argv[1:])\n\
         print(json.dumps(sorted(os.listdir('/app'))))\n\
         print(os.environ.get('GREETING'), sum(i * i for i in range(1000)), 2.5 ** 0.5)\n\
         sys.exit(9)\n",
    )
    .unwrap_or_else(|e| panic!("{}: {e}", app.display()));
    let packed = pack_program(&python, &[("/app", &app)], program);
    Some(PythonApp {
        packed,
        python: read(&python),
        app,
    })
}

/// Checks that `out` exited with `code` (showing stderr if not) and that its stdout ends with
/// `tail`.
pub fn assert_exit_and_stdout_end(out: &Output, code: i32, tail: &str) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
    let text = stdout(out);
    assert!(text.ends_with(tail), "{text}");
}
