//! Embedded paths: lookups, symlinks, reads, stats, readdir, and the read-only refusals.

use std::vec::Vec;

use wasivfs_image::Image;

use super::mock::{test_image, Mock};
use crate::wasi::*;
use crate::Vfs;

pub const PATH_AT: u32 = 1000;
pub const OUT_AT: u32 = 2000;
pub const IOV_AT: u32 = 3000;
pub const BUF_AT: u32 = 4000;

/// A VFS over the test image with one host preopen (fd 3): `/src` is fd 4, `/data` fd 5.
pub fn setup() -> (Vfs<'static>, Mock) {
    let bytes: &'static [u8] = Box::leak(test_image().0.into_boxed_slice());
    let img = Image::parse(bytes).unwrap();
    let mut m = Mock::new(Some(&[(3, "/host")]));
    let mut v = Vfs::new(Some(img));
    v.start(&mut m);
    (v, m)
}

/// [`setup`], then `a.txt` of `/src` opened for reading: its fd.
pub fn setup_a_txt() -> (Vfs<'static>, Mock, u32) {
    let (mut v, mut m) = setup();
    let fd = open(&mut v, &mut m, "a.txt").unwrap();
    (v, m, fd)
}

pub const SRC: i32 = 4;
pub const DATA: i32 = 5;

pub fn open_with(
    v: &mut Vfs<'_>,
    m: &mut Mock,
    dir: i32,
    path: &str,
    dirflags: i32,
    oflags: i32,
    rights: u64,
) -> Result<u32, i32> {
    m.put(PATH_AT, path.as_bytes());
    let r = v.path_open(
        m,
        dir,
        dirflags,
        PATH_AT as i32,
        path.len() as i32,
        oflags,
        rights as i64,
        0,
        0,
        OUT_AT as i32,
    );
    if r == 0 {
        Ok(m.u32_at(OUT_AT))
    } else {
        Err(r)
    }
}

pub fn open(v: &mut Vfs<'_>, m: &mut Mock, path: &str) -> Result<u32, i32> {
    open_with(v, m, SRC, path, 1, 0, rights::FD_READ)
}

/// One `fd_read` of at most `len` bytes.
pub fn read(v: &mut Vfs<'_>, m: &mut Mock, fd: u32, len: u32) -> Result<Vec<u8>, i32> {
    m.put_u32(IOV_AT, BUF_AT);
    m.put_u32(IOV_AT + 4, len);
    let r = v.fd_read(m, fd as i32, IOV_AT as i32, 1, OUT_AT as i32);
    if r != 0 {
        return Err(r);
    }
    let n = m.u32_at(OUT_AT);
    Ok(m.mem[BUF_AT as usize..(BUF_AT + n) as usize].to_vec())
}

fn stat_path(v: &mut Vfs<'_>, m: &mut Mock, path: &str, follow: bool) -> Result<Filestat, i32> {
    m.put(PATH_AT, path.as_bytes());
    let r = v.path_filestat_get(
        m,
        SRC,
        follow as i32,
        PATH_AT as i32,
        path.len() as i32,
        BUF_AT as i32,
    );
    if r != 0 {
        return Err(r);
    }
    Ok(decode_filestat(m, BUF_AT))
}

fn decode_filestat(m: &Mock, at: u32) -> Filestat {
    Filestat {
        dev: m.u64_at(at),
        ino: m.u64_at(at + 8),
        filetype: m.mem[at as usize + 16],
        nlink: m.u64_at(at + 24),
        size: m.u64_at(at + 32),
        atim: m.u64_at(at + 40),
        mtim: m.u64_at(at + 48),
        ctim: m.u64_at(at + 56),
    }
}

