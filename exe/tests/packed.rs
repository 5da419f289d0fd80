//! `wasivfs exe` on packed modules: the embedded files travel inside the
//! executable, which is run alone in an empty directory with a clean
//! environment.

mod support;

use std::process::Output;
use support::*;

/// Packs the note tree at `/src` into `input` (a module or a component), makes an executable of
/// it, removes the tree (only the executable's copy can answer), and runs it twice: reading the
/// note then exiting with 5, and reading a missing file. Returns both runs.
fn packed_note_reader_runs(input: &[u8], name: &str) -> (Output, Output) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let tree = tmp.path().join("tree");
    note_tree(&tree);
    let plain = tmp.path().join(format!("{name}.input.wasm"));
    std::fs::write(&plain, input).unwrap_or_else(|e| panic!("{e}"));
    let packed = pack(&plain, &[("/src", &tree)]);
    let exe = make_exe(&packed, tmp.path(), name, &[]);
    std::fs::remove_dir_all(&tree).unwrap_or_else(|e| panic!("{e}"));
    let note = run_isolated(
        &exe,
        &["--flag", "cat", "/src/sub/note.txt", "exit", "5"],
        &[],
    );
    let missing = run_isolated(&exe, &["cat", "/src/missing"], &[]);
    (note, missing)
}

#[test]
fn packed_c_program_reads_its_embedded_files() {
    let (note, missing) = packed_note_reader_runs(c_probe(), "probe-packed");
    assert_exit_and_stdout_end(&note, 5, "embedded note\n");
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
}

/// The same program as a WASI 0.2 command component (the probe with the preview 1 adapter),
/// packed: the executable runs it on WASI 0.2 and reads the embedded files. WASI 0.2's `exit`
/// has success and failure only, so both exits are 1, as under `wasivfs run` and `wasmtime run`.
#[test]
fn packed_component_reads_its_embedded_files() {
    let component = wasivfs_e2e::component::wrap(c_probe(), "the probe");
    let (note, missing) = packed_note_reader_runs(&component, "component-packed");
    assert_exit_and_stdout_end(&note, 1, "embedded note\n");
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    assert!(
        stdout(&missing).contains("cannot open /src/missing"),
        "{}",
        stdout(&missing)
    );
}

/// A component that is not a command (no `wasi:cli/run`) is refused in one line, and nothing
/// is written.
#[test]
fn a_component_without_cli_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = tmp.path().join("lib.wasm");
    std::fs::write(
        &input,
        wat::parse_str("(component)").unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let output = tmp.path().join("lib");
    let out = wasivfs(&[
        "exe".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        output.as_os_str(),
    ])
    .output()
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("wasi:cli/run") && err.contains("lib.wasm"),
        "{err}"
    );
    assert!(!output.exists());
}

#[test]
fn packed_cpython_runs_an_embedded_script() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let Some(packed) = packed_python_app(tmp.path()) else {
        return;
    };
    let exe = make_exe(&packed, tmp.path(), "py", &[]);
    let out = run_isolated(
        &exe,
        &["/app/main.py", "--help", "x"],
        &[("GREETING", "hello")],
    );
    assert_eq!(out.status.code(), Some(9), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "py (3, 12) ['--help', 'x']\n[\"main.py\"]\nhello 332833500 1.5811388300841898\n"
    );
}

/// CPython packed with its entry point and a variable baked in (`pack -- /app/main.py`), made an
/// executable and run as `./app ARGS` alone in an empty directory with an empty environment:
/// the same output and exit code as CPython unpacked, given the script, the arguments and the
/// variable explicitly with `/app` host-mapped.
#[test]
fn packed_cpython_app_with_its_entry_point_baked() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut program = wasivfs_packer::ProgramConfig {
        args: vec!["/app/main.py".into()],
        host_dirs: wasivfs_packer::HostDirs::Deny,
        ..Default::default()
    };
    program.set_env("GREETING", "baked hello");
    let Some(PythonApp {
        packed,
        python,
        app,
    }) = packed_python_app_with(tmp.path(), program)
    else {
        return;
    };
    let exe = make_exe(&packed, tmp.path(), "py", &[]);
    let out = run_isolated(&exe, &["--name", "x ü"], &[]);
    let oracle = wasivfs_e2e::run::execute(
        &python,
        &wasivfs_e2e::run::Run {
            args: ["app", "/app/main.py", "--name", "x ü"]
                .map(String::from)
                .to_vec(),
            env: vec![("GREETING".into(), "baked hello".into())],
            dirs: vec![(app, "/app".into())],
        },
    )
    .unwrap_or_else(|e| panic!("oracle: {e:#}"));
    assert_eq!(out.status.code(), Some(9), "stderr: {}", stderr(&out));
    assert_eq!(oracle.exit_code, 9);
    assert_eq!(stdout(&out), String::from_utf8_lossy(&oracle.stdout));
    assert!(stdout(&out).starts_with("py (3, 12) ['--name', 'x ü']\n"));
    assert!(stdout(&out).contains("baked hello"));
}

/// `--host-dirs deny`: the executable's baked `--dir` grant and a `WASIVFS_DIRS` grant are
/// invisible to the program, the embedded mount is there.
#[test]
fn denied_host_directories_hide_exe_grants() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let tree = tmp.path().join("tree");
    note_tree(&tree);
    let host = tmp.path().join("host");
    std::fs::create_dir_all(&host).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(host.join("f.txt"), "host file\n").unwrap_or_else(|e| panic!("{e}"));
    let plain = tmp.path().join("probe.wasm");
    std::fs::write(&plain, c_probe()).unwrap_or_else(|e| panic!("{e}"));
    let program = wasivfs_packer::ProgramConfig {
        host_dirs: wasivfs_packer::HostDirs::Deny,
        ..Default::default()
    };
    let packed = pack_program(&plain, &[("/src", &tree)], program);
    let spec = format!("{}::/data", host.display());
    let exe = make_exe(&packed, tmp.path(), "probe-deny", &[&spec]);
    let out = run_isolated(&exe, &["cat", "/src/sub/note.txt"], &[]);
    assert_exit_and_stdout_end(&out, 0, "embedded note\n");
    let out = run_isolated(&exe, &["cat", "/data/f.txt"], &[]);
    assert_exit_and_stdout_end(&out, 2, "cannot open /data/f.txt\n");
    let grant = format!("{}::/late", host.display());
    let out = run_isolated(&exe, &["cat", "/late/f.txt"], &[("WASIVFS_DIRS", &grant)]);
    assert_exit_and_stdout_end(&out, 2, "cannot open /late/f.txt\n");
}
