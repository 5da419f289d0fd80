//! Output streams of embedded files through the WASI 0.2 front-end, on the writable mounts of
//! `write_tests`: a write is done at once but settles later, a failure is reported once and
//! closes the stream, and what the host would trap on traps.

use super::mock::Mock;
use super::p2_tests::{directories, handle_result, open, RET};
use super::write_tests::setup;
use crate::p2::front;
use crate::Vfs;

/// Where the tests put the bytes they write.
const BUF: u32 = 3000;
/// `open-at` flags: create and truncate.
const CREATE: i32 = 1 | 8;
/// Descriptor flags: read and write.
const READ_WRITE: i32 = 3;

/// A new file `name` on `/rw` (64-byte limit) and a write stream on it at offset 0.
fn stream_on_new_file(v: &mut Vfs<'_>, m: &mut Mock, name: &str) -> (i32, i32) {
    let rw = directories(v, m)[1].0;
    let f = open(v, m, rw, name, CREATE, READ_WRITE).unwrap();
    front::descriptor_write_via_stream(v, m, f, 0, RET as i32);
    (f, handle_result(m).unwrap())
}

/// `result<u64, stream-error>` at `RET`: the count, or the error (`Err(None)` for `closed`,
/// `Err(Some(handle))` for a failure).
fn count(m: &Mock) -> Result<u64, Option<i32>> {
    match (m.mem[RET as usize], m.mem[RET as usize + 8]) {
        (0, _) => Ok(m.u64_at(RET + 8)),
        (_, 0) => Err(Some(m.u32_at(RET + 12) as i32)),
        _ => Err(None),
    }
}

/// `result<_, stream-error>` at `RET`.
fn unit(m: &Mock) -> Result<(), Option<i32>> {
    match (m.mem[RET as usize], m.mem[RET as usize + 4]) {
        (0, _) => Ok(()),
        (_, 0) => Err(Some(m.u32_at(RET + 8) as i32)),
        _ => Err(None),
    }
}

/// `write` of `bytes` on stream `s`.
fn write(v: &mut Vfs<'_>, m: &mut Mock, s: i32, bytes: &[u8]) -> Result<(), Option<i32>> {
    m.put(BUF, bytes);
    front::output_stream_write(v, m, s, BUF as i32, bytes.len() as i32, RET as i32);
    unit(m)
}

/// `check-write` on stream `s`.
fn check_write(v: &mut Vfs<'_>, m: &mut Mock, s: i32) -> Result<u64, Option<i32>> {
    front::output_stream_check_write(v, m, s, RET as i32);
    count(m)
}

/// The first `len` bytes of file `f`, by `descriptor.read`.
fn contents(v: &mut Vfs<'_>, m: &mut Mock, f: i32, len: i64) -> Vec<u8> {
    front::descriptor_read(v, m, f, len, 0, RET as i32);
    assert_eq!(m.mem[RET as usize], 0);
    let (ptr, n) = (m.u32_at(RET + 4), m.u32_at(RET + 8));
    m.mem[ptr as usize..(ptr + n) as usize].to_vec()
}

#[test]
fn a_write_settles_once_its_pollable_is_ready() {
    let (mut v, mut m) = setup();
    let (f, s) = stream_on_new_file(&mut v, &mut m, "f");
    assert_eq!(check_write(&mut v, &mut m, s), Ok(65536));
    assert_eq!(write(&mut v, &mut m, s, b"hello"), Ok(()));
    assert_eq!(check_write(&mut v, &mut m, s), Ok(0), "not settled yet");
    assert_eq!(contents(&mut v, &mut m, f, 100), b"hello", "but done");
    let p = front::output_stream_subscribe(&mut v, &mut m, s);
    front::pollable_block(&mut v, &mut m, p);
    front::drop_pollable(&mut v, &mut m, p);
    assert_eq!(check_write(&mut v, &mut m, s), Ok(65536));
    m.put(BUF, b"!");
    front::output_stream_blocking_write_and_flush(&mut v, &mut m, s, BUF as i32, 1, RET as i32);
    assert_eq!(unit(&m), Ok(()));
    front::output_stream_blocking_write_zeroes_and_flush(&mut v, &mut m, s, 2, RET as i32);
    assert_eq!(unit(&m), Ok(()));
    front::descriptor_append_via_stream(&mut v, &mut m, f, RET as i32);
    let a = handle_result(&m).unwrap();
    m.put(BUF, b"end");
    front::output_stream_blocking_write_and_flush(&mut v, &mut m, a, BUF as i32, 3, RET as i32);
    assert_eq!(unit(&m), Ok(()));
    assert_eq!(contents(&mut v, &mut m, f, 100), b"hello!\0\0end");
    for s in [s, a] {
        front::drop_output_stream(&mut v, &mut m, s);
    }
    front::drop_descriptor(&mut v, &mut m, f);
    // Only the preopen lists reached the host.
    assert!(m
        .calls
        .iter()
        .all(|c| c.name != "[method]output-stream.write"));
}

