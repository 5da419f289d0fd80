//! [`ImageBuilder::finish`]: numbering the tree and encoding it as image bytes.
//!
//! The image is written straight into its final buffer: the only other memory the layout takes
//! is a few 32-bit numbers per entry (inode numbers, parents, the dirent order), so that a tree of
//! millions of entries lays out in little more than its image's size.

use super::{Blob, BuildError, Child, ImageBuilder, Layout, Limits, NodeId, Stats};
use crate::{Kind, DIRENT_LEN, HEADER_LEN, INODE_LEN, MAGIC, MOUNT_LEN, VERSION};
use std::collections::VecDeque;

/// The tree numbered breadth-first: inode `i` is node `order[i]`, its parent is inode
/// `parent_of[i]`, and directory number `d` holds the dirents `dir_run[d]` (first, count).
struct Numbered {
    order: Vec<NodeId>,
    parent_of: Vec<u32>,
    dir_run: Vec<(u32, u32)>,
    /// Every directory entry, in dirent order (dirent `k` is inode `mounts + k`).
    dirents: Vec<Child>,
}

impl<S> ImageBuilder<S> {
    /// Lays the tree out within `limits`.
    ///
    /// Inodes are numbered breadth-first from the mount roots, every directory's entries in byte
    /// order of their names; contents are stored in the order of the first file using them.
    pub fn finish(mut self, limits: Limits) -> Result<Layout<S>, BuildError> {
        if limits.segment_len == 0 {
            return Err(BuildError::ZeroSegmentLength);
        }
        self.sort_entries()?;
        let numbered = self.number();
        // The entry lists are in `numbered.dirents` now.
        drop(std::mem::take(&mut self.dirs));

        // Where each content goes: in the order of the first file (by inode) using it.
        let mut blob_pos = vec![u64::MAX; self.blobs.len()];
        let mut blob_order: Vec<u32> = Vec::new();
        let mut stats = Stats::default();
        let mut data_len: u64 = 0;
        let mut targets_len: u64 = 0;
        for node in &numbered.order {
            let n = self.nodes[*node as usize];
            match n.kind {
                Kind::Directory => stats.dirs += 1,
                Kind::File => {
                    let len = self.blobs[n.a as usize].0;
                    stats.files += 1;
                    stats.file_bytes += len;
                    if blob_pos[n.a as usize] == u64::MAX {
                        blob_pos[n.a as usize] = data_len;
                        blob_order.push(n.a);
                        data_len += len;
                    }
                }
                Kind::Symlink => {
                    stats.symlinks += 1;
                    targets_len += u64::from(n.b);
                }
            }
        }
        stats.stored_bytes = data_len;

        // Strings: mount paths, then entry names in dirent order, then link targets in inode order.
        let mounts_strings: u64 = self.mounts.iter().map(|(p, _)| p.len() as u64).sum();
        let names_len: u64 = numbered.dirents.iter().map(|c| u64::from(c.name_len)).sum();
        let strings_len = mounts_strings + names_len + targets_len;
        let mounts_off = HEADER_LEN as u64;
        let inodes_off = mounts_off + (self.mounts.len() * MOUNT_LEN) as u64;
        let dirents_off = inodes_off + (numbered.order.len() * INODE_LEN) as u64;
        let strings_off = dirents_off + (numbered.dirents.len() * DIRENT_LEN) as u64;
        let config_off = strings_off + strings_len;
        let total = config_off + self.config.len() as u64;
        let limit = limits.metadata.min(u32::MAX as u64);
        if total > limit {
            return Err(BuildError::TooLarge { total, limit });
        }
        let content_limit = limits.content.min(u32::MAX as u64);
        if data_len > content_limit {
            return Err(BuildError::ContentTooLarge {
                total: data_len,
                limit: content_limit,
            });
        }

        // Everything below fits in u32 because total and data_len do.
        let mut m: Vec<u8> = Vec::with_capacity(total as usize);
        m.extend_from_slice(&MAGIC);
        for v in [
            VERSION,
            HEADER_LEN as u32,
            total as u32,
            self.mounts.len() as u32,
            mounts_off as u32,
            numbered.order.len() as u32,
            inodes_off as u32,
            numbered.dirents.len() as u32,
            dirents_off as u32,
            strings_off as u32,
            strings_len as u32,
            limits.segment_len,
            data_len as u32,
            if self.config.is_empty() {
                0
            } else {
                config_off as u32
            },
        ] {
            put_u32(&mut m, v);
        }
        debug_assert_eq!(m.len(), HEADER_LEN);
        // Inode numbers by node, for the mount and dirent records.
        let mut ino_of = vec![u32::MAX; self.nodes.len()];
        for (ino, node) in numbered.order.iter().enumerate() {
            ino_of[*node as usize] = ino as u32;
        }
        let mut string_at: u32 = 0;
        for (path, root) in &self.mounts {
            let opts = self.mount_options.get(root).copied().unwrap_or_default();
            for v in [
                string_at,
                path.len() as u32,
                ino_of[*root as usize],
                opts.flags,
            ] {
                put_u32(&mut m, v);
            }
            m.extend_from_slice(&opts.size_limit.to_le_bytes());
            string_at += path.len() as u32;
        }
        let mut target_at = (mounts_strings + names_len) as u32;
        for (ino, node) in numbered.order.iter().enumerate() {
            let n = self.nodes[*node as usize];
            let (a, b) = match n.kind {
                Kind::Directory => numbered.dir_run[n.a as usize],
                Kind::File => (
                    blob_pos[n.a as usize] as u32,
                    self.blobs[n.a as usize].0 as u32,
                ),
                Kind::Symlink => {
                    let at = target_at;
                    target_at += n.b;
                    (at, n.b)
                }
            };
            m.extend_from_slice(&[n.kind as u8, 0, 0, 0]);
            put_u32(&mut m, a);
            put_u32(&mut m, b);
            put_u32(&mut m, numbered.parent_of[ino]);
            m.extend_from_slice(&n.mtime_ns.to_le_bytes());
            m.extend_from_slice(&0u64.to_le_bytes());
        }
        drop(blob_pos);
        for c in &numbered.dirents {
            for v in [string_at, c.name_len, ino_of[c.node as usize]] {
                put_u32(&mut m, v);
            }
            string_at += c.name_len;
        }
        drop(ino_of);
        for (path, _) in &self.mounts {
            m.extend_from_slice(path.as_bytes());
        }
        for c in &numbered.dirents {
            m.extend_from_slice(self.name(c.name_off, c.name_len));
        }
        for node in &numbered.order {
            let n = self.nodes[*node as usize];
            if n.kind == Kind::Symlink {
                m.extend_from_slice(self.name(n.a, n.b));
            }
        }
        m.extend_from_slice(&self.config);
        debug_assert_eq!(m.len() as u64, total);
        drop(numbered);
        drop(std::mem::take(&mut self.nodes));
        drop(std::mem::take(&mut self.names));

        let mut slots: Vec<Option<(u64, S)>> = self.blobs.into_iter().map(Some).collect();
        let mut blobs = Vec::with_capacity(blob_order.len());
        let mut at = 0u64;
        for b in blob_order {
            if let Some((len, source)) = slots[b as usize].take() {
                blobs.push(Blob {
                    offset: at,
                    len,
                    source,
                });
                at += len;
            }
        }
        Ok(Layout {
            metadata: m,
            blobs,
            content_len: data_len,
            segment_len: limits.segment_len,
            stats,
        })
    }