#[test]
fn preopens_follow_host_ones_and_borrowed_memory_is_restored() {
    let bytes: &'static [u8] = Box::leak(test_image().0.into_boxed_slice());
    let mut m = Mock::new(Some(&[(3, "/host"), (4, "/other")]));
    m.put(0, b"ABCDEFGH");
    let mut v = Vfs::new(Some(Image::parse(bytes).unwrap()));
    // fd 5 and 6 are the embedded mounts, in order.
    assert_eq!(v.fd_prestat_get(&mut m, 5, 100), 0);
    assert_eq!(m.mem[100], 0);
    assert_eq!(m.u32_at(104), 4);
    assert_eq!(v.fd_prestat_dir_name(&mut m, 5, 200, 4), 0);
    assert_eq!(&m.mem[200..204], b"/src");
    assert_eq!(v.fd_prestat_dir_name(&mut m, 6, 200, 10), 0);
    assert_eq!(&m.mem[200..205], b"/data");
    assert_eq!(
        v.fd_prestat_dir_name(&mut m, 6, 200, 4),
        ENAMETOOLONG.code()
    );
    assert_eq!(v.fd_prestat_get(&mut m, 7, 100), EBADF.code());
    assert_eq!(&m.mem[0..8], b"ABCDEFGH", "borrowed bytes restored");
    // Host preopens are forwarded with their own numbers.
    let before = m.calls.len();
    assert_eq!(v.fd_prestat_get(&mut m, 4, 100), 0);
    assert_eq!(m.calls[before].args, vec![4, 100]);
}

#[test]
fn stub_prestat_means_no_host_preopens() {
    let bytes: &'static [u8] = Box::leak(test_image().0.into_boxed_slice());
    let mut m = Mock::new(None);
    let mut v = Vfs::new(Some(Image::parse(bytes).unwrap()));
    assert_eq!(v.fd_prestat_get(&mut m, 3, 100), 0);
    assert_eq!(m.u32_at(104), 4);
    assert_eq!(v.fd_prestat_dir_name(&mut m, 3, 200, 4), 0);
    assert_eq!(&m.mem[200..204], b"/src");
    assert_eq!(
        m.calls_named("fd_prestat_get").len(),
        1,
        "scan stopped at ENOSYS"
    );
}

#[test]
fn non_preopen_prestat_errors() {
    let (mut v, mut m, fd) = setup_a_txt();
    let fd = fd as i32;
    assert_eq!(v.fd_prestat_get(&mut m, fd, 100), EBADF.code());
    assert_eq!(v.fd_prestat_dir_name(&mut m, fd, 100, 10), ENOTDIR.code());
}

#[test]
fn lookups_and_reads() {
    let (mut v, mut m, fd) = setup_a_txt();
    assert_eq!(read(&mut v, &mut m, fd, 5).unwrap(), b"hello");
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b" world");
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"");
    for (p, want) in [
        ("sub/c.txt", &b"sea"[..]),
        ("./sub/./deeper/d.txt", b"dee"),
        ("sub/../a.txt", b"hello world"),
        ("sub//deeper/../c.txt", b"sea"),
        ("b.txt", b""),
    ] {
        let fd = open(&mut v, &mut m, p).unwrap();
        assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), want, "{p}");
    }
    let fd = open_with(&mut v, &mut m, DATA, "x.bin", 0, 0, 0).unwrap();
    assert_eq!(
        read(&mut v, &mut m, fd, 100).unwrap(),
        b"xyz",
        "readable without FD_READ"
    );
}

#[test]
fn lookup_errors() {
    let (mut v, mut m) = setup();
    for (p, e) in [
        ("", ENOENT),
        ("missing", ENOENT),
        ("sub/missing/x", ENOENT),
        ("..", EPERM),
        ("../src/a.txt", EPERM),
        ("sub/../../a.txt", EPERM),
        ("/a.txt", EPERM),
        ("/src/a.txt", EPERM),
        ("a.txt/", ENOTDIR),
        ("a.txt/.", ENOTDIR),
        ("a.txt/x", ENOTDIR),
        ("a\0b", EINVAL),
    ] {
        assert_eq!(open(&mut v, &mut m, p), Err(e.code()), "{p:?}");
    }
    let long = "x".repeat(256);
    assert_eq!(open(&mut v, &mut m, &long), Err(ENAMETOOLONG.code()));
    // Not UTF-8.
    m.put(PATH_AT, &[0xff, 0xfe]);
    let r = v.path_open(&mut m, SRC, 0, PATH_AT as i32, 2, 0, 0, 0, 0, OUT_AT as i32);
    assert_eq!(r, EILSEQ.code());
}

