//! Test trees, generated at test time into temporary directories.
//!
//! Every tree is built from code so that nothing large (or with odd names) is committed, and every
//! byte is deterministic so expected outputs never depend on the run.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A generated tree; removed when dropped.
pub struct Tree {
    dir: TempDir,
}

impl Tree {
    /// An empty tree in a fresh temporary directory.
    pub fn empty() -> io::Result<Tree> {
        Ok(Tree {
            dir: tempfile::Builder::new().prefix("wasivfs-tree").tempdir()?,
        })
    }

    /// An empty tree in a fresh temporary directory under `base`.
    pub fn empty_in(base: &Path) -> io::Result<Tree> {
        Ok(Tree {
            dir: tempfile::Builder::new()
                .prefix("wasivfs-tree")
                .tempdir_in(base)?,
        })
    }

    /// The tree's root on the host.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Host path of `rel` inside the tree.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating parent directories).
    pub fn file(&self, rel: &str, contents: &[u8]) -> io::Result<&Self> {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(p, contents)?;
        Ok(self)
    }

    /// Creates a directory (and its parents).
    pub fn dir(&self, rel: &str) -> io::Result<&Self> {
        fs::create_dir_all(self.join(rel))?;
        Ok(self)
    }

    /// Creates a symbolic link `rel` pointing at `target` (stored verbatim).
    pub fn symlink(&self, target: &str, rel: &str) -> io::Result<&Self> {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(target, p)?;
        Ok(self)
    }
}

/// Deterministic pseudo-random bytes (a 64-bit LCG; seed picks the stream).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while out.len() < len {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.extend_from_slice(&x.to_le_bytes()[..(len - out.len()).min(8)]);
    }
    out
}

/// Writes `len` deterministic bytes to `path` in chunks, without holding them all in memory.
pub fn write_pattern_file(path: &Path, seed: u64, len: u64) -> io::Result<()> {
    let mut f = io::BufWriter::new(fs::File::create(path)?);
    let chunk = pattern(seed, len.min(1 << 20) as usize);
    let mut left = len;
    let mut round = 0u8;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        // Vary each chunk a little so equal-content shortcuts cannot hide a bug.
        let mut c = chunk[..n].to_vec();
        c[0] = round;
        f.write_all(&c)?;
        left -= n as u64;
        round = round.wrapping_add(1);
    }
    f.flush()
}

/// The standard small tree every differential test uses:
///
/// ```text
/// hello.txt            "hello, world\n"
/// empty                0 bytes
/// data.bin             300,000 pseudo-random bytes (crosses 64 KiB boundaries)
/// with space.txt
/// café.txt             non-ASCII name
/// 日本語/ファイル.txt
/// emoji-🎉.txt
/// emptydir/
/// sub/a.txt            same bytes as hello.txt (deduplicated in the image)
/// sub/b.txt
/// sub/nested/deep/file.txt
/// sub/up -> ../hello.txt
/// link_file -> hello.txt
/// link_dir -> sub
/// link_chain -> link_file
/// link_deep -> sub/nested/deep/file.txt
/// ```
pub fn standard() -> io::Result<Tree> {
    let t = Tree::empty()?;
    t.file("hello.txt", b"hello, world\n")?
        .file("empty", b"")?
        .file("data.bin", &pattern(1, 300_000))?
        .file("with space.txt", b"spaces in the name\n")?
        .file("café.txt", "crème brûlée\n".as_bytes())?
        .file("日本語/ファイル.txt", "こんにちは\n".as_bytes())?
        .file("emoji-🎉.txt", b"party\n")?
        .dir("emptydir")?
        .file("sub/a.txt", b"hello, world\n")?
        .file("sub/b.txt", b"bee\n")?
        .file("sub/nested/deep/file.txt", b"deep inside\n")?
        .symlink("../hello.txt", "sub/up")?
        .symlink("hello.txt", "link_file")?
        .symlink("sub", "link_dir")?
        .symlink("link_file", "link_chain")?
        .symlink("sub/nested/deep/file.txt", "link_deep")?;
    Ok(t)
}

/// Size of the large file in [`big`]: just over 64 MiB.
pub const BIG_FILE_LEN: u64 = (64 << 20) + 12_345;
/// Number of entries of the wide directory in [`big`].
pub const WIDE_DIR_ENTRIES: usize = 10_000;

