//! End-to-end tests of `wasivfs exe`: each executable is copied alone into an
//! empty directory and run there with a cleared environment.

mod support;

use wasivfs_exe_format::trailer;

use std::path::Path;

use support::*;
use trailer::{Footer, FOOTER_LEN};
use wasivfs_exe::{build_executable, ExeOptions};

/// Exit status of the runner when it cannot start the program.
const RUNNER_ERROR: i32 = 125;

#[test]
fn c_program_gets_args_env_stdio_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = make_exe(c_probe(), tmp.path(), "probe", &[]);
    let out = run_isolated(
        &exe,
        &[
            "--help",
            "-o",
            "x y",
            "env",
            "GREETING",
            "env",
            "WASIVFS_DIRS",
            "exit",
            "7",
        ],
        &[("GREETING", "hi there")],
    );
    assert_eq!(out.status.code(), Some(7), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "hello from wasi\nargc=10\narg[1]=--help\narg[2]=-o\narg[3]=x y\narg[4]=env\n\
         arg[5]=GREETING\narg[6]=env\narg[7]=WASIVFS_DIRS\narg[8]=exit\narg[9]=7\n\
         GREETING=hi there\nWASIVFS_DIRS unset\n"
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn empty_environment_and_zero_exit() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = make_exe(c_probe(), tmp.path(), "probe", &[]);
    let out = run_isolated(&exe, &["env", "HOME"], &[]);
    assert_exit_and_stdout_end(&out, 0, "HOME unset\n");
}

#[test]
fn rust_program_runs() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = make_exe(&rust_guest("hello"), tmp.path(), "hello", &[]);
    let out = run_isolated(&exe, &["--version", "a"], &[("HELLO_EXIT", "3")]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "hello from rust\narg[1]=--version\narg[2]=a\n"
    );
}

#[test]
fn baked_and_runtime_directories_are_granted() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let baked = tmp.path().join("baked");
    std::fs::create_dir_all(&baked).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(baked.join("f.txt"), "baked contents\n").unwrap_or_else(|e| panic!("{e}"));
    let spec = format!("{}::/data", baked.display());
    let exe = make_exe(c_probe(), tmp.path(), "probe", &[&spec]);

    let out = run_isolated(&exe, &["cat", "/data/f.txt"], &[]);
    assert_exit_and_stdout_end(&out, 0, "baked contents\n");

    // A directory granted at run time (empty list entries are ignored).
    let late_ok = tmp.path().join("late2");
    std::fs::create_dir_all(&late_ok).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(late_ok.join("g.txt"), "runtime grant\n").unwrap_or_else(|e| panic!("{e}"));
    let list = format!(";{}::/late;", late_ok.display());
    let out = run_isolated(
        &exe,
        &["cat", "/late/g.txt", "cat", "/data/f.txt"],
        &[("WASIVFS_DIRS", &list)],
    );
    assert_exit_and_stdout_end(&out, 0, "runtime grant\nbaked contents\n");

    // Not granted: invisible.
    let out = run_isolated(&exe, &["cat", "/late/g.txt"], &[]);
    assert_eq!(out.status.code(), Some(2));

    // A grant naming a missing directory is a one-line runner error.
    let missing = format!("{}::/m", late_ok.join("nope").display());
    let out = run_isolated(&exe, &[], &[("WASIVFS_DIRS", &missing)]);
    assert_eq!(out.status.code(), Some(RUNNER_ERROR));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot open directory") && err.contains("/m"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
}

/// Reads an executable and splits off its footer.
fn parts(exe: &Path) -> (Vec<u8>, Footer) {
    let bytes = read(exe);
    let mut raw = [0u8; FOOTER_LEN];
    raw.copy_from_slice(&bytes[bytes.len() - FOOTER_LEN..]);
    let footer = Footer::decode(&raw, bytes.len() as u64)
        .unwrap_or_else(|e| panic!("footer of {}: {e}", exe.display()));
    (bytes, footer)
}

fn assert_one_line_runner_error(out: &std::process::Output, expect: &str) {
    assert_eq!(
        out.status.code(),
        Some(RUNNER_ERROR),
        "stderr: {}",
        stderr(out)
    );
    assert_eq!(stdout(out), "");
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(expect), "{err}");
}

#[test]
fn damaged_payload_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = make_exe(c_probe(), tmp.path(), "probe", &[]);
    let (bytes, footer) = parts(&exe);
    // Flip one bit in the middle of the payload, one in the options and one
    // in the footer's payload length.
    let at = [
        (footer.payload_offset + footer.payload_len / 2) as usize,
        footer.options_offset as usize,
        bytes.len() - FOOTER_LEN + 24,
    ];
    for (i, at) in at.into_iter().enumerate() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        let path = tmp.path().join(format!("damaged{i}"));
        std::fs::write(&path, &damaged).unwrap_or_else(|e| panic!("{e}"));
        let out = run_isolated(&path_with_mode(&path), &[], &[]);
        assert_one_line_runner_error(&out, "damaged");
    }
}

