//! `unpack`: the embedded tree written back to the host, all or nothing.
//!
//! Every write goes through a [`cap_std::fs::Dir`] opened on the staging directory and then on
//! each directory below it, one plain name at a time: nothing can be created outside the
//! destination, and nothing is written through a symlink (one in the way, left by an earlier
//! layer, is replaced).

use crate::{render::mtime, staging, InspectError, Layer, Packed};
use cap_std::fs::Dir;
use std::path::{Path, PathBuf};
use wasivfs_image::Kind;

impl Packed {
    /// Extracts every mount below `dest` (guest `/src` becomes `dest/src`, guest `/` is `dest`
    /// itself), keeping symlinks and modification times (of links too), so that packing the
    /// extracted tree with the same mounts reproduces the module. Nothing is written through a
    /// symlink, and entry names that are not plain file names are refused. Returns the number of
    /// entries written. All or nothing: the tree is built beside `dest` and renamed into place, so
    /// an error leaves no output (`dest` must not exist, or be an empty directory).
    pub fn unpack(&self, dest: &Path) -> Result<u64, InspectError> {
        staging::staged(dest, |stage| self.unpack_into(stage))
    }

    fn unpack_into(&self, stage: &Path) -> Result<u64, InspectError> {
        let root = Dir::open_ambient_dir(stage, cap_std::ambient_authority())
            .map_err(io(stage.to_path_buf()))?;
        let mut count = 0;
        for (path, layer, inode) in self.mounts() {
            let mut dir = root.try_clone().map_err(io(stage.to_path_buf()))?;
            let mut host = stage.to_path_buf();
            for c in path.split('/').filter(|c| !c.is_empty()) {
                let name = safe_name(c.as_bytes(), layer)?;
                host.push(name);
                dir = ensure_dir(&dir, name, &host)?;
            }
            count += extract_dir(&self.layers[layer], layer, inode, &dir, &host)?;
        }
        Ok(count)
    }
}

fn io(path: PathBuf) -> impl FnOnce(std::io::Error) -> InspectError {
    move |source| InspectError::Io { path, source }
}

/// A name from layer `layer`'s image that is safe to create in a directory: one plain component.
fn safe_name(name: &[u8], layer: usize) -> Result<&str, InspectError> {
    let bad = |why: &str| InspectError::BadImage {
        layer,
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

/// Removes a symlink called `name` in `dir`, if there is one (other entries stay).
fn remove_link(dir: &Dir, name: &str, host: &Path) -> Result<(), InspectError> {
    match dir.symlink_metadata(name) {
        Ok(m) if m.file_type().is_symlink() => {
            dir.remove_file(name).map_err(io(host.to_path_buf()))
        }
        _ => Ok(()),
    }
}

/// Opens directory `name` in `dir`, creating it (and replacing a symlink of that name) first.
fn ensure_dir(dir: &Dir, name: &str, host: &Path) -> Result<Dir, InspectError> {
    remove_link(dir, name, host)?;
    match dir.create_dir(name) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        r => r.map_err(io(host.to_path_buf()))?,
    }
    dir.open_dir(name).map_err(io(host.to_path_buf()))
}

/// Sets the modification (and access) time of `name` in `dir` itself, never of what it points to.
#[cfg(unix)]
fn set_mtime(dir: &Dir, name: &str, ns: u64) -> std::io::Result<()> {
    use rustix::fs::{utimensat, AtFlags, Timestamps};
    let t = rustix::fs::Timespec {
        tv_sec: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
        tv_nsec: (ns % 1_000_000_000) as _,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(std::io::Error::from)
}

/// Sets the modification time of file `name` in `dir`. Windows: a link keeps the time of its
/// creation (its own time cannot be set without following it).
#[cfg(windows)]
fn set_mtime(dir: &Dir, name: &str, ns: u64) -> std::io::Result<()> {
    if dir.symlink_metadata(name)?.file_type().is_symlink() {
        return Ok(());
    }
    let file = dir.open_with(name, cap_std::fs::OpenOptions::new().write(true))?;
    file.into_std().set_modified(mtime(ns))
}

/// Creates symlink `name` in `dir` pointing at `target`. Windows has two kinds of links: a
/// target ending in `/`, `.` or `..` is taken for a directory, anything else for a file.
#[cfg(unix)]
fn make_symlink(dir: &Dir, target: &str, name: &str) -> std::io::Result<()> {
    dir.symlink(target, name)
}

#[cfg(windows)]
fn make_symlink(dir: &Dir, target: &str, name: &str) -> std::io::Result<()> {
    let last = target
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    if target.ends_with('/') || last == "." || last == ".." {
        dir.symlink_dir(target, name)
    } else {
        dir.symlink_file(target, name)
    }
}

/// Writes the entries of image directory `inode` into `dir` (at host path `host`, for messages).
fn extract_dir(
    layer: &Layer,
    index: usize,
    inode: u32,
    dir: &Dir,
    host: &Path,
) -> Result<u64, InspectError> {
    let img = layer.image();
    let mut count = 0;
    for i in 0..img.dir_len(inode) {
        let Some(e) = img.dir_entry(inode, i) else {
            continue;
        };
        let name = safe_name(e.name, index)?;
        let path = host.join(name);
        let Some(node) = img.inode(e.inode) else {
            continue;
        };
        count += 1;
        match node.kind {
            Kind::Directory => {
                let sub = ensure_dir(dir, name, &path)?;
                count += extract_dir(layer, index, e.inode, &sub, &path)?;
            }
            Kind::File => {
                remove_link(dir, name, &path)?;
                let data = layer
                    .file_bytes(e.inode)
                    .ok_or_else(|| InspectError::BadImage {
                        layer: index,
                        reason: format!("{}: contents outside the content region", path.display()),
                    })?;
                dir.write(name, data).map_err(io(path.clone()))?;
            }
            Kind::Symlink => {
                let target = img.symlink_target(e.inode).unwrap_or_default();
                let target = String::from_utf8_lossy(target).into_owned();
                if dir.symlink_metadata(name).is_ok() {
                    dir.remove_file(name).map_err(io(path.clone()))?;
                }
                make_symlink(dir, &target, name).map_err(io(path.clone()))?;
            }
        }
        if node.kind != Kind::Directory {
            set_mtime(dir, name, node.mtime_ns).map_err(io(path))?;
        }
    }
    // A directory's time is set last: creating entries inside it changes it.
    #[cfg(unix)]
    if let Some(node) = img.inode(inode) {
        let f = dir.open(".").map_err(io(host.to_path_buf()))?.into_std();
        f.set_modified(mtime(node.mtime_ns))
            .map_err(io(host.to_path_buf()))?;
    }
    Ok(count)
}