#[test]
fn directories_open_and_file_directory_mismatches() {
    let (mut v, mut m) = setup();
    let d = open_with(&mut v, &mut m, SRC, "sub/", 0, oflags::DIRECTORY as i32, 0).unwrap();
    assert_eq!(
        read(&mut v, &mut m, d, 10),
        Err(EBADF.code()),
        "reading a directory"
    );
    let d2 = open(&mut v, &mut m, ".").unwrap();
    let f = open_with(&mut v, &mut m, d2 as i32, "sub/c.txt", 0, 0, 0).unwrap();
    assert_eq!(read(&mut v, &mut m, f, 10).unwrap(), b"sea");
    assert_eq!(
        open_with(&mut v, &mut m, SRC, "a.txt", 0, oflags::DIRECTORY as i32, 0),
        Err(ENOTDIR.code())
    );
    // A file used as the directory of a path call.
    assert_eq!(
        open_with(&mut v, &mut m, f as i32, "x", 0, 0, 0),
        Err(ENOTDIR.code())
    );
    // An opened subdirectory confines its own lookups, as a host directory descriptor does:
    // `..` from it is refused even though the mount root is above it.
    let sub = open(&mut v, &mut m, "sub").unwrap();
    assert_eq!(
        open_with(&mut v, &mut m, sub as i32, "../a.txt", 0, 0, 0),
        Err(EPERM.code())
    );
    let c = open_with(&mut v, &mut m, sub as i32, "./c.txt", 0, 0, 0).unwrap();
    assert_eq!(read(&mut v, &mut m, c, 100).unwrap(), b"sea");
    assert_eq!(
        open_with(&mut v, &mut m, sub as i32, "../..", 0, 0, 0),
        Err(EPERM.code())
    );
}

#[test]
fn symlinks() {
    let (mut v, mut m) = setup();
    let fd = open(&mut v, &mut m, "link_a").unwrap();
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"hello world");
    let fd = open(&mut v, &mut m, "link_link").unwrap();
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"hello world");
    let fd = open(&mut v, &mut m, "sub/link_parent").unwrap();
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"hello world");
    // Intermediate links are followed even without SYMLINK_FOLLOW.
    let fd = open_with(&mut v, &mut m, SRC, "link_sub/c.txt", 0, 0, 0).unwrap();
    assert_eq!(read(&mut v, &mut m, fd, 100).unwrap(), b"sea");
    // A final link without SYMLINK_FOLLOW cannot be opened.
    assert_eq!(
        open_with(&mut v, &mut m, SRC, "link_a", 0, 0, 0),
        Err(ELOOP.code())
    );
    // ... unless a trailing slash makes it a directory lookup.
    assert!(open_with(&mut v, &mut m, SRC, "link_sub/", 0, 0, 0).is_ok());
    assert_eq!(
        open_with(&mut v, &mut m, SRC, "link_a/", 1, 0, 0),
        Err(ENOTDIR.code())
    );
    assert_eq!(open(&mut v, &mut m, "loop1"), Err(ELOOP.code()));
    assert_eq!(open(&mut v, &mut m, "loop1/x"), Err(ELOOP.code()));
    assert_eq!(open(&mut v, &mut m, "broken"), Err(ENOENT.code()));
    assert_eq!(open(&mut v, &mut m, "escape"), Err(EPERM.code()));

    // readlink: the link itself, truncated to the buffer.
    let readlink = |v: &mut Vfs<'_>, m: &mut Mock, p: &str, len: i32| {
        m.put(PATH_AT, p.as_bytes());
        let r = v.path_readlink(
            m,
            SRC,
            PATH_AT as i32,
            p.len() as i32,
            BUF_AT as i32,
            len,
            OUT_AT as i32,
        );
        if r != 0 {
            return Err(r);
        }
        let n = m.u32_at(OUT_AT);
        Ok(m.mem[BUF_AT as usize..(BUF_AT + n) as usize].to_vec())
    };
    assert_eq!(
        readlink(&mut v, &mut m, "link_link", 100).unwrap(),
        b"link_a"
    );
    assert_eq!(
        readlink(&mut v, &mut m, "sub/link_parent", 3).unwrap(),
        b"../"
    );
    assert_eq!(readlink(&mut v, &mut m, "a.txt", 100), Err(EINVAL.code()));
    assert_eq!(readlink(&mut v, &mut m, "nope", 100), Err(ENOENT.code()));
}