#[test]
fn payload_for_another_wasmtime_version_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = make_exe(c_probe(), tmp.path(), "probe", &[]);
    let (mut bytes, footer) = parts(&exe);
    let start = footer.payload_offset as usize;
    let end = start + footer.payload_len as usize;
    // wasmtime's engine section starts with format 0, then the length-prefixed
    // module version (the major version, "48"). Pretend another version made
    // it, and recompute the checksum so only wasmtime's check can catch it.
    let needle = b"\x00\x0248";
    let pos = bytes[start..end]
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("no wasmtime version tag in the payload"));
    bytes[start + pos + 2..start + pos + 4].copy_from_slice(b"47");
    let options = bytes[footer.options_offset as usize..][..footer.options_len as usize].to_vec();
    let fixed = Footer {
        checksum: footer.compute_checksum(&bytes[start..end], &options),
        ..footer
    };
    let n = bytes.len();
    bytes[n - FOOTER_LEN..].copy_from_slice(&fixed.encode());
    let path = tmp.path().join("oldver");
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let out = run_isolated(&path_with_mode(&path), &[], &[]);
    assert_one_line_runner_error(&out, "cannot be loaded");
    assert!(stderr(&out).contains("'47'"), "{}", stderr(&out));
}

#[test]
fn bare_runner_says_no_program_is_attached() {
    let out = run_isolated(runner(), &[], &[]);
    assert_one_line_runner_error(&out, "no program is attached");
}

#[test]
fn trap_exits_134() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wasm = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x0a\x01\x06_start\0\0\x0a\x05\x01\x03\0\0\x0b";
    let exe = make_exe(wasm, tmp.path(), "trap", &[]);
    let out = run_isolated(&exe, &[], &[]);
    assert_eq!(out.status.code(), Some(134), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("unreachable"), "{}", stderr(&out));
}

#[test]
fn exe_time_errors_write_nothing() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let output = tmp.path().join("out");
    let opts = |dirs: &[&str], runner: &Path| ExeOptions {
        output: output.clone(),
        dirs: dirs.iter().map(Into::into).collect(),
        runner: Some(runner.to_path_buf()),
        ..Default::default()
    };
    let for_target = |triple: &str| ExeOptions {
        output: output.clone(),
        target: Some(triple.to_string()),
        ..Default::default()
    };
    let not_elf = tmp.path().join("not-elf");
    std::fs::write(&not_elf, b"#!/bin/sh\necho hi\n").unwrap_or_else(|e| panic!("{e}"));
    let made = make_exe(c_probe(), tmp.path(), "made", &[]);

    let cases: Vec<(&[u8], ExeOptions, &str)> = vec![
        (b"not wasm", opts(&[], runner()), "not a WebAssembly module"),
        (
            b"\0asm\x01\0\0\0\x05\x03\x01",
            opts(&[], runner()),
            "cannot compile",
        ),
        (c_probe(), opts(&["::/g"], runner()), "empty host path"),
        (c_probe(), opts(&[], &not_elf), "not an ELF executable"),
        (c_probe(), opts(&[], &made), "already carries a program"),
        (
            c_probe(),
            opts(&[], &tmp.path().join("missing")),
            "cannot read runner",
        ),
        (
            c_probe(),
            for_target("riscv64gc-unknown-linux-gnu"),
            "unsupported target `riscv64gc-unknown-linux-gnu`",
        ),
        (
            c_probe(),
            ExeOptions {
                target: Some("aarch64-unknown-linux-musl".into()),
                ..opts(&[], runner())
            },
            "needs machine 183",
        ),
    ];
    for (module, o, expect) in cases {
        let err = match build_executable(module, &o) {
            Ok(_) => panic!("expected an error containing {expect:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(expect), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(!output.exists());
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".wasivfs-exe-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn output_is_executable_and_payload_aligned() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = make_exe(c_probe(), tmp.path(), "probe", &[]);
    let mode = std::fs::metadata(&exe)
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
    let (bytes, footer) = parts(&exe);
    assert_eq!(footer.payload_offset % trailer::PAYLOAD_ALIGN, 0);
    assert_eq!(&bytes[..read(runner()).len()], &read(runner())[..]);
}

/// Marks a file written by a test as executable and returns its path.
fn path_with_mode(path: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    path.to_path_buf()
}
