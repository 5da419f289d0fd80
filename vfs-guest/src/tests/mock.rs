//! A mock host: an in-memory application memory plus scripted preview 1 functions that record
//! every call.

use std::collections::BTreeMap;
use std::vec::Vec;

use wasivfs_image::builder::{ImageBuilder, Limits};

use crate::host::{impl_wasi_by_dispatch, AppMemory};

/// One recorded host call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub name: &'static str,
    pub args: Vec<i64>,
    /// For `poll_oneoff`: the fd fields of the subscriptions as the host saw them.
    pub seen_fds: Vec<u32>,
}

pub struct Mock {
    pub mem: Vec<u8>,
    pub calls: Vec<Call>,
    /// Host preopens by host fd, with their names; `None` makes `fd_prestat_get` a stub (ENOSYS).
    pub preopens: Option<BTreeMap<u32, &'static str>>,
    /// The fd the host's `path_open` hands out.
    pub next_host_fd: u32,
    /// Answer of every call not scripted otherwise.
    pub default_answer: i32,
    /// The test image's content segments (what `memory.init` reads in a merged module).
    pub segments: Vec<Vec<u8>>,
    /// Nanoseconds the mock clock has advanced.
    pub clock: u64,
    /// The host's arguments and environment (`NAME=VALUE`).
    pub args: Vec<&'static str>,
    pub environ: Vec<&'static str>,
    /// The next free byte of the mock `cabi_realloc`'s heap (0: not used yet).
    pub heap: u32,
}

