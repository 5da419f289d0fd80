//! Reads a module packed by wasivfs back, without a runtime and without disassembling it.
//!
//! A packed module carries one `wasivfs` custom section per pack (see `docs/image-format.md`); each
//! names the memory and address range holding that layer's image, which is rebuilt from the module's
//! active data segments and read with [`wasivfs_image::Image`], and the passive data segments that
//! hold its file contents. On top of that this crate resolves guest paths
//! and implements `ls`, `cat`, `unpack` and `inspect`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use wasivfs_image::section::{LayerInfo, MIN_SECTION_FORMAT, SECTION_FORMAT};
use wasivfs_image::{Image, Kind};

mod render;
mod staging;

pub use render::{format_time, render_list, render_summary};

/// Why a module cannot be read back, or a request cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The module has no `wasivfs` section.
    #[error("not packed by wasivfs (no `wasivfs` custom section)")]
    NotPacked,
    /// A `wasivfs` section is not valid JSON of the known schema.
    #[error("pack layer {layer}: unreadable `wasivfs` section: {reason}")]
    BadSection {
        /// Layer index (0 = first pack).
        layer: usize,
        /// What is wrong.
        reason: String,
    },
    /// The image of a layer cannot be rebuilt or parsed.
    #[error("pack layer {layer}: corrupt embedded image: {reason}")]
    BadImage {
        /// Layer index.
        layer: usize,
        /// What is wrong.
        reason: String,
    },
    /// No embedded entry at this guest path.
    #[error("{0}: no such embedded file or directory")]
    NotFound(String),
    /// `cat` on a directory.
    #[error("{0}: is a directory")]
    IsADirectory(String),
    /// A symlink chain that does not end.
    #[error("{0}: too many levels of symbolic links")]
    Loop(String),
    /// Writing the extracted tree failed.
    #[error("{path}: {source}")]
    Io {
        /// The host path being written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// One pack layer: what its section says, its image bytes and its content region.
pub struct Layer {
    /// The decoded `wasivfs` section.
    pub info: LayerInfo,
    image: Vec<u8>,
    content: Vec<u8>,
}

impl Layer {
    /// The layer's image.
    pub fn image(&self) -> Image<'_> {
        // Checked in `Packed::read`.
        Image::parse(&self.image).unwrap_or_else(|_| unreachable!("image validated on read"))
    }

    /// The contents of file `ino` (`None` if it is not a file, or its range is outside the
    /// content region).
    pub fn file_bytes(&self, ino: u32) -> Option<&[u8]> {
        let (off, len) = self.image().file_range(ino)?;
        self.content.get(off as usize..off as usize + len as usize)
    }
}

/// Reads only the `format` key, so that a section of another format gets a clear message instead
/// of a schema error.
#[derive(serde::Deserialize)]
struct FormatOnly {
    format: u32,
}

/// A packed module, read back.
pub struct Packed {
    layers: Vec<Layer>,
}

/// A resolved embedded entry.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// Which layer it is in.
    pub layer: usize,
    /// Its inode in that layer's image.
    pub inode: u32,
    image: Image<'a>,
}

/// One line of a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListItem {
    /// Absolute guest path.
    pub path: String,
    /// `dir`, `file` or `symlink`.
    pub kind: &'static str,
    /// File size (link target length for a symlink, 0 for a directory).
    pub size: u64,
    /// Modification time, ns since the Unix epoch.
    pub mtime_ns: u64,
    /// Symlink target.
    pub target: Option<String>,
    /// For a mount root in the listing of every mount: `writable` or `tmpfs` (absent: read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount: Option<&'static str>,
}

/// The summary `inspect` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Size of the packed module in bytes.
    pub module_size: u64,
    /// Memories the module defines or imports.
    pub memories: u32,
    /// Each pack layer, first pack first.
    pub layers: Vec<LayerInfo>,
}

const MAX_SYMLINK_HOPS: u32 = 40;

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Directory => "dir",
        Kind::File => "file",
        Kind::Symlink => "symlink",
    }
}

impl<'a> Entry<'a> {
    /// What it is.
    pub fn kind(&self) -> Kind {
        self.image
            .inode(self.inode)
            .map(|i| i.kind)
            .unwrap_or(Kind::File)
    }
}

