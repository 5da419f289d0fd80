//! Random directory trees for the generated differential tests.
//!
//! A [`TreeSpec`] is a flat list of entries (directories, files, symlinks) with paths relative to
//! the tree's root. [`tree_spec`] is its proptest strategy: trees several levels deep, wide
//! directories, empty and large files with sizes around the 4 KiB and 64 KiB boundaries, non-ASCII
//! names, symlinks to files and directories, dangling and looping links. Every link stays inside the
//! tree (the packer refuses the others).
//!
//! The text form ([`TreeSpec::to_text`], [`TreeSpec::parse`]) is what a failing case prints and
//! what the regression cases under `tests/divergence-cases/` store.
//!
//! ## Listing order
//!
//! A runtime lists a host directory in the file system's order; the packed tree lists names in
//! byte order (a documented difference). So that `fd_readdir` with small buffers and resumed
//! cookies can be compared byte for byte, [`build`] writes each directory's entries in the order
//! that makes the host list them sorted, on a file system whose listing follows creation order
//! (tmpfs does; ext4 hashes names). It checks the result and fails clearly if it cannot arrange it.

use crate::trees::{pattern, Tree};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One entry of a generated tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A file of `len` bytes of [`pattern`]`(seed, len)`.
    File {
        /// Length in bytes.
        len: u64,
        /// Content seed.
        seed: u64,
    },
    /// A symbolic link with this (relative) target.
    Link(String),
}

/// A generated tree: `(relative path, kind)`, parents before children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeSpec {
    /// The entries, parents before their children.
    pub entries: Vec<(String, Kind)>,
}

/// File sizes worth hitting: empty, tiny, and around the 4 KiB and 64 KiB boundaries.
pub const SIZES: &[u64] = &[
    0, 1, 13, 4095, 4096, 4097, 8191, 8192, 65535, 65536, 65537, 131071, 131072, 131073,
];

/// Name fragments: ASCII, spaces, dots, upper case (sorts before lower), non-ASCII of 2, 3 and
/// 4 bytes per character, and a long name.
const NAMES: &[&str] = &[
    "a",
    "b.txt",
    "Zed",
    "file-1",
    "with space",
    ".hidden",
    "café",
    "日本語",
    "emoji-🎉",
    "straße.md",
    "a.b.c",
    "x",
    "long-name-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-end",
    "ünïcödé",
    "_",
    "9",
];

/// The raw choices a tree is built from: indexes are taken modulo what exists when they apply, so
/// every combination is a valid tree and shrinking stays valid.
#[derive(Clone, Debug)]
struct Choices {
    dirs: Vec<(usize, usize)>,
    files: Vec<(usize, usize, u64, u64)>,
    links: Vec<(usize, usize, LinkChoice)>,
    wide: Option<(usize, usize)>,
}

#[derive(Clone, Debug)]
enum LinkChoice {
    /// To an existing entry (index modulo the entries).
    Entry(usize),
    /// To a name that does not exist.
    Dangling,
    /// To itself.
    SelfLoop,
    /// A two-link loop (the second link is made too).
    Loop,
    /// To the directory's parent (`..`), or `.` at the root.
    Parent,
}

fn link_choice() -> impl Strategy<Value = LinkChoice> {
    prop_oneof![
        4 => any::<usize>().prop_map(LinkChoice::Entry),
        1 => Just(LinkChoice::Dangling),
        1 => Just(LinkChoice::SelfLoop),
        1 => Just(LinkChoice::Loop),
        1 => Just(LinkChoice::Parent),
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => prop::sample::select(SIZES),
        1 => 0u64..200_000,
    ]
}

/// The proptest strategy for random trees.
pub fn tree_spec() -> impl Strategy<Value = TreeSpec> {
    let dirs = prop::collection::vec((any::<usize>(), any::<usize>()), 0..8);
    let files = prop::collection::vec(
        (any::<usize>(), any::<usize>(), size(), any::<u64>()),
        0..12,
    );
    let links = prop::collection::vec((any::<usize>(), any::<usize>(), link_choice()), 0..6);
    let wide = prop::option::weighted(0.25, (any::<usize>(), 20usize..300));
    (dirs, files, links, wide).prop_map(|(dirs, files, links, wide)| {
        resolve(&Choices {
            dirs,
            files,
            links,
            wide,
        })
    })
}

