//! Path calls on directories of the writable tree (`--tmpfs`, `--writable`), with the errno values
//! Linux gives through wasmtime-wasi for a writable host directory.

use alloc::vec::Vec;
use wasivfs_image::Kind;

use crate::fdtable::{Open, OpenKind, Tree};
use crate::host::Host;
use crate::memfs::{headroom, Content, Data, Node, NodeId};
use crate::resolve::{self, Walked, NAME_MAX};
use crate::vfs::paths::OpenRequest;
use crate::vfs::Vfs;
use crate::wasi::{
    fdflags, oflags, rights, Errno, EBUSY, EEXIST, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ENOTDIR,
    ENOTEMPTY, EPERM,
};

/// The directory a path's last component lives in, and that component.
pub(crate) struct Last {
    /// The containing directory.
    pub dir: NodeId,
    /// The last component as written (may be `.` or `..`).
    pub name: Vec<u8>,
    /// A slash followed it.
    pub slash: bool,
}

/// A path as a call names it: the directory fd it is relative to and its bytes.
pub(crate) type DirPath<'p> = (&'p Open, &'p [u8]);

impl<'a> Vfs<'a> {
    /// Resolves `p` from directory fd `d` in the writable tree.
    pub(crate) fn w_resolve(&mut self, d: &Open, p: &[u8], follow: bool) -> Result<NodeId, Errno> {
        let mut v = self.view();
        resolve::resolve(&mut v, d.inode, d.inode, p, follow)
    }

    /// Splits `p` into its containing directory (resolved, links followed) and last component.
    pub(crate) fn w_last(&mut self, d: &Open, p: &[u8]) -> Result<Last, Errno> {
        resolve::check_path(p)?;
        if p[0] == b'/' {
            return Err(EPERM);
        }
        let (name, slash) = resolve::last_component(p).ok_or(ENOENT)?;
        if name.len() > NAME_MAX {
            return Err(ENAMETOOLONG);
        }
        let prefix_len = p.len() - name.len() - p.iter().rev().take_while(|b| **b == b'/').count();
        let prefix = &p[..prefix_len];
        let dir = if prefix.iter().all(|b| *b == b'/') {
            d.inode
        } else {
            self.w_resolve(d, prefix, true)?
        };
        if self.mem.node(dir)?.kind() != Kind::Directory {
            return Err(ENOTDIR);
        }
        Ok(Last {
            dir,
            name: name.to_vec(),
            slash,
        })
    }

