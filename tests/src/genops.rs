//! Random sequences of WASI preview 1 calls for `fixtures/ops-guest`.
//!
//! An [`Op`] holds *choices* (indexes into the tree's paths, into the handles opened so far, into
//! tables of interesting sizes); [`encode`] turns a sequence into the guest's input lines for one
//! tree, so every combination is a valid input and shrinking keeps it valid. The lines are also the
//! text form a failing case prints (see `fixtures/ops-guest/src/main.rs` for their meaning).

use crate::gentree::TreeSpec;
use proptest::prelude::*;

/// `oflags` bits: CREAT, DIRECTORY, EXCL, TRUNC.
const OFLAGS: u32 = 0xf;
/// `fdflags` bits: APPEND, DSYNC, NONBLOCK, RSYNC, SYNC.
const FDFLAGS: u32 = 0x1f;
/// Every preview 1 right (bits 0 to 28).
const ALL_RIGHTS: u64 = (1 << 29) - 1;
/// FD_READ | FD_SEEK | FD_TELL | FD_FILESTAT_GET | FD_READDIR | PATH_OPEN | PATH_FILESTAT_GET |
/// PATH_READLINK: what a reader asks for.
const READ_RIGHTS: u64 =
    (1 << 1) | (1 << 2) | (1 << 5) | (1 << 21) | (1 << 14) | (1 << 13) | (1 << 18) | (1 << 15);

/// Read buffer lengths worth hitting.
const IOV_LENS: &[u32] = &[0, 1, 7, 24, 4095, 4096, 4097, 65535, 65536, 65537];
/// `fd_readdir` buffer lengths: nothing, less than a header, a header, a header and a short name,
/// a few entries, many.
const DIRBUF_LENS: &[u32] = &[0, 1, 8, 23, 24, 25, 30, 40, 64, 100, 256, 4096, 65536];
/// `path_readlink` buffer lengths.
const LINKBUF_LENS: &[u32] = &[0, 1, 3, 8, 64, 4096];

/// A path choice: which tree path (or a fixed odd path) and how to spell it.
#[derive(Clone, Debug)]
pub struct PathSel {
    /// One of [`ODD_PATHS`] rather than of the tree's paths.
    pub odd: bool,
    /// Index into the tree's paths or [`ODD_PATHS`] (modulo their number).
    pub index: usize,
    /// Spelling: plain, trailing `/`, trailing `/.`, `./` prefix, through `x/..`, a missing child.
    pub variant: u8,
}

/// Paths that exist in no tree or say something on their own.
pub const ODD_PATHS: &[&str] = &[
    "",
    ".",
    "..",
    "./",
    "missing",
    "missing/x",
    "../x",
    "/",
    "/t",
    "/t/x",
    "a//b",
    ".//.",
    "..//t",
];

/// A generated `path_open`.
#[derive(Clone, Debug)]
pub struct Open {
    /// The directory handle choice (see [`encode`]).
    pub dir: usize,
    /// The path choice.
    pub path: PathSel,
    /// Whether symlinks are followed (LOOKUP_SYMLINK_FOLLOW).
    pub follow: bool,
    /// `oflags`.
    pub oflags: u32,
    /// Base rights.
    pub rights: u64,
    /// Inheriting rights.
    pub inheriting: u64,
    /// `fdflags`.
    pub fdflags: u32,
}

impl Open {
    /// The guest's `open` line, with `dir` the handle already chosen for [`Open::dir`].
    fn line(&self, tree: &TreeSpec, dir: usize) -> String {
        format!(
            "open {dir} {} {} {} {} {} {}",
            u8::from(self.follow),
            self.oflags,
            self.rights,
            self.inheriting,
            self.fdflags,
            hex(&spell(tree, &self.path))
        )
    }
}

