//! `fd_readdir` over packed directories: layout, cookies, tiny buffers.

use std::vec::Vec;

use super::fs_tests::{open, setup, BUF_AT, OUT_AT, PATH_AT, SRC};
use super::mock::Mock;
use crate::wasi::*;
use crate::Vfs;

/// Runs `fd_readdir` with a buffer of `len` bytes; returns the bytes written.
fn readdir(v: &mut Vfs<'_>, m: &mut Mock, fd: i32, len: u32, cookie: u64) -> Vec<u8> {
    m.mem[BUF_AT as usize..BUF_AT as usize + 4096].fill(0xAA);
    assert_eq!(
        v.fd_readdir(
            m,
            fd,
            BUF_AT as i32,
            len as i32,
            cookie as i64,
            OUT_AT as i32
        ),
        0
    );
    let n = m.u32_at(OUT_AT);
    assert!(n <= len);
    assert_eq!(
        m.mem[(BUF_AT + n) as usize],
        0xAA,
        "nothing written past bufused"
    );
    m.mem[BUF_AT as usize..(BUF_AT + n) as usize].to_vec()
}

/// Parses whole entries: (d_next, d_ino, type, name).
fn parse_dirents(mut b: &[u8]) -> Vec<(u64, u64, u8, String)> {
    let mut out = Vec::new();
    while b.len() >= 24 {
        let next = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let ino = u64::from_le_bytes(b[8..16].try_into().unwrap());
        let len = u32::from_le_bytes(b[16..20].try_into().unwrap()) as usize;
        if b.len() < 24 + len {
            break;
        }
        out.push((
            next,
            ino,
            b[20],
            String::from_utf8(b[24..24 + len].to_vec()).unwrap(),
        ));
        b = &b[24 + len..];
    }
    out
}

#[test]
fn readdir_listing_cookies_and_tiny_buffers() {
    let (mut v, mut m) = setup();
    let all = parse_dirents(&readdir(&mut v, &mut m, SRC, 4096, 0));
    let names: Vec<&str> = all.iter().map(|e| e.3.as_str()).collect();
    assert_eq!(
        names,
        [
            ".",
            "..",
            "a.txt",
            "b.txt",
            "broken",
            "escape",
            "link_a",
            "link_link",
            "link_sub",
            "loop1",
            "loop2",
            "sub"
        ]
    );
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.0, i as u64 + 1, "d_next is the position");
    }
    assert_eq!(
        all[0].1, all[1].1,
        ". and .. both carry the directory's inode"
    );
    assert_eq!(all[0].2, filetype::DIRECTORY);
    assert_eq!(all[2].2, filetype::REGULAR_FILE);
    assert_eq!(all[4].2, filetype::SYMBOLIC_LINK);
    assert_eq!(all[11].2, filetype::DIRECTORY);
    // The same inode numbers path_filestat_get reports.
    m.put(PATH_AT, b"a.txt");
    assert_eq!(
        v.path_filestat_get(&mut m, SRC, 0, PATH_AT as i32, 5, BUF_AT as i32 + 2048),
        0
    );
    assert_eq!(all[2].1, m.u64_at(BUF_AT + 2048 + 8));

    // Resuming from every cookie gives the tail of the listing.
    for c in 0..=all.len() as u64 + 2 {
        let tail = parse_dirents(&readdir(&mut v, &mut m, SRC, 4096, c));
        assert_eq!(
            tail,
            all[(c as usize).min(all.len())..].to_vec(),
            "cookie {c}"
        );
    }

    // A buffer too small for the first entry is filled with its truncated bytes.
    let whole = readdir(&mut v, &mut m, SRC, 4096, 2);
    for len in [1u32, 10, 24, 25, 28, 29, 30, 60] {
        let part = readdir(&mut v, &mut m, SRC, len, 2);
        assert_eq!(part.len(), len as usize, "a short buffer is always filled");
        assert_eq!(part, whole[..len as usize], "len {len}");
    }
    // Walking with a small buffer and the last complete entry's d_next visits everything.
    let mut seen = Vec::new();
    let mut cookie = 0;
    loop {
        let chunk = parse_dirents(&readdir(&mut v, &mut m, SRC, 64, cookie));
        if chunk.is_empty() {
            break;
        }
        cookie = chunk.last().unwrap().0;
        seen.extend(chunk);
    }
    assert_eq!(seen, all);

    // Empty directory listing of a subdirectory, and a file is not a directory.
    let deeper = open(&mut v, &mut m, "sub/deeper").unwrap() as i32;
    let list = parse_dirents(&readdir(&mut v, &mut m, deeper, 4096, 0));
    let names: Vec<&str> = list.iter().map(|e| e.3.as_str()).collect();
    assert_eq!(names, [".", "..", "d.txt"]);
    let f = open(&mut v, &mut m, "a.txt").unwrap() as i32;
    assert_eq!(
        v.fd_readdir(&mut m, f, BUF_AT as i32, 100, 0, OUT_AT as i32),
        EBADF.code()
    );
}
