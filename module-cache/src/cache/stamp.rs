//! File identity stamps, the "settled" rule, checksummed records and hashing.
//!
//! A [`Stamp`] is what `fstat` says about a file: device, inode, size, modification and
//! status-change times in nanoseconds. The kernel moves the status-change time (`ctime`) to the
//! current time on every write, truncation or metadata change, and no system call lets a
//! program set it back, so an unchanged stamp means unchanged contents, provided the stamp was
//! taken long enough after the last change that a later change could not land on the same
//! timestamp ([`settled`]; git calls the other case "racily clean").

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::time::{SystemTime, UNIX_EPOCH};

/// A file whose `mtime` or `ctime` is within this many nanoseconds of the moment its stamp was
/// recorded is not trusted by stamp (it is hashed again). Two seconds covers the coarsest
/// timestamp granularity of the file systems we expect (FAT's two seconds; ext4, xfs, btrfs and
/// tmpfs have a clock tick of a few milliseconds).
pub(crate) const RACY_NS: i128 = 2_000_000_000;

/// Read size when hashing a file: large enough for blake3's threads to share, small enough not
/// to count in peak memory.
const CHUNK: usize = 8 << 20;

/// What `fstat` reports about a file, in a form that can be stored and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Stamp {
    /// The stamp of an open file, or `None` where the platform has no inode and ctime (then
    /// nothing is trusted by stamp and files are hashed every time).
    #[cfg(unix)]
    pub fn of(meta: &Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        })
    }

    /// See the Unix version.
    #[cfg(not(unix))]
    pub fn of(_meta: &Metadata) -> Option<Stamp> {
        None
    }

    /// The stamp as one line of text (for a [`Record`]).
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns
        )
    }

    /// Parses [`Stamp::encode`]'s output.
    pub fn decode(s: &str) -> Option<Stamp> {
        let mut it = s.split(' ');
        let stamp = Stamp {
            dev: it.next()?.parse().ok()?,
            ino: it.next()?.parse().ok()?,
            size: it.next()?.parse().ok()?,
            mtime_ns: it.next()?.parse().ok()?,
            ctime_ns: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(stamp)
    }
}

/// Whether a stamp recorded at `recorded_ns` (a clock reading taken *before* the `fstat` that
/// produced it) can vouch for the file's contents: its last change must be more than
/// [`RACY_NS`] older than the recording, so that any later change gets a different `ctime`.
/// A change time in the future (clock skew, a network file system) is never settled.
pub(crate) fn settled(stamp: &Stamp, recorded_ns: i128) -> bool {
    let last_change = stamp.mtime_ns.max(stamp.ctime_ns);
    recorded_ns - last_change > RACY_NS
}

/// The wall clock in nanoseconds since the Unix epoch (0 if the clock is before 1970, which only
/// makes every stamp look unsettled).
pub(crate) fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// blake3 of `bytes`, on all cores.
pub(crate) fn hash_bytes(bytes: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update_rayon(bytes);
    h.finalize()
}

/// blake3 of the whole file, read from the start in chunks through a small buffer (a memory map
/// would put every page in the process's resident set) and hashed on all cores. Returns the
/// hash and the number of bytes read.
pub(crate) fn hash_file(file: &mut File) -> io::Result<(blake3::Hash, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        // Fill the buffer completely (short reads happen) so that every update but the last is a
        // full chunk, which is what lets blake3 split it across threads.
        let mut n = 0;
        while n < buf.len() {
            match file.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            break;
        }
        h.update_rayon(&buf[..n]);
        total += n as u64;
        if n < buf.len() {
            break;
        }
    }
    Ok((h.finalize(), total))
}

/// A small text file of `key value` lines whose last line, `check <blake3>`, covers all the
/// others, so that a damaged record is detected rather than believed.
#[derive(Debug, Default)]
pub(crate) struct Record {
    lines: Vec<(String, String)>,
}

impl Record {
    /// A record whose first line is `kind version` (e.g. `wasivfs-artifact 1`).
    pub fn new(kind: &str, version: u32) -> Record {
        let mut r = Record::default();
        r.set(kind, &version.to_string());
        r
    }

    /// Appends `key value`.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Record {
        self.lines.push((key.to_string(), value.to_string()));
        self
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the record is of `kind` at `version`.
    pub fn is(&self, kind: &str, version: u32) -> bool {
        self.lines
            .first()
            .is_some_and(|(k, v)| k == kind && *v == version.to_string())
    }

    /// The text, ending with its check line.
    pub fn encode(&self) -> String {
        let mut body = String::new();
        for (k, v) in &self.lines {
            body.push_str(k);
            body.push(' ');
            body.push_str(v);
            body.push('\n');
        }
        let check = blake3::hash(body.as_bytes());
        body.push_str(&format!("check {}\n", check.to_hex()));
        body
    }

    /// Parses [`Record::encode`]'s output; `None` if it is malformed or its check line does not
    /// match.
    pub fn decode(text: &[u8]) -> Option<Record> {
        let text = std::str::from_utf8(text).ok()?;
        let body_len = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
        let (body, last) = text.split_at(body_len);
        let check = last.strip_prefix("check ")?.strip_suffix('\n')?;
        if blake3::hash(body.as_bytes()).to_hex().as_str() != check {
            return None;
        }
        let mut r = Record::default();
        for line in body.lines() {
            let (k, v) = line.split_once(' ')?;
            r.set(k, v);
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_rejects_any_change() {
        let mut r = Record::new("kind", 1);
        r.set("a", "1 2 3").set("b", "x");
        let text = r.encode();
        let back = Record::decode(text.as_bytes()).expect("decodes");
        assert!(back.is("kind", 1));
        assert!(!back.is("kind", 2));
        assert_eq!(back.get("a"), Some("1 2 3"));
        assert_eq!(back.get("b"), Some("x"));
        for i in 0..text.len() {
            let mut bad = text.clone().into_bytes();
            bad[i] ^= 0x01;
            assert!(Record::decode(&bad).is_none(), "flip at {i} accepted");
        }
        assert!(Record::decode(&text.as_bytes()[..text.len() - 3]).is_none());
        assert!(Record::decode(b"").is_none());
    }

    #[test]
    fn stamp_round_trips_and_settles_after_the_racy_window() {
        let s = Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 10,
            ctime_ns: 20,
        };
        assert_eq!(Stamp::decode(&s.encode()), Some(s));
        assert_eq!(Stamp::decode("1 2 3 4"), None);
        assert_eq!(Stamp::decode("1 2 3 4 5 6"), None);
        assert!(!settled(&s, 20 + RACY_NS));
        assert!(settled(&s, 21 + RACY_NS));
        assert!(!settled(&s, 0));
    }

    #[test]
    fn file_hash_matches_memory_hash_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..(CHUNK * 2 + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(&p, &data).unwrap();
        let mut f = File::open(&p).unwrap();
        let (h, n) = hash_file(&mut f).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(h, hash_bytes(&data));
        assert_eq!(h, blake3::hash(&data));
    }
}
