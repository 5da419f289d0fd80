//! Bad input through the real `wasivfs` binary: each case must print exactly one line on stderr,
//! starting with `error:` and naming the culprit, exit non-zero, and create no output file (nor
//! leave temporary files behind).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wasivfs_e2e::cli::{wasivfs_bin, Scratch};
use wasivfs_e2e::{fixtures, trees};

/// `wasivfs pack INPUT --mapdir MAPDIR -o OUTPUT`'s arguments.
fn pack_args(input: &Path, mapdir: &str, output: &Path) -> [OsString; 6] {
    [
        "pack".into(),
        input.into(),
        "--mapdir".into(),
        mapdir.into(),
        "-o".into(),
        output.into(),
    ]
}

fn pack_cmd(input: &Path, mapdir: &str, output: &Path) -> Command {
    let mut c = Command::new(wasivfs_bin());
    c.args(pack_args(input, mapdir, output));
    c
}

/// Runs `cmd`, which must succeed.
fn succeed(mut cmd: Command) {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn mapdir(guest: &str, host: &Path) -> String {
    format!("{guest}::{}", host.display())
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs `cmd` and checks the error contract; `culprit` must appear in the single stderr line.
fn expect_error(what: &str, mut cmd: Command, culprit: &str, output: &Path) -> String {
    let watch = output.parent().map(Path::to_path_buf);
    let before = watch.as_deref().map(entries).unwrap_or_default();
    let out: Output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{what}: expected failure, got success; stderr: {stderr}"
    );
    assert_ne!(
        out.status.code(),
        None,
        "{what}: killed by a signal; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected exactly one stderr line, got:\n{stderr}"
    );
    assert!(lines[0].starts_with("error:"), "{what}: {stderr}");
    assert!(
        lines[0].contains(culprit),
        "{what}: the error should name {culprit:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    if !output.is_dir() {
        assert!(!output.exists(), "{what}: {} was created", output.display());
    }
    if let Some(w) = watch {
        assert_eq!(
            before,
            entries(&w),
            "{what}: files appeared next to the output"
        );
    }
    eprintln!("{what}: {}", lines[0]);
    lines[0].to_string()
}

/// [`expect_error`] for `wasivfs pack` of `input` with `tree` at `/src` into `out/o.wasm` in `c`.
fn expect_pack_error(c: &Scratch, what: &str, input: &Path, tree: &Path, culprit: &str) -> String {
    let out = c.dir("out").join("o.wasm");
    expect_error(
        what,
        pack_cmd(input, &mapdir("/src", tree), &out),
        culprit,
        &out,
    )
}

/// The usual inputs of a pack: the fixture app and a small tree, in a scratch directory.
struct Inputs {
    c: Scratch,
    input: PathBuf,
    tree: PathBuf,
}

impl Inputs {
    fn new() -> Inputs {
        let c = Scratch::new();
        let (input, tree) = (c.app(), c.small_tree());
        Inputs { c, input, tree }
    }

    /// [`expect_pack_error`] of these inputs.
    fn refused(&self, what: &str, culprit: &str) -> String {
        expect_pack_error(&self.c, what, &self.input, &self.tree, culprit)
    }
}

/// Modules `pack` refuses, each named in the error line with what is wrong: the case's name, its
/// file name and contents, and what else the line must say.
#[test]
fn bad_modules_are_refused() {
    let full = fixtures::fsops();
    let cases: [(&str, &str, Vec<u8>, &str); 10] = [
        (
            "not wasm",
            "notwasm.wasm",
            b"this is not a wasm module\n".to_vec(),
            "",
        ),
        (
            "truncated",
            "truncated.wasm",
            full[..full.len() / 3].to_vec(),
            "",
        ),
        (
            "malformed component",
            "component.wasm",
            [&fixtures::wat("(component)")[..], &[1, 5, 0, 0]].concat(),
            "invalid or truncated",
        ),
        (
            "WASI 0.3 component",
            "async.wasm",
            fixtures::wat(r#"(component (import "wasi:cli/environment@0.3.0" (instance)))"#),
            "`wasi:cli/environment@0.3.0`: WASI 0.3 (async) components are not supported yet",
        ),
        (
            "wasi:filesystem passed on to a nested component",
            "nested.wasm",
            fixtures::wat(r#"(component (import "wasi:filesystem/preopens@0.2.3" (instance)))"#),
            "none of its own core modules does",
        ),
        (
            "dynamically linked component",
            "linked.wasm",
            fixtures::wat(
                r#"(component
                     (core module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))
                     (core module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))))"#,
            ),
            "2 core modules of the component import `wasi_snapshot_preview1` (a dynamically linked program",
        ),
        (
            "preview 1 and wasi:filesystem in one module",
            "mixed.wasm",
            fixtures::wat(
                r#"(component
                     (core module
                       (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                       (import "wasi:filesystem/types@0.2.0" "[resource-drop]descriptor" (func (param i32)))))"#,
            ),
            "also imports `wasi:filesystem/types@0.2.0` directly: its WASI 0.2 file calls would bypass the embedded files",
        ),
        (
            "two modules import wasi:filesystem",
            "linked-native.wasm",
            fixtures::wat(
                r#"(component
                     (core module (import "wasi:filesystem/types@0.2.0" "[resource-drop]descriptor" (func (param i32))))
                     (core module (import "wasi:filesystem/types@0.2.0" "[resource-drop]descriptor" (func (param i32)))))"#,
            ),
            "2 core modules of the component import `wasi:filesystem`",
        ),
        (
            "shared memory",
            "shared.wasm",
            fixtures::wat(
                r#"(module (memory (export "memory") 1 2 shared) (func (export "_start")))"#,
            ),
            "shared",
        ),
        (
            "imported memory",
            "imported.wasm",
            fixtures::wat(
                r#"(module (import "env" "memory" (memory 1)) (export "memory" (memory 0)) (func (export "_start")))"#,
            ),
            "import",
        ),
    ];
    for (what, file, bytes, says) in cases {
        let c = Scratch::new();
        let input = c.write(file, &bytes);
        let line = expect_pack_error(&c, what, &input, &c.small_tree(), file);
        assert!(line.contains(says), "{what}: {line}");
    }
}