    /// Sorts every directory's entries by the bytes of their names; two entries of one name in
    /// a directory are an error.
    fn sort_entries(&mut self) -> Result<(), BuildError> {
        let names = &self.names;
        let name = |c: &Child| super::span(names, c.name_off, c.name_len);
        for children in &mut self.dirs {
            children.sort_unstable_by(|a, b| name(a).cmp(name(b)));
            if let Some(pair) = children.windows(2).find(|w| name(&w[0]) == name(&w[1])) {
                return Err(BuildError::DuplicateName(
                    String::from_utf8_lossy(name(&pair[0])).into_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Numbers the tree breadth-first from the mount roots, in mount order.
    fn number(&self) -> Numbered {
        let mut t = Numbered {
            order: Vec::with_capacity(self.nodes.len()),
            parent_of: Vec::with_capacity(self.nodes.len()),
            dir_run: vec![(0, 0); self.dirs.len()],
            dirents: Vec::with_capacity(self.nodes.len().saturating_sub(self.mounts.len())),
        };
        let mut queue = VecDeque::new();
        for (_, root) in &self.mounts {
            t.parent_of.push(t.order.len() as u32);
            t.order.push(*root);
            queue.push_back((*root, t.order.len() as u32 - 1));
        }
        while let Some((dir, dir_ino)) = queue.pop_front() {
            let d = self.nodes[dir as usize].a as usize;
            let children = &self.dirs[d];
            t.dir_run[d] = (t.dirents.len() as u32, children.len() as u32);
            for c in children {
                let ino = t.order.len() as u32;
                t.order.push(c.node);
                t.parent_of.push(dir_ino);
                t.dirents.push(*c);
                if self.nodes[c.node as usize].kind == Kind::Directory {
                    queue.push_back((c.node, ino));
                }
            }
        }
        t
    }
}

fn put_u32(m: &mut Vec<u8>, v: u32) {
    m.extend_from_slice(&v.to_le_bytes());
}
