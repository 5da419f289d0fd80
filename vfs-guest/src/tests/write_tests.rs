//! Writable mounts (`--writable`, `--tmpfs`): the in-memory tree over the image.

use std::vec::Vec;

use wasivfs_image::builder::{ImageBuilder, MountOptions};
use wasivfs_image::{Image, MOUNT_TMPFS, MOUNT_WRITABLE};

use super::fs_tests::{open_with, read, BUF_AT, IOV_AT, OUT_AT, PATH_AT};
use super::mock::{finish_in_segments, Mock, CLOCK_START};
use crate::wasi::*;
use crate::Vfs;

/// Host preopen 3; `/rw` (writable, 64-byte limit) is fd 4, `/ro` (read-only) fd 5, `/tmp`
/// (tmpfs, 1000 bytes) fd 6. Content segments are 4 bytes long, so copy-ups cross them.
pub(super) fn setup() -> (Vfs<'static>, Mock) {
    let mut b: ImageBuilder<Vec<u8>> = ImageBuilder::new();
    let rw = b.add_mount("/rw", 10).unwrap();
    let ro = b.add_mount("/ro", 20).unwrap();
    let tmp = b.add_mount("/tmp", 0).unwrap();
    let file = |b: &mut ImageBuilder<Vec<u8>>, dir, name: &str, c: &[u8]| {
        let mut d = [0u8; 32];
        d[..c.len().min(32)].copy_from_slice(&c[..c.len().min(32)]);
        b.add_file(dir, name, 5, c.len() as u64, d, c.to_vec())
            .unwrap()
    };
    file(&mut b, rw, "packed.txt", b"packed bytes");
    let sub = b.add_dir(rw, "sub", 6).unwrap();
    file(&mut b, sub, "inner.txt", b"inner");
    file(&mut b, ro, "fixed.txt", b"fixed");
    let opts = |flags, size_limit| MountOptions { flags, size_limit };
    b.set_mount_options(rw, opts(MOUNT_WRITABLE, 64)).unwrap();
    b.set_mount_options(tmp, opts(MOUNT_TMPFS | MOUNT_WRITABLE, 1000))
        .unwrap();
    let (metadata, segments) = finish_in_segments(b);
    let bytes: &'static [u8] = Box::leak(metadata.into_boxed_slice());
    let mut m = Mock::new(Some(&[(3, "/host")]));
    m.segments = segments;
    let mut v = Vfs::new(Some(Image::parse(bytes).unwrap()));
    v.start(&mut m);
    (v, m)
}

const RW: i32 = 4;
const RO: i32 = 5;
const TMP: i32 = 6;
const RDWR: u64 = rights::FD_READ | rights::FD_WRITE;

fn create(v: &mut Vfs<'_>, m: &mut Mock, dir: i32, path: &str) -> u32 {
    let of = (oflags::CREAT | oflags::TRUNC) as i32;
    open_with(v, m, dir, path, 0, of, RDWR).unwrap()
}

fn write(v: &mut Vfs<'_>, m: &mut Mock, fd: u32, bytes: &[u8]) -> Result<u32, i32> {
    m.put(BUF_AT, bytes);
    m.put_u32(IOV_AT, BUF_AT);
    m.put_u32(IOV_AT + 4, bytes.len() as u32);
    match v.fd_write(m, fd as i32, IOV_AT as i32, 1, OUT_AT as i32) {
        0 => Ok(m.u32_at(OUT_AT)),
        e => Err(e),
    }
}

fn path_call(m: &mut Mock, p: &str) -> (i32, i32) {
    m.put(PATH_AT, p.as_bytes());
    (PATH_AT as i32, p.len() as i32)
}

fn rename(v: &mut Vfs<'_>, m: &mut Mock, a: (i32, &str), b: (i32, &str)) -> i32 {
    m.put(PATH_AT, a.1.as_bytes());
    m.put(PATH_AT + 500, b.1.as_bytes());
    let (al, bl) = (a.1.len() as i32, b.1.len() as i32);
    v.path_rename(m, a.0, PATH_AT as i32, al, b.0, PATH_AT as i32 + 500, bl)
}

