//! `cargo xtask dist --host` end to end: the artifacts of this machine's platform are built from
//! the packaged crates, installed the way users install them (a new venv with pip, a new npm
//! prefix, the static binary alone) with no Rust toolchain on PATH, and each installed command
//! runs the README's main job: pack the Python app, run it, make an executable and run that.
//! A second build gives the same bytes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasivfs_e2e::artifacts;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const HOST_TRIPLE: &str = "x86_64-unknown-linux-musl";
const GREETING: &str = "Hello from a packed CPython!";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("xtask has no parent directory"))
}

fn check(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn output(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    check(out, what)
}

/// A PATH with the system's directories and `extra` only: no cargo, no rustc.
fn path_without_rust(extra: &[&Path]) -> OsString {
    let mut dirs: Vec<PathBuf> = extra.iter().map(|p| p.to_path_buf()).collect();
    dirs.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from));
    let path = std::env::join_paths(dirs).unwrap_or_else(|e| panic!("{e}"));
    for tool in ["cargo", "rustc"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .env("PATH", &path)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(!found, "{tool} is on the test's PATH {path:?}");
    }
    path
}

/// `wasivfs --version` names this version (then the ABI and format versions).
fn assert_version(printed: &str) {
    assert!(
        printed.starts_with(&format!("wasivfs {VERSION} ")),
        "--version printed {printed:?}"
    );
}

/// `cargo xtask dist --host` into `out`, working in `work`, with the runner cache of the `exe`
/// tests (`exe-cache/` in the target directory, beside `work`): the runner they built for this
/// platform is the one the binary embeds.
fn dist(out: &Path, work: &Path) {
    let runner_cache = work
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent", work.display()))
        .join("exe-cache");
    output(
        Command::new(XTASK)
            .args(["dist", "--host", "--out"])
            .arg(out)
            .arg("--work")
            .arg(work)
            .env("WASIVFS_CACHE", runner_cache),
        "cargo xtask dist --host",
    );
}

/// The README's main job with `wasivfs` (a program and its first arguments), in `dir`, with
/// `path` as PATH: pack the Python app with its entry point, run it, make it an executable, run
/// that.
fn readme_job(wasivfs: &[OsString], dir: &Path, path: &OsString, cache: &Path, python: &Path) {
    let run = |args: &[&str], what: &str| {
        let mut cmd = Command::new(&wasivfs[0]);
        cmd.args(&wasivfs[1..])
            .args(args)
            .current_dir(dir)
            .env("PATH", path)
            .env("WASIVFS_CACHE", cache);
        output(&mut cmd, what)
    };
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    let app = root().join("fixtures/python-app");
    let python = python.to_str().unwrap_or_else(|| panic!("{python:?}"));
    let mapdir = format!("/app::{}", app.display());
    run(
        &[
            "pack",
            python,
            "--mapdir",
            &mapdir,
            "-o",
            "app.wasm",
            "--",
            "/app/main.py",
        ],
        "wasivfs pack",
    );
    let out = run(&["run", "app.wasm"], "wasivfs run");
    assert!(out.contains(GREETING), "wasivfs run printed {out:?}");
    run(&["exe", "app.wasm", "-o", "app"], "wasivfs exe");
    let out = output(
        Command::new(dir.join("app"))
            .args(["--name", "x"])
            .env_clear(),
        "the executable",
    );
    assert!(out.contains(GREETING), "the executable printed {out:?}");
    assert!(
        out.contains("['--name', 'x']"),
        "the executable printed {out:?}"
    );
}

