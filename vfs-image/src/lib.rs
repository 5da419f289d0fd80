//! The wasivfs embedded filesystem image.
//!
//! An image is one contiguous, little-endian byte blob that the VFS reads in place: fixed-size tables
//! addressed by index and directory entries sorted by name for binary search. File contents are not
//! part of it: they form a separate *content region*, stored in the module as passive data segments
//! of [`Header::segment_len`] bytes each, and an inode names a byte range of that region (so reading
//! an embedded file is one `memory.init` per segment the range touches). See
//! `docs/image-format.md`.
//!
//! The reader ([`Image`]) is `no_std` and allocation-free. The writer ([`builder`]) needs the
//! `builder` feature.
#![cfg_attr(not(feature = "builder"), no_std)]
#![deny(missing_docs)]

use byteorder::{ByteOrder, LittleEndian as LE};

#[cfg(feature = "builder")]
pub mod builder;
pub mod config;
#[cfg(feature = "builder")]
pub mod section;

/// The eight bytes every image starts with.
pub const MAGIC: [u8; 8] = *b"WVFSIMG\0";
/// Most symlinks followed while resolving one path (Linux's limit): a longer chain is a loop
/// (`ELOOP`). The packer's escape check, the VFS and `inspect` all stop there.
pub const MAX_SYMLINK_HOPS: u32 = 40;
/// The image format version this crate writes. It also reads version 2 (mounts without flags).
pub const VERSION: u32 = 3;
/// The oldest image format version this crate reads.
pub const MIN_VERSION: u32 = 2;
/// Size of the header in bytes.
pub const HEADER_LEN: usize = 64;
/// Size of one mount record in bytes.
pub const MOUNT_LEN: usize = 24;
/// Size of one mount record in a version 2 image.
pub const MOUNT_LEN_V2: usize = 12;

/// Mount flag: the mount is writable (copy-on-write over its packed files, in memory).
pub const MOUNT_WRITABLE: u32 = 1 << 0;
/// Mount flag: the mount is a tmpfs (an empty writable directory; implies [`MOUNT_WRITABLE`]).
pub const MOUNT_TMPFS: u32 = 1 << 1;
/// Size of one inode record in bytes.
pub const INODE_LEN: usize = 32;
/// Size of one directory entry record in bytes.
pub const DIRENT_LEN: usize = 12;

/// What an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A directory; its entries are a sorted run of the dirent table.
    Directory = 1,
    /// A regular file; its contents are a byte range of the data region.
    File = 2,
    /// A symbolic link; its target is a string.
    Symlink = 3,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        match v {
            1 => Some(Kind::Directory),
            2 => Some(Kind::File),
            3 => Some(Kind::Symlink),
            _ => None,
        }
    }
}

/// Why bytes are not a readable image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the header, or than the length the header declares.
    Truncated,
    /// The first eight bytes are not [`MAGIC`].
    BadMagic,
    /// A format version this reader does not know.
    UnsupportedVersion(u32),
    /// A table or string range lies outside the image.
    OutOfBounds,
    /// The content region is not empty but its segment length is 0.
    BadSegmentLength,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Truncated => f.write_str("image is truncated"),
            Error::BadMagic => f.write_str("not a wasivfs image (bad magic)"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported image version {v}"),
            Error::OutOfBounds => f.write_str("image table out of bounds"),
            Error::BadSegmentLength => f.write_str("image content segment length is 0"),
        }
    }
}

/// The decoded header: counts and offsets of every table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// Total image (metadata) length in bytes; the content region is not part of it.
    pub total_len: u32,
    /// Number of mount records.
    pub mount_count: u32,
    /// Offset of the mount table.
    pub mounts_off: u32,
    /// Number of inode records.
    pub inode_count: u32,
    /// Offset of the inode table.
    pub inodes_off: u32,
    /// Number of directory entry records.
    pub dirent_count: u32,
    /// Offset of the dirent table.
    pub dirents_off: u32,
    /// Offset of the string region (names, link targets, mount paths).
    pub strings_off: u32,
    /// Length of the string region.
    pub strings_len: u32,
    /// Bytes per content segment (every segment but the last is this long).
    pub segment_len: u32,
    /// Length of the content region (all distinct file contents, back to back).
    pub content_len: u32,
    /// Offset of the program record ([`config::Config`]); 0: none (and in images written
    /// before it existed, where the field was reserved and 0).
    pub config_off: u32,
}