fn resolve(c: &Choices) -> TreeSpec {
    let mut t = TreeSpec::default();
    let mut dirs = vec![String::new()];
    let mut taken = std::collections::BTreeSet::new();
    let join = |dir: &str, name: &str| {
        if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        }
    };
    for &(parent, name) in &c.dirs {
        let p = join(&dirs[parent % dirs.len()], NAMES[name % NAMES.len()]);
        if taken.insert(p.clone()) {
            t.entries.push((p.clone(), Kind::Dir));
            dirs.push(p);
        }
    }
    for &(dir, name, len, seed) in &c.files {
        let p = join(&dirs[dir % dirs.len()], NAMES[name % NAMES.len()]);
        if taken.insert(p.clone()) {
            t.entries.push((p, Kind::File { len, seed }));
        }
    }
    if let Some((dir, count)) = c.wide {
        let base = join(&dirs[dir % dirs.len()], "wide");
        if taken.insert(base.clone()) {
            t.entries.push((base.clone(), Kind::Dir));
            for i in 0..count {
                // Names of varying length so small readdir buffers split entries at many offsets.
                let p = format!("{base}/w{i:04}{}", "-".repeat(i % 5));
                t.entries.push((
                    p,
                    Kind::File {
                        len: (i % 3) as u64,
                        seed: i as u64,
                    },
                ));
            }
        }
    }
    for &(dir, name, ref choice) in &c.links {
        let d = dirs[dir % dirs.len()].clone();
        let p = join(&d, NAMES[name % NAMES.len()]);
        if taken.contains(&p) {
            continue;
        }
        let base = p.rsplit('/').next().unwrap_or(&p).to_string();
        let target = match choice {
            LinkChoice::Entry(i) if !t.entries.is_empty() => {
                relative(&d, &t.entries[i % t.entries.len()].0)
            }
            LinkChoice::Entry(_) | LinkChoice::Dangling => "missing-target".to_string(),
            LinkChoice::SelfLoop => base.clone(),
            LinkChoice::Parent if d.is_empty() => ".".to_string(),
            LinkChoice::Parent => "..".to_string(),
            LinkChoice::Loop => {
                let other = join(&d, &format!("{base}.loop"));
                if !taken.insert(other.clone()) {
                    continue;
                }
                t.entries.push((other, Kind::Link(base.clone())));
                format!("{base}.loop")
            }
        };
        taken.insert(p.clone());
        t.entries.push((p, Kind::Link(target)));
    }
    t
}

/// The relative path from directory `from` to entry `to` (both relative to the root).
fn relative(from: &str, to: &str) -> String {
    let f: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let t: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; f.len() - common];
    parts.extend_from_slice(&t[common..]);
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

impl TreeSpec {
    /// Every path of the tree, directories included, root excluded.
    pub fn paths(&self) -> Vec<&str> {
        self.entries.iter().map(|(p, _)| p.as_str()).collect()
    }

    /// The paths of the regular files.
    pub fn files(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(_, k)| matches!(k, Kind::File { .. }))
            .map(|(p, _)| p.as_str())
            .collect()
    }

    /// One line per entry: `d PATH`, `f PATH LEN SEED`, `l PATH -> TARGET`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (p, k) in &self.entries {
            match k {
                Kind::Dir => s += &format!("d {p}\n"),
                Kind::File { len, seed } => s += &format!("f {p} {len} {seed}\n"),
                Kind::Link(t) => s += &format!("l {p} -> {t}\n"),
            }
        }
        s
    }

    /// Parses [`TreeSpec::to_text`]'s form; the error names the bad line.
    pub fn parse(text: &str) -> Result<TreeSpec, String> {
        let mut t = TreeSpec::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let bad = || format!("bad tree line {line:?}");
            let (tag, rest) = line.split_once(' ').ok_or_else(bad)?;
            let entry = match tag {
                "d" => (rest.to_string(), Kind::Dir),
                "f" => {
                    let mut it = rest.rsplitn(3, ' ');
                    let seed = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                    let len = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                    (
                        it.next().ok_or_else(bad)?.to_string(),
                        Kind::File { len, seed },
                    )
                }
                "l" => {
                    let (p, target) = rest.split_once(" -> ").ok_or_else(bad)?;
                    (p.to_string(), Kind::Link(target.to_string()))
                }
                _ => return Err(bad()),
            };
            t.entries.push(entry);
        }
        Ok(t)
    }
}

