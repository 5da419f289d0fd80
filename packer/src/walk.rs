//! Walks the mapped host directories into an [`ImageBuilder`], through cap-std only.
//!
//! Each root is opened once with [`Dir::open_ambient_dir`]; everything below it is reached relative to
//! that handle, so the walk never leaves the root. Entries are visited in byte order of their names.
//! Files are not read: their sizes come from their metadata, and identical contents are found
//! afterwards (`dedup.rs`), hashing only files whose size is not unique. Symlinks are stored as links,
//! after checking that their targets, resolved through the tree, stay inside the root; with
//! [`WalkOptions::follow_symlinks`] the target's content is stored instead (cap-std refuses targets
//! outside the root, and a link back to one of its own ancestors is reported as a loop).
//! Entries matched by [`WalkOptions::excludes`] are skipped (a directory with everything below it).

use crate::error::{PackError, Result};
use crate::exclude::{ExcludeRules, Matcher};
#[cfg(windows)]
use cap_fs_ext::MetadataExt;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, Metadata};
#[cfg(unix)]
use cap_std::fs::{FileTypeExt, MetadataExt};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use wasivfs_image::builder::{ImageBuilder, NodeId};

/// One `--mapdir`: a host directory that appears at a guest path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Absolute, normalized guest path (`/src`, `/`).
    pub guest: String,
    /// Host directory.
    pub host: PathBuf,
}

/// Options of the walk.
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    /// Modification times later than this (ns since the epoch) are lowered to it
    /// (`SOURCE_DATE_EPOCH`).
    pub mtime_clamp_ns: Option<u64>,
    /// Every modification time is set to this (ns since the epoch); wins over the clamp.
    pub mtime_fixed_ns: Option<u64>,
    /// Store what symlinks point to instead of the links.
    pub follow_symlinks: bool,
    /// Entries to leave out, relative to each root.
    pub excludes: ExcludeRules,
}

/// Where a file's contents are: a path relative to one of the walked roots, kept by
/// [`Roots`] (see [`Roots::rel`]), so that a file takes 16 bytes here whatever its path. Its
/// size is the length its content has in the image builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// Index of the root in [`Walked::roots`].
    pub root: u32,
    rel_len: u32,
    rel_off: u64,
}

/// An opened mapped directory.
#[derive(Debug)]
pub struct Root {
    /// The host path it was opened from (for messages).
    pub host: PathBuf,
    /// The capability through which everything below it is reached.
    pub dir: Dir,
}

/// The result of a walk: the tree, ready to lay out, and the roots to read file contents from.
pub struct Walked {
    /// The opened roots, in mapping order.
    pub roots: Roots,
    /// The collected tree.
    pub builder: ImageBuilder<Source>,
    /// What the walk saw.
    pub counts: WalkCounts,
}

/// Counts of a walk, for progress and `-v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkCounts {
    /// Regular files added (each occurrence; identical contents are de-duplicated later).
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Entries left out by exclude patterns (an excluded directory counts once).
    pub excluded: u64,
}

/// The opened roots of a walk, in mapping order, and the relative paths of the files found;
/// file [`Source`]s are read through them.
#[derive(Debug, Default)]
pub struct Roots {
    /// The roots, in mapping order.
    pub roots: Vec<Root>,
    /// Every file's path relative to its root, back to back.
    paths: String,
}

impl Roots {
    /// The path of `src` relative to its root.
    pub fn rel(&self, src: &Source) -> &str {
        let start = src.rel_off as usize;
        self.paths
            .get(start..start + src.rel_len as usize)
            .unwrap_or_default()
    }

    /// The host path of `src`, for messages.
    pub fn host_path(&self, src: &Source) -> PathBuf {
        match self.roots.get(src.root as usize) {
            Some(r) => r.host.join(self.rel(src)),
            None => PathBuf::from(self.rel(src)),
        }
    }

    /// Opens the file `src` for reading.
    pub fn open(&self, src: &Source) -> Result<File> {
        let root = self
            .roots
            .get(src.root as usize)
            .ok_or_else(|| PackError::entry(self.rel(src), "unknown root"))?;
        root.dir
            .open(self.rel(src))
            .map_err(|e| PackError::io(self.host_path(src), e))
    }