#[test]
fn stats() {
    let (mut v, mut m) = setup();
    let st = stat_path(&mut v, &mut m, "a.txt", true).unwrap();
    assert_eq!(st.filetype, filetype::REGULAR_FILE);
    assert_eq!(st.size, 11);
    assert_eq!((st.atim, st.mtim, st.ctim), (111, 111, 111));
    assert_eq!((st.nlink, st.dev), (1, 1));
    let link = stat_path(&mut v, &mut m, "link_a", false).unwrap();
    assert_eq!(link.filetype, filetype::SYMBOLIC_LINK);
    assert_eq!(link.size, 5);
    assert_ne!(link.ino, st.ino);
    let followed = stat_path(&mut v, &mut m, "link_a", true).unwrap();
    assert_eq!(followed, st, "following the link stats its target");
    let dir = stat_path(&mut v, &mut m, "sub", false).unwrap();
    assert_eq!(
        (dir.filetype, dir.size, dir.mtim),
        (filetype::DIRECTORY, crate::stat::DIR_SIZE, 333)
    );
    assert_eq!(stat_path(&mut v, &mut m, "loop1", true), Err(ELOOP.code()));
    // fd_filestat_get agrees with path_filestat_get.
    let fd = open(&mut v, &mut m, "a.txt").unwrap();
    assert_eq!(v.fd_filestat_get(&mut m, fd as i32, BUF_AT as i32), 0);
    assert_eq!(decode_filestat(&m, BUF_AT), st);
    assert_eq!(v.fd_filestat_get(&mut m, SRC, BUF_AT as i32), 0);
    assert_eq!(decode_filestat(&m, BUF_AT).mtim, 1_000);
}

#[test]
fn fdstat_rights_and_flags() {
    let (mut v, mut m) = setup();
    assert_eq!(v.fd_fdstat_get(&mut m, SRC, BUF_AT as i32), 0);
    assert_eq!(m.mem[BUF_AT as usize], filetype::DIRECTORY);
    assert_eq!(m.u64_at(BUF_AT + 8), crate::stat::PREOPEN_RIGHTS_BASE);
    assert_eq!(
        m.u64_at(BUF_AT + 16),
        crate::stat::PREOPEN_RIGHTS_INHERITING
    );
    let fd = open(&mut v, &mut m, "a.txt").unwrap();
    assert_eq!(v.fd_fdstat_get(&mut m, fd as i32, BUF_AT as i32), 0);
    assert_eq!(m.mem[BUF_AT as usize], filetype::REGULAR_FILE);
    assert_eq!(m.u64_at(BUF_AT + 8), rights::ALL & !rights::FD_WRITE);
    assert_eq!(
        v.fd_fdstat_set_flags(
            &mut m,
            fd as i32,
            (fdflags::APPEND | fdflags::NONBLOCK) as i32
        ),
        0
    );
    assert_eq!(v.fd_fdstat_get(&mut m, fd as i32, BUF_AT as i32), 0);
    assert_eq!(
        u16::from_le_bytes([m.mem[BUF_AT as usize + 2], m.mem[BUF_AT as usize + 3]]),
        fdflags::APPEND | fdflags::NONBLOCK
    );
    assert_eq!(
        v.fd_fdstat_set_flags(&mut m, fd as i32, fdflags::SYNC as i32),
        EINVAL.code()
    );
    assert_eq!(v.fd_fdstat_set_flags(&mut m, SRC, 0), EBADF.code());
    assert_eq!(
        v.fd_fdstat_set_rights(&mut m, fd as i32, 0, 0),
        ENOTSUP.code()
    );
}

