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
/// The image and the content region of a walked tree.
fn layout_of(walked: Walked) -> (Vec<u8>, Vec<u8>) {
    let layout = walked
        .builder
        .finish(wasivfs_image::builder::Limits::format_max(5))
        .unwrap();
    let roots = walked.roots;
    let content = layout
        .content_bytes(|src: &Source, out: &mut [u8]| -> Result<()> {
            use std::io::Read;
            roots
                .open(src)?
                .read_exact(out)
                .map_err(|e| PackError::io(roots.rel(src), e))
        })
        .unwrap();
    (layout.metadata, content)
}

fn image_of(walked: Walked) -> Vec<u8> {
    layout_of(walked).0
}

/// The contents of file `ino`.
fn file_of<'c>(img: &Image<'_>, content: &'c [u8], ino: u32) -> &'c [u8] {
    let (off, len) = img.file_range(ino).unwrap();
    &content[off as usize..(off + len) as usize]
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
    let (bytes, content) = layout_of(walk_one(d).unwrap());
    let img = Image::parse(&bytes).unwrap();
    let root = img.mount(0).unwrap().root;
    let names: Vec<&[u8]> = (0..img.dir_len(root))
        .map(|i| img.dir_entry(root, i).unwrap().name)
        .collect();
    assert_eq!(names, vec![&b"a.txt"[..], b"b.txt", b"link", b"sub"]);
    let a = img.lookup(root, b"a.txt").unwrap();
    assert_eq!(file_of(&img, &content, a), b"hello");
    let link = img.lookup(root, b"link").unwrap();
    assert_eq!(img.symlink_target(link).unwrap(), b"sub/deeper/same.txt");
    let sub = img.lookup(root, b"sub").unwrap();
    let deeper = img.lookup(sub, b"deeper").unwrap();
    let same = img.lookup(deeper, b"same.txt").unwrap();
    assert_eq!(file_of(&img, &content, same), b"hello");
    // Identical contents are stored once.
    assert_eq!(img.header().content_len, 8);
}

