//! The probes themselves, checked on the host-mapped oracle against facts computed here from the
//! generated trees. If these failed, a differential test could pass vacuously (both sides equally
//! wrong).

use wasivfs_e2e::run::{assert_contains, execute, stdout, Run};
use wasivfs_e2e::{fixtures, suites, trees};

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn run_fsops(t: &trees::Tree, ops: &[&str]) -> String {
    let out = execute(
        &fixtures::fsops(),
        &Run::args(&suites::argv("fsops", "/src", ops)).dir(t.path(), "/src"),
    )
    .unwrap();
    assert_eq!(
        out.exit_code,
        0,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[test]
fn fsops_reports_the_real_tree() {
    let t = trees::standard().unwrap();
    let out = run_fsops(
        &t,
        &[
            "cat", "data.bin", "ls", ".", "readlink", "sub/up", "stat", "missing",
        ],
    );
    let data = std::fs::read(t.join("data.bin")).unwrap();
    assert_contains(
        &out,
        &[
            &format!("size=300000 fnv={:016x}", fnv(&data)),
            // 13 entries plus "." and "..".
            "entries=15",
            "target=\"../hello.txt\"",
            "errno 44 ENOENT",
        ],
    );
}

#[test]
fn fsops_big_file_and_wide_dir_checksums() {
    let t = trees::big().unwrap();
    let out = run_fsops(&t, &["cat", "huge.bin", "dirsum", "wide"]);
    let huge = std::fs::read(t.join("huge.bin")).unwrap();
    assert_eq!(huge.len() as u64, trees::BIG_FILE_LEN);
    assert!(
        out.contains(&format!("size={} fnv={:016x}", huge.len(), fnv(&huge))),
        "{out}"
    );
    let mut names: Vec<String> = std::fs::read_dir(t.join("wide"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut joined = Vec::new();
    for n in &names {
        joined.extend_from_slice(n.as_bytes());
        joined.push(0);
    }
    assert!(
        out.contains(&format!(
            "entries={} fnv={:016x}",
            names.len(),
            fnv(&joined)
        )),
        "{out}"
    );
}

#[test]
fn fsops_raw_readdir_resumes_from_cookies() {
    let t = trees::standard().unwrap();
    let out = run_fsops(&t, &["rawdir", ".", "40", "rawdir", ".", "24"]);
    let sections: Vec<&str> = out.split("rawdir").collect();
    // 40 bytes hold one short entry at a time: all 15 entries arrive, none twice.
    assert!(sections[1].contains("entries=15 dups=0 stuck=0"), "{out}");
    // 24 bytes cannot hold a header plus a name: the probe notices instead of looping.
    assert!(sections[2].contains("stuck=1"), "{out}");
}

#[test]
fn rust_guest_reports_the_real_tree() {
    let t = trees::standard().unwrap();
    let out = execute(
        &fixtures::rust_guest(),
        &Run::args(&[
            "rg",
            "/src",
            "cat",
            "hello.txt",
            "ls",
            "sub",
            "stat",
            "missing",
        ])
        .dir(t.path(), "/src"),
    )
    .unwrap();
    let text = stdout(&out);
    assert_eq!(out.exit_code, 0);
    assert_contains(
        &text,
        &[
            &format!("size=13 fnv={:016x}", fnv(b"hello, world\n")),
            "entries=4",
            "kind=NotFound os=Some(44)",
        ],
    );
}
