//! The trailer that `wasivfs exe` appends to the runner binary.
//!
//! The runner reads it and the `wasivfs-exe` crate writes it, both through
//! this one definition.
//!
//! Layout of an executable made by `wasivfs exe`:
//!
//! ```text
//! [runner binary][zero padding][payload][options][footer]
//! ```
//!
//! - *payload*: the module precompiled by `Engine::precompile_module`, or the
//!   component by `Component::serialize` (wasmtime's header tells them apart); it
//!   starts at a multiple of [`PAYLOAD_ALIGN`] so that it can be mapped from
//!   the file directly.
//! - *options*: the baked run options ([`Options`]).
//! - *footer*: [`FOOTER_LEN`] bytes at the very end of the file, all integers
//!   little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `WVFSEXE\0` |
//! | 8 | 4 | format version (1) |
//! | 12 | 4 | footer length (64) |
//! | 16 | 8 | payload offset |
//! | 24 | 8 | payload length |
//! | 32 | 8 | options offset |
//! | 40 | 8 | options length |
//! | 48 | 4 | CRC-32 of payload, options and footer bytes 0..48 |
//! | 52 | 12 | reserved, zero |

use byteorder::{ByteOrder, LittleEndian as LE};

/// Magic bytes opening the footer.
pub const MAGIC: [u8; 8] = *b"WVFSEXE\0";
/// Version of this trailer format.
pub const VERSION: u32 = 1;
/// Length of the footer in bytes.
pub const FOOTER_LEN: usize = 64;
/// Alignment of the payload's file offset (covers 4 KiB, 16 KiB and 64 KiB pages).
pub const PAYLOAD_ALIGN: u64 = 64 * 1024;

/// The parsed footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// File offset of the precompiled module.
    pub payload_offset: u64,
    /// Length of the precompiled module.
    pub payload_len: u64,
    /// File offset of the encoded [`Options`].
    pub options_offset: u64,
    /// Length of the encoded [`Options`].
    pub options_len: u64,
    /// CRC-32 over payload, options and the first 48 footer bytes.
    pub checksum: u32,
}

/// Why a footer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FooterError {
    /// No footer: this file carries no program.
    Missing,
    /// A footer of a format version this build does not know.
    Version(u32),
    /// The footer's fields are inconsistent with the file.
    Corrupt(&'static str),
}

impl std::fmt::Display for FooterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FooterError::Missing => f.write_str(
                "no program is attached to this executable (it is the runner that `wasivfs exe` builds from)",
            ),
            FooterError::Version(v) => write!(
                f,
                "the attached program uses trailer format {v}, this runner reads format {VERSION}"
            ),
            FooterError::Corrupt(why) => write!(f, "the attached program is damaged ({why})"),
        }
    }
}

impl Footer {
    /// Encodes the footer, checksum included.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = [0u8; FOOTER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(FOOTER_LEN as u32).to_le_bytes());
        out[16..24].copy_from_slice(&self.payload_offset.to_le_bytes());
        out[24..32].copy_from_slice(&self.payload_len.to_le_bytes());
        out[32..40].copy_from_slice(&self.options_offset.to_le_bytes());
        out[40..48].copy_from_slice(&self.options_len.to_le_bytes());
        out[48..52].copy_from_slice(&self.checksum.to_le_bytes());
        out
    }

    /// Parses the last [`FOOTER_LEN`] bytes of a file of `file_len` bytes and
    /// checks that the regions it names lie inside the file, in order.
    pub fn decode(bytes: &[u8; FOOTER_LEN], file_len: u64) -> Result<Footer, FooterError> {
        if bytes[0..8] != MAGIC {
            return Err(FooterError::Missing);
        }
        let version = LE::read_u32(&bytes[8..]);
        if version != VERSION {
            return Err(FooterError::Version(version));
        }
        if LE::read_u32(&bytes[12..]) as usize != FOOTER_LEN {
            return Err(FooterError::Corrupt("bad footer length"));
        }
        let footer = Footer {
            payload_offset: LE::read_u64(&bytes[16..]),
            payload_len: LE::read_u64(&bytes[24..]),
            options_offset: LE::read_u64(&bytes[32..]),
            options_len: LE::read_u64(&bytes[40..]),
            checksum: LE::read_u32(&bytes[48..]),
        };
        let payload_end = footer
            .payload_offset
            .checked_add(footer.payload_len)
            .ok_or(FooterError::Corrupt("payload range overflows"))?;
        let options_end = footer
            .options_offset
            .checked_add(footer.options_len)
            .ok_or(FooterError::Corrupt("options range overflows"))?;
        if !footer.payload_offset.is_multiple_of(PAYLOAD_ALIGN) {
            return Err(FooterError::Corrupt("payload is not aligned"));
        }
        if payload_end != footer.options_offset
            || options_end.checked_add(FOOTER_LEN as u64) != Some(file_len)
        {
            return Err(FooterError::Corrupt(
                "payload and options do not fit the file",
            ));
        }
        Ok(footer)
    }

    /// The checksum of `payload`, `options` and this footer's first 48 bytes.
    pub fn compute_checksum(&self, payload: &[u8], options: &[u8]) -> u32 {
        let encoded = self.encode();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(payload);
        hasher.update(options);
        hasher.update(&encoded[..48]);
        hasher.finalize()
    }
}