#[test]
fn mtimes_are_clamped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    let opts = WalkOptions {
        mtime_clamp_ns: Some(5_000_000_000),
        ..WalkOptions::default()
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
    /// Directories to create, links `(name, target)`, and the path and reason the error names
    /// (`None`: the walk succeeds).
    type Case = (
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        Option<(&'static str, &'static str)>,
    );
    let cases: [Case; 4] = [
        (
            &["sub"],
            &[("sub/out", "../../etc")],
            Some(("sub/out", "outside")),
        ),
        (&[], &[("abs", "/etc/passwd")], Some(("abs", "absolute"))),
        // Escaping through another link: `deep` points two levels down, then climbs three.
        (
            &["x/y"],
            &[("deep", "x/y"), ("sneaky", "deep/../../..")],
            Some(("sneaky", "outside")),
        ),
        // Lexically `x/../a` stays inside; loops and dangling links are not escapes.
        (
            &["x"],
            &[
                ("ok", "x/../a"),
                ("loop1", "loop2"),
                ("loop2", "loop1"),
                ("dangling", "missing/file"),
            ],
            None,
        ),
    ];
    for (dirs, links, refused) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in dirs {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        for (name, target) in links {
            std::os::unix::fs::symlink(target, d.join(name)).unwrap();
        }
        match refused {
            Some((path, reason)) => {
                let e = err_of(d);
                assert!(e.contains(path) && e.contains(reason), "{links:?}: {e}");
            }
            None => assert!(walk_one(d).is_ok(), "{links:?}"),
        }
    }
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
    let fifo = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(fifo.path().join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let sock = tempfile::tempdir().unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(sock.path().join("sock")).unwrap();
    for (dir, name, kind) in [(&fifo, "pipe", "FIFO"), (&sock, "sock", "socket")] {
        let e = err_of(dir.path());
        assert!(e.contains(name) && e.contains(kind), "{e}");
    }
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

fn names_below(bytes: &[u8]) -> Vec<String> {
    let img = Image::parse(bytes).unwrap();
    let mut out = Vec::new();
    let root = img.mount(0).unwrap().root;
    let mut stack = vec![(root, String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for i in 0..img.dir_len(dir) {
            let e = img.dir_entry(dir, i).unwrap();
            let path = format!("{prefix}{}", String::from_utf8_lossy(e.name));
            let node = img.inode(e.inode).unwrap();
            if node.kind == wasivfs_image::Kind::Directory {
                stack.push((e.inode, format!("{path}/")));
                out.push(format!("{path}/"));
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn excludes_follow_gitignore_rules_relative_to_each_root() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in [
        "main.py",
        "a.pyc",
        "keep.pyc",
        "pkg/__pycache__/m.cpython.pyc",
        "pkg/m.py",
        "pkg/build/x",
        "build/out.o",
        ".git/HEAD",
    ] {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f.as_bytes()).unwrap();
    }
    let mut excludes = crate::ExcludeRules::new();
    for p in ["__pycache__/", "*.pyc", ".git/", "/build", "!keep.pyc"] {
        excludes.add_pattern(p).unwrap();
    }
    let opts = WalkOptions {
        excludes,
        ..WalkOptions::default()
    };
    let walked = walk(&[mapping("/src", d)], &opts).unwrap();
    // a.pyc, pkg/__pycache__, /build, .git
    assert_eq!(walked.counts.excluded, 4);
    assert_eq!(walked.counts.files, 4);
    assert_eq!(
        names_below(&image_of(walked)),
        [
            "keep.pyc",
            "main.py",
            "pkg/",
            "pkg/build/",
            "pkg/build/x",
            "pkg/m.py"
        ]
    );
}

#[test]
fn fixed_mtime_wins_over_the_clamp() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d/f"), b"x").unwrap();
    std::os::unix::fs::symlink("d/f", dir.path().join("l")).unwrap();
    let opts = WalkOptions {
        mtime_clamp_ns: Some(5_000_000_000),
        mtime_fixed_ns: Some(7_000_000_000),
        ..WalkOptions::default()
    };
    let bytes = image_of(walk(&[mapping("/", dir.path())], &opts).unwrap());
    let img = Image::parse(&bytes).unwrap();
    assert_eq!(img.inode_count(), 4);
    for ino in 0..img.inode_count() {
        assert_eq!(img.inode(ino).unwrap().mtime_ns, 7_000_000_000);
    }
}

fn follow() -> WalkOptions {
    WalkOptions {
        follow_symlinks: true,
        ..WalkOptions::default()
    }
}

#[test]
fn follow_symlinks_stores_the_targets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("real/sub")).unwrap();
    std::fs::write(d.join("real/sub/f.txt"), b"content").unwrap();
    std::os::unix::fs::symlink("real/sub/f.txt", d.join("file-link")).unwrap();
    std::os::unix::fs::symlink("real", d.join("dir-link")).unwrap();
    let walked = walk(&[mapping("/src", d)], &follow()).unwrap();
    let (bytes, content) = layout_of(walked);
    assert_eq!(
        names_below(&bytes),
        [
            "dir-link/",
            "dir-link/sub/",
            "dir-link/sub/f.txt",
            "file-link",
            "real/",
            "real/sub/",
            "real/sub/f.txt"
        ]
    );
    let img = Image::parse(&bytes).unwrap();
    let root = img.mount(0).unwrap().root;
    let fl = img.lookup(root, b"file-link").unwrap();
    assert_eq!(img.inode(fl).unwrap().kind, wasivfs_image::Kind::File);
    assert_eq!(file_of(&img, &content, fl), b"content");
    // The same content is stored once.
    assert_eq!(img.header().content_len, 7);
    // Without --follow-symlinks the links stay links.
    let bytes = image_of(walk_one(d).unwrap());
    let img = Image::parse(&bytes).unwrap();
    let root = img.mount(0).unwrap().root;
    let dl = img.lookup(root, b"dir-link").unwrap();
    assert_eq!(img.inode(dl).unwrap().kind, wasivfs_image::Kind::Symlink);
}

fn follow_err(d: &Path) -> String {
    match walk(&[mapping("/src", d)], &follow()) {
        Ok(_) => panic!("walk of {} succeeded", d.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn follow_symlinks_refuses_escapes_and_loops() {
    let outer = tempfile::tempdir().unwrap();
    let d = outer.path().join("root");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(outer.path().join("secret"), b"s").unwrap();
    std::os::unix::fs::symlink("../../secret", d.join("sub/out")).unwrap();
    let e = follow_err(&d);
    assert!(e.contains("sub/out") && e.contains("outside"), "{e}");

    std::fs::remove_file(d.join("sub/out")).unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret"), d.join("abs")).unwrap();
    let e = follow_err(&d);
    assert!(e.contains("abs") && e.contains("absolute"), "{e}");

    std::fs::remove_file(d.join("abs")).unwrap();
    std::os::unix::fs::symlink("..", d.join("sub/up")).unwrap();
    let e = follow_err(&d);
    assert!(e.contains("sub/up") && e.contains("loop"), "{e}");

    std::fs::remove_file(d.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("l2", d.join("l1")).unwrap();
    std::os::unix::fs::symlink("l1", d.join("l2")).unwrap();
    let e = follow_err(&d);
    assert!(e.contains("l1") && e.contains("loop"), "{e}");

    std::fs::remove_file(d.join("l1")).unwrap();
    std::fs::remove_file(d.join("l2")).unwrap();
    std::os::unix::fs::symlink("nothing-here", d.join("dangling")).unwrap();
    let e = follow_err(&d);
    assert!(
        e.contains("dangling") && e.contains("does not exist"),
        "{e}"
    );

    std::fs::remove_file(d.join("dangling")).unwrap();
    assert!(walk(&[mapping("/src", &d)], &follow()).is_ok());
}