/// One embedded mount: a guest path that becomes a preopened directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mount<'a> {
    /// The absolute guest path, e.g. `/src` or `/`.
    pub path: &'a [u8],
    /// The inode of the mount's root directory.
    pub root: u32,
    /// [`MOUNT_WRITABLE`], [`MOUNT_TMPFS`] (0: read-only).
    pub flags: u32,
    /// Most bytes a writable mount may hold in memory (0 for a read-only mount).
    pub size_limit: u64,
}

impl Mount<'_> {
    /// Whether the mount accepts writes.
    pub fn writable(&self) -> bool {
        self.flags & (MOUNT_WRITABLE | MOUNT_TMPFS) != 0
    }

    /// Whether the mount is a tmpfs (starts empty, no host directory behind it).
    pub fn tmpfs(&self) -> bool {
        self.flags & MOUNT_TMPFS != 0
    }
}

/// One inode record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inode {
    /// What it is.
    pub kind: Kind,
    /// Directory: index of its first entry. File: offset of its contents within the content region.
    /// Symlink: offset of its target within the string region.
    pub a: u32,
    /// Directory: number of entries. File: size in bytes. Symlink: target length.
    pub b: u32,
    /// The directory that contains it (a mount root is its own parent).
    pub parent: u32,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
}

impl Inode {
    /// The size a `stat` reports: file length, link target length, or 0 for a directory's own size
    /// field as stored (the VFS decides what to report for directories).
    pub fn size(&self) -> u64 {
        match self.kind {
            Kind::Directory => 0,
            Kind::File | Kind::Symlink => self.b as u64,
        }
    }
}

/// One directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The entry's name (never empty, never `.` or `..`, no `/`).
    pub name: &'a [u8],
    /// The inode it names.
    pub inode: u32,
}

/// A parsed view over image bytes. Cheap to copy; reads everything in place.
#[derive(Clone, Copy, Debug)]
pub struct Image<'a> {
    bytes: &'a [u8],
    header: Header,
    mount_len: usize,
}

fn range_ok(total: usize, off: u32, count: u32, item: usize) -> bool {
    (count as usize)
        .checked_mul(item)
        .and_then(|n| n.checked_add(off as usize))
        .is_some_and(|end| end <= total)
}

