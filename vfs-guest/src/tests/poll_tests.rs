//! poll_oneoff across embedded and host fds.

use super::fs_tests::{open, read, setup, setup_a_txt};
use crate::wasi::*;

const SUBS: u32 = 8000;
const EVENTS: u32 = 9000;
const NEVENTS: u32 = 9900;

fn sub(m: &mut super::mock::Mock, i: u32, userdata: u64, tag: u8, fd: u32) {
    let at = SUBS + i * 48;
    m.put(at, &[0u8; 48]);
    m.put(at, &userdata.to_le_bytes());
    m.mem[(at + 8) as usize] = tag;
    m.put_u32(at + 16, fd);
}

#[test]
fn embedded_fds_answer_at_once() {
    let (mut v, mut m, a) = setup_a_txt();
    let b = open(&mut v, &mut m, "b.txt").unwrap();
    sub(&mut m, 0, 11, eventtype::CLOCK, 0);
    sub(&mut m, 1, 22, eventtype::FD_READ, a);
    sub(&mut m, 2, 33, eventtype::FD_READ, 0);
    sub(&mut m, 3, 44, eventtype::FD_READ, b);
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 4, NEVENTS as i32),
        0
    );
    assert!(
        m.calls_named("poll_oneoff").is_empty(),
        "never blocks in the host"
    );
    assert_eq!(m.u32_at(NEVENTS), 2);
    assert_eq!(m.u64_at(EVENTS), 22);
    assert_eq!(m.mem[EVENTS as usize + 10], eventtype::FD_READ);
    assert_eq!(m.u64_at(EVENTS + 16), 1);
    assert_eq!(m.mem[EVENTS as usize + 24], 0, "data left: no hangup");
    assert_eq!(m.u64_at(EVENTS + 32), 44);
    assert_eq!(m.mem[EVENTS as usize + 32 + 24], 1, "empty file: hangup");
    // Once read to the end, a file reports hangup.
    read(&mut v, &mut m, a, 100).unwrap();
    sub(&mut m, 0, 5, eventtype::FD_READ, a);
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 1, NEVENTS as i32),
        0
    );
    assert_eq!(m.mem[EVENTS as usize + 24], 1);
}

#[test]
fn embedded_errors() {
    let (mut v, mut m, a) = setup_a_txt();
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 0, NEVENTS as i32),
        EINVAL.code()
    );
    sub(&mut m, 0, 1, eventtype::FD_WRITE, a);
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 1, NEVENTS as i32),
        EPERM.code()
    );
    sub(&mut m, 0, 1, eventtype::FD_READ, 4);
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 1, NEVENTS as i32),
        EBADF.code()
    );
    sub(&mut m, 0, 1, eventtype::FD_READ, a);
    sub(&mut m, 1, 1, eventtype::FD_READ, 55);
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 2, NEVENTS as i32),
        EBADF.code()
    );
    assert_eq!(
        v.poll_oneoff(&mut m, 65500, EVENTS as i32, 1, NEVENTS as i32),
        EFAULT.code()
    );
}

#[test]
fn host_only_polls_are_translated_and_restored() {
    let (mut v, mut m) = setup();
    // Give guest fd 6 to host fd 100 (through a host path_open).
    m.put(1000, b"h");
    assert_eq!(v.path_open(&mut m, 3, 0, 1000, 1, 0, 0, 0, 0, 2000), 0);
    let g = m.u32_at(2000);
    assert_eq!(g, 6);
    sub(&mut m, 0, 1, eventtype::CLOCK, 0);
    sub(&mut m, 1, 2, eventtype::FD_READ, g);
    sub(&mut m, 2, 3, eventtype::FD_WRITE, 1);
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 3, NEVENTS as i32),
        0
    );
    let calls = m.calls_named("poll_oneoff");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].seen_fds[1..], [100, 1]);
    assert_eq!(m.u32_at(SUBS + 48 + 16), g, "array restored");
    // Unknown fds are refused without asking the host.
    sub(&mut m, 1, 2, eventtype::FD_READ, 77);
    assert_eq!(
        v.poll_oneoff(&mut m, SUBS as i32, EVENTS as i32, 3, NEVENTS as i32),
        EBADF.code()
    );
    assert_eq!(m.calls_named("poll_oneoff").len(), 1);
}