#[test]
fn host_artifacts_install_and_run_the_readme_job() {
    if std::env::consts::ARCH != "x86_64" || std::env::consts::OS != "linux" {
        wasivfs_e2e::skip::unavailable::<()>("this test installs the x86_64 Linux artifacts");
        return;
    }
    let Some(python) = artifacts::require(artifacts::PYTHON) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Where `cargo xtask dist` works by default (target/dist-work), so they share their builds.
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or_else(|| panic!("CARGO_TARGET_TMPDIR has no parent"))
        .join("dist-work");
    let out = tmp.path().join("dist");
    dist(&out, &work);
    let cache = tmp.path().join("cache");

    // The artifacts, named as each ecosystem names them, and their checksums.
    let binary = out.join(format!("wasivfs-{VERSION}-{HOST_TRIPLE}"));
    let wheel = out.join(format!(
        "wasivfs-{VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64.whl"
    ));
    let npm_main = out.join(format!("wasivfs-{VERSION}.tgz"));
    let npm_platform = out.join(format!("wasivfs-linux-x64-{VERSION}.tgz"));
    for f in [&binary, &wheel, &npm_main, &npm_platform] {
        assert!(f.is_file(), "{} was not built", f.display());
    }
    output(
        Command::new("sha256sum")
            .args(["-c", "--quiet", "SHA256SUMS"])
            .current_dir(&out),
        "sha256sum -c SHA256SUMS",
    );
    let elf = std::fs::read(&binary).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !wasivfs_exe::elf_interpreter(&elf),
        "the musl binary asks for a dynamic loader"
    );

    // Built again (from the same packaged crates): the same bytes, every artifact.
    let again = tmp.path().join("dist-again");
    dist(&again, &work);
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap_or_else(|e| panic!("{e}"));
    let sums_again =
        std::fs::read_to_string(again.join("SHA256SUMS")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sums, sums_again, "two builds differ");

    // The static binary, alone.
    let bare = path_without_rust(&[]);
    readme_job(
        &[binary.clone().into()],
        &tmp.path().join("static"),
        &bare,
        &cache,
        &python,
    );

    // pip: a new venv; `wasivfs` on its PATH, and `python -m wasivfs`.
    let venv = tmp.path().join("venv");
    output(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
    );
    output(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--no-index", "--quiet"])
            .arg(&wheel),
        "pip install the wheel",
    );
    let venv_path = path_without_rust(&[&venv.join("bin")]);
    readme_job(
        &["wasivfs".into()],
        &tmp.path().join("pip"),
        &venv_path,
        &cache,
        &python,
    );
    let version = output(
        Command::new("python")
            .args(["-m", "wasivfs", "--version"])
            .env("PATH", &venv_path),
        "python -m wasivfs --version",
    );
    assert_version(&version);

    // npm: a new global prefix, and a project using the JavaScript API and npx.
    let prefix = tmp.path().join("npm-prefix");
    let npm_install = |dir: &Path, global: bool| {
        let mut cmd = Command::new("npm");
        cmd.args([
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]);
        if global {
            cmd.arg("--global").arg("--prefix").arg(&prefix);
        }
        cmd.arg(&npm_platform).arg(&npm_main).current_dir(dir);
        output(&mut cmd, "npm install");
    };
    std::fs::create_dir_all(&prefix).unwrap_or_else(|e| panic!("{e}"));
    npm_install(tmp.path(), true);
    let npm_path = path_without_rust(&[&prefix.join("bin")]);
    readme_job(
        &["wasivfs".into()],
        &tmp.path().join("npm"),
        &npm_path,
        &cache,
        &python,
    );

    let project = tmp.path().join("project");
    std::fs::create_dir_all(&project).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(project.join("package.json"), "{\"private\": true}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    npm_install(&project, false);
    let version = output(
        Command::new("npx")
            .args(["--offline", "wasivfs", "--version"])
            .current_dir(&project)
            .env("PATH", &npm_path),
        "npx wasivfs --version",
    );
    assert_version(&version);
    let app = root().join("fixtures/python-app");
    let script = format!(
        r#"import {{ pack }} from "wasivfs";
await pack({{ input: {python:?}, output: "api.wasm", mapdir: {{ "/app": {app:?} }}, args: ["/app/main.py"] }});
try {{
  await pack({{ input: {python:?}, output: "bad.wasm", mapdir: {{ "/app": "missing-dir" }} }});
  console.log("no error");
}} catch (e) {{
  console.log(`${{e.name}}: ${{e.message}}`);
}}
"#,
        python = python.display().to_string(),
        app = app.display().to_string(),
    );
    std::fs::write(project.join("build.mjs"), script).unwrap_or_else(|e| panic!("{e}"));
    let printed = output(
        Command::new("node")
            .arg("build.mjs")
            .current_dir(&project)
            .env("PATH", &npm_path),
        "node build.mjs (the JavaScript API)",
    );
    assert!(project.join("api.wasm").is_file(), "pack() wrote nothing");
    assert!(
        !project.join("bad.wasm").exists(),
        "a failed pack() left output"
    );
    let line = printed.trim();
    assert!(
        line.starts_with("WasivfsError: ") && line.contains("missing-dir") && !line.contains('\n'),
        "pack() on a missing directory: {line:?}"
    );
}