/// How a directory lists entries relative to the order they were created in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Creation,
    ReverseCreation,
}

/// Where ordered trees go: `$WASIVFS_TEST_ORDERED_TMPDIR`, else `/dev/shm` (tmpfs on Linux), else
/// the system temporary directory; and how that file system orders listings.
fn ordered_base() -> Result<(PathBuf, Order), String> {
    static BASE: OnceLock<Result<(PathBuf, Order), String>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut candidates = Vec::new();
        if let Some(d) = std::env::var_os("WASIVFS_TEST_ORDERED_TMPDIR") {
            candidates.push(PathBuf::from(d));
        } else {
            candidates.push(PathBuf::from("/dev/shm"));
            candidates.push(std::env::temp_dir());
        }
        for c in &candidates {
            if let Ok(Some(order)) = probe_order(c) {
                return Ok((c.clone(), order));
            }
        }
        Err(format!(
            "none of {candidates:?} lists directory entries in creation order (tmpfs does); \
             set WASIVFS_TEST_ORDERED_TMPDIR to a directory on tmpfs"
        ))
    })
    .clone()
}

fn probe_order(base: &Path) -> io::Result<Option<Order>> {
    let d = tempfile::Builder::new()
        .prefix("wasivfs-order")
        .tempdir_in(base)?;
    let names: Vec<String> = (0..12).map(|i| format!("n{}", (i * 7) % 12)).collect();
    for n in &names {
        fs::write(d.path().join(n), b"")?;
    }
    let listed = list(d.path())?;
    let mut rev = names.clone();
    rev.reverse();
    Ok(if listed == names {
        Some(Order::Creation)
    } else if listed == rev {
        Some(Order::ReverseCreation)
    } else {
        None
    })
}

fn list(dir: &Path) -> io::Result<Vec<String>> {
    fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect()
}

/// Writes `spec` into a fresh directory that lists every directory's entries in byte order of
/// their names (see the module docs). Errors say why.
pub fn build(spec: &TreeSpec) -> Result<Tree, String> {
    let (base, order) = ordered_base()?;
    let tree = Tree::empty_in(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    // Children of each directory, in the order to create them.
    let mut children: BTreeMap<&str, Vec<(&str, &Kind)>> = BTreeMap::new();
    children.insert("", Vec::new());
    for (p, k) in &spec.entries {
        let parent = p.rsplit_once('/').map_or("", |(d, _)| d);
        children.entry(parent).or_default().push((p, k));
        if *k == Kind::Dir {
            children.entry(p).or_default();
        }
    }
    for kids in children.values_mut() {
        kids.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        if order == Order::ReverseCreation {
            kids.reverse();
        }
    }
    // Parents sort before their children in a BTreeMap of paths, so each directory exists before
    // its entries are made.
    let io = |p: &str, e: io::Error| format!("{p}: {e}");
    for kids in children.values() {
        for (p, k) in kids {
            let host = tree.join(p);
            match k {
                Kind::Dir => fs::create_dir(&host).map_err(|e| io(p, e))?,
                Kind::File { len, seed } => {
                    fs::write(&host, pattern(*seed, *len as usize)).map_err(|e| io(p, e))?
                }
                Kind::Link(t) => std::os::unix::fs::symlink(t, &host).map_err(|e| io(p, e))?,
            }
        }
    }
    for dir in children.keys() {
        let listed = list(&tree.join(dir)).map_err(|e| io(dir, e))?;
        let mut sorted = listed.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        if listed != sorted {
            return Err(format!(
                "{}: the host lists {dir:?} as {listed:?}, not in name order",
                base.display()
            ));
        }
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative("", "a/b"), "a/b");
        assert_eq!(relative("a", "a/b"), "b");
        assert_eq!(relative("a/c", "a/b"), "../b");
        assert_eq!(relative("a", "a"), ".");
        assert_eq!(relative("x/y", "z"), "../../z");
    }

    #[test]
    fn text_round_trip() {
        let t = TreeSpec {
            entries: vec![
                ("d x".into(), Kind::Dir),
                ("d x/f 1".into(), Kind::File { len: 4096, seed: 9 }),
                ("l".into(), Kind::Link("d x/f 1".into())),
            ],
        };
        assert_eq!(TreeSpec::parse(&t.to_text()).unwrap(), t);
    }
}
