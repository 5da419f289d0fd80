//! fd numbering, close, renumber and the translation of host fds.

use super::fs_tests::{open, read, setup, setup_a_txt, OUT_AT, PATH_AT, SRC};
use crate::fdtable::{FdTable, Slot};
use crate::wasi::*;

#[test]
fn numbering_takes_lowest_free() {
    let mut t = FdTable::new();
    for i in 0..5 {
        assert_eq!(t.push(Slot::Host(i)), Ok(i));
    }
    t.remove(1).unwrap();
    t.remove(3).unwrap();
    // The lowest freed number first, then the next one, then past the end.
    assert_eq!(t.push(Slot::Host(10)), Ok(1));
    assert_eq!(t.push(Slot::Host(11)), Ok(3));
    assert_eq!(t.push(Slot::Host(12)), Ok(5));
    assert_eq!(t.remove(9), Err(EBADF));
}

#[test]
fn open_close_reuse() {
    let (mut v, mut m, a) = setup_a_txt();
    let b = open(&mut v, &mut m, "b.txt").unwrap();
    let c = open(&mut v, &mut m, "sub/c.txt").unwrap();
    assert_eq!((a, b, c), (6, 7, 8));
    assert_eq!(v.fd_close(&mut m, b as i32), 0);
    assert_eq!(v.fd_close(&mut m, b as i32), EBADF.code());
    assert_eq!(open(&mut v, &mut m, "a.txt").unwrap(), 7);
    assert_eq!(v.fd_close(&mut m, a as i32), 0);
    assert_eq!(v.fd_close(&mut m, c as i32), 0);
    assert_eq!(open(&mut v, &mut m, "a.txt").unwrap(), 6);
    assert_eq!(open(&mut v, &mut m, "a.txt").unwrap(), 8);
    assert_eq!(open(&mut v, &mut m, "a.txt").unwrap(), 9);
    assert!(
        m.calls_named("fd_close").is_empty(),
        "embedded closes stay inside"
    );
    // Closing a preopen is allowed; its number is then free.
    assert_eq!(v.fd_close(&mut m, SRC), 0);
    assert_eq!(open(&mut v, &mut m, "a.txt"), Err(EBADF.code()));
}

#[test]
fn renumber_rules() {
    let (mut v, mut m, a) = setup_a_txt();
    let a = a as i32;
    let b = open(&mut v, &mut m, "sub/c.txt").unwrap() as i32;
    assert_eq!(
        v.fd_renumber(&mut m, a, 42),
        EBADF.code(),
        "target must be open"
    );
    assert_eq!(
        v.fd_renumber(&mut m, 42, a),
        EBADF.code(),
        "source must be open"
    );
    assert_eq!(v.fd_renumber(&mut m, a, a), 0);
    assert_eq!(read(&mut v, &mut m, a as u32, 2).unwrap(), b"he");
    assert_eq!(v.fd_renumber(&mut m, a, b), 0);
    assert_eq!(
        read(&mut v, &mut m, b as u32, 100).unwrap(),
        b"llo world",
        "position moves too"
    );
    assert_eq!(read(&mut v, &mut m, a as u32, 1), Err(EBADF.code()));
    // Renumbering onto a host fd closes the host fd by its host number.
    assert_eq!(v.fd_renumber(&mut m, b, 3), 0);
    let closes = m.calls_named("fd_close");
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].args, vec![3]);
    assert_eq!(read(&mut v, &mut m, 3, 100).unwrap(), b"");
    // The freed numbers are reused, lowest first.
    assert_eq!(open(&mut v, &mut m, "a.txt").unwrap() as i32, a.min(b));
    assert_eq!(open(&mut v, &mut m, "a.txt").unwrap() as i32, a.max(b));
}

#[test]
fn host_fds_are_translated() {
    let (mut v, mut m) = setup();
    // path_open through the host preopen: the host hands out 100, the guest sees the next number.
    m.put(PATH_AT, b"hosted.txt");
    let r = v.path_open(&mut m, 3, 1, PATH_AT as i32, 10, 0, 2, 0, 0, OUT_AT as i32);
    assert_eq!(r, 0);
    let guest = m.u32_at(OUT_AT);
    assert_eq!(guest, 6);
    assert_eq!(m.calls_named("path_open")[0].args[0], 3);
    // Calls on the guest number reach the host with the host number.
    assert_eq!(v.fd_read(&mut m, guest as i32, 0, 0, OUT_AT as i32), 0);
    assert_eq!(
        m.calls_named("fd_read")[0].args,
        vec![100, 0, 0, OUT_AT as i64]
    );
    assert_eq!(v.fd_seek(&mut m, guest as i32, -3, 2, OUT_AT as i32), 0);
    assert_eq!(
        m.calls_named("fd_seek")[0].args,
        vec![100, -3, 2, OUT_AT as i64]
    );
    // Renumber a host fd onto another guest number: later calls use the host number still.
    let e = open(&mut v, &mut m, "a.txt").unwrap() as i32;
    assert_eq!(v.fd_renumber(&mut m, guest as i32, e), 0);
    assert_eq!(v.fd_fdstat_get(&mut m, e, 500), 0);
    assert_eq!(m.calls_named("fd_fdstat_get")[0].args, vec![100, 500]);
    assert_eq!(v.fd_close(&mut m, e), 0);
    assert_eq!(m.calls_named("fd_close")[0].args, vec![100]);
    // Host errors come back unchanged; unknown numbers never reach the host.
    m.default_answer = ENOENT.code();
    assert_eq!(
        v.path_unlink_file(&mut m, 3, PATH_AT as i32, 3),
        ENOENT.code()
    );
    assert_eq!(v.fd_write(&mut m, 77, 0, 0, 0), EBADF.code());
    assert!(m.calls_named("fd_write").is_empty());
    // stdio passes through as itself.
    m.default_answer = 0;
    assert_eq!(v.fd_write(&mut m, 1, 10, 1, 20), 0);
    assert_eq!(m.calls_named("fd_write")[0].args, vec![1, 10, 1, 20]);
}