#[test]
fn a_failed_write_is_reported_once_then_the_stream_is_closed() {
    let (mut v, mut m) = setup();
    let (f, s) = stream_on_new_file(&mut v, &mut m, "big");
    assert_eq!(write(&mut v, &mut m, s, &[7; 100]), Ok(()), "taken");
    front::output_stream_flush(&mut v, &mut m, s, RET as i32);
    assert_eq!(unit(&m), Ok(()), "a flush does not wait");
    front::output_stream_blocking_flush(&mut v, &mut m, s, RET as i32);
    let Err(Some(e)) = unit(&m) else {
        panic!("the failure, once settled")
    };
    front::filesystem_error_code(&mut v, &mut m, e, RET as i32);
    assert_eq!(
        &m.mem[RET as usize..RET as usize + 2],
        [1, 23],
        "insufficient-space"
    );
    front::error_to_debug_string(&mut v, &mut m, e, RET as i32);
    let (ptr, n) = (m.u32_at(RET), m.u32_at(RET + 4));
    let text = String::from_utf8_lossy(&m.mem[ptr as usize..(ptr + n) as usize]).into_owned();
    assert!(text.starts_with("insufficient-space"), "{text}");
    front::drop_error(&mut v, &mut m, e);
    assert_eq!(check_write(&mut v, &mut m, s), Err(None), "closed");
    assert_eq!(write(&mut v, &mut m, s, b"x"), Err(None), "closed");
    // The short write the limit let through stays.
    assert_eq!(contents(&mut v, &mut m, f, 100).len(), 64);
}

#[test]
fn a_splice_between_embedded_files_moves_what_the_destination_allows() {
    let (mut v, mut m) = setup();
    // Room for the bounce block a splice allocates (64 KiB).
    m.mem.resize(256 * 1024, 0);
    let rw = directories(&mut v, &mut m)[1].0;
    let src = open(&mut v, &mut m, rw, "packed.txt", 0, 1).unwrap();
    front::descriptor_read_via_stream(&mut v, &mut m, src, 0, RET as i32);
    let i = handle_result(&m).unwrap();
    let (f, s) = stream_on_new_file(&mut v, &mut m, "copy");
    front::output_stream_splice(&mut v, &mut m, s, i, 6, RET as i32);
    assert_eq!(count(&m), Ok(6));
    front::output_stream_splice(&mut v, &mut m, s, i, 100, RET as i32);
    assert_eq!(count(&m), Ok(0), "the last write has not settled");
    front::output_stream_blocking_splice(&mut v, &mut m, s, i, 100, RET as i32);
    assert_eq!(count(&m), Ok(6));
    front::output_stream_blocking_splice(&mut v, &mut m, s, i, 100, RET as i32);
    assert_eq!(count(&m), Err(None), "the source is at its end");
    assert_eq!(contents(&mut v, &mut m, f, 100), b"packed bytes");
}

#[test]
#[should_panic(expected = "a WASI 0.2 call the host traps on")]
fn a_write_over_an_unsettled_one_traps() {
    let (mut v, mut m) = setup();
    let (_, s) = stream_on_new_file(&mut v, &mut m, "f");
    write(&mut v, &mut m, s, b"a").unwrap();
    let _ = write(&mut v, &mut m, s, b"b");
}

#[test]
#[should_panic(expected = "a WASI 0.2 call the host traps on")]
fn a_stream_with_a_live_pollable_cannot_be_dropped() {
    let (mut v, mut m) = setup();
    let (_, s) = stream_on_new_file(&mut v, &mut m, "f");
    front::output_stream_subscribe(&mut v, &mut m, s);
    front::drop_output_stream(&mut v, &mut m, s);
}
