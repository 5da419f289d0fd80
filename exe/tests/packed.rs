//! `wasivfs exe` on packed modules: the embedded files travel inside the
//! executable, which is run alone in an empty directory with a clean
//! environment.

mod support;

use support::*;

#[test]
fn packed_c_program_reads_its_embedded_files() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let tree = tmp.path().join("tree");
    note_tree(&tree);
    let plain = tmp.path().join("probe.wasm");
    std::fs::write(&plain, c_probe()).unwrap_or_else(|e| panic!("{e}"));
    let packed = pack(&plain, &[("/src", &tree)]);
    let exe = make_exe(&packed, tmp.path(), "probe-packed", &[]);
    // The host tree is gone: only the executable's copy can answer.
    std::fs::remove_dir_all(&tree).unwrap_or_else(|e| panic!("{e}"));

    let out = run_isolated(
        &exe,
        &["--flag", "cat", "/src/sub/note.txt", "exit", "5"],
        &[],
    );
    assert_exit_and_stdout_end(&out, 5, "embedded note\n");
    let out = run_isolated(&exe, &["cat", "/src/missing"], &[]);
    assert_eq!(out.status.code(), Some(2));
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
