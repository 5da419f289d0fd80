//! Which hosts and executable formats `wasivfs exe` supports.

use anyhow::{bail, Result};

/// ELF machine number of the host architecture, for the supported hosts.
fn host_elf_machine() -> Result<u16> {
    if !cfg!(target_os = "linux") {
        bail!(
            "wasivfs exe makes Linux ELF executables only (x86_64, aarch64); \
             this host is {}-{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        );
    }
    match std::env::consts::ARCH {
        "x86_64" => Ok(62),
        "aarch64" => Ok(183),
        other => {
            bail!("wasivfs exe supports Linux x86_64 and aarch64 only; this host is {other}-linux")
        }
    }
}

/// Checks that this host is supported and that `runner` (the runner
/// binary's bytes) is a 64-bit little-endian ELF executable for it.
pub fn check_runner(runner: &[u8]) -> Result<()> {
    let machine = host_elf_machine()?;
    if runner.len() < 64 || runner[0..4] != *b"\x7fELF" {
        bail!("not an ELF executable");
    }
    if runner[4] != 2 || runner[5] != 1 {
        bail!("not a 64-bit little-endian ELF executable");
    }
    let found = u16::from_le_bytes([runner[18], runner[19]]);
    if found != machine {
        bail!(
            "built for ELF machine {found}, but this host ({}) needs machine {machine}",
            std::env::consts::ARCH
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_elf_and_foreign_machines() {
        assert!(check_runner(b"#!/bin/sh\n").is_err());
        let mut elf = vec![0u8; 64];
        elf[0..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[18] = 0x28; // 32-bit ARM
        assert!(check_runner(&elf).is_err());
        if let Ok(m) = host_elf_machine() {
            elf[18..20].copy_from_slice(&m.to_le_bytes());
            assert!(check_runner(&elf).is_ok());
            elf[4] = 1;
            assert!(check_runner(&elf).is_err());
        }
    }
}
