//! `ls`: the entries below a guest path, as [`ListItem`]s.

use crate::resolve::normalize;
use crate::{InspectError, Packed};
use serde::Serialize;
use wasivfs_image::{Image, Kind};

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

impl Packed {
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
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Directory => "dir",
        Kind::File => "file",
        Kind::Symlink => "symlink",
    }
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
