//! The targets `wasivfs exe` makes executables for, and checks on runner binaries.

use anyhow::{bail, Result};
use byteorder::{ByteOrder, LittleEndian as LE};

use crate::embedded::BUILTIN_TARGET;

/// Processor architecture of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86-64.
    X86_64,
    /// 64-bit Arm.
    Aarch64,
}

/// Operating system (and executable format) of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux: an ELF executable.
    Linux,
    /// Windows: a PE executable.
    Windows,
}

/// A target `wasivfs exe` can make executables for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The Rust target triple of the runner.
    pub triple: &'static str,
    /// Architecture.
    pub arch: Arch,
    /// Operating system.
    pub os: Os,
    /// Statically linked (musl): runs on any Linux of its architecture.
    pub static_linked: bool,
}

/// Targets whose runner is built from the embedded sources when first asked for.
pub const CROSS_TARGETS: [Target; 3] = [
    Target {
        triple: "x86_64-unknown-linux-musl",
        arch: Arch::X86_64,
        os: Os::Linux,
        static_linked: true,
    },
    Target {
        triple: "aarch64-unknown-linux-musl",
        arch: Arch::Aarch64,
        os: Os::Linux,
        static_linked: true,
    },
    Target {
        triple: "x86_64-pc-windows-gnu",
        arch: Arch::X86_64,
        os: Os::Windows,
        static_linked: false,
    },
];

/// Glibc Linux targets: served by the built-in runner only, when it is theirs.
const GNU_TARGETS: [Target; 2] = [
    Target {
        triple: "x86_64-unknown-linux-gnu",
        arch: Arch::X86_64,
        os: Os::Linux,
        static_linked: false,
    },
    Target {
        triple: "aarch64-unknown-linux-gnu",
        arch: Arch::Aarch64,
        os: Os::Linux,
        static_linked: false,
    },
];

impl Target {
    /// The target of the runner built into this wasivfs, if it is one `wasivfs exe` supports.
    pub fn builtin() -> Option<Target> {
        CROSS_TARGETS
            .iter()
            .chain(GNU_TARGETS.iter())
            .find(|t| t.triple == BUILTIN_TARGET)
            .copied()
    }

    /// Every target this wasivfs can make executables for: the built-in one first.
    pub fn all() -> Vec<Target> {
        let mut all: Vec<Target> = Target::builtin().into_iter().collect();
        all.extend(
            CROSS_TARGETS
                .iter()
                .filter(|t| Some(**t) != Target::builtin()),
        );
        all
    }

    /// Parses `triple`, refusing targets this wasivfs cannot make executables for.
    pub fn parse(triple: &str) -> Result<Target> {
        if let Some(t) = Target::all().into_iter().find(|t| t.triple == triple) {
            return Ok(t);
        }
        let supported = Target::all()
            .iter()
            .map(|t| t.triple)
            .collect::<Vec<_>>()
            .join(", ");
        let why = if triple.contains("apple") || triple.contains("darwin") {
            " (a macOS executable needs Apple's SDK to link)"
        } else if GNU_TARGETS.iter().any(|t| t.triple == triple) {
            " (glibc targets other than this wasivfs's own are not built; the musl target of the \
             same architecture makes a static executable that runs on any Linux)"
        } else {
            ""
        };
        bail!("unsupported target `{triple}`{why}; supported: {supported}")
    }

    /// Whether this is the target of the built-in runner.
    pub fn is_builtin(&self) -> bool {
        self.triple == BUILTIN_TARGET
    }

