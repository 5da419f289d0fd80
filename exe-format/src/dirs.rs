//! The `HOST::GUEST` directory-grant syntax, shared by `wasivfs exe --dir`
//! (baked grants) and the runner's `WASIVFS_DIRS` environment variable.
//!
//! - One grant is `HOST::GUEST`: the host directory `HOST` is shown to the
//!   guest as `GUEST`. The split is at the *last* `::`, so a host path may
//!   itself contain `::`. Without `::` the guest path equals the host path.
//! - `WASIVFS_DIRS` holds grants separated by `;` (empty entries are
//!   ignored). A path containing `;` cannot be granted through the variable;
//!   bake it in with `--dir` instead.

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::trailer::DirMapping;

/// Name of the environment variable read by the runner.
pub const DIRS_ENV: &str = "WASIVFS_DIRS";

/// Separator between grants in [`DIRS_ENV`].
pub const LIST_SEPARATOR: u8 = b';';

/// Parses one `HOST::GUEST` grant. The host part is kept as the OS string's
/// encoded bytes (raw bytes on Unix); see [`host_path`].
pub fn parse_grant(spec: &OsStr) -> Result<DirMapping, String> {
    parse_grant_bytes(spec.as_encoded_bytes())
}

fn parse_grant_bytes(bytes: &[u8]) -> Result<DirMapping, String> {
    let (host, guest) = match find_last(bytes, b"::") {
        Some(at) => (&bytes[..at], &bytes[at + 2..]),
        None => (bytes, bytes),
    };
    let shown = String::from_utf8_lossy(bytes);
    if host.is_empty() {
        return Err(format!("directory grant `{shown}` has an empty host path"));
    }
    if guest.is_empty() {
        return Err(format!("directory grant `{shown}` has an empty guest path"));
    }
    let guest = std::str::from_utf8(guest)
        .map_err(|_| format!("directory grant `{shown}`: the guest path is not valid UTF-8"))?;
    Ok(DirMapping {
        host: host.to_vec(),
        guest: guest.to_owned(),
    })
}

/// Parses a `;`-separated list of grants (the value of [`DIRS_ENV`]).
pub fn parse_list(list: &OsStr) -> Result<Vec<DirMapping>, String> {
    list.as_encoded_bytes()
        .split(|b| *b == LIST_SEPARATOR)
        .filter(|entry| !entry.is_empty())
        .map(parse_grant_bytes)
        .collect()
}

/// The host path of a grant, from the bytes stored by [`parse_grant`] (or
/// baked into the executable): any bytes on Unix, UTF-8 elsewhere.
pub fn host_path(bytes: &[u8]) -> Result<PathBuf, String> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes).map(PathBuf::from).map_err(|_| {
            format!(
                "granted host directory {} is not valid UTF-8",
                String::from_utf8_lossy(bytes)
            )
        })
    }
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(host: &str, guest: &str) -> DirMapping {
        DirMapping {
            host: host.as_bytes().to_vec(),
            guest: guest.to_owned(),
        }
    }

    #[test]
    fn grants_parse() {
        let p = |s: &str| parse_grant(OsStr::new(s));
        assert_eq!(p("./data::/data"), Ok(grant("./data", "/data")));
        assert_eq!(p("/srv"), Ok(grant("/srv", "/srv")));
        assert_eq!(p("/a::b::/g"), Ok(grant("/a::b", "/g")));
        assert!(p("::/g").is_err());
        assert!(p("/h::").is_err());
    }

    #[test]
    fn lists_parse() {
        let l = parse_list(OsStr::new("/a::/x;;/b::/y;")).unwrap_or_default();
        assert_eq!(l, vec![grant("/a", "/x"), grant("/b", "/y")]);
        assert_eq!(parse_list(OsStr::new("")), Ok(vec![]));
        assert!(parse_list(OsStr::new("/a::/x;::/y")).is_err());
    }
}