    /// Records the path `rel` of a file of root `root`.
    fn add(&mut self, root: u32, rel: &str) -> Result<Source> {
        let rel_len = u32::try_from(rel.len())
            .map_err(|_| PackError::entry(rel, "the path is longer than 4 GiB"))?;
        let src = Source {
            root,
            rel_len,
            rel_off: self.paths.len() as u64,
        };
        self.paths.push_str(rel);
        Ok(src)
    }
}

/// The symlinks of a root, by path relative to it: what the symlink check needs (a path that
/// is not a link needs no record).
type Links = HashMap<String, String>;

/// Walks every mapping, in order.
pub fn walk(mappings: &[Mapping], opts: &WalkOptions) -> Result<Walked> {
    walk_with(mappings, opts, &mut |_| {})
}

/// Walks every mapping, in order, calling `on_file` with the running counts after each file.
pub fn walk_with(
    mappings: &[Mapping],
    opts: &WalkOptions,
    on_file: &mut dyn FnMut(&WalkCounts),
) -> Result<Walked> {
    let mut builder = ImageBuilder::new();
    let mut counts = WalkCounts::default();
    let mut roots = Roots::default();
    for (index, m) in mappings.iter().enumerate() {
        let dir = Dir::open_ambient_dir(&m.host, ambient_authority())
            .map_err(|e| PackError::io(&m.host, e))?;
        let meta = dir.dir_metadata().map_err(|e| PackError::io(&m.host, e))?;
        let root_node = builder
            .add_mount(&m.guest, mtime_ns(&meta, opts, &m.host)?)
            .map_err(|source| PackError::Layout {
                what: format!("--mapdir {}::{}", m.guest, m.host.display()),
                source,
            })?;
        let mut w = RootWalk {
            root_index: u32::try_from(index).unwrap_or(u32::MAX),
            paths: &mut roots,
            root: None,
            host: &m.host,
            opts,
            matcher: opts.excludes.matcher(&m.host)?,
            builder: &mut builder,
            seen: HashMap::new(),
            counts: &mut counts,
            on_file: &mut *on_file,
        };
        w.walk(&dir, root_node, (meta.dev(), meta.ino()))?;
        let seen = w.seen;
        check_symlinks(&m.host, &seen)?;
        roots.roots.push(Root {
            host: m.host.clone(),
            dir,
        });
    }
    builder.shrink_to_fit();
    roots.paths.shrink_to_fit();
    crate::dedup::share_identical(&mut builder, &roots)?;
    Ok(Walked {
        roots,
        builder,
        counts,
    })
}

/// A directory waiting to be listed: its handle, its path relative to the root, its node, and the
/// `(device, inode)` of it and its ancestors (to detect loops through followed links).
struct Pending {
    dir: Dir,
    rel: String,
    node: NodeId,
    chain: Vec<(u64, u64)>,
}

/// The state of the walk of one root.
struct RootWalk<'a> {
    root_index: u32,
    /// Where the paths of the files found go (the roots themselves are added after the walk).
    paths: &'a mut Roots,
    /// The root itself: followed links are resolved from it, so that `..` in a target can reach
    /// anywhere inside the root (but not above it).
    root: Option<Dir>,
    host: &'a Path,
    opts: &'a WalkOptions,
    matcher: Option<Matcher>,
    builder: &'a mut ImageBuilder<Source>,
    seen: Links,
    counts: &'a mut WalkCounts,
    on_file: &'a mut dyn FnMut(&WalkCounts),
}

