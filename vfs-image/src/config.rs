//! The program record: what a packed module bakes in besides files (`pack --arg`, `--argv0`,
//! `--env`, `--env-inherit`, `--host-dirs`). An optional record at the end of the image, found
//! through the header's `config_off` (0: none); see `docs/image-format.md`.
//!
//! [`Config`] reads it in place (`no_std`, no allocation); [`ProgramConfig`] (feature `builder`)
//! is the owned form the packer validates and encodes, also recorded in the `wasivfs` section.

use byteorder::{ByteOrder, LittleEndian as LE};

use crate::Error;

/// Record flag: `argv[0]` is replaced by the record's first string.
pub const CONFIG_ARGV0: u32 = 1 << 0;
/// Record flag: the runtime's preopened directories are hidden (`--host-dirs deny`).
pub const CONFIG_HOST_DIRS_DENY: u32 = 1 << 1;
/// Length of the record's fixed part in bytes.
pub const CONFIG_HEADER_LEN: usize = 24;

/// Which of the runtime's environment variables the program sees (`--env-inherit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inherit {
    /// Every one (the default).
    All,
    /// None: only the baked variables.
    None,
    /// Only those named in the record's list.
    List,
}

/// A parsed view over a program record.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    bytes: &'a [u8],
    flags: u32,
    inherit: Inherit,
    arg_count: u32,
    env_count: u32,
    inherit_count: u32,
}

/// The strings of one list of a record, in order.
#[derive(Clone, Debug)]
pub struct Strings<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for Strings<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (s, rest) = split_string(self.rest)?;
        self.left -= 1;
        self.rest = rest;
        Some(s)
    }
}

/// One length-prefixed string off the front of `b`, and what follows it.
fn split_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if b.len() < 4 {
        return None;
    }
    let len = LE::read_u32(b) as usize;
    let rest = &b[4..];
    (len <= rest.len()).then(|| rest.split_at(len))
}

impl<'a> Config<'a> {
    /// Parses the record at the start of `bytes` (which may run on past it) and checks that
    /// every string it declares lies inside it.
    pub fn parse(bytes: &'a [u8]) -> Result<Config<'a>, Error> {
        if bytes.len() < CONFIG_HEADER_LEN {
            return Err(Error::OutOfBounds);
        }
        let len = LE::read_u32(bytes) as usize;
        if len < CONFIG_HEADER_LEN || len > bytes.len() {
            return Err(Error::OutOfBounds);
        }
        let inherit = match LE::read_u32(&bytes[8..]) {
            0 => Inherit::All,
            1 => Inherit::None,
            2 => Inherit::List,
            _ => return Err(Error::OutOfBounds),
        };
        let c = Config {
            bytes: &bytes[..len],
            flags: LE::read_u32(&bytes[4..]),
            inherit,
            arg_count: LE::read_u32(&bytes[12..]),
            env_count: LE::read_u32(&bytes[16..]),
            inherit_count: LE::read_u32(&bytes[20..]),
        };
        let total = (c.flags & CONFIG_ARGV0 != 0) as u64
            + c.arg_count as u64
            + c.env_count as u64
            + c.inherit_count as u64;
        let mut rest = &c.bytes[CONFIG_HEADER_LEN..];
        for _ in 0..total {
            rest = split_string(rest).ok_or(Error::OutOfBounds)?.1;
        }
        Ok(c)
    }

    fn strings(&self, skip: u32, count: u32) -> Strings<'a> {
        let mut s = Strings {
            rest: &self.bytes[CONFIG_HEADER_LEN..],
            left: skip,
        };
        for _ in s.by_ref() {}
        Strings {
            rest: s.rest,
            left: count,
        }
    }

    /// The baked `argv[0]`, if any.
    pub fn argv0(&self) -> Option<&'a [u8]> {
        (self.flags & CONFIG_ARGV0 != 0)
            .then(|| self.strings(0, 1).next())
            .flatten()
    }

    fn argv0_count(&self) -> u32 {
        (self.flags & CONFIG_ARGV0 != 0) as u32
    }

    /// The baked arguments, which follow `argv[0]`.
    pub fn args(&self) -> Strings<'a> {
        self.strings(self.argv0_count(), self.arg_count)
    }

    /// Number of baked arguments.
    pub fn arg_count(&self) -> u32 {
        self.arg_count
    }

    /// The baked variables, each `NAME=VALUE`, names distinct.
    pub fn env(&self) -> Strings<'a> {
        self.strings(self.argv0_count() + self.arg_count, self.env_count)
    }

    /// Number of baked variables.
    pub fn env_count(&self) -> u32 {
        self.env_count
    }

    /// Which runtime variables the program sees.
    pub fn inherit(&self) -> Inherit {
        self.inherit
    }

    /// The names of [`Inherit::List`].
    pub fn inherit_names(&self) -> Strings<'a> {
        self.strings(
            self.argv0_count() + self.arg_count + self.env_count,
            self.inherit_count,
        )
    }

    /// Whether the runtime's preopened directories are hidden.
    pub fn host_dirs_deny(&self) -> bool {
        self.flags & CONFIG_HOST_DIRS_DENY != 0
    }

    /// Whether the record changes the arguments the program sees.
    pub fn changes_args(&self) -> bool {
        self.argv0_count() != 0 || self.arg_count != 0
    }

    /// Whether the record changes the environment the program sees.
    pub fn changes_env(&self) -> bool {
        self.env_count != 0 || self.inherit != Inherit::All
    }
}

