//! Parsing of directory mapping values (`GUEST::HOST`, `HOST::GUEST`, `K=V`).

use std::path::PathBuf;

use wasivfs_packer::{EnvInherit, HostDirs, MemoryMode};

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

/// A `--dir HOST::GUEST` value; without `::` the guest path is the host path. The same grammar
/// as `wasivfs exe --dir` and `WASIVFS_DIRS` (one parser for all three).
pub fn dir(value: &str) -> Result<(PathBuf, String), String> {
    use wasivfs_exe_format::dirs::{host_path, parse_grant};
    let grant = parse_grant(std::ffi::OsStr::new(value))?;
    Ok((host_path(&grant.host)?, grant.guest))
}

/// An `--env K=V` value; a bare `K` takes its value from this process's environment.
pub fn env(value: &str) -> Result<(String, Option<String>), String> {
    match value.split_once('=') {
        Some(("", _)) => Err(format!("expected NAME=VALUE, got {value:?}")),
        Some((k, v)) => Ok((k.to_string(), Some(v.to_string()))),
        None => Ok((value.to_string(), None)),
    }
}

/// A `pack --env NAME=VALUE` value: `=` is required and the name must not be empty.
pub fn baked_env(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!(
            "expected NAME=VALUE with a non-empty NAME, got {value:?}"
        )),
    }
}

/// An `--env-inherit` value: `all`, `none` or a comma-separated list of names.
pub fn env_inherit(value: &str) -> Result<EnvInherit, String> {
    match value {
        "all" => Ok(EnvInherit::All),
        "none" => Ok(EnvInherit::None),
        _ => {
            let names: Vec<String> = value.split(',').map(str::to_string).collect();
            if names.iter().any(|n| n.is_empty() || n.contains('=')) {
                return Err(format!(
                    "expected all, none or NAME[,NAME...] (names non-empty, without `=`), got {value:?}"
                ));
            }
            Ok(EnvInherit::Only(names))
        }
    }
}

/// A `--host-dirs` value: `allow` or `deny`.
pub fn host_dirs(value: &str) -> Result<HostDirs, String> {
    match value {
        "allow" => Ok(HostDirs::Allow),
        "deny" => Ok(HostDirs::Deny),
        _ => Err(format!("expected `allow` or `deny`, got {value:?}")),
    }
}

/// A `--memory` value: `single` or `multi`.
pub fn memory(value: &str) -> Result<MemoryMode, String> {
    match value {
        "single" => Ok(MemoryMode::Single),
        "multi" => Ok(MemoryMode::Multi),
        _ => Err(format!("expected `single` or `multi`, got {value:?}")),
    }
}

/// An `--mtime` value: seconds since 1970, or an RFC 3339 UTC time (`2024-01-01T00:00:00Z`; the
/// `T` and `Z` may be left out). Fractions of a second are dropped.
pub fn mtime(value: &str) -> Result<u64, String> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<u64>()
            .map_err(|_| format!("{value:?} is too large a number of seconds"));
    }
    let t = humantime::parse_rfc3339_weak(v).map_err(|e| {
        format!(
            "expected seconds since 1970 or a time like 2024-01-01T00:00:00Z, got {value:?} ({e})"
        )
    })?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| format!("{value:?} is before 1970"))
}

/// A `--tmpfs-size [GUEST=]BYTES` value: a number of bytes, optionally with a binary suffix
/// (`K`, `M`, `G`: KiB, MiB, GiB); with `GUEST=` it applies to that mount only.
pub fn tmpfs_size(value: &str) -> Result<(Option<String>, u64), String> {
    let (guest, size) = match value.rsplit_once('=') {
        Some((g, s)) if !g.is_empty() => (Some(g.to_string()), s),
        Some(_) => {
            return Err(format!(
                "expected [GUEST=]BYTES (like 16M or /tmp=1G), got {value:?}"
            ))
        }
        None => (None, value),
    };
    let s = size.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => {
            return Err(format!(
                "{size:?} is not a size in bytes (like 65536, 16M or 1G)"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{size:?} is not a size in bytes (like 65536, 16M or 1G)"))?;
    let bytes = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{size:?} is too large"))?;
    Ok((guest, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_size_values() {
        assert_eq!(tmpfs_size("65536").unwrap(), (None, 65536));
        assert_eq!(tmpfs_size("16M").unwrap(), (None, 16 << 20));
        assert_eq!(tmpfs_size("/tmp=2k").unwrap(), (Some("/tmp".into()), 2048));
        assert_eq!(tmpfs_size("1G").unwrap(), (None, 1 << 30));
        assert!(tmpfs_size("lots").is_err());
        assert!(tmpfs_size("").is_err());
        assert!(tmpfs_size("=5").is_err());
        assert!(tmpfs_size("5X").is_err());
        assert!(tmpfs_size("99999999999999999999G").is_err());
    }

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

    #[test]
    fn program_values() {
        assert_eq!(baked_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(baked_env("A=").unwrap(), ("A".into(), "".into()));
        assert!(baked_env("A").is_err());
        assert!(baked_env("=x").is_err());
        assert_eq!(env_inherit("none").unwrap(), EnvInherit::None);
        assert_eq!(
            env_inherit("HOME,LANG").unwrap(),
            EnvInherit::Only(vec!["HOME".into(), "LANG".into()])
        );
        assert!(env_inherit("HOME,").is_err());
        assert!(env_inherit("").is_err());
        assert_eq!(host_dirs("deny").unwrap(), HostDirs::Deny);
        assert!(host_dirs("no").is_err());
    }

    #[test]
    fn mtime_values() {
        assert_eq!(mtime("0").unwrap(), 0);
        assert_eq!(mtime("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(mtime("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(mtime("2023-11-14 22:13:20").unwrap(), 1_700_000_000);
        assert_eq!(mtime("2023-11-14T22:13:20.9Z").unwrap(), 1_700_000_000);
        assert!(mtime("yesterday").is_err());
        assert!(mtime("-5").is_err());
        assert!(mtime("").is_err());
        assert!(mtime("99999999999999999999999").is_err());
    }
}