impl<'a> Image<'a> {
    /// Checks the header and that every table lies inside `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Image<'a>, Error> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if bytes[..8] != MAGIC {
            return Err(Error::BadMagic);
        }
        let version = LE::read_u32(&bytes[8..]);
        if !(MIN_VERSION..=VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion(version));
        }
        let mount_len = if version == 2 {
            MOUNT_LEN_V2
        } else {
            MOUNT_LEN
        };
        let header = Header {
            total_len: LE::read_u32(&bytes[16..]),
            mount_count: LE::read_u32(&bytes[20..]),
            mounts_off: LE::read_u32(&bytes[24..]),
            inode_count: LE::read_u32(&bytes[28..]),
            inodes_off: LE::read_u32(&bytes[32..]),
            dirent_count: LE::read_u32(&bytes[36..]),
            dirents_off: LE::read_u32(&bytes[40..]),
            strings_off: LE::read_u32(&bytes[44..]),
            strings_len: LE::read_u32(&bytes[48..]),
            segment_len: LE::read_u32(&bytes[52..]),
            content_len: LE::read_u32(&bytes[56..]),
            config_off: LE::read_u32(&bytes[60..]),
        };
        if header.content_len > 0 && header.segment_len == 0 {
            return Err(Error::BadSegmentLength);
        }
        let total = header.total_len as usize;
        if bytes.len() < total {
            return Err(Error::Truncated);
        }
        let ok = range_ok(total, header.mounts_off, header.mount_count, mount_len)
            && range_ok(total, header.inodes_off, header.inode_count, INODE_LEN)
            && range_ok(total, header.dirents_off, header.dirent_count, DIRENT_LEN)
            && range_ok(total, header.strings_off, header.strings_len, 1);
        if !ok {
            return Err(Error::OutOfBounds);
        }
        if header.config_off != 0 {
            let at = (header.config_off as usize).max(HEADER_LEN).min(total);
            config::Config::parse(&bytes[at..total])?;
        }
        Ok(Image {
            bytes: &bytes[..total],
            header,
            mount_len,
        })
    }

    /// The decoded header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The image bytes (exactly `total_len` of them).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The program record (baked arguments, variables and policies), if the image has one.
    pub fn config(&self) -> Option<config::Config<'a>> {
        let off = self.header.config_off as usize;
        if off == 0 {
            return None;
        }
        config::Config::parse(self.bytes.get(off.max(HEADER_LEN)..)?).ok()
    }

    /// Number of mounts.
    pub fn mount_count(&self) -> u32 {
        self.header.mount_count
    }

    /// The `i`th mount, in the order they were given at pack time.
    pub fn mount(&self, i: u32) -> Option<Mount<'a>> {
        if i >= self.header.mount_count {
            return None;
        }
        let off = self.header.mounts_off as usize + i as usize * self.mount_len;
        let path = self.string(
            LE::read_u32(&self.bytes[off..]),
            LE::read_u32(&self.bytes[off + 4..]),
        )?;
        let (flags, size_limit) = if self.mount_len == MOUNT_LEN {
            (
                LE::read_u32(&self.bytes[off + 12..]),
                LE::read_u64(&self.bytes[off + 16..]),
            )
        } else {
            (0, 0)
        };
        Some(Mount {
            path,
            root: LE::read_u32(&self.bytes[off + 8..]),
            flags,
            size_limit,
        })
    }

    /// Number of inodes.
    pub fn inode_count(&self) -> u32 {
        self.header.inode_count
    }

    /// Inode number `ino`, or `None` if out of range or corrupt.
    pub fn inode(&self, ino: u32) -> Option<Inode> {
        if ino >= self.header.inode_count {
            return None;
        }
        let off = self.header.inodes_off as usize + ino as usize * INODE_LEN;
        Some(Inode {
            kind: Kind::from_u8(self.bytes[off])?,
            a: LE::read_u32(&self.bytes[off + 4..]),
            b: LE::read_u32(&self.bytes[off + 8..]),
            parent: LE::read_u32(&self.bytes[off + 12..]),
            mtime_ns: LE::read_u64(&self.bytes[off + 16..]),
        })
    }

    /// Number of entries of directory `dir` (0 if it is not a directory).
    pub fn dir_len(&self, dir: u32) -> u32 {
        match self.inode(dir) {
            Some(i) if i.kind == Kind::Directory => i.b,
            _ => 0,
        }
    }

    /// The `index`th entry (in byte order of names) of directory `dir`.
    pub fn dir_entry(&self, dir: u32, index: u32) -> Option<DirEntry<'a>> {
        let i = self.inode(dir)?;
        if i.kind != Kind::Directory || index >= i.b {
            return None;
        }
        self.dirent(i.a.checked_add(index)?)
    }

    fn dirent(&self, n: u32) -> Option<DirEntry<'a>> {
        if n >= self.header.dirent_count {
            return None;
        }
        let off = self.header.dirents_off as usize + n as usize * DIRENT_LEN;
        let name = self.string(
            LE::read_u32(&self.bytes[off..]),
            LE::read_u32(&self.bytes[off + 4..]),
        )?;
        Some(DirEntry {
            name,
            inode: LE::read_u32(&self.bytes[off + 8..]),
        })
    }

    /// Looks `name` up in directory `dir` by binary search. `.` and `..` are not entries.
    pub fn lookup(&self, dir: u32, name: &[u8]) -> Option<u32> {
        let i = self.inode(dir)?;
        if i.kind != Kind::Directory {
            return None;
        }
        let (mut lo, mut hi) = (0u32, i.b);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.dirent(i.a.checked_add(mid)?)?;
            match e.name.cmp(name) {
                core::cmp::Ordering::Equal => return Some(e.inode),
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// Where the contents of file `ino` lie in the content region: `(offset, len)`, checked to be
    /// inside it.
    pub fn file_range(&self, ino: u32) -> Option<(u32, u32)> {
        let i = self.inode(ino)?;
        if i.kind != Kind::File {
            return None;
        }
        let end = i.a.checked_add(i.b)?;
        (end <= self.header.content_len).then_some((i.a, i.b))
    }

    /// Number of passive data segments the content region is stored in.
    pub fn segment_count(&self) -> u32 {
        segment_count(self.header.content_len, self.header.segment_len)
    }

    /// Splits `len` bytes of the content region starting at `offset` into pieces that each lie in
    /// one segment, in order. The range must lie inside the region (see [`Image::file_range`]).
    pub fn pieces(&self, offset: u32, len: u32) -> Pieces {
        Pieces {
            pos: offset,
            end: offset.saturating_add(len),
            segment_len: self.header.segment_len,
        }
    }

    /// The target of symlink `ino`.
    pub fn symlink_target(&self, ino: u32) -> Option<&'a [u8]> {
        let i = self.inode(ino)?;
        if i.kind != Kind::Symlink {
            return None;
        }
        self.string(i.a, i.b)
    }

    fn string(&self, off: u32, len: u32) -> Option<&'a [u8]> {
        if !range_ok(self.header.strings_len as usize, off, len, 1) {
            return None;
        }
        let start = self.header.strings_off as usize + off as usize;
        Some(&self.bytes[start..start + len as usize])
    }
}

