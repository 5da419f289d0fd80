//! The WASI 0.2 front-end over the test image: handles of embedded files are served by the core,
//! host handles go to the host untouched, and the canonical-ABI results land where they should.

use std::string::String;
use std::vec::Vec;

use wasivfs_image::Image;

use super::mock::{test_image, Mock};
use crate::p2::front;
use crate::Vfs;

pub(super) const RET: u32 = 1000;
const PATH: u32 = 2000;

fn setup() -> (Vfs<'static>, Mock) {
    let bytes: &'static [u8] = Box::leak(test_image().0.into_boxed_slice());
    (
        Vfs::new(Some(Image::parse(bytes).unwrap())),
        Mock::new(None),
    )
}

/// `get-directories`: (handle, name) of every preopen.
pub(super) fn directories(v: &mut Vfs<'_>, m: &mut Mock) -> Vec<(i32, String)> {
    front::get_directories(v, m, RET as i32);
    let (list, len) = (m.u32_at(RET), m.u32_at(RET + 4));
    (0..len)
        .map(|i| {
            let e = list + 12 * i;
            let (ptr, n) = (m.u32_at(e + 4), m.u32_at(e + 8));
            let name = String::from_utf8(m.mem[ptr as usize..(ptr + n) as usize].to_vec());
            (m.u32_at(e) as i32, name.unwrap())
        })
        .collect()
}

/// `result<own<T>, error-code>` at `RET`: the handle, or the error code.
pub(super) fn handle_result(m: &Mock) -> Result<i32, u8> {
    match m.mem[RET as usize] {
        0 => Ok(m.u32_at(RET + 4) as i32),
        _ => Err(m.mem[RET as usize + 4]),
    }
}

/// `open-at` of `path` under `dir` with descriptor flags `flags` (1 = read).
pub(super) fn open(
    v: &mut Vfs<'_>,
    m: &mut Mock,
    dir: i32,
    path: &str,
    oflags: i32,
    flags: i32,
) -> Result<i32, u8> {
    m.put(PATH, path.as_bytes());
    front::descriptor_open_at(
        v,
        m,
        dir,
        1,
        PATH as i32,
        path.len() as i32,
        oflags,
        flags,
        RET as i32,
    );
    handle_result(m)
}

/// Everything a stream gives, read `chunk` bytes at a time, until `closed`.
fn read_all(v: &mut Vfs<'_>, m: &mut Mock, stream: i32, chunk: i64) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        front::input_stream_blocking_read(v, m, stream, chunk, RET as i32);
        if m.mem[RET as usize] == 1 {
            assert_eq!(m.mem[RET as usize + 4], 1, "closed");
            return all;
        }
        let (ptr, n) = (m.u32_at(RET + 4), m.u32_at(RET + 8));
        assert!(n > 0 && n as i64 <= chunk);
        all.extend_from_slice(&m.mem[ptr as usize..(ptr + n) as usize]);
    }
}

#[test]
fn preopens_are_the_hosts_then_the_mounts() {
    let (mut v, mut m) = setup();
    let dirs = directories(&mut v, &mut m);
    let names: Vec<_> = dirs.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["/host", "/src", "/data"]);
    assert_eq!(dirs[0].0, 7, "the host's handle is passed on unchanged");
    assert!(dirs[1..].iter().all(|(h, _)| *h as u32 & 1 << 31 != 0));
}

#[test]
fn open_stat_and_read_an_embedded_file() {
    let (mut v, mut m) = setup();
    let src = directories(&mut v, &mut m)[1].0;
    let f = open(&mut v, &mut m, src, "a.txt", 0, 1).unwrap();
    front::descriptor_stat(&mut v, &mut m, f, RET as i32);
    assert_eq!(m.mem[RET as usize], 0);
    assert_eq!(m.mem[RET as usize + 8], 6, "regular-file");
    assert_eq!(m.u64_at(RET + 8 + 16), 11, "size");
    front::descriptor_read_via_stream(&mut v, &mut m, f, 6, RET as i32);
    let s = handle_result(&m).unwrap();
    assert_eq!(read_all(&mut v, &mut m, s, 2), b"world");
    front::drop_input_stream(&mut v, &mut m, s);
    // The stream outlives nothing it needs: a second one from the start reads everything.
    front::descriptor_read_via_stream(&mut v, &mut m, f, 0, RET as i32);
    let s = handle_result(&m).unwrap();
    front::drop_descriptor(&mut v, &mut m, f);
    assert_eq!(read_all(&mut v, &mut m, s, 1 << 20), b"hello world");
    // Nothing but the preopen lists reached the host (the core's start looks for preview 1
    // preopens too).
    let host: Vec<_> = m.calls.iter().map(|c| c.name).collect();
    assert_eq!(host, ["fd_prestat_get", "get-directories"]);
}