/// A second memory of the application that it exports cannot become a region of memory 0:
/// `--memory single` (the default) refuses it, naming the fix; `--memory multi` packs it.
#[test]
fn exported_second_memory_is_refused_in_single_mode() {
    let c = Scratch::new();
    let input = c.write(
        "two.wasm",
        &fixtures::wat(
            r#"(module (memory (export "memory") 1) (memory (export "other") 1) (func (export "_start")))"#,
        ),
    );
    let tree = c.small_tree();
    let line = expect_pack_error(&c, "exported second memory", &input, &tree, "two.wasm");
    assert!(line.contains("memory 1 is exported as `other`"), "{line}");
    assert!(line.contains("--memory multi"), "{line}");
    let mut multi = pack_cmd(&input, &mapdir("/src", &tree), &c.path("out/o.wasm"));
    multi.arg("--memory").arg("multi");
    succeed(multi);
}

/// Bad baked settings (`--env`, `--env-inherit`, `--host-dirs`, arguments over the size
/// limit, a layer an earlier layer would hide): one line, nothing written.
#[test]
fn bad_program_settings_are_refused() {
    let i = Inputs::new();
    let out = i.c.dir("out").join("o.wasm");
    let big = "x".repeat(120_000);
    let too_many: Vec<&str> = std::iter::repeat_n(big.as_str(), 9).collect();
    let cases: [(&str, Vec<&str>, &str); 6] = [
        ("--env without =", vec!["--env", "NOVALUE"], "NOVALUE"),
        ("--env with an empty name", vec!["--env", "=v"], "\"=v\""),
        (
            "--env-inherit empty name",
            vec!["--env-inherit", "A,,B"],
            "A,,B",
        ),
        ("--host-dirs", vec!["--host-dirs", "maybe"], "maybe"),
        ("--env-inherit with =", vec!["--env-inherit", "A=B"], "A=B"),
        ("too large", [&["--"][..], &too_many].concat(), "1048576"),
    ];
    for (what, extra, culprit) in cases {
        let mut cmd = pack_cmd(&i.input, &mapdir("/src", &i.tree), &out);
        cmd.args(extra);
        expect_error(what, cmd, culprit, &out);
    }
    // A second layer whose mounts an earlier `--host-dirs deny` would hide.
    let first = i.c.path("first.wasm");
    let mut cmd = pack_cmd(&i.input, &mapdir("/src", &i.tree), &first);
    cmd.args(["--host-dirs", "deny"]);
    succeed(cmd);
    let cmd = pack_cmd(&first, &mapdir("/more", &i.tree), &out);
    let line = expect_error("mounts hidden by an earlier layer", cmd, "first.wasm", &out);
    assert!(line.contains("--host-dirs deny"), "{line}");
}