/// Number of segments of `segment_len` bytes (the last one shorter) that hold `content_len` bytes.
pub fn segment_count(content_len: u32, segment_len: u32) -> u32 {
    if content_len == 0 || segment_len == 0 {
        0
    } else {
        content_len.div_ceil(segment_len)
    }
}

/// One piece of a content range that lies inside a single segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Index of the segment (0 = the first segment of this image's content).
    pub segment: u32,
    /// Offset within that segment.
    pub offset: u32,
    /// Length in bytes (never 0).
    pub len: u32,
}

/// The pieces of a content range, one per segment it touches (see [`Image::pieces`]).
#[derive(Clone, Debug)]
pub struct Pieces {
    pos: u32,
    end: u32,
    segment_len: u32,
}

impl Iterator for Pieces {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        if self.pos >= self.end || self.segment_len == 0 {
            return None;
        }
        let segment = self.pos / self.segment_len;
        let offset = self.pos % self.segment_len;
        let len = (self.segment_len - offset).min(self.end - self.pos);
        self.pos += len;
        Some(Piece {
            segment,
            offset,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(offset: u32, len: u32, segment_len: u32) -> Vec<(u32, u32, u32)> {
        Pieces {
            pos: offset,
            end: offset + len,
            segment_len,
        }
        .map(|p| (p.segment, p.offset, p.len))
        .collect()
    }

    #[test]
    fn ranges_split_at_segment_boundaries() {
        assert_eq!(pieces(0, 0, 4), vec![]);
        assert_eq!(pieces(1, 2, 4), vec![(0, 1, 2)]);
        assert_eq!(pieces(3, 6, 4), vec![(0, 3, 1), (1, 0, 4), (2, 0, 1)]);
        assert_eq!(pieces(8, 4, 4), vec![(2, 0, 4)]);
        assert_eq!(pieces(7, 1, 4), vec![(1, 3, 1)]);
        assert_eq!(segment_count(0, 4), 0);
        assert_eq!(segment_count(8, 4), 2);
        assert_eq!(segment_count(9, 4), 3);
    }
}