/// One generated call.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum Op {
    Open(Open),
    /// Repeats an earlier `open` (the index is taken modulo the opens so far).
    Reopen(usize),
    Close(usize),
    Read {
        h: usize,
        iovs: Vec<u32>,
    },
    Pread {
        h: usize,
        offset: u64,
        iovs: Vec<u32>,
    },
    Seek {
        h: usize,
        offset: i64,
        whence: u32,
    },
    Tell(usize),
    Readdir {
        h: usize,
        buf: u32,
        cookie: Option<u64>,
    },
    Stat {
        dir: usize,
        path: PathSel,
        follow: bool,
    },
    Fstat(usize),
    Fdstat(usize),
    Readlink {
        dir: usize,
        path: PathSel,
        buf: u32,
    },
    Renumber {
        from: usize,
        to: usize,
    },
    RenumberTo {
        from: usize,
        to: u32,
    },
    Prestat(usize),
}

fn path_sel() -> impl Strategy<Value = PathSel> {
    (
        prop::bool::weighted(0.15),
        any::<usize>(),
        prop_oneof![6 => Just(0u8), 1 => 1u8..6],
    )
        .prop_map(|(odd, index, variant)| PathSel {
            odd,
            index,
            variant,
        })
}

fn iovs() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(
        prop_oneof![3 => prop::sample::select(IOV_LENS), 1 => 0u32..70_000],
        0..4,
    )
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => prop::sample::select(&[0u64, 1, 4095, 4096, 4097, 65535, 65536, 65537, 131072, 1 << 40][..]),
        1 => 0u64..200_000,
        1 => Just(u64::MAX),
    ]
}

fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => prop::sample::select(&[0i64, 1, -1, 4096, -4096, 65536, -65536, 1 << 40][..]),
        1 => -200_000i64..200_000,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ]
}

fn rights() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(ALL_RIGHTS),
        6 => Just(READ_RIGHTS),
        1 => Just(0u64),
        1 => any::<u64>().prop_map(|r| r & ALL_RIGHTS),
    ]
}

/// A random `path_open`.
pub fn open() -> impl Strategy<Value = Op> {
    (
        0usize..16,
        path_sel(),
        any::<bool>(),
        prop_oneof![8 => Just(0u32), 2 => Just(2u32), 1 => 0..=OFLAGS],
        rights(),
        rights(),
        prop_oneof![6 => Just(0u32), 1 => 0..=FDFLAGS],
    )
        .prop_map(|(dir, path, follow, oflags, rights, inheriting, fdflags)| {
            Op::Open(Open {
                dir,
                path,
                follow,
                oflags,
                rights,
                inheriting,
                fdflags,
            })
        })
}

/// One random call.
pub fn op() -> impl Strategy<Value = Op> {
    let h = || 0usize..16;
    prop_oneof![
        8 => open(),
        1 => any::<usize>().prop_map(Op::Reopen),
        2 => h().prop_map(Op::Close),
        5 => (h(), iovs()).prop_map(|(h, iovs)| Op::Read { h, iovs }),
        3 => (h(), offset(), iovs()).prop_map(|(h, offset, iovs)| Op::Pread { h, offset, iovs }),
        // SET, CUR, END. An invalid whence traps in wasmtime (its bindings reject the value) and
        // answers EINVAL packed: a documented difference, tested on its own.
        4 => (h(), delta(), 0u32..3)
            .prop_map(|(h, offset, whence)| Op::Seek { h, offset, whence }),
        1 => h().prop_map(Op::Tell),
        5 => (h(), prop_oneof![3 => prop::sample::select(DIRBUF_LENS), 1 => 0u32..600],
              prop_oneof![3 => Just(None), 1 => (0u64..8).prop_map(Some),
                          1 => Just(Some(u64::MAX)), 1 => (0u64..400).prop_map(Some)])
            .prop_map(|(h, buf, cookie)| Op::Readdir { h, buf, cookie }),
        4 => (h(), path_sel(), any::<bool>())
            .prop_map(|(dir, path, follow)| Op::Stat { dir, path, follow }),
        2 => h().prop_map(Op::Fstat),
        2 => h().prop_map(Op::Fdstat),
        2 => (h(), path_sel(), prop::sample::select(LINKBUF_LENS))
            .prop_map(|(dir, path, buf)| Op::Readlink { dir, path, buf }),
        1 => (h(), h()).prop_map(|(from, to)| Op::Renumber { from, to }),
        1 => (h(), 1000u32..1004).prop_map(|(from, to)| Op::RenumberTo { from, to }),
        1 => h().prop_map(Op::Prestat),
    ]
}

