use super::*;
use std::os::unix::ffi::OsStrExt;
use wasivfs_image::Image;

fn mapping(guest: &str, host: &Path) -> Mapping {
    Mapping {
        guest: guest.into(),
        host: host.to_path_buf(),
    }
}

fn walk_one(host: &Path) -> Result<Walked> {
    walk(&[mapping("/src", host)], &WalkOptions::default())
}

fn err_of(host: &Path) -> String {
    match walk_one(host) {
        Ok(_) => panic!("walk of {} succeeded", host.display()),
        Err(e) => e.to_string(),
    }
}

/// Lays out and assembles the image of a walk, reading contents through the roots.
fn image_of(walked: Walked) -> Vec<u8> {
    let layout = walked.builder.finish(u32::MAX as u64).unwrap();
    let roots = walked.roots;
    layout
        .to_bytes(|src: &Source, out: &mut [u8]| -> Result<()> {
            use std::io::Read;
            roots
                .open(src)?
                .read_exact(out)
                .map_err(|e| PackError::io(&src.rel, e))
        })
        .unwrap()
}

#[test]
fn walks_files_dirs_and_links_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
    std::fs::write(d.join("b.txt"), b"bee").unwrap();
    std::fs::write(d.join("a.txt"), b"hello").unwrap();
    std::fs::write(d.join("sub/deeper/same.txt"), b"hello").unwrap();
    std::os::unix::fs::symlink("sub/deeper/same.txt", d.join("link")).unwrap();
    std::os::unix::fs::symlink("../../a.txt", d.join("sub/deeper/up")).unwrap();
    let bytes = image_of(walk_one(d).unwrap());
    let img = Image::parse(&bytes).unwrap();
    let root = img.mount(0).unwrap().root;
    let names: Vec<&[u8]> = (0..img.dir_len(root))
        .map(|i| img.dir_entry(root, i).unwrap().name)
        .collect();
    assert_eq!(names, vec![&b"a.txt"[..], b"b.txt", b"link", b"sub"]);
    let a = img.lookup(root, b"a.txt").unwrap();
    assert_eq!(img.file_data(a).unwrap(), b"hello");
    let link = img.lookup(root, b"link").unwrap();
    assert_eq!(img.symlink_target(link).unwrap(), b"sub/deeper/same.txt");
    let sub = img.lookup(root, b"sub").unwrap();
    let deeper = img.lookup(sub, b"deeper").unwrap();
    let same = img.lookup(deeper, b"same.txt").unwrap();
    assert_eq!(img.file_data(same).unwrap(), b"hello");
    // Identical contents are stored once.
    assert_eq!(img.header().data_len, 8);
}

#[test]
fn mtimes_are_clamped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    let opts = WalkOptions {
        mtime_clamp_ns: Some(5_000_000_000),
    };
    let walked = walk(&[mapping("/", dir.path())], &opts).unwrap();
    let bytes = image_of(walked);
    let img = Image::parse(&bytes).unwrap();
    for ino in 0..img.inode_count() {
        assert_eq!(img.inode(ino).unwrap().mtime_ns, 5_000_000_000);
    }
}

#[test]
fn escaping_symlinks_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::os::unix::fs::symlink("../../etc", d.join("sub/out")).unwrap();
    let e = err_of(d);
    assert!(e.contains("sub/out") && e.contains("outside"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink("/etc/passwd", d.join("abs")).unwrap();
    let e = err_of(d);
    assert!(e.contains("abs") && e.contains("absolute"), "{e}");

    // Escaping through another link: `deep` points two levels down, then climbs three.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("x/y")).unwrap();
    std::os::unix::fs::symlink("x/y", d.join("deep")).unwrap();
    std::os::unix::fs::symlink("deep/../../..", d.join("sneaky")).unwrap();
    let e = err_of(d);
    assert!(e.contains("sneaky") && e.contains("outside"), "{e}");

    // Lexically `x/../a` stays inside; loops and dangling links are not escapes.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("x")).unwrap();
    std::os::unix::fs::symlink("x/../a", d.join("ok")).unwrap();
    std::os::unix::fs::symlink("loop2", d.join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", d.join("loop2")).unwrap();
    std::os::unix::fs::symlink("missing/file", d.join("dangling")).unwrap();
    assert!(walk_one(d).is_ok());
}

#[test]
fn non_utf8_names_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xffname");
    std::fs::create_dir(dir.path().join("ok")).unwrap();
    std::fs::write(dir.path().join("ok").join(name), b"").unwrap();
    let e = err_of(dir.path());
    assert!(e.contains("ok/bad") && e.contains("UTF-8"), "{e}");
}

#[test]
fn special_files_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let e = err_of(dir.path());
    assert!(e.contains("pipe") && e.contains("FIFO"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let e = err_of(dir.path());
    assert!(e.contains("sock") && e.contains("socket"), "{e}");
}

#[test]
fn missing_root_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = err_of(&missing);
    assert!(e.contains("nope"), "{e}");
    // A file is not a directory.
    std::fs::write(&missing, b"").unwrap();
    let e = err_of(&missing);
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn duplicate_guest_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = mapping("/src", dir.path());
    let e = match walk(&[m.clone(), m], &WalkOptions::default()) {
        Ok(_) => panic!("duplicate accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("/src"), "{e}");
}
