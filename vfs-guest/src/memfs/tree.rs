//! The writable tree as the path resolver sees it.

use alloc::vec::Vec;
use wasivfs_image::{Image, Kind};

use super::{Data, MemFs, NodeId};
use crate::resolve::Lookup;
use crate::wasi::Errno;

/// A writable tree together with the image its directories are built from.
pub struct View<'f, 'a> {
    /// The trees.
    pub fs: &'f mut MemFs,
    /// The image (the lower layer).
    pub img: Option<Image<'a>>,
}

impl Lookup for View<'_, '_> {
    type Node = NodeId;

    fn kind(&self, node: NodeId) -> Option<Kind> {
        self.fs.node(node).ok().map(|n| n.kind())
    }

    fn parent(&self, dir: NodeId) -> Option<NodeId> {
        self.fs.node(dir).ok().map(|n| n.parent)
    }

    fn child(&mut self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>, Errno> {
        Ok(self
            .fs
            .entries(self.img.as_ref(), dir)?
            .and_then(|e| e.get(name)))
    }

    fn link_target(&self, node: NodeId, out: &mut Vec<u8>) -> bool {
        match self.fs.node(node).map(|n| &n.data) {
            Ok(Data::Symlink(t)) => {
                out.extend_from_slice(t);
                true
            }
            _ => false,
        }
    }
}