#[test]
fn seek_and_tell() {
    let (mut v, mut m, fd) = setup_a_txt();
    let fd = fd as i32;
    let seek = |v: &mut Vfs<'_>, m: &mut Mock, off: i64, wh: i32| {
        let r = v.fd_seek(m, fd, off, wh, OUT_AT as i32);
        if r == 0 {
            Ok(m.u64_at(OUT_AT))
        } else {
            Err(r)
        }
    };
    assert_eq!(seek(&mut v, &mut m, 6, 0), Ok(6));
    assert_eq!(read(&mut v, &mut m, fd as u32, 100).unwrap(), b"world");
    assert_eq!(seek(&mut v, &mut m, -5, 2), Ok(6));
    assert_eq!(seek(&mut v, &mut m, -1, 1), Ok(5));
    assert_eq!(seek(&mut v, &mut m, -6, 1), Err(EINVAL.code()));
    assert_eq!(seek(&mut v, &mut m, -1, 0), Err(EINVAL.code()));
    assert_eq!(seek(&mut v, &mut m, 0, 3), Err(EINVAL.code()));
    assert_eq!(seek(&mut v, &mut m, 100, 0), Ok(100));
    assert_eq!(read(&mut v, &mut m, fd as u32, 100).unwrap(), b"");
    assert_eq!(v.fd_tell(&mut m, fd, OUT_AT as i32), 0);
    assert_eq!(m.u64_at(OUT_AT), 100);
    assert_eq!(v.fd_seek(&mut m, SRC, 0, 0, OUT_AT as i32), EBADF.code());
    assert_eq!(v.fd_tell(&mut m, SRC, OUT_AT as i32), EBADF.code());
    // pread leaves the position alone.
    m.put_u32(IOV_AT, BUF_AT);
    m.put_u32(IOV_AT + 4, 4);
    assert_eq!(
        v.fd_pread(&mut m, fd, IOV_AT as i32, 1, 2, OUT_AT as i32),
        0
    );
    assert_eq!(&m.mem[BUF_AT as usize..BUF_AT as usize + 4], b"llo ");
    assert_eq!(v.fd_tell(&mut m, fd, OUT_AT as i32), 0);
    assert_eq!(m.u64_at(OUT_AT), 100);
}

#[test]
fn reads_use_the_first_non_empty_iovec() {
    let (mut v, mut m, fd) = setup_a_txt();
    let fd = fd as i32;
    m.put_u32(IOV_AT, BUF_AT);
    m.put_u32(IOV_AT + 4, 0);
    m.put_u32(IOV_AT + 8, BUF_AT + 100);
    m.put_u32(IOV_AT + 12, 3);
    m.put_u32(IOV_AT + 16, BUF_AT + 200);
    m.put_u32(IOV_AT + 20, 3);
    assert_eq!(v.fd_read(&mut m, fd, IOV_AT as i32, 3, OUT_AT as i32), 0);
    assert_eq!(m.u32_at(OUT_AT), 3);
    assert_eq!(&m.mem[BUF_AT as usize + 100..BUF_AT as usize + 103], b"hel");
    assert_eq!(
        &m.mem[BUF_AT as usize + 200..BUF_AT as usize + 203],
        b"\0\0\0"
    );
}

#[test]
fn bad_pointers_are_efault() {
    let (mut v, mut m, fd) = setup_a_txt();
    let fd = fd as i32;
    m.put_u32(IOV_AT, 65530);
    m.put_u32(IOV_AT + 4, 100);
    assert_eq!(
        v.fd_read(&mut m, fd, IOV_AT as i32, 1, OUT_AT as i32),
        EFAULT.code()
    );
    assert_eq!(
        v.fd_read(&mut m, fd, 65535, 1, OUT_AT as i32),
        EFAULT.code()
    );
    assert_eq!(v.fd_read(&mut m, fd, -8, 1, OUT_AT as i32), EFAULT.code());
    let r = v.path_open(&mut m, SRC, 0, 65534, 10, 0, 0, 0, 0, OUT_AT as i32);
    assert_eq!(r, EFAULT.code());
    assert_eq!(v.fd_filestat_get(&mut m, fd, 65500), EFAULT.code());
    assert_eq!(v.fd_fdstat_get(&mut m, fd, -1), EFAULT.code());
    assert_eq!(v.fd_prestat_dir_name(&mut m, SRC, 65534, 10), EFAULT.code());
    assert_eq!(
        v.fd_readdir(&mut m, SRC, 65530, 100, 0, OUT_AT as i32),
        EFAULT.code()
    );
    m.put(PATH_AT, b"a.txt");
    assert_eq!(
        v.path_open(&mut m, SRC, 0, PATH_AT as i32, 5, 0, 0, 0, 0, 65534),
        EFAULT.code()
    );
}

