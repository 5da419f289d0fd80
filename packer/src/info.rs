//! The `wasivfs` custom section written once per pack (`wasivfs_image::section`), and reading it back.

pub use wasivfs_image::section::{
    ContentInfo, InputInfo, LayerInfo, MemoryMode, MountInfo, SECTION_FORMAT,
};

/// The VFS guest ABI version the packer embeds.
pub const VFS_ABI: u32 = wasivfs_abi::ABI_VERSION;

/// Parses every `wasivfs` section of `module`, in pack order; an unparsable section gives its error.
pub fn read_layers(module: &[u8]) -> Vec<Result<LayerInfo, String>> {
    let core = wasivfs_trampoline_gen::packed_core(module).unwrap_or_default();
    wasivfs_trampoline_gen::wasivfs_sections(&core)
        .iter()
        .map(|s| LayerInfo::from_json(s).map_err(|e| e.to_string()))
        .collect()
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