#[test]
fn missing_host_directory() {
    let c = Scratch::new();
    let input = c.app();
    let missing = c.path("no-such-dir");
    expect_pack_error(&c, "missing host", &input, &missing, "no-such-dir");
}

#[test]
fn unreadable_file_in_host_tree() {
    let p = Inputs::new();
    let secret = p.tree.join("secret.txt");
    std::fs::write(&secret, b"secret\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let out = p.c.dir("out").join("o.wasm");
    let m = mapdir("/src", &p.tree);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let cmd = if root {
        // Root reads files whatever their mode; drop the capabilities that allow it.
        let probe = Command::new("setpriv")
            .args(["--bounding-set=-dac_override,-dac_read_search", "cat"])
            .arg(&secret)
            .output();
        let why = match probe {
            Ok(o) if !o.status.success() => None,
            Ok(_) => {
                Some("running as root and setpriv cannot drop CAP_DAC_OVERRIDE here".to_string())
            }
            Err(e) => Some(format!(
                "running as root and setpriv (util-linux) is unavailable ({e})"
            )),
        };
        if let Some(why) = why {
            return wasivfs_e2e::skip::unavailable(why).unwrap_or(());
        }
        let mut c = Command::new("setpriv");
        c.arg("--bounding-set=-dac_override,-dac_read_search")
            .arg(wasivfs_bin())
            .args(pack_args(&p.input, &m, &out));
        c
    } else {
        pack_cmd(&p.input, &m, &out)
    };
    expect_error("unreadable file", cmd, "secret.txt", &out);
}

#[test]
fn escaping_symlinks() {
    for (name, target) in [
        ("up-and-out", "../../etc/passwd"),
        ("absolute", "/etc/passwd"),
        ("sneaky", "sub/../../x"),
    ] {
        let p = Inputs::new();
        std::fs::create_dir(p.tree.join("sub")).unwrap();
        std::os::unix::fs::symlink(target, p.tree.join(name)).unwrap();
        p.refused(&format!("symlink {target}"), name);
    }
}

#[test]
fn non_utf8_file_name() {
    use std::os::unix::ffi::OsStrExt;
    let p = Inputs::new();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    std::fs::write(p.tree.join(name), b"x").unwrap();
    p.refused("non-UTF-8 name", "bad-");
}

#[test]
fn tree_too_large_for_32_bit_memory() {
    let p = Inputs::new();
    // Sparse: takes no disk space.
    let f = std::fs::File::create(p.tree.join("huge.bin")).unwrap();
    f.set_len(5 << 30).unwrap();
    drop(f);
    let started = std::time::Instant::now();
    p.refused("too large", "/src");
    // Refused from sizes alone, before reading 5 GiB.
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn unwritable_output() {
    let p = Inputs::new();
    let m = mapdir("/src", &p.tree);
    let nowhere = p.c.path("no-such-dir/o.wasm");
    expect_error(
        "output in a missing dir",
        pack_cmd(&p.input, &m, &nowhere),
        "no-such-dir",
        &nowhere,
    );
    let a_dir = p.c.dir("out");
    let line = expect_error(
        "output is a directory",
        pack_cmd(&p.input, &m, &a_dir),
        "out",
        &a_dir,
    );
    assert!(a_dir.is_dir(), "{line}");
}

#[test]
fn existing_output_is_untouched_on_error() {
    let c = Scratch::new();
    let input = c.app();
    let out = c.dir("out").join("o.wasm");
    std::fs::write(&out, b"previous contents").unwrap();
    let missing = c.path("gone");
    let o = pack_cmd(&input, &mapdir("/src", &missing), &out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), b"previous contents");
    assert_eq!(entries(&c.dir("out")), vec!["o.wasm".to_string()]);
}

#[test]
fn mapdir_and_dir_spellings_give_identical_output() {
    let c = Scratch::new();
    let input = c.app();
    let t = trees::standard().unwrap();
    let a = c.dir("out").join("a.wasm");
    let b = c.dir("out").join("b.wasm");
    succeed(pack_cmd(&input, &mapdir("/src", t.path()), &a));
    let mut dir = Command::new(wasivfs_bin());
    dir.arg("pack")
        .arg(&input)
        .arg("--dir")
        .arg(format!("{}::/src", t.path().display()))
        .arg("-o")
        .arg(&b);
    succeed(dir);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "--mapdir G::H and --dir H::G differ"
    );
}