impl Packed {
    /// Reads every layer of `module`. Fails with [`InspectError::NotPacked`] on a module wasivfs did
    /// not pack.
    pub fn read(module: &[u8]) -> Result<Packed, InspectError> {
        let sections = wasivfs_trampoline_gen::wasivfs_sections(module);
        if sections.is_empty() {
            return Err(InspectError::NotPacked);
        }
        let mut layers = Vec::new();
        for (i, s) in sections.iter().enumerate() {
            let bad = |reason: String| InspectError::BadSection { layer: i, reason };
            let format = serde_json::from_slice::<FormatOnly>(s)
                .map_err(|e| bad(e.to_string()))?
                .format;
            if format < MIN_SECTION_FORMAT {
                return Err(bad(format!(
                    "packed by an older wasivfs (format {format}; this one reads {SECTION_FORMAT}): pack the original module again"
                )));
            }
            if format > SECTION_FORMAT {
                return Err(bad(format!(
                    "packed by a newer wasivfs (format {format}; this one reads {SECTION_FORMAT})"
                )));
            }
            let info = LayerInfo::from_json(s).map_err(|e| bad(e.to_string()))?;
            let image = wasivfs_trampoline_gen::memory_region(
                module,
                info.vfs_memory,
                info.image_addr,
                info.image_len,
            )
            .map_err(|e| InspectError::BadImage {
                layer: i,
                reason: e.to_string(),
            })?;
            let parsed = Image::parse(&image).map_err(|e| InspectError::BadImage {
                layer: i,
                reason: e.to_string(),
            })?;
            let c = &info.content;
            let header = parsed.header();
            if u64::from(header.content_len) != c.len
                || header.segment_len != c.segment_len
                || parsed.segment_count() != c.segments
            {
                return Err(InspectError::BadImage {
                    layer: i,
                    reason: "the image and the `wasivfs` section disagree about the contents"
                        .into(),
                });
            }
            let content =
                wasivfs_trampoline_gen::passive_segments(module, c.first_segment, c.segments)
                    .map_err(|e| InspectError::BadImage {
                        layer: i,
                        reason: e.to_string(),
                    })?;
            if content.len() as u64 != c.len {
                return Err(InspectError::BadImage {
                    layer: i,
                    reason: format!(
                        "the content segments hold {} bytes, the image says {}",
                        content.len(),
                        c.len
                    ),
                });
            }
            layers.push(Layer {
                info,
                image,
                content,
            });
        }
        Ok(Packed { layers })
    }

    /// The layers, first pack first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The summary of the module for `inspect`.
    pub fn summary(&self, module: &[u8]) -> Summary {
        Summary {
            module_size: module.len() as u64,
            memories: count_memories(module),
            layers: self.layers.iter().map(|l| l.info.clone()).collect(),
        }
    }

    /// Every mount as `(guest path, layer, root inode)`, first pack first.
    pub fn mounts(&self) -> Vec<(String, usize, u32)> {
        let mut out = Vec::new();
        for (li, l) in self.layers.iter().enumerate() {
            let img = l.image();
            for m in 0..img.mount_count() {
                if let Some(m) = img.mount(m) {
                    out.push((String::from_utf8_lossy(m.path).into_owned(), li, m.root));
                }
            }
        }
        out
    }