#[test]
fn errors_are_the_hosts_error_codes() {
    let (mut v, mut m) = setup();
    let src = directories(&mut v, &mut m)[1].0;
    assert_eq!(
        open(&mut v, &mut m, src, "missing", 0, 1),
        Err(20),
        "no-entry"
    );
    // Creating in a read-only mount, and opening a file as a directory.
    assert!(open(&mut v, &mut m, src, "new.txt", 1, 3).is_err());
    assert_eq!(
        open(&mut v, &mut m, src, "a.txt", 2, 1),
        Err(24),
        "not-directory"
    );
    let f = open(&mut v, &mut m, src, "a.txt", 0, 1).unwrap();
    front::descriptor_read_directory(&mut v, &mut m, f, RET as i32);
    assert_eq!(handle_result(&m), Err(24), "not-directory");
    // Writes: `not-permitted` on a file of a read-only mount, `bad-descriptor` on a directory.
    front::descriptor_write_via_stream(&mut v, &mut m, f, 0, RET as i32);
    assert_eq!(handle_result(&m), Err(31), "not-permitted");
    front::descriptor_write_via_stream(&mut v, &mut m, src, 0, RET as i32);
    assert_eq!(handle_result(&m), Err(3), "bad-descriptor");
}

#[test]
fn directory_entries_leave_out_dot_and_dot_dot() {
    let (mut v, mut m) = setup();
    let src = directories(&mut v, &mut m)[1].0;
    let sub = open(&mut v, &mut m, src, "sub", 2, 1).unwrap();
    front::descriptor_read_directory(&mut v, &mut m, sub, RET as i32);
    let s = handle_result(&m).unwrap();
    let mut names = Vec::new();
    loop {
        front::directory_entry_stream_read_directory_entry(&mut v, &mut m, s, RET as i32);
        assert_eq!(m.mem[RET as usize], 0);
        if m.mem[RET as usize + 4] == 0 {
            break;
        }
        let (ty, ptr, n) = (
            m.mem[RET as usize + 8],
            m.u32_at(RET + 12),
            m.u32_at(RET + 16),
        );
        let name = String::from_utf8(m.mem[ptr as usize..(ptr + n) as usize].to_vec()).unwrap();
        names.push((name, ty));
    }
    names.sort();
    let want = [("c.txt", 6), ("deeper", 3), ("link_parent", 5)];
    let want: Vec<_> = want.iter().map(|(n, t)| (String::from(*n), *t)).collect();
    assert_eq!(names, want);
    front::drop_directory_entry_stream(&mut v, &mut m, s);
}

#[test]
fn host_handles_go_to_the_host_and_poll_answers_at_once_with_ours() {
    let (mut v, mut m) = setup();
    let src = directories(&mut v, &mut m)[1].0;
    front::descriptor_stat(&mut v, &mut m, 7, RET as i32);
    let last = m.calls.last().unwrap();
    assert_eq!(
        (last.name, last.args.clone()),
        ("[method]descriptor.stat", vec![7, RET as i64])
    );

    let f = open(&mut v, &mut m, src, "a.txt", 0, 1).unwrap();
    front::descriptor_read_via_stream(&mut v, &mut m, f, 0, RET as i32);
    let s = handle_result(&m).unwrap();
    let ours = front::input_stream_subscribe(&mut v, &mut m, s);
    // A list of a host pollable (9) and ours: ours is ready at once, and the host's only if
    // its `ready` (which never blocks) says so; the host's `poll` is not called.
    m.put_u32(PATH, 9);
    m.put_u32(PATH + 4, ours as u32);
    for (host_ready, want) in [(0, vec![1]), (1, vec![0, 1])] {
        m.default_answer = host_ready;
        let calls = m.calls.len();
        front::poll(&mut v, &mut m, PATH as i32, 2, RET as i32);
        assert_eq!(m.calls.len(), calls + 1);
        let last = m.calls.last().unwrap();
        assert_eq!(
            (last.name, last.args.clone()),
            ("[method]pollable.ready", vec![9])
        );
        let (ptr, n) = (m.u32_at(RET), m.u32_at(RET + 4));
        let got: Vec<u32> = (0..n).map(|i| m.u32_at(ptr + 4 * i)).collect();
        assert_eq!(got, want);
    }
    m.default_answer = 0;
    // Only host pollables: the host's poll.
    front::poll(&mut v, &mut m, PATH as i32, 1, RET as i32);
    assert_eq!(m.calls.last().unwrap().name, "poll");
    assert_eq!(front::pollable_ready(&mut v, &mut m, ours), 1);
    front::drop_pollable(&mut v, &mut m, ours);
}

#[test]
#[should_panic(expected = "a WASI 0.2 call the host traps on")]
fn a_handle_never_handed_out_traps() {
    let (mut v, mut m) = setup();
    front::descriptor_stat(&mut v, &mut m, (1u32 << 31 | 5) as i32, RET as i32);
}

/// A VFS of layer 1 (packed over a module packed once) tags its handles with that layer and
/// passes the handles of layer 0 on, like the host's, to the layer beyond it.
#[test]
fn handles_of_another_layer_are_passed_on() {
    let (mut v, mut m) = setup();
    v.p2.set_layer(1);
    let src = directories(&mut v, &mut m)[1].0;
    assert_eq!(src as u32 >> 28, 0b1001, "bit 31 and layer 1");
    let layer0 = (1u32 << 31 | 3) as i32;
    front::descriptor_stat(&mut v, &mut m, layer0, RET as i32);
    let last = m.calls.last().unwrap();
    assert_eq!(
        (last.name, last.args.clone()),
        ("[method]descriptor.stat", vec![layer0 as i64, RET as i64])
    );
    let f = open(&mut v, &mut m, src, "a.txt", 0, 1).unwrap();
    front::descriptor_stat(&mut v, &mut m, f, RET as i32);
    assert_eq!(m.u64_at(RET + 8 + 16), 11, "its own are served");
}