fn size_of(v: &mut Vfs<'_>, m: &mut Mock, dir: i32, p: &str) -> Result<u64, i32> {
    let (p, l) = path_call(m, p);
    match v.path_filestat_get(m, dir, 1, p, l, 6000) {
        0 => Ok(m.u64_at(6000 + 32)),
        e => Err(e),
    }
}

#[test]
fn create_write_seek_and_read_back() {
    let (mut v, mut m) = setup();
    let fd = create(&mut v, &mut m, TMP, "new.txt");
    assert_eq!(write(&mut v, &mut m, fd, b"hello"), Ok(5));
    // Seek past the end and write: the gap reads as zeros.
    assert_eq!(v.fd_seek(&mut m, fd as i32, 8, 0, OUT_AT as i32), 0);
    assert_eq!(write(&mut v, &mut m, fd, b"!"), Ok(1));
    assert_eq!(v.fd_seek(&mut m, fd as i32, 0, 0, OUT_AT as i32), 0);
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"hello\0\0\0!");
    assert_eq!(size_of(&mut v, &mut m, TMP, "new.txt"), Ok(9));
    // Times come from the host clock.
    assert_eq!(v.fd_filestat_get(&mut m, fd as i32, 6000), 0);
    assert!(m.u64_at(6000 + 48) > CLOCK_START);
    assert_eq!(m.u64_at(6000 + 24), 1, "nlink");
    // A read-only open cannot write; a write-only one cannot read.
    let ro = open_with(&mut v, &mut m, TMP, "new.txt", 0, 0, rights::FD_READ).unwrap();
    assert_eq!(write(&mut v, &mut m, ro, b"x"), Err(EBADF.code()));
    let wo = open_with(&mut v, &mut m, TMP, "new.txt", 0, 0, rights::FD_WRITE).unwrap();
    assert_eq!(read(&mut v, &mut m, wo, 4), Err(EBADF.code()));
    assert_eq!(v.fd_fdstat_get(&mut m, wo as i32, 6000), 0);
    assert_eq!(m.u64_at(6008) & rights::FD_READ, 0);
    assert_ne!(m.u64_at(6008) & rights::FD_WRITE, 0);
    // Exclusive creation of an existing file.
    let excl = (oflags::CREAT | oflags::EXCL) as i32;
    assert_eq!(
        open_with(&mut v, &mut m, TMP, "new.txt", 0, excl, RDWR),
        Err(EEXIST.code())
    );
}

#[test]
fn packed_files_are_copied_up_on_first_write() {
    let (mut v, mut m) = setup();
    m.put(0, b"APPBYTES");
    let fd = open_with(&mut v, &mut m, RW, "packed.txt", 0, 0, RDWR).unwrap();
    assert_eq!(v.fd_seek(&mut m, fd as i32, 7, 0, OUT_AT as i32), 0);
    assert_eq!(write(&mut v, &mut m, fd, b"BYTES"), Ok(5));
    assert_eq!(
        &m.mem[0..8],
        b"APPBYTES",
        "borrowed application bytes restored"
    );
    let again = open_with(&mut v, &mut m, RW, "packed.txt", 0, 0, rights::FD_READ).unwrap();
    assert_eq!(read(&mut v, &mut m, again, 100).unwrap(), b"packed BYTES");
    // The read-only mount next to it still refuses.
    assert_eq!(
        open_with(&mut v, &mut m, RO, "fixed.txt", 0, 0, RDWR),
        Err(EPERM.code())
    );
    // Unchanged packed files read as packed, through a directory built on first use.
    let inner = open_with(&mut v, &mut m, RW, "sub/inner.txt", 0, 0, 0).unwrap();
    assert_eq!(read(&mut v, &mut m, inner, 100).unwrap(), b"inner");
}