    /// Resolves an absolute guest path to an entry: the mount with the longest matching prefix wins,
    /// then components are looked up, following symlinks in the middle of the path always and at the
    /// end when `follow` is set. `..` never climbs above the mount root.
    pub fn resolve(&self, guest: &str, follow: bool) -> Result<Entry<'_>, InspectError> {
        let not_found = || InspectError::NotFound(guest.to_string());
        let mut best: Option<(usize, usize, u32)> = None; // (prefix len, layer, root)
        for (path, layer, root) in self.mounts() {
            let matches = path == "/"
                || guest == path
                || (guest.starts_with(&path) && guest.as_bytes().get(path.len()) == Some(&b'/'));
            let len = if path == "/" { 0 } else { path.len() };
            if matches && best.is_none_or(|b| len > b.0) {
                best = Some((len, layer, root));
            }
        }
        let (plen, layer, root) = best.ok_or_else(not_found)?;
        let image = self.layers[layer].image();
        let rest = &guest[plen..];
        let mut hops = 0;
        let inode = walk(&image, root, root, rest, follow, &mut hops)
            .map_err(|e| e.unwrap_or_else(not_found))?
            .ok_or_else(not_found)?;
        Ok(Entry {
            layer,
            inode,
            image,
        })
    }

    /// The bytes of the file at `guest` (symlinks followed).
    pub fn cat(&self, guest: &str) -> Result<&[u8], InspectError> {
        let e = self.resolve(guest, true)?;
        match e.image.inode(e.inode).map(|i| i.kind) {
            Some(Kind::File) => self.layers[e.layer]
                .file_bytes(e.inode)
                .ok_or_else(|| InspectError::NotFound(guest.to_string())),
            Some(Kind::Directory) => Err(InspectError::IsADirectory(guest.to_string())),
            _ => Err(InspectError::NotFound(guest.to_string())),
        }
    }

    /// Lists `guest` (or every mount when `None`): a directory's entries, or the entry itself; with
    /// `recursive`, everything below.
    pub fn list(
        &self,
        guest: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<ListItem>, InspectError> {
        let mut out = Vec::new();
        match guest {
            None => {
                for (path, layer, root) in self.mounts() {
                    let img = self.layers[layer].image();
                    let mut it = item(&img, root, path.clone());
                    it.mount = mount_mode(&img, root);
                    out.push(it);
                    if recursive {
                        list_dir(&img, root, &path, true, &mut out);
                    }
                }
            }
            Some(g) => {
                let g = normalize(g);
                let e = self.resolve(&g, true)?;
                if e.kind() == Kind::Directory {
                    list_dir(&e.image, e.inode, &g, recursive, &mut out);
                } else {
                    let e = self.resolve(&g, false)?;
                    out.push(item(&e.image, e.inode, g.clone()));
                }
            }
        }
        Ok(out)
    }

    /// Extracts every mount below `dest` (guest `/src` becomes `dest/src`, guest `/` is `dest`
    /// itself), keeping symlinks and modification times (of links too), so that packing the
    /// extracted tree with the same mounts reproduces the module. Nothing is written through a
    /// symlink, and entry names that are not plain file names are refused. Returns the number of
    /// entries written. All or nothing: the tree is built beside `dest` and renamed into place, so
    /// an error leaves no output (`dest` must not exist, or be an empty directory).
    pub fn unpack(&self, dest: &Path) -> Result<u64, InspectError> {
        staging::staged(dest, |stage| self.unpack_into(stage))
    }

    fn unpack_into(&self, dest: &Path) -> Result<u64, InspectError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| InspectError::Io { path, source }
        };
        std::fs::create_dir_all(dest).map_err(io(dest))?;
        let mut count = 0;
        for (path, layer, root) in self.mounts() {
            let mut target = dest.to_path_buf();
            for c in path.split('/').filter(|c| !c.is_empty()) {
                target.push(safe_name(c.as_bytes()).map_err(|e| match e {
                    InspectError::BadImage { reason, .. } => {
                        InspectError::BadImage { layer, reason }
                    }
                    e => e,
                })?);
                remove_link(&target)?;
            }
            std::fs::create_dir_all(&target).map_err(io(&target))?;
            count += extract_dir(&self.layers[layer], root, &target)?;
        }
        Ok(count)
    }
}

fn normalize(g: &str) -> String {
    let t = g.trim_end_matches('/');
    if t.is_empty() {
        "/".to_string()
    } else if t.starts_with('/') {
        t.to_string()
    } else {
        format!("/{t}")
    }
}

/// Walks `path` (relative, may be empty) from `dir`. `Ok(None)` = not found; `Err(Some)` = loop.
fn walk(
    img: &Image<'_>,
    root: u32,
    dir: u32,
    path: &str,
    follow_last: bool,
    hops: &mut u32,
) -> Result<Option<u32>, Option<InspectError>> {
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut cur = dir;
    for (i, c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        if *c == ".." {
            if cur != root {
                cur = img.inode(cur).map(|n| n.parent).ok_or(None)?;
            }
            continue;
        }
        let Some(next) = img.lookup(cur, c.as_bytes()) else {
            return Ok(None);
        };
        let node = img.inode(next).ok_or(None)?;
        if node.kind == Kind::Symlink && (!last || follow_last) {
            *hops += 1;
            if *hops > MAX_SYMLINK_HOPS {
                return Err(Some(InspectError::Loop(path.to_string())));
            }
            let target = img.symlink_target(next).ok_or(None)?;
            let target = String::from_utf8_lossy(target).into_owned();
            match walk(img, root, cur, &target, true, hops)? {
                Some(t) => cur = t,
                None => return Ok(None),
            }
        } else {
            cur = next;
        }
    }
    Ok(Some(cur))
}

fn item(img: &Image<'_>, ino: u32, path: String) -> ListItem {
    let n = img.inode(ino);
    ListItem {
        path,
        kind: n.map(|n| kind_name(n.kind)).unwrap_or("file"),
        size: n.map(|n| n.size()).unwrap_or(0),
        mtime_ns: n.map(|n| n.mtime_ns).unwrap_or(0),
        target: img
            .symlink_target(ino)
            .map(|t| String::from_utf8_lossy(t).into_owned()),
        mount: None,
    }
}