/// A sequence of calls: a few opens first (so most calls have something to work on), then any.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(open(), 0..4),
        prop::collection::vec(op(), 1..40),
    )
        .prop_map(|(mut first, rest)| {
            first.extend(rest);
            first
        })
}

fn hex(s: &str) -> String {
    if s.is_empty() {
        return "-".to_string();
    }
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn spell(tree: &TreeSpec, sel: &PathSel) -> String {
    let paths = tree.paths();
    let files = tree.files();
    // Half the choices are regular files, so reads have something to read.
    let p = if sel.odd || paths.is_empty() {
        ODD_PATHS[sel.index % ODD_PATHS.len()]
    } else if sel.index.is_multiple_of(2) && !files.is_empty() {
        files[(sel.index / 2) % files.len()]
    } else {
        paths[(sel.index / 2) % paths.len()]
    };
    match sel.variant {
        1 => format!("{p}/"),
        2 => format!("{p}/."),
        3 => format!("./{p}"),
        4 => match p.rsplit_once('/') {
            Some((d, f)) => format!("{d}/../{d}/{f}"),
            None => format!("{p}/../{p}"),
        },
        5 => format!("{p}/missing"),
        _ => p.to_string(),
    }
}

/// Picks one of the `n` handles that exist (the preopen plus one per `open` so far): even choices
/// one of the three newest, odd ones any.
fn pick(choice: usize, n: usize) -> usize {
    if choice.is_multiple_of(2) {
        n - 1 - (choice / 2) % n.min(3)
    } else {
        (choice / 2) % n
    }
}

/// The guest's input lines for `ops` over `tree`. Handle choices become handles that exist at that
/// point (see [`pick`]), so most calls reach an open descriptor.
pub fn encode(tree: &TreeSpec, ops: &[Op]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut opens: Vec<String> = Vec::new();
    for op in ops {
        let n = opens.len() + 1;
        let hs = |h: &usize| pick(*h, n);
        // Directory arguments: the preopen three times out of four.
        let ds = |d: &usize| {
            if !d.is_multiple_of(4) {
                0
            } else {
                pick(d / 4, n)
            }
        };
        // What is closed or moved away: not the preopen (every later path call would fail),
        // except through a renumber onto it.
        let cs = |h: &usize| if n > 1 { 1 + pick(*h, n - 1) } else { 1 };
        let line = match op {
            Op::Open(open) => {
                let line = open.line(tree, ds(&open.dir));
                opens.push(line.clone());
                line
            }
            Op::Reopen(i) if !opens.is_empty() => {
                let line = opens[i % opens.len()].clone();
                opens.push(line.clone());
                line
            }
            Op::Reopen(_) => "tell 0".to_string(),
            Op::Close(h) => format!("close {}", cs(h)),
            Op::Read { h, iovs } => format!("read {} {}", hs(h), shape(iovs)),
            Op::Pread { h, offset, iovs } => format!("pread {} {offset} {}", hs(h), shape(iovs)),
            Op::Seek { h, offset, whence } => format!("seek {} {offset} {whence}", hs(h)),
            Op::Tell(h) => format!("tell {}", hs(h)),
            Op::Readdir { h, buf, cookie } => format!(
                "readdir {} {buf} {}",
                hs(h),
                cookie.map_or("last".to_string(), |c| c.to_string())
            ),
            Op::Stat { dir, path, follow } => format!(
                "stat {} {} {}",
                ds(dir),
                u8::from(*follow),
                hex(&spell(tree, path))
            ),
            Op::Fstat(h) => format!("fstat {}", hs(h)),
            Op::Fdstat(h) => format!("fdstat {}", hs(h)),
            Op::Readlink { dir, path, buf } => {
                format!("readlink {} {buf} {}", ds(dir), hex(&spell(tree, path)))
            }
            Op::Renumber { from, to } => format!("renumber {} {}", cs(from), hs(to)),
            Op::RenumberTo { from, to } => format!("renumberto {} {to}", cs(from)),
            Op::Prestat(h) => format!("prestat {}", hs(h)),
        };
        lines.push(line);
    }
    lines
}

fn shape(iovs: &[u32]) -> String {
    if iovs.is_empty() {
        return "-".to_string();
    }
    iovs.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