impl Mock {
    pub fn new(preopens: Option<&[(u32, &'static str)]>) -> Self {
        Mock {
            mem: vec![0; 65536],
            calls: Vec::new(),
            preopens: preopens.map(|p| p.iter().copied().collect()),
            next_host_fd: 100,
            default_answer: 0,
            segments: test_image().1,
            clock: 0,
            args: Vec::new(),
            environ: Vec::new(),
            heap: 0,
        }
    }

    /// A `*_sizes_get` answer for `list`: count at `args[0]`, bytes at `args[1]`.
    fn list_sizes(&mut self, list: &[&str], args: &[i64]) -> i32 {
        let bytes: usize = list.iter().map(|s| s.len() + 1).sum();
        self.put_u32(args[0] as u32, list.len() as u32);
        self.put_u32(args[1] as u32, bytes as u32);
        0
    }

    /// A `*_get` answer for `list`: pointers at `args[0]`, strings at `args[1]`.
    fn list_get(&mut self, list: &[&str], args: &[i64]) -> i32 {
        let mut at = args[1] as u32;
        for (i, s) in list.iter().enumerate() {
            self.put_u32(args[0] as u32 + 4 * i as u32, at);
            self.put(at, s.as_bytes());
            self.put(at + s.len() as u32, &[0]);
            at += s.len() as u32 + 1;
        }
        0
    }

    pub fn calls_named(&self, name: &str) -> Vec<&Call> {
        self.calls.iter().filter(|c| c.name == name).collect()
    }

    pub fn u32_at(&self, at: u32) -> u32 {
        u32::from_le_bytes(self.mem[at as usize..at as usize + 4].try_into().unwrap())
    }

    pub fn u64_at(&self, at: u32) -> u64 {
        u64::from_le_bytes(self.mem[at as usize..at as usize + 8].try_into().unwrap())
    }

    pub fn put(&mut self, at: u32, bytes: &[u8]) {
        self.mem[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }

    pub fn put_u32(&mut self, at: u32, v: u32) {
        self.put(at, &v.to_le_bytes());
    }

    fn call(&mut self, name: &'static str, args: &[i64]) -> i32 {
        let mut seen_fds = Vec::new();
        let answer = match name {
            "fd_prestat_get" => match &self.preopens {
                None => 52,
                Some(p) => match p.get(&(args[0] as u32)) {
                    Some(n) => {
                        let at = args[1] as u32;
                        let len = n.len() as u32;
                        self.put(at, &[0, 0, 0, 0]);
                        self.put_u32(at + 4, len);
                        0
                    }
                    None => 8,
                },
            },
            "args_sizes_get" => self.list_sizes(&self.args.clone(), args),
            "args_get" => self.list_get(&self.args.clone(), args),
            "environ_sizes_get" => self.list_sizes(&self.environ.clone(), args),
            "environ_get" => self.list_get(&self.environ.clone(), args),
            "path_open" => {
                let fd = self.next_host_fd;
                self.next_host_fd += 1;
                self.put_u32(args[8] as u32, fd);
                0
            }
            "poll_oneoff" => {
                for i in 0..args[2] as u32 {
                    seen_fds.push(self.u32_at(args[0] as u32 + i * 48 + 16));
                }
                self.default_answer
            }
            _ => self.default_answer,
        };
        self.calls.push(Call {
            name,
            args: args.to_vec(),
            seen_fds,
        });
        answer
    }
}

impl_wasi_by_dispatch!(Mock);

#[cfg(feature = "p2")]
impl Mock {
    /// Writes `list<string>` (or, with `pairs`, `list<tuple<string, string>>` split at the
    /// first `=`) at `ret`, in `cabi_realloc` blocks.
    fn put_p2_list(&mut self, list: &[&str], pairs: bool, ret: u32) {
        let per = if pairs { 16 } else { 8 };
        let at = self.realloc(0, 0, 4, per * list.len() as u32);
        for (i, s) in list.iter().enumerate() {
            let parts: Vec<&str> = if pairs {
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                vec![k, v]
            } else {
                vec![s]
            };
            for (j, part) in parts.iter().enumerate() {
                let p = self.realloc(0, 0, 1, part.len() as u32);
                self.put(p, part.as_bytes());
                let e = at + per * i as u32 + 8 * j as u32;
                self.put_u32(e, p);
                self.put_u32(e + 4, part.len() as u32);
            }
        }
        self.put_u32(ret, at);
        self.put_u32(ret + 4, list.len() as u32);
    }

    /// A host WASI 0.2 call: recorded (under its WIT name); `get-directories` answers one host
    /// preopen, handle 7 named `/host`; `get-arguments` and `get-environment` answer `args` and
    /// `environ`.
    fn call_p2(&mut self, name: &'static str, args: &[i64]) -> i32 {
        match name {
            "get-arguments" => self.put_p2_list(&self.args.clone(), false, args[0] as u32),
            "get-environment" => self.put_p2_list(&self.environ.clone(), true, args[0] as u32),
            _ => {}
        }
        if name == "get-directories" {
            let list = self.realloc(0, 0, 4, 12);
            let s = self.realloc(0, 0, 1, 5);
            self.put(s, b"/host");
            self.put_u32(list, 7);
            self.put_u32(list + 4, s);
            self.put_u32(list + 8, 5);
            self.put_u32(args[0] as u32, list);
            self.put_u32(args[0] as u32 + 4, 1);
        }
        self.calls.push(Call {
            name,
            args: args.to_vec(),
            seen_fds: Vec::new(),
        });
        self.default_answer
    }
}

#[cfg(feature = "p2")]
crate::p2::host::impl_p2_by_dispatch!(Mock);

/// The mock clock: every reading is one second later than the one before.
pub const CLOCK_START: u64 = 1_700_000_000_000_000_000;

impl crate::host::Clock for Mock {
    fn clock_time_get(&mut self, _id: i32, _precision: i64, out: i32) -> i32 {
        self.clock += 1_000_000_000;
        let t = CLOCK_START + self.clock;
        self.put(out as u32, &t.to_le_bytes());
        0
    }
}

impl AppMemory for Mock {
    fn app_len(&mut self) -> u64 {
        self.mem.len() as u64
    }
    fn copy_in(&mut self, dst: &mut [u8], src: u32) {
        dst.copy_from_slice(&self.mem[src as usize..src as usize + dst.len()]);
    }
    fn copy_out(&mut self, dst: u32, src: &[u8]) {
        self.put(dst, src);
    }
    fn copy_content(&mut self, dst: u32, segment: u32, offset: u32, len: u32) {
        // A real `memory.init` traps on an out-of-range segment read: so does this.
        let seg = &self.segments[segment as usize];
        let bytes = seg[offset as usize..(offset + len) as usize].to_vec();
        self.put(dst, &bytes);
    }
    fn load_u32(&mut self, addr: u32) -> u32 {
        self.u32_at(addr)
    }
    fn load_u64(&mut self, addr: u32) -> u64 {
        self.u64_at(addr)
    }
    fn store_u32(&mut self, addr: u32, v: u32) {
        self.put_u32(addr, v);
    }
    fn store_u64(&mut self, addr: u32, v: u64) {
        self.put(addr, &v.to_le_bytes());
    }
    fn realloc(&mut self, old: u32, old_size: u32, align: u32, new_size: u32) -> u32 {
        // A bump allocator in the upper half of the mock memory.
        let start = self.heap.max(32768).next_multiple_of(align.max(1));
        assert!(
            (start + new_size) as usize <= self.mem.len(),
            "mock heap exhausted"
        );
        self.heap = start + new_size;
        if old != 0 {
            let keep = old_size.min(new_size) as usize;
            let bytes = self.mem[old as usize..old as usize + keep].to_vec();
            self.put(start, &bytes);
        }
        start
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut d = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        d[i % 31] ^= b.wrapping_mul(31).wrapping_add(i as u8);
    }
    d[31] = bytes.len() as u8;
    d
}

/// The test tree:
///
/// ```text
/// /src   a.txt "hello world", b.txt "", sub/{c.txt "sea", deeper/d.txt "dee",
///        link_parent -> ../a.txt}, link_a -> a.txt, link_sub -> sub, loop1 -> loop2,
///        loop2 -> loop1, broken -> missing, link_link -> link_a, link_file_slash -> a.txt/
/// /data  x.bin "xyz"
/// ```
///
/// Returns the image and its content segments, which are only 4 bytes long so that reads cross
/// segment boundaries.
pub fn test_image() -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut b: ImageBuilder<Vec<u8>> = ImageBuilder::new();
    let src = b.add_mount("/src", 1_000).unwrap();
    let data = b.add_mount("/data", 2_000).unwrap();
    let file = |b: &mut ImageBuilder<Vec<u8>>, dir, name: &str, c: &[u8], t| {
        b.add_file(dir, name, t, c.len() as u64, digest(c), c.to_vec())
            .unwrap()
    };
    file(&mut b, src, "a.txt", b"hello world", 111);
    file(&mut b, src, "b.txt", b"", 222);
    let sub = b.add_dir(src, "sub", 333).unwrap();
    file(&mut b, sub, "c.txt", b"sea", 444);
    let deeper = b.add_dir(sub, "deeper", 555).unwrap();
    file(&mut b, deeper, "d.txt", b"dee", 666);
    b.add_symlink(sub, "link_parent", "../a.txt", 7).unwrap();
    b.add_symlink(src, "link_a", "a.txt", 8).unwrap();
    b.add_symlink(src, "link_sub", "sub", 9).unwrap();
    b.add_symlink(src, "loop1", "loop2", 10).unwrap();
    b.add_symlink(src, "loop2", "loop1", 11).unwrap();
    b.add_symlink(src, "broken", "missing", 12).unwrap();
    b.add_symlink(src, "link_link", "link_a", 13).unwrap();
    b.add_symlink(src, "escape", "../../etc", 14).unwrap();
    file(&mut b, data, "x.bin", b"xyz", 777);
    finish_in_segments(b)
}

/// Lays out a test tree with 4-byte content segments (so reads cross segment boundaries):
/// its metadata and its segments.
pub fn finish_in_segments(b: ImageBuilder<Vec<u8>>) -> (Vec<u8>, Vec<Vec<u8>>) {
    let layout = b.finish(Limits::format_max(4)).unwrap();
    let content = layout
        .content_bytes(|s: &Vec<u8>, out: &mut [u8]| -> Result<(), ()> {
            out.copy_from_slice(s);
            Ok(())
        })
        .unwrap();
    let segments = content.chunks(4).map(|c| c.to_vec()).collect();
    (layout.metadata, segments)
}