impl RootWalk<'_> {
    fn walk(&mut self, root: &Dir, root_node: NodeId, root_id: (u64, u64)) -> Result<()> {
        // Depth-first with an explicit stack.
        let first = root.try_clone().map_err(|e| PackError::io(self.host, e))?;
        if self.opts.follow_symlinks {
            self.root = Some(root.try_clone().map_err(|e| PackError::io(self.host, e))?);
        }
        let mut stack = vec![Pending {
            dir: first,
            rel: String::new(),
            node: root_node,
            chain: vec![root_id],
        }];
        while let Some(p) = stack.pop() {
            self.list(p, &mut stack)?;
        }
        Ok(())
    }

    /// Adds the entries of one directory, pushing its subdirectories on `stack`.
    fn list(&mut self, p: Pending, stack: &mut Vec<Pending>) -> Result<()> {
        let here = self.host.join(&p.rel);
        let mut entries = Vec::new();
        for entry in p.dir.entries().map_err(|e| PackError::io(&here, e))? {
            let entry = entry.map_err(|e| PackError::io(&here, e))?;
            let name = entry.file_name();
            let name = name.into_string().map_err(|raw| {
                PackError::entry(
                    here.join(&raw),
                    "the name is not valid UTF-8; only UTF-8 names can be packed",
                )
            })?;
            entries.push(name);
        }
        entries.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in entries {
            let child_rel = if p.rel.is_empty() {
                name.clone()
            } else {
                format!("{}/{name}", p.rel)
            };
            let path = self.host.join(&child_rel);
            let mut meta = p
                .dir
                .symlink_metadata(&name)
                .map_err(|e| PackError::io(&path, e))?;
            let mut link_target = None;
            if meta.file_type().is_symlink() {
                let target = p
                    .dir
                    .read_link_contents(&name)
                    .map_err(|e| PackError::io(&path, e))?;
                let target = target.into_os_string().into_string().map_err(|_| {
                    PackError::entry(&path, "the symlink target is not valid UTF-8")
                })?;
                if let Some(root) = &self.root {
                    meta = root
                        .metadata(&child_rel)
                        .map_err(|e| follow_error(&path, &target, self.host, e))?;
                }
                link_target = Some(target);
            }
            let ft = meta.file_type();
            if let Some(m) = &self.matcher {
                if m.excludes(&child_rel, ft.is_dir()) {
                    self.counts.excluded += 1;
                    continue;
                }
            }
            let mtime = mtime_ns(&meta, self.opts, &path)?;
            let layout_err = |source| PackError::Layout {
                what: path.display().to_string(),
                source,
            };
            if ft.is_dir() {
                let id = (meta.dev(), meta.ino());
                if let Some(target) = &link_target {
                    if p.chain.contains(&id) {
                        return Err(PackError::entry(
                            &path,
                            format!(
                                "symlink target {target:?} is a directory containing the link; \
                                 following it (--follow-symlinks) would loop forever"
                            ),
                        ));
                    }
                }
                let child = self
                    .builder
                    .add_dir(p.node, &name, mtime)
                    .map_err(layout_err)?;
                let sub = match (&link_target, &self.root) {
                    (Some(_), Some(root)) => root.open_dir(&child_rel),
                    _ => p.dir.open_dir(&name),
                }
                .map_err(|e| PackError::io(&path, e))?;
                let mut chain = p.chain.clone();
                chain.push(id);
                stack.push(Pending {
                    dir: sub,
                    rel: child_rel,
                    node: child,
                    chain,
                });
            } else if ft.is_file() {
                let size = meta.len();
                let source = self.paths.add(self.root_index, &child_rel)?;
                self.builder
                    .add_file_unhashed(p.node, &name, mtime, size, source)
                    .map_err(layout_err)?;
                self.counts.files += 1;
                self.counts.bytes += size;
                (self.on_file)(self.counts);
            } else if let (true, Some(target)) = (ft.is_symlink(), link_target) {
                self.builder
                    .add_symlink(p.node, &name, &target, mtime)
                    .map_err(layout_err)?;
                self.seen.insert(child_rel, target);
            } else {
                return Err(PackError::entry(&path, special_reason(&ft)));
            }
        }
        Ok(())
    }
}

