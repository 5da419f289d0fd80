//! Finds, maps and checks the program attached to the running executable.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use memmap2::{Mmap, MmapOptions};

use wasivfs_exe_format::trailer::{Footer, FooterError, Options, FOOTER_LEN};

/// The attached program: the mapped precompiled module and the baked options.
pub struct Payload {
    /// Read-only private mapping of the payload bytes. It is never unmapped
    /// while the module runs (the runner exits the process instead).
    pub code: Mmap,
    /// Options baked in at `wasivfs exe` time.
    pub options: Options,
}

/// Path used in messages about the running executable.
pub fn self_path() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("this executable"))
}

/// Opens the running executable's own file.
fn open_self() -> Result<File, String> {
    // `/proc/self/exe` names the running file even if it was renamed or
    // replaced on disk after start.
    #[cfg(target_os = "linux")]
    if let Ok(f) = File::open("/proc/self/exe") {
        return Ok(f);
    }
    let path = std::env::current_exe().map_err(|e| format!("cannot locate own executable: {e}"))?;
    File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// Reads the footer, maps the payload and verifies the checksum.
pub fn load() -> Result<Payload, String> {
    let mut file = open_self()?;
    let io = |e: std::io::Error| format!("cannot read own executable: {e}");
    let file_len = file.metadata().map_err(io)?.len();
    if file_len < FOOTER_LEN as u64 {
        return Err(FooterError::Missing.to_string());
    }
    let mut raw = [0u8; FOOTER_LEN];
    file.seek(SeekFrom::End(-(FOOTER_LEN as i64))).map_err(io)?;
    file.read_exact(&mut raw).map_err(io)?;
    let footer = Footer::decode(&raw, file_len).map_err(|e| e.to_string())?;

    let payload_len = usize::try_from(footer.payload_len)
        .map_err(|_| FooterError::Corrupt("payload too large").to_string())?;
    let options_len = usize::try_from(footer.options_len)
        .map_err(|_| FooterError::Corrupt("options too large").to_string())?;
    let mut options = vec![0u8; options_len];
    file.seek(SeekFrom::Start(footer.options_offset))
        .map_err(io)?;
    file.read_exact(&mut options).map_err(io)?;
    if payload_len == 0 {
        return Err(FooterError::Corrupt("empty payload").to_string());
    }
    // SAFETY: a private read-only mapping of our own executable. Linux refuses
    // writes to a file that is being executed (ETXTBSY), and tools that update
    // it replace it by rename, which leaves this inode untouched.
    let code = unsafe {
        MmapOptions::new()
            .offset(footer.payload_offset)
            .len(payload_len)
            .map_copy_read_only(&file)
    }
    .map_err(|e| format!("cannot map the attached program: {e}"))?;
    if footer.compute_checksum(&code, &options) != footer.checksum {
        return Err(FooterError::Corrupt("checksum mismatch").to_string());
    }
    let options = Options::decode(&options).map_err(|e| e.to_string())?;
    Ok(Payload { code, options })
}
