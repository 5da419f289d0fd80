//! Guest paths to embedded entries: the mount with the longest prefix, then a walk through the
//! image that follows symlinks.

use crate::{Entry, InspectError, Packed};
use wasivfs_image::{Image, Kind};

use wasivfs_image::MAX_SYMLINK_HOPS;

impl Packed {
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
}

/// `g` as an absolute guest path without trailing slashes.
pub(crate) fn normalize(g: &str) -> String {
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
