//! Zip (wheel) and gzipped tar (npm) archives whose bytes depend only on their entries and one
//! timestamp: entries in the order given, fixed modes and owners, no host names or times.

use std::io::{Cursor, Write};

use anyhow::{Context, Result};
use flate2::{Compression, GzBuilder};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::project::civil_time;

/// One file of an archive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The path inside the archive, with `/` separators.
    pub path: String,
    /// The contents.
    pub data: Vec<u8>,
    /// Mode 0755 rather than 0644.
    pub executable: bool,
}

impl Entry {
    /// A regular file.
    pub fn file(path: impl Into<String>, data: impl Into<Vec<u8>>) -> Entry {
        Entry {
            path: path.into(),
            data: data.into(),
            executable: false,
        }
    }

    /// An executable file.
    pub fn executable(path: impl Into<String>, data: impl Into<Vec<u8>>) -> Entry {
        Entry {
            executable: true,
            ..Entry::file(path, data)
        }
    }

    fn mode(&self) -> u32 {
        if self.executable {
            0o755
        } else {
            0o644
        }
    }
}

/// A zip archive of `entries`, deflated, every entry dated `epoch` (zip dates start in 1980).
pub fn zip(entries: &[Entry], epoch: u64) -> Result<Vec<u8>> {
    let (y, mo, d, h, mi, s) = civil_time(epoch.max(315_532_800));
    let date =
        DateTime::from_date_and_time(y as u16, mo as u8, d as u8, h as u8, mi as u8, s as u8)
            .map_err(|e| {
                anyhow::anyhow!("SOURCE_DATE_EPOCH {epoch} does not fit a zip date: {e}")
            })?;
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for entry in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(9))
            .last_modified_time(date)
            .unix_permissions(entry.mode())
            .large_file(entry.data.len() >= u32::MAX as usize);
        zip.start_file(entry.path.as_str(), options)
            .with_context(|| format!("zip entry {}", entry.path))?;
        zip.write_all(&entry.data)?;
    }
    Ok(zip
        .finish()
        .context("finishing the zip archive")?
        .into_inner())
}

/// A gzipped tar archive of `entries` (ustar headers, owner 0:0, every entry dated `epoch`).
pub fn tar_gz(entries: &[Entry], epoch: u64) -> Result<Vec<u8>> {
    let gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    let mut tar = tar::Builder::new(gz);
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(entry.data.len() as u64);
        header.set_mode(entry.mode());
        header.set_mtime(epoch);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &entry.path, entry.data.as_slice())
            .with_context(|| format!("tar entry {}", entry.path))?;
    }
    let gz = tar.into_inner().context("finishing the tar archive")?;
    gz.finish().context("finishing the gzip stream")
}
