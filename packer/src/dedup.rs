//! Identical contents stored once. The walk does not read files: afterwards, only files whose
//! size another file shares are hashed (BLAKE3, on all cores), and those with the same bytes share
//! one stored copy. A file of a size no other file has cannot have a twin, so most large files
//! are read once in all, when they are copied into the output.

use crate::error::{PackError, Result};
use crate::walk::{Roots, Source};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Read;
use wasivfs_image::builder::ImageBuilder;

/// Makes files with identical contents share them in `builder` (contents added unhashed, in walk
/// order; the first file of each content keeps it, as if every file had been hashed in order).
pub(crate) fn share_identical(builder: &mut ImageBuilder<Source>, roots: &Roots) -> Result<()> {
    let contents = builder.contents();
    let mut by_len: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, (len, _)) in contents.iter().enumerate() {
        by_len.entry(*len).or_default().push(i);
    }
    let mut pairs = Vec::new();
    let mut todo = Vec::new();
    for (len, group) in &by_len {
        match (len, group.as_slice()) {
            (_, [_]) => {}
            // Empty files are all the same.
            (0, [first, rest @ ..]) => pairs.extend(rest.iter().map(|i| (*i, *first))),
            _ => todo.extend_from_slice(group),
        }
    }
    todo.sort_unstable();
    let digests = todo
        .par_iter()
        .map(|i| hash(roots, &contents[*i].1))
        .collect::<Result<Vec<_>>>()?;
    let mut first: HashMap<(u64, [u8; 32]), usize> = HashMap::new();
    for (i, digest) in todo.iter().zip(digests) {
        let key = (contents[*i].0, digest);
        match first.get(&key) {
            Some(keep) => pairs.push((*i, *keep)),
            None => {
                first.insert(key, *i);
            }
        }
    }
    builder.share_contents(&pairs);
    Ok(())
}

/// BLAKE3 of a file's contents; a size other than the walk's is an error naming the file.
fn hash(roots: &Roots, src: &Source) -> Result<[u8; 32]> {
    let path = || roots.host_path(src);
    let mut file = roots.open(src)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 << 10];
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
    if size != src.size {
        return Err(crate::content::changed(&path()));
    }
    Ok(*hasher.finalize().as_bytes())
}