#[test]
fn budget_exhausted_is_enospc_and_freeing_makes_room() {
    let (mut v, mut m) = setup();
    // 64 bytes in all (packed bytes count only once copied up).
    let fd = create(&mut v, &mut m, RW, "big");
    assert_eq!(write(&mut v, &mut m, fd, &[7u8; 60]), Ok(60));
    assert_eq!(
        write(&mut v, &mut m, fd, &[7u8; 10]),
        Ok(4),
        "a short write"
    );
    assert_eq!(write(&mut v, &mut m, fd, b"x"), Err(ENOSPC.code()));
    assert_eq!(
        v.fd_filestat_set_size(&mut m, fd as i32, 1000),
        ENOSPC.code()
    );
    assert_eq!(v.fd_filestat_set_size(&mut m, fd as i32, 10), 0);
    assert_eq!(v.fd_seek(&mut m, fd as i32, 0, 2, OUT_AT as i32), 0);
    assert_eq!(write(&mut v, &mut m, fd, b"fits"), Ok(4));
    // Another mount's budget is its own.
    let t = create(&mut v, &mut m, TMP, "t");
    assert_eq!(write(&mut v, &mut m, t, &[1u8; 500]), Ok(500));
}

#[test]
fn directories_renames_and_their_errors() {
    let (mut v, mut m) = setup();
    let (p, l) = path_call(&mut m, "d");
    assert_eq!(v.path_create_directory(&mut m, TMP, p, l), 0);
    assert_eq!(v.path_create_directory(&mut m, TMP, p, l), EEXIST.code());
    let fd = create(&mut v, &mut m, TMP, "d/f");
    assert_eq!(write(&mut v, &mut m, fd, b"f"), Ok(1));
    let (p, l) = path_call(&mut m, "d");
    assert_eq!(v.path_remove_directory(&mut m, TMP, p, l), ENOTEMPTY.code());
    assert_eq!(v.path_unlink_file(&mut m, TMP, p, l), EISDIR.code());
    assert_eq!(
        rename(&mut v, &mut m, (TMP, "d"), (TMP, "d/x")),
        EINVAL.code()
    );
    create(&mut v, &mut m, TMP, "plain");
    assert_eq!(
        rename(&mut v, &mut m, (TMP, "plain"), (TMP, "d")),
        EISDIR.code()
    );
    assert_eq!(
        rename(&mut v, &mut m, (TMP, "d"), (TMP, "plain")),
        ENOTDIR.code()
    );
    // Across writable mounts it works; to the host it is EXDEV; to a read-only mount EPERM.
    assert_eq!(rename(&mut v, &mut m, (TMP, "d/f"), (RW, "moved")), 0);
    assert_eq!(size_of(&mut v, &mut m, RW, "moved"), Ok(1));
    assert_eq!(
        rename(&mut v, &mut m, (RW, "moved"), (3, "x")),
        EXDEV.code()
    );
    assert_eq!(
        rename(&mut v, &mut m, (RW, "moved"), (RO, "x")),
        EPERM.code()
    );
    assert!(m.calls_named("path_rename").is_empty());
    // Renaming over an existing file replaces it; the packed file can be deleted.
    assert_eq!(rename(&mut v, &mut m, (RW, "moved"), (RW, "packed.txt")), 0);
    assert_eq!(size_of(&mut v, &mut m, RW, "packed.txt"), Ok(1));
    let (p, l) = path_call(&mut m, "packed.txt");
    assert_eq!(v.path_unlink_file(&mut m, RW, p, l), 0);
    assert_eq!(
        size_of(&mut v, &mut m, RW, "packed.txt"),
        Err(ENOENT.code())
    );
    let (p, l) = path_call(&mut m, "sub/inner.txt/");
    assert_eq!(v.path_unlink_file(&mut m, RW, p, l), ENOTDIR.code());
}

#[test]
fn unlinked_open_files_stay_readable() {
    let (mut v, mut m) = setup();
    let fd = create(&mut v, &mut m, TMP, "gone");
    assert_eq!(write(&mut v, &mut m, fd, b"still here"), Ok(10));
    let (p, l) = path_call(&mut m, "gone");
    assert_eq!(v.path_unlink_file(&mut m, TMP, p, l), 0);
    assert_eq!(v.fd_seek(&mut m, fd as i32, 0, 0, OUT_AT as i32), 0);
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"still here");
    assert_eq!(v.fd_filestat_get(&mut m, fd as i32, 6000), 0);
    assert_eq!(m.u64_at(6000 + 24), 0, "no links left");
    assert_eq!(v.fd_close(&mut m, fd as i32), 0);
}