/// How the mount of `img` rooted at `root` may be written: `tmpfs`, `writable`, or `None`.
fn mount_mode(img: &Image<'_>, root: u32) -> Option<&'static str> {
    let m = (0..img.mount_count())
        .filter_map(|i| img.mount(i))
        .find(|m| m.root == root)?;
    if m.tmpfs() {
        Some("tmpfs")
    } else if m.writable() {
        Some("writable")
    } else {
        None
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn list_dir(img: &Image<'_>, dir: u32, path: &str, recursive: bool, out: &mut Vec<ListItem>) {
    for i in 0..img.dir_len(dir) {
        let Some(e) = img.dir_entry(dir, i) else {
            continue;
        };
        let child = join(path, &String::from_utf8_lossy(e.name));
        out.push(item(img, e.inode, child.clone()));
        if recursive && img.inode(e.inode).map(|n| n.kind) == Some(Kind::Directory) {
            list_dir(img, e.inode, &child, true, out);
        }
    }
}

fn mtime(ns: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
}

/// A name from the image that is safe to create below the extraction directory.
fn safe_name(name: &[u8]) -> Result<&str, InspectError> {
    let bad = |why: &str| InspectError::BadImage {
        layer: 0,
        reason: format!("entry name {:?} {why}", String::from_utf8_lossy(name)),
    };
    let name = std::str::from_utf8(name).map_err(|_| bad("is not UTF-8"))?;
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("is not a file name"));
    }
    if name.contains(['/', '\0']) {
        return Err(bad("contains `/` or NUL"));
    }
    Ok(name)
}

/// Sets the modification (and access) time of `path` itself, not of what it points to.
fn set_link_mtime(path: &Path, ns: u64) -> std::io::Result<()> {
    use rustix::fs::{utimensat, AtFlags, Timestamps, CWD};
    let t = rustix::fs::Timespec {
        tv_sec: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
        tv_nsec: (ns % 1_000_000_000) as _,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(std::io::Error::from)
}

/// Removes a symlink at `path` (so nothing is written through it); other entries stay.
fn remove_link(path: &Path) -> Result<(), InspectError> {
    match path.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::remove_file(path).map_err(|source| InspectError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

fn extract_dir(layer: &Layer, dir: u32, target: &Path) -> Result<u64, InspectError> {
    let img = &layer.image();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InspectError::Io { path, source }
    };
    let mut count = 0;
    for i in 0..img.dir_len(dir) {
        let Some(e) = img.dir_entry(dir, i) else {
            continue;
        };
        let name = safe_name(e.name)?;
        let path = target.join(name);
        let Some(node) = img.inode(e.inode) else {
            continue;
        };
        count += 1;
        match node.kind {
            Kind::Directory => {
                remove_link(&path)?;
                match std::fs::create_dir(&path) {
                    Err(err)
                        if err.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
                    r => r.map_err(io(&path))?,
                }
                count += extract_dir(layer, e.inode, &path)?;
            }
            Kind::File => {
                remove_link(&path)?;
                let data = layer.file_bytes(e.inode).unwrap_or_default();
                std::fs::write(&path, data).map_err(io(&path))?;
                let f = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                f.set_modified(mtime(node.mtime_ns)).map_err(io(&path))?;
            }
            Kind::Symlink => {
                let t = String::from_utf8_lossy(img.symlink_target(e.inode).unwrap_or_default())
                    .into_owned();
                if path.symlink_metadata().is_ok() {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                }
                std::os::unix::fs::symlink(&t, &path).map_err(io(&path))?;
                set_link_mtime(&path, node.mtime_ns).map_err(io(&path))?;
            }
        }
    }
    // A directory's time is set last: creating entries inside it changes it.
    if let Some(node) = img.inode(dir) {
        let f = std::fs::File::open(target).map_err(io(target))?;
        f.set_modified(mtime(node.mtime_ns)).map_err(io(target))?;
    }
    Ok(count)
}

fn count_memories(module: &[u8]) -> u32 {
    let mut n = 0;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        match payload {
            Ok(wasmparser::Payload::ImportSection(r)) => {
                for imp in r.into_imports().flatten() {
                    if matches!(imp.ty, wasmparser::TypeRef::Memory(_)) {
                        n += 1;
                    }
                }
            }
            Ok(wasmparser::Payload::MemorySection(r)) => n += r.count(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    n
}