    /// File name of the runner (and the usual suffix of executables) for this target.
    pub fn runner_file_name(&self) -> &'static str {
        match self.os {
            Os::Linux => "wasivfs-exe-runner",
            Os::Windows => "wasivfs-exe-runner.exe",
        }
    }

    fn elf_machine(&self) -> u16 {
        match self.arch {
            Arch::X86_64 => 62,
            Arch::Aarch64 => 183,
        }
    }

    fn pe_machine(&self) -> u16 {
        match self.arch {
            Arch::X86_64 => 0x8664,
            Arch::Aarch64 => 0xaa64,
        }
    }

    /// Checks that `runner` (a runner binary's bytes) is an executable for this target: a
    /// 64-bit little-endian ELF for its machine (without an ELF interpreter when the target is
    /// statically linked) on Linux, a PE for its machine on Windows.
    pub fn check_runner(&self, runner: &[u8]) -> Result<()> {
        match self.os {
            Os::Linux => self.check_elf(runner),
            Os::Windows => self.check_pe(runner),
        }
    }

    fn check_elf(&self, elf: &[u8]) -> Result<()> {
        if elf.len() < 64 || elf[0..4] != *b"\x7fELF" {
            bail!("not an ELF executable (target {})", self.triple);
        }
        if elf[4] != 2 || elf[5] != 1 {
            bail!("not a 64-bit little-endian ELF executable");
        }
        let found = LE::read_u16(&elf[18..]);
        if found != self.elf_machine() {
            bail!(
                "built for ELF machine {found}, but target {} needs machine {}",
                self.triple,
                self.elf_machine()
            );
        }
        if self.static_linked && elf_interpreter(elf) {
            bail!(
                "dynamically linked, but target {} is statically linked",
                self.triple
            );
        }
        Ok(())
    }

    fn check_pe(&self, pe: &[u8]) -> Result<()> {
        if pe.len() < 64 || pe[0..2] != *b"MZ" {
            bail!("not a Windows (PE) executable (target {})", self.triple);
        }
        let at = LE::read_u32(&pe[0x3c..]) as usize;
        if pe.len() < at.saturating_add(6) || pe[at..at + 4] != *b"PE\0\0" {
            bail!("not a Windows (PE) executable (target {})", self.triple);
        }
        let found = LE::read_u16(&pe[at + 4..]);
        if found != self.pe_machine() {
            bail!(
                "built for PE machine {found:#x}, but target {} needs machine {:#x}",
                self.triple,
                self.pe_machine()
            );
        }
        Ok(())
    }
}

/// Whether a 64-bit little-endian ELF file has a `PT_INTERP` program header (is dynamically
/// linked). A truncated header table counts as none.
pub fn elf_interpreter(elf: &[u8]) -> bool {
    if elf.len() < 64 {
        return false;
    }
    let phoff = LE::read_u64(&elf[0x20..]) as usize;
    let phentsize = usize::from(LE::read_u16(&elf[0x36..]));
    let phnum = usize::from(LE::read_u16(&elf[0x38..]));
    (0..phnum).any(|i| {
        let at = phoff.saturating_add(i.saturating_mul(phentsize));
        elf.len() >= at.saturating_add(4) && LE::read_u32(&elf[at..]) == 3
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(machine: u16) -> Vec<u8> {
        let mut elf = vec![0u8; 64];
        elf[0..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[18..20].copy_from_slice(&machine.to_le_bytes());
        elf
    }

    #[test]
    fn refuses_non_elf_and_foreign_machines() {
        let x86 = Target::parse("x86_64-unknown-linux-musl").unwrap_or_else(|e| panic!("{e}"));
        let arm = Target::parse("aarch64-unknown-linux-musl").unwrap_or_else(|e| panic!("{e}"));
        assert!(x86.check_runner(b"#!/bin/sh\n").is_err());
        assert!(x86.check_runner(&elf(0x28)).is_err());
        assert!(x86.check_runner(&elf(62)).is_ok());
        assert!(arm.check_runner(&elf(62)).is_err());
        assert!(arm.check_runner(&elf(183)).is_ok());
        let mut e32 = elf(62);
        e32[4] = 1;
        assert!(x86.check_runner(&e32).is_err());
    }

    #[test]
    fn static_targets_refuse_an_interpreter() {
        let x86 = Target::parse("x86_64-unknown-linux-musl").unwrap_or_else(|e| panic!("{e}"));
        let mut e = elf(62);
        e.resize(64 + 56, 0);
        e[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        e[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        e[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        e[64..68].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        assert!(x86.check_runner(&e).is_ok());
        e[64..68].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
        assert!(x86.check_runner(&e).is_err());
    }

    #[test]
    fn checks_pe_machine() {
        let win = Target::parse("x86_64-pc-windows-gnu").unwrap_or_else(|e| panic!("{e}"));
        let mut pe = vec![0u8; 0x100];
        pe[0..2].copy_from_slice(b"MZ");
        pe[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        assert!(win.check_runner(&pe).is_ok());
        pe[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert!(win.check_runner(&pe).is_err());
        assert!(win.check_runner(&elf(62)).is_err());
    }

    #[test]
    fn refuses_unknown_triples_by_name() {
        for bad in [
            "riscv64gc-unknown-linux-gnu",
            "aarch64-apple-darwin",
            "nonsense",
        ] {
            let e = match Target::parse(bad) {
                Ok(_) => panic!("{bad} accepted"),
                Err(e) => e.to_string(),
            };
            assert!(
                e.contains(bad) && e.contains("x86_64-unknown-linux-musl"),
                "{e}"
            );
        }
        let mac = Target::parse("aarch64-apple-darwin")
            .err()
            .map(|e| e.to_string());
        assert!(mac.is_some_and(|m| m.contains("SDK")));
        for t in Target::all() {
            assert_eq!(Target::parse(t.triple).ok(), Some(t));
        }
    }
}