#[test]
fn packed_module_runs_through_the_cli_without_dir() {
    let p = Inputs::new();
    let out = p.c.dir("out").join("packed.wasm");
    succeed(pack_cmd(&p.input, &mapdir("/src", &p.tree), &out));
    let run = Command::new(wasivfs_bin())
        .arg("run")
        .arg(&out)
        .args(["--", "/src", "cat", "a.txt"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(text.contains("size=2 "), "{text}");
}

#[test]
fn special_file_in_host_tree() {
    let p = Inputs::new();
    let fifo = std::ffi::CString::new(p.tree.join("a-fifo").into_os_string().into_encoded_bytes())
        .unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
    assert_eq!(
        unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) },
        0,
        "mkfifo failed"
    );
    p.refused("fifo", "a-fifo");
}

#[test]
fn errors_name_the_reason_once() {
    let c = Scratch::new();
    let input = c.write("notwasm.wasm", b"this is not a wasm module\n");
    let tree = c.small_tree();
    let line = expect_pack_error(&c, "reason once", &input, &tree, "notwasm.wasm");
    assert_eq!(line.matches("bad magic").count(), 1, "{line}");
}

#[test]
fn exe_subcommand_refuses_bad_input() {
    let c = Scratch::new();
    let input = c.write("notwasm.wasm", b"this is not a wasm module\n");
    let out = c.dir("out").join("app");
    let mut cmd = Command::new(wasivfs_bin());
    cmd.arg("exe").arg(&input).arg("-o").arg(&out);
    expect_error("exe on non-wasm", cmd, "notwasm.wasm", &out);
}

#[test]
fn bad_writable_mount_options() {
    let p = Inputs::new();
    let out = p.c.dir("out").join("o.wasm");
    let m = mapdir("/src", &p.tree);
    for (what, extra, culprit) in [
        (
            "--writable naming no mount",
            &["--writable", "/x"][..],
            "/x",
        ),
        ("--tmpfs over a mount", &["--tmpfs", "/src"], "/src"),
        ("--tmpfs twice", &["--tmpfs", "/t", "--tmpfs", "/t/"], "/t"),
        ("--tmpfs not absolute", &["--tmpfs", "tmp"], "tmp"),
        (
            "--tmpfs-size not a number",
            &["--tmpfs-size", "lots"],
            "lots",
        ),
        (
            "--tmpfs-size zero",
            &["--tmpfs", "/t", "--tmpfs-size", "0"],
            "--tmpfs-size",
        ),
        (
            "--tmpfs-size for a read-only mount",
            &["--tmpfs-size", "/src=5"],
            "/src",
        ),
    ] {
        let mut cmd = pack_cmd(&p.input, &m, &out);
        cmd.args(extra);
        expect_error(what, cmd, culprit, &out);
    }
}