/// Whether `e` is the OS's "too many levels of symbolic links" (`ELOOP`). std's
/// `ErrorKind::FilesystemLoop` is not stable yet, so the errno is compared.
#[cfg(unix)]
fn is_symlink_loop(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

/// Windows: `ERROR_CANT_RESOLVE_FILENAME`, its "too many levels of symbolic links".
#[cfg(windows)]
fn is_symlink_loop(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(1921)
}

/// The error for a symlink that cannot be followed.
fn follow_error(path: &Path, target: &str, host: &Path, e: std::io::Error) -> PackError {
    let reason = if target.starts_with('/') {
        format!(
            "symlink target {target:?} is absolute; only relative links that stay inside {} can be packed",
            host.display()
        )
    } else if e.kind() == std::io::ErrorKind::NotFound {
        format!("symlink target {target:?} does not exist (--follow-symlinks)")
    } else if is_symlink_loop(&e) {
        format!("symlink target {target:?} is a loop of symlinks (--follow-symlinks)")
    } else if e.kind() == std::io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
        // cap-std's refusal to leave the root.
        format!(
            "symlink target {target:?} points outside the mapped directory {}",
            host.display()
        )
    } else {
        format!("cannot follow symlink to {target:?}: {e}")
    };
    PackError::entry(path, reason)
}

#[cfg(windows)]
fn special_reason(_: &cap_std::fs::FileType) -> String {
    "is a special file; only regular files, directories and symlinks can be packed".to_string()
}

#[cfg(unix)]
fn special_reason(ft: &cap_std::fs::FileType) -> String {
    let kinds = [
        (ft.is_fifo(), "a named pipe (FIFO)"),
        (ft.is_socket(), "a socket"),
        (ft.is_block_device(), "a block device"),
        (ft.is_char_device(), "a character device"),
    ];
    let kind = kinds
        .into_iter()
        .find_map(|(is, kind)| is.then_some(kind))
        .unwrap_or("a special file");
    format!("is {kind}; only regular files, directories and symlinks can be packed")
}

fn mtime_ns(meta: &Metadata, opts: &WalkOptions, path: &Path) -> Result<u64> {
    let t = meta
        .modified()
        .map_err(|e| PackError::io(path, e))?
        .into_std();
    // Times before the epoch are stored as 0.
    let ns = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Ok(match (opts.mtime_fixed_ns, opts.mtime_clamp_ns) {
        (Some(fixed), _) => fixed,
        (None, Some(clamp)) => ns.min(clamp),
        (None, None) => ns,
    })
}

/// Most links followed while resolving one target; deeper chains are loops, which fail at run
/// time with `ELOOP` but cannot escape.
const MAX_LINK_HOPS: usize = wasivfs_image::MAX_SYMLINK_HOPS as usize;

/// Checks that every symlink of one root, resolved lexically through the tree, stays inside it.
fn check_symlinks(host: &Path, seen: &Links) -> Result<()> {
    let mut links: Vec<(&String, &String)> = seen.iter().collect();
    links.sort();
    for (rel, target) in links {
        let path = host.join(rel);
        if target.starts_with('/') {
            return Err(PackError::entry(
                &path,
                format!(
                    "symlink target {target:?} is absolute; only relative links that stay inside {} can be packed",
                    host.display()
                ),
            ));
        }
        let mut cur: Vec<&str> = rel.split('/').collect();
        cur.pop();
        let mut queue: VecDeque<&str> = target.split('/').collect();
        let mut hops = 0;
        while let Some(c) = queue.pop_front() {
            match c {
                "" | "." => {}
                ".." => {
                    if cur.pop().is_none() {
                        return Err(PackError::entry(
                            &path,
                            format!(
                                "symlink target {target:?} points outside the mapped directory {}",
                                host.display()
                            ),
                        ));
                    }
                }
                name => {
                    cur.push(name);
                    if let Some(next) = seen.get(&cur.join("/")) {
                        hops += 1;
                        if hops > MAX_LINK_HOPS {
                            break;
                        }
                        if next.starts_with('/') {
                            return Err(PackError::entry(
                                &path,
                                format!("symlink target {target:?} goes through the absolute symlink {}", host.join(cur.join("/")).display()),
                            ));
                        }
                        cur.pop();
                        for part in next.split('/').rev() {
                            queue.push_front(part);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
