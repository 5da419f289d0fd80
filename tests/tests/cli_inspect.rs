//! The read-back commands (`ls`, `cat`, `unpack`, `inspect`) and the feel of the command line
//! (`--version`, `--help`, `-q`, `-v`, quiet pipes, one-line errors), plus `--exclude`,
//! `--exclude-from` and `--follow-symlinks`, through the real `wasivfs` binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use wasivfs_e2e::cli::{wasivfs, Scratch};
use wasivfs_e2e::fixtures;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    out
}

/// Checks the error contract: non-zero exit, exactly one stderr line starting with `error:` and
/// containing every `needle`, nothing on stdout.
fn one_line_error(out: &Output, needles: &[&str]) -> String {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected failure; stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} missing from: {err}");
    }
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    lines[0].to_string()
}

/// A Python-like project tree in `w`.
fn project(w: &Scratch) -> PathBuf {
    let root = w.path("project");
    for (rel, body) in [
        ("main.py", "print('hi')\n"),
        ("keep.pyc", "kept\n"),
        ("other.pyc", "dropped\n"),
        ("pkg/mod.py", "x = 1\n"),
        ("pkg/__pycache__/mod.cpython-312.pyc", "cache\n"),
        ("pkg/build/notes.txt", "nested build dir stays\n"),
        ("build/out.o", "object\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
    ] {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    std::os::unix::fs::symlink("main.py", root.join("entry.py")).unwrap();
    root
}

/// The arguments of `wasivfs pack` of `app` with `tree` at `/app` into `out`, then `flags`.
fn pack_args(app: &Path, tree: &Path, out: &Path, flags: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "pack".into(),
        app.into(),
        "--mapdir".into(),
        format!("/app::{}", s(tree)).into(),
        "-o".into(),
        out.into(),
    ];
    args.extend(flags.iter().map(OsString::from));
    args
}

/// `wasivfs pack` of the fixture app with `tree` at `/app` and `flags`, into `packed.wasm`: the
/// output's path and the command's output (it must succeed).
fn pack_tree(w: &Scratch, tree: &Path, flags: &[&str]) -> (PathBuf, Output) {
    let out = w.path("packed.wasm");
    let output = ok(wasivfs(pack_args(&w.app(), tree, &out, flags)));
    (out, output)
}

fn paths_of(listing: &str) -> Vec<String> {
    listing.lines().map(str::to_string).collect()
}

#[test]
fn version_names_the_abi_and_image_format() {
    let out = ok(wasivfs(["--version"]));
    let v = text(&out.stdout);
    assert_eq!(
        v.trim(),
        format!(
            "wasivfs {} (VFS ABI {}, image format {})",
            env!("CARGO_PKG_VERSION"),
            wasivfs_packer::info::VFS_ABI,
            wasivfs_packer::info::SECTION_FORMAT
        )
    );
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in ["pack", "run", "ls", "cat", "unpack", "inspect"] {
        let out = ok(wasivfs([sub, "--help"]));
        let help = text(&out.stdout);
        assert!(help.contains("Examples:"), "{sub} --help:\n{help}");
        assert!(
            help.contains(&format!("wasivfs {sub} ")),
            "{sub} --help:\n{help}"
        );
        // The first line says what the subcommand does (not a note for the code's readers).
        let first = help.lines().next().unwrap_or_default();
        let does = match sub {
            "pack" => "Embed host directories",
            "run" => "Run a WASI",
            "ls" => "List the files",
            "cat" => "Print an embedded file",
            "unpack" => "Extract the embedded files",
            _ => "Describe a packed module",
        };
        assert!(
            first.starts_with(does),
            "{sub} --help starts with {first:?}"
        );
    }
    let help = text(&ok(wasivfs(["--help"])).stdout);
    for sub in ["pack", "run", "ls", "cat", "unpack", "inspect"] {
        assert!(help.contains(sub), "{help}");
    }
}

#[test]
fn usage_mistakes_are_one_line() {
    one_line_error(&wasivfs(["ls", "x.wasm", "--bogus"]), &["--bogus"]);
    one_line_error(
        &wasivfs(["pack", "a.wasm", "--mtime", "yesterday", "-o", "o.wasm"]),
        &["yesterday"],
    );
    one_line_error(
        &wasivfs(["pack", "a.wasm", "-q", "-v", "-o", "o.wasm"]),
        &["--quiet"],
    );
}

#[test]
fn modules_not_packed_by_wasivfs_are_refused_in_one_line() {
    let w = Scratch::new();
    let app = w.app();
    let garbage = w.path("garbage.wasm");
    std::fs::write(&garbage, b"not wasm at all").unwrap();
    for m in [&app, &garbage] {
        let name = m.file_name().unwrap().to_str().unwrap();
        let out_dir = w.path("never");
        for args in [
            vec!["ls", s(m)],
            vec!["cat", s(m), "/src/main.py"],
            vec!["unpack", s(m), "-o", s(&out_dir)],
            vec!["inspect", s(m)],
            vec!["inspect", s(m), "--json"],
        ] {
            let line = one_line_error(&wasivfs(&args), &[name, "not packed by wasivfs"]);
            assert!(line.starts_with(&format!("error: {}", s(m))), "{line}");
        }
        assert!(!out_dir.exists());
    }
    one_line_error(
        &wasivfs(["inspect", s(&w.path("missing.wasm"))]),
        &["missing.wasm"],
    );
}

#[test]
fn ls_cat_unpack_and_inspect_show_the_embedded_tree() {
    let w = Scratch::new();
    let (out, packed) = pack_tree(&w, &project(&w), &[]);
    // The summary line goes to stdout; stderr is a pipe here, so no progress is drawn.
    assert!(
        text(&packed.stdout).starts_with(s(&out)),
        "{}",
        text(&packed.stdout)
    );
    assert!(packed.stderr.is_empty(), "stderr: {}", text(&packed.stderr));

    let ls = text(&ok(wasivfs(["ls", s(&out)])).stdout);
    assert_eq!(ls, "/app/\n");
    let ls = text(&ok(wasivfs(["ls", s(&out), "/app"])).stdout);
    assert_eq!(
        paths_of(&ls),
        [
            "/app/.git/",
            "/app/build/",
            "/app/entry.py",
            "/app/keep.pyc",
            "/app/main.py",
            "/app/other.pyc",
            "/app/pkg/"
        ]
    );
    let long = text(&ok(wasivfs(["ls", s(&out), "/app/entry.py", "-l"])).stdout);
    assert!(long.starts_with("l "), "{long}");
    assert!(
        long.trim_end().ends_with("/app/entry.py -> main.py"),
        "{long}"
    );
    let long = text(&ok(wasivfs(["ls", s(&out), "/app/pkg", "-lR"])).stdout);
    assert!(
        long.lines()
            .any(|l| l.starts_with("- ") && l.contains(" 6 ") && l.ends_with("/app/pkg/mod.py")),
        "{long}"
    );
    assert!(long
        .lines()
        .any(|l| l.starts_with("d ") && l.ends_with("/app/pkg/__pycache__")));

    // cat follows the embedded link and prints the bytes unchanged.
    let cat = ok(wasivfs(["cat", s(&out), "/app/entry.py"]));
    assert_eq!(cat.stdout, b"print('hi')\n");
    one_line_error(
        &wasivfs(["cat", s(&out), "/app/nope.py"]),
        &["packed.wasm", "/app/nope.py"],
    );
    one_line_error(
        &wasivfs(["cat", s(&out), "/app/pkg"]),
        &["/app/pkg", "directory"],
    );

    // inspect: text and JSON agree with what was packed.
    let human = text(&ok(wasivfs(["inspect", s(&out)])).stdout);
    for needle in [
        "mounts: /app",
        "files: 8",
        "symlinks: 1",
        "wasivfs 0.1.0",
        "path_open",
        "memories: 1",
        "memory mode: single",
    ] {
        assert!(human.contains(needle), "{needle:?} missing:\n{human}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&ok(wasivfs(["inspect", s(&out), "--json"])).stdout).unwrap();
    let layer = &json["layers"][0];
    assert_eq!(layer["mounts"][0]["guest"], "/app");
    assert_eq!(layer["files"], 8);
    assert_eq!(layer["input"]["size"], fixtures::fsops().len());
    assert_eq!(json["memories"], 1);
    assert_eq!(json["layers"][0]["memory"], "single");
    assert!(layer["trampolines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "fd_read"));

    // unpack recreates the tree, and refuses to write into a non-empty directory.
    let dest = w.path("dest");
    ok(wasivfs(["unpack", s(&out), "-o", s(&dest), "-q"]));
    assert_eq!(
        std::fs::read(dest.join("app/pkg/build/notes.txt")).unwrap(),
        b"nested build dir stays\n"
    );
    assert_eq!(
        std::fs::read_link(dest.join("app/entry.py")).unwrap(),
        Path::new("main.py")
    );
    one_line_error(
        &wasivfs(["unpack", s(&out), "-o", s(&dest)]),
        &["dest", "not empty"],
    );
}

#[test]
fn excludes_from_options_and_files() {
    let w = Scratch::new();
    let app = w.app();
    let tree = project(&w);
    let list = w.path("packignore");
    std::fs::write(
        &list,
        "# caches\n__pycache__/\n*.pyc\n\n# only the top-level build\n/build\n",
    )
    .unwrap();
    let excludes = [
        "--exclude-from",
        s(&list),
        "--exclude",
        ".git/",
        "--exclude",
        "!keep.pyc",
        "-v",
    ];
    let (out, packed) = pack_tree(&w, &tree, &excludes);
    // -v: stage timings and counts on stderr.
    let err = text(&packed.stderr);
    for stage in ["walk:", "snapshot:", "merge:", "write:"] {
        assert!(
            err.contains(stage),
            "{stage} missing from -v output:\n{err}"
        );
    }
    assert!(err.contains("excluded 4 entries"), "{err}");
    let ls = text(&ok(wasivfs(["ls", s(&out), "/app", "-R"])).stdout);
    assert_eq!(
        paths_of(&ls),
        [
            "/app/entry.py",
            "/app/keep.pyc",
            "/app/main.py",
            "/app/pkg/",
            "/app/pkg/build/",
            "/app/pkg/build/notes.txt",
            "/app/pkg/mod.py"
        ]
    );

    // A bad pattern names its file and line; a missing list names the file.
    std::fs::write(&list, "ok\nbad[z-a]\n").unwrap();
    let args = pack_args(&app, &tree, &out, &["--exclude-from", s(&list)]);
    one_line_error(&wasivfs(args), &["packignore:2", "bad[z-a]"]);
    let missing = w.path("nope-list");
    let args = pack_args(&app, &tree, &out, &["--exclude-from", s(&missing)]);
    one_line_error(&wasivfs(args), &["nope-list"]);
}

#[test]
fn follow_symlinks_stores_targets_and_still_refuses_escapes() {
    let w = Scratch::new();
    let app = w.app();
    let tree = project(&w);
    std::os::unix::fs::symlink("pkg", tree.join("pkg-link")).unwrap();
    let (out, _) = pack_tree(&w, &tree, &["--follow-symlinks", "-q"]);
    let long = text(&ok(wasivfs(["ls", s(&out), "/app", "-l"])).stdout);
    let entry = long.lines().find(|l| l.ends_with("/app/entry.py")).unwrap();
    assert!(entry.starts_with("- "), "{long}");
    let link = long.lines().find(|l| l.ends_with("/app/pkg-link")).unwrap();
    assert!(link.starts_with("d "), "{long}");
    assert_eq!(
        ok(wasivfs(["cat", s(&out), "/app/pkg-link/mod.py"])).stdout,
        b"x = 1\n"
    );

    // An escaping link is an error in both modes; a loop only matters when following.
    std::os::unix::fs::symlink("../../etc/passwd", tree.join("pkg/escape")).unwrap();
    for follow in [false, true] {
        let flags: &[&str] = if follow { &["--follow-symlinks"] } else { &[] };
        let args = pack_args(&app, &tree, &out, flags);
        // Following, the walk may meet it through `pkg-link` first: either name is right.
        one_line_error(&wasivfs(&args), &["/escape", "outside"]);
    }
    std::fs::remove_file(tree.join("pkg/escape")).unwrap();
    std::os::unix::fs::symlink("..", tree.join("pkg/parent")).unwrap();
    pack_tree(&w, &tree, &["-q"]);
    one_line_error(
        &wasivfs(pack_args(&app, &tree, &out, &["--follow-symlinks"])),
        &["/parent", "loop"],
    );
}

#[test]
fn quiet_prints_nothing() {
    let w = Scratch::new();
    let (out, packed) = pack_tree(&w, &project(&w), &["-q"]);
    assert!(packed.stdout.is_empty() && packed.stderr.is_empty());
    let dest = w.path("x");
    let unpacked = ok(wasivfs(["unpack", s(&out), "-o", s(&dest), "--quiet"]));
    assert!(unpacked.stdout.is_empty() && unpacked.stderr.is_empty());
}

/// `inspect` and `ls` say which mounts are writable or tmpfs, with their limits.
#[test]
fn inspect_and_ls_show_writable_and_tmpfs_mounts() {
    let w = Scratch::new();
    let app = w.app();
    let tree = w.small_tree();
    let out = w.path("out.wasm");
    let mapdir = format!("/src::{}", s(&tree));
    let ro = format!("/ro::{}", s(&tree));
    ok(wasivfs([
        "pack",
        s(&app),
        "--mapdir",
        &mapdir,
        "--mapdir",
        &ro,
        "--writable",
        "/src",
        "--tmpfs",
        "/tmp",
        "--tmpfs-size",
        "/tmp=1M",
        "-q",
        "-o",
        s(&out),
    ]));
    let summary = text(&ok(wasivfs(["inspect", s(&out)])).stdout);
    assert!(
        summary.contains(
            "mounts: /src (writable, at most 67108864 bytes), /ro, /tmp (tmpfs, at most 1048576 bytes)"
        ),
        "{summary}"
    );
    let listing = text(&ok(wasivfs(["ls", s(&out)])).stdout);
    assert_eq!(listing, "/src/ (writable)\n/ro/\n/tmp/ (tmpfs)\n");
    let json = text(&ok(wasivfs(["inspect", "--json", s(&out)])).stdout);
    assert!(
        json.contains("\"tmpfs\":true") || json.contains("\"tmpfs\": true"),
        "{json}"
    );
}

/// `inspect` shows what a layer bakes in (text and JSON), and `wasivfs run` appends its own
/// trailing arguments to the baked ones: the probe runs the baked operations and then the
/// runtime's.
#[test]
fn inspect_shows_baked_settings_and_run_appends_arguments() {
    let w = Scratch::new();
    let tree = w.small_tree();
    let (out, _) = pack_tree(
        &w,
        &tree,
        &[
            "--argv0",
            "tool",
            "--env",
            "A=1",
            "--env",
            "EMPTY=",
            "--env",
            "A=2",
            "--env-inherit",
            "HOME,LANG",
            "--arg",
            "/app",
            "--",
            "cat",
            "a.txt",
        ],
    );
    let summary = text(&ok(wasivfs(["inspect", s(&out)])).stdout);
    for line in [
        "  argv[0]: \"tool\"\n",
        "  arguments after argv[0]: \"/app\" \"cat\" \"a.txt\"\n",
        "  environment: \"A=2\" \"EMPTY=\"\n",
        "  runtime variables: only HOME,LANG\n",
        "  host directories: allow (the runtime's preopens stay visible)\n",
    ] {
        assert!(summary.contains(line), "{line:?} missing:\n{summary}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&ok(wasivfs(["inspect", s(&out), "--json"])).stdout).unwrap();
    let program = &json["layers"][0]["program"];
    assert_eq!(program["argv0"], "tool", "{json}");
    assert_eq!(program["args"], serde_json::json!(["/app", "cat", "a.txt"]));
    assert_eq!(
        program["env"],
        serde_json::json!([["A", "2"], ["EMPTY", ""]])
    );
    assert_eq!(
        program["env_inherit"],
        serde_json::json!({"only": ["HOME", "LANG"]})
    );
    let run = text(&ok(wasivfs(["run", s(&out), "stat", "a.txt"])).stdout);
    assert!(run.starts_with("cat \"a.txt\"\n"), "{run}");
    assert!(run.contains("\nstat \"a.txt\"\n"), "{run}");

    // A second layer: its arguments follow, its policy shows on its own layer.
    let again = w.path("again.wasm");
    ok(wasivfs([
        "pack",
        s(&out),
        "-o",
        s(&again),
        "--host-dirs",
        "deny",
        "--",
        "stat",
        ".",
    ]));
    let summary = text(&ok(wasivfs(["inspect", s(&again)])).stdout);
    assert!(
        summary.contains("host directories: deny (the runtime's preopens are hidden)"),
        "{summary}"
    );
    let run = text(&ok(wasivfs(["run", s(&again), "stat", "a.txt"])).stdout);
    let at = |needle: &str| {
        run.find(needle)
            .unwrap_or_else(|| panic!("{needle:?}: {run}"))
    };
    assert_eq!(at("cat \"a.txt\"\n"), 0, "{run}");
    assert!(at("\nstat \".\"\n") < at("\nstat \"a.txt\"\n"), "{run}");
}