    /// The node `name` names in `dir` (built first if needed).
    fn w_child(&mut self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>, Errno> {
        let img = self.image;
        Ok(self
            .mem
            .entries(img.as_ref(), dir)?
            .and_then(|e| e.get(name)))
    }

    /// Creates a node in `dir` under `name` (which must be free).
    fn w_create<H: Host>(
        &mut self,
        h: &mut H,
        dir: NodeId,
        name: &[u8],
        data: Data,
    ) -> Result<NodeId, Errno> {
        headroom(name.len())?;
        let t = self.now(h);
        let mount = self.mem.node(dir)?.mount;
        let charge = match &data {
            Data::Symlink(target) => target.len() as u64,
            _ => 0,
        };
        self.mem.charge(mount, charge)?;
        let ino = self.mem.new_ino();
        let id = match self.mem.alloc(Node::new(data, dir, ino, mount, t)) {
            Ok(id) => id,
            Err(e) => {
                self.mem.uncharge(mount, charge);
                return Err(e);
            }
        };
        let img = self.image;
        if let Some(e) = self.mem.entries(img.as_ref(), dir)? {
            e.insert(name, id);
        }
        self.w_touch(h, dir)?;
        Ok(id)
    }

    /// `path_open` in a writable directory, in wasmtime-wasi's and Linux's order of checks.
    pub(crate) fn w_open<H: Host>(
        &mut self,
        h: &mut H,
        d: &Open,
        p: &[u8],
        req: OpenRequest,
    ) -> Result<Open, Errno> {
        crate::vfs::paths::check_open_flags(&req)?;
        let (of, fdf, rights_base) = (req.oflags, req.fdflags, req.rights_base);
        let want_write = rights_base & rights::FD_WRITE != 0;
        let write = want_write || of & (oflags::CREAT | oflags::TRUNC) != 0;
        let read = rights_base & rights::FD_READ != 0 || !want_write;
        let create = of & oflags::CREAT != 0;
        let mut v = self.view();
        let walked = resolve::walk(&mut v, d.inode, d.inode, p, req.follow, create)?;
        let id = match walked {
            Walked::Missing {
                dir,
                name,
                dir_required,
            } => {
                if dir_required {
                    return Err(EISDIR);
                }
                self.w_create(h, dir, &name, Data::File(Content::Owned(Vec::new())))?
            }
            Walked::Node(id) => {
                if create && of & oflags::EXCL != 0 {
                    return Err(EEXIST);
                }
                let kind = crate::vfs::paths::open_kind(self.mem.node(id)?.kind(), of, write)?;
                if kind == OpenKind::File && of & oflags::TRUNC != 0 {
                    self.mem.set_len(h, self.image.as_ref(), id, 0)?;
                    self.w_touch(h, id)?;
                }
                id
            }
        };
        let node = self.mem.node_mut(id)?;
        node.opens += 1;
        let kind = if node.kind() == Kind::Directory {
            OpenKind::Dir
        } else {
            OpenKind::File
        };
        Ok(Open {
            tree: Tree::Mem,
            inode: id,
            root: d.root,
            kind,
            preopen: None,
            pos: 0,
            flags: fdf & (fdflags::APPEND | fdflags::NONBLOCK),
            read,
            write: write && kind == OpenKind::File,
        })
    }

    /// `path_create_directory`.
    pub(crate) fn w_mkdir<H: Host>(&mut self, h: &mut H, d: &Open, p: &[u8]) -> Result<(), Errno> {
        let (dir, name) = self.w_new_name(d.inode, p, true)?;
        let data = Data::Dir {
            entries: Some(Default::default()),
            lower: None,
        };
        self.w_create(h, dir, &name, data).map(drop)
    }

    /// The directory and name where `p` (from directory `at`) would create an entry, by the rules
    /// `mkdir`, `symlink` and `link` share: an existing name is `EEXIST`, and a trailing slash
    /// (only a directory may be named so) is `ENOENT` unless the new entry is a directory
    /// (`dir`).
    fn w_new_name(&mut self, at: NodeId, p: &[u8], dir: bool) -> Result<(NodeId, Vec<u8>), Errno> {
        let mut v = self.view();
        match resolve::walk(&mut v, at, at, p, false, true)? {
            Walked::Node(_) => Err(EEXIST),
            Walked::Missing { dir_required, .. } if dir_required && !dir => Err(ENOENT),
            Walked::Missing { dir, name, .. } => Ok((dir, name)),
        }
    }

    /// `path_symlink`: a link named `p` with target `target`, stored verbatim.
    pub(crate) fn w_symlink<H: Host>(
        &mut self,
        h: &mut H,
        d: &Open,
        target: &[u8],
        p: &[u8],
    ) -> Result<(), Errno> {
        let (dir, name) = self.w_new_name(d.inode, p, false)?;
        if target.is_empty() {
            return Err(ENOENT);
        }
        // cap-std refuses links that would lead out of the directory from the start.
        if target.first() == Some(&b'/') {
            return Err(EPERM);
        }
        self.w_create(h, dir, &name, Data::Symlink(target.to_vec()))
            .map(drop)
    }

    /// Removes entry `name` of `dir` (naming `id`); the node is freed once unused.
    fn w_remove_entry<H: Host>(
        &mut self,
        h: &mut H,
        dir: NodeId,
        name: &[u8],
        id: NodeId,
    ) -> Result<(), Errno> {
        let img = self.image;
        if let Some(e) = self.mem.entries(img.as_ref(), dir)? {
            e.remove(name);
        }
        let t = self.now(h);
        let n = self.mem.node_mut(id)?;
        n.links = n.links.saturating_sub(1);
        n.ctim = t;
        self.mem.release(id);
        self.w_touch(h, dir)
    }

    /// Whether directory `id` has entries.
    fn w_nonempty(&mut self, id: NodeId) -> Result<bool, Errno> {
        let img = self.image;
        Ok(self
            .mem
            .entries(img.as_ref(), id)?
            .is_some_and(|e| !e.is_empty()))
    }

    /// `path_remove_directory`.
    pub(crate) fn w_rmdir<H: Host>(&mut self, h: &mut H, d: &Open, p: &[u8]) -> Result<(), Errno> {
        let last = self.w_last(d, p)?;
        match last.name.as_slice() {
            b"." => return Err(EINVAL),
            b".." => return Err(ENOTEMPTY),
            _ => {}
        }
        let id = self.w_child(last.dir, &last.name)?.ok_or(ENOENT)?;
        if self.mem.node(id)?.kind() != Kind::Directory {
            return Err(ENOTDIR);
        }
        if self.w_nonempty(id)? {
            return Err(ENOTEMPTY);
        }
        self.w_remove_entry(h, last.dir, &last.name, id)
    }

    /// `path_unlink_file`.
    pub(crate) fn w_unlink<H: Host>(&mut self, h: &mut H, d: &Open, p: &[u8]) -> Result<(), Errno> {
        let last = self.w_last(d, p)?;
        if matches!(last.name.as_slice(), b"." | b"..") {
            return Err(EISDIR);
        }
        let id = self.w_child(last.dir, &last.name)?.ok_or(ENOENT)?;
        match self.mem.node(id)?.kind() {
            Kind::Directory => return Err(EISDIR),
            _ if last.slash => return Err(ENOTDIR),
            _ => {}
        }
        self.w_remove_entry(h, last.dir, &last.name, id)
    }

    /// `path_link`: a second name for a file (never a directory: `EPERM`), in any writable mount.
    pub(crate) fn w_link<H: Host>(
        &mut self,
        h: &mut H,
        (from, old): DirPath<'_>,
        (to, new): DirPath<'_>,
    ) -> Result<(), Errno> {
        let src = self.w_resolve(from, old, false)?;
        if self.mem.node(src)?.kind() == Kind::Directory {
            return Err(EPERM);
        }
        let (dir, name) = self.w_new_name(to.inode, new, false)?;
        // Like two host directories of one file system, two writable mounts may share a file;
        // its bytes stay charged to the mount it was created in.
        headroom(name.len())?;
        let img = self.image;
        if let Some(e) = self.mem.entries(img.as_ref(), dir)? {
            e.insert(&name, src);
        }
        let t = self.now(h);
        let n = self.mem.node_mut(src)?;
        n.links += 1;
        n.ctim = t;
        self.w_touch(h, dir)
    }

    /// `path_rename` between two writable directories (possibly of two mounts).
    pub(crate) fn w_rename<H: Host>(
        &mut self,
        h: &mut H,
        (from, old): DirPath<'_>,
        (to, new): DirPath<'_>,
    ) -> Result<(), Errno> {
        let src = self.w_last(from, old)?;
        let dst = self.w_last(to, new)?;
        for name in [&src.name, &dst.name] {
            if matches!(name.as_slice(), b"." | b"..") {
                return Err(EBUSY);
            }
        }
        let id = self.w_child(src.dir, &src.name)?.ok_or(ENOENT)?;
        let is_dir = self.mem.node(id)?.kind() == Kind::Directory;
        if !is_dir && (src.slash || dst.slash) {
            return Err(ENOTDIR);
        }
        let existing = self.w_child(dst.dir, &dst.name)?;
        if let Some(e) = existing {
            if e == id {
                return Ok(());
            }
            let e_dir = self.mem.node(e)?.kind() == Kind::Directory;
            match (is_dir, e_dir) {
                (true, false) => return Err(ENOTDIR),
                (false, true) => return Err(EISDIR),
                (true, true) if self.w_nonempty(e)? => return Err(ENOTEMPTY),
                _ => {}
            }
        }
        if is_dir && self.mem.is_ancestor(id, dst.dir) {
            return Err(EINVAL);
        }
        headroom(dst.name.len())?;
        let (src_mount, dst_mount) = (self.mem.node(id)?.mount, self.mem.node(dst.dir)?.mount);
        if src_mount != dst_mount {
            self.mem.move_to_mount(id, dst_mount)?;
        }
        if let Some(e) = existing {
            self.w_remove_entry(h, dst.dir, &dst.name, e)?;
        }
        let img = self.image;
        if let Some(e) = self.mem.entries(img.as_ref(), src.dir)? {
            e.remove(&src.name);
        }
        if let Some(e) = self.mem.entries(img.as_ref(), dst.dir)? {
            e.insert(&dst.name, id);
        }
        let t = self.now(h);
        let n = self.mem.node_mut(id)?;
        n.ctim = t;
        if is_dir {
            n.parent = dst.dir;
        }
        self.w_touch(h, src.dir)?;
        self.w_touch(h, dst.dir)
    }

    /// `path_readlink` in a writable directory.
    pub(crate) fn w_readlink(&mut self, d: &Open, p: &[u8]) -> Result<Vec<u8>, Errno> {
        let id = self.w_resolve(d, p, false)?;
        match &self.mem.node(id)?.data {
            Data::Symlink(t) => Ok(t.clone()),
            _ => Err(EINVAL),
        }
    }
}