#[cfg(feature = "builder")]
pub use owned::*;

#[cfg(feature = "builder")]
mod owned {
    use super::{CONFIG_ARGV0, CONFIG_HEADER_LEN, CONFIG_HOST_DIRS_DENY};
    use serde::{Deserialize, Serialize};

    /// Most bytes of baked strings (arguments, `argv[0]`, variables, inherited names, each
    /// counted with a terminating NUL as `args_sizes_get` counts them): 1 MiB.
    pub const MAX_CONFIG_BYTES: usize = 1 << 20;
    /// Most baked arguments, and most baked variables: 65,536 each.
    pub const MAX_CONFIG_ITEMS: usize = 1 << 16;

    /// `--env-inherit`: which of the runtime's variables the program sees.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum EnvInherit {
        /// All of them.
        #[default]
        All,
        /// None.
        None,
        /// Only these names.
        Only(Vec<String>),
    }

    /// `--host-dirs`: whether the runtime's preopened directories stay visible.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum HostDirs {
        /// Visible next to the embedded mounts (the default).
        #[default]
        Allow,
        /// Hidden: the program sees exactly the embedded mounts.
        Deny,
    }

    fn is_default<T: Default + PartialEq>(v: &T) -> bool {
        *v == T::default()
    }

    /// What a layer bakes into the program besides files. Recorded in the `wasivfs` section as
    /// `program` and encoded into the image as the program record.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ProgramConfig {
        /// `--argv0`: what the program sees as `argv[0]` (`None`: what the runtime passes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub argv0: Option<String>,
        /// Arguments inserted right after `argv[0]`, before the runtime's.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub args: Vec<String>,
        /// Variables the program always sees, `(NAME, VALUE)`, names distinct; a runtime
        /// variable of the same name (if inherited) wins.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub env: Vec<(String, String)>,
        /// Which runtime variables the program sees.
        #[serde(default, skip_serializing_if = "is_default")]
        pub env_inherit: EnvInherit,
        /// Whether runtime preopens stay visible.
        #[serde(default, skip_serializing_if = "is_default")]
        pub host_dirs: HostDirs,
    }

    /// Why a [`ProgramConfig`] cannot be baked.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum ConfigError {
        /// A string contains NUL (`what` names it).
        Nul(String),
        /// A variable name that is empty or contains `=`.
        BadName(String),
        /// Over [`MAX_CONFIG_BYTES`] or [`MAX_CONFIG_ITEMS`].
        TooLarge(String),
    }

    impl std::fmt::Display for ConfigError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                ConfigError::Nul(what) => write!(f, "{what} contains a NUL byte"),
                ConfigError::BadName(n) => write!(
                    f,
                    "invalid variable name {n:?} (expected NAME=VALUE with a non-empty NAME without `=`)"
                ),
                ConfigError::TooLarge(what) => write!(f, "too large: {what}"),
            }
        }
    }

    impl std::error::Error for ConfigError {}

    impl ProgramConfig {
        /// Whether nothing is baked (the image then has no program record).
        pub fn is_empty(&self) -> bool {
            *self == ProgramConfig::default()
        }

        /// Sets `NAME=VALUE`; a name set before keeps its place and takes the new value (the
        /// last `--env` of a name wins).
        pub fn set_env(&mut self, name: &str, value: &str) {
            match self.env.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.to_string(),
                None => self.env.push((name.to_string(), value.to_string())),
            }
        }

        /// Checks every string and the limits.
        pub fn validate(&self) -> Result<(), ConfigError> {
            let nul = |what: &str, s: &str| {
                if s.contains('\0') {
                    Err(ConfigError::Nul(format!("{what} {s:?}")))
                } else {
                    Ok(())
                }
            };
            let name = |n: &str| {
                nul("variable name", n)?;
                if n.is_empty() || n.contains('=') {
                    Err(ConfigError::BadName(n.to_string()))
                } else {
                    Ok(())
                }
            };
            if let Some(a) = &self.argv0 {
                nul("--argv0", a)?;
            }
            for a in &self.args {
                nul("argument", a)?;
            }
            for (n, v) in &self.env {
                name(n)?;
                nul("value of variable", v)?;
            }
            if let EnvInherit::Only(names) = &self.env_inherit {
                for n in names {
                    name(n)?;
                }
            }
            let inherit: &[String] = match &self.env_inherit {
                EnvInherit::Only(n) => n,
                _ => &[],
            };
            if self.args.len() > MAX_CONFIG_ITEMS
                || self.env.len() > MAX_CONFIG_ITEMS
                || inherit.len() > MAX_CONFIG_ITEMS
            {
                return Err(ConfigError::TooLarge(format!(
                    "more than {MAX_CONFIG_ITEMS} arguments, variables or inherited names"
                )));
            }
            let bytes: usize = self.argv0.iter().map(|s| s.len() + 1).sum::<usize>()
                + self.args.iter().map(|s| s.len() + 1).sum::<usize>()
                + self
                    .env
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 2)
                    .sum::<usize>()
                + inherit.iter().map(|s| s.len() + 1).sum::<usize>();
            if bytes > MAX_CONFIG_BYTES {
                return Err(ConfigError::TooLarge(format!(
                    "the baked arguments and variables take {bytes} bytes, at most {MAX_CONFIG_BYTES} are allowed"
                )));
            }
            Ok(())
        }

        /// The program record (see `docs/image-format.md`); empty if nothing is baked.
        pub fn encode(&self) -> Vec<u8> {
            if self.is_empty() {
                return Vec::new();
            }
            let mut flags = 0;
            if self.argv0.is_some() {
                flags |= CONFIG_ARGV0;
            }
            if self.host_dirs == HostDirs::Deny {
                flags |= CONFIG_HOST_DIRS_DENY;
            }
            let (inherit, names): (u32, &[String]) = match &self.env_inherit {
                EnvInherit::All => (0, &[]),
                EnvInherit::None => (1, &[]),
                EnvInherit::Only(n) => (2, n),
            };
            let mut body = Vec::new();
            let mut put = |s: &[u8]| {
                body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                body.extend_from_slice(s);
            };
            if let Some(a) = &self.argv0 {
                put(a.as_bytes());
            }
            for a in &self.args {
                put(a.as_bytes());
            }
            for (n, v) in &self.env {
                put(format!("{n}={v}").as_bytes());
            }
            for n in names {
                put(n.as_bytes());
            }
            let mut out = Vec::with_capacity(CONFIG_HEADER_LEN + body.len());
            for v in [
                (CONFIG_HEADER_LEN + body.len()) as u32,
                flags,
                inherit,
                self.args.len() as u32,
                self.env.len() as u32,
                names.len() as u32,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&body);
            out
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::config::{Config, Inherit};

        #[test]
        fn record_round_trips() {
            let mut c = ProgramConfig {
                argv0: Some("app".into()),
                args: vec!["/app/main.py".into(), "".into(), "ünï".into()],
                env_inherit: EnvInherit::Only(vec!["HOME".into()]),
                host_dirs: HostDirs::Deny,
                ..ProgramConfig::default()
            };
            c.set_env("A", "1");
            c.set_env("B", "");
            c.set_env("A", "2");
            c.validate().unwrap();
            let bytes = c.encode();
            let r = Config::parse(&bytes).unwrap();
            assert_eq!(r.argv0(), Some(&b"app"[..]));
            let args: Vec<&[u8]> = r.args().collect();
            assert_eq!(args, [&b"/app/main.py"[..], b"", "ünï".as_bytes()]);
            let env: Vec<&[u8]> = r.env().collect();
            assert_eq!(env, [&b"A=2"[..], b"B="]);
            assert_eq!(r.inherit(), Inherit::List);
            assert_eq!(r.inherit_names().collect::<Vec<_>>(), [&b"HOME"[..]]);
            assert!(r.host_dirs_deny() && r.changes_args() && r.changes_env());
            // A record cut short is refused.
            assert!(Config::parse(&bytes[..bytes.len() - 1]).is_err());
            assert!(ProgramConfig::default().encode().is_empty());
        }

        #[test]
        fn bad_values_are_refused() {
            let bad = |c: ProgramConfig| c.validate().unwrap_err();
            let env = |n: &str, v: &str| ProgramConfig {
                env: vec![(n.into(), v.into())],
                ..ProgramConfig::default()
            };
            assert!(matches!(bad(env("", "x")), ConfigError::BadName(_)));
            assert!(matches!(bad(env("A=B", "x")), ConfigError::BadName(_)));
            assert!(matches!(bad(env("A", "x\0")), ConfigError::Nul(_)));
            let args = |a: Vec<String>| ProgramConfig {
                args: a,
                ..ProgramConfig::default()
            };
            assert!(matches!(
                bad(args(vec!["a\0b".into()])),
                ConfigError::Nul(_)
            ));
            assert!(matches!(
                bad(args(vec!["x".repeat(MAX_CONFIG_BYTES)])),
                ConfigError::TooLarge(_)
            ));
            assert!(matches!(
                bad(args(vec![String::new(); MAX_CONFIG_ITEMS + 1])),
                ConfigError::TooLarge(_)
            ));
        }
    }
}