/// A tree with one file over 64 MiB (`huge.bin`) and one directory of 10,000 files (`wide/`).
pub fn big() -> io::Result<Tree> {
    let t = Tree::empty()?;
    write_pattern_file(&t.join("huge.bin"), 7, BIG_FILE_LEN)?;
    t.dir("wide")?;
    for i in 0..WIDE_DIR_ENTRIES {
        // Names of varying length so tiny readdir buffers split entries at many offsets.
        let name = format!("entry-{i:05}-{}", "x".repeat(i % 7));
        fs::write(t.join("wide").join(name), format!("{i}\n"))?;
    }
    Ok(t)
}

/// A tree of `files` files totalling about `total_bytes`, spread over nested directories (for the
/// benchmarks: 6,000 files / 140 MB mimics an interpreter's standard library).
///
/// `files.txt` at the root lists every other file, one relative path per line.
pub fn bulk(files: usize, total_bytes: u64) -> io::Result<Tree> {
    let per = (total_bytes / files.max(1) as u64).max(1);
    // Sizes vary between 0.5x and 1.5x the mean so the tree is not uniform.
    bulk_with(files, |i| per / 2 + (i * 7_919) % per, write_pattern_file)
}

/// [`bulk`]'s layout with every file empty: a walk of it costs only the calls, no bytes (for the
/// benchmarks' per-call figures).
pub fn bulk_empty(files: usize) -> io::Result<Tree> {
    bulk_with(files, |_| 0, write_pattern_file)
}

/// [`bulk`]'s layout with sparse files ([`write_sparse_file`]), sizes spread evenly from 0.5x to
/// 1.5x the mean (all different unless `files` is a multiple of 7,919), so the total is close to
/// `total_bytes` however large the files: a tree of gigabytes that takes almost no disk space
/// and is quick to make.
pub fn sparse_bulk(files: usize, total_bytes: u64) -> io::Result<Tree> {
    let n = files.max(1) as u64;
    let per = (total_bytes / n).max(1);
    let len = |i: u64| per / 2 + per * ((i * 7_919) % n) / n;
    bulk_with(files, len, write_sparse_file)
}

/// The layout of [`bulk`], file `i` of `len(i)` bytes written by `write(path, i, len)`.
fn bulk_with(
    files: usize,
    len: impl Fn(u64) -> u64,
    write: fn(&Path, u64, u64) -> io::Result<()>,
) -> io::Result<Tree> {
    let t = Tree::empty()?;
    let mut list = String::new();
    for i in 0..files {
        // About 30 files per directory, 20 directories per package.
        let dir = format!("pkg{:02}/mod{:02}", i / 600, (i / 30) % 20);
        fs::create_dir_all(t.join(&dir))?;
        let len = len(i as u64);
        let rel = format!("{dir}/file{i:05}.dat");
        write(&t.join(&rel), i as u64, len)?;
        list.push_str(&rel);
        list.push('\n');
    }
    fs::write(t.join("files.txt"), list)?;
    Ok(t)
}

/// `files` files of `len` bytes each, every one different ([`pattern`] with its number as the
/// seed), 1,000 to a directory (`dNNN/fNNNNNN`), listed in `files.txt`.
pub fn small_files(files: usize, len: usize) -> io::Result<Tree> {
    let t = Tree::empty()?;
    let mut list = String::new();
    for i in 0..files {
        if i % 1000 == 0 {
            fs::create_dir(t.join(format!("d{:03}", i / 1000)))?;
        }
        let rel = format!("d{:03}/f{i:06}", i / 1000);
        fs::write(t.join(&rel), pattern(i as u64, len))?;
        list.push_str(&rel);
        list.push('\n');
    }
    fs::write(t.join("files.txt"), list)?;
    Ok(t)
}

/// Writes a sparse file of `len` bytes: 16 bytes naming it (`seed` and `len`, little-endian) at
/// the start and again at the end (as far as they fit), a hole in between.
pub fn write_sparse_file(path: &Path, seed: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = fs::File::create(path)?;
    f.set_len(len)?;
    let mut mark = seed.to_le_bytes().to_vec();
    mark.extend_from_slice(&len.to_le_bytes());
    let n = (len as usize).min(mark.len());
    f.write_all_at(&mark[..n], 0)?;
    f.write_all_at(&mark[..n], len - n as u64)
}
