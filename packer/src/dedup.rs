//! Identical contents stored once. The walk does not read files: afterwards, only files whose
//! size another file shares are hashed (BLAKE3, on all cores), and those with the same bytes share
//! one stored copy. A file of a size no other file has cannot have a twin, so most large files
//! are read once in all, when they are copied into the output.

use crate::error::{PackError, Result};
use crate::walk::{Roots, Source};
use rayon::prelude::*;
use std::io::Read;
use wasivfs_image::builder::ImageBuilder;

/// Makes files with identical contents share them in `builder` (contents added unhashed, in walk
/// order; the first file of each content keeps it, as if every file had been hashed in order).
pub(crate) fn share_identical(builder: &mut ImageBuilder<Source>, roots: &Roots) -> Result<()> {
    let contents = builder.contents();
    let len = |i: u32| contents[i as usize].0;
    // Content numbers by size (a few bytes each, whatever the number of distinct sizes).
    let count = u32::try_from(contents.len()).unwrap_or(u32::MAX);
    let mut by_len: Vec<u32> = (0..count).collect();
    by_len.sort_unstable_by_key(|i| (len(*i), *i));
    let mut pairs = Vec::new();
    let mut todo: Vec<u32> = Vec::new();
    for run in by_len.chunk_by(|a, b| len(*a) == len(*b)) {
        match run {
            [_] => {}
            // Empty files are all the same.
            [first, rest @ ..] if len(*first) == 0 => {
                pairs.extend(rest.iter().map(|i| (*i as usize, *first as usize)));
            }
            _ => todo.extend_from_slice(run),
        }
    }
    drop(by_len);
    // Hashed in walk order, which is the order of the files on disk more often than not.
    todo.sort_unstable();
    // Filled in place: collecting a parallel iterator would hold the digests twice.
    let mut digests = vec![[0u8; 32]; todo.len()];
    digests
        .par_iter_mut()
        .zip(todo.par_iter())
        .with_min_len(16)
        .try_for_each(|(digest, i)| {
            *digest = hash(roots, &contents[*i as usize].1, len(*i))?;
            Ok::<_, PackError>(())
        })?;
    // Runs of equal (size, digest); within a run the first content in walk order is kept.
    let key = |p: u32| {
        (
            len(todo[p as usize]),
            &digests[p as usize],
            todo[p as usize],
        )
    };
    let mut same: Vec<u32> = (0..todo.len() as u32).collect();
    same.sort_unstable_by(|a, b| key(*a).cmp(&key(*b)));
    for run in same.chunk_by(|a, b| key(*a).0 == key(*b).0 && key(*a).1 == key(*b).1) {
        let keep = todo[run[0] as usize] as usize;
        pairs.extend(run[1..].iter().map(|p| (todo[*p as usize] as usize, keep)));
    }
    builder.share_contents(&pairs);
    Ok(())
}

/// BLAKE3 of a file's contents; a size other than `len` (the walk's) is an error naming the file.
fn hash(roots: &Roots, src: &Source, len: u64) -> Result<[u8; 32]> {
    let path = || roots.host_path(src);
    let mut file = roots.open(src)?;
    let mut hasher = blake3::Hasher::new();
    // No bigger than the file: a tree of many small files hashes them on every core at once.
    let mut buf = vec![0u8; (len as usize).clamp(1, 64 << 10)];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PackError::io(path(), e)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    if size != len {
        return Err(crate::content::changed(&path()));
    }
    Ok(*hasher.finalize().as_bytes())
}
