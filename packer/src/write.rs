//! Atomic output of the packed module (see [`wasivfs_atomic_write`]): the module is written
//! section by section into a temporary file next to the target, validated there, and renamed over
//! the target only then, with the permissions of the file it replaces.

use crate::error::{PackError, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use wasivfs_atomic_write::{Mode, Options, Pending, WriteError};

/// Not flushed to disk before the rename (see the crate's documentation for why).
const OUTPUT: Options = Options {
    mode: Mode::LikeReplaced,
    durable: false,
};

/// Bytes buffered before a write to the output file: the many small pieces of the module's
/// first sections go out in few system calls; contents pass in larger pieces.
const BUFFER: usize = 1 << 20;

/// The output while it is being written: a temporary file beside the target.
pub struct Output {
    pending: Pending,
    path: PathBuf,
}

impl Output {
    /// Creates the temporary file beside `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let pending = wasivfs_atomic_write::create(path).map_err(|e| error(path, e))?;
        Ok(Output {
            pending,
            path: path.to_path_buf(),
        })
    }

    /// A buffered writer into the temporary file, counting the bytes.
    pub fn writer(&self) -> Counting<BufWriter<&File>> {
        Counting::new(BufWriter::with_capacity(BUFFER, self.pending.file()))
    }

    /// Validates what was written: whole (see [`validate_written`]; `input` is the packed
    /// module, read again only if validation fails, to tell an invalid input from a bug), or,
    /// when `copied` says which bodies are the input's, as `crate::validated` explains.
    pub(crate) fn validate(
        &self,
        input: &Path,
        copied: Option<&crate::validated::Copied>,
        memo: Option<&wasivfs_module_cache::ModuleCache>,
    ) -> Result<()> {
        let map = crate::mapped::Mapped::new(self.pending.file())
            .map_err(|e| PackError::io(&self.path, e))?;
        match copied {
            Some(copied) => crate::validated::validate(map.bytes(), input, copied, memo),
            None => validate_written(map.bytes(), input),
        }
    }

    /// Renames the temporary file over the target.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.pending
            .commit(OUTPUT)
            .map(drop)
            .map_err(|e| error(&path, e))
    }
}

/// Validates a written module whole (every function body; passive contents are not read). On
/// failure the input module is validated too, to say whether it was already invalid.
pub fn validate_written(module: &[u8], input: &Path) -> Result<()> {
    let result = if wasivfs_abi::BinaryKind::of(module) == wasivfs_abi::BinaryKind::Component {
        crate::component::validate(module)
    } else {
        wasivfs_trampoline_gen::validate_module(module)
    };
    let Err(e) = result else {
        return Ok(());
    };
    let source = match std::fs::read(input).map(|app| wasivfs_trampoline_gen::validate_module(&app))
    {
        Ok(Err(bad)) => wasivfs_trampoline_gen::MergeError::InvalidInput(bad),
        _ => wasivfs_trampoline_gen::MergeError::InvalidOutput(e),
    };
    Err(PackError::Module {
        path: input.to_path_buf(),
        source,
    })
}

fn error(path: &Path, e: WriteError) -> PackError {
    match e {
        WriteError::Create { .. } => PackError::entry(path, e.to_string()),
        WriteError::Write { source } => PackError::io(path, source),
    }
}

/// A writer that counts the bytes written through it.
pub struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Counting<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Counting { inner, count: 0 }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Flushes the wrapped writer (an error here is a write error too: a full disk often shows
    /// only at the last flush).
    pub fn finish(mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)?;
        self.count += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("taken");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep"), b"x").unwrap();
        let output = Output::create(&out).unwrap();
        output.writer().write_all(b"data").unwrap();
        let err = output.commit().unwrap_err();
        assert!(err.to_string().contains("taken"), "{err}");
        let missing = dir.path().join("no/such/dir/out.wasm");
        let err = Output::create(&missing).err().unwrap().to_string();
        assert!(
            err.contains("out.wasm") && err.contains("No such file"),
            "{err}"
        );
        assert!(!err.contains(".wasivfs-"), "{err}");
    }
}
