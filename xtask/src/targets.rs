//! The platforms wasivfs ships for, and each ecosystem's name for them.

/// One platform of the distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistTarget {
    /// The Rust target the binary is built for (static: musl on Linux, MinGW on Windows).
    pub triple: &'static str,
    /// The wheel's platform tags. A static musl binary runs on every Linux, so its wheel says
    /// so for glibc 2.17 and later (manylinux2014) and for musl (musllinux) alike.
    pub wheel_platforms: &'static [&'static str],
    /// Node's `process.platform` and `process.arch`: the npm package `@wasivfs/<os>-<cpu>`.
    pub npm_os: &'static str,
    /// See [`DistTarget::npm_os`].
    pub npm_cpu: &'static str,
    /// `.exe` on Windows.
    pub exe_suffix: &'static str,
}

/// Every platform `cargo xtask dist` builds.
pub const ALL: &[DistTarget] = &[
    DistTarget {
        triple: "x86_64-unknown-linux-musl",
        wheel_platforms: &[
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
            "musllinux_1_1_x86_64",
        ],
        npm_os: "linux",
        npm_cpu: "x64",
        exe_suffix: "",
    },
    DistTarget {
        triple: "aarch64-unknown-linux-musl",
        wheel_platforms: &[
            "manylinux_2_17_aarch64",
            "manylinux2014_aarch64",
            "musllinux_1_1_aarch64",
        ],
        npm_os: "linux",
        npm_cpu: "arm64",
        exe_suffix: "",
    },
    DistTarget {
        triple: "x86_64-pc-windows-gnu",
        wheel_platforms: &["win_amd64"],
        npm_os: "win32",
        npm_cpu: "x64",
        exe_suffix: ".exe",
    },
];

impl DistTarget {
    /// The platform of this machine (`--host`), if wasivfs ships for it.
    pub fn host() -> Option<DistTarget> {
        let (os, cpu) = match (std::env::consts::OS, std::env::consts::ARCH) {
            ("linux", "x86_64") => ("linux", "x64"),
            ("linux", "aarch64") => ("linux", "arm64"),
            ("windows", "x86_64") => ("win32", "x64"),
            _ => return None,
        };
        ALL.iter()
            .find(|t| t.npm_os == os && t.npm_cpu == cpu)
            .copied()
    }

    /// The name of the npm package holding this platform's binary.
    pub fn npm_package(&self) -> String {
        format!("@wasivfs/{}-{}", self.npm_os, self.npm_cpu)
    }

    /// The binary's file name in the packages: `wasivfs` or `wasivfs.exe`.
    pub fn binary_name(&self) -> String {
        format!("wasivfs{}", self.exe_suffix)
    }
}
