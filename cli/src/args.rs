//! Parsing of directory mapping values (`GUEST::HOST`, `HOST::GUEST`, `K=V`).

use std::path::PathBuf;

/// A `--mapdir GUEST::HOST` value.
pub fn mapdir(value: &str) -> Result<(String, PathBuf), String> {
    match value.split_once("::") {
        Some((guest, host)) if !guest.is_empty() && !host.is_empty() => {
            Ok((guest.to_string(), PathBuf::from(host)))
        }
        _ => Err(format!(
            "expected GUEST::HOST (like /src::./src), got {value:?}"
        )),
    }
}

/// A `--dir HOST::GUEST` value; without `::` the guest path is the host path.
pub fn dir(value: &str) -> Result<(PathBuf, String), String> {
    match value.rsplit_once("::") {
        Some((host, guest)) if !host.is_empty() && !guest.is_empty() => {
            Ok((PathBuf::from(host), guest.to_string()))
        }
        Some(_) => Err(format!(
            "expected HOST::GUEST (like ./src::/src), got {value:?}"
        )),
        None if value.is_empty() => Err("expected a directory".to_string()),
        None => Ok((PathBuf::from(value), value.to_string())),
    }
}

/// An `--env K=V` value; a bare `K` takes its value from this process's environment.
pub fn env(value: &str) -> Result<(String, Option<String>), String> {
    match value.split_once('=') {
        Some(("", _)) => Err(format!("expected NAME=VALUE, got {value:?}")),
        Some((k, v)) => Ok((k.to_string(), Some(v.to_string()))),
        None => Ok((value.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_values() {
        assert_eq!(mapdir("/src::./a").unwrap(), ("/src".into(), "./a".into()));
        assert!(mapdir("/src").is_err());
        assert!(mapdir("::x").is_err());
        assert_eq!(dir("./a::/src").unwrap(), ("./a".into(), "/src".into()));
        assert_eq!(dir("/data").unwrap(), ("/data".into(), "/data".into()));
        assert!(dir("x::").is_err());
        assert_eq!(env("A=b=c").unwrap(), ("A".into(), Some("b=c".into())));
        assert_eq!(env("HOME").unwrap(), ("HOME".into(), None));
        assert!(env("=x").is_err());
    }
}