/// Whole entries of a listing: (d_next, name).
fn names(v: &mut Vfs<'_>, m: &mut Mock, fd: i32, cookie: u64) -> Vec<(u64, String)> {
    assert_eq!(
        v.fd_readdir(m, fd, BUF_AT as i32, 4096, cookie as i64, OUT_AT as i32),
        0
    );
    let used = m.u32_at(OUT_AT) as usize;
    let b = &m.mem[BUF_AT as usize..BUF_AT as usize + used];
    let mut out = Vec::new();
    let mut at = 0;
    while at + 24 <= b.len() {
        let next = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let len = u32::from_le_bytes(b[at + 16..at + 20].try_into().unwrap()) as usize;
        out.push((
            next,
            String::from_utf8(b[at + 24..at + 24 + len].to_vec()).unwrap(),
        ));
        at += 24 + len;
    }
    out
}

#[test]
fn readdir_cookies_survive_changes() {
    let (mut v, mut m) = setup();
    for n in ["a", "b", "c"] {
        create(&mut v, &mut m, TMP, n);
    }
    let all = names(&mut v, &mut m, TMP, 0);
    let list: Vec<&str> = all.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(list, [".", "..", "a", "b", "c"]);
    let after_a = all[2].0;
    // Removing an entry already listed and adding one: resuming skips nothing, repeats nothing.
    let (p, l) = path_call(&mut m, "a");
    assert_eq!(v.path_unlink_file(&mut m, TMP, p, l), 0);
    create(&mut v, &mut m, TMP, "d");
    let rest = names(&mut v, &mut m, TMP, after_a);
    let list: Vec<&str> = rest.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(list, ["b", "c", "d"]);
    // A packed directory lists its packed entries first, in name order.
    let list = names(&mut v, &mut m, RW, 0);
    let list: Vec<&str> = list.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(list, [".", "..", "packed.txt", "sub"]);
}

#[test]
fn symlinks_and_hard_links() {
    let (mut v, mut m) = setup();
    m.put(PATH_AT, b"packed.txt");
    m.put(PATH_AT + 100, b"l");
    assert_eq!(
        v.path_symlink(&mut m, PATH_AT as i32, 10, RW, PATH_AT as i32 + 100, 1),
        0
    );
    let fd = open_with(&mut v, &mut m, RW, "l", 1, 0, 0).unwrap();
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"packed bytes");
    m.put(PATH_AT, b"/etc");
    assert_eq!(
        v.path_symlink(&mut m, PATH_AT as i32, 4, RW, PATH_AT as i32 + 100, 1),
        EEXIST.code()
    );
    m.put(PATH_AT + 100, b"abs");
    assert_eq!(
        v.path_symlink(&mut m, PATH_AT as i32, 4, RW, PATH_AT as i32 + 100, 3),
        EPERM.code()
    );
    m.put(PATH_AT, b"packed.txt");
    m.put(PATH_AT + 100, b"hard");
    let (a, b) = (PATH_AT as i32, PATH_AT as i32 + 100);
    assert_eq!(v.path_link(&mut m, RW, 0, a, 10, RW, b, 4), 0);
    assert_eq!(v.path_link(&mut m, RW, 1, a, 10, RW, b, 4), EINVAL.code());
    assert_eq!(
        v.path_link(&mut m, RW, 0, a, 10, TMP, b, 4),
        0,
        "across writable mounts"
    );
    assert_eq!(
        v.path_link(&mut m, RW, 0, a, 10, 3, b, 4),
        EXDEV.code(),
        "to the host"
    );
    let st = |v: &mut Vfs<'_>, m: &mut Mock, p: &str| {
        let (p, l) = path_call(m, p);
        assert_eq!(v.path_filestat_get(m, RW, 0, p, l, 6000), 0);
        (m.u64_at(6008), m.u64_at(6024))
    };
    let (ino_a, links) = st(&mut v, &mut m, "packed.txt");
    assert_eq!(links, 3, "two names in /rw, one in /tmp");
    assert_eq!(st(&mut v, &mut m, "hard"), (ino_a, 3));
}
