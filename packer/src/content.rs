//! The content region: every distinct file content, back to back, read from the host files while
//! the merger writes the output's passive data segments (each file is read here once, after the
//! walk hashed it: two reads in all).

use crate::error::{PackError, Result};
use crate::progress::{Event, Progress};
use crate::walk::{Roots, Source};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use wasivfs_image::builder::Blob;

/// Streams the content region from the host files, in order.
pub struct ContentReader {
    blobs: Vec<Blob<Source>>,
    roots: Roots,
    /// Length of the content region.
    len: u64,
    /// Bytes already delivered.
    pos: u64,
    /// The blob being read and its open file.
    current: Option<(usize, cap_std::fs::File)>,
    progress: Arc<dyn Progress>,
}

impl ContentReader {
    /// A reader over `blobs` (contiguous from offset 0, as the layout gives them), opening files
    /// through `roots`.
    pub fn new(blobs: Vec<Blob<Source>>, roots: Roots, progress: Arc<dyn Progress>) -> Self {
        let len = blobs.last().map_or(0, |b| b.offset + b.len);
        ContentReader {
            blobs,
            roots,
            len,
            pos: 0,
            current: None,
            progress,
        }
    }

    /// Bytes delivered so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Fills `out` with the next `out.len()` bytes of the content region. A file that is shorter
    /// or longer than when it was walked is an error naming it.
    pub fn read(&mut self, out: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < out.len() {
            if self.pos >= self.len {
                return Err(PackError::Options {
                    what: "content".into(),
                    reason: "read past the end of the file contents".into(),
                });
            }
            // Blobs are contiguous from 0, so find the one holding `pos`.
            let index = self.blobs.partition_point(|b| b.offset + b.len <= self.pos);
            let Some(blob) = self.blobs.get(index) else {
                return Err(PackError::Options {
                    what: "content".into(),
                    reason: "the file contents have a gap in their layout".into(),
                });
            };
            if self.current.as_ref().map(|c| c.0) != Some(index) {
                let file = self.roots.open(&blob.source)?;
                self.current = Some((index, file));
            }
            let within = self.pos - blob.offset;
            let n = ((blob.len - within) as usize).min(out.len() - done);
            let path = self.roots.host_path(&blob.source);
            if let Some((_, file)) = self.current.as_mut() {
                read_exact_or_changed(file, &mut out[done..done + n], &path)?;
            }
            done += n;
            self.pos += n as u64;
            if self.pos == blob.offset + blob.len {
                // The file must end exactly where it ended during the walk.
                if let Some((_, mut file)) = self.current.take() {
                    let mut probe = [0u8; 1];
                    match file.read(&mut probe) {
                        Ok(0) => {}
                        Ok(_) => return Err(changed(&path)),
                        Err(e) => return Err(PackError::io(&path, e)),
                    }
                }
            }
        }
        self.progress.event(Event::Content {
            done: self.pos,
            total: self.len,
        });
        Ok(())
    }
}

/// The error for a file whose size is not the one the walk saw.
pub(crate) fn changed(path: &Path) -> PackError {
    PackError::entry(path, "the file changed size while it was being packed")
}

fn read_exact_or_changed(file: &mut cap_std::fs::File, out: &mut [u8], path: &Path) -> Result<()> {
    file.read_exact(out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            changed(path)
        } else {
            PackError::io(path, e)
        }
    })
}