#[test]
fn writes_are_refused_like_a_read_only_preopen() {
    let (mut v, mut m) = setup();
    let w = rights::FD_READ | rights::FD_WRITE;
    assert_eq!(
        open_with(&mut v, &mut m, SRC, "a.txt", 1, 0, w),
        Err(EPERM.code())
    );
    assert_eq!(
        open_with(&mut v, &mut m, SRC, "new", 1, oflags::CREAT as i32, 0),
        Err(EPERM.code())
    );
    assert_eq!(
        open_with(&mut v, &mut m, SRC, "a.txt", 1, oflags::TRUNC as i32, 0),
        Err(EPERM.code())
    );
    assert_eq!(
        open_with(
            &mut v,
            &mut m,
            SRC,
            "x",
            1,
            (oflags::DIRECTORY | oflags::CREAT) as i32,
            0
        ),
        Err(EINVAL.code())
    );
    let fd = open(&mut v, &mut m, "a.txt").unwrap() as i32;
    m.put_u32(IOV_AT, BUF_AT);
    m.put_u32(IOV_AT + 4, 3);
    assert_eq!(
        v.fd_write(&mut m, fd, IOV_AT as i32, 1, OUT_AT as i32),
        EBADF.code()
    );
    assert_eq!(
        v.fd_pwrite(&mut m, fd, IOV_AT as i32, 1, 0, OUT_AT as i32),
        EBADF.code()
    );
    assert_eq!(
        v.fd_write(&mut m, SRC, IOV_AT as i32, 1, OUT_AT as i32),
        EBADF.code()
    );
    assert_eq!(v.fd_filestat_set_size(&mut m, fd, 0), EPERM.code());
    assert_eq!(v.fd_filestat_set_size(&mut m, SRC, 0), EBADF.code());
    assert_eq!(v.fd_allocate(&mut m, fd, 0, 1), ENOTSUP.code());
    assert_eq!(
        v.fd_filestat_set_times(&mut m, fd, 0, 0, fstflags::MTIM_NOW as i32),
        EPERM.code()
    );
    assert_eq!(
        v.fd_filestat_set_times(
            &mut m,
            fd,
            0,
            0,
            (fstflags::MTIM | fstflags::MTIM_NOW) as i32
        ),
        EINVAL.code()
    );
    m.put(PATH_AT, b"newdir");
    let p = PATH_AT as i32;
    assert_eq!(v.path_create_directory(&mut m, SRC, p, 6), EPERM.code());
    assert_eq!(v.path_remove_directory(&mut m, SRC, p, 6), EPERM.code());
    assert_eq!(v.path_unlink_file(&mut m, SRC, p, 6), EPERM.code());
    assert_eq!(v.path_symlink(&mut m, p, 6, SRC, p, 6), EPERM.code());
    assert_eq!(v.path_rename(&mut m, SRC, p, 6, SRC, p, 6), EPERM.code());
    assert_eq!(v.path_rename(&mut m, SRC, p, 6, 3, p, 6), EPERM.code());
    assert_eq!(v.path_link(&mut m, 3, 0, p, 6, SRC, p, 6), EPERM.code());
    assert_eq!(
        v.path_filestat_set_times(&mut m, SRC, 0, p, 6, 0, 0, 0),
        EPERM.code()
    );
    assert_eq!(v.path_create_directory(&mut m, fd, p, 6), EBADF.code());
    assert_eq!(v.path_rename(&mut m, SRC, p, 6, 99, p, 6), EBADF.code());
    assert!(
        m.calls_named("path_rename").is_empty(),
        "nothing reached the host"
    );
    assert!(
        m.calls_named("path_link").is_empty(),
        "nothing reached the host"
    );
    // Harmless calls succeed.
    assert_eq!(v.fd_sync(&mut m, fd), 0);
    assert_eq!(v.fd_datasync(&mut m, fd), 0);
    assert_eq!(v.fd_advise(&mut m, fd, 0, 0, 1), 0);
    assert_eq!(v.fd_advise(&mut m, fd, 0, 0, 9), EINVAL.code());
    assert_eq!(v.fd_sync(&mut m, SRC), EBADF.code());
    assert_eq!(v.sock_shutdown(&mut m, fd, 0), ENOTSOCK.code());
}
