//! Tests of the image builder.

use super::*;
use crate::Image;

fn digest(bytes: &[u8]) -> [u8; 32] {
    // Tests only need distinct digests for distinct contents.
    let mut d = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        d[i % 32] ^= b.wrapping_add(i as u8);
    }
    d[31] = bytes.len() as u8;
    d
}

fn build(order_reversed: bool) -> (Vec<u8>, Vec<u8>) {
    let mut b: ImageBuilder<Vec<u8>> = ImageBuilder::new();
    let root = b.add_mount("/src", 7).unwrap();
    let mut files: Vec<(&str, &[u8])> = vec![
        ("b.txt", b"bee"),
        ("a.txt", b"hello"),
        ("dup.txt", b"hello"),
    ];
    if order_reversed {
        files.reverse();
    }
    let sub = b.add_dir(root, "sub", 9).unwrap();
    for (n, c) in files {
        b.add_file(root, n, 1, c.len() as u64, digest(c), c.to_vec())
            .unwrap();
    }
    b.add_file(sub, "empty", 2, 0, digest(b""), Vec::new())
        .unwrap();
    b.add_symlink(root, "link", "sub/empty", 3).unwrap();
    let layout = b.finish(LIMITS).unwrap();
    let content = layout
        .content_bytes(|s: &Vec<u8>, out: &mut [u8]| -> Result<(), ()> {
            out.copy_from_slice(s);
            Ok(())
        })
        .unwrap();
    (layout.metadata, content)
}

const LIMITS: Limits = Limits {
    metadata: u32::MAX as u64,
    content: u32::MAX as u64,
    segment_len: 3,
};

/// The bytes of file `ino`, gathered piece by piece as the VFS reads them.
fn file(img: &Image<'_>, content: &[u8], ino: u32) -> Vec<u8> {
    let (off, len) = img.file_range(ino).unwrap();
    let mut out = Vec::new();
    for p in img.pieces(off, len) {
        assert!(p.len > 0 && p.offset + p.len <= img.header().segment_len);
        let at = (p.segment * img.header().segment_len + p.offset) as usize;
        out.extend_from_slice(&content[at..at + p.len as usize]);
    }
    out
}

#[test]
fn round_trip_and_order_independence() {
    let (bytes, content) = build(false);
    assert_eq!((bytes.clone(), content.clone()), build(true));
    let img = Image::parse(&bytes).unwrap();
    assert_eq!(content, b"hellobee");
    assert_eq!(img.segment_count(), 3);
    assert_eq!(img.mount_count(), 1);
    let m = img.mount(0).unwrap();
    assert_eq!(m.path, b"/src");
    let names: Vec<&[u8]> = (0..img.dir_len(m.root))
        .map(|i| img.dir_entry(m.root, i).unwrap().name)
        .collect();
    assert_eq!(
        names,
        vec![&b"a.txt"[..], b"b.txt", b"dup.txt", b"link", b"sub"]
    );
    let a = img.lookup(m.root, b"a.txt").unwrap();
    let dup = img.lookup(m.root, b"dup.txt").unwrap();
    assert_eq!(file(&img, &content, a), b"hello");
    assert_eq!(file(&img, &content, dup), b"hello");
    assert_eq!(
        img.inode(a).unwrap().a,
        img.inode(dup).unwrap().a,
        "deduplicated"
    );
    let link = img.lookup(m.root, b"link").unwrap();
    assert_eq!(img.symlink_target(link).unwrap(), b"sub/empty");
    let sub = img.lookup(m.root, b"sub").unwrap();
    assert_eq!(img.inode(sub).unwrap().parent, m.root);
    assert_eq!(img.inode(m.root).unwrap().parent, m.root);
    let empty = img.lookup(sub, b"empty").unwrap();
    assert_eq!(file(&img, &content, empty), b"");
    assert!(img.lookup(m.root, b"missing").is_none());
    assert!(img.lookup(m.root, b"0").is_none());
    assert!(img.lookup(m.root, b"zzz").is_none());
}

#[test]
fn rejects_bad_input() {
    let mut b: ImageBuilder<()> = ImageBuilder::new();
    assert!(b.add_mount("src", 0).is_err());
    assert!(b.add_mount("/a/../b", 0).is_err());
    let r = b.add_mount("/", 0).unwrap();
    assert!(b.add_mount("/", 0).is_err());
    assert!(b.add_dir(r, "..", 0).is_err());
    assert!(b.add_dir(r, "a/b", 0).is_err());
    assert!(b.add_dir(7, "x", 0).is_err());
    b.add_dir(r, "x", 0).unwrap();
    b.add_file(r, "big", 0, 5 << 30, [1; 32], ()).unwrap();
    assert!(matches!(
        b.finish(LIMITS),
        Err(BuildError::ContentTooLarge { .. })
    ));
    assert_eq!(Image::parse(b"short").unwrap_err(), crate::Error::Truncated);

    // Two entries of one name in a directory (of any kinds) are found by the layout.
    let mut b: ImageBuilder<()> = ImageBuilder::new();
    let r = b.add_mount("/", 0).unwrap();
    b.add_dir(r, "x", 0).unwrap();
    b.add_dir(r, "y", 0).unwrap();
    b.add_symlink(r, "x", "y", 0).unwrap();
    assert_eq!(
        b.finish(LIMITS).unwrap_err(),
        BuildError::DuplicateName("x".into())
    );
}

#[test]
fn contents_shared_after_the_walk_lay_out_as_if_hashed_while_walking() {
    // (name, contents) in walk order; "c" and "e" repeat "a", "d" has "b"'s size only.
    let files: [(&str, &[u8]); 5] = [
        ("a", b"same"),
        ("b", b"diff"),
        ("c", b"same"),
        ("d", b"ffid"),
        ("e", b"same"),
    ];
    let hashed = {
        let mut b: ImageBuilder<Vec<u8>> = ImageBuilder::new();
        let root = b.add_mount("/m", 1).unwrap();
        for (n, c) in files {
            b.add_file(root, n, 1, c.len() as u64, digest(c), c.to_vec())
                .unwrap();
        }
        b.finish(LIMITS).unwrap()
    };
    let mut b: ImageBuilder<Vec<u8>> = ImageBuilder::new();
    let root = b.add_mount("/m", 1).unwrap();
    for (n, c) in files {
        b.add_file_unhashed(root, n, 1, c.len() as u64, c.to_vec())
            .unwrap();
    }
    assert_eq!(b.contents().len(), 5);
    // What the walk finds by hashing: contents 2 and 4 are content 0.
    b.share_contents(&[(2, 0), (4, 0)]);
    let shared = b.finish(LIMITS).unwrap();
    assert_eq!(shared.metadata, hashed.metadata);
    assert_eq!(shared.blobs, hashed.blobs);
    assert_eq!(shared.stats.stored_bytes, 12);
}
