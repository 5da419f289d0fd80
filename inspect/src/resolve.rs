//! Guest paths to embedded entries: the mount with the longest prefix, then the VFS's own resolver
//! (`wasivfs_vfs_guest::path`) over that mount's image, so `inspect`, `ls` and `cat` see exactly
//! what a packed program sees: the same symlink rules, the same hop limit, and `..` or an absolute
//! link target that would leave the mount is refused, not clamped.

use crate::{Entry, InspectError, Packed};
use wasivfs_image::Kind;
use wasivfs_vfs_guest::wasi::{ELOOP, ENOTDIR, EPERM};

impl Packed {
    /// Resolves an absolute guest path to an entry: the mount with the longest matching prefix
    /// wins, then the rest is resolved inside that mount as the VFS resolves it, following
    /// symlinks in the middle of the path always and at the end when `follow` is set.
    pub fn resolve(&self, guest: &str, follow: bool) -> Result<Entry<'_>, InspectError> {
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
        let (plen, layer, root) = best.ok_or_else(|| InspectError::NotFound(guest.to_string()))?;
        let mut image = self.layers[layer].image();
        let rest = guest[plen..].trim_start_matches('/');
        let inode = if rest.is_empty() {
            root
        } else {
            wasivfs_vfs_guest::resolve::resolve(&mut image, root, root, rest.as_bytes(), follow)
                .map_err(|e| match e {
                    ELOOP => InspectError::Loop(guest.to_string()),
                    EPERM => InspectError::Escapes(guest.to_string()),
                    ENOTDIR => InspectError::NotADirectory(guest.to_string()),
                    _ => InspectError::NotFound(guest.to_string()),
                })?
        };
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