/// One directory granted to the guest: `host` is opened and shown as `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMapping {
    /// Host directory (raw bytes of the OS path; relative paths are resolved
    /// against the working directory at run time).
    pub host: Vec<u8>,
    /// Guest path (UTF-8).
    pub guest: String,
}

/// Run options baked into the executable at `wasivfs exe` time.
///
/// Encoding: `u32` count, then per directory `u32` length + host bytes,
/// `u32` length + guest bytes (little-endian).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Directories granted on every run, before those of the environment.
    pub dirs: Vec<DirMapping>,
}

impl Options {
    /// Encodes the options.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.dirs.len() as u32).to_le_bytes());
        for d in &self.dirs {
            out.extend_from_slice(&(d.host.len() as u32).to_le_bytes());
            out.extend_from_slice(&d.host);
            out.extend_from_slice(&(d.guest.len() as u32).to_le_bytes());
            out.extend_from_slice(d.guest.as_bytes());
        }
        out
    }

    /// Decodes options written by [`Options::encode`].
    pub fn decode(mut bytes: &[u8]) -> Result<Options, FooterError> {
        let count = take_u32(&mut bytes)?;
        let mut dirs = Vec::new();
        for _ in 0..count {
            let host = take_bytes(&mut bytes)?.to_vec();
            let guest = std::str::from_utf8(take_bytes(&mut bytes)?)
                .map_err(|_| FooterError::Corrupt("guest path is not UTF-8"))?
                .to_owned();
            dirs.push(DirMapping { host, guest });
        }
        if !bytes.is_empty() {
            return Err(FooterError::Corrupt("trailing bytes after options"));
        }
        Ok(Options { dirs })
    }
}

fn take_u32(bytes: &mut &[u8]) -> Result<u32, FooterError> {
    if bytes.len() < 4 {
        return Err(FooterError::Corrupt("options are truncated"));
    }
    let v = LE::read_u32(bytes);
    *bytes = &bytes[4..];
    Ok(v)
}

fn take_bytes<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], FooterError> {
    let len = take_u32(bytes)? as usize;
    if bytes.len() < len {
        return Err(FooterError::Corrupt("options are truncated"));
    }
    let (head, tail) = bytes.split_at(len);
    *bytes = tail;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trips_and_rejects_damage() {
        let f = Footer {
            payload_offset: PAYLOAD_ALIGN,
            payload_len: 100,
            options_offset: PAYLOAD_ALIGN + 100,
            options_len: 4,
            checksum: 0xdead_beef,
        };
        let file_len = PAYLOAD_ALIGN + 104 + FOOTER_LEN as u64;
        let enc = f.encode();
        assert_eq!(Footer::decode(&enc, file_len), Ok(f));
        assert!(matches!(
            Footer::decode(&enc, file_len + 1),
            Err(FooterError::Corrupt(_))
        ));
        let mut bad = enc;
        bad[0] ^= 1;
        assert_eq!(Footer::decode(&bad, file_len), Err(FooterError::Missing));
        let mut bad = enc;
        bad[8] = 9;
        assert_eq!(Footer::decode(&bad, file_len), Err(FooterError::Version(9)));
    }

    #[test]
    fn checksum_covers_every_part() {
        let f = Footer {
            payload_offset: 0,
            payload_len: 3,
            options_offset: 3,
            options_len: 1,
            checksum: 0,
        };
        let base = f.compute_checksum(b"abc", b"d");
        assert_ne!(base, f.compute_checksum(b"abd", b"d"));
        assert_ne!(base, f.compute_checksum(b"abc", b"e"));
        let g = Footer {
            payload_len: 4,
            ..f
        };
        assert_ne!(base, g.compute_checksum(b"abc", b"d"));
    }

    #[test]
    fn options_round_trip_and_reject_truncation() {
        let o = Options {
            dirs: vec![
                DirMapping {
                    host: b"/tmp/a::b".to_vec(),
                    guest: "/data".into(),
                },
                DirMapping {
                    host: vec![0xff, b'x'],
                    guest: ".".into(),
                },
            ],
        };
        let enc = o.encode();
        assert_eq!(Options::decode(&enc), Ok(o));
        assert!(Options::decode(&enc[..enc.len() - 1]).is_err());
        assert!(Options::decode(&[]).is_err());
    }
}
